//! Verification, in one place: [`signature`] checks a git signature (CMS, certificate chain,
//! transparency log, timestamps), [`object`] wraps it for other tools ([`object::verify_object`]),
//! [`bundle`] verifies any Sigstore bundle offline, and [`policy`] is the identity policy they share.
pub mod bundle;
pub mod object;
pub mod policy;
pub mod signature;
