//! Rekor's canonical hashedrekord v0.0.1 entry body, rebuilt byte for byte from a signature.
//!
//! The body is JSON with sorted keys and no whitespace; the certificate is Rekor's canonical
//! PEM re-encoding (64-column base64 lines, trailing newline), base64-encoded again.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// Rekor's canonical PEM of a DER certificate: `-----BEGIN CERTIFICATE-----\n`, base64 in
/// 64-column lines, `-----END CERTIFICATE-----\n`.
pub fn certificate_pem(cert_der: &[u8]) -> String {
    crate::encoding::armor::pem_block("CERTIFICATE", cert_der)
}

/// A JSON string literal (quotes and escapes); the values used here are ASCII hex and base64,
/// for which this is the identity plus quotes.
fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The canonical hashedrekord v0.0.1 body for a SHA-256 artifact hash (`hash_hex`, lowercase hex),
/// a DER signature and the signer's DER certificate.
pub fn hashedrekord(hash_hex: &str, signature: &[u8], cert_der: &[u8]) -> Vec<u8> {
    let pem_b64 = STANDARD.encode(certificate_pem(cert_der));
    format!(
        concat!(
            r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":{}}}}},"#,
            r#""signature":{{"content":{},"publicKey":{{"content":{}}}}}}}}}"#
        ),
        json_str(hash_hex),
        json_str(&STANDARD.encode(signature)),
        json_str(&pem_b64),
    )
    .into_bytes()
}

/// The body of a gitsign **offline-mode** entry: the artifact is the DER of the CMS signed
/// attributes as a SET (tag 0x31), `signature` the SignerInfo signature, `cert_der` the signer.
pub fn hashedrekord_offline(signed_attrs_set_der: &[u8], signature: &[u8], cert_der: &[u8]) -> Vec<u8> {
    hashedrekord(&hex::encode(Sha256::digest(signed_attrs_set_der)), signature, cert_der)
}

/// The body of a gitsign **online-mode** entry: the artifact is the ASCII object id (40 or 64
/// lowercase hex characters, no newline), `signature` the ECDSA signature over SHA-256(oid).
pub fn hashedrekord_online(object_id_hex: &str, signature: &[u8], cert_der: &[u8]) -> Vec<u8> {
    hashedrekord(&hex::encode(Sha256::digest(object_id_hex.as_bytes())), signature, cert_der)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<std::path::PathBuf> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/real/examples");
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("rekor0_hashedrekord_body.json").exists())
            .collect();
        v.sort();
        v
    }

    fn pem_to_der(pem: &str) -> Vec<u8> {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(b64).unwrap()
    }

    #[test]
    fn real_bodies_byte_exact() {
        let ex = examples();
        assert!(ex.len() >= 2, "expected the offline examples under ../shared");
        for dir in ex {
            let attrs = std::fs::read(dir.join("signed_attrs.der")).unwrap();
            // signature.der is the whole CMS; the SignerInfo signature is info.json's signature_hex.
            let info: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("info.json")).unwrap()).unwrap();
            let sig = hex::decode(info["signature_hex"].as_str().unwrap()).unwrap();
            let cert = pem_to_der(&std::fs::read_to_string(dir.join("cert0.pem")).unwrap());
            let want = std::fs::read(dir.join("rekor0_hashedrekord_body.json")).unwrap();
            let got = hashedrekord_offline(&attrs, &sig, &cert);
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want), "{}", dir.display());
        }
    }

    #[test]
    fn pem_layout() {
        let pem = certificate_pem(&[0u8; 100]);
        let lines: Vec<_> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 136 - 128);
        assert_eq!(lines[4], "-----END CERTIFICATE-----");
        assert!(pem.ends_with("-----\n"));
        // exact multiple of 64 columns: no empty line
        assert_eq!(certificate_pem(&[0u8; 48]).lines().count(), 3);
    }

    #[test]
    fn online_body_hashes_the_oid() {
        let b = hashedrekord_online("3616021d86975c23e52a456a7dc5605fe130ed14", b"sig", b"cert");
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v["spec"]["data"]["hash"]["value"],
            hex::encode(Sha256::digest(b"3616021d86975c23e52a456a7dc5605fe130ed14"))
        );
        assert_eq!(v["spec"]["signature"]["content"], STANDARD.encode(b"sig"));
        assert_eq!(v["kind"], "hashedrekord");
    }
}
