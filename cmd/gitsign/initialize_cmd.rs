//! `gitsign initialize [--mirror URL] [--root FILE_OR_URL]`: seed the TUF cache and fetch the
//! Sigstore trusted root through TUF (see `gitsign::trust::tuf`). Reports on stderr; stdout stays empty.
use clap::{Arg, Command};
use gitsign::trust::tuf;
use std::process::ExitCode;

pub(crate) fn command() -> Command {
    Command::new("initialize")
        .about("Fetch the Sigstore trusted root through TUF and cache it for signing and verifying")
        .long_about(
            "Start from a trusted TUF root.json (the embedded Sigstore production root, or --root), walk \
             the mirror's root rotations, check timestamp, snapshot and targets metadata and download \
             trusted_root.json, all verified. The cache lives in $TUF_ROOT (default ~/.sigstore/root), \
             one directory per mirror; the mirror chosen is recorded in remote.json there. Afterwards, \
             unless gitsign.trustedRoot / GITSIGN_TRUSTED_ROOT is set, signing and verifying use the \
             cached trusted root, refreshing it when its TUF metadata has expired (falling back to the \
             cached copy, with a warning, when the mirror cannot be reached).",
        )
        .arg(
            Arg::new("mirror")
                .long("mirror")
                .value_name("URL")
                .help("TUF repository (default: $TUF_MIRROR, else https://tuf-repo-cdn.sigstore.dev)"),
        )
        .arg(
            Arg::new("root")
                .long("root")
                .value_name("FILE_OR_URL")
                .help("Initial trusted root.json (default: the embedded Sigstore production root)"),
        )
        .after_help(
            "Examples:\n  gitsign initialize\n  \
             gitsign initialize --mirror https://tuf-repo-cdn.sigstage.dev \\\n      \
             --root https://tuf-repo-cdn.sigstage.dev/1.root.json",
        )
}

pub(crate) fn run(argv: &[std::ffi::OsString]) -> ExitCode {
    let m = match crate::common::parse(command(), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    match initialize(m.get_one::<String>("mirror").map(String::as_str), m.get_one::<String>("root").map(String::as_str))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gitsign: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn initialize(mirror: Option<&str>, root: Option<&str>) -> Result<(), String> {
    let base = tuf::cache_base()
        .ok_or("cannot find a home directory for the TUF cache; set TUF_ROOT to a directory to use")?;
    let mirror = mirror
        .map(str::to_string)
        .or_else(|| std::env::var("TUF_MIRROR").ok().filter(|m| !m.trim().is_empty()))
        .unwrap_or_else(|| tuf::DEFAULT_MIRROR.to_string())
        .trim()
        .trim_end_matches('/')
        .to_string();
    if let Some(reason) = gitsign::app::config::url_problem(&mirror, false) {
        return Err(format!(
            "the TUF mirror \"{mirror}\" (--mirror or TUF_MIRROR) cannot be used: {reason}; give a full URL such as {}",
            tuf::DEFAULT_MIRROR
        ));
    }
    let cfg = crate::common::load_config().map_err(|_| "the configuration is not valid (see above)".to_string())?;
    let mut http = cfg.http_options();
    http.plain_http_only = mirror.starts_with("http://") && root.is_none_or(|r| !r.starts_with("https://"));
    let client = gitsign::services::http::client(&http).map_err(|e| e.to_string())?;
    let fetcher = tuf::HttpFetcher::new(client);
    let (seed, seed_name) = match root {
        None => (tuf::EMBEDDED_ROOT.to_vec(), "the embedded Sigstore production root".to_string()),
        Some(r) if r.starts_with("https://") || r.starts_with("http://") => {
            use tuf::Fetcher;
            match fetcher.fetch(r, tuf::MAX_ROOT_BYTES, "root.json").map_err(|e| e.to_string())? {
                tuf::Fetched::Body(b) => (b, r.to_string()),
                tuf::Fetched::NotFound => return Err(format!("cannot fetch {r}: not found")),
            }
        }
        Some(path) => {
            let b = crate::common::read_file_bounded(std::ffi::OsStr::new(path))?;
            (b, path.to_string())
        }
    };
    let dir = base.join(tuf::mirror_dir_name(&mirror));
    let update = tuf::Client::new(&dir, &mirror, &fetcher, tuf::now_unix())
        .update(&seed, root.is_some(), tuf::TRUSTED_ROOT_TARGET)
        .map_err(|e| format!("TUF update from {mirror} failed: {e}"))?;
    gitsign::trust::root::TrustedRoot::from_json(&update.target).map_err(|e| {
        format!("the {} served by {mirror} is not a usable trusted root: {e}", tuf::TRUSTED_ROOT_TARGET)
    })?;
    tuf::record_mirror(&base, &mirror).map_err(|e| e.to_string())?;
    if update.started_from_seed {
        eprintln!("gitsign: initial root: {seed_name}");
    } else {
        eprintln!("gitsign: starting from the cached root.json in {}", dir.display());
    }
    if update.root_version == update.root_version_before {
        eprintln!("gitsign: TUF root v{} from {mirror} (no newer root published)", update.root_version);
    } else {
        eprintln!(
            "gitsign: TUF root v{} -> v{} from {mirror} (every rotation signed by the old and the new root keys)",
            update.root_version_before, update.root_version
        );
    }
    eprintln!(
        "gitsign: timestamp v{}, snapshot v{}, targets v{}",
        update.timestamp_version, update.snapshot_version, update.targets_version
    );
    eprintln!(
        "gitsign: {} ({} bytes, sha256 {}) {} {}",
        tuf::TRUSTED_ROOT_TARGET,
        update.target.len(),
        update.target_sha256,
        if update.target_downloaded { "downloaded to" } else { "already cached in" },
        dir.join("targets").join(tuf::TRUSTED_ROOT_TARGET).display()
    );
    eprintln!(
        "gitsign: signing and verifying now use this trusted root unless gitsign.trustedRoot / GITSIGN_TRUSTED_ROOT is set"
    );
    Ok(())
}
