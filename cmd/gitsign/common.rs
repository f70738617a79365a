//! Helpers every command shares: parsing a subcommand's arguments, usage errors, the
//! configuration (loaded once), and bounded reads. Imports nothing from the commands, so that
//! each command and the command tree (`cli.rs`) can use it.
use gitsign::app::config::Config;
use std::io::Read;
use std::process::ExitCode;

/// Report a usage error (exit 2).
pub(crate) fn usage_error(msg: &str) -> ExitCode {
    eprintln!("gitsign: error: {msg}");
    ExitCode::from(2)
}

/// Load the configuration or report it (exit 2).
pub(crate) fn load_config() -> Result<Config, ExitCode> {
    match cached_config() {
        Ok(c) => Ok(c.clone()),
        Err(e) => {
            eprintln!("gitsign: error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// The configuration, loaded once per process (one `git config` run, shared by the log set-up
/// and the command).
pub(crate) fn cached_config() -> &'static Result<Config, gitsign::app::config::ConfigError> {
    static CONFIG: std::sync::OnceLock<Result<Config, gitsign::app::config::ConfigError>> = std::sync::OnceLock::new();
    CONFIG.get_or_init(Config::load)
}

/// Largest object accepted for signing or verification (git objects are KiBs; this bounds
/// memory when something else is piped in by mistake).
pub(crate) const MAX_INPUT: u64 = 100 << 20;

/// Read all of `r`, refusing more than [`MAX_INPUT`] bytes.
pub(crate) fn read_bounded(r: impl Read, what: &str) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    r.take(MAX_INPUT + 1).read_to_end(&mut buf).map_err(|e| format!("cannot read {what}: {e}"))?;
    if buf.len() as u64 > MAX_INPUT {
        return Err(format!(
            "{what} is larger than {} MiB; refusing it (git objects are far smaller)",
            MAX_INPUT >> 20
        ));
    }
    Ok(buf)
}

/// Read a file (bounded); errors name it.
pub(crate) fn read_file_bounded(path: &std::ffi::OsStr) -> Result<Vec<u8>, String> {
    let shown = path.to_string_lossy();
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    read_bounded(f, &shown)
}

/// Put the one-line purpose (`about`) at the top of `--help` when the command also has a long
/// description, for the command and its subcommands.
pub(crate) fn with_purpose(mut cmd: clap::Command) -> clap::Command {
    if let (Some(about), Some(long)) = (cmd.get_about().map(|a| a.to_string()), cmd.get_long_about()) {
        let (about, long) = (about.trim_end_matches('.').to_string(), long.to_string());
        if !long.starts_with(&about) {
            cmd = cmd.long_about(format!("{about}.\n\n{long}"));
        }
    }
    cmd.mut_subcommands(with_purpose)
}

/// Parse `argv` (without the subcommand name) with `cmd`; on `--help`, errors and the like,
/// print what clap says and return the exit code to use.
pub(crate) fn parse(
    cmd: clap::Command,
    argv: &[std::ffi::OsString],
) -> Result<clap::ArgMatches, std::process::ExitCode> {
    let name = cmd.get_name().to_string();
    let cmd = with_purpose(cmd).bin_name(format!("gitsign {name}"));
    cmd.try_get_matches_from(std::iter::once(std::ffi::OsString::from(name)).chain(argv.iter().cloned())).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() { std::process::ExitCode::from(2) } else { std::process::ExitCode::SUCCESS }
    })
}
