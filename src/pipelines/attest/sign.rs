//! `gitsign attest`: an in-toto v1 statement about a commit or tree, signed in a DSSE envelope
//! with the Fulcio-certified key, logged in Rekor as an intoto v0.0.1 entry (checked against the
//! trusted root before anything is stored), and stored under `refs/attestations/*`
//! ([`super::refs`]).
//!
//! The statement is what sigstore/gitsign writes (protobuf JSON of in-toto's `Statement`):
//! `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"gitCommit":"<id>"}}],
//! "predicateType":"<type>","predicate":{…}}`, compact, fields in that order, `predicateType`
//! left out when empty, the predicate (which must be a JSON object) with keys sorted and numbers
//! as doubles (`1`, `0.5`, `1e+21`).
use super::refs::{self, ObjType, RefsError};
use crate::pipelines::dsse::{self, DsseError, Envelope, INTOTO_PAYLOAD_TYPE};
use crate::pipelines::sign::Identity;
use crate::services::rekor::client::{RekorClient, RekorError};
use crate::services::rekor::entry::TransparencyLogEntry;
use crate::services::rekor::verify::{TlogError, VerifiedEntry};
use crate::trust::root::TrustedRoot;
use serde_json::Value;

/// The in-toto statement type gitsign writes.
pub const STATEMENT_V1: &str = super::STATEMENT_TYPE;

/// Errors while attesting or verifying attestations. Each says what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum AttestationError {
    /// Reading or writing the attestation ref failed.
    #[error(transparent)]
    Refs(#[from] RefsError),
    /// The key (or the credential-cache daemon holding it) did not sign.
    #[error("cannot sign the attestation: {0}")]
    Signer(String),
    /// The predicate file is not a JSON object.
    #[error("the attestation file is not usable as an in-toto predicate: {0} (it must hold one JSON object)")]
    Predicate(String),
    /// Rekor failed.
    #[error("{0}\n  (check gitsign.rekor / GITSIGN_REKOR_URL)")]
    Rekor(#[from] RekorError),
    /// Rekor's answer is not a usable entry.
    #[error("Rekor at {url} answered with an unusable entry: {reason}")]
    BadEntry {
        /// The Rekor URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Rekor's entry does not verify with the trusted root.
    #[error(
        "the Rekor entry does not verify with the trusted root: {0}\n  (for a private Sigstore, point gitsign.trustedRoot / GITSIGN_TRUSTED_ROOT at its trusted_root.json)"
    )]
    Tlog(#[from] TlogError),
    /// The envelope is malformed or its signature does not verify.
    #[error(transparent)]
    Dsse(#[from] DsseError),
    /// The signed statement is not an in-toto statement.
    #[error("the signed payload is not an in-toto statement: {0}")]
    Statement(String),
    /// The statement is about another object.
    #[error("the attestation is about {got}, not about the {kind} {want}: it was copied from another object")]
    SubjectMismatch {
        /// commit or tree.
        kind: &'static str,
        /// The object verified.
        want: String,
        /// What the statement names.
        got: String,
    },
    /// The predicate type is not the one required.
    #[error("the attestation's predicate type is {got:?}, not the required {want:?}")]
    PredicateType {
        /// Required.
        want: String,
        /// Found.
        got: String,
    },
    /// The stored predicate file differs from the signed predicate.
    #[error("the stored file {name} differs from the predicate signed in {name}.sig: it was changed after signing")]
    PredicateFileMismatch {
        /// The file name.
        name: String,
    },
    /// No Rekor entry records this envelope.
    #[error(
        "Rekor at {url} has no entry recording this attestation's envelope (sha256:{envelope_sha256}): it was never logged there, or it was altered"
    )]
    NotLogged {
        /// The Rekor URL.
        url: String,
        /// SHA-256 of the envelope text, hex.
        envelope_sha256: String,
    },
    /// The signer certificate is not acceptable.
    #[error("the attestation's signing certificate is not acceptable: {0}")]
    Certificate(String),
    /// The signer is not the required identity.
    #[error("the attestation is validly signed, but {0}")]
    Policy(#[from] crate::pipelines::verify::policy::PolicyError),
}

fn predicate_err(e: impl std::fmt::Display) -> AttestationError {
    AttestationError::Predicate(e.to_string())
}

/// A double as protobuf JSON writes it (ECMAScript shortest form: plain between 1e-6 and 1e21,
/// exponent with a sign and at least two digits otherwise).
fn number(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || (1e-6..1e21).contains(&a) {
        return format!("{x}");
    }
    let s = format!("{x:e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// Canonical protobuf-JSON rendering of a `google.protobuf.Value`: sorted keys, compact.
fn render(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                render(&m[k], out);
            }
            out.push('}');
        }
    }
}

/// The predicate (a JSON object) in its signed form.
pub fn canonical_predicate(predicate: &[u8]) -> Result<String, AttestationError> {
    let v: Value = serde_json::from_slice(predicate).map_err(predicate_err)?;
    if !v.is_object() {
        return Err(predicate_err("it is not a JSON object"));
    }
    let mut out = String::new();
    render(&v, &mut out);
    Ok(out)
}

/// The statement gitsign signs about `target` (a `kind` id).
pub fn statement(
    kind: ObjType,
    target: &str,
    predicate_type: &str,
    predicate: &[u8],
) -> Result<Vec<u8>, AttestationError> {
    let pred = canonical_predicate(predicate)?;
    let js = |s: &str| Value::String(s.to_string()).to_string();
    let mut out = format!(
        r#"{{"_type":{},"subject":[{{"digest":{{{}:{}}}}}],"#,
        js(STATEMENT_V1),
        js(kind.digest_name()),
        js(target)
    );
    if !predicate_type.is_empty() {
        out.push_str(&format!(r#""predicateType":{},"#, js(predicate_type)));
    }
    out.push_str(&format!(r#""predicate":{pred}}}"#));
    Ok(out.into_bytes())
}

/// Verify an intoto v0.0.1 entry against the body rebuilt from the envelope being checked.
pub(crate) fn verify_intoto_entry(
    entry: &TransparencyLogEntry,
    body: &[u8],
    trust: &TrustedRoot,
    rekor_url: &str,
) -> Result<VerifiedEntry, AttestationError> {
    if entry.kind != "intoto" || entry.version != "0.0.1" {
        return Err(AttestationError::BadEntry {
            url: rekor_url.to_string(),
            reason: format!(
                "it is a {} {} entry, not the intoto 0.0.1 entry an attestation is logged as",
                entry.kind, entry.version
            ),
        });
    }
    // `verify_entry` is written for hashedrekord entries; the kind is not part of what the SET or
    // the proof sign, and it was checked just above (as bundle verification does).
    let mut as_checked = entry.clone();
    as_checked.kind = crate::services::rekor::entry::KIND_HASHEDREKORD.into();
    Ok(crate::services::rekor::verify::verify_entry(&as_checked, body, trust)?)
}

/// What `gitsign attest` did.
#[derive(Debug, Clone)]
pub struct Attested {
    /// The new commit of the attestation ref.
    pub commit: String,
    /// The ref.
    pub ref_name: &'static str,
    /// The attested object id.
    pub target: String,
    /// Rekor's global log index.
    pub log_index: i64,
    /// Rekor's entry uuid.
    pub uuid: String,
    /// The envelope text stored as `<name>.sig`.
    pub envelope: String,
}

/// Attest `target` (a `kind` id) with the predicate file `predicate` (stored as `name`): sign,
/// log in Rekor, check the log's answer against `trust`, store under the attestation ref.
/// Nothing is stored when any step fails.
#[allow(clippy::too_many_arguments)]
pub fn attest(
    identity: &Identity,
    rekor: &RekorClient,
    trust: &TrustedRoot,
    kind: ObjType,
    target: &str,
    name: &str,
    predicate: &[u8],
    predicate_type: &str,
) -> Result<Attested, AttestationError> {
    refs::check_name(name)?;
    let stmt = statement(kind, target, predicate_type, predicate)?;
    let envelope = Envelope::sign(&identity.key, INTOTO_PAYLOAD_TYPE, &stmt)
        .map_err(|e| AttestationError::Signer(crate::pipelines::sign::signer_error(&e)))?;
    let envelope_json = envelope.to_json();
    let leaf = &identity.certs.leaf;
    let (uuid, entry) = rekor.create_entry(&dsse::intoto_v001_proposed(&envelope_json, leaf))?;
    let bad = |reason: String| AttestationError::BadEntry { url: rekor.base_url().to_string(), reason };
    let tle = TransparencyLogEntry::from_api(&entry).map_err(|e| bad(e.to_string()))?;
    let body = dsse::intoto_v001_body(envelope_json.as_bytes(), &stmt, leaf);
    let v = verify_intoto_entry(&tle, &body, trust, rekor.base_url())?;
    let commit = refs::store(kind.ref_name(), target, name, predicate, envelope_json.as_bytes())?;
    Ok(Attested {
        commit,
        ref_name: kind.ref_name(),
        target: target.to_string(),
        log_index: v.log_index,
        uuid,
        envelope: envelope_json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_layout_matches_gitsign() {
        // gitsign's own expectation (internal/attest/attest_test.go), field order included.
        let s = statement(ObjType::Commit, "abc", "custom-pred-type", br#"{ "foo" : "bar" }"#).unwrap();
        assert_eq!(
            String::from_utf8(s).unwrap(),
            r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"gitCommit":"abc"}}],"predicateType":"custom-pred-type","predicate":{"foo":"bar"}}"#
        );
        let s = statement(ObjType::Tree, "def", "", b"{}").unwrap();
        assert_eq!(
            String::from_utf8(s).unwrap(),
            r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"gitTree":"def"}}],"predicate":{}}"#
        );
    }

    #[test]
    fn predicate_canonical_form() {
        let p = br#"{"z":[1,2.5,-0.000001,1e21,12345678901234567890,true,null],"a":{"y":"<&>\n\u0001","b":1.0}}"#;
        assert_eq!(
            canonical_predicate(p).unwrap(),
            r#"{"a":{"b":1,"y":"<&>\n\u0001"},"z":[1,2.5,-0.000001,1e+21,12345678901234567000,true,null]}"#
        );
        assert_eq!(number(1.5e-7), "1.5e-07");
        assert_eq!(number(0.0), "0");
        for bad in [&b"[]"[..], b"1", b"\"x\"", b"{", b""] {
            assert!(matches!(canonical_predicate(bad), Err(AttestationError::Predicate(_))), "{bad:?}");
        }
    }
}
