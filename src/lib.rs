//! gitsign: keyless Git commit and tag signing with Sigstore.
//!
//! The library holds every piece of the `gitsign` program as pure functions over bytes
//! where possible, so that each can be tested with vectors; the binaries in `cmd/` are thin.
//!
//! The source is layered; each folder is one layer and imports only from the layers below it
//! (bottom-up; see `ARCHITECTURE.md`, enforced by `tests/architecture.rs`):
//! - [`encoding`]: the `SIGNED MESSAGE` armor, OIDs, times in messages.
//! - [`crypto`]: ECDSA public keys, secret keys in locked memory, X.509, the detached CMS signature.
//! - [`git`]: commit and tag objects, reading objects through git, the git config reader.
//! - [`trust`]: Sigstore trusted roots and the TUF client that refreshes them.
//! - [`services`]: the HTTPS client; Fulcio, Rekor, the timestamp authority, OIDC.
//! - [`credentials`]: the signing identity; the credential cache (daemon protocol, client, server, OS keyrings).
//! - [`pipelines`]: signing; verification (signatures, objects, bundles, policy); bundles, DSSE,
//!   attestations.
//! - [`app`]: configuration, setup, `gitsign doctor`, the run log, git's gpg interface.
//!
//! # Verifying a git object from another tool
//!
//! [`verify_object`] takes a commit's or tag's raw bytes (as `git cat-file commit ID` prints
//! them) and an explicit identity [`pipelines::verify::policy::Policy`], and returns a typed
//! [`VerifiedObject`] (identity, issuer, transparency log evidence, committer match) or an
//! [`ObjectVerifyError`] saying whether the object, the signature or the policy failed.
//! Verification is offline unless [`pipelines::verify::signature::VerifyOptions::rekor`] is set (online-mode
//! signatures need it); [`pipelines::verify::bundle::verify_bundle`] does the same for Sigstore bundles.
//!
//! ```
//! use gitsign::git::object::ObjectKind;
//! use gitsign::pipelines::verify::policy::{Policy, PolicyFlags};
//! use gitsign::trust::root::TrustedRoot;
//! use gitsign::pipelines::verify::signature::{TlogEvidence, VerifyOptions};
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

pub mod app;
pub mod credentials;
pub mod crypto;
pub mod encoding;
pub mod git;
pub mod pipelines;
pub mod services;
pub mod trust;

pub use pipelines::verify::object::{ObjectVerifyError, VerifiedObject, verify_object};
