//! The source tree's shape, enforced: no file-level import cycle in the library or the
//! binaries, and library layers import only downward (see ARCHITECTURE.md).
//!
//! Every `.rs` file under `src/` and `cmd/` is read (`#[cfg(test)]` items, comments and string
//! literals left out). An edge A -> B means file A names an item of the module in file B through
//! `crate::…`, `super::…`, `self::…` or a child module (`mod x;` then `x::…`), in a `use` or
//! inline. A `mod x;` declaration alone is no edge, so a `mod.rs` that only declares and
//! re-exports sits below its children; one that defines items its children use and also uses
//! theirs is a cycle.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's layers, bottom-up: a file in one may import only from its own layer or a
/// lower one. `lib.rs` (the crate root, above every layer) may import anything.
const LAYERS: &[&str] = &["encoding", "crypto", "git", "trust", "services", "credentials", "pipelines", "app"];

/// Known upward edges, each to be removed (then its entry too: a stale entry fails the test).
/// They are the lower layers that still read the application's `Config` or write to its run log;
/// the aim is that they take plain values and only `app/` reads `Config`.
const KNOWN_UPWARD: &[(&str, &str)] = &[
    // X.509 chain and SCT checks take the trusted root (crypto -> trust).
    ("src/crypto/x509.rs", "src/trust/root.rs"),
    // secret keys report mlock/MADV_DONTDUMP failures to the run log (crypto -> app).
    ("src/crypto/secret.rs", "src/app/runlog.rs"),
    // TUF fetches metadata over the shared HTTP client (trust -> services).
    ("src/trust/tuf.rs", "src/services/http.rs"),
    // OIDC logins read Config (client id, issuer, redirect, timeouts) and log source failures.
    ("src/services/oidc/browser.rs", "src/app/config.rs"),
    ("src/services/oidc/device.rs", "src/app/config.rs"),
    ("src/services/oidc/flow.rs", "src/app/config.rs"),
    ("src/services/oidc/source.rs", "src/app/config.rs"),
    ("src/services/oidc/source.rs", "src/app/runlog.rs"),
    // The TSA client is built from Config.
    ("src/services/tsa.rs", "src/app/config.rs"),
    // The credential cache keys entries by Config; the keyring logs to the run log.
    ("src/credentials/cache.rs", "src/app/config.rs"),
    ("src/credentials/keyring.rs", "src/app/runlog.rs"),
    // The sign pipeline reads Config and names its hash in gpg status terms.
    ("src/pipelines/sign.rs", "src/app/config.rs"),
    ("src/pipelines/sign.rs", "src/app/gpg/status.rs"),
];

/// One crate: its root file and the folder its modules live in.
struct Crate {
    root_file: PathBuf,
    dir: PathBuf,
}

/// A file and the module path it defines (relative to its crate root).
struct Unit {
    file: PathBuf,
    module: Vec<String>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of `file` in a crate whose modules live in `dir` with root file `root`.
fn module_of(file: &Path, krate: &Crate) -> Vec<String> {
    if file == krate.root_file {
        return Vec::new();
    }
    let rel = file.strip_prefix(&krate.dir).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts
}

/// The source with comments and string/char literal contents blanked (lengths kept).
fn strip_comments_and_strings(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) && !ident_byte(b, i) {
            // raw string r"…" / r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            i = (j + close.len()).min(b.len());
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            i += 3;
            out.push_str("' '");
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            let ch = src[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

fn ident_byte(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// The source without `#[cfg(test)]` items (the attribute and the item after it, up to its
/// closing brace or semicolon).
fn strip_test_items(src: &str) -> String {
    let mut out = String::new();
    let mut rest = src;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "#[cfg(test)]".len()..];
        let (mut depth, mut end) = (0usize, after.len());
        for (k, c) in after.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = k + 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    end = k + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Expand a `use` tree (`a::{b, c::{d, e as f}}`) into flat paths (`a::b`, `a::c::d`, `a::c::e`).
fn expand_use(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.replace(" as ", "\u{0}");
    let tree: String = tree
        .split('\u{0}')
        .enumerate()
        .map(|(k, p)| {
            if k == 0 {
                p.to_string()
            } else {
                // drop the alias name
                p.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_').to_string()
            }
        })
        .collect();
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(open) = tree.find('{') else { return vec![tree] };
    let (head, body) = (&tree[..open], &tree[open + 1..tree.len() - 1]);
    let (mut parts, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for c in body.chars() {
        match c {
            ',' if depth == 0 => parts.push(std::mem::take(&mut cur)),
            '{' => {
                depth += 1;
                cur.push(c)
            }
            '}' => {
                depth -= 1;
                cur.push(c)
            }
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts.into_iter().filter(|p| !p.is_empty()).flat_map(|p| expand_use(&format!("{head}{p}"))).collect()
}

/// Every path (`crate::a::b`, `super::x`, `child::y`) the code names, with the inline-module
/// path in force where it is named.
fn named_paths(code: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut found = Vec::new();
    // Inline modules (`mod name {`): track the nesting by brace depth.
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    let is_id = |c: char| c.is_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            depth += 1;
            i += 1;
            continue;
        }
        if c == '}' {
            depth = depth.saturating_sub(1);
            if stack.last().is_some_and(|(_, d)| *d == depth) {
                stack.pop();
            }
            i += 1;
            continue;
        }
        if is_id(c) && (i == 0 || !is_id(chars[i - 1]) && chars[i - 1] != '$') {
            let start = i;
            while i < chars.len() && (is_id(chars[i]) || (chars[i] == ':' && chars.get(i + 1) == Some(&':'))) {
                i += if chars[i] == ':' { 2 } else { 1 };
            }
            let word: String = chars[start..i].iter().collect();
            let inline: Vec<String> = stack.iter().map(|(n, _)| n.clone()).collect();
            if word == "mod" {
                // `mod name {` opens an inline module.
                let rest: String = chars[i..chars.len().min(i + 80)].iter().collect();
                let rest = rest.trim_start();
                let name: String = rest.chars().take_while(|c| is_id(*c)).collect();
                if rest[name.len()..].trim_start().starts_with('{') {
                    stack.push((name, depth));
                }
            } else if word == "use" {
                let end = chars[i..].iter().position(|c| *c == ';').map_or(chars.len(), |p| i + p);
                let tree: String = chars[i..end].iter().collect();
                for p in expand_use(&tree) {
                    found.push((inline.clone(), p.split("::").map(str::to_string).collect()));
                }
                i = end;
            } else if word.contains("::") {
                found.push((inline, word.trim_end_matches("::").split("::").map(str::to_string).collect()));
            }
            continue;
        }
        i += 1;
    }
    found
}

/// The child modules a file declares (`mod x;`, with any visibility).
fn declared_children(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let l = line.trim();
        let l = l.strip_prefix("pub(crate) ").or_else(|| l.strip_prefix("pub ")).unwrap_or(l);
        if let Some(name) = l.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
            out.insert(name.trim().to_string());
        }
    }
    out
}

/// File-level import edges of one crate.
fn crate_edges(krate: &Crate, files: &[PathBuf]) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let units: Vec<Unit> = files.iter().map(|f| Unit { file: f.clone(), module: module_of(f, krate) }).collect();
    let by_module: BTreeMap<Vec<String>, PathBuf> = units.iter().map(|u| (u.module.clone(), u.file.clone())).collect();
    // The file holding the longest known prefix of `path`.
    let resolve = |path: &[String]| -> Option<PathBuf> {
        (0..=path.len()).rev().find_map(|k| by_module.get(&path[..k]).cloned())
    };
    let mut edges = BTreeMap::new();
    for u in &units {
        let code = strip_test_items(&strip_comments_and_strings(&std::fs::read_to_string(&u.file).unwrap()));
        let children = declared_children(&code);
        let mut targets = BTreeSet::new();
        for (inline, path) in named_paths(&code) {
            let here: Vec<String> = u.module.iter().chain(&inline).cloned().collect();
            let mut it = path.iter().peekable();
            let mut base: Vec<String> = match it.peek().map(|s| s.as_str()) {
                Some("crate") => {
                    it.next();
                    Vec::new()
                }
                Some("self") => {
                    it.next();
                    here.clone()
                }
                Some("super") => here.clone(),
                Some(first) if inline.is_empty() && children.contains(first) => u.module.clone(),
                _ => continue,
            };
            while it.peek().is_some_and(|s| *s == "super") {
                it.next();
                base.pop();
            }
            let full: Vec<String> = base.into_iter().chain(it.cloned()).collect();
            if let Some(t) = resolve(&full)
                && t != u.file
            {
                targets.insert(t);
            }
        }
        edges.insert(u.file.clone(), targets);
    }
    edges
}

/// Strongly connected components of more than one file (Tarjan).
fn cycles(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Vec<Vec<PathBuf>> {
    struct T<'a> {
        edges: &'a BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        index: BTreeMap<&'a PathBuf, usize>,
        low: BTreeMap<&'a PathBuf, usize>,
        stack: Vec<&'a PathBuf>,
        on: BTreeSet<&'a PathBuf>,
        out: Vec<Vec<PathBuf>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a PathBuf) {
        let n = t.index.len();
        t.index.insert(v, n);
        t.low.insert(v, n);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.edges.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.clone());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn rel(p: &Path) -> String {
    p.strip_prefix(repo()).unwrap_or(p).to_string_lossy().into_owned()
}

/// The layer index of a library file (`None` for `lib.rs`).
fn layer(file: &Path) -> Option<usize> {
    let r = rel(file);
    if r == "src/lib.rs" {
        return None;
    }
    let first = r.strip_prefix("src/")?.split('/').next()?;
    let name = first.trim_end_matches(".rs");
    Some(LAYERS.iter().position(|l| *l == name).unwrap_or_else(|| panic!("{r} is in no layer of {LAYERS:?}")))
}

/// All crates of the repository's sources: the library and each binary.
fn crates() -> Vec<(Crate, Vec<PathBuf>)> {
    let root = repo();
    let mut out = Vec::new();
    let mut lib = Vec::new();
    rs_files(&root.join("src"), &mut lib);
    out.push((Crate { root_file: root.join("src/lib.rs"), dir: root.join("src") }, lib));
    let mut bins: Vec<_> = std::fs::read_dir(root.join("cmd")).unwrap().map(|e| e.unwrap().path()).collect();
    bins.sort();
    for dir in bins.into_iter().filter(|d| d.join("main.rs").exists()) {
        let mut files = Vec::new();
        rs_files(&dir, &mut files);
        out.push((Crate { root_file: dir.join("main.rs"), dir }, files));
    }
    out
}

fn all_edges() -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    crates().iter().flat_map(|(k, files)| crate_edges(k, files)).collect()
}

#[test]
fn no_file_level_import_cycle() {
    let edges = all_edges();
    assert!(edges.len() > 60, "the scan found only {} files", edges.len());
    let found = cycles(&edges);
    let shown: Vec<String> = found
        .iter()
        .map(|c| {
            let names: Vec<String> = c.iter().map(|f| rel(f)).collect();
            let inner: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    edges[a].iter().filter(|b| c.contains(b)).map(move |b| format!("{} -> {}", rel(a), rel(b)))
                })
                .collect();
            format!("cycle among {}\n    edges: {}", names.join(", "), inner.join("; "))
        })
        .collect();
    assert!(
        shown.is_empty(),
        "import cycles (move the shared piece into its own file below both; keep mod.rs to \
         declarations and re-exports):\n  {}",
        shown.join("\n  ")
    );
}

#[test]
fn library_layers_import_only_downward() {
    let edges = all_edges();
    let known: BTreeSet<(String, String)> = KNOWN_UPWARD.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    let mut upward = BTreeSet::new();
    for (a, targets) in &edges {
        let Some(la) = layer(a) else { continue };
        if !rel(a).starts_with("src/") {
            continue;
        }
        for b in targets {
            if let Some(lb) = layer(b)
                && lb > la
            {
                upward.insert((rel(a), rel(b)));
            }
        }
    }
    let new: Vec<String> = upward
        .difference(&known)
        .map(|(a, b)| {
            format!("{a} ({}) -> {b} ({})", LAYERS[layer(Path::new(a)).unwrap()], LAYERS[layer(Path::new(b)).unwrap()])
        })
        .collect();
    assert!(
        new.is_empty(),
        "imports from a lower layer to a higher one (layers bottom-up: {}); pass plain values down \
         or move the piece down a layer:\n  {}",
        LAYERS.join(" < "),
        new.join("\n  ")
    );
    let stale: Vec<String> = known.difference(&upward).map(|(a, b)| format!("{a} -> {b}")).collect();
    assert!(stale.is_empty(), "KNOWN_UPWARD lists edges that are gone; remove them:\n  {}", stale.join("\n  "));
}

#[test]
fn the_scanner_sees_use_trees_super_and_inline_paths() {
    assert_eq!(expand_use(" crate::a::{b, c::{d, e as f}}"), ["crate::a::b", "crate::a::c::d", "crate::a::c::e"]);
    let code = strip_test_items(&strip_comments_and_strings(
        "use super::x::Y;\n// crate::commented::Out\nfn f() { let s = \"crate::in_string\"; crate::inline::z(); }\n\
         #[cfg(test)]\nmod tests { use crate::only_tests::T; }\n",
    ));
    let paths: Vec<String> = named_paths(&code).into_iter().map(|(_, p)| p.join("::")).collect();
    assert_eq!(paths, ["super::x::Y", "crate::inline::z"]);
}
