//! End to end: the credential cache (`gitsign-credential-cache` daemon and the keyring mode)
//! with real git, the built gitsign and the local Sigstore stack.
//!
//! Login counting: after the first commit the token is removed from the environment (and
//! the token provider pinned to `envvar`, which fails at once without one), so any further
//! commit that is signed at all was signed from the cache; and every commit's signature
//! names its leaf certificate's SHA-1 (`%GK`), so equal fingerprints mean one certificate.
mod common;
use common::{Repo, Sandbox, TempDir, bin};
use gitsign::cache::client::{Client, DIAL_TIMEOUT};
use gitsign::cache::protocol::{self, Request, Response};
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
    let mut child = repo
        .cmd(&bin("gitsign"))
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
    let left = entries[0].1 - gitsign::cache::server::unix_now();
    assert!((1..=10).contains(&left), "entry expires in {left} s");
    assert_eq!(commit(&repo, 1), first);
    // Wait until just past the entry's expiry (whole seconds, so one more).
    let wait = entries[0].1 + 2 - gitsign::cache::server::unix_now();
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

/// A real credential from the sandbox, fetched back out of a daemon.
fn real_credential(sb: &Sandbox, daemon: &Daemon) -> (protocol::KeyId, protocol::Credential) {
    let repo = cached_repo(sb, ALICE, &[("GITSIGN_CREDENTIAL_CACHE", daemon.socket.to_str().unwrap())]);
    commit(&repo, 0);
    let mut c = daemon.client();
    let (key, _) = c.list().unwrap()[0];
    let (_, cred) = c.get(&key).unwrap().expect("cached credential");
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
                for n in 0..100 {
                    match n % 4 {
                        0 => {
                            let (_, got) = c.get(&key).map_err(|e| e.to_string())?.ok_or("miss on the shared entry")?;
                            if got.leaf != cred.leaf {
                                return Err("wrong credential".into());
                            }
                        }
                        1 => {
                            c.store(&own, cred.clone()).map_err(|e| e.to_string())?;
                        }
                        2 => {
                            c.get(&own).map_err(|e| e.to_string())?.ok_or("miss on own entry")?;
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
    let not_after = gitsign::cache::not_after(&cred.leaf).unwrap();
    let store = gitsign::cache::server::Store::new(60, 8);
    let now = not_after - 600;
    assert_eq!(store.handle(Request::Store(key, Box::new(cred.clone())), now), Response::Stored(not_after - 60));
    assert!(matches!(store.handle(Request::Get(key), not_after - 61), Response::Credential(Some(_))));
    assert_eq!(store.handle(Request::Get(key), not_after - 60), Response::Credential(None));
    // Gone for good, and a credential too close to its end is not accepted.
    assert_eq!(store.handle(Request::Get(key), now), Response::Credential(None));
    assert!(matches!(
        store.handle(Request::Store(key, Box::new(cred.clone())), not_after - 30),
        Response::Error(protocol::ErrorCode::Rejected, _)
    ));
    store.handle(Request::Store(key, Box::new(cred.clone())), now);
    assert_eq!(store.sweep(not_after - 60), 1);
    // The client-side check refuses a certificate about to expire, and a key that is not
    // the certificate's.
    assert!(gitsign::cache::identity_from_credential(&cred, now).is_ok());
    assert!(gitsign::cache::identity_from_credential(&cred, not_after - 10).is_err());
    let mut wrong = cred.clone();
    use p256::pkcs8::EncodePrivateKey;
    let k = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    wrong.private_key_pkcs8 = zeroize::Zeroizing::new(k.to_pkcs8_der().unwrap().as_bytes().to_vec());
    assert!(matches!(
        gitsign::cache::identity_from_credential(&wrong, now),
        Err(gitsign::cache::CredentialError::KeyMismatch)
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
    let server = gitsign::cache::server::Server::new(listener, Default::default());
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
fn keyring_mode() {
    let sb = Sandbox::start();
    let email = format!("keyring-{}@example.test", std::process::id());
    let now = gitsign::cache::server::unix_now();
    let probe = gitsign::cache::keyring::get(&[0xAB; 32], now);
    let mut repo = cached_repo(&sb, &email, &[("GITSIGN_CREDENTIAL_CACHE_MODE", "system")]);
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
    let cfg = gitsign::config::Config {
        fulcio: sb.var("GITSIGN_FULCIO_URL"),
        issuer: sb.var("GITSIGN_OIDC_ISSUER"),
        client_id: sb.var("GITSIGN_OIDC_CLIENT_ID"),
        user_email: Some(email.clone()),
        ..Default::default()
    };
    let key = gitsign::cache::key_id(&cfg, &gitsign::cache::hostname());
    let (exp, cred) = gitsign::cache::keyring::get(&key, now).unwrap().expect("entry in the keyring");
    let not_after = gitsign::cache::not_after(&cred.leaf).unwrap();
    assert_eq!(exp, not_after - gitsign::cache::DEFAULT_MARGIN_SECS);
    // Expiry is enforced on read (and the entry deleted).
    assert!(gitsign::cache::keyring::get(&key, exp).unwrap().is_none());
    assert!(gitsign::cache::keyring::get(&key, now).unwrap().is_none());
    assert!(!commit_ok(&repo), "signed without a login after the keyring entry expired");
    // Store, clear.
    gitsign::cache::keyring::store(&key, &cred, exp, now).unwrap();
    assert!(gitsign::cache::keyring::clear(&key).unwrap());
    assert!(!gitsign::cache::keyring::clear(&key).unwrap());
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
