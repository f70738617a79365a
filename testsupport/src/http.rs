//! A tiny HTTP/1.1 client over plain TCP (`Connection: close`), and the request and response
//! values the fake servers in [`crate::server`] use.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// One HTTP request as a server received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// The headers in the order received, names as sent.
    pub headers: Vec<(String, String)>,
    /// The `Content-Length` body (empty without one).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// One HTTP answer: what the client got, or what a fake server sends.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, chunked encoding already decoded.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON answer (`Content-Type: application/json`).
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response { status, headers: vec![("Content-Type".into(), "application/json".into())], body: body.into() }
    }

    /// The body as JSON; panics, showing the body, when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The body replaced by `v`.
    pub fn with_json(mut self, v: &Value) -> Response {
        self.body = v.to_string().into_bytes();
        self
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Send one request to an `http://host:port/path` URL and read the whole answer (the client
/// sends `Host`, `Connection: close` and `Content-Length` itself; chunked answers are
/// decoded). Panics when the server cannot be reached or answers no HTTP.
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("not an http:// URL: {url}"));
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = TcpStream::connect(hostport).unwrap_or_else(|e| panic!("connect to {hostport}: {e}"));
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut raw = Vec::new();
    s.write_all(req.as_bytes())
        .and_then(|()| s.write_all(body))
        .and_then(|()| s.read_to_end(&mut raw))
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {url}: no end of headers in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{method} {url}: bad status line {status_line:?}"));
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    if find_header(&headers, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

/// Decode a chunked body (chunk extensions ignored); stops at the last chunk or at the end of
/// the data.
pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&b[..eol]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or_default().trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[(eol + 2 + size + 2).min(b.len())..];
    }
    out
}

/// Read one request (request line, headers, a `Content-Length` body); `None` when the
/// connection closes or breaks first.
pub fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = find_header(&headers, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0usize);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request { method, path, headers, body })
}

/// Write `resp` with `Connection: close` and a `Content-Length` (or, with `chunked`, as
/// 100-byte chunks); its own length, connection and transfer-encoding headers are dropped.
pub fn write_response(conn: &mut impl Write, resp: &Response, chunked: bool) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", resp.status);
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    for (k, v) in &resp.headers {
        if !k.eq_ignore_ascii_case("content-length")
            && !k.eq_ignore_ascii_case("connection")
            && !k.eq_ignore_ascii_case("transfer-encoding")
        {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if chunked {
        for part in resp.body.chunks(100) {
            out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(&resp.body);
    }
    conn.write_all(&out)?;
    conn.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunk_reads_chunks_with_extensions() {
        assert_eq!(dechunk(b"3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), b"abcde");
        assert_eq!(dechunk(b"3\r\nabc"), b"abc", "a missing final chunk ends at the data");
    }

    #[test]
    fn chunked_write_reads_back() {
        let resp = Response::new(201, vec![b'x'; 250]);
        let mut out = Vec::new();
        write_response(&mut out, &resp, true).unwrap();
        let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&out[..split]);
        assert!(head.starts_with("HTTP/1.1 201 "), "{head}");
        assert!(head.contains("Transfer-Encoding: chunked"), "{head}");
        assert!(!head.contains("Content-Length"), "{head}");
        assert_eq!(dechunk(&out[split + 4..]), resp.body);
    }
}
