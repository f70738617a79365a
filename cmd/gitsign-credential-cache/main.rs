//! `gitsign-credential-cache`: the credential-cache daemon (issue #5, not built yet).
//!
//! Until it exists this binary says so and fails, so nobody mistakes it for a working cache.
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--version") || std::env::args().nth(1).as_deref() == Some("-v") {
        println!("gitsign-credential-cache (gitsign-rs) version {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "gitsign-credential-cache: the credential cache is not available in this version of gitsign-rs; \
         unset GITSIGN_CREDENTIAL_CACHE and gitsign will obtain a certificate for each signature"
    );
    ExitCode::FAILURE
}
