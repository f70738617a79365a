//! The harness the sandbox's integration tests share: a running `gitsign-sandbox serve` and
//! fresh P-256 keys. Temporary directories, the HTTP client and fake servers come from the
//! workspace's `testsupport` crate.
#![allow(dead_code)]

use p256::ecdsa::SigningKey;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_gitsign-sandbox");

/// `gitsign-sandbox serve --dir DIR --addr 127.0.0.1:0 EXTRA…`, started and ready; killed on drop.
pub(crate) struct Sandbox {
    pub child: Child,
    pub base: String,
    /// What it printed on stdout before `ready`.
    pub lines: Vec<String>,
}

impl Sandbox {
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Sandbox {
        let (child, lines) = testsupport::process::spawn_until_ready(
            Command::new(BIN)
                .args(["serve", "--dir"])
                .arg(dir)
                .args(["--addr", "127.0.0.1:0"])
                .args(extra)
                .stderr(Stdio::inherit()),
            Duration::from_secs(30),
        );
        let base = lines.iter().find_map(|l| l.strip_prefix("base_url ")).map(str::to_string);
        Sandbox { child, base: base.expect("no base_url line before ready"), lines }
    }

    /// SIGKILL, as `kill -9`.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh random P-256 key.
pub(crate) fn new_key() -> SigningKey {
    loop {
        let mut r = [0u8; 32];
        getrandom::fill(&mut r).unwrap();
        if let Ok(k) = SigningKey::from_slice(&r) {
            return k;
        }
    }
}
