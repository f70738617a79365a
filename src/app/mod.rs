//! Layer 8, app: what the `gitsign` program is made of above the pipelines — configuration
//! (git config + environment), the allowed-signers policy it names, wiring it into trust roots and clients, `gitsign doctor`, the
//! per-run debug log, and git's gpg interface (argv and status lines).
pub mod allowed;
pub mod config;
pub mod doctor;
pub mod gpg;
pub mod runlog;
pub mod setup;
