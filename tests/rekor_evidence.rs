//! Rekor evidence of real offline-mode gitsign signatures: rebuild the body from the signature,
//! convert the embedded entry, verify it against the production trusted root, and check that
//! every single-field mutation fails.
//!
//! Reads the shared fixtures beside the clone (`../shared/fixtures/real`). The CMS is taken apart
//! here with the `cms` crate only to get the pieces (signed attributes, SignerInfo signature,
//! signer certificate, the 3.1 attribute); the real CMS checks live in `gitsign::crypto::cms`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use der::{Decode, Encode};
use gitsign::services::rekor::body;
use gitsign::services::rekor::checkpoint::CheckpointError;
use gitsign::services::rekor::entry::{InclusionProof, TransparencyLogEntry};
use gitsign::services::rekor::verify::{TlogError, VerifiedEntry, verify_entry};
use gitsign::trust::root::{TrustedRoot, ValidFor};
use std::path::{Path, PathBuf};

fn real_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real")
}

/// Everything the tlog check needs from one signature.
#[derive(Clone)]
struct Evidence {
    name: String,
    /// The embedded 3.1 protobuf bytes.
    entry_bytes: Vec<u8>,
    /// The body rebuilt from this signature.
    body: Vec<u8>,
}

/// The DER of the SIGNED MESSAGE armor inside a raw commit or tag object.
fn cms_from_object(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let start = text.find("-----BEGIN SIGNED MESSAGE-----").expect("armor start");
    let end = text.find("-----END SIGNED MESSAGE-----").expect("armor end");
    let b64: String = text[start..end].lines().skip(1).map(str::trim).filter(|l| !l.is_empty()).collect();
    STANDARD.decode(b64).expect("armor base64")
}

/// Take a CMS apart: (signed attrs as SET DER, SignerInfo signature, signer cert DER, 3.1 bytes).
fn pieces(cms_der: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
    let ci = cms::content_info::ContentInfo::from_der(cms_der).unwrap();
    let sd: cms::signed_data::SignedData = ci.content.decode_as().unwrap();
    let si = sd.signer_infos.0.iter().next().unwrap();
    let attrs = si.signed_attrs.as_ref().unwrap().to_der().unwrap();
    let sig = si.signature.as_bytes().to_vec();
    let cms::signed_data::SignerIdentifier::IssuerAndSerialNumber(ias) = &si.sid else { panic!("sid") };
    let cert = sd
        .certificates
        .as_ref()
        .unwrap()
        .0
        .iter()
        .find_map(|c| match c {
            cms::cert::CertificateChoices::Certificate(c)
                if c.tbs_certificate().serial_number() == &ias.serial_number
                    && c.tbs_certificate().issuer() == &ias.issuer =>
            {
                Some(c.to_der().unwrap())
            }
            _ => None,
        })
        .unwrap();
    let attr =
        si.unsigned_attrs.as_ref().unwrap().iter().find(|a| a.oid == gitsign::encoding::oids::REKOR_ENTRY).unwrap();
    let value = attr.values.iter().next().unwrap();
    let entry = der::asn1::OctetString::from_der(&value.to_der().unwrap()).unwrap().into_bytes();
    (attrs, sig, cert, entry.into_vec())
}

fn evidence_from_object(name: &str, raw: &[u8]) -> Evidence {
    let (attrs, sig, cert, entry_bytes) = pieces(&cms_from_object(raw));
    Evidence { name: name.to_string(), entry_bytes, body: body::hashedrekord_offline(&attrs, &sig, &cert) }
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    STANDARD.decode(b64).unwrap()
}

/// The offline examples, from their loose files (signed_attrs.der, info.json, cert0.pem,
/// rekor0_entry.json) and the 3.1 bytes of signature.der.
fn examples() -> Vec<(PathBuf, Evidence)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(real_dir().join("examples")).unwrap() {
        let dir = e.unwrap().path();
        if !dir.join("rekor0_entry.json").exists() {
            continue;
        }
        let attrs = std::fs::read(dir.join("signed_attrs.der")).unwrap();
        let info: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("info.json")).unwrap()).unwrap();
        let sig = hex::decode(info["signature_hex"].as_str().unwrap()).unwrap();
        let cert = pem_to_der(&std::fs::read_to_string(dir.join("cert0.pem")).unwrap());
        let body = body::hashedrekord_offline(&attrs, &sig, &cert);
        assert_eq!(body, std::fs::read(dir.join("rekor0_hashedrekord_body.json")).unwrap());
        let (p_attrs, p_sig, p_cert, entry_bytes) = pieces(&std::fs::read(dir.join("signature.der")).unwrap());
        assert_eq!((p_attrs, p_sig, p_cert), (attrs, sig, cert));
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        out.push((dir, Evidence { name, entry_bytes, body }));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 2, "offline examples missing under {}", real_dir().display());
    out
}

/// INDEX.tsv rows with rekor_mode `offline`: (file, log index, integrated time).
fn offline_objects() -> Vec<(String, i64, i64)> {
    let index = std::fs::read_to_string(real_dir().join("INDEX.tsv")).unwrap();
    let mut lines = index.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (file, mode, idx, time) =
        (col("file"), col("rekor_mode"), col("tlog_log_index"), col("tlog_integrated_time_utc"));
    let rows: Vec<_> = lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .filter(|r| r[mode] == "offline")
        .map(|r| {
            let t = time::OffsetDateTime::parse(r[time], &time::format_description::well_known::Rfc3339).unwrap();
            (r[file].to_string(), r[idx].parse().unwrap(), t.unix_timestamp())
        })
        .collect();
    assert!(rows.len() >= 3);
    rows
}

fn prod() -> &'static TrustedRoot {
    TrustedRoot::production().unwrap()
}

fn check(ev: &Evidence) -> VerifiedEntry {
    let entry = TransparencyLogEntry::decode(&ev.entry_bytes).unwrap();
    assert_eq!(entry.encode(), ev.entry_bytes, "{}: encode(decode(x)) == x", ev.name);
    verify_entry(&entry, &ev.body, prod()).unwrap_or_else(|e| panic!("{}: {e}", ev.name))
}

#[test]
fn every_offline_object_verifies() {
    for (file, log_index, integrated_time) in offline_objects() {
        let raw = std::fs::read(real_dir().join(&file)).unwrap();
        let ev = evidence_from_object(&file, &raw);
        let v = check(&ev);
        assert_eq!(v.log_index, log_index, "{file}");
        assert_eq!(v.integrated_time, integrated_time, "{file}");
        assert!(v.has_inclusion_proof, "{file}");
        assert_eq!(hex::encode(&v.log_id), "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d");
    }
}

#[test]
fn examples_verify_and_match_their_json() {
    for (dir, ev) in examples() {
        let v = check(&ev);
        let j: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("rekor0_entry.json")).unwrap()).unwrap();
        assert_eq!(v.log_index, j["log_index"].as_i64().unwrap());
        assert_eq!(v.integrated_time, j["integrated_time"].as_i64().unwrap());
        let entry = TransparencyLogEntry::decode(&ev.entry_bytes).unwrap();
        let leaf = gitsign::services::rekor::merkle::leaf_hash(&ev.body);
        assert_eq!(hex::encode(leaf), j["leaf_hash(sha256(0x00||body))"].as_str().unwrap());
        let proof = entry.inclusion_proof.as_ref().unwrap();
        assert_eq!(hex::encode(&proof.root_hash), j["inclusion_proof"]["root_hash"].as_str().unwrap());
        // SET payload byte for byte
        assert_eq!(
            gitsign::services::rekor::set::payload(&ev.body, entry.integrated_time, &entry.log_id, entry.log_index),
            std::fs::read(dir.join("rekor0_set_payload.json")).unwrap()
        );
    }
}

#[test]
fn legacy_rekor_key_source_verifies_too() {
    let pem = std::fs::read(real_dir().join("../trust/production_rekor_rekor.sigstore.dev.pub.pem")).unwrap();
    let trust = TrustedRoot::default().with_rekor_public_key_pem(&pem).unwrap();
    for (_, ev) in examples() {
        let entry = TransparencyLogEntry::decode(&ev.entry_bytes).unwrap();
        verify_entry(&entry, &ev.body, &trust).unwrap();
    }
}

fn expect_err(entry: &TransparencyLogEntry, body: &[u8], trust: &TrustedRoot, what: &str) -> TlogError {
    match verify_entry(entry, body, trust) {
        Ok(_) => panic!("{what}: mutation accepted"),
        Err(e) => e,
    }
}

fn proof(e: &mut TransparencyLogEntry) -> &mut InclusionProof {
    e.inclusion_proof.as_mut().unwrap()
}

#[test]
fn mutations_fail() {
    let ex = examples();
    let (ev, other) = (&ex[0].1, &ex[1].1);
    let good = TransparencyLogEntry::decode(&ev.entry_bytes).unwrap();
    let other_entry = TransparencyLogEntry::decode(&other.entry_bytes).unwrap();
    let body = &ev.body;
    let t = prod();

    // one byte of the SET (every position)
    for i in 0..good.signed_entry_timestamp.len() {
        let mut e = good.clone();
        e.signed_entry_timestamp[i] ^= 0x01;
        let err = expect_err(&e, body, t, "SET byte");
        assert!(matches!(err, TlogError::BadSet(_)), "{i}: {err}");
    }
    let mut e = good.clone();
    e.signed_entry_timestamp.clear();
    assert_eq!(expect_err(&e, body, t, "no SET"), TlogError::MissingSet);

    // one byte of each proof hash
    for i in 0..good.inclusion_proof.as_ref().unwrap().hashes.len() {
        let mut e = good.clone();
        proof(&mut e).hashes[i][17] ^= 0x40;
        assert!(matches!(expect_err(&e, body, t, "proof hash"), TlogError::BadInclusionProof(_)));
    }
    // a proof hash added or dropped
    let mut e = good.clone();
    proof(&mut e).hashes.push(vec![0u8; 32]);
    assert!(matches!(expect_err(&e, body, t, "extra hash"), TlogError::BadInclusionProof(_)));
    let mut e = good.clone();
    proof(&mut e).hashes.pop();
    assert!(matches!(expect_err(&e, body, t, "missing hash"), TlogError::BadInclusionProof(_)));

    // the root hash
    let mut e = good.clone();
    proof(&mut e).root_hash[0] ^= 0x80;
    assert!(matches!(expect_err(&e, body, t, "root hash"), TlogError::BadInclusionProof(_)));

    // wrong indices: global (SET) and shard-local (proof); the global index in the proof fails too
    let mut e = good.clone();
    e.log_index += 1;
    assert!(matches!(expect_err(&e, body, t, "global index"), TlogError::BadSet(_)));
    let mut e = good.clone();
    proof(&mut e).log_index += 1;
    assert!(matches!(expect_err(&e, body, t, "proof index"), TlogError::BadInclusionProof(_)));
    let mut e = good.clone();
    proof(&mut e).log_index = good.log_index;
    assert!(matches!(expect_err(&e, body, t, "global index in proof"), TlogError::BadInclusionProof(_)));

    // wrong tree sizes: either the path no longer fits or the checkpoint refuses the size
    for delta in [-1i64, 1, 2, 1 << 20] {
        let mut e = good.clone();
        proof(&mut e).tree_size += delta;
        let err = expect_err(&e, body, t, "tree size");
        assert!(
            matches!(
                err,
                TlogError::BadInclusionProof(_) | TlogError::BadCheckpoint(CheckpointError::SizeMismatch { .. })
            ),
            "{delta}: {err}"
        );
    }

    // wrong integrated time
    let mut e = good.clone();
    e.integrated_time -= 1;
    assert!(matches!(expect_err(&e, body, t, "integrated time"), TlogError::BadSet(_)));

    // wrong log id (not in the trusted root), and the right one in a root that lacks the key
    let mut e = good.clone();
    e.log_id[31] ^= 1;
    assert!(matches!(expect_err(&e, body, t, "log id"), TlogError::UnknownLog { .. }));
    assert!(matches!(
        expect_err(&good, body, TrustedRoot::staging().unwrap(), "staging root"),
        TlogError::UnknownLog { .. }
    ));
    let mut late = t.clone();
    late.tlogs[0].valid_for = ValidFor { start: good.integrated_time + 1, end: None };
    assert!(matches!(expect_err(&good, body, &late, "key window"), TlogError::KeyNotValidAtTime { .. }));

    // a body for a different signature (cosign GHSA-8gw7: an entry copied into another CMS)
    assert!(matches!(expect_err(&good, &other.body, t, "other body"), TlogError::BadSet(_)));
    assert!(matches!(expect_err(&other_entry, body, t, "copied entry"), TlogError::BadSet(_)));
    // the same signature with a different signed-attributes hash / signature / certificate
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    let mut altered = v.clone();
    altered["spec"]["data"]["hash"]["value"] = serde_json::Value::String("00".repeat(32));
    let altered = altered.to_string().into_bytes();
    assert!(matches!(expect_err(&good, &altered, t, "other hash"), TlogError::BadSet(_)));
    // with the SET removed from consideration, the proof alone also binds the body
    let mut no_set_check = good.clone();
    no_set_check.inclusion_proof = None;
    assert!(matches!(expect_err(&no_set_check, &other.body, t, "other body, no proof"), TlogError::BadSet(_)));
    // the entry carrying a body that is not the rebuilt one
    let mut e = good.clone();
    e.canonicalized_body = other.body.clone();
    assert_eq!(expect_err(&e, body, t, "carried body"), TlogError::BodyMismatch);
    assert_eq!(expect_err(&good, b"", t, "empty body"), TlogError::MissingBody);

    // checkpoints: bad signature, altered root line, another entry's (valid) checkpoint, none
    let cp = good.inclusion_proof.as_ref().unwrap().checkpoint.clone();
    let (text, sigs) = cp.split_once("\n\n").unwrap();
    let (dash_name, b64) = sigs.trim_end().rsplit_once(' ').unwrap();
    let mut raw = STANDARD.decode(b64).unwrap();
    let n = raw.len() - 1;
    raw[n] ^= 1;
    let mut e = good.clone();
    proof(&mut e).checkpoint = format!("{text}\n\n{dash_name} {}\n", STANDARD.encode(&raw));
    assert!(matches!(
        expect_err(&e, body, t, "checkpoint signature"),
        TlogError::BadCheckpoint(CheckpointError::BadSignature(_))
    ));
    let lines: Vec<&str> = text.lines().collect();
    let mut root = STANDARD.decode(lines[2]).unwrap();
    root[0] ^= 1;
    let mut e = good.clone();
    proof(&mut e).checkpoint = cp.replacen(lines[2], &STANDARD.encode(&root), 1);
    assert!(matches!(
        expect_err(&e, body, t, "checkpoint root"),
        TlogError::BadCheckpoint(CheckpointError::BadSignature(_))
    ));
    let mut e = good.clone();
    proof(&mut e).checkpoint = other_entry.inclusion_proof.as_ref().unwrap().checkpoint.clone();
    let err = expect_err(&e, body, t, "other checkpoint");
    assert!(
        matches!(
            err,
            TlogError::BadCheckpoint(CheckpointError::SizeMismatch { .. } | CheckpointError::RootMismatch { .. })
        ),
        "{err}"
    );
    let mut e = good.clone();
    proof(&mut e).checkpoint.clear();
    assert_eq!(expect_err(&e, body, t, "no checkpoint"), TlogError::MissingCheckpoint);
    let mut e = good.clone();
    proof(&mut e).checkpoint = "garbage".into();
    assert!(matches!(
        expect_err(&e, body, t, "garbage checkpoint"),
        TlogError::BadCheckpoint(CheckpointError::Malformed(_))
    ));

    // kind / version
    let mut e = good.clone();
    e.version = "0.0.2".into();
    assert!(matches!(expect_err(&e, body, t, "version"), TlogError::UnsupportedKind { .. }));
}

#[test]
fn negative_fixtures() {
    let neg = real_dir().join("negative");
    // N13: last byte of the embedded SET flipped: CMS still fine, the tlog must fail.
    let raw = std::fs::read(neg.join("N13__tlog-SET-tampered.commit")).unwrap();
    let ev = evidence_from_object("N13", &raw);
    let entry = TransparencyLogEntry::decode(&ev.entry_bytes).unwrap();
    let err = verify_entry(&entry, &ev.body, prod()).unwrap_err();
    assert!(matches!(err, TlogError::BadSet(_)), "{err}");
    assert!(err.to_string().contains("signed entry timestamp does not verify"), "{err}");
    // N05: the gpgsig block of another commit by the same signer: its embedded entry is valid for
    // its own CMS (the payload mismatch is the CMS verifier's to catch).
    let raw = std::fs::read(neg.join("N05__sig-swapped-same-signer.commit")).unwrap();
    check(&evidence_from_object("N05", &raw));
}

#[test]
fn error_messages_say_what_failed() {
    let ex = examples();
    let ev = &ex[0].1;
    let mut e = TransparencyLogEntry::decode(&ev.entry_bytes).unwrap();
    e.log_id = vec![0xab; 32];
    let msg = verify_entry(&e, &ev.body, prod()).unwrap_err().to_string();
    assert!(msg.contains(&"ab".repeat(32)) && msg.contains("not in the trusted root"), "{msg}");
}
