//! git's verdicts on failed verifications, through real git and the built gitsign against the
//! local Sigstore stack: a signature that is intact but cannot be checked against the trusted
//! root (unknown CA, unknown log, no log evidence) is `ERRSIG` (`%G?` = `E`, GnuPG's "missing
//! key"); a signature that does not match its object is `BADSIG` (`%G?` = `B`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, TempDir};
use std::path::Path;
use std::process::Output;

const ALICE: &str = "alice@example.test";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `env` with `key` set to `value` (replacing any earlier value).
fn with(env: &[(String, String)], key: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env.iter().filter(|(k, _)| k != key).cloned().collect();
    env.push((key.into(), value.into()));
    env
}

/// What git makes of the signature on `id` under `env`: `%G?`, `%GK`, the raw status lines and
/// the `verify-commit` run.
struct Verdict {
    g: String,
    key: String,
    raw_status: String,
    verify: Output,
}

fn verdict(repo: &Repo, env: &[(String, String)], id: &str) -> Verdict {
    let git = |args: &[&str]| repo.cmd(Path::new("git")).envs(env.iter().cloned()).args(args).output().unwrap();
    let log = git(&["log", "-1", "--format=%G?/%GK", id]);
    assert!(log.status.success(), "git log: {}", text(&log.stderr));
    let shown = text(&log.stdout);
    let (g, key) = shown.trim().split_once('/').unwrap();
    let raw = git(&["verify-commit", "--raw", id]);
    let verify = git(&["verify-commit", id]);
    assert!(!verify.status.success(), "verify-commit accepted {id}: {}", text(&verify.stderr));
    assert!(!raw.status.success());
    let stderr = text(&verify.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Some("), "{stderr}");
    Verdict { g: g.into(), key: key.into(), raw_status: text(&raw.stderr), verify }
}

fn assert_errsig(v: &Verdict, what: &str, needle: &str) {
    let err = text(&v.verify.stderr);
    assert_eq!(v.g, "E", "{what}: %G? must be E (cannot be checked), not tampering\n{}{err}", v.raw_status);
    assert!(v.raw_status.contains("[GNUPG:] ERRSIG "), "{what}: {}", v.raw_status);
    assert!(!v.raw_status.contains("BADSIG"), "{what}: {}", v.raw_status);
    assert_eq!(v.key.len(), 40, "{what}: ERRSIG names the signer certificate (%GK): {:?}", v.key);
    assert!(err.contains(needle), "{what}: stderr lacks {needle:?}: {err}");
    assert!(err.contains("cannot be checked"), "{what}: {err}");
}

#[test]
fn unknown_ca_unknown_log_and_missing_log_evidence_are_errsig_tampering_stays_badsig() {
    let ours = Sandbox::start();
    let theirs = Sandbox::start();
    let repo = Repo::new(&theirs, ALICE);
    let id = repo.signed_commit("a.txt", "x\n", "signed by another Sigstore instance");
    assert_eq!(repo.git_ok(&["log", "-1", "--format=%G?", &id]).trim(), "G", "valid under its own root");

    // The other instance's log is not in our trusted root.
    let our_root = ours.var("GITSIGN_TRUSTED_ROOT");
    let env = with(&repo.env, "GITSIGN_TRUSTED_ROOT", &our_root);
    assert_errsig(&verdict(&repo, &env, &id), "unknown log", "not in the trusted root");

    // Their log trusted, their CA not: a trusted root with our certificate authorities.
    let dir = TempDir::new("roots");
    let mut mixed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(theirs.var("GITSIGN_TRUSTED_ROOT")).unwrap()).unwrap();
    let ours_json: serde_json::Value = serde_json::from_slice(&std::fs::read(&our_root).unwrap()).unwrap();
    mixed["certificateAuthorities"] = ours_json["certificateAuthorities"].clone();
    let mixed_path = dir.path().join("their-log-our-ca.json");
    std::fs::write(&mixed_path, serde_json::to_vec(&mixed).unwrap()).unwrap();
    let env = with(&repo.env, "GITSIGN_TRUSTED_ROOT", mixed_path.to_str().unwrap());
    assert_errsig(&verdict(&repo, &env, &id), "unknown CA", "untrusted certificate");

    // The object altered after signing: BADSIG, under its own root and under ours.
    let raw = text(&repo.cat_file("commit", &id));
    let altered = repo.hash_object("commit", raw.replacen("another Sigstore", "another sigstore", 1).as_bytes());
    for (what, env) in
        [("own root", repo.env.clone()), ("foreign root", with(&repo.env, "GITSIGN_TRUSTED_ROOT", &our_root))]
    {
        let v = verdict(&repo, &env, &altered);
        assert_eq!(v.g, "B", "altered object, {what}: must stay B\n{}", v.raw_status);
        assert!(v.raw_status.contains("[GNUPG:] BADSIG "), "{what}: {}", v.raw_status);
        assert!(text(&v.verify.stderr).to_lowercase().contains("digest"), "{what}: {}", text(&v.verify.stderr));
    }

    // No log evidence: an online-mode signature whose Rekor (ours) has no entry for it.
    let mut online = Repo::new(&theirs, ALICE);
    online.env = with(&online.env, "GITSIGN_REKOR_MODE", "online");
    let id = online.signed_commit("b.txt", "y\n", "online-mode signature");
    assert_eq!(online.git_ok(&["log", "-1", "--format=%G?", &id]).trim(), "G");
    let env = with(&online.env, "GITSIGN_REKOR_URL", &ours.var("GITSIGN_REKOR_URL"));
    assert_errsig(&verdict(&online, &env, &id), "no log evidence", "no entry in Rekor");
}

/// A Rekor on loopback that answers a search with `n` entry uuids and every entry request
/// after `delay` with an empty (unusable, so skipped) answer; returns its URL.
fn slow_rekor(n: usize, delay: std::time::Duration) -> String {
    use testsupport::http::Response;
    use testsupport::server::{FakeServer, Reply};
    FakeServer::start(move |req| {
        if req.method == "POST" {
            let uuids: Vec<String> = (0..n).map(|i| format!("{i:064x}")).collect();
            Reply::Http(Response::new(200, serde_json::to_string(&uuids).unwrap()))
        } else {
            std::thread::sleep(delay);
            Reply::Http(Response::new(200, "{}"))
        }
    })
    .url
}

#[test]
fn online_rekor_lookup_stops_at_its_time_budget_and_says_so() {
    let sb = Sandbox::start();
    let mut repo = Repo::new(&sb, ALICE);
    repo.env = with(&repo.env, "GITSIGN_REKOR_MODE", "online");
    let id = repo.signed_commit("a.txt", "x\n", "online-mode signature");
    // Twelve entries at 1.5 s each: 18 s without a total budget; the budget is 3 s.
    let env = with(&repo.env, "GITSIGN_REKOR_URL", &slow_rekor(12, std::time::Duration::from_millis(1500)));
    let env = with(&env, "GITSIGN_REKOR_LOOKUP_TIMEOUT", "3");
    let budget_named = |err: &str| {
        assert!(err.contains("time budget of 3 s"), "the limit that ended the lookup is not named: {err}");
        assert!(err.contains("GITSIGN_REKOR_LOOKUP_TIMEOUT"), "{err}");
        assert!(err.contains("of 12 entries"), "{err}");
    };

    let t = std::time::Instant::now();
    let v = verdict(&repo, &env, &id);
    let err = text(&v.verify.stderr);
    assert_eq!(v.g, "E", "no log evidence in time: cannot be checked\n{}{err}", v.raw_status);
    budget_named(&err);
    // Three git runs (log, verify-commit --raw, verify-commit), each capped at about 3 s.
    assert!(t.elapsed() < std::time::Duration::from_secs(20), "took {:?}", t.elapsed());

    let t = std::time::Instant::now();
    let out =
        repo.cmd(&common::bin("gitsign")).envs(env).args(["verify", "--insecure-no-identity", &id]).output().unwrap();
    let elapsed = t.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    budget_named(&shown);
    assert!(elapsed < std::time::Duration::from_secs(8), "gitsign verify took {elapsed:?} with a 3 s budget");
}
