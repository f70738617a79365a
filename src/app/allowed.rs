//! Loading the allowed-signers policy named by the configuration (`gitsign.allowedSignersFile` /
//! `GITSIGN_ALLOWED_SIGNERS`, and the single-signer `gitsign.verify.*` keys) into the rules of
//! [`crate::pipelines::verify::allowed`]. A relative path is taken from the top of the working
//! tree (where git runs gitsign), `~/` from the home directory. Any problem is an error: a
//! policy that cannot be read allows nobody.
use crate::app::config::Config;
use crate::pipelines::verify::allowed::{AllowedSigners, RuleError, parse, single_rule};

/// The largest policy file read (a policy is a few lines; this bounds a mistake).
const MAX_POLICY: u64 = 1 << 20;

/// Why the policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    /// The file cannot be read.
    #[error(
        "cannot read the allowed signers file {path} (from {origin}): {reason}; \
         fix the path or unset the setting (nothing is trusted until then)"
    )]
    Read {
        /// The path as resolved.
        path: String,
        /// Where the path was set.
        origin: &'static str,
        /// Why.
        reason: String,
    },
    /// A rule is malformed.
    #[error("{0}")]
    Rule(#[from] RuleError),
}

/// The path of the policy file, resolved, and where it was set; `None` when no file is set.
pub fn policy_path(cfg: &Config) -> Option<(std::path::PathBuf, &'static str)> {
    let raw = cfg.allowed_signers.as_deref()?;
    let origin = if std::env::var_os("GITSIGN_ALLOWED_SIGNERS").is_some_and(|v| !v.is_empty()) {
        "GITSIGN_ALLOWED_SIGNERS"
    } else {
        "git config gitsign.allowedSignersFile"
    };
    let path = std::path::PathBuf::from(raw);
    let path = if let Some(rest) = raw.strip_prefix("~/") {
        std::env::var_os("HOME").map_or(path, |h| std::path::PathBuf::from(h).join(rest))
    } else if path.is_relative() {
        crate::git::repo::toplevel().map_or(path.clone(), |top| top.join(&path))
    } else {
        path
    };
    Some((path, origin))
}

/// The configured policy, or `None` when neither a file nor the `gitsign.verify.*` keys are
/// set (then any valid signature is trusted, as before).
pub fn load_policy(cfg: &Config) -> Result<Option<AllowedSigners>, PolicyLoadError> {
    let mut policy = match policy_path(cfg) {
        Some((path, origin)) => {
            let shown = path.display().to_string();
            let read_err = |reason: String| PolicyLoadError::Read { path: shown.clone(), origin, reason };
            let f = std::fs::File::open(&path).map_err(|e| read_err(e.to_string()))?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(f, MAX_POLICY + 1), &mut bytes)
                .map_err(|e| read_err(e.to_string()))?;
            if bytes.len() as u64 > MAX_POLICY {
                return Err(read_err(format!("it is larger than {} KiB", MAX_POLICY >> 10)));
            }
            let text = String::from_utf8(bytes).map_err(|_| read_err("it is not UTF-8 text".into()))?;
            Some(parse(&shown, &text)?)
        }
        None => None,
    };
    let single = single_rule(
        cfg.verify_identity.as_deref(),
        cfg.verify_identity_regexp.as_deref(),
        cfg.verify_issuer.as_deref(),
        cfg.verify_issuer_regexp.as_deref(),
    )?;
    if let Some(rule) = single {
        policy.get_or_insert_with(AllowedSigners::default).push(rule);
    }
    Ok(policy)
}
