//! Layer 2, crypto: public keys and signature checks, secret keys in locked memory, X.509
//! certificate facts, and the detached CMS signature.
pub mod cms;
pub mod pubkey;
pub mod secret;
pub mod x509;
