//! An RFC 3161 timestamp authority: `POST /api/v1/timestamp` with a DER TimeStampReq
//! (`application/timestamp-query`) answers a DER TimeStampResp (`application/timestamp-reply`).
//!
//! Keys and certificates are created once per state directory: a P-384 TSA root
//! (`O=gitsign-sandbox, CN=sandbox-tsa-root`) and a P-256 signing leaf
//! (`O=gitsign-sandbox, CN=sandbox-tsa`, critical ExtendedKeyUsage timeStamping). The token is
//! a CMS SignedData (version 3) over a TSTInfo (version 1) with the signed attributes
//! contentType, messageDigest and signingCertificateV2 (ESSCertIDv2 with the leaf's SHA-256),
//! signed ECDSA P-256 / SHA-256; it carries the leaf and the root when `certReq` is TRUE.

use crate::ca::{self, bit_string_bits, key_id, serial, sign_cert, tbs};
use crate::derw::{self, *};
use crate::error::Error;
use crate::http::{Req, Resp};
use crate::{keys, util};
use std::path::Path;

pub(crate) const PATH: &str = "/api/v1/timestamp";
pub(crate) const ROOT_CN: &str = "sandbox-tsa-root";
pub(crate) const LEAF_CN: &str = "sandbox-tsa";
/// PEM chain (leaf, then root) for `GITSIGN_TIMESTAMP_CERT_CHAIN`.
pub(crate) const CHAIN_FILE: &str = "tsa-chain.pem";
const ROOT_KEY_FILE: &str = "tsa-root-key.pem";
const LEAF_KEY_FILE: &str = "tsa-key.pem";
const ROOT_FILE: &str = "tsa-root.pem";
const LEAF_FILE: &str = "tsa.pem";

const OID_CN: &str = "2.5.4.3";
const OID_O: &str = "2.5.4.10";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SIGNING_CERT_V2: &str = "1.2.840.113549.1.9.16.2.47";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";
/// The sandbox's TSA policy (an arc under the Sigstore PEN, unused by real Sigstore).
pub(crate) const POLICY: &str = "1.3.6.1.4.1.57264.99.1";

/// PKIFailureInfo bits (RFC 3161 §2.4.2).
const FAIL_BAD_ALG: u8 = 0;
const FAIL_BAD_DATA_FORMAT: u8 = 5;

pub(crate) struct Tsa {
    key: p256::ecdsa::SigningKey,
    pub leaf_der: Vec<u8>,
    pub root_der: Vec<u8>,
    leaf_serial: Vec<u8>,
    leaf_issuer: Vec<u8>,
}

fn root_name() -> Vec<u8> {
    name(&[(OID_O, ca::ORG), (OID_CN, ROOT_CN)])
}

fn leaf_name() -> Vec<u8> {
    name(&[(OID_O, ca::ORG), (OID_CN, LEAF_CN)])
}

fn certs(root: &p384::ecdsa::SigningKey, leaf: &p256::ecdsa::SigningKey, start: i64) -> (Vec<u8>, Vec<u8>) {
    let root_spki = keys::p384_spki_der(root.verifying_key());
    let leaf_spki = keys::p256_spki_der(leaf.verifying_key());
    let (root_ski, leaf_ski) = (key_id(&root_spki), key_id(&leaf_spki));
    let end = start + 10 * 365 * 86400;
    let root_tbs = tbs(
        serial(),
        &root_name(),
        start,
        end,
        &root_name(),
        &root_spki,
        &[
            extension("2.5.29.15", true, &bit_string_bits(0x06, 1)),
            extension("2.5.29.19", true, &seq(&[boolean(true), small_int(0)])),
            extension("2.5.29.14", false, &octet_string(&root_ski)),
        ],
    );
    let leaf_tbs = tbs(
        serial(),
        &root_name(),
        start,
        end,
        &leaf_name(),
        &leaf_spki,
        &[
            extension("2.5.29.15", true, &bit_string_bits(0x80, 7)),
            extension("2.5.29.37", true, &seq(&[oid(OID_TIME_STAMPING)])),
            extension("2.5.29.14", false, &octet_string(&leaf_ski)),
            extension("2.5.29.35", false, &seq(&[implicit_prim(0, &root_ski)])),
        ],
    );
    (sign_cert(&root_tbs, root), sign_cert(&leaf_tbs, root))
}

/// The serial number and issuer Name of a certificate we made (tbs: `[0]` version, serial, alg, issuer).
fn serial_and_issuer(cert: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let c = read_tlv(cert)?;
    let tbs = read_tlv(c.content)?;
    let version = read_tlv(tbs.content)?;
    let rest = &tbs.content[version.whole.len()..];
    let serial = read_tlv(rest)?;
    let rest = &rest[serial.whole.len()..];
    let alg = read_tlv(rest)?;
    let issuer = read_tlv(&rest[alg.whole.len()..])?;
    Some((serial.whole.to_vec(), issuer.whole.to_vec()))
}

impl Tsa {
    /// Load the TSA from `dir`, creating its keys and certificates on first use.
    pub(crate) fn load_or_create(dir: &Path, start: i64) -> Result<Tsa, Error> {
        let (root_key, new_root) = keys::load_or_create_p384(&dir.join(ROOT_KEY_FILE))?;
        let (key, new_leaf) = keys::load_or_create_p256(&dir.join(LEAF_KEY_FILE))?;
        let (root_path, leaf_path) = (dir.join(ROOT_FILE), dir.join(LEAF_FILE));
        if new_root || new_leaf || !root_path.exists() || !leaf_path.exists() {
            let (r, l) = certs(&root_key, &key, start);
            std::fs::write(&root_path, util::pem_encode("CERTIFICATE", &r))?;
            std::fs::write(&leaf_path, util::pem_encode("CERTIFICATE", &l))?;
        }
        let root_der = ca::read_pem_cert(&root_path)?;
        let leaf_der = ca::read_pem_cert(&leaf_path)?;
        let chain =
            format!("{}{}", util::pem_encode("CERTIFICATE", &leaf_der), util::pem_encode("CERTIFICATE", &root_der));
        std::fs::write(dir.join(CHAIN_FILE), chain)?;
        let (leaf_serial, leaf_issuer) = serial_and_issuer(&leaf_der)
            .ok_or_else(|| Error::State(format!("{}: malformed certificate", leaf_path.display())))?;
        Ok(Tsa { key, leaf_der, root_der, leaf_serial, leaf_issuer })
    }

    pub(crate) fn handle(&self, req: &Req) -> Resp {
        if req.method != "POST" {
            return Resp::error(405, "use POST with a DER TimeStampReq");
        }
        let ct = req.header("content-type").unwrap_or("");
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/timestamp-query") {
            return Resp::error(415, "Content-Type must be application/timestamp-query");
        }
        let body = match parse_request(&req.body) {
            Ok(r) => self.respond(&r, util::now_unix()),
            Err(fail_bit) => rejection(fail_bit),
        };
        Resp::text(200, "application/timestamp-reply", body)
    }

    /// A granted TimeStampResp for `r` at `now`.
    fn respond(&self, r: &TsReq, now: i64) -> Vec<u8> {
        let mut tst =
            vec![small_int(1), oid(POLICY), r.imprint.clone(), uint(&util::random_bytes(16)), generalized_time(now)];
        if let Some(n) = &r.nonce {
            tst.push(n.clone());
        }
        // tsa [0] GeneralName: the signer's subject (directoryName [4]), as verifiers such as
        // `openssl ts -verify` compare it with the signing certificate.
        tst.push(explicit(0, &explicit(4, &leaf_name())));
        let tst_info = seq(&tst);

        let leaf_hash = util::sha256(&self.leaf_der);
        let issuer_serial = seq(&[seq(&[explicit(4, &self.leaf_issuer)]), self.leaf_serial.clone()]);
        let ess = seq(&[seq(&[seq(&[octet_string(&leaf_hash), issuer_serial])])]);
        let mut attrs = vec![
            seq(&[oid(OID_CONTENT_TYPE), set(&[oid(OID_TST_INFO)])]),
            seq(&[oid(OID_MESSAGE_DIGEST), set(&[octet_string(&util::sha256(&tst_info))])]),
            seq(&[oid(OID_SIGNING_CERT_V2), set(&[ess])]),
        ];
        attrs.sort(); // DER SET OF order
        let signed_attrs = set(&attrs);
        let signature = keys::sign_p256_der(&self.key, &signed_attrs);
        let mut signed_attrs_implicit = signed_attrs.clone();
        signed_attrs_implicit[0] = 0xa0;

        let signer_info = seq(&[
            small_int(1),
            seq(&[self.leaf_issuer.clone(), self.leaf_serial.clone()]),
            alg_id(OID_SHA256),
            signed_attrs_implicit,
            alg_id(OID_ECDSA_SHA256),
            octet_string(&signature),
        ]);
        let mut sd = vec![
            small_int(3),
            set(&[alg_id(OID_SHA256)]),
            seq(&[oid(OID_TST_INFO), explicit(0, &octet_string(&tst_info))]),
        ];
        if r.cert_req {
            let mut c = [self.leaf_der.clone(), self.root_der.clone()];
            c.sort();
            sd.push(tlv(0xa0, &c.concat()));
        }
        sd.push(set(&[signer_info]));
        let token = seq(&[oid(OID_SIGNED_DATA), explicit(0, &seq(&sd))]);
        seq(&[seq(&[small_int(0)]), token])
    }
}

/// GeneralizedTime `YYYYMMDDHHMMSSZ` (RFC 3161 requires GeneralizedTime for genTime).
pub(crate) fn generalized_time(unix: i64) -> Vec<u8> {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let s = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    tlv(0x18, s.as_bytes())
}

/// A rejection TimeStampResp: status rejection (2) with one PKIFailureInfo bit.
fn rejection(fail_bit: u8) -> Vec<u8> {
    // BIT STRING, named bits: minimal encoding with the unused trailing bits counted.
    let byte_index = (fail_bit / 8) as usize;
    let mut bits = vec![0u8; byte_index + 1];
    bits[byte_index] = 0x80 >> (fail_bit % 8);
    let unused = 7 - (fail_bit % 8);
    let mut content = vec![unused];
    content.extend(bits);
    seq(&[seq(&[small_int(2), seq(&[utf8("request rejected")]), tlv(0x03, &content)])])
}

/// The parts of a TimeStampReq the response needs (DER TLVs, echoed as received).
struct TsReq {
    imprint: Vec<u8>,
    nonce: Option<Vec<u8>>,
    cert_req: bool,
}

/// Parse a TimeStampReq; `Err` carries the PKIFailureInfo bit for the rejection.
fn parse_request(der: &[u8]) -> Result<TsReq, u8> {
    let bad = FAIL_BAD_DATA_FORMAT;
    let outer = read_tlv(der).filter(|t| t.whole.len() == der.len() && t.whole[0] == 0x30).ok_or(bad)?;
    let mut rest = outer.content;
    let mut next = || -> Option<derw::Tlv<'_>> {
        let t = read_tlv(rest)?;
        rest = &rest[t.whole.len()..];
        Some(t)
    };
    let version = next().ok_or(bad)?;
    if version.whole != [0x02, 0x01, 0x01] {
        return Err(bad);
    }
    let imprint = next().filter(|t| t.whole[0] == 0x30).ok_or(bad)?;
    let alg = read_tlv(imprint.content).filter(|t| t.whole[0] == 0x30).ok_or(bad)?;
    let hashed = read_tlv(&imprint.content[alg.whole.len()..]).filter(|t| t.whole[0] == 0x04).ok_or(bad)?;
    let alg_oid = read_tlv(alg.content).filter(|t| t.whole[0] == 0x06).ok_or(bad)?;
    let want_len = [(OID_SHA256, 32), (OID_SHA384, 48), (OID_SHA512, 64)]
        .iter()
        .find(|(o, _)| oid(o) == alg_oid.whole)
        .map(|(_, l)| *l)
        .ok_or(FAIL_BAD_ALG)?;
    if hashed.content.len() != want_len {
        return Err(bad);
    }
    let imprint = imprint.whole.to_vec();
    let (mut nonce, mut cert_req) = (None, false);
    while let Some(t) = next() {
        match t.whole[0] {
            0x06 => {} // reqPolicy: only our policy exists
            0x02 => nonce = Some(t.whole.to_vec()),
            0x01 => cert_req = t.content == [0xff],
            0xa0 => return Err(bad), // extensions: none supported
            _ => return Err(bad),
        }
    }
    Ok(TsReq { imprint, nonce, cert_req })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn tempdir(tag: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!(
            "gitsign-sandbox-tsa-{tag}-{}-{}",
            std::process::id(),
            util::random_token(6)
        ));
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    fn post(tsa: &Tsa, body: &[u8]) -> Resp {
        let req = Req::new("POST", PATH, &[("Content-Type", "application/timestamp-query")], body);
        tsa.handle(&req)
    }

    #[test]
    fn created_once_per_dir() {
        let dir = tempdir("once");
        let a = Tsa::load_or_create(&dir, 1_700_000_000).unwrap();
        let b = Tsa::load_or_create(&dir, 1_800_000_000).unwrap();
        assert_eq!(a.leaf_der, b.leaf_der);
        assert_eq!(a.root_der, b.root_der);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rejects_bad_requests() {
        let dir = tempdir("bad");
        let tsa = Tsa::load_or_create(&dir, util::now_unix() - 300).unwrap();
        let r = post(&tsa, b"\x30\x03\x02\x01\x02");
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "application/timestamp-reply");
        // status rejection (2), failInfo badDataFormat
        assert_eq!(&r.body[..7], &[0x30, r.body[1], 0x30, r.body[3], 0x02, 0x01, 0x02]);
        // unknown hash algorithm: badAlg
        let md5 = seq(&[small_int(1), seq(&[seq(&[oid("1.2.840.113549.2.5")]), octet_string(&[0; 16])])]);
        let r = post(&tsa, &md5);
        assert!(r.body.ends_with(&[0x03, 0x02, 0x07, 0x80]), "{:02x?}", r.body);
        let req = Req::new("POST", PATH, &[("Content-Type", "application/json")], b"{}");
        assert_eq!(tsa.handle(&req).status, 415);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
        Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl")
    }

    /// `openssl ts` parses and verifies the reply (with and without certificates in the token).
    #[test]
    fn openssl_ts_accepts_reply() {
        if Command::new("openssl").arg("version").output().is_err() {
            eprintln!("openssl not installed: skipping");
            return;
        }
        let dir = tempdir("openssl");
        let tsa = Tsa::load_or_create(&dir, util::now_unix() - 300).unwrap();
        std::fs::write(dir.join("data.txt"), b"hello timestamp\n").unwrap();
        for cert_flag in [true, false] {
            let mut q = vec!["ts", "-query", "-data", "data.txt", "-sha256", "-out", "req.tsq"];
            if cert_flag {
                q.push("-cert");
            }
            let out = openssl(&q, &dir);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let r = post(&tsa, &std::fs::read(dir.join("req.tsq")).unwrap());
            assert_eq!(r.status, 200);
            std::fs::write(dir.join("resp.tsr"), &r.body).unwrap();
            let out = openssl(&["ts", "-reply", "-in", "resp.tsr", "-text"], &dir);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            assert!(text.contains("Status: Granted."), "{text}");
            assert!(text.contains(&format!("Policy OID: {POLICY}")), "{text}");
            assert!(text.contains("Nonce: 0x"), "{text}");
            let mut v = vec!["ts", "-verify", "-in", "resp.tsr", "-queryfile", "req.tsq", "-CAfile", ROOT_FILE];
            if !cert_flag {
                v.extend(["-untrusted", LEAF_FILE]);
            }
            let out = openssl(&v, &dir);
            assert!(
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verification: OK"),
                "openssl ts -verify: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // Other data: openssl must reject the same reply.
            std::fs::write(dir.join("other.txt"), b"other\n").unwrap();
            let out = openssl(
                &[
                    "ts",
                    "-verify",
                    "-in",
                    "resp.tsr",
                    "-data",
                    "other.txt",
                    "-CAfile",
                    ROOT_FILE,
                    "-untrusted",
                    LEAF_FILE,
                ],
                &dir,
            );
            assert!(!out.status.success(), "openssl accepted a reply for other data");
        }
        // The chain file verifies with openssl x509 tooling too.
        let out = openssl(&["verify", "-CAfile", ROOT_FILE, "-purpose", "timestampsign", LEAF_FILE], &dir);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
