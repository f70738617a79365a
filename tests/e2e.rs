//! End to end: real git, the built `gitsign` as git's x509 program, and the local Sigstore
//! stack (`gitsign-sandbox`) as a real process on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, TempDir, bin};
use std::io::Write;
use std::process::Stdio;

const ALICE: &str = "alice@example.test";

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn commit_is_signed_and_verifies_through_git() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let id = repo.signed_commit("a.txt", "hello\n", "first signed commit");
    let raw = String::from_utf8(repo.cat_file("commit", &id)).unwrap();
    assert!(raw.contains("\ngpgsig -----BEGIN SIGNED MESSAGE-----\n"), "{raw}");
    let v = repo.git(&["verify-commit", &id]);
    assert!(v.status.success(), "verify-commit failed: {}", stderr(&v));
    assert!(stderr(&v).contains("Good signature"), "{}", stderr(&v));
    // git's own parse of our status lines
    assert_eq!(repo.git_ok(&["log", "-1", "--format=%G?"]).trim(), "G");
    assert_eq!(repo.git_ok(&["log", "-1", "--format=%GS"]).trim(), ALICE);
    let fpr = repo.git_ok(&["log", "-1", "--format=%GK"]);
    assert_eq!(fpr.trim().len(), 40, "fingerprint is a SHA-1: {fpr}");
    let shown = repo.git_ok(&["log", "-1", "--show-signature"]);
    assert!(shown.contains("first signed commit"));
    // --raw shows the status lines git parsed
    let raw = repo.git(&["verify-commit", "--raw", &id]);
    let status = stderr(&raw);
    assert!(status.contains("[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG "), "{status}");
    assert!(status.contains("[GNUPG:] TRUST_FULLY 0 shell"), "{status}");
}

#[test]
fn tags_amends_and_merges() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    repo.signed_commit("a.txt", "1\n", "one");
    repo.git_ok(&["tag", "-s", "v1", "-m", "release v1"]);
    let v = repo.git(&["verify-tag", "v1"]);
    assert!(v.status.success(), "verify-tag: {}", stderr(&v));
    let tag = String::from_utf8(repo.cat_file("tag", "v1")).unwrap();
    assert!(tag.contains("\n-----BEGIN SIGNED MESSAGE-----\n"), "{tag}");
    assert_eq!(repo.git_ok(&["tag", "-v", "--format=%(objectname)", "v1"]).trim().len(), 40);

    // amend keeps a valid signature
    repo.git_ok(&["commit", "-q", "--amend", "-S", "-m", "one, amended"]);
    assert_eq!(repo.git_ok(&["log", "-1", "--format=%G?"]).trim(), "G");

    // merge --verify-signatures accepts a signed branch (needs TRUST_* ≥ marginal) ...
    repo.git_ok(&["checkout", "-q", "-b", "feature"]);
    repo.signed_commit("b.txt", "2\n", "signed feature work");
    repo.git_ok(&["checkout", "-q", "main"]);
    repo.signed_commit("c.txt", "3\n", "main moves on");
    let m = repo.git(&["merge", "--verify-signatures", "-S", "--no-edit", "feature"]);
    assert!(m.status.success(), "merge: {}{}", String::from_utf8_lossy(&m.stdout), stderr(&m));
    assert_eq!(repo.git_ok(&["log", "-1", "--format=%G?"]).trim(), "G", "the merge commit is signed");
    // ... and refuses an unsigned one
    repo.git_ok(&["checkout", "-q", "-b", "unsigned"]);
    std::fs::write(repo.path().join("d.txt"), "4\n").unwrap();
    repo.git_ok(&["add", "d.txt"]);
    repo.git_ok(&["-c", "commit.gpgsign=false", "commit", "-q", "-m", "unsigned"]);
    repo.git_ok(&["checkout", "-q", "main"]);
    let m = repo.git(&["merge", "--verify-signatures", "--no-edit", "unsigned"]);
    assert!(!m.status.success(), "merging an unsigned commit with --verify-signatures must fail");
}

/// Replace the first occurrence of `from` in the raw commit and store the result.
fn tampered(repo: &Repo, id: &str, from: &str, to: &str) -> String {
    let raw = String::from_utf8(repo.cat_file("commit", id)).unwrap();
    assert!(raw.contains(from), "{from:?} not in {raw}");
    repo.hash_object("commit", raw.replacen(from, to, 1).as_bytes())
}

#[test]
fn tampering_is_rejected_with_a_reason() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let id = repo.signed_commit("a.txt", "x\n", "Important message");
    let other = repo.signed_commit("b.txt", "y\n", "Another message");

    let cases = [
        ("message byte", tampered(&repo, &id, "Important message", "important message")),
        ("author", tampered(&repo, &id, "author Test User", "author Evil User")),
    ];
    for (what, bad) in cases {
        let v = repo.git(&["verify-commit", &bad]);
        assert!(!v.status.success(), "{what}: tampered commit verified");
        assert!(stderr(&v).to_lowercase().contains("digest"), "{what}: no reason given: {}", stderr(&v));
        assert_eq!(repo.git_ok(&["log", "-1", "--format=%G?", &bad]).trim(), "B", "{what}");
    }

    // a changed byte inside the signature
    let raw = String::from_utf8(repo.cat_file("commit", &id)).unwrap();
    let start = raw.find("gpgsig ").unwrap();
    let line_start = raw[start..].find("\n ").unwrap() + start + 30;
    let mut bytes = raw.into_bytes();
    bytes[line_start] = if bytes[line_start] == b'A' { b'B' } else { b'A' };
    let bad = repo.hash_object("commit", &bytes);
    let v = repo.git(&["verify-commit", &bad]);
    assert!(!v.status.success(), "commit with a flipped signature byte verified");
    assert!(!stderr(&v).trim().is_empty());

    // the signature of one commit moved onto another
    let sig_of = |c: &str| {
        let raw = String::from_utf8(repo.cat_file("commit", c)).unwrap();
        let s = raw.find("gpgsig ").unwrap();
        let e = raw.find("-----END SIGNED MESSAGE-----\n").unwrap() + "-----END SIGNED MESSAGE-----\n".len();
        raw[s..e].to_string()
    };
    let raw_id = String::from_utf8(repo.cat_file("commit", &id)).unwrap();
    let swapped = raw_id.replace(&sig_of(&id), &sig_of(&other));
    let bad = repo.hash_object("commit", swapped.as_bytes());
    let v = repo.git(&["verify-commit", &bad]);
    assert!(!v.status.success(), "swapped signature verified");
    assert!(stderr(&v).to_lowercase().contains("digest"), "{}", stderr(&v));
}

#[test]
fn signature_from_an_untrusted_stack_is_rejected() {
    let trusted = Sandbox::start();
    let rogue = Sandbox::start();
    let repo = Repo::new(&rogue, ALICE);
    let id = repo.signed_commit("a.txt", "x\n", "signed by a CA nobody trusts");
    assert!(repo.git(&["verify-commit", &id]).status.success(), "valid under its own root");
    // Same repository, verified against the other stack's trust root.
    let mut env = repo.env.clone();
    for (k, v) in env.iter_mut() {
        if k == "GITSIGN_TRUSTED_ROOT" {
            *v = trusted.var("GITSIGN_TRUSTED_ROOT");
        }
    }
    let out = repo.cmd(std::path::Path::new("git")).envs(env).args(["verify-commit", &id]).output().unwrap();
    assert!(!out.status.success(), "a signature from an untrusted stack verified");
    let err = stderr(&out).to_lowercase();
    assert!(err.contains("trust") || err.contains("rekor") || err.contains("log"), "{err}");
}

#[test]
fn signing_writes_only_the_signature_to_stdout() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let payload =
        b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n\nmsg\n";
    let mut child = repo
        .cmd(&bin("gitsign"))
        .args(["--status-fd=2", "-bsau", "Test User <alice@example.test>"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(payload).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"-----BEGIN SIGNED MESSAGE-----"));
    assert_eq!(lines.last(), Some(&"-----END SIGNED MESSAGE-----"));
    assert!(stdout.ends_with("-----END SIGNED MESSAGE-----\n"));
    for l in &lines[1..lines.len() - 1] {
        assert!(
            l.len() <= 64 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
            "stray stdout line {l:?}"
        );
    }
    let status = stderr(&out);
    let begin = status.find("[GNUPG:] BEGIN_SIGNING\n").expect("BEGIN_SIGNING");
    let created = status.find("\n[GNUPG:] SIG_CREATED D 19 9 00 ").expect("SIG_CREATED");
    assert!(begin < created, "{status}");

    // Verification with --status-fd=1: only status lines on stdout.
    let dir = TempDir::new("sig");
    std::fs::write(dir.path().join("sig"), &stdout).unwrap();
    let mut child = repo
        .cmd(&bin("gitsign"))
        .args(["--status-fd=1", "--verify"])
        .arg(dir.path().join("sig"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(payload).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.lines().all(|l| l.starts_with("[GNUPG:] ")), "{stdout}");
    assert!(stdout.starts_with("[GNUPG:] NEWSIG\n[GNUPG:] GOODSIG "), "{stdout}");
}

#[test]
fn failures_keep_git_state_and_explain() {
    let sb = Sandbox::start();
    // An expired/garbage token: the commit must fail cleanly and leave no commit behind.
    let mut env = sb.env.clone();
    env.push(("SIGSTORE_ID_TOKEN".into(), "not-a-jwt".into()));
    let repo = Repo::with_env(env, ALICE);
    std::fs::write(repo.path().join("a.txt"), "x\n").unwrap();
    repo.git_ok(&["add", "a.txt"]);
    let out = repo.git(&["commit", "-q", "-S", "-m", "will not be signed"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("gpg failed to sign the data"), "{err}");
    assert!(err.contains("JWT"), "the reason reaches the user: {err}");
    assert!(!repo.git(&["rev-parse", "--verify", "-q", "HEAD"]).status.success(), "no commit was created");

    // Unreachable Fulcio.
    let mut env = sb.env.clone();
    env.push(("SIGSTORE_ID_TOKEN".into(), sb.token(ALICE)));
    env.push(("GITSIGN_FULCIO_URL".into(), "http://127.0.0.1:9".into()));
    let repo = Repo::with_env(env, ALICE);
    std::fs::write(repo.path().join("a.txt"), "x\n").unwrap();
    repo.git_ok(&["add", "a.txt"]);
    let out = repo.git(&["commit", "-q", "-S", "-m", "no fulcio"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot reach Fulcio"), "{}", stderr(&out));
}

#[test]
fn online_mode_signs_over_the_object_id_and_verifies_by_lookup() {
    let sb = Sandbox::start();
    let mut env = sb.env.clone();
    env.push(("SIGSTORE_ID_TOKEN".into(), sb.token(ALICE)));
    env.push(("GITSIGN_REKOR_MODE".into(), "online".into()));
    let repo = Repo::with_env(env, ALICE);
    let id = repo.signed_commit("a.txt", "x\n", "online mode");
    let v = repo.git(&["verify-commit", &id]);
    assert!(v.status.success(), "{}", stderr(&v));
    repo.git_ok(&["tag", "-s", "v-online", "-m", "online tag"]);
    let v = repo.git(&["verify-tag", "v-online"]);
    assert!(v.status.success(), "{}", stderr(&v));
}

#[test]
fn openssl_accepts_our_cms() {
    if std::process::Command::new("openssl").arg("version").output().is_err() {
        panic!("openssl is required for this interop test (.ci/run installs it)");
    }
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, ALICE);
    let id = repo.signed_commit("a.txt", "x\n", "checked by openssl");
    let raw = String::from_utf8(repo.cat_file("commit", &id)).unwrap();
    // payload and signature as git splits them
    let (head, rest) = raw.split_once("gpgsig ").unwrap();
    let end = rest.find("-----END SIGNED MESSAGE-----\n").unwrap() + "-----END SIGNED MESSAGE-----\n".len();
    let sig: String = rest[..end].lines().map(|l| l.trim_start()).collect::<Vec<_>>().join("\n") + "\n";
    let payload = format!("{head}{}", &rest[end..]);
    let dir = TempDir::new("openssl");
    std::fs::write(dir.path().join("payload"), &payload).unwrap();
    std::fs::write(dir.path().join("sig.pem"), sig.replace("SIGNED MESSAGE", "CMS")).unwrap();
    // CA file: the sandbox's chain from its trusted root.
    let tr: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.var("GITSIGN_TRUSTED_ROOT")).unwrap()).unwrap();
    let mut ca = String::new();
    for c in tr["certificateAuthorities"][0]["certChain"]["certificates"].as_array().unwrap() {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD.decode(c["rawBytes"].as_str().unwrap()).unwrap();
        ca.push_str(&gitsign::services::fulcio::certificate_pem(&der));
    }
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
    let run = |content: &str| {
        std::process::Command::new("openssl")
            .current_dir(dir.path())
            .args(["cms", "-verify", "-binary", "-inform", "PEM", "-in", "sig.pem", "-content", content])
            .args(["-CAfile", "ca.pem", "-purpose", "any", "-out", "/dev/null"])
            .output()
            .unwrap()
    };
    let ok = run("payload");
    assert!(ok.status.success(), "openssl cms -verify: {}", stderr(&ok));
    assert!(stderr(&ok).contains("Verification successful"));
    std::fs::write(dir.path().join("payload2"), payload.replace("checked", "Checked")).unwrap();
    let bad = run("payload2");
    assert!(!bad.status.success(), "openssl accepted a changed payload");
}

#[test]
fn real_gitsign_signatures_verify_through_git_with_the_production_root() {
    let sb = Sandbox::start();
    // No sandbox trust root: the embedded production root applies.
    let env: Vec<(String, String)> = sb.env.iter().filter(|(k, _)| k != "GITSIGN_TRUSTED_ROOT").cloned().collect();
    let repo = Repo::with_env(env, ALICE);
    let index = std::fs::read_to_string(common::shared().join("fixtures/real/INDEX.tsv")).unwrap();
    let mut checked = 0;
    for row in index.lines().skip(1) {
        let f: Vec<&str> = row.split('\t').collect();
        if f[10] != "offline" {
            continue; // online-mode signatures need the public Rekor
        }
        let raw = std::fs::read(common::shared().join("fixtures/real").join(f[0])).unwrap();
        let id = repo.hash_object(f[2], &raw);
        assert_eq!(id, f[3]);
        let args: Vec<&str> = if f[2] == "commit" { vec!["verify-commit", &id] } else { vec!["verify-tag", &id] };
        let out = repo.git(&args);
        assert!(out.status.success(), "{}: {}", f[0], stderr(&out));
        let who = if f[4].is_empty() { f[5] } else { f[4] };
        assert!(stderr(&out).contains(who), "{}: identity {who} not shown: {}", f[0], stderr(&out));
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn sandbox_over_tls_with_its_own_ca() {
    let sb = Sandbox::start_with(&["--tls"]);
    assert!(sb.var("GITSIGN_FULCIO_URL").starts_with("https://"));
    let ca = sb.stack_dir().join("tls-ca.pem");
    // Only our own setting names the CA: no SSL_CERT_FILE.
    let mut env: Vec<(String, String)> = sb.env.iter().filter(|(k, _)| k != "SSL_CERT_FILE").cloned().collect();
    env.push(("SIGSTORE_ID_TOKEN".into(), sb.token(ALICE)));
    let untrusting = Repo::with_env(env.clone(), ALICE);
    std::fs::write(untrusting.path().join("a.txt"), "x\n").unwrap();
    untrusting.git_ok(&["add", "a.txt"]);
    let out = untrusting
        .cmd(std::path::Path::new("git"))
        .env_remove("SSL_CERT_FILE")
        .args(["commit", "-q", "-S", "-m", "tls"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "TLS to an unknown CA must fail");
    assert!(stderr(&out).contains("GITSIGN_CA_BUNDLE"), "{}", stderr(&out));

    env.push(("GITSIGN_CA_BUNDLE".into(), ca.display().to_string()));
    let repo = Repo::with_env(env, ALICE);
    let id = repo.signed_commit("a.txt", "x\n", "signed over TLS");
    let v = repo.git(&["verify-commit", &id]);
    assert!(v.status.success(), "{}", stderr(&v));
}
