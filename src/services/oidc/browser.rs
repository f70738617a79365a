//! The interactive browser login (authorization code flow with PKCE, as gitsign does it).
//!
//! 1. Discovery of the configured issuer (its `issuer` must match exactly; PKCE S256 must be
//!    offered).
//! 2. Random `state` and `nonce` (128 bits each) and a PKCE verifier (384 bits).
//! 3. A one-shot redirect listener on loopback: a random port with redirect URI
//!    `http://localhost:<port>/auth/callback` (the form the public Sigstore issuer accepts),
//!    or the host, port and path of `gitsign.redirectURL`. The first request on the callback
//!    path decides: its `state` must match (constant-time), an `error` ends the login, a
//!    `code` is taken; every later request gets an error page and changes nothing.
//! 4. The URL is printed on the terminal (or stderr) and opened with `gitsign.urlOpener` or
//!    the platform opener (see [`super::opener`]). The success page closes itself after
//!    `gitsign.autocloseTimeout` seconds when `gitsign.autoclose` is on (gitsign also wants a
//!    connector id, because Dex's chooser makes `window.close()` fail; a failed close is
//!    harmless, so we always try).
//! 5. Bounded wait: 120 s, or `GITSIGN_OIDC_TIMEOUT` seconds. Then (or at once when the
//!    browser cannot be opened) the out-of-band fallback: the user opens a URL with
//!    `redirect_uri=urn:ietf:wg:oauth:2.0:oob` and pastes the code on the terminal. Without
//!    a terminal the login fails with an error saying so.
//! 6. The code is exchanged with the PKCE verifier; the ID token is verified against the
//!    issuer's JWKS (signature, `iss`, `aud` = client id, expiry, `nonce`, `at_hash`).
use super::error::OidcError;
use super::flow::{self, Metadata, Pkce, Terminal};
use super::jwt::ct_eq;
use super::opener::Opener;
use crate::app::config::Config;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// Default time to wait for the browser to come back.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Environment variable overriding [`DEFAULT_TIMEOUT`] (whole seconds, 1..=3600); defined with
/// the errors that name it.
pub use super::error::TIMEOUT_ENV;
/// The out-of-band redirect URI.
pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";

/// The wait for the callback, from [`TIMEOUT_ENV`] or the default.
pub fn timeout_from_env() -> Result<Duration, OidcError> {
    parse_timeout(std::env::var(TIMEOUT_ENV).ok().as_deref())
}

/// Parse a [`TIMEOUT_ENV`] value (unset or empty: the default).
pub fn parse_timeout(value: Option<&str>) -> Result<Duration, OidcError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(DEFAULT_TIMEOUT),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=3600).contains(&n) => Ok(Duration::from_secs(n)),
            _ => Err(OidcError::BadSetting {
                key: TIMEOUT_ENV,
                value: v.to_string(),
                expected: "whole seconds between 1 and 3600",
            }),
        },
    }
}

/// What the first callback request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// A code, with a matching state.
    Code(String),
    /// The issuer reported an error (e.g. the user denied consent).
    Denied {
        /// OAuth error code.
        error: String,
        /// Its description.
        description: String,
    },
    /// The state did not match: a forged or stale redirect.
    StateMismatch,
    /// The RFC 9207 `iss` parameter names another issuer (mix-up attack).
    WrongIssuer(String),
    /// Neither a code nor an error.
    Malformed,
}

struct Handler {
    path: String,
    state: String,
    issuer: String,
    autoclose: Option<u32>,
    consumed: AtomicBool,
    tx: Mutex<mpsc::Sender<Callback>>,
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn page(title: &str, body: &str, autoclose: Option<u32>) -> String {
    let script = match autoclose {
        Some(secs) => format!(
            "<p id=\"closing\">This window closes in {secs} seconds.</p>\n<script>setTimeout(function () {{ window.close(); }}, {});</script>\n",
            u64::from(secs) * 1000
        ),
        None => String::new(),
    };
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>gitsign: {t}</title></head>\n<body><h1>{t}</h1>\n<p>{b}</p>\n{script}</body></html>\n",
        t = html_escape(title),
        b = html_escape(body)
    )
}

impl Handler {
    fn respond(req: tiny_http::Request, status: u16, html: String) {
        let mut resp = tiny_http::Response::from_string(html).with_status_code(status);
        for (k, v) in [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
        ] {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                resp.add_header(h);
            }
        }
        let _ = req.respond(resp);
    }

    fn handle(&self, req: tiny_http::Request) {
        let Ok(url) = reqwest::Url::parse(&format!("http://localhost{}", req.url())) else {
            return Self::respond(req, 400, page("Bad request", "The request could not be read.", None));
        };
        if url.path() != self.path || *req.method() != tiny_http::Method::Get {
            return Self::respond(req, 404, page("Not found", "This is gitsign's login listener.", None));
        }
        if self.consumed.swap(true, Ordering::SeqCst) {
            return Self::respond(
                req,
                409,
                page(
                    "Login already handled",
                    "gitsign already received a login on this address; this request was ignored.",
                    None,
                ),
            );
        }
        let get = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
        let state_ok = get("state").is_some_and(|s| ct_eq(&s, &self.state));
        let outcome = if !state_ok {
            Callback::StateMismatch
        } else if let Some(iss) = get("iss").filter(|i| *i != self.issuer) {
            Callback::WrongIssuer(iss)
        } else if let Some(error) = get("error") {
            Callback::Denied { error, description: get("error_description").unwrap_or_default() }
        } else {
            match get("code").filter(|c| !c.is_empty()) {
                Some(code) => Callback::Code(code),
                None => Callback::Malformed,
            }
        };
        let (status, html) = match &outcome {
            Callback::Code(_) => (
                200,
                page(
                    "Signed in",
                    "gitsign received your login. You can close this window and return to the terminal.",
                    self.autoclose,
                ),
            ),
            Callback::Denied { error, description } => {
                (400, page("Login failed", &format!("The identity provider reported {error}: {description}"), None))
            }
            Callback::StateMismatch => (
                400,
                page(
                    "Login refused",
                    "The state parameter does not match this login (a stale or forged link); gitsign stopped.",
                    None,
                ),
            ),
            Callback::WrongIssuer(_) => (
                400,
                page("Login refused", "The response comes from another identity provider; gitsign stopped.", None),
            ),
            Callback::Malformed => {
                (400, page("Login failed", "The redirect carried neither a code nor an error.", None))
            }
        };
        Self::respond(req, status, html);
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send(outcome);
        }
    }
}

/// The loopback redirect listener. Serves until dropped.
pub struct Listener {
    /// The redirect URI to send to the issuer.
    pub redirect_uri: String,
    rx: mpsc::Receiver<Callback>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Settings for [`Listener::bind`].
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    /// `gitsign.redirectURL`, if set.
    pub redirect_url: Option<String>,
    /// The expected `state`.
    pub state: String,
    /// The issuer (for RFC 9207 `iss`).
    pub issuer: String,
    /// Close the success page after this many seconds.
    pub autoclose: Option<u32>,
}

fn bind(addr: &str) -> Result<tiny_http::Server, String> {
    tiny_http::Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))
}

impl Listener {
    /// Bind the listener (loopback, random port unless a redirect URL says otherwise).
    pub fn bind(opts: ListenerOptions) -> Result<Listener, OidcError> {
        let fail = |reason: String| OidcError::Listener { reason };
        let mut servers = Vec::new();
        let (redirect_uri, path) = match &opts.redirect_url {
            None => {
                let s = bind("127.0.0.1:0").map_err(fail)?;
                let port = s.server_addr().to_ip().map(|a| a.port()).ok_or_else(|| fail("no port".into()))?;
                servers.push(s);
                // Browsers may try ::1 first for "localhost"; serve there too when possible.
                if let Ok(s6) = bind(&format!("[::1]:{port}")) {
                    servers.push(s6);
                }
                (format!("http://localhost:{port}/auth/callback"), "/auth/callback".to_string())
            }
            Some(u) => {
                let url =
                    reqwest::Url::parse(u).map_err(|e| fail(format!("gitsign.redirectURL {u:?} is not a URL: {e}")))?;
                if url.scheme() != "http" {
                    return Err(fail(format!("gitsign.redirectURL {u:?} must be an http:// URL served by gitsign")));
                }
                let port = url.port_or_known_default().unwrap_or(80);
                match url.host_str() {
                    Some(h) if h.eq_ignore_ascii_case("localhost") => {
                        servers.push(bind(&format!("127.0.0.1:{port}")).map_err(fail)?);
                        if let Ok(s6) = bind(&format!("[::1]:{port}")) {
                            servers.push(s6);
                        }
                    }
                    // IPv6 literals come bracketed.
                    Some(h) if !h.is_empty() => servers.push(bind(&format!("{h}:{port}")).map_err(fail)?),
                    _ => return Err(fail(format!("gitsign.redirectURL {u:?} has no host"))),
                }
                let path = if url.path().is_empty() { "/".to_string() } else { url.path().to_string() };
                (u.clone(), path)
            }
        };
        let (tx, rx) = mpsc::channel();
        let handler = Arc::new(Handler {
            path,
            state: opts.state,
            issuer: opts.issuer,
            autoclose: opts.autoclose,
            consumed: AtomicBool::new(false),
            tx: Mutex::new(tx),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let threads = servers
            .into_iter()
            .map(|server| {
                let (handler, stop) = (handler.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        match server.recv_timeout(Duration::from_millis(100)) {
                            Ok(Some(req)) => handler.handle(req),
                            Ok(None) => {}
                            Err(_) => std::thread::sleep(Duration::from_millis(50)),
                        }
                    }
                })
            })
            .collect();
        Ok(Listener { redirect_uri, rx, stop, threads })
    }

    /// Wait up to `timeout` for the first callback.
    pub fn wait(&self, timeout: Duration) -> Option<Callback> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Per-login values.
struct Secrets {
    state: String,
    nonce: String,
    pkce: Pkce,
}

fn auth_url(md: &Metadata, cfg: &Config, s: &Secrets, redirect_uri: &str) -> Result<String, OidcError> {
    let endpoint = md.authorization_endpoint.as_deref().ok_or_else(|| OidcError::Discovery {
        issuer: md.issuer.clone(),
        reason: "the discovery document has no authorization_endpoint".into(),
    })?;
    let mut url = reqwest::Url::parse(endpoint).map_err(|e| OidcError::Discovery {
        issuer: md.issuer.clone(),
        reason: format!("authorization_endpoint {endpoint:?} is not a URL: {e}"),
    })?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", &cfg.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", flow::SCOPES)
            .append_pair("state", &s.state)
            .append_pair("code_challenge", &s.pkce.challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("access_type", "online")
            .append_pair("nonce", &s.nonce);
        if let Some(c) = &cfg.connector_id {
            q.append_pair("connector_id", c);
        }
    }
    Ok(url.into())
}

/// Options of a browser login (injected by tests).
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to wait for the callback before falling back to the out-of-band flow.
    pub timeout: Duration,
}

/// Log in with the browser; returns a verified raw ID token. Uses the process's terminal.
pub fn login(cfg: &Config, http: &reqwest::blocking::Client) -> Result<String, OidcError> {
    let opts = Options { timeout: timeout_from_env()? };
    login_with(cfg, http, &mut flow::Tty::open(), &opts)
}

/// [`login`] with an explicit terminal and options.
pub fn login_with(
    cfg: &Config,
    http: &reqwest::blocking::Client,
    term: &mut dyn Terminal,
    opts: &Options,
) -> Result<String, OidcError> {
    let opener = match &cfg.url_opener {
        Some(s) => Opener::parse(s)?,
        None => Opener::platform(),
    };
    let secret = flow::client_secret(cfg)?;
    let md = flow::discover(&cfg.issuer, http)?;
    md.require_s256()?;
    let s = Secrets { state: flow::random_b64(16)?, nonce: flow::random_b64(16)?, pkce: Pkce::new()? };

    let listener = Listener::bind(ListenerOptions {
        redirect_url: cfg.redirect_url.clone(),
        state: s.state.clone(),
        issuer: md.issuer.clone(),
        autoclose: cfg.autoclose.then_some(cfg.autoclose_timeout),
    })?;
    let url = auth_url(&md, cfg, &s, &listener.redirect_uri)?;
    term.say(&format!("Your browser will now be opened to:\n{url}"));
    let opened = opener.open(&url, Duration::from_secs(1));
    if let Err(e) = &opened {
        term.say(&format!("gitsign: could not open a browser ({e})."));
    }

    // Without a browser the callback cannot come: go to the code prompt (or fail) at once.
    // (Without a terminal nobody sees the URL either: git shows our stderr only afterwards.)
    let got = if opened.is_err() { None } else { listener.wait(opts.timeout) };
    let (code, redirect_uri) = match got {
        Some(Callback::Code(code)) => (code, listener.redirect_uri.clone()),
        Some(Callback::StateMismatch) => return Err(OidcError::StateMismatch),
        Some(Callback::WrongIssuer(iss)) => {
            return Err(OidcError::IssuerMismatch { configured: md.issuer.clone(), discovered: iss });
        }
        Some(Callback::Denied { error, description }) => return Err(OidcError::Denied { error, description }),
        Some(Callback::Malformed) => {
            return Err(OidcError::Callback("the redirect carried neither a code nor an error".into()));
        }
        None => {
            let waited = if opened.is_ok() { Some(opts.timeout.as_secs()) } else { None };
            drop(listener);
            (out_of_band(&md, cfg, &s, term, waited, opts.timeout)?, OOB.to_string())
        }
    };

    let resp = flow::post_token(
        http,
        &md,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("client_id", &cfg.client_id),
            ("code_verifier", &s.pkce.verifier),
        ],
        &cfg.client_id,
        secret.as_deref(),
    )?;
    flow::verified_id_token(http, &md, resp, &cfg.client_id, Some(&s.nonce))
}

/// The out-of-band fallback: print a URL with the OOB redirect and read the code, waiting at
/// most `timeout` for it (the same bound as for the callback).
fn out_of_band(
    md: &Metadata,
    cfg: &Config,
    s: &Secrets,
    term: &mut dyn Terminal,
    waited: Option<u64>,
    timeout: Duration,
) -> Result<String, OidcError> {
    if !term.can_ask() {
        return Err(match waited {
            Some(secs) => OidcError::Timeout { secs },
            None => OidcError::NoBrowser,
        });
    }
    let url = auth_url(md, cfg, s, OOB)?;
    if let Some(secs) = waited {
        term.say(&format!("gitsign: no login came back to this machine within {secs} s."));
    }
    term.say(&format!("Go to the following link in a browser:\n\n\t {url}\n"));
    term.say(&format!("gitsign: waiting {} s for the code ({TIMEOUT_ENV}=<seconds> changes that).", timeout.as_secs()));
    match term.ask("Enter verification code: ", timeout) {
        Some(Ok(code)) if !code.is_empty() => Ok(code),
        Some(Ok(_)) | None => Err(OidcError::Callback("no verification code was entered".into())),
        Some(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
            Err(OidcError::CodeTimeout { secs: timeout.as_secs() })
        }
        Some(Err(e)) => Err(OidcError::Callback(format!("cannot read the verification code from the terminal: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::process::Command;

    fn get(port: u16, path: &str) -> (u16, String) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, out)
    }

    fn listener(state: &str) -> (Listener, u16) {
        let l = Listener::bind(ListenerOptions {
            redirect_url: None,
            state: state.into(),
            issuer: "https://issuer.test".into(),
            autoclose: Some(3),
        })
        .unwrap();
        let port: u16 = l
            .redirect_uri
            .strip_prefix("http://localhost:")
            .and_then(|r| r.strip_suffix("/auth/callback"))
            .unwrap()
            .parse()
            .unwrap();
        (l, port)
    }

    #[test]
    fn timeout_setting() {
        assert_eq!(parse_timeout(None).unwrap(), Duration::from_secs(120));
        assert_eq!(parse_timeout(Some(" ")).unwrap(), Duration::from_secs(120));
        assert_eq!(parse_timeout(Some("5")).unwrap(), Duration::from_secs(5));
        for bad in ["0", "-1", "abc", "3601", "1.5"] {
            assert!(matches!(parse_timeout(Some(bad)), Err(OidcError::BadSetting { .. })), "{bad}");
        }
    }

    #[test]
    fn good_callback_then_one_shot() {
        let (l, port) = listener("st4te");
        assert_eq!(get(port, "/favicon.ico").0, 404);
        let (status, body) = get(port, "/auth/callback?code=c0de&state=st4te");
        assert_eq!(status, 200);
        assert!(body.contains("window.close()"), "{body}");
        assert!(body.contains("closes in 3 seconds"));
        // a second request, even a valid-looking one, changes nothing
        let (status, body) = get(port, "/auth/callback?code=evil&state=st4te");
        assert_eq!(status, 409, "{body}");
        assert_eq!(l.wait(Duration::from_secs(2)), Some(Callback::Code("c0de".into())));
        assert_eq!(l.wait(Duration::from_millis(200)), None);
    }

    #[test]
    fn wrong_or_missing_state_is_refused() {
        for q in ["code=c&state=other", "code=c", "code=c&state=st4teX", "code=c&state="] {
            let (l, port) = listener("st4te");
            assert_eq!(get(port, &format!("/auth/callback?{q}")).0, 400, "{q}");
            assert_eq!(l.wait(Duration::from_secs(2)), Some(Callback::StateMismatch), "{q}");
        }
    }

    #[test]
    fn denial_issuer_mixup_and_malformed() {
        let (l, port) = listener("s");
        let (st, body) = get(port, "/auth/callback?error=access_denied&error_description=user+said+no&state=s");
        assert_eq!(st, 400);
        assert!(body.contains("access_denied: user said no"));
        assert_eq!(
            l.wait(Duration::from_secs(2)),
            Some(Callback::Denied { error: "access_denied".into(), description: "user said no".into() })
        );
        let (l, port) = listener("s");
        get(port, "/auth/callback?code=c&state=s&iss=https%3A%2F%2Fevil.test");
        assert_eq!(l.wait(Duration::from_secs(2)), Some(Callback::WrongIssuer("https://evil.test".into())));
        let (l, port) = listener("s");
        get(port, "/auth/callback?code=c&state=s&iss=https%3A%2F%2Fissuer.test");
        assert_eq!(l.wait(Duration::from_secs(2)), Some(Callback::Code("c".into())));
        let (l, port) = listener("s");
        get(port, "/auth/callback?state=s");
        assert_eq!(l.wait(Duration::from_secs(2)), Some(Callback::Malformed));
    }

    #[test]
    fn configured_redirect_url() {
        // find a free port, then ask for it
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let l = Listener::bind(ListenerOptions {
            redirect_url: Some(format!("http://127.0.0.1:{port}/custom/cb")),
            state: "s".into(),
            issuer: "i".into(),
            autoclose: None,
        })
        .unwrap();
        assert_eq!(l.redirect_uri, format!("http://127.0.0.1:{port}/custom/cb"));
        assert_eq!(get(port, "/auth/callback?code=c&state=s").0, 404);
        let (st, body) = get(port, "/custom/cb?code=c&state=s");
        assert_eq!(st, 200);
        assert!(!body.contains("window.close"));
        assert_eq!(l.wait(Duration::from_secs(2)), Some(Callback::Code("c".into())));
        assert!(matches!(
            Listener::bind(ListenerOptions {
                redirect_url: Some("https://x/cb".into()),
                state: "s".into(),
                issuer: "i".into(),
                autoclose: None
            }),
            Err(OidcError::Listener { .. })
        ));
    }

    /// A loopback issuer for whole-flow tests: its authorization endpoint redirects straight
    /// back, its token endpoint mints a token spoiled according to `mode`.
    struct FakeIssuer {
        url: String,
        stop: Arc<AtomicBool>,
    }

    impl Drop for FakeIssuer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
        }
    }

    fn fake_issuer(mode: &'static str) -> FakeIssuer {
        use crate::services::oidc::jwt::tests::TestKey;
        use serde_json::json;
        let (key, stranger) = (TestKey::new("k"), TestKey::new("k2"));
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", server.server_addr().to_ip().unwrap().port());
        let stop = Arc::new(AtomicBool::new(false));
        let (u, st) = (url.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut nonce = String::new();
            while !st.load(Ordering::SeqCst) {
                let Ok(Some(req)) = server.recv_timeout(Duration::from_millis(50)) else { continue };
                let full = reqwest::Url::parse(&format!("http://x{}", req.url())).unwrap();
                let q =
                    |k: &str| full.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned()).unwrap_or_default();
                let (status, body, location) = match full.path() {
                    "/.well-known/openid-configuration" => {
                        let iss = if mode == "wrong-issuer" { format!("{u}/other") } else { u.clone() };
                        let d = json!({"issuer": iss, "authorization_endpoint": format!("{u}/auth"),
                            "token_endpoint": format!("{u}/token"), "jwks_uri": format!("{u}/keys"),
                            "code_challenge_methods_supported": if mode == "no-pkce" { json!(["plain"]) } else { json!(["S256"]) }});
                        (200, d.to_string(), None)
                    }
                    "/keys" => (200, json!({"keys": [key.jwk()]}).to_string(), None),
                    "/auth" => {
                        nonce = q("nonce");
                        let state = if mode == "bad-state" { "forged".to_string() } else { q("state") };
                        let loc = if mode == "deny" {
                            format!("{}?error=access_denied&error_description=no&state={state}", q("redirect_uri"))
                        } else {
                            format!("{}?code=C&state={state}", q("redirect_uri"))
                        };
                        (302, String::new(), Some(loc))
                    }
                    "/token" => {
                        let mut c =
                            json!({"iss": u, "sub": "s", "aud": "sigstore", "exp": flow::now() + 600, "nonce": nonce});
                        match mode {
                            "wrong-nonce" => c["nonce"] = json!("not-the-nonce"),
                            "wrong-aud" => c["aud"] = json!("someone-else"),
                            "expired" => c["exp"] = json!(flow::now() - 3600),
                            _ => {}
                        }
                        let tok = if mode == "unknown-key" { stranger.sign(&c) } else { key.sign(&c) };
                        (200, json!({"id_token": tok, "access_token": "at"}).to_string(), None)
                    }
                    _ => (404, String::new(), None),
                };
                let mut resp = tiny_http::Response::from_string(body).with_status_code(status);
                if let Some(l) = location {
                    resp.add_header(tiny_http::Header::from_bytes("Location", l.as_bytes()).unwrap());
                }
                let _ = req.respond(resp);
            }
        });
        FakeIssuer { url, stop }
    }

    struct NoTty;
    impl Terminal for NoTty {
        fn say(&mut self, _: &str) {}
        fn can_ask(&self) -> bool {
            false
        }
        fn ask(&mut self, _: &str, _: Duration) -> Option<std::io::Result<String>> {
            None
        }
    }

    fn run_flow(mode: &'static str) -> Result<String, OidcError> {
        let iss = fake_issuer(mode);
        let cfg = Config {
            issuer: iss.url.clone(),
            url_opener: Some("curl -s -o /dev/null -L {{.URL}}".into()),
            ..Config::default()
        };
        let http = crate::services::http::client(&Default::default()).unwrap();
        login_with(&cfg, &http, &mut NoTty, &Options { timeout: Duration::from_secs(10) })
    }

    #[test]
    fn whole_flow_verifies_and_fails_closed() {
        assert!(Command::new("curl").arg("--version").output().is_ok(), "curl is required by this test");
        let tok = run_flow("good").unwrap();
        assert_eq!(crate::services::oidc::Claims::parse(&tok).unwrap().sub, "s");
        use crate::services::oidc::jwt::VerifyError as V;
        assert!(matches!(run_flow("wrong-nonce"), Err(OidcError::Verify(V::Nonce))));
        assert!(matches!(run_flow("wrong-aud"), Err(OidcError::Verify(V::Audience { .. }))));
        assert!(matches!(run_flow("expired"), Err(OidcError::Verify(V::Expired { .. }))));
        assert!(matches!(run_flow("unknown-key"), Err(OidcError::Verify(V::UnknownKey { .. }))));
        assert!(matches!(run_flow("bad-state"), Err(OidcError::StateMismatch)));
        assert!(matches!(run_flow("deny"), Err(OidcError::Denied { .. })));
        assert!(matches!(run_flow("wrong-issuer"), Err(OidcError::IssuerMismatch { .. })));
        assert!(matches!(run_flow("no-pkce"), Err(OidcError::NoPkce { .. })));
    }

    #[test]
    fn authorization_url_parameters() {
        let md = Metadata {
            issuer: "https://i.test".into(),
            authorization_endpoint: Some("https://i.test/auth?x=1".into()),
            token_endpoint: "https://i.test/token".into(),
            jwks_uri: "https://i.test/keys".into(),
            device_authorization_endpoint: None,
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            token_endpoint_auth_methods_supported: None,
        };
        let cfg = Config { connector_id: Some("https://github.com/login/oauth".into()), ..Config::default() };
        let s = Secrets { state: "st".into(), nonce: "no".into(), pkce: Pkce::from_verifier("v".repeat(64)) };
        let u = reqwest::Url::parse(&auth_url(&md, &cfg, &s, "http://localhost:1/auth/callback").unwrap()).unwrap();
        let q: std::collections::HashMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(q["x"], "1");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "sigstore");
        assert_eq!(q["redirect_uri"], "http://localhost:1/auth/callback");
        assert_eq!(q["scope"], "openid email");
        assert_eq!(q["state"], "st");
        assert_eq!(q["nonce"], "no");
        assert_eq!(q["code_challenge"], s.pkce.challenge);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["connector_id"], "https://github.com/login/oauth");
    }
}
