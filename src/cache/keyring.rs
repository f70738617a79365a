//! `credentialCacheMode=system`: credentials in the OS keyring, no daemon.
//!
//! On Linux this is the kernel keyutils keyring through `keyring-core` and
//! `linux-keyutils-keyring-store`: the key is added to the session keyring and linked into
//! the per-user persistent keyring, so later processes of the same user find it. A session
//! keyring is created first if the process has none (headless logins often lack one). The
//! kernel key also gets a timeout at the entry's expiry, and the stored value carries the
//! expiry so a stale entry is never used. The keyring's contents stay in kernel memory; nothing
//! is written to disk. Secret Service (desktop keyrings) is not supported; elsewhere every
//! call fails, which callers treat as a miss.
use super::protocol::{Credential, KeyId, Response};

/// keyring service name of our entries.
pub const SERVICE: &str = "gitsign-rs-credential-cache";

/// A keyring failure (callers treat it as a cache miss).
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The keyring refused or failed.
    #[error("system keyring: {0}")]
    Keyring(String),
    /// The stored value is not one of ours.
    #[error("system keyring entry is unreadable: {0}")]
    Corrupt(String),
    /// No keyring on this platform.
    #[error("the system keyring cache is only available on Linux (kernel keyutils)")]
    Unsupported,
}

fn encode(cred: &Credential, expires_at: i64) -> zeroize::Zeroizing<Vec<u8>> {
    Response::Credential(Some((expires_at, Box::new(cred.clone())))).encode()
}

fn decode(bytes: &[u8]) -> Result<Option<(i64, Credential)>, KeyringError> {
    match Response::decode(bytes) {
        Ok(Response::Credential(c)) => Ok(c.map(|(e, c)| (e, *c))),
        Ok(_) => Err(KeyringError::Corrupt("not a credential".into())),
        Err(e) => Err(KeyringError::Corrupt(e.to_string())),
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use keyring_core::api::CredentialStoreApi;
    use linux_keyutils::{KeyRing, KeyRingIdentifier};
    use zeroize::Zeroizing;

    fn err(e: impl std::fmt::Display) -> KeyringError {
        KeyringError::Keyring(e.to_string())
    }

    fn user(key: &KeyId) -> String {
        hex::encode(key)
    }

    fn entry(key: &KeyId) -> Result<keyring_core::Entry, KeyringError> {
        // Without a session keyring the store cannot work; create one if needed.
        KeyRing::from_special_id(KeyRingIdentifier::Session, true).map_err(err)?;
        let store = linux_keyutils_keyring_store::Store::new().map_err(err)?;
        store.build(SERVICE, &user(key), None).map_err(err)
    }

    pub fn get(key: &KeyId, now: i64) -> Result<Option<(i64, Credential)>, KeyringError> {
        let e = entry(key)?;
        let secret = match e.get_secret() {
            Ok(s) => Zeroizing::new(s),
            Err(keyring_core::Error::NoEntry) => return Ok(None),
            Err(x) => return Err(err(x)),
        };
        match decode(&secret)? {
            Some((exp, c)) if exp > now => Ok(Some((exp, c))),
            Some(_) => {
                let _ = e.delete_credential();
                Ok(None)
            }
            None => Ok(None),
        }
    }

    pub fn store(key: &KeyId, cred: &Credential, expires_at: i64, now: i64) -> Result<(), KeyringError> {
        let secs = expires_at - now;
        if secs <= 0 {
            return Err(KeyringError::Keyring("the certificate expires too soon to cache".into()));
        }
        let e = entry(key)?;
        e.set_secret(&encode(cred, expires_at)).map_err(err)?;
        // Let the kernel drop the key at expiry too (best effort: the stored expiry is
        // checked on every read anyway).
        let description = format!("keyring:{}@{SERVICE}", user(key));
        if let Ok(k) = KeyRing::from_special_id(KeyRingIdentifier::Session, false).and_then(|r| r.search(&description))
        {
            let _ = k.set_timeout(usize::try_from(secs).unwrap_or(usize::MAX));
        }
        Ok(())
    }

    pub fn clear(key: &KeyId) -> Result<bool, KeyringError> {
        match entry(key)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(x) => Err(err(x)),
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    pub fn get(_key: &KeyId, _now: i64) -> Result<Option<(i64, Credential)>, KeyringError> {
        Err(KeyringError::Unsupported)
    }

    pub fn store(_key: &KeyId, _cred: &Credential, _expires_at: i64, _now: i64) -> Result<(), KeyringError> {
        Err(KeyringError::Unsupported)
    }

    pub fn clear(_key: &KeyId) -> Result<bool, KeyringError> {
        Err(KeyringError::Unsupported)
    }
}

/// The live credential under `key` at `now`, if any (an expired one is deleted).
pub fn get(key: &KeyId, now: i64) -> Result<Option<(i64, Credential)>, KeyringError> {
    imp::get(key, now)
}

/// Store `cred` under `key` until `expires_at`.
pub fn store(key: &KeyId, cred: &Credential, expires_at: i64, now: i64) -> Result<(), KeyringError> {
    imp::store(key, cred, expires_at, now)
}

/// Remove the entry under `key`; whether there was one.
pub fn clear(key: &KeyId) -> Result<bool, KeyringError> {
    imp::clear(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_garbage_is_corrupt() {
        let c = Credential {
            private_key_pkcs8: zeroize::Zeroizing::new(vec![5; 16]),
            leaf: vec![1, 2],
            chain: vec![vec![3]],
            issuer: "i".into(),
            subject: "s".into(),
            email: Some("e@x".into()),
            email_verified: Some(true),
        };
        let v = encode(&c, 99);
        assert_eq!(decode(&v).unwrap(), Some((99, c)));
        assert!(matches!(decode(b"garbage"), Err(KeyringError::Corrupt(_))));
    }
}
