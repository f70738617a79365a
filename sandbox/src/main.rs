//! gitsign-sandbox: a local Sigstore stack (OIDC issuer, Fulcio-compatible CA,
//! Rekor-compatible transparency log, RFC 3161 timestamp authority) on one loopback HTTP
//! listener.

#![deny(unsafe_code)]

mod ca;
mod derw;
mod error;
mod fulcio;
mod http;
mod httpc;
mod issuers;
mod jwt;
mod keys;
mod merkle;
mod oidc;
mod rekor;
mod rekor_v2;
mod sct;
mod server;
mod signals;
mod store;
mod tls;
mod trust_root;
mod tsa;
mod util;

use error::Error;
use p256::pkcs8::DecodePrivateKey;
use std::path::PathBuf;

const USAGE: &str = "usage:
  gitsign-sandbox serve --dir DIR [--addr 127.0.0.1:0] [--identity EMAIL] [--login-form] [--tls]
                        [--trust-issuer URL]...
  gitsign-sandbox env   --dir DIR [--tsa] [--wait SECS]
  gitsign-sandbox token --dir DIR [--email EMAIL | --sub SUB] [--ttl SECS]
                        [--expired] [--aud AUD] [--no-email-verified] [--wait SECS]

serve options:
  --dir DIR            state directory (keys, CA, log database); created if missing
  --addr ADDR          loopback listen address (default 127.0.0.1:0: any free port)
  --identity EMAIL     identity the built-in issuer approves (default sandbox-user@example.test)
  --login-form         serve a login form at /oauth2/auth instead of auto-approving
  --tls                serve HTTPS with a CA of its own (tls-ca.pem)
  --trust-issuer URL   also accept at Fulcio ID tokens whose iss is exactly URL, verified
                       with the RS256/ES256 keys that issuer publishes (discovery at
                       URL/.well-known/openid-configuration, then jwks_uri). Plain http://
                       on a loopback host only. Repeatable.

env and token options:
  --wait SECS          wait up to SECS (default 10) for the sandbox of DIR to answer: right after
                       `serve &` it is still starting, and a sandbox.json left by a stopped run is
                       not taken for a live one. Without a live sandbox: an error and exit status 1

env options:
  --tsa                also export GITSIGN_TIMESTAMP_SERVER_URL (sign with the sandbox's RFC 3161
                       TSA at /api/v1/timestamp) and GITSIGN_TIMESTAMP_CERT_CHAIN (its PEM chain);
                       without it both lines are printed commented out";

/// Minimal flag parser: `--name value` and boolean `--name`.
struct Args {
    rest: Vec<String>,
}

impl Args {
    fn value(&mut self, name: &str) -> Result<Option<String>, Error> {
        match self.rest.iter().position(|a| a == name) {
            Some(i) => {
                if i + 1 >= self.rest.len() {
                    return Err(Error::Usage(format!("{name} needs a value")));
                }
                let v = self.rest.remove(i + 1);
                self.rest.remove(i);
                Ok(Some(v))
            }
            None => Ok(None),
        }
    }

    /// All values of a repeatable `--name value`, in order.
    fn values(&mut self, name: &str) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        while let Some(v) = self.value(name)? {
            out.push(v);
        }
        Ok(out)
    }

    fn flag(&mut self, name: &str) -> bool {
        match self.rest.iter().position(|a| a == name) {
            Some(i) => {
                self.rest.remove(i);
                true
            }
            None => false,
        }
    }

    fn dir(&mut self) -> Result<PathBuf, Error> {
        self.value("--dir")?.map(PathBuf::from).ok_or_else(|| Error::Usage("--dir DIR is required".into()))
    }

    /// `--wait SECS`: how long to wait for a live sandbox.
    fn wait(&mut self) -> Result<std::time::Duration, Error> {
        match self.value("--wait")? {
            None => Ok(server::DEFAULT_WAIT),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && (0.0..=3600.0).contains(s))
                .map(std::time::Duration::from_secs_f64)
                .ok_or_else(|| Error::Usage(format!("--wait takes seconds (0 to 3600), got {v:?}"))),
        }
    }

    fn finish(self) -> Result<(), Error> {
        match self.rest.first() {
            Some(a) => Err(Error::Usage(format!("unexpected argument {a:?}"))),
            None => Ok(()),
        }
    }
}

/// Status of a command whose stdout reader went away (`env | head -1`): 128 + SIGPIPE, what the
/// shell reports for any program stopped by a closed pipe.
const EXIT_CLOSED_STDOUT: i32 = 141;

/// Write `text` to stdout. A reader that closed the pipe ends the command quietly (no panic, no
/// message) with [`EXIT_CLOSED_STDOUT`]; other write errors are returned.
fn print_out(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(EXIT_CLOSED_STDOUT),
        r => Ok(r?),
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn cmd_env(mut args: Args) -> Result<(), Error> {
    let dir = args.dir()?;
    let with_tsa = args.flag("--tsa");
    let wait = args.wait()?;
    args.finish()?;
    let info = server::read_live_info(&dir, wait)?;
    let tr = std::fs::canonicalize(dir.join(server::TRUSTED_ROOT))?;
    let vars = [
        ("GITSIGN_FULCIO_URL", server::info_str(&info, "fulcio_url")?.to_string()),
        ("GITSIGN_REKOR_URL", server::info_str(&info, "rekor_url")?.to_string()),
        ("GITSIGN_OIDC_ISSUER", server::info_str(&info, "issuer")?.to_string()),
        ("GITSIGN_OIDC_CLIENT_ID", fulcio::AUDIENCE.to_string()),
        ("GITSIGN_TRUSTED_ROOT", tr.to_string_lossy().into_owned()),
    ];
    let mut vars = vars.to_vec();
    if let Some(sc) = info.get("signing_config").and_then(|v| v.as_str()) {
        // Fulcio, OIDC, Rekor v2 and v1, TSA (SigningConfig v0.2) for clients that read one.
        vars.push(("GITSIGN_SIGNING_CONFIG", sc.to_string()));
    }
    if let Some(ca) = info.get("tls_ca").and_then(|v| v.as_str()) {
        // The sandbox serves HTTPS with its own CA: point rustls-native-certs/OpenSSL clients at it.
        vars.push(("SSL_CERT_FILE", ca.to_string()));
    }
    let mut text = String::new();
    for (k, v) in vars {
        text.push_str(&format!("export {k}={}\n", shell_quote(&v)));
    }
    // The RFC 3161 TSA is always served and listed in trusted_root.json; signing uses it only
    // when asked (`env --tsa`), so the default environment signs exactly as before.
    if let (Some(url), Some(chain)) =
        (info.get("timestamp_url").and_then(|v| v.as_str()), info.get("timestamp_cert_chain").and_then(|v| v.as_str()))
    {
        let prefix = if with_tsa { "" } else { "# " };
        text.push_str(&format!("{prefix}export GITSIGN_TIMESTAMP_SERVER_URL={}\n", shell_quote(url)));
        text.push_str(&format!("{prefix}export GITSIGN_TIMESTAMP_CERT_CHAIN={}\n", shell_quote(chain)));
    } else if with_tsa {
        return Err(Error::State(
            "this sandbox state predates the timestamp authority: restart `gitsign-sandbox serve`".into(),
        ));
    }
    print_out(&text)
}

fn cmd_token(mut args: Args) -> Result<(), Error> {
    let dir = args.dir()?;
    let email = args.value("--email")?;
    let sub = args.value("--sub")?;
    let ttl = match args.value("--ttl")? {
        Some(t) => t.parse::<i64>().map_err(|_| Error::Usage("--ttl takes seconds".into()))?,
        None => oidc::DEFAULT_TOKEN_TTL,
    };
    let aud = args.value("--aud")?.unwrap_or_else(|| fulcio::AUDIENCE.to_string());
    let expired = args.flag("--expired");
    let unverified = args.flag("--no-email-verified");
    let wait = args.wait()?;
    args.finish()?;
    let info = server::read_live_info(&dir, wait)?;
    let issuer = server::info_str(&info, "issuer")?;
    let key_path = dir.join(server::ISSUER_KEY);
    let pem = std::fs::read_to_string(&key_path).map_err(|e| Error::State(format!("{}: {e}", key_path.display())))?;
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| Error::State(format!("{}: {e}", key_path.display())))?;
    let email = match (email, &sub) {
        (Some(e), _) => Some(e),
        (None, Some(_)) => None,
        (None, None) => {
            Some(info.get("identity").and_then(|v| v.as_str()).unwrap_or(server::DEFAULT_IDENTITY).to_string())
        }
    };
    let now = util::now_unix();
    let spec = oidc::TokenSpec {
        email,
        sub,
        aud,
        nonce: None,
        email_verified: !unverified,
        iat: if expired { now - ttl.max(60) - 120 } else { now },
        ttl: ttl.max(1),
    };
    print_out(&format!("{}\n", oidc::mint(&key, issuer, &spec)))
}

fn cmd_serve(mut args: Args) -> Result<(), Error> {
    let dir = args.dir()?;
    let addr = args.value("--addr")?.unwrap_or_else(|| "127.0.0.1:0".into());
    let identity = args.value("--identity")?.unwrap_or_else(|| server::DEFAULT_IDENTITY.into());
    let login_form = args.flag("--login-form");
    let tls = args.flag("--tls");
    let trust_issuers = args.values("--trust-issuer")?;
    args.finish()?;
    let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or("");
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return Err(Error::Usage(format!("--addr must be a loopback address, got {addr}")));
    }
    server::serve(server::Options { dir, addr, identity, login_form, tls, trust_issuers })
}

fn run() -> Result<(), Error> {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help" {
        return print_out(&format!("{USAGE}\n"));
    }
    let cmd = argv.remove(0);
    if argv.iter().any(|a| a == "--help" || a == "-h") {
        return print_out(&format!("{USAGE}\n"));
    }
    let args = Args { rest: argv };
    match cmd.as_str() {
        "serve" => cmd_serve(args),
        "env" => cmd_env(args),
        "token" => cmd_token(args),
        other => Err(Error::Usage(format!("unknown command {other:?}\n{USAGE}"))),
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("gitsign-sandbox: {e}");
        std::process::exit(match e {
            Error::Usage(_) => 2,
            _ => 1,
        });
    }
}
