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
