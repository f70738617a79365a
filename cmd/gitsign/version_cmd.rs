//! `gitsign version` / `gitsign --version`: version, build, and the effective configuration.
//! Never a secret value: environment variables are listed by name only (gitsign prints their
//! values, `SIGSTORE_ID_TOKEN` included), and the configuration holds no tokens.
use clap::Command;
use std::process::ExitCode;

pub(crate) fn command() -> Command {
    Command::new("version")
        .about("Print the version, build information and effective configuration (no secret values)")
        .after_help("Example:\n  gitsign version")
}

/// The text `version` prints for `cfg` (or the configuration error) and the set variable names.
pub(crate) fn render(
    cfg: &Result<gitsign::app::config::Config, gitsign::app::config::ConfigError>,
    env_names: &[String],
) -> String {
    let mut s = format!("gitsign-rs version {}\n", env!("CARGO_PKG_VERSION"));
    s.push_str(&format!(
        "build: commit {}, target {}-{}, profile {}\n",
        option_env!("GITSIGN_BUILD_COMMIT").unwrap_or("unknown"),
        std::env::consts::ARCH,
        std::env::consts::OS,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    ));
    if !env_names.is_empty() {
        s.push_str("environment variables set (values not shown):\n");
        for n in env_names {
            s.push_str(&format!("  {n}\n"));
        }
    }
    match cfg {
        Err(e) => s.push_str(&format!("configuration: error: {e}\n")),
        Ok(c) => {
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
            let secs = |v: Option<u64>| v.map(|n| format!("{n}s")).unwrap_or_else(|| "(default)".into());
            s.push_str("effective configuration:\n");
            for (k, v) in [
                ("fulcio", c.fulcio.clone()),
                ("fulcioRoot", opt(&c.fulcio_root)),
                ("rekor", c.rekor.clone()),
                ("rekorMode", format!("{:?}", c.rekor_mode).to_lowercase()),
                ("issuer", c.issuer.clone()),
                ("clientID", c.client_id.clone()),
                ("clientSecretFile", opt(&c.client_secret_file)),
                ("redirectURL", opt(&c.redirect_url)),
                ("connectorID", opt(&c.connector_id)),
                ("tokenProvider", opt(&c.token_provider)),
                ("timestampServerURL", opt(&c.timestamp_server_url)),
                ("timestampCertChain", opt(&c.timestamp_cert_chain)),
                ("trustedRoot", opt(&c.trusted_root)),
                ("rekorPublicKey", opt(&c.rekor_public_key)),
                ("caBundle", opt(&c.ca_bundle)),
                ("logPath", opt(&c.log_path)),
                ("matchCommitter", c.match_committer.to_string()),
                ("autoclose", c.autoclose.to_string()),
                ("autocloseTimeout", format!("{}s", c.autoclose_timeout)),
                ("urlOpener", opt(&c.url_opener)),
                ("credentialCache", opt(&c.credential_cache)),
                (
                    "credentialCacheMode",
                    c.credential_cache_mode.map_or_else(|| "(unset)".into(), |m| m.name().to_string()),
                ),
                ("httpTimeout", secs(c.http_timeout)),
                ("connectTimeout", secs(c.connect_timeout)),
                ("user.email", opt(&c.user_email)),
                ("objectFormat", c.object_format.clone()),
            ] {
                s.push_str(&format!("  {k}: {v}\n"));
            }
            let token_set = std::env::var_os("SIGSTORE_ID_TOKEN").is_some_and(|v| !v.is_empty());
            s.push_str(&format!("  SIGSTORE_ID_TOKEN: {}\n", if token_set { "set (redacted)" } else { "(unset)" }));
        }
    }
    s
}

pub(crate) fn run(argv: &[std::ffi::OsString]) -> ExitCode {
    if let Err(code) = crate::common::parse(command(), argv) {
        return code;
    }
    out!("{}", render(crate::common::cached_config(), &gitsign::app::runlog::env_names()));
    ExitCode::SUCCESS
}
