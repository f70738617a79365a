//! Rekor v1 REST client: upload an entry, fetch an entry, search by certificate or hash.
//!
//! The client never fetches the log's public key for verification (GHSA-xvrc): keys come
//! only from the trusted root.
use super::types::{LogEntries, LogEntry, SearchIndex, SearchPublicKey};
use crate::services::http::error_chain;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Errors from the Rekor API.
#[derive(Debug, thiserror::Error)]
pub enum RekorError {
    /// The server could not be reached.
    #[error("cannot reach Rekor at {url}: {reason}")]
    Unreachable {
        /// URL requested.
        url: String,
        /// Transport error.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("Rekor at {url} answered HTTP {status}: {message}")]
    Status {
        /// URL requested.
        url: String,
        /// HTTP status.
        status: u16,
        /// Body or message.
        message: String,
    },
    /// The server's answer is not what the API promises.
    #[error("Rekor at {url} sent a malformed answer: {reason}")]
    Malformed {
        /// URL requested.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// A Rekor v1 client.
#[derive(Debug, Clone)]
pub struct RekorClient {
    base: String,
    http: reqwest::blocking::Client,
    /// The client's per-request timeout: a deadline only ever shortens it.
    request_timeout: Duration,
}

/// Largest response body accepted (entries are a few KiB).
const MAX_BODY: u64 = 4 << 20;

impl RekorClient {
    /// A client for the log at `base_url` (e.g. `https://rekor.sigstore.dev`).
    pub fn new(base_url: &str, http: reqwest::blocking::Client) -> Self {
        RekorClient {
            base: base_url.trim_end_matches('/').to_string(),
            http,
            request_timeout: crate::services::http::DEFAULT_TIMEOUT,
        }
    }

    /// Tell the client the per-request timeout its HTTP client was built with (default 30 s),
    /// so requests under a deadline get the smaller of that and the time left.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// A request limited to the time left before `deadline` (at most the request timeout).
    fn limited(
        &self,
        rb: reqwest::blocking::RequestBuilder,
        url: &str,
        deadline: Option<Instant>,
    ) -> Result<reqwest::blocking::RequestBuilder, RekorError> {
        let Some(deadline) = deadline else { return Ok(rb) };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RekorError::Unreachable {
                url: url.to_string(),
                reason: "no time left for the request".into(),
            });
        }
        Ok(rb.timeout(left.min(self.request_timeout)))
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Upload a proposed entry ([`super::types::HashedRekord`]; or the intoto entry `gitsign attest` logs).
    /// On 409 (already logged) the existing entry is fetched. Returns the entry uuid and the entry.
    pub fn create_entry<E: serde::Serialize + ?Sized>(&self, entry: &E) -> Result<(String, LogEntry), RekorError> {
        let url = format!("{}/api/v1/log/entries", self.base);
        let resp = self.post_json(&url, entry, None)?;
        let status = resp.status().as_u16();
        if status == 409 {
            let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
            if let Some(loc) = location {
                let uuid = loc.rsplit('/').next().unwrap_or_default().to_string();
                return self.get_entry(&uuid);
            }
            return Err(RekorError::Status { url, status, message: "entry already exists".into() });
        }
        let body = read_body(resp, &url)?;
        if status != 201 && status != 200 {
            return Err(RekorError::Status { url, status, message: api_message(&body) });
        }
        single_entry(&url, &body)
    }

    /// Fetch one entry by uuid (64 hex, or 80 hex with the tree id). The returned uuid must
    /// be the requested one, and its leaf hash must match the body (the body is not trusted
    /// to be the requested entry otherwise).
    pub fn get_entry(&self, uuid: &str) -> Result<(String, LogEntry), RekorError> {
        self.get_entry_until(uuid, None)
    }

    /// [`RekorClient::get_entry`], the request cut short at `deadline`.
    pub fn get_entry_until(&self, uuid: &str, deadline: Option<Instant>) -> Result<(String, LogEntry), RekorError> {
        if !(uuid.len() == 64 || uuid.len() == 80) || !uuid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RekorError::Malformed {
                url: self.base.clone(),
                reason: format!("{uuid:?} is not a Rekor entry uuid"),
            });
        }
        let url = format!("{}/api/v1/log/entries/{}", self.base, uuid);
        let resp = self
            .limited(self.http.get(&url), &url, deadline)?
            .send()
            .map_err(|e| RekorError::Unreachable { url: url.clone(), reason: error_chain(&e) })?;
        let status = resp.status().as_u16();
        let body = read_body(resp, &url)?;
        if status != 200 {
            return Err(RekorError::Status { url, status, message: api_message(&body) });
        }
        let (got, entry) = single_entry(&url, &body)?;
        let want_leaf = &uuid[uuid.len() - 64..];
        // `got` is the server's text: compare bytes, never slice it as a str (a multi-byte
        // character across the cut would panic).
        let got_leaf = &got.as_bytes()[got.len().saturating_sub(64)..];
        if !got.eq_ignore_ascii_case(uuid) && !got_leaf.eq_ignore_ascii_case(want_leaf.as_bytes()) {
            return Err(RekorError::Malformed { url, reason: format!("asked for entry {uuid}, got {got}") });
        }
        let body_bytes = STANDARD
            .decode(entry.body.as_bytes())
            .map_err(|_| RekorError::Malformed { url: url.clone(), reason: "entry body is not base64".into() })?;
        let leaf = super_leaf_hash(&body_bytes);
        if !hex::encode(leaf).eq_ignore_ascii_case(want_leaf) {
            return Err(RekorError::Malformed { url, reason: "entry body does not hash to the requested uuid".into() });
        }
        Ok((got, entry))
    }

    /// Search the index for entries logged under this SHA-256 (`sha256:<hex>`), e.g. the hash of
    /// a DSSE envelope for intoto entries. Only the hash is sent.
    pub fn search_by_hash(&self, sha256: &[u8; 32]) -> Result<Vec<String>, RekorError> {
        self.search(&SearchIndex { hash: Some(format!("sha256:{}", hex::encode(sha256))), public_key: None }, None)
    }

    /// Search the index for entries logged with this certificate (PEM). Only the certificate
    /// is sent: combining hash and key would OR them (GHSA-8pmp).
    pub fn search_by_certificate(&self, cert_pem: &str) -> Result<Vec<String>, RekorError> {
        self.search_by_certificate_until(cert_pem, None)
    }

    /// [`RekorClient::search_by_certificate`], the request cut short at `deadline`.
    pub fn search_by_certificate_until(
        &self,
        cert_pem: &str,
        deadline: Option<Instant>,
    ) -> Result<Vec<String>, RekorError> {
        let query = SearchIndex {
            hash: None,
            public_key: Some(SearchPublicKey { format: "x509".into(), content: STANDARD.encode(cert_pem) }),
        };
        self.search(&query, deadline)
    }

    /// POST `body` as JSON to `url`; a transport failure is [`RekorError::Unreachable`].
    fn post_json<B: serde::Serialize + ?Sized>(
        &self,
        url: &str,
        body: &B,
        deadline: Option<Instant>,
    ) -> Result<reqwest::blocking::Response, RekorError> {
        self.limited(self.http.post(url), url, deadline)?
            .json(body)
            .send()
            .map_err(|e| RekorError::Unreachable { url: url.to_string(), reason: error_chain(&e) })
    }

    /// `POST /api/v1/index/retrieve`: the uuids of the matching entries.
    fn search(&self, query: &SearchIndex, deadline: Option<Instant>) -> Result<Vec<String>, RekorError> {
        let url = format!("{}/api/v1/index/retrieve", self.base);
        let resp = self.post_json(&url, query, deadline)?;
        let status = resp.status().as_u16();
        let body = read_body(resp, &url)?;
        if status != 200 {
            return Err(RekorError::Status { url, status, message: api_message(&body) });
        }
        serde_json::from_slice(&body).map_err(|e| RekorError::Malformed { url, reason: e.to_string() })
    }
}

fn super_leaf_hash(body: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(body);
    h.finalize().into()
}

fn read_body(resp: reqwest::blocking::Response, url: &str) -> Result<Vec<u8>, RekorError> {
    crate::services::http::read_limited(resp, MAX_BODY).map_err(|e| match e {
        crate::services::http::BodyError::TooLarge(limit) => {
            RekorError::Malformed { url: url.to_string(), reason: format!("answer larger than {limit} bytes") }
        }
        crate::services::http::BodyError::Read(reason) => RekorError::Unreachable { url: url.to_string(), reason },
    })
}

fn single_entry(url: &str, body: &[u8]) -> Result<(String, LogEntry), RekorError> {
    let entries: LogEntries = serde_json::from_slice(body)
        .map_err(|e| RekorError::Malformed { url: url.to_string(), reason: e.to_string() })?;
    if entries.len() != 1 {
        return Err(RekorError::Malformed {
            url: url.to_string(),
            reason: format!("expected one entry, got {}", entries.len()),
        });
    }
    entries.into_iter().next().ok_or_else(|| RekorError::Malformed { url: url.to_string(), reason: "no entry".into() })
}

/// Extract `message` from a JSON error body, else the body text (truncated).
pub(crate) fn api_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ApiError {
        message: String,
    }
    if let Ok(e) = serde_json::from_slice::<ApiError>(body) {
        return e.message;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.chars().count() > 300 {
        format!("{}…", text.chars().take(300).collect::<String>())
    } else {
        text.to_string()
    }
}
