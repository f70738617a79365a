//! Offline verification of any Sigstore bundle (v0.1, v0.2, v0.3) with the same core as gitsign
//! signatures: the Rekor v1 entry ([`verify_entry`]: SET, inclusion proof, checkpoint), the
//! certificate chain at the SET-verified integrated time ([`x509::verify_chain`]), the embedded
//! SCT ([`x509::verify_sct`]) and the identity policy ([`Policy`]); or, instead of a
//! certificate, a public key the caller trusts.
//!
//! Supported content: `messageSignature` over an artifact (hashedrekord 0.0.1 entries), and
//! `dsseEnvelope` with an in-toto statement whose subject names the artifact (dsse 0.0.1 and
//! intoto 0.0.2 entries, or a hashedrekord 0.0.1 entry over SHA-256 of the envelope's PAE, as
//! the client spec allows). Managed-key entries may carry only an inclusion proof; certificate
//! signers need the SET. RFC 3161 timestamps in `timestampVerificationData`, when present, must
//! all verify against the trusted TSAs, with the certificate valid at each token's time.
//!
//! Rekor v2 entries (hashedrekord 0.0.2, over the artifact or the DSSE PAE) have no SET: they
//! are checked by [`verify_entry_v2`] (body compared field by field, inclusion proof, signed
//! checkpoint) and their time is that of the RFC 3161 timestamps, which are then required.
//!
//! Rules from the sigstore-conformance suite: exactly one tlog entry; a v0.1 bundle needs an
//! inclusion promise (SET), v0.2 and later an inclusion proof with a checkpoint; negative
//! indices are rejected; a certificate chain that includes a root (a self-signed certificate)
//! is rejected; trusted-root `validFor` windows include their end.
use crate::crypto::pubkey::{self, HashAlg, PubkeyError};
use crate::crypto::x509::{self, CertError, CertInfo, ChainError, SctError};
use crate::pipelines::verify::policy::{Policy, PolicyError};
use crate::services::rekor::entry::{InclusionProof, TransparencyLogEntry};
use crate::services::rekor::v2::{ExpectedBody, ExpectedVerifier, V2Error, VERSION_0_0_2, verify_entry_v2};
use crate::services::rekor::verify::{TlogError, verify_entry};
use crate::services::tsa::{self, TimestampError};
use crate::trust::root::TrustedRoot;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Largest bundle accepted (real ones are a few KiB).
pub const MAX_BUNDLE_LEN: usize = 16 << 20;

/// Bundle format versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    /// `application/vnd.dev.sigstore.bundle+json;version=0.1`
    V01,
    /// `application/vnd.dev.sigstore.bundle+json;version=0.2`
    V02,
    /// `application/vnd.dev.sigstore.bundle.v0.3+json` (or `…+json;version=0.3`)
    V03,
}

impl BundleVersion {
    /// The version of a bundle media type, `None` when unknown.
    pub fn from_media_type(mt: &str) -> Option<BundleVersion> {
        match mt {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(BundleVersion::V01),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(BundleVersion::V02),
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => Some(BundleVersion::V03),
            _ => None,
        }
    }
}

/// The artifact a bundle is checked against.
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// Only its SHA-256 digest.
    Sha256([u8; 32]),
}

impl Artifact<'_> {
    /// SHA-256 of the artifact.
    pub fn digest(&self) -> [u8; 32] {
        match self {
            Artifact::Bytes(b) => Sha256::digest(b).into(),
            Artifact::Sha256(d) => *d,
        }
    }
}

/// A `sha256:HEX` argument (64 hex digits), as the conformance protocol passes digests;
/// `None` when `arg` is not of that form (it is then a file name).
pub fn parse_digest_arg(arg: &str) -> Option<[u8; 32]> {
    let hex_part = arg.strip_prefix("sha256:")?;
    if hex_part.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut out).ok()?;
    Some(out)
}

/// Who must have signed.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// A Fulcio certificate chaining to the trusted root, whose identity satisfies the policy.
    Certificate(&'a Policy),
    /// This public key (SubjectPublicKeyInfo DER), e.g. from `--key`.
    PublicKey(&'a [u8]),
}

/// How to verify a bundle.
#[derive(Debug, Clone, Copy)]
pub struct BundleVerifyOptions<'a> {
    /// Trusted CAs, Rekor and CT log keys.
    pub trust: &'a TrustedRoot,
    /// The expected signer.
    pub signer: Signer<'a>,
    /// Skip the embedded SCT check.
    pub insecure_ignore_sct: bool,
}

/// A verified bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBundle {
    /// Bundle format version.
    pub version: BundleVersion,
    /// Signer identity (first SAN) when a certificate signed.
    pub identity: Option<String>,
    /// OIDC issuer of the certificate.
    pub issuer: Option<String>,
    /// Signer certificate DER, when a certificate signed.
    pub cert_der: Option<Vec<u8>>,
    /// Global log index of the tlog entry.
    pub log_index: i64,
    /// The verified signing time (unix seconds): the SET-verified integration time (Rekor v1),
    /// or the earliest verified RFC 3161 timestamp (Rekor v2).
    pub integrated_time: i64,
    /// Whether an inclusion proof and checkpoint were verified.
    pub has_inclusion_proof: bool,
    /// Whether an SCT was verified.
    pub sct_verified: bool,
}

/// Why a bundle did not verify.
#[derive(Debug, thiserror::Error)]
pub enum BundleVerifyError {
    /// The bundle is not JSON, or too large.
    #[error("the bundle is not valid JSON: {0}")]
    Json(String),
    /// A field is missing or malformed.
    #[error("the bundle is malformed: {field}: {reason}")]
    Malformed {
        /// JSON path of the field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Unknown media type.
    #[error("unsupported bundle media type {0:?} (supported: bundle v0.1, v0.2, v0.3)")]
    UnsupportedMediaType(String),
    /// Content this verifier does not handle.
    #[error("unsupported bundle content: {0}")]
    Unsupported(String),
    /// Not exactly one tlog entry.
    #[error("the bundle must carry exactly one transparency log entry, it has {0}")]
    TlogEntryCount(usize),
    /// v0.1 bundle without an inclusion promise.
    #[error("a v0.1 bundle must carry an inclusion promise (signed entry timestamp)")]
    MissingInclusionPromise,
    /// v0.2+ bundle without an inclusion proof and checkpoint.
    #[error("a v0.2 or later bundle must carry an inclusion proof with a checkpoint")]
    MissingInclusionProof,
    /// A negative index or size.
    #[error("the bundle's tlog entry has a negative {field} ({value})")]
    Negative {
        /// Field.
        field: &'static str,
        /// Value.
        value: i64,
    },
    /// A certificate does not parse.
    #[error("cannot parse a certificate of the bundle: {0}")]
    Certificate(#[source] CertError),
    /// The chain carries a self-signed (root) certificate.
    #[error(
        "the bundle's certificate chain includes a root (self-signed) certificate; roots must come from the trusted root only"
    )]
    ChainIncludesRoot,
    /// Verification material does not fit the requested signer.
    #[error("{0}")]
    MaterialMismatch(String),
    /// The artifact is not the one signed.
    #[error(
        "the bundle's message digest {bundle} is not the artifact's SHA-256 {artifact}: the bundle is for another artifact"
    )]
    ArtifactMismatch {
        /// Digest in the bundle (hex).
        bundle: String,
        /// Digest of the artifact (hex).
        artifact: String,
    },
    /// The DSSE statement does not name the artifact.
    #[error(
        "no subject of the bundle's in-toto statement has the artifact's SHA-256 {artifact}: the bundle is for another artifact"
    )]
    SubjectMismatch {
        /// Digest of the artifact (hex).
        artifact: String,
    },
    /// The signature does not verify with the signer key.
    #[error("the bundle's signature does not verify over the artifact with the signer's key: {0}")]
    Signature(#[source] PubkeyError),
    /// The log entry records something else.
    #[error("the transparency log entry is not for this artifact and signature: {0}")]
    EntryMismatch(String),
    /// The log entry does not verify.
    #[error("the transparency log entry does not verify: {0}")]
    Tlog(#[source] TlogError),
    /// The Rekor v2 entry does not verify.
    #[error("the Rekor v2 transparency log entry does not verify: {0}")]
    TlogV2(#[source] V2Error),
    /// An RFC 3161 timestamp of the bundle does not verify, or the certificate was not valid at
    /// its time.
    #[error("{0}")]
    Timestamp(#[source] TimestampError),
    /// The certificate was not valid at the log time.
    #[error(
        "the entry was logged at {}, outside the certificate validity ({})",
        crate::encoding::timefmt::rfc3339(*t),
        crate::encoding::timefmt::window(*not_before, *not_after)
    )]
    NotValidAtLogTime {
        /// Integrated time.
        t: i64,
        /// notBefore.
        not_before: i64,
        /// notAfter.
        not_after: i64,
    },
    /// The chain does not verify.
    #[error("untrusted certificate: {0}")]
    Chain(#[source] ChainError),
    /// The SCT does not verify.
    #[error("certificate transparency check failed: {0}")]
    Sct(#[source] SctError),
    /// The identity policy rejects the signer.
    #[error("the bundle is valid, but {0}")]
    Policy(#[source] PolicyError),
    /// The given public key is unusable.
    #[error("cannot use the public key: {0}")]
    Key(String),
}

fn malformed(field: &str, reason: impl Into<String>) -> BundleVerifyError {
    BundleVerifyError::Malformed { field: field.to_string(), reason: reason.into() }
}

/// Protobuf JSON bytes: standard or URL-safe base64, padded or not.
fn b64(v: &Value, field: &str) -> Result<Vec<u8>, BundleVerifyError> {
    let s = v.as_str().ok_or_else(|| malformed(field, "expected a base64 string"))?;
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(b) = engine.decode(s) {
            return Ok(b);
        }
    }
    Err(malformed(field, "invalid base64"))
}

fn get<'v>(v: &'v Value, key: &str, field: &str) -> Result<&'v Value, BundleVerifyError> {
    v.get(key).ok_or_else(|| malformed(field, "missing"))
}

/// Protobuf JSON int64: a string or a number; absent = 0 (proto3 default).
fn int(v: &Value, key: &str, field: &str) -> Result<i64, BundleVerifyError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) => s.parse::<i64>().map_err(|e| malformed(field, e.to_string())),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| malformed(field, "not a 64-bit integer")),
        Some(_) => Err(malformed(field, "expected an integer")),
    }
}

fn non_negative(field: &'static str, value: i64) -> Result<i64, BundleVerifyError> {
    if value < 0 { Err(BundleVerifyError::Negative { field, value }) } else { Ok(value) }
}

/// The SubjectPublicKeyInfo DER of the first `PUBLIC KEY` block of a PEM text (an ECDSA P-256
/// or P-384 key).
pub fn public_key_from_pem(pem: &str) -> Result<Vec<u8>, BundleVerifyError> {
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    let start = pem.find(BEGIN).ok_or_else(|| BundleVerifyError::Key(format!("no {BEGIN} block")))? + BEGIN.len();
    let end = pem[start..].find(END).ok_or_else(|| BundleVerifyError::Key(format!("no {END} line")))? + start;
    let b64: String = pem[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD.decode(b64).map_err(|e| BundleVerifyError::Key(format!("invalid base64: {e}")))?;
    pubkey::curve_of(&der).map_err(|e| BundleVerifyError::Key(e.to_string()))?;
    Ok(der)
}

/// The signer material a bundle carries.
enum Material {
    /// Leaf first, then any intermediates.
    Certificates(Vec<Vec<u8>>),
    /// A public key hint only.
    PublicKey,
}

fn material(vm: &Value) -> Result<Material, BundleVerifyError> {
    if let Some(c) = vm.get("certificate") {
        let der = b64(get(c, "rawBytes", "verificationMaterial.certificate.rawBytes")?, "certificate.rawBytes")?;
        return Ok(Material::Certificates(vec![der]));
    }
    if let Some(chain) = vm.get("x509CertificateChain") {
        let certs = get(chain, "certificates", "verificationMaterial.x509CertificateChain.certificates")?
            .as_array()
            .ok_or_else(|| malformed("x509CertificateChain.certificates", "expected an array"))?;
        if certs.is_empty() {
            return Err(malformed("x509CertificateChain.certificates", "empty"));
        }
        let ders = certs
            .iter()
            .map(|c| b64(get(c, "rawBytes", "x509CertificateChain.certificates[].rawBytes")?, "rawBytes"))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Material::Certificates(ders));
    }
    if vm.get("publicKey").is_some() {
        return Ok(Material::PublicKey);
    }
    Err(malformed("verificationMaterial", "no certificate, x509CertificateChain or publicKey"))
}

fn tlog_entry(e: &Value, version: BundleVersion) -> Result<TransparencyLogEntry, BundleVerifyError> {
    let log_index = non_negative("logIndex", int(e, "logIndex", "tlogEntries[0].logIndex")?)?;
    let integrated_time = non_negative("integratedTime", int(e, "integratedTime", "tlogEntries[0].integratedTime")?)?;
    let log_id = b64(get(get(e, "logId", "tlogEntries[0].logId")?, "keyId", "logId.keyId")?, "logId.keyId")?;
    let kv = get(e, "kindVersion", "tlogEntries[0].kindVersion")?;
    let kind = get(kv, "kind", "kindVersion.kind")?.as_str().unwrap_or_default().to_string();
    let kind_version = get(kv, "version", "kindVersion.version")?.as_str().unwrap_or_default().to_string();
    let set = match e.get("inclusionPromise") {
        Some(p) => {
            b64(get(p, "signedEntryTimestamp", "inclusionPromise.signedEntryTimestamp")?, "signedEntryTimestamp")?
        }
        None => Vec::new(),
    };
    let body = b64(get(e, "canonicalizedBody", "tlogEntries[0].canonicalizedBody")?, "canonicalizedBody")?;
    let inclusion_proof = match e.get("inclusionProof") {
        None | Some(Value::Null) => None,
        Some(p) => {
            let hashes = match p.get("hashes") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(a)) => {
                    a.iter().map(|h| b64(h, "inclusionProof.hashes[]")).collect::<Result<_, _>>()?
                }
                Some(_) => return Err(malformed("inclusionProof.hashes", "expected an array")),
            };
            let checkpoint = p
                .get("checkpoint")
                .and_then(|c| c.get("envelope"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            Some(InclusionProof {
                log_index: non_negative("inclusionProof.logIndex", int(p, "logIndex", "inclusionProof.logIndex")?)?,
                root_hash: b64(get(p, "rootHash", "inclusionProof.rootHash")?, "inclusionProof.rootHash")?,
                tree_size: non_negative("inclusionProof.treeSize", int(p, "treeSize", "inclusionProof.treeSize")?)?,
                hashes,
                checkpoint,
            })
        }
    };
    // Early v0.1 bundles carry proofs without checkpoints: their root hash is vouched for by
    // nothing, so the (required) SET stands alone, as in sigstore-python. The proof must still
    // lead from this entry to its root hash: one that does not is tampered evidence, rejected
    // (sigstore-conformance test_verify_rejects_invalid_inclusion_proof).
    let inclusion_proof = match (version, inclusion_proof) {
        (BundleVersion::V01, Some(p)) if p.checkpoint.is_empty() => {
            let (index, size) = (p.log_index as u64, p.tree_size as u64); // both checked non-negative
            crate::services::rekor::merkle::verify_inclusion(
                index,
                size,
                &crate::services::rekor::merkle::leaf_hash(&body),
                &p.hashes,
                &p.root_hash,
            )
            .map_err(|e| BundleVerifyError::Tlog(TlogError::BadInclusionProof(e)))?;
            None
        }
        (_, p) => p,
    };
    match version {
        BundleVersion::V01 if set.is_empty() => return Err(BundleVerifyError::MissingInclusionPromise),
        BundleVersion::V02 | BundleVersion::V03 if inclusion_proof.as_ref().is_none_or(|p| p.checkpoint.is_empty()) => {
            return Err(BundleVerifyError::MissingInclusionProof);
        }
        _ => {}
    }
    Ok(TransparencyLogEntry {
        log_index,
        log_id,
        kind,
        version: kind_version,
        integrated_time,
        signed_entry_timestamp: set,
        inclusion_proof,
        canonicalized_body: body,
    })
}

/// The RFC 3161 tokens of `verificationMaterial.timestampVerificationData` (DER each).
fn timestamps(vm: &Value) -> Result<Vec<Vec<u8>>, BundleVerifyError> {
    const FIELD: &str = "timestampVerificationData.rfc3161Timestamps";
    match vm.get("timestampVerificationData").and_then(|t| t.get("rfc3161Timestamps")) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => {
            a.iter().map(|t| b64(get(t, "signedTimestamp", FIELD)?, "rfc3161Timestamps[].signedTimestamp")).collect()
        }
        Some(_) => Err(malformed(FIELD, "expected an array")),
    }
}

/// What a hashedrekord 0.0.1 body records.
struct RecordedHashedRekord {
    hash_hex: String,
    signature: Vec<u8>,
    /// The PEM text of `publicKey.content` (a certificate or a public key).
    key_pem: String,
}

fn recorded_hashedrekord(body: &[u8]) -> Result<RecordedHashedRekord, BundleVerifyError> {
    let bad = |reason: &str| BundleVerifyError::EntryMismatch(format!("canonicalized body: {reason}"));
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(&format!("not JSON ({e})")))?;
    if v.get("kind").and_then(Value::as_str) != Some("hashedrekord")
        || v.get("apiVersion").and_then(Value::as_str) != Some("0.0.1")
    {
        return Err(bad("not a hashedrekord 0.0.1 entry"));
    }
    let spec = v.get("spec").ok_or_else(|| bad("no spec"))?;
    let hash = spec.get("data").and_then(|d| d.get("hash")).ok_or_else(|| bad("no data.hash"))?;
    if hash.get("algorithm").and_then(Value::as_str) != Some("sha256") {
        return Err(bad("the data hash is not sha256"));
    }
    let hash_hex = hash.get("value").and_then(Value::as_str).ok_or_else(|| bad("no data.hash.value"))?;
    let sig = spec.get("signature").ok_or_else(|| bad("no signature"))?;
    let signature = sig
        .get("content")
        .and_then(Value::as_str)
        .and_then(|s| STANDARD.decode(s).ok())
        .ok_or_else(|| bad("signature.content is not base64"))?;
    let key_pem = sig
        .get("publicKey")
        .and_then(|k| k.get("content"))
        .and_then(Value::as_str)
        .and_then(|s| STANDARD.decode(s).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| bad("signature.publicKey.content is not base64 PEM"))?;
    Ok(RecordedHashedRekord { hash_hex: hash_hex.to_ascii_lowercase(), signature, key_pem })
}

/// The signed content of a bundle.
enum Content {
    /// `messageSignature`: a signature over the artifact.
    Message { signature: Vec<u8> },
    /// `dsseEnvelope`: a signature over the PAE of an in-toto statement naming the artifact.
    Dsse { payload_type: String, payload: Vec<u8>, signature: Vec<u8> },
}

/// In-toto statement types accepted in DSSE envelopes.
pub const INTOTO_STATEMENT_TYPES: [&str; 2] = ["https://in-toto.io/Statement/v0.1", "https://in-toto.io/Statement/v1"];

/// DSSE pre-authentication encoding: `DSSEv1 <len> <type> <len> <payload>`.
pub fn dsse_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

fn content(b: &Value, artifact_digest: &[u8; 32]) -> Result<Content, BundleVerifyError> {
    if let Some(env) = b.get("dsseEnvelope") {
        let payload = b64(get(env, "payload", "dsseEnvelope.payload")?, "dsseEnvelope.payload")?;
        let payload_type =
            get(env, "payloadType", "dsseEnvelope.payloadType")?.as_str().unwrap_or_default().to_string();
        let sigs = get(env, "signatures", "dsseEnvelope.signatures")?
            .as_array()
            .ok_or_else(|| malformed("dsseEnvelope.signatures", "expected an array"))?;
        let [sig] = sigs.as_slice() else {
            return Err(malformed(
                "dsseEnvelope.signatures",
                format!("expected exactly one signature, got {}", sigs.len()),
            ));
        };
        let signature = b64(get(sig, "sig", "dsseEnvelope.signatures[0].sig")?, "dsseEnvelope.signatures[0].sig")?;
        if payload_type != "application/vnd.in-toto+json" {
            return Err(BundleVerifyError::Unsupported(format!(
                "DSSE payload type {payload_type:?} (only in-toto statements name an artifact)"
            )));
        }
        let statement: Value = serde_json::from_slice(&payload)
            .map_err(|e| malformed("dsseEnvelope.payload", format!("not an in-toto statement: {e}")))?;
        let st_type = statement.get("_type").and_then(Value::as_str).unwrap_or_default();
        if !INTOTO_STATEMENT_TYPES.contains(&st_type) {
            return Err(malformed("dsseEnvelope.payload._type", format!("unknown in-toto statement type {st_type:?}")));
        }
        let want = hex::encode(artifact_digest);
        let named = statement.get("subject").and_then(Value::as_array).is_some_and(|subjects| {
            subjects.iter().any(|s| {
                s.get("digest").and_then(|d| d.get("sha256")).and_then(Value::as_str).map(str::to_ascii_lowercase)
                    == Some(want.clone())
            })
        });
        if !named {
            return Err(BundleVerifyError::SubjectMismatch { artifact: want });
        }
        return Ok(Content::Dsse { payload_type, payload, signature });
    }
    let ms = get(b, "messageSignature", "messageSignature (or dsseEnvelope)")?;
    let signature = b64(get(ms, "signature", "messageSignature.signature")?, "messageSignature.signature")?;
    if let Some(md) = ms.get("messageDigest") {
        let alg = md.get("algorithm").and_then(Value::as_str).unwrap_or_default();
        if alg != "SHA2_256" {
            return Err(BundleVerifyError::Unsupported(format!("message digest algorithm {alg:?} (only SHA2_256)")));
        }
        let d = b64(get(md, "digest", "messageDigest.digest")?, "messageDigest.digest")?;
        if d != artifact_digest {
            return Err(BundleVerifyError::ArtifactMismatch {
                bundle: hex::encode(&d),
                artifact: hex::encode(artifact_digest),
            });
        }
    }
    Ok(Content::Message { signature })
}

/// Check that a hashedrekord 0.0.1 body records `digest` (of the artifact, or of a DSSE PAE:
/// `what` says which, for the message), this signature and this signer.
fn check_hashedrekord_body(
    body: &[u8],
    digest: &[u8; 32],
    what: &str,
    signature: &[u8],
    leaf: Option<&CertInfo>,
    spki: &[u8],
) -> Result<(), BundleVerifyError> {
    let rec = recorded_hashedrekord(body)?;
    if rec.hash_hex != hex::encode(digest) {
        return Err(BundleVerifyError::EntryMismatch(format!(
            "it records the digest {}, not the {what} {}",
            rec.hash_hex,
            hex::encode(digest)
        )));
    }
    if rec.signature != signature {
        return Err(BundleVerifyError::EntryMismatch("it records another signature".into()));
    }
    if !pem_names_signer(&rec.key_pem, leaf, spki) {
        return Err(BundleVerifyError::EntryMismatch(match leaf {
            Some(_) => "it records another certificate".into(),
            None => "it records another public key".into(),
        }));
    }
    Ok(())
}

/// Does this PEM text (from a log entry) name the signer: its certificate, or its key?
fn pem_names_signer(pem: &str, leaf: Option<&CertInfo>, spki: &[u8]) -> bool {
    match leaf {
        Some(l) => x509::pem_to_der(pem).as_deref() == Some(l.der.as_slice()),
        None => public_key_from_pem(pem).ok().as_deref() == Some(spki),
    }
}

fn b64_str(v: Option<&Value>) -> Option<Vec<u8>> {
    v.and_then(Value::as_str).and_then(|s| STANDARD.decode(s).ok())
}

/// Check that a dsse 0.0.1 or intoto 0.0.2 body records this envelope's payload, signature and
/// signer. (The envelope hash is not recomputed: the payload hash and signature bind it.)
fn check_dsse_body(
    body: &[u8],
    kind: &str,
    payload: &[u8],
    signature: &[u8],
    leaf: Option<&CertInfo>,
    spki: &[u8],
) -> Result<(), BundleVerifyError> {
    let bad = |reason: &str| BundleVerifyError::EntryMismatch(format!("{kind} body: {reason}"));
    let v: Value = serde_json::from_slice(body).map_err(|e| bad(&format!("not JSON ({e})")))?;
    let payload_hash = hex::encode(Sha256::digest(payload));
    let hash_ok = |h: Option<&Value>| {
        h.is_some_and(|h| {
            h.get("algorithm").and_then(Value::as_str) == Some("sha256")
                && h.get("value").and_then(Value::as_str).map(str::to_ascii_lowercase) == Some(payload_hash.clone())
        })
    };
    let spec = v.get("spec").ok_or_else(|| bad("no spec"))?;
    let (sigs, recorded_payload_ok) = match kind {
        "dsse" => {
            let sigs = spec.get("signatures").and_then(Value::as_array).ok_or_else(|| bad("no signatures"))?;
            let recorded: Vec<(Vec<u8>, String)> = sigs
                .iter()
                .filter_map(|s| {
                    let sig = b64_str(s.get("signature"))?;
                    let pem = String::from_utf8(b64_str(s.get("verifier"))?).ok()?;
                    Some((sig, pem))
                })
                .collect();
            (recorded, hash_ok(spec.get("payloadHash")))
        }
        _ => {
            let content = spec.get("content").ok_or_else(|| bad("no content"))?;
            let env = content.get("envelope").ok_or_else(|| bad("no envelope"))?;
            let sigs = env.get("signatures").and_then(Value::as_array).ok_or_else(|| bad("no signatures"))?;
            let recorded: Vec<(Vec<u8>, String)> = sigs
                .iter()
                .filter_map(|s| {
                    // Rekor stores the envelope's base64 signature text base64-encoded again.
                    let once = b64_str(s.get("sig"))?;
                    let sig = std::str::from_utf8(&once).ok().and_then(|t| STANDARD.decode(t).ok()).unwrap_or(once);
                    let pem = String::from_utf8(b64_str(s.get("publicKey"))?).ok()?;
                    Some((sig, pem))
                })
                .collect();
            let payload_ok = match content.get("payloadHash") {
                Some(h) => hash_ok(Some(h)),
                None => b64_str(env.get("payload")).as_deref() == Some(payload),
            };
            (recorded, payload_ok)
        }
    };
    if !recorded_payload_ok {
        return Err(bad("it records another payload"));
    }
    let [(sig, pem)] = sigs.as_slice() else {
        return Err(bad(&format!("expected exactly one signature, it records {}", sigs.len())));
    };
    if sig != signature {
        return Err(bad("it records another signature"));
    }
    if !pem_names_signer(pem, leaf, spki) {
        return Err(bad("it records another signer"));
    }
    Ok(())
}

/// Managed-key entries may carry only an inclusion proof (no SET): check the proof and its
/// checkpoint against the trusted log key. No time is established.
fn verify_proof_only(entry: &TransparencyLogEntry, trust: &TrustedRoot) -> Result<(), BundleVerifyError> {
    use crate::services::rekor::{checkpoint, merkle};
    let unknown = || BundleVerifyError::Tlog(TlogError::UnknownLog { log_id: hex::encode(&entry.log_id) });
    let log = trust.tlog_by_id(&entry.log_id).ok_or_else(unknown)?;
    let hash = log.ecdsa_hash().ok_or_else(|| {
        BundleVerifyError::Tlog(TlogError::UnsupportedLogKey {
            log_id: hex::encode(&entry.log_id),
            key_details: log.key_details.clone(),
        })
    })?;
    let proof = entry.inclusion_proof.as_ref().ok_or(BundleVerifyError::Tlog(TlogError::MissingSet))?;
    let (index, size) = (proof.log_index as u64, proof.tree_size as u64); // both checked non-negative
    merkle::verify_inclusion(
        index,
        size,
        &merkle::leaf_hash(&entry.canonicalized_body),
        &proof.hashes,
        &proof.root_hash,
    )
    .map_err(|e| BundleVerifyError::Tlog(TlogError::BadInclusionProof(e)))?;
    if proof.checkpoint.is_empty() {
        return Err(BundleVerifyError::Tlog(TlogError::MissingCheckpoint));
    }
    checkpoint::verify(&proof.checkpoint, &log.public_key_der, hash, size, &proof.root_hash)
        .map_err(|e| BundleVerifyError::Tlog(TlogError::BadCheckpoint(e)))?;
    Ok(())
}

/// Verify a Sigstore bundle (JSON bytes) over `artifact`. Pure: no network, no files.
///
/// Order: media type; content (message digest = the artifact's, or the in-toto subject names
/// it); exactly one tlog entry with the evidence its version requires; signer material
/// (certificate chain without a root, or the caller's key); the signature (over the artifact,
/// or over the DSSE PAE); the entry's canonical body parsed and compared field by field with
/// this digest/payload, signature and signer; the entry itself (SET, inclusion proof,
/// checkpoint, key chosen by log id from `trust`); then, for certificates, validity at the
/// integrated time, the chain at that time, the SCT and the identity policy.
pub fn verify_bundle(
    bundle_json: &[u8],
    artifact: &Artifact<'_>,
    opts: &BundleVerifyOptions<'_>,
) -> Result<VerifiedBundle, BundleVerifyError> {
    if bundle_json.len() > MAX_BUNDLE_LEN {
        return Err(BundleVerifyError::Json(format!("larger than {MAX_BUNDLE_LEN} bytes")));
    }
    let b: Value = serde_json::from_slice(bundle_json).map_err(|e| BundleVerifyError::Json(e.to_string()))?;
    let mt = get(&b, "mediaType", "mediaType")?.as_str().unwrap_or_default();
    let version =
        BundleVersion::from_media_type(mt).ok_or_else(|| BundleVerifyError::UnsupportedMediaType(mt.to_string()))?;
    let vm = get(&b, "verificationMaterial", "verificationMaterial")?;
    let want_digest = artifact.digest();
    let content = content(&b, &want_digest)?;

    let entries = match vm.get("tlogEntries") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(malformed("verificationMaterial.tlogEntries", "expected an array")),
    };
    let [entry_json] = entries.as_slice() else {
        return Err(BundleVerifyError::TlogEntryCount(entries.len()));
    };
    let entry = tlog_entry(entry_json, version)?;

    // The signer key: from the certificate, or the caller's.
    let material = material(vm)?;
    let (spki, leaf, intermediates) = match (&material, opts.signer) {
        (Material::Certificates(certs), Signer::Certificate(_)) => {
            let parsed = certs
                .iter()
                .map(|d| CertInfo::parse(d))
                .collect::<Result<Vec<_>, _>>()
                .map_err(BundleVerifyError::Certificate)?;
            if parsed.iter().any(CertInfo::is_self_signed) {
                return Err(BundleVerifyError::ChainIncludesRoot);
            }
            let mut it = parsed.into_iter();
            let leaf = it.next().ok_or_else(|| malformed("certificates", "empty"))?;
            (leaf.spki_der.clone(), Some(leaf), certs[1..].to_vec())
        }
        (Material::PublicKey, Signer::PublicKey(key)) => (key.to_vec(), None, Vec::new()),
        (Material::Certificates(_), Signer::PublicKey(_)) => {
            return Err(BundleVerifyError::MaterialMismatch(
                "the bundle was signed with a certificate; verify it with --certificate-identity and --certificate-oidc-issuer, not --key".into(),
            ));
        }
        (Material::PublicKey, Signer::Certificate(_)) => {
            return Err(BundleVerifyError::MaterialMismatch(
                "the bundle was signed with a managed key, not a certificate; verify it with --key".into(),
            ));
        }
    };

    // A Rekor v2 entry: a hashedrekord 0.0.2 over the artifact's digest, or over the DSSE PAE's.
    if entry.kind == crate::services::rekor::entry::KIND_HASHEDREKORD && entry.version == VERSION_0_0_2 {
        let digest: [u8; 32] = match &content {
            Content::Message { signature } => {
                match artifact {
                    Artifact::Bytes(bytes) => pubkey::verify(&spki, HashAlg::Sha256, bytes, signature),
                    Artifact::Sha256(d) => pubkey::verify_prehash(&spki, d, signature),
                }
                .map_err(BundleVerifyError::Signature)?;
                want_digest
            }
            Content::Dsse { payload_type, payload, signature } => {
                let pae = dsse_pae(payload_type, payload);
                pubkey::verify(&spki, HashAlg::Sha256, &pae, signature).map_err(BundleVerifyError::Signature)?;
                Sha256::digest(&pae).into()
            }
        };
        let key_details = crate::trust::root::key_details_of(&spki).map_err(BundleVerifyError::Key)?;
        let expected = ExpectedBody {
            digest,
            signature: signed_signature(&content),
            verifier: match &leaf {
                Some(l) => ExpectedVerifier::Certificate(&l.der),
                None => ExpectedVerifier::PublicKey(&spki),
            },
            key_details: &key_details,
        };
        let v = verify_entry_v2(&entry, &expected, &timestamps(vm)?, opts.trust).map_err(|e| match e {
            V2Error::Timestamp(t) => BundleVerifyError::Timestamp(t),
            other => BundleVerifyError::TlogV2(other),
        })?;
        return finish(version, leaf, &intermediates, v.time, v.log_index, true, opts);
    }

    // The signature, and the log entry recording exactly this content, signature and signer
    // (cosign GHSA-8gw7, CVE-2022-36056): parsed fields compared, then the SET and proof vouch
    // for the body bytes.
    let kind_body = |kind: &str, api: &str| -> Result<(), BundleVerifyError> {
        let v: Value = serde_json::from_slice(&entry.canonicalized_body)
            .map_err(|e| BundleVerifyError::EntryMismatch(format!("canonicalized body: not JSON ({e})")))?;
        let got = (v.get("kind").and_then(Value::as_str), v.get("apiVersion").and_then(Value::as_str));
        if got != (Some(kind), Some(api)) || entry.kind != kind || entry.version != api {
            return Err(BundleVerifyError::EntryMismatch(format!(
                "the entry is {} {} (body {} {}), expected {kind} {api}",
                entry.kind,
                entry.version,
                got.0.unwrap_or("(none)"),
                got.1.unwrap_or("(none)")
            )));
        }
        Ok(())
    };
    match &content {
        Content::Message { signature } => {
            match artifact {
                Artifact::Bytes(bytes) => pubkey::verify(&spki, HashAlg::Sha256, bytes, signature),
                Artifact::Sha256(d) => pubkey::verify_prehash(&spki, d, signature),
            }
            .map_err(BundleVerifyError::Signature)?;
            kind_body("hashedrekord", "0.0.1")?;
            check_hashedrekord_body(
                &entry.canonicalized_body,
                &want_digest,
                "artifact's",
                signature,
                leaf.as_ref(),
                &spki,
            )?;
        }
        Content::Dsse { payload_type, payload, signature } => {
            pubkey::verify(&spki, HashAlg::Sha256, &dsse_pae(payload_type, payload), signature)
                .map_err(BundleVerifyError::Signature)?;
            match entry.kind.as_str() {
                "dsse" => kind_body("dsse", "0.0.1")?,
                "intoto" => kind_body("intoto", "0.0.2")?,
                "hashedrekord" => kind_body("hashedrekord", "0.0.1")?,
                other => {
                    return Err(BundleVerifyError::Unsupported(format!(
                        "tlog entry kind {other:?} for a DSSE envelope (dsse 0.0.1, intoto 0.0.2 and hashedrekord 0.0.1 are supported)"
                    )));
                }
            }
            if entry.kind == "hashedrekord" {
                // The entry's data hash is SHA-256 of the PAE: the bytes the signature covers.
                let pae_digest: [u8; 32] = Sha256::digest(dsse_pae(payload_type, payload)).into();
                check_hashedrekord_body(
                    &entry.canonicalized_body,
                    &pae_digest,
                    "envelope's PAE",
                    signature,
                    leaf.as_ref(),
                    &spki,
                )?;
            } else {
                check_dsse_body(&entry.canonicalized_body, &entry.kind, payload, signature, leaf.as_ref(), &spki)?;
            }
        }
    }

    // The entry. `verify_entry` checks a Rekor v1 entry's SET, proof and checkpoint; it is
    // written for gitsign's hashedrekord entries, so other kinds (whose body kind was checked
    // above against kindVersion) are presented to it under that label: the kind is not part of
    // what the SET or the proof sign.
    let mut as_checked = entry.clone();
    as_checked.kind = crate::services::rekor::entry::KIND_HASHEDREKORD.into();
    as_checked.version = crate::services::rekor::entry::VERSION_0_0_1.into();
    if leaf.is_none() && entry.signed_entry_timestamp.is_empty() && entry.inclusion_proof.is_some() {
        verify_proof_only(&entry, opts.trust)?;
        return Ok(VerifiedBundle {
            version,
            identity: None,
            issuer: None,
            cert_der: None,
            log_index: entry.log_index,
            integrated_time: entry.integrated_time,
            has_inclusion_proof: true,
            sct_verified: false,
        });
    }
    let v = verify_entry(&as_checked, &entry.canonicalized_body, opts.trust).map_err(BundleVerifyError::Tlog)?;
    // RFC 3161 timestamps, when present, must verify too, with the certificate (if any) valid
    // at each.
    let tokens = timestamps(vm)?;
    if !tokens.is_empty() {
        tsa::verify_all(&tokens, signed_signature(&content), leaf.as_ref(), opts.trust)
            .map_err(BundleVerifyError::Timestamp)?;
    }
    finish(version, leaf, &intermediates, v.integrated_time, v.log_index, v.has_inclusion_proof, opts)
}

/// The signature the log entry and the timestamps are over.
fn signed_signature(content: &Content) -> &[u8] {
    match content {
        Content::Message { signature } | Content::Dsse { signature, .. } => signature,
    }
}

/// The signer checks at the verified time `t`: certificate validity, chain, SCT, policy.
fn finish(
    version: BundleVersion,
    leaf: Option<CertInfo>,
    intermediates: &[Vec<u8>],
    t: i64,
    log_index: i64,
    has_inclusion_proof: bool,
    opts: &BundleVerifyOptions<'_>,
) -> Result<VerifiedBundle, BundleVerifyError> {
    let Some(leaf) = leaf else {
        return Ok(VerifiedBundle {
            version,
            identity: None,
            issuer: None,
            cert_der: None,
            log_index,
            integrated_time: t,
            has_inclusion_proof,
            sct_verified: false,
        });
    };
    if !leaf.valid_at(t) {
        return Err(BundleVerifyError::NotValidAtLogTime { t, not_before: leaf.not_before, not_after: leaf.not_after });
    }
    let chain = x509::verify_chain(&leaf.der, intermediates, opts.trust, t).map_err(BundleVerifyError::Chain)?;
    let sct_verified = if chain.sct_required() && !opts.insecure_ignore_sct {
        x509::verify_sct(&leaf.der, &chain.issuer_der, opts.trust).map_err(BundleVerifyError::Sct)?;
        true
    } else {
        false
    };
    if let Signer::Certificate(policy) = opts.signer {
        policy.check(&leaf, None).map_err(BundleVerifyError::Policy)?;
    }
    Ok(VerifiedBundle {
        version,
        identity: leaf.identity().map(str::to_string),
        issuer: leaf.oidc_issuer.clone(),
        cert_der: Some(leaf.der.clone()),
        log_index,
        integrated_time: t,
        has_inclusion_proof,
        sct_verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::verify::policy::PolicyFlags;

    const EX: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/real/examples/offline-commit__sigstore_gitsign__3616021d86975c23e52a456a7dc5605fe130ed14"
    );

    fn exported() -> (serde_json::Value, Vec<u8>, String) {
        let text = std::fs::read(format!("{EX}/signature.txt")).unwrap();
        let ex = crate::pipelines::bundle::from_signature(&text).unwrap();
        let cert =
            crate::services::fulcio::pem_certificates(&std::fs::read_to_string(format!("{EX}/cert0.pem")).unwrap())
                .unwrap();
        let id = CertInfo::parse(&cert[0]).unwrap();
        (ex.bundle, ex.artifact, id.identity().unwrap().to_string())
    }

    fn policy(id: &str, issuer: &str) -> Policy {
        Policy::from_flags(&PolicyFlags {
            identity: Some(id.into()),
            issuer: Some(issuer.into()),
            ..Default::default()
        })
        .unwrap()
    }

    fn run(
        bundle: &serde_json::Value,
        artifact: &Artifact<'_>,
        p: &Policy,
    ) -> Result<VerifiedBundle, BundleVerifyError> {
        let trust = TrustedRoot::production().unwrap();
        let opts = BundleVerifyOptions { trust, signer: Signer::Certificate(p), insecure_ignore_sct: false };
        verify_bundle(&serde_json::to_vec(bundle).unwrap(), artifact, &opts)
    }

    #[test]
    fn real_gitsign_bundle_verifies_and_tampering_fails() {
        let (bundle, artifact, id) = exported();
        let cert = CertInfo::parse(
            &STANDARD.decode(bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let issuer = cert.oidc_issuer.clone().unwrap();
        let p = policy(&id, &issuer);
        let v = run(&bundle, &Artifact::Bytes(&artifact), &p).unwrap();
        assert_eq!(v.log_index, 2340836642);
        assert!(v.has_inclusion_proof && v.sct_verified);
        assert_eq!(v.identity.as_deref(), Some(id.as_str()));
        // by digest
        let d: [u8; 32] = Sha256::digest(&artifact).into();
        assert!(run(&bundle, &Artifact::Sha256(d), &p).is_ok());
        // wrong identity
        let e = run(&bundle, &Artifact::Bytes(&artifact), &policy("mallory@example.com", &issuer)).unwrap_err();
        assert!(matches!(e, BundleVerifyError::Policy(_)), "{e}");
        // wrong artifact
        let e = run(&bundle, &Artifact::Bytes(b"other"), &p).unwrap_err();
        assert!(matches!(e, BundleVerifyError::ArtifactMismatch { .. }), "{e}");
        // without the messageDigest the signature check catches it
        let mut b = bundle.clone();
        b["messageSignature"].as_object_mut().unwrap().remove("messageDigest");
        let e = run(&b, &Artifact::Bytes(b"other"), &p).unwrap_err();
        assert!(matches!(e, BundleVerifyError::Signature(_)), "{e}");
        // negative index
        let mut b = bundle.clone();
        b["verificationMaterial"]["tlogEntries"][0]["logIndex"] = "-1".into();
        assert!(matches!(run(&b, &Artifact::Bytes(&artifact), &p), Err(BundleVerifyError::Negative { .. })));
        // v0.3 without an inclusion proof
        let mut b = bundle.clone();
        b["verificationMaterial"]["tlogEntries"][0].as_object_mut().unwrap().remove("inclusionProof");
        assert!(matches!(run(&b, &Artifact::Bytes(&artifact), &p), Err(BundleVerifyError::MissingInclusionProof)));
        // tampered SET
        let mut b = bundle.clone();
        let mut set = STANDARD
            .decode(
                b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let n = set.len();
        set[n - 3] ^= 1;
        b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"] =
            STANDARD.encode(set).into();
        assert!(matches!(run(&b, &Artifact::Bytes(&artifact), &p), Err(BundleVerifyError::Tlog(_))));
        // as v0.1 with a chain that includes the production root
        let root = TrustedRoot::production().unwrap().certificate_authorities[1].chain_der.last().unwrap().clone();
        let mut b = bundle.clone();
        b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1".into();
        let leaf = b["verificationMaterial"]["certificate"]["rawBytes"].clone();
        b["verificationMaterial"].as_object_mut().unwrap().remove("certificate");
        b["verificationMaterial"]["x509CertificateChain"] =
            serde_json::json!({"certificates": [{"rawBytes": leaf.clone()}]});
        assert!(run(&b, &Artifact::Bytes(&artifact), &p).is_ok(), "v0.1 with a chain of just the leaf");
        let mut early = b.clone();
        early["verificationMaterial"]["tlogEntries"][0]["inclusionProof"].as_object_mut().unwrap().remove("checkpoint");
        let v = run(&early, &Artifact::Bytes(&artifact), &p).unwrap();
        assert!(!v.has_inclusion_proof, "a v0.1 proof without checkpoint is ignored");
        early["verificationMaterial"]["tlogEntries"][0].as_object_mut().unwrap().remove("inclusionPromise");
        let e = run(&early, &Artifact::Bytes(&artifact), &p).unwrap_err();
        assert!(matches!(e, BundleVerifyError::MissingInclusionPromise), "{e}");
        let mut v2 = b.clone();
        v2["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.2".into();
        assert!(run(&v2, &Artifact::Bytes(&artifact), &p).is_ok(), "v0.2");
        v2["verificationMaterial"]["tlogEntries"][0]["inclusionProof"].as_object_mut().unwrap().remove("checkpoint");
        let e = run(&v2, &Artifact::Bytes(&artifact), &p).unwrap_err();
        assert!(matches!(e, BundleVerifyError::MissingInclusionProof), "{e}");
        b["verificationMaterial"]["x509CertificateChain"] =
            serde_json::json!({"certificates": [{"rawBytes": leaf}, {"rawBytes": STANDARD.encode(root)}]});
        assert!(matches!(run(&b, &Artifact::Bytes(&artifact), &p), Err(BundleVerifyError::ChainIncludesRoot)));
        // A malformed DSSE envelope: a typed error
        let mut b = bundle.clone();
        b["dsseEnvelope"] = serde_json::json!({});
        assert!(matches!(run(&b, &Artifact::Bytes(&artifact), &p), Err(BundleVerifyError::Malformed { .. })));
        // key mode against a certificate bundle
        let trust = TrustedRoot::production().unwrap();
        let opts = BundleVerifyOptions { trust, signer: Signer::PublicKey(&cert.spki_der), insecure_ignore_sct: false };
        let e = verify_bundle(&serde_json::to_vec(&bundle).unwrap(), &Artifact::Bytes(&artifact), &opts).unwrap_err();
        assert!(matches!(e, BundleVerifyError::MaterialMismatch(_)), "{e}");
        // garbage never panics
        for junk in [
            &b"{"[..],
            b"[]",
            b"{\"mediaType\":1}",
            b"{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\"}",
        ] {
            assert!(verify_bundle(junk, &Artifact::Bytes(b""), &opts).is_err());
        }
    }

    /// RFC 3161 timestamps in a (Rekor v1) bundle are verified: a token outside the signing
    /// certificate's validity fails the bundle; a token at exactly the end of its TSA's
    /// `validFor` is accepted (the end is inclusive), one second later it is not.
    #[test]
    fn bundle_timestamps_are_checked() {
        use crate::services::tsa::testtsa::{Spec, authority, response, token, tsa};
        let (bundle, artifact, id) = exported();
        let leaf_der =
            STANDARD.decode(bundle["verificationMaterial"]["certificate"]["rawBytes"].as_str().unwrap()).unwrap();
        let leaf = CertInfo::parse(&leaf_der).unwrap();
        let p = policy(&id, leaf.oidc_issuer.as_deref().unwrap());
        let signature = STANDARD.decode(bundle["messageSignature"]["signature"].as_str().unwrap()).unwrap();
        let t = tsa(60, leaf.not_before - 86_400, leaf.not_after + 86_400, true);
        let mut trust = TrustedRoot::production().unwrap().clone();
        trust.timestamp_authorities = vec![authority(&t)];
        let with_token = |gen_time: i64| {
            let spec = Spec {
                version: 1,
                imprint: Sha256::digest(&signature).to_vec(),
                nonce: None,
                gen_time,
                with_certs: true,
            };
            let mut b = bundle.clone();
            b["verificationMaterial"]["timestampVerificationData"] = serde_json::json!({"rfc3161Timestamps": [
                {"signedTimestamp": STANDARD.encode(response(0, Some(&token(&t, &spec))))}]});
            serde_json::to_vec(&b).unwrap()
        };
        let run_with = |json: &[u8], trust: &TrustedRoot| {
            let opts = BundleVerifyOptions { trust, signer: Signer::Certificate(&p), insecure_ignore_sct: false };
            verify_bundle(json, &Artifact::Bytes(&artifact), &opts)
        };
        let inside = leaf.not_before + 60;
        run_with(&with_token(inside), &trust).unwrap();
        // After the certificate expired (the SET time is inside its validity): refused.
        let e = run_with(&with_token(leaf.not_after + 3_600), &trust).unwrap_err();
        assert!(matches!(e, BundleVerifyError::Timestamp(TimestampError::CertNotValidAt { .. })), "{e}");
        assert!(e.to_string().contains("outside the signing certificate's validity"), "{e}");
        let e = run_with(&with_token(leaf.not_before - 3_600), &trust).unwrap_err();
        assert!(matches!(e, BundleVerifyError::Timestamp(TimestampError::CertNotValidAt { .. })), "{e}");
        // The TSA's validFor end is inclusive.
        let mut ends = trust.clone();
        ends.timestamp_authorities[0].valid_for = crate::trust::root::ValidFor { start: 0, end: Some(inside) };
        run_with(&with_token(inside), &ends).unwrap();
        ends.timestamp_authorities[0].valid_for.end = Some(inside - 1);
        let e = run_with(&with_token(inside), &ends).unwrap_err();
        assert!(matches!(e, BundleVerifyError::Timestamp(TimestampError::Token { .. })), "{e}");
        // A token over another signature.
        let mut b: Value = serde_json::from_slice(&with_token(inside)).unwrap();
        b["messageSignature"]["signature"] = STANDARD.encode(b"another signature").into();
        assert!(run_with(&serde_json::to_vec(&b).unwrap(), &trust).is_err());
    }

    #[test]
    fn digest_args() {
        let h = "a".repeat(64);
        assert_eq!(parse_digest_arg(&format!("sha256:{h}")), Some([0xaa; 32]));
        assert_eq!(parse_digest_arg(&format!("sha256:{}", &h[1..])), None);
        assert_eq!(parse_digest_arg(&format!("sha512:{h}")), None);
        assert_eq!(parse_digest_arg("sha256:zz"), None);
    }

    /// A private log (one leaf per tree) and a managed signing key.
    struct KeyWorld {
        trust: TrustedRoot,
        log_key: p256::ecdsa::SigningKey,
        log_id: Vec<u8>,
        log_spki: Vec<u8>,
        key: p256::ecdsa::SigningKey,
        key_spki: Vec<u8>,
    }

    fn der_sign(k: &p256::ecdsa::SigningKey, msg: &[u8]) -> Vec<u8> {
        use ecdsa::signature::Signer as _;
        let s: p256::ecdsa::DerSignature = k.sign(msg);
        s.as_bytes().to_vec()
    }

    fn key_world() -> KeyWorld {
        use spki::EncodePublicKey;
        let log_key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
        let log_spki = log_key.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec();
        let key_spki = key.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec();
        let log_id = pubkey::key_id(&log_spki).to_vec();
        let trust = TrustedRoot {
            tlogs: vec![crate::trust::root::TransparencyLog {
                base_url: "https://rekor.test".into(),
                log_id: log_id.clone(),
                public_key_der: log_spki.clone(),
                key_details: crate::trust::root::KEY_ECDSA_P256_SHA256.into(),
                valid_for: crate::trust::root::ValidFor { start: 1_000, end: Some(2_000) },
            }],
            ..Default::default()
        };
        KeyWorld { trust, log_key, log_id, log_spki, key, key_spki }
    }

    fn key_pem(spki: &[u8]) -> String {
        let b = STANDARD.encode(spki);
        let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
    }

    /// A v0.3 bundle around `content` whose log entry is `body` at index 5, time `t`, in a
    /// one-leaf tree; `with_set` adds the SET.
    fn key_bundle(
        w: &KeyWorld,
        content: (&str, Value),
        kind: (&str, &str),
        body: &[u8],
        t: i64,
        with_set: bool,
    ) -> Value {
        let root = crate::services::rekor::merkle::leaf_hash(body);
        let text = format!("rekor.test - 1\n1\n{}\n", STANDARD.encode(root));
        let mut hint = crate::services::rekor::checkpoint::key_hint(&w.log_spki).to_vec();
        hint.extend(der_sign(&w.log_key, text.as_bytes()));
        let cp = format!("{text}\n\u{2014} rekor.test {}\n", STANDARD.encode(hint));
        let mut e = serde_json::json!({
            "logIndex": "5", "logId": {"keyId": STANDARD.encode(&w.log_id)},
            "kindVersion": {"kind": kind.0, "version": kind.1}, "integratedTime": t.to_string(),
            "inclusionProof": {"logIndex": "0", "rootHash": STANDARD.encode(root), "treeSize": "1", "hashes": [],
                               "checkpoint": {"envelope": cp}},
            "canonicalizedBody": STANDARD.encode(body),
        });
        if with_set {
            let set = der_sign(&w.log_key, &crate::services::rekor::set::payload(body, t, &w.log_id, 5));
            e["inclusionPromise"] = serde_json::json!({"signedEntryTimestamp": STANDARD.encode(set)});
        }
        let mut b = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": "k"}, "tlogEntries": [e]},
        });
        b[content.0] = content.1;
        b
    }

    fn run_key(w: &KeyWorld, b: &Value, artifact: &[u8], spki: &[u8]) -> Result<VerifiedBundle, BundleVerifyError> {
        let opts = BundleVerifyOptions { trust: &w.trust, signer: Signer::PublicKey(spki), insecure_ignore_sct: false };
        verify_bundle(&serde_json::to_vec(b).unwrap(), &Artifact::Bytes(artifact), &opts)
    }

    #[test]
    fn managed_key_hashedrekord() {
        let w = key_world();
        let artifact = b"hello";
        let sig = der_sign(&w.key, artifact);
        let digest_hex = hex::encode(Sha256::digest(artifact));
        let body = crate::services::rekor::body::hashedrekord(&digest_hex, &sig, b"");
        // hashedrekord() writes a certificate PEM; a managed key's entry records a PUBLIC KEY.
        let body = String::from_utf8(body).unwrap().replace(
            &STANDARD.encode(crate::services::rekor::body::certificate_pem(b"")),
            &STANDARD.encode(key_pem(&w.key_spki)),
        );
        let ms = serde_json::json!({"messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(Sha256::digest(artifact))},
                                    "signature": STANDARD.encode(&sig)});
        let b =
            key_bundle(&w, ("messageSignature", ms.clone()), ("hashedrekord", "0.0.1"), body.as_bytes(), 1_500, true);
        let v = run_key(&w, &b, artifact, &w.key_spki).unwrap();
        assert_eq!((v.log_index, v.integrated_time, v.identity), (5, 1_500, None));
        // a timestamp the key bundle carries must verify too
        let mut bt = b.clone();
        bt["verificationMaterial"]["timestampVerificationData"] =
            serde_json::json!({"rfc3161Timestamps": [{"signedTimestamp": STANDARD.encode([0x30, 0x00])}]});
        let e = run_key(&w, &bt, artifact, &w.key_spki).unwrap_err();
        assert!(matches!(e, BundleVerifyError::Timestamp(TimestampError::Token { index: 0, .. })), "{e}");
        // another key
        let other = key_world().log_spki;
        assert!(matches!(run_key(&w, &b, artifact, &other), Err(BundleVerifyError::Signature(_))));
        // the log key's validity end is inclusive; one second later fails
        let b2 =
            key_bundle(&w, ("messageSignature", ms.clone()), ("hashedrekord", "0.0.1"), body.as_bytes(), 2_000, true);
        assert!(run_key(&w, &b2, artifact, &w.key_spki).is_ok());
        let b3 =
            key_bundle(&w, ("messageSignature", ms.clone()), ("hashedrekord", "0.0.1"), body.as_bytes(), 2_001, true);
        let e = run_key(&w, &b3, artifact, &w.key_spki).unwrap_err();
        assert!(matches!(e, BundleVerifyError::Tlog(TlogError::KeyNotValidAtTime { .. })), "{e}");
        // an entry for another artifact (CVE-2022-36056), even though the log signed it
        let other_body = body.replace(&digest_hex, &hex::encode(Sha256::digest(b"other")));
        let b4 =
            key_bundle(&w, ("messageSignature", ms), ("hashedrekord", "0.0.1"), other_body.as_bytes(), 1_500, true);
        let e = run_key(&w, &b4, artifact, &w.key_spki).unwrap_err();
        assert!(matches!(e, BundleVerifyError::EntryMismatch(_)), "{e}");
        // the PEM parser
        assert_eq!(public_key_from_pem(&key_pem(&w.key_spki)).unwrap(), w.key_spki);
        assert!(public_key_from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").is_err());
    }

    #[test]
    fn managed_key_dsse_and_intoto_entries() {
        let w = key_world();
        let artifact = b"a.txt contents";
        let statement = |ty: &str, digest: &str| {
            serde_json::to_vec(
                &serde_json::json!({"_type": ty, "subject": [{"name": "a.txt", "digest": {"sha256": digest}}],
                                                   "predicateType": "https://example.com/test", "predicate": {}}),
            )
            .unwrap()
        };
        let digest = hex::encode(Sha256::digest(artifact));
        let payload = statement("https://in-toto.io/Statement/v1", &digest);
        let pt = "application/vnd.in-toto+json";
        let sig = der_sign(&w.key, &dsse_pae(pt, &payload));
        let env = |payload: &[u8], sig: &[u8]| {
            serde_json::json!({"payload": STANDARD.encode(payload), "payloadType": pt,
                               "signatures": [{"sig": STANDARD.encode(sig), "keyid": ""}]})
        };
        let pem_b64 = STANDARD.encode(key_pem(&w.key_spki));
        let payload_hash = hex::encode(Sha256::digest(&payload));
        let dsse_body = serde_json::to_vec(&serde_json::json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": "00"},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash},
            "signatures": [{"signature": STANDARD.encode(&sig), "verifier": pem_b64}]}}))
        .unwrap();
        let b = key_bundle(&w, ("dsseEnvelope", env(&payload, &sig)), ("dsse", "0.0.1"), &dsse_body, 1_500, true);
        assert!(run_key(&w, &b, artifact, &w.key_spki).is_ok());
        // the statement does not name this artifact
        let e = run_key(&w, &b, b"other", &w.key_spki).unwrap_err();
        assert!(matches!(e, BundleVerifyError::SubjectMismatch { .. }), "{e}");
        // the envelope's payload swapped (signature no longer verifies)
        let other_payload = statement("https://in-toto.io/Statement/v1", &hex::encode(Sha256::digest(b"x")));
        let b2 =
            key_bundle(&w, ("dsseEnvelope", env(&other_payload, &sig)), ("dsse", "0.0.1"), &dsse_body, 1_500, true);
        assert!(matches!(run_key(&w, &b2, b"x", &w.key_spki), Err(BundleVerifyError::Signature(_))));
        // an unknown statement type
        let odd = statement("https://example.com/Statement", &digest);
        let odd_sig = der_sign(&w.key, &dsse_pae(pt, &odd));
        let b3 = key_bundle(&w, ("dsseEnvelope", env(&odd, &odd_sig)), ("dsse", "0.0.1"), &dsse_body, 1_500, true);
        assert!(matches!(run_key(&w, &b3, artifact, &w.key_spki), Err(BundleVerifyError::Malformed { .. })));
        // a validly signed envelope whose log entry records another payload
        let sig4 = der_sign(&w.key, &dsse_pae(pt, &other_payload));
        let b4 =
            key_bundle(&w, ("dsseEnvelope", env(&other_payload, &sig4)), ("dsse", "0.0.1"), &dsse_body, 1_500, true);
        let e = run_key(&w, &b4, b"x", &w.key_spki).unwrap_err();
        assert!(matches!(e, BundleVerifyError::EntryMismatch(_)), "{e}");

        // intoto 0.0.2 with only an inclusion proof (no SET), signature base64 twice
        let intoto_body = serde_json::to_vec(&serde_json::json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
            "envelope": {"payloadType": pt, "signatures": [{"publicKey": pem_b64, "sig": STANDARD.encode(STANDARD.encode(&sig))}]},
            "hash": {"algorithm": "sha256", "value": "00"},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash}}}}))
        .unwrap();
        let b5 = key_bundle(&w, ("dsseEnvelope", env(&payload, &sig)), ("intoto", "0.0.2"), &intoto_body, 0, false);
        let v = run_key(&w, &b5, artifact, &w.key_spki).unwrap();
        assert!(v.has_inclusion_proof);
        // its checkpoint signed by another key fails
        let mut b6 = b5.clone();
        b6["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"] = STANDARD.encode([0u8; 32]).into();
        assert!(matches!(run_key(&w, &b6, artifact, &w.key_spki), Err(BundleVerifyError::Tlog(_))));
        // kindVersion must agree with the body
        let b7 = key_bundle(&w, ("dsseEnvelope", env(&payload, &sig)), ("dsse", "0.0.1"), &intoto_body, 0, false);
        assert!(matches!(run_key(&w, &b7, artifact, &w.key_spki), Err(BundleVerifyError::EntryMismatch(_))));

        // hashedrekord 0.0.1 over SHA-256 of the PAE, recording the managed key
        let hr_body = |pae_payload: &[u8]| {
            let hex_digest = hex::encode(Sha256::digest(dsse_pae(pt, pae_payload)));
            let body = String::from_utf8(crate::services::rekor::body::hashedrekord(&hex_digest, &sig, b"")).unwrap();
            body.replace(&STANDARD.encode(crate::services::rekor::body::certificate_pem(b"")), &pem_b64)
        };
        let b8 = key_bundle(
            &w,
            ("dsseEnvelope", env(&payload, &sig)),
            ("hashedrekord", "0.0.1"),
            hr_body(&payload).as_bytes(),
            1_500,
            true,
        );
        assert!(run_key(&w, &b8, artifact, &w.key_spki).is_ok());
        // the entry records the PAE of another payload
        let b9 = key_bundle(
            &w,
            ("dsseEnvelope", env(&payload, &sig)),
            ("hashedrekord", "0.0.1"),
            hr_body(&other_payload).as_bytes(),
            1_500,
            true,
        );
        let e = run_key(&w, &b9, artifact, &w.key_spki).unwrap_err();
        assert!(matches!(e, BundleVerifyError::EntryMismatch(_)), "{e}");
    }
}
