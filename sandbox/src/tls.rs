//! `serve --tls`: a sandbox TLS CA (written to DIR/tls-ca.pem), a loopback server
//! certificate, and a small HTTP/1.1 server over rustls (ring provider).

use crate::derw::*;
use crate::error::Error;
use crate::http::{MAX_BODY, Req, Resp};
use crate::{keys, util};
use p256::pkcs8::EncodePrivateKey;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const CA_FILE: &str = "tls-ca.pem";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_CN: &str = "2.5.4.3";
const OID_O: &str = "2.5.4.10";

fn serial() -> Vec<u8> {
    let mut s = util::random_bytes(16);
    s[0] = (s[0] & 0x7f) | 0x01;
    uint(&s)
}

fn sign(tbs: Vec<u8>, key: &p256::ecdsa::SigningKey) -> Vec<u8> {
    let sig = keys::sign_p256_der(key, &tbs);
    seq(&[tbs, alg_id(OID_ECDSA_SHA256), bit_string(&sig)])
}

fn ca_name() -> Vec<u8> {
    name(&[(OID_O, "gitsign-sandbox"), (OID_CN, "gitsign-sandbox TLS CA")])
}

fn ca_cert(key: &p256::ecdsa::SigningKey, start: i64) -> Vec<u8> {
    let spki = keys::p256_spki_der(key.verifying_key());
    let ski = util::sha256(&spki)[..20].to_vec();
    let tbs = seq(&[
        explicit(0, &small_int(2)),
        serial(),
        alg_id(OID_ECDSA_SHA256),
        ca_name(),
        seq(&[time(start), time(start + 10 * 365 * 86400)]),
        ca_name(),
        spki,
        explicit(
            3,
            &seq(&[
                extension("2.5.29.15", true, &tlv(0x03, &[1, 0x06])),
                extension("2.5.29.19", true, &seq(&[boolean(true), small_int(0)])),
                extension("2.5.29.14", false, &octet_string(&ski)),
            ]),
        ),
    ]);
    sign(tbs, key)
}

fn server_cert(ca_key: &p256::ecdsa::SigningKey, key: &p256::ecdsa::SigningKey, start: i64) -> Vec<u8> {
    let spki = keys::p256_spki_der(key.verifying_key());
    let ca_ski = util::sha256(&keys::p256_spki_der(ca_key.verifying_key()))[..20].to_vec();
    let san = seq(&[
        implicit_prim(2, b"localhost"),
        implicit_prim(7, &[127, 0, 0, 1]),
        implicit_prim(7, &std::net::Ipv6Addr::LOCALHOST.octets()),
    ]);
    let tbs = seq(&[
        explicit(0, &small_int(2)),
        serial(),
        alg_id(OID_ECDSA_SHA256),
        ca_name(),
        seq(&[time(start), time(start + 5 * 365 * 86400)]),
        name(&[(OID_CN, "gitsign-sandbox")]),
        spki.clone(),
        explicit(
            3,
            &seq(&[
                extension("2.5.29.15", true, &tlv(0x03, &[7, 0x80])),
                extension("2.5.29.37", false, &seq(&[oid("1.3.6.1.5.5.7.3.1")])),
                extension("2.5.29.19", true, &seq(&[])),
                extension("2.5.29.14", false, &octet_string(&util::sha256(&spki)[..20])),
                extension("2.5.29.35", false, &seq(&[implicit_prim(0, &ca_ski)])),
                extension("2.5.29.17", false, &san),
            ]),
        ),
    ]);
    sign(tbs, ca_key)
}

/// Load or create the TLS CA and server certificate; build the rustls config.
pub(crate) fn server_config(dir: &Path, start: i64) -> Result<Arc<rustls::ServerConfig>, Error> {
    let (ca_key, new_ca) = keys::load_or_create_p256(&dir.join("tls-ca-key.pem"))?;
    let (key, new_key) = keys::load_or_create_p256(&dir.join("tls-server-key.pem"))?;
    let ca_path = dir.join(CA_FILE);
    let cert_path = dir.join("tls-server.pem");
    if new_ca || new_key || !ca_path.exists() || !cert_path.exists() {
        std::fs::write(&ca_path, util::pem_encode("CERTIFICATE", &ca_cert(&ca_key, start)))?;
        std::fs::write(&cert_path, util::pem_encode("CERTIFICATE", &server_cert(&ca_key, &key, start)))?;
    }
    let cert = util::pem_decode_all(&std::fs::read_to_string(&cert_path)?)
        .into_iter()
        .next()
        .ok_or_else(|| Error::State(format!("{}: no certificate", cert_path.display())))?
        .1;
    let pkcs8 = key.to_pkcs8_der().map_err(|e| Error::State(format!("encoding TLS key: {e}")))?.as_bytes().to_vec();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth().with_single_cert(
                vec![CertificateDer::from(cert)],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8)),
            )
        })
        .map_err(|e| Error::State(format!("TLS configuration: {e}")))?;
    Ok(Arc::new(config))
}

/// Accept connections forever; one thread per connection.
pub(crate) fn serve(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    handler: Arc<dyn Fn(&Req) -> Resp + Send + Sync>,
) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let config = Arc::clone(&config);
        let handler = Arc::clone(&handler);
        std::thread::spawn(move || {
            let _ = connection(stream, config, handler);
        });
    }
}

fn connection(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    handler: Arc<dyn Fn(&Req) -> Resp + Send + Sync>,
) -> std::io::Result<()> {
    tcp.set_read_timeout(Some(Duration::from_secs(30)))?;
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut io = BufReader::new(rustls::StreamOwned::new(conn, tcp));
    loop {
        let (req, keep_alive) = match read_request(&mut io)? {
            Some(Ok(r)) => r,
            Some(Err(resp)) => {
                write_response(io.get_mut(), resp, false)?;
                return Ok(());
            }
            None => return Ok(()),
        };
        let resp = handler(&req);
        write_response(io.get_mut(), resp, keep_alive)?;
        if !keep_alive {
            let s = io.get_mut();
            s.conn.send_close_notify();
            s.flush()?;
            return Ok(());
        }
    }
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(16 * 1024).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n']).to_string()))
}

type Parsed = Result<(Req, bool), Resp>;

/// Read one request. `None` at a clean end of stream.
fn read_request(r: &mut impl BufRead) -> std::io::Result<Option<Parsed>> {
    let line = match read_line(r) {
        Ok(Some(l)) => l,
        Ok(None) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(Some(Err(Resp::error(400, "malformed request line"))));
    };
    let mut headers = Vec::new();
    for _ in 0..200 {
        match read_line(r)? {
            Some(l) if l.is_empty() => break,
            Some(l) => {
                if let Some((k, v)) = l.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            None => return Ok(None),
        }
    }
    let h = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.to_ascii_lowercase());
    let mut body = Vec::new();
    if h("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let Some(size_line) = read_line(r)? else {
                return Ok(None);
            };
            let size =
                usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(usize::MAX);
            if size == usize::MAX || body.len() + size > MAX_BODY as usize {
                return Ok(Some(Err(Resp::error(400, "bad or oversized chunked body"))));
            }
            if size == 0 {
                while let Some(l) = read_line(r)? {
                    if l.is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0u8; size];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            read_line(r)?;
        }
    } else if let Some(len) = h("content-length") {
        let Ok(len) = len.parse::<u64>() else {
            return Ok(Some(Err(Resp::error(400, "bad Content-Length"))));
        };
        if len > MAX_BODY {
            return Ok(Some(Err(Resp::error(413, "request body too large"))));
        }
        body = vec![0u8; len as usize];
        r.read_exact(&mut body)?;
    }
    let keep_alive = match h("connection").as_deref() {
        Some(c) if c.contains("close") => false,
        Some(c) if c.contains("keep-alive") => true,
        _ => version == "HTTP/1.1",
    };
    Ok(Some(Ok((Req::from_parts(method, target, headers, body), keep_alive))))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        _ => "Internal Server Error",
    }
}

fn write_response(w: &mut impl Write, resp: Resp, keep_alive: bool) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    for (k, v) in &resp.headers {
        if !k.contains(['\r', '\n']) && !v.contains(['\r', '\n']) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(&resp.body)?;
    w.flush()
}
