//! A signing identity: an ephemeral key and the certificate Fulcio issued for it, with the
//! token's claims. Made by the sign pipeline, kept by the credential cache.
use crate::services::fulcio::CertChain;
use crate::services::oidc::Claims;

/// A key and the certificate Fulcio issued for it.
pub struct Identity {
    /// The ephemeral key, in locked memory, zeroized on drop ([`crate::crypto::secret`]).
    pub key: crate::crypto::secret::SecretKey,
    /// Leaf certificate (DER) and chain.
    pub certs: CertChain,
    /// The token's claims (issuer, subject).
    pub claims: Claims,
    /// Read back from the credential cache, whose entries are keyed by the trusted root they
    /// were checked under (so [`check_certificate`](crate::pipelines::sign::check_certificate) need not repeat the chain's signatures).
    pub from_cache: bool,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("claims", &self.claims).finish_non_exhaustive()
    }
}
