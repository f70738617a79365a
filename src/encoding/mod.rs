//! Layer 1, encoding: bytes and text formats with no cryptography and no I/O — the
//! `SIGNED MESSAGE` armor, object identifiers, and times as messages show them.
pub mod armor;
pub mod oids;
pub mod timefmt;
