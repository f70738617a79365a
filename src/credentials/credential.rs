//! What the credential cache knows about a cached credential without its configuration: when its
//! certificate expires and which identity it names. Shared by the cache front end ([`super::cache`])
//! and the daemon ([`super::server`]).
use super::protocol::Credential;

/// Default safety margin (seconds) between an entry's expiry and its certificate's notAfter.
pub const DEFAULT_MARGIN_SECS: i64 = 60;
/// A cached credential is only used if its certificate is valid at least this much longer
/// (seconds), so that signing and logging finish inside the validity window.
pub const MIN_REMAINING_SECS: i64 = 30;

/// Errors turning credentials into identities and back.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The private key could not be encoded or decoded.
    #[error("cached private key: {0}")]
    Key(String),
    /// The certificate does not parse.
    #[error("cached certificate does not parse: {0}")]
    Certificate(String),
    /// The key does not belong to the certificate.
    #[error("cached key does not match its certificate")]
    KeyMismatch,
    /// The certificate is about to expire.
    #[error("cached certificate expires at {}, too soon to sign with", crate::encoding::timefmt::describe(*not_after, *now))]
    Expiring {
        /// notAfter, unix seconds.
        not_after: i64,
        /// Now, unix seconds.
        now: i64,
    },
}

/// The certificate's notAfter (unix seconds).
pub fn not_after(leaf_der: &[u8]) -> Result<i64, CredentialError> {
    crate::crypto::x509::CertInfo::parse(leaf_der)
        .map(|i| i.not_after)
        .map_err(|e| CredentialError::Certificate(e.to_string()))
}

/// When an entry for this certificate expires: notAfter minus `margin` seconds.
pub fn expiry(leaf_der: &[u8], margin: i64) -> Result<i64, CredentialError> {
    Ok(not_after(leaf_der)?.saturating_sub(margin))
}

/// The identity a cached credential signs as: its certificate's (email or URI), else the
/// token's email, else its subject.
pub fn credential_identity(c: &Credential) -> String {
    crate::crypto::x509::CertInfo::parse(&c.leaf)
        .ok()
        .and_then(|info| info.identity().map(str::to_string))
        .or_else(|| c.email.clone())
        .unwrap_or_else(|| c.subject.clone())
}
