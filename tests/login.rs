//! Logging in like a user: the browser flow and the device flow of the built `gitsign`
//! against the sandbox's issuer (ending in signed commits that verify), their failure modes
//! (identity provider down, forged redirect, no callback and no terminal), and the browser
//! flow against a real, certified OpenID provider (npm `oidc-provider`, pinned in
//! tests/peers/package.json) completed by headless Debian chromium via `playwright-core`.
//!
//! The commands run under `setsid` so that they have no controlling terminal, whoever runs
//! the tests: prompts then go to stderr, where the tests read them, and the out-of-band
//! fallback has no terminal to wait on. Tools these tests need (curl, setsid, node,
//! chromium, the npm peers) must be present: a missing one fails the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, TempDir, bin};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// The identity the sandbox's authorization endpoint approves.
const SANDBOX_USER: &str = "sandbox-user@example.test";

fn need(tool: &str) {
    let ok = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "`{tool}` is required by this test and is not installed (.ci/run installs it)");
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A repository signing against `sb` with no ambient token: the login is interactive.
fn interactive_repo(sb: &Sandbox, opener: &str, extra: &[(&str, &str)]) -> Repo {
    let mut env = sb.env.clone();
    env.push(("GITSIGN_URL_OPENER".into(), opener.into()));
    for (k, v) in extra {
        env.push((k.to_string(), v.to_string()));
    }
    let repo = Repo::with_env(env, SANDBOX_USER);
    std::fs::write(repo.path().join("a.txt"), "hello\n").unwrap();
    repo.git_ok(&["add", "a.txt"]);
    repo
}

/// Run `program args` in the repo without a controlling terminal.
fn detached(repo: &Repo, program: &Path, args: &[&str], stdin: &[u8]) -> Output {
    need("setsid");
    let mut c = repo.cmd(Path::new("setsid"));
    c.arg("-w").arg(program).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("run setsid");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn no_commit(repo: &Repo) -> bool {
    !repo.git(&["rev-parse", "--verify", "-q", "HEAD"]).status.success()
}

#[test]
fn browser_login_through_git_signs_a_commit_that_verifies() {
    need("curl");
    let sb = Sandbox::start();
    // The opener follows the issuer's redirect to gitsign's loopback listener, as a browser would.
    let repo = interactive_repo(&sb, "curl -s -o /dev/null -L {{.URL}}", &[]);
    let out = detached(&repo, Path::new("git"), &["commit", "-q", "-S", "-m", "browser login"], b"");
    assert!(out.status.success(), "git commit failed:\n{}", text(&out.stderr));
    let v = repo.git(&["verify-commit", "HEAD"]);
    assert!(v.status.success(), "verify-commit: {}", text(&v.stderr));
    assert_eq!(repo.git_ok(&["log", "-1", "--format=%G?"]).trim(), "G");
    assert_eq!(repo.git_ok(&["log", "-1", "--format=%GS"]).trim(), SANDBOX_USER);
}

#[test]
fn browser_login_prints_url_and_identity_on_stderr_never_stdout() {
    need("curl");
    let sb = Sandbox::start();
    let repo = interactive_repo(&sb, "curl -s -o /dev/null -L {{.URL}}", &[]);
    let out = detached(&repo, &bin("gitsign"), &["--status-fd=2", "-bsau", SANDBOX_USER], b"payload\n");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("-----BEGIN SIGNED MESSAGE-----\n"), "{stdout}");
    assert!(stdout.trim_end().ends_with("-----END SIGNED MESSAGE-----"), "stdout holds only the signature: {stdout}");
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    assert!(stderr.contains("Your browser will now be opened to:\n"), "{stderr}");
    assert!(stderr.contains("redirect_uri=http%3A%2F%2Flocalhost%3A"), "{stderr}");
    assert!(stderr.contains("code_challenge_method=S256"), "{stderr}");
    assert!(
        stderr.contains(&format!("--certificate-identity={SANDBOX_USER} --certificate-oidc-issuer={issuer}")),
        "the identity and issuer to verify with are printed: {stderr}"
    );
}

/// Build a commit object from the index, sign it with `gitsign` given `sign`, store it and
/// point `main` at it; returns its id.
fn commit_signed_by(repo: &Repo, sign: impl FnOnce(&[u8]) -> String) -> String {
    let tree = repo.git_ok(&["write-tree"]).trim().to_string();
    let who = format!("Test User <{SANDBOX_USER}> 1790000000 +0000");
    let payload = format!("tree {tree}\nauthor {who}\ncommitter {who}\n\ndevice login\n");
    let sig = sign(payload.as_bytes());
    let header = format!("gpgsig {}", sig.trim_end().replace('\n', "\n "));
    let object = payload.replacen("\n\n", &format!("\n{header}\n\n"), 1);
    let id = repo.hash_object("commit", object.as_bytes());
    repo.git_ok(&["update-ref", "refs/heads/main", &id]);
    id
}

/// `script(1)` running `inner` (a shell command line) on a pseudo-terminal: the child, and a
/// channel carrying everything the terminal showed so far.
fn on_terminal(repo: &Repo, inner: &str) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    need("script");
    let mut child = repo
        .cmd(Path::new("script"))
        .args(["-q", "-e", "-c", inner, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut screen = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut all = String::new();
        while let Ok(n) = std::io::Read::read(&mut screen, &mut buf) {
            if n == 0 {
                break;
            }
            all.push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ = tx.send(all.clone());
        }
    });
    (child, rx)
}

/// Wait for `child` at most `limit`; kill it after that. `None` when it had to be killed.
fn wait_at_most(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn device_flow_prompts_on_the_terminal_and_signs_a_commit_that_verifies() {
    need("curl");
    let sb = Sandbox::start();
    let repo = interactive_repo(&sb, "false {{.URL}}", &[("GITSIGN_TOKEN_PROVIDER", "device")]);
    let id = commit_signed_by(&repo, |payload| {
        let (input, sig, err) = (repo.path().join("payload"), repo.path().join("sig"), repo.path().join("err"));
        std::fs::write(&input, payload).unwrap();
        let inner = format!(
            "'{}' --status-fd=2 -bsau {SANDBOX_USER} '{}' > '{}' 2> '{}'",
            bin("gitsign").display(),
            input.display(),
            sig.display(),
            err.display()
        );
        let (mut child, rx) = on_terminal(&repo, &inner);
        // The user: read the prompt on the terminal, visit the verification URL (the sandbox
        // approves there).
        let mut seen = String::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let url = loop {
            assert!(std::time::Instant::now() < deadline, "no device prompt; terminal showed: {seen}");
            if let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
                seen = s;
            }
            if let Some(at) = seen.find("(or open ")
                && let Some(end) = seen[at..].find(')')
            {
                break seen[at + 9..at + end].to_string();
            }
        };
        let ok = Command::new("curl").args(["-s", "-f", "-o", "/dev/null", &url]).status().unwrap();
        assert!(ok.success(), "approving at {url} failed");
        let status = wait_at_most(&mut child, Duration::from_secs(60)).expect("gitsign ended");
        while let Ok(s) = rx.recv_timeout(Duration::from_millis(300)) {
            seen = s;
        }
        let stdout = std::fs::read_to_string(&sig).unwrap();
        let stderr = std::fs::read_to_string(&err).unwrap();
        assert!(status.success(), "gitsign failed: {stderr}\nterminal: {seen}");
        assert!(seen.contains("Enter the verification code "), "{seen}");
        assert!(seen.contains("Code will be valid for 300 seconds"), "{seen}");
        assert!(!stdout.contains("verification"), "the prompt must not reach stdout: {stdout}");
        assert!(stdout.starts_with("-----BEGIN SIGNED MESSAGE-----\n"), "{stdout}");
        stdout
    });
    let v = repo.git(&["verify-commit", &id]);
    assert!(v.status.success(), "verify-commit: {}", text(&v.stderr));
    assert_eq!(repo.git_ok(&["log", "-1", "--format=%GS", &id]).trim(), SANDBOX_USER);
}

#[test]
fn device_flow_without_a_terminal_fails_at_once_with_the_remedy() {
    let sb = Sandbox::start();
    let repo = interactive_repo(&sb, "false {{.URL}}", &[("GITSIGN_TOKEN_PROVIDER", "device")]);
    // Under git, with no terminal: nobody can see the code, so no 300 s of silent polling.
    need("setsid");
    let mut child = repo
        .cmd(Path::new("setsid"))
        .args(["-w", "git", "commit", "-q", "-S", "-m", "never signed"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = std::time::Instant::now();
    let status = wait_at_most(&mut child, Duration::from_secs(30));
    assert!(status.is_some(), "the device flow waited 30 s without a terminal");
    assert!(t.elapsed() < Duration::from_secs(10), "took {:?}", t.elapsed());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!status.unwrap().success());
    assert!(stderr.contains("the device login needs a terminal to show its code"), "{stderr}");
    assert!(stderr.contains(gitsign::services::oidc::NO_TERMINAL_REMEDY), "the shared remedy: {stderr}");
    assert!(no_commit(&repo), "no commit was made");
    // The browser flow says the same remedy in the same situation.
    let repo = interactive_repo(&sb, "false {{.URL}}", &[]);
    let out = detached(&repo, &bin("gitsign"), &["--status-fd=2", "-bsau", SANDBOX_USER], b"payload\n");
    assert!(text(&out.stderr).contains(gitsign::services::oidc::NO_TERMINAL_REMEDY), "{}", text(&out.stderr));
}

#[test]
fn the_code_prompt_after_the_browser_timeout_is_bounded_too() {
    let sb = Sandbox::start();
    // No callback comes; after 1 s gitsign asks for a code on its terminal, and nobody types.
    let repo = interactive_repo(&sb, "true {{.URL}}", &[("GITSIGN_OIDC_TIMEOUT", "1")]);
    let payload = repo.path().join("payload.txt");
    std::fs::write(&payload, "payload\n").unwrap();
    let inner = format!("'{}' --status-fd=2 -bsau x '{}'", bin("gitsign").display(), payload.display());
    let (mut child, rx) = on_terminal(&repo, &inner);
    let status = wait_at_most(&mut child, Duration::from_secs(30));
    let mut seen = String::new();
    while let Ok(s) = rx.recv_timeout(Duration::from_millis(300)) {
        seen = s;
    }
    let status = status.unwrap_or_else(|| panic!("the code prompt waited 30 s; terminal showed: {seen}"));
    assert!(!status.success());
    assert!(seen.contains("Enter verification code: "), "{seen}");
    assert!(seen.contains("waiting 1 s for the code (GITSIGN_OIDC_TIMEOUT=<seconds> changes that)"), "{seen}");
    assert!(seen.contains("no verification code was entered within 1 s"), "{seen}");
    assert!(!seen.contains("BEGIN SIGNED MESSAGE"), "{seen}");
}

#[test]
fn no_callback_and_no_terminal_fails_closed_without_a_commit() {
    let sb = Sandbox::start();
    // An opener that "opens" nothing: the callback never comes.
    let repo = interactive_repo(&sb, "true {{.URL}}", &[("GITSIGN_OIDC_TIMEOUT", "2")]);
    let t = std::time::Instant::now();
    let out = detached(&repo, &bin("gitsign"), &["--status-fd=2", "-bsau", SANDBOX_USER], b"payload\n");
    assert!(t.elapsed() < Duration::from_secs(20), "the wait is bounded");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no login came back within 2 s and there is no terminal"), "{stderr}");
    assert!(stderr.contains("Your browser will now be opened to:"), "the URL is shown: {stderr}");

    let out = detached(&repo, Path::new("git"), &["commit", "-q", "-S", "-m", "never signed"], b"");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no login came back within 2 s"), "{}", text(&out.stderr));
    assert!(no_commit(&repo), "no commit was made");
}

#[test]
fn identity_provider_down_fails_closed() {
    let sb = Sandbox::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dead = format!("http://127.0.0.1:{port}/oauth2");
    let repo = interactive_repo(&sb, "true {{.URL}}", &[("GITSIGN_OIDC_ISSUER", &dead)]);
    let out = detached(&repo, &bin("gitsign"), &["--status-fd=2", "-bsau", SANDBOX_USER], b"payload\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("cannot use the OIDC issuer {dead}")), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
}

#[test]
fn forged_redirect_with_another_state_is_refused() {
    need("curl");
    let sb = Sandbox::start();
    // The "browser" sends the listener a code with a state of its own making.
    let forger = "sh -c 'r=$(printf %s \"$0\" | sed -n \"s/.*redirect_uri=\\([^&]*\\).*/\\1/p\" | sed \"s/%3A/:/g; s/%2F/\\//g\"); \
                  curl -s -o /dev/null \"$r?code=stolen&state=forged\"' {{.URL}}";
    let repo = interactive_repo(&sb, forger, &[("GITSIGN_OIDC_TIMEOUT", "20")]);
    let out = detached(&repo, Path::new("git"), &["commit", "-q", "-S", "-m", "forged"], b"");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("a state that does not belong to this login"), "{stderr}");
    assert!(no_commit(&repo));
}

#[test]
fn unknown_token_provider_is_an_error() {
    let sb = Sandbox::start();
    let repo = interactive_repo(&sb, "true {{.URL}}", &[("GITSIGN_TOKEN_PROVIDER", "carrier-pigeon")]);
    let out = detached(&repo, &bin("gitsign"), &["--status-fd=2", "-bsau", SANDBOX_USER], b"payload\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown token provider \"carrier-pigeon\""), "{}", text(&out.stderr));
}

// ---------------------------------------------------------------------------------------
// The real peer: npm oidc-provider + headless chromium through playwright-core.

fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// A running `oidc-provider` (tests/peers/oidc-provider.mjs).
struct OpenIdProvider {
    child: std::process::Child,
    issuer: String,
}

impl OpenIdProvider {
    fn start() -> OpenIdProvider {
        need("node");
        assert!(
            peers().join("node_modules/oidc-provider").is_dir()
                && peers().join("node_modules/playwright-core").is_dir(),
            "the npm peers are not installed: run ./test.sh (it runs `npm ci` in tests/peers)"
        );
        let mut child = Command::new("node")
            .arg(peers().join("oidc-provider.mjs"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("oidc-provider said {line:?}: {e}"));
        let issuer = v["issuer"].as_str().unwrap().to_string();
        OpenIdProvider { child, issuer }
    }
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Records what the login flow shows; has no keyboard.
#[derive(Default)]
struct Screen(String);

impl gitsign::services::oidc::flow::Terminal for Screen {
    fn say(&mut self, t: &str) {
        self.0.push_str(t);
        self.0.push('\n');
    }
    fn can_ask(&self) -> bool {
        false
    }
    fn ask(&mut self, _: &str, _: Duration) -> Option<std::io::Result<String>> {
        None
    }
}

fn chromium_login(
    op: &OpenIdProvider,
    action: &str,
    log: &Path,
) -> (Result<String, gitsign::services::oidc::OidcError>, String) {
    need("chromium");
    // The opener gets its settings through the environment it inherits.
    let opener = format!(
        "env PEER_LOG={} PEER_LOGIN=alice PEER_ACTION={action} node {} {{{{.URL}}}}",
        log.display(),
        peers().join("login.mjs").display()
    );
    let cfg =
        gitsign::app::config::Config { issuer: op.issuer.clone(), url_opener: Some(opener), ..Default::default() };
    let http = gitsign::services::http::client(&Default::default()).unwrap();
    let mut screen = Screen::default();
    let opts = gitsign::services::oidc::browser::Options { timeout: Duration::from_secs(40) };
    let r = gitsign::services::oidc::browser::login_with(&cfg, &http, &mut screen, &opts);
    (r, screen.0)
}

#[test]
fn real_provider_and_real_browser_give_a_verified_token() {
    let op = OpenIdProvider::start();
    let dir = TempDir::new("peer-login");
    let log = dir.path().join("browser.log");
    let (r, screen) = chromium_login(&op, "approve", &log);
    let browser_log = std::fs::read_to_string(&log).unwrap_or_default();
    let token = r.unwrap_or_else(|e| panic!("login failed: {e}\nscreen: {screen}\nbrowser: {browser_log}"));
    // The token was verified inside login_with (RS256 signature over oidc-provider's JWKS,
    // issuer, audience, expiry, nonce, at_hash); check what it says.
    let claims = gitsign::services::oidc::Claims::parse(&token).unwrap();
    assert_eq!(claims.iss, op.issuer);
    assert_eq!(claims.sub, "alice");
    assert_eq!(claims.challenge_subject().unwrap(), "alice@example.test");
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
    // The driver logs the landing page after gitsign has its answer: give it a moment.
    let mut browser_log = browser_log;
    for _ in 0..100 {
        if browser_log.contains("page: ") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        browser_log = std::fs::read_to_string(&log).unwrap_or_default();
    }
    assert!(browser_log.contains("landed http://localhost:"), "{browser_log}");
    assert!(browser_log.contains("Signed in"), "the success page was shown: {browser_log}");
    assert!(screen.contains("Your browser will now be opened to:"), "{screen}");
}

#[test]
fn real_provider_user_cancels_and_login_fails_closed() {
    let op = OpenIdProvider::start();
    let dir = TempDir::new("peer-deny");
    let log = dir.path().join("browser.log");
    let (r, _) = chromium_login(&op, "deny", &log);
    let browser_log = std::fs::read_to_string(&log).unwrap_or_default();
    match r {
        Err(gitsign::services::oidc::OidcError::Denied { error, .. }) => {
            assert_eq!(error, "access_denied", "{browser_log}")
        }
        other => panic!("expected access_denied, got {other:?}\nbrowser: {browser_log}"),
    }
}

// ---------------------------------------------------------------------------------------
// Ambient CI providers and their order.

/// A loopback endpoint answering every request with `body`, recording what it was sent.
struct FakeCi {
    url: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl FakeCi {
    fn start(body: String) -> FakeCi {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", server.server_addr().to_ip().unwrap().port());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(50)) else { continue };
                let auth = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let flavor = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Metadata-Flavor"))
                    .map(|h| format!(" Metadata-Flavor: {}", h.value))
                    .unwrap_or_default();
                let mut b = String::new();
                let _ = std::io::Read::read_to_string(req.as_reader(), &mut b);
                s.lock().unwrap().push(format!("{} {} [{auth}]{flavor} {b}", req.method(), req.url()));
                let _ = req.respond(tiny_http::Response::from_string(body.clone()));
            }
        });
        FakeCi { url, seen, stop }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeCi {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

fn signer(repo: &Repo, extra: &[(&str, &str)]) -> String {
    let mut c = repo.cmd(Path::new("setsid"));
    c.arg("-w").arg(bin("gitsign")).args(["--status-fd=2", "-bsau", "x"]);
    for (k, v) in extra {
        c.env(k, v);
    }
    let out = c.stdin(Stdio::null()).output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("gitsign: signed as ").and_then(|r| r.split(' ').next()).map(str::to_string))
        .unwrap_or_else(|| panic!("no `signed as` line: {stderr}"))
}

#[test]
fn ambient_providers_in_documented_order() {
    need("setsid");
    let sb = Sandbox::start();
    let repo = interactive_repo(&sb, "false {{.URL}}", &[("GITSIGN_OIDC_TIMEOUT", "1")]);
    let gh = FakeCi::start(serde_json::json!({ "value": sb.token("gh@example.test") }).to_string());
    let bk = FakeCi::start(serde_json::json!({ "token": sb.token("bk@example.test") }).to_string());
    let env_tok = sb.token("env@example.test");
    let gh_url = format!("{}/_apis/token?api-version=2.0", gh.url);
    let github = [("ACTIONS_ID_TOKEN_REQUEST_URL", gh_url.as_str()), ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "req-tok")];
    let buildkite = [
        ("BUILDKITE_AGENT_ACCESS_TOKEN", "agent-tok"),
        ("BUILDKITE_AGENT_ENDPOINT", bk.url.as_str()),
        ("BUILDKITE_JOB_ID", "job-1"),
    ];
    let all: Vec<(&str, &str)> =
        [("SIGSTORE_ID_TOKEN", env_tok.as_str())].into_iter().chain(github).chain(buildkite).collect();

    // 1. SIGSTORE_ID_TOKEN (GitLab's id_tokens too) first; the others are not asked.
    assert_eq!(signer(&repo, &all), "env@example.test");
    assert!(gh.seen().is_empty() && bk.seen().is_empty());
    // 2. GitHub Actions: GET URL&audience=sigstore with a lower-case bearer header.
    assert_eq!(signer(&repo, &all[1..]), "gh@example.test");
    assert_eq!(gh.seen(), vec!["GET /_apis/token?api-version=2.0&audience=sigstore [bearer req-tok] ".to_string()]);
    assert!(bk.seen().is_empty());
    // 3. Buildkite: the agent API.
    assert_eq!(signer(&repo, &all[3..]), "bk@example.test");
    assert_eq!(
        bk.seen(),
        vec![r#"POST /jobs/job-1/oidc/tokens [Token agent-tok] {"audience":"sigstore"}"#.to_string()]
    );
    // A named provider is used alone, even when an earlier one is enabled.
    assert_eq!(
        signer(&repo, &[all.as_slice(), &[("GITSIGN_TOKEN_PROVIDER", "buildkite-agent")]].concat()),
        "bk@example.test"
    );
    assert_eq!(
        signer(&repo, &[all.as_slice(), &[("GITSIGN_TOKEN_PROVIDER", "github-actions")]].concat()),
        "gh@example.test"
    );
    // 4. Google Compute Engine's metadata server (GCE_METADATA_HOST as Google's libraries read
    //    it): the default service account's identity token for the audience, format=full.
    let gce = FakeCi::start(sb.token("gce@example.test"));
    let gce_host = gce.url.trim_start_matches("http://").to_string();
    assert_eq!(signer(&repo, &[("GCE_METADATA_HOST", gce_host.as_str())]), "gce@example.test");
    assert_eq!(
        gce.seen(),
        vec![
            "GET /computeMetadata/v1/instance/service-accounts/default/identity?audience=sigstore&format=full [] \
             Metadata-Flavor: Google "
                .to_string()
        ]
    );
    // Earlier providers win over it.
    assert_eq!(
        signer(&repo, &[all.as_slice(), &[("GCE_METADATA_HOST", gce_host.as_str())]].concat()),
        "env@example.test"
    );
    assert_eq!(gce.seen().len(), 1);

    let failing = |extra: &[(&str, &str)]| {
        let mut c = repo.cmd(Path::new("setsid"));
        c.arg("-w").arg(bin("gitsign")).args(["--status-fd=2", "-bsau", "x"]).envs(extra.iter().copied());
        let out = c.stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
        text(&out.stderr)
    };
    // A named provider that is not enabled is an error, not a fallback to the browser.
    let err = failing(&[("GITSIGN_TOKEN_PROVIDER", "github-actions")]);
    assert!(err.contains("no OIDC identity token is available from the github-actions provider"), "{err}");
    // A named metadata server that does not answer is an error naming it.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let err = failing(&[("GITSIGN_TOKEN_PROVIDER", "google-workload-identity"), ("GCE_METADATA_HOST", &dead)]);
    assert!(err.contains("the google-workload-identity token provider failed") && err.contains(&dead), "{err}");
    // A metadata server that accepts and never answers: given up after 5 s, not the 30 s request
    // timeout; in the automatic selection that only means "not on GCE".
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_addr = hang.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in hang.incoming() {
            held.push(s);
        }
    });
    let t = std::time::Instant::now();
    let err = failing(&[("GITSIGN_TOKEN_PROVIDER", "google-workload-identity"), ("GCE_METADATA_HOST", &hang_addr)]);
    assert!(err.contains("the google-workload-identity token provider failed") && err.contains("timed out"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(20), "the metadata server wait is bounded: {:?}", t.elapsed());
    let err = failing(&[("GCE_METADATA_HOST", &hang_addr)]);
    assert!(err.contains("Your browser will now be opened to:"), "{err}");
    // cosign providers this gitsign lacks: naming one says so and what to do instead.
    for name in ["google-impersonate", "spiffe"] {
        let err = failing(&[("GITSIGN_TOKEN_PROVIDER", name)]);
        assert!(err.contains(&format!("the {name} token provider")), "{err}");
        assert!(err.contains("not supported") && err.contains("SIGSTORE_ID_TOKEN"), "{err}");
    }
    // Nothing enabled: the browser login (here: no callback, no terminal). A metadata server that
    // does not answer only means "not on GCE"; a variable of an unsupported provider is warned about.
    let err = failing(&[("GCE_METADATA_HOST", &dead), ("GOOGLE_SERVICE_ACCOUNT_NAME", "sa@p.iam.gserviceaccount.com")]);
    assert!(err.contains("GOOGLE_SERVICE_ACCOUNT_NAME is set, but the google-impersonate token provider"), "{err}");
    let mut c = repo.cmd(Path::new("setsid"));
    c.arg("-w").arg(bin("gitsign")).args(["--status-fd=2", "-bsau", "x"]);
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert!(text(&out.stderr).contains("Your browser will now be opened to:"), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot open a browser for the login and there is no terminal"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn real_provider_login_through_git_signs_a_commit_that_verifies() {
    need("chromium");
    let op = OpenIdProvider::start();
    // The sandbox's Fulcio trusts oidc-provider as a real Fulcio trusts configured issuers.
    let sb = Sandbox::start_with(&["--trust-issuer", &op.issuer]);
    let dir = TempDir::new("peer-commit");
    let log = dir.path().join("browser.log");
    let opener = format!("node {} {{{{.URL}}}}", peers().join("login.mjs").display());
    let log_s = log.display().to_string();
    let repo = interactive_repo(
        &sb,
        &opener,
        &[
            ("GITSIGN_OIDC_ISSUER", &op.issuer),
            ("PEER_LOG", &log_s),
            ("PEER_LOGIN", "alice"),
            ("GITSIGN_OIDC_TIMEOUT", "40"),
        ],
    );
    repo.git_ok(&["config", "user.email", "alice@example.test"]);
    let out = detached(&repo, Path::new("git"), &["commit", "-q", "-S", "-m", "signed after a real login"], b"");
    let browser_log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(out.status.success(), "git commit failed:\n{}\nbrowser: {browser_log}", text(&out.stderr));
    let v = repo.git(&["verify-commit", "HEAD"]);
    assert!(v.status.success(), "verify-commit: {}", text(&v.stderr));
    assert_eq!(repo.git_ok(&["log", "-1", "--format=%GS"]).trim(), "alice@example.test");
    let verify = repo
        .cmd(&bin("gitsign"))
        .args([
            "verify",
            "--certificate-identity=alice@example.test",
            &format!("--certificate-oidc-issuer={}", op.issuer),
            "HEAD",
        ])
        .output()
        .unwrap();
    assert!(verify.status.success(), "gitsign verify: {}{}", text(&verify.stdout), text(&verify.stderr));
}

#[test]
fn out_of_band_code_pasted_on_the_terminal_after_the_timeout() {
    need("script");
    need("curl");
    let sb = Sandbox::start();
    // No callback comes (the opener opens nothing); after 1 s gitsign asks for a code on its
    // terminal, here a pseudo-terminal made by script(1), and signs with it.
    let repo = interactive_repo(&sb, "true {{.URL}}", &[("GITSIGN_OIDC_TIMEOUT", "1")]);
    let payload = repo.path().join("payload.txt");
    std::fs::write(&payload, "payload\n").unwrap();
    let inner = format!("'{}' --status-fd=2 -bsau x '{}'", bin("gitsign").display(), payload.display());
    let mut child = repo
        .cmd(Path::new("script"))
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut keyboard = child.stdin.take().unwrap();
    let mut screen = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut all = String::new();
        while let Ok(n) = std::io::Read::read(&mut screen, &mut buf) {
            if n == 0 {
                break;
            }
            all.push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ = tx.send(all.clone());
        }
    });
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !seen.contains("Enter verification code: ") {
        assert!(std::time::Instant::now() < deadline, "no code prompt; terminal showed: {seen}");
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
            seen = s;
        }
    }
    assert!(seen.contains("no login came back to this machine within 1 s"), "{seen}");
    let url = seen
        .split("Go to the following link in a browser:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no OOB link: {seen}"))
        .to_string();
    assert!(url.contains("redirect_uri=urn%3Aietf%3Awg%3Aoauth%3A2.0%3Aoob"), "{url}");
    // The user opens the link; the issuer shows the code; the user types it in.
    let page = Command::new("curl").args(["-s", "-f", &url]).output().unwrap();
    let page = text(&page.stdout);
    let code = page
        .split("<pre id=\"code\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap_or_else(|| panic!("{page}"));
    writeln!(keyboard, "{code}").unwrap();
    let status = child.wait().unwrap();
    while let Ok(s) = rx.recv_timeout(Duration::from_millis(500)) {
        seen = s;
    }
    assert!(status.success(), "gitsign failed; terminal showed: {seen}");
    assert!(seen.contains("-----BEGIN SIGNED MESSAGE-----"), "{seen}");
    assert!(seen.contains(&format!("signed as {SANDBOX_USER}")), "{seen}");
}
