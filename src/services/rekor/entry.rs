//! `dev.sigstore.rekor.v1.TransparencyLogEntry`: the log entry gitsign embeds in a signature
//! (unsigned attribute 1.3.6.1.4.1.57264.3.1) as protobuf, its conversion from the Rekor API
//! response, and the pre-release per-field form (attributes 3.0–3.8).

/// A transparency log entry, as embedded in offline-mode signatures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TransparencyLogEntry {
    /// Global log index.
    pub log_index: i64,
    /// Log id: SHA-256 of the log key's SPKI DER (raw bytes).
    pub log_id: Vec<u8>,
    /// Entry kind, e.g. "hashedrekord".
    pub kind: String,
    /// Entry version, e.g. "0.0.1".
    pub version: String,
    /// Unix seconds.
    pub integrated_time: i64,
    /// The SET (DER ECDSA signature); empty when absent.
    pub signed_entry_timestamp: Vec<u8>,
    /// The inclusion proof, when present.
    pub inclusion_proof: Option<InclusionProof>,
    /// The canonical body; gitsign leaves it empty and the verifier rebuilds it.
    pub canonicalized_body: Vec<u8>,
}

/// RFC 6962 inclusion proof with its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InclusionProof {
    /// Index in the shard's tree (not the global index).
    pub log_index: i64,
    /// Root hash (32 raw bytes).
    pub root_hash: Vec<u8>,
    /// Tree size.
    pub tree_size: i64,
    /// Audit path (32 raw bytes each).
    pub hashes: Vec<Vec<u8>>,
    /// Signed note text; empty when absent.
    pub checkpoint: String,
}

use super::types;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::BTreeMap;

/// Largest embedded entry accepted by [`TransparencyLogEntry::decode`] (real ones are ~1 KiB;
/// with a body a few KiB).
pub const MAX_ENTRY_LEN: usize = 1 << 20;
/// Most audit-path hashes accepted (a tree of 2⁶³ leaves needs 63).
pub const MAX_PROOF_HASHES: usize = 64;

/// The entry kind gitsign logs and embeds.
pub const KIND_HASHEDREKORD: &str = "hashedrekord";
/// The entry version gitsign logs and embeds.
pub const VERSION_0_0_1: &str = "0.0.1";

/// Why an entry could not be decoded or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The protobuf bytes are malformed (truncated, bad varint, bad tag, …).
    #[error("malformed embedded Rekor entry (protobuf): {0}")]
    Protobuf(String),
    /// A field has the wrong wire type.
    #[error("malformed embedded Rekor entry: field {field} has wire type {got}, expected {expected}")]
    WireType {
        /// Field path, e.g. `inclusion_proof.tree_size`.
        field: &'static str,
        /// Wire type found.
        got: u8,
        /// Wire type expected.
        expected: u8,
    },
    /// An index, size or time is negative.
    #[error("invalid Rekor entry: {field} is negative ({value})")]
    Negative {
        /// Field name.
        field: &'static str,
        /// Value.
        value: i64,
    },
    /// The input exceeds a limit.
    #[error("invalid Rekor entry: {0}")]
    TooLarge(String),
    /// A text field is not UTF-8.
    #[error("invalid Rekor entry: {0} is not UTF-8")]
    Utf8(&'static str),
    /// A field of the API response or of the per-field form is malformed.
    #[error("invalid Rekor entry: {field}: {reason}")]
    Field {
        /// Field name.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A required field is absent.
    #[error("invalid Rekor entry: {0} is missing")]
    Missing(String),
    /// The attribute holding the entry is malformed (for callers unwrapping its DER value).
    #[error("malformed embedded Rekor entry: {0}")]
    Malformed(String),
}

fn ferr(field: impl Into<String>, reason: impl Into<String>) -> EntryError {
    EntryError::Field { field: field.into(), reason: reason.into() }
}

// ---------------------------------------------------------------------------------------------
// protobuf encoding

const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_varint(out, (u64::from(field) << 3) | u64::from(wire));
}

/// int64 field, omitted when zero (proto3); negative values as ten-byte two's complement.
fn put_int64(out: &mut Vec<u8>, field: u32, v: i64) {
    if v != 0 {
        put_tag(out, field, WIRE_VARINT);
        put_varint(out, v as u64);
    }
}

/// bytes/string/message field (always written; callers decide about omission).
fn put_len(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_tag(out, field, WIRE_LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// bytes/string field, omitted when empty (proto3).
fn put_bytes(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    if !bytes.is_empty() {
        put_len(out, field, bytes);
    }
}

impl InclusionProof {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_int64(&mut out, 1, self.log_index);
        put_bytes(&mut out, 2, &self.root_hash);
        put_int64(&mut out, 3, self.tree_size);
        for h in &self.hashes {
            // repeated bytes: every element is written, even an empty one
            put_len(&mut out, 4, h);
        }
        if !self.checkpoint.is_empty() {
            let mut cp = Vec::new();
            put_bytes(&mut cp, 1, self.checkpoint.as_bytes());
            put_len(&mut out, 5, &cp);
        }
        out
    }
}

impl TransparencyLogEntry {
    /// Protobuf encoding (`dev.sigstore.rekor.v1.TransparencyLogEntry`), fields in number order,
    /// zero and empty values omitted as proto3 and Go's `proto.Marshal` do (a log id, kind/version
    /// or SET that is empty omits its whole sub-message). Re-encoding a decoded real entry
    /// reproduces its bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_int64(&mut out, 1, self.log_index);
        if !self.log_id.is_empty() {
            let mut id = Vec::new();
            put_bytes(&mut id, 1, &self.log_id);
            put_len(&mut out, 2, &id);
        }
        if !self.kind.is_empty() || !self.version.is_empty() {
            let mut kv = Vec::new();
            put_bytes(&mut kv, 1, self.kind.as_bytes());
            put_bytes(&mut kv, 2, self.version.as_bytes());
            put_len(&mut out, 3, &kv);
        }
        put_int64(&mut out, 4, self.integrated_time);
        if !self.signed_entry_timestamp.is_empty() {
            let mut ip = Vec::new();
            put_bytes(&mut ip, 1, &self.signed_entry_timestamp);
            put_len(&mut out, 5, &ip);
        }
        if let Some(proof) = &self.inclusion_proof {
            put_len(&mut out, 6, &proof.encode());
        }
        put_bytes(&mut out, 7, &self.canonicalized_body);
        out
    }

    /// Decode the protobuf bytes of an embedded entry (the OCTET STRING of attribute
    /// 1.3.6.1.4.1.57264.3.1). Unknown fields are skipped; lengths are bounded by the input and
    /// [`MAX_ENTRY_LEN`]; negative indices, sizes and times are rejected; a repeated scalar or
    /// message field keeps its last occurrence. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<TransparencyLogEntry, EntryError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge(format!(
                "embedded entry is {} bytes, more than {MAX_ENTRY_LEN}",
                bytes.len()
            )));
        }
        let mut e = TransparencyLogEntry::default();
        let mut r = Reader::new(bytes);
        while let Some((field, value)) = r.next_field()? {
            match field {
                1 => e.log_index = value.int64("log_index")?,
                2 => {
                    let mut sub = Reader::new(value.bytes("log_id")?);
                    e.log_id.clear();
                    while let Some((f, v)) = sub.next_field()? {
                        if f == 1 {
                            e.log_id = v.bytes("log_id.key_id")?.to_vec();
                        }
                    }
                }
                3 => {
                    let mut sub = Reader::new(value.bytes("kind_version")?);
                    e.kind.clear();
                    e.version.clear();
                    while let Some((f, v)) = sub.next_field()? {
                        match f {
                            1 => e.kind = v.string("kind_version.kind")?,
                            2 => e.version = v.string("kind_version.version")?,
                            _ => {}
                        }
                    }
                }
                4 => e.integrated_time = value.int64("integrated_time")?,
                5 => {
                    let mut sub = Reader::new(value.bytes("inclusion_promise")?);
                    e.signed_entry_timestamp.clear();
                    while let Some((f, v)) = sub.next_field()? {
                        if f == 1 {
                            e.signed_entry_timestamp = v.bytes("inclusion_promise.signed_entry_timestamp")?.to_vec();
                        }
                    }
                }
                6 => e.inclusion_proof = Some(InclusionProof::decode(value.bytes("inclusion_proof")?)?),
                7 => e.canonicalized_body = value.bytes("canonicalized_body")?.to_vec(),
                _ => {}
            }
        }
        Ok(e)
    }

    /// Convert a Rekor API entry (hex ids and hashes, base64 body and SET) into the embedded form.
    /// The body is decoded into `canonicalized_body` and its `kind`/`apiVersion` become
    /// `kind`/`version`. gitsign embeds entries **without** the body: use
    /// [`TransparencyLogEntry::to_embedded`] before [`TransparencyLogEntry::encode`].
    pub fn from_api(entry: &types::LogEntry) -> Result<TransparencyLogEntry, EntryError> {
        let body = STANDARD.decode(entry.body.trim()).map_err(|e| ferr("body", format!("invalid base64: {e}")))?;
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| ferr("body", format!("not JSON: {e}")))?;
        let kind = json.get("kind").and_then(|v| v.as_str()).ok_or_else(|| ferr("body", "no \"kind\""))?;
        let version =
            json.get("apiVersion").and_then(|v| v.as_str()).ok_or_else(|| ferr("body", "no \"apiVersion\""))?;
        let log_id = hex::decode(&entry.log_id).map_err(|e| ferr("logID", format!("invalid hex: {e}")))?;
        let log_index = non_negative("logIndex", entry.log_index)?;
        let integrated_time = non_negative("integratedTime", entry.integrated_time)?;
        let mut out = TransparencyLogEntry {
            log_index,
            log_id,
            kind: kind.to_string(),
            version: version.to_string(),
            integrated_time,
            canonicalized_body: body.clone(),
            ..Default::default()
        };
        if let Some(v) = &entry.verification {
            if let Some(set) = &v.signed_entry_timestamp {
                out.signed_entry_timestamp = STANDARD
                    .decode(set.trim())
                    .map_err(|e| ferr("verification.signedEntryTimestamp", format!("invalid base64: {e}")))?;
            }
            if let Some(p) = &v.inclusion_proof {
                if p.hashes.len() > MAX_PROOF_HASHES {
                    return Err(EntryError::TooLarge(format!("inclusion proof has {} hashes", p.hashes.len())));
                }
                let hashes = p
                    .hashes
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        hex::decode(h).map_err(|e| ferr(format!("inclusionProof.hashes[{i}]"), e.to_string()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                out.inclusion_proof = Some(InclusionProof {
                    log_index: non_negative("inclusionProof.logIndex", p.log_index)?,
                    root_hash: hex::decode(&p.root_hash).map_err(|e| ferr("inclusionProof.rootHash", e.to_string()))?,
                    tree_size: non_negative("inclusionProof.treeSize", p.tree_size)?,
                    hashes,
                    checkpoint: p.checkpoint.clone(),
                });
            }
        }
        Ok(out)
    }

    /// The entry as gitsign embeds it: the same, with `canonicalized_body` cleared (the verifier
    /// rebuilds the body from the signature).
    pub fn to_embedded(&self) -> TransparencyLogEntry {
        TransparencyLogEntry { canonicalized_body: Vec::new(), ..self.clone() }
    }

    /// Build an entry from the pre-release per-field form (January 2023): nine unsigned attributes
    /// 1.3.6.1.4.1.57264.3.x, keyed here by `x`, each value the DER TLV of the attribute's single
    /// value:
    ///
    /// 3.0 INTEGER integratedTime · 3.1 PrintableString log id (hex) · 3.2 INTEGER global
    /// logIndex · 3.3 OCTET STRING SET · 3.4 UTF8String checkpoint · 3.5 SEQUENCE OF
    /// PrintableString proof hashes (hex) · 3.6 PrintableString root hash (hex) · 3.7 INTEGER tree
    /// size · 3.8 INTEGER proof (shard-local) index.
    ///
    /// 3.0–3.3 are required; the proof (3.5–3.8) is all or nothing, 3.4 optional. Kind and
    /// version are hashedrekord 0.0.1. Unknown keys are ignored.
    pub fn from_per_field(values: &BTreeMap<u32, Vec<u8>>) -> Result<TransparencyLogEntry, EntryError> {
        let get = |x: u32| values.get(&x).map(Vec::as_slice);
        let need = |x: u32| get(x).ok_or_else(|| EntryError::Missing(format!("attribute 1.3.6.1.4.1.57264.3.{x}")));
        let name = |x: u32| format!("attribute 3.{x}");
        let integrated_time = der_int(&name(0), need(0)?)?;
        let log_id_hex = der_string(&name(1), need(1)?)?;
        let log_id = hex::decode(log_id_hex.trim()).map_err(|e| ferr(name(1), format!("invalid hex: {e}")))?;
        let log_index = der_int(&name(2), need(2)?)?;
        let signed_entry_timestamp = der_expect(&name(3), need(3)?, TAG_OCTET_STRING)?.to_vec();
        let proof_keys = [5u32, 6, 7, 8];
        let inclusion_proof = if proof_keys.iter().any(|&x| get(x).is_some()) {
            let seq = der_expect(&name(5), need(5)?, TAG_SEQUENCE)?;
            let mut hashes = Vec::new();
            let mut rest = seq;
            while !rest.is_empty() {
                if hashes.len() >= MAX_PROOF_HASHES {
                    return Err(EntryError::TooLarge(format!("{} has more than {MAX_PROOF_HASHES} hashes", name(5))));
                }
                let (tag, content, tail) = der_tlv(rest).map_err(|e| ferr(name(5), e))?;
                let h = string_content(&name(5), tag, content)?;
                hashes.push(hex::decode(h.trim()).map_err(|e| ferr(name(5), format!("invalid hex: {e}")))?);
                rest = tail;
            }
            let root_hex = der_string(&name(6), need(6)?)?;
            let checkpoint = match get(4) {
                Some(v) => der_string(&name(4), v)?,
                None => String::new(),
            };
            Some(InclusionProof {
                log_index: der_int(&name(8), need(8)?)?,
                root_hash: hex::decode(root_hex.trim()).map_err(|e| ferr(name(6), format!("invalid hex: {e}")))?,
                tree_size: der_int(&name(7), need(7)?)?,
                hashes,
                checkpoint,
            })
        } else {
            None
        };
        Ok(TransparencyLogEntry {
            log_index,
            log_id,
            kind: KIND_HASHEDREKORD.into(),
            version: VERSION_0_0_1.into(),
            integrated_time,
            signed_entry_timestamp,
            inclusion_proof,
            canonicalized_body: Vec::new(),
        })
    }
}

fn non_negative(field: &'static str, v: i64) -> Result<i64, EntryError> {
    if v < 0 { Err(EntryError::Negative { field, value: v }) } else { Ok(v) }
}

impl InclusionProof {
    fn decode(bytes: &[u8]) -> Result<InclusionProof, EntryError> {
        let mut p = InclusionProof::default();
        let mut r = Reader::new(bytes);
        while let Some((field, value)) = r.next_field()? {
            match field {
                1 => p.log_index = value.int64("inclusion_proof.log_index")?,
                2 => p.root_hash = value.bytes("inclusion_proof.root_hash")?.to_vec(),
                3 => p.tree_size = value.int64("inclusion_proof.tree_size")?,
                4 => {
                    if p.hashes.len() >= MAX_PROOF_HASHES {
                        return Err(EntryError::TooLarge(format!(
                            "inclusion proof has more than {MAX_PROOF_HASHES} hashes"
                        )));
                    }
                    p.hashes.push(value.bytes("inclusion_proof.hashes")?.to_vec());
                }
                5 => {
                    let mut sub = Reader::new(value.bytes("inclusion_proof.checkpoint")?);
                    p.checkpoint.clear();
                    while let Some((f, v)) = sub.next_field()? {
                        if f == 1 {
                            p.checkpoint = v.string("inclusion_proof.checkpoint.envelope")?;
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(p)
    }
}

// ---------------------------------------------------------------------------------------------
// protobuf decoding

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed(u8),
}

impl<'a> Value<'a> {
    fn wire(&self) -> u8 {
        match self {
            Value::Varint(_) => WIRE_VARINT,
            Value::Bytes(_) => WIRE_LEN,
            Value::Fixed(w) => *w,
        }
    }

    fn int64(&self, field: &'static str) -> Result<i64, EntryError> {
        match self {
            Value::Varint(v) => non_negative(field, *v as i64),
            other => Err(EntryError::WireType { field, got: other.wire(), expected: WIRE_VARINT }),
        }
    }

    fn bytes(&self, field: &'static str) -> Result<&'a [u8], EntryError> {
        match self {
            Value::Bytes(b) => Ok(b),
            other => Err(EntryError::WireType { field, got: other.wire(), expected: WIRE_LEN }),
        }
    }

    fn string(&self, field: &'static str) -> Result<String, EntryError> {
        let b = self.bytes(field)?;
        String::from_utf8(b.to_vec()).map_err(|_| EntryError::Utf8(field))
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, EntryError> {
        let mut v: u64 = 0;
        for i in 0..10u32 {
            let b = *self.buf.get(self.pos).ok_or_else(|| EntryError::Protobuf("truncated varint".into()))?;
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(EntryError::Protobuf("varint overflows 64 bits".into()));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(EntryError::Protobuf("varint longer than 10 bytes".into()))
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], EntryError> {
        let rest = self.buf.len() - self.pos;
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= rest)
            .ok_or_else(|| EntryError::Protobuf(format!("length {n} exceeds the {rest} remaining bytes")))?;
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next field, or `None` at the end of the buffer.
    fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, EntryError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 || field > (1 << 29) - 1 {
            return Err(EntryError::Protobuf(format!("invalid field number {field}")));
        }
        let wire = (key & 7) as u8;
        let value = match wire {
            WIRE_VARINT => Value::Varint(self.varint()?),
            WIRE_LEN => {
                let n = self.varint()?;
                Value::Bytes(self.take(n)?)
            }
            WIRE_I64 => {
                self.take(8)?;
                Value::Fixed(WIRE_I64)
            }
            WIRE_I32 => {
                self.take(4)?;
                Value::Fixed(WIRE_I32)
            }
            other => return Err(EntryError::Protobuf(format!("unsupported wire type {other} (field {field})"))),
        };
        Ok(Some((field as u32, value)))
    }
}

// ---------------------------------------------------------------------------------------------
// minimal DER for the per-field form

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_PRINTABLE_STRING: u8 = 0x13;
const TAG_IA5_STRING: u8 = 0x16;
const TAG_SEQUENCE: u8 = 0x30;

/// One DER TLV at the start of `b`: (tag, content, rest). Definite lengths only.
fn der_tlv(b: &[u8]) -> Result<(u8, &[u8], &[u8]), String> {
    let (&tag, rest) = b.split_first().ok_or("empty value")?;
    if tag & 0x1f == 0x1f {
        return Err("multi-byte tags are not supported".into());
    }
    let (&l0, rest) = rest.split_first().ok_or("truncated length")?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 {
            return Err(format!("unsupported length form 0x{l0:02x}"));
        }
        if rest.len() < n {
            return Err("truncated length".into());
        }
        let len = rest[..n].iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(format!("length {len} exceeds the {} remaining bytes", rest.len()));
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// The content of a single TLV with the expected tag, spanning all of `b`.
fn der_expect<'a>(field: &str, b: &'a [u8], want: u8) -> Result<&'a [u8], EntryError> {
    let (tag, content, rest) = der_tlv(b).map_err(|e| ferr(field, e))?;
    if !rest.is_empty() {
        return Err(ferr(field, "trailing bytes after the value"));
    }
    if tag != want {
        return Err(ferr(field, format!("tag 0x{tag:02x}, expected 0x{want:02x}")));
    }
    Ok(content)
}

fn string_content(field: &str, tag: u8, content: &[u8]) -> Result<String, EntryError> {
    if !matches!(tag, TAG_PRINTABLE_STRING | TAG_UTF8_STRING | TAG_IA5_STRING) {
        return Err(ferr(field, format!("tag 0x{tag:02x} is not a string")));
    }
    String::from_utf8(content.to_vec()).map_err(|_| ferr(field, "not UTF-8"))
}

/// A PrintableString / UTF8String / IA5String spanning all of `b`.
fn der_string(field: &str, b: &[u8]) -> Result<String, EntryError> {
    let (tag, content, rest) = der_tlv(b).map_err(|e| ferr(field, e))?;
    if !rest.is_empty() {
        return Err(ferr(field, "trailing bytes after the value"));
    }
    string_content(field, tag, content)
}

/// A non-negative INTEGER that fits in i64, spanning all of `b`.
fn der_int(field: &str, b: &[u8]) -> Result<i64, EntryError> {
    let content = der_expect(field, b, TAG_INTEGER)?;
    let Some(&first) = content.first() else {
        return Err(ferr(field, "empty INTEGER"));
    };
    if first & 0x80 != 0 {
        return Err(ferr(field, "negative INTEGER"));
    }
    let digits = if first == 0 && content.len() > 1 { &content[1..] } else { content };
    if digits.len() > 8 || (digits.len() == 8 && digits[0] & 0x80 != 0) {
        return Err(ferr(field, "INTEGER does not fit in 64 bits"));
    }
    Ok(digits.iter().fold(0i64, |acc, &x| (acc << 8) | i64::from(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFLINE: [&str; 2] = [
        "offline-commit__sigstore_gitsign__3616021d86975c23e52a456a7dc5605fe130ed14",
        "offline-tag__sigstore_gitsign__138f9d7cb3097a5f04192621a186e54f86390df0",
    ];

    fn example(name: &str, file: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../shared/fixtures/real/examples/{name}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// The OCTET STRING of attribute 1.3.6.1.4.1.57264.3.1 inside a CMS DER (test-only byte search).
    fn embedded_bytes(cms: &[u8]) -> Vec<u8> {
        let oid = [0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x03, 0x01];
        let at = cms.windows(oid.len()).position(|w| w == oid).unwrap() + oid.len();
        let (tag, set, _) = der_tlv(&cms[at..]).unwrap();
        assert_eq!(tag, 0x31);
        let (tag, octets, rest) = der_tlv(set).unwrap();
        assert_eq!((tag, rest.len()), (0x04, 0));
        octets.to_vec()
    }

    fn json(name: &str) -> serde_json::Value {
        serde_json::from_slice(&example(name, "rekor0_entry.json")).unwrap()
    }

    fn hexv(v: &serde_json::Value) -> Vec<u8> {
        hex::decode(v.as_str().unwrap()).unwrap()
    }

    fn api_entry(name: &str) -> types::LogEntry {
        let j = json(name);
        let p = &j["inclusion_proof"];
        types::LogEntry {
            body: STANDARD.encode(example(name, "rekor0_hashedrekord_body.json")),
            integrated_time: j["integrated_time"].as_i64().unwrap(),
            log_id: j["log_id"].as_str().unwrap().to_string(),
            log_index: j["log_index"].as_i64().unwrap(),
            verification: Some(types::Verification {
                inclusion_proof: Some(types::InclusionProof {
                    checkpoint: p["checkpoint"].as_str().unwrap().to_string(),
                    hashes: p["hashes"].as_array().unwrap().iter().map(|h| h.as_str().unwrap().to_string()).collect(),
                    log_index: p["log_index"].as_i64().unwrap(),
                    root_hash: p["root_hash"].as_str().unwrap().to_string(),
                    tree_size: p["tree_size"].as_i64().unwrap(),
                }),
                signed_entry_timestamp: Some(STANDARD.encode(hexv(&j["set"]))),
            }),
        }
    }

    #[test]
    fn real_entries_decode_and_reencode_byte_exact() {
        for name in OFFLINE {
            let raw = embedded_bytes(&example(name, "signature.der"));
            let e = TransparencyLogEntry::decode(&raw).unwrap();
            let j = json(name);
            assert_eq!(e.log_index, j["log_index"].as_i64().unwrap());
            assert_eq!(e.log_id, hexv(&j["log_id"]));
            assert_eq!(e.kind, "hashedrekord");
            assert_eq!(e.version, "0.0.1");
            assert_eq!(e.integrated_time, j["integrated_time"].as_i64().unwrap());
            assert_eq!(e.signed_entry_timestamp, hexv(&j["set"]));
            assert_eq!(e.signed_entry_timestamp, example(name, "rekor0_set.der"));
            assert!(e.canonicalized_body.is_empty());
            let p = e.inclusion_proof.as_ref().unwrap();
            let jp = &j["inclusion_proof"];
            assert_eq!(p.log_index, jp["log_index"].as_i64().unwrap());
            assert_eq!(p.tree_size, jp["tree_size"].as_i64().unwrap());
            assert_eq!(p.root_hash, hexv(&jp["root_hash"]));
            let hashes: Vec<Vec<u8>> = jp["hashes"].as_array().unwrap().iter().map(hexv).collect();
            assert_eq!(p.hashes, hashes);
            assert_eq!(p.checkpoint, jp["checkpoint"].as_str().unwrap());
            assert!(e.log_index > i64::from(i32::MAX), "64-bit global index");
            assert_ne!(e.log_index, p.log_index, "global vs shard-local index");

            assert_eq!(e.encode(), raw, "{name}: encode(decode(x)) == x");
        }
    }

    #[test]
    fn from_api_then_embedded_is_what_gitsign_embeds() {
        for name in OFFLINE {
            let raw = embedded_bytes(&example(name, "signature.der"));
            let api = api_entry(name);
            let e = TransparencyLogEntry::from_api(&api).unwrap();
            assert_eq!(e.canonicalized_body, example(name, "rekor0_hashedrekord_body.json"));
            assert_eq!((e.kind.as_str(), e.version.as_str()), ("hashedrekord", "0.0.1"));
            let embedded = e.to_embedded();
            assert!(embedded.canonicalized_body.is_empty());
            assert_eq!(embedded.encode(), raw, "{name}");
            assert_eq!(embedded, TransparencyLogEntry::decode(&raw).unwrap());
            // With the body, field 7 is appended and round-trips.
            let with_body = e.encode();
            assert!(with_body.starts_with(&raw));
            assert_eq!(TransparencyLogEntry::decode(&with_body).unwrap(), e);
        }
        let mut api = api_entry(OFFLINE[0]);
        api.log_index = -1;
        assert!(matches!(TransparencyLogEntry::from_api(&api), Err(EntryError::Negative { .. })));
        let mut api = api_entry(OFFLINE[0]);
        api.log_id = "zz".into();
        assert!(matches!(TransparencyLogEntry::from_api(&api), Err(EntryError::Field { .. })));
        let mut api = api_entry(OFFLINE[0]);
        api.body = STANDARD.encode(b"{}");
        assert!(TransparencyLogEntry::from_api(&api).is_err());
        let mut api = api_entry(OFFLINE[0]);
        api.body = "!!".into();
        assert!(TransparencyLogEntry::from_api(&api).is_err());
        let mut api = api_entry(OFFLINE[0]);
        if let Some(v) = api.verification.as_mut() {
            v.inclusion_proof = None;
            v.signed_entry_timestamp = None;
        }
        let e = TransparencyLogEntry::from_api(&api).unwrap();
        assert!(e.inclusion_proof.is_none() && e.signed_entry_timestamp.is_empty());
    }

    #[test]
    fn decode_never_panics_and_rejects_garbage() {
        let raw = embedded_bytes(&example(OFFLINE[0], "signature.der"));
        // every truncation: error or a (partial) entry, never a panic
        for n in 0..raw.len() {
            let _ = TransparencyLogEntry::decode(&raw[..n]);
        }
        // deterministic pseudo-random single-byte mutations
        let mut x: u32 = 0x1234_5678;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut m = raw.clone();
            let i = (x as usize) % m.len();
            m[i] = (x >> 8) as u8;
            let _ = TransparencyLogEntry::decode(&m);
        }
        assert_eq!(TransparencyLogEntry::decode(&[]).unwrap(), TransparencyLogEntry::default());
        assert!(matches!(TransparencyLogEntry::decode(&[0x08]), Err(EntryError::Protobuf(_))));
        assert!(matches!(TransparencyLogEntry::decode(&[0x12, 0x05, 0x0a]), Err(EntryError::Protobuf(_))));
        assert!(matches!(TransparencyLogEntry::decode(&[0x00, 0x00]), Err(EntryError::Protobuf(_))));
        assert!(matches!(TransparencyLogEntry::decode(&[0x0b]), Err(EntryError::Protobuf(_))), "group wire type");
        assert!(matches!(
            TransparencyLogEntry::decode(&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
            Err(EntryError::Protobuf(_))
        ));
        // negative global index (int64 -1 as ten-byte varint)
        let neg = TransparencyLogEntry { log_index: -1, ..Default::default() }.encode();
        assert_eq!(neg.len(), 11);
        assert_eq!(TransparencyLogEntry::decode(&neg), Err(EntryError::Negative { field: "log_index", value: -1 }));
        let neg_proof = TransparencyLogEntry {
            inclusion_proof: Some(InclusionProof { tree_size: -3, ..Default::default() }),
            ..Default::default()
        }
        .encode();
        assert!(matches!(TransparencyLogEntry::decode(&neg_proof), Err(EntryError::Negative { .. })));
        // wrong wire type for a known field
        assert!(matches!(TransparencyLogEntry::decode(&[0x0a, 0x00]), Err(EntryError::WireType { .. })));
        assert!(matches!(TransparencyLogEntry::decode(&[0x10, 0x01]), Err(EntryError::WireType { .. })));
        // too many proof hashes
        let mut many = Vec::new();
        for _ in 0..=MAX_PROOF_HASHES {
            put_len(&mut many, 4, &[0u8; 32]);
        }
        let mut outer = Vec::new();
        put_len(&mut outer, 6, &many);
        assert!(matches!(TransparencyLogEntry::decode(&outer), Err(EntryError::TooLarge(_))));
        assert!(matches!(TransparencyLogEntry::decode(&vec![0u8; MAX_ENTRY_LEN + 1]), Err(EntryError::TooLarge(_))));
        // invalid UTF-8 kind
        assert!(matches!(TransparencyLogEntry::decode(&[0x1a, 0x03, 0x0a, 0x01, 0xff]), Err(EntryError::Utf8(_))));
    }

    #[test]
    fn unknown_fields_are_skipped() {
        let raw = embedded_bytes(&example(OFFLINE[0], "signature.der"));
        let want = TransparencyLogEntry::decode(&raw).unwrap();
        let mut extended = raw.clone();
        // field 15 varint, field 16 fixed64, field 17 bytes, field 18 fixed32
        extended.extend_from_slice(&[0x78, 0x2a]);
        extended.extend_from_slice(&[0x81, 0x01, 1, 2, 3, 4, 5, 6, 7, 8]);
        extended.extend_from_slice(&[0x8a, 0x01, 0x02, 0xaa, 0xbb]);
        extended.extend_from_slice(&[0x95, 0x01, 1, 2, 3, 4]);
        let mut front = vec![0x78, 0x01];
        front.extend_from_slice(&extended);
        assert_eq!(TransparencyLogEntry::decode(&front).unwrap(), want);
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 0x80 {
            out.push(content.len() as u8);
        } else if content.len() < 0x100 {
            out.extend_from_slice(&[0x81, content.len() as u8]);
        } else {
            out.extend_from_slice(&[0x82, (content.len() >> 8) as u8, content.len() as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    fn int(v: i64) -> Vec<u8> {
        let mut b = v.to_be_bytes().to_vec();
        while b.len() > 1 && b[0] == 0 && b[1] & 0x80 == 0 {
            b.remove(0);
        }
        if b[0] & 0x80 != 0 {
            b.insert(0, 0);
        }
        tlv(TAG_INTEGER, &b)
    }

    /// The pre-release per-field attribute values of a decoded entry.
    fn per_field(e: &TransparencyLogEntry) -> BTreeMap<u32, Vec<u8>> {
        let p = e.inclusion_proof.as_ref().unwrap();
        let hashes: Vec<u8> =
            p.hashes.iter().flat_map(|h| tlv(TAG_PRINTABLE_STRING, hex::encode(h).as_bytes())).collect();
        BTreeMap::from([
            (0, int(e.integrated_time)),
            (1, tlv(TAG_PRINTABLE_STRING, hex::encode(&e.log_id).as_bytes())),
            (2, int(e.log_index)),
            (3, tlv(TAG_OCTET_STRING, &e.signed_entry_timestamp)),
            (4, tlv(TAG_UTF8_STRING, p.checkpoint.as_bytes())),
            (5, tlv(TAG_SEQUENCE, &hashes)),
            (6, tlv(TAG_PRINTABLE_STRING, hex::encode(&p.root_hash).as_bytes())),
            (7, int(p.tree_size)),
            (8, int(p.log_index)),
        ])
    }

    #[test]
    fn per_field_form() {
        let raw = embedded_bytes(&example(OFFLINE[0], "signature.der"));
        let e = TransparencyLogEntry::decode(&raw).unwrap();
        let map = per_field(&e);
        assert_eq!(TransparencyLogEntry::from_per_field(&map).unwrap(), e);

        // no proof at all: SET-only entry
        let mut m = map.clone();
        for k in 4..=8 {
            m.remove(&k);
        }
        let got = TransparencyLogEntry::from_per_field(&m).unwrap();
        assert!(got.inclusion_proof.is_none());
        // partial proof, missing required fields, wrong types, negatives, oversize integers
        let mut m = map.clone();
        m.remove(&7);
        assert!(matches!(TransparencyLogEntry::from_per_field(&m), Err(EntryError::Missing(_))));
        for k in 0..=3 {
            let mut m = map.clone();
            m.remove(&k);
            assert!(matches!(TransparencyLogEntry::from_per_field(&m), Err(EntryError::Missing(_))), "{k}");
        }
        let mut m = map.clone();
        m.insert(1, tlv(TAG_OCTET_STRING, &e.log_id)); // protobuf-style 3.1 is not the per-field form
        assert!(TransparencyLogEntry::from_per_field(&m).is_err());
        let mut m = map.clone();
        m.insert(2, tlv(TAG_INTEGER, &[0xff]));
        assert!(TransparencyLogEntry::from_per_field(&m).is_err());
        let mut m = map.clone();
        m.insert(2, tlv(TAG_INTEGER, &[0x01; 9]));
        assert!(TransparencyLogEntry::from_per_field(&m).is_err());
        let mut m = map.clone();
        m.insert(0, tlv(TAG_INTEGER, &[]));
        assert!(TransparencyLogEntry::from_per_field(&m).is_err());
        let mut m = map.clone();
        let mut trailing = int(5);
        trailing.push(0);
        m.insert(7, trailing);
        assert!(TransparencyLogEntry::from_per_field(&m).is_err());
        let mut m = map.clone();
        m.insert(6, tlv(TAG_PRINTABLE_STRING, b"xyz"));
        assert!(TransparencyLogEntry::from_per_field(&m).is_err());
        let mut m = map.clone();
        m.insert(5, vec![0x30, 0x85, 1, 1, 1, 1, 1]);
        assert!(TransparencyLogEntry::from_per_field(&m).is_err());
        let mut m = map.clone();
        m.insert(3, vec![0x04, 0x80]);
        assert!(TransparencyLogEntry::from_per_field(&m).is_err());
        let mut m = map.clone();
        m.insert(9, vec![0xde, 0xad]); // unknown keys are ignored
        assert!(TransparencyLogEntry::from_per_field(&m).is_ok());
        // never panics on any truncation of any value
        for (k, v) in &map {
            for n in 0..v.len() {
                let mut m = map.clone();
                m.insert(*k, v[..n].to_vec());
                let _ = TransparencyLogEntry::from_per_field(&m);
            }
        }
        // 64-bit integers
        assert_eq!(der_int("x", &int(i64::MAX)).unwrap(), i64::MAX);
        assert_eq!(der_int("x", &int(2345438208)).unwrap(), 2345438208);
        assert!(der_int("x", &tlv(TAG_INTEGER, &[0x00, 0x80, 0, 0, 0, 0, 0, 0, 0])).is_err());
    }
}
