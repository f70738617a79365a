//! Layer 6, credentials: the credential cache (see [`cache`]) — the daemon protocol, client and
//! server, and the OS keyrings.
pub mod cache;
pub mod client;
pub mod keyring;
pub mod protocol;
pub mod secret_service;
pub mod server;
