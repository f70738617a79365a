//! The Secret Service keyring: the freedesktop.org D-Bus API (`org.freedesktop.secrets`) of
//! GNOME Keyring, KWallet and KeePassXC, through `keyring-core` and
//! `zbus-secret-service-keyring-store` (pure Rust, no libdbus, no OpenSSL).
//!
//! Entries are items of the default collection (the user's login keyring) with the attributes
//! `service` = [`super::keyring_entry::SERVICE`] and `username` = the hex cache key, labelled with
//! the identity and expiry for keyring managers. The item's secret is the credential and its
//! expiry ([`super::keyring`]): an item read after its expiry is deleted, and every store
//! deletes our other expired items first. The Secret Service may keep the collection on disk,
//! encrypted with the login password.
//!
//! A locked collection makes the service show an unlock prompt, which can wait forever on a
//! machine without a display; so every call runs on a worker thread and gives up after
//! [`TIMEOUT`] (the caller then treats it as a miss). The connection is opened once per process.
use super::keyring_entry::KeyringError;
use super::protocol::{Credential, KeyId};
use std::time::Duration;

/// How long one Secret Service operation may take before it counts as a miss.
pub const TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(all(target_os = "linux", feature = "secret-service"))]
mod imp {
    use super::super::keyring_entry::{SERVICE, decode, encode, user};
    use super::*;
    use keyring_core::api::CredentialStoreApi;
    use std::collections::HashMap;
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::sync::{Arc, Mutex};
    use zbus_secret_service_keyring_store::Store;

    /// The process's connection, once made.
    static STORE: Mutex<Option<Arc<Store>>> = Mutex::new(None);

    fn err(e: impl std::fmt::Display) -> KeyringError {
        KeyringError::SecretService(e.to_string())
    }

    /// Explain the errors a user can act on.
    fn explain(e: keyring_core::Error) -> KeyringError {
        match e {
            keyring_core::Error::NoStorageAccess(inner) => KeyringError::SecretService(format!(
                "the keyring is locked or refused access ({inner}); unlock it, or set \
                 gitsign.credentialCacheMode to keyutils or socket"
            )),
            keyring_core::Error::Ambiguous(v) => {
                KeyringError::SecretService(format!("{} items match one cache entry", v.len()))
            }
            other => err(other),
        }
    }

    /// The shared connection, opened on first use.
    fn connection() -> Result<Arc<Store>, KeyringError> {
        let mut slot = STORE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = slot.as_ref() {
            return Ok(s.clone());
        }
        let s = Store::new().map_err(|e| {
            KeyringError::SecretService(format!("cannot reach org.freedesktop.secrets on the session bus: {e}"))
        })?;
        *slot = Some(s.clone());
        Ok(s)
    }

    /// Run `f` against the store on a worker thread, for at most [`TIMEOUT`].
    fn run<T: Send + 'static>(
        what: &'static str,
        f: impl FnOnce(&Store) -> Result<T, KeyringError> + Send + 'static,
    ) -> Result<T, KeyringError> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("secret-service".into())
            .spawn(move || {
                let _ = tx.send(connection().and_then(|s| f(&s)));
            })
            .map_err(|e| err(format!("cannot start a thread: {e}")))?;
        match rx.recv_timeout(TIMEOUT) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) => Err(KeyringError::Timeout(format!(
                "no answer to {what} within {} s (a locked keyring waiting for an unlock prompt?); unlock it, \
                 or set gitsign.credentialCacheMode to keyutils or socket",
                TIMEOUT.as_secs()
            ))),
            Err(RecvTimeoutError::Disconnected) => Err(err(format!("the D-Bus client failed during {what}"))),
        }
    }

    fn entry(s: &Store, key: &KeyId, label: Option<&str>) -> Result<keyring_core::Entry, KeyringError> {
        let mods: HashMap<&str, &str> = label.map(|l| HashMap::from([("label", l)])).unwrap_or_default();
        s.build(SERVICE, &user(key), Some(&mods)).map_err(explain)
    }

    /// Delete every item of ours matching `spec` whose value is expired at `now` (or, with
    /// `all`, every one); how many went.
    fn purge(s: &Store, spec: &HashMap<&str, &str>, now: i64, all: bool) -> Result<usize, KeyringError> {
        let mut n = 0;
        for e in s.search(spec).map_err(explain)? {
            let stale = all
                || match e.get_secret() {
                    Ok(v) => !matches!(decode(&zeroize::Zeroizing::new(v)), Ok(Some((exp, _))) if exp > now),
                    Err(_) => false,
                };
            if stale && e.delete_credential().is_ok() {
                n += 1;
            }
        }
        Ok(n)
    }

    pub(super) fn connect() -> Result<(), KeyringError> {
        run("the connection request", |_| Ok(()))
    }

    pub(super) fn get(key: &KeyId, now: i64) -> Result<Option<(i64, Credential)>, KeyringError> {
        let key = *key;
        run("a look-up", move |s| {
            let e = entry(s, &key, None)?;
            let secret = match e.get_secret() {
                Ok(v) => zeroize::Zeroizing::new(v),
                Err(keyring_core::Error::NoEntry) => return Ok(None),
                Err(x) => return Err(explain(x)),
            };
            match decode(&secret)? {
                Some((exp, c)) if exp > now => Ok(Some((exp, c))),
                _ => {
                    let _ = e.delete_credential();
                    Ok(None)
                }
            }
        })
    }

    pub(super) fn store(key: &KeyId, cred: &Credential, expires_at: i64, now: i64) -> Result<(), KeyringError> {
        let key = *key;
        let cred = cred.clone();
        run("storing an item", move |s| {
            // Our expired items (any cache key), then this key's old item: the new one gets a
            // fresh label.
            purge(s, &HashMap::from([("service", SERVICE)]), now, false)?;
            let name = user(&key);
            purge(s, &HashMap::from([("service", SERVICE), ("username", name.as_str())]), now, true)?;
            let until = crate::encoding::timefmt::rfc3339(expires_at);
            let who = cred.email.as_deref().filter(|e| !e.is_empty()).unwrap_or(&cred.subject);
            let label = format!("gitsign signing key and certificate for {who} (until {until})");
            entry(s, &key, Some(&label))?.set_secret(&encode(&cred, expires_at)).map_err(explain)
        })
    }

    pub(super) fn clear(key: &KeyId) -> Result<bool, KeyringError> {
        let key = *key;
        run("deleting an item", move |s| match entry(s, &key, None)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(x) => Err(explain(x)),
        })
    }
}

#[cfg(not(all(target_os = "linux", feature = "secret-service")))]
mod imp {
    use super::*;

    const NO: KeyringError = KeyringError::Unsupported(if cfg!(target_os = "linux") {
        "this gitsign was built without Secret Service support (cargo feature `secret-service`)"
    } else {
        "the Secret Service keyring is only supported on Linux"
    });

    pub fn connect() -> Result<(), KeyringError> {
        Err(NO)
    }

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

/// Connect to the Secret Service (once per process): whether it answers.
pub fn connect() -> Result<(), KeyringError> {
    imp::connect()
}

/// The live credential under `key` at `now`, if any (an expired item is deleted).
pub fn get(key: &KeyId, now: i64) -> Result<Option<(i64, Credential)>, KeyringError> {
    imp::get(key, now)
}

/// Store `cred` under `key` until `expires_at`, replacing the key's item and deleting our
/// expired items.
pub fn store(key: &KeyId, cred: &Credential, expires_at: i64, now: i64) -> Result<(), KeyringError> {
    imp::store(key, cred, expires_at, now)
}

/// Remove the item under `key`; whether there was one.
pub fn clear(key: &KeyId) -> Result<bool, KeyringError> {
    imp::clear(key)
}
