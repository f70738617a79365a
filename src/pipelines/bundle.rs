//! Sigstore bundles (v0.3) from gitsign signatures, so that any Sigstore verifier can check
//! them: the artifact is the DER of the signed attributes (re-tagged as SET), the message
//! signature is the SignerInfo signature, and the tlog entry is the one embedded in the
//! signature with its canonical body rebuilt.
use crate::crypto::cms::verify::{CmsError, ParsedSignature, parse};
use crate::pipelines::verify::signature::{VerifyError, embedded_entry};
use crate::services::rekor::body::hashedrekord_offline;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Media type of the bundles written here.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Errors exporting a bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The signature text is not armor/DER.
    #[error("the signature cannot be decoded: {0}")]
    Armor(#[from] crate::encoding::armor::ArmorError),
    /// The CMS does not parse.
    #[error("the signature cannot be parsed: {0}")]
    Cms(#[from] CmsError),
    /// The embedded entry is unreadable.
    #[error(transparent)]
    Entry(#[from] VerifyError),
    /// Online-mode signature: nothing embedded.
    #[error(
        "this signature has no embedded Rekor entry (it was made in online mode); a bundle needs the log entry, \
         which only the Rekor instance holds"
    )]
    NoEmbeddedEntry,
}

/// A bundle and the artifact it signs.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The bundle JSON.
    pub bundle: serde_json::Value,
    /// The signed artifact: the DER of the signed attributes (0x31).
    pub artifact: Vec<u8>,
}

/// Build a bundle from signature text (armor or DER).
pub fn from_signature(signature_text: &[u8]) -> Result<Exported, BundleError> {
    let der = crate::encoding::armor::decode(signature_text)?;
    let sig: ParsedSignature = parse(&der)?;
    let fpr = hex::encode(Sha1::digest(&sig.signer_cert_der));
    let entry = embedded_entry(&sig, &fpr)?.ok_or(BundleError::NoEmbeddedEntry)?;
    let body = hashedrekord_offline(&sig.signed_attrs_der, &sig.signature, &sig.signer_cert_der);
    let mut tlog = json!({
        "logIndex": entry.log_index.to_string(),
        "logId": {"keyId": STANDARD.encode(&entry.log_id)},
        "kindVersion": {"kind": entry.kind, "version": entry.version},
        "integratedTime": entry.integrated_time.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(&entry.signed_entry_timestamp)},
        "canonicalizedBody": STANDARD.encode(&body),
    });
    if let Some(p) = &entry.inclusion_proof {
        tlog["inclusionProof"] = json!({
            "logIndex": p.log_index.to_string(),
            "rootHash": STANDARD.encode(&p.root_hash),
            "treeSize": p.tree_size.to_string(),
            "hashes": p.hashes.iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
            "checkpoint": {"envelope": p.checkpoint},
        });
    }
    let bundle = json!({
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "certificate": {"rawBytes": STANDARD.encode(&sig.signer_cert_der)},
            "tlogEntries": [tlog],
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(Sha256::digest(&sig.signed_attrs_der))},
            "signature": STANDARD.encode(&sig.signature),
        },
    });
    Ok(Exported { bundle, artifact: sig.signed_attrs_der })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_offline_signature_exports_with_its_entry() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/real/examples/offline-commit__sigstore_gitsign__3616021d86975c23e52a456a7dc5605fe130ed14"
        );
        let text = std::fs::read(format!("{dir}/signature.txt")).unwrap();
        let ex = from_signature(&text).unwrap();
        assert_eq!(ex.artifact, std::fs::read(format!("{dir}/signed_attrs.der")).unwrap());
        let tle = &ex.bundle["verificationMaterial"]["tlogEntries"][0];
        assert_eq!(tle["logIndex"], "2340836642");
        let body = STANDARD.decode(tle["canonicalizedBody"].as_str().unwrap()).unwrap();
        assert_eq!(body, std::fs::read(format!("{dir}/rekor0_hashedrekord_body.json")).unwrap());
        assert!(tle["inclusionProof"]["hashes"].as_array().unwrap().len() > 10);
    }

    #[test]
    fn online_signature_has_nothing_to_export() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/real/examples/online-commit__sigstore_gitsign__9d6c4c63e05b62088998795e483cd6c8b33c29cb"
        );
        let text = std::fs::read(format!("{dir}/signature.txt")).unwrap();
        assert!(matches!(from_signature(&text), Err(BundleError::NoEmbeddedEntry)));
    }
}
