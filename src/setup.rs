//! Wiring the configuration into the pieces: the trusted root to verify with, and the object
//! id git will store (for online-mode Rekor lookups).
use crate::config::Config;
use crate::git::{self, HashAlgo, ObjectKind};
use crate::trust::{TrustError, TrustedRoot};

/// The trusted root for verification: `gitsign.trustedRoot` / `GITSIGN_TRUSTED_ROOT` when
/// set, else the embedded production root; then gitsign's legacy overrides
/// (`gitsign.fulcioRoot` PEM roots, `SIGSTORE_REKOR_PUBLIC_KEY`).
pub fn trusted_root_for(cfg: &Config) -> Result<TrustedRoot, TrustError> {
    let mut root = match &cfg.trusted_root {
        Some(path) => TrustedRoot::from_file(path)?,
        None => TrustedRoot::production()?.clone(),
    };
    if let Some(path) = &cfg.fulcio_root {
        let pem = std::fs::read(path).map_err(|e| TrustError::Read { path: path.clone(), reason: e.to_string() })?;
        root = root.with_fulcio_roots_pem(&pem)?;
    }
    if let Some(path) = &cfg.rekor_public_key {
        let pem = std::fs::read(path).map_err(|e| TrustError::Read { path: path.clone(), reason: e.to_string() })?;
        root = root.with_rekor_public_key_pem(&pem)?;
    }
    Ok(root)
}

/// The id of the object git stores for this payload and signature text (commit: signature
/// inserted as a header; tag: appended), or `None` when the payload is neither.
pub fn object_id_from_parts(payload: &[u8], signature_text: &[u8], object_format: &str) -> Option<String> {
    let kind = ObjectKind::from_payload(payload)?;
    let algo = if object_format == "sha256" { HashAlgo::Sha256 } else { HashAlgo::Sha1 };
    let object = git::rebuild_object(kind, payload, signature_text, algo);
    Some(git::object_id(kind, &object, algo))
}

/// A Rekor client built on first use: verifying signatures with embedded entries never pays
/// for HTTPS set-up (loading the platform's CA store).
pub struct LazyRekor {
    url: String,
    options: crate::http::HttpOptions,
    client: std::sync::OnceLock<Result<crate::rekor::client::RekorClient, String>>,
}

impl LazyRekor {
    /// A lazy client for the configured Rekor.
    pub fn new(cfg: &Config) -> LazyRekor {
        LazyRekor {
            url: cfg.rekor.clone(),
            options: crate::http::HttpOptions::from_config(cfg),
            client: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&crate::rekor::client::RekorClient, crate::rekor::client::RekorError> {
        self.client
            .get_or_init(|| {
                crate::http::client(&self.options)
                    .map(|h| crate::rekor::client::RekorClient::new(&self.url, h))
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|reason| crate::rekor::client::RekorError::Unreachable { url: self.url.clone(), reason: reason.clone() })
    }
}

impl crate::verify::RekorLookup for LazyRekor {
    fn search_by_certificate(&self, cert_pem: &str) -> Result<Vec<String>, crate::rekor::client::RekorError> {
        self.get()?.search_by_certificate(cert_pem)
    }
    fn get_entry(
        &self,
        uuid: &str,
    ) -> Result<(String, crate::rekor::types::LogEntry), crate::rekor::client::RekorError> {
        self.get()?.get_entry(uuid)
    }
    fn base_url(&self) -> &str {
        &self.url
    }
}
