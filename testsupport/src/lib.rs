//! Helpers that the integration tests of `gitsign` (`tests/`) and of `gitsign-sandbox`
//! (`sandbox/tests/`) share: temporary directories, a child process that announces `ready`, a
//! tiny HTTP/1.1 client, a loopback HTTP server driven by a closure, a DER TLV writer and
//! reader, and RFC 6962 Merkle hashing.
//!
//! A dev-dependency only: nothing here is linked into the shipped binaries.
//! Test code: failures panic with a message saying what went wrong.

#![forbid(unsafe_code)]

pub mod der;
pub mod http;
pub mod merkle;
pub mod process;
pub mod server;
pub mod tempdir;

pub use tempdir::TempDir;
