//! `gitsign verify-bundle`: bundles exported from our own sandbox-signed commits, and bundles
//! made by sigstore-python against the same sandbox, verified offline against the sandbox's
//! trusted root; every tampering is rejected with exit 1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Repo, Sandbox, TempDir, bin};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;

fn sigstore_python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/venv/bin/sigstore");
    assert!(p.exists(), "{} missing: run ./test.sh, which installs the pinned sigstore-python", p.display());
    p
}

/// A sigstore-python ClientTrustConfig for the sandbox (as in interop.rs).
fn client_trust_config(sb: &Sandbox) -> Value {
    let tr: Value = serde_json::from_slice(&std::fs::read(sb.var("GITSIGN_TRUSTED_ROOT")).unwrap()).unwrap();
    let valid = json!({"start": "2020-01-01T00:00:00Z"});
    let url = |k: &str| json!([{"url": sb.var(k), "majorApiVersion": 1, "validFor": valid, "operator": "sandbox"}]);
    json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": tr,
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": url("GITSIGN_FULCIO_URL"),
            "oidcUrls": url("GITSIGN_OIDC_ISSUER"),
            "rekorTlogUrls": url("GITSIGN_REKOR_URL"),
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"}
        }
    })
}

struct Ctx {
    sb: Sandbox,
    dir: TempDir,
    issuer: String,
}

impl Ctx {
    /// `gitsign verify-bundle` in the conformance argument order; (exit code, stdout+stderr).
    fn verify(&self, bundle: &Value, identity: &str, issuer: &str, artifact: &str) -> (i32, String) {
        let path = self.dir.path().join("under-test.json");
        std::fs::write(&path, serde_json::to_vec_pretty(bundle).unwrap()).unwrap();
        let out = Command::new(bin("gitsign"))
            .arg("verify-bundle")
            .arg("--bundle")
            .arg(&path)
            .args(["--certificate-identity", identity, "--certificate-oidc-issuer", issuer])
            .arg("--trusted-root")
            .arg(self.sb.var("GITSIGN_TRUSTED_ROOT"))
            .arg(artifact)
            .env_remove("GITSIGN_TRUSTED_ROOT")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    fn expect_ok(&self, bundle: &Value, identity: &str, artifact: &str) {
        let (code, out) = self.verify(bundle, identity, &self.issuer, artifact);
        assert_eq!(code, 0, "verify-bundle rejected a valid bundle:\n{out}");
        assert!(out.contains("OK: "), "{out}");
    }

    fn expect_fail(&self, what: &str, bundle: &Value, identity: &str, artifact: &str, reason: &str) {
        let (code, out) = self.verify(bundle, identity, &self.issuer, artifact);
        assert_eq!(code, 1, "{what}: expected exit 1:\n{out}");
        assert!(out.contains(reason), "{what}: expected {reason:?} in:\n{out}");
    }
}

fn flip_b64(v: &mut Value, at_from_end: usize) {
    let mut bytes = STANDARD.decode(v.as_str().unwrap()).unwrap();
    let n = bytes.len();
    bytes[n - at_from_end] ^= 0x01;
    *v = STANDARD.encode(bytes).into();
}

#[test]
fn our_bundles_and_sigstore_python_bundles_verify_and_tampering_fails() {
    let sb = Sandbox::start();
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let ctx = Ctx { dir: TempDir::new("verify-bundle"), issuer, sb };
    let repo = Repo::new(&ctx.sb, "alice@example.test");
    repo.signed_commit("a.txt", "x\n", "bundle me");
    let bundle_path = ctx.dir.path().join("commit.sigstore.json");
    let artifact_path = ctx.dir.path().join("signed_attrs.der");
    let out = repo
        .cmd(&bin("gitsign"))
        .args(["export-bundle", "HEAD", "-o"])
        .arg(&bundle_path)
        .arg("--artifact")
        .arg(&artifact_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "export-bundle: {}", String::from_utf8_lossy(&out.stderr));
    let bundle: Value = serde_json::from_slice(&std::fs::read(&bundle_path).unwrap()).unwrap();
    let artifact = artifact_path.to_str().unwrap();
    let alice = "alice@example.test";

    // Valid: by file and by digest.
    ctx.expect_ok(&bundle, alice, artifact);
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(std::fs::read(&artifact_path).unwrap())));
    ctx.expect_ok(&bundle, alice, &digest);

    // Wrong identity, wrong issuer.
    ctx.expect_fail("wrong identity", &bundle, "mallory@example.test", artifact, "does not match");
    let (code, out) = ctx.verify(&bundle, alice, "https://accounts.google.com", artifact);
    assert_eq!(code, 1, "wrong issuer: {out}");

    // Wrong artifact, by file and by digest.
    let other = ctx.dir.path().join("other");
    std::fs::write(&other, b"another artifact").unwrap();
    ctx.expect_fail("wrong artifact", &bundle, alice, other.to_str().unwrap(), "another artifact");
    ctx.expect_fail("wrong digest", &bundle, alice, &format!("sha256:{}", "0".repeat(64)), "another artifact");

    // Tampered SET.
    let mut b = bundle.clone();
    flip_b64(&mut b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"], 3);
    ctx.expect_fail("tampered SET", &b, alice, artifact, "signed entry timestamp does not verify");

    // Tampered signature (the message signature no longer verifies).
    let mut b = bundle.clone();
    flip_b64(&mut b["messageSignature"]["signature"], 3);
    ctx.expect_fail("tampered signature", &b, alice, artifact, "signature does not verify");

    // Tampered certificate (a byte of its signature): the log entry no longer records it.
    let mut b = bundle.clone();
    flip_b64(&mut b["verificationMaterial"]["certificate"]["rawBytes"], 3);
    let (code, out) = ctx.verify(&b, alice, &ctx.issuer, artifact);
    assert_eq!(code, 1, "tampered certificate: {out}");

    // Tampered inclusion proof.
    let mut b = bundle.clone();
    flip_b64(&mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"], 1);
    ctx.expect_fail("tampered root hash", &b, alice, artifact, "transparency log entry does not verify");

    // Negative log index.
    let mut b = bundle.clone();
    b["verificationMaterial"]["tlogEntries"][0]["logIndex"] = "-1".into();
    ctx.expect_fail("negative index", &b, alice, artifact, "negative logIndex");

    // The same bundle as v0.1 with an x509CertificateChain: fine with the leaf alone, rejected
    // when the chain includes the root.
    let tr: Value = serde_json::from_slice(&std::fs::read(ctx.sb.var("GITSIGN_TRUSTED_ROOT")).unwrap()).unwrap();
    let root = tr["certificateAuthorities"][0]["certChain"]["certificates"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .expect("sandbox trusted root has a CA chain");
    let leaf = bundle["verificationMaterial"]["certificate"].clone();
    let mut b = bundle.clone();
    b["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.1".into();
    b["verificationMaterial"].as_object_mut().unwrap().remove("certificate");
    b["verificationMaterial"]["x509CertificateChain"] = json!({"certificates": [leaf.clone()]});
    ctx.expect_ok(&b, alice, artifact);
    // Early v0.1 bundles carry an inclusion proof without a checkpoint: the SET stands alone,
    // but a proof that does not lead from the entry to its root hash is rejected.
    let mut early = b.clone();
    early["verificationMaterial"]["tlogEntries"][0]["inclusionProof"].as_object_mut().unwrap().remove("checkpoint");
    ctx.expect_ok(&early, alice, artifact);
    flip_b64(&mut early["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"], 1);
    ctx.expect_fail("v0.1 proof without checkpoint, wrong root", &early, alice, artifact, "inclusion proof");
    b["verificationMaterial"]["x509CertificateChain"] = json!({"certificates": [leaf, root]});
    ctx.expect_fail("chain with root", &b, alice, artifact, "includes a root");

    // Bundles made by sigstore-python against the sandbox verify with ours.
    let py = sigstore_python();
    let trust_cfg = ctx.dir.path().join("trust-config.json");
    std::fs::write(&trust_cfg, serde_json::to_vec_pretty(&client_trust_config(&ctx.sb)).unwrap()).unwrap();
    let file = ctx.dir.path().join("release.tar");
    std::fs::write(&file, b"release contents\n").unwrap();
    let py_bundle = ctx.dir.path().join("release.sigstore.json");
    let out = Command::new(&py)
        .arg("--trust-config")
        .arg(&trust_cfg)
        .args(["sign", "--identity-token", &ctx.sb.token("bob@example.test"), "--bundle"])
        .arg(&py_bundle)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sigstore-python sign failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Value = serde_json::from_slice(&std::fs::read(&py_bundle).unwrap()).unwrap();
    let file_s = file.to_str().unwrap();
    ctx.expect_ok(&theirs, "bob@example.test", file_s);
    ctx.expect_fail("theirs, wrong identity", &theirs, alice, file_s, "does not match");
    ctx.expect_fail("theirs, wrong artifact", &theirs, "bob@example.test", artifact, "another artifact");
    let mut b = theirs.clone();
    flip_b64(&mut b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"], 3);
    ctx.expect_fail("theirs, tampered SET", &b, "bob@example.test", file_s, "signed entry timestamp does not verify");

    // sigstore-python agrees on both bundles (ours was already checked in interop.rs).
    let out = Command::new(&py)
        .arg("--trust-config")
        .arg(&trust_cfg)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(&py_bundle)
        .args(["--cert-identity", "bob@example.test", "--cert-oidc-issuer", &ctx.issuer])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "sigstore-python rejects its own bundle: {}", String::from_utf8_lossy(&out.stderr));

    // --key against a certificate bundle: refused with the reason.
    // (any P-256 key will do: the sandbox's Rekor key)
    let key_pem = ctx.dir.path().join("key.pem");
    let spki = tr["tlogs"][0]["publicKey"]["rawBytes"].as_str().expect("sandbox Rekor key");
    std::fs::write(&key_pem, format!("-----BEGIN PUBLIC KEY-----\n{spki}\n-----END PUBLIC KEY-----\n")).unwrap();
    let out = Command::new(bin("gitsign"))
        .arg("verify-bundle")
        .arg("--bundle")
        .arg(&bundle_path)
        .arg("--key")
        .arg(&key_pem)
        .arg("--trusted-root")
        .arg(ctx.sb.var("GITSIGN_TRUSTED_ROOT"))
        .arg(artifact)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("signed with a certificate"));

    // Regular-expression policy flags.
    let out = Command::new(bin("gitsign"))
        .arg("verify-bundle")
        .arg("--bundle")
        .arg(&bundle_path)
        .args(["--certificate-identity-regexp", "^alice@", "--certificate-oidc-issuer-regexp", "127\\.0\\.0\\.1"])
        .arg("--trusted-root")
        .arg(ctx.sb.var("GITSIGN_TRUSTED_ROOT"))
        .arg(artifact)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    // Usage errors exit 2.
    let out = Command::new(bin("gitsign")).args(["verify-bundle", "--bundle"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin("gitsign"))
        .args(["verify-bundle", "--bundle", "b.json", "--certificate-identity", "x", artifact])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "an issuer is required");
}

/// A real gitsign signature from public history (sigstore/gitsign 3616021d), as a bundle,
/// verifies with the embedded production root (no --trusted-root), and not with staging.
#[test]
fn real_signature_bundle_with_the_production_root() {
    let ex = common::shared()
        .join("fixtures/real/examples/offline-commit__sigstore_gitsign__3616021d86975c23e52a456a7dc5605fe130ed14");
    let exported =
        gitsign::pipelines::bundle::from_signature(&std::fs::read(ex.join("signature.txt")).unwrap()).unwrap();
    let dir = TempDir::new("verify-bundle-real");
    let bundle = dir.path().join("b.json");
    let artifact = dir.path().join("signed_attrs.der");
    std::fs::write(&bundle, serde_json::to_vec(&exported.bundle).unwrap()).unwrap();
    std::fs::write(&artifact, &exported.artifact).unwrap();
    let run = |staging: bool, identity: &str| {
        let mut c = Command::new(bin("gitsign"));
        c.arg("verify-bundle");
        if staging {
            c.arg("--staging");
        }
        c.arg("--bundle").arg(&bundle);
        c.args(["--certificate-identity", identity, "--certificate-oidc-issuer", "https://accounts.google.com"]);
        c.arg(&artifact).env_remove("GITSIGN_TRUSTED_ROOT");
        let out = c.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(false, "billy@chainguard.dev");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("tlog index 2340836642"), "{err}");
    let (code, err) = run(true, "billy@chainguard.dev");
    assert_eq!(code, Some(1), "verified with the staging root: {err}");
    assert!(err.contains("not in the trusted root"), "{err}");
    let (code, _) = run(false, "someone@else.dev");
    assert_eq!(code, Some(1));
}

/// A plain-HTTP proxy in front of the sandbox's Rekor that counts the requests it forwards.
struct CountingProxy {
    url: String,
    server: std::sync::Arc<tiny_http::Server>,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CountingProxy {
    fn start(upstream: &str) -> CountingProxy {
        let upstream = upstream.strip_prefix("http://").expect("the sandbox serves plain HTTP by default").to_string();
        let upstream = upstream.trim_end_matches('/').to_string();
        let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, l) = (server.clone(), log.clone());
        let thread = std::thread::spawn(move || {
            for mut req in s.incoming_requests() {
                let mut body = Vec::new();
                let _ = std::io::Read::read_to_end(req.as_reader(), &mut body);
                l.lock().unwrap().push(format!("{} {}", req.method(), req.url()));
                let (status, resp) = forward(&upstream, req.method().as_str(), req.url(), &body);
                let ct = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                let _ = req.respond(tiny_http::Response::from_data(resp).with_status_code(status).with_header(ct));
            }
        });
        CountingProxy { url: format!("http://127.0.0.1:{port}"), server, log, thread: Some(thread) }
    }

    fn count(&self, prefix: &str) -> usize {
        self.log.lock().unwrap().iter().filter(|l| l.starts_with(prefix)).count()
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP/1.1 exchange with `Connection: close`; (status, body).
fn forward(host: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let headers = [("Content-Type", "application/json"), ("Accept", "application/json")];
    let resp = testsupport::http::http(method, &format!("http://{host}{path}"), &headers, body);
    (resp.status, resp.body)
}

/// Online-mode signatures verified in one run look Rekor up once per certificate and fetch
/// each entry once, through the run's lookup cache (counted by a proxy in front of the
/// sandbox's Rekor).
#[test]
fn online_mode_lookups_are_cached_within_a_run() {
    let sb = Sandbox::start();
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let mut env = sb.env.clone();
    env.push(("SIGSTORE_ID_TOKEN".into(), sb.token("alice@example.test")));
    env.push(("GITSIGN_REKOR_MODE".into(), "online".into()));
    let repo = Repo::with_env(env, "alice@example.test");
    repo.signed_commit("a.txt", "1\n", "online one");
    repo.signed_commit("b.txt", "2\n", "online two");
    let proxy = CountingProxy::start(&sb.var("GITSIGN_REKOR_URL"));
    // HEAD three times (one certificate) and HEAD~1 (another certificate: a new signing run).
    let out = repo
        .cmd(&bin("gitsign"))
        .args(["verify", "HEAD", "HEAD~0", "main", "HEAD~1"])
        .args(["--certificate-identity", "alice@example.test", "--certificate-oidc-issuer", &issuer])
        .env("GITSIGN_REKOR_URL", &proxy.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout.matches("(online)").count(), 4, "{stdout}");
    assert_eq!(proxy.count("POST /api/v1/index/retrieve"), 2, "searches: {:?}", proxy.log.lock().unwrap());
    assert_eq!(proxy.count("GET /api/v1/log/entries/"), 2, "fetches: {:?}", proxy.log.lock().unwrap());
}

/// A DSSE envelope whose Rekor v1 entry is a hashedrekord 0.0.1 over SHA-256 of the envelope's
/// PAE (allowed by the client spec; sigstore-conformance "dsse-with-hashedrekord-*"): signed with
/// a sandbox Fulcio certificate and logged in the sandbox Rekor, it verifies by file and by
/// digest. Rejected: an envelope signature by another key, a validly signed envelope other than
/// the logged one, and a second valid signature over the logged PAE that the entry does not record.
#[test]
fn dsse_envelope_logged_as_hashedrekord() {
    use gitsign::pipelines::verify::bundle::dsse_pae;
    let sb = Sandbox::start();
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let ctx = Ctx { dir: TempDir::new("verify-bundle-dsse-hr"), issuer, sb };
    let http = gitsign::services::http::client(&gitsign::services::http::HttpOptions {
        plain_http_only: true,
        ..Default::default()
    })
    .expect("http client");
    let services = gitsign::pipelines::sign::Services {
        fulcio: gitsign::services::fulcio::FulcioClient::new(&ctx.sb.var("GITSIGN_FULCIO_URL"), http.clone()),
        rekor: gitsign::services::rekor::client::RekorClient::new(&ctx.sb.var("GITSIGN_REKOR_URL"), http.clone()),
        http,
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let carol = "carol@example.test";
    let id = gitsign::pipelines::sign::identity_from_token(&ctx.sb.token(carol), &services, now)
        .expect("sandbox certificate");

    let artifact = ctx.dir.path().join("artifact.bin");
    std::fs::write(&artifact, b"dsse over hashedrekord\n").unwrap();
    let subject = hex::encode(Sha256::digest(std::fs::read(&artifact).unwrap()));
    let statement = |note: &str| {
        serde_json::to_vec(&json!({"_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "artifact.bin", "digest": {"sha256": subject}}],
            "predicateType": "https://example.com/predicate/v1", "predicate": {"note": note}}))
        .unwrap()
    };
    let pt = "application/vnd.in-toto+json";
    let sign = |key: &dyn p256::ecdsa::signature::Signer<p256::ecdsa::DerSignature>, payload: &[u8]| -> Vec<u8> {
        let s: p256::ecdsa::DerSignature = key.sign(&dsse_pae(pt, payload));
        s.as_bytes().to_vec()
    };
    let payload = statement("logged");
    let sig = sign(&id.key, &payload);
    let proposed = json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(dsse_pae(pt, &payload)))}},
        "signature": {"content": STANDARD.encode(&sig), "publicKey": {"content":
            STANDARD.encode(gitsign::services::rekor::body::certificate_pem(&id.certs.leaf))}}}});
    let (_uuid, entry) = services.rekor.create_entry(&proposed).expect("sandbox Rekor accepts the entry");
    let ver = entry.verification.as_ref().expect("verification");
    let proof = ver.inclusion_proof.as_ref().expect("inclusion proof");
    let b64_hex = |h: &str| STANDARD.encode(hex::decode(h).unwrap());
    let bundle = |payload: &[u8], sig: &[u8]| {
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": STANDARD.encode(&id.certs.leaf)},
                "tlogEntries": [{
                    "logIndex": entry.log_index.to_string(),
                    "logId": {"keyId": b64_hex(&entry.log_id)},
                    "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                    "integratedTime": entry.integrated_time.to_string(),
                    "inclusionPromise": {"signedEntryTimestamp": ver.signed_entry_timestamp.clone().unwrap()},
                    "inclusionProof": {
                        "logIndex": proof.log_index.to_string(), "rootHash": b64_hex(&proof.root_hash),
                        "treeSize": proof.tree_size.to_string(),
                        "hashes": proof.hashes.iter().map(|h| b64_hex(h)).collect::<Vec<_>>(),
                        "checkpoint": {"envelope": proof.checkpoint}},
                    "canonicalizedBody": entry.body,
                }],
            },
            "dsseEnvelope": {"payload": STANDARD.encode(payload), "payloadType": pt,
                             "signatures": [{"sig": STANDARD.encode(sig)}]},
        })
    };
    let art = artifact.to_str().unwrap();
    let good = bundle(&payload, &sig);
    ctx.expect_ok(&good, carol, art);
    ctx.expect_ok(&good, carol, &format!("sha256:{subject}"));
    ctx.expect_fail("dsse/hashedrekord, wrong identity", &good, "mallory@example.test", art, "does not match");

    // The envelope signed by another key: the signature does not verify under the certificate.
    let other = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let b = bundle(&payload, &sign(&other, &payload));
    ctx.expect_fail("envelope signed by another key", &b, carol, art, "signature does not verify");

    // Another statement (same subject) validly signed with the same key: not the logged PAE.
    let other_payload = statement("not logged");
    let b = bundle(&other_payload, &sign(&id.key, &other_payload));
    ctx.expect_fail("another envelope", &b, carol, art, "not the envelope's PAE");

    // A second valid signature over the logged PAE, (r, n - s): the entry records another one.
    let parsed = p256::ecdsa::Signature::from_der(&sig).unwrap();
    let (r, s) = parsed.split_scalars();
    let flipped = p256::ecdsa::Signature::from_scalars(r, -s).unwrap();
    let flipped_der = flipped.to_der().as_bytes().to_vec();
    assert_ne!(flipped_der, sig);
    let b = bundle(&payload, &flipped_der);
    ctx.expect_fail("unrecorded second signature", &b, carol, art, "records another signature");

    // Trusted-root validity windows (conformance "trust-root-tlog-*"): the Rekor key's end is
    // inclusive (integrated time == end verifies, end one second earlier does not), and a
    // validFor without its required start is a malformed root, not an unbounded window.
    let tr: Value = serde_json::from_slice(&std::fs::read(ctx.sb.var("GITSIGN_TRUSTED_ROOT")).unwrap()).unwrap();
    let with_root = |tr: &Value| {
        let root_path = ctx.dir.path().join("root-under-test.json");
        let bundle_path = ctx.dir.path().join("dsse-hr.json");
        std::fs::write(&root_path, serde_json::to_vec(tr).unwrap()).unwrap();
        std::fs::write(&bundle_path, serde_json::to_vec(&good).unwrap()).unwrap();
        let out = Command::new(bin("gitsign"))
            .arg("verify-bundle")
            .arg("--bundle")
            .arg(&bundle_path)
            .args(["--certificate-identity", carol, "--certificate-oidc-issuer", &ctx.issuer])
            .arg("--trusted-root")
            .arg(&root_path)
            .arg(art)
            .env_remove("GITSIGN_TRUSTED_ROOT")
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let rfc3339 = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let mut t = tr.clone();
    t["tlogs"][0]["publicKey"]["validFor"]["end"] = rfc3339(entry.integrated_time).into();
    let (code, err) = with_root(&t);
    assert_eq!(code, Some(0), "Rekor key valid until exactly the integrated time: {err}");
    t["tlogs"][0]["publicKey"]["validFor"]["end"] = rfc3339(entry.integrated_time - 1).into();
    let (code, err) = with_root(&t);
    assert_eq!(code, Some(1), "Rekor key expired a second before the integrated time: {err}");
    let mut t = tr.clone();
    t["tlogs"][0]["publicKey"]["validFor"].as_object_mut().unwrap().remove("start");
    let (code, err) = with_root(&t);
    assert_eq!(code, Some(1), "validFor without a start: {err}");
    assert!(err.contains("validFor.start") && err.contains("missing"), "{err}");
}

/// `verify-bundle` without --trusted-root uses the configured root (GITSIGN_TRUSTED_ROOT), as
/// `gitsign verify` does; exact and regexp flags for one field are a usage error.
#[test]
fn verify_bundle_honours_the_configured_trusted_root() {
    let sb = Sandbox::start();
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let repo = Repo::new(&sb, "alice@example.test");
    repo.signed_commit("a.txt", "x\n", "bundle me");
    let dir = TempDir::new("verify-bundle-env-root");
    let bundle = dir.path().join("b.json");
    let artifact = dir.path().join("payload");
    let out = repo
        .cmd(&bin("gitsign"))
        .args(["export-bundle", "HEAD", "-o"])
        .arg(&bundle)
        .arg("--artifact")
        .arg(&artifact)
        .output()
        .unwrap();
    assert!(out.status.success(), "export-bundle: {}", String::from_utf8_lossy(&out.stderr));
    let run = |extra: &[&str]| {
        // repo.cmd sets the sandbox's variables, GITSIGN_TRUSTED_ROOT among them.
        let out = repo
            .cmd(&bin("gitsign"))
            .arg("verify-bundle")
            .arg("--bundle")
            .arg(&bundle)
            .args(["--certificate-identity", "alice@example.test", "--certificate-oidc-issuer", issuer.as_str()])
            .args(extra)
            .arg(&artifact)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&[]);
    assert_eq!(code, Some(0), "GITSIGN_TRUSTED_ROOT was not used: {err}");
    let (code, err) = run(&["--certificate-identity-regexp", "^mallory@"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot be used with"), "{err}");
}
