//! A small TUF client (The Update Framework, specification 1.0, client workflow §5.3–5.7) that
//! keeps Sigstore's `trusted_root.json` up to date from a TUF repository such as
//! `https://tuf-repo-cdn.sigstore.dev`.
//!
//! What it checks, in order, against one fixed "update start time":
//! - **root** (§5.3): `N+1.root.json`, `N+2.root.json`, … until the mirror answers 404/403; each
//!   new root must be signed by a threshold of the *old* root's root keys **and** of its own, and
//!   carry exactly version N+1. The final root must not be expired.
//! - **timestamp** (§5.4): signed by the root's timestamp keys; neither its version nor the
//!   snapshot version it names may go below the cached copy's (rollback); not expired.
//! - **snapshot** (§5.5): length, hashes and version as the timestamp says; signed by the snapshot
//!   keys; no targets metadata version below the cached snapshot's; not expired.
//! - **targets** (§5.6): length, hashes and version as the snapshot says; signed; not expired.
//! - **target file** (§5.7): length and every known hash (sha256, sha512) as targets says.
//!
//! Every download has a size limit. With consistent snapshots (Sigstore's repositories) the
//! client fetches `N.snapshot.json`, `N.targets.json` and `targets/<sha256>.<name>`.
//! Signatures are over the OLPC canonical JSON of `signed` ([`canonical_json`]); key types
//! `ecdsa` / `ecdsa-sha2-nistp256` (PEM SubjectPublicKeyInfo), `ecdsa-sha2-nistp384` and
//! `ed25519` (hex). Keys of other types never count towards a threshold. Key ids are taken as
//! labels (the specification does not require clients to recompute them, and Sigstore's
//! legacy key ids are not hashes of the keys); a key is counted once however many ids or
//! signatures name it.
//!
//! The cache follows sigstore-go (what cosign 2+ and Go gitsign use): the base directory is
//! `$TUF_ROOT`, else `~/.sigstore/root`; each mirror gets a subdirectory named after its URL
//! (`https://` dropped, `/` → `-`) holding `root.json`, `timestamp.json`, `snapshot.json`,
//! `targets.json` and `targets/trusted_root.json`; `remote.json` in the base directory records
//! the mirror `gitsign initialize` chose. Files are written atomically (temporary file, then
//! rename). Metadata expiry is checked against the current time, as TUF requires (this is
//! freshness of the trust metadata, not the time a signature is verified at). At run time an
//! expired cache is refreshed at most once per process, never offline, with a backoff on disk
//! after failures, and accepted with a warning for [`MAX_EXPIRED_DAYS`] after expiry
//! ([`runtime_trusted_root`]).
use crate::crypto::pubkey::{self, Curve, HashAlg};
use base64::Engine;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256, Sha512};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Sigstore's public-good TUF repository.
pub const DEFAULT_MIRROR: &str = "https://tuf-repo-cdn.sigstore.dev";
/// The target holding the Sigstore trusted root.
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";
/// The embedded production TUF `root.json` (the initial trust anchor).
pub static EMBEDDED_ROOT: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/trust/production_tuf_root.json"));

/// Largest `root.json` accepted (python-tuf's default).
pub const MAX_ROOT_BYTES: u64 = 512_000;
/// Largest `timestamp.json` accepted.
pub const MAX_TIMESTAMP_BYTES: u64 = 16_384;
/// Largest `snapshot.json` accepted when the timestamp gives no length.
pub const MAX_SNAPSHOT_BYTES: u64 = 2_000_000;
/// Largest `targets.json` accepted when the snapshot gives no length.
pub const MAX_TARGETS_BYTES: u64 = 5_000_000;
/// Largest target file accepted (the public-good trusted root is about 7 KiB).
pub const MAX_TARGET_BYTES: u64 = 16 << 20;
/// Most root versions walked in one update.
pub const MAX_ROOT_ROTATIONS: u64 = 256;

/// Why a TUF update or a cache load failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TufError {
    /// A local file could not be read or written.
    #[error("cannot {action} {path}: {reason}")]
    Io {
        /// What was being done (`read`, `write`, …).
        action: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The mirror could not be reached or answered with an error.
    #[error("cannot fetch {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// A download or file was larger than allowed.
    #[error("{what} ({url}) is larger than {limit} bytes; refusing it")]
    TooLarge {
        /// Which file.
        what: String,
        /// Where it came from.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// Metadata that is not valid TUF JSON of the expected role.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which file.
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// Fewer valid signatures than the role's threshold.
    #[error("{what} is not signed by enough trusted {role} keys: {valid} valid of threshold {threshold}")]
    Threshold {
        /// Which file.
        what: String,
        /// The role whose keys count.
        role: String,
        /// Distinct keys with a valid signature.
        valid: usize,
        /// Keys needed.
        threshold: u64,
    },
    /// Metadata past its expiry date (a freeze attack, or a repository not re-signed in time).
    #[error("{role} metadata version {version} expired at {expires}")]
    Expired {
        /// The role.
        role: String,
        /// Its version.
        version: u64,
        /// Its `expires` value.
        expires: String,
    },
    /// A version lower than one already trusted (a rollback attack).
    #[error("rollback refused: {what} version {new} is lower than the trusted version {trusted}")]
    Rollback {
        /// What went backwards.
        what: String,
        /// The trusted version.
        trusted: u64,
        /// The version offered.
        new: u64,
    },
    /// A version other than the one the referring metadata names.
    #[error("{what} has version {got}, expected {expected}")]
    Version {
        /// Which file.
        what: String,
        /// The version named by the referring metadata.
        expected: u64,
        /// The version found.
        got: u64,
    },
    /// Length or hash differ from what the trusted metadata says.
    #[error("{what} does not match the trusted metadata: {reason}")]
    Mismatch {
        /// Which file.
        what: String,
        /// Which check failed.
        reason: String,
    },
    /// The target is not listed in the top-level targets metadata.
    #[error("target {0} is not listed in the trusted targets metadata")]
    TargetNotFound(String),
    /// No cached TUF state here.
    #[error("no TUF cache in {0} (run `gitsign initialize` to create one)")]
    NotInitialized(String),
    /// The cached metadata expired too long ago to be used without a refresh (fail closed).
    #[error(
        "the cached TUF metadata in {dir} expired {age} ago ({roles}), longer than the {limit_days} days an expired trusted root is accepted; refusing to use it: run `gitsign initialize` with access to {mirror} (or name a trusted root with gitsign.trustedRoot)"
    )]
    ExpiredTooLong {
        /// The cache directory.
        dir: String,
        /// The mirror.
        mirror: String,
        /// Roles that expired.
        roles: String,
        /// How long ago, in words.
        age: String,
        /// The limit in days.
        limit_days: i64,
    },
}

fn malformed(what: &str, reason: impl std::fmt::Display) -> TufError {
    TufError::Malformed { what: what.to_string(), reason: reason.to_string() }
}

// ---------------------------------------------------------------------------------------------
// Canonical JSON

/// The OLPC canonical JSON form TUF signs: object keys sorted (by code point), no whitespace,
/// strings with only `"` and `\` escaped (everything else, control characters included, raw),
/// integers only.
pub fn canonical_json(v: &Value) -> Result<Vec<u8>, TufError> {
    let mut out = Vec::new();
    write_canonical(v, &mut out)?;
    Ok(out)
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) -> Result<(), TufError> {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            let text = if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                return Err(malformed("metadata", format!("{n} is not an integer (canonical JSON has no floats)")));
            };
            out.extend_from_slice(text.as_bytes());
        }
        Value::String(s) => write_canonical_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sorting UTF-8 bytes is sorting code points; done here so the result does not
            // depend on serde_json's map type.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical_string(k, out);
                out.push(b':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out)?;
                }
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_canonical_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for b in s.bytes() {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

// ---------------------------------------------------------------------------------------------
// Metadata

/// A key as a root lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Key {
    /// `ecdsa`, `ecdsa-sha2-nistp256`, `ed25519`, …
    pub keytype: String,
    /// `ecdsa-sha2-nistp256`, `ecdsa-sha2-nistp384`, `ed25519`, …
    pub scheme: String,
    /// The public key.
    pub keyval: KeyVal,
}

/// `keyval` of a key.
#[derive(Debug, Clone, Deserialize)]
pub struct KeyVal {
    /// PEM SPKI for ECDSA keys, hex for Ed25519.
    pub public: String,
}

/// A role's keys and threshold.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleKeys {
    /// Key ids allowed to sign for the role.
    pub keyids: Vec<String>,
    /// Distinct keys needed.
    pub threshold: u64,
}

/// `signed` of `root.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct RootMeta {
    /// Version, ≥ 1.
    pub version: u64,
    /// Expiry, RFC 3339.
    pub expires: String,
    /// Whether snapshot, targets and target files are fetched by version / hash prefix.
    #[serde(default)]
    pub consistent_snapshot: bool,
    /// Keys by id.
    pub keys: BTreeMap<String, Key>,
    /// Top-level roles.
    pub roles: BTreeMap<String, RoleKeys>,
}

/// A metadata file as timestamp or snapshot describe it.
#[derive(Debug, Clone, Deserialize)]
pub struct MetaFile {
    /// Version.
    pub version: u64,
    /// Length in bytes, when given.
    #[serde(default)]
    pub length: Option<u64>,
    /// Hashes (algorithm → hex), when given.
    #[serde(default)]
    pub hashes: Option<BTreeMap<String, String>>,
}

/// `signed` of `timestamp.json` or `snapshot.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct MetaListing {
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires: String,
    /// Described files by name.
    pub meta: BTreeMap<String, MetaFile>,
}

/// A target file as targets describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct TargetFile {
    /// Length in bytes.
    pub length: u64,
    /// Hashes (algorithm → hex).
    pub hashes: BTreeMap<String, String>,
}

/// `signed` of `targets.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct TargetsMeta {
    /// Version.
    pub version: u64,
    /// Expiry.
    pub expires: String,
    /// Target files by name (delegations are not followed).
    #[serde(default)]
    pub targets: BTreeMap<String, TargetFile>,
}

/// Version and expiry, common to every role.
pub trait Common {
    /// The metadata version.
    fn version(&self) -> u64;
    /// The `expires` value.
    fn expires(&self) -> &str;
}

macro_rules! common {
    ($t:ty) => {
        impl Common for $t {
            fn version(&self) -> u64 {
                self.version
            }
            fn expires(&self) -> &str {
                &self.expires
            }
        }
    };
}
common!(RootMeta);
common!(MetaListing);
common!(TargetsMeta);

/// A signed metadata file: its bytes, the canonical bytes the signatures cover, the signatures
/// and the parsed `signed` part.
#[derive(Debug, Clone)]
pub struct Signed<T> {
    /// The file as served.
    pub raw: Vec<u8>,
    /// Canonical JSON of `signed`.
    pub canonical: Vec<u8>,
    /// `(keyid, hex signature)` pairs.
    pub signatures: Vec<(String, String)>,
    /// The parsed `signed` part.
    pub signed: T,
}

#[derive(Deserialize)]
struct RawSignature {
    keyid: String,
    sig: String,
}

/// Parse a metadata file of role `role` (`root`, `timestamp`, `snapshot`, `targets`).
pub fn parse_metadata<T: DeserializeOwned + Common>(raw: &[u8], role: &str, what: &str) -> Result<Signed<T>, TufError> {
    let v: Value = serde_json::from_slice(raw).map_err(|e| malformed(what, e))?;
    let obj = v.as_object().ok_or_else(|| malformed(what, "not a JSON object"))?;
    let signed = obj.get("signed").ok_or_else(|| malformed(what, "no `signed`"))?;
    let sigs = obj.get("signatures").ok_or_else(|| malformed(what, "no `signatures`"))?;
    let sigs: Vec<RawSignature> = serde_json::from_value(sigs.clone()).map_err(|e| malformed(what, e))?;
    let ty = signed.get("_type").and_then(Value::as_str).unwrap_or_default();
    if ty != role {
        return Err(malformed(what, format!("_type is {ty:?}, expected {role:?}")));
    }
    if let Some(spec) = signed.get("spec_version").and_then(Value::as_str)
        && spec.split('.').next() != Some("1")
    {
        return Err(malformed(what, format!("unsupported spec_version {spec}")));
    }
    let canonical = canonical_json(signed).map_err(|e| malformed(what, e))?;
    let parsed: T = serde_json::from_value(signed.clone()).map_err(|e| malformed(what, e))?;
    if parsed.version() == 0 {
        return Err(malformed(what, "version 0 (versions start at 1)"));
    }
    expiry_unix(parsed.expires()).map_err(|e| malformed(what, e))?;
    Ok(Signed {
        raw: raw.to_vec(),
        canonical,
        signatures: sigs.into_iter().map(|s| (s.keyid, s.sig)).collect(),
        signed: parsed,
    })
}

fn expiry_unix(expires: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("bad expires {expires:?}: {e}"))
}

fn check_not_expired<T: Common>(m: &Signed<T>, role: &str, now: i64) -> Result<(), TufError> {
    if is_expired(&m.signed, now) {
        return Err(TufError::Expired {
            role: role.into(),
            version: m.signed.version(),
            expires: m.signed.expires().into(),
        });
    }
    Ok(())
}

fn is_expired<T: Common + ?Sized>(m: &T, now: i64) -> bool {
    expiry_unix(m.expires()).map_or(true, |e| now >= e)
}

// ---------------------------------------------------------------------------------------------
// Signatures

/// Whether `sig_hex` is a valid signature by `key` over `msg`. Unknown key types, malformed
/// keys and malformed signatures are simply not valid.
pub fn signature_valid(key: &Key, msg: &[u8], sig_hex: &str) -> bool {
    let Ok(sig) = hex::decode(sig_hex.trim()) else { return false };
    if sig.is_empty() {
        return false;
    }
    match (key.keytype.as_str(), key.scheme.as_str()) {
        ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
            ecdsa_valid(key, Curve::P256, HashAlg::Sha256, msg, &sig)
        }
        ("ecdsa" | "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384") => {
            ecdsa_valid(key, Curve::P384, HashAlg::Sha384, msg, &sig)
        }
        ("ed25519", "ed25519") => {
            let Ok(pk) = hex::decode(key.keyval.public.trim()) else { return false };
            pk.len() == 32
                && ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &pk).verify(msg, &sig).is_ok()
        }
        _ => false,
    }
}

fn ecdsa_valid(key: &Key, curve: Curve, hash: HashAlg, msg: &[u8], sig: &[u8]) -> bool {
    let Some(spki) = pem_public_key(&key.keyval.public) else { return false };
    pubkey::curve_of(&spki).is_ok_and(|c| c == curve) && pubkey::verify(&spki, hash, msg, sig).is_ok()
}

/// DER of a `-----BEGIN PUBLIC KEY-----` block (base64 lines may be of any width).
fn pem_public_key(pem: &str) -> Option<Vec<u8>> {
    let body =
        pem.trim().strip_prefix("-----BEGIN PUBLIC KEY-----")?.trim_end().strip_suffix("-----END PUBLIC KEY-----")?;
    let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Check that `m` carries valid signatures from at least `threshold` distinct keys of `role`
/// as `root` defines it.
pub fn verify_role<T>(root: &RootMeta, role: &str, m: &Signed<T>, what: &str) -> Result<(), TufError> {
    let r = root.roles.get(role).ok_or_else(|| malformed("root.json", format!("no {role} role")))?;
    if r.threshold == 0 {
        return Err(malformed("root.json", format!("{role} threshold is 0")));
    }
    let mut counted: BTreeSet<(String, String)> = BTreeSet::new();
    let ids: BTreeSet<&String> = r.keyids.iter().collect();
    for id in ids {
        let Some(key) = root.keys.get(id) else { continue };
        let ident = (key.keytype.clone(), key.keyval.public.trim().to_string());
        if counted.contains(&ident) {
            continue;
        }
        if m.signatures.iter().filter(|(k, _)| k == id).any(|(_, s)| signature_valid(key, &m.canonical, s)) {
            counted.insert(ident);
        }
    }
    if (counted.len() as u64) < r.threshold {
        return Err(TufError::Threshold {
            what: what.into(),
            role: role.into(),
            valid: counted.len(),
            threshold: r.threshold,
        });
    }
    Ok(())
}

/// Parse a `root.json` and check that it is signed by a threshold of its own root keys.
pub fn parse_root(raw: &[u8], what: &str) -> Result<Signed<RootMeta>, TufError> {
    let root: Signed<RootMeta> = parse_metadata(raw, "root", what)?;
    for role in ["root", "timestamp", "snapshot", "targets"] {
        if !root.signed.roles.contains_key(role) {
            return Err(malformed(what, format!("no {role} role")));
        }
    }
    verify_role(&root.signed, "root", &root, what)?;
    Ok(root)
}

/// Check `bytes` against the length and hashes a description gives. `hashes` must contain at
/// least one known algorithm when `require_hash` is set; unknown algorithms are skipped.
fn check_length_and_hashes(
    bytes: &[u8],
    length: Option<u64>,
    hashes: Option<&BTreeMap<String, String>>,
    require_hash: bool,
    what: &str,
) -> Result<(), TufError> {
    let mismatch = |reason: String| TufError::Mismatch { what: what.into(), reason };
    if let Some(len) = length
        && bytes.len() as u64 != len
    {
        return Err(mismatch(format!("length {} instead of {len}", bytes.len())));
    }
    let mut checked = 0;
    for (alg, want) in hashes.into_iter().flatten() {
        let got = match alg.as_str() {
            "sha256" => hex::encode(Sha256::digest(bytes)),
            "sha512" => hex::encode(Sha512::digest(bytes)),
            _ => continue,
        };
        if !got.eq_ignore_ascii_case(want) {
            return Err(mismatch(format!("{alg} {got} instead of {want}")));
        }
        checked += 1;
    }
    if require_hash && checked == 0 {
        return Err(mismatch("no sha256 or sha512 hash to check it against".into()));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Fetching

/// What a mirror answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The body (at most the limit asked for).
    Body(Vec<u8>),
    /// 404 or 403: the file does not exist (ends the root walk).
    NotFound,
}

/// Downloads with a size limit.
pub trait Fetcher {
    /// GET `url`, refusing bodies over `limit` bytes with [`TufError::TooLarge`].
    fn fetch(&self, url: &str, limit: u64, what: &str) -> Result<Fetched, TufError>;
}

/// A [`Fetcher`] over the crate's HTTP client (redirects are not followed).
pub struct HttpFetcher {
    client: reqwest::blocking::Client,
}

impl HttpFetcher {
    /// Wrap a client built by [`crate::services::http::client`].
    pub fn new(client: reqwest::blocking::Client) -> HttpFetcher {
        HttpFetcher { client }
    }
}

impl Fetcher for HttpFetcher {
    fn fetch(&self, url: &str, limit: u64, what: &str) -> Result<Fetched, TufError> {
        let fail = |reason: String| TufError::Fetch { url: url.into(), reason };
        let resp = self.client.get(url).send().map_err(|e| fail(crate::services::http::error_chain(&e)))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
            return Ok(Fetched::NotFound);
        }
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}")));
        }
        match crate::services::http::read_limited(resp, limit) {
            Ok(b) => Ok(Fetched::Body(b)),
            Err(crate::services::http::BodyError::TooLarge(limit)) => {
                Err(TufError::TooLarge { what: what.into(), url: url.into(), limit })
            }
            Err(crate::services::http::BodyError::Read(e)) => Err(fail(e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cache layout

/// The cache base directory: `$TUF_ROOT`, else `~/.sigstore/root` (as cosign and gitsign).
pub fn cache_base() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("TUF_ROOT").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(d));
    }
    dirs::home_dir().map(|h| h.join(".sigstore").join("root"))
}

/// The directory name a mirror's state lives under (sigstore-go's rule: drop `https://`,
/// turn `/` into `-`).
pub fn mirror_dir_name(mirror: &str) -> String {
    let m = mirror.trim_end_matches('/');
    m.strip_prefix("https://").unwrap_or(m).replace('/', "-")
}

/// The mirror to use at run time: `$TUF_MIRROR`, else the one `gitsign initialize` recorded in
/// `<base>/remote.json`, else [`DEFAULT_MIRROR`].
pub fn selected_mirror(base: &Path) -> String {
    if let Ok(m) = std::env::var("TUF_MIRROR")
        && !m.trim().is_empty()
    {
        return m.trim().trim_end_matches('/').to_string();
    }
    #[derive(Deserialize)]
    struct Remote {
        mirror: String,
    }
    read_bounded(&base.join("remote.json"), 64 << 10)
        .ok()
        .and_then(|b| serde_json::from_slice::<Remote>(&b).ok())
        .map(|r| r.mirror.trim().trim_end_matches('/').to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| DEFAULT_MIRROR.to_string())
}

/// Record the mirror in `<base>/remote.json` (cosign's file).
pub fn record_mirror(base: &Path, mirror: &str) -> Result<(), TufError> {
    let body = serde_json::json!({ "mirror": mirror }).to_string();
    write_atomic(&base.join("remote.json"), body.as_bytes())
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, TufError> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| TufError::Io { action: "read", path: shown.clone(), reason: e.to_string() };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    f.take(limit + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > limit {
        return Err(TufError::TooLarge { what: "cached file".into(), url: shown, limit });
    }
    Ok(buf)
}

/// Write `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TufError> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| TufError::Io { action: "write", path: shown.clone(), reason: e.to_string() };
    let dir = path.parent().ok_or_else(|| TufError::Io {
        action: "write",
        path: shown.clone(),
        reason: "no parent directory".into(),
    })?;
    std::fs::create_dir_all(dir).map_err(io)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let tmp = dir.join(format!(".{name}.tmp-{}-{nanos}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

// ---------------------------------------------------------------------------------------------
// The client

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Whether the update started from the seed root (false: from the cached root).
    pub started_from_seed: bool,
    /// Root version trusted before the update.
    pub root_version_before: u64,
    /// Root version trusted after it.
    pub root_version: u64,
    /// Timestamp version.
    pub timestamp_version: u64,
    /// Snapshot version.
    pub snapshot_version: u64,
    /// Targets version.
    pub targets_version: u64,
    /// The target file (verified).
    pub target: Vec<u8>,
    /// Its SHA-256, hex.
    pub target_sha256: String,
    /// Whether the target was downloaded (false: the cached copy matched).
    pub target_downloaded: bool,
}

/// A cache loaded without network access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// The target file (its length and hashes match the cached targets metadata).
    pub target: Vec<u8>,
    /// Roles whose cached metadata has expired (an update is due).
    pub expired: Vec<&'static str>,
    /// The earliest expiry among the expired roles (unix seconds), `None` when none expired.
    pub expired_since: Option<i64>,
    /// Cached root version.
    pub root_version: u64,
    /// Cached targets version.
    pub targets_version: u64,
}

/// A TUF client for one mirror and its cache directory.
pub struct Client<'a> {
    dir: PathBuf,
    mirror: String,
    fetcher: &'a dyn Fetcher,
    now: i64,
}

impl<'a> Client<'a> {
    /// A client caching under `dir` (the mirror's own directory), fetching from `mirror`,
    /// checking expiry against unix time `now` (the fixed update start time).
    pub fn new(dir: impl Into<PathBuf>, mirror: &str, fetcher: &'a dyn Fetcher, now: i64) -> Client<'a> {
        Client { dir: dir.into(), mirror: mirror.trim_end_matches('/').to_string(), fetcher, now }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn target_path(&self, name: &str) -> PathBuf {
        self.dir.join("targets").join(name)
    }

    fn local<T: DeserializeOwned + Common>(&self, file: &str, role: &str, limit: u64) -> Option<Signed<T>> {
        let raw = read_bounded(&self.path(file), limit).ok()?;
        parse_metadata(&raw, role, file).ok()
    }

    fn fetch_required(&self, url: &str, limit: u64, what: &str) -> Result<Vec<u8>, TufError> {
        match self.fetcher.fetch(url, limit, what)? {
            Fetched::Body(b) => Ok(b),
            Fetched::NotFound => Err(TufError::Fetch { url: url.into(), reason: "not found (HTTP 404/403)".into() }),
        }
    }

    /// Load and check the cached state without network access: every signature, version,
    /// length and hash is checked as in an update; expiry is only reported.
    pub fn load_cached(&self, target_name: &str) -> Result<Cached, TufError> {
        let root_path = self.path("root.json");
        if !root_path.exists() {
            return Err(TufError::NotInitialized(self.dir.display().to_string()));
        }
        let root = parse_root(&read_bounded(&root_path, MAX_ROOT_BYTES)?, "cached root.json")?;
        let ts: Signed<MetaListing> = parse_metadata(
            &read_bounded(&self.path("timestamp.json"), MAX_TIMESTAMP_BYTES)?,
            "timestamp",
            "cached timestamp.json",
        )?;
        verify_role(&root.signed, "timestamp", &ts, "cached timestamp.json")?;
        let snap_meta = meta_entry(&ts, "snapshot.json", "cached timestamp.json")?;
        let snap_raw = read_bounded(&self.path("snapshot.json"), MAX_SNAPSHOT_BYTES)?;
        let snap = self.check_snapshot(&root.signed, &snap_raw, snap_meta, "cached snapshot.json")?;
        let tmeta = meta_entry(&snap, "targets.json", "cached snapshot.json")?;
        let targets_raw = read_bounded(&self.path("targets.json"), MAX_TARGETS_BYTES)?;
        let targets = self.check_targets(&root.signed, &targets_raw, tmeta, "cached targets.json")?;
        let tf = targets.signed.targets.get(target_name).ok_or_else(|| TufError::TargetNotFound(target_name.into()))?;
        let target = read_bounded(&self.target_path(target_name), MAX_TARGET_BYTES)?;
        check_length_and_hashes(&target, Some(tf.length), Some(&tf.hashes), true, &format!("cached {target_name}"))?;
        let mut expired = Vec::new();
        let mut expired_since: Option<i64> = None;
        let roles: [(&'static str, &dyn Common); 4] = [
            ("root", &root.signed),
            ("timestamp", &ts.signed),
            ("snapshot", &snap.signed),
            ("targets", &targets.signed),
        ];
        for (role, m) in roles {
            if is_expired(m, self.now) {
                expired.push(role);
                let at = expiry_unix(m.expires()).unwrap_or(i64::MIN);
                expired_since = Some(expired_since.map_or(at, |e| e.min(at)));
            }
        }
        Ok(Cached {
            target,
            expired,
            expired_since,
            root_version: root.signed.version,
            targets_version: targets.signed.version,
        })
    }

    fn check_snapshot(
        &self,
        root: &RootMeta,
        raw: &[u8],
        meta: &MetaFile,
        what: &str,
    ) -> Result<Signed<MetaListing>, TufError> {
        check_length_and_hashes(raw, meta.length, meta.hashes.as_ref(), false, what)?;
        let snap: Signed<MetaListing> = parse_metadata(raw, "snapshot", what)?;
        verify_role(root, "snapshot", &snap, what)?;
        if snap.signed.version != meta.version {
            return Err(TufError::Version { what: what.into(), expected: meta.version, got: snap.signed.version });
        }
        Ok(snap)
    }

    fn check_targets(
        &self,
        root: &RootMeta,
        raw: &[u8],
        meta: &MetaFile,
        what: &str,
    ) -> Result<Signed<TargetsMeta>, TufError> {
        check_length_and_hashes(raw, meta.length, meta.hashes.as_ref(), false, what)?;
        let targets: Signed<TargetsMeta> = parse_metadata(raw, "targets", what)?;
        verify_role(root, "targets", &targets, what)?;
        if targets.signed.version != meta.version {
            return Err(TufError::Version { what: what.into(), expected: meta.version, got: targets.signed.version });
        }
        Ok(targets)
    }

    /// Run the update workflow and return the verified target `target_name`.
    ///
    /// `seed` is the root to start from when the cache has none (or, with `replace_root`, in
    /// place of the cached one): the embedded production root or one the user supplied. It
    /// must be signed by a threshold of its own root keys. Each file is cached once verified.
    pub fn update(&self, seed: &[u8], replace_root: bool, target_name: &str) -> Result<Update, TufError> {
        if target_name.is_empty() || target_name.contains(['/', '\\']) || target_name.starts_with('.') {
            return Err(malformed("target name", format!("{target_name:?} is not a plain file name")));
        }
        let now = self.now;
        // 5.2: the trusted root.
        let seed_root = parse_root(seed, "initial root.json")?;
        let cached_root = if replace_root {
            None
        } else {
            read_bounded(&self.path("root.json"), MAX_ROOT_BYTES)
                .ok()
                .and_then(|b| parse_root(&b, "cached root.json").ok())
        };
        // The cached root, once verified, supersedes the seed: it is where the last update
        // left the chain (versions of unrelated roots are not comparable).
        let started_from_seed = cached_root.is_none();
        let mut root = match cached_root {
            Some(c) => c,
            None => {
                write_atomic(&self.path("root.json"), &seed_root.raw)?;
                seed_root
            }
        };
        let root_version_before = root.signed.version;
        // 5.3: walk N+1.root.json, N+2.root.json, …
        for _ in 0..MAX_ROOT_ROTATIONS {
            let next = root.signed.version + 1;
            let what = format!("{next}.root.json");
            let url = format!("{}/{what}", self.mirror);
            let raw = match self.fetcher.fetch(&url, MAX_ROOT_BYTES, &what)? {
                Fetched::Body(b) => b,
                Fetched::NotFound => break,
            };
            let new: Signed<RootMeta> = parse_metadata(&raw, "root", &what)?;
            verify_role(
                &root.signed,
                "root",
                &new,
                &format!("{what} (checked with the keys of root v{})", root.signed.version),
            )?;
            verify_role(&new.signed, "root", &new, &format!("{what} (checked with its own keys)"))?;
            if new.signed.version != next {
                return Err(TufError::Version { what, expected: next, got: new.signed.version });
            }
            for role in ["root", "timestamp", "snapshot", "targets"] {
                if !new.signed.roles.contains_key(role) {
                    return Err(malformed(&what, format!("no {role} role")));
                }
            }
            write_atomic(&self.path("root.json"), &new.raw)?;
            root = new;
        }
        check_not_expired(&root, "root", now)?;

        // 5.4: timestamp. A cached copy counts only if today's root keys still vouch for it
        // (after a key rotation the old one is discarded, which is the spec's fast-forward
        // recovery).
        let cached_ts: Option<Signed<MetaListing>> = self
            .local("timestamp.json", "timestamp", MAX_TIMESTAMP_BYTES)
            .filter(|t| verify_role(&root.signed, "timestamp", t, "cached timestamp.json").is_ok());
        let url = format!("{}/timestamp.json", self.mirror);
        let raw = self.fetch_required(&url, MAX_TIMESTAMP_BYTES, "timestamp.json")?;
        let ts: Signed<MetaListing> = parse_metadata(&raw, "timestamp", "timestamp.json")?;
        verify_role(&root.signed, "timestamp", &ts, "timestamp.json")?;
        let snap_meta = meta_entry(&ts, "snapshot.json", "timestamp.json")?.clone();
        if let Some(old) = &cached_ts {
            if ts.signed.version < old.signed.version {
                return Err(TufError::Rollback {
                    what: "timestamp".into(),
                    trusted: old.signed.version,
                    new: ts.signed.version,
                });
            }
            if let Some(old_snap) = old.signed.meta.get("snapshot.json")
                && snap_meta.version < old_snap.version
            {
                return Err(TufError::Rollback {
                    what: "snapshot (as named by timestamp)".into(),
                    trusted: old_snap.version,
                    new: snap_meta.version,
                });
            }
        }
        check_not_expired(&ts, "timestamp", now)?;
        write_atomic(&self.path("timestamp.json"), &ts.raw)?;

        // 5.5: snapshot.
        let cached_snap: Option<Signed<MetaListing>> = self
            .local("snapshot.json", "snapshot", MAX_SNAPSHOT_BYTES)
            .filter(|s| verify_role(&root.signed, "snapshot", s, "cached snapshot.json").is_ok());
        let reusable = cached_snap.as_ref().is_some_and(|s| {
            s.signed.version == snap_meta.version
                && check_length_and_hashes(&s.raw, snap_meta.length, snap_meta.hashes.as_ref(), false, "").is_ok()
        });
        let snap = match (&cached_snap, reusable) {
            (Some(s), true) => s.clone(),
            _ => {
                let what = if root.signed.consistent_snapshot {
                    format!("{}.snapshot.json", snap_meta.version)
                } else {
                    "snapshot.json".into()
                };
                let limit = snap_meta.length.unwrap_or(MAX_SNAPSHOT_BYTES).min(MAX_SNAPSHOT_BYTES);
                let raw = self.fetch_required(&format!("{}/{what}", self.mirror), limit, &what)?;
                let snap = self.check_snapshot(&root.signed, &raw, &snap_meta, &what)?;
                if let Some(old) = &cached_snap {
                    for (name, m) in &old.signed.meta {
                        match snap.signed.meta.get(name) {
                            None => {
                                return Err(TufError::Mismatch {
                                    what,
                                    reason: format!(
                                        "{name} is no longer listed (it was in snapshot v{})",
                                        old.signed.version
                                    ),
                                });
                            }
                            Some(n) if n.version < m.version => {
                                return Err(TufError::Rollback {
                                    what: name.clone(),
                                    trusted: m.version,
                                    new: n.version,
                                });
                            }
                            Some(_) => {}
                        }
                    }
                }
                check_not_expired(&snap, "snapshot", now)?;
                write_atomic(&self.path("snapshot.json"), &snap.raw)?;
                snap
            }
        };
        check_not_expired(&snap, "snapshot", now)?;

        // 5.6: targets.
        let tmeta = meta_entry(&snap, "targets.json", "snapshot")?.clone();
        let cached_targets = read_bounded(&self.path("targets.json"), MAX_TARGETS_BYTES)
            .ok()
            .and_then(|raw| self.check_targets(&root.signed, &raw, &tmeta, "cached targets.json").ok());
        let targets = match cached_targets {
            Some(t) => t,
            None => {
                let what = if root.signed.consistent_snapshot {
                    format!("{}.targets.json", tmeta.version)
                } else {
                    "targets.json".into()
                };
                let limit = tmeta.length.unwrap_or(MAX_TARGETS_BYTES).min(MAX_TARGETS_BYTES);
                let raw = self.fetch_required(&format!("{}/{what}", self.mirror), limit, &what)?;
                let t = self.check_targets(&root.signed, &raw, &tmeta, &what)?;
                check_not_expired(&t, "targets", now)?;
                write_atomic(&self.path("targets.json"), &t.raw)?;
                t
            }
        };
        check_not_expired(&targets, "targets", now)?;

        // 5.7: the target file.
        let tf = targets.signed.targets.get(target_name).ok_or_else(|| TufError::TargetNotFound(target_name.into()))?;
        if tf.length > MAX_TARGET_BYTES {
            return Err(TufError::TooLarge {
                what: target_name.into(),
                url: self.mirror.clone(),
                limit: MAX_TARGET_BYTES,
            });
        }
        let local = read_bounded(&self.target_path(target_name), MAX_TARGET_BYTES)
            .ok()
            .filter(|b| check_length_and_hashes(b, Some(tf.length), Some(&tf.hashes), true, "").is_ok());
        let (target, target_downloaded) = match local {
            Some(b) => (b, false),
            None => {
                let remote_name = if root.signed.consistent_snapshot {
                    let h = tf.hashes.get("sha256").or_else(|| tf.hashes.get("sha512")).ok_or_else(|| {
                        malformed("targets.json", format!("{target_name} has no sha256 or sha512 hash"))
                    })?;
                    format!("{h}.{target_name}")
                } else {
                    target_name.to_string()
                };
                let url = format!("{}/targets/{remote_name}", self.mirror);
                let b = self.fetch_required(&url, tf.length, target_name)?;
                check_length_and_hashes(&b, Some(tf.length), Some(&tf.hashes), true, target_name)?;
                write_atomic(&self.target_path(target_name), &b)?;
                (b, true)
            }
        };
        Ok(Update {
            started_from_seed,
            root_version_before,
            root_version: root.signed.version,
            timestamp_version: ts.signed.version,
            snapshot_version: snap.signed.version,
            targets_version: targets.signed.version,
            target_sha256: hex::encode(Sha256::digest(&target)),
            target,
            target_downloaded,
        })
    }
}

fn meta_entry<'m>(m: &'m Signed<MetaListing>, name: &str, what: &str) -> Result<&'m MetaFile, TufError> {
    m.signed.meta.get(name).ok_or_else(|| malformed(what, format!("{name} is not listed")))
}

// ---------------------------------------------------------------------------------------------
// Run-time use: the trusted root from an initialized cache.

/// How long cached metadata may have been expired and still be used when it cannot be
/// refreshed (with a warning naming its age); past this, the cached trusted root is refused.
pub const MAX_EXPIRED_DAYS: i64 = 30;
/// Wait after the first failed refresh before the mirror is tried again; doubled for each
/// further failure, up to [`REFRESH_BACKOFF_MAX_SECS`].
pub const REFRESH_BACKOFF_SECS: i64 = 300;
/// Longest wait between refresh attempts.
pub const REFRESH_BACKOFF_MAX_SECS: i64 = 6 * 3600;
/// The file, in a mirror's cache directory, that remembers failed refreshes.
pub const REFRESH_FAILED_FILE: &str = "refresh-failed.json";

/// The trusted root JSON an initialized TUF cache provides, with warnings for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeRoot {
    /// `trusted_root.json` bytes, or `None` to use the embedded root.
    pub json: Option<Vec<u8>>,
    /// Warnings to print once (empty on later calls in the same run).
    pub warnings: Vec<String>,
}

/// Options for [`runtime_trusted_root`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// HTTP options for a refresh (the client is only built when one is due).
    pub http: crate::services::http::HttpOptions,
    /// Never contact the mirror, even when the cached metadata has expired.
    pub offline: bool,
}

/// Failed refreshes, remembered on disk so that every git call does not wait for a mirror
/// that is down.
#[derive(Debug, Clone, Default, serde::Serialize, Deserialize)]
struct RefreshFailed {
    /// Consecutive failures.
    failures: u32,
    /// Unix time of the last failure.
    last: i64,
    /// Why it failed.
    reason: String,
}

impl RefreshFailed {
    fn load(dir: &Path) -> Option<RefreshFailed> {
        let b = read_bounded(&dir.join(REFRESH_FAILED_FILE), 64 << 10).ok()?;
        serde_json::from_slice(&b).ok()
    }

    /// When the mirror may be tried again.
    fn retry_at(&self) -> i64 {
        let shift = self.failures.saturating_sub(1).min(16);
        let wait = REFRESH_BACKOFF_SECS.saturating_mul(1 << shift).min(REFRESH_BACKOFF_MAX_SECS);
        self.last.saturating_add(wait)
    }
}

/// "3 days", "5 hours", "12 minutes", "40 seconds".
fn age_words(secs: i64) -> String {
    let secs = secs.max(0);
    let (n, unit) = match secs {
        s if s >= 2 * 86400 => (s / 86400, "days"),
        s if s >= 2 * 3600 => (s / 3600, "hours"),
        s if s >= 120 => (s / 60, "minutes"),
        s => (s, "seconds"),
    };
    format!("{n} {unit}")
}

/// The trusted root for this run when the user has run `gitsign initialize` (a cached
/// `trusted_root.json` exists for the selected mirror), else `None`.
///
/// Offline unless the cached metadata has expired; then one TUF update is tried, at most once
/// per process, never with `offline`, and not while an earlier failure's backoff runs (failed
/// refreshes are remembered in [`REFRESH_FAILED_FILE`]: 5 minutes, doubling up to 6 hours). If
/// no update is possible the cached trusted root is used with a warning naming how long ago it
/// expired, up to [`MAX_EXPIRED_DAYS`]; past that it is refused ([`TufError::ExpiredTooLong`]).
/// If the cache itself is unusable, the embedded root is used with a warning.
pub fn runtime_trusted_root(opts: &RuntimeOptions) -> Option<Result<RuntimeRoot, TufError>> {
    use std::sync::{Mutex, OnceLock};
    type Memo = BTreeMap<PathBuf, Result<Option<Vec<u8>>, TufError>>;
    static DONE: OnceLock<Mutex<Memo>> = OnceLock::new();
    let base = cache_base()?;
    let mirror = selected_mirror(&base);
    let dir = base.join(mirror_dir_name(&mirror));
    // The target is written last by a successful update: a failed `gitsign initialize` (say,
    // offline) leaves no half-initialized state that would make every run try the network.
    if !dir.join("targets").join(TRUSTED_ROOT_TARGET).exists() {
        return None;
    }
    let done = DONE.get_or_init(Default::default);
    let mut memo = done.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(json) = memo.get(&dir) {
        return Some(json.clone().map(|json| RuntimeRoot { json, warnings: Vec::new() }));
    }
    let resolved = resolve(&dir, &mirror, opts, now_unix());
    memo.insert(dir, resolved.clone().map(|(json, _)| json));
    Some(resolved.map(|(json, warnings)| RuntimeRoot { json, warnings }))
}

type Resolved = (Option<Vec<u8>>, Vec<String>);

fn resolve(dir: &Path, mirror: &str, opts: &RuntimeOptions, now: i64) -> Result<Resolved, TufError> {
    struct Offline;
    impl Fetcher for Offline {
        fn fetch(&self, url: &str, _: u64, _: &str) -> Result<Fetched, TufError> {
            Err(TufError::Fetch { url: url.into(), reason: "offline".into() })
        }
    }
    let cached = Client::new(dir, mirror, &Offline, now).load_cached(TRUSTED_ROOT_TARGET);
    if let Ok(c) = &cached
        && c.expired.is_empty()
    {
        return Ok((Some(c.target.clone()), Vec::new()));
    }
    let reason = match &cached {
        Ok(c) => format!(
            "the cached TUF metadata expired {} ago ({})",
            age_words(now - c.expired_since.unwrap_or(now)),
            c.expired.join(", ")
        ),
        Err(e) => format!("the TUF cache is not usable ({e})"),
    };
    // Why no fresh metadata: offline, backing off after a failure, or the refresh failed.
    let why_stale = if opts.offline {
        "offline: not refreshing it".to_string()
    } else if let Some(f) = RefreshFailed::load(dir).filter(|f| now < f.retry_at()) {
        format!(
            "refreshing it from {mirror} failed {} ago ({}); the next attempt is in {}",
            age_words(now - f.last),
            f.reason,
            age_words(f.retry_at() - now)
        )
    } else {
        let mut http = opts.http.clone();
        // Only the mirror is contacted here.
        http.plain_http_only = mirror.starts_with("http://");
        let updated = crate::services::http::client(&http)
            .map_err(|e| TufError::Fetch { url: mirror.into(), reason: e.to_string() })
            .and_then(|h| {
                let f = HttpFetcher::new(h);
                Client::new(dir, mirror, &f, now).update(EMBEDDED_ROOT, false, TRUSTED_ROOT_TARGET)
            });
        match updated {
            Ok(u) => {
                let _ = std::fs::remove_file(dir.join(REFRESH_FAILED_FILE));
                return Ok((Some(u.target), Vec::new()));
            }
            Err(e) => {
                let failures = RefreshFailed::load(dir).map_or(0, |f| f.failures).saturating_add(1);
                let record = RefreshFailed { failures, last: now, reason: e.to_string() };
                // Best effort: a read-only cache only loses the backoff.
                if let Ok(b) = serde_json::to_vec(&record) {
                    let _ = write_atomic(&dir.join(REFRESH_FAILED_FILE), &b);
                }
                format!(
                    "refreshing it from {mirror} failed: {e}; the next attempt is in {}",
                    age_words(record.retry_at() - now)
                )
            }
        }
    };
    match cached {
        Ok(c) => {
            let since = c.expired_since.unwrap_or(now);
            if now - since > MAX_EXPIRED_DAYS * 86400 {
                return Err(TufError::ExpiredTooLong {
                    dir: dir.display().to_string(),
                    mirror: mirror.to_string(),
                    roles: c.expired.join(", "),
                    age: age_words(now - since),
                    limit_days: MAX_EXPIRED_DAYS,
                });
            }
            Ok((
                Some(c.target),
                vec![format!(
                    "gitsign: warning: {reason} and {why_stale}; using the cached trusted root (targets v{}), \
                     accepted for {MAX_EXPIRED_DAYS} days after expiry; run `gitsign initialize` when the mirror \
                     is reachable",
                    c.targets_version
                )],
            ))
        }
        Err(_) => Ok((
            None,
            vec![format!(
                "gitsign: warning: {reason} and {why_stale}; using the embedded trusted root; run `gitsign \
                 initialize` to repair the cache"
            )],
        )),
    }
}

/// Current unix time in seconds.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        String::from_utf8(canonical_json(&serde_json::from_str(s).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn canonical_json_matches_olpc() {
        assert_eq!(
            canon(r#"{ "b": 1, "a": [true, false, null], "A": "x" }"#),
            r#"{"A":"x","a":[true,false,null],"b":1}"#
        );
        // Only quote and backslash are escaped; control characters and non-ASCII stay raw.
        assert_eq!(canon(r#"{"k":"q\"b\\n\nt\tü"}"#), "{\"k\":\"q\\\"b\\\\n\nt\tü\"}");
        // Keys sort by code point, not by UTF-16 or locale.
        assert_eq!(canon(r#"{"é":1,"z":2,"Z":3,"_":4}"#), r#"{"Z":3,"_":4,"z":2,"é":1}"#);
        assert_eq!(canon("-12"), "-12");
        assert_eq!(canon("18446744073709551615"), "18446744073709551615");
        assert!(canonical_json(&serde_json::from_str("1.5").unwrap()).is_err());
        assert!(canonical_json(&serde_json::from_str(r#"{"a":[1e3]}"#).unwrap()).is_err());
    }

    #[test]
    fn embedded_production_root_verifies_itself() {
        let root = parse_root(EMBEDDED_ROOT, "embedded root").unwrap();
        assert_eq!(root.signed.roles["root"].threshold, 3);
        assert!(root.signed.consistent_snapshot);
        assert!(root.signed.version >= 1);
        // The staging root has two empty signatures; 2 of 4 valid still meets threshold 2.
        let staging =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/trust/staging_tuf_root.json"));
        if let Ok(staging) = staging {
            let s = parse_root(&staging, "staging root").unwrap();
            assert_eq!(s.signed.roles["root"].threshold, 2);
        }
    }

    #[test]
    fn tampered_or_undersigned_root_is_refused() {
        let mut v: Value = serde_json::from_slice(EMBEDDED_ROOT).unwrap();
        v["signed"]["expires"] = Value::String("2099-01-01T00:00:00Z".into());
        let err = parse_root(&serde_json::to_vec(&v).unwrap(), "x").unwrap_err();
        assert!(matches!(err, TufError::Threshold { valid: 0, threshold: 3, .. }), "{err}");

        // Keep only two of the five signatures: below threshold 3.
        let mut v: Value = serde_json::from_slice(EMBEDDED_ROOT).unwrap();
        v["signatures"].as_array_mut().unwrap().truncate(2);
        let err = parse_root(&serde_json::to_vec(&v).unwrap(), "x").unwrap_err();
        assert!(matches!(err, TufError::Threshold { valid: 2, threshold: 3, .. }), "{err}");

        // One valid signature repeated under three ids of the same key counts once.
        let mut v: Value = serde_json::from_slice(EMBEDDED_ROOT).unwrap();
        let first = v["signatures"][0].clone();
        v["signatures"] = Value::Array(vec![first.clone(), first.clone(), first]);
        let err = parse_root(&serde_json::to_vec(&v).unwrap(), "x").unwrap_err();
        assert!(matches!(err, TufError::Threshold { valid: 1, .. }), "{err}");
    }

    #[test]
    fn ed25519_and_ecdsa_signatures() {
        use ring::signature::KeyPair;
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let kp = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let key = Key {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyVal { public: hex::encode(kp.public_key().as_ref()) },
        };
        let sig = hex::encode(kp.sign(b"msg").as_ref());
        assert!(signature_valid(&key, b"msg", &sig));
        assert!(!signature_valid(&key, b"msh", &sig));
        assert!(!signature_valid(&key, b"msg", ""));
        assert!(!signature_valid(&key, b"msg", "zz"));
        let wrong_scheme = Key { scheme: "ecdsa-sha2-nistp256".into(), ..key.clone() };
        assert!(!signature_valid(&wrong_scheme, b"msg", &sig));

        use ecdsa::signature::Signer;
        use spki::EncodePublicKey;
        let sk = p256::ecdsa::SigningKey::from_slice(&[5u8; 32]).unwrap();
        let pem = sk.verifying_key().to_public_key_pem(Default::default()).unwrap();
        let key = Key { keytype: "ecdsa".into(), scheme: "ecdsa-sha2-nistp256".into(), keyval: KeyVal { public: pem } };
        let sig: p256::ecdsa::DerSignature = sk.sign(b"msg");
        assert!(signature_valid(&key, b"msg", &hex::encode(sig.as_bytes())));
        assert!(!signature_valid(&key, b"msx", &hex::encode(sig.as_bytes())));
        let p384 = Key { scheme: "ecdsa-sha2-nistp384".into(), ..key };
        assert!(!signature_valid(&p384, b"msg", &hex::encode(sig.as_bytes())), "curve must match the scheme");
    }

    #[test]
    fn lengths_and_hashes() {
        let data = b"hello";
        let mut h = BTreeMap::new();
        h.insert("sha256".to_string(), hex::encode(Sha256::digest(data)));
        check_length_and_hashes(data, Some(5), Some(&h), true, "t").unwrap();
        assert!(check_length_and_hashes(data, Some(6), Some(&h), true, "t").is_err());
        assert!(check_length_and_hashes(b"hellp", Some(5), Some(&h), true, "t").is_err());
        let mut unknown = BTreeMap::new();
        unknown.insert("md5".to_string(), "00".to_string());
        assert!(check_length_and_hashes(data, Some(5), Some(&unknown), true, "t").is_err());
        check_length_and_hashes(data, None, None, false, "t").unwrap();
    }

    #[test]
    fn mirror_dir_names_follow_sigstore_go() {
        assert_eq!(mirror_dir_name("https://tuf-repo-cdn.sigstore.dev"), "tuf-repo-cdn.sigstore.dev");
        assert_eq!(mirror_dir_name("https://github.github.com/prod-tuf-root/"), "github.github.com-prod-tuf-root");
    }
}
