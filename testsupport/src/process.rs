//! Child processes (servers) that print `ready` on stdout once they serve.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Spawn `cmd` with stdout piped and wait until it prints a line `ready`. Returns the child
/// and the lines it printed before `ready`. Its stdout is drained by a thread afterwards, so
/// later output never blocks it. Panics if it does not get ready within `limit`.
pub fn spawn_until_ready(cmd: &mut Command, limit: Duration) -> (Child, Vec<String>) {
    let what = format!("{:?}", cmd.get_program());
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("start {what}: {e}"));
    let Some(stdout) = child.stdout.take() else { panic!("{what}: stdout is not piped") };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut before = Vec::new();
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.is_none() {
                continue;
            }
            if line.trim() == "ready" {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(std::mem::take(&mut before));
                }
            } else {
                before.push(line);
            }
        }
    });
    match rx.recv_timeout(limit) {
        Ok(lines) => (child, lines),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not print `ready` within {limit:?}");
        }
    }
}
