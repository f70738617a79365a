//! A signing identity: an ephemeral key and the certificate Fulcio issued for it, with the
//! token's claims. Made by the sign pipeline, kept by the credential cache. The key is either
//! in this process ([`IdentityKey::Local`]) or held by the credential-cache daemon, which
//! signs for us ([`IdentityKey::Agent`]).
use crate::services::fulcio::CertChain;
use crate::services::oidc::Claims;
use p256::ecdsa::DerSignature;
use p256::ecdsa::signature::{Error as SignatureError, Signer};

/// Where the key of an identity is.
#[derive(Debug)]
pub enum IdentityKey {
    /// In this process, in locked memory, zeroized on drop ([`crate::crypto::secret`]).
    Local(crate::crypto::secret::SecretKey),
    /// In the credential-cache daemon, which signs for us; this process never sees it.
    #[cfg(unix)]
    Agent(super::agent::AgentKey),
}

impl IdentityKey {
    /// The public key.
    pub fn verifying_key(&self) -> &p256::ecdsa::VerifyingKey {
        match self {
            IdentityKey::Local(k) => k.verifying_key(),
            #[cfg(unix)]
            IdentityKey::Agent(k) => k.verifying_key(),
        }
    }

    /// The key itself, when it is in this process.
    pub fn local(&self) -> Option<&crate::crypto::secret::SecretKey> {
        match self {
            IdentityKey::Local(k) => Some(k),
            #[cfg(unix)]
            IdentityKey::Agent(_) => None,
        }
    }
}

impl Signer<DerSignature> for IdentityKey {
    fn try_sign(&self, msg: &[u8]) -> Result<DerSignature, SignatureError> {
        match self {
            IdentityKey::Local(k) => k.try_sign(msg),
            #[cfg(unix)]
            IdentityKey::Agent(k) => k.try_sign(msg),
        }
    }
}

/// A key and the certificate Fulcio issued for it.
pub struct Identity {
    /// The signing key (here or in the cache daemon).
    pub key: IdentityKey,
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
