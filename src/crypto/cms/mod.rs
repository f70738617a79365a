//! The detached CMS SignedData that gitsign writes and verifies.
pub mod sign;
pub mod verify;
