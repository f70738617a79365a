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
