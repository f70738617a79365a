//! Rekor-compatible transparency log (hashedrekord v0.0.1, and intoto v0.0.1 for `gitsign attest`).

use crate::error::Error;
use crate::http::{Req, Resp};
use crate::merkle::{self, Hash};
use crate::store::{Entry, Store};
use crate::{keys, util};
use der::{Decode, Encode};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Mutex;

/// Log name used in checkpoints (origin `<name> - <tree id>`) and signature lines.
pub(crate) const LOG_NAME: &str = "gitsign-sandbox";

pub(crate) struct Rekor {
    key: keys::FastP256,
    spki: Vec<u8>,
    log_id: [u8; 32],
    tree_id: i64,
    inner: Mutex<Inner>,
}

pub(crate) struct Inner {
    store: Store,
    tree: merkle::Tree,
}

/// The signer of an entry, as submitted in `spec.signature.publicKey.content`.
struct Signer {
    /// DER of the certificate or SPKI.
    der: Vec<u8>,
    label: &'static str,
    key: p256::ecdsa::VerifyingKey,
    email: Option<String>,
}

/// First rfc822Name in the certificate's SubjectAltName, lower-cased.
fn san_email(cert: &x509_cert::Certificate) -> Option<String> {
    use x509_cert::ext::pkix::{SubjectAltName, name::GeneralName};
    let (_, san) = cert.tbs_certificate().get_extension::<SubjectAltName>().ok()??;
    san.0.iter().find_map(|n| match n {
        GeneralName::Rfc822Name(e) => Some(e.to_string().to_ascii_lowercase()),
        _ => None,
    })
}

fn parse_signer(b64_pem: &str) -> Result<Signer, Resp> {
    let pem = util::b64_decode(b64_pem)
        .ok_or_else(|| Resp::error(400, "spec.signature.publicKey.content is not valid base64"))?;
    let text = String::from_utf8(pem).map_err(|_| Resp::error(400, "public key content is not PEM"))?;
    let (label, der) = util::pem_decode_all(&text)
        .into_iter()
        .next()
        .ok_or_else(|| Resp::error(400, "public key content is not PEM"))?;
    match label.as_str() {
        "CERTIFICATE" => {
            let cert = x509_cert::Certificate::from_der(&der)
                .map_err(|e| Resp::error(400, &format!("invalid certificate: {e}")))?;
            let spki = cert
                .tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .map_err(|e| Resp::error(400, &format!("invalid certificate key: {e}")))?;
            let key = keys::p256_from_spki(&spki)
                .ok_or_else(|| Resp::error(400, "unsupported certificate key: only ECDSA P-256 is accepted"))?;
            // Canonical form is the re-encoded DER.
            let der = cert.to_der().map_err(|e| Resp::error(400, &format!("invalid certificate: {e}")))?;
            Ok(Signer { der, label: "CERTIFICATE", key, email: san_email(&cert) })
        }
        "PUBLIC KEY" => {
            let key = keys::p256_from_spki(&der)
                .ok_or_else(|| Resp::error(400, "unsupported public key: only ECDSA P-256 is accepted"))?;
            Ok(Signer { der: keys::p256_spki_der(&key), label: "PUBLIC KEY", key, email: None })
        }
        other => Err(Resp::error(400, &format!("unsupported PEM type {other}"))),
    }
}

fn json_str(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Canonical hashedrekord v0.0.1 body (§5.6): sorted keys, no whitespace.
pub(crate) fn canonical_body(hash_hex: &str, sig_b64: &str, pem: &str) -> Vec<u8> {
    format!(
        concat!(
            r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":{}}}}},"#,
            r#""signature":{{"content":{},"publicKey":{{"content":{}}}}}}}}}"#
        ),
        json_str(hash_hex),
        json_str(sig_b64),
        json_str(&util::b64(pem.as_bytes()))
    )
    .into_bytes()
}

/// Canonical intoto v0.0.1 body: the envelope's and the payload's SHA-256 and the signer.
pub(crate) fn intoto_body(envelope_hash_hex: &str, payload_hash_hex: &str, pem: &str) -> Vec<u8> {
    format!(
        concat!(
            r#"{{"apiVersion":"0.0.1","kind":"intoto","spec":{{"content":{{"hash":{{"algorithm":"sha256","value":{}}},"#,
            r#""payloadHash":{{"algorithm":"sha256","value":{}}}}},"publicKey":{}}}}}"#
        ),
        json_str(envelope_hash_hex),
        json_str(payload_hash_hex),
        json_str(&util::b64(pem.as_bytes()))
    )
    .into_bytes()
}

/// DSSE pre-authentication encoding.
fn intoto_pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// DSSE allows standard or URL-safe base64.
fn dsse_b64(s: &str) -> Option<Vec<u8>> {
    util::b64_decode(s).or_else(|| util::b64url_decode(s))
}

/// SET payload (§5.7).
pub(crate) fn set_payload(body: &[u8], integrated_time: i64, log_id_hex: &str, index: u64) -> String {
    format!(
        r#"{{"body":{},"integratedTime":{},"logID":{},"logIndex":{}}}"#,
        json_str(&util::b64(body)),
        integrated_time,
        json_str(log_id_hex),
        index
    )
}

impl Rekor {
    pub(crate) fn open(dir: &Path, key: p256::ecdsa::SigningKey, tree_id: i64) -> Result<Rekor, Error> {
        let store = Store::open(&dir.join("rekor.sqlite"))?;
        let leaves = store.leaf_hashes()?;
        let spki = keys::p256_spki_der(key.verifying_key());
        let log_id = util::sha256(&spki);
        Ok(Rekor {
            key: keys::FastP256::new(&key)?,
            spki,
            log_id,
            tree_id,
            inner: Mutex::new(Inner { store, tree: merkle::Tree::from_leaves(leaves) }),
        })
    }

    pub(crate) fn spki(&self) -> &[u8] {
        &self.spki
    }

    pub(crate) fn log_id_hex(&self) -> String {
        hex::encode(self.log_id)
    }

    fn uuid(&self, leaf: &Hash) -> String {
        format!("{:016x}{}", self.tree_id, hex::encode(leaf))
    }

    /// Hold the log lock (used at shutdown so that no append is in flight).
    pub(crate) fn quiesce(&self) -> Option<std::sync::MutexGuard<'_, Inner>> {
        self.inner.lock().ok()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, Resp> {
        self.inner.lock().map_err(|_| Resp::error(500, "log state poisoned"))
    }

    /// Signed note for a tree size and root (§5.9).
    pub(crate) fn checkpoint(&self, size: usize, root: &Hash) -> String {
        let text = format!("{LOG_NAME} - {}\n{size}\n{}\n", self.tree_id, util::b64(root));
        let sig = self.key.sign_der(text.as_bytes());
        let mut hint_sig = self.log_id[..4].to_vec();
        hint_sig.extend_from_slice(&sig);
        format!("{text}\n\u{2014} {LOG_NAME} {}\n", util::b64(&hint_sig))
    }

    fn entry_json(&self, e: &Entry, tree: &merkle::Tree) -> Value {
        let size = tree.len();
        let root = tree.root();
        let proof: Vec<String> = tree.inclusion_proof(e.index as usize).iter().map(hex::encode).collect();
        let mut m = serde_json::Map::new();
        m.insert(
            self.uuid(&e.leaf_hash),
            json!({
                "body": util::b64(&e.body),
                "integratedTime": e.integrated_time,
                "logID": self.log_id_hex(),
                "logIndex": e.index,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": self.checkpoint(size, &root),
                        "hashes": proof,
                        "logIndex": e.index,
                        "rootHash": hex::encode(root),
                        "treeSize": size,
                    },
                    "signedEntryTimestamp": util::b64(&e.set),
                }
            }),
        );
        Value::Object(m)
    }

    pub(crate) fn handle(&self, req: &Req) -> Resp {
        let p = req.path.as_str();
        match (req.method.as_str(), p) {
            ("POST", "/api/v1/log/entries") => self.create(req),
            ("GET", "/api/v1/log/entries") => self.get_by_index(req),
            ("POST", "/api/v1/log/entries/retrieve") => self.retrieve_entries(req),
            ("GET", _) if p.starts_with("/api/v1/log/entries/") => self.get(&p["/api/v1/log/entries/".len()..]),
            ("POST", "/api/v1/index/retrieve") => self.search(req),
            ("GET", "/api/v1/log") => self.log_info(),
            ("GET", "/api/v1/log/publicKey") => {
                Resp::text(200, "application/x-pem-file", util::pem_encode("PUBLIC KEY", &self.spki))
            }
            _ => Resp::error(404, "not found"),
        }
    }

    fn create(&self, req: &Req) -> Resp {
        let v = match req.json() {
            Ok(v) => v,
            Err(r) => return r,
        };
        let s = |path: &str| v.pointer(path).and_then(Value::as_str);
        if s("/kind") == Some("intoto") {
            return self.create_intoto(&v);
        }
        if s("/kind") != Some("hashedrekord") {
            return Resp::error(400, "unsupported entry kind: only hashedrekord and intoto are accepted");
        }
        if s("/apiVersion") != Some("0.0.1") {
            return Resp::error(400, "unsupported hashedrekord apiVersion: only 0.0.1 is accepted");
        }
        if s("/spec/data/hash/algorithm") != Some("sha256") {
            return Resp::error(400, "spec.data.hash.algorithm must be sha256");
        }
        let Some(hash_hex) = s("/spec/data/hash/value").filter(|h| util::is_hex(h, 64)) else {
            return Resp::error(400, "spec.data.hash.value must be 64 hex digits");
        };
        let hash_hex = hash_hex.to_ascii_lowercase();
        let Some(sig) = s("/spec/signature/content").and_then(util::b64_decode).filter(|s| !s.is_empty()) else {
            return Resp::error(400, "spec.signature.content must be base64");
        };
        let Some(key_content) = s("/spec/signature/publicKey/content") else {
            return Resp::error(400, "spec.signature.publicKey.content is required");
        };
        let signer = match parse_signer(key_content) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let digest = hex::decode(&hash_hex).unwrap_or_default();
        if !keys::verify_p256_prehash(&signer.key, &digest, &sig) {
            return Resp::error(
                400,
                "signature verification failed: the signature does not verify over the given hash with the given key",
            );
        }
        let pem = util::pem_encode(signer.label, &signer.der);
        let body = canonical_body(&hash_hex, &util::b64(&sig), &pem);
        self.append(body, hash_hex, signer)
    }

    /// intoto v0.0.1 (what `gitsign attest` logs), as the real Rekor handles it: the DSSE
    /// envelope must carry a signature that verifies over its PAE with `spec.publicKey`; the
    /// envelope itself is not logged, only its SHA-256 and that of its decoded payload.
    fn create_intoto(&self, v: &Value) -> Resp {
        let s = |path: &str| v.pointer(path).and_then(Value::as_str);
        if s("/apiVersion") != Some("0.0.1") {
            return Resp::error(400, "unsupported intoto apiVersion: only 0.0.1 is accepted");
        }
        let Some(envelope) = s("/spec/content/envelope").filter(|e| !e.is_empty()) else {
            return Resp::error(400, "spec.content.envelope is required");
        };
        let Some(key_content) = s("/spec/publicKey") else {
            return Resp::error(400, "spec.publicKey is required");
        };
        let signer = match parse_signer(key_content) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let env: Value = match serde_json::from_str(envelope) {
            Ok(e) => e,
            Err(e) => return Resp::error(400, &format!("spec.content.envelope is not JSON: {e}")),
        };
        let payload_type = env.get("payloadType").and_then(Value::as_str).unwrap_or_default();
        let payload = env.get("payload").and_then(Value::as_str).and_then(dsse_b64);
        let sigs = env.get("signatures").and_then(Value::as_array).cloned().unwrap_or_default();
        let (Some(payload), false, false) = (payload, payload_type.is_empty(), sigs.is_empty()) else {
            return Resp::error(400, "invalid DSSE envelope: payloadType, payload and signatures are required");
        };
        let pae = intoto_pae(payload_type, &payload);
        let digest = util::sha256(&pae);
        let verified = sigs
            .iter()
            .filter_map(|g| g.get("sig").and_then(Value::as_str).and_then(dsse_b64))
            .any(|sig| keys::verify_p256_prehash(&signer.key, &digest, &sig));
        if !verified {
            return Resp::error(
                400,
                "signature verification failed: no envelope signature verifies with spec.publicKey",
            );
        }
        let envelope_hash = hex::encode(util::sha256(envelope.as_bytes()));
        let payload_hash = hex::encode(util::sha256(&payload));
        let pem = util::pem_encode(signer.label, &signer.der);
        let body = intoto_body(&envelope_hash, &payload_hash, &pem);
        self.append(body, envelope_hash, signer)
    }

    /// Log a canonical body (409 when it is already logged); `data_hash` is what a search by
    /// hash finds it under.
    fn append(&self, body: Vec<u8>, hash_hex: String, signer: Signer) -> Resp {
        let leaf = merkle::leaf_hash(&body);

        let mut inner = match self.lock() {
            Ok(i) => i,
            Err(r) => return r,
        };
        match inner.store.by_leaf(&leaf) {
            Ok(Some(_)) => {
                let uuid = self.uuid(&leaf);
                return Resp::error(
                    409,
                    &format!("An equivalent entry already exists in the transparency log with UUID {uuid}"),
                )
                .with_header("Location", &format!("/api/v1/log/entries/{uuid}"));
            }
            Ok(None) => {}
            Err(e) => return Resp::error(500, &e.to_string()),
        }
        let index = inner.tree.len() as u64;
        let integrated_time = util::now_unix();
        let set = self.key.sign_der(set_payload(&body, integrated_time, &self.log_id_hex(), index).as_bytes());
        let entry = Entry {
            index,
            leaf_hash: leaf,
            body,
            integrated_time,
            set,
            data_hash: hash_hex,
            key_der: signer.der,
            email: signer.email,
        };
        if let Err(e) = inner.store.insert(&entry) {
            return Resp::error(500, &format!("storing entry: {e}"));
        }
        inner.tree.push(leaf);
        // Self-check: the proof we hand out must lead to the root we sign.
        let proof = inner.tree.inclusion_proof(index as usize);
        let size = inner.tree.len() as u64;
        if merkle::root_from_proof(index, size, &leaf, &proof) != Some(inner.tree.root()) {
            return Resp::error(500, "internal error: inclusion proof self-check failed");
        }
        let uuid = self.uuid(&leaf);
        Resp::json(201, &self.entry_json(&entry, &inner.tree))
            .with_header("Location", &format!("/api/v1/log/entries/{uuid}"))
            .with_header("ETag", &uuid)
    }

    /// Accepts the 80-hex (tree id + leaf hash) or 64-hex (leaf hash) entry id.
    fn parse_uuid(&self, id: &str) -> Option<Hash> {
        let leaf_hex = match id.len() {
            80 if util::is_hex(id, 80) && id[..16].eq_ignore_ascii_case(&format!("{:016x}", self.tree_id)) => &id[16..],
            64 if util::is_hex(id, 64) => id,
            _ => return None,
        };
        hex::decode(leaf_hex).ok()?.try_into().ok()
    }

    fn get(&self, id: &str) -> Resp {
        let Some(leaf) = self.parse_uuid(id) else {
            return Resp::error(404, "entry not found: malformed or foreign entry UUID");
        };
        let inner = match self.lock() {
            Ok(i) => i,
            Err(r) => return r,
        };
        match inner.store.by_leaf(&leaf) {
            Ok(Some(e)) => Resp::json(200, &self.entry_json(&e, &inner.tree)),
            Ok(None) => Resp::error(404, "entry not found"),
            Err(e) => Resp::error(500, &e.to_string()),
        }
    }

    fn get_by_index(&self, req: &Req) -> Resp {
        let Some(idx) = req.query.get("logIndex").and_then(|s| s.parse::<u64>().ok()) else {
            return Resp::error(400, "logIndex query parameter required");
        };
        let inner = match self.lock() {
            Ok(i) => i,
            Err(r) => return r,
        };
        match inner.store.by_index(idx) {
            Ok(Some(e)) => Resp::json(200, &self.entry_json(&e, &inner.tree)),
            Ok(None) => Resp::error(404, "entry not found"),
            Err(e) => Resp::error(500, &e.to_string()),
        }
    }

    /// `POST /api/v1/log/entries/retrieve` with `entryUUIDs` and/or `logIndexes`.
    fn retrieve_entries(&self, req: &Req) -> Resp {
        let v = match req.json() {
            Ok(v) => v,
            Err(r) => return r,
        };
        let inner = match self.lock() {
            Ok(i) => i,
            Err(r) => return r,
        };
        let mut out = Vec::new();
        let uuids = v.get("entryUUIDs").and_then(Value::as_array).cloned().unwrap_or_default();
        for u in uuids.iter().filter_map(Value::as_str) {
            if let Some(leaf) = self.parse_uuid(u)
                && let Ok(Some(e)) = inner.store.by_leaf(&leaf)
            {
                out.push(self.entry_json(&e, &inner.tree));
            }
        }
        let idxs = v.get("logIndexes").and_then(Value::as_array).cloned().unwrap_or_default();
        for i in idxs.iter().filter_map(Value::as_u64) {
            if let Ok(Some(e)) = inner.store.by_index(i) {
                out.push(self.entry_json(&e, &inner.tree));
            }
        }
        Resp::json(200, &Value::Array(out))
    }

    fn search(&self, req: &Req) -> Resp {
        let v = match req.json() {
            Ok(v) => v,
            Err(r) => return r,
        };
        let inner = match self.lock() {
            Ok(i) => i,
            Err(r) => return r,
        };
        let mut sets: Vec<Vec<Hash>> = Vec::new();
        if let Some(h) = v.get("hash").and_then(Value::as_str) {
            let hex_part = h.strip_prefix("sha256:").unwrap_or(h);
            if !util::is_hex(hex_part, 64) {
                return Resp::error(400, "hash must be sha256:<64 hex digits>");
            }
            match inner.store.search_hash(&hex_part.to_ascii_lowercase()) {
                Ok(r) => sets.push(r),
                Err(e) => return Resp::error(500, &e.to_string()),
            }
        }
        if let Some(pk) = v.get("publicKey") {
            let format = pk.get("format").and_then(Value::as_str).unwrap_or("");
            if format != "x509" {
                return Resp::error(400, "publicKey.format: only x509 is supported");
            }
            let Some(raw) = pk.get("content").and_then(Value::as_str).and_then(util::b64_decode) else {
                return Resp::error(400, "publicKey.content must be base64");
            };
            let der = match std::str::from_utf8(&raw).ok().map(util::pem_decode_all) {
                Some(blocks) if !blocks.is_empty() => blocks[0].1.clone(),
                _ => raw,
            };
            // Normalise a certificate to its DER re-encoding, a key to its SPKI.
            let der = x509_cert::Certificate::from_der(&der).ok().and_then(|c| c.to_der().ok()).unwrap_or(der);
            match inner.store.search_key(&der) {
                Ok(r) => sets.push(r),
                Err(e) => return Resp::error(500, &e.to_string()),
            }
        }
        if let Some(email) = v.get("email").and_then(Value::as_str) {
            match inner.store.search_email(email) {
                Ok(r) => sets.push(r),
                Err(e) => return Resp::error(500, &e.to_string()),
            }
        }
        if sets.is_empty() {
            return Resp::error(400, "search requires hash, publicKey or email");
        }
        let or = v.get("operator").and_then(Value::as_str) == Some("or");
        let mut result: Vec<Hash> = sets[0].clone();
        for s in &sets[1..] {
            if or {
                for h in s {
                    if !result.contains(h) {
                        result.push(*h);
                    }
                }
            } else {
                result.retain(|h| s.contains(h));
            }
        }
        Resp::json(200, &Value::Array(result.iter().map(|h| Value::String(self.uuid(h))).collect()))
    }

    fn log_info(&self) -> Resp {
        let inner = match self.lock() {
            Ok(i) => i,
            Err(r) => return r,
        };
        let root = inner.tree.root();
        Resp::json(
            200,
            &json!({
                "rootHash": hex::encode(root),
                "signedTreeHead": self.checkpoint(inner.tree.len(), &root),
                "treeSize": inner.tree.len(),
                "treeID": self.tree_id.to_string(),
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_body_matches_serde_sorted_json() {
        let b = canonical_body("ab", "c2ln", "PEM\n");
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["spec"]["signature"]["publicKey"]["content"], util::b64(b"PEM\n"));
        assert_eq!(
            String::from_utf8(b).unwrap(),
            r#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"ab"}},"signature":{"content":"c2ln","publicKey":{"content":"UEVNCg=="}}}}"#
        );
    }

    #[test]
    fn intoto_body_is_sorted_compact_json() {
        let b = intoto_body("aa", "bb", "PEM\n");
        assert_eq!(
            String::from_utf8(b).unwrap(),
            r#"{"apiVersion":"0.0.1","kind":"intoto","spec":{"content":{"hash":{"algorithm":"sha256","value":"aa"},"payloadHash":{"algorithm":"sha256","value":"bb"}},"publicKey":"UEVNCg=="}}"#
        );
        assert_eq!(intoto_pae("t", b"xy"), b"DSSEv1 1 t 2 xy");
    }

    #[test]
    fn set_payload_exact() {
        assert_eq!(
            set_payload(b"x", 5, "00ff", 7),
            r#"{"body":"eA==","integratedTime":5,"logID":"00ff","logIndex":7}"#
        );
    }
}
