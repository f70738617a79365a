//! `gitsign verify` / `verify-tag` with identity policy, ranges and JSON output, against
//! commits signed through git with the local stack.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, bin};

fn run(repo: &Repo, args: &[&str]) -> (i32, String, String) {
    let out = repo.cmd(&bin("gitsign")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn policy_ranges_tags_and_json() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, "alice@example.test");
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let first = repo.signed_commit("a", "1\n", "one");
    repo.signed_commit("b", "2\n", "two");
    repo.signed_commit("c", "3\n", "three");
    repo.git_ok(&["tag", "-s", "v1", "-m", "v1"]);
    let id = ["--certificate-identity", "alice@example.test", "--certificate-oidc-issuer", issuer.as_str()];

    // a range in one process: three commits
    let range = format!("{first}~0..HEAD");
    let mut args = vec!["verify", range.as_str()];
    args.extend(id);
    let (code, out, err) = run(&repo, &args);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches(": VERIFIED").count(), 2, "{out}"); // first..HEAD excludes first
    assert!(out.contains("2 of 2 objects verified"), "{out}");
    assert!(out.contains("identity: alice@example.test"), "{out}");
    assert!(out.contains("(embedded)"), "{out}");

    // default HEAD, JSON
    let mut args = vec!["verify", "--json"];
    args.extend(id);
    let (code, out, _) = run(&repo, &args);
    assert_eq!(code, 0);
    let rec: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(rec["verified"], true);
    assert_eq!(rec["identity"], "alice@example.test");
    assert_eq!(rec["issuer"], issuer.as_str());
    assert!(rec["logIndex"].as_i64().is_some());

    // tags
    let mut args = vec!["verify-tag", "v1"];
    args.extend(id);
    let (code, out, err) = run(&repo, &args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" tag: VERIFIED"), "{out}");

    // the wrong identity, issuer, regexp: exit 1 with the reason
    for bad in [
        vec!["verify", "--certificate-identity", "mallory@example.test", "--certificate-oidc-issuer", issuer.as_str()],
        vec![
            "verify",
            "--certificate-identity",
            "alice@example.test",
            "--certificate-oidc-issuer",
            "https://accounts.google.com",
        ],
        vec![
            "verify",
            "--certificate-identity-regexp",
            "^alice@example\\.org$",
            "--certificate-oidc-issuer-regexp",
            ".",
        ],
    ] {
        let (code, out, _) = run(&repo, &bad);
        assert_eq!(code, 1, "{bad:?}: {out}");
        assert!(out.contains("FAILED") && out.contains("does not match"), "{out}");
    }
    // unanchored regexps match substrings, as in cosign
    let (code, out, _) = run(
        &repo,
        &["verify", "--certificate-identity-regexp", "alice", "--certificate-oidc-issuer-regexp", "127\\.0\\.0\\.1"],
    );
    assert_eq!(code, 0, "{out}");

    // identity and issuer are required
    let (code, _, err) = run(&repo, &["verify"]);
    assert_eq!(code, 2);
    assert!(err.contains("--certificate-identity or --certificate-identity-regexp is required"), "{err}");
    let (code, _, _) = run(&repo, &["verify", "--insecure-no-identity"]);
    assert_eq!(code, 0);

    // --match-committer: a commit whose committer email is not the certificate's
    repo.git_ok(&["config", "user.email", "bob@example.test"]);
    repo.signed_commit("d", "4\n", "committed as bob, signed as alice");
    let mut args = vec!["verify", "--match-committer"];
    args.extend(id);
    let (code, out, _) = run(&repo, &args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("committer email \"bob@example.test\""), "{out}");

    // a lightweight tag is refused for verify-tag
    repo.git_ok(&["tag", "light"]);
    let mut args = vec!["verify-tag", "light"];
    args.extend(id);
    let (code, _, err) = run(&repo, &args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not an annotated tag"), "{err}");
}

fn identity_args(sb: &Sandbox) -> Vec<String> {
    ["--certificate-identity", "alice@example.test", "--certificate-oidc-issuer"]
        .iter()
        .map(|s| s.to_string())
        .chain([sb.var("GITSIGN_OIDC_ISSUER")])
        .collect()
}

/// `gitsign verify ARGS... <identity flags>`.
fn verify(repo: &Repo, sb: &Sandbox, args: &[&str]) -> (i32, String, String) {
    let id = identity_args(sb);
    let all: Vec<&str> =
        std::iter::once("verify").chain(args.iter().copied()).chain(id.iter().map(String::as_str)).collect();
    run(repo, &all)
}

/// A commit without a signature.
fn unsigned_commit(repo: &Repo, file: &str, msg: &str) -> String {
    std::fs::write(repo.path().join(file), msg).unwrap();
    repo.git_ok(&["add", file]);
    repo.git_ok(&["commit", "-q", "--no-gpg-sign", "-m", msg]);
    repo.git_ok(&["rev-parse", "HEAD"]).trim().to_string()
}

/// Item 2: `verify REV` checks the commit REV names (a tag is peeled), `verify-tag` the tag.
#[test]
fn verify_peels_tags_to_their_commit() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, "alice@example.test");
    let signed = repo.signed_commit("a", "1\n", "signed");
    repo.git_ok(&["tag", "-s", "on-signed", "-m", "on a signed commit"]);
    let unsigned = unsigned_commit(&repo, "b", "unsigned\n");
    repo.git_ok(&["tag", "-s", "on-unsigned", "-m", "a signed tag on an unsigned commit"]);

    // The tag's own signature is good...
    let (code, out, err) = run(&repo, &["verify-tag", "on-unsigned", "--insecure-no-identity"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" tag: VERIFIED"), "{out}");
    // ...but `verify` is about the commit it points at, which is unsigned.
    let (code, out, err) = verify(&repo, &sb, &["on-unsigned"]);
    assert_eq!(code, 1, "a signed tag on an unsigned commit passed `verify`:\n{out}{err}");
    assert!(out.starts_with(&format!("{unsigned} commit: FAILED")), "{out}");
    // A tag on a signed commit: the commit is reported, by its id.
    let (code, out, err) = verify(&repo, &sb, &["on-signed"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with(&format!("{signed} commit: VERIFIED")), "{out}");
    let (code, out, _) = verify(&repo, &sb, &["--json", "refs/tags/on-signed"]);
    assert_eq!(code, 0, "{out}");
    let rec: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!((rec["object"].as_str(), rec["type"].as_str()), (Some(signed.as_str()), Some("commit")));
}

/// Item 3: a range that selects nothing is an error unless --allow-empty.
#[test]
fn empty_ranges_fail_unless_allowed() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, "alice@example.test");
    let first = repo.signed_commit("a", "1\n", "one");
    repo.signed_commit("b", "2\n", "two");
    let reversed = format!("HEAD..{first}");
    for range in ["HEAD..HEAD", reversed.as_str()] {
        for json in [false, true] {
            let mut args = vec![range];
            if json {
                args.push("--json");
            }
            let (code, out, err) = verify(&repo, &sb, &args);
            assert_ne!(code, 0, "{range} (json {json}) passed having verified nothing:\n{out}{err}");
            assert!(out.is_empty(), "{out}");
            assert!(err.contains(&format!("no commits in {range}")), "{err}");
            assert!(err.contains("--allow-empty"), "{err}");
        }
        let (code, out, err) = verify(&repo, &sb, &[range, "--allow-empty"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    // A non-empty range next to an empty one still fails.
    let range = format!("{first}..HEAD");
    let (code, _, err) = verify(&repo, &sb, &[range.as_str(), "HEAD..HEAD"]);
    assert_ne!(code, 0, "{err}");
}

/// Sign `payload` with the built gitsign (as git would) and return the armored signature.
fn sign(repo: &Repo, payload: &[u8]) -> String {
    use std::io::Write;
    let mut child = repo
        .cmd(&bin("gitsign"))
        .args(["--status-fd=2", "-bsau", "x"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(payload).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "sign: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Item 7: --match-committer reads only `committer` (commits) or `tagger` (tags), and objects
/// repeating it are refused.
#[test]
fn match_committer_reads_the_right_header_once() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, "alice@example.test");
    let base = repo.signed_commit("a", "1\n", "base");
    let tree = repo.git_ok(&["write-tree"]).trim().to_string();
    let alice = "Alice <alice@example.test> 1700000000 +0000";
    let bob = "Bob <bob@example.test> 1700000000 +0000";

    // A commit with two committer lines: alice first, bob last (what git shows).
    let payload =
        format!("tree {tree}\nparent {base}\nauthor {alice}\ncommitter {alice}\ncommitter {bob}\n\ntwo committers\n");
    let sig = sign(&repo, payload.as_bytes());
    let (head, msg) = payload.split_once("\n\n").unwrap();
    let raw = format!("{head}\ngpgsig {}\n\n{msg}", sig.trim_end().replace('\n', "\n "));
    let id = repo.hash_object("commit", raw.as_bytes());
    let (code, out, err) = verify(&repo, &sb, &[id.as_str(), "--match-committer"]);
    assert_eq!(code, 1, "a commit with two committer headers passed --match-committer:\n{out}{err}");
    assert!(out.contains("more than one `committer` header"), "{out}");

    // A tag with a `committer` line (alice) before its `tagger` (bob): the tagger counts.
    let payload = format!("object {base}\ntype commit\ntag odd\ncommitter {alice}\ntagger {bob}\n\nodd tag\n");
    let sig = sign(&repo, payload.as_bytes());
    let id = repo.hash_object("tag", format!("{payload}{sig}").as_bytes());
    repo.git_ok(&["update-ref", "refs/tags/odd", &id]);
    let mut args = vec!["verify-tag", "odd", "--match-committer"];
    let ids = identity_args(&sb);
    args.extend(ids.iter().map(String::as_str));
    let (code, out, err) = run(&repo, &args);
    assert_eq!(code, 1, "the tag's committer line was taken for its tagger:\n{out}{err}");
    assert!(out.contains("committer email \"bob@example.test\""), "{out}");
    // Without --match-committer the tag verifies: only the header choice was at stake.
    let (code, out, err) = run(&repo, &args.iter().copied().filter(|a| *a != "--match-committer").collect::<Vec<_>>());
    assert_eq!(code, 0, "{out}{err}");
}

/// Item 13: an exact value and a regular expression for the same field are a usage error.
#[test]
fn exact_and_regexp_policy_flags_conflict() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, "alice@example.test");
    repo.signed_commit("a", "1\n", "one");
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    for (cmd, args) in [
        ("verify", vec!["--certificate-identity", "alice@example.test", "--certificate-identity-regexp", "^mallory@"]),
        ("verify", vec!["--certificate-oidc-issuer-regexp", "^https://nowhere", "--certificate-identity-regexp", "."]),
    ] {
        let mut all = vec![cmd];
        all.extend(args);
        all.extend(["--certificate-oidc-issuer", issuer.as_str()]);
        if !all.contains(&"--certificate-identity") && !all.contains(&"--certificate-identity-regexp") {
            all.extend(["--certificate-identity", "alice@example.test"]);
        }
        let (code, out, err) = run(&repo, &all);
        assert_eq!(code, 2, "{all:?} ignored one of the two flags:\n{out}{err}");
        assert!(err.contains("cannot be used with"), "{err}");
        assert!(out.is_empty(), "{out}");
    }
}

/// Item 8: objects are read without `refs/replace/*` and must hash to the requested id, in
/// SHA-1 and SHA-256 repositories.
#[test]
fn replace_refs_do_not_change_the_verdict() {
    let sb = Sandbox::start();
    for format in ["sha1", "sha256"] {
        let repo = Repo::new(&sb, "alice@example.test");
        if format == "sha256" {
            std::fs::remove_dir_all(repo.path().join(".git")).unwrap();
            repo.git_ok(&["init", "-q", "-b", "main", "--object-format=sha256", "."]);
            repo.git_ok(&["config", "user.name", "Test User"]);
            repo.git_ok(&["config", "user.email", "alice@example.test"]);
            repo.git_ok(&["config", "gpg.format", "x509"]);
            repo.git_ok(&["config", "gpg.x509.program", bin("gitsign").to_str().unwrap()]);
        }
        let signed = repo.signed_commit("a", "1\n", "signed");
        let unsigned = unsigned_commit(&repo, "b", "unsigned\n");
        assert_eq!(unsigned.len(), if format == "sha1" { 40 } else { 64 });
        let (code, out, err) = verify(&repo, &sb, &[signed.as_str()]);
        assert_eq!(code, 0, "{format}: {out}{err}");
        // Make the unsigned commit's id show the signed commit's bytes.
        repo.git_ok(&["replace", &unsigned, &signed]);
        assert_eq!(repo.cat_file("commit", &unsigned), repo.cat_file("commit", &signed));
        for args in [vec![unsigned.as_str()], vec!["HEAD"], vec!["HEAD~1..HEAD"]] {
            let (code, out, err) = verify(&repo, &sb, &args);
            assert_eq!(
                code, 1,
                "{format} {args:?}: a replaced object's signature was credited to {unsigned}:\n{out}{err}"
            );
            assert!(out.starts_with(&format!("{unsigned} commit: FAILED")), "{out}");
        }
    }
}

/// Item 20: `gitsign show` refuses a lightweight tag, as gitsign does; annotated tags and
/// commits still show.
#[test]
fn show_refuses_lightweight_tags() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, "alice@example.test");
    let id = repo.signed_commit("a", "1\n", "one");
    repo.git_ok(&["tag", "light"]);
    repo.git_ok(&["tag", "-s", "heavy", "-m", "annotated"]);
    let (code, out, err) = run(&repo, &["show", "light"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("lightweight tag") && err.contains(&id), "{err}");
    for rev in ["heavy", "HEAD", "light^{commit}", id.as_str()] {
        let (code, out, err) = run(&repo, &["show", rev]);
        assert_eq!(code, 0, "{rev}: {err}");
        assert!(out.contains("\"predicateType\""), "{rev}: {out}");
    }
}

/// Item 17: every subcommand answers --help on stdout, exit 0, starting with a one-line
/// purpose and showing examples.
#[test]
fn every_subcommand_has_help_with_purpose_and_examples() {
    let dir = common::TempDir::new("help");
    let names: Vec<String> = {
        let out = std::process::Command::new(bin("gitsign")).arg("--help").output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .filter_map(|l| l.strip_prefix("  gitsign "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-'))
            .map(str::to_string)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    for want in ["verify", "verify-tag", "export-bundle", "verify-bundle", "show", "man", "completion"] {
        assert!(names.iter().any(|n| n == want), "{want} not in gitsign --help: {names:?}");
    }
    for name in &names {
        let out =
            std::process::Command::new(bin("gitsign")).current_dir(dir.path()).args([name, "--help"]).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "gitsign {name} --help: {stderr}");
        assert!(stderr.is_empty(), "gitsign {name} --help wrote to stderr: {stderr}");
        let first = stdout.lines().next().unwrap_or("");
        assert!(
            !first.is_empty() && first.len() <= 100 && !first.contains("library") && !first.starts_with("Usage"),
            "gitsign {name} --help does not start with a one-line purpose: {first:?}"
        );
        assert!(stdout.contains("Usage: gitsign"), "gitsign {name} --help:\n{stdout}");
        assert!(stdout.contains("Example"), "gitsign {name} --help has no examples:\n{stdout}");
    }
}

/// Item 19: one man page per subcommand, and gitsign(1) documents every setting.
#[test]
fn man_pages_per_subcommand_with_configuration() {
    let dir = common::TempDir::new("man");
    let out = std::process::Command::new(bin("gitsign")).args(["man", "--dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let top = std::fs::read_to_string(dir.path().join("gitsign.1")).unwrap();
    // Every page gitsign(1) points at exists.
    let mut named = 0;
    for piece in top.split("gitsign\\-").skip(1) {
        let Some(end) = piece.find("(1)") else { continue };
        let sub = piece[..end].replace("\\-", "-");
        if sub.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            named += 1;
            let page = dir.path().join(format!("gitsign-{sub}.1"));
            assert!(page.exists(), "gitsign(1) names gitsign-{sub}(1), which was not written");
            let text = std::fs::read_to_string(&page).unwrap();
            assert!(text.contains(".SH SYNOPSIS") && text.contains(".SH OPTIONS"), "{text}");
        }
    }
    assert!(named >= 10, "gitsign(1) names {named} subcommand pages:\n{top}");
    // Configuration keys and variables with their defaults.
    assert!(top.contains(".SH CONFIGURATION") && top.contains(".SH ENVIRONMENT"), "{top}");
    for s in gitsign::app::config::SETTINGS {
        for name in s.git_key.iter().chain(s.env) {
            assert!(top.contains(name), "gitsign(1) does not document {name}");
        }
        assert!(
            top.contains(&format!("Default: \\fI{}", s.default.replace('-', "\\-").replace('\'', "\\*(Aq"))),
            "no default for {s:?}"
        );
    }
    for (name, _, _) in gitsign::app::config::OTHER_ENVIRONMENT {
        assert!(top.contains(name), "gitsign(1) does not document {name}");
    }
    // One page on stdout.
    let out = std::process::Command::new(bin("gitsign")).args(["man", "verify"]).output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH gitsign-verify 1") && page.contains("allow\\-empty"), "{page}");
    let out = std::process::Command::new(bin("gitsign")).args(["man", "no-such"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
