//! Layer 5, services: the HTTPS transport and the clients of the Sigstore services — Fulcio,
//! Rekor, the RFC 3161 timestamp authority — and of OIDC providers.
pub mod fulcio;
pub mod http;
pub mod oidc;
pub mod rekor;
pub mod tsa;
