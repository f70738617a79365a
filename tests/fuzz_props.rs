//! Property-based fuzzing of every parser that reads hostile input, in the normal test suite
//! (the same entry points as the cargo-fuzz targets in `fuzz/`).
//!
//! Inputs are arbitrary bytes and mutations (byte flips, truncations, insertions, deletions,
//! overwrites) of real material: the gitsign signatures and objects in `../shared/fixtures/real`,
//! their embedded Rekor entries and checkpoints. Properties: nothing panics, every failure is a
//! typed error, and round trips hold where a format has one.
//!
//! Cases per target: `GITSIGN_FUZZ_CASES` (default 3000, about a second each), e.g.
//! `GITSIGN_FUZZ_CASES=1000000 cargo test --release --test fuzz_props -- --test-threads=2`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gitsign::app::gpg::args;
use gitsign::crypto::cms::verify as cms;
use gitsign::encoding::armor;
use gitsign::git::object::{self as git, HashAlgo, ObjectKind};
use gitsign::pipelines::verify::signature::{self as verify, VerifyOptions};
use gitsign::services::fulcio;
use gitsign::services::oidc::Claims;
use gitsign::services::rekor::checkpoint::Checkpoint;
use gitsign::services::rekor::entry::{InclusionProof, TransparencyLogEntry};
use gitsign::services::rekor::types::{self, LogEntries};
use gitsign::trust::root::TrustedRoot;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn cases() -> u32 {
    std::env::var("GITSIGN_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000)
}

/// Run `test` over `strategy` for the configured number of cases; report the figures.
fn fuzz<S: Strategy>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let n = cases();
    let mut runner =
        TestRunner::new(Config { cases: n, failure_persistence: None, max_shrink_iters: 2000, ..Config::default() });
    let t = std::time::Instant::now();
    if let Err(e) = runner.run(&strategy, test) {
        panic!("fuzz target {name} failed: {e}");
    }
    eprintln!("fuzz target {name}: {n} cases in {:.2?}", t.elapsed());
}

// ---------------------------------------------------------------------------------------------
// seeds

fn real_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real")
}

struct Seeds {
    /// Raw commit and tag objects (real, and the negative fixtures), with their kind.
    objects: Vec<(ObjectKind, Vec<u8>)>,
    /// (payload, armored signature text, signature DER) of every real signed object.
    signatures: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
    /// Embedded entry protobuf bytes (attribute 3.1).
    entries: Vec<Vec<u8>>,
    /// Checkpoints of the embedded entries.
    checkpoints: Vec<String>,
    /// Rekor API JSON answers (`{uuid: entry}`) made from the embedded entries and real bodies.
    api_json: Vec<Vec<u8>>,
    /// PEM chains (leaf + more) of the signer certificates.
    pem_chains: Vec<String>,
}

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut objects = Vec::new();
        let mut signatures = Vec::new();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(real_dir())
            .unwrap()
            .chain(std::fs::read_dir(real_dir().join("negative")).unwrap())
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        for p in paths {
            let name = p.to_string_lossy().to_string();
            let kind = if name.ends_with(".commit") {
                ObjectKind::Commit
            } else if name.ends_with(".tag") {
                ObjectKind::Tag
            } else {
                continue;
            };
            let raw = std::fs::read(&p).unwrap();
            if let Ok(split) = git::split_object(kind, &raw)
                && let Ok(der) = armor::decode(&split.signature)
            {
                signatures.push((split.payload, split.signature, der));
            }
            objects.push((kind, raw));
        }
        assert!(signatures.len() >= 12, "real signatures missing: {}", signatures.len());
        let mut entries = Vec::new();
        let mut checkpoints = Vec::new();
        let mut pem_chains = Vec::new();
        for (_, _, der) in &signatures {
            let Ok(sig) = cms::parse(der) else { continue };
            let mut chain = fulcio::certificate_pem(&sig.signer_cert_der);
            for c in &sig.other_certs_der {
                chain.push_str(&fulcio::certificate_pem(c));
            }
            pem_chains.push(chain);
            for v in sig.unsigned_attr(&gitsign::encoding::oids::REKOR_ENTRY) {
                if let Some(value) = octet_string(v) {
                    entries.push(value.to_vec());
                    if let Ok(e) = TransparencyLogEntry::decode(value)
                        && let Some(p) = &e.inclusion_proof
                        && !p.checkpoint.is_empty()
                    {
                        checkpoints.push(p.checkpoint.clone());
                    }
                }
            }
        }
        assert!(!entries.is_empty() && !checkpoints.is_empty(), "no embedded entries in the fixtures");
        let mut api_json = Vec::new();
        for dir in std::fs::read_dir(real_dir().join("examples")).unwrap() {
            let dir = dir.unwrap().path();
            let (Ok(body), Ok(entry)) = (
                std::fs::read(dir.join("rekor0_hashedrekord_body.json")),
                std::fs::read(dir.join("rekor0_entry.json")),
            ) else {
                continue;
            };
            let j: serde_json::Value = serde_json::from_slice(&entry).unwrap();
            let p = &j["inclusion_proof"];
            let set = hex::decode(j["set"].as_str().unwrap()).unwrap();
            let api = serde_json::json!({
                hex::encode(gitsign::services::rekor::merkle::leaf_hash(&body)): {
                    "body": STANDARD.encode(&body),
                    "integratedTime": j["integrated_time"],
                    "logID": j["log_id"],
                    "logIndex": j["log_index"],
                    "verification": {
                        "signedEntryTimestamp": STANDARD.encode(set),
                        "inclusionProof": {
                            "checkpoint": p["checkpoint"],
                            "hashes": p["hashes"],
                            "logIndex": p["log_index"],
                            "rootHash": p["root_hash"],
                            "treeSize": p["tree_size"],
                        }
                    }
                }
            });
            api_json.push(serde_json::to_vec_pretty(&api).unwrap());
        }
        assert!(!api_json.is_empty());
        Seeds { objects, signatures, entries, checkpoints, api_json, pem_chains }
    })
}

/// The content of a DER OCTET STRING spanning all of `tlv`.
fn octet_string(tlv: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = tlv.split_first()?;
    let (&l0, rest) = rest.split_first()?;
    let (len, rest) = if l0 < 0x80 {
        (usize::from(l0), rest)
    } else {
        let n = usize::from(l0 & 0x7f);
        let (len, rest) = (rest.get(..n)?, rest.get(n..)?);
        (len.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b)), rest)
    };
    (tag == 0x04 && rest.len() == len).then_some(rest)
}

fn production() -> &'static TrustedRoot {
    TrustedRoot::production().unwrap()
}

// ---------------------------------------------------------------------------------------------
// mutations

#[derive(Debug, Clone)]
enum Op {
    Flip { at: usize, mask: u8 },
    Set { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
    Duplicate { at: usize, len: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let interesting = prop_oneof![Just(0u8), Just(0x30), Just(0x80), Just(0x81), Just(0xff), Just(b'\n'), any::<u8>()];
    prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Op::Flip { at, mask }),
        2 => (any::<usize>(), interesting).prop_map(|(at, byte)| Op::Set { at, byte }),
        1 => any::<usize>().prop_map(|at| Op::Truncate { at }),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, bytes)| Op::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Op::Delete { at, len }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Op::Duplicate { at, len }),
    ]
}

fn mutate(seed: &[u8], ops: &[Op]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for op in ops {
        let n = v.len();
        let pos = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
        match op {
            Op::Flip { at, mask } if n > 0 => v[at % n] ^= mask,
            Op::Set { at, byte } if n > 0 => v[at % n] = *byte,
            Op::Truncate { at } => v.truncate(pos(*at)),
            Op::Insert { at, bytes } => {
                let p = pos(*at);
                v.splice(p..p, bytes.iter().copied());
            }
            Op::Delete { at, len } => {
                let p = pos(*at);
                let end = (p + len).min(n);
                v.drain(p..end);
            }
            Op::Duplicate { at, len } => {
                let p = pos(*at);
                let end = (p + len).min(n);
                let chunk = v[p..end].to_vec();
                v.splice(p..p, chunk);
            }
            _ => {}
        }
    }
    v
}

/// A mutated seed (index chosen by proptest) or, one time in five, arbitrary bytes.
fn mutated(seeds: &'static [Vec<u8>]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (0..seeds.len(), proptest::collection::vec(op(), 1..6)).prop_map(move |(i, ops)| mutate(&seeds[i], &ops)),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ]
}

fn leak(v: Vec<Vec<u8>>) -> &'static [Vec<u8>] {
    Box::leak(v.into_boxed_slice())
}

// ---------------------------------------------------------------------------------------------
// targets

#[test]
fn fuzz_gpg_args() {
    #[cfg(unix)]
    use std::os::unix::ffi::OsStringExt;
    let word = prop_oneof![
        3 => "-{1,2}[a-z]{0,12}(=[-0-9a-z]{0,4})?",
        2 => Just("-bsau".to_string()),
        1 => Just("--".to_string()),
        1 => Just("-".to_string()),
        1 => "--status-fd(=[-+ 0-9a-z]{0,12})?",
        1 => "[-a-zA-Z0-9=é<> ]{0,12}",
        1 => "\\PC{0,8}",
    ];
    let arg = prop_oneof![
        8 => word.prop_map(std::ffi::OsString::from),
        1 => proptest::collection::vec(any::<u8>(), 0..8).prop_map(std::ffi::OsString::from_vec),
    ];
    fuzz("gpg_args", proptest::collection::vec(arg, 0..8), |argv| {
        if let Ok(a) = args::parse(argv.clone()) {
            let _ = a.mode();
            // Every non-option argument is kept, in order.
            prop_assert!(a.positional.len() <= argv.len());
        }
        Ok(())
    });
    // Round trip: a status fd number comes back as given, in every spelling.
    fuzz("gpg_args_status_fd", any::<i32>(), |n| {
        for argv in
            [vec![format!("--status-fd={n}")], vec!["--status-fd".into(), n.to_string()], vec![format!("--stat={n}")]]
        {
            let a = args::parse(argv).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(a.status_fd, Some(n));
        }
        Ok(())
    });
}

#[test]
fn fuzz_git_split() {
    let objects = leak(seeds().objects.iter().map(|(_, o)| o.clone()).collect());
    fuzz("git_split", mutated(objects), |raw| {
        for kind in [ObjectKind::Commit, ObjectKind::Tag] {
            if let Ok(s) = git::split_object(kind, &raw) {
                prop_assert!(s.payload.len() + s.signature.len() <= raw.len());
                let _ = git::rebuild_object(kind, &s.payload, &s.signature, HashAlgo::Sha1);
            }
        }
        for algo in [HashAlgo::Sha1, HashAlgo::Sha256] {
            let _ = git::split_commit(&raw, algo);
        }
        let _ = ObjectKind::from_payload(&raw);
        Ok(())
    });
    // Round trip: a signature inserted as git does is split back out unchanged.
    let header = "[a-fh-z][a-z-]{0,7} [^\n\0]{0,30}\n";
    let payload = (proptest::collection::vec(header, 0..4), proptest::collection::vec(any::<u8>(), 0..64)).prop_map(
        |(hs, msg)| {
            let mut p = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n".to_vec();
            for h in hs {
                p.extend_from_slice(h.as_bytes());
            }
            p.push(b'\n');
            p.extend_from_slice(&msg);
            p
        },
    );
    let sig = proptest::collection::vec("[A-Za-z0-9+/=-]{1,64}", 1..8).prop_map(|ls| ls.join("\n") + "\n");
    fuzz("git_split_round_trip", (payload, sig, any::<bool>()), |(payload, sig, sha256)| {
        let algo = if sha256 { HashAlgo::Sha256 } else { HashAlgo::Sha1 };
        let obj = git::insert_commit_signature(&payload, sig.as_bytes(), algo);
        let s = git::split_commit(&obj, algo).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&s.payload, &payload);
        prop_assert_eq!(&s.signature, sig.as_bytes());
        prop_assert_eq!(git::rebuild_object(ObjectKind::Commit, &s.payload, &s.signature, algo), obj);
        Ok(())
    });
}

#[test]
fn fuzz_armor() {
    let texts = leak(seeds().signatures.iter().map(|(_, t, _)| t.clone()).collect());
    fuzz("armor_decode", mutated(texts), |text| {
        let _ = armor::decode(&text);
        Ok(())
    });
    fuzz("armor_round_trip", proptest::collection::vec(any::<u8>(), 0..2048), |der| {
        let text = armor::encode(&der);
        prop_assert!(text.ends_with("-----END SIGNED MESSAGE-----\n"));
        prop_assert!(text.lines().all(|l| l.len() <= 64 || l.starts_with("-----")));
        prop_assert_eq!(armor::decode(text.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?, der.clone());
        prop_assert_eq!(armor::decode(text.replace('\n', "\r\n").as_bytes()).ok(), Some(der));
        Ok(())
    });
}

#[test]
fn fuzz_cms_and_verify() {
    let s = seeds();
    let ders = leak(s.signatures.iter().map(|(_, _, d)| d.clone()).collect());
    let payloads = leak(s.signatures.iter().map(|(p, _, _)| p.clone()).collect());
    let opts = VerifyOptions::new(production());
    // Baseline: the unmutated real offline-mode signatures verify, so the mutations below
    // exercise the whole pipeline, not only the parser.
    let good = s.signatures.iter().filter(|(p, t, _)| verify::verify(p, t, &opts).is_ok()).count();
    assert!(good >= 2, "real offline signatures should verify with the production root ({good})");
    let strategy = (mutated(ders), 0..payloads.len(), any::<bool>());
    fuzz("cms_verify", strategy, |(der, pi, armored)| {
        let parsed = cms::parse(&der);
        if let Ok(sig) = &parsed {
            let _ = cms::verify_content(sig, &payloads[pi]);
            let _ = verify::embedded_entry(sig, "fuzz");
            let _ = gitsign::crypto::x509::CertInfo::parse(&sig.signer_cert_der);
        }
        let text = if armored { armor::encode(&der).into_bytes() } else { der.clone() };
        let r = verify::verify(&payloads[pi], &text, &opts);
        if let Err(e) = &r {
            let _ = verify::error_status_kind(e);
            let _ = verify::signer_of_failure(e);
            prop_assert!(!e.to_string().is_empty());
        } else {
            // Only a parseable signature can verify, and only over its own payload.
            prop_assert!(parsed.is_ok());
        }
        let _ = verify::claimed_signer(&text);
        Ok(())
    });
    // Mutations of the armored text itself (line structure, base64 alphabet).
    let texts = leak(s.signatures.iter().map(|(_, t, _)| t.clone()).collect());
    fuzz("verify_text", (mutated(texts), 0..payloads.len()), |(text, pi)| {
        let _ = verify::verify(&payloads[pi], &text, &opts);
        Ok(())
    });
}

fn entry_strategy() -> impl Strategy<Value = TransparencyLogEntry> {
    let proof = (
        0..i64::MAX,
        proptest::collection::vec(any::<u8>(), 0..40),
        0..i64::MAX,
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..20),
        "\\PC{0,80}",
    )
        .prop_map(|(log_index, root_hash, tree_size, hashes, checkpoint)| InclusionProof {
            log_index,
            root_hash,
            tree_size,
            hashes,
            checkpoint,
        });
    (
        (0..i64::MAX, proptest::collection::vec(any::<u8>(), 0..40), "\\PC{0,16}", "\\PC{0,8}"),
        (
            0..i64::MAX,
            proptest::collection::vec(any::<u8>(), 0..80),
            proptest::option::of(proof),
            proptest::collection::vec(any::<u8>(), 0..200),
        ),
    )
        .prop_map(|((log_index, log_id, kind, version), (integrated_time, set, inclusion_proof, body))| {
            TransparencyLogEntry {
                log_index,
                log_id,
                kind,
                version,
                integrated_time,
                signed_entry_timestamp: set,
                inclusion_proof,
                canonicalized_body: body,
            }
        })
}

#[test]
fn fuzz_entry_protobuf() {
    let entries = leak(seeds().entries.clone());
    fuzz("entry_decode", mutated(entries), |bytes| {
        if let Ok(e) = TransparencyLogEntry::decode(&bytes) {
            // Decoding is canonicalizing: decode(encode(decode(x))) == decode(x).
            let again = TransparencyLogEntry::decode(&e.encode()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(again, e.clone());
            prop_assert!(e.log_index >= 0 && e.integrated_time >= 0);
            let _ = gitsign::services::rekor::verify::verify_entry(&e, b"{}", production());
        }
        Ok(())
    });
    fuzz("entry_round_trip", entry_strategy(), |e| {
        let bytes = e.encode();
        let back = TransparencyLogEntry::decode(&bytes).map_err(|err| TestCaseError::fail(err.to_string()))?;
        prop_assert_eq!(back.encode(), bytes);
        prop_assert_eq!(back, e);
        Ok(())
    });
}

use testsupport::der::tlv as der_tlv;

#[test]
fn fuzz_entry_per_field() {
    // A valid per-field set (the pre-release 3.0–3.8 form), then each value mutated.
    let base: BTreeMap<u32, Vec<u8>> = [
        (0, der_tlv(0x02, &[0x63, 0xc0, 0x0f, 0x42])),
        (1, der_tlv(0x13, b"c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d")),
        (2, der_tlv(0x02, &[0x00, 0x8b, 0x81, 0x1e, 0x22])),
        (3, der_tlv(0x04, &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])),
        (4, der_tlv(0x0c, seeds().checkpoints[0].as_bytes())),
        (5, der_tlv(0x30, &[der_tlv(0x13, &[b'a'; 64]), der_tlv(0x13, &[b'0'; 64])].concat())),
        (6, der_tlv(0x13, &[b'f'; 64])),
        (7, der_tlv(0x02, &[0x10])),
        (8, der_tlv(0x02, &[0x03])),
    ]
    .into_iter()
    .collect();
    let e = TransparencyLogEntry::from_per_field(&base).expect("the base per-field set is valid");
    assert_eq!(e.inclusion_proof.as_ref().map(|p| p.hashes.len()), Some(2));
    let base: &'static BTreeMap<u32, Vec<u8>> = Box::leak(Box::new(base));
    let edits = proptest::collection::vec(
        (0u32..10, prop_oneof![3 => proptest::collection::vec(op(), 1..4).prop_map(Some), 1 => Just(None)]),
        1..4,
    );
    fuzz("entry_per_field", edits, |edits| {
        let mut m = base.clone();
        for (k, ops) in edits {
            match ops {
                Some(ops) => {
                    let v = m.get(&k).cloned().unwrap_or_default();
                    m.insert(k, mutate(&v, &ops));
                }
                None => {
                    m.remove(&k);
                }
            }
        }
        if let Ok(e) = TransparencyLogEntry::from_per_field(&m) {
            prop_assert!(e.log_index >= 0 && e.integrated_time >= 0);
        }
        Ok(())
    });
}

#[test]
fn fuzz_rekor_json() {
    let json = leak(seeds().api_json.clone());
    // Every seed converts, so mutations reach the conversion.
    for j in json {
        let m: LogEntries = serde_json::from_slice(j).unwrap();
        assert!(TransparencyLogEntry::from_api(m.values().next().unwrap()).is_ok());
    }
    fuzz("rekor_entry_json", mutated(json), |bytes| {
        if let Ok(m) = serde_json::from_slice::<LogEntries>(&bytes) {
            for e in m.values() {
                if let Ok(t) = TransparencyLogEntry::from_api(e) {
                    let _ = t.to_embedded().encode();
                    let _ = gitsign::services::rekor::verify::verify_entry(&t, &t.canonicalized_body, production());
                }
            }
        }
        let _ = serde_json::from_slice::<Vec<String>>(&bytes);
        let _ = serde_json::from_slice::<types::LogInfo>(&bytes);
        Ok(())
    });
    let entry = (
        any::<String>(),
        any::<i64>(),
        "[0-9a-f]{0,64}",
        any::<i64>(),
        proptest::option::of((
            proptest::option::of((
                "\\PC{0,40}",
                proptest::collection::vec("[0-9a-f]{64}", 0..4),
                any::<i64>(),
                "[0-9a-f]{64}",
                any::<i64>(),
            )),
            proptest::option::of("[A-Za-z0-9+/=]{0,40}"),
        )),
    );
    fuzz("rekor_entry_json_round_trip", entry, |(body, integrated_time, log_id, log_index, verification)| {
        let e =
            types::LogEntry {
                body,
                integrated_time,
                log_id,
                log_index,
                verification: verification.map(|(p, set)| types::Verification {
                    inclusion_proof: p.map(|(checkpoint, hashes, log_index, root_hash, tree_size)| {
                        types::InclusionProof { checkpoint, hashes, log_index, root_hash, tree_size }
                    }),
                    signed_entry_timestamp: set,
                }),
            };
        let text = serde_json::to_vec(&e).map_err(|err| TestCaseError::fail(err.to_string()))?;
        let back: types::LogEntry =
            serde_json::from_slice(&text).map_err(|err| TestCaseError::fail(err.to_string()))?;
        prop_assert_eq!(back, e);
        Ok(())
    });
}

#[test]
fn fuzz_checkpoint() {
    let cps = leak(seeds().checkpoints.iter().map(|c| c.as_bytes().to_vec()).collect());
    let key = production().tlogs[0].public_key_der.clone();
    fuzz("checkpoint_parse", mutated(cps), |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(cp) = Checkpoint::parse(&text) {
            let _ = cp.verify_signature(&key, gitsign::crypto::pubkey::HashAlg::Sha256);
            let _ = cp.log_name();
            let _ = cp.check_matches(cp.size, &cp.root_hash);
        }
        Ok(())
    });
    // Round trip: a note assembled from parts parses back to those parts.
    let parts = (
        "[a-z.]{1,20}( - [0-9]{1,19})?",
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 32),
        proptest::collection::vec("[A-Za-z][ -~]{0,30}", 0..3),
        proptest::collection::vec(("[a-z.]{1,12}", proptest::collection::vec(any::<u8>(), 5..80)), 1..4),
    );
    fuzz("checkpoint_round_trip", parts, |(origin, size, root, ext, sigs)| {
        let mut note = format!("{origin}\n{size}\n{}\n", STANDARD.encode(&root));
        for e in &ext {
            note.push_str(e);
            note.push('\n');
        }
        note.push('\n');
        for (name, raw) in &sigs {
            note.push_str(&format!("\u{2014} {name} {}\n", STANDARD.encode(raw)));
        }
        let cp = Checkpoint::parse(&note).map_err(|e| TestCaseError::fail(format!("{e}: {note:?}")))?;
        prop_assert_eq!(&cp.origin, &origin);
        prop_assert_eq!(cp.size, size);
        prop_assert_eq!(&cp.root_hash, &root);
        prop_assert_eq!(&cp.extensions, &ext);
        prop_assert_eq!(cp.signatures.len(), sigs.len());
        for (s, (name, raw)) in cp.signatures.iter().zip(&sigs) {
            prop_assert_eq!(&s.name, name);
            prop_assert_eq!(&s.key_hint[..], &raw[..4]);
            prop_assert_eq!(&s.signature[..], &raw[4..]);
        }
        Ok(())
    });
}

#[test]
fn fuzz_fulcio_pem() {
    let chains = leak(seeds().pem_chains.iter().map(|c| c.as_bytes().to_vec()).collect());
    fuzz("fulcio_pem", mutated(chains), |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(ders) = fulcio::pem_certificates(&text) {
            for d in ders {
                let _ = gitsign::crypto::x509::CertInfo::parse(&d);
            }
        }
        let _ = gitsign::crypto::x509::pem_to_der(&text);
        let _ = fulcio::v2_chain(&bytes);
        Ok(())
    });
    // The v2 JSON answer: mutations of a real-shaped answer built from the seeds' chains.
    let v2: Vec<Vec<u8>> = seeds()
        .pem_chains
        .iter()
        .map(|c| {
            let certs: Vec<String> =
                fulcio::pem_certificates(c).unwrap().iter().map(|d| fulcio::certificate_pem(d)).collect();
            serde_json::to_vec(&serde_json::json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": certs}}}))
                .unwrap()
        })
        .collect();
    for v in &v2 {
        assert!(!fulcio::v2_chain(v).unwrap().is_empty());
    }
    fuzz("fulcio_v2_json", mutated(leak(v2)), |bytes| {
        if let Ok(ders) = fulcio::v2_chain(&bytes) {
            for d in ders {
                let _ = gitsign::crypto::x509::CertInfo::parse(&d);
            }
        }
        Ok(())
    });
    let ders = proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..4);
    fuzz("fulcio_pem_round_trip", (ders, "[ \r\n]{0,3}"), |(ders, sep)| {
        let text: String = ders.iter().map(|d| fulcio::certificate_pem(d) + &sep).collect();
        prop_assert_eq!(fulcio::pem_certificates(&text).map_err(TestCaseError::fail)?, ders.clone());
        // Line endings do not matter.
        prop_assert_eq!(fulcio::pem_certificates(&text.replace('\n', "\r\n")).map_err(TestCaseError::fail)?, ders);
        Ok(())
    });
}

#[test]
fn fuzz_id_token() {
    let claims = r#"{"iss":"https://issuer.example","sub":"s","email":"a@example.com","email_verified":true,"exp":1780000000,"aud":"sigstore"}"#;
    let seed = format!("eyJhbGciOiJFUzI1NiJ9.{}.c2lnbmF0dXJl", URL_SAFE_NO_PAD.encode(claims));
    let seeds = leak(vec![seed.into_bytes(), claims.as_bytes().to_vec()]);
    fuzz("id_token", mutated(seeds), |bytes| {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(c) = Claims::parse(&text) {
            let _ = c.challenge_subject();
            let _ = c.check_fresh(i64::MAX);
            let _ = c.check_fresh(i64::MIN);
        }
        // Mutated claims inside a well-formed JWT reach the JSON parser.
        let jwt = format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(&bytes));
        let _ = Claims::parse(&jwt);
        Ok(())
    });
    let claim = (
        "\\PC{0,20}",
        "\\PC{0,20}",
        proptest::option::of("\\PC{0,20}"),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<i64>()),
    );
    fuzz("id_token_round_trip", claim, |(iss, sub, email, email_verified, exp)| {
        let c = Claims { iss, sub, email, email_verified, exp, aud: Some(serde_json::json!("sigstore")) };
        let json = serde_json::json!({
            "iss": c.iss, "sub": c.sub, "email": c.email, "email_verified": c.email_verified, "exp": c.exp, "aud": c.aud,
        });
        let jwt = format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(json.to_string()));
        prop_assert_eq!(Claims::parse(&jwt).map_err(|e| TestCaseError::fail(e.to_string()))?, c);
        Ok(())
    });
}

#[test]
fn fuzz_trusted_root_json() {
    let prod =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/trust/production_trusted_root.json")).unwrap();
    let seeds = leak(vec![prod]);
    fuzz("trusted_root_json", mutated(seeds), |bytes| {
        let _ = TrustedRoot::from_json(&bytes);
        Ok(())
    });
}

#[cfg(unix)]
#[test]
fn fuzz_cache_frames() {
    use gitsign::credentials::protocol::{Request, Response, read_frame};
    // Seeds: a frame of every request shape we can build without credentials, as the client
    // sends them, plus arbitrary bytes.
    let frame = |payload: &[u8]| {
        let mut out = Vec::new();
        gitsign::credentials::protocol::write_frame(&mut out, payload).unwrap();
        out
    };
    let messages: Vec<Vec<u8>> = vec![
        Request::List.encode().to_vec(),
        Request::Clear(None).encode().to_vec(),
        Response::Stored(1_780_000_000).encode().to_vec(),
        Response::Cleared(3).encode().to_vec(),
        Response::Credential(None).encode().to_vec(),
        Response::Entries(Vec::new()).encode().to_vec(),
        Request::Describe([3; 32]).encode().to_vec(),
        Request::Sign([3; 32], [4; 32]).encode().to_vec(),
        Response::Signature(Some(vec![0x30, 6, 2, 1, 1, 2, 1, 1])).encode().to_vec(),
        Request::List.encode_as(1).to_vec(),
    ];
    let mut seeds: Vec<Vec<u8>> = messages.iter().map(|m| frame(m)).collect();
    seeds.push(messages.iter().flat_map(|m| frame(m)).collect());
    let seeds = leak(seeds);
    fuzz("cache_frames", mutated(seeds), |bytes| {
        let mut r = &bytes[..];
        // Every frame in the input, as a daemon or client would read them one after another.
        for _ in 0..4 {
            match read_frame(&mut r) {
                Ok(payload) => {
                    if let Ok(req) = Request::decode(&payload) {
                        // Round trip where a decoding exists.
                        prop_assert!(Request::decode(&req.encode()).is_ok());
                    }
                    if let Ok(resp) = Response::decode(&payload) {
                        prop_assert!(Response::decode(&resp.encode()).is_ok());
                    }
                }
                Err(_) => break,
            }
        }
        let _ = Request::decode(&bytes);
        let _ = Response::decode(&bytes);
        Ok(())
    });
}
