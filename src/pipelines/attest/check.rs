//! Verifying attestations stored by `gitsign attest` (`gitsign verify-attestation`).
//!
//! An envelope (`<name>.sig`) carries no certificate, so the evidence comes from the log: Rekor
//! is searched for the SHA-256 of the envelope text; each entry found must be an intoto v0.0.1
//! entry whose body is exactly the one rebuilt from this envelope and the certificate it
//! records (so it cannot belong to another artifact), with a valid SET and inclusion proof
//! under a log key of the trusted root. Then: the envelope signature verifies with that
//! certificate; the certificate was valid at the entry's integrated time (never "now") and
//! chains to a Fulcio CA of the trusted root at that time, with its SCT; the identity policy
//! holds; the statement's subject is the attested object id; its predicate type is the
//! required one; and the stored predicate file is the predicate that was signed.
use super::refs::ObjType;
use super::sign::{AttestationError, canonical_predicate, verify_intoto_entry};
use crate::crypto::x509::CertInfo;
use crate::pipelines::dsse::{self, Envelope, INTOTO_PAYLOAD_TYPE};
use crate::pipelines::verify::policy::Policy;
use crate::services::rekor::client::{RekorClient, RekorError};
use crate::services::rekor::entry::TransparencyLogEntry;
use crate::services::rekor::types::LogEntry;
use crate::trust::root::TrustedRoot;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Most Rekor entries examined for one envelope.
const MAX_CANDIDATES: usize = 16;

/// The log operations verification needs (implemented by [`RekorClient`]).
pub trait IntotoLog {
    /// Entry uuids indexed under a SHA-256.
    fn search_by_hash(&self, sha256: &[u8; 32]) -> Result<Vec<String>, RekorError>;
    /// One entry (its body checked against the uuid).
    fn get_entry(&self, uuid: &str) -> Result<(String, LogEntry), RekorError>;
    /// For messages.
    fn base_url(&self) -> &str;
}

impl IntotoLog for RekorClient {
    fn search_by_hash(&self, sha256: &[u8; 32]) -> Result<Vec<String>, RekorError> {
        RekorClient::search_by_hash(self, sha256)
    }
    fn get_entry(&self, uuid: &str) -> Result<(String, LogEntry), RekorError> {
        RekorClient::get_entry(self, uuid)
    }
    fn base_url(&self) -> &str {
        RekorClient::base_url(self)
    }
}

/// How to verify.
pub struct CheckOptions<'a> {
    /// Trusted Fulcio CAs, Rekor and CT log keys.
    pub trust: &'a TrustedRoot,
    /// Who must have signed.
    pub policy: &'a Policy,
    /// The required predicate type, if any.
    pub predicate_type: Option<&'a str>,
    /// Skip the SCT check.
    pub insecure_ignore_sct: bool,
}

/// A verified attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAttestation {
    /// The statement's predicate type ("" when it has none).
    pub predicate_type: String,
    /// The signer identity (first SAN).
    pub identity: String,
    /// The OIDC issuer.
    pub issuer: Option<String>,
    /// Rekor global log index.
    pub log_index: i64,
    /// Rekor integrated time (unix seconds), the verification time.
    pub integrated_time: i64,
    /// Rekor entry uuid.
    pub uuid: String,
}

/// The signer certificate recorded in an intoto v0.0.1 body.
fn recorded_certificate(body: &[u8]) -> Option<Vec<u8>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let pem = STANDARD.decode(v.pointer("/spec/publicKey")?.as_str()?).ok()?;
    crate::crypto::x509::pem_to_der(std::str::from_utf8(&pem).ok()?)
}

/// Check the statement: in-toto, about `target`, of the required predicate type, and signing
/// the stored predicate file. Returns the predicate type.
fn check_statement(
    payload: &[u8],
    kind: ObjType,
    target: &str,
    stored_predicate: Option<(&str, &[u8])>,
    want_type: Option<&str>,
) -> Result<String, AttestationError> {
    let st = |m: &str| AttestationError::Statement(m.to_string());
    let v: Value = serde_json::from_slice(payload).map_err(|e| st(&format!("not JSON ({e})")))?;
    let t = v.get("_type").and_then(Value::as_str).unwrap_or_default();
    if !crate::pipelines::verify::bundle::INTOTO_STATEMENT_TYPES.contains(&t) {
        return Err(st(&format!("unknown statement type {t:?}")));
    }
    let subjects = v.get("subject").and_then(Value::as_array).ok_or_else(|| st("no subject"))?;
    let named: Vec<String> = subjects
        .iter()
        .filter_map(|s| s.get("digest")?.get(kind.digest_name())?.as_str().map(str::to_string))
        .collect();
    if !named.iter().any(|d| d.eq_ignore_ascii_case(target)) {
        let got = subjects.iter().filter_map(|s| s.get("digest").map(Value::to_string)).collect::<Vec<_>>().join(", ");
        return Err(AttestationError::SubjectMismatch {
            kind: kind.as_str(),
            want: target.to_string(),
            got: if got.is_empty() { "nothing".into() } else { got },
        });
    }
    let predicate_type = v.get("predicateType").and_then(Value::as_str).unwrap_or_default().to_string();
    if let Some(want) = want_type
        && want != predicate_type
    {
        return Err(AttestationError::PredicateType { want: want.to_string(), got: predicate_type });
    }
    if let Some((name, file)) = stored_predicate {
        let signed = v.get("predicate").ok_or_else(|| st("no predicate"))?;
        let same = canonical_predicate(file)
            .ok()
            .zip(canonical_predicate(signed.to_string().as_bytes()).ok())
            .is_some_and(|(a, b)| a == b);
        if !same {
            return Err(AttestationError::PredicateFileMismatch { name: name.to_string() });
        }
    }
    Ok(predicate_type)
}

/// Verify one stored attestation: `envelope_json` (the `<name>.sig` text) about `target`, and,
/// when given, the stored predicate file `(name, bytes)`.
pub fn verify_attestation(
    envelope_json: &[u8],
    stored_predicate: Option<(&str, &[u8])>,
    kind: ObjType,
    target: &str,
    log: &dyn IntotoLog,
    opts: &CheckOptions<'_>,
) -> Result<VerifiedAttestation, AttestationError> {
    let envelope = Envelope::parse(envelope_json)?;
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(AttestationError::Statement(format!(
            "payload type {:?}, expected {INTOTO_PAYLOAD_TYPE}",
            envelope.payload_type
        )));
    }
    // The statement first: cheap, and its errors are the most telling.
    let predicate_type = check_statement(&envelope.payload, kind, target, stored_predicate, opts.predicate_type)?;

    let env_hash: [u8; 32] = Sha256::digest(envelope_json).into();
    let uuids = log.search_by_hash(&env_hash)?;
    let mut last_err = None;
    for uuid in uuids.iter().take(MAX_CANDIDATES) {
        match verify_candidate(&envelope, envelope_json, uuid, log, opts) {
            Ok((identity, issuer, v)) => {
                return Ok(VerifiedAttestation {
                    predicate_type,
                    identity,
                    issuer,
                    log_index: v.log_index,
                    integrated_time: v.integrated_time,
                    uuid: uuid.clone(),
                });
            }
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| AttestationError::NotLogged {
        url: log.base_url().to_string(),
        envelope_sha256: hex::encode(env_hash),
    }))
}

type Candidate = (String, Option<String>, crate::services::rekor::verify::VerifiedEntry);

fn verify_candidate(
    envelope: &Envelope,
    envelope_json: &[u8],
    uuid: &str,
    log: &dyn IntotoLog,
    opts: &CheckOptions<'_>,
) -> Result<Candidate, AttestationError> {
    let bad = |reason: String| AttestationError::BadEntry { url: log.base_url().to_string(), reason };
    let (_, entry) = log.get_entry(uuid)?;
    let tle = TransparencyLogEntry::from_api(&entry).map_err(|e| bad(e.to_string()))?;
    let cert_der = recorded_certificate(&tle.canonicalized_body)
        .ok_or_else(|| bad(format!("entry {uuid} records no certificate in spec.publicKey")))?;
    // The body rebuilt from this envelope and that certificate must be the logged one.
    let body = dsse::intoto_v001_body(envelope_json, &envelope.payload, &cert_der);
    let v = verify_intoto_entry(&tle, &body, opts.trust, log.base_url())?;
    let leaf = CertInfo::parse(&cert_der).map_err(|e| AttestationError::Certificate(e.to_string()))?;
    envelope.verify(&leaf.spki_der)?;
    let t = v.integrated_time;
    if !leaf.valid_at(t) {
        return Err(AttestationError::Certificate(format!(
            "it was not valid when the entry was logged (integrated time {t}; valid {} to {})",
            leaf.not_before, leaf.not_after
        )));
    }
    let chain = crate::crypto::x509::verify_chain(&cert_der, &[], opts.trust, t)
        .map_err(|e| AttestationError::Certificate(format!("it does not chain to a trusted Fulcio CA: {e}")))?;
    if chain.sct_required() && !opts.insecure_ignore_sct {
        crate::crypto::x509::verify_sct(&cert_der, &chain.issuer_der, opts.trust)
            .map_err(|e| AttestationError::Certificate(format!("its SCT does not verify: {e}")))?;
    }
    opts.policy.check(&leaf, None)?;
    Ok((leaf.identity().unwrap_or_default().to_string(), leaf.oidc_issuer.clone(), v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_checks() {
        let stmt = super::super::sign::statement(ObjType::Commit, "abc", "t", br#"{"k":1}"#).unwrap();
        assert_eq!(check_statement(&stmt, ObjType::Commit, "ABC", None, Some("t")).unwrap(), "t");
        assert!(matches!(
            check_statement(&stmt, ObjType::Tree, "abc", None, None),
            Err(AttestationError::SubjectMismatch { .. })
        ));
        assert!(matches!(
            check_statement(&stmt, ObjType::Commit, "abd", None, None),
            Err(AttestationError::SubjectMismatch { .. })
        ));
        assert!(matches!(
            check_statement(&stmt, ObjType::Commit, "abc", None, Some("u")),
            Err(AttestationError::PredicateType { .. })
        ));
        check_statement(&stmt, ObjType::Commit, "abc", Some(("f", b"{ \"k\" : 1.0 }")), None).unwrap();
        assert!(matches!(
            check_statement(&stmt, ObjType::Commit, "abc", Some(("f", b"{\"k\":2}")), None),
            Err(AttestationError::PredicateFileMismatch { .. })
        ));
        assert!(matches!(
            check_statement(b"[]", ObjType::Commit, "abc", None, None),
            Err(AttestationError::Statement(_))
        ));
    }
}
