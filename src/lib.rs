//! gitsign: keyless Git commit and tag signing with Sigstore.
//!
//! The library holds every piece of the `gitsign` program as pure functions over bytes
//! where possible, so that each can be tested with vectors; the binaries in `cmd/` are thin.
//!
//! Module map (one concern each):
//! - [`gpg`]: git's contract with the signing program (argv parsing, status lines).
//! - [`git`]: payload extraction from raw commit and tag objects.
//! - [`armor`]: the `SIGNED MESSAGE` PEM armor.
//! - [`bundle`]: Sigstore bundles made from gitsign signatures.
//! - [`cms`]: building and verifying the detached CMS signature.
//! - [`x509`]: certificate facts (SAN, issuer extensions), chain and SCT checks.
//! - [`fulcio`]: the Fulcio client (v2 and legacy v1).
//! - [`rekor`]: Rekor client, entries, canonical bodies, Merkle proofs, checkpoints.
//! - [`repo`]: reading raw objects through git.
//! - [`trust`]: Sigstore trusted roots (embedded production/staging, or from a file).
//! - [`verify`]: the verification pipeline.
//! - [`policy`]: identity policy (certificate identity, issuer, workflow claims, committer).
//! - [`sign`]: the signing pipeline.
//! - [`oidc`]: obtaining an ID token.
//! - [`config`]: gitsign configuration (git config + environment).
//! - [`http`]: the HTTPS client.
//! - [`setup`]: wiring the configuration into trust roots and clients.
//! - [`pubkey`]: ECDSA signature checks against SPKI-encoded keys.
//! - `cache`: the credential cache (daemon protocol, client, server, OS keyring).
#![forbid(unsafe_code)]

pub mod armor;
#[cfg(unix)]
pub mod cache;
pub mod bundle;
pub mod cms;
pub mod config;
pub mod fulcio;
pub mod git;
pub mod gpg;
pub mod http;
pub mod oidc;
pub mod oids;
pub mod policy;
pub mod pubkey;
pub mod rekor;
pub mod repo;
pub mod setup;
pub mod sign;
pub mod trust;
pub mod verify;
pub mod x509;
