//! `serve --trust-issuer URL`: Fulcio accepts RS256 ID tokens from an external OIDC
//! issuer. The issuer here is a tiny fake served by `testsupport::server::FakeServer` inside
//! the test (discovery + JWKS with an RSA key), like npm oidc-provider on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{DerSignature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use rsa::rand_core::{Infallible, TryCryptoRng, TryRng};
use rsa::signature::SignatureEncoding;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::Sha256;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use testsupport::http::Response;
use testsupport::server::{FakeServer, Reply};

mod common;
use common::{BIN, Sandbox, new_key as new_p256};
use testsupport::TempDir;

const EMAIL: &str = "external-user@example.test";

/// A JSON request (the sandbox answers with Content-Length).
fn http(method: &str, url: &str, body: &[u8]) -> Response {
    testsupport::http::http(method, url, &[("Content-Type", "application/json")], body)
}

// ---------------------------------------------------------------- RSA and tokens

struct OsRng;

impl TryRng for OsRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        getrandom::fill(dst).expect("getrandom");
        Ok(())
    }
}

impl TryCryptoRng for OsRng {}

fn rsa_key() -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA key generation")
}

fn b64url(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn rsa_jwk(key: &rsa::RsaPrivateKey, kid: &str) -> Value {
    json!({
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
        "n": b64url(&key.n().to_be_bytes()),
        "e": b64url(&key.e().to_be_bytes()),
    })
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// An ID token as oidc-provider would issue it, RS256.
fn rs256_token(key: &rsa::RsaPrivateKey, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let sk = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
    let sig = rsa::signature::Signer::sign(&sk, input.as_bytes());
    format!("{input}.{}", b64url(&sig.to_vec()))
}

fn claims(iss: &str, email: &str) -> Value {
    let t = now();
    json!({
        "iss": iss, "sub": "user-1234", "aud": "sigstore",
        "email": email, "email_verified": true,
        "iat": t, "nbf": t, "exp": t + 600, "auth_time": t,
    })
}

// ---------------------------------------------------------------- fake issuer

/// A fake OIDC issuer on loopback: discovery (Content-Length) and JWKS (chunked).
struct FakeIssuer {
    url: String,
    discovery_hits: Arc<AtomicUsize>,
    jwks_hits: Arc<AtomicUsize>,
}

impl FakeIssuer {
    fn start(jwks: Value) -> FakeIssuer {
        let discovery_hits = Arc::new(AtomicUsize::new(0));
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let base = Arc::new(OnceLock::<String>::new());
        let (d, j, b) = (Arc::clone(&discovery_hits), Arc::clone(&jwks_hits), Arc::clone(&base));
        let jwks = jwks.to_string();
        let answer = |status: u16, body: String| {
            let mut r = Response::new(status, body);
            r.headers = vec![("Content-Type".into(), "application/json; charset=utf-8".into())];
            r
        };
        let server = FakeServer::start(move |req| {
            let base = b.get().map(String::as_str).unwrap_or_default();
            match (req.method.as_str(), req.path.as_str()) {
                ("GET", "/.well-known/openid-configuration") => {
                    d.fetch_add(1, Ordering::SeqCst);
                    let doc = json!({
                        "issuer": base,
                        "authorization_endpoint": format!("{base}/auth"),
                        "token_endpoint": format!("{base}/token"),
                        "jwks_uri": format!("{base}/jwks"),
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    });
                    Reply::Http(answer(200, doc.to_string()))
                }
                ("GET", "/jwks") => {
                    j.fetch_add(1, Ordering::SeqCst);
                    Reply::Chunked(answer(200, jwks.clone()))
                }
                _ => Reply::Http(answer(404, "{\"error\":\"not found\"}".to_string())),
            }
        });
        let _ = base.set(server.url.clone());
        FakeIssuer { url: server.url, discovery_hits, jwks_hits }
    }
}

// ---------------------------------------------------------------- Fulcio

fn fulcio_v2(base: &str, tok: &str, k: &SigningKey, subject: &str) -> Response {
    let spki = k.verifying_key().to_public_key_der().unwrap();
    let pop: DerSignature = k.sign(subject.as_bytes());
    let body = json!({
        "credentials": {"oidcIdentityToken": tok},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": STANDARD.encode(spki.as_bytes())},
            "proofOfPossession": STANDARD.encode(pop.as_bytes()),
        },
    });
    http("POST", &format!("{base}/api/v2/signingCert"), body.to_string().as_bytes())
}

fn pem_der(pem: &str) -> Vec<u8> {
    let b: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    STANDARD.decode(b).unwrap()
}

fn assert_unauthenticated(r: &Response, needle: &str) {
    assert_eq!(r.status, 401, "{}", r.text());
    let v = r.json();
    assert_eq!(v["code"], 16, "gRPC Unauthenticated: {v}");
    let m = v["message"].as_str().unwrap_or("");
    assert!(m.contains(needle), "message {m:?} lacks {needle:?}");
}

// ---------------------------------------------------------------- tests

#[test]
fn certificate_for_a_trusted_issuers_rs256_token() {
    let key = rsa_key();
    let other = rsa_key();
    let issuer = FakeIssuer::start(json!({"keys": [rsa_jwk(&key, "issuer-key-1")]}));
    let d = TempDir::new("trust");
    let sb = Sandbox::start(&d.0, &["--trust-issuer", &issuer.url]);
    let base = sb.base.clone();
    assert!(sb.lines.contains(&format!("trusted_issuer {}", issuer.url)), "{:?}", sb.lines);
    // Keys were fetched at start-up: discovery, then jwks_uri.
    assert_eq!(issuer.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.jwks_hits.load(Ordering::SeqCst), 1);

    // Configuration lists the built-in issuer and the trusted one.
    let conf = http("GET", &format!("{base}/api/v2/configuration"), b"").json();
    let urls: Vec<&str> =
        conf["issuers"].as_array().unwrap().iter().map(|i| i["issuerUrl"].as_str().unwrap()).collect();
    assert_eq!(urls, [format!("{base}/oauth2"), issuer.url.clone()]);
    let info: Value = serde_json::from_str(&std::fs::read_to_string(d.0.join("sandbox.json")).unwrap()).unwrap();
    assert_eq!(info["trusted_issuers"], json!([issuer.url]));

    // A token signed by the trusted issuer: a certificate naming that issuer.
    let k = new_p256();
    let tok = rs256_token(&key, "issuer-key-1", &claims(&issuer.url, EMAIL));
    let r = fulcio_v2(&base, &tok, &k, EMAIL);
    assert_eq!(r.status, 200, "{}", r.text());
    let certs = r.json()["signedCertificateEmbeddedSct"]["chain"]["certificates"].clone();
    let certs = certs.as_array().unwrap();
    assert_eq!(certs.len(), 3);
    {
        use der::{Decode, Encode};
        let leaf = x509_cert::Certificate::from_der(&pem_der(certs[0].as_str().unwrap())).unwrap();
        let exts = leaf.tbs_certificate().extensions().unwrap();
        let ext = |oid: &str| {
            exts.iter()
                .find(|e| e.extn_id.to_string() == oid)
                .unwrap_or_else(|| panic!("no extension {oid}"))
                .extn_value
                .as_bytes()
                .to_vec()
        };
        assert_eq!(ext("1.3.6.1.4.1.57264.1.1"), issuer.url.as_bytes());
        let v2 = ext("1.3.6.1.4.1.57264.1.8");
        let utf8 = der::asn1::Utf8StringRef::from_der(&v2).unwrap();
        assert_eq!(utf8.as_str(), issuer.url);
        let san = ext("2.5.29.17");
        assert!(san.windows(EMAIL.len()).any(|w| w == EMAIL.as_bytes()), "SAN carries the email");
        assert_eq!(
            leaf.tbs_certificate().subject_public_key_info().to_der().unwrap(),
            k.verifying_key().to_public_key_der().unwrap().as_bytes()
        );
    }
    // v1 with a Bearer header works too.
    let k1 = new_p256();
    let spki = k1.verifying_key().to_public_key_der().unwrap();
    let pop: DerSignature = k1.sign(EMAIL.as_bytes());
    let v1 = {
        let body = json!({"publicKey": {"content": STANDARD.encode(spki.as_bytes()), "algorithm": "ecdsa"},
                          "signedEmailAddress": STANDARD.encode(pop.as_bytes())})
        .to_string();
        let bearer = format!("Bearer {tok}");
        testsupport::http::http(
            "POST",
            &format!("{base}/api/v1/signingCert"),
            &[("Authorization", &bearer), ("Content-Type", "application/json")],
            body.as_bytes(),
        )
    };
    assert_eq!(v1.status, 201, "{}", v1.text());

    // A sub-only token: the subject is the sub.
    let mut c = claims(&issuer.url, EMAIL);
    let obj = c.as_object_mut().unwrap();
    obj.remove("email");
    obj.remove("email_verified");
    let sub_tok = rs256_token(&key, "issuer-key-1", &c);
    let r = fulcio_v2(&base, &sub_tok, &new_p256(), "user-1234");
    assert_eq!(r.status, 200, "{}", r.text());

    // Signed by another key under the issuer's kid: bad signature.
    let forged = rs256_token(&other, "issuer-key-1", &claims(&issuer.url, EMAIL));
    assert_unauthenticated(&fulcio_v2(&base, &forged, &k, EMAIL), "signature");
    // Signed by another key with an unknown kid: one JWKS refresh at most per 30 s, and
    // the key is still unknown.
    let unknown = rs256_token(&other, "rotated-key", &claims(&issuer.url, EMAIL));
    assert_unauthenticated(&fulcio_v2(&base, &unknown, &k, EMAIL), "kid");
    assert_unauthenticated(&fulcio_v2(&base, &unknown, &k, EMAIL), "kid");
    assert!(issuer.jwks_hits.load(Ordering::SeqCst) <= 2);
    // The issuer's key, but an issuer that is not trusted.
    let untrusted = rs256_token(&key, "issuer-key-1", &claims("http://127.0.0.1:1", EMAIL));
    assert_unauthenticated(&fulcio_v2(&base, &untrusted, &k, EMAIL), "trusted");
    // The same claim checks as for the built-in issuer.
    let mut c = claims(&issuer.url, EMAIL);
    c["aud"] = json!("other");
    let wrong_aud = rs256_token(&key, "issuer-key-1", &c);
    assert_unauthenticated(&fulcio_v2(&base, &wrong_aud, &k, EMAIL), "audience");
    let mut c = claims(&issuer.url, EMAIL);
    c["exp"] = json!(now() - 10);
    let expired = rs256_token(&key, "issuer-key-1", &c);
    assert_unauthenticated(&fulcio_v2(&base, &expired, &k, EMAIL), "expired");
    let mut c = claims(&issuer.url, EMAIL);
    c["email_verified"] = json!(false);
    let unverified = rs256_token(&key, "issuer-key-1", &c);
    assert_unauthenticated(&fulcio_v2(&base, &unverified, &k, EMAIL), "email_verified");
    // Proof of possession must sign the token's subject.
    assert_eq!(fulcio_v2(&base, &tok, &k, "someone@else.test").status, 400);
    // The built-in issuer still works alongside.
    let own = Command::new(BIN).args(["token", "--dir"]).arg(&d.0).output().unwrap();
    assert!(own.status.success());
    let own = String::from_utf8(own.stdout).unwrap();
    let r = fulcio_v2(&base, own.trim(), &k, "sandbox-user@example.test");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn bad_trust_issuer_urls_fail_at_start_up() {
    let d = TempDir::new("trust-bad");
    let run = |url: &str| {
        let o = Command::new(BIN)
            .args(["serve", "--dir"])
            .arg(&d.0)
            .args(["--addr", "127.0.0.1:0", "--trust-issuer", url])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (rc, err) = run("https://127.0.0.1:8443");
    assert_eq!(rc, Some(2), "{err}");
    assert!(err.contains("https"), "{err}");
    let (rc, err) = run("http://accounts.example.com");
    assert_eq!(rc, Some(2), "{err}");
    assert!(err.contains("loopback"), "{err}");

    // Discovery names another issuer (a trailing slash is a different identifier).
    let key = rsa_key();
    let issuer = FakeIssuer::start(json!({"keys": [rsa_jwk(&key, "k")]}));
    let (rc, err) = run(&format!("{}/", issuer.url));
    assert_eq!(rc, Some(1), "{err}");
    assert!(err.contains("must be equal exactly"), "{err}");

    // serve --help documents the option.
    let o = Command::new(BIN).args(["serve", "--help"]).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("--trust-issuer URL"));
}

#[test]
fn issuer_not_up_yet_is_fetched_when_a_token_arrives() {
    // Reserve a port, start the sandbox trusting it while nothing listens there.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let url = format!("http://{addr}");
    let d = TempDir::new("trust-late");
    let sb = Sandbox::start(&d.0, &["--trust-issuer", &url]);
    let key = rsa_key();
    let k = new_p256();
    let tok = rs256_token(&key, "late", &claims(&url, EMAIL));
    // Still down: 401 naming the issuer's keys.
    assert_unauthenticated(&fulcio_v2(&sb.base, &tok, &k, EMAIL), "unavailable");
    // Bring the issuer up on that port (retry: the port may be briefly unavailable).
    let l = (0..50)
        .find_map(|_| {
            TcpListener::bind(addr).ok().or_else(|| {
                std::thread::sleep(std::time::Duration::from_millis(100));
                None
            })
        })
        .expect("rebind the issuer port");
    let jwks = json!({"keys": [rsa_jwk(&key, "late")]}).to_string();
    let base = url.clone();
    FakeServer::on(l, move |req| match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/.well-known/openid-configuration") => {
            Reply::Http(Response::new(200, json!({"issuer": base, "jwks_uri": format!("{base}/jwks")}).to_string()))
        }
        ("GET", "/jwks") => Reply::Http(Response::new(200, jwks.clone())),
        _ => Reply::Http(Response::new(404, "{}")),
    });
    // Retries while the issuer has never answered are spaced by a few seconds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = fulcio_v2(&sb.base, &tok, &k, EMAIL);
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 401, "{}", r.text());
        assert!(std::time::Instant::now() < deadline, "{}", r.text());
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}
