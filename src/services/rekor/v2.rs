//! Verification of a Rekor v2 entry (`hashedrekord` 0.0.2, rekor-tiles) against a trusted root.
//!
//! A v2 entry has no SET and no meaningful integrated time. What vouches for it:
//! - its `canonicalizedBody` (a protobuf-JSON `Entry`), parsed and compared field by field with
//!   the body expected from what is being verified (digest, signature, verifier, key details);
//!   its bytes are not reproducible, so the RFC 6962 leaf hash is taken over the bytes as logged;
//! - the inclusion proof from that leaf to the proof's root, and the checkpoint (a C2SP signed
//!   note) whose origin is the log's, signed by the log key of the trusted root (Ed25519 or
//!   ECDSA), found by name and key hint among any other signature lines (witnesses), for the
//!   proof's size and root;
//! - the time, from RFC 3161 timestamps over the signature: every token must verify against a
//!   timestamp authority of the trusted root, and the log key and the signer's certificate must
//!   be valid at each token's time.
//!
//! [`verify_entry_v2`] takes the entry, the expected body pieces, the tokens and the trusted root
//! and returns the verified time; bundles and (later) CMS-embedded v2 entries share it.
use super::checkpoint::{Checkpoint, CheckpointError};
use super::entry::{KIND_HASHEDREKORD, TransparencyLogEntry};
use super::merkle::{self, MerkleError};
use crate::crypto::pubkey::{self, PubkeyError};
use crate::crypto::x509::CertInfo;
use crate::services::tsa::{self, TimestampError};
use crate::trust::root::{KEY_ED25519, TransparencyLog, TrustedRoot};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The `kindVersion.version` of a Rekor v2 hashedrekord entry.
pub const VERSION_0_0_2: &str = "0.0.2";

/// Who the entry must name as the signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVerifier<'a> {
    /// The signing certificate, DER.
    Certificate(&'a [u8]),
    /// A public key, SubjectPublicKeyInfo DER.
    PublicKey(&'a [u8]),
}

/// The pieces of the hashedrekord 0.0.2 body the entry must record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedBody<'a> {
    /// SHA-256 of the signed bytes (the artifact, or a DSSE envelope's PAE).
    pub digest: [u8; 32],
    /// The signature.
    pub signature: &'a [u8],
    /// The signer.
    pub verifier: ExpectedVerifier<'a>,
    /// The signer key's `keyDetails`, e.g. `PKIX_ECDSA_P256_SHA_256`.
    pub key_details: &'a str,
}

/// What a verified v2 entry establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedV2 {
    /// Global log index.
    pub log_index: i64,
    /// The log id (raw) of the trusted log.
    pub log_id: Vec<u8>,
    /// The verified signing time: the earliest verified timestamp (unix seconds).
    pub time: i64,
    /// Every verified timestamp time (unix seconds), in the bundle's order.
    pub timestamps: Vec<i64>,
}

/// Why a Rekor v2 entry did not verify.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum V2Error {
    /// Not a hashedrekord 0.0.2 entry.
    #[error("the log entry is of kind {kind:?} version {version:?}, not a Rekor v2 hashedrekord 0.0.2 entry")]
    UnsupportedKind {
        /// Kind.
        kind: String,
        /// Version.
        version: String,
    },
    /// The body is not what was signed.
    #[error(
        "the log entry does not record this signature: {0} (the entry was logged for another artifact, signature or signer)"
    )]
    BodyMismatch(String),
    /// The body is not a hashedrekord 0.0.2 `Entry`.
    #[error("the log entry's body is not a Rekor v2 hashedrekord entry: {0}")]
    MalformedBody(String),
    /// The log is not in the trusted root.
    #[error(
        "the log entry was made by the transparency log {log_id}, which is not in the trusted root: use the trusted root of that Sigstore instance"
    )]
    UnknownLog {
        /// Log id, hex.
        log_id: String,
    },
    /// No inclusion proof or no checkpoint.
    #[error("a Rekor v2 entry must carry an inclusion proof with its signed checkpoint; this one has none")]
    MissingProof,
    /// A negative index or size.
    #[error("the log entry is malformed: {field} is negative ({value})")]
    Negative {
        /// Field.
        field: &'static str,
        /// Value.
        value: i64,
    },
    /// The proof does not lead to the root.
    #[error(
        "the log entry's inclusion proof does not lead from this entry to the proof's root hash: the proof or the entry was altered ({0})"
    )]
    BadInclusionProof(MerkleError),
    /// The checkpoint does not vouch for the proof.
    #[error("the log entry's checkpoint does not vouch for the inclusion proof: {0}")]
    BadCheckpoint(CheckpointError),
    /// The checkpoint's origin is not the log's.
    #[error("the checkpoint is for the log {got:?}, not for the trusted log {want}")]
    WrongOrigin {
        /// The note's origin.
        got: String,
        /// The trusted log (its origin or URL).
        want: String,
    },
    /// The log key is of a type this crate does not check.
    #[error("the transparency log {log_id} has a {key_details} key, which cannot check a checkpoint")]
    UnsupportedLogKey {
        /// Log id, hex.
        log_id: String,
        /// Key type.
        key_details: String,
    },
    /// No timestamp.
    #[error(
        "the Rekor v2 entry has no RFC 3161 timestamp, so the signing time cannot be established (a v2 log does not sign a time): sign with a timestamp authority"
    )]
    NoTimestamp,
    /// A timestamp did not verify.
    #[error("{0}")]
    Timestamp(#[from] TimestampError),
    /// The log key was not valid at the timestamp.
    #[error(
        "the signature was timestamped at {}, outside the validity window of the transparency log {log_id} in the trusted root",
        crate::encoding::timefmt::rfc3339(*t)
    )]
    LogNotValidAt {
        /// Log id, hex.
        log_id: String,
        /// The time.
        t: i64,
    },
}

fn non_negative(field: &'static str, value: i64) -> Result<u64, V2Error> {
    u64::try_from(value).map_err(|_| V2Error::Negative { field, value })
}

// The protobuf-JSON `Entry` of a hashedrekord 0.0.2 body. Unknown fields are refused: a body
// that records more than it should is not the expected body.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Entry {
    kind: String,
    api_version: String,
    spec: Spec,
}
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Spec {
    hashed_rekord_v002: HashedRekordV002,
}
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HashedRekordV002 {
    data: HashOutput,
    signature: Signature,
}
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HashOutput {
    algorithm: String,
    digest: String,
}
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Signature {
    content: String,
    verifier: Verifier,
}
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Verifier {
    #[serde(default)]
    x509_certificate: Option<RawBytes>,
    #[serde(default)]
    public_key: Option<RawBytes>,
    key_details: String,
}
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawBytes {
    raw_bytes: String,
}

/// Protobuf JSON bytes: standard or URL-safe base64.
fn bytes(s: &str, field: &str) -> Result<Vec<u8>, V2Error> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(b) = engine.decode(s) {
            return Ok(b);
        }
    }
    Err(V2Error::MalformedBody(format!("{field} is not base64")))
}

/// Parse the logged body and compare it, field by field, with the expected one.
pub fn check_body(body: &[u8], expected: &ExpectedBody<'_>) -> Result<(), V2Error> {
    let e: Entry = serde_json::from_slice(body).map_err(|e| V2Error::MalformedBody(e.to_string()))?;
    if e.kind != KIND_HASHEDREKORD || e.api_version != VERSION_0_0_2 {
        return Err(V2Error::MalformedBody(format!("it is {} {}", e.kind, e.api_version)));
    }
    let h = e.spec.hashed_rekord_v002;
    if h.data.algorithm != "SHA2_256" {
        return Err(V2Error::BodyMismatch(format!("its digest algorithm is {:?}, not SHA2_256", h.data.algorithm)));
    }
    let digest = bytes(&h.data.digest, "data.digest")?;
    if digest != expected.digest {
        return Err(V2Error::BodyMismatch(format!(
            "it records the digest {}, not {}",
            hex::encode(&digest),
            hex::encode(expected.digest)
        )));
    }
    if bytes(&h.signature.content, "signature.content")? != expected.signature {
        return Err(V2Error::BodyMismatch("it records another signature".into()));
    }
    let v = h.signature.verifier;
    match (expected.verifier, v.x509_certificate, v.public_key) {
        (ExpectedVerifier::Certificate(der), Some(c), None) => {
            if bytes(&c.raw_bytes, "verifier.x509Certificate.rawBytes")? != der {
                return Err(V2Error::BodyMismatch("it records another certificate".into()));
            }
        }
        (ExpectedVerifier::PublicKey(spki), None, Some(k)) => {
            if bytes(&k.raw_bytes, "verifier.publicKey.rawBytes")? != spki {
                return Err(V2Error::BodyMismatch("it records another public key".into()));
            }
        }
        _ => return Err(V2Error::BodyMismatch("it records another kind of verifier".into())),
    }
    if v.key_details != expected.key_details {
        return Err(V2Error::BodyMismatch(format!(
            "it records the key type {}, not {}",
            v.key_details, expected.key_details
        )));
    }
    Ok(())
}

/// The log id (and checkpoint key id) of an Ed25519 log: SHA-256(origin ‖ "\n" ‖ 0x01 ‖ key).
pub fn ed25519_log_id(origin: &str, raw_key: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(origin.as_bytes());
    h.update(b"\n\x01");
    h.update(raw_key);
    h.finalize().into()
}

/// The origin expected of an ECDSA v2 log: its URL without the scheme and trailing slash.
fn url_origin(base_url: &str) -> &str {
    let s = base_url.split_once("://").map_or(base_url, |(_, rest)| rest);
    s.trim_end_matches('/')
}

/// Verify a checkpoint note for `log`: the origin is the log's (its URL without the scheme, or,
/// for Ed25519 logs, the origin whose key id is the log id), one signature line under the
/// origin's name with the log key's hint verifies with the log key (other lines, e.g. witness
/// cosignatures, are ignored), and the size and root are the proof's.
pub fn verify_checkpoint(
    note: &str,
    log: &TransparencyLog,
    tree_size: u64,
    root_hash: &[u8],
) -> Result<Checkpoint, V2Error> {
    let cp = Checkpoint::parse(note).map_err(V2Error::BadCheckpoint)?;
    let ed25519 = log.key_details == KEY_ED25519;
    let url_origin_ok = cp.origin == url_origin(&log.base_url);
    // The key hint (C2SP signed-note key id): for Ed25519, SHA-256(origin ‖ "\n" ‖ 0x01 ‖ key),
    // which is also the log id of an Ed25519 log in Sigstore trusted roots (so the log id binds
    // the origin); for ECDSA, SHA-256 of the SubjectPublicKeyInfo.
    let (hint, hash) = if ed25519 {
        let raw = pubkey::ed25519_raw(&log.public_key_der).map_err(|e| V2Error::UnsupportedLogKey {
            log_id: log.log_id_hex(),
            key_details: format!("{} ({e})", log.key_details),
        })?;
        let key_id = ed25519_log_id(&cp.origin, &raw);
        if key_id.as_slice() != log.log_id.as_slice() && !url_origin_ok {
            return Err(V2Error::WrongOrigin { got: cp.origin.clone(), want: log.log_id_hex() });
        }
        ([key_id[0], key_id[1], key_id[2], key_id[3]], None)
    } else {
        if !url_origin_ok {
            return Err(V2Error::WrongOrigin { got: cp.origin.clone(), want: url_origin(&log.base_url).to_string() });
        }
        let hash = log.ecdsa_hash().ok_or_else(|| V2Error::UnsupportedLogKey {
            log_id: log.log_id_hex(),
            key_details: log.key_details.clone(),
        })?;
        let key_id = pubkey::key_id(&log.public_key_der);
        ([key_id[0], key_id[1], key_id[2], key_id[3]], Some(hash))
    };
    let mut last: Option<PubkeyError> = None;
    let mut found = false;
    for sig in cp.signatures.iter().filter(|s| s.key_hint == hint && s.name == cp.origin) {
        found = true;
        let r = match hash {
            None => pubkey::verify_ed25519(&log.public_key_der, cp.signed_text.as_bytes(), &sig.signature),
            Some(h) => pubkey::verify(&log.public_key_der, h, cp.signed_text.as_bytes(), &sig.signature),
        };
        match r {
            Ok(()) => {
                cp.check_matches(tree_size, root_hash).map_err(V2Error::BadCheckpoint)?;
                return Ok(cp);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(V2Error::BadCheckpoint(match (found, last) {
        (true, Some(e)) => CheckpointError::BadSignature(e),
        _ => CheckpointError::NoSignatureForKey { hint: hex::encode(hint) },
    }))
}

/// Verify a Rekor v2 hashedrekord 0.0.2 entry and establish the signing time.
///
/// In order: kind and version; the body against `expected`; the log, chosen by log id from
/// `trust` only; the inclusion proof (required) over the leaf hash of the logged body; the
/// checkpoint ([`verify_checkpoint`]); the timestamps (at least one; every one must verify over
/// `expected.signature` against the trusted TSAs, with the log key, and the certificate when
/// the verifier is one, valid at its time). Returns the earliest verified time.
pub fn verify_entry_v2(
    entry: &TransparencyLogEntry,
    expected: &ExpectedBody<'_>,
    timestamps: &[Vec<u8>],
    trust: &TrustedRoot,
) -> Result<VerifiedV2, V2Error> {
    if entry.kind != KIND_HASHEDREKORD || entry.version != VERSION_0_0_2 {
        return Err(V2Error::UnsupportedKind { kind: entry.kind.clone(), version: entry.version.clone() });
    }
    check_body(&entry.canonicalized_body, expected)?;
    non_negative("logIndex", entry.log_index)?;
    let log =
        trust.tlog_by_id(&entry.log_id).ok_or_else(|| V2Error::UnknownLog { log_id: hex::encode(&entry.log_id) })?;
    let proof = entry.inclusion_proof.as_ref().filter(|p| !p.checkpoint.is_empty()).ok_or(V2Error::MissingProof)?;
    let index = non_negative("inclusionProof.logIndex", proof.log_index)?;
    let size = non_negative("inclusionProof.treeSize", proof.tree_size)?;
    let leaf = merkle::leaf_hash(&entry.canonicalized_body);
    merkle::verify_inclusion(index, size, &leaf, &proof.hashes, &proof.root_hash)
        .map_err(V2Error::BadInclusionProof)?;
    verify_checkpoint(&proof.checkpoint, log, size, &proof.root_hash)?;

    if timestamps.is_empty() {
        return Err(V2Error::NoTimestamp);
    }
    let cert = match expected.verifier {
        ExpectedVerifier::Certificate(der) => {
            Some(CertInfo::parse(der).map_err(|e| V2Error::MalformedBody(format!("the certificate: {e}")))?)
        }
        ExpectedVerifier::PublicKey(_) => None,
    };
    let times = tsa::verify_all(timestamps, expected.signature, cert.as_ref(), trust)?;
    for &t in &times {
        if !log.valid_for.contains(t) {
            return Err(V2Error::LogNotValidAt { log_id: log.log_id_hex(), t });
        }
    }
    let time = times.iter().copied().min().ok_or(V2Error::NoTimestamp)?;
    Ok(VerifiedV2 { log_index: entry.log_index, log_id: entry.log_id.clone(), time, timestamps: times })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::rekor::entry::InclusionProof;
    use crate::trust::root::{KEY_ECDSA_P256_SHA256, ValidFor};
    use ring::signature::KeyPair;
    use spki::EncodePublicKey;

    const ED_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

    /// A one-entry Ed25519 log "v2.test/1" and its trusted root.
    fn ed_log() -> (ring::signature::Ed25519KeyPair, TransparencyLog) {
        let kp = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[5u8; 32]).unwrap();
        let raw: [u8; 32] = kp.public_key().as_ref().try_into().unwrap();
        let spki = [&ED_PREFIX[..], &raw].concat();
        let log = TransparencyLog {
            base_url: "https://v2.test".into(),
            log_id: ed25519_log_id("v2.test/1", &raw).to_vec(),
            public_key_der: spki,
            key_details: KEY_ED25519.into(),
            valid_for: ValidFor::OPEN,
        };
        (kp, log)
    }

    fn note(origin: &str, size: u64, root: &[u8], lines: &[(String, Vec<u8>)]) -> (String, String) {
        let text = format!("{origin}\n{size}\n{}\n", STANDARD.encode(root));
        let sigs: String = lines.iter().map(|(n, s)| format!("\u{2014} {n} {}\n", STANDARD.encode(s))).collect();
        (text.clone(), format!("{text}\n{sigs}"))
    }

    fn ed_line(
        kp: &ring::signature::Ed25519KeyPair,
        log: &TransparencyLog,
        name: &str,
        text: &str,
    ) -> (String, Vec<u8>) {
        let mut raw = log.log_id[..4].to_vec();
        raw.extend_from_slice(kp.sign(text.as_bytes()).as_ref());
        (name.to_string(), raw)
    }

    #[test]
    fn ed25519_checkpoint_with_witnesses() {
        let (kp, log) = ed_log();
        let root = [9u8; 32];
        let text = format!("v2.test/1\n3\n{}\n", STANDARD.encode(root));
        let good = ed_line(&kp, &log, "v2.test/1", &text);
        let witness = ("witness.test".to_string(), vec![1u8; 72]);
        for lines in [vec![good.clone()], vec![witness.clone(), good.clone()], vec![good.clone(), witness.clone()]] {
            let (_, n) = note("v2.test/1", 3, &root, &lines);
            verify_checkpoint(&n, &log, 3, &root).unwrap();
        }
        let (_, n) = note("v2.test/1", 3, &root, std::slice::from_ref(&good));
        assert!(matches!(
            verify_checkpoint(&n, &log, 4, &root),
            Err(V2Error::BadCheckpoint(CheckpointError::SizeMismatch { .. }))
        ));
        assert!(matches!(
            verify_checkpoint(&n, &log, 3, &[8u8; 32]),
            Err(V2Error::BadCheckpoint(CheckpointError::RootMismatch { .. }))
        ));
        // only a witness
        let (_, n) = note("v2.test/1", 3, &root, std::slice::from_ref(&witness));
        assert!(matches!(
            verify_checkpoint(&n, &log, 3, &root),
            Err(V2Error::BadCheckpoint(CheckpointError::NoSignatureForKey { .. }))
        ));
        // a forged signature
        let mut bad = good.clone();
        bad.1[10] ^= 1;
        let (_, n) = note("v2.test/1", 3, &root, &[bad]);
        assert!(matches!(
            verify_checkpoint(&n, &log, 3, &root),
            Err(V2Error::BadCheckpoint(CheckpointError::BadSignature(_)))
        ));
        // the log's key, another origin (signed as such): not this log
        let other_text = format!("v2.test/2\n3\n{}\n", STANDARD.encode(root));
        let (_, n) = note("v2.test/2", 3, &root, &[ed_line(&kp, &log, "v2.test/2", &other_text)]);
        assert!(matches!(verify_checkpoint(&n, &log, 3, &root), Err(V2Error::WrongOrigin { .. })));
        // a log listed with another log id form (SHA-256 of the SPKI): its URL gives the origin
        let (kp2, mut url_log) = ed_log();
        url_log.base_url = "https://v2.test/1".into();
        url_log.log_id = crate::crypto::pubkey::key_id(&url_log.public_key_der).to_vec();
        let mut line = ed_line(&kp2, &log, "v2.test/1", &text);
        let (_, n) = note("v2.test/1", 3, &root, std::slice::from_ref(&line));
        verify_checkpoint(&n, &url_log, 3, &root).unwrap();
        url_log.base_url = "https://elsewhere.test".into();
        assert!(matches!(verify_checkpoint(&n, &url_log, 3, &root), Err(V2Error::WrongOrigin { .. })));
        line.1[0] ^= 1; // another key hint
        let (_, n) = note("v2.test/1", 3, &root, &[line]);
        assert!(verify_checkpoint(&n, &log, 3, &root).is_err());
        // the right signature under another key name is not the log's line
        let (_, n) = note("v2.test/1", 3, &root, &[ed_line(&kp, &log, "other.name", &text)]);
        assert!(verify_checkpoint(&n, &log, 3, &root).is_err());
    }

    #[test]
    fn ecdsa_checkpoint() {
        use ecdsa::signature::Signer;
        let sk = p256::ecdsa::SigningKey::from_slice(&[6u8; 32]).unwrap();
        let spki = sk.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec();
        let log = TransparencyLog {
            base_url: "https://ecdsa.v2.test/".into(),
            log_id: crate::crypto::pubkey::key_id(&spki).to_vec(),
            public_key_der: spki,
            key_details: KEY_ECDSA_P256_SHA256.into(),
            valid_for: ValidFor::OPEN,
        };
        let root = [3u8; 32];
        let line = |origin: &str| {
            let text = format!("{origin}\n1\n{}\n", STANDARD.encode(root));
            let sig: p256::ecdsa::DerSignature = sk.sign(text.as_bytes());
            let mut raw = log.log_id[..4].to_vec();
            raw.extend_from_slice(sig.as_bytes());
            note(origin, 1, &root, &[(origin.to_string(), raw)]).1
        };
        verify_checkpoint(&line("ecdsa.v2.test"), &log, 1, &root).unwrap();
        assert!(matches!(verify_checkpoint(&line("elsewhere.test"), &log, 1, &root), Err(V2Error::WrongOrigin { .. })));
    }

    fn body(digest: &[u8], sig: &[u8], cert: &[u8], details: &str) -> Vec<u8> {
        serde_json::to_vec(
            &serde_json::json!({"kind": "hashedrekord", "apiVersion": "0.0.2", "spec": {"hashedRekordV002": {
            "data": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest)},
            "signature": {"content": STANDARD.encode(sig), "verifier": {
                "x509Certificate": {"rawBytes": STANDARD.encode(cert)}, "keyDetails": details}}}}}),
        )
        .unwrap()
    }

    #[test]
    fn body_is_compared_field_by_field() {
        let expected = ExpectedBody {
            digest: [1u8; 32],
            signature: b"sig",
            verifier: ExpectedVerifier::Certificate(b"cert"),
            key_details: KEY_ECDSA_P256_SHA256,
        };
        check_body(&body(&[1u8; 32], b"sig", b"cert", KEY_ECDSA_P256_SHA256), &expected).unwrap();
        // key order and whitespace do not matter
        let spaced = b"{ \"spec\": {\"hashedRekordV002\": {\"signature\": {\"verifier\": {\"keyDetails\": \"PKIX_ECDSA_P256_SHA_256\", \"x509Certificate\": {\"rawBytes\": \"Y2VydA==\"}}, \"content\": \"c2ln\"}, \"data\": {\"digest\": \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\", \"algorithm\": \"SHA2_256\"}}}, \"apiVersion\": \"0.0.2\", \"kind\": \"hashedrekord\" }";
        check_body(spaced, &expected).unwrap();
        for (b, what) in [
            (body(&[2u8; 32], b"sig", b"cert", KEY_ECDSA_P256_SHA256), "digest"),
            (body(&[1u8; 32], b"sih", b"cert", KEY_ECDSA_P256_SHA256), "signature"),
            (body(&[1u8; 32], b"sig", b"ceru", KEY_ECDSA_P256_SHA256), "certificate"),
            (body(&[1u8; 32], b"sig", b"cert", "PKIX_ECDSA_P384_SHA_384"), "key type"),
        ] {
            assert!(matches!(check_body(&b, &expected), Err(V2Error::BodyMismatch(_))), "{what}");
        }
        let mut v: serde_json::Value =
            serde_json::from_slice(&body(&[1u8; 32], b"sig", b"cert", KEY_ECDSA_P256_SHA256)).unwrap();
        v["spec"]["hashedRekordV002"]["extra"] = "x".into();
        assert!(matches!(check_body(&serde_json::to_vec(&v).unwrap(), &expected), Err(V2Error::MalformedBody(_))));
        v["spec"]["hashedRekordV002"].as_object_mut().unwrap().remove("extra");
        v["apiVersion"] = "0.0.1".into();
        assert!(matches!(check_body(&serde_json::to_vec(&v).unwrap(), &expected), Err(V2Error::MalformedBody(_))));
    }

    #[test]
    fn entry_needs_proof_and_timestamp() {
        let (kp, log) = ed_log();
        let b = body(&[1u8; 32], b"sig", b"cert", KEY_ECDSA_P256_SHA256);
        let root = merkle::leaf_hash(&b);
        let text = format!("v2.test/1\n1\n{}\n", STANDARD.encode(root));
        let (_, cp) = note("v2.test/1", 1, &root, &[ed_line(&kp, &log, "v2.test/1", &text)]);
        let trust = TrustedRoot { tlogs: vec![log.clone()], ..Default::default() };
        let mut entry = TransparencyLogEntry {
            log_index: 0,
            log_id: log.log_id.clone(),
            kind: "hashedrekord".into(),
            version: "0.0.2".into(),
            integrated_time: 0,
            signed_entry_timestamp: Vec::new(),
            inclusion_proof: Some(InclusionProof {
                log_index: 0,
                root_hash: root.to_vec(),
                tree_size: 1,
                hashes: vec![],
                checkpoint: cp,
            }),
            canonicalized_body: b,
        };
        // The certificate is not parsed before the evidence is: everything up to the time checks.
        let expected = ExpectedBody {
            digest: [1u8; 32],
            signature: b"sig",
            verifier: ExpectedVerifier::PublicKey(b"cert"),
            key_details: KEY_ECDSA_P256_SHA256,
        };
        assert!(matches!(verify_entry_v2(&entry, &expected, &[], &trust), Err(V2Error::BodyMismatch(_))));
        let expected = ExpectedBody { verifier: ExpectedVerifier::Certificate(b"cert"), ..expected };
        assert_eq!(verify_entry_v2(&entry, &expected, &[], &trust), Err(V2Error::NoTimestamp));
        assert!(matches!(verify_entry_v2(&entry, &expected, &[vec![0x30, 0]], &trust), Err(V2Error::MalformedBody(_))));
        entry.canonicalized_body.push(b' ');
        assert!(matches!(verify_entry_v2(&entry, &expected, &[], &trust), Err(V2Error::BadInclusionProof(_))));
        entry.canonicalized_body.pop();
        entry.inclusion_proof.as_mut().unwrap().checkpoint.clear();
        assert_eq!(verify_entry_v2(&entry, &expected, &[], &trust), Err(V2Error::MissingProof));
        entry.version = "0.0.1".into();
        assert!(matches!(verify_entry_v2(&entry, &expected, &[], &trust), Err(V2Error::UnsupportedKind { .. })));
    }
}
