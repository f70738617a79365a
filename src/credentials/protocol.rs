//! The credential-cache wire protocol: versioned, length-prefixed binary frames.
//!
//! Every message travels as one frame:
//!
//! ```text
//! frame   = length:u32be payload          (0 < length <= MAX_FRAME)
//! payload = version:u8 (1 or 2) type:u8 body
//! bytes   = length:u32be data
//! ```
//!
//! Version 2 adds agent signing: the daemon signs and its keys never leave it. A v2 client
//! asks `Describe` (the entry without its key) and `Sign` (a signature over a SHA-256
//! digest); an entry stored with a v2 `Store` is *sealed*: `Get` on it is refused. A v1 daemon
//! answers any v2 frame with `Error(unsupported version)`, and the client falls back to v1
//! `Get`/`Store` with a warning. A v2 daemon answers each frame in the frame's own version.
//!
//! | type | direction | body |
//! |------|-----------|------|
//! | 0x01 Get     | request  | key id (32 bytes) |
//! | 0x02 Store   | request  | key id, credential |
//! | 0x03 List    | request  | — |
//! | 0x04 Clear   | request  | 0x00 (all) or 0x01 + key id |
//! | 0x05 Describe | request (v2) | key id |
//! | 0x06 Sign    | request (v2) | key id, digest (32 bytes: SHA-256 of the signed message) |
//! | 0x81 Credential | response | 0x00 (miss) or 0x01 + expires_at:i64be + credential |
//! | 0x82 Stored  | response | expires_at:i64be |
//! | 0x83 Entries | response | count:u32be, count × (key id, expires_at:i64be, bytes(identity), bytes(issuer)) |
//! | 0x84 Cleared | response | count:u32be |
//! | 0x85 Signature | response (v2) | 0x00 (miss) or 0x01 + bytes(DER ECDSA P-256 signature) |
//! | 0xFF Error   | response | code:u8, message:bytes |
//!
//! `credential = bytes(PKCS#8 private key) bytes(leaf DER) count:u32be count×bytes(chain DER)
//! bytes(issuer) bytes(subject) opt-bytes(email) email_verified:u8 (0 no, 1 yes, 2 unknown)`,
//! where `opt-bytes` is `0x00` or `0x01 bytes`. `Describe` is answered with a `Credential`
//! whose private key is empty.
//!
//! Errors come in two layers, as in rage's plugin IPC: a [`TransportError`] means the
//! connection is unusable (I/O, timeout, oversize frame) and is dropped; a [`ProtocolError`]
//! means a frame arrived but its content is wrong or the peer answered with an error.
//! Buffers that may hold key material are [`Zeroizing`].
use std::io::{self, Read, Write};
use zeroize::Zeroizing;

/// Protocol version this side speaks (and sends).
pub const VERSION: u8 = 2;
/// Oldest protocol version still understood: v1 has no agent signing (`Get` returns the key).
pub const MIN_VERSION: u8 = 1;
/// Length of the digest a `Sign` request carries (SHA-256).
pub const DIGEST_LEN: usize = 32;
/// Largest accepted frame payload (bytes). A credential is about 2–3 KB.
pub const MAX_FRAME: usize = 64 * 1024;
/// Length of a cache key id (SHA-256).
pub const KEY_ID_LEN: usize = 32;

/// A cache key id: SHA-256 of the signing-identity configuration (see [`super::cache::key_id`]).
pub type KeyId = [u8; KEY_ID_LEN];

const T_GET: u8 = 0x01;
const T_STORE: u8 = 0x02;
const T_LIST: u8 = 0x03;
const T_CLEAR: u8 = 0x04;
const T_DESCRIBE: u8 = 0x05;
const T_SIGN: u8 = 0x06;
const T_CREDENTIAL: u8 = 0x81;
const T_STORED: u8 = 0x82;
const T_ENTRIES: u8 = 0x83;
const T_CLEARED: u8 = 0x84;
const T_SIGNATURE: u8 = 0x85;
const T_ERROR: u8 = 0xFF;

/// The connection failed: nothing more can be read from or written to it.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer did not answer in time.
    #[error("timed out waiting for the peer")]
    Timeout,
    /// The peer closed the connection.
    #[error("the connection was closed")]
    Closed,
    /// A frame announced a length above [`MAX_FRAME`] (or zero).
    #[error("frame length {len} is outside 1..={max}")]
    FrameSize {
        /// Announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Error codes carried in an `Error` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The frame's version is not supported.
    UnsupportedVersion,
    /// The frame could not be decoded.
    Malformed,
    /// The request was understood but refused (e.g. an already expired credential).
    Rejected,
    /// The peer is not allowed to use this cache.
    Forbidden,
    /// A code this implementation does not know.
    Other(u8),
}

impl ErrorCode {
    fn to_u8(self) -> u8 {
        match self {
            ErrorCode::UnsupportedVersion => 1,
            ErrorCode::Malformed => 2,
            ErrorCode::Rejected => 3,
            ErrorCode::Forbidden => 4,
            ErrorCode::Other(c) => c,
        }
    }
    fn from_u8(c: u8) -> ErrorCode {
        match c {
            1 => ErrorCode::UnsupportedVersion,
            2 => ErrorCode::Malformed,
            3 => ErrorCode::Rejected,
            4 => ErrorCode::Forbidden,
            c => ErrorCode::Other(c),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorCode::UnsupportedVersion => f.write_str("unsupported version"),
            ErrorCode::Malformed => f.write_str("malformed request"),
            ErrorCode::Rejected => f.write_str("rejected"),
            ErrorCode::Forbidden => f.write_str("forbidden"),
            ErrorCode::Other(c) => write!(f, "error {c}"),
        }
    }
}

/// A frame arrived, but its content is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The frame's version byte is outside [`MIN_VERSION`]..=[`VERSION`].
    #[error("unsupported protocol version {0} (this side speaks {MIN_VERSION} to {VERSION})")]
    UnsupportedVersion(u8),
    /// Unknown message type.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// The body does not decode.
    #[error("malformed frame: {0}")]
    Malformed(&'static str),
    /// The peer answered with an error.
    #[error("the cache answered: {code}: {message}")]
    Remote {
        /// Error class.
        code: ErrorCode,
        /// Human-readable detail.
        message: String,
    },
    /// The answer does not fit the request.
    #[error("unexpected answer to a {0} request")]
    Unexpected(&'static str),
}

impl ProtocolError {
    /// The code to send back for a request that failed to decode.
    pub fn code(&self) -> ErrorCode {
        match self {
            ProtocolError::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            ProtocolError::Remote { code, .. } => *code,
            _ => ErrorCode::Malformed,
        }
    }
}

/// A cached credential: the ephemeral key, its certificate chain and the identity it was
/// issued to. The key bytes are zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// PKCS#8 DER of the P-256 private key.
    pub private_key_pkcs8: Zeroizing<Vec<u8>>,
    /// Leaf certificate, DER.
    pub leaf: Vec<u8>,
    /// Rest of the chain, DER, leaf-most first.
    pub chain: Vec<Vec<u8>>,
    /// Token issuer.
    pub issuer: String,
    /// Token subject.
    pub subject: String,
    /// Token email, if any.
    pub email: Option<String>,
    /// Whether the token's email was verified (None: not stated).
    pub email_verified: Option<bool>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// One live entry as `List` shows it: which identity it signs as, never its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// The cache key id.
    pub key: KeyId,
    /// When the entry expires (unix seconds).
    pub expires_at: i64,
    /// The certificate's identity (its email or URI), else the token's email or subject.
    pub identity: String,
    /// The token issuer.
    pub issuer: String,
}

/// A request from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Look a credential up.
    Get(KeyId),
    /// Store a credential (replacing any under the same key).
    Store(KeyId, Box<Credential>),
    /// List the live entries (ids, identities and expiry, never keys).
    List,
    /// Remove one entry, or all of them.
    Clear(Option<KeyId>),
    /// v2: the entry's certificate chain, identity and expiry, without its key.
    Describe(KeyId),
    /// v2: sign a SHA-256 digest with the entry's key (ECDSA P-256, RFC 6979 nonce).
    Sign(KeyId, [u8; DIGEST_LEN]),
}

impl Request {
    /// Short name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Get(_) => "get",
            Request::Store(..) => "store",
            Request::List => "list",
            Request::Clear(_) => "clear",
            Request::Describe(_) => "describe",
            Request::Sign(..) => "sign",
        }
    }
}

/// A response from the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// Answer to `Get`: the credential and its expiry (unix seconds), or a miss.
    Credential(Option<(i64, Box<Credential>)>),
    /// Answer to `Store`: when the entry expires (unix seconds).
    Stored(i64),
    /// Answer to `List`.
    Entries(Vec<EntryInfo>),
    /// Answer to `Clear`: how many entries were removed.
    Cleared(u32),
    /// v2, answer to `Sign`: the DER signature, or a miss.
    Signature(Option<Vec<u8>>),
    /// The request failed.
    Error(ErrorCode, String),
}

// ---- encoding ----

struct Enc(Zeroizing<Vec<u8>>);

impl Enc {
    fn new(version: u8, kind: u8) -> Enc {
        let mut v = Zeroizing::new(Vec::with_capacity(4096));
        v.push(version);
        v.push(kind);
        Enc(v)
    }
    fn u8(&mut self, b: u8) {
        self.0.push(b);
    }
    fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_be_bytes());
    }
    fn i64(&mut self, n: i64) {
        self.0.extend_from_slice(&n.to_be_bytes());
    }
    fn raw(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn bytes(&mut self, b: &[u8]) {
        // Lengths above u32 cannot occur: frames are bounded by MAX_FRAME when sent.
        self.u32(u32::try_from(b.len()).unwrap_or(u32::MAX));
        self.raw(b);
    }
    fn credential(&mut self, c: &Credential) {
        // Reserve everything first: a reallocation after the key is written would leave a
        // copy of it in freed memory.
        self.0.reserve(encoded_len(c));
        self.bytes(&c.private_key_pkcs8);
        self.bytes(&c.leaf);
        self.u32(u32::try_from(c.chain.len()).unwrap_or(u32::MAX));
        for cert in &c.chain {
            self.bytes(cert);
        }
        self.bytes(c.issuer.as_bytes());
        self.bytes(c.subject.as_bytes());
        match &c.email {
            None => self.u8(0),
            Some(e) => {
                self.u8(1);
                self.bytes(e.as_bytes());
            }
        }
        self.u8(match c.email_verified {
            Some(false) => 0,
            Some(true) => 1,
            None => 2,
        });
    }
}

/// Exact size of a credential's encoding.
fn encoded_len(c: &Credential) -> usize {
    4 * (5 + c.chain.len())
        + c.private_key_pkcs8.len()
        + c.leaf.len()
        + c.chain.iter().map(Vec::len).sum::<usize>()
        + c.issuer.len()
        + c.subject.len()
        + c.email.as_ref().map_or(0, |e| 4 + e.len())
        + 2
}

struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.0.len() < n {
            return Err(ProtocolError::Malformed("truncated body"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, ProtocolError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&mut self) -> Result<i64, ProtocolError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(a))
    }
    fn key_id(&mut self) -> Result<KeyId, ProtocolError> {
        let mut k = [0u8; KEY_ID_LEN];
        k.copy_from_slice(self.take(KEY_ID_LEN)?);
        Ok(k)
    }
    fn bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Result<String, ProtocolError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| ProtocolError::Malformed("string is not UTF-8"))
    }
    fn credential(&mut self) -> Result<Credential, ProtocolError> {
        let private_key_pkcs8 = Zeroizing::new(self.bytes()?.to_vec());
        let leaf = self.bytes()?.to_vec();
        let n = self.u32()? as usize;
        // Each certificate needs at least its 4-byte length: bound the count by what is left.
        if n > self.0.len() / 4 {
            return Err(ProtocolError::Malformed("chain count exceeds the frame"));
        }
        let mut chain = Vec::with_capacity(n);
        for _ in 0..n {
            chain.push(self.bytes()?.to_vec());
        }
        let issuer = self.string()?;
        let subject = self.string()?;
        let email = match self.u8()? {
            0 => None,
            1 => Some(self.string()?),
            _ => return Err(ProtocolError::Malformed("bad optional marker")),
        };
        let email_verified = match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            2 => None,
            _ => return Err(ProtocolError::Malformed("bad email_verified value")),
        };
        Ok(Credential { private_key_pkcs8, leaf, chain, issuer, subject, email, email_verified })
    }
    fn end(&self) -> Result<(), ProtocolError> {
        if self.0.is_empty() { Ok(()) } else { Err(ProtocolError::Malformed("trailing bytes")) }
    }
}

/// Split a payload into (version, type, body) after checking the version.
fn header(payload: &[u8]) -> Result<(u8, u8, Dec<'_>), ProtocolError> {
    match payload {
        [v @ MIN_VERSION..=VERSION, kind, body @ ..] => Ok((*v, *kind, Dec(body))),
        [v, _, ..] => Err(ProtocolError::UnsupportedVersion(*v)),
        _ => Err(ProtocolError::Malformed("frame shorter than its header")),
    }
}

impl Request {
    /// Encode as a frame payload of the current [`VERSION`].
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        self.encode_as(VERSION)
    }

    /// Encode as a frame payload of protocol `version` (v1 for an older daemon; the v2-only
    /// requests are still written, and such a daemon refuses them).
    pub fn encode_as(&self, version: u8) -> Zeroizing<Vec<u8>> {
        let v = version;
        let e = match self {
            Request::Get(k) => {
                let mut e = Enc::new(v, T_GET);
                e.raw(k);
                e
            }
            Request::Store(k, c) => {
                let mut e = Enc::new(v, T_STORE);
                e.raw(k);
                e.credential(c);
                e
            }
            Request::List => Enc::new(v, T_LIST),
            Request::Clear(k) => {
                let mut e = Enc::new(v, T_CLEAR);
                match k {
                    None => e.u8(0),
                    Some(k) => {
                        e.u8(1);
                        e.raw(k);
                    }
                }
                e
            }
            Request::Describe(k) => {
                let mut e = Enc::new(v, T_DESCRIBE);
                e.raw(k);
                e
            }
            Request::Sign(k, digest) => {
                let mut e = Enc::new(v, T_SIGN);
                e.raw(k);
                e.raw(digest);
                e
            }
        };
        e.0
    }

    /// Decode a frame payload.
    pub fn decode(payload: &[u8]) -> Result<Request, ProtocolError> {
        Request::decode_versioned(payload).map(|(_, r)| r)
    }

    /// Decode a frame payload, with the protocol version it was sent in.
    pub fn decode_versioned(payload: &[u8]) -> Result<(u8, Request), ProtocolError> {
        let (version, kind, mut d) = header(payload)?;
        let r = match kind {
            T_DESCRIBE if version >= 2 => Request::Describe(d.key_id()?),
            T_SIGN if version >= 2 => {
                let k = d.key_id()?;
                let mut digest = [0u8; DIGEST_LEN];
                digest.copy_from_slice(d.take(DIGEST_LEN)?);
                Request::Sign(k, digest)
            }
            T_GET => Request::Get(d.key_id()?),
            T_STORE => {
                let k = d.key_id()?;
                Request::Store(k, Box::new(d.credential()?))
            }
            T_LIST => Request::List,
            T_CLEAR => match d.u8()? {
                0 => Request::Clear(None),
                1 => Request::Clear(Some(d.key_id()?)),
                _ => return Err(ProtocolError::Malformed("bad clear selector")),
            },
            other => return Err(ProtocolError::UnknownType(other)),
        };
        d.end()?;
        Ok((version, r))
    }
}

impl Response {
    /// Encode as a frame payload of the current [`VERSION`].
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        self.encode_as(VERSION)
    }

    /// Encode as a frame payload of protocol `version` (the version of the request answered).
    pub fn encode_as(&self, v: u8) -> Zeroizing<Vec<u8>> {
        let e = match self {
            Response::Credential(None) => {
                let mut e = Enc::new(v, T_CREDENTIAL);
                e.u8(0);
                e
            }
            Response::Credential(Some((exp, c))) => {
                let mut e = Enc::new(v, T_CREDENTIAL);
                e.u8(1);
                e.i64(*exp);
                e.credential(c);
                e
            }
            Response::Stored(exp) => {
                let mut e = Enc::new(v, T_STORED);
                e.i64(*exp);
                e
            }
            Response::Entries(list) => {
                let mut e = Enc::new(v, T_ENTRIES);
                e.u32(u32::try_from(list.len()).unwrap_or(u32::MAX));
                for entry in list {
                    e.raw(&entry.key);
                    e.i64(entry.expires_at);
                    e.bytes(entry.identity.as_bytes());
                    e.bytes(entry.issuer.as_bytes());
                }
                e
            }
            Response::Cleared(n) => {
                let mut e = Enc::new(v, T_CLEARED);
                e.u32(*n);
                e
            }
            Response::Signature(None) => {
                let mut e = Enc::new(v, T_SIGNATURE);
                e.u8(0);
                e
            }
            Response::Signature(Some(sig)) => {
                let mut e = Enc::new(v, T_SIGNATURE);
                e.u8(1);
                e.bytes(sig);
                e
            }
            Response::Error(code, msg) => {
                let mut e = Enc::new(v, T_ERROR);
                e.u8(code.to_u8());
                // Keep error frames small whatever the message.
                let m = msg.as_bytes();
                e.bytes(&m[..m.len().min(1024)]);
                e
            }
        };
        e.0
    }

    /// Decode a frame payload.
    pub fn decode(payload: &[u8]) -> Result<Response, ProtocolError> {
        let (version, kind, mut d) = header(payload)?;
        let r = match kind {
            T_SIGNATURE if version >= 2 => match d.u8()? {
                0 => Response::Signature(None),
                1 => Response::Signature(Some(d.bytes()?.to_vec())),
                _ => return Err(ProtocolError::Malformed("bad signature marker")),
            },
            T_CREDENTIAL => match d.u8()? {
                0 => Response::Credential(None),
                1 => {
                    let exp = d.i64()?;
                    Response::Credential(Some((exp, Box::new(d.credential()?))))
                }
                _ => return Err(ProtocolError::Malformed("bad credential marker")),
            },
            T_STORED => Response::Stored(d.i64()?),
            T_ENTRIES => {
                let n = d.u32()? as usize;
                if n > d.0.len() / (KEY_ID_LEN + 8 + 4 + 4) {
                    return Err(ProtocolError::Malformed("entry count exceeds the frame"));
                }
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    let key = d.key_id()?;
                    let expires_at = d.i64()?;
                    let identity = d.string()?;
                    let issuer = d.string()?;
                    v.push(EntryInfo { key, expires_at, identity, issuer });
                }
                Response::Entries(v)
            }
            T_CLEARED => Response::Cleared(d.u32()?),
            T_ERROR => {
                let code = ErrorCode::from_u8(d.u8()?);
                let msg = String::from_utf8_lossy(d.bytes()?).into_owned();
                Response::Error(code, msg)
            }
            other => return Err(ProtocolError::UnknownType(other)),
        };
        d.end()?;
        Ok(r)
    }
}

fn map_io(e: io::Error) -> TransportError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => TransportError::Timeout,
        io::ErrorKind::UnexpectedEof => TransportError::Closed,
        _ => TransportError::Io(e),
    }
}

/// Write one frame.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> Result<(), TransportError> {
    if payload.is_empty() || payload.len() > MAX_FRAME {
        return Err(TransportError::FrameSize { len: payload.len(), max: MAX_FRAME });
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(payload.len() + 4));
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.extend_from_slice(payload);
    w.write_all(&buf).map_err(map_io)?;
    w.flush().map_err(map_io)
}

/// Read one frame's payload. A clean end of stream before the first byte is
/// [`TransportError::Closed`]; an announced length outside `1..=MAX_FRAME` is refused before
/// anything is allocated.
pub fn read_frame(r: &mut impl Read) -> Result<Zeroizing<Vec<u8>>, TransportError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(map_io)?;
    let len = u32::from_be_bytes(len) as usize;
    if len == 0 || len > MAX_FRAME {
        return Err(TransportError::FrameSize { len, max: MAX_FRAME });
    }
    let mut buf = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut buf).map_err(map_io)?;
    Ok(buf)
}

/// The uid of the process at the other end of a Unix stream (`SO_PEERCRED`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn peer_uid(stream: &std::os::unix::net::UnixStream) -> std::io::Result<u32> {
    rustix::net::sockopt::socket_peercred(stream).map(|c| c.uid.as_raw()).map_err(std::io::Error::from)
}

/// The uid of the process at the other end of a Unix stream: not available on this
/// platform, so every peer is refused.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn peer_uid(_stream: &std::os::unix::net::UnixStream) -> std::io::Result<u32> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "peer credentials are not supported on this platform"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred() -> Credential {
        Credential {
            private_key_pkcs8: Zeroizing::new(vec![1, 2, 3, 4]),
            leaf: vec![0x30, 0x03, 1, 2, 3],
            chain: vec![vec![9; 10], vec![8; 3]],
            issuer: "https://issuer.example".into(),
            subject: "alice@example.test".into(),
            email: Some("alice@example.test".into()),
            email_verified: Some(true),
        }
    }

    #[test]
    fn requests_round_trip() {
        let k = [7u8; 32];
        for r in [
            Request::Get(k),
            Request::Store(k, Box::new(cred())),
            Request::List,
            Request::Clear(None),
            Request::Clear(Some(k)),
            Request::Describe(k),
            Request::Sign(k, [9; 32]),
        ] {
            let mut wire = Vec::new();
            write_frame(&mut wire, &r.encode()).unwrap();
            let payload = read_frame(&mut wire.as_slice()).unwrap();
            assert_eq!(Request::decode_versioned(&payload).unwrap(), (VERSION, r.clone()));
            // The requests that exist in v1 still travel in v1 frames, for an older daemon.
            if !matches!(r, Request::Describe(_) | Request::Sign(..)) {
                assert_eq!(Request::decode_versioned(&r.encode_as(1)).unwrap(), (1, r));
            }
        }
    }

    #[test]
    fn responses_round_trip() {
        let mut c = cred();
        c.email = None;
        c.email_verified = None;
        for r in [
            Response::Credential(None),
            Response::Credential(Some((1234, Box::new(c)))),
            Response::Stored(-5),
            Response::Entries(vec![
                EntryInfo {
                    key: [1; 32],
                    expires_at: 10,
                    identity: "a@example.test".into(),
                    issuer: "https://i".into(),
                },
                EntryInfo {
                    key: [2; 32],
                    expires_at: 20,
                    identity: "https://ci/wf".into(),
                    issuer: "https://j".into(),
                },
            ]),
            Response::Entries(vec![]),
            Response::Cleared(3),
            Response::Error(ErrorCode::Rejected, "nope".into()),
            Response::Error(ErrorCode::Other(77), String::new()),
            Response::Signature(None),
            Response::Signature(Some(vec![0x30, 2, 1, 1])),
        ] {
            assert_eq!(Response::decode(&r.encode()).unwrap(), r);
            if !matches!(r, Response::Signature(_)) {
                assert_eq!(Response::decode(&r.encode_as(1)).unwrap(), r);
            }
        }
        // A v1 daemon's refusal of a v2 frame decodes, so the client can fall back.
        let old = Response::Error(ErrorCode::UnsupportedVersion, "unsupported protocol version 2".into());
        assert_eq!(Response::decode(&old.encode_as(1)).unwrap(), old);
        assert_eq!(
            Response::decode(&Response::Signature(None).encode_as(1)),
            Err(ProtocolError::UnknownType(T_SIGNATURE))
        );
    }

    #[test]
    fn key_buffers_are_reserved_up_front() {
        let mut c = cred();
        c.chain = vec![vec![7; 20_000]; 2];
        let store = Request::Store([1; 32], Box::new(c.clone())).encode();
        assert_eq!(store.len(), 2 + 32 + encoded_len(&c));
        c.email = None;
        let resp = Response::Credential(Some((5, Box::new(c.clone())))).encode();
        assert_eq!(resp.len(), 2 + 1 + 8 + encoded_len(&c));
    }

    #[test]
    fn oversize_and_empty_frames_are_refused() {
        let big = vec![1u8; MAX_FRAME + 1];
        assert!(matches!(write_frame(&mut Vec::new(), &big), Err(TransportError::FrameSize { .. })));
        // A header announcing 4 GiB is refused without allocating or reading on.
        let wire = [0xFFu8, 0xFF, 0xFF, 0xFF, 1, 1];
        assert!(
            matches!(read_frame(&mut &wire[..]), Err(TransportError::FrameSize { len, .. }) if len == u32::MAX as usize)
        );
        let wire = [0u8, 0, 0, 0];
        assert!(matches!(read_frame(&mut &wire[..]), Err(TransportError::FrameSize { len: 0, .. })));
        // The largest allowed frame passes.
        let max = vec![1u8; MAX_FRAME];
        let mut wire = Vec::new();
        write_frame(&mut wire, &max).unwrap();
        assert_eq!(read_frame(&mut wire.as_slice()).unwrap().len(), MAX_FRAME);
    }

    #[test]
    fn truncated_streams_are_transport_errors() {
        assert!(matches!(read_frame(&mut &[][..]), Err(TransportError::Closed)));
        assert!(matches!(read_frame(&mut &[0u8, 0][..]), Err(TransportError::Closed)));
        assert!(matches!(read_frame(&mut &[0u8, 0, 0, 9, 1][..]), Err(TransportError::Closed)));
    }

    #[test]
    fn garbage_is_a_protocol_error_never_a_panic() {
        assert_eq!(Request::decode(&[3, T_GET]), Err(ProtocolError::UnsupportedVersion(3)));
        assert_eq!(Request::decode(&[0, T_GET]), Err(ProtocolError::UnsupportedVersion(0)));
        // The v2 requests do not exist in v1 frames.
        let mut p = vec![1, T_DESCRIBE];
        p.extend_from_slice(&[0; 32]);
        assert_eq!(Request::decode(&p), Err(ProtocolError::UnknownType(T_DESCRIBE)));
        assert!(matches!(Request::decode(&[2, T_SIGN, 1, 2]), Err(ProtocolError::Malformed(_))));
        assert!(matches!(Request::decode(&[1]), Err(ProtocolError::Malformed(_))));
        assert_eq!(Request::decode(&[1, 0x55]), Err(ProtocolError::UnknownType(0x55)));
        assert!(matches!(Request::decode(&[1, T_GET, 1, 2]), Err(ProtocolError::Malformed(_))));
        assert!(matches!(Request::decode(&[1, T_LIST, 0]), Err(ProtocolError::Malformed("trailing bytes"))));
        // Store with a huge chain count.
        let mut p = vec![1, T_STORE];
        p.extend_from_slice(&[0; 32]);
        p.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(matches!(Request::decode(&p), Err(ProtocolError::Malformed(_))));
        // Every prefix of a valid store, and pseudo-random bytes, decode to errors or values.
        let full = Request::Store([3; 32], Box::new(cred())).encode();
        for n in 0..full.len() {
            assert!(Request::decode(&full[..n]).is_err(), "prefix {n}");
        }
        let mut x: u32 = 0x1234_5678;
        for _ in 0..2000 {
            let len = (x % 80) as usize;
            let mut v = vec![1u8];
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                v.push(x as u8);
            }
            let _ = Request::decode(&v);
            let _ = Response::decode(&v);
        }
    }
}
