//! Verification of a Rekor entry against a trusted root: kind, log key, SET, inclusion proof, checkpoint.
//!
//! The caller rebuilds the canonical body from the signature it is verifying
//! ([`super::body::hashedrekord_offline`] / [`super::body::hashedrekord_online`]), so the entry is
//! bound to that signature by construction: an entry copied from another signature, or one whose
//! body was altered, fails the SET and the inclusion proof.
use super::checkpoint::{self, CheckpointError};
use super::entry::{KIND_HASHEDREKORD, TransparencyLogEntry, VERSION_0_0_1};
use super::merkle::{self, MerkleError};
use super::set::{self, SetError};
use crate::trust::root::TrustedRoot;

/// What a verified entry establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEntry {
    /// Global log index.
    pub log_index: i64,
    /// The SET-verified integration time (unix seconds): the verification time for the
    /// certificate (notBefore ≤ T ≤ notAfter, chain at T).
    pub integrated_time: i64,
    /// The log id (raw) of the trusted log that vouched for the entry.
    pub log_id: Vec<u8>,
    /// Whether an inclusion proof and its checkpoint were verified (otherwise only the SET).
    pub has_inclusion_proof: bool,
}

/// Why a Rekor entry did not verify. Each message says what failed and what it means.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlogError {
    /// The entry is not a hashedrekord v0.0.1 entry.
    #[error(
        "the log entry is of kind {kind:?} version {version:?}; only hashedrekord 0.0.1 entries (what gitsign logs) can be verified"
    )]
    UnsupportedKind {
        /// Entry kind.
        kind: String,
        /// Entry version.
        version: String,
    },
    /// The caller passed no body.
    #[error("no canonical body was given to check the log entry against: rebuild it from the signature being verified")]
    MissingBody,
    /// The entry carries a body that differs from the one rebuilt from the signature.
    #[error(
        "the log entry carries a body that differs from the one rebuilt from this signature: the entry was logged for another signature, certificate or artifact"
    )]
    BodyMismatch,
    /// An index, size or time in the entry is negative.
    #[error("the log entry is malformed: {field} is negative ({value})")]
    Negative {
        /// Field.
        field: &'static str,
        /// Value.
        value: i64,
    },
    /// No log in the trusted root has the entry's log id.
    #[error(
        "the log entry was signed by the transparency log {log_id}, which is not in the trusted root: use the trusted root of that Sigstore instance (or its Rekor public key)"
    )]
    UnknownLog {
        /// Log id, hex.
        log_id: String,
    },
    /// The trusted log's key is not an ECDSA key this crate checks (e.g. an Ed25519 Rekor v2 key).
    #[error(
        "the transparency log {log_id} has a {key_details} key, which cannot check Rekor v1 entries (Rekor v2 entries are not supported yet)"
    )]
    UnsupportedLogKey {
        /// Log id, hex.
        log_id: String,
        /// The key type.
        key_details: String,
    },
    /// The log key was not valid at the integrated time.
    #[error(
        "the log entry's integrated time {integrated_time} is outside the validity window of the Rekor key {log_id} in the trusted root"
    )]
    KeyNotValidAtTime {
        /// Log id, hex.
        log_id: String,
        /// Integrated time (unix seconds).
        integrated_time: i64,
    },
    /// The entry has no SET.
    #[error("the log entry has no signed entry timestamp (SET), so its integration time cannot be trusted")]
    MissingSet,
    /// The SET does not verify.
    #[error(
        "the log entry's signed entry timestamp does not verify with the Rekor key of the trusted root: the signature or its embedded log entry was altered, or the entry belongs to another signature ({0})"
    )]
    BadSet(SetError),
    /// The inclusion proof does not verify.
    #[error(
        "the log entry's inclusion proof does not lead from this signature's entry to the proof's root hash: the proof or the signature was altered ({0})"
    )]
    BadInclusionProof(MerkleError),
    /// An inclusion proof without a checkpoint.
    #[error("the log entry's inclusion proof has no signed checkpoint, so its root hash is not vouched for by the log")]
    MissingCheckpoint,
    /// The checkpoint is malformed, unsigned by the log key, or not for the proof's tree.
    #[error("the log entry's checkpoint does not vouch for the inclusion proof: {0}")]
    BadCheckpoint(CheckpointError),
}

fn non_negative(field: &'static str, value: i64) -> Result<u64, TlogError> {
    u64::try_from(value).map_err(|_| TlogError::Negative { field, value })
}

/// Verify a hashedrekord v0.0.1 entry against the trusted root.
///
/// `body` is the canonical body the caller rebuilt from the signature being verified; the
/// entry's own `canonicalized_body`, when present, must be identical. Checks, in order: kind and
/// version; the log key, chosen by log id from `trust` only (never from the log, GHSA-xvrc),
/// valid at `integrated_time`; the SET (required); when present, the inclusion proof with the
/// proof's own shard-local index and tree size and the leaf hash of `body`, and its checkpoint
/// (required with a proof): signature by the log key, size and root equal to the proof's.
pub fn verify_entry(
    entry: &TransparencyLogEntry,
    body: &[u8],
    trust: &TrustedRoot,
) -> Result<VerifiedEntry, TlogError> {
    if entry.kind != KIND_HASHEDREKORD || entry.version != VERSION_0_0_1 {
        return Err(TlogError::UnsupportedKind { kind: entry.kind.clone(), version: entry.version.clone() });
    }
    if body.is_empty() {
        return Err(TlogError::MissingBody);
    }
    if !entry.canonicalized_body.is_empty() && entry.canonicalized_body != body {
        return Err(TlogError::BodyMismatch);
    }
    non_negative("log_index", entry.log_index)?;
    non_negative("integrated_time", entry.integrated_time)?;

    let log_id_hex = hex::encode(&entry.log_id);
    let log = trust.tlog_by_id(&entry.log_id).ok_or_else(|| TlogError::UnknownLog { log_id: log_id_hex.clone() })?;
    let hash = log.ecdsa_hash().ok_or_else(|| TlogError::UnsupportedLogKey {
        log_id: log_id_hex.clone(),
        key_details: log.key_details.clone(),
    })?;
    if !log.valid_for.contains(entry.integrated_time) {
        return Err(TlogError::KeyNotValidAtTime { log_id: log_id_hex, integrated_time: entry.integrated_time });
    }

    set::verify(
        &log.public_key_der,
        hash,
        &entry.signed_entry_timestamp,
        body,
        entry.integrated_time,
        &entry.log_id,
        entry.log_index,
    )
    .map_err(|e| match e {
        SetError::Missing => TlogError::MissingSet,
        other => TlogError::BadSet(other),
    })?;

    if let Some(proof) = &entry.inclusion_proof {
        let index = non_negative("inclusion_proof.log_index", proof.log_index)?;
        let tree_size = non_negative("inclusion_proof.tree_size", proof.tree_size)?;
        let leaf = merkle::leaf_hash(body);
        merkle::verify_inclusion(index, tree_size, &leaf, &proof.hashes, &proof.root_hash)
            .map_err(TlogError::BadInclusionProof)?;
        if proof.checkpoint.is_empty() {
            return Err(TlogError::MissingCheckpoint);
        }
        checkpoint::verify(&proof.checkpoint, &log.public_key_der, hash, tree_size, &proof.root_hash)
            .map_err(TlogError::BadCheckpoint)?;
    }

    Ok(VerifiedEntry {
        log_index: entry.log_index,
        integrated_time: entry.integrated_time,
        log_id: entry.log_id.clone(),
        has_inclusion_proof: entry.inclusion_proof.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::rekor::entry::InclusionProof;
    use crate::trust::root::{TransparencyLog, ValidFor};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use ecdsa::signature::Signer;
    use spki::EncodePublicKey;

    /// A self-made log with one entry in a 5-leaf tree, signed by a test key.
    struct Fixture {
        trust: TrustedRoot,
        entry: TransparencyLogEntry,
        body: Vec<u8>,
        sk: p256::ecdsa::SigningKey,
    }

    fn sign(sk: &p256::ecdsa::SigningKey, msg: &[u8]) -> Vec<u8> {
        let sig: p256::ecdsa::DerSignature = sk.sign(msg);
        sig.as_bytes().to_vec()
    }

    fn checkpoint(sk: &p256::ecdsa::SigningKey, spki: &[u8], size: u64, root: &[u8]) -> String {
        let text = format!("test.log - 1\n{size}\n{}\n", STANDARD.encode(root));
        let mut raw = checkpoint::key_hint(spki).to_vec();
        raw.extend(sign(sk, text.as_bytes()));
        format!("{text}\n\u{2014} test.log {}\n", STANDARD.encode(raw))
    }

    fn fixture() -> Fixture {
        let sk = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).unwrap();
        let spki = sk.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec();
        let log_id = crate::crypto::pubkey::key_id(&spki).to_vec();
        let body = crate::services::rekor::body::hashedrekord("aa", b"sig", b"cert");
        // tree of 5 leaves: ours is leaf 2
        let leaves: Vec<[u8; 32]> =
            (0..5).map(|i| if i == 2 { merkle::leaf_hash(&body) } else { merkle::leaf_hash(&[i as u8]) }).collect();
        let n01 = merkle::node_hash(&leaves[0], &leaves[1]);
        let n23 = merkle::node_hash(&leaves[2], &leaves[3]);
        let n0123 = merkle::node_hash(&n01, &n23);
        let root = merkle::node_hash(&n0123, &leaves[4]);
        let hashes = vec![leaves[3].to_vec(), n01.to_vec(), leaves[4].to_vec()];
        let (integrated_time, log_index) = (1_700_000_000, 7_000_000_002);
        let set = sign(&sk, &set::payload(&body, integrated_time, &log_id, log_index));
        let entry = TransparencyLogEntry {
            log_index,
            log_id: log_id.clone(),
            kind: "hashedrekord".into(),
            version: "0.0.1".into(),
            integrated_time,
            signed_entry_timestamp: set,
            inclusion_proof: Some(InclusionProof {
                log_index: 2,
                root_hash: root.to_vec(),
                tree_size: 5,
                hashes,
                checkpoint: checkpoint(&sk, &spki, 5, &root),
            }),
            canonicalized_body: Vec::new(),
        };
        let trust = TrustedRoot {
            tlogs: vec![TransparencyLog {
                base_url: "https://test.log".into(),
                log_id,
                public_key_der: spki,
                key_details: crate::trust::root::KEY_ECDSA_P256_SHA256.into(),
                valid_for: ValidFor { start: 1_600_000_000, end: Some(1_800_000_000) },
            }],
            ..Default::default()
        };
        Fixture { trust, entry, body, sk }
    }

    #[test]
    fn good_entry_and_each_failure() {
        let f = fixture();
        let ok = verify_entry(&f.entry, &f.body, &f.trust).unwrap();
        assert_eq!(ok.log_index, 7_000_000_002);
        assert!(ok.has_inclusion_proof);

        // SET only (no proof) is accepted and reported as such
        let mut e = f.entry.clone();
        e.inclusion_proof = None;
        assert!(!verify_entry(&e, &f.body, &f.trust).unwrap().has_inclusion_proof);

        // entry carrying the same body is fine, a different one is not
        let mut e = f.entry.clone();
        e.canonicalized_body = f.body.clone();
        verify_entry(&e, &f.body, &f.trust).unwrap();
        e.canonicalized_body.push(b' ');
        assert_eq!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::BodyMismatch));

        assert_eq!(verify_entry(&f.entry, b"", &f.trust), Err(TlogError::MissingBody));
        let other_body = crate::services::rekor::body::hashedrekord("ab", b"sig", b"cert");
        assert!(matches!(verify_entry(&f.entry, &other_body, &f.trust), Err(TlogError::BadSet(_))));

        let mut e = f.entry.clone();
        e.kind = "rekord".into();
        assert!(matches!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::UnsupportedKind { .. })));
        let mut e = f.entry.clone();
        e.version = "0.0.2".into();
        assert!(matches!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::UnsupportedKind { .. })));

        let mut e = f.entry.clone();
        e.log_id[0] ^= 1;
        assert!(matches!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::UnknownLog { .. })));

        let mut t = f.trust.clone();
        t.tlogs[0].valid_for.end = Some(1_699_999_999);
        assert!(matches!(verify_entry(&f.entry, &f.body, &t), Err(TlogError::KeyNotValidAtTime { .. })));
        let mut t = f.trust.clone();
        t.tlogs[0].valid_for.start = 1_700_000_001;
        assert!(matches!(verify_entry(&f.entry, &f.body, &t), Err(TlogError::KeyNotValidAtTime { .. })));
        let mut t = f.trust.clone();
        t.tlogs[0].public_key_der = TrustedRoot::production().unwrap().tlogs[1].public_key_der.clone();
        t.tlogs[0].key_details = crate::trust::root::KEY_ED25519.into();
        assert!(matches!(verify_entry(&f.entry, &f.body, &t), Err(TlogError::UnsupportedLogKey { .. })));

        let mut e = f.entry.clone();
        e.signed_entry_timestamp.clear();
        assert_eq!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::MissingSet));
        let mut e = f.entry.clone();
        e.integrated_time += 1;
        assert!(matches!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::BadSet(_))));
        let mut e = f.entry.clone();
        e.log_index = -1;
        assert!(matches!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::Negative { .. })));

        fn proof(e: &mut TransparencyLogEntry) -> &mut InclusionProof {
            e.inclusion_proof.as_mut().unwrap()
        }
        let mut e = f.entry.clone();
        proof(&mut e).log_index = 3;
        assert!(matches!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::BadInclusionProof(_))));
        let mut e = f.entry.clone();
        proof(&mut e).hashes[1][0] ^= 1;
        assert!(matches!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::BadInclusionProof(_))));
        let mut e = f.entry.clone();
        proof(&mut e).hashes.pop();
        assert!(matches!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::BadInclusionProof(_))));
        let mut e = f.entry.clone();
        proof(&mut e).tree_size = -5;
        assert!(matches!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::Negative { .. })));
        let mut e = f.entry.clone();
        proof(&mut e).checkpoint.clear();
        assert_eq!(verify_entry(&e, &f.body, &f.trust), Err(TlogError::MissingCheckpoint));

        // A proof claiming a bigger tree than the checkpoint vouches for.
        let mut e = f.entry.clone();
        let root = proof(&mut e).root_hash.clone();
        proof(&mut e).tree_size = 6;
        // Either the path no longer fits the claimed size or the checkpoint (size 5) refuses it.
        let r = verify_entry(&e, &f.body, &f.trust);
        assert!(matches!(r, Err(TlogError::BadInclusionProof(_)) | Err(TlogError::BadCheckpoint(_))), "{r:?}");

        // checkpoint signed by another key, or for another root
        let other = p256::ecdsa::SigningKey::from_slice(&[4u8; 32]).unwrap();
        let spki = f.trust.tlogs[0].public_key_der.clone();
        let mut e = f.entry.clone();
        proof(&mut e).checkpoint = checkpoint(&other, &spki, 5, &root);
        assert!(matches!(
            verify_entry(&e, &f.body, &f.trust),
            Err(TlogError::BadCheckpoint(CheckpointError::BadSignature(_)))
        ));
        let mut e = f.entry.clone();
        proof(&mut e).checkpoint = checkpoint(&f.sk, &spki, 5, &[0u8; 32]);
        assert!(matches!(
            verify_entry(&e, &f.body, &f.trust),
            Err(TlogError::BadCheckpoint(CheckpointError::RootMismatch { .. }))
        ));
        let mut e = f.entry.clone();
        proof(&mut e).checkpoint = checkpoint(&f.sk, &spki, 6, &root);
        assert!(matches!(
            verify_entry(&e, &f.body, &f.trust),
            Err(TlogError::BadCheckpoint(CheckpointError::SizeMismatch { .. }))
        ));
    }

    #[test]
    fn keys_come_from_the_trust_root_only() {
        // GHSA-xvrc: an entry signed by a key the log itself would serve is rejected when the
        // trusted root does not hold that key, even with a perfect SET and proof.
        let f = fixture();
        let prod = TrustedRoot::production().unwrap();
        assert!(matches!(verify_entry(&f.entry, &f.body, prod), Err(TlogError::UnknownLog { .. })));
        // Same log id but the trusted key is another one: the SET fails.
        let mut t = f.trust.clone();
        t.tlogs[0].public_key_der = prod.tlogs[0].public_key_der.clone();
        assert!(matches!(verify_entry(&f.entry, &f.body, &t), Err(TlogError::BadSet(_))));
    }
}
