//! `gitsign-credential-cache`: keeps gitsign's ephemeral signing credentials in memory, so
//! that a rebase of many commits needs one login.
//!
//! ```text
//! gitsign-credential-cache [--socket PATH] [--systemd-socket-activation] [--expiry-margin SECS]
//! gitsign-credential-cache [--socket PATH] list | clear
//! gitsign-credential-cache --version
//! ```
//!
//! The socket path is `--socket`, else `$GITSIGN_CREDENTIAL_CACHE`, else
//! `$XDG_RUNTIME_DIR/sigstore/gitsign/cache.sock`, else
//! `<user cache dir>/sigstore/gitsign/cache.sock`. The daemon refuses a socket directory
//! that others can write, creates a missing one 0700, and serves only its own user. It
//! never runs a login: gitsign logs in on a miss and stores the result here. On SIGTERM,
//! SIGINT or SIGHUP it zeroizes every key, removes its socket and exits.
#![deny(unsafe_code)]
use gitsign::credentials::client::{Client, DIAL_TIMEOUT};
use gitsign::credentials::server::{self, Server, ServerOptions};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str =
    "usage: gitsign-credential-cache [--socket PATH] [--systemd-socket-activation] [--expiry-margin SECS]
       gitsign-credential-cache [--socket PATH] list | clear
       gitsign-credential-cache --version

Keeps gitsign's signing key and certificate in memory until shortly before the certificate
expires, so consecutive signatures need one login. Turn it on for gitsign with
GITSIGN_CREDENTIAL_CACHE=<socket> or gitsign.credentialCacheMode=socket.

The socket is --socket PATH, else $GITSIGN_CREDENTIAL_CACHE, else
$XDG_RUNTIME_DIR/sigstore/gitsign/cache.sock, else <user cache dir>/sigstore/gitsign/cache.sock.
--expiry-margin SECS: drop entries this long before the certificate expires (default 60).";

/// 128 + SIGPIPE: the status of a command whose stdout reader went away (`list | head -1`), as
/// the shell reports it for any program stopped by a closed pipe.
const EXIT_CLOSED_STDOUT: i32 = 141;

/// Write `text` to stdout. A reader that closed the pipe ends the command quietly (no panic,
/// no message) with [`EXIT_CLOSED_STDOUT`]; another write error is returned.
fn print_out(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(EXIT_CLOSED_STDOUT),
        Err(e) => Err(format!("cannot write to stdout: {e}")),
    }
}

/// What the command line asks for.
#[derive(Debug)]
enum Mode {
    Serve { systemd: bool, margin: i64 },
    List,
    Clear,
    Version,
    Help,
}

#[derive(Debug)]
struct Args {
    socket: Option<PathBuf>,
    mode: Mode,
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let mut socket = None;
    let mut systemd = false;
    let mut margin = gitsign::credentials::cache::DEFAULT_MARGIN_SECS;
    let mut command: Option<&str> = None;
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |flag: &str| -> Result<String, String> {
            inline.clone().or_else(|| it.next().cloned()).ok_or_else(|| format!("{flag} needs a value"))
        };
        match name {
            "--socket" => socket = Some(PathBuf::from(value("--socket")?)),
            "--systemd-socket-activation" => systemd = true,
            "--expiry-margin" => {
                let v = value("--expiry-margin")?;
                margin = v
                    .parse::<i64>()
                    .ok()
                    .filter(|m| *m >= 0)
                    .ok_or_else(|| format!("--expiry-margin takes a number of seconds, not {v:?}"))?;
            }
            "-v" | "--version" | "version" => return Ok(Args { socket, mode: Mode::Version }),
            "-h" | "--help" | "help" => return Ok(Args { socket, mode: Mode::Help }),
            "list" | "clear" if command.is_none() => command = Some(if name == "list" { "list" } else { "clear" }),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let mode = match command {
        Some("list") => Mode::List,
        Some(_) => Mode::Clear,
        None => Mode::Serve { systemd, margin },
    };
    Ok(Args { socket, mode })
}

fn socket_path(explicit: Option<PathBuf>) -> Result<PathBuf, String> {
    let p = explicit
        .or_else(|| std::env::var_os("GITSIGN_CREDENTIAL_CACHE").filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(gitsign::credentials::cache::default_socket_path)
        .ok_or("no runtime or cache directory for the socket; pass --socket PATH")?;
    if p.is_absolute() {
        Ok(p)
    } else {
        std::env::current_dir().map(|d| d.join(p)).map_err(|e| format!("cannot resolve the socket path: {e}"))
    }
}

/// The listening socket systemd passed us (`LISTEN_PID`/`LISTEN_FDS`, first fd is 3).
fn systemd_listener() -> Result<UnixListener, String> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let pid =
        std::env::var("LISTEN_PID").map_err(|_| "LISTEN_PID is not set: not started by systemd socket activation")?;
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Err(format!("LISTEN_PID={pid} is not this process ({})", std::process::id()));
    }
    let fds = std::env::var("LISTEN_FDS").unwrap_or_default();
    if fds.trim().parse::<u32>().unwrap_or(0) < 1 {
        return Err(format!("LISTEN_FDS={fds:?}: systemd passed no socket"));
    }
    // Make sure fd 3 is an open socket before taking ownership of it.
    match std::fs::read_link("/proc/self/fd/3") {
        Ok(target) if target.to_string_lossy().starts_with("socket:") => {}
        Ok(target) => return Err(format!("fd 3 is {}, not the socket systemd should pass", target.display())),
        Err(_) => return Err("fd 3 is not open: systemd passed no socket".into()),
    }
    // SAFETY: systemd's socket-activation protocol hands this process ownership of fd 3
    // (SD_LISTEN_FDS_START) when LISTEN_PID names it, as checked above; nothing else in this
    // process opens or owns fd 3 before this point, it was just checked to be an open
    // socket, and it is taken exactly once.
    #[allow(unsafe_code)]
    let fd = unsafe { OwnedFd::from_raw_fd(3) };
    let listener = UnixListener::from(fd);
    listener.local_addr().map_err(|e| format!("fd 3 from systemd is not a Unix socket: {e}"))?;
    Ok(listener)
}

fn serve(socket: Option<PathBuf>, systemd: bool, margin: i64) -> Result<(), String> {
    // Keep other processes of this user from attaching a debugger or dumping our memory.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let (listener, owned_path) = if systemd {
        (systemd_listener()?, None)
    } else {
        let path = socket_path(socket)?;
        (server::bind(&path).map_err(|e| e.to_string())?, Some(path))
    };
    let shown =
        owned_path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "the systemd-provided socket".into());
    let server = Server::new(listener, ServerOptions { margin, ..ServerOptions::default() });
    let store = server.store();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ])
    .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let cleanup_path = owned_path.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let n = store.clear_all();
            if let Some(p) = &cleanup_path {
                let _ = std::fs::remove_file(p);
            }
            eprintln!("gitsign-credential-cache: stopping; {n} cached credential(s) erased");
            std::process::exit(0);
        }
    });
    // Not println!: a closed stdout must not stop the daemon.
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "gitsign-credential-cache: listening on {shown}").and_then(|_| out.flush());
    server.serve().map_err(|e| e.to_string())
}

fn client_command(socket: Option<PathBuf>, list: bool) -> Result<(), String> {
    let path = socket_path(socket)?;
    let mut c = Client::connect(&path, DIAL_TIMEOUT).map_err(|e| e.to_string())?;
    if list {
        let now = server::unix_now();
        let entries = c.list().map_err(|e| e.to_string())?;
        let mut text = String::new();
        if entries.is_empty() {
            text.push_str("no cached credentials\n");
        }
        for e in entries {
            let at = gitsign::pipelines::attest::rfc3339_utc(e.expires_at).unwrap_or_else(|| "an unknown time".into());
            text.push_str(&format!(
                "{} (issuer {}): expires in {}, at {at} [entry {}]\n",
                e.identity,
                e.issuer,
                remaining(e.expires_at - now),
                hex::encode(&e.key[..8])
            ));
        }
        print_out(&text)?;
    } else {
        let n = c.clear(None).map_err(|e| e.to_string())?;
        print_out(&format!("cleared {n} credential(s)\n"))?;
    }
    Ok(())
}

/// A remaining life in plain words: "45 s", "7 min", "2 h 5 min".
fn remaining(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..120 => format!("{secs} s"),
        120..7200 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gitsign-credential-cache: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match args.mode {
        Mode::Version => {
            print_out(&format!("gitsign-credential-cache (gitsign-rs) version {}\n", env!("CARGO_PKG_VERSION")))
        }
        Mode::Help => print_out(&format!("{USAGE}\n")),
        Mode::Serve { systemd, margin } => serve(args.socket, systemd, margin),
        Mode::List => client_command(args.socket, true),
        Mode::Clear => client_command(args.socket, false),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitsign-credential-cache: error: {e}");
            ExitCode::FAILURE
        }
    }
}
