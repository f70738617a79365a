//! Server side of the credential cache: the socket, the connection loop and the in-memory
//! store.
//!
//! Safety properties, each enforced here:
//! - the socket's directory is created 0700, and an existing one that is not ours or that
//!   others can write is refused ([`prepare_dir`]); the socket is bound under umask 0177, so
//!   it is never briefly accessible to others ([`bind`]);
//! - every connection's peer uid is checked with `SO_PEERCRED` and anyone but the daemon's
//!   own user is answered `Forbidden` and disconnected;
//! - frames are bounded ([`MAX_FRAME`](super::protocol::MAX_FRAME)), each connection has a
//!   read timeout, and a malformed frame closes only its own connection;
//! - entries expire at the certificate's notAfter minus a margin and are swept every second;
//!   key bytes are held in locked, non-dumpable memory ([`crate::crypto::secret::SecretBytes`]) and
//!   zeroized when an entry is replaced, expires, is cleared, or the store is dropped; nothing
//!   is written to disk;
//! - a key is accepted only with the certificate it belongs to, and an entry stored through
//!   protocol v2 is *sealed*: its key never leaves the daemon (`Get` is refused); clients get
//!   signatures over digests (`Sign`) and the entry without its key (`Describe`). Only entries
//!   stored by an older (v1) client can be read back, as that client expects.
use super::credential::credential_identity as entry_identity;
pub use super::protocol::peer_uid;
use super::protocol::{
    Credential, EntryInfo, ErrorCode, KeyId, Request, Response, TransportError, read_frame, write_frame,
};
use std::collections::HashMap;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Tunables of a running daemon.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Seconds between an entry's expiry and its certificate's notAfter.
    pub margin: i64,
    /// How long a connection may stay silent before it is closed.
    pub read_timeout: Duration,
    /// Connections served at once; more are closed at once (the client sees a miss).
    pub max_connections: usize,
    /// Entries held at once.
    pub max_entries: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            margin: super::credential::DEFAULT_MARGIN_SECS,
            read_timeout: Duration::from_secs(10),
            max_connections: 128,
            max_entries: 1024,
        }
    }
}

/// Errors setting the daemon up.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The socket's directory is unsafe or unusable.
    #[error("refusing socket directory {}: {reason}", path.display())]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Something else than a socket is in the way.
    #[error("{} exists and is not a socket; remove it or choose another --socket", .0.display())]
    NotASocket(PathBuf),
    /// Another daemon answers on the socket.
    #[error("another cache daemon is already listening on {}", .0.display())]
    AlreadyRunning(PathBuf),
    /// A system call failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
}

fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Make sure `dir` is a directory only we can write: create it (and missing parents) 0700,
/// or accept an existing one owned by us that neither group nor others can write.
pub fn prepare_dir(dir: &Path) -> Result<(), ServerError> {
    let unsafe_dir = |reason: String| ServerError::UnsafeDir { path: dir.to_path_buf(), reason };
    if !dir.exists() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|source| ServerError::Io {
            what: "cannot create",
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let md = std::fs::metadata(dir).map_err(|source| ServerError::Io {
        what: "cannot stat",
        path: dir.to_path_buf(),
        source,
    })?;
    if !md.is_dir() {
        return Err(unsafe_dir("not a directory".into()));
    }
    if md.uid() != my_uid() {
        return Err(unsafe_dir(format!("owned by uid {}, not by you (uid {})", md.uid(), my_uid())));
    }
    if md.mode() & 0o022 != 0 {
        return Err(unsafe_dir(format!(
            "mode {:o} lets others create or replace files in it; use a 0700 directory",
            md.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Bind the daemon's socket at `path`: a safe directory ([`prepare_dir`]), a stale socket
/// replaced (a live one is an error), and the bind done under umask 0177 so the socket is
/// created 0600. The umask is process-wide: call this before starting other threads that
/// create files.
pub fn bind(path: &Path) -> Result<UnixListener, ServerError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    prepare_dir(&dir)?;
    match std::fs::symlink_metadata(path) {
        Ok(md) => {
            use std::os::unix::fs::FileTypeExt;
            if !md.file_type().is_socket() {
                return Err(ServerError::NotASocket(path.to_path_buf()));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(ServerError::AlreadyRunning(path.to_path_buf()));
            }
            std::fs::remove_file(path).map_err(|source| ServerError::Io {
                what: "cannot remove stale socket",
                path: path.to_path_buf(),
                source,
            })?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => return Err(ServerError::Io { what: "cannot stat", path: path.to_path_buf(), source }),
    }
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = UnixListener::bind(path);
    rustix::process::umask(old);
    let listener = bound.map_err(|source| ServerError::Io { what: "cannot bind", path: path.to_path_buf(), source })?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| ServerError::Io {
        what: "cannot chmod",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(listener)
}

/// Current unix time in seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

struct Entry {
    expires_at: i64,
    /// The credential without its key (an empty `private_key_pkcs8`).
    cred: Credential,
    /// The key, its scalar in locked memory.
    key: crate::crypto::secret::SecretKey,
    /// Stored through protocol v2: the key is never handed out.
    sealed: bool,
}

/// The refusal a `Get` on a sealed entry gets.
pub const SEALED_MESSAGE: &str = "this entry's key never leaves the cache daemon: it signs for its clients \
     (protocol 2); use a gitsign that speaks it";

impl Entry {
    /// An entry for `cred`, after checking that its key belongs to its certificate.
    fn new(expires_at: i64, mut cred: Credential, sealed: bool) -> Result<Entry, String> {
        use spki::EncodePublicKey;
        let key = crate::crypto::secret::SecretKey::from_pkcs8_der(&cred.private_key_pkcs8)
            .map_err(|e| format!("the private key does not decode: {e}"))?;
        // The heap copy is zeroized as it is replaced.
        cred.private_key_pkcs8 = zeroize::Zeroizing::new(Vec::new());
        let info = crate::crypto::x509::CertInfo::parse(&cred.leaf)
            .map_err(|e| format!("the certificate does not parse: {e}"))?;
        let spki = key.verifying_key().to_public_key_der().map_err(|e| e.to_string())?;
        if spki.as_bytes() != info.spki_der.as_slice() {
            return Err("the private key does not belong to the certificate".into());
        }
        Ok(Entry { expires_at, cred, key, sealed })
    }

    /// The credential with its key (v1 `Get` of an unsealed entry).
    fn credential(&self) -> Option<Credential> {
        let der = self.key.to_pkcs8_der().ok()?;
        Some(Credential { private_key_pkcs8: zeroize::Zeroizing::new(der.to_vec()), ..self.cred.clone() })
    }
}

/// The in-memory store. Dropping an entry zeroizes its key.
pub struct Store {
    entries: Mutex<HashMap<KeyId, Entry>>,
    margin: i64,
    max_entries: usize,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("entries", &self.lock().len()).finish_non_exhaustive()
    }
}

impl Store {
    /// An empty store whose entries expire `margin` seconds before their certificates.
    pub fn new(margin: i64, max_entries: usize) -> Store {
        Store { entries: Mutex::new(HashMap::new()), margin, max_entries }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KeyId, Entry>> {
        // A panic while holding the lock cannot leave the map inconsistent (single
        // insert/remove calls), so a poisoned lock is still usable.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Answer one request of the current protocol version at time `now`.
    pub fn handle(&self, req: Request, now: i64) -> Response {
        self.handle_versioned(super::protocol::VERSION, req, now)
    }

    /// Answer one request that came in a frame of protocol `version` at time `now`.
    pub fn handle_versioned(&self, version: u8, req: Request, now: i64) -> Response {
        match req {
            Request::Get(k) => {
                let mut m = self.lock();
                match m.get(&k) {
                    Some(e) if e.expires_at > now && e.sealed => {
                        Response::Error(ErrorCode::Forbidden, SEALED_MESSAGE.into())
                    }
                    Some(e) if e.expires_at > now => match e.credential() {
                        Some(c) => Response::Credential(Some((e.expires_at, Box::new(c)))),
                        None => Response::Error(ErrorCode::Rejected, "the key cannot be encoded".into()),
                    },
                    Some(_) => {
                        m.remove(&k);
                        Response::Credential(None)
                    }
                    None => Response::Credential(None),
                }
            }
            Request::Store(k, cred) => {
                let expires_at = match super::credential::expiry(&cred.leaf, self.margin) {
                    Ok(t) => t,
                    Err(e) => return Response::Error(ErrorCode::Rejected, e.to_string()),
                };
                if expires_at <= now {
                    return Response::Error(
                        ErrorCode::Rejected,
                        format!("the certificate expires too soon to cache (notAfter minus {} s is past)", self.margin),
                    );
                }
                let mut m = self.lock();
                m.retain(|_, e| e.expires_at > now);
                if m.len() >= self.max_entries && !m.contains_key(&k) {
                    return Response::Error(
                        ErrorCode::Rejected,
                        format!("the cache is full ({} entries)", self.max_entries),
                    );
                }
                match Entry::new(expires_at, *cred, version >= 2) {
                    Ok(entry) => {
                        m.insert(k, entry);
                        Response::Stored(expires_at)
                    }
                    Err(e) => Response::Error(ErrorCode::Rejected, e),
                }
            }
            Request::List => {
                let m = self.lock();
                let mut v: Vec<EntryInfo> = m
                    .iter()
                    .filter(|(_, e)| e.expires_at > now)
                    .map(|(k, e)| EntryInfo {
                        key: *k,
                        expires_at: e.expires_at,
                        identity: entry_identity(&e.cred),
                        issuer: e.cred.issuer.clone(),
                    })
                    .collect();
                v.sort_by_key(|e| e.key);
                Response::Entries(v)
            }
            Request::Describe(k) => match self.lock().get(&k) {
                Some(e) if e.expires_at > now => Response::Credential(Some((e.expires_at, Box::new(e.cred.clone())))),
                _ => Response::Credential(None),
            },
            Request::Sign(k, digest) => match self.lock().get(&k) {
                Some(e) if e.expires_at > now => {
                    Response::Signature(Some(e.key.sign_digest(&digest).as_bytes().to_vec()))
                }
                _ => Response::Signature(None),
            },
            Request::Clear(None) => Response::Cleared(self.clear_all() as u32),
            Request::Clear(Some(k)) => Response::Cleared(u32::from(self.lock().remove(&k).is_some())),
        }
    }

    /// Drop expired entries (zeroizing their keys); returns how many went.
    pub fn sweep(&self, now: i64) -> usize {
        let mut m = self.lock();
        let before = m.len();
        m.retain(|_, e| e.expires_at > now);
        before - m.len()
    }

    /// Drop every entry (zeroizing the keys); returns how many went.
    pub fn clear_all(&self) -> usize {
        let mut m = self.lock();
        let n = m.len();
        m.clear();
        n
    }
}

/// A daemon: a listener and its store.
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    store: Arc<Store>,
    opts: ServerOptions,
}

/// Decrements the live-connection count when a connection thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Server {
    /// A server on an already bound listener (from [`bind`] or systemd socket activation).
    pub fn new(listener: UnixListener, opts: ServerOptions) -> Server {
        let store = Arc::new(Store::new(opts.margin, opts.max_entries));
        Server { listener, store, opts }
    }

    /// The store, e.g. to clear it on a signal.
    pub fn store(&self) -> Arc<Store> {
        Arc::clone(&self.store)
    }

    /// Accept connections forever, one thread each (at most `max_connections`), with a
    /// sweeper thread expiring entries every second.
    pub fn serve(self) -> Result<(), ServerError> {
        let sweeper = Arc::downgrade(&self.store);
        std::thread::spawn(move || {
            while let Some(store) = sweeper.upgrade() {
                store.sweep(unix_now());
                drop(store);
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        let uid = my_uid();
        let active = Arc::new(AtomicUsize::new(0));
        for conn in self.listener.incoming() {
            let stream = match conn {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // Out of descriptors or similar: back off instead of spinning.
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if active.fetch_add(1, Ordering::SeqCst) >= self.opts.max_connections {
                active.fetch_sub(1, Ordering::SeqCst);
                continue; // dropping the stream closes it
            }
            let slot = Slot(Arc::clone(&active));
            let store = Arc::clone(&self.store);
            let timeout = self.opts.read_timeout;
            let spawned = std::thread::Builder::new().name("cache-conn".into()).spawn(move || {
                let _slot = slot;
                serve_connection(stream, &store, uid, timeout);
            });
            if spawned.is_err() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }
}

/// Answer in a v1 frame: for errors before the request's version is known, so that a client
/// of either version can read them (an `Error` is the same in both).
fn reply(stream: &mut UnixStream, r: &Response) -> Result<(), TransportError> {
    write_frame(stream, &r.encode_as(super::protocol::MIN_VERSION))
}

/// Serve one connection until it closes, stalls, or sends something malformed.
pub fn serve_connection(mut stream: UnixStream, store: &Store, owner_uid: u32, read_timeout: Duration) {
    if stream.set_read_timeout(Some(read_timeout)).is_err() || stream.set_write_timeout(Some(read_timeout)).is_err() {
        return;
    }
    match peer_uid(&stream) {
        Ok(uid) if uid == owner_uid => {}
        Ok(uid) => {
            let _ = reply(
                &mut stream,
                &Response::Error(
                    ErrorCode::Forbidden,
                    format!("uid {uid} may not use the credential cache of uid {owner_uid}"),
                ),
            );
            return;
        }
        Err(e) => {
            let _ =
                reply(&mut stream, &Response::Error(ErrorCode::Forbidden, format!("cannot check the peer's uid: {e}")));
            return;
        }
    }
    loop {
        let payload = match read_frame(&mut stream) {
            Ok(p) => p,
            Err(e @ TransportError::FrameSize { .. }) => {
                let _ = reply(&mut stream, &Response::Error(ErrorCode::Malformed, e.to_string()));
                return;
            }
            Err(_) => return,
        };
        let (version, response) = match Request::decode_versioned(&payload) {
            Ok((version, req)) => (version, store.handle_versioned(version, req, unix_now())),
            Err(e) => {
                let _ = reply(&mut stream, &Response::Error(e.code(), e.to_string()));
                return;
            }
        };
        // Each answer in the version of its request.
        if write_frame(&mut stream, &response.encode_as(version)).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("gitsign-cache-unit-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    #[test]
    fn dir_is_created_private_and_unsafe_dirs_are_refused() {
        let base = tmp("dirs");
        let d = base.join("a/b");
        prepare_dir(&d).unwrap();
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(prepare_dir(&d), Err(ServerError::UnsafeDir { .. })));
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o720)).unwrap();
        assert!(matches!(prepare_dir(&d), Err(ServerError::UnsafeDir { .. })));
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        // A file where the socket should go is refused, a stale socket replaced.
        let sock = d.join("cache.sock");
        std::fs::write(&sock, b"x").unwrap();
        assert!(matches!(bind(&sock), Err(ServerError::NotASocket(_))));
        std::fs::remove_file(&sock).unwrap();
        let l = bind(&sock).unwrap();
        assert_eq!(std::fs::metadata(&sock).unwrap().mode() & 0o777, 0o600);
        assert!(matches!(bind(&sock), Err(ServerError::AlreadyRunning(_))));
        drop(l);
        let _l = bind(&sock).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
    }

    fn fake_cred() -> Box<Credential> {
        Box::new(Credential {
            private_key_pkcs8: Zeroizing::new(vec![1; 8]),
            leaf: vec![0x30, 0x00],
            chain: vec![],
            issuer: "i".into(),
            subject: "s".into(),
            email: None,
            email_verified: None,
        })
    }

    #[test]
    fn store_refuses_unparsable_certificates_and_clears() {
        let s = Store::new(60, 4);
        assert!(matches!(s.handle(Request::Store([1; 32], fake_cred()), 0), Response::Error(ErrorCode::Rejected, _)));
        assert_eq!(s.handle(Request::Get([1; 32]), 0), Response::Credential(None));
        assert_eq!(s.handle(Request::List, 0), Response::Entries(vec![]));
        assert_eq!(s.handle(Request::Clear(None), 0), Response::Cleared(0));
    }

    #[test]
    fn peer_uid_is_ours_on_a_socketpair() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(peer_uid(&a).unwrap(), my_uid());
    }
}
