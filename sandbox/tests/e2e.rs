//! End-to-end tests: start the `gitsign-sandbox` binary and talk to it over HTTP.
//! Everything checked here is re-derived independently from the wire formats
//! (Merkle proofs, SET, checkpoint, chain), not by calling the sandbox's code.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

mod common;
use common::{BIN, Sandbox, new_key};
use testsupport::TempDir;
use testsupport::http::{Response, http};
use testsupport::merkle::{leaf_hash, proof_root, sha256};

const EMAIL: &str = "sandbox-user@example.test";

fn get(url: &str) -> Response {
    http("GET", url, &[], b"")
}

fn post_json(url: &str, v: &Value, bearer: Option<&str>) -> Response {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let mut h = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        h.push(("Authorization", a.as_str()));
    }
    http("POST", url, &h, v.to_string().as_bytes())
}

fn post_form(url: &str, pairs: &[(&str, &str)]) -> Response {
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    http("POST", url, &[("Content-Type", "application/x-www-form-urlencoded")], body.join("&").as_bytes())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn token(dir: &Path, extra: &[&str]) -> String {
    let d = dir.to_str().unwrap();
    let mut args = vec!["token", "--dir", d];
    args.extend_from_slice(extra);
    let (rc, out, err) = cli(&args);
    assert_eq!(rc, 0, "token failed: {err}");
    assert_eq!(out.lines().count(), 1);
    out.trim().to_string()
}

fn b64(b: &[u8]) -> String {
    STANDARD.encode(b)
}

fn unb64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).unwrap()
}

fn spki_der(k: &SigningKey) -> Vec<u8> {
    k.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec()
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = b64(der);
    let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn pem_blocks(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for l in text.lines() {
        if l.starts_with("-----BEGIN") {
            cur = Some(String::new());
        } else if l.starts_with("-----END") {
            out.push(unb64(&cur.take().unwrap()));
        } else if let Some(c) = cur.as_mut() {
            c.push_str(l.trim());
        }
    }
    out
}

fn pop(k: &SigningKey, subject: &str) -> String {
    let s: DerSignature = k.sign(subject.as_bytes());
    b64(s.as_bytes())
}

fn fulcio_v1(base: &str, tok: &str, k: &SigningKey, subject: &str) -> Response {
    post_json(
        &format!("{base}/api/v1/signingCert"),
        &json!({"publicKey": {"content": b64(&spki_der(k)), "algorithm": "ecdsa"}, "signedEmailAddress": pop(k, subject), "certificateSigningRequest": null}),
        Some(tok),
    )
}

// ------------------------------------------------ independent verification

struct Trust {
    rekor_key: VerifyingKey,
    rekor_log_id: Vec<u8>,
    ct_log_id: Vec<u8>,
    chain: Vec<Vec<u8>>,
}

fn read_trust(dir: &Path) -> (Value, Trust) {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("trusted_root.json")).unwrap()).unwrap();
    assert_eq!(v["mediaType"], "application/vnd.dev.sigstore.trustedroot+json;version=0.1");
    let t = &v["tlogs"][0];
    assert_eq!(t["hashAlgorithm"], "SHA2_256");
    assert_eq!(t["publicKey"]["keyDetails"], "PKIX_ECDSA_P256_SHA_256");
    assert!(t["publicKey"]["validFor"]["start"].as_str().unwrap().ends_with('Z'));
    let raw = unb64(t["publicKey"]["rawBytes"].as_str().unwrap());
    let rekor_log_id = unb64(t["logId"]["keyId"].as_str().unwrap());
    assert_eq!(rekor_log_id, sha256(&raw));
    let ct = &v["ctlogs"][0];
    let ct_raw = unb64(ct["publicKey"]["rawBytes"].as_str().unwrap());
    let ct_log_id = unb64(ct["logId"]["keyId"].as_str().unwrap());
    assert_eq!(ct_log_id, sha256(&ct_raw));
    let ca = &v["certificateAuthorities"][0];
    assert_eq!(ca["subject"]["organization"], "gitsign-sandbox");
    let chain: Vec<Vec<u8>> = ca["certChain"]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| unb64(c["rawBytes"].as_str().unwrap()))
        .collect();
    assert_eq!(chain.len(), 2);
    let tsa = &v["timestampAuthorities"][0];
    assert_eq!(tsa["subject"]["organization"], "gitsign-sandbox");
    assert!(tsa["uri"].as_str().unwrap().ends_with("/api/v1/timestamp"));
    assert_eq!(tsa["certChain"]["certificates"].as_array().unwrap().len(), 2);
    assert!(tsa["validFor"]["start"].is_string());
    let rekor_key = VerifyingKey::from_public_key_der(&raw).unwrap();
    (v.clone(), Trust { rekor_key, rekor_log_id, ct_log_id, chain })
}

fn canonical_body(hash_hex: &str, sig_b64: &str, cert_der: &[u8]) -> Vec<u8> {
    // §5.6, spelled out byte for byte.
    format!(
        "{{\"apiVersion\":\"0.0.1\",\"kind\":\"hashedrekord\",\"spec\":{{\"data\":{{\"hash\":{{\"algorithm\":\"sha256\",\"value\":\"{hash_hex}\"}}}},\"signature\":{{\"content\":\"{sig_b64}\",\"publicKey\":{{\"content\":\"{}\"}}}}}}}}",
        b64(pem("CERTIFICATE", cert_der).as_bytes())
    )
    .into_bytes()
}

/// Check one entry object {uuid: {...}} fully; returns (uuid, logIndex, treeSize).
fn check_entry(resp: &Value, trust: &Trust, expect_body: &[u8]) -> (String, u64, u64) {
    let obj = resp.as_object().unwrap();
    assert_eq!(obj.len(), 1);
    let (uuid, e) = obj.iter().next().unwrap();
    assert_eq!(uuid.len(), 80);
    let body = unb64(e["body"].as_str().unwrap());
    assert_eq!(body, expect_body, "canonical body bytes");
    let leaf = leaf_hash(&body);
    assert_eq!(&uuid[16..], hex::encode(leaf));
    let log_id = e["logID"].as_str().unwrap();
    assert_eq!(hex::decode(log_id).unwrap(), trust.rekor_log_id);
    let index = e["logIndex"].as_u64().unwrap();
    let itime = e["integratedTime"].as_i64().unwrap();
    // SET.
    let payload = format!(
        "{{\"body\":\"{}\",\"integratedTime\":{itime},\"logID\":\"{log_id}\",\"logIndex\":{index}}}",
        e["body"].as_str().unwrap()
    );
    let set = Signature::from_der(&unb64(e["verification"]["signedEntryTimestamp"].as_str().unwrap())).unwrap();
    trust.rekor_key.verify(payload.as_bytes(), &set).expect("SET verifies");
    // Inclusion proof.
    let p = &e["verification"]["inclusionProof"];
    let pidx = p["logIndex"].as_u64().unwrap();
    let size = p["treeSize"].as_u64().unwrap();
    let hashes: Vec<[u8; 32]> = p["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex::decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect();
    let root = proof_root(pidx, size, leaf, &hashes).expect("proof shape");
    assert_eq!(hex::encode(root), p["rootHash"].as_str().unwrap());
    // Checkpoint.
    let cp = p["checkpoint"].as_str().unwrap();
    let (text, sigline) = cp.split_once("\n\n").unwrap();
    let text = format!("{text}\n");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("gitsign-sandbox - "));
    assert_eq!(&uuid[..16], format!("{:016x}", lines[0]["gitsign-sandbox - ".len()..].parse::<u64>().unwrap()));
    assert_eq!(lines[1].parse::<u64>().unwrap(), size);
    assert_eq!(unb64(lines[2]), root);
    let sigline = sigline.strip_suffix('\n').unwrap();
    let rest = sigline.strip_prefix("\u{2014} gitsign-sandbox ").expect("em dash signature line");
    let raw = unb64(rest);
    assert_eq!(&raw[..4], &trust.rekor_log_id[..4]);
    let sig = Signature::from_der(&raw[4..]).unwrap();
    trust.rekor_key.verify(text.as_bytes(), &sig).expect("checkpoint signature");
    (uuid.clone(), index, size)
}

fn openssl_available() -> bool {
    Command::new("openssl").arg("version").output().map(|o| o.status.success()).unwrap_or(false)
}

fn upload(base: &str, cert_der: &[u8], k: &SigningKey, data: &[u8]) -> (Response, Vec<u8>) {
    let digest = sha256(data);
    let sig: DerSignature = k.sign(data);
    let hash_hex = hex::encode(digest);
    let req = json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "signature": {"content": b64(sig.as_bytes()), "publicKey": {"content": b64(pem("CERTIFICATE", cert_der).as_bytes())}},
        "data": {"hash": {"algorithm": "sha256", "value": hash_hex}}}});
    let r = post_json(&format!("{base}/api/v1/log/entries"), &req, None);
    (r, canonical_body(&hash_hex, &b64(sig.as_bytes()), cert_der))
}

// ------------------------------------------------------------------- tests

#[test]
fn env_before_start_fails_clearly() {
    let d = TempDir::new("env");
    let t = std::time::Instant::now();
    let (rc, out, err) = cli(&["env", "--dir", d.0.to_str().unwrap(), "--wait", "0.5"]);
    assert!(t.elapsed() < std::time::Duration::from_secs(5), "the wait is bounded by --wait");
    assert_eq!(rc, 1);
    assert!(out.is_empty());
    assert!(err.contains("no running sandbox in") && err.contains("sandbox.json not found"), "{err}");
    assert!(err.contains("serve --dir"), "{err}");
    let (rc, out, _) = cli(&["token", "--dir", d.0.to_str().unwrap(), "--wait", "0"]);
    assert_eq!(rc, 1);
    assert!(out.is_empty());
    let (rc, _, err) = cli(&["env", "--dir", d.0.to_str().unwrap(), "--wait", "soon"]);
    assert_eq!(rc, 2, "{err}");
}

#[test]
fn env_and_token_never_take_a_stopped_run_for_a_live_one() {
    let d = TempDir::new("stale");
    let dir = d.0.to_str().unwrap();
    let sb = Sandbox::start(&d.0, &[]);
    let base = sb.base.clone();
    let (rc, out, _) = cli(&["env", "--dir", dir]);
    assert_eq!(rc, 0);
    assert!(out.contains(&base));
    sb.kill();
    // sandbox.json stays behind (kill -9), naming a dead address: not a sandbox.
    assert!(std::fs::read_to_string(d.0.join("sandbox.json")).unwrap().contains(&base));
    for cmd in ["env", "token"] {
        let (rc, out, err) = cli(&[cmd, "--dir", dir, "--wait", "0.5"]);
        assert_eq!(rc, 1, "{cmd}: {out}");
        assert!(out.is_empty(), "{cmd} printed {out}");
        assert!(err.contains("left from a run that has stopped") && err.contains(&base), "{cmd}: {err}");
    }
    // A new run in the same directory removes the stale file before anything else, and `env`
    // started at the same moment waits for it.
    let mut serve =
        Command::new(BIN).args(["serve", "--dir", dir]).stdout(std::process::Stdio::null()).spawn().unwrap();
    let (rc, out, err) = cli(&["env", "--dir", dir]);
    let info: Value = serde_json::from_str(&std::fs::read_to_string(d.0.join("sandbox.json")).unwrap()).unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(rc, 0, "{err}");
    assert_eq!(info["pid"], json!(serve.id()));
    let new_base = info["base_url"].as_str().unwrap();
    assert!(out.contains(&format!("export GITSIGN_FULCIO_URL='{new_base}'")), "{out}");
}

#[test]
fn oidc_flows() {
    let d = TempDir::new("oidc");
    let sb = Sandbox::start(&d.0, &[]);
    let base = &sb.base;
    let disc = get(&format!("{base}/oauth2/.well-known/openid-configuration"));
    assert_eq!(disc.status, 200);
    let disc = disc.json();
    let issuer = format!("{base}/oauth2");
    assert_eq!(disc["issuer"], issuer);
    assert_eq!(disc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(disc["id_token_signing_alg_values_supported"], json!(["ES256"]));
    let grants = disc["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!("urn:ietf:params:oauth:grant-type:device_code")));

    // JWKS.
    let jwks = get(disc["jwks_uri"].as_str().unwrap()).json();
    let jwk = &jwks["keys"][0];
    assert_eq!(jwk["kty"], "EC");
    assert_eq!(jwk["crv"], "P-256");
    let mut sec1 = vec![4u8];
    sec1.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    sec1.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
    let issuer_key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
    let check_id_token = |t: &str, nonce: Option<&str>| {
        let parts: Vec<&str> = t.split('.').collect();
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], jwk["kid"]);
        let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        issuer_key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).unwrap();
        let c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(c["iss"], issuer);
        assert_eq!(c["aud"], "sigstore");
        assert_eq!(c["email"], EMAIL);
        assert_eq!(c["email_verified"], true);
        assert!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap() >= 600);
        if let Some(n) = nonce {
            assert_eq!(c["nonce"], n);
        }
    };

    // Authorization code + PKCE.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-extra-chars-for-length";
    let challenge = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    let redirect = "http://localhost:43123/auth/callback";
    let auth_url = |redirect: &str, challenge: &str| {
        format!(
            "{}?response_type=code&client_id=sigstore&redirect_uri={}&scope=openid%20email&state=st8&nonce=n0nce&code_challenge={}&code_challenge_method=S256&access_type=online",
            disc["authorization_endpoint"].as_str().unwrap(),
            enc(redirect),
            challenge
        )
    };
    let r = get(&auth_url(redirect, &challenge));
    assert_eq!(r.status, 302);
    let loc = r.header("Location").unwrap().to_string();
    assert!(loc.starts_with(&format!("{redirect}?code=")), "{loc}");
    assert!(loc.ends_with("&state=st8"));
    let code = loc.split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let token_url = disc["token_endpoint"].as_str().unwrap();
    // Wrong verifier fails (and consumes the code).
    let bad = post_form(
        token_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("client_id", "sigstore"),
            ("code_verifier", &"x".repeat(43)),
        ],
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"], "invalid_grant");
    let r = get(&auth_url(redirect, &challenge));
    let code = r.header("Location").unwrap().split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("client_id", "sigstore"),
        ("code_verifier", verifier),
    ];
    let ok = post_form(token_url, &form);
    assert_eq!(ok.status, 200, "{}", ok.text());
    let tj = ok.json();
    assert_eq!(tj["token_type"], "Bearer");
    assert!(tj["access_token"].is_string());
    check_id_token(tj["id_token"].as_str().unwrap(), Some("n0nce"));
    // Single use.
    assert_eq!(post_form(token_url, &form).status, 400);
    // Redirect policy and PKCE requirement.
    assert_eq!(get(&auth_url("https://evil.example/cb", &challenge)).status, 400);
    let no_pkce = get(&auth_url(redirect, ""));
    assert_eq!(no_pkce.status, 302);
    assert!(no_pkce.header("Location").unwrap().contains("error=invalid_request"));
    // OOB shows the code in a page.
    let oob = get(&auth_url("urn:ietf:wg:oauth:2.0:oob", &challenge));
    assert_eq!(oob.status, 200);
    assert!(oob.text().contains("<pre id=\"code\">"));

    // Device flow with PKCE.
    let dev = post_form(
        disc["device_authorization_endpoint"].as_str().unwrap(),
        &[
            ("client_id", "sigstore"),
            ("scope", "openid email"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    assert_eq!(dev.status, 200);
    let dev = dev.json();
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", "sigstore"),
        ("device_code", dev["device_code"].as_str().unwrap()),
        ("code_verifier", verifier),
    ];
    let pending = post_form(token_url, &poll);
    assert_eq!(pending.status, 400);
    assert_eq!(pending.json()["error"], "authorization_pending");
    let page = get(dev["verification_uri_complete"].as_str().unwrap());
    assert_eq!(page.status, 200, "{}", page.text());
    let done = post_form(token_url, &poll);
    assert_eq!(done.status, 200, "{}", done.text());
    check_id_token(done.json()["id_token"].as_str().unwrap(), None);

    // CLI token verifies the same way.
    check_id_token(&token(&d.0, &[]), None);
}

#[test]
fn login_form_mode() {
    let d = TempDir::new("form");
    let sb = Sandbox::start(&d.0, &["--login-form", "--identity", "default@example.test"]);
    let verifier = "a".repeat(50);
    let challenge = URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()));
    let redirect = "http://127.0.0.1:9/cb";
    let q = format!(
        "response_type=code&client_id=sigstore&redirect_uri={}&scope=openid+email&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256",
        enc(redirect)
    );
    let page = get(&format!("{}/oauth2/auth?{q}", sb.base));
    assert_eq!(page.status, 200);
    assert!(page.text().contains("name=\"email\""));
    let mut form: Vec<(String, String)> = q
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_string(), v.replace('+', " ").replace("%3A", ":").replace("%2F", "/"))
        })
        .collect();
    form.push(("email".into(), "carol@example.test".into()));
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = post_form(&format!("{}/oauth2/auth", sb.base), &pairs);
    assert_eq!(r.status, 302, "{}", r.text());
    let code = r.header("Location").unwrap().split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let t = post_form(
        &format!("{}/oauth2/token", sb.base),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", redirect),
            ("client_id", "sigstore"),
            ("code_verifier", &verifier),
        ],
    );
    assert_eq!(t.status, 200);
    let idt = t.json()["id_token"].as_str().unwrap().to_string();
    let c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(idt.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(c["email"], "carol@example.test");

    // Device flow: the verification page asks for the email, POST approves.
    let dev =
        post_form(&format!("{}/oauth2/device/code", sb.base), &[("client_id", "sigstore"), ("scope", "openid email")])
            .json();
    let page = get(dev["verification_uri_complete"].as_str().unwrap());
    assert_eq!(page.status, 200);
    assert!(page.text().contains("name=\"email\""));
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", "sigstore"),
        ("device_code", dev["device_code"].as_str().unwrap()),
    ];
    assert_eq!(post_form(&format!("{}/oauth2/token", sb.base), &poll).json()["error"], "authorization_pending");
    // Polling again at once, inside the 1 s interval, is answered with slow_down (RFC 8628 §3.5).
    let fast = post_form(&format!("{}/oauth2/token", sb.base), &poll);
    assert_eq!(fast.status, 400);
    assert_eq!(fast.json()["error"], "slow_down", "{}", fast.text());
    let ok = post_form(
        &format!("{}/oauth2/device", sb.base),
        &[("user_code", dev["user_code"].as_str().unwrap()), ("email", "dave@example.test")],
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    let t = post_form(&format!("{}/oauth2/token", sb.base), &poll);
    assert_eq!(t.status, 200, "{}", t.text());
    let idt = t.json()["id_token"].as_str().unwrap().to_string();
    let c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(idt.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(c["email"], "dave@example.test");
    // The device code is single use.
    assert_eq!(post_form(&format!("{}/oauth2/token", sb.base), &poll).json()["error"], "invalid_grant");
}

#[test]
fn fulcio_rekor_restart() {
    let d = TempDir::new("main");
    let sb = Sandbox::start(&d.0, &[]);
    let base = sb.base.clone();
    let (tr1, trust) = read_trust(&d.0);
    let info: Value = serde_json::from_str(&std::fs::read_to_string(d.0.join("sandbox.json")).unwrap()).unwrap();
    assert_eq!(info["fulcio_url"], base);
    assert_eq!(info["issuer"], format!("{base}/oauth2"));

    // env.
    let (rc, out, _) = cli(&["env", "--dir", d.0.to_str().unwrap()]);
    assert_eq!(rc, 0);
    assert!(out.contains(&format!("export GITSIGN_FULCIO_URL='{base}'")));
    assert!(out.contains("export GITSIGN_OIDC_CLIENT_ID='sigstore'"));
    assert!(out.contains(&format!("export GITSIGN_OIDC_ISSUER='{base}/oauth2'")));
    assert!(out.contains("trusted_root.json'"));

    // Key files are private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in ["issuer-key.pem", "root-key.pem", "intermediate-key.pem", "ctlog-key.pem", "rekor-key.pem"] {
            let m = std::fs::metadata(d.0.join(f)).unwrap().permissions().mode();
            assert_eq!(m & 0o777, 0o600, "{f}");
        }
    }

    // Fulcio v1.
    let tok = token(&d.0, &[]);
    let k = new_key();
    let r = fulcio_v1(&base, &tok, &k, EMAIL);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/pem-certificate-chain"));
    let chain = pem_blocks(&r.text());
    assert_eq!(chain.len(), 3);
    assert_eq!(chain[1..], trust.chain[..]);
    let leaf = chain[0].clone();
    {
        use der::{Decode, Encode};
        let c = x509_cert::Certificate::from_der(&leaf).unwrap();
        assert_eq!(c.tbs_certificate().subject_public_key_info().to_der().unwrap(), spki_der(&k));
        let exts = c.tbs_certificate().extensions().unwrap();
        let issuer_raw = exts.iter().find(|e| e.extn_id.to_string() == "1.3.6.1.4.1.57264.1.1").unwrap();
        assert_eq!(issuer_raw.extn_value.as_bytes(), format!("{base}/oauth2").as_bytes());
        let sct = exts.iter().find(|e| e.extn_id.to_string() == "1.3.6.1.4.1.11129.2.4.2").unwrap();
        // OCTET STRING { list_len(2) sct_len(2) version(1)=0 log_id(32) ... }
        let inner = sct.extn_value.as_bytes();
        assert_eq!(inner[0], 0x04);
        let tls = &inner[2..];
        assert_eq!(tls[4], 0);
        assert_eq!(&tls[5..37], &trust.ct_log_id[..]);
    }

    // Fulcio v2, token in the body, PEM key.
    let k2 = new_key();
    let r2 = post_json(
        &format!("{base}/api/v2/signingCert"),
        &json!({"credentials": {"oidcIdentityToken": tok},
                "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": pem("PUBLIC KEY", &spki_der(&k2))},
                                     "proofOfPossession": pop(&k2, EMAIL)}}),
        None,
    );
    assert_eq!(r2.status, 200, "{}", r2.text());
    let certs = r2.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"].clone();
    let certs: Vec<Vec<u8>> =
        certs.as_array().unwrap().iter().map(|c| pem_blocks(c.as_str().unwrap()).remove(0)).collect();
    assert_eq!(certs.len(), 3);
    // Other Fulcio endpoints.
    let tb = get(&format!("{base}/api/v2/trustBundle")).json();
    assert_eq!(tb["chains"][0]["certificates"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&format!("{base}/api/v2/configuration")).json()["issuers"][0]["issuerUrl"],
        format!("{base}/oauth2")
    );
    assert_eq!(pem_blocks(&get(&format!("{base}/api/v1/rootCert")).text()).len(), 2);

    // openssl, if present.
    if openssl_available() {
        let p = |n: &str, der: &[u8]| {
            let f = d.0.join(n);
            std::fs::write(&f, pem("CERTIFICATE", der)).unwrap();
            f
        };
        let (lf, inf, rf) = (p("t-leaf.pem", &leaf), p("t-inter.pem", &chain[1]), p("t-root.pem", &chain[2]));
        let o = Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(&lf).output().unwrap();
        assert!(o.status.success());
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("email:sandbox-user@example.test"), "{text}");
        assert!(text.contains("Code Signing"));
        assert!(text.contains("CT Precertificate SCTs"));
        assert!(text.contains("ecdsa-with-SHA384"));
        let o = Command::new("openssl")
            .args(["verify", "-CAfile"])
            .arg(&rf)
            .arg("-untrusted")
            .arg(&inf)
            .arg(&lf)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o =
            Command::new("openssl").args(["verify", "-partial_chain", "-CAfile"]).arg(&inf).arg(&lf).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    // Rekor: several uploads; every response checks out independently.
    let mut uuids = Vec::new();
    for i in 0..7u32 {
        let (r, body) = upload(&base, &leaf, &k, format!("artifact {i}").as_bytes());
        assert_eq!(r.status, 201, "{}", r.text());
        let (uuid, idx, size) = check_entry(&r.json(), &trust, &body);
        assert_eq!(idx, i as u64);
        assert_eq!(size, i as u64 + 1);
        assert_eq!(r.header("Location").unwrap(), format!("/api/v1/log/entries/{uuid}"));
        uuids.push((uuid, body));
    }
    // Entry 2 in a tree of 7 has a 3-hash proof.
    let g = get(&format!("{base}/api/v1/log/entries/{}", uuids[2].0));
    assert_eq!(g.status, 200);
    let gj = g.json();
    assert_eq!(gj[&uuids[2].0]["verification"]["inclusionProof"]["hashes"].as_array().unwrap().len(), 3);
    assert_eq!(check_entry(&gj, &trust, &uuids[2].1).2, 7);
    // 64-hex form, and by index.
    assert_eq!(get(&format!("{base}/api/v1/log/entries/{}", &uuids[3].0[16..])).status, 200);
    assert_eq!(
        get(&format!("{base}/api/v1/log/entries?logIndex=4")).json().as_object().unwrap().keys().next().unwrap(),
        &uuids[4].0
    );
    assert_eq!(get(&format!("{base}/api/v1/log/entries/{}", "0".repeat(64))).status, 404);
    // Duplicate: same signature bytes → 409 with the existing location.
    let existing: Value = serde_json::from_slice(&uuids[0].1).unwrap();
    let dup = post_json(&format!("{base}/api/v1/log/entries"), &existing, None);
    assert_eq!(dup.status, 409, "{}", dup.text());
    assert_eq!(dup.header("Location").unwrap(), format!("/api/v1/log/entries/{}", uuids[0].0));
    // Search.
    let h = hex::encode(sha256(b"artifact 5"));
    let s = post_json(&format!("{base}/api/v1/index/retrieve"), &json!({"hash": format!("sha256:{h}")}), None).json();
    assert_eq!(s, json!([uuids[5].0]));
    let s = post_json(
        &format!("{base}/api/v1/index/retrieve"),
        &json!({"publicKey": {"format": "x509", "content": b64(pem("CERTIFICATE", &leaf).as_bytes())}}),
        None,
    )
    .json();
    assert_eq!(s.as_array().unwrap().len(), 7);
    let s = post_json(
        &format!("{base}/api/v1/index/retrieve"),
        &json!({"publicKey": {"format": "x509", "content": b64(pem("CERTIFICATE", &certs[0]).as_bytes())}}),
        None,
    )
    .json();
    assert_eq!(s, json!([]));
    let s = post_json(&format!("{base}/api/v1/index/retrieve"), &json!({"email": "Sandbox-User@example.test"}), None)
        .json();
    assert_eq!(s.as_array().unwrap().len(), 7);
    let s = post_json(
        &format!("{base}/api/v1/index/retrieve"),
        &json!({"email": EMAIL, "hash": format!("sha256:{h}"), "operator": "and"}),
        None,
    )
    .json();
    assert_eq!(s, json!([uuids[5].0]));
    // Log info and public key.
    let li = get(&format!("{base}/api/v1/log")).json();
    assert_eq!(li["treeSize"], 7);
    let pk = get(&format!("{base}/api/v1/log/publicKey")).text();
    assert_eq!(pem_blocks(&pk)[0], unb64(tr1["tlogs"][0]["publicKey"]["rawBytes"].as_str().unwrap()));

    // A second server on the same directory is refused.
    let o = Command::new(BIN).args(["serve", "--dir"]).arg(&d.0).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already serving"), "{}", String::from_utf8_lossy(&o.stderr));

    // kill -9, restart on the same directory: entries and trust root survive.
    sb.kill();
    let sb2 = Sandbox::start(&d.0, &[]);
    let base2 = sb2.base.clone();
    let (tr2, trust2) = read_trust(&d.0);
    assert_eq!(tr1["tlogs"][0]["publicKey"], tr2["tlogs"][0]["publicKey"]);
    assert_eq!(tr1["ctlogs"][0]["publicKey"], tr2["ctlogs"][0]["publicKey"]);
    assert_eq!(tr1["certificateAuthorities"][0]["certChain"], tr2["certificateAuthorities"][0]["certChain"]);
    assert_eq!(get(&format!("{base2}/api/v1/log")).json()["treeSize"], 7);
    for (uuid, body) in &uuids {
        let g = get(&format!("{base2}/api/v1/log/entries/{uuid}"));
        assert_eq!(g.status, 200);
        assert_eq!(check_entry(&g.json(), &trust2, body).0, *uuid);
    }
    let (r, body) = upload(&base2, &leaf, &k, b"after restart");
    assert_eq!(r.status, 201);
    let (_, idx, size) = check_entry(&r.json(), &trust2, &body);
    assert_eq!((idx, size), (7, 8));
    // A token minted now works with the restarted issuer (new port → new issuer URL).
    let tok2 = token(&d.0, &[]);
    let k3 = new_key();
    assert_eq!(fulcio_v1(&base2, &tok2, &k3, EMAIL).status, 201);
}

#[test]
fn rejections() {
    let d = TempDir::new("reject");
    let sb = Sandbox::start(&d.0, &[]);
    let base = &sb.base;
    read_trust(&d.0);
    let k = new_key();
    let good = token(&d.0, &[]);

    // Bad token signature: payload altered.
    let parts: Vec<&str> = good.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["email"] = json!("mallory@example.test");
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    let r = fulcio_v1(base, &forged, &k, "mallory@example.test");
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["code"], 16, "gRPC Unauthenticated in the body");
    // Signed by an unrelated key.
    let other = new_key();
    let input = format!("{}.{}", parts[0], parts[1]);
    let sig: Signature = other.sign(input.as_bytes());
    let foreign = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()));
    assert_eq!(fulcio_v1(base, &foreign, &k, EMAIL).status, 401);
    // alg none.
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), parts[1]);
    assert_eq!(fulcio_v1(base, &none, &k, EMAIL).status, 401);
    // Expired, wrong audience, unverified email.
    let r = fulcio_v1(base, &token(&d.0, &["--expired"]), &k, EMAIL);
    assert_eq!(r.status, 401);
    assert!(r.json()["message"].as_str().unwrap().contains("expired"));
    let r = fulcio_v1(base, &token(&d.0, &["--aud", "other"]), &k, EMAIL);
    assert_eq!(r.status, 401);
    assert!(r.json()["message"].as_str().unwrap().contains("audience"));
    assert_eq!(fulcio_v1(base, &token(&d.0, &["--no-email-verified"]), &k, EMAIL).status, 401);
    // Missing token.
    let r = post_json(
        &format!("{base}/api/v1/signingCert"),
        &json!({"publicKey": {"content": b64(&spki_der(&k))}, "signedEmailAddress": pop(&k, EMAIL)}),
        None,
    );
    assert_eq!(r.status, 401);
    // Bad PoP: wrong subject, wrong key, garbage.
    assert_eq!(fulcio_v1(base, &good, &k, "someone-else@example.test").status, 400);
    let r = post_json(
        &format!("{base}/api/v1/signingCert"),
        &json!({"publicKey": {"content": b64(&spki_der(&k)), "algorithm": "ecdsa"}, "signedEmailAddress": pop(&other, EMAIL)}),
        Some(&good),
    );
    assert_eq!(r.status, 400);
    let r = post_json(
        &format!("{base}/api/v1/signingCert"),
        &json!({"publicKey": {"content": "bm90IGEga2V5", "algorithm": "ecdsa"}, "signedEmailAddress": "AAAA"}),
        Some(&good),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        http(
            "POST",
            &format!("{base}/api/v1/signingCert"),
            &[("Authorization", &format!("Bearer {good}"))],
            b"{not json"
        )
        .status,
        400
    );
    // A sub-only token: subject is the sub, SAN is a URI.
    let sub_tok = token(&d.0, &["--sub", "https://ci.example.test/workflow"]);
    let r = fulcio_v1(base, &sub_tok, &k, "https://ci.example.test/workflow");
    assert_eq!(r.status, 201, "{}", r.text());

    // Rekor rejections.
    let leaf = pem_blocks(&fulcio_v1(base, &good, &k, EMAIL).text()).remove(0);
    let entries = format!("{base}/api/v1/log/entries");
    let digest = hex::encode(sha256(b"data"));
    let sig_other: DerSignature = other.sign(b"data");
    let sig_ok: DerSignature = k.sign(b"data");
    let mk = |sig: &[u8], hash: &str, key: &str| {
        json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "signature": {"content": b64(sig), "publicKey": {"content": key}},
        "data": {"hash": {"algorithm": "sha256", "value": hash}}}})
    };
    let cert_b64 = b64(pem("CERTIFICATE", &leaf).as_bytes());
    let r = post_json(&entries, &mk(sig_other.as_bytes(), &digest, &cert_b64), None);
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["message"].as_str().unwrap().contains("signature"));
    // Signature over a different hash.
    assert_eq!(
        post_json(&entries, &mk(sig_ok.as_bytes(), &hex::encode(sha256(b"other")), &cert_b64), None).status,
        400
    );
    assert_eq!(post_json(&entries, &mk(sig_ok.as_bytes(), "abc", &cert_b64), None).status, 400);
    assert_eq!(post_json(&entries, &mk(sig_ok.as_bytes(), &digest, "!!!"), None).status, 400);
    assert_eq!(
        post_json(
            &entries,
            &mk(sig_ok.as_bytes(), &digest, &b64(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")),
            None
        )
        .status,
        400
    );
    let mut wrong_kind = mk(sig_ok.as_bytes(), &digest, &cert_b64);
    wrong_kind["kind"] = json!("rekord");
    assert_eq!(post_json(&entries, &wrong_kind, None).status, 400);
    assert_eq!(http("POST", &entries, &[], b"[]").status, 400);
    // Nothing was logged by the rejected requests; the good one still works.
    assert_eq!(get(&format!("{base}/api/v1/log")).json()["treeSize"], 0);
    assert_eq!(post_json(&entries, &mk(sig_ok.as_bytes(), &digest, &cert_b64), None).status, 201);
    // Unknown routes.
    assert_eq!(get(&format!("{base}/nope")).status, 404);
    assert_eq!(get(&format!("{base}/api/v1/log/entries/zz")).status, 404);
}

/// One HTTPS request with a rustls (ring) client trusting only DIR/tls-ca.pem.
fn https(url: &str, ca_pem: &Path, method: &str, body: &[u8]) -> Response {
    use rustls::pki_types::{CertificateDer, ServerName};
    let rest = url.strip_prefix("https://").expect("https URL");
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = hostport.rsplit_once(':').unwrap().0.to_string();
    let mut roots = rustls::RootCertStore::empty();
    for der in pem_blocks(&std::fs::read_to_string(ca_pem).unwrap()) {
        roots.add(CertificateDer::from(der)).unwrap();
    }
    let config =
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), ServerName::try_from(host.clone()).unwrap())
        .unwrap();
    let tcp = TcpStream::connect(hostport).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(req.as_bytes()).unwrap();
    tls.write_all(body).unwrap();
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))).collect();
    Response { status, headers, body: raw[split + 4..].to_vec() }
}

#[test]
fn tls_mode_and_sigterm() {
    let d = TempDir::new("tls");
    let mut sb = Sandbox::start(&d.0, &["--tls"]);
    assert!(sb.base.starts_with("https://127.0.0.1:"));
    let ca = d.0.join("tls-ca.pem");
    assert!(ca.exists());
    let disc = https(&format!("{}/oauth2/.well-known/openid-configuration", sb.base), &ca, "GET", b"").json();
    assert_eq!(disc["issuer"], format!("{}/oauth2", sb.base));
    let localhost = sb.base.replace("127.0.0.1", "localhost");
    assert_eq!(https(&format!("{localhost}/api/v1/log"), &ca, "GET", b"").json()["treeSize"], 0);
    // Fulcio over TLS.
    let tok = token(&d.0, &[]);
    let k = new_key();
    let body = json!({"credentials": {"oidcIdentityToken": tok},
        "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": pem("PUBLIC KEY", &spki_der(&k))}, "proofOfPossession": pop(&k, EMAIL)}});
    let r = https(&format!("{}/api/v2/signingCert", sb.base), &ca, "POST", body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let (rc, out, _) = cli(&["env", "--dir", d.0.to_str().unwrap()]);
    assert_eq!(rc, 0);
    assert!(out.contains("export SSL_CERT_FILE="));

    // SIGTERM → exit status 0.
    let pid = sb.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let start = std::time::Instant::now();
    loop {
        if let Some(st) = sb.child.try_wait().unwrap() {
            assert!(st.success(), "exit status {st:?}");
            break;
        }
        assert!(start.elapsed().as_secs() < 10, "did not stop on SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn concurrent_uploads_keep_the_tree_consistent() {
    let d = TempDir::new("conc");
    let sb = Sandbox::start(&d.0, &[]);
    let (_, trust) = read_trust(&d.0);
    let k = new_key();
    let leaf = pem_blocks(&fulcio_v1(&sb.base, &token(&d.0, &[]), &k, EMAIL).text()).remove(0);
    let base = sb.base.clone();
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let (base, leaf, k) = (base.clone(), leaf.clone(), k.clone());
            std::thread::spawn(move || {
                (0..5)
                    .map(|i| {
                        let (r, body) = upload(&base, &leaf, &k, format!("t{t} i{i}").as_bytes());
                        assert_eq!(r.status, 201, "{}", r.text());
                        (r.json(), body)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut indexes = Vec::new();
    for h in handles {
        for (v, body) in h.join().unwrap() {
            let (_, idx, size) = check_entry(&v, &trust, &body);
            assert!(idx < size);
            indexes.push(idx);
        }
    }
    indexes.sort();
    assert_eq!(indexes, (0..30).collect::<Vec<u64>>());
    assert_eq!(get(&format!("{base}/api/v1/log")).json()["treeSize"], 30);
}

/// The TSA over real HTTP: `openssl ts -query` → POST /api/v1/timestamp → `openssl ts -reply`
/// and `openssl ts -verify` with the chain from trusted_root.json; the key survives a restart.
#[test]
fn timestamp_authority_answers_openssl() {
    if !openssl_available() {
        eprintln!("openssl not installed: skipping");
        return;
    }
    let dir = TempDir::new("tsa");
    let sb = Sandbox::start(&dir.0, &[]);
    let (v, _) = read_trust(&dir.0);
    let tsa = &v["timestampAuthorities"][0];
    let url = tsa["uri"].as_str().unwrap().to_string();
    let certs: Vec<Vec<u8>> = tsa["certChain"]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| unb64(c["rawBytes"].as_str().unwrap()))
        .collect();
    std::fs::write(dir.0.join("root.crt"), pem("CERTIFICATE", &certs[1])).unwrap();
    std::fs::write(dir.0.join("leaf.crt"), pem("CERTIFICATE", &certs[0])).unwrap();
    std::fs::write(dir.0.join("data"), b"payload\n").unwrap();
    let run = |args: &[&str]| Command::new("openssl").args(args).current_dir(&dir.0).output().unwrap();
    let q = run(&["ts", "-query", "-data", "data", "-sha256", "-cert", "-out", "req.tsq"]);
    assert!(q.status.success());
    let query = std::fs::read(dir.0.join("req.tsq")).unwrap();
    let r = http("POST", &url, &[("Content-Type", "application/timestamp-query")], &query);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/timestamp-reply"));
    std::fs::write(dir.0.join("resp.tsr"), &r.body).unwrap();
    let text = run(&["ts", "-reply", "-in", "resp.tsr", "-text"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("Status: Granted."));
    let ok = run(&["ts", "-verify", "-in", "resp.tsr", "-queryfile", "req.tsq", "-CAfile", "root.crt"]);
    assert!(ok.status.success(), "{}{}", String::from_utf8_lossy(&ok.stdout), String::from_utf8_lossy(&ok.stderr));
    // Wrong media type: refused.
    let r = http("POST", &url, &[("Content-Type", "application/json")], b"{}");
    assert_eq!(r.status, 415);
    // Same TSA after a restart (the chain in trusted_root.json does not change).
    sb.kill();
    let _sb = Sandbox::start(&dir.0, &[]);
    let (v2, _) = read_trust(&dir.0);
    assert_eq!(v2["timestampAuthorities"][0]["certChain"], v["timestampAuthorities"][0]["certChain"]);
}
