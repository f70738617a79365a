//! Verification, in one place: [`signature`] checks a git signature (CMS, certificate chain,
//! transparency log, timestamps), [`object`] wraps it for other tools ([`object::verify_object`]),
//! [`bundle`] verifies any Sigstore bundle offline, [`policy`] is the identity policy they share, and [`allowed`] the allowed-signers
//! rules that git's own verification honours.
pub mod allowed;
pub mod bundle;
pub mod object;
pub mod policy;
pub mod signature;
