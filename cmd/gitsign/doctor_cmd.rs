//! `gitsign doctor`: check the configuration, the trust root, the credential cache, the
//! services and git's wiring; say what to fix; exit 0 only when nothing blocks signing and
//! verifying.
use clap::Command;
use std::process::{ExitCode, Stdio};

pub(crate) fn command() -> Command {
    Command::new("doctor")
        .about("Check that signing and verifying will work, and say what to fix")
        .long_about(
            "Check the configuration (git config and environment; every problem is listed), that git \
             calls gitsign, the ID token in SIGSTORE_ID_TOKEN (when set: not expired), user.email, \
             that the trust root loads, the credential cache (when configured), and that the configured \
             Fulcio, Rekor and OIDC issuer answer (short timeouts). Prints OK, WARN or FAIL per check, \
             with a fix for each problem. Exits 0 only when nothing blocks signing and verifying.",
        )
        .after_help("Example:\n  gitsign doctor || echo 'see the FAIL lines'")
}

fn git_get(key: &str) -> Option<String> {
    let o = std::process::Command::new("git")
        .args(["config", "--get", key])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (o.status.success() && !v.is_empty()).then_some(v)
}

pub(crate) fn run(argv: &[std::ffi::OsString]) -> ExitCode {
    if let Err(code) = crate::common::parse(command(), argv) {
        return code;
    }
    let git = gitsign::app::doctor::GitSigning { format: git_get("gpg.format"), program: git_get("gpg.x509.program") };
    let path = std::env::var("PATH").ok();
    let token = std::env::var("SIGSTORE_ID_TOKEN").ok();
    let report = gitsign::app::doctor::run(
        gitsign::app::config::Config::load(),
        &git,
        &gitsign::app::runlog::env_names(),
        path.as_deref(),
        token.as_deref(),
        gitsign::encoding::timefmt::now(),
    );
    for c in &report.checks {
        gitsign::app::runlog::debug(&format!("doctor: {} {}: {}", c.name, c.verdict.label(), c.detail));
    }
    out!("{}", report.render());
    if report.blocking() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
