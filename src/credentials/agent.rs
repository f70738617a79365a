//! Agent signing: the key of a cached identity stays in the credential-cache daemon, which
//! signs for this process (protocol v2 `Sign`), as ssh-agent and gpg-agent do.
//!
//! [`AgentKey`] is a [`Signer`] like a local key: it hashes the message (SHA-256) and asks the
//! daemon for the ECDSA P-256 signature over the digest, on the connection the identity was
//! described on. The signature bytes are those a local key would make (RFC 6979 nonces).
use super::client::{Client, ClientError};
use super::protocol::KeyId;
use p256::ecdsa::DerSignature;
use p256::ecdsa::signature::{Error as SignatureError, Signer};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Mutex;

/// Why the daemon gave no signature.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The daemon could not be asked.
    #[error("the credential cache daemon at {} could not sign: {source}", path.display())]
    Client {
        /// The socket.
        path: PathBuf,
        /// What failed.
        source: ClientError,
    },
    /// The entry went (expired or cleared) between the look-up and the signature.
    #[error(
        "the credential cache daemon at {} no longer holds the cached identity (it expired or was cleared); sign again to log in",
        .0.display()
    )]
    Gone(PathBuf),
    /// The daemon's answer is not a DER ECDSA signature.
    #[error("the credential cache daemon at {} answered with something that is not a signature", .0.display())]
    NotASignature(PathBuf),
}

/// A signing key held by the credential-cache daemon.
pub struct AgentKey {
    client: Mutex<Client>,
    path: PathBuf,
    key: KeyId,
    public: p256::ecdsa::VerifyingKey,
}

impl std::fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentKey").field("path", &self.path).field("public", &self.public).finish_non_exhaustive()
    }
}

impl AgentKey {
    /// The key of the entry `key` in the daemon at `path`, reached over `client`, whose
    /// certificate names `public`.
    pub fn new(client: Client, path: PathBuf, key: KeyId, public: p256::ecdsa::VerifyingKey) -> AgentKey {
        AgentKey { client: Mutex::new(client), path, key, public }
    }

    /// The public key (from the entry's certificate).
    pub fn verifying_key(&self) -> &p256::ecdsa::VerifyingKey {
        &self.public
    }

    /// The daemon's signature over `digest`.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Result<DerSignature, AgentError> {
        let mut client = self.client.lock().unwrap_or_else(|p| p.into_inner());
        let der = client
            .sign(&self.key, digest)
            .map_err(|source| AgentError::Client { path: self.path.clone(), source })?
            .ok_or_else(|| AgentError::Gone(self.path.clone()))?;
        DerSignature::from_bytes(&der).map_err(|_| AgentError::NotASignature(self.path.clone()))
    }
}

impl Signer<DerSignature> for AgentKey {
    fn try_sign(&self, msg: &[u8]) -> Result<DerSignature, SignatureError> {
        self.sign_digest(&Sha256::digest(msg).into()).map_err(SignatureError::from_source)
    }
}
