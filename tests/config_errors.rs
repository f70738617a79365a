//! Configuration mistakes as the user meets them, end to end with the built `gitsign` and real
//! git: a log path that is a symbolic link, service URLs that cannot work (found before any
//! login), an `https://` URL pointed at a plain-HTTP server, an expired `SIGSTORE_ID_TOKEN`,
//! and `gitsign doctor` listing every problem. Messages are checked for plain words: times in
//! RFC 3339 UTC with a relative hint, the setting and where it was set, no Rust debug syntax.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Repo, Sandbox, bin};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ALICE: &str = "alice@example.test";
const MSG: &str = "work that must not be lost";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A repository with staged work and the given environment (no sandbox behind it).
fn repo_with(env: &[(&str, &str)]) -> Repo {
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let repo = Repo::with_env(env, ALICE);
    std::fs::write(repo.path().join("work.txt"), "precious\n").unwrap();
    repo.git_ok(&["add", "work.txt"]);
    repo
}

/// `git commit -S` must fail, move nothing and keep the message; returns stderr.
fn commit_fails(repo: &Repo, what: &str) -> String {
    let out = repo.git(&["commit", "-S", "-m", MSG]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{what}: git commit -S succeeded\n{stderr}");
    assert!(repo.git(&["rev-parse", "-q", "--verify", "HEAD"]).stdout.is_empty(), "{what}: a commit was made");
    let editmsg = std::fs::read_to_string(repo.path().join(".git/COMMIT_EDITMSG")).unwrap_or_default();
    assert!(editmsg.contains(MSG), "{what}: COMMIT_EDITMSG lost the message: {editmsg}");
    assert!(!stderr.contains("panicked"), "{what}: gitsign panicked\n{stderr}");
    no_debug_syntax(what, &stderr);
    stderr
}

fn no_debug_syntax(what: &str, s: &str) {
    for bad in ["Some(", "None)", "Ok(", "Err(", "\\\"", "[\""] {
        assert!(!s.contains(bad), "{what}: Rust debug formatting ({bad}) in:\n{s}");
    }
}

/// An unsigned JWT (gitsign reads claims only; nothing here reaches a Fulcio that checks it).
fn fake_token(exp: i64) -> String {
    let claims = format!(
        r#"{{"iss":"https://issuer.example.test","sub":"alice","email":"{ALICE}","email_verified":true,"aud":"sigstore","exp":{exp}}}"#
    );
    format!("eyJhbGciOiJub25lIn0.{}.c2ln", URL_SAFE_NO_PAD.encode(claims))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Whether `s` holds `YYYY-MM-DDTHH:MM:SSZ (N unit ago)` right after `prefix`.
fn has_time_after(s: &str, prefix: &str) -> bool {
    let Some(i) = s.find(prefix) else { return false };
    let rest = &s[i + prefix.len()..];
    let shape = "dddd-dd-ddTdd:dd:ddZ (";
    if rest.len() < shape.len() {
        return false;
    }
    let stamp_ok = rest.bytes().zip(shape.bytes()).all(|(c, want)| match want {
        b'd' => c.is_ascii_digit(),
        w => c == w,
    });
    let hint = rest[shape.len()..].split(')').next().unwrap_or("");
    let mut words = hint.split(' ');
    let n_ok = words.next().is_some_and(|n| n.parse::<u64>().is_ok());
    stamp_ok && n_ok && ["s", "min", "h", "days"].contains(&words.next().unwrap_or("")) && words.next() == Some("ago")
}

#[test]
fn log_file_is_private_and_never_followed_through_a_symlink() {
    let repo = repo_with(&[]);
    let victim = repo.path().join("victim.txt");
    std::fs::write(&victim, "keep me\n").unwrap();
    let link = repo.path().join("gitsign.log");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let run = |log: &std::path::Path| -> Output {
        repo.cmd(&bin("gitsign")).arg("version").env("GITSIGN_LOG", log).output().unwrap()
    };

    let o = run(&link);
    assert!(o.status.success(), "a log that cannot be opened must not stop the command: {}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n", "the log followed the symlink");
    let err = text(&o.stderr);
    assert!(err.contains("symbolic link") && err.contains(link.to_str().unwrap()), "{err}");

    // A new log is created 0600; an existing one (0644) is made 0600 on the next run.
    let log = repo.path().join("new.log");
    assert!(run(&log).status.success());
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(run(&log).status.success());
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&log).unwrap().contains("run: gitsign version"));
}

/// A loopback HTTP server that counts connections and answers each with `reply` (or, when
/// `reply` is `None`, reads and never answers).
fn server(reply: Option<&'static [u8]>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = conn.read(&mut buf);
            match reply {
                Some(r) => {
                    let _ = conn.write_all(r);
                }
                None => held.push(conn),
            }
        }
    });
    (format!("127.0.0.1:{}", addr.port()), hits)
}

#[test]
fn bad_service_urls_are_reported_before_any_login() {
    // The token comes from a GitHub Actions endpoint that counts its callers: a login would
    // reach it first, so it must see nobody.
    let (token_addr, token_hits) = server(Some(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"));
    let token_url = format!("http://{token_addr}/token?api-version=2.0");
    let repo = repo_with(&[
        ("GITSIGN_FULCIO_URL", "fulcio.example.test"),
        ("GITSIGN_TOKEN_PROVIDER", "github-actions"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", &token_url),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "req-tok"),
    ]);
    repo.git_ok(&["config", "gitsign.issuer", "oauth2.example.test/auth"]);
    let t = Instant::now();
    let stderr = commit_fails(&repo, "bad URLs");
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    assert_eq!(token_hits.load(Ordering::SeqCst), 0, "a login was attempted before the URLs were checked\n{stderr}");
    assert!(
        stderr.contains("the Fulcio URL \"fulcio.example.test\" (from GITSIGN_FULCIO_URL) cannot be used"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the OIDC issuer URL \"oauth2.example.test/auth\" (from git config gitsign.issuer)"),
        "both problems are reported: {stderr}"
    );
    assert!(!stderr.contains("builder error"), "{stderr}");

    // doctor lists both as separate FAIL lines.
    let o = repo.cmd(&bin("gitsign")).arg("doctor").output().unwrap();
    assert!(!o.status.success());
    let out = text(&o.stdout);
    assert_eq!(out.matches("FAIL  configuration: ").count(), 2, "{out}");
    assert!(out.contains("GITSIGN_FULCIO_URL") && out.contains("git config gitsign.issuer"), "{out}");
}

#[test]
fn https_to_a_plain_http_server_says_tls() {
    let token = fake_token(now() + 600);
    for (what, reply) in [
        ("plain HTTP server answering 400", Some(&b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"[..])),
        ("plain HTTP server waiting for a request line", None),
    ] {
        let (addr, hits) = server(reply);
        let url = format!("https://{addr}");
        let repo = repo_with(&[
            ("GITSIGN_FULCIO_URL", &url),
            ("SIGSTORE_ID_TOKEN", &token),
            ("GITSIGN_CONNECT_TIMEOUT", "2"),
            ("GITSIGN_HTTP_TIMEOUT", "60"),
        ]);
        let t = Instant::now();
        let stderr = commit_fails(&repo, what);
        assert!(hits.load(Ordering::SeqCst) > 0, "{what}: Fulcio was never contacted\n{stderr}");
        assert!(t.elapsed() < Duration::from_secs(30), "{what}: took {:?}", t.elapsed());
        assert!(stderr.contains(&url), "{what}: {stderr}");
        assert!(stderr.contains("TLS") && stderr.contains("plain HTTP"), "{what}: does not say TLS\n{stderr}");
        assert!(!stderr.contains("request timeout"), "{what}: blames the request timeout\n{stderr}");
    }
}

#[test]
fn expired_token_names_its_source_and_time() {
    let sb = Sandbox::start();
    let out = std::process::Command::new(bin("gitsign-sandbox"))
        .arg("token")
        .arg("--dir")
        .arg(sb.stack_dir())
        .args(["--email", ALICE, "--expired"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expired = text(&out.stdout).trim().to_string();
    let mut env = sb.env.clone();
    env.push(("SIGSTORE_ID_TOKEN".into(), expired));
    let repo = Repo::with_env(env, ALICE);
    std::fs::write(repo.path().join("work.txt"), "precious\n").unwrap();
    repo.git_ok(&["add", "work.txt"]);

    let stderr = commit_fails(&repo, "expired SIGSTORE_ID_TOKEN");
    let prefix = "the ID token from SIGSTORE_ID_TOKEN expired at ";
    assert!(has_time_after(&stderr, prefix), "not RFC 3339 with a relative hint:\n{stderr}");
    assert!(!stderr.contains("(now "), "{stderr}");

    let o = repo.cmd(&bin("gitsign")).arg("doctor").output().unwrap();
    let out = text(&o.stdout);
    assert!(!o.status.success(), "doctor passed with an expired token:\n{out}");
    assert!(out.contains(&format!("FAIL  ID token: {prefix}")), "{out}");
    assert!(has_time_after(&out, prefix), "{out}");
    no_debug_syntax("doctor", &out);
    // A live token is reported with its expiry.
    let repo = Repo::new(&sb, ALICE);
    let out = text(&repo.cmd(&bin("gitsign")).arg("doctor").output().unwrap().stdout);
    assert!(out.contains("OK    ID token: the ID token from SIGSTORE_ID_TOKEN is for alice@example.test"), "{out}");
}
