//! Where `gitsign attest` keeps attestations, as sigstore/gitsign lays them out: a commit history
//! of its own under `refs/attestations/commits` (attestations about commits) or
//! `refs/attestations/trees` (about trees), whose tree holds one directory per attested object
//! id, holding `<name>` (the predicate file, verbatim) and `<name>.sig` (the DSSE envelope).
//! Each attestation is one commit on that ref, parented on the previous one, with the message
//! `Gitsign attest <name>` (no trailing newline) and the user's git identity.
//!
//! Everything goes through git plumbing (`hash-object`, `mktree`, `update-ref`) in the current
//! directory: the index, the worktree and HEAD are never touched, and the ref only moves if
//! nobody else moved it meanwhile (compare-and-swap).
use std::io::Write;
use std::process::{Command, Stdio};

/// Ref holding attestations about commits.
pub const COMMIT_REF: &str = "refs/attestations/commits";
/// Ref holding attestations about trees.
pub const TREE_REF: &str = "refs/attestations/trees";

/// What an attestation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjType {
    /// A commit (subject digest `gitCommit`).
    Commit,
    /// A tree (subject digest `gitTree`).
    Tree,
}

impl ObjType {
    /// `commit` or `tree` (the `--objtype` values).
    pub fn parse(s: &str) -> Option<ObjType> {
        match s {
            "commit" => Some(ObjType::Commit),
            "tree" => Some(ObjType::Tree),
            _ => None,
        }
    }

    /// `commit` or `tree`.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjType::Commit => "commit",
            ObjType::Tree => "tree",
        }
    }

    /// The ref the attestations live under.
    pub fn ref_name(self) -> &'static str {
        match self {
            ObjType::Commit => COMMIT_REF,
            ObjType::Tree => TREE_REF,
        }
    }

    /// The in-toto subject digest name.
    pub fn digest_name(self) -> &'static str {
        match self {
            ObjType::Commit => "gitCommit",
            ObjType::Tree => "gitTree",
        }
    }
}

/// Errors reading or writing attestation refs.
#[derive(Debug, thiserror::Error)]
pub enum RefsError {
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
    /// The revision does not name an object of the wanted type.
    #[error("{rev} does not name a {kind} in this repository")]
    NoSuchObject {
        /// The revision given.
        rev: String,
        /// commit or tree.
        kind: &'static str,
    },
    /// The attestation file name cannot be a tree entry.
    #[error("{0:?} cannot be used as an attestation file name (it must be a plain file name)")]
    BadName(String),
    /// Something in the attestation ref is not laid out as gitsign lays it out.
    #[error("{ref_name} is not laid out as gitsign lays it out: {reason}")]
    Layout {
        /// The ref.
        ref_name: String,
        /// What is wrong.
        reason: String,
    },
}

fn git(args: &[&str], stdin: Option<&[u8]>) -> Result<Vec<u8>, RefsError> {
    let mut child = Command::new("git")
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RefsError::Spawn(e.to_string()))?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A write error shows up as git's failure below.
        let _ = pipe.write_all(data);
    }
    let out = child.wait_with_output().map_err(|e| RefsError::Spawn(e.to_string()))?;
    if !out.status.success() {
        return Err(RefsError::Git {
            args: args.join(" "),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

fn trimmed(b: Vec<u8>) -> String {
    String::from_utf8_lossy(&b).trim().to_string()
}

/// The full id of the `kind` object `rev` names (`REV^{commit}` / `REV^{tree}`).
pub fn resolve(rev: &str, kind: ObjType) -> Result<String, RefsError> {
    let spec = format!("{rev}^{{{}}}", kind.as_str());
    git(&["rev-parse", "--verify", "--quiet", "--end-of-options", &spec], None)
        .map(trimmed)
        .map_err(|_| RefsError::NoSuchObject { rev: rev.to_string(), kind: kind.as_str() })
}

/// The commit `ref_name` points at, if it exists.
fn ref_commit(ref_name: &str) -> Result<Option<String>, RefsError> {
    match git(&["rev-parse", "--verify", "--quiet", &format!("{ref_name}^{{commit}}")], None) {
        Ok(out) => Ok(Some(trimmed(out))),
        // --quiet: a missing ref exits 1 without a message.
        Err(RefsError::Git { message, .. }) if message.is_empty() => Ok(None),
        Err(e) => Err(e),
    }
}

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TreeEntry {
    mode: String,
    kind: String,
    id: String,
    name: Vec<u8>,
}

fn ls_tree(tree: &str) -> Result<Vec<TreeEntry>, RefsError> {
    let out = git(&["ls-tree", "-z", "--full-tree", tree], None)?;
    let mut entries = Vec::new();
    for rec in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let tab = rec.iter().position(|&b| b == b'\t');
        let head = tab.map(|t| String::from_utf8_lossy(&rec[..t]).into_owned()).unwrap_or_default();
        let mut parts = head.split(' ');
        match (tab, parts.next(), parts.next(), parts.next()) {
            (Some(t), Some(mode), Some(kind), Some(id)) => entries.push(TreeEntry {
                mode: mode.to_string(),
                kind: kind.to_string(),
                id: id.to_string(),
                name: rec[t + 1..].to_vec(),
            }),
            _ => {
                return Err(RefsError::Git {
                    args: format!("ls-tree {tree}"),
                    message: format!("unexpected output {:?}", String::from_utf8_lossy(rec)),
                });
            }
        }
    }
    Ok(entries)
}

/// `entries` with `new` replacing same-named ones, written with `git mktree` (which sorts).
fn mktree(mut entries: Vec<TreeEntry>, new: Vec<TreeEntry>) -> Result<String, RefsError> {
    entries.retain(|e| !new.iter().any(|n| n.name == e.name));
    entries.extend(new);
    let mut input = Vec::new();
    for e in &entries {
        input.extend_from_slice(format!("{} {} {}\t", e.mode, e.kind, e.id).as_bytes());
        input.extend_from_slice(&e.name);
        input.push(0);
    }
    git(&["mktree", "-z"], Some(&input)).map(trimmed)
}

fn write_blob(data: &[u8]) -> Result<String, RefsError> {
    git(&["hash-object", "-w", "--stdin"], Some(data)).map(trimmed)
}

/// Check a file name is usable as a tree entry (what `filepath.Base` of the input gives).
pub fn check_name(name: &str) -> Result<(), RefsError> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) || name == ".git" {
        return Err(RefsError::BadName(name.to_string()));
    }
    Ok(())
}

/// Store an attestation about `target` under `ref_name`: `<target>/<name>` = `predicate`,
/// `<target>/<name>.sig` = `envelope`, keeping everything already there (a same-named file is
/// replaced). Returns the new commit id of the ref.
pub fn store(ref_name: &str, target: &str, name: &str, predicate: &[u8], envelope: &[u8]) -> Result<String, RefsError> {
    check_name(name)?;
    let pred_blob = write_blob(predicate)?;
    let sig_blob = write_blob(envelope)?;
    let parent = ref_commit(ref_name)?;
    let top = match &parent {
        Some(c) => ls_tree(&format!("{c}^{{tree}}"))?,
        None => Vec::new(),
    };
    let existing_dir = top.iter().find(|e| e.name == target.as_bytes());
    let dir_entries = match existing_dir {
        Some(e) if e.kind == "tree" => ls_tree(&e.id)?,
        Some(_) => {
            return Err(RefsError::Layout {
                ref_name: ref_name.to_string(),
                reason: format!("{target} is a file, not a directory"),
            });
        }
        None => Vec::new(),
    };
    let file =
        |n: String, id: String| TreeEntry { mode: "100644".into(), kind: "blob".into(), id, name: n.into_bytes() };
    let dir = mktree(dir_entries, vec![file(name.to_string(), pred_blob), file(format!("{name}.sig"), sig_blob)])?;
    let tree = mktree(
        top,
        vec![TreeEntry { mode: "040000".into(), kind: "tree".into(), id: dir, name: target.as_bytes().to_vec() }],
    )?;
    let author = trimmed(git(&["var", "GIT_AUTHOR_IDENT"], None)?);
    let committer = trimmed(git(&["var", "GIT_COMMITTER_IDENT"], None)?);
    let mut raw = format!("tree {tree}\n");
    if let Some(p) = &parent {
        raw.push_str(&format!("parent {p}\n"));
    }
    raw.push_str(&format!("author {author}\ncommitter {committer}\n\nGitsign attest {name}"));
    let commit = git(&["hash-object", "-t", "commit", "-w", "--stdin"], Some(raw.as_bytes())).map(trimmed)?;
    let old = parent.unwrap_or_default();
    git(&["update-ref", "-m", &format!("gitsign attest {name}"), ref_name, &commit, &old], None)?;
    Ok(commit)
}

/// One stored attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The file name (`<name>`; the envelope is `<name>.sig`).
    pub name: String,
    /// The predicate file, verbatim.
    pub predicate: Vec<u8>,
    /// The DSSE envelope text.
    pub envelope: Vec<u8>,
}

/// The attestations stored about `target` under `ref_name` (empty when there are none): every
/// `<name>.sig` with its `<name>`, in name order. A `.sig` without its predicate file is still
/// returned (with an empty predicate) so that the caller can verify the envelope.
pub fn load(ref_name: &str, target: &str) -> Result<Vec<Stored>, RefsError> {
    let Some(commit) = ref_commit(ref_name)? else {
        return Ok(Vec::new());
    };
    let top = ls_tree(&format!("{commit}^{{tree}}"))?;
    let Some(dir) = top.iter().find(|e| e.name == target.as_bytes() && e.kind == "tree") else {
        return Ok(Vec::new());
    };
    let files = ls_tree(&dir.id)?;
    let blob = |name: &[u8]| -> Result<Option<Vec<u8>>, RefsError> {
        match files.iter().find(|e| e.name == name && e.kind == "blob") {
            Some(e) => git(&["cat-file", "blob", &e.id], None).map(Some),
            None => Ok(None),
        }
    };
    let mut out = Vec::new();
    for e in files.iter().filter(|e| e.kind == "blob" && e.name.ends_with(b".sig")) {
        let name = String::from_utf8_lossy(&e.name[..e.name.len() - 4]).into_owned();
        let envelope = git(&["cat-file", "blob", &e.id], None)?;
        let predicate = blob(name.as_bytes())?.unwrap_or_default();
        out.push(Stored { name, predicate, envelope });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for bad in ["", ".", "..", "a/b", "a\0b", ".git"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["test.json", "provenance.intoto.jsonl", "a b"] {
            check_name(good).unwrap();
        }
        assert_eq!(ObjType::parse("tree"), Some(ObjType::Tree));
        assert_eq!(ObjType::parse("blob"), None);
        assert_eq!(ObjType::Commit.ref_name(), "refs/attestations/commits");
        assert_eq!(ObjType::Tree.digest_name(), "gitTree");
    }
}
