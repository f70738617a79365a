//! The Fulcio client against the local stack: the v2 API, the legacy v1 API gitsign uses, and
//! refusals with clear messages.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is how a test reports
mod common;
use common::Sandbox;
use ecdsa::signature::Signer;
use gitsign::services::fulcio::{FulcioClient, FulcioError};
use spki::EncodePublicKey;

fn client(sb: &Sandbox) -> FulcioClient {
    let http = gitsign::services::http::client(&Default::default()).unwrap();
    FulcioClient::new(&sb.var("GITSIGN_FULCIO_URL"), http)
}

#[test]
fn v1_and_v2_issue_a_certificate_for_our_key() {
    let sb = Sandbox::start();
    let token = sb.token("carol@example.test");
    let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    let spki = key.verifying_key().to_public_key_der().unwrap();
    let proof: p256::ecdsa::DerSignature = key.sign(b"carol@example.test");
    let c = client(&sb);
    for (api, chain) in [
        ("v2", c.signing_cert_v2(&token, spki.as_bytes(), proof.as_bytes()).unwrap()),
        ("v1", c.signing_cert_v1(&token, spki.as_bytes(), proof.as_bytes()).unwrap()),
    ] {
        let info = gitsign::crypto::x509::CertInfo::parse(&chain.leaf).unwrap();
        assert_eq!(info.spki_der, spki.as_bytes(), "{api}: certificate for another key");
        assert_eq!(info.identity(), Some("carol@example.test"), "{api}");
        assert_eq!(info.not_after - info.not_before, 600, "{api}: 10-minute certificate");
        assert_eq!(chain.chain.len(), 2, "{api}: intermediate and root follow the leaf");
    }
}

#[test]
fn refusals_are_explained() {
    let sb = Sandbox::start();
    let token = sb.token("carol@example.test");
    let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
    let spki = key.verifying_key().to_public_key_der().unwrap();
    // proof over the wrong subject
    let bad_proof: p256::ecdsa::DerSignature = key.sign(b"mallory@example.test");
    let err = client(&sb).signing_cert(&token, spki.as_bytes(), bad_proof.as_bytes()).unwrap_err();
    assert!(matches!(err, FulcioError::Refused { status: 400, .. }), "{err}");
    // a token that is not from the trusted issuer
    let proof: p256::ecdsa::DerSignature = key.sign(b"carol@example.test");
    let forged = format!("{}.c2ln", token.rsplit_once('.').unwrap().0);
    let err = client(&sb).signing_cert(&forged, spki.as_bytes(), proof.as_bytes()).unwrap_err();
    assert!(matches!(err, FulcioError::Refused { status: 401, .. }), "{err}");
    assert!(err.to_string().contains("refused to issue a certificate"), "{err}");
    // nothing listening
    let http = gitsign::services::http::client(&Default::default()).unwrap();
    let err = FulcioClient::new("http://127.0.0.1:9", http)
        .signing_cert(&token, spki.as_bytes(), proof.as_bytes())
        .unwrap_err();
    assert!(matches!(err, FulcioError::Unreachable { .. }), "{err}");
}
