//! Pieces shared by the browser and device flows: discovery, PKCE, random values, form
//! posts to the token endpoint, ID token checks, and the terminal used for prompts.
//!
//! Prompts go to the controlling terminal (`/dev/tty`) when there is one, else to stderr;
//! nothing here ever writes to stdout, which carries the signature when git signs.
use super::error::OidcError;
use super::jwt::{self, Expect, Jwks};
use crate::services::http::error_chain;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use std::io::{BufRead, Write};
use std::time::Duration;

/// Scopes requested (gitsign's).
pub const SCOPES: &str = "openid email";

/// The issuer's discovery document (the members used).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Metadata {
    /// Issuer identifier; must equal the configured issuer.
    pub issuer: String,
    /// Authorization endpoint (browser flow).
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// Token endpoint.
    pub token_endpoint: String,
    /// Key set.
    pub jwks_uri: String,
    /// RFC 8628 device authorization endpoint.
    #[serde(default)]
    pub device_authorization_endpoint: Option<String>,
    /// PKCE methods.
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// Client authentication methods at the token endpoint.
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
}

/// Fetch `<issuer>/.well-known/openid-configuration` and check that it names `issuer`.
pub fn discover(issuer: &str, http: &reqwest::blocking::Client) -> Result<Metadata, OidcError> {
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let fail = |reason: String| OidcError::Discovery { issuer: issuer.to_string(), reason };
    let resp = http.get(&url).send().map_err(|e| fail(error_chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(fail(format!("GET {url} answered HTTP {}", status.as_u16())));
    }
    let body = read_body(resp).map_err(|e| fail(format!("GET {url}: {e}")))?;
    let md: Metadata =
        serde_json::from_slice(&body).map_err(|e| fail(format!("{url} is not a discovery document: {e}")))?;
    if md.issuer != issuer {
        return Err(OidcError::IssuerMismatch { configured: issuer.to_string(), discovered: md.issuer });
    }
    Ok(md)
}

impl Metadata {
    /// PKCE S256 is required (gitsign's rule; Microsoft's endpoints support it without
    /// saying so).
    pub fn require_s256(&self) -> Result<(), OidcError> {
        let listed = self.code_challenge_methods_supported.as_ref().is_some_and(|m| m.iter().any(|m| m == "S256"));
        let azure = ["https://login.microsoftonline.com/", "https://login.microsoftonline.us/"]
            .iter()
            .any(|p| self.issuer.starts_with(p));
        if listed || azure { Ok(()) } else { Err(OidcError::NoPkce { issuer: self.issuer.clone() }) }
    }

    /// Fetch the issuer's key set.
    pub fn jwks(&self, http: &reqwest::blocking::Client) -> Result<Jwks, OidcError> {
        let fail = |reason: String| OidcError::Discovery { issuer: self.issuer.clone(), reason };
        let resp = http.get(&self.jwks_uri).send().map_err(|e| fail(error_chain(&e)))?;
        if !resp.status().is_success() {
            return Err(fail(format!("GET {} answered HTTP {}", self.jwks_uri, resp.status().as_u16())));
        }
        let body = read_body(resp).map_err(|e| fail(format!("GET {}: {e}", self.jwks_uri)))?;
        serde_json::from_slice(&body).map_err(|e| fail(format!("{} is not a JWK set: {e}", self.jwks_uri)))
    }
}

/// Largest discovery document, key set or token response accepted (they are a few KiB).
pub const MAX_BODY: u64 = 1 << 20;

/// Read an identity provider's answer, at most [`MAX_BODY`] bytes.
fn read_body(resp: reqwest::blocking::Response) -> Result<Vec<u8>, String> {
    crate::services::http::read_limited(resp, MAX_BODY).map_err(|e| match e {
        crate::services::http::BodyError::TooLarge(n) => format!("the answer is larger than {n} bytes"),
        crate::services::http::BodyError::Read(r) => r,
    })
}

/// `n` random bytes, base64url without padding.
pub fn random_b64(n: usize) -> Result<String, OidcError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| OidcError::Random(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(&b))
}

/// A PKCE pair (RFC 7636, S256).
#[derive(Debug, Clone)]
pub struct Pkce {
    /// The secret verifier (64 characters: 384 random bits).
    pub verifier: String,
    /// base64url(SHA-256(verifier)).
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair.
    pub fn new() -> Result<Pkce, OidcError> {
        Ok(Pkce::from_verifier(random_b64(48)?))
    }

    /// The pair for a given verifier.
    pub fn from_verifier(verifier: String) -> Pkce {
        use sha2::Digest;
        let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        Pkce { verifier, challenge }
    }
}

/// `application/x-www-form-urlencoded` encoding of `pairs`.
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_escape(k, &mut out);
        out.push('=');
        form_escape(v, &mut out);
    }
    out
}

/// The form encoding of one name or value (as browsers and `url::form_urlencoded` do).
fn form_escape(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

/// The client's secret, read from `gitsign.clientSecretFile` (trimmed).
pub fn client_secret(cfg: &crate::app::config::Config) -> Result<Option<String>, OidcError> {
    let Some(path) = &cfg.client_secret_file else { return Ok(None) };
    let bytes =
        std::fs::read(path).map_err(|e| OidcError::ClientSecret { path: path.clone(), reason: e.to_string() })?;
    let s = String::from_utf8(bytes)
        .map_err(|_| OidcError::ClientSecret { path: path.clone(), reason: "not UTF-8".into() })?;
    Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty()))
}

/// A token endpoint answer (success or error).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenResponse {
    /// The ID token.
    #[serde(default)]
    pub id_token: Option<String>,
    /// The access token (for `at_hash`).
    #[serde(default)]
    pub access_token: Option<String>,
    /// OAuth error code.
    #[serde(default)]
    pub error: Option<String>,
    /// OAuth error description.
    #[serde(default)]
    pub error_description: Option<String>,
}

/// POST a form to `url` (client authentication added from `secret`) and read the JSON
/// answer, whatever the status (OAuth errors come as 400 with a JSON body). Returns the
/// HTTP status and the JSON.
pub fn post_form_json(
    http: &reqwest::blocking::Client,
    md: &Metadata,
    url: &str,
    pairs: &[(&str, &str)],
    client_id: &str,
    secret: Option<&str>,
) -> Result<(u16, serde_json::Value), OidcError> {
    let mut pairs = pairs.to_vec();
    let mut req =
        http.post(url).header("Content-Type", "application/x-www-form-urlencoded").header("Accept", "application/json");
    if let Some(secret) = secret {
        // client_secret_basic unless the issuer only lists client_secret_post.
        let methods = md.token_endpoint_auth_methods_supported.as_deref().unwrap_or(&[]);
        let basic = methods.is_empty() || methods.iter().any(|m| m == "client_secret_basic");
        if basic {
            let enc = |s: &str| {
                let mut o = String::new();
                form_escape(s, &mut o);
                o
            };
            let cred = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret)));
            req = req.header("Authorization", format!("Basic {cred}"));
        } else {
            pairs.push(("client_secret", secret));
        }
    }
    let fail = |reason: String| OidcError::Exchange { reason: format!("POST {url}: {reason}") };
    let resp = req.body(form_encode(&pairs)).send().map_err(|e| fail(error_chain(&e)))?;
    let status = resp.status().as_u16();
    let body = read_body(resp).map_err(fail)?;
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) if v.is_object() => Ok((status, v)),
        _ => Err(fail(format!("HTTP {status} without a JSON object in the body"))),
    }
}

/// [`post_form_json`] to a token endpoint: a success or an OAuth error.
pub fn post_token(
    http: &reqwest::blocking::Client,
    md: &Metadata,
    pairs: &[(&str, &str)],
    client_id: &str,
    secret: Option<&str>,
) -> Result<TokenResponse, OidcError> {
    let (status, v) = post_form_json(http, md, &md.token_endpoint, pairs, client_id, secret)?;
    let t: TokenResponse = serde_json::from_value(v)
        .map_err(|e| OidcError::Exchange { reason: format!("the token endpoint's answer cannot be read: {e}") })?;
    if (200..300).contains(&status) || t.error.is_some() {
        Ok(t)
    } else {
        Err(OidcError::Exchange { reason: format!("the token endpoint answered HTTP {status}") })
    }
}

impl TokenResponse {
    /// The error as one line (`code: description`).
    pub fn error_text(&self) -> String {
        match (&self.error, &self.error_description) {
            (Some(e), Some(d)) if !d.is_empty() => format!("{e}: {d}"),
            (Some(e), _) => e.clone(),
            _ => "no id_token in the answer".into(),
        }
    }
}

/// Current unix time.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Take the ID token from a token answer and verify it against the issuer's JWKS.
pub fn verified_id_token(
    http: &reqwest::blocking::Client,
    md: &Metadata,
    resp: TokenResponse,
    client_id: &str,
    nonce: Option<&str>,
) -> Result<String, OidcError> {
    let Some(id_token) = resp.id_token.clone().filter(|t| !t.is_empty()) else {
        return Err(OidcError::Exchange { reason: resp.error_text() });
    };
    let jwks = md.jwks(http)?;
    let expect =
        Expect { issuer: &md.issuer, client_id, nonce, access_token: resp.access_token.as_deref(), now: now() };
    jwt::verify(&id_token, &jwks, &expect)?;
    Ok(id_token)
}

/// Where prompts go and where an out-of-band code is read from.
pub trait Terminal {
    /// Show a message (one or more lines).
    fn say(&mut self, text: &str);
    /// Whether there is a terminal: what [`Terminal::say`] shows is seen at once, and
    /// [`Terminal::ask`] can read an answer.
    fn can_ask(&self) -> bool;
    /// Show `prompt` and read one whitespace-delimited word, waiting at most `timeout` (then an
    /// error of kind `TimedOut`); `None` without a terminal.
    fn ask(&mut self, prompt: &str, timeout: Duration) -> Option<std::io::Result<String>>;
}

/// The controlling terminal, or stderr (write-only) without one.
pub struct Tty {
    out: Box<dyn Write + Send>,
    input: Option<std::io::BufReader<std::fs::File>>,
}

impl Tty {
    /// Open `/dev/tty`; fall back to stderr for output and no input.
    pub fn open() -> Tty {
        let tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty");
        match tty.and_then(|f| Ok((f.try_clone()?, f))) {
            Ok((w, r)) => Tty { out: Box::new(w), input: Some(std::io::BufReader::new(r)) },
            Err(_) => Tty { out: Box::new(std::io::stderr()), input: None },
        }
    }
}

impl Terminal for Tty {
    fn say(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    fn can_ask(&self) -> bool {
        self.input.is_some()
    }

    fn ask(&mut self, prompt: &str, timeout: Duration) -> Option<std::io::Result<String>> {
        let mut input = self.input.take()?;
        let _ = write!(self.out, "{prompt}");
        let _ = self.out.flush();
        // The terminal is read on a thread of its own so that the wait has an end; after a
        // timeout that thread stays blocked on the terminal until the process ends.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let word = read_word(&mut input);
            let _ = tx.send((word, input));
        });
        Some(match rx.recv_timeout(timeout) {
            Ok((word, input)) => {
                self.input = Some(input);
                word
            }
            Err(_) => {
                let _ = writeln!(self.out);
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time"))
            }
        })
    }
}

/// Read lines until one holds a word; return that word.
fn read_word(input: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    loop {
        line.clear();
        match input.read_line(&mut line)? {
            0 => return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "end of input")),
            _ => {
                if let Some(word) = line.split_whitespace().next() {
                    return Ok(word.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_rfc7636_vector_and_shape() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let a = Pkce::new().unwrap();
        let b = Pkce::new().unwrap();
        assert_eq!(a.verifier.len(), 64);
        assert!(a.verifier.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a.verifier, b.verifier);
        assert_eq!(a.challenge.len(), 43);
        assert_eq!(random_b64(16).unwrap().len(), 22);
    }

    #[test]
    fn form_encoding() {
        assert_eq!(form_encode(&[("a", "b c"), ("r", "http://x/?y=1&z")]), "a=b+c&r=http%3A%2F%2Fx%2F%3Fy%3D1%26z");
    }

    #[test]
    fn s256_required() {
        let mut md = Metadata {
            issuer: "https://i.test".into(),
            authorization_endpoint: None,
            token_endpoint: "https://i.test/token".into(),
            jwks_uri: "https://i.test/keys".into(),
            device_authorization_endpoint: None,
            code_challenge_methods_supported: Some(vec!["plain".into()]),
            token_endpoint_auth_methods_supported: None,
        };
        assert!(matches!(md.require_s256(), Err(OidcError::NoPkce { .. })));
        md.code_challenge_methods_supported = Some(vec!["plain".into(), "S256".into()]);
        md.require_s256().unwrap();
        md.code_challenge_methods_supported = None;
        md.issuer = "https://login.microsoftonline.com/tenant/v2.0".into();
        md.require_s256().unwrap();
    }
}
