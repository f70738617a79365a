//! Layer 6, credentials: the signing identity ([`identity`]) and the credential cache
//! ([`cache`]) — cached credentials' facts, the daemon protocol, client and server, and the OS
//! keyrings.
#[cfg(unix)]
pub mod agent;
#[cfg(unix)]
pub mod cache;
#[cfg(unix)]
pub mod client;
#[cfg(unix)]
pub mod credential;
pub mod identity;
#[cfg(unix)]
pub mod keyring;
#[cfg(unix)]
pub mod keyring_entry;
#[cfg(unix)]
pub mod protocol;
#[cfg(unix)]
pub mod secret_service;
#[cfg(unix)]
pub mod server;
