//! `gitsign`: git's X.509 signing program (gpg-compatible interface) and human subcommands.
//!
//! Thin: parse the command line, dispatch to the library, and turn errors into one style of
//! message (`error: …` on stderr) and an exit code (0 success, 1 failure, 2 usage or config).
#![forbid(unsafe_code)]
use common::{load_config, read_bounded, read_file_bounded, usage_error};
use gitsign::app::gpg::args::{self, GpgArgs, Mode};
use gitsign::app::gpg::status::{PK_ECDSA, Status, StatusWriter};
use std::io::Write;
use std::process::ExitCode;

/// `println!` for stdout that ends quietly when the reader closed the pipe (see `out`).
macro_rules! outln {
    ($($arg:tt)*) => { $crate::out::print(&format!("{}\n", format_args!($($arg)*))) };
}

/// `print!` for stdout that ends quietly when the reader closed the pipe (see `out`).
macro_rules! out {
    ($($arg:tt)*) => { $crate::out::print(&format!($($arg)*)) };
}

mod attest_cmd;
mod bundle_cmd;
mod cli;
mod common;
mod completion_cmd;
mod doctor_cmd;
mod initialize_cmd;
mod out;
mod setup_cmd;
mod show_cmd;
mod tee;
mod ui;
mod verify_bundle_cmd;
mod verify_cli;
mod verify_cmd;
mod version_cmd;

const USAGE: &str = "\
gitsign: keyless Git signing with Sigstore (gitsign-rs)

As git's signing program (git config gpg.format x509; git config gpg.x509.program gitsign):
  gitsign --status-fd=2 -bsau KEY            sign stdin, armored detached signature on stdout
  gitsign --status-fd=1 --verify SIGFILE -    verify stdin against SIGFILE, status lines on fd 1

Commands:
  gitsign version                             print the version and which settings are set
  gitsign verify [REV|A..B ...] --certificate-identity ID --certificate-oidc-issuer URL [--json]
                                              verify commits with an identity policy (see gitsign verify --help)
  gitsign verify-tag TAG ... (same flags)     verify annotated tags
  gitsign export-bundle [REV] -o FILE [--artifact FILE]
                                              write a Sigstore bundle (v0.3) for REV's signature
  gitsign verify-bundle [--staging] --bundle FILE (--certificate-identity ID --certificate-oidc-issuer URL | --key PEM)
          [--trusted-root FILE] FILE_OR_sha256:HEX
                                              verify any Sigstore bundle offline
  gitsign show [REV] [-r REMOTE]              the in-toto statement for a commit or annotated tag
  gitsign attest -f FILE [--objtype commit|tree] [--type URI] [REV]
                                              sign an attestation, log it, store it under refs/attestations/
  gitsign verify-attestation [REV] --certificate-identity ID --certificate-oidc-issuer URL [--type URI]
                                              verify the attestations stored for REV (needs Rekor)
  gitsign setup [--global|--local] [--sandbox DIR]
                                              configure git to sign with this gitsign
  gitsign doctor                              check configuration, trust root, cache and services
  gitsign initialize [--mirror URL] [--root FILE_OR_URL]
                                              fetch the trusted root through TUF and cache it
  gitsign completion bash|zsh|fish            shell completions;  gitsign man [CMD|--dir DIR]: man pages (roff)
  gitsign COMMAND --help                      help for one command, with examples
  gitsign --help                              this text

Configuration: git config gitsign.* keys or GITSIGN_*/SIGSTORE_* variables (see README).
Debug log: GITSIGN_LOG=FILE or git config gitsign.logPath FILE (truncated per run);
  verbosity GITSIGN_LOG_LEVEL=error|warn|info|debug|trace.

";

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let Some(code) = tee::run_logged(&argv) {
        return code;
    }
    if let Some(first) = argv.first().and_then(|a| a.to_str()) {
        match first {
            "version" => return version_cmd::run(&argv[1..]),
            "show" => return show_cmd::run(&argv[1..]),
            "attest" => return attest_cmd::run_attest(&argv[1..]),
            "verify-attestation" => return attest_cmd::run_verify(&argv[1..]),
            "setup" => return setup_cmd::run(&argv[1..]),
            "doctor" => return doctor_cmd::run(&argv[1..]),
            "initialize" => return initialize_cmd::run(&argv[1..]),
            "completion" => return completion_cmd::run_completion(&argv[1..]),
            "man" => return completion_cmd::run_man(&argv[1..]),
            "verify" => return verify_cli::run(&argv[1..], false),
            "verify-tag" => return verify_cli::run(&argv[1..], true),
            "verify-bundle" => return verify_bundle_cmd::run(&argv[1..]),
            "export-bundle" => return bundle_cmd::run(&argv[1..]),
            _ => {}
        }
    }
    let parsed = match args::parse(argv) {
        Ok(a) => a,
        Err(e) => return usage_error(&e.to_string()),
    };
    for w in &parsed.warnings {
        eprintln!("{w}");
    }
    match parsed.mode() {
        Ok(Mode::Version) => version_cmd::run(&[]),
        Ok(Mode::Help) => {
            outln!("{USAGE}{}", cli::EXAMPLES);
            ExitCode::SUCCESS
        }
        Ok(Mode::Sign) => sign(&parsed),
        Ok(Mode::Verify) => verify_cmd::run(&parsed),
        Err(e) => usage_error(&e.to_string()),
    }
}

fn read_input(positional: &[std::ffi::OsString]) -> Result<Vec<u8>, String> {
    match positional.first() {
        Some(p) if p != "-" => read_file_bounded(p),
        _ => read_bounded(std::io::stdin().lock(), "stdin"),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn sign(a: &GpgArgs) -> ExitCode {
    let mut status = match StatusWriter::for_fd(a.status_fd) {
        Ok(s) => s,
        Err(e) => return usage_error(&format!("cannot open --status-fd {}: {e}", a.status_fd.unwrap_or(-1))),
    };
    let cfg = match load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut tty = ui::Tty::open();
    let fail = |msg: String| {
        eprintln!("gitsign: error: {msg}");
        ExitCode::FAILURE
    };
    // The HTTP clients are built on a second thread while this one reads the trusted root and
    // asks the credential cache (about a millisecond of each, on every signature).
    let (services, trust, cached) = std::thread::scope(|scope| {
        let building = scope.spawn(|| gitsign::pipelines::sign::Services::from_config(&cfg));
        // The trusted root first: a broken one fails before any login or network round trip.
        let trust = gitsign::app::setup::trusted_root_for(&cfg);
        #[cfg(unix)]
        let cached = trust.as_ref().ok().and_then(|t| gitsign::credentials::cache::lookup(&cfg, t, now()));
        #[cfg(not(unix))]
        let cached = None;
        let services = building.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (services, trust, cached)
    });
    // A dead or refusing cache costs a login on every signature: say so where it is seen.
    #[cfg(unix)]
    tty.repeat_warnings(&gitsign::credentials::cache::take_warnings());
    let services = match services {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let trust = match trust {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let identity = match cached {
        Some(i) => {
            // The cached credential wins over an explicit token: say so when they differ.
            if let Some(token) = std::env::var("SIGSTORE_ID_TOKEN").ok().filter(|t| !t.trim().is_empty())
                && let Some(warning) = gitsign::credentials::cache::token_mismatch(&i, &token)
            {
                tty.say(&format!("gitsign: warning: {warning}"));
            }
            i
        }
        None => match gitsign::pipelines::sign::login_identity(&cfg, &services, &trust, now()) {
            Ok(i) => i,
            Err(e) => return fail(e.to_string()),
        },
    };
    if let Err(e) = gitsign::pipelines::sign::check_certificate(&cfg, &identity, &trust, now()) {
        return fail(e.to_string());
    }
    if let Err(e) = gitsign::pipelines::sign::check_match_committer(&cfg, &identity) {
        return fail(e.to_string());
    }
    status.emit(&Status::BeginSigning);
    let payload = match read_input(&a.positional) {
        Ok(p) => p,
        Err(e) => return fail(format!("cannot read the data to sign: {e}")),
    };
    let out = match gitsign::pipelines::sign::sign_payload(&cfg, &identity, &services.rekor, &trust, &payload, now()) {
        Ok(o) => o,
        Err(e) => return fail(e.to_string()),
    };
    #[cfg(unix)]
    tty.repeat_warnings(&gitsign::credentials::cache::take_warnings());
    tty.say(&format!("tlog entry created with index: {}", out.log_index));
    tty.say(&format!(
        "gitsign: signed as {} (issuer {}); verify with: gitsign verify --certificate-identity={} --certificate-oidc-issuer={}",
        out.subject, out.issuer, out.subject, out.issuer
    ));
    status.emit(&Status::SigCreated {
        detached: a.detach,
        pk_algo: PK_ECDSA,
        hash_algo: out.hash_algo,
        time: now(),
        fingerprint: out.fingerprint.clone(),
    });
    // stdout carries the signature and nothing else.
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(out.armored.as_bytes()).and_then(|_| stdout.flush()) {
        return fail(format!("cannot write the signature to stdout: {e}"));
    }
    // Dropping the blocking HTTP client joins its runtime thread; the process ends right after,
    // so let the exit reclaim it instead.
    std::mem::forget(services);
    ExitCode::SUCCESS
}
