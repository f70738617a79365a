//! `gitsign setup [--global|--local] [--sandbox DIR]`: what `install.sh` does to git's
//! configuration (gpg.format=x509, gpg.x509.program=<this gitsign>), and with `--sandbox`
//! the gitsign.* keys that point signing and verification at a `gitsign-sandbox` stack.
use clap::{Arg, ArgAction, ArgGroup, Command};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

pub(crate) fn command() -> Command {
    Command::new("setup")
        .about("Configure git to sign with this gitsign (and optionally a local Sigstore sandbox)")
        .long_about(
            "Set gpg.format=x509 and gpg.x509.program to this gitsign's absolute path, in the current \
             repository (--local, the default) or for your user (--global). With --sandbox DIR, also \
             set gitsign.fulcio, gitsign.rekor, gitsign.issuer, gitsign.clientID and \
             gitsign.trustedRoot (and gitsign.caBundle for a TLS sandbox) from DIR/sandbox.json, \
             written by `gitsign-sandbox serve --dir DIR`.",
        )
        .arg(Arg::new("global").long("global").action(ArgAction::SetTrue).help("Write ~/.gitconfig (git config --global)"))
        .arg(Arg::new("local").long("local").action(ArgAction::SetTrue).help("Write this repository's .git/config (default)"))
        .group(ArgGroup::new("scope").args(["global", "local"]))
        .arg(Arg::new("sandbox").long("sandbox").value_name("DIR").help("Point gitsign.* at the gitsign-sandbox stack in DIR"))
        .arg(
            Arg::new("program")
                .long("program")
                .value_name("PATH")
                .help("Program git runs (default: this gitsign's absolute path)"),
        )
        .after_help(
            "Examples:\n  gitsign setup --global\n  gitsign-sandbox serve --dir /tmp/sigstore & gitsign setup --sandbox /tmp/sigstore",
        )
}

/// The settings `setup` writes, in order.
pub(crate) fn settings(program: &str, sandbox: Option<&Path>) -> Result<Vec<(String, String)>, String> {
    let mut out =
        vec![("gpg.format".to_string(), "x509".to_string()), ("gpg.x509.program".to_string(), program.to_string())];
    if let Some(dir) = sandbox {
        let info_path = dir.join("sandbox.json");
        let text = std::fs::read_to_string(&info_path).map_err(|e| {
            format!(
                "cannot read {}: {e} (start the sandbox first: gitsign-sandbox serve --dir {})",
                info_path.display(),
                dir.display()
            )
        })?;
        let info: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{} is not valid JSON: {e}", info_path.display()))?;
        let field = |k: &str| {
            info.get(k)
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .ok_or_else(|| format!("{} has no {k:?}; restart `gitsign-sandbox serve`", info_path.display()))
        };
        let root = dir.join("trusted_root.json");
        let root = std::fs::canonicalize(&root)
            .map_err(|e| format!("cannot find the sandbox's trusted root {}: {e}", root.display()))?;
        out.push(("gitsign.fulcio".into(), field("fulcio_url")?));
        out.push(("gitsign.rekor".into(), field("rekor_url")?));
        out.push(("gitsign.issuer".into(), field("issuer")?));
        out.push(("gitsign.clientID".into(), "sigstore".into()));
        out.push(("gitsign.trustedRoot".into(), root.display().to_string()));
        if let Some(ca) = info.get("tls_ca").and_then(|v| v.as_str()) {
            out.push(("gitsign.caBundle".into(), ca.to_string()));
        }
    }
    Ok(out)
}

pub(crate) fn run(argv: &[std::ffi::OsString]) -> ExitCode {
    let m = match crate::common::parse(command(), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let scope = if m.get_flag("global") { "--global" } else { "--local" };
    let fail = |msg: String| {
        eprintln!("gitsign: error: {msg}");
        ExitCode::FAILURE
    };
    let program = match m.get_one::<String>("program") {
        Some(p) => p.clone(),
        None => match std::env::current_exe().and_then(std::fs::canonicalize) {
            Ok(p) => p.display().to_string(),
            Err(e) => return fail(format!("cannot find this program's path: {e}; pass --program PATH")),
        },
    };
    let sandbox = m.get_one::<String>("sandbox").map(PathBuf::from);
    let settings = match settings(&program, sandbox.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    for (key, value) in &settings {
        gitsign::app::runlog::debug(&format!("setup: git config {scope} {key} {value}"));
        let out = std::process::Command::new("git").args(["config", scope, key, value]).stdin(Stdio::null()).output();
        match out {
            Ok(o) if o.status.success() => outln!("git config {scope} {key} {value}"),
            Ok(o) => {
                let why = String::from_utf8_lossy(&o.stderr).trim().to_string();
                let hint = if scope == "--local" { " (run it inside a repository, or use --global)" } else { "" };
                return fail(format!("git config {scope} {key} failed: {why}{hint}"));
            }
            Err(e) => return fail(format!("cannot run git: {e}")),
        }
    }
    eprintln!("gitsign: git is set up to sign with {program}; check everything with `gitsign doctor`");
    ExitCode::SUCCESS
}
