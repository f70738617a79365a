//! Link the binaries as position-dependent executables: a PIE of this size carries some 27,000
//! relative relocations that the dynamic loader applies on every start, writing (and so copying)
//! about a hundred pages. `gitsign` is started once per signature and per verification, so
//! start-up cost is paid on every commit (page faults at start: 252 -> 133). Go's default build,
//! which sigstore/gitsign ships, is position-dependent too; address-space layout randomisation
//! still applies to the heap, the stacks, the mappings and the shared libraries.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
