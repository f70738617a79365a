//! `credentialCacheMode=system`: credentials in the OS keyring, no daemon.
//!
//! Two keyrings ([`Keyring`]), chosen by [`select`]:
//!
//! - **Secret Service** ([`super::secret_service`]): the freedesktop.org D-Bus API that GNOME
//!   Keyring, KWallet and KeePassXC offer on desktops. `system` uses it when a session bus is
//!   configured (`DBUS_SESSION_BUS_ADDRESS`) and the service answers; `secret-service` forces it.
//! - **keyutils**: the kernel keyring, through `keyring-core` and
//!   `linux-keyutils-keyring-store`. The key is added to the session keyring and linked into
//!   the per-user persistent keyring, so later processes of the same user find it. A session
//!   keyring is created first if the process has none (headless logins often lack one). The
//!   kernel key also gets a timeout at the entry's expiry. The keyring's contents stay in
//!   kernel memory; nothing is written to disk. `system` uses it when there is no Secret
//!   Service; `keyutils` forces it.
//!
//! Both hold the same value under the same names (service [`SERVICE`], user = the hex cache
//! key): the credential and its expiry, so a stale entry is never used and is deleted when
//! read. Every error is returned to the caller, which treats it as a cache miss.
pub use super::keyring_entry::{KeyringError, SERVICE};
use super::keyring_entry::{decode, encode, user};
use super::protocol::{Credential, KeyId};

/// Which keyring the configuration asks for (`gitsign.credentialCacheMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// `system`: the Secret Service if a session bus offers one, else keyutils.
    Auto,
    /// `secret-service`.
    SecretService,
    /// `keyutils`.
    Keyutils,
}

/// A keyring the cache can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyring {
    /// The D-Bus Secret Service.
    SecretService,
    /// The kernel keyutils keyring.
    Keyutils,
}

/// Whether this process is configured with a D-Bus session bus (`DBUS_SESSION_BUS_ADDRESS`).
pub fn session_bus_configured() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
}

/// The keyring for `choice`. `Auto` asks the Secret Service on the session bus (bounded by
/// [`super::secret_service::TIMEOUT`]) and falls back to keyutils when there is no bus or no
/// answer; the forced choices are returned as they are, their errors come with their use.
pub fn select(choice: Choice) -> Result<Keyring, KeyringError> {
    // Decided once per process: a look-up and the store that follows use the same keyring,
    // and a Secret Service that does not answer costs one wait, not one per operation.
    static AUTO: std::sync::OnceLock<Keyring> = std::sync::OnceLock::new();
    if choice == Choice::Auto
        && let Some(k) = AUTO.get()
    {
        return Ok(*k);
    }
    let k = match choice {
        Choice::SecretService => Keyring::SecretService,
        Choice::Keyutils => Keyring::Keyutils,
        Choice::Auto if !session_bus_configured() => {
            crate::app::runlog::debug("credential cache: no D-Bus session bus; using the kernel keyutils keyring");
            Keyring::Keyutils
        }
        Choice::Auto => match super::secret_service::connect() {
            Ok(()) => Keyring::SecretService,
            Err(e @ KeyringError::Timeout(_)) => {
                // Not silent: every signature waits for this until the service is fixed.
                eprintln!("gitsign: warning: credential cache: {e}; using the kernel keyutils keyring instead");
                Keyring::Keyutils
            }
            Err(e) => {
                crate::app::runlog::debug(&format!("credential cache: {e}; using the kernel keyutils keyring"));
                Keyring::Keyutils
            }
        },
    };
    crate::app::runlog::debug(&format!("credential cache: keyring {}", k.name()));
    if choice == Choice::Auto {
        let _ = AUTO.set(k);
    }
    Ok(k)
}

impl Keyring {
    /// The name `gitsign.credentialCacheMode` uses for this keyring.
    pub fn name(self) -> &'static str {
        match self {
            Keyring::SecretService => "secret-service",
            Keyring::Keyutils => "keyutils",
        }
    }

    /// The live credential under `key` at `now`, if any (an expired one is deleted).
    pub fn get(self, key: &KeyId, now: i64) -> Result<Option<(i64, Credential)>, KeyringError> {
        match self {
            Keyring::SecretService => super::secret_service::get(key, now),
            Keyring::Keyutils => imp::get(key, now),
        }
    }

    /// Store `cred` under `key` until `expires_at`.
    pub fn store(self, key: &KeyId, cred: &Credential, expires_at: i64, now: i64) -> Result<(), KeyringError> {
        if expires_at <= now {
            return Err(KeyringError::Keyring("the certificate expires too soon to cache".into()));
        }
        match self {
            Keyring::SecretService => super::secret_service::store(key, cred, expires_at, now),
            Keyring::Keyutils => imp::store(key, cred, expires_at, now),
        }
    }

    /// Remove the entry under `key`; whether there was one.
    pub fn clear(self, key: &KeyId) -> Result<bool, KeyringError> {
        match self {
            Keyring::SecretService => super::secret_service::clear(key),
            Keyring::Keyutils => imp::clear(key),
        }
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

    fn entry(key: &KeyId) -> Result<keyring_core::Entry, KeyringError> {
        // Without a session keyring the store cannot work; create one if needed.
        KeyRing::from_special_id(KeyRingIdentifier::Session, true).map_err(err)?;
        let store = linux_keyutils_keyring_store::Store::new().map_err(err)?;
        store.build(SERVICE, &user(key), None).map_err(err)
    }

    pub(super) fn get(key: &KeyId, now: i64) -> Result<Option<(i64, Credential)>, KeyringError> {
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

    pub(super) fn store(key: &KeyId, cred: &Credential, expires_at: i64, now: i64) -> Result<(), KeyringError> {
        let secs = expires_at - now;
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

    pub(super) fn clear(key: &KeyId) -> Result<bool, KeyringError> {
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

    const NO: KeyringError = KeyringError::Unsupported("the kernel keyutils keyring exists only on Linux");

    pub fn get(_key: &KeyId, _now: i64) -> Result<Option<(i64, Credential)>, KeyringError> {
        Err(NO)
    }

    pub fn store(_key: &KeyId, _cred: &Credential, _expires_at: i64, _now: i64) -> Result<(), KeyringError> {
        Err(NO)
    }

    pub fn clear(_key: &KeyId) -> Result<bool, KeyringError> {
        Err(NO)
    }
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
