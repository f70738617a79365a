//! Client side of the credential-cache socket.
//!
//! Dialling is bounded by a timeout, every read and write too, and the server must run as
//! this user (or root): its uid is checked with `SO_PEERCRED` before a key is sent, so a
//! socket planted by someone else never receives one. Callers in the signing path turn any
//! [`ClientError`] into a cache miss with a warning.
use super::protocol::{
    Credential, EntryInfo, KeyId, ProtocolError, Request, Response, TransportError, read_frame, write_frame,
};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long to wait for the daemon to accept a connection.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for an answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a cache request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached (no daemon, stale socket, permissions).
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The daemon did not accept within [`DIAL_TIMEOUT`].
    #[error("connecting to {} timed out", path.display())]
    ConnectTimeout {
        /// The socket path.
        path: PathBuf,
    },
    /// The process behind the socket runs as another user.
    #[error("the process behind {} runs as uid {uid}, not as you; refusing to use it", path.display())]
    ForeignServer {
        /// The socket path.
        path: PathBuf,
        /// Its uid.
        uid: u32,
    },
    /// The connection failed.
    #[error("connection to the cache failed: {0}")]
    Transport(#[from] TransportError),
    /// The cache answered, but not usefully.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
}

/// Connect to the socket at `path` without blocking past `timeout`. A Unix socket connects at
/// once while the listener's backlog has room; a full backlog (a daemon that stopped
/// accepting) answers `EAGAIN` to a non-blocking connect, which is retried until the deadline.
/// No helper thread: this runs on every cached signature.
fn dial(path: &Path, timeout: Duration) -> Result<UnixStream, ClientError> {
    use rustix::io::Errno;
    use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let connect_err = |e: Errno| ClientError::Connect { path: path.to_path_buf(), source: e.into() };
    let addr = SocketAddrUnix::new(path).map_err(connect_err)?;
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
        None,
    )
    .map_err(connect_err)?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match rustix::net::connect(&fd, &addr) {
            Ok(()) => break,
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(Errno::AGAIN) => return Err(ClientError::ConnectTimeout { path: path.to_path_buf() }),
            Err(e) => return Err(connect_err(e)),
        }
    }
    let stream = UnixStream::from(fd);
    stream.set_nonblocking(false).map_err(|source| ClientError::Connect { path: path.to_path_buf(), source })?;
    Ok(stream)
}

/// A connection to the daemon.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Dial `path`, waiting at most `timeout`, and check who is listening.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client, ClientError> {
        let stream = dial(path, timeout)?;
        let uid = super::protocol::peer_uid(&stream)
            .map_err(|source| ClientError::Connect { path: path.to_path_buf(), source })?;
        let me = rustix::process::geteuid().as_raw();
        if uid != me && uid != 0 {
            return Err(ClientError::ForeignServer { path: path.to_path_buf(), uid });
        }
        stream.set_read_timeout(Some(IO_TIMEOUT)).map_err(TransportError::Io)?;
        stream.set_write_timeout(Some(IO_TIMEOUT)).map_err(TransportError::Io)?;
        Ok(Client { stream })
    }

    /// One request and its answer. The outer error means the connection is unusable; the
    /// inner one that the answer did not decode (an `Error` response is returned as is).
    pub fn call(&mut self, req: &Request) -> Result<Result<Response, ProtocolError>, TransportError> {
        self.call_as(req, super::protocol::VERSION)
    }

    /// As [`Self::call`], in a frame of protocol `version`.
    pub fn call_as(&mut self, req: &Request, version: u8) -> Result<Result<Response, ProtocolError>, TransportError> {
        if let Err(e) = write_frame(&mut self.stream, &req.encode_as(version)) {
            // A server that refuses us answers and closes at once, so our write may fail;
            // its reason is still waiting to be read.
            return match read_frame(&mut self.stream) {
                Ok(p) => Ok(Response::decode(&p)),
                Err(_) => Err(e),
            };
        }
        let payload = read_frame(&mut self.stream)?;
        Ok(Response::decode(&payload))
    }

    fn expect<T>(&mut self, req: &Request, pick: impl FnOnce(Response) -> Option<T>) -> Result<T, ClientError> {
        self.expect_as(req, super::protocol::VERSION, pick)
    }

    fn expect_as<T>(
        &mut self,
        req: &Request,
        version: u8,
        pick: impl FnOnce(Response) -> Option<T>,
    ) -> Result<T, ClientError> {
        match self.call_as(req, version)?? {
            Response::Error(code, message) => Err(ProtocolError::Remote { code, message }.into()),
            other => pick(other).ok_or_else(|| ProtocolError::Unexpected(req.name()).into()),
        }
    }

    /// The live credential under `key`, with its key, and its expiry, if any. A daemon of
    /// protocol 2 refuses this for the entries it signs with (see [`Self::describe`] and
    /// [`Self::sign`]); gitsign asks only an older daemon (`version` 1).
    pub fn get(&mut self, key: &KeyId) -> Result<Option<(i64, Credential)>, ClientError> {
        self.get_as(key, super::protocol::VERSION)
    }

    /// [`Self::get`] in a frame of protocol `version`.
    pub fn get_as(&mut self, key: &KeyId, version: u8) -> Result<Option<(i64, Credential)>, ClientError> {
        self.expect_as(&Request::Get(*key), version, |r| match r {
            Response::Credential(c) => Some(c.map(|(exp, c)| (exp, *c))),
            _ => None,
        })
    }

    /// The live entry under `key` without its key (an empty `private_key_pkcs8`): its
    /// certificate chain, identity and expiry.
    pub fn describe(&mut self, key: &KeyId) -> Result<Option<(i64, Credential)>, ClientError> {
        self.expect(&Request::Describe(*key), |r| match r {
            Response::Credential(c) => Some(c.map(|(exp, c)| (exp, *c))),
            _ => None,
        })
    }

    /// The daemon's DER ECDSA signature over `digest` (SHA-256 of the message) with the key
    /// of the live entry under `key`; `None` when there is no such entry (any more).
    pub fn sign(&mut self, key: &KeyId, digest: &[u8; 32]) -> Result<Option<Vec<u8>>, ClientError> {
        self.expect(&Request::Sign(*key, *digest), |r| match r {
            Response::Signature(s) => Some(s),
            _ => None,
        })
    }

    /// Store a credential; returns when the daemon will drop it. Stored this way (protocol
    /// 2) the entry is sealed: its key is never handed out again.
    pub fn store(&mut self, key: &KeyId, cred: Credential) -> Result<i64, ClientError> {
        self.store_as(key, cred, super::protocol::VERSION)
    }

    /// [`Self::store`] in a frame of protocol `version` (1 for an older daemon).
    pub fn store_as(&mut self, key: &KeyId, cred: Credential, version: u8) -> Result<i64, ClientError> {
        self.expect_as(&Request::Store(*key, Box::new(cred)), version, |r| match r {
            Response::Stored(exp) => Some(exp),
            _ => None,
        })
    }

    /// Whether `e` is an older daemon's refusal of a protocol-2 frame.
    pub fn is_old_daemon(e: &ClientError) -> bool {
        matches!(
            e,
            ClientError::Protocol(ProtocolError::Remote { code: super::protocol::ErrorCode::UnsupportedVersion, .. })
                | ClientError::Protocol(ProtocolError::UnsupportedVersion(_))
        )
    }

    /// Ids and expiry of the live entries.
    pub fn list(&mut self) -> Result<Vec<EntryInfo>, ClientError> {
        self.expect(&Request::List, |r| match r {
            Response::Entries(v) => Some(v),
            _ => None,
        })
    }

    /// Remove one entry (or all); returns how many went.
    pub fn clear(&mut self, key: Option<KeyId>) -> Result<u32, ClientError> {
        self.expect(&Request::Clear(key), |r| match r {
            Response::Cleared(n) => Some(n),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_backlog_is_a_bounded_wait_and_a_missing_socket_an_error_at_once() {
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let dir = std::env::temp_dir().join(format!("gitsign-client-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("full.sock");
        // A listener that never accepts, with the smallest backlog.
        let fd = rustix::net::socket_with(AddressFamily::UNIX, SocketType::STREAM, SocketFlags::CLOEXEC, None).unwrap();
        rustix::net::bind(&fd, &SocketAddrUnix::new(&path).unwrap()).unwrap();
        rustix::net::listen(&fd, 0).unwrap();
        let mut held = Vec::new();
        let started = std::time::Instant::now();
        let timed_out = loop {
            match dial(&path, Duration::from_millis(100)) {
                Ok(s) => held.push(s),
                Err(ClientError::ConnectTimeout { .. }) => break true,
                Err(e) => panic!("unexpected: {e}"),
            }
            if held.len() > 16 {
                break false;
            }
        };
        assert!(timed_out, "the backlog never filled ({} connections)", held.len());
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        let missing = dir.join("none.sock");
        assert!(matches!(dial(&missing, Duration::from_secs(5)), Err(ClientError::Connect { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
