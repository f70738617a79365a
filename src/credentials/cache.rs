//! The credential cache: one login for a whole rebase.
//!
//! A signing identity (ephemeral P-256 key + Fulcio certificate) is kept for the
//! certificate's life so that consecutive signatures need one login. Two back ends:
//!
//! - **socket** ([`server`](super::server), [`client`], [`protocol`](super::protocol)): the `gitsign-credential-cache` daemon
//!   keeps credentials in memory behind a Unix socket in a 0700 directory, checks every
//!   connection's peer uid, and never writes anything to disk or runs a login itself. It signs
//!   for gitsign ([`super::agent`]): the key is sent to it once, after a login, and never comes
//!   back. A daemon of protocol 1 (older) still hands its keys out; gitsign then falls back to
//!   that with a warning.
//! - **system** ([`keyring`]): the OS keyring, no daemon: the Secret Service (GNOME Keyring,
//!   KWallet, KeePassXC; [`secret_service`](super::secret_service)) when a session bus offers one, else the kernel
//!   keyutils keyring (Linux). `secret-service` and `keyutils` force one of the two.
//!
//! Entries are keyed by a hash of the signing-identity configuration, the host and the trusted
//! root ([`key_id`]): the Fulcio URL, OIDC issuer, client id, connector id, committer email,
//! hostname and the fingerprint of the trusted root the certificate was checked under — not the
//! working directory, so one login serves every repository. An entry
//! expires at the certificate's `notAfter` minus a margin.
//!
//! The cache is an optimisation and never a reason for a signature to fail: every cache
//! error is reported as a warning on stderr and treated as a miss ([`lookup`], [`remember`]).
pub use super::credential::{
    CredentialError, DEFAULT_MARGIN_SECS, MIN_REMAINING_SECS, credential_identity, expiry, not_after,
};
use super::identity::{Identity, IdentityKey};
use super::protocol::{Credential, KeyId};
use super::{client, keyring};
use crate::app::config::{Config, CredentialCacheMode};
use crate::services::fulcio::CertChain;
use crate::services::oidc::Claims;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use zeroize::Zeroizing;

/// Where a configuration's cache lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The daemon at this socket path.
    Socket(PathBuf),
    /// The OS keyring (which one: [`keyring::Choice`]).
    System(keyring::Choice),
}

/// The documented default socket path: `$XDG_RUNTIME_DIR/sigstore/gitsign/cache.sock`, or,
/// when there is no runtime directory (ssh sessions, CI, containers),
/// `<user cache dir>/sigstore/gitsign/cache.sock` (`$XDG_CACHE_HOME` or `~/.cache` on Linux,
/// `~/Library/Caches` on macOS) — gitsign's own default.
pub fn default_socket_path() -> Option<PathBuf> {
    dirs::runtime_dir().or_else(dirs::cache_dir).map(|d| d.join("sigstore").join("gitsign").join("cache.sock"))
}

/// Whether `cfg` turns the cache on at all (cheap; no I/O, no warnings).
pub fn enabled(cfg: &Config) -> bool {
    cfg.credential_cache_mode.is_some() || cfg.credential_cache.is_some()
}

/// Which back end `cfg` selects, if any:
/// `credentialCacheMode=system|secret-service|keyutils` → the keyring; `socket` → `GITSIGN_CREDENTIAL_CACHE` or the
/// default path; unset → the socket named by `GITSIGN_CREDENTIAL_CACHE` (as gitsign), else off.
pub fn backend(cfg: &Config) -> Option<Backend> {
    let path = match (cfg.credential_cache_mode, cfg.credential_cache.as_deref()) {
        (Some(CredentialCacheMode::System), _) => return Some(Backend::System(keyring::Choice::Auto)),
        (Some(CredentialCacheMode::SecretService), _) => return Some(Backend::System(keyring::Choice::SecretService)),
        (Some(CredentialCacheMode::Keyutils), _) => return Some(Backend::System(keyring::Choice::Keyutils)),
        (Some(CredentialCacheMode::Socket), Some(p)) | (None, Some(p)) => PathBuf::from(p),
        (Some(CredentialCacheMode::Socket), None) => match default_socket_path() {
            Some(p) => p,
            None => {
                warn("no runtime or cache directory to find the socket in; set GITSIGN_CREDENTIAL_CACHE");
                return None;
            }
        },
        (None, None) => return None,
    };
    Some(Backend::Socket(absolute(&path)))
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
    }
}

/// This machine's host name (part of the cache key, so that one socket forwarded over SSH
/// keeps the hosts' entries apart).
pub fn hostname() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

/// The cache key of a signing configuration on a host: SHA-256 over a domain tag and the
/// length-prefixed fields (Fulcio URL, issuer, client id, connector id, committer email,
/// hostname). Unset fields count as empty.
pub fn key_id(cfg: &Config, host: &str, trust: &crate::trust::root::TrustedRoot) -> KeyId {
    let mut h = Sha256::new();
    h.update(b"gitsign-rs credential cache key v2\0");
    // Bound to the trusted root: an entry was checked under it (see `sign::obtain_identity`).
    h.update(trust.fingerprint());
    for field in [
        cfg.fulcio.as_str(),
        cfg.issuer.as_str(),
        cfg.client_id.as_str(),
        cfg.connector_id.as_deref().unwrap_or(""),
        cfg.user_email.as_deref().unwrap_or(""),
        host,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

/// The credential to cache for an identity.
pub fn credential_from_identity(identity: &Identity) -> Result<Credential, CredentialError> {
    let key = identity.key.local().ok_or_else(|| CredentialError::Key("the key is held by the cache daemon".into()))?;
    let doc = key.to_pkcs8_der().map_err(|e| CredentialError::Key(e.to_string()))?;
    Ok(Credential {
        private_key_pkcs8: Zeroizing::new(doc.to_vec()),
        leaf: identity.certs.leaf.clone(),
        chain: identity.certs.chain.clone(),
        issuer: identity.claims.iss.clone(),
        subject: identity.claims.sub.clone(),
        email: identity.claims.email.clone(),
        email_verified: identity.claims.email_verified,
    })
}

/// The identity a cached credential stands for, after checking that the key belongs to the
/// certificate and that the certificate stays valid for [`MIN_REMAINING_SECS`].
pub fn identity_from_credential(c: &Credential, now: i64) -> Result<Identity, CredentialError> {
    use spki::EncodePublicKey;
    let info =
        crate::crypto::x509::CertInfo::parse(&c.leaf).map_err(|e| CredentialError::Certificate(e.to_string()))?;
    if info.not_after - now < MIN_REMAINING_SECS {
        return Err(CredentialError::Expiring { not_after: info.not_after, now });
    }
    let key = crate::crypto::secret::SecretKey::from_pkcs8_der(&c.private_key_pkcs8)
        .map_err(|e| CredentialError::Key(e.to_string()))?;
    let spki = key.verifying_key().to_public_key_der().map_err(|e| CredentialError::Key(e.to_string()))?;
    if spki.as_bytes() != info.spki_der.as_slice() {
        return Err(CredentialError::KeyMismatch);
    }
    Ok(cached_identity(c, IdentityKey::Local(key)))
}

/// The identity of an entry the daemon at `path` described (without its key): it signs through
/// `client` ([`super::agent::AgentKey`]). The certificate must stay valid for
/// [`MIN_REMAINING_SECS`]; the daemon checked at `Store` that its key belongs to it.
pub fn identity_from_description(
    client: client::Client,
    path: &Path,
    key: KeyId,
    c: &Credential,
    now: i64,
) -> Result<Identity, CredentialError> {
    use spki::DecodePublicKey;
    let info =
        crate::crypto::x509::CertInfo::parse(&c.leaf).map_err(|e| CredentialError::Certificate(e.to_string()))?;
    if info.not_after - now < MIN_REMAINING_SECS {
        return Err(CredentialError::Expiring { not_after: info.not_after, now });
    }
    let public = p256::ecdsa::VerifyingKey::from_public_key_der(&info.spki_der)
        .map_err(|e| CredentialError::Certificate(format!("its key is not a P-256 key: {e}")))?;
    Ok(cached_identity(c, IdentityKey::Agent(super::agent::AgentKey::new(client, path.to_path_buf(), key, public))))
}

/// The identity a cached credential signs as, with `key` (held here or by the daemon).
fn cached_identity(c: &Credential, key: IdentityKey) -> Identity {
    Identity {
        from_cache: true,
        key,
        certs: CertChain { leaf: c.leaf.clone(), chain: c.chain.clone() },
        claims: Claims {
            iss: c.issuer.clone(),
            sub: c.subject.clone(),
            email: c.email.clone(),
            email_verified: c.email_verified,
            exp: None,
            aud: None,
        },
    }
}

/// When `token` (an explicitly provided `SIGSTORE_ID_TOKEN`) names another identity or issuer
/// than the live cached identity `cached` that will sign, the warning to show (the cached
/// credential wins: it is used before any token source). `None` when they agree or the token
/// cannot be read (it is not used either way).
pub fn token_mismatch(cached: &Identity, token: &str) -> Option<String> {
    let claims = Claims::parse(token).ok()?;
    let who = |c: &Claims| c.email.clone().unwrap_or_else(|| c.sub.clone());
    let cached_cert = crate::crypto::x509::CertInfo::parse(&cached.certs.leaf).ok();
    let signer =
        cached_cert.as_ref().and_then(|c| c.identity()).map(str::to_string).unwrap_or_else(|| who(&cached.claims));
    let (token_who, cached_who) = (who(&claims), who(&cached.claims));
    if token_who.eq_ignore_ascii_case(&cached_who) && claims.iss == cached.claims.iss {
        return None;
    }
    Some(format!(
        "signing as {signer} (issuer {}) with the cached credential, not as {token_who} (issuer {}) from \
         SIGSTORE_ID_TOKEN: a live cached credential is used before any token. To sign as {token_who}, run \
         `gitsign-credential-cache clear` (or unset GITSIGN_CREDENTIAL_CACHE / gitsign.credentialCacheMode) \
         and sign again",
        cached.claims.iss, claims.iss
    ))
}

/// Print a cache warning on stderr and keep it for [`take_warnings`]. Never fatal: signing
/// continues without the cache.
pub fn warn(msg: &str) {
    let line = format!("gitsign: warning: credential cache: {msg} (continuing without the cache)");
    eprintln!("{line}");
    if let Ok(mut w) = WARNINGS.lock()
        && !w.contains(&line)
    {
        w.push(line);
    }
}

/// The cache warnings given so far in this process (each once), emptied. stderr is dropped by
/// git when a signature succeeds, so gitsign repeats them on the terminal.
pub fn take_warnings() -> Vec<String> {
    WARNINGS.lock().map(|mut w| std::mem::take(&mut *w)).unwrap_or_default()
}

static WARNINGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Set when the daemon turned out to speak protocol 1 only (it hands out keys).
static OLD_DAEMON: AtomicBool = AtomicBool::new(false);

/// Say (once) that the daemon at `path` is older and hands its keys out.
fn warn_old_daemon(path: &Path) {
    OLD_DAEMON.store(true, Ordering::Relaxed);
    let line = format!(
        "gitsign: warning: credential cache: the daemon at {} is older (protocol 1) and hands its keys to every \
         process that asks; restart gitsign-credential-cache so that it signs and keeps keys to itself \
         (using it the old way meanwhile)",
        path.display()
    );
    eprintln!("{line}");
    if let Ok(mut w) = WARNINGS.lock()
        && !w.contains(&line)
    {
        w.push(line);
    }
}

/// Look `key` up in the daemon at `path`: a description of the entry and a connection to sign
/// through (protocol 2), or, from an older daemon, the credential with its key (protocol 1).
fn socket_lookup(path: &Path, key: &KeyId, now: i64) -> Result<Option<Identity>, String> {
    let mut c = client::Client::connect(path, client::DIAL_TIMEOUT).map_err(|e| e.to_string())?;
    match c.describe(key) {
        Ok(None) => Ok(None),
        Ok(Some((_exp, cred))) => match identity_from_description(c, path, *key, &cred, now) {
            Ok(id) => Ok(Some(id)),
            Err(CredentialError::Expiring { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        },
        Err(e) if client::Client::is_old_daemon(&e) => {
            warn_old_daemon(path);
            // The old daemon closed the connection after its refusal.
            let mut c = client::Client::connect(path, client::DIAL_TIMEOUT).map_err(|e| e.to_string())?;
            let Some((_exp, cred)) = c.get_as(key, 1).map_err(|e| e.to_string())? else { return Ok(None) };
            match identity_from_credential(&cred, now) {
                Ok(id) => Ok(Some(id)),
                Err(CredentialError::Expiring { .. }) => Ok(None),
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Set when this process's look-up could not reach the cache, so that [`remember`] does not
/// wait on (and warn about) the same broken cache a second time.
static UNREACHABLE: AtomicBool = AtomicBool::new(false);

/// Look for a live cached identity for `cfg`. Every failure is a miss with a warning.
pub fn lookup(cfg: &Config, trust: &crate::trust::root::TrustedRoot, now: i64) -> Option<Identity> {
    let backend = backend(cfg)?;
    let key = key_id(cfg, &hostname(), trust);
    let found = match &backend {
        Backend::Socket(path) => {
            return socket_lookup(path, &key, now).unwrap_or_else(|e| {
                UNREACHABLE.store(true, Ordering::Relaxed);
                warn(&e);
                None
            });
        }
        Backend::System(choice) => keyring::select(*choice).and_then(|k| k.get(&key, now)).map_err(|e| e.to_string()),
    };
    let (_expires, cred) = match found {
        Ok(Some(hit)) => hit,
        Ok(None) => return None,
        Err(e) => {
            UNREACHABLE.store(true, Ordering::Relaxed);
            warn(&e);
            return None;
        }
    };
    match identity_from_credential(&cred, now) {
        Ok(id) => Some(id),
        Err(CredentialError::Expiring { .. }) => None,
        Err(e) => {
            warn(&e.to_string());
            None
        }
    }
}

/// Store `cred` in the daemon at `path`: sealed (protocol 2: the daemon will sign with it and
/// never hand it out), or the old way for an older daemon.
fn socket_store(path: &Path, key: &KeyId, cred: Credential) -> Result<(), String> {
    let connect = || client::Client::connect(path, client::DIAL_TIMEOUT).map_err(|e| e.to_string());
    if OLD_DAEMON.load(Ordering::Relaxed) {
        return connect()?.store_as(key, cred, 1).map(|_| ()).map_err(|e| e.to_string());
    }
    match connect()?.store(key, cred.clone()) {
        Ok(_) => Ok(()),
        Err(e) if client::Client::is_old_daemon(&e) => {
            warn_old_daemon(path);
            connect()?.store_as(key, cred, 1).map(|_| ()).map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Store a freshly obtained identity for `cfg`. Every failure is a warning. Nothing is tried
/// if this process's [`lookup`] already found the cache unreachable.
pub fn remember(cfg: &Config, trust: &crate::trust::root::TrustedRoot, identity: &Identity, now: i64) {
    if UNREACHABLE.load(Ordering::Relaxed) {
        return;
    }
    let Some(backend) = backend(cfg) else { return };
    let key = key_id(cfg, &hostname(), trust);
    let cred = match credential_from_identity(identity) {
        Ok(c) => c,
        Err(e) => return warn(&e.to_string()),
    };
    let result = match &backend {
        Backend::Socket(path) => socket_store(path, &key, cred),
        Backend::System(choice) => expiry(&cred.leaf, DEFAULT_MARGIN_SECS).map_err(|e| e.to_string()).and_then(|exp| {
            keyring::select(*choice).and_then(|k| k.store(&key, &cred, exp, now)).map_err(|e| e.to_string())
        }),
    };
    if let Err(e) = result {
        warn(&e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_depends_on_identity_config_host_and_trusted_root_only() {
        let prod = crate::trust::root::TrustedRoot::production().unwrap();
        let staging = crate::trust::root::TrustedRoot::staging().unwrap();
        let mut a = Config { user_email: Some("a@x".into()), ..Config::default() };
        let k = key_id(&a, "h1", prod);
        assert_eq!(k, key_id(&a.clone(), "h1", prod));
        assert_ne!(k, key_id(&a, "h2", prod));
        a.rekor = "https://elsewhere".into();
        assert_eq!(k, key_id(&a, "h1", prod), "Rekor is not part of the identity");
        for change in [
            |c: &mut Config| c.fulcio = "https://f2".into(),
            |c: &mut Config| c.issuer = "https://i2".into(),
            |c: &mut Config| c.client_id = "c2".into(),
            |c: &mut Config| c.connector_id = Some("gh".into()),
            |c: &mut Config| c.user_email = Some("b@x".into()),
        ] {
            let mut b = a.clone();
            change(&mut b);
            assert_ne!(k, key_id(&b, "h1", prod));
        }
        // A credential checked under one trusted root is never offered under another.
        assert_ne!(k, key_id(&a, "h1", staging));
        assert_ne!(prod.fingerprint(), staging.fingerprint());
        // Field boundaries are unambiguous.
        let c1 = Config { client_id: "ab".into(), connector_id: Some("c".into()), ..a.clone() };
        let c2 = Config { client_id: "a".into(), connector_id: Some("bc".into()), ..a.clone() };
        assert_ne!(key_id(&c1, "h", prod), key_id(&c2, "h", prod));
    }

    #[test]
    fn backend_selection() {
        let c = Config::default();
        assert_eq!(backend(&c), None);
        let c = Config { credential_cache: Some("/s/c.sock".into()), ..Config::default() };
        assert_eq!(backend(&c), Some(Backend::Socket("/s/c.sock".into())));
        let c = Config { credential_cache_mode: Some(CredentialCacheMode::System), ..c };
        assert_eq!(backend(&c), Some(Backend::System(keyring::Choice::Auto)));
        let c = Config { credential_cache_mode: Some(CredentialCacheMode::SecretService), ..c };
        assert_eq!(backend(&c), Some(Backend::System(keyring::Choice::SecretService)));
        let c = Config { credential_cache_mode: Some(CredentialCacheMode::Keyutils), ..c };
        assert_eq!(backend(&c), Some(Backend::System(keyring::Choice::Keyutils)));
        let c = Config { credential_cache_mode: Some(CredentialCacheMode::Socket), ..Config::default() };
        assert_eq!(backend(&c).map(|b| matches!(b, Backend::Socket(_))), default_socket_path().map(|_| true));
    }

    #[test]
    fn bad_credentials_are_errors() {
        let c = Credential {
            private_key_pkcs8: Zeroizing::new(vec![1, 2, 3]),
            leaf: vec![0x30, 0],
            chain: vec![],
            issuer: String::new(),
            subject: String::new(),
            email: None,
            email_verified: None,
        };
        assert!(matches!(identity_from_credential(&c, 0), Err(CredentialError::Certificate(_))));
        assert!(expiry(&c.leaf, 60).is_err());
    }
}
