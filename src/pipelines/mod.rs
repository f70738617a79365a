//! Layer 7, pipelines: signing, verification (git signatures, objects for other tools, Sigstore
//! bundles, identity policy), bundles made from signatures, DSSE, and attestations.
pub mod attest;
pub mod bundle;
pub mod dsse;
pub mod sign;
pub mod verify;
