//! Strict parsing of gitsign's detached CMS SignedData and verification of its signature.
//!
//! The signed attributes are kept exactly as received (only the outer tag is changed from
//! `[0]` to SET for hashing): they are never re-sorted or re-encoded (RFC 5652 §5.4).
use crate::crypto::pubkey::{self, HashAlg, PubkeyError};
use crate::crypto::x509::tlv::{self, Tlv, TlvError};
use crate::encoding::oids;
use const_oid::ObjectIdentifier as Oid;

/// Why a CMS signature could not be parsed or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmsError {
    /// The DER structure is broken.
    #[error("malformed CMS signature ({what}): {source}")]
    Der {
        /// The part being read.
        what: &'static str,
        /// The DER problem.
        #[source]
        source: TlvError,
    },
    /// The outer content type is not id-signedData.
    #[error("the CMS content type is {0}, not signedData")]
    NotSignedData(String),
    /// Unsupported SignedData or SignerInfo version.
    #[error("unsupported CMS {what} version {version}")]
    Version {
        /// `SignedData` or `SignerInfo`.
        what: &'static str,
        /// The version found.
        version: u64,
    },
    /// The encapsulated content type is not id-data.
    #[error("the CMS encapsulated content type is {0}, not id-data")]
    NotData(String),
    /// The number of SignerInfos is not one.
    #[error("the CMS signature has {0} signers; exactly one is supported")]
    SignerCount(usize),
    /// The signer is identified by subject key identifier.
    #[error("the CMS signer is identified by subject key identifier; only issuer and serial number is supported")]
    SubjectKeyIdentifierSid,
    /// The signature carries no certificates (GHSA-7c37).
    #[error("the CMS signature carries no certificates, so the signer is unknown")]
    NoCertificates,
    /// No certificate matches the signer's issuer and serial number.
    #[error("none of the {count} certificates in the signature matches the signer (issuer and serial number {serial})")]
    SignerNotFound {
        /// Certificates present.
        count: usize,
        /// Hex serial of the sid.
        serial: String,
    },
    /// The signed attributes are missing.
    #[error("the CMS signer has no signed attributes")]
    NoSignedAttributes,
    /// A required signed attribute is missing, repeated or malformed.
    #[error("signed attribute {name}: {problem}")]
    Attribute {
        /// Attribute name.
        name: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// A digest algorithm that is not SHA-256/384/512.
    #[error("unsupported digest algorithm {0}")]
    UnsupportedDigest(String),
    /// The SignerInfo digest algorithm is not listed in SignedData.digestAlgorithms.
    #[error("the signer's digest algorithm is not listed in the SignedData digest algorithms")]
    DigestNotListed,
    /// A signature algorithm other than ECDSA (e.g. RSA from smimesign).
    #[error("unsupported signature algorithm {oid} ({name}); only ECDSA (Sigstore) signatures are supported")]
    UnsupportedSignatureAlgorithm {
        /// The OID.
        oid: String,
        /// A readable name.
        name: &'static str,
    },
    /// The signer certificate's key cannot be used.
    #[error("the signer certificate's key is unsupported: {0}")]
    UnsupportedKey(String),
    /// The content digest does not match the signed messageDigest attribute.
    #[error(
        "the signed content does not match the signature (messageDigest differs): the commit or tag was changed after signing"
    )]
    DigestMismatch,
    /// Encapsulated content that differs from the payload.
    #[error("the signature encapsulates content that differs from the signed payload")]
    ContentMismatch,
    /// The ECDSA signature over the signed attributes does not verify.
    #[error("the CMS signature does not verify with the signer's certificate key")]
    BadSignature,
}

fn der(what: &'static str) -> impl FnOnce(TlvError) -> CmsError {
    move |source| CmsError::Der { what, source }
}

/// A parsed detached CMS SignedData with one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSignature {
    /// The signer certificate (found by issuer and serial number), DER.
    pub signer_cert_der: Vec<u8>,
    /// The other certificates carried, in order (never trust anchors).
    pub other_certs_der: Vec<Vec<u8>>,
    /// The signed attributes as received, re-tagged as SET (0x31): what the signature covers and
    /// what offline-mode Rekor entries hash.
    pub signed_attrs_der: Vec<u8>,
    /// The SignerInfo signature bytes (DER ECDSA-Sig-Value).
    pub signature: Vec<u8>,
    /// The digest algorithm applied to the content.
    pub digest_alg: HashAlg,
    /// The hash applied to the signed attributes for the signature.
    pub signature_hash: HashAlg,
    /// The messageDigest attribute value.
    pub message_digest: Vec<u8>,
    /// The signingTime attribute (unix seconds): informative, never trusted.
    pub signing_time: Option<i64>,
    /// Unsigned attributes: OID and each value's DER TLV, uninterpreted.
    pub unsigned_attrs: Vec<(Oid, Vec<Vec<u8>>)>,
    /// Encapsulated content, when the signature is not detached.
    pub encapsulated_content: Option<Vec<u8>>,
    signer_spki_der: Vec<u8>,
}

impl ParsedSignature {
    /// Values of the unsigned attribute with this OID (empty when absent).
    pub fn unsigned_attr(&self, oid: &Oid) -> Vec<&[u8]> {
        self.unsigned_attrs.iter().filter(|(o, _)| o == oid).flat_map(|(_, v)| v.iter().map(Vec::as_slice)).collect()
    }
}

fn digest_from_alg_id(alg: &Tlv<'_>) -> Result<HashAlg, CmsError> {
    let (oid, params) = alg_id(alg, "digestAlgorithm")?;
    if !(params.is_empty() || params == [0x05, 0x00]) {
        return Err(CmsError::Der { what: "digestAlgorithm", source: TlvError::Malformed("parameters") });
    }
    if oid == oids::SHA256 {
        Ok(HashAlg::Sha256)
    } else if oid == oids::SHA384 {
        Ok(HashAlg::Sha384)
    } else if oid == oids::SHA512 {
        Ok(HashAlg::Sha512)
    } else {
        Err(CmsError::UnsupportedDigest(oid.to_string()))
    }
}

fn alg_id<'a>(alg: &Tlv<'a>, what: &'static str) -> Result<(Oid, &'a [u8]), CmsError> {
    if alg.tag != 0x30 {
        return Err(CmsError::Der { what, source: TlvError::UnexpectedTag { expected: 0x30, found: alg.tag } });
    }
    let (o, params) = tlv::read(alg.value).map_err(der(what))?;
    Ok((tlv::oid(&o).map_err(der(what))?, params))
}

fn next<'a>(it: &mut std::slice::Iter<'_, Tlv<'a>>, tag: u8, what: &'static str) -> Result<Tlv<'a>, CmsError> {
    match it.next() {
        Some(t) if t.tag == tag => Ok(*t),
        Some(t) => Err(CmsError::Der { what, source: TlvError::UnexpectedTag { expected: tag, found: t.tag } }),
        None => Err(CmsError::Der { what, source: TlvError::Truncated }),
    }
}

/// Convert indefinite-length (BER) encodings into definite lengths, leaving definite-length
/// elements byte for byte as they were (so certificates and signed attributes keep their bytes).
pub(crate) fn ber_to_definite(input: &[u8], depth: usize) -> Result<(Vec<u8>, usize), TlvError> {
    if depth > 32 {
        return Err(TlvError::Malformed("nesting too deep"));
    }
    let tag = *input.first().ok_or(TlvError::Truncated)?;
    let first = *input.get(1).ok_or(TlvError::Truncated)?;
    if first != 0x80 {
        let (t, _) = tlv::read(input)?;
        if tag & 0x20 == 0 {
            return Ok((t.raw.to_vec(), t.raw.len()));
        }
        let mut content = Vec::with_capacity(t.value.len());
        let mut rest = t.value;
        while !rest.is_empty() {
            let (child, used) = ber_to_definite(rest, depth + 1)?;
            content.extend(child);
            rest = &rest[used..];
        }
        return Ok((tlv::encode(tag, &content), t.raw.len()));
    }
    if tag & 0x20 == 0 {
        return Err(TlvError::Indefinite);
    }
    let mut pos = 2;
    let mut content = Vec::new();
    loop {
        let rest = input.get(pos..).ok_or(TlvError::Truncated)?;
        if rest.starts_with(&[0, 0]) {
            pos += 2;
            break;
        }
        let (child, used) = ber_to_definite(rest, depth + 1)?;
        content.extend(child);
        pos += used;
    }
    Ok((tlv::encode(tag, &content), pos))
}

/// Parse a detached CMS SignedData strictly (RFC 5652, as gitsign writes it). BER input with
/// indefinite lengths is converted to definite lengths first.
pub fn parse(der_bytes: &[u8]) -> Result<ParsedSignature, CmsError> {
    match tlv::read_all(der_bytes) {
        Err(TlvError::Indefinite) => {
            let (converted, used) = ber_to_definite(der_bytes, 0).map_err(der("BER ContentInfo"))?;
            if used != der_bytes.len() {
                return Err(CmsError::Der { what: "ContentInfo", source: TlvError::Trailing });
            }
            parse_der(&converted)
        }
        _ => parse_der(der_bytes),
    }
}

fn parse_der(der_bytes: &[u8]) -> Result<ParsedSignature, CmsError> {
    let ci = tlv::read_all(der_bytes).map_err(der("ContentInfo"))?;
    if ci.tag != 0x30 {
        return Err(CmsError::Der {
            what: "ContentInfo",
            source: TlvError::UnexpectedTag { expected: 0x30, found: ci.tag },
        });
    }
    let parts = tlv::children(ci.value).map_err(der("ContentInfo"))?;
    let mut it = parts.iter();
    let ct = next(&mut it, 0x06, "ContentInfo.contentType")?;
    let ct = tlv::oid(&ct).map_err(der("ContentInfo.contentType"))?;
    if ct != oids::SIGNED_DATA {
        return Err(CmsError::NotSignedData(ct.to_string()));
    }
    let explicit = next(&mut it, 0xa0, "ContentInfo.content")?;
    if it.next().is_some() {
        return Err(CmsError::Der { what: "ContentInfo", source: TlvError::Trailing });
    }
    let sd = tlv::read_all(explicit.value).map_err(der("SignedData"))?;
    if sd.tag != 0x30 {
        return Err(CmsError::Der {
            what: "SignedData",
            source: TlvError::UnexpectedTag { expected: 0x30, found: sd.tag },
        });
    }
    let parts = tlv::children(sd.value).map_err(der("SignedData"))?;
    let mut it = parts.iter().peekable();
    let version = match it.next() {
        Some(t) => tlv::small_uint(t).map_err(der("SignedData.version"))?,
        None => return Err(CmsError::Der { what: "SignedData", source: TlvError::Truncated }),
    };
    let digest_algs = match it.next() {
        Some(t) if t.tag == 0x31 => tlv::children(t.value).map_err(der("SignedData.digestAlgorithms"))?,
        _ => return Err(CmsError::Der { what: "SignedData.digestAlgorithms", source: TlvError::Malformed("SET") }),
    };
    let encap = match it.next() {
        Some(t) if t.tag == 0x30 => *t,
        _ => {
            return Err(CmsError::Der { what: "SignedData.encapContentInfo", source: TlvError::Malformed("SEQUENCE") });
        }
    };
    let encap_parts = tlv::children(encap.value).map_err(der("encapContentInfo"))?;
    let econtent_type = match encap_parts.first() {
        Some(t) => tlv::oid(t).map_err(der("encapContentInfo.eContentType"))?,
        None => return Err(CmsError::Der { what: "encapContentInfo", source: TlvError::Truncated }),
    };
    if econtent_type != oids::DATA {
        return Err(CmsError::NotData(econtent_type.to_string()));
    }
    let encapsulated_content = match encap_parts.get(1..) {
        Some([]) | None => None,
        Some([e]) if e.tag == 0xa0 => {
            let os = tlv::read_all(e.value).map_err(der("eContent"))?;
            if os.tag != 0x04 {
                return Err(CmsError::Der { what: "eContent", source: TlvError::Malformed("OCTET STRING") });
            }
            Some(os.value.to_vec())
        }
        _ => return Err(CmsError::Der { what: "encapContentInfo", source: TlvError::Trailing }),
    };
    let mut certs: Vec<Vec<u8>> = Vec::new();
    if let Some(t) = it.peek()
        && t.tag == 0xa0
    {
        for c in tlv::children(t.value).map_err(der("certificates"))? {
            if c.tag == 0x30 {
                certs.push(c.raw.to_vec());
            }
        }
        it.next();
    }
    if let Some(t) = it.peek()
        && t.tag == 0xa1
    {
        it.next(); // CRLs: not used
    }
    let signer_infos = match it.next() {
        Some(t) if t.tag == 0x31 => tlv::children(t.value).map_err(der("signerInfos"))?,
        _ => return Err(CmsError::Der { what: "SignedData.signerInfos", source: TlvError::Malformed("SET") }),
    };
    if it.next().is_some() {
        return Err(CmsError::Der { what: "SignedData", source: TlvError::Trailing });
    }
    let [si] = signer_infos.as_slice() else {
        return Err(CmsError::SignerCount(signer_infos.len()));
    };
    if si.tag != 0x30 {
        return Err(CmsError::Der {
            what: "SignerInfo",
            source: TlvError::UnexpectedTag { expected: 0x30, found: si.tag },
        });
    }
    let si_parts = tlv::children(si.value).map_err(der("SignerInfo"))?;
    let mut sit = si_parts.iter().peekable();
    let si_version = match sit.next() {
        Some(t) => tlv::small_uint(t).map_err(der("SignerInfo.version"))?,
        None => return Err(CmsError::Der { what: "SignerInfo", source: TlvError::Truncated }),
    };
    let sid = match sit.next() {
        Some(t) if t.tag == 0x80 => return Err(CmsError::SubjectKeyIdentifierSid),
        Some(t) if t.tag == 0x30 => *t,
        _ => return Err(CmsError::Der { what: "SignerInfo.sid", source: TlvError::Malformed("SignerIdentifier") }),
    };
    if si_version != 1 {
        return Err(CmsError::Version { what: "SignerInfo", version: si_version });
    }
    if version != 1 {
        return Err(CmsError::Version { what: "SignedData", version });
    }
    let (issuer, rest) = tlv::expect(sid.value, 0x30).map_err(der("sid.issuer"))?;
    let serial = tlv::read_all(rest).map_err(der("sid.serialNumber"))?;
    if serial.tag != 0x02 || serial.value.is_empty() {
        return Err(CmsError::Der { what: "sid.serialNumber", source: TlvError::Malformed("INTEGER") });
    }
    let digest_alg_t = next_peek(&mut sit, 0x30, "SignerInfo.digestAlgorithm")?;
    let digest_alg = digest_from_alg_id(&digest_alg_t)?;
    let mut listed = false;
    for d in &digest_algs {
        if digest_from_alg_id(d).ok() == Some(digest_alg) {
            listed = true;
        }
    }
    if !listed {
        return Err(CmsError::DigestNotListed);
    }
    let signed_attrs = match sit.peek() {
        Some(t) if t.tag == 0xa0 => {
            let t = *t;
            sit.next();
            t
        }
        _ => return Err(CmsError::NoSignedAttributes),
    };
    let sig_alg_t = next_peek(&mut sit, 0x30, "SignerInfo.signatureAlgorithm")?;
    let sig_oct = next_peek(&mut sit, 0x04, "SignerInfo.signature")?;
    let mut unsigned_attrs = Vec::new();
    if let Some(t) = sit.peek()
        && t.tag == 0xa1
    {
        for attr in tlv::children(t.value).map_err(der("unsignedAttrs"))? {
            let (oid, values) = attribute(&attr, "unsignedAttrs")?;
            unsigned_attrs.push((oid, values.iter().map(|v| v.raw.to_vec()).collect()));
        }
        sit.next();
    }
    if sit.next().is_some() {
        return Err(CmsError::Der { what: "SignerInfo", source: TlvError::Trailing });
    }

    // Signature algorithm.
    let (sig_oid, _params) = alg_id(&sig_alg_t, "signatureAlgorithm")?;
    let signature_hash = if let Some(h) = HashAlg::from_ecdsa_sig_oid(&sig_oid) {
        h
    } else if sig_oid == oids::EC_PUBLIC_KEY {
        digest_alg
    } else {
        let name = match sig_oid.to_string().as_str() {
            "1.2.840.113549.1.1.1" => "rsaEncryption",
            "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
            "1.2.840.113549.1.1.10" => "RSASSA-PSS",
            "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
            "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
            "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
            "1.3.101.112" => "Ed25519",
            _ => "unknown",
        };
        return Err(CmsError::UnsupportedSignatureAlgorithm { oid: sig_oid.to_string(), name });
    };

    // Signed attributes, as received.
    let mut signed_attrs_der = signed_attrs.raw.to_vec();
    signed_attrs_der[0] = 0x31;
    let mut content_type = None;
    let mut message_digest = None;
    let mut signing_time = None;
    for attr in tlv::children(signed_attrs.value).map_err(der("signedAttrs"))? {
        let (oid, values) = attribute(&attr, "signedAttrs")?;
        let single = |name: &'static str| -> Result<Tlv<'_>, CmsError> {
            match values.as_slice() {
                [v] => Ok(*v),
                _ => Err(CmsError::Attribute { name, problem: "must have exactly one value" }),
            }
        };
        if oid == oids::CONTENT_TYPE {
            if content_type.is_some() {
                return Err(CmsError::Attribute { name: "contentType", problem: "appears more than once" });
            }
            let v = single("contentType")?;
            content_type =
                Some(tlv::oid(&v).map_err(|_| CmsError::Attribute { name: "contentType", problem: "is not an OID" })?);
        } else if oid == oids::MESSAGE_DIGEST {
            if message_digest.is_some() {
                return Err(CmsError::Attribute { name: "messageDigest", problem: "appears more than once" });
            }
            let v = single("messageDigest")?;
            if v.tag != 0x04 {
                return Err(CmsError::Attribute { name: "messageDigest", problem: "is not an OCTET STRING" });
            }
            message_digest = Some(v.value.to_vec());
        } else if oid == oids::SIGNING_TIME {
            if signing_time.is_some() {
                return Err(CmsError::Attribute { name: "signingTime", problem: "appears more than once" });
            }
            let v = single("signingTime")?;
            signing_time = Some(
                tlv::time(&v)
                    .map_err(|_| CmsError::Attribute { name: "signingTime", problem: "is not a valid time" })?,
            );
        }
    }
    match content_type {
        Some(ct) if ct == econtent_type => {}
        Some(_) => {
            return Err(CmsError::Attribute {
                name: "contentType",
                problem: "differs from the encapsulated content type",
            });
        }
        None => return Err(CmsError::Attribute { name: "contentType", problem: "is missing" }),
    }
    let message_digest = message_digest.ok_or(CmsError::Attribute { name: "messageDigest", problem: "is missing" })?;

    // Signer certificate by issuer and serial number.
    if certs.is_empty() {
        return Err(CmsError::NoCertificates);
    }
    let mut signer = None;
    for (i, c) in certs.iter().enumerate() {
        if let Some((iss, ser, spki)) = cert_issuer_serial_spki(c)
            && iss == issuer.raw
            && ser == serial.value
        {
            signer = Some((i, spki));
            break;
        }
    }
    let Some((idx, signer_spki_der)) = signer else {
        return Err(CmsError::SignerNotFound { count: certs.len(), serial: hex::encode(serial.value) });
    };
    let signer_cert_der = certs.remove(idx);
    Ok(ParsedSignature {
        signer_cert_der,
        other_certs_der: certs,
        signed_attrs_der,
        signature: sig_oct.value.to_vec(),
        digest_alg,
        signature_hash,
        message_digest,
        signing_time,
        unsigned_attrs,
        encapsulated_content,
        signer_spki_der,
    })
}

fn next_peek<'a>(
    it: &mut std::iter::Peekable<std::slice::Iter<'_, Tlv<'a>>>,
    tag: u8,
    what: &'static str,
) -> Result<Tlv<'a>, CmsError> {
    match it.next() {
        Some(t) if t.tag == tag => Ok(*t),
        Some(t) => Err(CmsError::Der { what, source: TlvError::UnexpectedTag { expected: tag, found: t.tag } }),
        None => Err(CmsError::Der { what, source: TlvError::Truncated }),
    }
}

/// Parse `Attribute ::= SEQUENCE { attrType OID, attrValues SET OF ANY }`.
fn attribute<'a>(attr: &Tlv<'a>, what: &'static str) -> Result<(Oid, Vec<Tlv<'a>>), CmsError> {
    if attr.tag != 0x30 {
        return Err(CmsError::Der { what, source: TlvError::UnexpectedTag { expected: 0x30, found: attr.tag } });
    }
    let (oid_t, rest) = tlv::read(attr.value).map_err(der(what))?;
    let oid = tlv::oid(&oid_t).map_err(der(what))?;
    let set = tlv::read_all(rest).map_err(der(what))?;
    if set.tag != 0x31 {
        return Err(CmsError::Der { what, source: TlvError::UnexpectedTag { expected: 0x31, found: set.tag } });
    }
    Ok((oid, tlv::children(set.value).map_err(der(what))?))
}

/// Issuer Name DER, serial content and SPKI DER of a certificate, read without full parsing.
fn cert_issuer_serial_spki(cert: &[u8]) -> Option<(&[u8], &[u8], Vec<u8>)> {
    let c = tlv::read_all(cert).ok()?;
    let (tbs, _) = tlv::expect(c.value, 0x30).ok()?;
    let parts = tlv::children(tbs.value).ok()?;
    let skip = usize::from(parts.first()?.tag == 0xa0);
    let serial = parts.get(skip)?;
    let issuer = parts.get(skip + 2)?;
    let spki = parts.get(skip + 5)?;
    (serial.tag == 0x02 && issuer.tag == 0x30 && spki.tag == 0x30)
        .then(|| (issuer.raw, serial.value, spki.raw.to_vec()))
}

/// Check that the signature binds `payload`: messageDigest equals its digest (and encapsulated
/// content, if any, equals it), then the signer's key verifies the signature over the signed
/// attributes as received.
pub fn verify_content(sig: &ParsedSignature, payload: &[u8]) -> Result<(), CmsError> {
    if let Some(content) = &sig.encapsulated_content
        && content.as_slice() != payload
    {
        return Err(CmsError::ContentMismatch);
    }
    if sig.digest_alg.digest(payload) != sig.message_digest {
        return Err(CmsError::DigestMismatch);
    }
    match pubkey::verify(&sig.signer_spki_der, sig.signature_hash, &sig.signed_attrs_der, &sig.signature) {
        Ok(()) => Ok(()),
        Err(PubkeyError::UnsupportedKey(k)) => Err(CmsError::UnsupportedKey(k)),
        Err(PubkeyError::MalformedSignature | PubkeyError::BadSignature) => Err(CmsError::BadSignature),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn examples() -> Vec<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real/examples");
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        v.sort();
        v
    }

    fn example(name: &str) -> PathBuf {
        examples().into_iter().find(|p| p.to_string_lossy().contains(name)).unwrap()
    }

    #[test]
    fn every_example_parses_and_verifies() {
        for dir in examples() {
            let der = std::fs::read(dir.join("signature.der")).unwrap();
            let payload = std::fs::read(dir.join("payload.bin")).unwrap();
            let info: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("info.json")).unwrap()).unwrap();
            let text = std::fs::read(dir.join("signature.txt")).unwrap();
            assert_eq!(crate::encoding::armor::decode(&text).unwrap(), der);
            let p = parse(&der).unwrap();
            assert_eq!(p.signed_attrs_der, std::fs::read(dir.join("signed_attrs.der")).unwrap());
            assert_eq!(hex::encode(&p.signature), info["signature_hex"].as_str().unwrap());
            assert_eq!(hex::encode(&p.message_digest), info["message_digest"].as_str().unwrap());
            let leaf =
                crate::crypto::x509::pem_to_der(&std::fs::read_to_string(dir.join("cert0.pem")).unwrap()).unwrap();
            let n = info["n_certs"].as_u64().unwrap() as usize;
            assert_eq!(p.other_certs_der.len() + 1, n);
            if n == 1 {
                assert_eq!(p.signer_cert_der, leaf);
            } else {
                // intermediate first: the signer is the second certificate
                let second =
                    crate::crypto::x509::pem_to_der(&std::fs::read_to_string(dir.join("cert1.pem")).unwrap()).unwrap();
                assert_eq!(p.signer_cert_der, second);
                assert_eq!(p.other_certs_der, vec![leaf]);
            }
            let unsigned: Vec<String> = p.unsigned_attrs.iter().map(|(o, _)| o.to_string()).collect();
            let want: Vec<String> = info["unsigned_attrs_oids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            assert_eq!(unsigned, want);
            assert!(p.signing_time.is_some());
            verify_content(&p, &payload).unwrap();
            let mut changed = payload.clone();
            changed.push(b'\n');
            assert_eq!(verify_content(&p, &changed), Err(CmsError::DigestMismatch));
        }
    }

    /// Replace `from` by `to` once in `v` (both DER fragments); lengths of enclosing elements
    /// are recomputed by the caller through `rebuild`.
    fn replace_once(v: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let pos = v.windows(from.len()).position(|w| w == from).expect("fragment present");
        let mut out = v[..pos].to_vec();
        out.extend_from_slice(to);
        out.extend_from_slice(&v[pos + from.len()..]);
        out
    }

    /// Re-encode a structure after changing a nested element: walks the path of (tag, index)
    /// children. Used to build mutated signatures with consistent lengths.
    fn edit(der_bytes: &[u8], path: &[usize], f: &dyn Fn(&[Tlv<'_>]) -> Vec<Vec<u8>>) -> Vec<u8> {
        let t = tlv::read_all(der_bytes).unwrap();
        let kids = tlv::children(t.value).unwrap();
        let new_kids: Vec<Vec<u8>> = match path.split_first() {
            None => f(&kids),
            Some((&i, rest)) => kids
                .iter()
                .enumerate()
                .map(|(j, k)| if j == i { edit(k.raw, rest, f) } else { k.raw.to_vec() })
                .collect(),
        };
        tlv::encode(t.tag, &new_kids.concat())
    }

    fn online() -> (Vec<u8>, Vec<u8>) {
        let dir = example("online-commit");
        (std::fs::read(dir.join("signature.der")).unwrap(), std::fs::read(dir.join("payload.bin")).unwrap())
    }

    // ContentInfo [1] -> [0] explicit -> SignedData; SignedData children: 0 version,
    // 1 digestAlgorithms, 2 encap, 3 certificates, 4 signerInfos.
    const SD: [usize; 2] = [1, 0];

    #[test]
    fn empty_certificate_set_is_an_error_not_a_panic() {
        let (der, _) = online();
        let mutated = edit(&der, &SD, &|kids| {
            kids.iter().map(|k| if k.tag == 0xa0 { vec![0xa0, 0x00] } else { k.raw.to_vec() }).collect()
        });
        assert_eq!(parse(&mutated), Err(CmsError::NoCertificates));
        let dropped = edit(&der, &SD, &|kids| kids.iter().filter(|k| k.tag != 0xa0).map(|k| k.raw.to_vec()).collect());
        assert_eq!(parse(&dropped), Err(CmsError::NoCertificates));
    }

    #[test]
    fn signer_must_match_issuer_and_serial() {
        let (der, _) = online();
        let p = parse(&der).unwrap();
        // Replace the certificate by the one from another example: signer not found.
        let other = parse(&std::fs::read(example("offline-commit").join("signature.der")).unwrap()).unwrap();
        let swapped = edit(&der, &SD, &|kids| {
            kids.iter()
                .map(|k| if k.tag == 0xa0 { tlv::encode(0xa0, &other.signer_cert_der) } else { k.raw.to_vec() })
                .collect()
        });
        assert!(matches!(parse(&swapped), Err(CmsError::SignerNotFound { count: 1, .. })));
        // Signer second among several certificates, in any order.
        let many = edit(&der, &SD, &|kids| {
            kids.iter()
                .map(|k| {
                    if k.tag == 0xa0 {
                        tlv::encode(0xa0, &[other.signer_cert_der.clone(), p.signer_cert_der.clone()].concat())
                    } else {
                        k.raw.to_vec()
                    }
                })
                .collect()
        });
        let q = parse(&many).unwrap();
        assert_eq!(q.signer_cert_der, p.signer_cert_der);
        assert_eq!(q.other_certs_der, vec![other.signer_cert_der.clone()]);
    }

    #[test]
    fn reordered_signed_attributes_fail() {
        let (der, payload) = online();
        // SignerInfo is child 0 of signerInfos (child 4 of SignedData); its child 3 is signedAttrs.
        let mutated = edit(&der, &[1, 0, 4, 0, 3], &|kids| {
            let mut v: Vec<Vec<u8>> = kids.iter().map(|k| k.raw.to_vec()).collect();
            v.rotate_left(1);
            v
        });
        let p = parse(&mutated).unwrap();
        assert_eq!(verify_content(&p, &payload), Err(CmsError::BadSignature));
    }

    #[test]
    fn attribute_rules() {
        let (der, _) = online();
        // Duplicate messageDigest attribute.
        let dup = edit(&der, &[1, 0, 4, 0, 3], &|kids| {
            let mut v: Vec<Vec<u8>> = kids.iter().map(|k| k.raw.to_vec()).collect();
            v.push(v[2].clone());
            v
        });
        assert!(matches!(parse(&dup), Err(CmsError::Attribute { name: "messageDigest", .. })));
        // Missing contentType.
        let missing = edit(&der, &[1, 0, 4, 0, 3], &|kids| kids[1..].iter().map(|k| k.raw.to_vec()).collect());
        assert!(matches!(parse(&missing), Err(CmsError::Attribute { name: "contentType", .. })));
    }

    #[test]
    fn swapped_signature_fails() {
        let (der, payload) = online();
        let other = parse(&std::fs::read(example("offline-commit").join("signature.der")).unwrap()).unwrap();
        let p = parse(&der).unwrap();
        let oct_old = tlv::encode(0x04, &p.signature);
        let oct_new = tlv::encode(0x04, &other.signature);
        let mutated = edit(&der, &[1, 0, 4], &|kids| {
            kids.iter()
                .map(|k| replace_once(k.raw, &oct_old, &oct_new))
                .map(|si| {
                    let t = tlv::read_all(&si).map(|t| t.value.to_vec()).unwrap_or_default();
                    tlv::encode(0x30, &t)
                })
                .collect()
        });
        let q = parse(&mutated).unwrap();
        assert_eq!(verify_content(&q, &payload), Err(CmsError::BadSignature));
    }

    #[test]
    fn rsa_and_sid_and_structure_errors_are_clean() {
        let (der, _) = online();
        let ecdsa = tlv::encode(0x30, &tlv::encode(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));
        let rsa = tlv::encode(
            0x30,
            &[tlv::encode(0x06, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]), vec![5, 0]].concat(),
        );
        let mutated = edit(&der, &[1, 0, 4, 0], &|kids| {
            kids.iter().map(|k| if k.raw == ecdsa.as_slice() { rsa.clone() } else { k.raw.to_vec() }).collect()
        });
        assert!(matches!(
            parse(&mutated),
            Err(CmsError::UnsupportedSignatureAlgorithm { name: "sha256WithRSAEncryption", .. })
        ));
        let ski = edit(&der, &[1, 0, 4, 0], &|kids| {
            kids.iter().enumerate().map(|(i, k)| if i == 1 { vec![0x80, 2, 1, 2] } else { k.raw.to_vec() }).collect()
        });
        assert_eq!(parse(&ski), Err(CmsError::SubjectKeyIdentifierSid));
        let two = edit(&der, &[1, 0, 4], &|kids| vec![kids[0].raw.to_vec(), kids[0].raw.to_vec()]);
        assert_eq!(parse(&two), Err(CmsError::SignerCount(2)));
        // Truncation anywhere is an error, never a panic.
        for n in [0, 1, 2, 10, 100, der.len() / 2, der.len() - 1] {
            assert!(parse(&der[..n]).is_err());
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(parse(&trailing).is_err());
    }

    #[test]
    fn every_single_byte_change_is_an_error_never_a_panic() {
        let dir = example("offline-commit");
        let der = std::fs::read(dir.join("signature.der")).unwrap();
        let payload = std::fs::read(dir.join("payload.bin")).unwrap();
        let p = parse(&der).unwrap();
        let cert_start = der.windows(p.signer_cert_der.len()).position(|w| w == p.signer_cert_der.as_slice()).unwrap();
        let unsigned_len = {
            let ci = tlv::read_all(&der).unwrap();
            let sd = tlv::read_all(tlv::children(ci.value).unwrap()[1].value).unwrap();
            let sis = tlv::children(sd.value).unwrap()[4];
            let si = tlv::children(sis.value).unwrap()[0];
            let last = *tlv::children(si.value).unwrap().last().unwrap();
            assert_eq!(last.tag, 0xa1);
            last.raw.len()
        };
        let unsigned_start = der.len() - unsigned_len;
        for i in 0..der.len() {
            for flip in [0x01u8, 0x80] {
                let mut m = der.clone();
                m[i] ^= flip;
                if let Ok(q) = parse(&m) {
                    let _ = crate::crypto::x509::CertInfo::parse(&q.signer_cert_der);
                    // Outside the certificate (checked by the chain) and the unsigned
                    // attributes (checked by the log), every byte is covered by the CMS check.
                    let in_cert = (cert_start..cert_start + p.signer_cert_der.len()).contains(&i);
                    if !in_cert && i < unsigned_start {
                        assert!(verify_content(&q, &payload).is_err(), "byte {i} ^ {flip:#x} went unnoticed");
                    }
                }
            }
        }
    }

    #[test]
    fn ber_indefinite_lengths_are_accepted() {
        let (der, payload) = online();
        // Re-encode the outer ContentInfo and [0] with indefinite lengths.
        let ci = tlv::read_all(&der).unwrap();
        let kids = tlv::children(ci.value).unwrap();
        let explicit = kids[1];
        let mut ber = vec![0x30, 0x80];
        ber.extend_from_slice(kids[0].raw);
        ber.extend_from_slice(&[0xa0, 0x80]);
        ber.extend_from_slice(explicit.value);
        ber.extend_from_slice(&[0, 0, 0, 0]);
        let p = parse(&ber).unwrap();
        verify_content(&p, &payload).unwrap();
        assert_eq!(p, parse(&der).unwrap());
    }
}
