//! The sandbox state directory and the HTTP server serving all three services.

use crate::ca::Ca;
use crate::error::Error;
use crate::http::{Req, Resp};
use crate::issuers::TrustedIssuer;
use crate::oidc::{self, Oidc};
use crate::rekor::Rekor;
use crate::rekor_v2::RekorV2;
use crate::tsa::{self, Tsa};
use crate::{fulcio, keys, signals, tls, trust_root, util};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) const ISSUER_KEY: &str = "issuer-key.pem";
pub(crate) const SANDBOX_JSON: &str = "sandbox.json";
pub(crate) const TRUSTED_ROOT: &str = "trusted_root.json";
pub(crate) const SIGNING_CONFIG: &str = "signing_config.json";
pub(crate) const DEFAULT_IDENTITY: &str = "sandbox-user@example.test";
const WORKERS: usize = 4;

pub(crate) struct Options {
    pub dir: PathBuf,
    pub addr: String,
    pub identity: String,
    pub login_form: bool,
    pub tls: bool,
    /// `--trust-issuer` URLs: extra OIDC issuers whose tokens Fulcio accepts.
    pub trust_issuers: Vec<String>,
}

struct Stack {
    oidc: Oidc,
    trusted: Vec<TrustedIssuer>,
    ca: Ca,
    rekor: Rekor,
    rekor_v2: RekorV2,
    tsa: Tsa,
    base_url: String,
}

/// Creation time of the state directory (persisted), used for validity starts.
fn created(dir: &Path) -> Result<i64, Error> {
    let p = dir.join("created");
    if let Ok(s) = std::fs::read_to_string(&p) {
        return s.trim().parse().map_err(|_| Error::State(format!("{}: not a timestamp", p.display())));
    }
    let now = util::now_unix();
    std::fs::write(&p, format!("{now}\n"))?;
    Ok(now)
}

/// Positive 63-bit tree id, persisted.
fn tree_id(dir: &Path) -> Result<i64, Error> {
    let p = dir.join("tree_id");
    if let Ok(s) = std::fs::read_to_string(&p) {
        return s.trim().parse().map_err(|_| Error::State(format!("{}: not a tree id", p.display())));
    }
    let b = util::random_bytes(8);
    let mut a = [0u8; 8];
    a.copy_from_slice(&b);
    let id = (i64::from_be_bytes(a) & i64::MAX).max(1);
    std::fs::write(&p, format!("{id}\n"))?;
    Ok(id)
}

fn route(stack: &Stack, req: &Req) -> Resp {
    let p = req.path.as_str();
    if let Some(rest) = p.strip_prefix(oidc::PREFIX)
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return stack.oidc.handle(req, rest);
    }
    if p == "/api/v2/log/entries" || p == "/api/v2/checkpoint" || p.starts_with("/api/v2/tile/") {
        return stack.rekor_v2.handle(req);
    }
    if p == "/api/v1/signingCert" || p == "/api/v1/rootCert" || p.starts_with("/api/v2/") {
        return fulcio::handle(req, &stack.oidc, &stack.trusted, &stack.ca);
    }
    if p.starts_with("/api/v1/log") || p.starts_with("/api/v1/index/") {
        return stack.rekor.handle(req);
    }
    if p == tsa::PATH {
        return stack.tsa.handle(req);
    }
    match (req.method.as_str(), p) {
        ("GET", "/") => Resp::json(
            200,
            &json!({
                "service": "gitsign-sandbox",
                "issuer": stack.oidc.issuer,
                "fulcio_url": stack.base_url,
                "rekor_url": stack.base_url,
            }),
        ),
        ("GET", "/healthz") => Resp::text(200, "text/plain", "ok\n"),
        _ => Resp::error(404, "not found"),
    }
}

/// Check the `--trust-issuer` URLs and fetch each issuer's keys once. An issuer that
/// answers wrongly (other `issuer`, no usable key, HTTP error) stops start-up; one that
/// does not answer yet is only reported, and its keys are fetched when a token arrives.
fn trusted_issuers(urls: &[String]) -> Result<Vec<TrustedIssuer>, Error> {
    let mut out: Vec<TrustedIssuer> = Vec::new();
    for url in urls {
        if out.iter().any(|t| &t.url == url) {
            continue;
        }
        let t = TrustedIssuer::new(url).map_err(|e| Error::Usage(e.to_string()))?;
        match t.refresh() {
            Ok(_) => {}
            Err(e) if e.is_misconfiguration() => return Err(Error::Issuer(e)),
            Err(e) => eprintln!(
                "gitsign-sandbox: warning: trusted issuer {url} is not reachable yet ({e}); \
                 its keys will be fetched when a token arrives"
            ),
        }
        out.push(t);
    }
    Ok(out)
}

/// Turn off Nagle's algorithm on `l`; Linux hands the setting on to every accepted connection.
/// tiny_http writes a response's headers and its body in separate writes, and with Nagle on the
/// body waits for the client's delayed ACK of the headers (about 40 ms on loopback).
fn no_delay(l: &std::net::TcpListener) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a c_int option value of the stated size.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::setsockopt(
            l.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        eprintln!("warning: cannot set TCP_NODELAY on the listener: {}", std::io::Error::last_os_error());
    }
}

pub(crate) fn serve(opts: Options) -> Result<(), Error> {
    let trusted = trusted_issuers(&opts.trust_issuers)?;
    std::fs::create_dir_all(&opts.dir)?;
    let dir = std::fs::canonicalize(&opts.dir)?;
    let created = created(&dir)?;
    let start = created - 300;
    let (issuer_key, _) = keys::load_or_create_p256(&dir.join(ISSUER_KEY))?;
    let (ct_key, _) = keys::load_or_create_p256(&dir.join("ctlog-key.pem"))?;
    let (rekor_key, _) = keys::load_or_create_p256(&dir.join("rekor-key.pem"))?;
    let ct_spki = keys::p256_spki_der(ct_key.verifying_key());
    let ca = Ca::load_or_create(&dir, ct_key, start)?;
    let rekor = Rekor::open(&dir, rekor_key, tree_id(&dir)?)?;
    // This process now holds the directory (the log database's lock): a sandbox.json left by an
    // earlier run names a dead address, so it goes before anything else, and the new one is
    // written only once this server accepts connections.
    match std::fs::remove_file(dir.join(SANDBOX_JSON)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let rekor_v2 = RekorV2::open(&dir, tree_id(&dir)?)?;
    let tsa = Tsa::load_or_create(&dir, start)?;

    enum Listener {
        Plain(tiny_http::Server),
        Tls(std::net::TcpListener, Arc<rustls::ServerConfig>),
    }
    let l = std::net::TcpListener::bind(opts.addr.as_str())
        .map_err(|e| Error::Usage(format!("cannot listen on {}: {e}", opts.addr)))?;
    no_delay(&l);
    let addr = l.local_addr()?;
    let listener = if opts.tls {
        Listener::Tls(l, tls::server_config(&dir, start)?)
    } else {
        let server = tiny_http::Server::from_listener(l, None)
            .map_err(|e| Error::Usage(format!("cannot serve on {}: {e}", opts.addr)))?;
        Listener::Plain(server)
    };
    let scheme = if opts.tls { "https" } else { "http" };
    let base_url = format!("{scheme}://{addr}");
    let issuer = format!("{base_url}{}", oidc::PREFIX);

    let logs = trust_root::Logs {
        rekor_spki: rekor.spki(),
        rekor_v2_spki: rekor_v2.spki(),
        rekor_v2_log_id: rekor_v2.log_id(),
        ct_spki: &ct_spki,
    };
    let tr = trust_root::build(&base_url, &ca, &logs, &tsa, start);
    let tr_path = dir.join(TRUSTED_ROOT);
    write_atomic(&tr_path, serde_json::to_string_pretty(&tr)?.as_bytes())?;
    let tsa_url = format!("{base_url}{}", tsa::PATH);
    let sc = trust_root::signing_config(&base_url, &issuer, &tsa_url, start);
    let sc_path = dir.join(SIGNING_CONFIG);
    write_atomic(&sc_path, serde_json::to_string_pretty(&sc)?.as_bytes())?;
    let mut info = json!({
        "base_url": base_url,
        "issuer": issuer,
        "fulcio_url": base_url,
        "rekor_url": base_url,
        "trusted_root": tr_path.to_string_lossy(),
        "signing_config": sc_path.to_string_lossy(),
        "rekor_v2_origin": rekor_v2.origin(),
        "timestamp_url": format!("{base_url}{}", tsa::PATH),
        "timestamp_cert_chain": dir.join(tsa::CHAIN_FILE).to_string_lossy(),
        "identity": opts.identity,
        "pid": std::process::id(),
    });
    let tls_ca = dir.join(tls::CA_FILE);
    if opts.tls {
        info["tls_ca"] = json!(tls_ca.to_string_lossy());
    }
    if !trusted.is_empty() {
        let urls: Vec<&str> = trusted.iter().map(|t| t.url.as_str()).collect();
        info["trusted_issuers"] = json!(urls);
    }

    let stack = Arc::new(Stack {
        oidc: Oidc::new(issuer.clone(), issuer_key, opts.identity.clone(), opts.login_form),
        trusted,
        ca,
        rekor,
        rekor_v2,
        tsa,
        base_url: base_url.clone(),
    });
    let print_ready = || -> Result<(), Error> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "base_url {base_url}")?;
        writeln!(out, "oidc_issuer {issuer}")?;
        writeln!(out, "fulcio_url {base_url}")?;
        writeln!(out, "rekor_url {base_url}")?;
        writeln!(out, "trusted_root {}", tr_path.display())?;
        writeln!(out, "signing_config {}", sc_path.display())?;
        writeln!(out, "timestamp_url {base_url}{}", tsa::PATH)?;
        if opts.tls {
            writeln!(out, "tls_ca {}", tls_ca.display())?;
        }
        for t in &stack.trusted {
            writeln!(out, "trusted_issuer {}", t.url)?;
        }
        writeln!(out, "ready")?;
        out.flush()?;
        Ok(())
    };
    signals::install();
    match listener {
        Listener::Tls(l, config) => {
            let st = Arc::clone(&stack);
            let handler: Arc<dyn Fn(&Req) -> Resp + Send + Sync> = Arc::new(move |req: &Req| route(&st, req));
            std::thread::spawn(move || tls::serve(l, config, handler));
        }
        Listener::Plain(server) => {
            let server = Arc::new(server);
            for _ in 0..WORKERS {
                let server = Arc::clone(&server);
                let stack = Arc::clone(&stack);
                std::thread::spawn(move || {
                    while let Ok(mut rq) = server.recv() {
                        let resp = match Req::read(&mut rq) {
                            Ok(req) => route(&stack, &req),
                            Err(r) => r,
                        };
                        let _ = rq.respond(resp.into_tiny());
                    }
                });
            }
        }
    }
    // The listener is bound and its workers run: only now does sandbox.json tell clients where
    // to go (written whole, then renamed, so a reader never sees half of it).
    write_atomic(&dir.join(SANDBOX_JSON), serde_json::to_string_pretty(&info)?.as_bytes())?;
    // The ready lines are a courtesy: a reader that went away (`serve | head -1`) does not
    // stop the server.
    if let Err(e) = print_ready() {
        match e {
            Error::Io(ref io) if io.kind() == std::io::ErrorKind::BrokenPipe => {}
            e => return Err(e),
        }
    }
    signals::wait();
    // Take the log lock so no append is in progress, then exit: every
    // acknowledged entry is already committed.
    let _quiet = stack.rekor.quiesce();
    let _quiet_v2 = stack.rekor_v2.quiesce();
    eprintln!("gitsign-sandbox: stopping");
    std::process::exit(0);
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, data)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// How long `env` and `token` wait for a sandbox to answer by default (`--wait SECS` changes it).
pub(crate) const DEFAULT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Read `DIR/sandbox.json` of a running sandbox, waiting up to `wait` for one: the file appears
/// a few milliseconds after `serve` starts, and one left by a stopped run names a dead address.
/// The sandbox is live when the process recorded in the file runs and its address accepts a
/// connection. Otherwise the error says what was found and how to start one.
pub(crate) fn read_live_info(dir: &Path, wait: std::time::Duration) -> Result<Value, Error> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let why = match read_info(dir) {
            Ok(info) => match not_live(&info) {
                None => return Ok(info),
                Some(why) => why,
            },
            Err(e) => e.to_string(),
        };
        if std::time::Instant::now() >= deadline {
            return Err(Error::State(format!(
                "no running sandbox in {} after waiting {} s: {why}. Start it with \
                 `gitsign-sandbox serve --dir {} &` and run this again",
                dir.display(),
                wait.as_secs_f64(),
                dir.display()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// Why the sandbox that `info` describes is not live, or `None` when it is.
fn not_live(info: &Value) -> Option<String> {
    let base = match info_str(info, "base_url") {
        Ok(b) => b,
        Err(e) => return Some(e.to_string()),
    };
    let pid = info.get("pid").and_then(Value::as_u64).unwrap_or(0);
    if !process_runs(pid) {
        return Some(format!("{SANDBOX_JSON} is left from a run that has stopped (process {pid}, {base})"));
    }
    let hostport = base.split_once("://").map(|(_, r)| r).unwrap_or(base);
    let addrs = match std::net::ToSocketAddrs::to_socket_addrs(hostport) {
        Ok(a) => a.collect::<Vec<_>>(),
        Err(e) => return Some(format!("{SANDBOX_JSON} names {base}, which cannot be resolved: {e}")),
    };
    let answers =
        addrs.iter().any(|a| std::net::TcpStream::connect_timeout(a, std::time::Duration::from_millis(500)).is_ok());
    if answers { None } else { Some(format!("the sandbox recorded in {SANDBOX_JSON} does not answer at {base}")) }
}

/// Whether process `pid` exists (signal 0 probes without sending anything).
#[cfg(unix)]
fn process_runs(pid: u64) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks that the process exists and may be signalled.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_runs(_pid: u64) -> bool {
    true
}

/// Read `DIR/sandbox.json`, with a clear error when the sandbox never ran there.
fn read_info(dir: &Path) -> Result<Value, Error> {
    let p = dir.join(SANDBOX_JSON);
    let text = std::fs::read_to_string(&p).map_err(|_| Error::State(format!("{} not found", p.display())))?;
    Ok(serde_json::from_str(&text)?)
}

pub(crate) fn info_str<'a>(info: &'a Value, key: &str) -> Result<&'a str, Error> {
    info.get(key).and_then(Value::as_str).ok_or_else(|| Error::State(format!("{SANDBOX_JSON} has no {key}")))
}
