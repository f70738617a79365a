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
}

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
        .timeout(opts.timeout.unwrap_or(Duration::from_secs(30)))
        .connect_timeout(Duration::from_secs(10));
    if let Some(path) = &opts.extra_ca_file {
        let pem = std::fs::read(path).map_err(|e| HttpError::CaBundle {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| HttpError::CaBundle {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if certs.is_empty() {
            return Err(HttpError::CaBundle { path: path.clone(), reason: "no certificates in it".into() });
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| HttpError::Setup(error_chain(&e)))
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
    if s.contains("UnknownIssuer") || s.contains("invalid peer certificate") {
        s.push_str(
            " (the server's TLS certificate is not trusted here: if it is a private deployment, add its CA \
             certificate with gitsign.caBundle / GITSIGN_CA_BUNDLE)",
        );
    }
    s
}
