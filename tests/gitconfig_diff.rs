//! Differential test: the in-process git config reader (`gitsign::git::config`) against real git.
//!
//! Generated config files (sections, subsections, the old dotted form, quotes, escapes, comments,
//! continuation lines, CRLF, implicit booleans, includes, and broken lines) are written as the
//! global and repository config of a temp repo; `git config --null --get-regexp .*` and our reader
//! must agree exactly, or our reader must step aside (`Fallback`) — and it must step aside
//! whenever git rejects the file. `-c` settings go through the `GIT_CONFIG_PARAMETERS` that a
//! real git hands to the programs it runs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::TempDir;
use gitsign::git::config as gitconfig;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::cell::Cell;
use std::path::Path;
use std::process::Command;

type Entries = Vec<(String, Option<String>)>;

/// `git config --null --get-regexp .*` in `cwd` with exactly `env`; `None` if git fails.
fn git_list(cwd: &Path, env: &[(String, String)], args: &[&str]) -> Option<Entries> {
    let mut cmd = Command::new("git");
    cmd.env_clear().current_dir(cwd).envs(env.iter().map(|(k, v)| (k, v)));
    cmd.env("PATH", std::env::var("PATH").unwrap());
    cmd.args(args).args(["config", "--null", "--get-regexp", ".*"]);
    let out = cmd.output().unwrap();
    if !out.status.success() {
        return None;
    }
    let mut v = Vec::new();
    for rec in out.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let s = String::from_utf8(rec.to_vec()).ok()?;
        v.push(match s.split_once('\n') {
            Some((k, val)) => (k.to_string(), Some(val.to_string())),
            None => (s, None),
        });
    }
    Some(v)
}

fn ours(cwd: &Path, env: &[(String, String)]) -> Result<Entries, gitconfig::Fallback> {
    gitconfig::read(&|k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()), cwd)
}

struct World {
    _tmp: TempDir,
    home: std::path::PathBuf,
    repo: std::path::PathBuf,
    env: Vec<(String, String)>,
}

fn world() -> World {
    let tmp = TempDir::new("gitconfig");
    let home = tmp.path().join("home");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    let env =
        vec![("HOME".to_string(), home.display().to_string()), ("GIT_CONFIG_NOSYSTEM".to_string(), "1".to_string())];
    assert!(Command::new("git").args(["init", "-q"]).current_dir(&repo).env("HOME", &home).status().unwrap().success());
    World { _tmp: tmp, home, repo, env }
}

/// Pieces of config text; the generator strings them together. Most are valid; a few break
/// the file in the ways people do (so both verdicts are exercised).
fn fragment() -> impl Strategy<Value = String> {
    let good_header = prop::sample::select(vec![
        "[gitsign]",
        "[GitSign]",
        "[user]",
        "  [core]  ",
        "[remote \"Origin\"]",
        "[s \"a\\\"b\\\\c\"]",
        "[s \"with space\"]",
        "[a.B]",
        "[x-y]",
        "[s\t\"t\"]",
        "[gitsign] fulcio = same-line",
    ]);
    let bad_header = prop::sample::select(vec!["[bad", "[s \"unterminated]", "[]", "[s_x]", "[s \"x\" ]"]);
    let good_name = prop::sample::select(vec!["fulcio", "Rekor", "email", "k-1", "x", "logPath", "A9"]);
    let bad_name = prop::sample::select(vec!["1bad", "a_b", "-x"]);
    let sep = prop::sample::select(vec![" = ", "=", " =", "\t=\t", " = ", "", " = ", "="]);
    let good_piece = prop::sample::select(vec![
        "plain",
        " ",
        "\t",
        "  two  spaces  ",
        "\" quoted # not ; comment \"",
        "\"\"",
        "\\t",
        "\\n",
        "\\\"",
        "\\\\",
        "\\b",
        " # comment",
        " ; comment \"",
        "\\\n  ",
        "\\\r\n",
        "é",
        "=",
        "[",
        "\r",
        "https://fulcio.example:8443/path?q=1",
    ]);
    let bad_piece = prop::sample::select(vec!["\\x", "\"", "\\ "]);
    let piece = prop_oneof![60 => good_piece, 1 => bad_piece];
    let value = prop::collection::vec(piece, 0..4).prop_map(|v| v.concat());
    let name = prop_oneof![60 => good_name, 1 => bad_name];
    let var =
        (name, sep, value).prop_map(|(n, s, v)| if s.is_empty() { format!("\t{n}") } else { format!("\t{n}{s}{v}") });
    let misc = prop::sample::select(vec!["", "# a comment", "; another", "   "]);
    let eol = prop::sample::select(vec!["\n", "\n", "\n", "\r\n"]);
    let line = prop_oneof![
        12 => good_header.prop_map(String::from),
        1 => bad_header.prop_map(String::from),
        40 => var,
        6 => misc.prop_map(String::from),
        1 => Just("garbage line".to_string()),
    ];
    (line, eol).prop_map(|(l, e)| format!("{l}{e}"))
}

fn config_text() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(fragment(), 0..8))
        .prop_map(|(bom, v)| format!("{}[gitsign]\n{}", if bom { "\u{feff}" } else { "" }, v.concat()))
}

#[test]
fn reader_agrees_with_git_on_generated_files() {
    let w = world();
    let cases: u32 = std::env::var("GITSIGN_GITCONFIG_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let base_local = std::fs::read_to_string(w.repo.join(".git/config")).unwrap();
    let (agreed, fell_back, rejected) = (Cell::new(0u32), Cell::new(0u32), Cell::new(0u32));
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner
        .run(&(config_text(), config_text()), |(global, local)| {
            std::fs::write(w.home.join(".gitconfig"), &global).unwrap();
            // A byte order mark only counts at the start of a file.
            let local_body = local.trim_start_matches('\u{feff}');
            std::fs::write(w.repo.join(".git/config"), format!("{base_local}{local_body}")).unwrap();
            let git = git_list(&w.repo, &w.env, &[]);
            match (git, ours(&w.repo, &w.env)) {
                (Some(g), Ok(o)) => {
                    prop_assert_eq!(o, g, "global {:?} local {:?}", global, local);
                    agreed.set(agreed.get() + 1);
                }
                (Some(_), Err(_)) => fell_back.set(fell_back.get() + 1),
                (None, Err(_)) => rejected.set(rejected.get() + 1),
                (None, Ok(o)) => {
                    prop_assert!(false, "git rejects global {:?} local {:?} but we read {:?}", global, local, o)
                }
            }
            Ok(())
        })
        .unwrap();
    let (agreed, fell_back, rejected) = (agreed.get(), fell_back.get(), rejected.get());
    eprintln!("gitconfig differential: {agreed} agreed, {fell_back} left to git, {rejected} rejected by both");
    // The generator must exercise both sides, and the reader must handle most valid files itself.
    assert!(agreed > cases / 10 && rejected > 0, "{agreed} agreed, {rejected} rejected");
    assert!(fell_back * 4 < agreed, "{fell_back} fell back vs {agreed} agreed");
}

#[test]
fn includes_xdg_worktrees_and_command_line_match_git() {
    let w = world();
    // include.path: relative to the including file, ~/, nested, missing target.
    std::fs::create_dir_all(w.home.join("inc")).unwrap();
    std::fs::write(
        w.home.join(".gitconfig"),
        "[user]\n\temail = first@example.test\n[include]\n\tpath = inc/one.cfg\n\tpath = missing.cfg\n[gitsign]\n\tfulcio = after\n",
    )
    .unwrap();
    std::fs::write(w.home.join("inc/one.cfg"), "[gitsign]\n\tfulcio = included\n[include]\n\tpath = ~/two.cfg\n")
        .unwrap();
    std::fs::write(w.home.join("two.cfg"), "[user]\n\temail = nested@example.test\n").unwrap();
    // XDG file is read before ~/.gitconfig.
    std::fs::create_dir_all(w.home.join(".config/git")).unwrap();
    std::fs::write(w.home.join(".config/git/config"), "[gitsign]\n\trekor = from-xdg\n").unwrap();
    let sub = w.repo.join("deep/er");
    std::fs::create_dir_all(&sub).unwrap();
    let git = git_list(&sub, &w.env, &[]).unwrap();
    assert_eq!(ours(&sub, &w.env).unwrap(), git);
    assert!(git.iter().any(|(k, v)| k == "user.email" && v.as_deref() == Some("nested@example.test")));

    // A linked worktree: config comes from the common dir.
    let ok = |c: &mut Command| assert!(c.status().unwrap().success());
    let g = |dir: &Path| {
        let mut c = Command::new("git");
        c.current_dir(dir).env("HOME", &w.home).env("GIT_CONFIG_NOSYSTEM", "1");
        c
    };
    ok(g(&w.repo).args(["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "--allow-empty", "-m", "x"]));
    ok(g(&w.repo).args(["config", "gitsign.connectorID", "https://github.com/login/oauth"]));
    let wt = w.home.join("wt");
    ok(g(&w.repo).args(["worktree", "add", "-q", wt.to_str().unwrap()]));
    let git = git_list(&wt, &w.env, &[]).unwrap();
    assert_eq!(ours(&wt, &w.env).unwrap(), git);
    assert!(git.iter().any(|(k, _)| k == "gitsign.connectorid"));

    // -c settings as git hands them to the programs it runs (GIT_CONFIG_PARAMETERS).
    let c_args =
        ["-c", "gitsign.Fulcio=it's", "-c", "User.Email=c@example.test", "-c", "flag.only", "-c", "a.Sub.k=v=w"];
    let mut dump = Command::new("git");
    dump.env_clear().env("PATH", std::env::var("PATH").unwrap()).envs(w.env.iter().map(|(k, v)| (k, v)));
    let out = dump.current_dir(&w.repo).args(c_args).args(["-c", "alias.envdump=!env -0", "envdump"]).output().unwrap();
    assert!(out.status.success());
    let mut env = w.env.clone();
    for rec in out.stdout.split(|b| *b == 0) {
        let s = String::from_utf8_lossy(rec);
        if let Some(v) = s.strip_prefix("GIT_CONFIG_PARAMETERS=") {
            env.push(("GIT_CONFIG_PARAMETERS".into(), v.to_string()));
        }
    }
    assert!(env.iter().any(|(k, _)| k == "GIT_CONFIG_PARAMETERS"), "git did not hand down -c settings");
    let mut git = git_list(&w.repo, &w.env, &c_args).unwrap();
    git.push(("alias.envdump".into(), Some("!env -0".into())));
    assert_eq!(ours(&w.repo, &env).unwrap(), git);
}

#[test]
fn steps_aside_where_git_must_decide() {
    let w = world();
    std::fs::write(w.home.join(".gitconfig"), "[includeIf \"gitdir:~/x/\"]\n\tpath = y\n").unwrap();
    assert!(ours(&w.repo, &w.env).is_err(), "conditional include");
    std::fs::write(w.home.join(".gitconfig"), "[user]\n\temail = a@b\n").unwrap();
    assert!(ours(&w.repo, &w.env).is_ok());
    let mut env = w.env.clone();
    env.push(("GIT_DIR".into(), w.repo.join(".git").display().to_string()));
    assert!(ours(&w.repo, &env).is_err(), "GIT_DIR");
    assert!(ours(&w.repo.join(".git"), &w.env).is_err(), "inside .git");
    std::fs::write(w.repo.join(".git/config"), "[extensions]\n\tworktreeConfig = true\n").unwrap();
    assert!(ours(&w.repo, &w.env).is_err(), "worktree config");
    // Outside any repository: global config only, as git shows it.
    let outside = w.home.join("plain");
    std::fs::create_dir_all(&outside).unwrap();
    assert_eq!(ours(&outside, &w.env).unwrap(), git_list(&outside, &w.env, &[]).unwrap());
}
