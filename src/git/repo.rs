//! Reading raw objects from the repository in the current directory through the `git`
//! command (the same object store git itself reads; the bytes are never re-serialized).
//!
//! Replacement refs (`refs/replace/*`) are switched off for every git run here, and every object
//! read is hashed again and compared with the id asked for, so a verdict for id X is always
//! about the bytes of X.
use crate::git::object::{HashAlgo, ObjectKind};
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
    /// The bytes git returned do not hash to the requested id.
    #[error(
        "the object git returned for {id} hashes to {actual}, not to {id}; refusing to verify it \
         (check the repository with `git fsck`)"
    )]
    IdMismatch {
        /// The id asked for.
        id: String,
        /// What the content hashes to.
        actual: String,
    },
    /// A tag name that points straight at a commit.
    #[error(
        "{rev} is a lightweight tag: it points straight at commit {commit} and carries no signature of its own \
         (name the commit instead, for example {rev}^{{commit}}, or use an annotated tag made with `git tag -s`)"
    )]
    LightweightTag {
        /// The revision given.
        rev: String,
        /// The commit it points at.
        commit: String,
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

/// `git` with replacement refs switched off: `refs/replace/*` would make `git cat-file X`
/// print another object's bytes.
fn git_command() -> Command {
    let mut c = Command::new("git");
    c.env("GIT_NO_REPLACE_OBJECTS", "1");
    c
}

fn git(args: &[&str]) -> Result<Vec<u8>, RepoError> {
    let out = git_command().args(args).stdin(Stdio::null()).output().map_err(|e| RepoError::Spawn(e.to_string()))?;
    if !out.status.success() {
        return Err(RepoError::Git {
            args: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

/// The top directory of the working tree around the current directory, if any.
pub fn toplevel() -> Option<std::path::PathBuf> {
    let out = git(&["rev-parse", "--show-toplevel"]).ok()?;
    let s = String::from_utf8(out).ok()?;
    let s = s.trim_end_matches('\n');
    (!s.is_empty()).then(|| std::path::PathBuf::from(s))
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

/// Reads many objects through one `git cat-file --batch` process (one process for a whole
/// range instead of several per object).
pub struct BatchReader {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl BatchReader {
    /// Start `git cat-file --batch` in the current repository.
    pub fn new() -> Result<BatchReader, RepoError> {
        let mut child = git_command()
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| RepoError::Spawn(e.to_string()))?;
        let stdin = child.stdin.take().ok_or_else(|| RepoError::Spawn("no stdin".into()))?;
        let stdout = std::io::BufReader::new(child.stdout.take().ok_or_else(|| RepoError::Spawn("no stdout".into()))?);
        Ok(BatchReader { child, stdin, stdout })
    }

    /// Read one object by full id.
    pub fn read(&mut self, id: &str) -> Result<RawObject, RepoError> {
        use std::io::{BufRead, Read, Write};
        let broken = |e: std::io::Error| RepoError::Git { args: "cat-file --batch".into(), message: e.to_string() };
        if id.contains(['\n', ' ']) {
            return Err(RepoError::Git { args: "cat-file --batch".into(), message: format!("bad object id {id:?}") });
        }
        writeln!(self.stdin, "{id}").and_then(|_| self.stdin.flush()).map_err(broken)?;
        let mut header = String::new();
        self.stdout.read_line(&mut header).map_err(broken)?;
        let parts: Vec<&str> = header.split_whitespace().collect();
        let [oid, kind_name, size] = parts.as_slice() else {
            return Err(RepoError::Git {
                args: "cat-file --batch".into(),
                message: format!("{id}: {}", header.trim()),
            });
        };
        let size: usize = size.parse().map_err(|_| RepoError::Git {
            args: "cat-file --batch".into(),
            message: format!("bad size in {header:?}"),
        })?;
        let mut content = vec![0u8; size];
        self.stdout.read_exact(&mut content).map_err(broken)?;
        let mut nl = [0u8; 1];
        self.stdout.read_exact(&mut nl).map_err(broken)?;
        let kind = match *kind_name {
            "commit" => ObjectKind::Commit,
            "tag" => ObjectKind::Tag,
            other => return Err(RepoError::NotSignable { rev: id.to_string(), kind: other.to_string() }),
        };
        checked(RawObject { id: oid.to_string(), kind, content })
    }
}

impl Drop for BatchReader {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The commits of a range (`git rev-list RANGE`), newest first.
pub fn rev_list(range: &str) -> Result<Vec<String>, RepoError> {
    let out = git(&["rev-list", "--end-of-options", range])?;
    Ok(String::from_utf8_lossy(&out).lines().map(str::to_string).collect())
}

/// The object, if its content hashes to its id (SHA-1 or SHA-256, by the id's length).
pub fn checked(o: RawObject) -> Result<RawObject, RepoError> {
    let algo = match o.id.len() {
        40 => HashAlgo::Sha1,
        64 => HashAlgo::Sha256,
        _ => {
            return Err(RepoError::Git {
                args: "cat-file".into(),
                message: format!("unexpected object id {:?}", o.id),
            });
        }
    };
    let actual = crate::git::object::object_id(o.kind, &o.content, algo);
    if !actual.eq_ignore_ascii_case(&o.id) {
        return Err(RepoError::IdMismatch { id: o.id, actual });
    }
    Ok(o)
}

/// The full id `rev` names (`git rev-parse --verify`).
fn rev_parse(rev: &str) -> Result<String, RepoError> {
    // `--end-of-options` keeps a rev that starts with '-' from being taken as an option.
    Ok(String::from_utf8_lossy(&git(&["rev-parse", "--verify", "--end-of-options", rev])?).trim().to_string())
}

/// Read the object with full id `id`, which must be a commit or a tag.
fn read_id(rev: &str, id: String) -> Result<RawObject, RepoError> {
    let kind_name = String::from_utf8_lossy(&git(&["cat-file", "-t", &id])?).trim().to_string();
    let kind = match kind_name.as_str() {
        "commit" => ObjectKind::Commit,
        "tag" => ObjectKind::Tag,
        other => return Err(RepoError::NotSignable { rev: rev.to_string(), kind: other.to_string() }),
    };
    let content = git(&["cat-file", &kind_name, &id])?;
    checked(RawObject { id, kind, content })
}

/// Resolve `rev` (a commit-ish, or a tag name for an annotated tag) and read it raw.
pub fn read_object(rev: &str) -> Result<RawObject, RepoError> {
    read_id(rev, rev_parse(rev)?)
}

/// Resolve `rev` to the commit it names, peeling tags (`git rev-parse REV^{commit}`), and read
/// that commit raw: what `gitsign verify REV` checks.
pub fn read_commit(rev: &str) -> Result<RawObject, RepoError> {
    read_id(rev, rev_parse(&format!("{rev}^{{commit}}"))?)
}

/// Like [`read_object`], but a tag name that points straight at a commit (a lightweight tag)
/// is refused with [`RepoError::LightweightTag`], as gitsign's `show` does.
pub fn read_object_no_lightweight_tag(rev: &str) -> Result<RawObject, RepoError> {
    let o = read_object(rev)?;
    if o.kind == ObjectKind::Commit {
        let full = git(&["rev-parse", "--verify", "--symbolic-full-name", "--end-of-options", rev])?;
        if String::from_utf8_lossy(&full).trim().starts_with("refs/tags/") {
            return Err(RepoError::LightweightTag { rev: rev.to_string(), commit: o.id });
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_must_hash_to_the_id() {
        let content = b"object 0000000000000000000000000000000000000000\ntype commit\ntag v\n\nmsg\n".to_vec();
        for algo in [HashAlgo::Sha1, HashAlgo::Sha256] {
            let id = crate::git::object::object_id(ObjectKind::Tag, &content, algo);
            let ok = checked(RawObject { id: id.clone(), kind: ObjectKind::Tag, content: content.clone() });
            assert!(ok.is_ok(), "{algo:?}");
            let mut other = content.clone();
            other.push(b'x');
            let e = checked(RawObject { id: id.clone(), kind: ObjectKind::Tag, content: other }).unwrap_err();
            assert!(matches!(e, RepoError::IdMismatch { .. }), "{e}");
            // the same bytes claimed as the other kind do not hash to the id either
            let e = checked(RawObject { id, kind: ObjectKind::Commit, content: content.clone() }).unwrap_err();
            assert!(matches!(e, RepoError::IdMismatch { .. }), "{e}");
        }
    }
}
