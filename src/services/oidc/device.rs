//! The device authorization flow (RFC 8628) with PKCE, for hosts without a browser
//! (`gitsign.tokenProvider=device`).
//!
//! The device authorization endpoint comes from discovery. The user code and the URL are
//! printed on the terminal, or stderr without one, never on stdout (gitsign prints them on
//! stdout, into the signature). Polling follows the RFC: wait `interval` seconds (5 when the
//! issuer gives none) between requests; `authorization_pending` continues, `slow_down`
//! adds 5 s to the interval, `access_denied` and `expired_token` end the login, and so does
//! the code's lifetime (`expires_in`) running out. The ID token is verified as in the
//! browser flow (without a nonce, which the device flow does not carry).
use super::error::OidcError;
use super::flow::{self, Metadata, Pkce, Terminal};
use crate::app::config::Config;
use serde::Deserialize;
use std::time::{Duration, Instant};

/// Poll interval when the issuer gives none (RFC 8628 §3.2).
pub const DEFAULT_INTERVAL: u64 = 5;
/// Lifetime assumed when the issuer gives no `expires_in`.
pub const DEFAULT_EXPIRES: u64 = 600;
/// What `slow_down` adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: u64 = 5;

const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The device authorization answer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// Secret code for polling.
    pub device_code: String,
    /// Code the user types.
    pub user_code: String,
    /// Where the user goes (`verification_url` in Google's dialect).
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    /// The URL with the code filled in.
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    /// Lifetime of the codes, seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Poll interval, seconds.
    #[serde(default)]
    pub interval: Option<u64>,
}

/// Time as the poller sees it (a fake in tests).
pub trait Clock {
    /// Wait.
    fn sleep(&mut self, d: Duration);
    /// Time since the flow started.
    fn elapsed(&self) -> Duration;
}

/// The real clock.
pub struct RealClock(Instant);

impl RealClock {
    /// Starting now.
    pub fn start() -> RealClock {
        RealClock(Instant::now())
    }
}

impl Clock for RealClock {
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Log in with the device flow; returns a verified raw ID token. Prompts on the terminal.
pub fn login(cfg: &Config, http: &reqwest::blocking::Client) -> Result<String, OidcError> {
    login_with(cfg, http, &mut flow::Tty::open(), &mut RealClock::start())
}

/// [`login`] with an explicit terminal and clock.
pub fn login_with(
    cfg: &Config,
    http: &reqwest::blocking::Client,
    term: &mut dyn Terminal,
    clock: &mut dyn Clock,
) -> Result<String, OidcError> {
    // The code is the whole login: with no terminal to show it on (git shows our stderr only
    // after we end), nobody could enter it, so fail now instead of polling for minutes.
    if !term.can_ask() {
        return Err(OidcError::DeviceNoTerminal);
    }
    let secret = flow::client_secret(cfg)?;
    let md = flow::discover(&cfg.issuer, http)?;
    let (auth, pkce) = authorize(cfg, http, &md, secret.as_deref())?;
    let expires = auth.expires_in.unwrap_or(DEFAULT_EXPIRES);
    match &auth.verification_uri_complete {
        Some(full) => term.say(&format!(
            "Enter the verification code {} in your browser at: {}\n(or open {full})",
            auth.user_code, auth.verification_uri
        )),
        None => term.say(&format!(
            "Enter the verification code {} in your browser at: {}",
            auth.user_code, auth.verification_uri
        )),
    }
    term.say(&format!("Code will be valid for {expires} seconds"));
    let resp = poll(cfg, http, &md, (&auth, &pkce), secret.as_deref(), clock)?;
    flow::verified_id_token(http, &md, resp, &cfg.client_id, None)
}

fn authorize(
    cfg: &Config,
    http: &reqwest::blocking::Client,
    md: &Metadata,
    secret: Option<&str>,
) -> Result<(DeviceAuthorization, Pkce), OidcError> {
    let endpoint = md.device_authorization_endpoint.as_deref().ok_or_else(|| OidcError::Device {
        reason: format!(
            "the issuer {} does not offer the device flow (no device_authorization_endpoint); \
             unset gitsign.tokenProvider to log in with a browser",
            md.issuer
        ),
    })?;
    let pkce = Pkce::new()?;
    let mut pairs = vec![
        ("client_id", cfg.client_id.as_str()),
        ("scope", flow::SCOPES),
        ("code_challenge_method", "S256"),
        ("code_challenge", pkce.challenge.as_str()),
    ];
    if let Some(r) = &cfg.redirect_url {
        pairs.push(("redirect_uri", r));
    }
    let (status, v) = flow::post_form_json(http, md, endpoint, &pairs, &cfg.client_id, secret)?;
    if !(200..300).contains(&status) {
        let e: flow::TokenResponse = serde_json::from_value(v).unwrap_or_default();
        return Err(OidcError::Device {
            reason: format!(
                "the device authorization endpoint refused the request (HTTP {status}): {}",
                e.error_text()
            ),
        });
    }
    let auth: DeviceAuthorization = serde_json::from_value(v)
        .map_err(|e| OidcError::Device { reason: format!("the device authorization answer cannot be read: {e}") })?;
    Ok((auth, pkce))
}

fn poll(
    cfg: &Config,
    http: &reqwest::blocking::Client,
    md: &Metadata,
    (auth, pkce): (&DeviceAuthorization, &Pkce),
    secret: Option<&str>,
    clock: &mut dyn Clock,
) -> Result<flow::TokenResponse, OidcError> {
    let expires = Duration::from_secs(auth.expires_in.unwrap_or(DEFAULT_EXPIRES));
    let mut interval = auth.interval.unwrap_or(DEFAULT_INTERVAL).clamp(1, 60);
    loop {
        if clock.elapsed() + Duration::from_secs(interval) > expires {
            return Err(OidcError::DeviceExpired);
        }
        clock.sleep(Duration::from_secs(interval));
        let resp = flow::post_token(
            http,
            md,
            &[
                ("grant_type", GRANT),
                ("client_id", &cfg.client_id),
                ("device_code", &auth.device_code),
                ("scope", flow::SCOPES),
                ("code_verifier", &pkce.verifier),
            ],
            &cfg.client_id,
            secret,
        )?;
        match resp.error.as_deref() {
            None => return Ok(resp),
            Some("authorization_pending") => {}
            Some("slow_down") => interval = (interval + SLOW_DOWN_STEP).min(120),
            Some("access_denied") => {
                return Err(OidcError::Denied {
                    error: "access_denied".into(),
                    description: resp.error_description.unwrap_or_default(),
                });
            }
            Some("expired_token") => return Err(OidcError::DeviceExpired),
            Some(_) => return Err(OidcError::Exchange { reason: resp.error_text() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::oidc::jwt::tests::TestKey;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    /// A loopback issuer whose token endpoint answers from a script.
    struct Issuer {
        url: String,
        polls: Arc<Mutex<Vec<String>>>,
        stop: Arc<std::sync::atomic::AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Drop for Issuer {
        fn drop(&mut self) {
            self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }

    fn issuer(script: Vec<serde_json::Value>, device_extra: serde_json::Value) -> (Issuer, TestKey) {
        let key = TestKey::new("dev");
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let polls = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (u, p, s) = (url.clone(), polls.clone(), stop.clone());
        let jwks = json!({"keys": [key.jwk()]});
        let token = key.sign(&json!({"iss": url, "sub": "dev-user", "aud": "sigstore",
            "exp": flow::now() + 600, "email": "dev@example.test", "email_verified": true}));
        let thread = std::thread::spawn(move || {
            let mut script = script.into_iter();
            while !s.load(std::sync::atomic::Ordering::SeqCst) {
                let Ok(Some(mut req)) = server.recv_timeout(Duration::from_millis(50)) else { continue };
                let mut body = String::new();
                let _ = std::io::Read::read_to_string(req.as_reader(), &mut body);
                let (status, v) = match req.url() {
                    "/.well-known/openid-configuration" => (
                        200,
                        json!({"issuer": u, "token_endpoint": format!("{u}/token"),
                        "jwks_uri": format!("{u}/keys"), "device_authorization_endpoint": format!("{u}/device")}),
                    ),
                    "/keys" => (200, jwks.clone()),
                    "/device" => {
                        assert!(body.contains("code_challenge_method=S256"), "{body}");
                        let mut d = json!({"device_code": "DC", "user_code": "ABCD-EFGH",
                            "verification_uri": format!("{u}/verify"), "expires_in": 30});
                        for (k, v) in device_extra.as_object().unwrap() {
                            d[k] = v.clone();
                        }
                        (200, d)
                    }
                    "/token" => {
                        p.lock().unwrap().push(body.clone());
                        match script.next() {
                            Some(e) if e.is_string() => (400, json!({"error": e})),
                            _ => (200, json!({"id_token": token, "access_token": "at", "token_type": "Bearer"})),
                        }
                    }
                    _ => (404, json!({})),
                };
                let _ = req.respond(tiny_http::Response::from_string(v.to_string()).with_status_code(status));
            }
        });
        (Issuer { url, polls, stop, thread: Some(thread) }, key)
    }

    #[derive(Default)]
    struct FakeClock {
        sleeps: Vec<u64>,
    }
    impl Clock for FakeClock {
        fn sleep(&mut self, d: Duration) {
            self.sleeps.push(d.as_secs());
        }
        fn elapsed(&self) -> Duration {
            Duration::from_secs(self.sleeps.iter().sum())
        }
    }

    #[derive(Default)]
    struct Screen(String);
    impl Terminal for Screen {
        fn say(&mut self, t: &str) {
            self.0.push_str(t);
            self.0.push('\n');
        }
        fn can_ask(&self) -> bool {
            true
        }
        fn ask(&mut self, _: &str, _: Duration) -> Option<std::io::Result<String>> {
            None
        }
    }

    /// No terminal at all (stderr only, which git shows after the fact).
    struct NoTerminal;
    impl Terminal for NoTerminal {
        fn say(&mut self, _: &str) {}
        fn can_ask(&self) -> bool {
            false
        }
        fn ask(&mut self, _: &str, _: Duration) -> Option<std::io::Result<String>> {
            None
        }
    }

    #[test]
    fn no_terminal_fails_before_asking_the_issuer() {
        let (iss, _key) = issuer(vec![json!(null)], json!({}));
        let cfg = Config { issuer: iss.url.clone(), ..Config::default() };
        let http = crate::services::http::client(&Default::default()).unwrap();
        let r = login_with(&cfg, &http, &mut NoTerminal, &mut FakeClock::default());
        assert!(matches!(r, Err(OidcError::DeviceNoTerminal)), "{r:?}");
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains(crate::services::oidc::NO_TERMINAL_REMEDY), "{msg}");
        assert!(iss.polls.lock().unwrap().is_empty(), "nothing was polled");
    }

    fn run(
        script: Vec<serde_json::Value>,
        extra: serde_json::Value,
    ) -> (Result<String, OidcError>, Vec<u64>, String, Vec<String>) {
        let (iss, _key) = issuer(script, extra);
        let cfg = Config { issuer: iss.url.clone(), ..Config::default() };
        let http = crate::services::http::client(&Default::default()).unwrap();
        let (mut term, mut clock) = (Screen::default(), FakeClock::default());
        let r = login_with(&cfg, &http, &mut term, &mut clock);
        let polls = iss.polls.lock().unwrap().clone();
        (r, clock.sleeps, term.0, polls)
    }

    #[test]
    fn pending_slow_down_then_token() {
        let (r, sleeps, screen, polls) = run(
            vec![json!("authorization_pending"), json!("slow_down"), json!("authorization_pending"), json!(null)],
            json!({"interval": 2}),
        );
        let tok = r.unwrap();
        assert_eq!(crate::services::oidc::Claims::parse(&tok).unwrap().sub, "dev-user");
        assert_eq!(sleeps, vec![2, 2, 7, 7]);
        assert!(
            screen.contains("Enter the verification code ABCD-EFGH in your browser at: http://127.0.0.1:"),
            "{screen}"
        );
        assert!(screen.contains("Code will be valid for 30 seconds"));
        assert_eq!(polls.len(), 4);
        assert!(polls[0].contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"), "{}", polls[0]);
        assert!(polls[0].contains("device_code=DC") && polls[0].contains("code_verifier="));
    }

    #[test]
    fn default_interval_is_five() {
        let (r, sleeps, _, _) = run(vec![json!(null)], json!({}));
        r.unwrap();
        assert_eq!(sleeps, vec![5]);
    }

    #[test]
    fn denied_and_expired() {
        let (r, _, _, _) = run(vec![json!("authorization_pending"), json!("access_denied")], json!({"interval": 1}));
        assert!(matches!(r, Err(OidcError::Denied { ref error, .. }) if error == "access_denied"), "{r:?}");
        let (r, _, _, _) = run(vec![json!("expired_token")], json!({"interval": 1}));
        assert!(matches!(r, Err(OidcError::DeviceExpired)), "{r:?}");
        let (r, _, _, _) = run(vec![json!("invalid_grant")], json!({"interval": 1}));
        assert!(matches!(r, Err(OidcError::Exchange { .. })), "{r:?}");
        // pending forever: the code's lifetime (30 s) bounds the wait
        let (r, sleeps, _, polls) = run(vec![json!("authorization_pending"); 100], json!({"interval": 4}));
        assert!(matches!(r, Err(OidcError::DeviceExpired)), "{r:?}");
        assert_eq!(sleeps.iter().sum::<u64>(), 28);
        assert_eq!(polls.len(), 7);
    }

    #[test]
    fn wrong_audience_token_is_refused() {
        let (iss, key) = issuer(vec![], json!({}));
        let cfg = Config { issuer: iss.url.clone(), client_id: "other-client".into(), ..Config::default() };
        let http = crate::services::http::client(&Default::default()).unwrap();
        let r = login_with(&cfg, &http, &mut Screen::default(), &mut FakeClock::default());
        assert!(matches!(r, Err(OidcError::Verify(crate::services::oidc::jwt::VerifyError::Audience { .. }))), "{r:?}");
        drop(key);
    }
}
