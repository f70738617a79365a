//! The in-toto statement `gitsign show` prints for a commit or an annotated tag.
//!
//! Shape (as sigstore/gitsign's `pkg/attest`): an in-toto v1 statement whose subject is the
//! object (digest `sha1`, plus `gitTag` for tags; name = the remote's first URL, omitted when
//! there is none) and whose predicate is the object's source fields, its signature text and,
//! for CMS (`SIGNED MESSAGE`) signatures, each signer's certificate (PEM) and signed attributes
//! (base64 of the SET-tagged DER). Commits use predicate type
//! [`COMMIT_PREDICATE_TYPE`], tags [`TAG_PREDICATE_TYPE`]. Empty strings and lists are left
//! out (protobuf JSON rules); dates are RFC 3339 in UTC. The JSON is indented by two spaces and
//! escapes `<`, `>`, `&` like Go's `encoding/json`.
//!
//! Everything here is a pure function of the raw object bytes.
//!
//! `gitsign attest` (signed in-toto statements about commits and trees, logged in Rekor and
//! stored under `refs/attestations/*`) lives in the submodules: [`sign`], [`refs`], [`check`].
use crate::git::object::{self as git, ObjectKind};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub mod check;
pub mod refs;
pub mod sign;

/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// Predicate type of a commit statement.
pub const COMMIT_PREDICATE_TYPE: &str = "https://gitsign.sigstore.dev/predicate/git/v0.1";
/// Predicate type of a tag statement.
pub const TAG_PREDICATE_TYPE: &str = "https://gitsign.sigstore.dev/predicate/tag/v0.1";

/// Why a statement could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestError {
    /// A header that must appear once appears more than once (ambiguous object).
    #[error("the {kind} object has more than one '{header}' header; refusing to describe an ambiguous object")]
    DuplicateHeader {
        /// `commit` or `tag`.
        kind: &'static str,
        /// The header.
        header: &'static str,
    },
    /// A required header is missing.
    #[error("the {kind} object has no '{header}' header; it is not a well-formed git {kind}")]
    MissingHeader {
        /// `commit` or `tag`.
        kind: &'static str,
        /// The header.
        header: &'static str,
    },
    /// The signature could not be separated from the object.
    #[error("cannot read the signature: {0}")]
    Signature(#[from] git::GitError),
}

/// A person line (`author`, `committer`, `tagger`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    /// Name, trimmed.
    pub name: String,
    /// Email, without the angle brackets.
    pub email: String,
    /// RFC 3339 UTC date, when the timestamp parses.
    pub date: Option<String>,
}

/// One signer of a CMS signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo {
    /// Base64 of the signed attributes, SET-tagged (what the signature covers).
    pub attributes: String,
    /// PEM of the signer certificate.
    pub certificate: String,
}

/// The source part of the predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A commit.
    Commit {
        /// Tree id.
        tree: String,
        /// Parent ids, in order.
        parents: Vec<String>,
        /// Author.
        author: Option<Ident>,
        /// Committer.
        committer: Option<Ident>,
        /// Message, byte for byte (lossy UTF-8).
        message: String,
    },
    /// An annotated tag.
    Tag {
        /// Tagged object id.
        object: String,
        /// Its type.
        object_type: String,
        /// Tag name.
        tag: String,
        /// Tagger.
        tagger: Option<Ident>,
        /// Message without the signature.
        message: String,
    },
}

/// A statement about one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The object id.
    pub id: String,
    /// The remote URL used as subject name (empty: none).
    pub subject_name: String,
    /// Source fields.
    pub source: Source,
    /// The signature text (empty when unsigned).
    pub signature: String,
    /// Signers of a CMS signature.
    pub signer_info: Vec<SignerInfo>,
    /// Why the signature text, though armored as `SIGNED MESSAGE`, yielded no signer info.
    pub signer_info_error: Option<String>,
}

/// `(name, value)` header pairs.
type Headers<'a> = Vec<(&'a [u8], &'a [u8])>;

/// Header lines (up to the first empty line) and the rest.
fn headers(raw: &[u8]) -> (Headers<'_>, &[u8]) {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..].iter().position(|&b| b == b'\n').map_or(raw.len(), |i| pos + i);
        let line = &raw[pos..end];
        let next = (end + 1).min(raw.len());
        if line.is_empty() {
            return (out, &raw[next..]);
        }
        if line[0] != b' ' {
            let (k, v) = match line.iter().position(|&b| b == b' ') {
                Some(i) => (&line[..i], &line[i + 1..]),
                None => (line, &line[line.len()..]),
            };
            out.push((k, v));
        }
        pos = next;
        if end == raw.len() {
            break;
        }
    }
    (out, &raw[raw.len()..])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn single<'a>(h: &Headers<'a>, key: &'static str, kind: &'static str) -> Result<Option<&'a [u8]>, AttestError> {
    let mut found = h.iter().filter(|(k, _)| *k == key.as_bytes()).map(|(_, v)| *v);
    let first = found.next();
    if found.next().is_some() {
        return Err(AttestError::DuplicateHeader { kind, header: key });
    }
    Ok(first)
}

/// Parse `Name <email> 1700000000 +0100` as git and go-git do.
pub fn parse_ident(v: &[u8]) -> Ident {
    let s = String::from_utf8_lossy(v);
    let (Some(lt), Some(gt)) = (s.find('<'), s.rfind('>')) else {
        return Ident { name: s.trim().to_string(), email: String::new(), date: None };
    };
    if gt < lt {
        return Ident { name: s.trim().to_string(), email: String::new(), date: None };
    }
    let name = s[..lt].trim().to_string();
    let email = s[lt + 1..gt].to_string();
    let date = s[gt + 1..].split_whitespace().next().and_then(|t| t.parse::<i64>().ok()).and_then(rfc3339_utc);
    Ident { name, email, date }
}

/// RFC 3339 in UTC with `Z`, seconds precision (protobuf Timestamp JSON); `None` outside
/// years 1–9999.
pub fn rfc3339_utc(t: i64) -> Option<String> {
    let d = time::OffsetDateTime::from_unix_timestamp(t).ok()?;
    if !(1..=9999).contains(&d.year()) {
        return None;
    }
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year(),
        u8::from(d.month()),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    ))
}

fn signer_info(signature: &[u8]) -> (Vec<SignerInfo>, Option<String>) {
    let start = signature.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(signature.len());
    if !signature[start..].starts_with(b"-----BEGIN SIGNED MESSAGE-----") {
        return (Vec::new(), None);
    }
    let parsed = crate::encoding::armor::decode(signature)
        .map_err(|e| e.to_string())
        .and_then(|der| crate::crypto::cms::verify::parse(&der).map_err(|e| e.to_string()));
    match parsed {
        Ok(p) => (
            vec![SignerInfo {
                attributes: STANDARD.encode(&p.signed_attrs_der),
                certificate: crate::services::fulcio::certificate_pem(&p.signer_cert_der),
            }],
            None,
        ),
        Err(e) => (Vec::new(), Some(e)),
    }
}

/// The statement for a raw commit (`git cat-file commit` bytes) with object id `id`.
pub fn commit_statement(id: &str, raw: &[u8], remote_url: &str) -> Result<Statement, AttestError> {
    let (h, message) = headers(raw);
    let tree = single(&h, "tree", "commit")?.ok_or(AttestError::MissingHeader { kind: "commit", header: "tree" })?;
    let author = single(&h, "author", "commit")?.map(parse_ident);
    let committer = single(&h, "committer", "commit")?.map(parse_ident);
    let parents = h.iter().filter(|(k, _)| *k == b"parent").map(|(_, v)| text(v)).collect();
    let signature = match git::split_object(ObjectKind::Commit, raw) {
        Ok(s) => s.signature,
        Err(git::GitError::NotSigned { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let (signer_info, signer_info_error) = signer_info(&signature);
    Ok(Statement {
        id: id.to_string(),
        subject_name: remote_url.to_string(),
        source: Source::Commit { tree: text(tree), parents, author, committer, message: text(message) },
        signature: text(&signature),
        signer_info,
        signer_info_error,
    })
}

/// The statement for a raw annotated tag (`git cat-file tag` bytes) with object id `id`.
pub fn tag_statement(id: &str, raw: &[u8], remote_url: &str) -> Result<Statement, AttestError> {
    let (payload, signature) = match git::split_tag(raw) {
        Ok(s) => (s.payload, s.signature),
        Err(git::GitError::NotSigned { .. }) => (raw.to_vec(), Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let (h, message) = headers(&payload);
    let object = single(&h, "object", "tag")?.ok_or(AttestError::MissingHeader { kind: "tag", header: "object" })?;
    let object_type = single(&h, "type", "tag")?.ok_or(AttestError::MissingHeader { kind: "tag", header: "type" })?;
    let tag = single(&h, "tag", "tag")?.ok_or(AttestError::MissingHeader { kind: "tag", header: "tag" })?;
    let tagger = single(&h, "tagger", "tag")?.map(parse_ident);
    let (signer_info, signer_info_error) = signer_info(&signature);
    Ok(Statement {
        id: id.to_string(),
        subject_name: remote_url.to_string(),
        source: Source::Tag {
            object: text(object),
            object_type: text(object_type),
            tag: text(tag),
            tagger,
            message: text(message),
        },
        signature: text(&signature),
        signer_info,
        signer_info_error,
    })
}

/// A JSON value with ordered keys.
enum J {
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

/// Push `(key, string)` unless the string is empty (protobuf JSON omits default values).
fn put(o: &mut Vec<(&'static str, J)>, k: &'static str, v: &str) {
    if !v.is_empty() {
        o.push((k, J::Str(v.to_string())));
    }
}

fn ident_json(i: &Ident) -> J {
    let mut o = Vec::new();
    put(&mut o, "name", &i.name);
    put(&mut o, "email", &i.email);
    if let Some(d) = &i.date {
        put(&mut o, "date", d);
    }
    J::Obj(o)
}

fn write(j: &J, indent: usize, out: &mut String) {
    let pad = |n: usize, out: &mut String| out.extend(std::iter::repeat_n(' ', n * 2));
    match j {
        J::Str(s) => crate::pipelines::dsse::go_json_string(s, out),
        J::Arr(items) if items.is_empty() => out.push_str("[]"),
        J::Obj(items) if items.is_empty() => out.push_str("{}"),
        J::Arr(items) => {
            out.push_str("[\n");
            for (i, v) in items.iter().enumerate() {
                pad(indent + 1, out);
                write(v, indent + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(indent, out);
            out.push(']');
        }
        J::Obj(items) => {
            out.push_str("{\n");
            for (i, (k, v)) in items.iter().enumerate() {
                pad(indent + 1, out);
                crate::pipelines::dsse::go_json_string(k, out);
                out.push_str(": ");
                write(v, indent + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(indent, out);
            out.push('}');
        }
    }
}

impl Statement {
    /// The predicate type of this statement.
    pub fn predicate_type(&self) -> &'static str {
        match self.source {
            Source::Commit { .. } => COMMIT_PREDICATE_TYPE,
            Source::Tag { .. } => TAG_PREDICATE_TYPE,
        }
    }

    /// The statement as indented JSON, newline-terminated.
    pub fn to_json(&self) -> String {
        let mut digest = vec![(if self.id.len() == 64 { "sha256" } else { "sha1" }, J::Str(self.id.clone()))];
        let mut source = Vec::new();
        match &self.source {
            Source::Commit { tree, parents, author, committer, message } => {
                put(&mut source, "tree", tree);
                if !parents.is_empty() {
                    source.push(("parents", J::Arr(parents.iter().map(|p| J::Str(p.clone())).collect())));
                }
                if let Some(a) = author {
                    source.push(("author", ident_json(a)));
                }
                if let Some(c) = committer {
                    source.push(("committer", ident_json(c)));
                }
                put(&mut source, "message", message);
            }
            Source::Tag { object, object_type, tag, tagger, message } => {
                digest.push(("gitTag", J::Str(self.id.clone())));
                put(&mut source, "object", object);
                put(&mut source, "object_type", object_type);
                put(&mut source, "tag", tag);
                if let Some(t) = tagger {
                    source.push(("tagger", ident_json(t)));
                }
                put(&mut source, "message", message);
            }
        }
        let mut subject = Vec::new();
        put(&mut subject, "name", &self.subject_name);
        subject.push(("digest", J::Obj(digest)));
        let mut predicate = vec![("source", J::Obj(source))];
        put(&mut predicate, "signature", &self.signature);
        if !self.signer_info.is_empty() {
            let infos = self
                .signer_info
                .iter()
                .map(|s| {
                    let mut o = Vec::new();
                    put(&mut o, "attributes", &s.attributes);
                    put(&mut o, "certificate", &s.certificate);
                    J::Obj(o)
                })
                .collect();
            predicate.push(("signer_info", J::Arr(infos)));
        }
        let doc = J::Obj(vec![
            ("type", J::Str(STATEMENT_TYPE.into())),
            ("predicateType", J::Str(self.predicate_type().into())),
            ("subject", J::Arr(vec![J::Obj(subject)])),
            ("predicate", J::Obj(predicate)),
        ]);
        let mut out = String::new();
        write(&doc, 0, &mut out);
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../shared/fixtures/real/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn commit_fields_signer_and_json_shape() {
        let dir = "examples/online-commit__sigstore_gitsign__9d6c4c63e05b62088998795e483cd6c8b33c29cb";
        let raw = real("sigstore_gitsign__9d6c4c63e05b62088998795e483cd6c8b33c29cb.commit");
        let s = commit_statement("9d6c4c63e05b62088998795e483cd6c8b33c29cb", &raw, "").unwrap();
        assert_eq!(s.predicate_type(), COMMIT_PREDICATE_TYPE);
        assert_eq!(s.signature.as_bytes(), real(&format!("{dir}/signature.txt")));
        assert_eq!(s.signer_info.len(), 1);
        let attrs = STANDARD.decode(&s.signer_info[0].attributes).unwrap();
        assert_eq!(attrs, real(&format!("{dir}/signed_attrs.der")));
        assert_eq!(attrs[0], 0x31, "signed attributes are SET-tagged");
        let cert = crate::services::fulcio::pem_certificates(&s.signer_info[0].certificate).unwrap();
        let want =
            crate::services::fulcio::pem_certificates(&String::from_utf8(real(&format!("{dir}/cert0.pem"))).unwrap())
                .unwrap();
        assert_eq!(cert, want);
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(v["type"], STATEMENT_TYPE);
        assert_eq!(v["subject"][0]["digest"]["sha1"], "9d6c4c63e05b62088998795e483cd6c8b33c29cb");
        assert!(v["subject"][0].get("name").is_none(), "no remote: no name");
        let payload = String::from_utf8(real(&format!("{dir}/payload.bin"))).unwrap();
        let msg = payload.split_once("\n\n").unwrap().1;
        assert_eq!(v["predicate"]["source"]["message"], msg);
        assert!(payload.contains(&format!("tree {}\n", v["predicate"]["source"]["tree"].as_str().unwrap())));
    }

    #[test]
    fn tag_statement_has_tag_type_and_git_tag_digest() {
        let raw = real("sigstore_gitsign__00143a3f81805e3a3566e7a7c6edf4c94780794a.tag");
        let s = tag_statement("00143a3f81805e3a3566e7a7c6edf4c94780794a", &raw, "https://example.test/r.git").unwrap();
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(v["predicateType"], TAG_PREDICATE_TYPE);
        assert_eq!(v["subject"][0]["digest"]["gitTag"], "00143a3f81805e3a3566e7a7c6edf4c94780794a");
        assert_eq!(v["subject"][0]["name"], "https://example.test/r.git");
        let src = &v["predicate"]["source"];
        assert_eq!(src["object"], "d7565c405e188d1ad41d85d5f46adaeec4b85941");
        assert_eq!(src["object_type"], "commit");
        assert_eq!(src["tag"], "v0.15.0");
        assert_eq!(src["message"], "v0.15.0\n");
        // 1777665012 -0400 is 2026-05-01T19:50:12Z
        assert_eq!(src["tagger"]["date"], "2026-05-01T19:50:12Z");
        assert_eq!(src["tagger"]["email"], "billy@chainguard.dev");
        assert!(v["predicate"]["signature"].as_str().unwrap().starts_with("-----BEGIN SIGNED MESSAGE-----\n"));
        assert_eq!(v["predicate"]["signer_info"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn unsigned_duplicates_escaping_and_idents() {
        let raw = b"tree t\nauthor A <a@x> 0 +0000\ncommitter C <c@x> 1700000000 +0100\n\nmsg <&> \x01 caf\xe9\n";
        let s = commit_statement("0123", raw, "").unwrap();
        assert!(s.signature.is_empty() && s.signer_info.is_empty());
        let j = s.to_json();
        assert!(j.contains("\"message\": \"msg \\u003c\\u0026\\u003e \\u0001 caf\\ufffd\\n\""), "{j}");
        assert!(!j.contains("\"signature\""), "{j}");
        assert!(!j.contains("\"parents\""), "{j}");
        assert!(j.contains("\"date\": \"1970-01-01T00:00:00Z\""), "{j}");
        assert!(j.contains("\"date\": \"2023-11-14T22:13:20Z\""), "{j}");
        let dup = b"tree t\nauthor A <a@x> 0 +0000\nauthor M <m@x> 0 +0000\ncommitter C <c@x> 0 +0000\n\nm\n";
        assert_eq!(
            commit_statement("1", dup, ""),
            Err(AttestError::DuplicateHeader { kind: "commit", header: "author" })
        );
        assert!(matches!(
            commit_statement("1", b"author A <a@x> 0 +0000\n\nm", ""),
            Err(AttestError::MissingHeader { .. })
        ));
        let dup_tag = b"object o\ntype commit\ntag v1\ntagger A <a@x> 0 +0000\ntagger B <b@x> 0 +0000\n\nr\n";
        assert!(matches!(tag_statement("1", dup_tag, ""), Err(AttestError::DuplicateHeader { header: "tagger", .. })));
        let id = parse_ident(b"  Jane  Doe <j@d> notanumber +0000");
        assert_eq!((id.name.as_str(), id.email.as_str(), id.date), ("Jane  Doe", "j@d", None));
        assert_eq!(parse_ident(b"broken").email, "");
        // Arbitrary bytes never panic.
        for junk in [&b""[..], b"\n", b"tree", b"tree x\n gpgsig", b"\xff\xfe\n\n\xff"] {
            let _ = commit_statement("x", junk, "");
            let _ = tag_statement("x", junk, "");
        }
    }

    #[test]
    fn broken_cms_reports_why_without_failing() {
        let raw = b"tree t\ngpgsig -----BEGIN SIGNED MESSAGE-----\n AAAA\n -----END SIGNED MESSAGE-----\n\nm\n";
        let s = commit_statement("1", raw, "").unwrap();
        assert!(s.signer_info.is_empty());
        assert!(s.signer_info_error.is_some());
    }
}
