//! Extra OIDC issuers trusted by the Fulcio endpoints (`serve --trust-issuer URL`),
//! like the issuer list of a real Fulcio's configuration. A token whose `iss` equals a
//! trusted URL exactly is verified against the keys that issuer publishes: discovery
//! (`URL/.well-known/openid-configuration`, whose `issuer` must equal URL) gives the
//! `jwks_uri`; the JWKS is cached and refetched when a token names an unknown `kid`,
//! at most once per [`REFRESH_INTERVAL`].

use crate::httpc::{self, FetchError};
use crate::jwt::{self, Jwk, JwtError};
use serde_json::Value;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Smallest interval between two fetches of an issuer's keys once it has served some.
pub(crate) const REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Smallest interval between two attempts while the issuer has never answered.
const RETRY_UNAVAILABLE: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(crate) enum IssuerError {
    /// The `--trust-issuer` URL itself is unusable (scheme, host, form).
    Url(FetchError),
    /// Fetching the discovery document or the JWKS failed.
    Fetch { url: String, error: FetchError },
    /// The discovery document is wrong: another `issuer`, no usable `jwks_uri`.
    Discovery { issuer: String, reason: String },
    /// The JWKS is not a JWK Set, or has no usable key.
    Jwks { url: String, reason: String },
}

impl IssuerError {
    /// True when the issuer answered with something wrong (a configuration mistake)
    /// rather than not answering at all.
    pub(crate) fn is_misconfiguration(&self) -> bool {
        match self {
            IssuerError::Url(_) | IssuerError::Discovery { .. } | IssuerError::Jwks { .. } => true,
            IssuerError::Fetch { error, .. } => {
                matches!(error, FetchError::Status(_) | FetchError::Json(_) | FetchError::Malformed(_))
            }
        }
    }
}

impl std::fmt::Display for IssuerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IssuerError::Url(e) => write!(f, "--trust-issuer: {e}"),
            IssuerError::Fetch { url, error } => write!(f, "fetching {url}: {error}"),
            IssuerError::Discovery { issuer, reason } => {
                write!(f, "OIDC discovery for trusted issuer {issuer}: {reason}")
            }
            IssuerError::Jwks { url, reason } => write!(f, "JWKS {url}: {reason}"),
        }
    }
}

impl std::error::Error for IssuerError {}

/// Why a token from a trusted issuer was not accepted.
#[derive(Debug)]
pub(crate) enum VerifyError {
    Jwt(JwtError),
    /// The issuer's keys could not be obtained.
    Unavailable(IssuerError),
    /// The issuer has not served its keys yet and the last attempt was too recent to retry.
    NotFetchedYet,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::Jwt(e) => write!(f, "{e}"),
            VerifyError::Unavailable(e) => write!(f, "issuer keys unavailable: {e}"),
            VerifyError::NotFetchedYet => write!(
                f,
                "issuer keys unavailable: the last fetch failed less than {} s ago",
                RETRY_UNAVAILABLE.as_secs()
            ),
        }
    }
}

impl std::error::Error for VerifyError {}

#[derive(Default)]
struct Cache {
    keys: Vec<Jwk>,
    /// Some once a fetch succeeded.
    fetched: Option<Instant>,
    /// Last fetch attempt, successful or not.
    attempted: Option<Instant>,
}

pub(crate) struct TrustedIssuer {
    /// The issuer identifier, compared byte for byte with discovery `issuer` and token `iss`.
    pub url: String,
    cache: Mutex<Cache>,
}

/// URL of the discovery document (OIDC Discovery 1.0 §4: a trailing `/` is not doubled).
fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

impl TrustedIssuer {
    /// Check the URL (plain `http://` on a loopback host, no query or fragment).
    pub(crate) fn new(url: &str) -> Result<TrustedIssuer, IssuerError> {
        let u = httpc::parse_url(url).map_err(IssuerError::Url)?;
        if u.target.contains('?') {
            return Err(IssuerError::Url(FetchError::Url {
                url: url.to_string(),
                reason: "an issuer identifier has no query",
            }));
        }
        Ok(TrustedIssuer { url: url.to_string(), cache: Mutex::new(Cache::default()) })
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Discovery, then the JWKS: the usable keys.
    fn fetch_keys(&self) -> Result<Vec<Jwk>, IssuerError> {
        let durl = discovery_url(&self.url);
        let doc = httpc::get_json(&durl).map_err(|error| IssuerError::Fetch { url: durl.clone(), error })?;
        let disc = |reason: String| IssuerError::Discovery { issuer: self.url.clone(), reason };
        match doc.get("issuer").and_then(Value::as_str) {
            Some(i) if i == self.url => {}
            Some(i) => {
                return Err(disc(format!(
                    "{durl} names issuer {i:?}, not {:?} (they must be equal exactly)",
                    self.url
                )));
            }
            None => return Err(disc(format!("{durl} has no \"issuer\""))),
        }
        let jwks_uri =
            doc.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| disc(format!("{durl} has no \"jwks_uri\"")))?;
        httpc::parse_url(jwks_uri).map_err(|e| disc(format!("jwks_uri: {e}")))?;
        let jwks =
            httpc::get_json(jwks_uri).map_err(|error| IssuerError::Fetch { url: jwks_uri.to_string(), error })?;
        let jerr = |reason: String| IssuerError::Jwks { url: jwks_uri.to_string(), reason };
        let (keys, skipped) = jwt::parse_jwks(&jwks).map_err(|e| jerr(e.to_string()))?;
        for s in &skipped {
            eprintln!("gitsign-sandbox: trusted issuer {}: skipping {s}", self.url);
        }
        if keys.is_empty() {
            return Err(jerr("no RS256 or ES256 signing key".into()));
        }
        Ok(keys)
    }

    /// Fetch the keys now (start-up); the number of usable keys.
    pub(crate) fn refresh(&self) -> Result<usize, IssuerError> {
        let mut c = self.lock();
        c.attempted = Some(Instant::now());
        let keys = self.fetch_keys()?;
        c.keys = keys;
        c.fetched = c.attempted;
        Ok(c.keys.len())
    }

    /// Verify a token's signature with this issuer's keys; return its claims (the
    /// caller checks `iss`, `aud`, times and identity).
    pub(crate) fn verify(&self, token: &str) -> Result<Value, VerifyError> {
        // The lock is held across a refetch so concurrent requests do not stampede
        // the issuer; every fetch is bounded by httpc's deadline.
        let mut c = self.lock();
        if c.fetched.is_some() {
            match jwt::verify_jwks(token, &c.keys) {
                Err(JwtError::UnknownKey) => {}
                other => return other.map_err(VerifyError::Jwt),
            }
        }
        let now = Instant::now();
        let min_gap = if c.fetched.is_some() { REFRESH_INTERVAL } else { RETRY_UNAVAILABLE };
        if c.attempted.is_some_and(|t| now.duration_since(t) < min_gap) {
            return Err(if c.fetched.is_some() {
                VerifyError::Jwt(JwtError::UnknownKey)
            } else {
                VerifyError::NotFetchedYet
            });
        }
        c.attempted = Some(now);
        match self.fetch_keys() {
            Ok(keys) => {
                c.keys = keys;
                c.fetched = Some(now);
            }
            Err(e) => {
                eprintln!("gitsign-sandbox: trusted issuer {}: refreshing keys: {e}", self.url);
                if c.fetched.is_none() {
                    return Err(VerifyError::Unavailable(e));
                }
                // Keep the keys we have; the token's kid is still unknown.
            }
        }
        jwt::verify_jwks(token, &c.keys).map_err(VerifyError::Jwt)
    }
}

#[cfg(test)]
impl TrustedIssuer {
    /// Pretend the last fetch attempt happened `by` earlier.
    fn backdate(&self, by: Duration) {
        let mut c = self.lock();
        c.attempted = c.attempted.and_then(|t| t.checked_sub(by));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::testing::*;
    use serde_json::json;
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake issuer: discovery names `issuer` (None: its own URL), JWKS from `jwks`.
    struct Fake {
        url: String,
        jwks: Arc<Mutex<Value>>,
        jwks_hits: Arc<AtomicUsize>,
    }

    fn fake(issuer: Option<&str>, jwks: Value) -> Fake {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let named = issuer.map(str::to_string).unwrap_or_else(|| url.clone());
        let jwks = Arc::new(Mutex::new(jwks));
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let (j, hits, base) = (Arc::clone(&jwks), Arc::clone(&jwks_hits), url.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split(' ').nth(1).unwrap_or("");
                let body = match path {
                    "/.well-known/openid-configuration" => {
                        json!({"issuer": named, "jwks_uri": format!("{base}/jwks")})
                    }
                    "/jwks" => {
                        hits.fetch_add(1, Ordering::SeqCst);
                        j.lock().unwrap().clone()
                    }
                    _ => Value::Null,
                }
                .to_string();
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Fake { url, jwks, jwks_hits }
    }

    #[test]
    fn refresh_on_unknown_kid_is_bounded() {
        let k1 = rsa_key(2048);
        let k2 = rsa_key(2048);
        let f = fake(None, json!({"keys": [rsa_jwk(&k1, Some("k1"))]}));
        let t = TrustedIssuer::new(&f.url).unwrap();
        assert_eq!(t.refresh().unwrap(), 1);
        assert_eq!(f.jwks_hits.load(Ordering::SeqCst), 1);
        let claims = json!({"iss": f.url, "sub": "s"});
        let tok1 = sign_rs256(&k1, &json!({"alg": "RS256", "kid": "k1"}), &claims);
        let tok2 = sign_rs256(&k2, &json!({"alg": "RS256", "kid": "k2"}), &claims);
        assert_eq!(t.verify(&tok1).unwrap()["sub"], "s");
        assert_eq!(f.jwks_hits.load(Ordering::SeqCst), 1, "cached");

        // The issuer rotates to k2. Within 30 s of the last fetch the unknown kid is refused
        // without asking the issuer again.
        *f.jwks.lock().unwrap() = json!({"keys": [rsa_jwk(&k2, Some("k2"))]});
        assert!(matches!(t.verify(&tok2), Err(VerifyError::Jwt(JwtError::UnknownKey))));
        assert_eq!(f.jwks_hits.load(Ordering::SeqCst), 1);
        // Later, the unknown kid triggers one refetch and then verifies.
        t.backdate(REFRESH_INTERVAL);
        assert_eq!(t.verify(&tok2).unwrap()["sub"], "s");
        assert_eq!(f.jwks_hits.load(Ordering::SeqCst), 2);
        assert_eq!(t.verify(&tok2).unwrap()["sub"], "s");
        // A bad signature under a known kid never triggers a fetch.
        let forged = sign_rs256(&k1, &json!({"alg": "RS256", "kid": "k2"}), &claims);
        t.backdate(REFRESH_INTERVAL);
        assert!(matches!(t.verify(&forged), Err(VerifyError::Jwt(JwtError::Signature))));
        assert_eq!(f.jwks_hits.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn discovery_must_name_the_issuer_exactly() {
        let k1 = rsa_key(2048);
        let f = fake(Some("http://127.0.0.1:1"), json!({"keys": [rsa_jwk(&k1, None)]}));
        let e = TrustedIssuer::new(&f.url).unwrap().refresh().unwrap_err();
        assert!(matches!(e, IssuerError::Discovery { .. }), "{e}");
        assert!(e.is_misconfiguration());
        // A trailing slash is a different issuer identifier.
        let g = fake(None, json!({"keys": [rsa_jwk(&k1, None)]}));
        let e = TrustedIssuer::new(&format!("{}/", g.url)).unwrap().refresh().unwrap_err();
        assert!(matches!(e, IssuerError::Discovery { .. }), "{e}");
        // No usable key.
        let h = fake(None, json!({"keys": [{"kty": "oct", "k": "AAAA"}]}));
        let e = TrustedIssuer::new(&h.url).unwrap().refresh().unwrap_err();
        assert!(matches!(e, IssuerError::Jwks { .. }), "{e}");
    }

    #[test]
    fn urls() {
        assert!(TrustedIssuer::new("http://127.0.0.1:3000").is_ok());
        assert!(TrustedIssuer::new("http://localhost:3000/oidc").is_ok());
        for bad in
            ["https://127.0.0.1:3000", "http://accounts.example.com", "http://127.0.0.1:3000/?x=1", "127.0.0.1:3000"]
        {
            let e = TrustedIssuer::new(bad).err().unwrap();
            assert!(e.is_misconfiguration(), "{bad}");
        }
        let e = TrustedIssuer::new("https://127.0.0.1:1").err().unwrap();
        assert!(e.to_string().contains("https"), "{e}");
        assert_eq!(discovery_url("http://127.0.0.1:1/"), "http://127.0.0.1:1/.well-known/openid-configuration");
    }

    #[test]
    fn unreachable_issuer_is_unavailable_not_a_panic() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        drop(l);
        let t = TrustedIssuer::new(&url).unwrap();
        let e = t.refresh().unwrap_err();
        assert!(!e.is_misconfiguration(), "{e}");
        // Within the retry gap no new attempt is made; still a clean error.
        assert!(matches!(t.verify("a.b.c"), Err(VerifyError::NotFetchedYet)));
    }
}
