//! The README's quickstart, run as a user pastes it: the lines of its "Quickstart against the
//! local stack" block, taken from README.md itself (so the two cannot drift), run by bash at
//! once with no sleep, in a fresh state directory and in one left by a killed earlier run. The
//! `GITSIGN_*` variables must name the sandbox that is running, and the signed commit and tag
//! must verify: an `env` that raced `serve` (or read a stale `sandbox.json`) leaves them unset
//! or dead, and signing then goes elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, TempDir, bin};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// The directory the README's quickstart uses; the test puts its own in its place.
const README_DIR: &str = "/tmp/sigstore";

/// The lines of the quickstart block, as README.md prints them.
fn quickstart_lines() -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme.split("\n## Quickstart against the local stack\n").nth(1).expect("README has the quickstart");
    let block = section.split("```sh\n").nth(1).expect("a sh block").split("\n```").next().unwrap();
    block.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

/// Run the quickstart in a fresh repository against state directory `dir`; returns the
/// script's stdout (its own report lines included) after checking that it succeeded.
fn run_quickstart(dir: &Path) -> String {
    let lines = quickstart_lines();
    assert!(lines[0].starts_with("gitsign-sandbox serve --dir /tmp/sigstore &"), "{lines:?}");
    assert!(lines[1].starts_with("eval \"$(gitsign-sandbox env --dir /tmp/sigstore)\""), "{lines:?}");
    // Every line runs as printed, except the merge, which needs a branch of the reader's own.
    let (merge, run): (Vec<&String>, Vec<&String>) = lines.iter().partition(|l| l.starts_with("git merge "));
    assert_eq!(merge.len(), 1, "{lines:?}");
    let body: Vec<String> = run.iter().map(|l| l.replace(README_DIR, dir.to_str().unwrap())).collect();
    let script = format!(
        "set -e\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n{}\n\
         echo \"QS_FULCIO=$GITSIGN_FULCIO_URL\"\necho \"QS_ISSUER=$GITSIGN_OIDC_ISSUER\"\n\
         echo \"QS_ROOT=$GITSIGN_TRUSTED_ROOT\"\necho \"QS_STATUS=$(git log -1 --format=%G?)\"\n",
        body.join("\n")
    );

    let repo = Repo::with_env(Vec::new(), "you@example.test");
    std::fs::write(repo.path().join("a.txt"), "hello\n").unwrap();
    repo.git_ok(&["add", "a.txt"]);
    let bindir = bin("gitsign").parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bindir.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = repo.cmd(Path::new("bash"));
    for (k, _) in std::env::vars() {
        if k.starts_with("GITSIGN_") || k.starts_with("SIGSTORE_") {
            cmd.env_remove(k);
        }
    }
    // Should the variables stay unset, signing must fail fast rather than wait on the network.
    let out = cmd
        .env("PATH", path)
        .env("GITSIGN_CONNECT_TIMEOUT", "2")
        .env("GITSIGN_HTTP_TIMEOUT", "2")
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the quickstart failed ({}):\nscript:\n{script}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Check that the quickstart's variables named the sandbox it started (recorded in `dir`).
fn assert_pointed_at_sandbox(dir: &Path, stdout: &str) {
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sandbox.json")).unwrap()).unwrap();
    let base = info["base_url"].as_str().unwrap();
    assert!(stdout.contains(&format!("base_url {base}\n")), "serve printed another address:\n{stdout}");
    assert!(stdout.contains(&format!("QS_FULCIO={base}\n")), "GITSIGN_FULCIO_URL is not the sandbox {base}:\n{stdout}");
    assert!(stdout.contains(&format!("QS_ISSUER={base}/oauth2\n")), "{stdout}");
    let root = std::fs::canonicalize(dir.join("trusted_root.json")).unwrap();
    assert!(stdout.contains(&format!("QS_ROOT={}\n", root.display())), "{stdout}");
    assert!(stdout.contains("QS_STATUS=G\n"), "the signed commit does not verify:\n{stdout}");
}

#[test]
fn readme_quickstart_in_a_fresh_directory() {
    let tmp = TempDir::new("quickstart-fresh");
    let dir = tmp.path().join("sigstore");
    let stdout = run_quickstart(&dir);
    assert_pointed_at_sandbox(&dir, &stdout);
}

#[test]
fn readme_quickstart_in_a_directory_left_by_a_killed_run() {
    let tmp = TempDir::new("quickstart-reused");
    let dir = tmp.path().join("sigstore");
    // An earlier sandbox in the same directory, killed (kill -9): its sandbox.json stays behind
    // and names an address nobody answers at any more.
    let mut old = Command::new(bin("gitsign-sandbox"))
        .args(["serve", "--dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut old_base = String::new();
    for line in BufReader::new(old.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(b) = line.strip_prefix("base_url ") {
            old_base = b.to_string();
        }
        if line == "ready" {
            break;
        }
    }
    old.kill().unwrap();
    old.wait().unwrap();
    let stale = std::fs::read_to_string(dir.join("sandbox.json")).unwrap();
    assert!(stale.contains(&old_base), "{stale}");

    let stdout = run_quickstart(&dir);
    assert_pointed_at_sandbox(&dir, &stdout);
}
