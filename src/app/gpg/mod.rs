//! git's contract with the signing program: gpg-style argv and `[GNUPG:]` status lines.
pub mod args;
pub mod status;
