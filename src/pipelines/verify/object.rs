//! The library entry point for other tools (gittuf, Flux, CI systems): verify a git object's
//! raw bytes under an explicit identity policy and get a typed result. See the crate
//! documentation for an example.
use crate::crypto::x509::{CertError, CertInfo, San};
use crate::git::object::{self as git, GitError, HashAlgo, ObjectKind};
use crate::pipelines::verify::policy::{Policy, PolicyError, committer_email};
use crate::pipelines::verify::signature::{TlogEvidence, Verified, VerifyError, VerifyOptions};

/// A verified object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedObject {
    /// The object kind.
    pub kind: ObjectKind,
    /// The object id (hex) of the raw bytes, hashed as a SHA-1 object (use
    /// [`crate::git::object::object_id`] for SHA-256 repositories).
    pub object_id: String,
    /// The signer identity (first SAN of the certificate).
    pub identity: String,
    /// The certificate's OIDC issuer.
    pub issuer: Option<String>,
    /// The committer's (tagger's) email from the object headers, if any.
    pub committer_email: Option<String>,
    /// Whether that email is one of the certificate's email identities (informational unless
    /// the policy requires it with `match_committer`).
    pub committer_matches: bool,
    /// What vouched for the signing time: the embedded entry, an online lookup, or nothing
    /// (only with `insecure_ignore_tlog`).
    pub tlog: TlogEvidence,
    /// Every detail of the verification (certificate, validity, SCT, times).
    pub signature: Verified,
}

/// Why an object did not verify.
#[derive(Debug, thiserror::Error)]
pub enum ObjectVerifyError {
    /// The object cannot be split into payload and signature (unsigned, duplicate signature
    /// headers, malformed).
    #[error("{0}")]
    Object(#[from] GitError),
    /// The object repeats its `committer` (commit) or `tagger` (tag) header.
    #[error("{0}")]
    Headers(PolicyError),
    /// The signature does not verify.
    #[error("{0}")]
    Signature(#[from] VerifyError),
    /// The verified signer certificate cannot be re-read.
    #[error("cannot parse the signer certificate: {0}")]
    Certificate(#[from] CertError),
    /// The signature is valid but the signer is not acceptable.
    #[error("the signature is valid, but {0}")]
    Policy(#[from] PolicyError),
}

/// Verify a signed commit or tag from its raw bytes (as `git cat-file commit|tag ID` prints
/// them): split it exactly as git does, refuse a repeated `committer` (commit) or `tagger`
/// (tag) header, verify the signature (CMS, transparency log, chain at
/// the log time, SCT), then apply `policy`.
///
/// The object id for an online-mode Rekor lookup is the SHA-1 id of `raw` unless
/// `opts.object_id` is set. Build the policy with [`Policy::from_flags`] (an identity and an
/// issuer are required unless `insecure_no_identity`).
pub fn verify_object(
    kind: ObjectKind,
    raw: &[u8],
    policy: &Policy,
    opts: &VerifyOptions<'_>,
) -> Result<VerifiedObject, ObjectVerifyError> {
    let split = git::split_object(kind, raw)?;
    // Refused before any signature work: which committer a repeated header names is ambiguous.
    let email = committer_email(kind, &split.payload).map_err(ObjectVerifyError::Headers)?;
    let object_id = git::object_id(kind, raw, HashAlgo::Sha1);
    let opts = VerifyOptions { object_id: Some(opts.object_id.clone().unwrap_or_else(|| object_id.clone())), ..*opts };
    let v = crate::pipelines::verify::signature::verify(&split.payload, &split.signature, &opts)?;
    let cert = CertInfo::parse(&v.cert_der)?;
    policy.check(&cert, email.as_deref())?;
    let committer_matches = email.as_deref().is_some_and(|e| {
        !e.is_empty() && cert.sans.iter().any(|s| matches!(s, San::Email(x) if x.eq_ignore_ascii_case(e)))
    });
    Ok(VerifiedObject {
        kind,
        object_id,
        identity: v.identity.clone(),
        issuer: v.issuer.clone(),
        committer_email: email,
        committer_matches,
        tlog: v.tlog.clone(),
        signature: v,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::verify::policy::PolicyFlags;
    use crate::trust::root::TrustedRoot;

    fn real(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../shared/fixtures/real/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn policy(id: &str, iss: &str, match_committer: bool) -> Policy {
        Policy::from_flags(&PolicyFlags {
            identity: Some(id.into()),
            issuer: Some(iss.into()),
            match_committer,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn real_commit_and_tag_with_policy() {
        let trust = TrustedRoot::production().unwrap();
        let opts = VerifyOptions::new(trust);
        let raw = real("sigstore_gitsign__3616021d86975c23e52a456a7dc5605fe130ed14.commit");
        let p = policy("billy@chainguard.dev", "https://accounts.google.com", true);
        let v = verify_object(ObjectKind::Commit, &raw, &p, &opts).unwrap();
        assert_eq!(v.object_id, "3616021d86975c23e52a456a7dc5605fe130ed14");
        assert_eq!(v.committer_email.as_deref(), Some("billy@chainguard.dev"));
        assert!(v.committer_matches);
        assert_eq!(v.tlog, TlogEvidence::Embedded { log_index: 2340836642, integrated_time: v.signature.verified_at });
        // wrong identity: a policy error, not a signature error
        let e = verify_object(ObjectKind::Commit, &raw, &policy("x@y.z", "https://accounts.google.com", false), &opts)
            .unwrap_err();
        assert!(matches!(e, ObjectVerifyError::Policy(PolicyError::IdentityMismatch { .. })), "{e}");
        // one byte of the message changed: the signature fails
        let mut bad = raw.clone();
        if let Some(b) = bad.last_mut() {
            *b ^= 0x20;
        }
        let e = verify_object(ObjectKind::Commit, &bad, &p, &opts).unwrap_err();
        assert!(matches!(e, ObjectVerifyError::Signature(_)), "{e}");
        // the wrong kind: no signature found
        let e = verify_object(ObjectKind::Tag, &raw, &p, &opts).unwrap_err();
        assert!(matches!(e, ObjectVerifyError::Object(_)), "{e}");
    }

    #[test]
    fn online_mode_object_offline_is_a_typed_error() {
        let trust = TrustedRoot::production().unwrap();
        let raw = real("sigstore_gitsign__9d6c4c63e05b62088998795e483cd6c8b33c29cb.commit");
        let p = policy("billy@chainguard.dev", "https://accounts.google.com", false);
        let e = verify_object(ObjectKind::Commit, &raw, &p, &VerifyOptions::new(trust)).unwrap_err();
        assert!(matches!(e, ObjectVerifyError::Signature(VerifyError::TlogNeedsNetwork { .. })), "{e}");
        let opts = VerifyOptions { insecure_ignore_tlog: true, ..VerifyOptions::new(trust) };
        let v = verify_object(ObjectKind::Commit, &raw, &p, &opts).unwrap();
        assert_eq!(v.tlog, TlogEvidence::NotChecked);
        assert_eq!(v.object_id, "9d6c4c63e05b62088998795e483cd6c8b33c29cb");
    }
}
