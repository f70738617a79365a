//! What the credential cache keeps in an OS keyring, whichever keyring it is ([`super::keyring`]
//! for keyutils, [`super::secret_service`] for the Secret Service): the entry's names, the
//! stored value's encoding, and the keyrings' shared error type.
use super::protocol::{Credential, KeyId, Response};

/// keyring service name of our entries.
pub const SERVICE: &str = "gitsign-rs-credential-cache";

/// A keyring failure (callers treat it as a cache miss).
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The keyring refused or failed.
    #[error("system keyring: {0}")]
    Keyring(String),
    /// The Secret Service refused or failed.
    #[error("Secret Service: {0}")]
    SecretService(String),
    /// The Secret Service did not answer in time.
    #[error("Secret Service: {0}")]
    Timeout(String),
    /// The stored value is not one of ours.
    #[error("system keyring entry is unreadable: {0}")]
    Corrupt(String),
    /// This keyring is not available in this build or on this platform.
    #[error("{0}")]
    Unsupported(&'static str),
}

/// The stored value: the credential and its expiry, in the daemon protocol's encoding.
pub(crate) fn encode(cred: &Credential, expires_at: i64) -> zeroize::Zeroizing<Vec<u8>> {
    Response::Credential(Some((expires_at, Box::new(cred.clone())))).encode()
}

/// The credential and expiry in a stored value (`None`: an empty marker).
pub(crate) fn decode(bytes: &[u8]) -> Result<Option<(i64, Credential)>, KeyringError> {
    match Response::decode(bytes) {
        Ok(Response::Credential(c)) => Ok(c.map(|(e, c)| (e, *c))),
        Ok(_) => Err(KeyringError::Corrupt("not a credential".into())),
        Err(e) => Err(KeyringError::Corrupt(e.to_string())),
    }
}

/// The keyring user name of an entry: the hex cache key.
pub(crate) fn user(key: &KeyId) -> String {
    hex::encode(key)
}
