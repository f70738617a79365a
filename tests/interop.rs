//! Independent verifiers check our formats: sigstore-python verifies a Sigstore bundle made
//! from one of our signatures (made against the local stack), and gpgsm-style status lines
//! are what git parses (see e2e.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::{Repo, Sandbox, TempDir, bin};
use std::path::PathBuf;

/// The pinned sigstore-python CLI (test.sh installs sigstore==4.5.1 into target/peers/venv).
fn sigstore_python() -> PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/peers/venv/bin/sigstore");
    assert!(p.exists(), "{} missing: run ./test.sh, which installs the pinned sigstore-python", p.display());
    p
}

/// A sigstore-python ClientTrustConfig built from the sandbox's trusted_root.json.
fn client_trust_config(sb: &Sandbox) -> serde_json::Value {
    let tr: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sb.var("GITSIGN_TRUSTED_ROOT")).unwrap()).unwrap();
    let fulcio = sb.var("GITSIGN_FULCIO_URL");
    let rekor = sb.var("GITSIGN_REKOR_URL");
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let valid = serde_json::json!({"start": "2020-01-01T00:00:00Z"});
    serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": tr,
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [{"url": fulcio, "majorApiVersion": 1, "validFor": valid, "operator": "sandbox"}],
            "oidcUrls": [{"url": issuer, "majorApiVersion": 1, "validFor": valid, "operator": "sandbox"}],
            "rekorTlogUrls": [{"url": rekor, "majorApiVersion": 1, "validFor": valid, "operator": "sandbox"}],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"}
        }
    })
}

#[test]
fn sigstore_python_verifies_a_bundle_of_our_signature() {
    let py = sigstore_python();
    let sb = Sandbox::start();
    let repo = Repo::new(&sb, "alice@example.test");
    repo.signed_commit("a.txt", "x\n", "checked by sigstore-python");
    let dir = TempDir::new("bundle");
    let bundle = dir.path().join("commit.sigstore.json");
    let artifact = dir.path().join("signed_attrs.der");
    let out = repo
        .cmd(&bin("gitsign"))
        .args(["export-bundle", "HEAD", "-o"])
        .arg(&bundle)
        .arg("--artifact")
        .arg(&artifact)
        .output()
        .unwrap();
    assert!(out.status.success(), "export-bundle: {}", String::from_utf8_lossy(&out.stderr));
    let trust = dir.path().join("trust.json");
    std::fs::write(&trust, serde_json::to_vec_pretty(&client_trust_config(&sb)).unwrap()).unwrap();
    let verify = |identity: &str, issuer: &str| {
        std::process::Command::new(&py)
            .arg("--trust-config")
            .arg(&trust)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(&bundle)
            .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
            .arg(&artifact)
            .output()
            .unwrap()
    };
    let issuer = sb.var("GITSIGN_OIDC_ISSUER");
    let ok = verify("alice@example.test", &issuer);
    assert!(
        ok.status.success(),
        "sigstore-python rejected our bundle:\n{}\n{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stderr).contains("OK") || String::from_utf8_lossy(&ok.stdout).contains("OK"));
    let wrong = verify("mallory@example.test", &issuer);
    assert!(!wrong.status.success(), "sigstore-python accepted the wrong identity");
}
