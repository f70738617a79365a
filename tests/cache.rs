//! End to end: the credential cache (`gitsign-credential-cache` daemon and the keyring mode)
//! with real git, the built gitsign and the local Sigstore stack.
//!
//! Login counting: after the first commit the token is removed from the environment (and
//! the token provider pinned to `envvar`, which fails at once without one), so any further
//! commit that is signed at all was signed from the cache; and every commit's signature
//! names its leaf certificate's SHA-1 (`%GK`), so equal fingerprints mean one certificate.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, TempDir, bin};
use gitsign::credentials::client::{Client, DIAL_TIMEOUT};
use gitsign::credentials::protocol::{self, Request, Response};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.test";

/// A running daemon, killed on drop.
struct Daemon {
    child: Child,
    socket: PathBuf,
}

impl Daemon {
    fn start(socket: &Path, extra: &[&str]) -> Daemon {
        let mut child = Command::new(bin("gitsign-credential-cache"))
            .arg("--socket")
            .arg(socket)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start gitsign-credential-cache");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert!(line.contains("listening on"), "daemon did not start: {line:?}");
        Daemon { child, socket: socket.to_path_buf() }
    }

    fn client(&self) -> Client {
        Client::connect(&self.socket, DIAL_TIMEOUT).expect("connect to the daemon")
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A repository signing through the sandbox with the cache at `socket` (or in `mode`).
fn cached_repo(sb: &Sandbox, email: &str, cache_env: &[(&str, &str)]) -> Repo {
    let mut repo = Repo::new(sb, email);
    for (k, v) in cache_env {
        repo.env.push((k.to_string(), v.to_string()));
    }
    // Never fall back to an interactive login in a test.
    repo.env.push(("GITSIGN_TOKEN_PROVIDER".into(), "envvar".into()));
    repo
}

fn drop_token(repo: &mut Repo) {
    repo.env.retain(|(k, _)| k != "SIGSTORE_ID_TOKEN");
}

fn fingerprint(repo: &Repo, rev: &str) -> String {
    let fpr = repo.git_ok(&["log", "-1", "--format=%GK", rev]).trim().to_string();
    assert_eq!(fpr.len(), 40, "no certificate fingerprint for {rev}: {fpr:?}");
    fpr
}

fn commit(repo: &Repo, n: usize) -> String {
    repo.signed_commit("f.txt", &format!("{n}\n"), &format!("commit {n}"));
    fingerprint(repo, "HEAD")
}

/// Run gitsign directly on a payload and return (success, stderr).
fn gitsign_direct(repo: &Repo) -> (bool, String) {
    sign_some_payload(repo.cmd(&bin("gitsign")))
}

/// Feed `cmd` (gitsign, or a wrapper followed by gitsign) git's signing arguments and a payload;
/// (success, stderr).
fn sign_some_payload(mut cmd: std::process::Command) -> (bool, String) {
    let mut child = cmd
        .args(["--status-fd=2", "-bsau", ALICE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"some payload\n").unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn twenty_commits_and_a_rebase_need_one_login() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-20");
    let socket = tmp.path().join("run/sigstore/gitsign/cache.sock");
    let daemon = Daemon::start(&socket, &[]);
    // The daemon created the missing directory 0700 and the socket 0600.
    assert_eq!(mode(socket.parent().unwrap()), 0o700);
    assert_eq!(mode(&socket), 0o600);

    let sock = socket.to_str().unwrap();
    let mut repo = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", sock)]);
    let started = Instant::now();
    let first = commit(&repo, 0);
    eprintln!("the first signature (login + Fulcio + Rekor) took {:?}", started.elapsed());
    drop_token(&mut repo);
    let started = Instant::now();
    for n in 1..20 {
        assert_eq!(commit(&repo, n), first, "commit {n} used another certificate");
    }
    eprintln!("19 cached signatures took {:?}", started.elapsed());
    let fprs = repo.git_ok(&["log", "--format=%GK %G?"]);
    assert_eq!(fprs.lines().count(), 20);
    assert!(fprs.lines().all(|l| l == format!("{first} G")), "{fprs}");

    // A rebase that re-signs ten commits: still no token, still the same certificate.
    repo.git_ok(&["-c", "commit.gpgsign=true", "rebase", "-q", "--force-rebase", "HEAD~10"]);
    let fprs = repo.git_ok(&["log", "-10", "--format=%GK %G?"]);
    assert!(fprs.lines().all(|l| l == format!("{first} G")), "{fprs}");

    // Not keyed by the working directory: another repository of the same identity hits too.
    let mut other = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", sock)]);
    drop_token(&mut other);
    assert_eq!(commit(&other, 0), first);
    // ... but another committer email is another entry (and, without a token, a failure).
    let mut bob = cached_repo(&sb, "bob@example.test", &[("GITSIGN_CREDENTIAL_CACHE", sock)]);
    drop_token(&mut bob);
    std::fs::write(bob.path().join("b"), "b").unwrap();
    bob.git_ok(&["add", "b"]);
    assert!(!bob.git(&["commit", "-q", "-S", "-m", "b"]).status.success());

    // One entry; it holds no secret in the listing.
    let entries = daemon.client().list().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    // Clearing forgets it: the next commit needs a login again.
    let out = Command::new(bin("gitsign-credential-cache")).arg("--socket").arg(&socket).arg("clear").output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "cleared 1 credential(s)");
    std::fs::write(repo.path().join("g"), "g").unwrap();
    repo.git_ok(&["add", "g"]);
    assert!(!repo.git(&["commit", "-q", "-S", "-m", "g"]).status.success(), "signed without a login after clear");
}

#[test]
fn an_expired_entry_means_a_new_login() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-exp");
    let socket = tmp.path().join("d/cache.sock");
    // The sandbox's certificates live 600 s; a 590 s margin keeps an entry for 10 s.
    let daemon = Daemon::start(&socket, &["--expiry-margin", "590"]);
    let repo = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", socket.to_str().unwrap())]);
    let t0 = Instant::now();
    let first = commit(&repo, 0);
    let entries = daemon.client().list().unwrap();
    assert_eq!(entries.len(), 1);
    let left = entries[0].expires_at - gitsign::credentials::server::unix_now();
    assert!((1..=10).contains(&left), "entry expires in {left} s");
    assert_eq!(commit(&repo, 1), first);
    // Wait until just past the entry's expiry (whole seconds, so one more).
    let wait = entries[0].expires_at + 2 - gitsign::credentials::server::unix_now();
    std::thread::sleep(Duration::from_secs(u64::try_from(wait).unwrap_or(0)));
    eprintln!("entry expired {:?} after the first commit started", t0.elapsed());
    // The sweeper dropped it...
    assert!(daemon.client().list().unwrap().is_empty());
    // ... and the next commit logs in again and caches the new credential.
    let second = commit(&repo, 2);
    assert_ne!(second, first);
    assert_eq!(commit(&repo, 3), second);
}

#[test]
fn a_dead_daemon_is_a_miss_with_a_warning() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-kill");
    let socket = tmp.path().join("d/cache.sock");
    let mut daemon = Daemon::start(&socket, &[]);
    let repo = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", socket.to_str().unwrap())]);
    let first = commit(&repo, 0);
    assert_eq!(commit(&repo, 1), first);
    daemon.kill(); // SIGKILL: the socket file stays behind, stale.
    assert!(socket.exists());
    let second = commit(&repo, 2);
    assert_ne!(second, first, "a new login after the daemon died");
    let (ok, err) = gitsign_direct(&repo);
    assert!(ok, "{err}");
    assert!(err.contains("gitsign: warning: credential cache: cannot connect to"), "{err}");
    // A new daemon replaces the stale socket; the cache works again.
    let _daemon = Daemon::start(&socket, &[]);
    let third = commit(&repo, 3);
    assert_eq!(commit(&repo, 4), third);
    // A missing socket is a miss too.
    let gone =
        cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", tmp.path().join("nowhere.sock").to_str().unwrap())]);
    let (ok, err) = gitsign_direct(&gone);
    assert!(ok && err.contains("warning: credential cache"), "{err}");
}

/// A real credential from the sandbox's Fulcio for a fresh key that the test knows, under
/// gitsign's cache key for `email`, and the key's 32-byte scalar.
fn known_credential(sb: &Sandbox, email: &str) -> (protocol::KeyId, protocol::Credential, Vec<u8>) {
    let cfg = gitsign::app::config::Config {
        fulcio: sb.var("GITSIGN_FULCIO_URL"),
        rekor: sb.var("GITSIGN_REKOR_URL"),
        issuer: sb.var("GITSIGN_OIDC_ISSUER"),
        client_id: sb.var("GITSIGN_OIDC_CLIENT_ID"),
        user_email: Some(email.to_string()),
        ..Default::default()
    };
    let services = gitsign::pipelines::sign::Services::from_config(&cfg).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let id = gitsign::pipelines::sign::identity_from_token(&sb.token(email), &services, now).unwrap();
    let cred = gitsign::credentials::cache::credential_from_identity(&id).unwrap();
    let scalar = {
        use p256::pkcs8::DecodePrivateKey;
        p256::SecretKey::from_pkcs8_der(&cred.private_key_pkcs8).unwrap().to_bytes().to_vec()
    };
    (cache_user(sb, email).0, cred, scalar)
}

/// A real credential from the sandbox, stored in a daemon under gitsign's key for ALICE.
fn real_credential(sb: &Sandbox, daemon: &Daemon) -> (protocol::KeyId, protocol::Credential) {
    let (key, cred, _) = known_credential(sb, ALICE);
    daemon.client().store(&key, cred.clone()).unwrap();
    (key, cred)
}

#[test]
fn fifty_clients_and_hostile_ones() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-load");
    let socket = tmp.path().join("d/cache.sock");
    let daemon = Daemon::start(&socket, &[]);
    let (key, cred) = real_credential(&sb, &daemon);

    // Hostile connections, held open while the others work.
    let mut stalled = UnixStream::connect(&socket).unwrap();
    stalled.write_all(&[0, 0]).unwrap(); // half a length prefix, then silence
    let silent = UnixStream::connect(&socket).unwrap();
    let hostile = |bytes: &[u8]| -> Vec<u8> {
        let mut s = UnixStream::connect(&socket).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(bytes).unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer); // the server answers (maybe) and closes
        answer
    };
    let started = Instant::now();
    let workers: Vec<_> = (0..50u8)
        .map(|i| {
            let socket = socket.clone();
            let cred = cred.clone();
            std::thread::spawn(move || -> Result<usize, String> {
                let mut c = Client::connect(&socket, DIAL_TIMEOUT).map_err(|e| e.to_string())?;
                let own = [i; 32];
                for n in 0..100u8 {
                    match n % 4 {
                        0 => {
                            let (_, got) =
                                c.describe(&key).map_err(|e| e.to_string())?.ok_or("miss on the shared entry")?;
                            if got.leaf != cred.leaf || !got.private_key_pkcs8.is_empty() {
                                return Err("wrong credential".into());
                            }
                        }
                        1 => {
                            c.store(&own, cred.clone()).map_err(|e| e.to_string())?;
                        }
                        2 => {
                            c.sign(&own, &[n; 32]).map_err(|e| e.to_string())?.ok_or("miss on own entry")?;
                        }
                        _ => {
                            c.list().map_err(|e| e.to_string())?;
                        }
                    }
                }
                Ok(100)
            })
        })
        .collect();
    // Garbage while they run: every one closes its own connection only.
    for _ in 0..20 {
        let a = hostile(b"\xff\xff\xff\xffgarbage");
        assert_eq!(
            Response::decode(&a[4..]).unwrap(),
            Response::Error(
                protocol::ErrorCode::Malformed,
                format!("frame length {} is outside 1..={}", u32::MAX, protocol::MAX_FRAME)
            )
        );
        let a = hostile(b"\x00\x00\x00\x03\x09\x01\x00");
        assert!(matches!(
            Response::decode(&a[4..]).unwrap(),
            Response::Error(protocol::ErrorCode::UnsupportedVersion, _)
        ));
        let a = hostile(b"\x00\x00\x00\x03\x01\x01\x00");
        assert!(matches!(Response::decode(&a[4..]).unwrap(), Response::Error(protocol::ErrorCode::Malformed, _)));
        let a = hostile(b"\x00\x00\x00\x02\x01\x42");
        assert!(matches!(Response::decode(&a[4..]).unwrap(), Response::Error(protocol::ErrorCode::Malformed, _)));
    }
    let mut total = 0;
    for w in workers {
        total += w.join().unwrap().unwrap_or_else(|e| panic!("a client failed: {e}"));
    }
    let took = started.elapsed();
    eprintln!("50 clients x 100 requests (+80 hostile connections, 2 stalled): {total} requests in {took:?}");
    assert_eq!(total, 5000);
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_eq!(daemon.client().list().unwrap().len(), 51);
    // The stalled connections are cut after the read timeout, the daemon lives on.
    stalled.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(stalled.read(&mut buf).unwrap_or(0), 0, "the stalled connection is closed");
    drop(silent);
    assert_eq!(daemon.client().clear(None).unwrap(), 51);
    assert!(daemon.client().list().unwrap().is_empty());
}

#[test]
fn expiry_is_the_certificate_not_after_minus_the_margin() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-na");
    let daemon = Daemon::start(&tmp.path().join("d/cache.sock"), &[]);
    let (key, cred) = real_credential(&sb, &daemon);
    let not_after = gitsign::credentials::cache::not_after(&cred.leaf).unwrap();
    let store = gitsign::credentials::server::Store::new(60, 8);
    let now = not_after - 600;
    assert_eq!(store.handle(Request::Store(key, Box::new(cred.clone())), now), Response::Stored(not_after - 60));
    assert!(matches!(store.handle(Request::Describe(key), not_after - 61), Response::Credential(Some(_))));
    assert!(matches!(store.handle(Request::Sign(key, [1; 32]), not_after - 61), Response::Signature(Some(_))));
    assert_eq!(store.handle(Request::Describe(key), not_after - 60), Response::Credential(None));
    assert_eq!(store.handle(Request::Sign(key, [1; 32]), not_after - 60), Response::Signature(None));
    // Gone for good (the sweep removes it), and a credential too close to its end is not accepted.
    assert_eq!(store.sweep(not_after - 60), 1);
    assert_eq!(store.handle(Request::Describe(key), now), Response::Credential(None));
    assert!(matches!(
        store.handle(Request::Store(key, Box::new(cred.clone())), not_after - 30),
        Response::Error(protocol::ErrorCode::Rejected, _)
    ));
    store.handle(Request::Store(key, Box::new(cred.clone())), now);
    assert_eq!(store.sweep(not_after - 60), 1);
    // The client-side check refuses a certificate about to expire, and a key that is not
    // the certificate's.
    assert!(gitsign::credentials::cache::identity_from_credential(&cred, now).is_ok());
    assert!(gitsign::credentials::cache::identity_from_credential(&cred, not_after - 10).is_err());
    let mut wrong = cred.clone();
    use p256::pkcs8::EncodePrivateKey;
    let k = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    wrong.private_key_pkcs8 = zeroize::Zeroizing::new(k.to_pkcs8_der().unwrap().as_bytes().to_vec());
    assert!(matches!(
        gitsign::credentials::cache::identity_from_credential(&wrong, now),
        Err(gitsign::credentials::cache::CredentialError::KeyMismatch)
    ));
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Run the cache's client as uid/gid 65534.
fn as_nobody(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin("gitsign-credential-cache"))
        .args(args)
        .output()
        .expect("run setpriv")
}

#[test]
fn other_users_are_refused() {
    if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv to act as another user");
        return;
    }
    // 1. The daemon's own socket: unreachable for others (0700 directory).
    let tmp = TempDir::new("cache-uid");
    let socket = tmp.path().join("d/cache.sock");
    let _daemon = Daemon::start(&socket, &[]);
    let out = as_nobody(&["--socket".as_ref(), socket.as_os_str(), "list".as_ref()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"), "{out:?}");

    // 2. The peer-uid check itself: a server whose socket anyone can reach.
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = open.join("open.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let server = gitsign::credentials::server::Server::new(listener, Default::default());
    std::thread::spawn(move || server.serve());
    let out = as_nobody(&["--socket".as_ref(), path.as_os_str(), "list".as_ref()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(err.contains("forbidden: uid 65534 may not use the credential cache of uid 0"), "{err}");
    // The owner is served on the same socket.
    assert!(Client::connect(&path, DIAL_TIMEOUT).unwrap().list().is_ok());

    // 3. The other direction: a daemon run by someone else never gets our key.
    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
    rustix::fs::chown(&theirs, Some(rustix::fs::Uid::from_raw(65534)), Some(rustix::fs::Gid::from_raw(65534))).unwrap();
    let their_sock = theirs.join("cache.sock");
    let mut child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin("gitsign-credential-cache"))
        .arg("--socket")
        .arg(&their_sock)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let refused = Client::connect(&their_sock, DIAL_TIMEOUT);
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("listening"), "{line}");
    let e = refused.expect_err("connected to another user's daemon");
    assert!(e.to_string().contains("runs as uid 65534, not as you"), "{e}");
}

#[test]
fn unsafe_socket_directories_and_second_daemons_are_refused() {
    let tmp = TempDir::new("cache-dirs");
    let open = tmp.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(bin("gitsign-credential-cache")).arg("--socket").arg(open.join("c.sock")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing socket directory"), "{out:?}");
    assert!(!open.join("c.sock").exists());

    let socket = tmp.path().join("ok/c.sock");
    let _d = Daemon::start(&socket, &[]);
    let out = Command::new(bin("gitsign-credential-cache")).arg("--socket").arg(&socket).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already listening"), "{out:?}");
    // Usage errors and --version.
    let out = Command::new(bin("gitsign-credential-cache")).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin("gitsign-credential-cache")).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("gitsign-credential-cache (gitsign-rs) version "));
    // SIGTERM: the daemon erases its store and removes its socket.
    let mut d = Daemon::start(&tmp.path().join("term/c.sock"), &[]);
    rustix::process::kill_process(rustix::process::Pid::from_child(&d.child), rustix::process::Signal::TERM).unwrap();
    let status = d.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!d.socket.exists());
}

#[test]
fn keyutils_keyring_mode() {
    use gitsign::credentials::keyring::Keyring::Keyutils;
    let sb = Sandbox::start();
    let email = format!("keyring-{}@example.test", std::process::id());
    let now = gitsign::credentials::server::unix_now();
    let probe = Keyutils.get(&[0xAB; 32], now);
    let mut repo = cached_repo(&sb, &email, &[("GITSIGN_CREDENTIAL_CACHE_MODE", "keyutils")]);
    if let Err(e) = probe {
        // The kernel denies keyutils here: the error must be a miss, never a failure.
        eprintln!("kernel keyring unavailable ({e}); checking that errors are misses");
        let (ok, err) = gitsign_direct(&repo);
        assert!(ok, "{err}");
        assert!(err.contains("warning: credential cache: system keyring"), "{err}");
        return;
    }
    let first = commit(&repo, 0);
    drop_token(&mut repo);
    for n in 1..5 {
        assert_eq!(commit(&repo, n), first, "commit {n}: the keyring entry was not used");
    }
    // The same entry is readable from this process (another process than gitsign's).
    let cfg = gitsign::app::config::Config {
        fulcio: sb.var("GITSIGN_FULCIO_URL"),
        issuer: sb.var("GITSIGN_OIDC_ISSUER"),
        client_id: sb.var("GITSIGN_OIDC_CLIENT_ID"),
        user_email: Some(email.clone()),
        ..Default::default()
    };
    let trust = gitsign::trust::root::TrustedRoot::from_file(sb.var("GITSIGN_TRUSTED_ROOT")).unwrap();
    let key = gitsign::credentials::cache::key_id(&cfg, &gitsign::credentials::cache::hostname(), &trust);
    let (exp, cred) = Keyutils.get(&key, now).unwrap().expect("entry in the keyring");
    let not_after = gitsign::credentials::cache::not_after(&cred.leaf).unwrap();
    assert_eq!(exp, not_after - gitsign::credentials::cache::DEFAULT_MARGIN_SECS);
    // Expiry is enforced on read (and the entry deleted).
    assert!(Keyutils.get(&key, exp).unwrap().is_none());
    assert!(Keyutils.get(&key, now).unwrap().is_none());
    assert!(!commit_ok(&repo), "signed without a login after the keyring entry expired");
    // Store, clear.
    Keyutils.store(&key, &cred, exp, now).unwrap();
    assert!(Keyutils.clear(&key).unwrap());
    assert!(!Keyutils.clear(&key).unwrap());
}

fn commit_ok(repo: &Repo) -> bool {
    std::fs::write(repo.path().join("x"), "x").unwrap();
    repo.git_ok(&["add", "x"]);
    repo.git(&["commit", "-q", "-S", "-m", "x"]).status.success()
}

#[test]
fn systemd_socket_activation() {
    // Stand in for systemd: bind and listen, put the socket on fd 3, set LISTEN_PID to the
    // process that execs the daemon, exactly as systemd's socket units do.
    const ACTIVATE: &str = "import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(16)
os.dup2(s.fileno(), 3); os.set_inheritable(3, True)
os.environ['LISTEN_PID'] = str(os.getpid()); os.environ['LISTEN_FDS'] = '1'
os.execv(sys.argv[2], [sys.argv[2], '--systemd-socket-activation'])";
    let tmp = TempDir::new("cache-systemd");
    let socket = tmp.path().join("act.sock");
    let Ok(mut child) = Command::new("python3")
        .args(["-c", ACTIVATE])
        .arg(&socket)
        .arg(bin("gitsign-credential-cache"))
        .stdout(Stdio::piped())
        .spawn()
    else {
        eprintln!("skipped: no python3 to stand in for systemd");
        return;
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let listed = Client::connect(&socket, DIAL_TIMEOUT).and_then(|mut c| c.list());
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(line.trim(), "gitsign-credential-cache: listening on the systemd-provided socket");
    assert!(listed.unwrap().is_empty());
    // Without systemd's variables the flag is an error, not a silent fallback.
    let out = Command::new(bin("gitsign-credential-cache"))
        .arg("--systemd-socket-activation")
        .env_remove("LISTEN_PID")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LISTEN_PID is not set"), "{out:?}");
}

#[test]
fn a_hung_daemon_is_a_miss_after_a_timeout() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-hung");
    let socket = tmp.path().join("hung.sock");
    // Listens (so connecting succeeds) but never accepts or answers.
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let repo = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", socket.to_str().unwrap())]);
    let started = Instant::now();
    let (ok, err) = gitsign_direct(&repo);
    let took = started.elapsed();
    assert!(ok, "{err}");
    assert!(err.contains("warning: credential cache: connection to the cache failed: timed out"), "{err}");
    // One bounded wait (the look-up; the store is not tried again), not a hang.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(err.matches("warning: credential cache").count(), 1, "{err}");
    eprintln!("signing past a hung daemon took {took:?}");
}

#[test]
fn a_certificate_the_signer_refuses_is_not_cached() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-refused");
    let daemon = Daemon::start(&tmp.path().join("d/cache.sock"), &[]);
    let sock = daemon.socket.to_str().unwrap().to_string();
    // A token for bob in alice's repository with gitsign.matchCommitter: refused, not cached.
    let mut repo = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", &sock)]);
    repo.env.retain(|(k, _)| k != "SIGSTORE_ID_TOKEN");
    repo.env.push(("SIGSTORE_ID_TOKEN".into(), sb.token("bob@example.test")));
    repo.git_ok(&["config", "gitsign.matchCommitter", "true"]);
    assert!(!commit_ok(&repo), "signed with a certificate for another committer");
    assert!(daemon.client().list().unwrap().is_empty(), "a refused certificate was cached");
    // With the right token the next commit logs in and caches as usual.
    repo.env.retain(|(k, _)| k != "SIGSTORE_ID_TOKEN");
    repo.env.push(("SIGSTORE_ID_TOKEN".into(), sb.token(ALICE)));
    assert!(commit_ok(&repo));
    assert_eq!(daemon.client().list().unwrap().len(), 1);
}

// ---- The Secret Service keyring (credentialCacheMode=system / secret-service) ----
//
// A private D-Bus session bus (dbus-daemon with a config of its own: no service activation,
// so nothing else is started behind the test's back) and a real GNOME Keyring daemon whose
// login collection is created and unlocked with a password on stdin, all under a temp HOME.

/// Whether `tool` is on PATH.
fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Whether the Secret Service tools are here. Missing tools fail the test in CI and skip it,
/// loudly, elsewhere.
fn secret_service_tools() -> bool {
    let missing: Vec<&str> = ["dbus-daemon", "dbus-send", "dbus-test-tool", "gnome-keyring-daemon", "secret-tool"]
        .into_iter()
        .filter(|t| !on_path(t))
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide {missing:?}: .ci/run installs dbus, dbus-tests, gnome-keyring and libsecret-tools"
    );
    eprintln!(
        "\n*** SKIPPED: the Secret Service tests need {missing:?} \
         (apt-get install dbus dbus-tests gnome-keyring libsecret-tools) ***\n"
    );
    false
}

/// A private session bus, optionally with an unlocked GNOME Keyring on it; killed on drop.
struct Bus {
    dir: TempDir,
    bus: Child,
    keyring: Option<Child>,
    address: String,
}

impl Bus {
    fn start(tag: &str, with_keyring: bool) -> Bus {
        let dir = TempDir::new(tag);
        for d in ["home", "run", "data", "config"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::set_permissions(dir.path().join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let socket = dir.path().join("bus");
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap()).read_line(&mut address).unwrap();
        let address = address.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon printed {address:?}");
        let mut b = Bus { dir, bus, keyring: None, address };
        if with_keyring {
            let mut k = b
                .cmd("gnome-keyring-daemon")
                .args(["--foreground", "--unlock", "--components=secrets"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start gnome-keyring-daemon");
            // The login keyring's password; closing stdin ends it.
            k.stdin.take().unwrap().write_all(b"test-password").unwrap();
            b.keyring = Some(k);
            let deadline = Instant::now() + Duration::from_secs(20);
            while !b.has_secret_service() {
                assert!(Instant::now() < deadline, "gnome-keyring-daemon did not appear on the bus");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        b
    }

    /// A command with this bus and the temp HOME.
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env("HOME", self.dir.path().join("home"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"));
        c
    }

    fn dbus_send(&self, args: &[&str]) -> String {
        let out = self.cmd("dbus-send").args(["--session", "--print-reply"]).args(args).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    fn has_secret_service(&self) -> bool {
        self.dbus_send(&[
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ])
        .contains("boolean true")
    }

    /// Lock the default collection (as a screen locker would).
    fn lock(&self) {
        let alias = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.ReadAlias",
            "string:default",
        ]);
        let path = alias.split('"').nth(1).unwrap_or_else(|| panic!("no default collection: {alias}")).to_string();
        let out = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            &format!("array:objpath:{path}"),
        ]);
        assert!(out.contains(&path), "lock: {out}");
    }

    /// The secret stored under our attributes for `user`, read with secret-tool.
    fn lookup(&self, user: &str) -> Option<Vec<u8>> {
        let out = self
            .cmd("secret-tool")
            .args(["lookup", "service", gitsign::credentials::keyring::SERVICE, "username", user])
            .output()
            .unwrap();
        (out.status.success() && !out.stdout.is_empty()).then_some(out.stdout)
    }

    /// Store raw bytes under our attributes for `user`, with secret-tool.
    fn store_raw(&self, user: &str, value: &[u8]) {
        let mut c = self
            .cmd("secret-tool")
            .args(["store", "--label=planted", "service", gitsign::credentials::keyring::SERVICE, "username", user])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(value).unwrap();
        assert!(c.wait().unwrap().success());
    }

    /// The labels of our items (secret-tool prints the secrets too; those are left out).
    fn labels(&self) -> Vec<String> {
        let out = self
            .cmd("secret-tool")
            .args(["search", "--all", "service", gitsign::credentials::keyring::SERVICE])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("label = "))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        if let Some(k) = self.keyring.as_mut() {
            let _ = k.kill();
            let _ = k.wait();
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

/// The cache key gitsign uses for `email` against `sb`, in hex (the keyring user name).
fn cache_user(sb: &Sandbox, email: &str) -> (protocol::KeyId, String) {
    let cfg = gitsign::app::config::Config {
        fulcio: sb.var("GITSIGN_FULCIO_URL"),
        issuer: sb.var("GITSIGN_OIDC_ISSUER"),
        client_id: sb.var("GITSIGN_OIDC_CLIENT_ID"),
        user_email: Some(email.to_string()),
        ..Default::default()
    };
    let trust = gitsign::trust::root::TrustedRoot::from_file(sb.var("GITSIGN_TRUSTED_ROOT")).unwrap();
    let key = gitsign::credentials::cache::key_id(&cfg, &gitsign::credentials::cache::hostname(), &trust);
    (key, hex::encode(key))
}

fn stored(bytes: &[u8]) -> (i64, protocol::Credential) {
    match Response::decode(bytes).expect("a credential in the keyring") {
        Response::Credential(Some((exp, c))) => (exp, *c),
        other => panic!("unexpected value {other:?}"),
    }
}

#[test]
fn secret_service_keeps_the_credential_for_many_commits() {
    if !secret_service_tools() {
        return;
    }
    let sb = Sandbox::start();
    let bus = Bus::start("ss-main", true);
    let email = format!("ss-{}@example.test", std::process::id());
    let mut repo = cached_repo(
        &sb,
        &email,
        &[("GITSIGN_CREDENTIAL_CACHE_MODE", "system"), ("DBUS_SESSION_BUS_ADDRESS", &bus.address)],
    );
    let (key, user) = cache_user(&sb, &email);
    // An expired entry of another identity, which the first store sweeps away.
    let (_, stale_user) = cache_user(&sb, "someone-else@example.test");
    let started = Instant::now();
    let first = commit(&repo, 0);
    eprintln!("first signature with the Secret Service cache: {:?}", started.elapsed());
    let (_, cred) = stored(&bus.lookup(&user).expect("the credential is in the Secret Service"));
    bus.store_raw(&stale_user, &Response::Credential(Some((1, Box::new(cred)))).encode());

    // One login: without a token every further commit is signed from the Secret Service.
    drop_token(&mut repo);
    let started = Instant::now();
    for n in 1..5 {
        assert_eq!(commit(&repo, n), first, "commit {n}: the Secret Service entry was not used");
    }
    eprintln!("4 signatures from the Secret Service cache: {:?}", started.elapsed());

    // What is stored, read back with secret-tool (libsecret), not with our code.
    let (exp, cred) = stored(&bus.lookup(&user).expect("the credential is in the Secret Service"));
    let not_after = gitsign::credentials::cache::not_after(&cred.leaf).unwrap();
    assert_eq!(exp, not_after - gitsign::credentials::cache::DEFAULT_MARGIN_SECS);
    assert_eq!(hex::encode(<sha1::Sha1 as sha1::Digest>::digest(&cred.leaf)), first.to_lowercase());
    assert_eq!(cred.email.as_deref(), Some(email.as_str()));
    let labels = bus.labels();
    let ours = format!("gitsign signing key and certificate for {email} (until ");
    assert!(labels.iter().any(|l| l.starts_with(&ours)), "{labels:?}");
    // It went to the Secret Service, not to the kernel keyring.
    let now = gitsign::credentials::server::unix_now();
    assert!(!matches!(gitsign::credentials::keyring::Keyring::Keyutils.get(&key, now), Ok(Some(_))));

    // Expiry: replace the entry by one that expired a second ago. The next commit must not use
    // it (and, without a token, fails), and the stale item is deleted on that read.
    let expired = Response::Credential(Some((now - 1, Box::new(cred.clone())))).encode();
    bus.store_raw(&user, &expired);
    assert!(!commit_ok(&repo), "signed from an expired Secret Service entry");
    assert_eq!(bus.lookup(&user), None, "the expired item was not deleted");

    // A new login stores a fresh entry and sweeps our expired items of other identities.
    repo.env.push(("SIGSTORE_ID_TOKEN".into(), sb.token(&email)));
    assert!(bus.lookup(&stale_user).is_some());
    let second = commit(&repo, 10);
    assert_ne!(second, first);
    assert!(bus.lookup(&user).is_some());
    assert_eq!(bus.lookup(&stale_user), None, "an expired item of ours survived a store");
}

#[test]
fn a_locked_or_absent_secret_service_is_a_miss_with_a_warning() {
    if !secret_service_tools() {
        return;
    }
    let sb = Sandbox::start();
    let email = format!("ss-locked-{}@example.test", std::process::id());

    // Locked: the unlock prompt cannot be shown here; signing goes on without the cache.
    let bus = Bus::start("ss-locked", true);
    bus.lock();
    let repo = cached_repo(
        &sb,
        &email,
        &[("GITSIGN_CREDENTIAL_CACHE_MODE", "system"), ("DBUS_SESSION_BUS_ADDRESS", &bus.address)],
    );
    let started = Instant::now();
    let (ok, err) = gitsign_direct(&repo);
    let took = started.elapsed();
    assert!(ok, "{err}");
    assert!(err.contains("gitsign: warning: credential cache: Secret Service:"), "{err}");
    assert!(err.contains("unlock it"), "{err}");
    assert_eq!(err.matches("warning: credential cache").count(), 1, "{err}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    eprintln!("signing past a locked keyring took {took:?}");
    assert!(commit_ok(&repo));

    // Forced secret-service with no bus at all: a miss with a warning that says so.
    let nowhere = format!("unix:path={}", bus.dir.path().join("no-such-bus").display());
    let repo = cached_repo(
        &sb,
        &email,
        &[("GITSIGN_CREDENTIAL_CACHE_MODE", "secret-service"), ("DBUS_SESSION_BUS_ADDRESS", &nowhere)],
    );
    let (ok, err) = gitsign_direct(&repo);
    assert!(ok, "{err}");
    assert!(err.contains("warning: credential cache: Secret Service: cannot reach org.freedesktop.secrets"), "{err}");

    // `system` on a bus without a Secret Service: quietly the kernel keyring instead.
    let bare = Bus::start("ss-bare", false);
    let email2 = format!("ss-bare-{}@example.test", std::process::id());
    let mut repo = cached_repo(
        &sb,
        &email2,
        &[("GITSIGN_CREDENTIAL_CACHE_MODE", "system"), ("DBUS_SESSION_BUS_ADDRESS", &bare.address)],
    );
    let (key2, _) = cache_user(&sb, &email2);
    let now = gitsign::credentials::server::unix_now();
    let keyutils = gitsign::credentials::keyring::Keyring::Keyutils;
    let (ok, err) = gitsign_direct(&repo);
    assert!(ok, "{err}");
    if keyutils.get(&[0xCD; 32], now).is_ok() {
        assert!(!err.contains("warning"), "{err}");
        let first = commit(&repo, 0);
        drop_token(&mut repo);
        assert_eq!(commit(&repo, 1), first, "the keyutils fallback was not used");
        assert!(keyutils.clear(&key2).unwrap());
    } else {
        assert!(err.contains("warning: credential cache: system keyring"), "{err}");
    }
}

/// Owner uid of /proc/PID/status (root when the process is not dumpable, see proc(5)).
fn proc_owner(pid: u32) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/status")).unwrap().uid()
}

/// Pages (kB) of process `pid` that are both locked and excluded from core dumps (adjacent
/// mappings with equal flags are merged by the kernel, so sizes are counted, not mappings).
fn locked_undumpable_kb(pid: u32) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let (mut size, mut total) = (0, 0);
    for l in smaps.lines() {
        if let Some(v) = l.strip_prefix("Size:") {
            size = v.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap();
        } else if let Some(f) = l.strip_prefix("VmFlags:") {
            let f: Vec<&str> = f.split_whitespace().collect();
            if f.contains(&"lo") && f.contains(&"dd") {
                total += size;
            }
        }
    }
    total
}

#[test]
fn the_daemon_is_not_dumpable_and_locks_its_keys() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-dump");
    let me = rustix::process::geteuid().as_raw();
    if !is_root() {
        // Our own daemon: a non-dumpable process's /proc entries belong to root, not to us.
        let d = Daemon::start(&tmp.path().join("d/cache.sock"), &[]);
        assert_eq!(proc_owner(d.child.id()), 0, "the daemon is dumpable");
        eprintln!("(not root: the locked-memory check needs to read the daemon's smaps; skipped)");
        return;
    }
    // As root, run it as uid 65534 so that the ownership tells: a dumpable process of that
    // user owns its /proc entries (checked on `sleep`), the daemon does not.
    assert_eq!(me, 0);
    if Command::new("setpriv").arg("--version").output().is_err() {
        panic!("setpriv (util-linux) is needed to run a process as another user");
    }
    let mut control = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let control_owner = proc_owner(control.id());
    let _ = control.kill();
    let _ = control.wait();
    assert_eq!(control_owner, 65534, "the control process");

    let theirs = tmp.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
    rustix::fs::chown(&theirs, Some(rustix::fs::Uid::from_raw(65534)), Some(rustix::fs::Gid::from_raw(65534))).unwrap();
    let mut child = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin("gitsign-credential-cache"))
        .arg("--socket")
        .arg(theirs.join("cache.sock"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let daemon_owner = proc_owner(child.id());
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("listening"), "{line}");
    assert_eq!(daemon_owner, 0, "the daemon is dumpable");

    // Its stored keys are in locked, non-dumpable pages: one page per key.
    let daemon = Daemon::start(&tmp.path().join("d/cache.sock"), &[]);
    let pid = daemon.child.id();
    let before = locked_undumpable_kb(pid);
    let (key, cred) = real_credential(&sb, &daemon);
    let page = locked_undumpable_kb(pid) - before;
    assert!((4..=64).contains(&page), "the stored key is not in locked memory ({page} kB more)");
    let mut other = key;
    other[0] ^= 1;
    daemon.client().store(&other, cred).unwrap();
    assert_eq!(locked_undumpable_kb(pid), before + 2 * page);
    // Clearing unmaps them.
    assert_eq!(daemon.client().clear(None).unwrap(), 2);
    assert_eq!(locked_undumpable_kb(pid), before);
}

#[test]
fn a_secret_service_that_never_answers_costs_one_bounded_wait() {
    if !secret_service_tools() {
        return;
    }
    let sb = Sandbox::start();
    let bus = Bus::start("ss-hung", false);
    // Owns org.freedesktop.secrets and never replies to anything.
    let mut hole = bus
        .cmd("dbus-test-tool")
        .args(["black-hole", "--session", "--name=org.freedesktop.secrets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start dbus-test-tool");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !bus.has_secret_service() {
        assert!(Instant::now() < deadline, "the black hole did not take the name");
        std::thread::sleep(Duration::from_millis(50));
    }
    let email = format!("ss-hung-{}@example.test", std::process::id());
    let timeout = gitsign::credentials::secret_service::TIMEOUT;
    for (mode, needle) in [
        ("secret-service", "warning: credential cache: Secret Service: no answer to "),
        ("system", "using the kernel keyutils keyring instead"),
    ] {
        let repo = cached_repo(
            &sb,
            &email,
            &[("GITSIGN_CREDENTIAL_CACHE_MODE", mode), ("DBUS_SESSION_BUS_ADDRESS", &bus.address)],
        );
        let started = Instant::now();
        let (ok, err) = gitsign_direct(&repo);
        let took = started.elapsed();
        assert!(ok, "{mode}: {err}");
        assert!(err.contains(needle), "{mode}: {err}");
        assert_eq!(err.matches("warning: credential cache").count(), 1, "{mode}: {err}");
        // One bounded wait, not one per operation and not a hang.
        assert!(took >= timeout && took < timeout * 3, "{mode}: took {took:?}");
        eprintln!("{mode}: signing past a Secret Service that never answers took {took:?}");
    }
    let _ = hole.kill();
    let _ = hole.wait();
    if let Ok(true) = gitsign::credentials::keyring::Keyring::Keyutils.clear(&cache_user(&sb, &email).0) {
        eprintln!("(the system-mode run cached in the kernel keyring; cleared)");
    }
}

/// Run `gitsign` on a payload with no controlling terminal (prompts and warnings on stderr).
fn gitsign_detached(repo: &Repo) -> (bool, String) {
    let mut cmd = repo.cmd(Path::new("setsid"));
    cmd.arg("-w").arg(bin("gitsign"));
    sign_some_payload(cmd)
}

#[test]
fn list_shows_identity_issuer_and_remaining_life_and_a_differing_token_is_warned() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-list");
    let socket = tmp.path().join("d/cache.sock");
    let _daemon = Daemon::start(&socket, &[]);
    let repo = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", socket.to_str().unwrap())]);
    commit(&repo, 0);

    let out = Command::new(bin("gitsign-credential-cache")).arg("--socket").arg(&socket).arg("list").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let line = listing.lines().next().unwrap_or_default();
    assert!(line.starts_with(&format!("{ALICE} (issuer {issuer}): expires in ")), "{listing}");
    // Fulcio's 10 minutes less the 60 s margin: "8 min" or "9 min", then the time in UTC.
    assert!(line.contains(" min, at 20") && line.contains("Z [entry "), "{listing}");
    let now = gitsign::credentials::server::unix_now().to_string();
    assert!(!listing.contains(&now[..6]), "no raw epoch seconds: {listing}");
    assert_eq!(listing.lines().count(), 1, "{listing}");

    // The same identity in SIGSTORE_ID_TOKEN: the cache signs, nothing to say.
    let (ok, err) = gitsign_detached(&repo);
    assert!(ok, "{err}");
    assert!(!err.contains("warning"), "{err}");
    // Another identity in SIGSTORE_ID_TOKEN: the cached one still signs, and says so.
    let mut bob = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", socket.to_str().unwrap())]);
    bob.env.retain(|(k, _)| k != "SIGSTORE_ID_TOKEN");
    bob.env.push(("SIGSTORE_ID_TOKEN".into(), sb.token("bob@example.test")));
    let (ok, err) = gitsign_detached(&bob);
    assert!(ok, "{err}");
    assert!(
        err.contains(&format!(
            "gitsign: warning: signing as {ALICE} (issuer {issuer}) with the cached credential, not as \
             bob@example.test (issuer {issuer}) from SIGSTORE_ID_TOKEN"
        )),
        "{err}"
    );
    assert!(err.contains("gitsign-credential-cache clear"), "{err}");
    assert!(err.contains(&format!("signed as {ALICE}")), "{err}");
}

#[test]
fn a_dead_cache_is_said_once_on_the_terminal_under_git() {
    need_tool("script");
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-tty");
    let socket = tmp.path().join("d/cache.sock");
    let mut daemon = Daemon::start(&socket, &[]);
    daemon.kill(); // the socket file stays behind; nobody answers on it
    let repo = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", socket.to_str().unwrap())]);
    std::fs::write(repo.path().join("f.txt"), "x\n").unwrap();
    repo.git_ok(&["add", "f.txt"]);
    // git on a pseudo-terminal (script(1)): git drops gitsign's stderr when signing succeeds,
    // so the warning must reach the terminal itself.
    let out = repo
        .cmd(Path::new("script"))
        .args(["-q", "-e", "-c", "git commit -q -S -m cached", "/dev/null"])
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{screen}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(repo.git_ok(&["log", "-1", "--format=%G?"]).trim(), "G");
    assert_eq!(screen.matches("gitsign: warning: credential cache: cannot connect to").count(), 1, "{screen}");
    assert!(screen.contains(&format!("signed as {ALICE}")), "{screen}");
}

#[test]
fn socket_mode_without_a_path_finds_the_daemon_at_its_default_path() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-default");
    let runtime = tmp.path().join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The daemon with no --socket and no GITSIGN_CREDENTIAL_CACHE: its default path.
    let mut child = Command::new(bin("gitsign-credential-cache"))
        .env_remove("GITSIGN_CREDENTIAL_CACHE")
        .env("XDG_RUNTIME_DIR", &runtime)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let default = runtime.join("sigstore/gitsign/cache.sock");
    assert!(line.contains(&default.display().to_string()), "{line}");
    let _daemon = Daemon { child, socket: default };
    // gitsign with only gitsign.credentialCacheMode=socket finds it there.
    let mut repo = cached_repo(&sb, ALICE, &[("XDG_RUNTIME_DIR", runtime.to_str().unwrap())]);
    repo.git_ok(&["config", "gitsign.credentialCacheMode", "socket"]);
    let first = commit(&repo, 0);
    drop_token(&mut repo);
    assert_eq!(commit(&repo, 1), first, "the second commit came from the cache");
}

fn need_tool(tool: &str) {
    let ok = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "`{tool}` is required by this test and is not installed (.ci/run installs it)");
}

/// Whether `hay` contains `needle`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    let mut i = 0;
    while let Some(p) = hay[i..].iter().position(|&b| b == first) {
        let at = i + p;
        if hay.len() - at < needle.len() {
            return false;
        }
        if &hay[at + 1..at + needle.len()] == rest {
            return true;
        }
        i = at + 1;
    }
    false
}

/// Which of `needles` occur anywhere in the readable memory of process `pid` (read through
/// /proc/PID/maps and /proc/PID/mem while it waits).
fn found_in_memory(pid: u32, needles: &[&[u8]]) -> Vec<bool> {
    use std::os::unix::fs::FileExt;
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut found = vec![false; needles.len()];
    let mut read_any = 0usize;
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else { continue };
        if !perms.starts_with('r') || line.ends_with("[vvar]") || line.ends_with("[vsyscall]") {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (u64::from_str_radix(a, 16).unwrap(), u64::from_str_radix(b, 16).unwrap());
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.read_exact_at(&mut buf, a).is_err() {
            continue;
        }
        read_any += buf.len();
        for (n, needle) in needles.iter().enumerate() {
            found[n] |= contains(&buf, needle);
        }
    }
    assert!(read_any > 1 << 20, "read only {read_any} bytes of process {pid}");
    found
}

#[test]
fn a_signing_gitsign_process_never_holds_the_cached_key() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-nokey");
    let daemon = Daemon::start(&tmp.path().join("d/cache.sock"), &[]);
    // The entry holds a key the test knows.
    let (key, cred, scalar) = known_credential(&sb, ALICE);
    daemon.client().store(&key, cred.clone()).unwrap();
    let mut repo = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", daemon.socket.to_str().unwrap())]);
    drop_token(&mut repo);
    // gitsign has its identity once it says BEGIN_SIGNING, and then waits for the payload.
    let mut child = repo
        .cmd(&bin("gitsign"))
        .args(["--status-fd=2", "-bsau", ALICE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("BEGIN_SIGNING") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "gitsign ended before signing: {seen}");
        seen.push_str(&line);
    }
    let found = found_in_memory(child.id(), &[&scalar, &cred.private_key_pkcs8, &cred.leaf]);
    // The certificate (control: the scan sees what the process holds) but not the key.
    assert!(found[2], "the scan did not find the certificate the process holds");
    assert!(!found[0], "the private key's scalar is in the memory of the gitsign process");
    assert!(!found[1], "the private key's PKCS#8 is in the memory of the gitsign process");
    child.stdin.take().unwrap().write_all(b"some payload\n").unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{seen}{rest}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("-----BEGIN SIGNED MESSAGE-----"));
    assert!(rest.contains("SIG_CREATED"), "{rest}");
}

#[test]
fn the_daemon_signs_and_never_hands_out_a_key_it_signs_with() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-agent");
    let daemon = Daemon::start(&tmp.path().join("d/cache.sock"), &[]);
    let sock = daemon.socket.to_str().unwrap().to_string();
    let mut repo = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", &sock)]);
    // The login stores the entry; every later signature is made by the daemon.
    let first = commit(&repo, 0);
    drop_token(&mut repo);
    for n in 1..4 {
        assert_eq!(commit(&repo, n), first);
    }
    // Online Rekor mode signs twice (the CMS, then the object id), both through the daemon.
    repo.env.push(("GITSIGN_REKOR_MODE".into(), "online".into()));
    assert_eq!(commit(&repo, 4), first);
    let fprs = repo.git_ok(&["log", "--format=%GK %G?"]);
    assert!(fprs.lines().all(|l| l == format!("{first} G")), "{fprs}");
    assert_eq!(fprs.lines().count(), 5);
    for rev in ["HEAD", "HEAD~1", "HEAD~4"] {
        let v = repo.git(&["verify-commit", rev]);
        assert!(v.status.success(), "verify-commit {rev}: {}", String::from_utf8_lossy(&v.stderr));
    }
    // An attestation (DSSE) is signed by the daemon too, and verifies.
    let pred = tmp.path().join("pred.json");
    std::fs::write(&pred, r#"{"n":1}"#).unwrap();
    let out = repo.cmd(&bin("gitsign")).args(["attest", "-f", pred.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "attest: {}", String::from_utf8_lossy(&out.stderr));
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let out = repo
        .cmd(&bin("gitsign"))
        .args(["verify-attestation", "--certificate-identity", ALICE, "--certificate-oidc-issuer", &issuer])
        .output()
        .unwrap();
    assert!(out.status.success(), "verify-attestation: {}", String::from_utf8_lossy(&out.stderr));

    // The entry gitsign stored: described without its key, its key refused in either version.
    let key = daemon.client().list().unwrap()[0].key;
    let (_, described) = daemon.client().describe(&key).unwrap().expect("the entry");
    assert!(described.private_key_pkcs8.is_empty());
    for version in [2, 1] {
        match daemon.client().get_as(&key, version) {
            Err(gitsign::credentials::client::ClientError::Protocol(protocol::ProtocolError::Remote {
                code: protocol::ErrorCode::Forbidden,
                message,
            })) => assert!(message.contains("never leaves the cache daemon"), "{message}"),
            other => panic!("v{version} get of a sealed entry: {other:?}"),
        }
    }
    // Its signatures verify with the certificate's key.
    let digest = [5u8; 32];
    let sig = daemon.client().sign(&key, &digest).unwrap().expect("a signature");
    let leaf = gitsign::crypto::x509::CertInfo::parse(&described.leaf).unwrap();
    let public = <p256::ecdsa::VerifyingKey as spki::DecodePublicKey>::from_public_key_der(&leaf.spki_der).unwrap();
    let sig = p256::ecdsa::DerSignature::from_bytes(&sig).unwrap();
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    public.verify_prehash(&digest, &sig).unwrap();
    assert_eq!(daemon.client().sign(&[0; 32], &digest).unwrap(), None, "a signature for a missing entry");

    // An entry stored by an older (protocol 1) client can be read back by it, as it expects;
    // a key that does not belong to its certificate is refused.
    let (_, cred, _) = known_credential(&sb, "carol@example.test");
    let old = [0x11; 32];
    daemon.client().store_as(&old, cred.clone(), 1).unwrap();
    let (_, back) = daemon.client().get_as(&old, 1).unwrap().expect("the v1 entry");
    assert_eq!(back.private_key_pkcs8, cred.private_key_pkcs8);
    let (_, other, _) = known_credential(&sb, "dave@example.test");
    let mut wrong = cred.clone();
    wrong.private_key_pkcs8 = other.private_key_pkcs8.clone();
    assert!(daemon.client().store(&[0x22; 32], wrong).is_err(), "a key stored with another key's certificate");
}

/// A daemon of protocol 1, as gitsign-credential-cache was before agent signing: it refuses
/// any other version's frame, and hands keys out. Serves until the test ends.
fn old_daemon(socket: &Path) {
    use gitsign::credentials::server::Store;
    let listener = gitsign::credentials::server::bind(socket).unwrap();
    let store = std::sync::Arc::new(Store::new(60, 16));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let store = store.clone();
            std::thread::spawn(move || {
                while let Ok(payload) = protocol::read_frame(&mut s) {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                    let answer = match payload[0] {
                        1 => match Request::decode(&payload) {
                            Ok(req) => store.handle_versioned(1, req, now as i64),
                            Err(e) => Response::Error(e.code(), e.to_string()),
                        },
                        v => Response::Error(protocol::ErrorCode::UnsupportedVersion, format!("version {v}")),
                    };
                    let close = matches!(answer, Response::Error(..));
                    if protocol::write_frame(&mut s, &answer.encode_as(1)).is_err() || close {
                        break;
                    }
                }
            });
        }
    });
}

#[test]
fn an_older_daemon_is_used_the_old_way_with_a_warning() {
    let sb = Sandbox::start();
    let tmp = TempDir::new("cache-old");
    let socket = tmp.path().join("d/cache.sock");
    old_daemon(&socket);
    let mut repo = cached_repo(&sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", socket.to_str().unwrap())]);
    let (ok, err) = gitsign_direct(&repo);
    assert!(ok, "{err}");
    assert!(err.contains("is older (protocol 1)"), "{err}");
    // Stored the old way: the next signature, without a token, comes from that entry.
    drop_token(&mut repo);
    let (ok, err) = gitsign_direct(&repo);
    assert!(ok, "signed from the old daemon's entry: {err}");
    assert!(err.contains("is older (protocol 1)"), "{err}");
    assert_eq!(err.matches("is older (protocol 1)").count(), 1, "{err}");
}
