//! HTTP request/response plumbing on top of tiny_http.

use crate::util;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Read;

/// Largest request body accepted (1 MiB).
pub(crate) const MAX_BODY: u64 = 1 << 20;

pub(crate) struct Req {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    /// Read a tiny_http request; the body is capped at [`MAX_BODY`].
    pub(crate) fn read(rq: &mut tiny_http::Request) -> Result<Req, Resp> {
        let headers = rq
            .headers()
            .iter()
            .map(|h| (h.field.as_str().as_str().to_ascii_lowercase(), h.value.as_str().to_string()))
            .collect();
        let mut body = Vec::new();
        let n = rq
            .as_reader()
            .take(MAX_BODY + 1)
            .read_to_end(&mut body)
            .map_err(|e| Resp::error(400, &format!("reading request body: {e}")))?;
        if n as u64 > MAX_BODY {
            return Err(Resp::error(413, "request body too large"));
        }
        let method = rq.method().as_str().to_string();
        Ok(Req::from_parts(&method, rq.url(), headers, body))
    }

    /// Build a request from its parts; header names must be lower-case.
    pub(crate) fn from_parts(method: &str, target: &str, headers: Vec<(String, String)>, body: Vec<u8>) -> Req {
        let (path, q) = target.split_once('?').unwrap_or((target, ""));
        Req { method: method.to_ascii_uppercase(), path: path.to_string(), query: util::parse_form(q), headers, body }
    }

    #[cfg(test)]
    pub(crate) fn new(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Req {
        let headers = headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.to_string())).collect();
        Req::from_parts(method, target, headers, body.to_vec())
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    pub(crate) fn form(&self) -> BTreeMap<String, String> {
        util::parse_form(&String::from_utf8_lossy(&self.body))
    }

    /// Request body as JSON, or a 400 response.
    pub(crate) fn json(&self) -> Result<Value, Resp> {
        serde_json::from_slice(&self.body).map_err(|e| Resp::error(400, &format!("invalid JSON body: {e}")))
    }

    /// Bearer token from the Authorization header.
    pub(crate) fn bearer(&self) -> Option<&str> {
        let h = self.header("authorization")?;
        let (scheme, tok) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| tok.trim())
    }
}

pub(crate) struct Resp {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub(crate) fn json(status: u16, v: &Value) -> Resp {
        Resp { status, content_type: "application/json".into(), headers: Vec::new(), body: v.to_string().into_bytes() }
    }

    /// Fulcio/Rekor style error `{"code":N,"message":"..."}`.
    pub(crate) fn error(status: u16, message: &str) -> Resp {
        Resp::json(status, &json!({"code": status, "message": message}))
    }

    /// Fulcio (gRPC-gateway) error: HTTP status with the gRPC status code in the body,
    /// e.g. 401 `{"code":16,"message":"..."}`, 400 `{"code":3,...}`.
    pub(crate) fn grpc_error(status: u16, message: &str) -> Resp {
        let code = match status {
            400 | 413 => 3,
            401 => 16,
            403 => 7,
            404 => 5,
            _ => 13,
        };
        Resp::json(status, &json!({"code": code, "message": message, "details": []}))
    }

    /// OAuth 2.0 error response (RFC 6749 §5.2).
    pub(crate) fn oauth_error(status: u16, error: &str, description: &str) -> Resp {
        Resp::json(status, &json!({"error": error, "error_description": description}))
            .with_header("Cache-Control", "no-store")
    }

    pub(crate) fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Resp {
        Resp { status, content_type: content_type.into(), headers: Vec::new(), body: body.into() }
    }

    pub(crate) fn html(status: u16, body: &str) -> Resp {
        Resp::text(status, "text/html; charset=utf-8", body)
    }

    pub(crate) fn redirect(location: &str) -> Resp {
        Resp::text(302, "text/plain", format!("redirecting to {location}\n")).with_header("Location", location)
    }

    pub(crate) fn with_header(mut self, k: &str, v: &str) -> Resp {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub(crate) fn into_tiny(self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let mut r = tiny_http::Response::from_data(self.body).with_status_code(self.status);
        if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", self.content_type.as_bytes()) {
            r = r.with_header(h);
        }
        for (k, v) in self.headers {
            if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
                r = r.with_header(h);
            }
        }
        r
    }
}
