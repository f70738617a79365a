//! Rekor: the API types and client, the embedded `TransparencyLogEntry`, canonical entry
//! bodies, the SET, RFC 6962 inclusion proofs and signed checkpoints.
pub mod body;
pub mod checkpoint;
pub mod client;
pub mod entry;
pub mod merkle;
pub mod set;
pub mod types;
pub mod v2;
pub mod verify;
