//! Layer 3, git: commit and tag object parsing, reading objects through git, and the git config
//! reader.
pub mod config;
pub mod object;
pub mod repo;
