//! The per-run debug log (`GITSIGN_LOG` / `gitsign.logPath`), as gitsign: the file is
//! truncated at the start of every run and receives a copy of everything written to stderr,
//! plus, by verbosity (`GITSIGN_LOG_LEVEL`, `RUST_LOG`-style: `error`, `warn`, `info`
//! (default), `debug`, `trace`, or `gitsign=debug`), the arguments, a configuration summary
//! and the steps taken. Secret values are never written: arguments that look like tokens are
//! redacted and environment variables are listed by name only.
//!
//! The binary tees stderr by running itself as a child with stderr piped (see
//! [`CHILD_ENV`]); the child appends its step lines to the same file.
use std::io::Write;

/// Set in the child's environment to the log path; the child appends step lines there.
pub const CHILD_ENV: &str = "GITSIGN_LOG_CHILD";

/// Verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing but the stderr copy.
    Off,
    /// Errors.
    Error,
    /// Warnings.
    Warn,
    /// Arguments and exit status (default).
    Info,
    /// Configuration summary and steps.
    Debug,
    /// Everything.
    Trace,
}

impl Level {
    /// Parse a `RUST_LOG`-style directive list: the last bare level or `gitsign=LEVEL` wins;
    /// directives for other targets are ignored; junk gives the default.
    pub fn parse(spec: &str) -> Level {
        let mut level = Level::Info;
        for d in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let value = match d.split_once('=') {
                Some((target, v)) if target.trim() == "gitsign" => v.trim(),
                Some(_) => continue,
                None => d,
            };
            level = match value.to_ascii_lowercase().as_str() {
                "off" => Level::Off,
                "error" => Level::Error,
                "warn" | "warning" => Level::Warn,
                "info" => Level::Info,
                "debug" => Level::Debug,
                "trace" => Level::Trace,
                _ => level,
            };
        }
        level
    }

    /// From the environment: `GITSIGN_LOG_LEVEL`, else `RUST_LOG`, else info.
    pub fn from_env() -> Level {
        std::env::var("GITSIGN_LOG_LEVEL")
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty()))
            .map(|s| Level::parse(&s))
            .unwrap_or(Level::Info)
    }

    fn name(self) -> &'static str {
        match self {
            Level::Off => "OFF",
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

/// Arguments with anything that may be a secret replaced: values of options whose name
/// mentions a token, secret or password, and JWT-looking words.
pub fn redact_args(args: &[String]) -> Vec<String> {
    let secretish = |s: &str| {
        let l = s.to_ascii_lowercase();
        l.contains("token") || l.contains("secret") || l.contains("password")
    };
    let mut out = Vec::with_capacity(args.len());
    let mut redact_next = false;
    for a in args {
        if redact_next {
            out.push("<redacted>".into());
            redact_next = false;
            continue;
        }
        if a.starts_with('-') && secretish(a) {
            match a.split_once('=') {
                Some((k, _)) => out.push(format!("{k}=<redacted>")),
                None => {
                    out.push(a.clone());
                    redact_next = true;
                }
            }
        } else if a.starts_with("eyJ") || a.contains(".eyJ") {
            out.push("<redacted>".into());
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn timestamp() -> String {
    crate::encoding::timefmt::rfc3339(crate::encoding::timefmt::now())
}

/// One formatted log line.
pub fn line(level: Level, msg: &str) -> String {
    format!("{} {:<5} {}\n", timestamp(), level.name(), msg.trim_end())
}

/// Append a step line from the child process (no-op unless this run is logged and `level`
/// is enabled).
pub fn log(level: Level, msg: &str) {
    let Some(path) = std::env::var_os(CHILD_ENV) else { return };
    if level > Level::from_env() || level == Level::Off {
        return;
    }
    if let Ok(mut f) = open(std::path::Path::new(&path), false) {
        let _ = f.write_all(line(level, msg).as_bytes());
    }
}

/// Open the log file: with `start`, create it (mode 0600) or truncate it, for the start of a
/// run; otherwise open it to append. A symbolic link is never followed (`O_NOFOLLOW`), so a
/// link planted at the log path cannot make gitsign overwrite the file it points to; a file
/// that already exists is set to mode 0600, as the log may name identities and settings.
pub fn open(path: &std::path::Path, start: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut opts = std::fs::OpenOptions::new();
    if start {
        opts.create(true).write(true).truncate(true).mode(0o600);
    } else {
        opts.append(true);
    }
    opts.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    let file = opts.open(path).map_err(|e| {
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            std::io::Error::other(
                "it is a symbolic link, and gitsign does not follow links for its log; point the setting at the file itself",
            )
        } else {
            e
        }
    })?;
    if start {
        let mode = file.metadata()?.permissions().mode() & 0o777;
        if mode != 0o600 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

/// A debug step.
pub fn debug(msg: &str) {
    log(Level::Debug, msg);
}

/// A one-paragraph summary of the effective configuration, never with secret values.
pub fn config_summary(cfg: &crate::app::config::Config) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "(unset)".into());
    format!(
        "config: fulcio={} rekor={} rekorMode={} issuer={} clientID={} trustedRoot={} fulcioRoot={} caBundle={} \
         tokenProvider={} timestampServerURL={} credentialCache={} credentialCacheMode={} matchCommitter={}",
        cfg.fulcio,
        cfg.rekor,
        match cfg.rekor_mode {
            crate::app::config::RekorMode::Offline => "offline",
            crate::app::config::RekorMode::Online => "online",
        },
        cfg.issuer,
        cfg.client_id,
        opt(&cfg.trusted_root),
        opt(&cfg.fulcio_root),
        opt(&cfg.ca_bundle),
        opt(&cfg.token_provider),
        opt(&cfg.timestamp_server_url),
        opt(&cfg.credential_cache),
        cfg.credential_cache_mode.map_or("(unset)", |m| m.name()),
        cfg.match_committer
    )
}

/// Names (never values) of the set `GITSIGN_*`, `SIGSTORE_*` and `TUF_*` variables.
pub fn env_names() -> Vec<String> {
    let mut names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.to_str()?.to_string();
            (!v.is_empty() && crate::app::config::ENV_PREFIXES.iter().any(|p| k.starts_with(p)) && k != CHILD_ENV)
                .then_some(k)
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_like_rust_log() {
        assert_eq!(Level::parse("debug"), Level::Debug);
        assert_eq!(Level::parse("other=trace,gitsign=warn"), Level::Warn);
        assert_eq!(Level::parse("other=trace"), Level::Info);
        assert_eq!(Level::parse("nonsense"), Level::Info);
        assert_eq!(Level::parse("ERROR"), Level::Error);
        assert!(Level::Debug > Level::Info);
    }

    #[test]
    fn secrets_are_redacted() {
        let args: Vec<String> = [
            "--id-token",
            "abc",
            "--token=xyz",
            "eyJhbGciOi.eyJzdWIi.sig",
            "-bsau",
            "KEY",
            "--client-secret-file",
            "/f",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = redact_args(&args);
        assert_eq!(
            r,
            [
                "--id-token",
                "<redacted>",
                "--token=<redacted>",
                "<redacted>",
                "-bsau",
                "KEY",
                "--client-secret-file",
                "<redacted>"
            ]
        );
    }
}
