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
    let out =
        Command::new("git").args(args).stdin(Stdio::null()).output().map_err(|e| RepoError::Spawn(e.to_string()))?;
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
        let mut child = Command::new("git")
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
        Ok(RawObject { id: oid.to_string(), kind, content })
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
