//! The sandbox's Rekor v2 log, driven over HTTP on loopback and checked from the wire formats
//! alone (C2SP signed-note / tlog-checkpoint / tlog-tiles, RFC 6962 hashing), plus a round trip
//! with an independent client: sigstore-python signs with `--rekor-version 2` and verifies
//! offline against the sandbox's `trusted_root.json` and `signing_config.json`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{BIN, Sandbox, new_key};
use testsupport::TempDir;
use testsupport::http::{Response, http};
use testsupport::merkle::{leaf_hash, mth, node, proof_root, sha256};

const EMAIL: &str = "sandbox-user@example.test";

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).unwrap_or_else(|e| panic!("not base64 ({e}): {s}"))
}

fn get(url: &str) -> Response {
    http("GET", url, &[], b"")
}

fn post(url: &str, body: &[u8]) -> Response {
    http("POST", url, &[("Content-Type", "application/json")], body)
}

/// The v2 log as `trusted_root.json` describes it.
struct Log {
    key: Vec<u8>,
    log_id: Vec<u8>,
}

fn read_log(dir: &Path) -> (Value, Log) {
    let tr: Value = serde_json::from_slice(&std::fs::read(dir.join("trusted_root.json")).unwrap()).unwrap();
    let tlogs = tr["tlogs"].as_array().unwrap();
    assert_eq!(tlogs.len(), 2, "the v1 log, then the v2 log");
    assert_eq!(tlogs[0]["publicKey"]["keyDetails"], "PKIX_ECDSA_P256_SHA_256");
    let t = &tlogs[1];
    assert_eq!(t["publicKey"]["keyDetails"], "PKIX_ED25519");
    assert_eq!(t["hashAlgorithm"], "SHA2_256");
    assert!(t["publicKey"]["validFor"]["start"].as_str().unwrap().ends_with('Z'));
    let spki = unb64(t["publicKey"]["rawBytes"].as_str().unwrap());
    // RFC 8410 SubjectPublicKeyInfo: fixed 12-byte prefix, then the 32-byte key.
    assert_eq!(spki.len(), 44);
    assert_eq!(spki[..12], [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);
    (tr.clone(), Log { key: spki[12..].to_vec(), log_id: unb64(t["logId"]["keyId"].as_str().unwrap()) })
}

/// A checked checkpoint: (origin, size, root).
fn check_checkpoint(note: &str, log: &Log) -> (String, u64, Vec<u8>) {
    let (text, sigs) = note.split_once("\n\n").unwrap_or_else(|| panic!("no blank line in the note:\n{note}"));
    let text = format!("{text}\n");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{note}");
    let origin = lines[0].to_string();
    let size: u64 = lines[1].parse().unwrap();
    let root = unb64(lines[2]);
    assert_eq!(root.len(), 32);
    // Log id = SHA-256(origin ‖ "\n" ‖ 0x01 ‖ key) (signed-note Ed25519 key id).
    let mut m = origin.as_bytes().to_vec();
    m.extend_from_slice(b"\n\x01");
    m.extend_from_slice(&log.key);
    assert_eq!(sha256(&m).to_vec(), log.log_id, "log id is not the note key id of the origin and key");
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &log.key);
    let mut found = false;
    assert!(sigs.ends_with('\n'));
    for line in sigs.lines() {
        let rest = line.strip_prefix("\u{2014} ").unwrap_or_else(|| panic!("not a signature line: {line:?}"));
        let (name, sig) = rest.split_once(' ').unwrap();
        let sig = unb64(sig);
        if name == origin && sig[..4] == log.log_id[..4] {
            assert_eq!(sig.len(), 4 + 64);
            key.verify(text.as_bytes(), &sig[4..]).expect("checkpoint signature verifies with the trusted root key");
            found = true;
        }
    }
    assert!(found, "no signature by the log's key in:\n{note}");
    (origin, size, root)
}

/// A key and a Fulcio certificate for it (DER leaf).
fn cert(sb: &Sandbox, dir: &Path) -> (SigningKey, Vec<u8>) {
    let out = Command::new(BIN).args(["token", "--dir"]).arg(dir).output().unwrap();
    assert!(out.status.success());
    let tok = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let k = new_key();
    let spki = k.verifying_key().to_public_key_der().unwrap();
    let pop: DerSignature = k.sign(EMAIL.as_bytes());
    let r = http(
        "POST",
        &format!("{}/api/v1/signingCert", sb.base),
        &[("Content-Type", "application/json"), ("Authorization", &format!("Bearer {tok}"))],
        json!({"publicKey": {"content": b64(spki.as_bytes()), "algorithm": "ecdsa"}, "signedEmailAddress": b64(pop.as_bytes())})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let pem = r.text();
    let b: String = pem.lines().skip(1).take_while(|l| !l.starts_with("-----END")).collect();
    (k, unb64(&b))
}

fn request(digest: &[u8], sig: &[u8], cert: &[u8]) -> Value {
    json!({"hashedRekordRequestV002": {
        "digest": b64(digest),
        "signature": {"content": b64(sig),
                      "verifier": {"x509Certificate": {"rawBytes": b64(cert)}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}},
    }})
}

fn sign_digest(k: &SigningKey, digest: &[u8]) -> Vec<u8> {
    let s: p256::ecdsa::Signature = k.sign_prehash(digest).unwrap();
    s.to_der().as_bytes().to_vec()
}

/// Log an entry over `data` and check the answer; returns (index, canonicalized body).
fn add(sb: &Sandbox, log: &Log, k: &SigningKey, cert: &[u8], data: &[u8]) -> (u64, Vec<u8>) {
    let digest = sha256(data);
    let sig = sign_digest(k, &digest);
    let r = post(&format!("{}/api/v2/log/entries", sb.base), request(&digest, &sig, cert).to_string().as_bytes());
    assert_eq!(r.status, 201, "{}", r.text());
    let e = r.json();
    assert_eq!(e["kindVersion"], json!({"kind": "hashedrekord", "version": "0.0.2"}));
    assert_eq!(unb64(e["logId"]["keyId"].as_str().unwrap()), log.log_id);
    assert!(e.get("inclusionPromise").is_none() && e.get("integratedTime").is_none(), "no SET in Rekor v2");
    let index: u64 = e["logIndex"].as_str().expect("logIndex is a protobuf JSON string").parse().unwrap();
    let body = unb64(e["canonicalizedBody"].as_str().unwrap());
    let b: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        b,
        json!({"apiVersion": "0.0.2", "kind": "hashedrekord", "spec": {"hashedRekordV002": {
            "data": {"algorithm": "SHA2_256", "digest": b64(&digest)},
            "signature": {"content": b64(&sig),
                          "verifier": {"keyDetails": "PKIX_ECDSA_P256_SHA_256", "x509Certificate": {"rawBytes": b64(cert)}}}}}})
    );
    let p = &e["inclusionProof"];
    assert_eq!(p["logIndex"].as_str().unwrap(), index.to_string());
    let size: u64 = p["treeSize"].as_str().unwrap().parse().unwrap();
    let hashes: Vec<Vec<u8>> = p["hashes"].as_array().unwrap().iter().map(|h| unb64(h.as_str().unwrap())).collect();
    let root = unb64(p["rootHash"].as_str().unwrap());
    assert_eq!(proof_root(index, size, leaf_hash(&body), &hashes).map(|r| r.to_vec()), Some(root.clone()));
    let (_, cp_size, cp_root) = check_checkpoint(p["checkpoint"]["envelope"].as_str().unwrap(), log);
    assert_eq!((cp_size, cp_root), (size, root));
    (index, body)
}

fn checkpoint(sb: &Sandbox, log: &Log) -> (String, u64, Vec<u8>) {
    let r = get(&format!("{}/api/v2/checkpoint", sb.base));
    assert_eq!(r.status, 200);
    assert!(r.header("Content-Type").unwrap().starts_with("text/plain"));
    check_checkpoint(&r.text(), log)
}

/// Entry bodies of an entry bundle (big-endian u16 length before each).
fn bundle_entries(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let n = u16::from_be_bytes([b[0], b[1]]) as usize;
        out.push(b[2..2 + n].to_vec());
        b = &b[2 + n..];
    }
    out
}

/// Every leaf hash of a tree of `size` entries, read from the entry bundles.
fn leaves_from_bundles(sb: &Sandbox, size: u64) -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    for n in 0..size.div_ceil(256) {
        let w = (size - n * 256).min(256);
        let path = if w == 256 { format!("{n:03}") } else { format!("{n:03}.p/{w}") };
        let r = get(&format!("{}/api/v2/tile/entries/{path}", sb.base));
        assert_eq!(r.status, 200, "entries/{path}: {}", r.text());
        let e = bundle_entries(&r.body);
        assert_eq!(e.len() as u64, w);
        out.extend(e.iter().map(|b| leaf_hash(b)));
    }
    out
}

#[test]
fn refuses_bad_signatures_and_malformed_requests() {
    let d = TempDir::new("v2-refuse");
    let sb = Sandbox::start(&d.0, &[]);
    let (_, log) = read_log(&d.0);
    let (k, cert_der) = cert(&sb, &d.0);
    let url = format!("{}/api/v2/log/entries", sb.base);
    let digest = sha256(b"artifact");
    let sig = sign_digest(&k, &digest);
    let refuse = |body: &[u8], want: &str| {
        let r = post(&url, body);
        assert_eq!(r.status, 400, "{want}: {}", r.text());
        let msg = r.json()["message"].as_str().unwrap().to_string();
        assert!(msg.contains(want), "{msg:?} should say {want:?}");
        assert!(!msg.contains("Some("), "{msg}");
    };
    let j = |v: Value| v.to_string().into_bytes();
    // A signature by another key, and one over another digest.
    refuse(&j(request(&digest, &sign_digest(&new_key(), &digest), &cert_der)), "signature verification failed");
    refuse(&j(request(&sha256(b"other"), &sig, &cert_der)), "signature verification failed");
    refuse(b"{not json", "invalid JSON");
    refuse(&j(json!({})), "hashedRekordRequestV002");
    refuse(&j(json!({"dsseRequestV002": {}})), "PAE");
    refuse(&j(request(&digest[..20], &sig, &cert_der)), "32 bytes");
    let mut no_sig = request(&digest, &sig, &cert_der);
    no_sig["hashedRekordRequestV002"]["signature"].as_object_mut().unwrap().remove("content");
    refuse(&j(no_sig), "signature.content is required");
    let mut not_b64 = request(&digest, &sig, &cert_der);
    not_b64["hashedRekordRequestV002"]["digest"] = json!("***");
    refuse(&j(not_b64), "base64");
    refuse(&j(request(&digest, &sig, b"not a certificate")), "not a DER certificate");
    let mut ed = request(&digest, &sig, &cert_der);
    ed["hashedRekordRequestV002"]["signature"]["verifier"]["keyDetails"] = json!("PKIX_ED25519");
    refuse(&j(ed), "unsupported signature.verifier.keyDetails PKIX_ED25519");
    // Nothing of that was logged; a good request still is.
    assert_eq!(checkpoint(&sb, &log).1, 0);
    assert_eq!(add(&sb, &log, &k, &cert_der, b"artifact").0, 0);
    // Logging the same entry again answers the same index, and the tree does not grow.
    let again = post(&url, &j(request(&digest, &sig, &cert_der)));
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["logIndex"], "0");
    assert_eq!(checkpoint(&sb, &log).1, 1);
    assert_eq!(http("GET", &url, &[], b"").status, 405);
}

#[test]
fn checkpoint_is_signed_with_the_trusted_root_key() {
    let d = TempDir::new("v2-checkpoint");
    let sb = Sandbox::start(&d.0, &[]);
    let (_, log) = read_log(&d.0);
    let (origin, size, root) = checkpoint(&sb, &log);
    assert_eq!(size, 0);
    assert_eq!(root, sha256(b""), "the empty tree's root");
    assert!(!origin.contains(' ') && !origin.contains('+'), "a signed-note key name: {origin}");
    let note = get(&format!("{}/api/v2/checkpoint", sb.base)).text();
    // Tampering with the signed text breaks the signature.
    let forged = note.replacen("\n0\n", "\n1\n", 1);
    let (text, sigs) = forged.split_once("\n\n").unwrap();
    let sig = unb64(sigs.trim_end().rsplit_once(' ').unwrap().1);
    let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &log.key);
    assert!(key.verify(format!("{text}\n").as_bytes(), &sig[4..]).is_err());
    // Another log's key does not verify it.
    let d2 = TempDir::new("v2-checkpoint-other");
    let sb2 = Sandbox::start(&d2.0, &[]);
    let (_, other) = read_log(&d2.0);
    assert_ne!(other.key, log.key);
    let (text, sigs) = note.split_once("\n\n").unwrap();
    let sig = unb64(sigs.trim_end().rsplit_once(' ').unwrap().1);
    let key2 = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &other.key);
    assert!(key2.verify(format!("{text}\n").as_bytes(), &sig[4..]).is_err());
    drop(sb2);
}

#[test]
fn restart_keeps_entries_and_the_checkpoint_grows_consistently() {
    let d = TempDir::new("v2-restart");
    let sb = Sandbox::start(&d.0, &[]);
    let (tr1, log) = read_log(&d.0);
    let (k, cert_der) = cert(&sb, &d.0);
    let mut bodies = Vec::new();
    for i in 0..5u32 {
        let (idx, body) = add(&sb, &log, &k, &cert_der, format!("before {i}").as_bytes());
        assert_eq!(idx, i as u64);
        bodies.push(body);
    }
    let (origin1, size1, root1) = checkpoint(&sb, &log);
    assert_eq!(size1, 5);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(d.0.join("rekor-v2-key.pem")).unwrap().permissions().mode();
        assert_eq!(m & 0o777, 0o600, "the log key is private");
    }
    sb.kill(); // kill -9: only what was committed survives

    let sb = Sandbox::start(&d.0, &[]);
    let (tr2, log2) = read_log(&d.0);
    for k in ["publicKey", "logId"] {
        assert_eq!(tr1["tlogs"][1][k], tr2["tlogs"][1][k], "the v2 log keeps its key and id");
    }
    let (origin2, size2, root2) = checkpoint(&sb, &log2);
    assert_eq!((origin2.as_str(), size2, &root2), (origin1.as_str(), size1, &root1));
    for i in 0..3u32 {
        let (idx, body) = add(&sb, &log, &k, &cert_der, format!("after {i}").as_bytes());
        assert_eq!(idx, 5 + i as u64);
        bodies.push(body);
    }
    let (_, size3, root3) = checkpoint(&sb, &log);
    assert_eq!(size3, 8);
    // Consistency by recomputation: the log's entries as served now hash to the new root,
    // and their first 5 to the root signed before the restart.
    let leaves = leaves_from_bundles(&sb, size3);
    assert_eq!(leaves, bodies.iter().map(|b| leaf_hash(b)).collect::<Vec<_>>());
    assert_eq!(mth(&leaves).to_vec(), root3);
    assert_eq!(mth(&leaves[..5]).to_vec(), root1);
}

#[test]
fn tiles_match_a_root_recomputed_from_the_entries() {
    let d = TempDir::new("v2-tiles");
    let sb = Sandbox::start(&d.0, &[]);
    let (_, log) = read_log(&d.0);
    let (k, cert_der) = cert(&sb, &d.0);
    const N: u64 = 300;
    let mut bodies = Vec::new();
    for i in 0..N {
        bodies.push(add(&sb, &log, &k, &cert_der, format!("entry {i}").as_bytes()).1);
    }
    let (_, size, root) = checkpoint(&sb, &log);
    assert_eq!(size, N);
    let leaves: Vec<[u8; 32]> = bodies.iter().map(|b| leaf_hash(b)).collect();
    assert_eq!(mth(&leaves).to_vec(), root);
    assert_eq!(leaves_from_bundles(&sb, N), leaves);

    let tile = |path: &str| {
        let r = get(&format!("{}/api/v2/tile/{path}", sb.base));
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
        r.body.chunks(32).map(|c| <[u8; 32]>::try_from(c).unwrap()).collect::<Vec<_>>()
    };
    // Level 0: the leaf hashes, one full tile and a partial one of 44.
    let t0 = tile("0/000");
    let t1 = tile("0/001.p/44");
    assert_eq!(t0, leaves[..256]);
    assert_eq!(t1, leaves[256..]);
    assert_eq!(tile("0/001.p/10"), leaves[256..266], "a narrower partial tile is a prefix");
    // Level 1: the root of each full 256-leaf subtree.
    let l1 = tile("1/000.p/1");
    assert_eq!(l1, vec![mth(&leaves[..256])]);
    // The root from the tiles alone.
    assert_eq!(node(&l1[0], &mth(&t1)).to_vec(), root);
    // Tiles that do not exist (yet) or are not spelled canonically are 404.
    for path in [
        "0/001",
        "0/001.p/45",
        "0/002.p/1",
        "1/000",
        "0/1",
        "0/x000/001",
        "0/000.p/256",
        "0/000.p/0",
        "00/000",
        "8/000",
    ] {
        assert_eq!(get(&format!("{}/api/v2/tile/{path}", sb.base)).status, 404, "{path}");
    }
    for path in ["001", "001.p/45", "1"] {
        assert_eq!(get(&format!("{}/api/v2/tile/entries/{path}", sb.base)).status, 404, "entries/{path}");
    }
}

/// The pinned sigstore-python CLI, or `None` (skipped loudly) when it is missing outside CI.
fn sigstore_python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let p = root.join("target/peers/venv/bin/sigstore");
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} missing: CI must install the pinned sigstore-python (tests/peers/requirements.txt)",
        p.display()
    );
    eprintln!(
        "\n*** SKIPPED: sigstore-python is not installed at {} (run ./test.sh, or python3 -m venv \
         target/peers/venv && target/peers/venv/bin/pip install -r tests/peers/requirements.txt) ***\n",
        p.display()
    );
    None
}

#[test]
fn sigstore_python_signs_with_rekor_v2_and_verifies_offline() {
    let Some(py) = sigstore_python() else { return };
    let d = TempDir::new("v2-python");
    let sb = Sandbox::start(&d.0, &[]);
    let (tr, log) = read_log(&d.0);
    assert!(sb.lines.iter().any(|l| l == &format!("signing_config {}", d.0.join("signing_config.json").display())));
    let sc: Value = serde_json::from_slice(&std::fs::read(d.0.join("signing_config.json")).unwrap()).unwrap();
    assert_eq!(sc["mediaType"], "application/vnd.dev.sigstore.signingconfig.v0.2+json");
    let versions: Vec<u64> =
        sc["rekorTlogUrls"].as_array().unwrap().iter().map(|s| s["majorApiVersion"].as_u64().unwrap()).collect();
    assert_eq!(versions, [2, 1]);
    assert_eq!(sc["tsaUrls"][0]["url"], format!("{}/api/v1/timestamp", sb.base));
    // `env` points gitsign at it.
    let out = Command::new(BIN).args(["env", "--dir"]).arg(&d.0).output().unwrap();
    let env = String::from_utf8(out.stdout).unwrap();
    assert!(
        env.contains(&format!("export GITSIGN_SIGNING_CONFIG='{}'", d.0.join("signing_config.json").display())),
        "{env}"
    );

    let cfg = d.0.join("trust-config.json");
    let client = json!({"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                        "trustedRoot": tr, "signingConfig": sc});
    std::fs::write(&cfg, client.to_string()).unwrap();
    let file = d.0.join("release.tar");
    std::fs::write(&file, b"release contents\n").unwrap();
    let bundle = d.0.join("release.sigstore.json");
    let tok = Command::new(BIN).args(["token", "--dir"]).arg(&d.0).output().unwrap();
    let tok = String::from_utf8(tok.stdout).unwrap().trim().to_string();
    let out = Command::new(&py)
        .arg("--trust-config")
        .arg(&cfg)
        .args(["sign", "--rekor-version", "2", "--identity-token", &tok, "--bundle"])
        .arg(&bundle)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "sigstore-python sign failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let b: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let e = &b["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(e["kindVersion"]["version"], "0.0.2", "signed to the v2 log");
    assert_eq!(unb64(e["logId"]["keyId"].as_str().unwrap()), log.log_id);
    assert!(
        b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"].is_string()
    );
    assert_eq!(checkpoint(&sb, &log).1, 1);

    let issuer = format!("{}/oauth2", sb.base);
    let verify = |file: &Path| {
        Command::new(&py)
            .arg("--trust-config")
            .arg(&cfg)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(&bundle)
            .args(["--cert-identity", EMAIL, "--cert-oidc-issuer", &issuer])
            .arg(file)
            .output()
            .unwrap()
    };
    // Verified offline (no request reaches the sandbox): stop it first.
    drop(sb);
    let out = verify(&file);
    assert!(out.status.success(), "sigstore-python verify failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let other = d.0.join("other.tar");
    std::fs::write(&other, b"other contents\n").unwrap();
    assert!(!verify(&other).status.success(), "another artifact must not verify");
}
