//! Reading raw objects from the repository in the current directory through the `git`
//! command (the same object store git itself reads; the bytes are never re-serialized).
use crate::git::{HashAlgo, ObjectKind};
use std::process::{Command, Stdio};

/// Errors reading objects.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// git could not be run.
    #[error("cannot run git: {0}")]
    Spawn(String),
    /// git failed.
    #[error("git {args}: {message}")]
    Git {
        /// The arguments.
        args: String,
        /// git's stderr.
        message: String,
    },
    /// The object is neither a commit nor a tag.
    #[error("{rev} is a {kind}, not a commit or an annotated tag")]
    NotSignable {
        /// The revision given.
        rev: String,
        /// Its type.
        kind: String,
    },
}

fn git(args: &[&str]) -> Result<Vec<u8>, RepoError> {
    let out = Command::new("git")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| RepoError::Spawn(e.to_string()))?;
    if !out.status.success() {
        return Err(RepoError::Git {
            args: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// The repository's object hash algorithm.
pub fn hash_algo() -> Result<HashAlgo, RepoError> {
    let out = git(&["rev-parse", "--show-object-format"])?;
    Ok(if String::from_utf8_lossy(&out).trim() == "sha256" { HashAlgo::Sha256 } else { HashAlgo::Sha1 })
}

/// A raw object: its id, kind and content bytes.
#[derive(Debug, Clone)]
pub struct RawObject {
    /// Full object id (hex).
    pub id: String,
    /// Commit or tag.
    pub kind: ObjectKind,
    /// Content, without git's `<type> <len>\0` header.
    pub content: Vec<u8>,
}

/// Resolve `rev` (a commit-ish, or a tag name for an annotated tag) and read it raw.
pub fn read_object(rev: &str) -> Result<RawObject, RepoError> {
    // `--end-of-options` keeps a rev that starts with '-' from being taken as an option.
    let id = String::from_utf8_lossy(&git(&["rev-parse", "--verify", "--end-of-options", rev])?).trim().to_string();
    let kind_name = String::from_utf8_lossy(&git(&["cat-file", "-t", &id])?).trim().to_string();
    let kind = match kind_name.as_str() {
        "commit" => ObjectKind::Commit,
        "tag" => ObjectKind::Tag,
        other => return Err(RepoError::NotSignable { rev: rev.to_string(), kind: other.to_string() }),
    };
    let content = git(&["cat-file", &kind_name, &id])?;
    Ok(RawObject { id, kind, content })
}
