//! Rekor v1 REST API shapes (hand-written serde types).
//!
//! In the JSON API hashes and log ids are hex, the SET is base64, the body is base64 of the
//! canonical entry JSON.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /api/v1/log/entries` response and `GET /api/v1/log/entries/{uuid}` response:
/// a map from entry uuid to the entry.
pub type LogEntries = BTreeMap<String, LogEntry>;

/// One log entry as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// base64 of the canonical body.
    pub body: String,
    /// Unix seconds.
    pub integrated_time: i64,
    /// hex SHA-256 of the log's public key (SPKI DER).
    #[serde(rename = "logID")]
    pub log_id: String,
    /// Global log index.
    pub log_index: i64,
    /// Inclusion proof and SET.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// `verification` member of a log entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// RFC 6962 inclusion proof with a signed checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    /// base64 DER ECDSA signature (the SET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_entry_timestamp: Option<String>,
}

/// Inclusion proof as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// Signed note text.
    #[serde(default)]
    pub checkpoint: String,
    /// Audit path, hex.
    #[serde(default)]
    pub hashes: Vec<String>,
    /// Index in the shard's tree (not the global index).
    pub log_index: i64,
    /// hex root hash.
    pub root_hash: String,
    /// Tree size of the proof.
    pub tree_size: i64,
}

/// hashedrekord v0.0.1 proposed entry (the upload request body).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HashedRekord {
    /// "0.0.1"
    pub api_version: String,
    /// "hashedrekord"
    pub kind: String,
    /// The entry spec.
    pub spec: HashedRekordSpec,
}

/// hashedrekord spec.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HashedRekordSpec {
    /// The hash of the logged artifact.
    pub data: HashedRekordData,
    /// Signature and verification material.
    pub signature: HashedRekordSignature,
}

/// hashedrekord `data`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HashedRekordData {
    /// The artifact hash.
    pub hash: HashedRekordHash,
}

/// hashedrekord `data.hash`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HashedRekordHash {
    /// "sha256"
    pub algorithm: String,
    /// hex digest
    pub value: String,
}

/// hashedrekord `signature`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HashedRekordSignature {
    /// base64 signature bytes.
    pub content: String,
    /// The verification material.
    pub public_key: HashedRekordPublicKey,
}

/// hashedrekord `signature.publicKey`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HashedRekordPublicKey {
    /// base64 of the PEM certificate (or PEM public key).
    pub content: String,
}

/// `POST /api/v1/index/retrieve` request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SearchIndex {
    /// Search by hash (`sha256:<hex>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Search by public key / certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<SearchPublicKey>,
}

/// `publicKey` member of a search request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SearchPublicKey {
    /// "x509"
    pub format: String,
    /// base64 of the PEM certificate.
    pub content: String,
}

/// `GET /api/v1/log` response (the parts we use).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LogInfo {
    /// hex root hash
    pub root_hash: String,
    /// current tree size
    pub tree_size: i64,
    /// signed checkpoint
    pub signed_tree_head: String,
    /// tree id (decimal string)
    #[serde(rename = "treeID", default)]
    pub tree_id: String,
}
