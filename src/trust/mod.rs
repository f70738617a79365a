//! Layer 4, trust: Sigstore trusted roots (embedded, from a file) and the TUF client that
//! refreshes them.
pub mod root;
pub mod tuf;
