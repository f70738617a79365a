//! A loopback HTTP server whose every answer a closure decides (hostile, slow, lying or plain
//! fake services), a proxy step to forward to a real one, and a port where nothing listens.

use crate::http::{self, Request, Response};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// What the server does with a request.
pub enum Reply {
    /// Answer with a `Content-Length`.
    Http(Response),
    /// Answer with `Transfer-Encoding: chunked`.
    Chunked(Response),
    /// Keep the connection open (two minutes) and never answer.
    Hang,
    /// Send these bytes raw, then close.
    Raw(Vec<u8>),
    /// A 200 whose body streams at least `n` bytes of `[`, without a length, then closes.
    Stream(usize),
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

/// An HTTP server on 127.0.0.1 (one thread per connection, one request per connection); it
/// lives as long as the test process.
pub struct FakeServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
}

impl FakeServer {
    /// Serve on a fresh port of 127.0.0.1.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
        FakeServer::on(listener, handler)
    }

    /// Serve on `listener` (for a port chosen beforehand).
    pub fn on(listener: TcpListener, handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> FakeServer {
        let url = match listener.local_addr() {
            Ok(a) => format!("http://{a}"),
            Err(e) => panic!("local address of the fake server: {e}"),
        };
        let handler: Handler = Arc::new(handler);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let handler = handler.clone();
                std::thread::spawn(move || serve(conn, &handler));
            }
        });
        FakeServer { url }
    }
}

fn serve(mut conn: TcpStream, handler: &Handler) {
    let Ok(read_half) = conn.try_clone() else { return };
    let Some(req) = http::read_request(&mut BufReader::new(read_half)) else { return };
    match handler(&req) {
        Reply::Hang => std::thread::sleep(Duration::from_secs(120)),
        Reply::Raw(bytes) => {
            let _ = conn.write_all(&bytes);
        }
        Reply::Stream(n) => {
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'['; 64 * 1024];
            let mut sent = 0;
            while sent < n {
                if conn.write_all(&chunk).is_err() {
                    break;
                }
                sent += chunk.len();
            }
        }
        Reply::Http(resp) => {
            let _ = http::write_response(&mut conn, &resp, false);
        }
        Reply::Chunked(resp) => {
            let _ = http::write_response(&mut conn, &resp, true);
        }
    }
    let _ = conn.flush();
}

/// Forward `req` to `upstream` (`http://host:port`, plain HTTP on loopback) and return its
/// answer, chunked bodies decoded. Hop-by-hop headers and `Accept-Encoding` are not passed on.
pub fn forward(upstream: &str, req: &Request) -> Response {
    let hostport = upstream.trim_start_matches("http://").trim_end_matches('/');
    let hostport = hostport.split('/').next().unwrap_or(hostport);
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(k, _)| {
            !["host", "connection", "content-length", "accept-encoding"].contains(&k.to_ascii_lowercase().as_str())
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    http::http(&req.method, &format!("http://{hostport}{}", req.path), &headers, &req.body)
}

/// `http://127.0.0.1:PORT` where nothing listens (bound, then closed).
pub fn closed_port_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind 127.0.0.1:0: {e}"));
    let url = match l.local_addr() {
        Ok(a) => format!("http://{a}"),
        Err(e) => panic!("local address: {e}"),
    };
    drop(l);
    url
}
