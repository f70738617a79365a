//! The certificate authority: P-384 root → P-384 intermediate → short-lived leaves
//! shaped like public Fulcio's (§4.4), with an embedded precertificate SCT.

use crate::derw::{self, *};
use crate::error::Error;
use crate::{keys, sct, util};
use std::path::Path;

pub(crate) const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_CN: &str = "2.5.4.3";
const OID_O: &str = "2.5.4.10";
const OID_KU: &str = "2.5.29.15";
const OID_EKU: &str = "2.5.29.37";
const OID_BC: &str = "2.5.29.19";
const OID_SKI: &str = "2.5.29.14";
const OID_AKI: &str = "2.5.29.35";
const OID_SAN: &str = "2.5.29.17";
const OID_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
pub(crate) const OID_ISSUER_V1: &str = "1.3.6.1.4.1.57264.1.1";
pub(crate) const OID_ISSUER_V2: &str = "1.3.6.1.4.1.57264.1.8";
pub(crate) const OID_SCT_LIST: &str = "1.3.6.1.4.1.11129.2.4.2";

pub(crate) const ROOT_CN: &str = "sandbox-root";
pub(crate) const INTERMEDIATE_CN: &str = "sandbox-intermediate";
pub(crate) const ORG: &str = "gitsign-sandbox";

/// Leaf validity, as public Fulcio.
pub(crate) const LEAF_LIFETIME: i64 = 600;

/// Subject alternative name of a leaf.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum San {
    Email(String),
    Uri(String),
}

pub(crate) struct Ca {
    inter_key: p384::ecdsa::SigningKey,
    ct_key: p256::ecdsa::SigningKey,
    pub root_der: Vec<u8>,
    pub inter_der: Vec<u8>,
    inter_spki: Vec<u8>,
    inter_ski: Vec<u8>,
}

pub(crate) fn key_id(spki: &[u8]) -> Vec<u8> {
    // RFC 7093 §2 method 1 style: leftmost 160 bits of a SHA-256 over the key.
    util::sha256(spki)[..20].to_vec()
}

pub(crate) fn serial() -> Vec<u8> {
    let mut s = util::random_bytes(20);
    s[0] &= 0x7f;
    if s[0] == 0 {
        s[0] = 1;
    }
    derw::uint(&s)
}

pub(crate) fn sign_cert(tbs: &[u8], key: &p384::ecdsa::SigningKey) -> Vec<u8> {
    let sig = keys::sign_p384_der(key, tbs);
    seq(&[tbs.to_vec(), alg_id(OID_ECDSA_SHA384), bit_string(&sig)])
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn tbs(
    serial: Vec<u8>,
    issuer: &[u8],
    not_before: i64,
    not_after: i64,
    subject: &[u8],
    spki: &[u8],
    exts: &[Vec<u8>],
) -> Vec<u8> {
    seq(&[
        explicit(0, &small_int(2)),
        serial,
        alg_id(OID_ECDSA_SHA384),
        issuer.to_vec(),
        seq(&[time(not_before), time(not_after)]),
        subject.to_vec(),
        spki.to_vec(),
        explicit(3, &seq(exts)),
    ])
}

pub(crate) fn root_name() -> Vec<u8> {
    name(&[(OID_O, ORG), (OID_CN, ROOT_CN)])
}

pub(crate) fn intermediate_name() -> Vec<u8> {
    name(&[(OID_O, ORG), (OID_CN, INTERMEDIATE_CN)])
}

fn ca_certs(root: &p384::ecdsa::SigningKey, inter: &p384::ecdsa::SigningKey, start: i64) -> (Vec<u8>, Vec<u8>) {
    let root_spki = keys::p384_spki_der(root.verifying_key());
    let inter_spki = keys::p384_spki_der(inter.verifying_key());
    let root_ski = key_id(&root_spki);
    let inter_ski = key_id(&inter_spki);
    let end = start + 10 * 365 * 86400;
    let ku_ca = bit_string_bits(0x06, 1);
    let root_tbs = tbs(
        serial(),
        &root_name(),
        start,
        end,
        &root_name(),
        &root_spki,
        &[
            extension(OID_KU, true, &ku_ca),
            extension(OID_BC, true, &seq(&[boolean(true), small_int(1)])),
            extension(OID_SKI, false, &octet_string(&root_ski)),
            extension(OID_AKI, false, &seq(&[implicit_prim(0, &root_ski)])),
        ],
    );
    let root_der = sign_cert(&root_tbs, root);
    let inter_tbs = tbs(
        serial(),
        &root_name(),
        start,
        end,
        &intermediate_name(),
        &inter_spki,
        &[
            extension(OID_KU, true, &ku_ca),
            extension(OID_EKU, false, &seq(&[oid(OID_CODE_SIGNING)])),
            extension(OID_BC, true, &seq(&[boolean(true), small_int(0)])),
            extension(OID_SKI, false, &octet_string(&inter_ski)),
            extension(OID_AKI, false, &seq(&[implicit_prim(0, &root_ski)])),
        ],
    );
    let inter_der = sign_cert(&inter_tbs, root);
    (root_der, inter_der)
}

/// BIT STRING with `unused` trailing bits in a one-byte value.
pub(crate) fn bit_string_bits(byte: u8, unused: u8) -> Vec<u8> {
    tlv(0x03, &[unused, byte])
}

pub(crate) fn read_pem_cert(path: &Path) -> Result<Vec<u8>, Error> {
    let text = std::fs::read_to_string(path)?;
    util::pem_decode_all(&text)
        .into_iter()
        .next()
        .map(|(_, d)| d)
        .ok_or_else(|| Error::State(format!("{}: no certificate", path.display())))
}

impl Ca {
    /// Load the CA from `dir`, creating keys and certificates on first use.
    /// `start` is the notBefore used for newly created CA certificates.
    pub(crate) fn load_or_create(dir: &Path, ct_key: p256::ecdsa::SigningKey, start: i64) -> Result<Ca, Error> {
        let (root_key, new_root) = keys::load_or_create_p384(&dir.join("root-key.pem"))?;
        let (inter_key, new_inter) = keys::load_or_create_p384(&dir.join("intermediate-key.pem"))?;
        let root_path = dir.join("root.pem");
        let inter_path = dir.join("intermediate.pem");
        if new_root || new_inter || !root_path.exists() || !inter_path.exists() {
            let (r, i) = ca_certs(&root_key, &inter_key, start);
            std::fs::write(&root_path, util::pem_encode("CERTIFICATE", &r))?;
            std::fs::write(&inter_path, util::pem_encode("CERTIFICATE", &i))?;
        }
        let root_der = read_pem_cert(&root_path)?;
        let inter_der = read_pem_cert(&inter_path)?;
        let inter_spki = keys::p384_spki_der(inter_key.verifying_key());
        let inter_ski = key_id(&inter_spki);
        Ok(Ca { inter_key, ct_key, root_der, inter_der, inter_spki, inter_ski })
    }

    #[cfg(test)]
    pub(crate) fn ct_key(&self) -> &p256::ecdsa::SigningKey {
        &self.ct_key
    }

    /// Issue a leaf for `spki` (DER SubjectPublicKeyInfo, already validated).
    pub(crate) fn issue_leaf(&self, spki: &[u8], san: &San, issuer_url: &str) -> Vec<u8> {
        let now = util::now_unix();
        let san_value = match san {
            San::Email(e) => seq(&[implicit_prim(1, e.as_bytes())]),
            San::Uri(u) => seq(&[implicit_prim(6, u.as_bytes())]),
        };
        let mut exts = vec![
            extension(OID_KU, true, &bit_string_bits(0x80, 7)),
            extension(OID_EKU, false, &seq(&[oid(OID_CODE_SIGNING)])),
            extension(OID_SKI, false, &octet_string(&key_id(spki))),
            extension(OID_AKI, false, &seq(&[implicit_prim(0, &self.inter_ski)])),
            extension(OID_SAN, true, &san_value),
            extension(OID_ISSUER_V1, false, issuer_url.as_bytes()),
            extension(OID_ISSUER_V2, false, &utf8(issuer_url)),
        ];
        let serial = serial();
        let subject = seq(&[]);
        let issuer = intermediate_name();
        let precert = tbs(serial.clone(), &issuer, now, now + LEAF_LIFETIME, &subject, spki, &exts);
        let list = sct::make_list(&self.ct_key, &self.inter_spki, &precert);
        exts.push(extension(OID_SCT_LIST, false, &octet_string(&list)));
        let final_tbs = tbs(serial, &issuer, now, now + LEAF_LIFETIME, &subject, spki, &exts);
        sign_cert(&final_tbs, &self.inter_key)
    }

    /// PEM chain leaf → intermediate → root.
    pub(crate) fn chain_pems(&self, leaf: &[u8]) -> Vec<String> {
        vec![
            util::pem_encode("CERTIFICATE", leaf),
            util::pem_encode("CERTIFICATE", &self.inter_der),
            util::pem_encode("CERTIFICATE", &self.root_der),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Encode};
    use x509_cert::Certificate;

    fn test_ca() -> (tempdir::Dir, Ca) {
        let d = tempdir::Dir::new();
        let ca = Ca::load_or_create(&d.0, keys::gen_p256(), util::now_unix() - 60).unwrap();
        (d, ca)
    }

    mod tempdir {
        pub(super) struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub(super) fn new() -> Dir {
                let p = std::env::temp_dir().join(format!("sandbox-ca-{}", crate::util::random_token(8)));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn ext<'a>(c: &'a Certificate, o: &str) -> Option<&'a x509_cert::ext::Extension> {
        let o = const_oid::ObjectIdentifier::new(o).unwrap();
        c.tbs_certificate().extensions()?.iter().find(|e| e.extn_id == o)
    }

    #[test]
    fn leaf_structure_and_sct() {
        let (_d, ca) = test_ca();
        let leaf_key = keys::gen_p256();
        let spki = keys::p256_spki_der(leaf_key.verifying_key());
        let der = ca.issue_leaf(&spki, &San::Email("alice@example.test".into()), "http://127.0.0.1:1/oauth2");
        let cert = Certificate::from_der(&der).unwrap();
        let tbs = cert.tbs_certificate();
        assert_eq!(tbs.subject().to_der().unwrap(), vec![0x30, 0]);
        assert_eq!(tbs.issuer().to_der().unwrap(), intermediate_name());
        assert_eq!(tbs.subject_public_key_info().to_der().unwrap(), spki);
        let v = tbs.validity();
        let nb = v.not_before.to_unix_duration().as_secs();
        let na = v.not_after.to_unix_duration().as_secs();
        assert_eq!(na - nb, 600);
        assert!(ext(&cert, OID_SAN).unwrap().critical);
        assert!(ext(&cert, OID_KU).unwrap().critical);
        assert_eq!(ext(&cert, OID_ISSUER_V1).unwrap().extn_value.as_bytes(), b"http://127.0.0.1:1/oauth2");
        assert_eq!(ext(&cert, OID_ISSUER_V2).unwrap().extn_value.as_bytes()[0], 0x0c);
        // Serial: positive, at most 20 bytes.
        assert!(tbs.serial_number().as_bytes().len() <= 20);

        // SCT: rebuild the precertificate TBS by removing the SCT extension and verify.
        let sct_ext = ext(&cert, OID_SCT_LIST).unwrap();
        let inner = der::asn1::OctetString::from_der(sct_ext.extn_value.as_bytes()).unwrap();
        let scts = sct::parse_list(inner.as_bytes()).unwrap();
        assert_eq!(scts.len(), 1);
        let ct_spki = keys::p256_spki_der(ca.ct_key().verifying_key());
        assert_eq!(scts[0].log_id, util::sha256(&ct_spki));
        let tbs_der = tbs.to_der().unwrap();
        let sct_ext_der = sct_ext.to_der().unwrap();
        let precert = remove_extension(&tbs_der, &sct_ext_der);
        let signed = sct::signed_data(scts[0].timestamp_ms, &util::sha256(&ca.inter_spki), &precert);
        assert!(keys::verify_p256_der(ca.ct_key().verifying_key(), &signed, &scts[0].signature));

        // Leaf signature verifies under the intermediate key.
        use p384::ecdsa::signature::Verifier;
        let inter = Certificate::from_der(&ca.inter_der).unwrap();
        let ik = p384::ecdsa::VerifyingKey::from_sec1_bytes(
            inter.tbs_certificate().subject_public_key_info().subject_public_key.raw_bytes(),
        )
        .unwrap();
        let sig = p384::ecdsa::Signature::from_der(cert.signature().raw_bytes()).unwrap();
        ik.verify(&tbs_der, &sig).unwrap();
    }

    /// Remove one encoded extension from a TBS, fixing the enclosing lengths.
    fn remove_extension(tbs: &[u8], ext: &[u8]) -> Vec<u8> {
        // Re-encode through x509-cert: drop the extension and serialize again.
        let mut c = x509_cert::TbsCertificate::from_der(tbs).unwrap().to_der().unwrap();
        let pos = c.windows(ext.len()).position(|w| w == ext).unwrap();
        c.drain(pos..pos + ext.len());
        // Fix lengths: outer SEQ, [3], and the extensions SEQ. Rebuild by parsing our own layout.
        let (outer_hdr, outer_body) = split_tlv(&c);
        let _ = outer_hdr;
        let mut parts = Vec::new();
        let mut rest = outer_body;
        while !rest.is_empty() {
            let (t, r) = next_tlv(rest);
            parts.push(t.to_vec());
            rest = r;
        }
        let last = parts.pop().unwrap(); // [3] extensions, with stale lengths
        let exts_seq = &last[hdr_len(&last)..];
        let exts_body = &exts_seq[hdr_len(exts_seq)..];
        parts.push(explicit(3, &tlv(0x30, exts_body)));
        seq(&parts)
    }

    fn hdr_len(b: &[u8]) -> usize {
        if b[1] < 0x80 { 2 } else { 2 + (b[1] & 0x7f) as usize }
    }

    fn tlv_len(b: &[u8]) -> usize {
        let h = hdr_len(b);
        let l = if b[1] < 0x80 { b[1] as usize } else { b[2..h].iter().fold(0usize, |a, x| (a << 8) | *x as usize) };
        h + l
    }

    fn split_tlv(b: &[u8]) -> (&[u8], &[u8]) {
        let h = hdr_len(b);
        (&b[..h], &b[h..])
    }

    fn next_tlv(b: &[u8]) -> (&[u8], &[u8]) {
        // The last element may have stale (too long) lengths after removal: clamp.
        let l = tlv_len(b).min(b.len());
        (&b[..l], &b[l..])
    }

    #[test]
    fn ca_persists() {
        let d = tempdir::Dir::new();
        let a = Ca::load_or_create(&d.0, keys::gen_p256(), 1_700_000_000).unwrap();
        let b = Ca::load_or_create(&d.0, keys::gen_p256(), 1_800_000_000).unwrap();
        assert_eq!(a.root_der, b.root_der);
        assert_eq!(a.inter_der, b.inter_der);
        let root = Certificate::from_der(&a.root_der).unwrap();
        assert_eq!(root.tbs_certificate().subject(), root.tbs_certificate().issuer());
    }
}
