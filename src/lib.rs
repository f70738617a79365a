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
//! - [`bundle_verify`]: offline verification of any Sigstore bundle (v0.1–v0.3).
//! - [`cms`]: building and verifying the detached CMS signature.
//! - [`x509`]: certificate facts (SAN, issuer extensions), chain and SCT checks.
//! - [`fulcio`]: the Fulcio client (v2 and legacy v1).
//! - [`rekor`]: Rekor client, entries, canonical bodies, Merkle proofs, checkpoints.
//! - [`repo`]: reading raw objects through git.
//! - [`trust`]: Sigstore trusted roots (embedded production/staging, or from a file).
//! - [`verify`]: the verification pipeline.
//! - [`object_verify`]: [`verify_object`], the entry point for other tools.
//! - [`policy`]: identity policy (certificate identity, issuer, workflow claims, committer).
//! - [`sign`]: the signing pipeline.
//! - [`oidc`]: obtaining an ID token.
//! - [`config`]: gitsign configuration (git config + environment).
//! - [`http`]: the HTTPS client.
//! - [`setup`]: wiring the configuration into trust roots and clients.
//! - [`pubkey`]: ECDSA signature checks against SPKI-encoded keys.
//! - [`attest`]: the in-toto statement `gitsign show` prints; `gitsign attest` and its verification.
//! - [`dsse`]: DSSE envelopes and Rekor's intoto v0.0.1 entry.
//! - [`doctor`]: the checks behind `gitsign doctor`.
//! - [`runlog`]: the per-run debug log (`GITSIGN_LOG` / `gitsign.logPath`).
//! - [`timefmt`]: times in messages (RFC 3339 UTC with a relative hint).
//! - [`secret`]: key material in locked, non-dumpable memory, zeroized on drop.
//! - [`tsa`]: RFC 3161 timestamps (request, client, token verification).
//! - [`tuf`]: a TUF client refreshing the trusted root from Sigstore's TUF repository.
//! - `cache`: the credential cache (daemon protocol, client, server, OS keyring).
//!
//! # Verifying a git object from another tool
//!
//! [`verify_object`] takes a commit's or tag's raw bytes (as `git cat-file commit ID` prints
//! them) and an explicit identity [`policy::Policy`], and returns a typed
//! [`VerifiedObject`] (identity, issuer, transparency log evidence, committer match) or an
//! [`ObjectVerifyError`] saying whether the object, the signature or the policy failed.
//! Verification is offline unless [`verify::VerifyOptions::rekor`] is set (online-mode
//! signatures need it); [`bundle_verify::verify_bundle`] does the same for Sigstore bundles.
//!
//! ```
//! use gitsign::git::ObjectKind;
//! use gitsign::policy::{Policy, PolicyFlags};
//! use gitsign::trust::TrustedRoot;
//! use gitsign::verify::{TlogEvidence, VerifyOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A commit of sigstore/gitsign, signed in offline mode (Rekor entry embedded).
//! let raw = std::fs::read(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/../shared/fixtures/real/sigstore_gitsign__3616021d86975c23e52a456a7dc5605fe130ed14.commit"
//! ))?;
//! let policy = Policy::from_flags(&PolicyFlags {
//!     identity: Some("billy@chainguard.dev".into()),
//!     issuer: Some("https://accounts.google.com".into()),
//!     ..Default::default()
//! })?;
//! let opts = VerifyOptions::new(TrustedRoot::production()?);
//! let v = gitsign::verify_object(ObjectKind::Commit, &raw, &policy, &opts)?;
//! assert_eq!(v.object_id, "3616021d86975c23e52a456a7dc5605fe130ed14");
//! assert_eq!(v.identity, "billy@chainguard.dev");
//! assert!(v.committer_matches);
//! assert!(matches!(v.tlog, TlogEvidence::Embedded { log_index: 2340836642, .. }));
//!
//! // Another identity is refused with a policy error.
//! let mallory = Policy::from_flags(&PolicyFlags {
//!     identity: Some("mallory@example.com".into()),
//!     issuer: Some("https://accounts.google.com".into()),
//!     ..Default::default()
//! })?;
//! let err = gitsign::verify_object(ObjectKind::Commit, &raw, &mallory, &opts).unwrap_err();
//! assert!(matches!(err, gitsign::ObjectVerifyError::Policy(_)));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]

pub mod armor;
pub mod attest;
pub mod bundle;
pub mod bundle_verify;
#[cfg(unix)]
pub mod cache;
pub mod cms;
pub mod config;
pub mod doctor;
pub mod dsse;
pub mod fulcio;
pub mod git;
pub mod gitconfig;
pub mod gpg;
pub mod http;
pub mod object_verify;
pub mod oidc;
pub mod oids;
pub mod policy;
pub mod pubkey;
pub mod rekor;
pub mod repo;
pub mod runlog;
pub mod secret;
pub mod setup;
pub mod sign;
pub mod timefmt;
pub mod trust;
pub mod tsa;
pub mod tuf;
pub mod verify;
pub mod x509;

pub use object_verify::{ObjectVerifyError, VerifiedObject, verify_object};
