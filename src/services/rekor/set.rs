//! The Rekor signed entry timestamp (SET): its canonical JSON payload and its verification.
use crate::crypto::pubkey::{self, HashAlg, PubkeyError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Why a SET did not verify.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// The SET is absent.
    #[error("the log entry has no signed entry timestamp")]
    Missing,
    /// The signature check failed.
    #[error("signed entry timestamp: {0}")]
    Signature(#[from] PubkeyError),
}

/// The SET payload: canonical JSON (RFC 8785: sorted keys, no whitespace)
/// `{"body":"<base64 body>","integratedTime":N,"logID":"<hex log id>","logIndex":N}`.
/// `log_index` is the **global** index.
pub fn payload(body: &[u8], integrated_time: i64, log_id: &[u8], log_index: i64) -> Vec<u8> {
    // Written by hand (not via a JSON map) so no serde_json feature can reorder the keys;
    // base64 and hex need no JSON escaping.
    format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        STANDARD.encode(body),
        integrated_time,
        hex::encode(log_id),
        log_index
    )
    .into_bytes()
}

/// Verify a SET (DER ECDSA signature) over the payload with the log key (SPKI DER) and hash.
pub fn verify(
    log_key_spki: &[u8],
    hash: HashAlg,
    set: &[u8],
    body: &[u8],
    integrated_time: i64,
    log_id: &[u8],
    log_index: i64,
) -> Result<(), SetError> {
    if set.is_empty() {
        return Err(SetError::Missing);
    }
    let msg = payload(body, integrated_time, log_id, log_index);
    pubkey::verify(log_key_spki, hash, &msg, set)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EX: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/real/examples/offline-commit__sigstore_gitsign__3616021d86975c23e52a456a7dc5605fe130ed14"
    );

    fn rekor_key() -> Vec<u8> {
        crate::trust::root::TrustedRoot::production().unwrap().tlogs[0].public_key_der.clone()
    }

    #[test]
    fn payload_is_canonical_and_verifies() {
        let body = std::fs::read(format!("{EX}/rekor0_hashedrekord_body.json")).unwrap();
        let want = std::fs::read(format!("{EX}/rekor0_set_payload.json")).unwrap();
        let set = std::fs::read(format!("{EX}/rekor0_set.der")).unwrap();
        let id = hex::decode("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d").unwrap();
        let got = payload(&body, 1785858161, &id, 2340836642);
        assert_eq!(got, want);
        // Same bytes as serde_json's canonical (sorted-key) rendering.
        let v: serde_json::Value = serde_json::from_slice(&want).unwrap();
        assert_eq!(v.to_string().into_bytes(), want);

        let key = rekor_key();
        verify(&key, HashAlg::Sha256, &set, &body, 1785858161, &id, 2340836642).unwrap();
        assert!(verify(&key, HashAlg::Sha256, &set, &body, 1785858162, &id, 2340836642).is_err());
        assert!(verify(&key, HashAlg::Sha256, &set, &body, 1785858161, &id, 2340836641).is_err());
        assert!(verify(&key, HashAlg::Sha256, &set, &body[1..], 1785858161, &id, 2340836642).is_err());
        let mut bad = set.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            verify(&key, HashAlg::Sha256, &bad, &body, 1785858161, &id, 2340836642),
            Err(SetError::Signature(PubkeyError::BadSignature))
        );
        assert_eq!(verify(&key, HashAlg::Sha256, &[], &body, 1785858161, &id, 2340836642), Err(SetError::Missing));
        assert!(verify(&key, HashAlg::Sha256, &[0x30, 0x00], &body, 1785858161, &id, 2340836642).is_err());
    }
}
