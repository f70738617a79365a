//! Git's configuration read in-process, as `git config --null --get-regexp '.*'` would list it.
//!
//! Every gitsign run needs a handful of `gitsign.*` and `user.*` keys. Asking `git config` costs
//! a process (about 2 ms, most of our start-up), so this module reads the same files itself for
//! the layouts it models exactly: the system file, `GIT_CONFIG_GLOBAL` or the XDG and home files,
//! the repository's `config` found by walking up from the working directory (plain `.git`
//! directories, `.git` files of worktrees and submodules, `commondir`), `include.path`, and the
//! `-c` settings git hands down in `GIT_CONFIG_PARAMETERS`. Anything else — conditional
//! includes, `GIT_DIR`-style overrides, worktree-specific config, a repository owned by another
//! user (git's `safe.directory` rules), a system file that might belong to another git, or a
//! line this parser does not accept — makes [`read`] step aside with a [`Fallback`] reason, and
//! the caller asks `git config`, which is always right. The parser follows git's `config.c`
//! rules (quotes, the escapes `\n \t \b \\ \"`, continuation lines, `#`/`;` comments, blanks
//! folded to single spaces, case rules for section, subsection and name); a differential test
//! compares it with real git on generated files.
use std::path::{Path, PathBuf};

/// One `key` / `value` pair (`None` = a key written without `=`, git's implicit `true`).
pub type Entry = (String, Option<String>);

/// Why the in-process reader left the answer to `git config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback(pub String);

fn fallback<T>(why: impl Into<String>) -> Result<T, Fallback> {
    Err(Fallback(why.into()))
}

/// Largest config file read in-process; bigger ones go to git.
const MAX_FILE: u64 = 1 << 20;
/// git's limit on nested includes.
const MAX_INCLUDE_DEPTH: usize = 10;

/// Environment variables that change where git looks; when one is set, git decides.
const DEFERRED_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_COMMON_DIR",
    "GIT_WORK_TREE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG",
    "GIT_NAMESPACE",
];

/// Read the configuration git would show in `cwd`, or say why git has to be asked.
pub fn read(env: &dyn Fn(&str) -> Option<String>, cwd: &Path) -> Result<Vec<Entry>, Fallback> {
    for k in DEFERRED_ENV {
        if env(k).is_some() {
            return fallback(format!("{k} is set"));
        }
    }
    let mut out = Vec::new();
    let home = env("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);

    // System scope.
    let nosystem = match env("GIT_CONFIG_NOSYSTEM") {
        None => false,
        Some(v) => parse_bool(&v).ok_or_else(|| Fallback("GIT_CONFIG_NOSYSTEM is not a boolean".into()))?,
    };
    if !nosystem {
        if let Some(path) = env("GIT_CONFIG_SYSTEM") {
            if path.is_empty() {
                return fallback("GIT_CONFIG_SYSTEM is empty");
            }
            read_file(Path::new(&path), home.as_deref(), 0, &mut out)?;
        } else {
            // Which file is "the" system file depends on how the running git was built
            // (/etc/gitconfig for distribution packages, $prefix/etc/gitconfig otherwise). Files
            // that say nothing about our keys cannot matter; any that do go to git.
            let mut candidates = vec![PathBuf::from("/etc/gitconfig"), PathBuf::from("/usr/local/etc/gitconfig")];
            if let Some(prefix) = env("GIT_EXEC_PATH").as_deref().and_then(|p| p.strip_suffix("/libexec/git-core")) {
                candidates.push(Path::new(prefix).join("etc/gitconfig"));
            }
            for path in candidates {
                let mut entries = Vec::new();
                read_file(&path, home.as_deref(), 0, &mut entries)?;
                if entries.iter().any(|(k, _)| relevant(k)) {
                    return fallback(format!("{} sets keys gitsign reads", path.display()));
                }
            }
        }
    }

    // Global scope.
    match env("GIT_CONFIG_GLOBAL") {
        Some(path) if path.is_empty() => return fallback("GIT_CONFIG_GLOBAL is empty"),
        Some(path) => read_file(Path::new(&path), home.as_deref(), 0, &mut out)?,
        None => {
            let xdg = match env("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
                Some(x) => Some(PathBuf::from(x).join("git/config")),
                None => home.as_ref().map(|h| h.join(".config/git/config")),
            };
            if let Some(p) = xdg {
                read_file(&p, home.as_deref(), 0, &mut out)?;
            }
            if let Some(h) = &home {
                read_file(&h.join(".gitconfig"), home.as_deref(), 0, &mut out)?;
            }
        }
    }

    // Local scope.
    if let Some(common) = discover_common_dir(cwd)? {
        let before = out.len();
        read_file(&common.join("config"), home.as_deref(), 0, &mut out)?;
        if out[before..].iter().any(|(k, _)| k == "extensions.worktreeconfig") {
            return fallback("the repository uses worktree-specific config");
        }
    }

    // Command scope: `git -c` settings handed down by the git that runs us.
    let count = env("GIT_CONFIG_COUNT");
    let params = env("GIT_CONFIG_PARAMETERS");
    if count.is_some() && params.is_some() {
        return fallback("both GIT_CONFIG_COUNT and GIT_CONFIG_PARAMETERS are set");
    }
    if let Some(n) = count {
        let n: usize = n.trim().parse().map_err(|_| Fallback("GIT_CONFIG_COUNT is not a number".into()))?;
        for i in 0..n {
            let (Some(k), Some(v)) = (env(&format!("GIT_CONFIG_KEY_{i}")), env(&format!("GIT_CONFIG_VALUE_{i}")))
            else {
                return fallback(format!("GIT_CONFIG_KEY_{i} or GIT_CONFIG_VALUE_{i} is missing"));
            };
            push_command_entry(&k, Some(v), &mut out)?;
        }
    }
    if let Some(p) = params {
        for (k, v) in parse_parameters(&p).ok_or_else(|| Fallback("GIT_CONFIG_PARAMETERS is malformed".into()))? {
            push_command_entry(&k, v, &mut out)?;
        }
    }
    Ok(out)
}

/// Keys whose value gitsign reads, and the directives that could bring such keys in.
fn relevant(key: &str) -> bool {
    ["gitsign.", "user.", "extensions.", "include.", "includeif."].iter().any(|p| key.starts_with(p))
}

fn push_command_entry(key: &str, value: Option<String>, out: &mut Vec<Entry>) -> Result<(), Fallback> {
    let key = canonical_key(key).ok_or_else(|| Fallback(format!("invalid -c key {key:?}")))?;
    if key.starts_with("include.") || key.starts_with("includeif.") {
        return fallback("an include given with -c");
    }
    out.push((key, value));
    Ok(())
}

/// `Section.Sub.Name` → `section.Sub.name` (git's case rules), or `None` if malformed.
pub fn canonical_key(key: &str) -> Option<String> {
    let first = key.find('.')?;
    let last = key.rfind('.')?;
    let (section, name) = (&key[..first], &key[last + 1..]);
    let sub = if first < last { Some(&key[first + 1..last]) } else { None };
    let name_ok = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let section_ok = !section.is_empty() && section.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !name_ok || !section_ok || sub.is_some_and(|s| s.contains('\n')) {
        return None;
    }
    let mut k = section.to_ascii_lowercase();
    if let Some(s) = sub {
        k.push('.');
        k.push_str(s);
    }
    k.push('.');
    k.push_str(&name.to_ascii_lowercase());
    Some(k)
}

/// git's boolean spellings (`git_parse_maybe_bool`).
fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" | "" => Some(false),
        _ => None,
    }
}

/// Read one config file (missing = nothing), following `include.path`.
fn read_file(path: &Path, home: Option<&Path>, depth: usize, out: &mut Vec<Entry>) -> Result<(), Fallback> {
    if depth > MAX_INCLUDE_DEPTH {
        return fallback("includes nested too deeply");
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => return Ok(()),
        Err(e) => return fallback(format!("{}: {e}", path.display())),
    };
    if !meta.is_file() || meta.len() > MAX_FILE {
        return fallback(format!("{} is not a small regular file", path.display()));
    }
    let bytes = std::fs::read(path).map_err(|e| Fallback(format!("{}: {e}", path.display())))?;
    let entries = parse(&bytes).map_err(|e| match e {
        ParseError::Rejected(line) => Fallback(format!("{} line {line} is not understood", path.display())),
        ParseError::VersionDependent(line) => {
            Fallback(format!("{} line {line} has a value that git versions read differently", path.display()))
        }
    })?;
    for (key, value) in entries {
        if key.starts_with("includeif.") {
            return fallback(format!("{} has a conditional include", path.display()));
        }
        let include = key == "include.path";
        out.push((key, value.clone()));
        if include {
            let Some(v) = value else { return fallback("include.path without a value") };
            let target = if let Some(rest) = v.strip_prefix("~/") {
                match home {
                    Some(h) => h.join(rest),
                    None => return fallback("include.path uses ~ without HOME"),
                }
            } else if v.starts_with('~') {
                return fallback("include.path uses ~user");
            } else {
                let p = Path::new(&v);
                if p.is_absolute() { p.to_path_buf() } else { path.parent().unwrap_or(Path::new("/")).join(p) }
            };
            read_file(&target, home, depth + 1, out)?;
        }
    }
    Ok(())
}

/// Find the repository's common directory (where `config` lives) the way git's discovery does
/// for plain layouts, starting at `cwd`. `Ok(None)`: not in a repository.
fn discover_common_dir(cwd: &Path) -> Result<Option<PathBuf>, Fallback> {
    use std::os::unix::fs::MetadataExt;
    let start_dev = std::fs::metadata(cwd).map_err(|e| Fallback(format!("{}: {e}", cwd.display())))?.dev();
    let euid = rustix::process::geteuid().as_raw();
    let mut dir = Some(cwd);
    while let Some(d) = dir {
        let meta = std::fs::metadata(d).map_err(|e| Fallback(format!("{}: {e}", d.display())))?;
        if meta.dev() != start_dev {
            // git stops at a filesystem boundary (GIT_DISCOVERY_ACROSS_FILESYSTEM unset).
            return Ok(None);
        }
        let dotgit = d.join(".git");
        match std::fs::symlink_metadata(&dotgit) {
            Ok(m) => {
                let gitdir = if m.is_dir() {
                    dotgit
                } else if m.is_file() {
                    let text = std::fs::read_to_string(&dotgit).map_err(|e| Fallback(format!("{e}")))?;
                    let Some(rest) = text.strip_prefix("gitdir: ") else {
                        return fallback(".git file without a gitdir line");
                    };
                    let p = Path::new(rest.trim_end_matches(['\n', '\r']));
                    if p.is_absolute() { p.to_path_buf() } else { d.join(p) }
                } else {
                    return fallback(".git is neither a directory nor a file");
                };
                if !gitdir.join("HEAD").is_file() {
                    return fallback(format!("{} does not look like a git directory", gitdir.display()));
                }
                // safe.directory: git ignores a repository owned by someone else.
                if meta.uid() != euid || std::fs::metadata(&gitdir).map(|g| g.uid() != euid).unwrap_or(true) {
                    return fallback("the repository is owned by another user");
                }
                let common = match std::fs::read_to_string(gitdir.join("commondir")) {
                    Ok(c) => {
                        let p = Path::new(c.trim_end_matches(['\n', '\r']));
                        if p.is_absolute() { p.to_path_buf() } else { gitdir.join(p) }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => gitdir,
                    Err(e) => return fallback(format!("commondir: {e}")),
                };
                return Ok(Some(common));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return fallback(format!("{}: {e}", dotgit.display())),
        }
        // A bare repository, or the inside of a .git directory: let git decide.
        if d.join("HEAD").is_file() && d.join("objects").is_dir() && d.join("refs").is_dir() {
            return fallback("inside a git directory or a bare repository");
        }
        dir = d.parent();
    }
    Ok(None)
}

/// Parse `GIT_CONFIG_PARAMETERS` (git's shell-quoted list: `'key'='value'`, `'key'` or the old
/// `'key=value'`). `None` if malformed.
pub fn parse_parameters(s: &str) -> Option<Vec<(String, Option<String>)>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    // One single-quoted word, with git's `'\''` / `'\!'` escapes.
    let word = |i: &mut usize| -> Option<Vec<u8>> {
        if b.get(*i) != Some(&b'\'') {
            return None;
        }
        *i += 1;
        let mut w = Vec::new();
        loop {
            match b.get(*i)? {
                b'\'' => {
                    *i += 1;
                    if b.get(*i) == Some(&b'\\') && b.get(*i + 2) == Some(&b'\'') {
                        w.push(b[*i + 1]);
                        *i += 3;
                        continue;
                    }
                    return Some(w);
                }
                c => {
                    w.push(*c);
                    *i += 1;
                }
            }
        }
    };
    loop {
        while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            return Some(out);
        }
        let key = String::from_utf8(word(&mut i)?).ok()?;
        if b.get(i) == Some(&b'=') {
            i += 1;
            // `'key'=` with nothing after it: a key given without a value.
            if b.get(i).is_none_or(|c| c.is_ascii_whitespace()) {
                out.push((key, None));
                continue;
            }
            let value = String::from_utf8(word(&mut i)?).ok()?;
            out.push((key, Some(value)));
        } else {
            match key.split_once('=') {
                Some((k, v)) => out.push((k.to_string(), Some(v.to_string()))),
                None => out.push((key, None)),
            }
        }
        if b.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
            return None;
        }
    }
}

/// git's `isspace` (space, tab, newline, carriage return; CRLF line ends are folded first by
/// [`Reader::next`]).
fn git_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
    eof: bool,
}

impl Reader<'_> {
    /// git's `get_next_char`: CRLF reads as LF, end of input reads as LF and sets `eof`.
    fn next(&mut self) -> u8 {
        let Some(&c) = self.b.get(self.i) else {
            self.eof = true;
            return b'\n';
        };
        self.i += 1;
        if c == b'\r' && self.b.get(self.i) == Some(&b'\n') {
            self.i += 1;
            self.line += 1;
            return b'\n';
        }
        if c == b'\n' {
            self.line += 1;
        }
        c
    }
}

/// Why [`parse`] did not return entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// git rejects the file at this line.
    Rejected(usize),
    /// A value at this line reads differently in different git versions.
    VersionDependent(usize),
}

/// Parse one config file's text into entries in order.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, ParseError> {
    let mut version_dependent = None;
    let entries = parse_inner(bytes, &mut version_dependent).map_err(ParseError::Rejected)?;
    match version_dependent {
        Some(line) => Err(ParseError::VersionDependent(line)),
        None => Ok(entries),
    }
}

fn parse_inner(bytes: &[u8], version_dependent: &mut Option<usize>) -> Result<Vec<Entry>, usize> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut r = Reader { b: bytes, i: 0, line: 1, eof: false };
    let mut section: Option<String> = None;
    let mut out = Vec::new();
    loop {
        let c = r.next();
        if r.eof {
            return Ok(out);
        }
        if git_space(c) {
            continue;
        }
        if c == b'#' || c == b';' {
            while r.next() != b'\n' {}
            continue;
        }
        if c == b'[' {
            section = Some(section_header(&mut r).ok_or(r.line)?);
            continue;
        }
        if !c.is_ascii_alphabetic() {
            return Err(r.line);
        }
        let Some(sec) = &section else { return Err(r.line) };
        let mut name = String::new();
        name.push(c.to_ascii_lowercase() as char);
        let mut c = r.next();
        while !r.eof && (c.is_ascii_alphanumeric() || c == b'-') {
            name.push(c.to_ascii_lowercase() as char);
            c = r.next();
        }
        while c == b' ' || c == b'\t' {
            c = r.next();
        }
        let value = if c == b'\n' {
            None
        } else if c == b'=' {
            let (mut vd, line) = (false, r.line);
            let v = value(&mut r, &mut vd).ok_or(r.line)?;
            if vd && version_dependent.is_none() {
                *version_dependent = Some(line);
            }
            Some(v)
        } else {
            return Err(r.line);
        };
        let value = match value {
            Some(v) => Some(String::from_utf8(v).map_err(|_| r.line)?),
            None => None,
        };
        out.push((format!("{sec}.{name}"), value));
    }
}

/// After `[`: `name]`, `name "sub"]` or the old `name.sub]`. Returns `section[.sub]`.
fn section_header(r: &mut Reader) -> Option<String> {
    let mut name = String::new();
    loop {
        let c = r.next();
        if r.eof {
            return None;
        }
        if c == b']' {
            return (!name.is_empty()).then_some(name);
        }
        if git_space(c) {
            if name.is_empty() || c == b'\n' {
                return None;
            }
            // Extended form: blanks, a quoted subsection, then `]`.
            let mut c = r.next();
            while c == b' ' || c == b'\t' {
                c = r.next();
            }
            if c != b'"' {
                return None;
            }
            let mut sub = Vec::new();
            loop {
                let c = r.next();
                if c == b'\n' {
                    return None;
                }
                if c == b'"' {
                    break;
                }
                if c == b'\\' {
                    let e = r.next();
                    if e == b'\n' {
                        return None;
                    }
                    sub.push(e);
                } else {
                    sub.push(c);
                }
            }
            if r.next() != b']' {
                return None;
            }
            name.push('.');
            name.push_str(std::str::from_utf8(&sub).ok()?);
            return Some(name);
        }
        if !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.') {
            return None;
        }
        name.push(c.to_ascii_lowercase() as char);
    }
}

/// git's `parse_value`, after the `=`: blanks outside quotes are kept inside the value and
/// trimmed at both ends (git ≥ 2.45; older gits turned each inner blank into a space, so a tab
/// or carriage return kept inside a value sets `*version_dependent`).
fn value(r: &mut Reader, version_dependent: &mut bool) -> Option<Vec<u8>> {
    let (mut quote, mut comment) = (false, false);
    // Length before a run of unquoted trailing blanks (0 = none pending), as git tracks it.
    let mut trim_len = 0usize;
    let mut v = Vec::new();
    // Which bytes of `v` are unquoted blanks (the ones gits disagree about).
    let mut kept_blank: Vec<bool> = Vec::new();
    loop {
        let c = r.next();
        if c == b'\n' {
            if quote {
                return None;
            }
            if trim_len != 0 {
                v.truncate(trim_len);
            }
            *version_dependent |= v.iter().zip(&kept_blank).any(|(c, k)| *k && *c != b' ');
            return Some(v);
        }
        if comment {
            continue;
        }
        if git_space(c) && !quote {
            if trim_len == 0 {
                trim_len = v.len();
            }
            if !v.is_empty() {
                v.push(c);
                kept_blank.resize(v.len() - 1, false);
                kept_blank.push(true);
            }
            continue;
        }
        if !quote && (c == b';' || c == b'#') {
            comment = true;
            continue;
        }
        trim_len = 0;
        match c {
            b'\\' => match r.next() {
                b'\n' => {}
                b't' => v.push(b'\t'),
                b'b' => v.push(8),
                b'n' => v.push(b'\n'),
                b'\\' => v.push(b'\\'),
                b'"' => v.push(b'"'),
                _ => return None,
            },
            b'"' => quote = !quote,
            c => v.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<(String, Option<String>)> {
        parse(s.as_bytes()).unwrap()
    }
    fn kv(k: &str, v: &str) -> (String, Option<String>) {
        (k.to_string(), Some(v.to_string()))
    }

    #[test]
    fn sections_names_and_subsections() {
        assert_eq!(
            p("[GitSign]\n\tFulcio = https://f\n[remote \"Origin\"]\nURL=x\n[a.B]\nc\n"),
            vec![kv("gitsign.fulcio", "https://f"), kv("remote.Origin.url", "x"), ("a.b.c".to_string(), None)]
        );
        assert_eq!(p("[s \"a\\\"b\\\\c\\d\"] k = v"), vec![kv("s.a\"b\\cd.k", "v")]);
    }

    #[test]
    fn values_quotes_escapes_comments_continuations() {
        assert_eq!(p("[s]\nk = a  b c  ; comment\n"), vec![kv("s.k", "a  b c")]);
        assert_eq!(parse(b"[s]\nk = a\tb\n"), Err(ParseError::VersionDependent(2)));
        assert_eq!(p("[s]\nk = \"a\tb\"\t\r\n"), vec![kv("s.k", "a\tb")]);
        assert_eq!(p("[s]\nk = \" a # not ; comment \"x\n"), vec![kv("s.k", " a # not ; comment x")]);
        assert_eq!(p("[s]\nk = a \\\n  b\n"), vec![kv("s.k", "a   b")]);
        assert_eq!(p("[s]\nk = a\\tb\\nc\\\\d\\\"e\n"), vec![kv("s.k", "a\tb\nc\\d\"e")]);
        assert_eq!(p("[s]\r\nk = v\r\n"), vec![kv("s.k", "v")]);
        assert_eq!(p("\u{feff}[s]\nk=\n"), vec![kv("s.k", "")]);
        assert_eq!(p("[s]\nk = v\\"), vec![kv("s.k", "v")]);
    }

    #[test]
    fn rejects_what_git_rejects() {
        for bad in
            ["k = v\n", "[s]\nk = \"open\n", "[s]\nk = \\x\n", "[s\nk=v", "[s \"x]\n", "[s]\n1k=v\n", "[s]\nk v\n"]
        {
            assert!(matches!(parse(bad.as_bytes()), Err(ParseError::Rejected(_))), "{bad:?}");
        }
    }

    #[test]
    fn command_line_parameters() {
        assert_eq!(
            parse_parameters("'gpg.format'='x509' 'User.Email'='a@b' 'flag' 'old.style=v' 'new.flag'=").unwrap(),
            vec![
                ("gpg.format".into(), Some("x509".into())),
                ("User.Email".into(), Some("a@b".into())),
                ("flag".into(), None),
                ("old.style".into(), Some("v".into())),
                ("new.flag".into(), None),
            ]
        );
        assert_eq!(parse_parameters("'a.b'='it'\\''s'").unwrap(), vec![("a.b".into(), Some("it's".into()))]);
        assert_eq!(parse_parameters("'x.y'=''\\!'env'").unwrap(), vec![("x.y".into(), Some("!env".into()))]);
        assert!(parse_parameters("'a.b'='unterminated").is_none());
        assert_eq!(canonical_key("Sec.Sub.Sub.NaMe").as_deref(), Some("sec.Sub.Sub.name"));
        assert_eq!(canonical_key("nodot"), None);
    }
}
