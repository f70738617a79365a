//! A reader that closes stdout early (`gitsign man | head`, `gitsign-sandbox env | head -1`)
//! ends every printing command quietly: no panic, nothing on stderr, and exit status 0 or 141
//! (128 + SIGPIPE, what a shell shows for any program stopped by a closed pipe). The tests give
//! each command a pipe whose read end is already closed, so its first write meets it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Sandbox, TempDir, bin};
use std::process::{Command, Stdio};

/// Run `cmd` with a stdout nobody reads; assert it ended quietly.
fn assert_quiet_on_closed_stdout(mut cmd: Command, what: &str) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = cmd.stdin(Stdio::null()).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{what}: a closed stdout printed on stderr: {stderr}");
    assert!(matches!(out.status.code(), Some(0 | 141)), "{what}: exit status {}", out.status);
}

fn gitsign(args: &[&str]) -> Command {
    let mut c = Command::new(bin("gitsign"));
    c.args(args).env("GIT_CONFIG_NOSYSTEM", "1").env("GIT_CONFIG_GLOBAL", "/dev/null");
    c
}

#[test]
fn gitsign_commands_end_quietly_on_a_closed_stdout() {
    for args in [
        &["version"][..],
        &["--version"],
        &["--help"],
        &["man"],
        &["completion", "bash"],
        &["completion", "zsh"],
        &["doctor"],
    ] {
        assert_quiet_on_closed_stdout(gitsign(args), &format!("gitsign {}", args.join(" ")));
    }
}

#[test]
fn credential_cache_commands_end_quietly_on_a_closed_stdout() {
    for args in [&["--version"][..], &["--help"]] {
        let mut c = Command::new(bin("gitsign-credential-cache"));
        c.args(args);
        assert_quiet_on_closed_stdout(c, &format!("gitsign-credential-cache {}", args.join(" ")));
    }
}

#[test]
fn sandbox_commands_end_quietly_on_a_closed_stdout() {
    let sb = Sandbox::start();
    let dir = sb.stack_dir();
    let d = dir.to_str().unwrap();
    for args in [&["--help"][..], &["env", "--dir", d], &["env", "--tsa", "--dir", d], &["token", "--dir", d]] {
        let mut c = Command::new(bin("gitsign-sandbox"));
        c.args(args);
        assert_quiet_on_closed_stdout(c, &format!("gitsign-sandbox {}", args.join(" ")));
    }
    // `serve` keeps serving when nobody reads its ready lines.
    let tmp = TempDir::new("closed-serve");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut serve = Command::new(bin("gitsign-sandbox"))
        .args(["serve", "--dir"])
        .arg(tmp.path())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let env = Command::new(bin("gitsign-sandbox")).args(["env", "--dir"]).arg(tmp.path()).output().unwrap();
    let running = serve.try_wait().unwrap().is_none();
    let _ = serve.kill();
    let out = serve.wait_with_output().unwrap();
    assert!(running, "serve stopped: {}", String::from_utf8_lossy(&out.stderr));
    assert!(env.status.success(), "{}", String::from_utf8_lossy(&env.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));
}
