//! `gitsign verify-bundle` on bundles logged in Rekor v2: sigstore-python 4.5.1 signs (and
//! attests) against the sandbox with `--rekor-version 2`; the bundle is verified offline (the
//! sandbox stopped) against the sandbox's trusted root, and every edit of its evidence is refused:
//! the checkpoint's signature and origin, the inclusion proof, the logged body, the RFC 3161
//! timestamp (over another signature, from an untrusted TSA, or missing).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{Sandbox, TempDir, bin};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const ALICE: &str = "alice@example.test";

fn sigstore_python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/venv/bin/sigstore");
    assert!(p.exists(), "{} missing: run ./test.sh, which installs the pinned sigstore-python", p.display());
    p
}

struct Ctx {
    dir: TempDir,
    trusted_root: PathBuf,
    issuer: String,
}

impl Ctx {
    /// `gitsign verify-bundle` against `root` (default: the sandbox's); (exit code, output).
    fn verify_with(&self, bundle: &Value, identity: &str, artifact: &Path, root: &Path) -> (i32, String) {
        let path = self.dir.path().join("under-test.json");
        std::fs::write(&path, serde_json::to_vec_pretty(bundle).unwrap()).unwrap();
        let out = Command::new(bin("gitsign"))
            .arg("verify-bundle")
            .arg("--bundle")
            .arg(&path)
            .args(["--certificate-identity", identity, "--certificate-oidc-issuer", &self.issuer])
            .arg("--trusted-root")
            .arg(root)
            .arg(artifact)
            .env_remove("GITSIGN_TRUSTED_ROOT")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    fn expect_ok(&self, bundle: &Value, artifact: &Path) -> String {
        let (code, out) = self.verify_with(bundle, ALICE, artifact, &self.trusted_root);
        assert_eq!(code, 0, "verify-bundle rejected a valid v2 bundle:\n{out}");
        assert!(out.contains("OK: "), "{out}");
        out
    }

    fn expect_fail(&self, what: &str, bundle: &Value, artifact: &Path, reason: &str) {
        self.expect_fail_with(what, bundle, artifact, &self.trusted_root, reason);
    }

    fn expect_fail_with(&self, what: &str, bundle: &Value, artifact: &Path, root: &Path, reason: &str) {
        let (code, out) = self.verify_with(bundle, ALICE, artifact, root);
        assert_eq!(code, 1, "{what}: expected exit 1:\n{out}");
        assert!(out.contains(reason), "{what}: expected {reason:?} in:\n{out}");
        assert!(!out.contains("Some("), "{what}: {out}");
    }
}

fn entry(b: &mut Value) -> &mut Value {
    &mut b["verificationMaterial"]["tlogEntries"][0]
}

fn checkpoint(b: &mut Value) -> &mut Value {
    &mut entry(b)["inclusionProof"]["checkpoint"]["envelope"]
}

/// Rewrite the decoded bytes of a base64 field.
fn edit_b64(v: &mut Value, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = STANDARD.decode(v.as_str().unwrap()).unwrap();
    f(&mut bytes);
    *v = STANDARD.encode(bytes).into();
}

/// Sign (or attest) `file` with sigstore-python to Rekor v2; the bundle as JSON.
fn py_sign(py: &Path, cfg: &Path, token: &str, file: &Path, attest: Option<&Path>) -> Value {
    let bundle = file.with_extension("sigstore.json");
    let mut cmd = Command::new(py);
    cmd.arg("--trust-config").arg(cfg);
    match attest {
        None => cmd.arg("sign"),
        Some(pred) => {
            cmd.arg("attest").arg("--predicate").arg(pred).args(["--predicate-type", "https://slsa.dev/provenance/v1"])
        }
    };
    let out = cmd
        .args(["--rekor-version", "2", "--identity-token", token, "--bundle"])
        .arg(&bundle)
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "sigstore-python failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap()
}

#[test]
fn sigstore_python_rekor_v2_bundles_verify_offline_and_tampering_fails() {
    let py = sigstore_python();
    let sb = Sandbox::start();
    let dir = TempDir::new("rekor-v2-verify");
    // A copy: the sandbox's directory goes away with it.
    let trusted_root = dir.path().join("trusted_root.json");
    std::fs::copy(sb.var("GITSIGN_TRUSTED_ROOT"), &trusted_root).unwrap();
    let tr: Value = serde_json::from_slice(&std::fs::read(&trusted_root).unwrap()).unwrap();
    let sc: Value =
        serde_json::from_slice(&std::fs::read(sb.stack_dir().join("signing_config.json")).unwrap()).unwrap();
    let cfg = dir.path().join("trust-config.json");
    let client = json!({"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                        "trustedRoot": tr, "signingConfig": sc});
    std::fs::write(&cfg, client.to_string()).unwrap();

    let file = dir.path().join("release.tar");
    std::fs::write(&file, b"release contents\n").unwrap();
    let other = dir.path().join("other.tar");
    std::fs::write(&other, b"other contents\n").unwrap();
    let token = sb.token(ALICE);
    let bundle = py_sign(&py, &cfg, &token, &file, None);
    let other_bundle = py_sign(&py, &cfg, &token, &other, None);
    let pred = dir.path().join("predicate.json");
    std::fs::write(
        &pred,
        json!({"buildDefinition": {"buildType": "https://example.com/build", "externalParameters": {}},
               "runDetails": {"builder": {"id": "https://example.com/builder"}}})
        .to_string(),
    )
    .unwrap();
    let attested = dir.path().join("attested.tar");
    std::fs::write(&attested, b"attested contents\n").unwrap();
    let dsse = py_sign(&py, &cfg, &token, &attested, Some(&pred));
    // Verified offline: no request reaches the sandbox.
    let ctx = Ctx { dir, trusted_root, issuer: sb.var("GITSIGN_OIDC_ISSUER") };
    drop(sb);

    for b in [&bundle, &dsse] {
        let mut b = b.clone();
        assert_eq!(entry(&mut b)["kindVersion"], json!({"kind": "hashedrekord", "version": "0.0.2"}));
        assert!(entry(&mut b).get("inclusionPromise").is_none(), "a v2 entry has no SET");
    }
    assert!(dsse.get("dsseEnvelope").is_some());

    let out = ctx.expect_ok(&bundle, &file);
    assert!(out.contains("verified signing time 20"), "{out}");
    ctx.expect_ok(&dsse, &attested);
    ctx.expect_ok(&other_bundle, &other);

    // Another file, another identity.
    ctx.expect_fail("another file", &bundle, &other, "another artifact");
    ctx.expect_fail("another file (DSSE)", &dsse, &other, "another artifact");
    let (code, out) = ctx.verify_with(&bundle, "mallory@example.test", &file, &ctx.trusted_root);
    assert_eq!(code, 1, "another identity: {out}");
    assert!(out.contains("does not match"), "{out}");

    // A forged checkpoint signature (the log's line; its last signature byte).
    let mut b = bundle.clone();
    let note = checkpoint(&mut b).as_str().unwrap().to_string();
    let (text, sigs) = note.split_once("\n\n").unwrap();
    let forged: Vec<String> = sigs
        .lines()
        .map(|l| {
            let (name, sig) = l.rsplit_once(' ').unwrap();
            let mut raw = STANDARD.decode(sig).unwrap();
            let n = raw.len() - 1;
            raw[n] ^= 1;
            format!("{name} {}", STANDARD.encode(raw))
        })
        .collect();
    *checkpoint(&mut b) = format!("{text}\n\n{}\n", forged.join("\n")).into();
    ctx.expect_fail("forged checkpoint signature", &b, &file, "checkpoint signature does not verify");

    // A witness cosignature line before the log's is ignored; alone it is not enough.
    let mut b = bundle.clone();
    let witness = format!("\u{2014} witness.example {}", STANDARD.encode([7u8; 72]));
    *checkpoint(&mut b) = format!("{text}\n\n{witness}\n{sigs}").into();
    ctx.expect_ok(&b, &file);
    *checkpoint(&mut b) = format!("{text}\n\n{witness}\n").into();
    ctx.expect_fail("only a witness line", &b, &file, "no signature by the log key");

    // Another origin (the note's first line).
    let mut b = bundle.clone();
    let (origin, rest) = note.split_once('\n').unwrap();
    *checkpoint(&mut b) = format!("{origin}x\n{rest}").into();
    ctx.expect_fail("wrong origin", &b, &file, "not for the trusted log");

    // A proof for another tree: another root, another size.
    let mut b = bundle.clone();
    edit_b64(&mut entry(&mut b)["inclusionProof"]["rootHash"], |r| r[0] ^= 1);
    ctx.expect_fail("another root", &b, &file, "inclusion proof does not lead");
    let mut b = bundle.clone();
    let size: u64 = entry(&mut b)["inclusionProof"]["treeSize"].as_str().unwrap().parse().unwrap();
    entry(&mut b)["inclusionProof"]["treeSize"] = (size + 1).to_string().into();
    ctx.expect_fail("another size", &b, &file, "inclusion proof");
    // The other bundle's (valid) proof and checkpoint, for another leaf.
    let mut b = bundle.clone();
    let mut o = other_bundle.clone();
    entry(&mut b)["inclusionProof"] = entry(&mut o)["inclusionProof"].clone();
    ctx.expect_fail("another entry's proof", &b, &file, "inclusion proof");

    // A logged body that does not record this artifact (a digest edited in the body).
    let mut b = bundle.clone();
    let mut body: Value =
        serde_json::from_slice(&STANDARD.decode(entry(&mut b)["canonicalizedBody"].as_str().unwrap()).unwrap())
            .unwrap();
    edit_b64(&mut body["spec"]["hashedRekordV002"]["data"]["digest"], |d| d[0] ^= 1);
    entry(&mut b)["canonicalizedBody"] = STANDARD.encode(serde_json::to_vec(&body).unwrap()).into();
    ctx.expect_fail("body for another artifact", &b, &file, "it records the digest");
    // The other bundle's whole entry (logged, proven, but for another artifact and signature).
    let mut b = bundle.clone();
    entry(&mut b).clone_from(entry(&mut o));
    ctx.expect_fail("another artifact's entry", &b, &file, "does not record this signature");

    // Timestamps: over another signature, from an untrusted TSA, none.
    let mut b = bundle.clone();
    b["verificationMaterial"]["timestampVerificationData"] =
        other_bundle["verificationMaterial"]["timestampVerificationData"].clone();
    ctx.expect_fail("timestamp over another signature", &b, &file, "message imprint does not match");
    let mut untrusted = tr.clone();
    untrusted["timestampAuthorities"][0]["certChain"] = tr["certificateAuthorities"][0]["certChain"].clone();
    let untrusted_path = ctx.dir.path().join("untrusted-tsa-root.json");
    std::fs::write(&untrusted_path, untrusted.to_string()).unwrap();
    ctx.expect_fail_with("untrusted TSA", &bundle, &file, &untrusted_path, "timestamp authority is not trusted");
    let mut b = bundle.clone();
    b["verificationMaterial"].as_object_mut().unwrap().remove("timestampVerificationData");
    ctx.expect_fail("no timestamp", &b, &file, "no RFC 3161 timestamp");
    let mut b = dsse.clone();
    b["verificationMaterial"].as_object_mut().unwrap().remove("timestampVerificationData");
    ctx.expect_fail("no timestamp (DSSE)", &b, &attested, "no RFC 3161 timestamp");

    // The v2 log's key retired before the signature's (timestamped) time.
    let mut retired = tr.clone();
    for l in retired["tlogs"].as_array_mut().unwrap() {
        if l["publicKey"]["keyDetails"] == "PKIX_ED25519" {
            l["publicKey"]["validFor"] = json!({"start": "2020-01-01T00:00:00Z", "end": "2021-01-01T00:00:00Z"});
        }
    }
    let retired_path = ctx.dir.path().join("retired-v2-root.json");
    std::fs::write(&retired_path, retired.to_string()).unwrap();
    ctx.expect_fail_with("log key retired", &bundle, &file, &retired_path, "outside the validity window");

    // The v2 log unknown to the trusted root.
    let mut no_v2 = tr.clone();
    let logs: Vec<Value> = no_v2["tlogs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["publicKey"]["keyDetails"] != "PKIX_ED25519")
        .cloned()
        .collect();
    no_v2["tlogs"] = logs.into();
    let no_v2_path = ctx.dir.path().join("no-v2-root.json");
    std::fs::write(&no_v2_path, no_v2.to_string()).unwrap();
    ctx.expect_fail_with("log not trusted", &bundle, &file, &no_v2_path, "not in the trusted root");
}
