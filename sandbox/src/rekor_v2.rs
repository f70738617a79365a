//! A Rekor v2 (rekor-tiles) compatible transparency log, next to the v1 log of [`crate::rekor`].
//!
//! Write API: `POST /api/v2/log/entries` with a `CreateEntryRequest` carrying a
//! `hashedRekordRequestV002` (a DSSE envelope is logged the same way, as a hashedrekord over its
//! PAE: Rekor v2 spec §6.1.4). The answer is a `TransparencyLogEntry` in protobuf JSON with an
//! inclusion proof and a signed checkpoint, and no SET (no `inclusionPromise`, no
//! `integratedTime`): signers get their time from an RFC 3161 timestamp instead.
//!
//! Read API (C2SP tlog-tiles, tile height 8): `GET /api/v2/checkpoint`,
//! `/api/v2/tile/<L>/<N>[.p/<W>]` and `/api/v2/tile/entries/<N>[.p/<W>]`. The checkpoint is a
//! C2SP signed note (tlog-checkpoint) signed with the log's Ed25519 key; the key name is the
//! log's origin and the key hint the first 4 bytes of the log id,
//! SHA-256(origin ‖ "\n" ‖ 0x01 ‖ public key).
//!
//! Entries live in `rekor-v2.sqlite` (their own table and Merkle tree), committed before the
//! answer goes out, so a restart keeps every acknowledged entry.

use crate::error::Error;
use crate::http::{Req, Resp};
use crate::merkle::{self, Hash};
use crate::store::V2Store;
use crate::{keys, util};
use der::{Decode, Encode};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Mutex;

/// Key file of the log's Ed25519 key (PKCS#8 PEM).
pub(crate) const KEY_FILE: &str = "rekor-v2-key.pem";
/// Hashes per full tile (tile height 8).
pub(crate) const TILE_WIDTH: u64 = 256;
const TILE_HEIGHT: usize = 8;
/// The one key type the log accepts from signers (what Fulcio certifies here).
const KEY_P256: &str = "PKIX_ECDSA_P256_SHA_256";
/// An entry bundle prefixes each entry with a big-endian u16 length.
const MAX_BODY: usize = u16::MAX as usize;

pub(crate) struct RekorV2 {
    key: ring::signature::Ed25519KeyPair,
    spki: Vec<u8>,
    origin: String,
    log_id: Hash,
    inner: Mutex<Inner>,
}

pub(crate) struct Inner {
    store: V2Store,
    tree: merkle::Tree,
}

/// The log id (and checkpoint key id) of an Ed25519 log: SHA-256(name ‖ "\n" ‖ 0x01 ‖ key).
pub(crate) fn log_id(origin: &str, public: &[u8]) -> Hash {
    let mut m = origin.as_bytes().to_vec();
    m.push(b'\n');
    m.push(0x01);
    m.extend_from_slice(public);
    util::sha256(&m)
}

/// Canonicalized body of a hashedrekord 0.0.2 entry: the protobuf `Entry` as compact JSON.
pub(crate) fn entry_body(digest: &[u8], sig: &[u8], cert_der: &[u8]) -> Vec<u8> {
    json!({
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {"hashedRekordV002": {
            "data": {"algorithm": "SHA2_256", "digest": util::b64(digest)},
            "signature": {
                "content": util::b64(sig),
                "verifier": {"keyDetails": KEY_P256, "x509Certificate": {"rawBytes": util::b64(cert_der)}},
            },
        }},
    })
    .to_string()
    .into_bytes()
}

/// The tile index path of C2SP tlog-tiles: `N` in 3-digit groups, all but the last prefixed
/// with `x` (1234067 → `x001/x234/067`).
pub(crate) fn index_path(n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// Parse `<N>[.p/<W>]` (canonical encoding only) into (N, W), W = 256 for a full tile.
fn parse_tile_index(s: &str) -> Option<(u64, u64)> {
    let (npath, width) = match s.split_once(".p/") {
        Some((n, w)) => {
            let width: u64 = w.parse().ok().filter(|w| (1..TILE_WIDTH).contains(w))?;
            (w == width.to_string()).then_some((n, width))?
        }
        None => (s, TILE_WIDTH),
    };
    let mut n: u64 = 0;
    let groups: Vec<&str> = npath.split('/').collect();
    for (i, g) in groups.iter().enumerate() {
        let digits = if i + 1 < groups.len() { g.strip_prefix('x')? } else { g };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(digits.parse().ok()?)?;
    }
    // Only the canonical spelling names a tile (no leading x000 groups).
    (index_path(n) == npath).then_some((n, width))
}

/// Why a submission is refused (400).
fn bad(msg: &str) -> Resp {
    Resp::error(400, msg)
}

/// Required base64 bytes at a JSON pointer.
fn b64_field(v: &Value, pointer: &str, name: &str) -> Result<Vec<u8>, Resp> {
    match v.pointer(pointer) {
        None | Some(Value::Null) => Err(bad(&format!("{name} is required"))),
        Some(Value::String(s)) => util::b64_decode(s)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| bad(&format!("{name} must be non-empty base64"))),
        Some(_) => Err(bad(&format!("{name} must be a base64 string"))),
    }
}

impl RekorV2 {
    /// Open (or create) the log under `dir`; `tree_id` makes the origin unique per state dir.
    pub(crate) fn open(dir: &Path, tree_id: i64) -> Result<RekorV2, Error> {
        let key = keys::load_or_create_ed25519(&dir.join(KEY_FILE))?;
        let store = V2Store::open(&dir.join("rekor-v2.sqlite"))?;
        let leaves = store.leaf_hashes()?;
        use ring::signature::KeyPair;
        let public = key.public_key().as_ref().to_vec();
        let origin = format!("rekor-v2.gitsign-sandbox.test/{tree_id}");
        Ok(RekorV2 {
            spki: keys::ed25519_spki_der(&public),
            log_id: log_id(&origin, &public),
            origin,
            key,
            inner: Mutex::new(Inner { store, tree: merkle::Tree::from_leaves(leaves) }),
        })
    }

    /// SubjectPublicKeyInfo DER of the log's Ed25519 key (for `trusted_root.json`).
    pub(crate) fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// The log id: SHA-256(origin ‖ "\n" ‖ 0x01 ‖ key).
    pub(crate) fn log_id(&self) -> &Hash {
        &self.log_id
    }

    /// The checkpoint origin (and signature key name).
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// Hold the log lock (used at shutdown so that no append is in flight).
    pub(crate) fn quiesce(&self) -> Option<std::sync::MutexGuard<'_, Inner>> {
        self.inner.lock().ok()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, Resp> {
        self.inner.lock().map_err(|_| Resp::error(500, "log state poisoned"))
    }

    /// C2SP tlog-checkpoint signed with the log key (C2SP signed-note, Ed25519).
    pub(crate) fn checkpoint(&self, size: usize, root: &Hash) -> String {
        let text = format!("{}\n{size}\n{}\n", self.origin, util::b64(root));
        let mut hint_sig = self.log_id[..4].to_vec();
        hint_sig.extend_from_slice(self.key.sign(text.as_bytes()).as_ref());
        format!("{text}\n\u{2014} {} {}\n", self.origin, util::b64(&hint_sig))
    }

    pub(crate) fn handle(&self, req: &Req) -> Resp {
        let p = req.path.as_str();
        match (req.method.as_str(), p) {
            ("POST", "/api/v2/log/entries") => self.create(req),
            ("GET", "/api/v2/checkpoint") => self.get_checkpoint(),
            ("GET", _) if p.starts_with("/api/v2/tile/entries/") => {
                self.entry_bundle(&p["/api/v2/tile/entries/".len()..])
            }
            ("GET", _) if p.starts_with("/api/v2/tile/") => self.tile(&p["/api/v2/tile/".len()..]),
            (_, "/api/v2/log/entries") => Resp::error(405, "use POST to add an entry"),
            _ => Resp::error(404, "not found"),
        }
    }

    fn create(&self, req: &Req) -> Resp {
        let v = match req.json() {
            Ok(v) => v,
            Err(r) => return r,
        };
        if v.get("dsseRequestV002").is_some_and(|d| !d.is_null()) {
            return bad(
                "dsseRequestV002 is not accepted: log a DSSE envelope as a hashedRekordRequestV002 over its PAE (Rekor v2 spec §6.1.4)",
            );
        }
        let Some(r) = v.get("hashedRekordRequestV002").filter(|r| r.is_object()) else {
            return bad("the request needs a hashedRekordRequestV002 object");
        };
        let digest = match b64_field(r, "/digest", "hashedRekordRequestV002.digest") {
            Ok(d) if d.len() == 32 => d,
            Ok(d) => return bad(&format!("digest must be a SHA-256 digest (32 bytes), got {} bytes", d.len())),
            Err(e) => return e,
        };
        let sig = match b64_field(r, "/signature/content", "signature.content") {
            Ok(s) => s,
            Err(e) => return e,
        };
        let details = r.pointer("/signature/verifier/keyDetails").and_then(Value::as_str).unwrap_or_default();
        if details != KEY_P256 {
            let got = if details.is_empty() { "none".to_string() } else { details.to_string() };
            return bad(&format!("unsupported signature.verifier.keyDetails {got}: only {KEY_P256} is accepted"));
        }
        if r.pointer("/signature/verifier/publicKey").is_some_and(|k| !k.is_null()) {
            return bad(
                "signature.verifier.publicKey is not accepted: send the signing certificate as x509Certificate",
            );
        }
        let cert_der = match b64_field(r, "/signature/verifier/x509Certificate/rawBytes", "x509Certificate.rawBytes") {
            Ok(c) => c,
            Err(e) => return e,
        };
        let cert = match x509_cert::Certificate::from_der(&cert_der) {
            Ok(c) => c,
            Err(e) => return bad(&format!("x509Certificate.rawBytes is not a DER certificate: {e}")),
        };
        let Some(key) =
            cert.tbs_certificate().subject_public_key_info().to_der().ok().and_then(|d| keys::p256_from_spki(&d))
        else {
            return bad(&format!("the certificate's key is not ECDSA P-256, as keyDetails {KEY_P256} says"));
        };
        if !keys::verify_p256_prehash(&key, &digest, &sig) {
            return bad(
                "signature verification failed: the signature does not verify over the digest with the certificate's key",
            );
        }
        let body = entry_body(&digest, &sig, &cert_der);
        if body.len() > MAX_BODY {
            return bad("the entry is too large for an entry bundle (64 KiB)");
        }
        self.append(body)
    }

    /// Log `body` (an entry already logged is answered with its index, as the log's
    /// deduplication does) and answer the `TransparencyLogEntry`.
    fn append(&self, body: Vec<u8>) -> Resp {
        let leaf = merkle::leaf_hash(&body);
        let mut inner = match self.lock() {
            Ok(i) => i,
            Err(r) => return r,
        };
        let (index, status) = match inner.store.by_leaf(&leaf) {
            Ok(Some((index, _))) => (index, 200),
            Ok(None) => {
                let index = inner.tree.len() as u64;
                if let Err(e) = inner.store.insert(index, &leaf, &body) {
                    return Resp::error(500, &format!("storing entry: {e}"));
                }
                inner.tree.push(leaf);
                (index, 201)
            }
            Err(e) => return Resp::error(500, &e.to_string()),
        };
        let tree = &inner.tree;
        let (size, root) = (tree.len(), tree.root());
        let proof = tree.inclusion_proof(index as usize);
        // Self-check: the proof we hand out must lead to the root we sign.
        if merkle::root_from_proof(index, size as u64, &leaf, &proof) != Some(root) {
            return Resp::error(500, "internal error: inclusion proof self-check failed");
        }
        let hashes: Vec<String> = proof.iter().map(|h| util::b64(h)).collect();
        Resp::json(
            status,
            &json!({
                "logIndex": index.to_string(),
                "logId": {"keyId": util::b64(&self.log_id)},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
                "inclusionProof": {
                    "logIndex": index.to_string(),
                    "rootHash": util::b64(&root),
                    "treeSize": size.to_string(),
                    "hashes": hashes,
                    "checkpoint": {"envelope": self.checkpoint(size, &root)},
                },
                "canonicalizedBody": util::b64(&body),
            }),
        )
    }

    fn get_checkpoint(&self) -> Resp {
        let inner = match self.lock() {
            Ok(i) => i,
            Err(r) => return r,
        };
        let note = self.checkpoint(inner.tree.len(), &inner.tree.root());
        Resp::text(200, "text/plain; charset=utf-8", note).with_header("Cache-Control", "no-cache")
    }

    /// A tile's bytes: immutable once full, so a full tile may be cached for good.
    fn tile_resp(data: Vec<u8>, width: u64) -> Resp {
        let r = Resp::text(200, "application/octet-stream", data);
        if width == TILE_WIDTH { r.with_header("Cache-Control", "public, max-age=31536000, immutable") } else { r }
    }

    /// `<L>/<N>[.p/<W>]`: W hashes at tree level 8·L from node N·256.
    fn tile(&self, rest: &str) -> Resp {
        let Some((level, index)) = rest.split_once('/') else {
            return Resp::error(404, "not a tile path: use /api/v2/tile/<L>/<N>[.p/<W>]");
        };
        let level = match level.parse::<usize>() {
            Ok(l) if l.to_string() == level && l * TILE_HEIGHT < 64 => l,
            _ => return Resp::error(404, "not a tile path: the level must be a decimal number below 8"),
        };
        let Some((n, width)) = parse_tile_index(index) else {
            return Resp::error(404, "not a tile path: N must be in 3-digit groups (x001/234), W in 1..255");
        };
        let inner = match self.lock() {
            Ok(i) => i,
            Err(r) => return r,
        };
        let start = n.checked_mul(TILE_WIDTH).and_then(|s| usize::try_from(s).ok());
        match start.and_then(|s| inner.tree.complete_nodes(level * TILE_HEIGHT, s, width as usize)) {
            Some(hashes) => Self::tile_resp(hashes.concat(), width),
            None => Resp::error(404, "no such tile in this tree yet"),
        }
    }

    /// `<N>[.p/<W>]`: the bodies of entries N·256 .. N·256+W, each after its u16 length.
    fn entry_bundle(&self, rest: &str) -> Resp {
        let Some((n, width)) = parse_tile_index(rest) else {
            return Resp::error(404, "not an entry bundle path: use /api/v2/tile/entries/<N>[.p/<W>]");
        };
        let inner = match self.lock() {
            Ok(i) => i,
            Err(r) => return r,
        };
        let Some(start) = n.checked_mul(TILE_WIDTH) else {
            return Resp::error(404, "no such entry bundle");
        };
        if start + width > inner.tree.len() as u64 {
            return Resp::error(404, "no such entry bundle in this tree yet");
        }
        let bodies = match inner.store.bodies(start, start + width) {
            Ok(b) => b,
            Err(e) => return Resp::error(500, &e.to_string()),
        };
        let mut out = Vec::new();
        for b in bodies {
            out.extend_from_slice(&(b.len() as u16).to_be_bytes());
            out.extend_from_slice(&b);
        }
        Self::tile_resp(out, width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_paths_follow_tlog_tiles() {
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(7), "007");
        assert_eq!(index_path(1000), "x001/000");
        assert_eq!(index_path(1234067), "x001/x234/067");
        assert_eq!(parse_tile_index("x001/x234/067"), Some((1234067, 256)));
        assert_eq!(parse_tile_index("001.p/5"), Some((1, 5)));
        for bad in ["1", "0001", "x000/001", "001.p/0", "001.p/256", "001.p/05", "x001", "001/002", "abc"] {
            assert_eq!(parse_tile_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn log_id_is_the_note_key_id() {
        // SHA-256("a" ‖ "\n" ‖ 0x01 ‖ key) by hand.
        let key = [7u8; 32];
        let mut m = b"a\n\x01".to_vec();
        m.extend_from_slice(&key);
        assert_eq!(log_id("a", &key), util::sha256(&m));
    }
}
