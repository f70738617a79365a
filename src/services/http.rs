//! The HTTPS client used for Fulcio, Rekor and the OIDC issuer.
//!
//! reqwest's blocking client over rustls with the `ring` provider. Server certificates are
//! checked against the platform's trust store, plus an optional extra CA bundle (PEM) for
//! private deployments and the sandbox's `--tls` mode. Redirects are never followed.
use std::time::Duration;

/// Errors building the client or talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The extra CA bundle could not be read or parsed.
    #[error("cannot use the CA bundle {path}: {reason}")]
    CaBundle {
        /// The file given.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The client could not be built.
    #[error("cannot set up HTTPS: {0}")]
    Setup(String),
}

/// Options for [`client`].
#[derive(Debug, Clone, Default)]
pub struct HttpOptions {
    /// PEM file with extra CA certificates to trust for HTTPS.
    pub extra_ca_file: Option<String>,
    /// Per-request timeout; 30 s when unset.
    pub timeout: Option<Duration>,
    /// Connect timeout; 10 s when unset.
    pub connect_timeout: Option<Duration>,
    /// Every URL this client will be used for is plain `http://` (a local stack on loopback):
    /// then the platform's CA store is not loaded, which is most of the client's set-up cost,
    /// and any `https://` request fails.
    pub plain_http_only: bool,
}

/// Buildkite's agent API when `BUILDKITE_AGENT_ENDPOINT` is unset: an ambient token endpoint
/// ([`crate::services::oidc::ambient`]) that the client options must count.
pub const BUILDKITE_DEFAULT_ENDPOINT: &str = "https://agent.buildkite.com/v3";

/// Default whole-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn install_crypto_provider() {
    // Err only means a provider was installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Build a blocking HTTP client.
pub fn client(opts: &HttpOptions) -> Result<reqwest::blocking::Client, HttpError> {
    install_crypto_provider();
    let mut builder = reqwest::blocking::Client::builder()
        .user_agent(concat!("gitsign-rs/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(opts.timeout.unwrap_or(DEFAULT_TIMEOUT))
        .connect_timeout(opts.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT));
    if opts.plain_http_only {
        builder = builder.tls_certs_only(std::iter::empty());
    } else if !platform_store_present() {
        // No system CA bundle (minimal containers): fall back to the bundled Mozilla roots.
        let bundled = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter_map(|c| reqwest::Certificate::from_der(c.as_ref()).ok());
        builder = builder.tls_certs_merge(bundled);
    }
    if let Some(path) = &opts.extra_ca_file {
        let pem = std::fs::read(path).map_err(|e| HttpError::CaBundle { path: path.clone(), reason: e.to_string() })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| HttpError::CaBundle { path: path.clone(), reason: e.to_string() })?;
        if certs.is_empty() {
            return Err(HttpError::CaBundle { path: path.clone(), reason: "no certificates in it".into() });
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| HttpError::Setup(error_chain(&e)))
}

/// Whether the platform has a CA bundle where rustls' platform verifier looks on Unix.
fn platform_store_present() -> bool {
    if std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some() {
        return true;
    }
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/cert.pem",
        "/etc/ssl/certs",
    ]
    .iter()
    .any(|p| std::path::Path::new(p).exists())
}

/// Why a response body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The body is larger than the limit (bytes).
    TooLarge(u64),
    /// The connection failed or timed out while reading.
    Read(String),
}

/// Read a response body, refusing more than `limit` bytes (a hostile or broken server cannot
/// make the client buffer without bound).
pub fn read_limited(resp: reqwest::blocking::Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    use std::io::Read;
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut buf = Vec::new();
    resp.take(limit + 1).read_to_end(&mut buf).map_err(|e| BodyError::Read(error_chain(&e)))?;
    if buf.len() as u64 > limit {
        return Err(BodyError::TooLarge(limit));
    }
    Ok(buf)
}

/// Render an error with its sources, for messages that must say what actually failed.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let part = src.to_string();
        if !s.contains(&part) {
            s.push_str(": ");
            s.push_str(&part);
        }
        cur = src.source();
    }
    if s.contains("tcp connect error") && s.contains("deadline has elapsed") {
        s.push_str(
            " (the connection was not accepted within the connect timeout: the service is down or a firewall \
             drops the packets; gitsign.connectTimeout / GITSIGN_CONNECT_TIMEOUT sets the limit, default 10 s)",
        );
    } else if s.contains("for url (https://") && s.contains("(Connect)") && s.contains("timed out") {
        // The TCP connection was accepted (a refused or dropped one says "tcp connect error"),
        // so the time went in the TLS handshake, which reqwest counts in the connect timeout.
        s.push_str(
            " (the connection was accepted but the TLS handshake did not complete within the connect timeout: \
             the server may speak plain HTTP, then use an http:// URL for it; gitsign.connectTimeout / \
             GITSIGN_CONNECT_TIMEOUT sets the limit, default 10 s)",
        );
    } else if s.contains("operation timed out") || s.contains("timed out") {
        s.push_str(" (no answer within the request timeout: gitsign.httpTimeout / GITSIGN_HTTP_TIMEOUT, default 30 s)");
    }
    if s.contains("InvalidContentType") || s.contains("received corrupt message") {
        s.push_str(
            " (the server did not answer in TLS: it probably speaks plain HTTP, so use an http:// URL for it, \
             or check the port)",
        );
    }
    if s.contains("UnknownIssuer") || s.contains("invalid peer certificate") {
        s.push_str(
            " (the server's TLS certificate is not trusted here: if it is a private deployment, add its CA \
             certificate with gitsign.caBundle / GITSIGN_CA_BUNDLE)",
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_http_client_refuses_https() {
        // a plain-http client refuses https instead of trusting nothing silently
        let c = client(&HttpOptions { plain_http_only: true, ..Default::default() }).unwrap();
        assert!(c.get("https://127.0.0.1:9/").send().is_err());
    }
}
