//! A small HTTP/1.1 GET client over `std::net::TcpStream`, used to fetch a trusted
//! issuer's discovery document and JWKS. Plain HTTP to loopback addresses only, one
//! request per connection (`Connection: close`), with connect/read/write timeouts, an
//! overall deadline and size limits on the response head and body.

use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Timeout for establishing the TCP connection (per address tried).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Timeout for any single read or write.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline for a whole request, connect to last byte.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);
/// Largest status line + headers accepted.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Largest (decoded) body accepted.
pub(crate) const MAX_BODY: usize = 1 << 20;
/// Longest chunk-size line accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 1024;

#[derive(Debug)]
pub(crate) enum FetchError {
    /// The URL is not of the form `http://host[:port][/path]`.
    Url {
        url: String,
        reason: &'static str,
    },
    /// `https://` or another scheme.
    Scheme(String),
    /// The host is not a loopback address (or `localhost` resolving only to loopback).
    NotLoopback(String),
    Resolve(String, std::io::Error),
    Connect(String, std::io::Error),
    Io(std::io::Error),
    Timeout,
    TooLarge(&'static str),
    Malformed(&'static str),
    Status(u16),
    Json(serde_json::Error),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Url { url, reason } => write!(f, "invalid URL {url:?}: {reason}"),
            FetchError::Scheme(url) => write!(
                f,
                "unsupported URL {url:?}: only plain http:// to a loopback address is supported \
                 (the sandbox does not fetch issuer keys over https)"
            ),
            FetchError::NotLoopback(url) => write!(
                f,
                "{url:?} is not on a loopback address: the sandbox only talks to issuers on \
                 127.0.0.0/8, [::1] or localhost"
            ),
            FetchError::Resolve(host, e) => write!(f, "cannot resolve {host}: {e}"),
            FetchError::Connect(addr, e) => write!(f, "cannot connect to {addr}: {e}"),
            FetchError::Io(e) => write!(f, "I/O error: {e}"),
            FetchError::Timeout => write!(f, "timed out"),
            FetchError::TooLarge(what) => write!(f, "{what} too large"),
            FetchError::Malformed(what) => write!(f, "malformed HTTP response: {what}"),
            FetchError::Status(s) => write!(f, "HTTP status {s}"),
            FetchError::Json(e) => write!(f, "response is not JSON: {e}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// A parsed `http://` URL on a loopback host.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpUrl {
    /// Host as written, IPv6 literals without brackets.
    pub host: String,
    pub port: u16,
    /// `host[:port]` as written, for the Host header.
    pub authority: String,
    /// Path and query, starting with `/`.
    pub target: String,
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Parse `http://host[:port][/path][?query]`; the host must be loopback.
pub(crate) fn parse_url(url: &str) -> Result<HttpUrl, FetchError> {
    let bad = |reason| FetchError::Url { url: url.to_string(), reason };
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(bad("contains whitespace or control characters"));
    }
    let rest = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
        Some(_) => return Err(FetchError::Scheme(url.to_string())),
        None => return Err(bad("expected http://host[:port][/path]")),
    };
    if rest.contains('#') {
        return Err(bad("fragments are not allowed"));
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    if authority.contains('@') {
        return Err(bad("user information is not allowed"));
    }
    // `port` keeps its leading ':' (or is empty).
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']').ok_or_else(|| bad("unterminated IPv6 literal"))?
    } else {
        let i = authority.find(':').unwrap_or(authority.len());
        authority.split_at(i)
    };
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    let port = match port {
        "" => 80,
        p => p
            .strip_prefix(':')
            .and_then(|p| p.parse::<u16>().ok())
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("invalid port"))?,
    };
    if !is_loopback_host(host) {
        return Err(FetchError::NotLoopback(url.to_string()));
    }
    let target = match target {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    Ok(HttpUrl { host: host.to_string(), port, authority: authority.to_string(), target })
}

fn remaining(deadline: Instant) -> Result<Duration, FetchError> {
    deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()).ok_or(FetchError::Timeout)
}

fn io_err(e: std::io::Error) -> FetchError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => FetchError::Timeout,
        _ => FetchError::Io(e),
    }
}

fn connect(u: &HttpUrl, deadline: Instant) -> Result<TcpStream, FetchError> {
    let addrs: Vec<SocketAddr> = (u.host.as_str(), u.port)
        .to_socket_addrs()
        .map_err(|e| FetchError::Resolve(u.host.clone(), e))?
        .filter(|a| a.ip().is_loopback())
        .collect();
    if addrs.is_empty() {
        return Err(FetchError::NotLoopback(u.host.clone()));
    }
    let mut last = None;
    for a in addrs {
        let t = remaining(deadline)?.min(CONNECT_TIMEOUT);
        match TcpStream::connect_timeout(&a, t) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(FetchError::Connect(a.to_string(), e)),
        }
    }
    Err(last.unwrap_or(FetchError::Timeout))
}

struct Conn {
    stream: TcpStream,
    deadline: Instant,
    buf: Vec<u8>,
}

impl Conn {
    /// Read more bytes into the buffer; `false` at end of stream.
    fn fill(&mut self) -> Result<bool, FetchError> {
        let mut chunk = [0u8; 8192];
        loop {
            let t = remaining(self.deadline)?.min(IO_TIMEOUT);
            self.stream.set_read_timeout(Some(t)).map_err(io_err)?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    // Head + body + chunked framing overhead.
                    if self.buf.len() + n > MAX_HEAD + MAX_BODY + 64 * 1024 {
                        return Err(FetchError::TooLarge("response"));
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(e)),
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

enum Framing {
    Length(usize),
    Chunked,
    Close,
}

/// Parse the status line and headers: (status, framing).
fn parse_head(head: &[u8]) -> Result<(u16, Framing), FetchError> {
    let head = std::str::from_utf8(head).map_err(|_| FetchError::Malformed("non-UTF-8 head"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(FetchError::Malformed("not an HTTP/1.x status line"));
    }
    let status = parts
        .next()
        .filter(|s| s.len() == 3)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(FetchError::Malformed("bad status code"))?;
    let mut framing = Framing::Close;
    let mut length: Option<usize> = None;
    for line in lines {
        let (k, v) = line.split_once(':').ok_or(FetchError::Malformed("header line without a colon"))?;
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("transfer-encoding") {
            let last = v.rsplit(',').next().unwrap_or("").trim();
            if last.eq_ignore_ascii_case("chunked") {
                framing = Framing::Chunked;
            } else {
                return Err(FetchError::Malformed("unsupported transfer-encoding"));
            }
        } else if k.eq_ignore_ascii_case("content-length") {
            let n = v.parse::<usize>().map_err(|_| FetchError::Malformed("bad content-length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(FetchError::Malformed("conflicting content-length headers"));
            }
            length = Some(n);
        }
    }
    if !matches!(framing, Framing::Chunked)
        && let Some(n) = length
    {
        if n > MAX_BODY {
            return Err(FetchError::TooLarge("response body"));
        }
        framing = Framing::Length(n);
    }
    Ok((status, framing))
}

/// Decode a complete chunked body; `Ok(None)` when more bytes are needed.
fn dechunk(mut b: &[u8]) -> Result<Option<Vec<u8>>, FetchError> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = find(&b[..b.len().min(MAX_CHUNK_LINE + 2)], b"\r\n") else {
            if b.len() > MAX_CHUNK_LINE {
                return Err(FetchError::Malformed("chunk-size line too long"));
            }
            return Ok(None);
        };
        let line = std::str::from_utf8(&b[..eol]).map_err(|_| FetchError::Malformed("bad chunk-size line"))?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| FetchError::Malformed("bad chunk size"))?;
        b = &b[eol + 2..];
        if size == 0 {
            // Trailer section: zero or more header lines, then an empty line.
            let mut t = b;
            loop {
                let Some(eol) = find(t, b"\r\n") else {
                    return Ok(None);
                };
                if eol == 0 {
                    return Ok(Some(out));
                }
                t = &t[eol + 2..];
            }
        }
        if size > MAX_BODY || out.len() + size > MAX_BODY {
            return Err(FetchError::TooLarge("response body"));
        }
        let Some(need) = size.checked_add(2) else {
            return Err(FetchError::Malformed("bad chunk size"));
        };
        if b.len() < need {
            return Ok(None);
        }
        if &b[size..need] != b"\r\n" {
            return Err(FetchError::Malformed("chunk not followed by CRLF"));
        }
        out.extend_from_slice(&b[..size]);
        b = &b[need..];
    }
}

/// GET `url` (plain HTTP, loopback only); the body of a 200 response.
pub(crate) fn get(url: &str) -> Result<Vec<u8>, FetchError> {
    let u = parse_url(url)?;
    let deadline = Instant::now() + DEADLINE;
    let stream = connect(&u, deadline)?;
    stream.set_write_timeout(Some(remaining(deadline)?.min(IO_TIMEOUT))).map_err(io_err)?;
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: gitsign-sandbox\r\nConnection: close\r\n\r\n",
        u.target, u.authority
    );
    let mut conn = Conn { stream, deadline, buf: Vec::new() };
    conn.stream.write_all(req.as_bytes()).map_err(io_err)?;
    conn.stream.flush().map_err(io_err)?;

    // Head.
    let mut scanned: usize = 0;
    let head_end = loop {
        if let Some(i) = find(&conn.buf[scanned.saturating_sub(3)..], b"\r\n\r\n") {
            break scanned.saturating_sub(3) + i;
        }
        scanned = conn.buf.len();
        if scanned > MAX_HEAD {
            return Err(FetchError::TooLarge("response head"));
        }
        if !conn.fill()? {
            return Err(FetchError::Malformed("connection closed before the end of the head"));
        }
    };
    if head_end > MAX_HEAD {
        return Err(FetchError::TooLarge("response head"));
    }
    let (status, framing) = parse_head(&conn.buf[..head_end])?;
    let body_start = head_end + 4;
    if status != 200 {
        return Err(FetchError::Status(status));
    }

    // Body.
    match framing {
        Framing::Length(n) => {
            while conn.buf.len() - body_start < n {
                if !conn.fill()? {
                    return Err(FetchError::Malformed("body shorter than content-length"));
                }
            }
            Ok(conn.buf[body_start..body_start + n].to_vec())
        }
        Framing::Chunked => loop {
            if let Some(body) = dechunk(&conn.buf[body_start..])? {
                return Ok(body);
            }
            if !conn.fill()? {
                return Err(FetchError::Malformed("truncated chunked body"));
            }
        },
        Framing::Close => {
            while conn.fill()? {
                if conn.buf.len() - body_start > MAX_BODY {
                    return Err(FetchError::TooLarge("response body"));
                }
            }
            if conn.buf.len() - body_start > MAX_BODY {
                return Err(FetchError::TooLarge("response body"));
            }
            Ok(conn.buf[body_start..].to_vec())
        }
    }
}

/// GET `url` and parse the body as JSON.
pub(crate) fn get_json(url: &str) -> Result<Value, FetchError> {
    let body = get(url)?;
    serde_json::from_slice(&body).map_err(FetchError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn urls() {
        let u = parse_url("http://127.0.0.1:8080/a/b?c=d").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 8080));
        assert_eq!(u.authority, "127.0.0.1:8080");
        assert_eq!(u.target, "/a/b?c=d");
        let u = parse_url("http://[::1]:9/").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.target.as_str()), ("::1", 9, "/"));
        let u = parse_url("http://localhost").unwrap();
        assert_eq!((u.port, u.target.as_str()), (80, "/"));
        assert_eq!(parse_url("http://127.0.0.2?x").unwrap().target, "/?x");
        assert!(matches!(parse_url("https://127.0.0.1/"), Err(FetchError::Scheme(_))));
        for bad in ["http://example.com/", "http://10.0.0.1/", "http://[::2]/", "http://127.0.0.1.evil.test/"] {
            assert!(matches!(parse_url(bad), Err(FetchError::NotLoopback(_))), "{bad}");
        }
        for bad in [
            "127.0.0.1:80",
            "http://u@127.0.0.1/",
            "http://127.0.0.1:x/",
            "http://127.0.0.1:0/",
            "http://127.0.0.1:99999/",
            "http://[::1/",
            "http:///x",
            "http://127.0.0.1/a b",
            "http://127.0.0.1/#f",
        ] {
            assert!(matches!(parse_url(bad), Err(FetchError::Url { .. })), "{bad}");
        }
    }

    #[test]
    fn chunked() {
        assert_eq!(dechunk(b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(), Some(b"abcde".to_vec()));
        assert_eq!(dechunk(b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n").unwrap(), Some(b"abc".to_vec()));
        assert_eq!(dechunk(b"3\r\nab").unwrap(), None);
        assert_eq!(dechunk(b"3\r\nabc\r\n0\r\n").unwrap(), None);
        assert!(dechunk(b"zz\r\n").is_err());
        assert!(dechunk(b"3\r\nabcX\r\n").is_err());
        assert!(dechunk(b"fffffffffffffffffff\r\n").is_err());
    }

    /// Serve one canned response per connection, `n` times.
    fn serve(responses: Vec<Vec<u8>>) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for resp in responses {
                let Ok((mut s, _)) = l.accept() else { return };
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while find(&got, b"\r\n\r\n").is_none() {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(&resp);
            }
        });
        format!("http://{addr}")
    }

    #[test]
    fn fetches() {
        let base = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}trailing".to_vec(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4\r\n\":2}\r\n0\r\n\r\n".to_vec(),
            b"HTTP/1.0 200 OK\r\n\r\n{\"a\":3}".to_vec(),
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".to_vec(),
            b"garbage\r\n\r\n".to_vec(),
        ]);
        assert_eq!(get_json(&base).unwrap()["a"], 1);
        assert_eq!(get_json(&base).unwrap()["a"], 2);
        assert_eq!(get_json(&base).unwrap()["a"], 3);
        assert!(matches!(get(&base), Err(FetchError::Status(404))));
        assert!(matches!(get(&base), Err(FetchError::TooLarge(_))));
        assert!(matches!(get(&base), Err(FetchError::Malformed(_))));
        assert!(matches!(get(&base), Err(FetchError::Malformed(_))));
    }

    #[test]
    fn connection_refused_is_an_error() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        assert!(matches!(get(&format!("http://{addr}/")), Err(FetchError::Connect(..))));
    }
}
