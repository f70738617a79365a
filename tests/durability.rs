//! The sandbox's transparency log survives `kill -9` at any moment: entries are appended in a
//! loop while `gitsign-sandbox serve` is killed and restarted on the same directory, and every
//! entry it acknowledged (HTTP 201) must still be there afterwards, at the same index, with an
//! inclusion proof, SET and signed checkpoint that verify with the library's Rekor checks
//! against the stack's trusted root, all in one consistent tree.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{TempDir, bin};
use ecdsa::signature::Signer;
use gitsign::services::rekor::entry::TransparencyLogEntry;
use gitsign::services::rekor::types::{LogEntries, LogInfo};
use gitsign::trust::root::TrustedRoot;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Server {
    child: Child,
    url: String,
}

fn start(dir: &Path) -> Server {
    let mut child = Command::new(bin("gitsign-sandbox"))
        .arg("serve")
        .arg("--dir")
        .arg(dir)
        .args(["--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut url = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(u) = line.strip_prefix("rekor_url ") {
                url = Some(u.trim().to_string());
            }
            if line.trim() == "ready" {
                let _ = tx.send(url.take());
            }
        }
    });
    let url = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Some(u)) => u,
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gitsign-sandbox did not come up on {} after a kill -9: {other:?}", dir.display());
        }
    };
    Server { child, url }
}

/// An acknowledged entry: uuid and global index as the 201 answer gave them.
#[derive(Debug, Clone)]
struct Acked {
    uuid: String,
    index: i64,
}

fn proposed(key: &p256::ecdsa::SigningKey, pem: &str, n: u64) -> serde_json::Value {
    let msg = format!("durability entry {n} {}", std::process::id());
    let sig: p256::ecdsa::DerSignature = key.sign(msg.as_bytes());
    serde_json::json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(msg.as_bytes()))}},
            "signature": {"content": STANDARD.encode(sig.as_bytes()), "publicKey": {"content": STANDARD.encode(pem)}}
        }
    })
}

/// Check every acknowledged entry against the running log; returns the tree size.
fn check_all(http: &reqwest::blocking::Client, url: &str, trust: &TrustedRoot, acked: &[Acked]) -> i64 {
    let info: LogInfo = http.get(format!("{url}/api/v1/log")).send().unwrap().json().unwrap();
    assert!(
        info.tree_size >= acked.len() as i64,
        "tree size {} < {} acknowledged entries",
        info.tree_size,
        acked.len()
    );
    for a in acked {
        let resp = http.get(format!("{url}/api/v1/log/entries/{}", a.uuid)).send().unwrap();
        assert_eq!(
            resp.status().as_u16(),
            200,
            "acknowledged entry {} (index {}) is gone after kill -9",
            a.uuid,
            a.index
        );
        let entries: LogEntries = resp.json().unwrap();
        let (_, e) = entries.iter().next().unwrap();
        assert_eq!(e.log_index, a.index, "entry {} moved", a.uuid);
        let tle = TransparencyLogEntry::from_api(e).unwrap();
        let body = tle.canonicalized_body.clone();
        // The uuid's leaf hash is the body's.
        assert!(
            a.uuid.ends_with(&hex::encode(gitsign::services::rekor::merkle::leaf_hash(&body))),
            "uuid/body mismatch"
        );
        let proof = tle.inclusion_proof.as_ref().expect("an inclusion proof");
        gitsign::services::rekor::merkle::verify_inclusion(
            proof.log_index as u64,
            proof.tree_size as u64,
            &gitsign::services::rekor::merkle::leaf_hash(&body),
            &proof.hashes,
            &proof.root_hash,
        )
        .unwrap_or_else(|err| panic!("entry {}: inclusion proof: {err}", a.uuid));
        // SET, proof, checkpoint signature by the trusted log key.
        gitsign::services::rekor::verify::verify_entry(&tle, &body, trust)
            .unwrap_or_else(|err| panic!("entry {} does not verify after restart: {err}", a.uuid));
        // One tree: every proof is for the log's current head.
        assert_eq!(proof.tree_size, info.tree_size, "entry {}: proof for another tree size", a.uuid);
        assert_eq!(hex::encode(&proof.root_hash), info.root_hash, "entry {}: proof for another root", a.uuid);
    }
    info.tree_size
}

#[test]
fn acknowledged_entries_survive_kill_9() {
    let tmp = TempDir::new("durability");
    let dir = tmp.path().join("stack");
    let rounds: usize = std::env::var("GITSIGN_DURABILITY_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    let key = p256::ecdsa::SigningKey::from_slice(&[42u8; 32]).unwrap();
    let spki = spki::EncodePublicKey::to_public_key_der(key.verifying_key()).unwrap();
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", STANDARD.encode(spki.as_bytes()));
    let http = gitsign::services::http::client(&gitsign::services::http::HttpOptions {
        timeout: Some(Duration::from_secs(10)),
        ..Default::default()
    })
    .unwrap();
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let mut kills = 0;
    for round in 0..rounds {
        let mut server = start(&dir);
        let trust = TrustedRoot::from_file(dir.join("trusted_root.json")).unwrap();
        // Everything acknowledged before the last kill is still there.
        let snapshot = acked.lock().unwrap().clone();
        check_all(&http, &server.url, &trust, &snapshot);

        // Append from two writers until the kill.
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..2u64 {
            let (url, acked, stop, key, pem, http) =
                (server.url.clone(), acked.clone(), stop.clone(), key.clone(), pem.clone(), http.clone());
            let base = w * 1_000_000 + (round as u64) * 10_000_000;
            writers.push(std::thread::spawn(move || {
                let mut n = base;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let Ok(resp) = http.post(format!("{url}/api/v1/log/entries")).json(&proposed(&key, &pem, n)).send()
                    else {
                        break;
                    };
                    if resp.status().as_u16() != 201 {
                        break;
                    }
                    // Acknowledged only once the whole answer is read.
                    let Ok(entries) = resp.json::<LogEntries>() else { break };
                    let (uuid, e) = entries.into_iter().next().unwrap();
                    acked.lock().unwrap().push(Acked { uuid, index: e.log_index });
                }
            }));
        }
        // Kill at a varying moment, while the writers are busy.
        std::thread::sleep(Duration::from_millis(150 + (round as u64 * 137) % 400));
        server.child.kill().unwrap(); // SIGKILL
        server.child.wait().unwrap();
        kills += 1;
        stop.store(true, Ordering::SeqCst);
        for w in writers {
            w.join().unwrap();
        }
    }
    let server = start(&dir);
    let trust = TrustedRoot::from_file(dir.join("trusted_root.json")).unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= rounds, "too few entries were acknowledged to test anything: {}", acked.len());
    let size = check_all(&http, &server.url, &trust, &acked);
    // Indices are unique and dense below the tree size.
    let mut idx: Vec<i64> = acked.iter().map(|a| a.index).collect();
    idx.sort();
    idx.dedup();
    assert_eq!(idx.len(), acked.len(), "two acknowledged entries share an index");
    assert!(idx.iter().all(|&i| i < size));
    eprintln!("durability: {} acknowledged entries over {kills} kill -9 restarts, tree size {size}", acked.len());
    let mut server = server;
    let _ = server.child.kill();
    let _ = server.child.wait();
}
