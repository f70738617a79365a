//! `gitsign initialize` and the TUF client against a real TUF repository built with python-tuf
//! (tests/peers/tuf_repo.py, tuf==7.0.1 in target/peers/venv) and served on loopback: the
//! happy path, root rotation, target updates, and the attacks the client must refuse
//! (expired and rolled-back timestamps, tampered targets, too few root signatures, oversized
//! metadata); then `gitsign verify` of a sandbox-signed commit whose trusted root came through
//! TUF, including a refresh and the mirror being down.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, TempDir, bin};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/venv/bin/python");
    assert!(p.exists(), "{} missing: run ./test.sh, which installs the pinned peers (tuf==7.0.1)", p.display());
    p
}

fn trust_asset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/trust").join(name)
}

/// A static file server on loopback over a directory, logging request paths.
struct Mirror {
    url: String,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Mirror {
    fn serve(dir: PathBuf) -> Mirror {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(50)) else { continue };
                let path = req.url().trim_start_matches('/').to_string();
                log2.lock().unwrap().push(path.clone());
                let file = dir.join(&path);
                let resp = if path.split('/').any(|c| c == ".." || c.is_empty()) {
                    tiny_http::Response::from_data(Vec::new()).with_status_code(404)
                } else {
                    match std::fs::read(&file) {
                        Ok(b) => tiny_http::Response::from_data(b),
                        Err(_) => tiny_http::Response::from_data(Vec::new()).with_status_code(404),
                    }
                };
                let _ = req.respond(resp);
            }
        });
        Mirror { url: format!("http://127.0.0.1:{port}"), log, stop, thread: Some(thread) }
    }

    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A python-tuf repository in a temp dir, served by a [`Mirror`], and a TUF cache dir.
struct TufRepo {
    dir: TempDir,
    mirror: Option<Mirror>,
}

impl TufRepo {
    fn new(target: &Path, timestamp_expires: i64) -> TufRepo {
        let dir = TempDir::new("tuf");
        let r = TufRepo { dir, mirror: None };
        r.py(&["init", "--target", target.to_str().unwrap(), "--expires", &timestamp_expires.to_string()]);
        let mirror = Mirror::serve(r.work().join("repo"));
        TufRepo { mirror: Some(mirror), ..r }
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn url(&self) -> String {
        self.mirror.as_ref().unwrap().url.clone()
    }

    /// Where the client caches this mirror's state (sigstore-go's naming).
    fn state(&self) -> PathBuf {
        self.cache().join(self.url().replace('/', "-"))
    }

    fn py(&self, args: &[&str]) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/tuf_repo.py");
        let out = Command::new(python()).arg(script).arg(args[0]).arg(self.work()).args(&args[1..]).output().unwrap();
        assert!(out.status.success(), "tuf_repo.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// A gitsign command with a hermetic environment and this cache as `$TUF_ROOT`.
    fn gitsign(&self) -> Command {
        let mut c = Command::new(bin("gitsign"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.dir.path().join("gitconfig"))
            .env("TUF_ROOT", self.cache())
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }

    fn initialize(&self, with_root: bool) -> Output {
        let mut c = self.gitsign();
        c.args(["initialize", "--mirror", &self.url()]);
        if with_root {
            c.arg("--root").arg(self.work().join("root.json"));
        }
        c.output().unwrap()
    }

    fn cached_target(&self) -> Option<Vec<u8>> {
        std::fs::read(self.state().join("targets/trusted_root.json")).ok()
    }

    fn cached_version(&self, role: &str) -> u64 {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.state().join(format!("{role}.json"))).unwrap()).unwrap();
        v["signed"]["version"].as_u64().unwrap()
    }

    /// Unix time at which the served timestamp expires.
    fn timestamp_expiry(&self) -> i64 {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.work().join("repo/timestamp.json")).unwrap()).unwrap();
        let s = v["signed"]["expires"].as_str().unwrap();
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "expected success:\nstdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    assert!(out.stdout.is_empty(), "initialize printed on stdout: {}", text(&out.stdout));
    text(&out.stderr)
}

fn fails(out: &Output, needle: &str) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected exit 1:\nstdout: {}\nstderr: {err}", text(&out.stdout));
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn sleep_until(unix: i64) {
    let wait = unix - now();
    if wait > 0 {
        std::thread::sleep(Duration::from_secs(wait as u64));
    }
}

#[test]
fn initialize_fetches_verifies_and_caches_the_trusted_root() {
    let prod = trust_asset("production_trusted_root.json");
    let r = TufRepo::new(&prod, 86400);
    let err = ok(&r.initialize(true));
    assert!(err.contains("TUF root v1 from"), "{err}");
    assert!(err.contains("timestamp v1, snapshot v1, targets v1"), "{err}");
    assert!(err.contains("downloaded to"), "{err}");
    assert_eq!(r.cached_target().unwrap(), std::fs::read(&prod).unwrap());
    let remote: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.cache().join("remote.json")).unwrap()).unwrap();
    assert_eq!(remote["mirror"], r.url().as_str());
    // Consistent snapshot layout: versioned metadata and the hash-prefixed target.
    let log = r.mirror.as_ref().unwrap().take_log();
    let sha = "6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66";
    for want in [
        "2.root.json",
        "timestamp.json",
        "1.snapshot.json",
        "1.targets.json",
        &format!("targets/{sha}.trusted_root.json"),
    ] {
        assert!(log.iter().any(|l| l == want), "{want} not requested: {log:?}");
    }
    // A second run finds nothing new and downloads only what it must (the next root, timestamp).
    let err = ok(&r.initialize(false));
    assert!(err.contains("starting from the cached root.json"), "{err}");
    assert!(err.contains("already cached"), "{err}");
    let log = r.mirror.as_ref().unwrap().take_log();
    assert_eq!(log, ["2.root.json", "timestamp.json"], "{log:?}");
    // The default seed is the embedded production root: it cannot vouch for this repository.
    std::fs::remove_dir_all(r.cache()).unwrap();
    fails(&r.initialize(false), "TUF update from");
    assert!(r.cached_target().is_none());
}

#[test]
fn root_rotation_and_target_update_are_followed() {
    let r = TufRepo::new(&trust_asset("production_trusted_root.json"), 86400);
    ok(&r.initialize(true));
    // New root keys (old and new both sign v2), a new timestamp key, and a new target.
    r.py(&["rotate-root", "--rotate-timestamp"]);
    let staging = trust_asset("staging_trusted_root.json");
    r.py(&["publish", "--target", staging.to_str().unwrap()]);
    let err = ok(&r.initialize(false));
    assert!(err.contains("TUF root v1 -> v2"), "{err}");
    assert!(err.contains("targets v2"), "{err}");
    assert_eq!(r.cached_version("root"), 2);
    assert_eq!(r.cached_target().unwrap(), std::fs::read(&staging).unwrap());
    // Another rotation: the client walks v3 with v2's keys (root-c, root-d).
    r.py(&["rotate-root", "--signers", "root-c,root-d"]);
    ok(&r.initialize(false));
    assert_eq!(r.cached_version("root"), 3);
}

#[test]
fn too_few_root_signatures_are_refused() {
    let r = TufRepo::new(&trust_asset("production_trusted_root.json"), 86400);
    ok(&r.initialize(true));
    // Only one of the two old root keys signs v2 (threshold 2).
    r.py(&["rotate-root", "--signers", "root-a,root-c,root-d"]);
    let err = fails(&r.initialize(false), "2.root.json (checked with the keys of root v1)");
    assert!(err.contains("1 valid of threshold 2"), "{err}");
    assert_eq!(r.cached_version("root"), 1);
    // Both old keys but only one new key: the new root does not vouch for itself.
    let r = TufRepo::new(&trust_asset("production_trusted_root.json"), 86400);
    ok(&r.initialize(true));
    r.py(&["rotate-root", "--signers", "root-a,root-b,root-c"]);
    let err = fails(&r.initialize(false), "2.root.json (checked with its own keys)");
    assert!(err.contains("1 valid of threshold 2"), "{err}");
    assert_eq!(r.cached_version("root"), 1);
}

#[test]
fn expired_and_rolled_back_timestamps_are_refused() {
    let prod = trust_asset("production_trusted_root.json");
    let r = TufRepo::new(&prod, 86400);
    ok(&r.initialize(true));
    // A correctly signed but expired timestamp: a freeze attack.
    r.py(&["timestamp", "--expires", "-60"]);
    let err = fails(&r.initialize(false), "timestamp metadata version 2 expired at");
    assert!(err.contains("TUF update from"), "{err}");
    assert_eq!(r.cached_version("timestamp"), 1, "an expired timestamp must not be cached");
    // A fresh v3, accepted; then v1 served again: a rollback.
    r.py(&["timestamp"]);
    ok(&r.initialize(false));
    assert_eq!(r.cached_version("timestamp"), 3);
    r.py(&["serve-timestamp", "--version", "1"]);
    fails(&r.initialize(false), "rollback refused: timestamp version 1 is lower than the trusted version 3");
    assert_eq!(r.cached_version("timestamp"), 3);
    assert_eq!(r.cached_target().unwrap(), std::fs::read(&prod).unwrap());
}

#[test]
fn tampered_targets_and_oversized_metadata_are_refused() {
    let r = TufRepo::new(&trust_asset("production_trusted_root.json"), 86400);
    r.py(&["tamper"]);
    fails(&r.initialize(true), "trusted_root.json does not match the trusted metadata: sha256");
    assert!(r.cached_target().is_none(), "a tampered target must not be cached");
    r.py(&["tamper", "--grow"]);
    fails(&r.initialize(true), "is larger than 6787 bytes");
    assert!(r.cached_target().is_none());

    // A timestamp.json far above the 16 KiB limit.
    let r = TufRepo::new(&trust_asset("production_trusted_root.json"), 86400);
    let ts = r.work().join("repo/timestamp.json");
    let mut big = std::fs::read(&ts).unwrap();
    big.extend(std::iter::repeat_n(b' ', 1 << 20));
    std::fs::write(&ts, big).unwrap();
    fails(&r.initialize(true), "is larger than 16384 bytes");
    // An oversized next root.
    r.py(&["timestamp"]);
    std::fs::write(r.work().join("repo/2.root.json"), vec![b' '; 600_000]).unwrap();
    let err = fails(&r.initialize(true), "2.root.json (");
    assert!(err.contains("is larger than 512000 bytes"), "{err}");
}

/// A file in the TUF repository the test publishes: the sandbox's trusted root re-serialized
/// (same content, other bytes), so an update of the target is visible in the cache.
fn reformatted(src: &Path, dst: &Path) {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(src).unwrap()).unwrap();
    std::fs::write(dst, serde_json::to_vec(&v).unwrap()).unwrap();
}

#[test]
fn verify_uses_the_tuf_trusted_root_refreshes_it_and_survives_the_mirror_going_down() {
    // Sign with the sandbox (its trusted root given explicitly, as the sandbox env does).
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, "alice@example.test");
    repo.signed_commit("a", "1\n", "one");
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let sandbox_root = PathBuf::from(sb.var("GITSIGN_TRUSTED_ROOT"));

    // Publish the sandbox's trusted root through TUF, timestamp valid for 12 s.
    let tuf = TufRepo::new(&sandbox_root, 12);
    ok(&tuf.initialize(true));
    let mirror_log = || tuf.mirror.as_ref().unwrap().take_log();
    mirror_log();

    // Verify with no explicit trusted root: only the TUF cache can make this pass.
    let env: Vec<(String, String)> = repo.env.iter().filter(|(k, _)| k != "GITSIGN_TRUSTED_ROOT").cloned().collect();
    let verify = |tuf_root: Option<&Path>| {
        let mut c = Command::new(bin("gitsign"));
        c.current_dir(repo.path()).env_remove("GITSIGN_TRUSTED_ROOT").env_remove("TUF_MIRROR");
        for (k, v) in &env {
            c.env(k, v);
        }
        match tuf_root {
            Some(p) => c.env("TUF_ROOT", p),
            None => c.env("TUF_ROOT", repo.path().join("no-tuf-cache")),
        };
        c.args(["verify", "--certificate-identity", "alice@example.test", "--certificate-oidc-issuer", &issuer]);
        let out = c.stdin(Stdio::null()).output().unwrap();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, out, err) = verify(None);
    assert_eq!(code, Some(1), "the embedded production root must not trust the sandbox CA: {out}{err}");
    let (code, out, err) = verify(Some(&tuf.cache()));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("VERIFIED"), "{out}");
    assert!(!err.contains("warning"), "{err}");
    assert!(mirror_log().is_empty(), "a fresh cache must not touch the network");

    // Once the timestamp has expired, verify refreshes through TUF (one update) and picks up
    // a newly published target.
    sleep_until(tuf.timestamp_expiry() + 1);
    let newer = tuf.dir.path().join("sandbox_root_v2.json");
    reformatted(&sandbox_root, &newer);
    tuf.py(&["publish", "--target", newer.to_str().unwrap(), "--expires", "12"]);
    let (code, out, err) = verify(Some(&tuf.cache()));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(!err.contains("warning"), "{err}");
    let log = mirror_log();
    assert_eq!(log.iter().filter(|l| *l == "timestamp.json").count(), 1, "{log:?}");
    assert!(log.iter().any(|l| l == "2.targets.json"), "{log:?}");
    assert_eq!(tuf.cached_target().unwrap(), std::fs::read(&newer).unwrap());

    // Expired again and the mirror is gone: verification still succeeds, with a warning,
    // from the cached (verified) trusted root.
    sleep_until(tuf.timestamp_expiry() + 1);
    let url = tuf.url();
    let mut tuf = tuf;
    drop(tuf.mirror.take());
    let (code, out, err) = verify(Some(&tuf.cache()));
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains("gitsign: warning: the cached TUF metadata expired "), "{err}");
    assert!(err.contains(" ago (timestamp)"), "{err}");
    assert!(err.contains(&format!("refreshing it from {url} failed")), "{err}");
    assert!(err.contains("using the cached trusted root"), "{err}");
    assert_eq!(err.matches("warning").count(), 1, "one warning per run: {err}");

    // Signing through git with the TUF root (no explicit trusted root) also works while the
    // mirror is down.
    let mut c = repo.cmd(Path::new("git"));
    c.env_remove("GITSIGN_TRUSTED_ROOT").env("TUF_ROOT", tuf.cache());
    std::fs::write(repo.path().join("b"), "2\n").unwrap();
    repo.git_ok(&["add", "b"]);
    let out = c.args(["commit", "-q", "-S", "-m", "two"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (code, out, err) = verify(Some(&tuf.cache()));
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn offline_never_refreshes_failed_refreshes_back_off_and_long_expired_metadata_fails_closed() {
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, "alice@example.test");
    repo.signed_commit("a", "1\n", "one");
    let tuf = TufRepo::new(&PathBuf::from(sb.var("GITSIGN_TRUSTED_ROOT")), 86400);
    ok(&tuf.initialize(true));
    let mirror_log = || tuf.mirror.as_ref().unwrap().take_log();
    mirror_log();
    // A correctly signed timestamp that expired `secs` ago, in the cache and on the mirror (so
    // a refresh fails: the mirror has nothing fresher).
    let expired_since = |secs: i64| {
        tuf.py(&["timestamp", "--expires", &format!("-{secs}")]);
        std::fs::copy(tuf.work().join("repo/timestamp.json"), tuf.state().join("timestamp.json")).unwrap();
        let _ = std::fs::remove_file(tuf.state().join("refresh-failed.json"));
    };
    let verify = |extra: &[&str]| {
        let mut c = repo.cmd(&bin("gitsign"));
        c.env_remove("GITSIGN_TRUSTED_ROOT").env_remove("TUF_MIRROR").env("TUF_ROOT", tuf.cache());
        c.args(["verify", "--insecure-no-identity"]).args(extra);
        let out = c.output().unwrap();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };

    // --offline: the expired cache is used with a warning naming its age; no request at all.
    expired_since(2 * 86400 + 60);
    let (code, out, err) = verify(&["--offline"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains("the cached TUF metadata expired 2 days ago (timestamp)"), "{err}");
    assert!(err.contains("offline: not refreshing it"), "{err}");
    assert!(err.contains("accepted for 30 days after expiry"), "{err}");
    assert_eq!(mirror_log(), Vec::<String>::new(), "--offline must never touch the network");

    // Online: one refresh attempt, which fails; the failure is remembered on disk ...
    let (code, out, err) = verify(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains(&format!("refreshing it from {} failed", tuf.url())), "{err}");
    assert!(err.contains("the next attempt is in 5 minutes"), "{err}");
    assert!(mirror_log().iter().any(|l| l == "timestamp.json"));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tuf.state().join("refresh-failed.json")).unwrap()).unwrap();
    assert_eq!(record["failures"], 1, "{record}");
    // ... so the next runs (gitsign verify, git verify-commit) do not try again until it ends.
    let (code, out, err) = verify(&[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.contains("failed 0 seconds ago") || err.contains("seconds ago ("), "{err}");
    let mut c = repo.cmd(Path::new("git"));
    c.env_remove("GITSIGN_TRUSTED_ROOT").env("TUF_ROOT", tuf.cache()).args(["verify-commit", "HEAD"]);
    let v = c.output().unwrap();
    assert!(v.status.success(), "{}", text(&v.stderr));
    assert_eq!(mirror_log(), Vec::<String>::new(), "a refresh was tried during the backoff");

    // Expired longer than the documented limit: refused (fail closed), with or without network.
    expired_since(31 * 86400);
    for extra in [&["--offline"][..], &[]] {
        let (code, out, err) = verify(extra);
        assert_eq!(code, Some(2), "{extra:?}: {out}{err}");
        assert!(err.contains("expired 31 days ago (timestamp), longer than the 30 days"), "{extra:?}: {err}");
        assert!(err.contains("gitsign initialize"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
