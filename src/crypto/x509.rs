//! Certificate facts (fingerprint, SANs, Fulcio issuer and workflow extensions), chain building
//! against the trusted root at a given time, and embedded RFC 6962 SCT checks.
//!
//! Certificates are read with a small DER reader that keeps every element's original bytes, so
//! that signatures are checked over exactly what was signed and the precertificate TBS for the SCT
//! is rebuilt from the received encoding.
use crate::crypto::pubkey::{self, HashAlg};
use crate::encoding::oids;
use crate::trust::root::TrustedRoot;
use const_oid::ObjectIdentifier as Oid;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A minimal DER reader that keeps the original bytes of every element.
pub(crate) mod tlv {
    /// Why bytes are not the DER expected.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum TlvError {
        /// Input ended inside an element.
        #[error("truncated DER element")]
        Truncated,
        /// Indefinite length (BER) where DER is required.
        #[error("indefinite-length (BER) encoding")]
        Indefinite,
        /// A length that is not minimally encoded or too large.
        #[error("bad DER length")]
        BadLength,
        /// Multi-byte tag numbers are not used by any structure read here.
        #[error("unsupported multi-byte tag")]
        LongTag,
        /// A different element was expected.
        #[error("expected tag 0x{expected:02x}, found 0x{found:02x}")]
        UnexpectedTag {
            /// Tag wanted.
            expected: u8,
            /// Tag seen.
            found: u8,
        },
        /// Bytes after the last expected element.
        #[error("trailing bytes after a DER element")]
        Trailing,
        /// Malformed primitive content (INTEGER, OID, BOOLEAN, time…).
        #[error("malformed {0}")]
        Malformed(&'static str),
    }

    /// One element: its tag, its content and its whole encoding.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct Tlv<'a> {
        /// The (single-byte) tag.
        pub tag: u8,
        /// The content octets.
        pub value: &'a [u8],
        /// Tag, length and content as received.
        pub raw: &'a [u8],
    }

    /// Read one element from the front of `input`; returns it and the rest.
    pub(crate) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), TlvError> {
        let tag = *input.first().ok_or(TlvError::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(TlvError::LongTag);
        }
        let first = *input.get(1).ok_or(TlvError::Truncated)?;
        let (len, hdr) = if first < 0x80 {
            (first as usize, 2)
        } else if first == 0x80 {
            return Err(TlvError::Indefinite);
        } else {
            let n = (first & 0x7f) as usize;
            if n > 4 {
                return Err(TlvError::BadLength);
            }
            let bytes = input.get(2..2 + n).ok_or(TlvError::Truncated)?;
            if bytes.first() == Some(&0) {
                return Err(TlvError::BadLength);
            }
            let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
            if len < 0x80 {
                return Err(TlvError::BadLength);
            }
            (len, 2 + n)
        };
        let end = hdr.checked_add(len).ok_or(TlvError::BadLength)?;
        let raw = input.get(..end).ok_or(TlvError::Truncated)?;
        let value = raw.get(hdr..).ok_or(TlvError::Truncated)?;
        Ok((Tlv { tag, value, raw }, &input[end..]))
    }

    /// Read exactly one element filling `input`.
    pub(crate) fn read_all(input: &[u8]) -> Result<Tlv<'_>, TlvError> {
        let (t, rest) = read(input)?;
        if !rest.is_empty() {
            return Err(TlvError::Trailing);
        }
        Ok(t)
    }

    /// Read one element with the given tag.
    pub(crate) fn expect(input: &[u8], tag: u8) -> Result<(Tlv<'_>, &[u8]), TlvError> {
        let (t, rest) = read(input)?;
        if t.tag != tag {
            return Err(TlvError::UnexpectedTag { expected: tag, found: t.tag });
        }
        Ok((t, rest))
    }

    /// All elements of a constructed value, in order.
    pub(crate) fn children(mut value: &[u8]) -> Result<Vec<Tlv<'_>>, TlvError> {
        let mut out = Vec::new();
        while !value.is_empty() {
            let (t, rest) = read(value)?;
            out.push(t);
            value = rest;
        }
        Ok(out)
    }

    /// Encode a tag and length header for `len` content bytes.
    pub(crate) fn header(tag: u8, len: usize) -> Vec<u8> {
        let mut out = vec![tag];
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        out
    }

    /// Encode an element from a tag and content.
    pub(crate) fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = header(tag, content.len());
        out.extend_from_slice(content);
        out
    }

    /// Parse the content of an OBJECT IDENTIFIER element.
    pub(crate) fn oid(t: &Tlv<'_>) -> Result<const_oid::ObjectIdentifier, TlvError> {
        if t.tag != 0x06 {
            return Err(TlvError::UnexpectedTag { expected: 0x06, found: t.tag });
        }
        const_oid::ObjectIdentifier::from_bytes(t.value).map_err(|_| TlvError::Malformed("OBJECT IDENTIFIER"))
    }

    /// Parse a small non-negative INTEGER element.
    pub(crate) fn small_uint(t: &Tlv<'_>) -> Result<u64, TlvError> {
        if t.tag != 0x02 || t.value.is_empty() || t.value.len() > 9 || t.value[0] & 0x80 != 0 {
            return Err(TlvError::Malformed("INTEGER"));
        }
        if t.value.len() > 1 && t.value[0] == 0 && t.value[1] & 0x80 == 0 {
            return Err(TlvError::Malformed("INTEGER"));
        }
        if t.value.len() == 9 && t.value[0] != 0 {
            return Err(TlvError::Malformed("INTEGER"));
        }
        Ok(t.value.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    /// Parse a UTCTime (0x17) or GeneralizedTime (0x18) in DER form (`Z`, whole seconds) into
    /// unix seconds.
    pub(crate) fn time(t: &Tlv<'_>) -> Result<i64, TlvError> {
        let s = t.value;
        let digits = |r: &[u8]| -> Result<i64, TlvError> {
            if r.is_empty() || !r.iter().all(u8::is_ascii_digit) {
                return Err(TlvError::Malformed("time"));
            }
            Ok(r.iter().fold(0i64, |acc, &b| acc * 10 + (b - b'0') as i64))
        };
        let (year, rest) = match t.tag {
            0x17 if s.len() == 13 => {
                let yy = digits(&s[..2])?;
                (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &s[2..])
            }
            0x18 if s.len() == 15 => (digits(&s[..4])?, &s[4..]),
            _ => return Err(TlvError::Malformed("time")),
        };
        if rest.last() != Some(&b'Z') {
            return Err(TlvError::Malformed("time"));
        }
        let (mo, d, h, mi, se) = (
            digits(&rest[0..2])?,
            digits(&rest[2..4])?,
            digits(&rest[4..6])?,
            digits(&rest[6..8])?,
            digits(&rest[8..10])?,
        );
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return Err(TlvError::Malformed("time"));
        }
        Ok(days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
}

use tlv::{Tlv, TlvError};

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The DER structure is broken.
    #[error("malformed certificate: {what}: {source}")]
    Der {
        /// The part being read.
        what: &'static str,
        /// The DER problem.
        #[source]
        source: TlvError,
    },
    /// An extension occurs twice.
    #[error("certificate has extension {0} twice")]
    DuplicateExtension(String),
    /// An extension's value is malformed.
    #[error("certificate extension {oid} is malformed")]
    BadExtension {
        /// The extension OID.
        oid: String,
    },
}

fn der_err(what: &'static str) -> impl FnOnce(TlvError) -> CertError {
    move |source| CertError::Der { what, source }
}

/// One subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    /// rfc822Name (email identities).
    Email(String),
    /// uniformResourceIdentifier (CI/workload identities).
    Uri(String),
    /// otherName 1.3.6.1.4.1.57264.1.7 (UTF8String username).
    Username(String),
    /// dNSName.
    Dns(String),
    /// Any other form, kept as the raw GeneralName DER.
    Other(Vec<u8>),
}

impl San {
    /// The identity value as a string (`None` for unsupported forms).
    pub fn value(&self) -> Option<&str> {
        match self {
            San::Email(s) | San::Uri(s) | San::Username(s) | San::Dns(s) => Some(s),
            San::Other(_) => None,
        }
    }
}

impl std::fmt::Display for San {
    /// The SAN value (email, URI, username or DNS name); other forms as `<GeneralName hex>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            San::Other(raw) => write!(f, "<GeneralName {}>", hex::encode(raw)),
            San::Email(s) | San::Uri(s) | San::Username(s) | San::Dns(s) => f.write_str(s),
        }
    }
}

/// GitHub workflow claims from the deprecated Fulcio extensions 1.2–1.6 (raw values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowClaims {
    /// 1.3.6.1.4.1.57264.1.2: workflow trigger.
    pub trigger: Option<String>,
    /// 1.3.6.1.4.1.57264.1.3: workflow SHA.
    pub sha: Option<String>,
    /// 1.3.6.1.4.1.57264.1.4: workflow name.
    pub name: Option<String>,
    /// 1.3.6.1.4.1.57264.1.5: workflow repository.
    pub repository: Option<String>,
    /// 1.3.6.1.4.1.57264.1.6: workflow ref.
    pub git_ref: Option<String>,
}

/// One X.509 extension as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Extension OID.
    pub oid: Oid,
    /// The critical flag.
    pub critical: bool,
    /// The content of the extnValue OCTET STRING.
    pub value: Vec<u8>,
}

/// Key usage bits (RFC 5280 numbering).
pub mod key_usage {
    /// digitalSignature (bit 0).
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    /// keyCertSign (bit 5).
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
}

const EXT_SKI: Oid = Oid::new_unwrap("2.5.29.14");
const EXT_KU: Oid = Oid::new_unwrap("2.5.29.15");
const EXT_SAN: Oid = Oid::new_unwrap("2.5.29.17");
const EXT_BC: Oid = Oid::new_unwrap("2.5.29.19");
const EXT_AKI: Oid = Oid::new_unwrap("2.5.29.35");
const EXT_EKU: Oid = Oid::new_unwrap("2.5.29.37");
const SIGSTORE_1: &str = "1.3.6.1.4.1.57264.1.";

/// Facts about one certificate, all read from its DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The certificate DER.
    pub der: Vec<u8>,
    /// Lowercase hex SHA-1 of the DER (what gitsign prints as the key fingerprint).
    pub fingerprint: String,
    /// Lowercase hex of the serial number content octets.
    pub serial_hex: String,
    /// Serial number content octets as encoded.
    pub serial: Vec<u8>,
    /// Subject rendered per RFC 4514 (empty for Fulcio leaves).
    pub subject: String,
    /// Issuer rendered per RFC 4514.
    pub issuer_dn: String,
    /// Subject Name DER as received.
    pub subject_raw: Vec<u8>,
    /// Issuer Name DER as received.
    pub issuer_raw: Vec<u8>,
    /// notBefore, unix seconds.
    pub not_before: i64,
    /// notAfter, unix seconds.
    pub not_after: i64,
    /// SubjectPublicKeyInfo DER.
    pub spki_der: Vec<u8>,
    /// Subject alternative names in order.
    pub sans: Vec<San>,
    /// OIDC issuer: ext 1.3.6.1.4.1.57264.1.8 (UTF8String), else 1.1 (raw bytes).
    pub oidc_issuer: Option<String>,
    /// GitHub workflow claims (ext 1.2–1.6).
    pub workflow: WorkflowClaims,
    /// Key usage bits, when the extension is present.
    pub key_usage: Option<u16>,
    /// Extended key usages.
    pub ext_key_usage: Vec<Oid>,
    /// basicConstraints: (cA, pathLenConstraint), when present.
    pub basic_constraints: Option<(bool, Option<u64>)>,
    /// Subject key identifier.
    pub subject_key_id: Option<Vec<u8>>,
    /// Authority key identifier (keyIdentifier).
    pub authority_key_id: Option<Vec<u8>>,
    /// All extensions in order.
    pub extensions: Vec<Extension>,
    tbs_raw: Vec<u8>,
    sig_alg: Oid,
    signature: Vec<u8>,
}

impl CertInfo {
    /// Parse a certificate from DER.
    pub fn parse(der: &[u8]) -> Result<CertInfo, CertError> {
        let cert = tlv::read_all(der).map_err(der_err("Certificate"))?;
        if cert.tag != 0x30 {
            return Err(CertError::Der {
                what: "Certificate",
                source: TlvError::UnexpectedTag { expected: 0x30, found: cert.tag },
            });
        }
        let (tbs, rest) = tlv::expect(cert.value, 0x30).map_err(der_err("TBSCertificate"))?;
        let (sig_alg, rest) = tlv::expect(rest, 0x30).map_err(der_err("signatureAlgorithm"))?;
        let (sig_bits, rest) = tlv::expect(rest, 0x03).map_err(der_err("signatureValue"))?;
        if !rest.is_empty() {
            return Err(CertError::Der { what: "Certificate", source: TlvError::Trailing });
        }
        let (sig_oid_tlv, _) = tlv::read(sig_alg.value).map_err(der_err("signatureAlgorithm"))?;
        let sig_alg = tlv::oid(&sig_oid_tlv).map_err(der_err("signatureAlgorithm"))?;
        let signature = match sig_bits.value.split_first() {
            Some((0, bits)) => bits.to_vec(),
            _ => return Err(CertError::Der { what: "signatureValue", source: TlvError::Malformed("BIT STRING") }),
        };

        let mut it = tlv::children(tbs.value).map_err(der_err("TBSCertificate"))?.into_iter().peekable();
        if it.peek().map(|t| t.tag) == Some(0xa0) {
            it.next();
        }
        let mut next = |what: &'static str, tag: u8| -> Result<Tlv<'_>, CertError> {
            match it.next() {
                Some(t) if t.tag == tag => Ok(t),
                Some(t) => {
                    Err(CertError::Der { what, source: TlvError::UnexpectedTag { expected: tag, found: t.tag } })
                }
                None => Err(CertError::Der { what, source: TlvError::Truncated }),
            }
        };
        let serial = next("serialNumber", 0x02)?;
        let _sig = next("signature", 0x30)?;
        let issuer = next("issuer", 0x30)?;
        let validity = next("validity", 0x30)?;
        let subject = next("subject", 0x30)?;
        let spki = next("subjectPublicKeyInfo", 0x30)?;
        let mut extensions = Vec::new();
        for t in it {
            match t.tag {
                0x81 | 0x82 => {}
                0xa3 => {
                    let seq = tlv::read_all(t.value).map_err(der_err("extensions"))?;
                    for ext in tlv::children(seq.value).map_err(der_err("extensions"))? {
                        extensions.push(parse_extension(&ext)?);
                    }
                }
                other => {
                    return Err(CertError::Der {
                        what: "TBSCertificate",
                        source: TlvError::UnexpectedTag { expected: 0xa3, found: other },
                    });
                }
            }
        }
        for (i, e) in extensions.iter().enumerate() {
            if extensions[..i].iter().any(|p| p.oid == e.oid) {
                return Err(CertError::DuplicateExtension(e.oid.to_string()));
            }
        }
        let times = tlv::children(validity.value).map_err(der_err("validity"))?;
        let [nb, na] = times.as_slice() else {
            return Err(CertError::Der { what: "validity", source: TlvError::Malformed("Validity") });
        };
        let not_before = tlv::time(nb).map_err(der_err("notBefore"))?;
        let not_after = tlv::time(na).map_err(der_err("notAfter"))?;

        let mut info = CertInfo {
            der: der.to_vec(),
            fingerprint: hex::encode(Sha1::digest(der)),
            serial_hex: hex::encode(serial.value),
            serial: serial.value.to_vec(),
            subject: render_name(subject.raw),
            issuer_dn: render_name(issuer.raw),
            subject_raw: subject.raw.to_vec(),
            issuer_raw: issuer.raw.to_vec(),
            not_before,
            not_after,
            spki_der: spki.raw.to_vec(),
            sans: Vec::new(),
            oidc_issuer: None,
            workflow: WorkflowClaims::default(),
            key_usage: None,
            ext_key_usage: Vec::new(),
            basic_constraints: None,
            subject_key_id: None,
            authority_key_id: None,
            extensions: Vec::new(),
            tbs_raw: tbs.raw.to_vec(),
            sig_alg,
            signature,
        };
        let mut issuer_v1 = None;
        let mut issuer_v2 = None;
        for e in &extensions {
            let bad = || CertError::BadExtension { oid: e.oid.to_string() };
            if e.oid == EXT_SAN {
                info.sans = parse_san(&e.value).map_err(|_| bad())?;
            } else if e.oid == EXT_KU {
                info.key_usage = Some(parse_key_usage(&e.value).map_err(|_| bad())?);
            } else if e.oid == EXT_EKU {
                let seq = tlv::read_all(&e.value).map_err(|_| bad())?;
                for t in tlv::children(seq.value).map_err(|_| bad())? {
                    info.ext_key_usage.push(tlv::oid(&t).map_err(|_| bad())?);
                }
            } else if e.oid == EXT_BC {
                info.basic_constraints = Some(parse_basic_constraints(&e.value).map_err(|_| bad())?);
            } else if e.oid == EXT_SKI {
                let t = tlv::read_all(&e.value).map_err(|_| bad())?;
                if t.tag != 0x04 {
                    return Err(bad());
                }
                info.subject_key_id = Some(t.value.to_vec());
            } else if e.oid == EXT_AKI {
                let seq = tlv::read_all(&e.value).map_err(|_| bad())?;
                for t in tlv::children(seq.value).map_err(|_| bad())? {
                    if t.tag == 0x80 {
                        info.authority_key_id = Some(t.value.to_vec());
                    }
                }
            } else if e.oid == oids::FULCIO_ISSUER_V1 {
                issuer_v1 = Some(String::from_utf8_lossy(&e.value).into_owned());
            } else if e.oid == oids::FULCIO_ISSUER_V2 {
                let t = tlv::read_all(&e.value).map_err(|_| bad())?;
                if t.tag != 0x0c {
                    return Err(bad());
                }
                issuer_v2 = Some(std::str::from_utf8(t.value).map_err(|_| bad())?.to_string());
            } else if let Some(n) = e.oid.to_string().strip_prefix(SIGSTORE_1) {
                let v = Some(String::from_utf8_lossy(&e.value).into_owned());
                match n {
                    "2" => info.workflow.trigger = v,
                    "3" => info.workflow.sha = v,
                    "4" => info.workflow.name = v,
                    "5" => info.workflow.repository = v,
                    "6" => info.workflow.git_ref = v,
                    _ => {}
                }
            }
        }
        info.oidc_issuer = issuer_v2.or(issuer_v1);
        info.extensions = extensions;
        Ok(info)
    }

    /// The first SAN value (the signer identity), if any.
    pub fn identity(&self) -> Option<&str> {
        self.sans.iter().find_map(San::value)
    }

    /// Whether the certificate is valid at unix time `t` (both ends inclusive).
    pub fn valid_at(&self, t: i64) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    /// Whether subject and issuer are the same Name and the certificate verifies its own signature.
    pub fn is_self_signed(&self) -> bool {
        self.subject_raw == self.issuer_raw && self.verify_signed_by(&self.spki_der).is_ok()
    }

    /// Check this certificate's signature with an issuer's SubjectPublicKeyInfo.
    pub fn verify_signed_by(&self, issuer_spki_der: &[u8]) -> Result<(), ChainError> {
        let hash = HashAlg::from_ecdsa_sig_oid(&self.sig_alg)
            .ok_or_else(|| ChainError::UnsupportedSignatureAlgorithm(self.sig_alg.to_string()))?;
        pubkey::verify(issuer_spki_der, hash, &self.tbs_raw, &self.signature)
            .map_err(|e| ChainError::BadSignature { subject: self.display_name(), reason: e.to_string() })
    }

    /// The raw DER of the TBSCertificate.
    pub fn tbs_der(&self) -> &[u8] {
        &self.tbs_raw
    }

    /// The extension with this OID, if present.
    pub fn extension(&self, oid: &Oid) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.oid == *oid)
    }

    fn display_name(&self) -> String {
        if self.subject.is_empty() {
            match self.identity() {
                Some(id) => format!("leaf for {id}"),
                None => format!("certificate {}", self.serial_hex),
            }
        } else {
            self.subject.clone()
        }
    }
}

fn render_name(raw: &[u8]) -> String {
    use der::Decode;
    match x509_cert::name::Name::from_der(raw) {
        Ok(n) => n.to_string(),
        Err(_) => format!("<unparsed name {}>", hex::encode(raw)),
    }
}

fn parse_extension(ext: &Tlv<'_>) -> Result<Extension, CertError> {
    if ext.tag != 0x30 {
        return Err(CertError::Der {
            what: "Extension",
            source: TlvError::UnexpectedTag { expected: 0x30, found: ext.tag },
        });
    }
    let parts = tlv::children(ext.value).map_err(der_err("Extension"))?;
    let (oid_t, critical, value) = match parts.as_slice() {
        [o, v] => (o, false, v),
        [o, c, v] => {
            if c.tag != 0x01 || c.value != [0xff] {
                // DER: DEFAULT FALSE must be omitted, TRUE is 0xff
                return Err(CertError::Der { what: "Extension.critical", source: TlvError::Malformed("BOOLEAN") });
            }
            (o, true, v)
        }
        _ => return Err(CertError::Der { what: "Extension", source: TlvError::Malformed("Extension") }),
    };
    if value.tag != 0x04 {
        return Err(CertError::Der {
            what: "Extension.extnValue",
            source: TlvError::UnexpectedTag { expected: 0x04, found: value.tag },
        });
    }
    Ok(Extension { oid: tlv::oid(oid_t).map_err(der_err("Extension.extnID"))?, critical, value: value.value.to_vec() })
}

fn parse_san(value: &[u8]) -> Result<Vec<San>, TlvError> {
    let seq = tlv::read_all(value)?;
    if seq.tag != 0x30 {
        return Err(TlvError::UnexpectedTag { expected: 0x30, found: seq.tag });
    }
    let mut out = Vec::new();
    for gn in tlv::children(seq.value)? {
        let text = |v: &[u8]| std::str::from_utf8(v).map(str::to_string).map_err(|_| TlvError::Malformed("SAN string"));
        out.push(match gn.tag {
            0x81 => San::Email(text(gn.value)?),
            0x82 => San::Dns(text(gn.value)?),
            0x86 => San::Uri(text(gn.value)?),
            0xa0 => {
                let (type_id, rest) = tlv::read(gn.value)?;
                let type_id = tlv::oid(&type_id)?;
                let explicit = tlv::read_all(rest)?;
                if type_id == oids::FULCIO_OTHERNAME_SAN && explicit.tag == 0xa0 {
                    let inner = tlv::read_all(explicit.value)?;
                    if inner.tag != 0x0c {
                        return Err(TlvError::Malformed("otherName UTF8String"));
                    }
                    San::Username(text(inner.value)?)
                } else {
                    San::Other(gn.raw.to_vec())
                }
            }
            _ => San::Other(gn.raw.to_vec()),
        });
    }
    if out.is_empty() {
        return Err(TlvError::Malformed("empty SubjectAltName"));
    }
    Ok(out)
}

fn parse_key_usage(value: &[u8]) -> Result<u16, TlvError> {
    let t = tlv::read_all(value)?;
    if t.tag != 0x03 || t.value.is_empty() || t.value.len() > 3 || t.value[0] > 7 {
        return Err(TlvError::Malformed("KeyUsage"));
    }
    let mut bits = 0u16;
    for (i, &byte) in t.value[1..].iter().enumerate() {
        for b in 0..8 {
            if byte & (0x80 >> b) != 0 {
                bits |= 1 << (i * 8 + b);
            }
        }
    }
    Ok(bits)
}

fn parse_basic_constraints(value: &[u8]) -> Result<(bool, Option<u64>), TlvError> {
    let seq = tlv::read_all(value)?;
    if seq.tag != 0x30 {
        return Err(TlvError::UnexpectedTag { expected: 0x30, found: seq.tag });
    }
    let parts = tlv::children(seq.value)?;
    let mut ca = false;
    let mut path_len = None;
    let mut iter = parts.iter().peekable();
    if let Some(t) = iter.peek()
        && t.tag == 0x01
    {
        if t.value.len() != 1 {
            return Err(TlvError::Malformed("BOOLEAN"));
        }
        ca = t.value[0] != 0;
        iter.next();
    }
    if let Some(t) = iter.next() {
        path_len = Some(tlv::small_uint(t)?);
    }
    if iter.next().is_some() {
        return Err(TlvError::Trailing);
    }
    Ok((ca, path_len))
}

/// Why a certificate does not chain to the trusted root at the given time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A certificate could not be parsed.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// The leaf is not valid at the verification time.
    #[error(
        "the signing certificate was not valid at {} (valid {})",
        crate::encoding::timefmt::rfc3339(*t),
        crate::encoding::timefmt::window(*not_before, *not_after)
    )]
    LeafNotValidAt {
        /// Verification time.
        t: i64,
        /// Leaf notBefore.
        not_before: i64,
        /// Leaf notAfter.
        not_after: i64,
    },
    /// The leaf lacks the code-signing usages.
    #[error("the signing certificate is not for code signing: {0}")]
    LeafUsage(&'static str),
    /// No Fulcio CA in the trusted root is valid at the time.
    #[error(
        "no certificate authority in the trusted root is valid at {}",
        crate::encoding::timefmt::rfc3339(*.0)
    )]
    NoCaAtTime(i64),
    /// The leaf does not chain to any CA valid at the time.
    #[error(
        "the certificate does not chain to a trusted certificate authority valid at {}: {reasons}",
        crate::encoding::timefmt::rfc3339(*t)
    )]
    Untrusted {
        /// Verification time.
        t: i64,
        /// Why each candidate CA failed.
        reasons: String,
    },
    /// A certificate signature uses an algorithm other than ECDSA with SHA-2.
    #[error("unsupported certificate signature algorithm {0} (only ECDSA with SHA-256/384/512)")]
    UnsupportedSignatureAlgorithm(String),
    /// A certificate signature does not verify.
    #[error("signature on {subject} does not verify: {reason}")]
    BadSignature {
        /// Which certificate.
        subject: String,
        /// The underlying error.
        reason: String,
    },
    /// A certificate has a critical extension this verifier does not understand.
    #[error("{subject} has an unsupported critical extension {oid}")]
    UnknownCriticalExtension {
        /// Which certificate.
        subject: String,
        /// The extension.
        oid: String,
    },
}

/// The chain that was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainInfo {
    /// Index of the CA in `TrustedRoot::certificate_authorities`.
    pub ca_index: usize,
    /// Certificates from the leaf to the trust anchor, DER.
    pub path: Vec<Vec<u8>>,
    /// The leaf's direct issuer (DER).
    pub issuer_der: Vec<u8>,
    /// The leaf was issued directly by a self-signed root of the trusted root, with no
    /// intermediate. Fulcio issued such leaves in May 2022 (from the root of production CA #1,
    /// `O=sigstore.dev, CN=sigstore` of 2021-10-07, SKI 58:c0:1e…) and they carry no SCT.
    pub issued_by_root: bool,
}

impl ChainInfo {
    /// Whether an embedded SCT must be present and verify for this chain.
    pub fn sct_required(&self) -> bool {
        !self.issued_by_root
    }
}

fn understood_critical(oid: &Oid) -> bool {
    [EXT_KU, EXT_SAN, EXT_BC, EXT_EKU, EXT_SKI, EXT_AKI].contains(oid)
}

fn check_critical(c: &CertInfo) -> Result<(), ChainError> {
    if let Some(e) = c.extensions.iter().find(|e| e.critical && !understood_critical(&e.oid)) {
        return Err(ChainError::UnknownCriticalExtension { subject: c.display_name(), oid: e.oid.to_string() });
    }
    Ok(())
}

/// Maximum certificates in a path (leaf included).
const MAX_PATH: usize = 6;
/// Maximum certificates taken from the CMS as candidate intermediates.
const MAX_CMS_INTERMEDIATES: usize = 8;
/// Maximum signature checks while building a path for one CA (bounds hostile certificate sets).
const MAX_SIGNATURE_CHECKS: usize = 64;

/// Verify that `leaf_der` chains, at unix time `t`, to a certificate authority of the trusted root
/// whose validity window contains `t`. Chains are built by key (AKI/SKI and signature checks),
/// never by name alone; `intermediates_from_cms` may supply intermediates but never anchors.
pub fn verify_chain(
    leaf_der: &[u8],
    intermediates_from_cms: &[Vec<u8>],
    trust: &TrustedRoot,
    t: i64,
) -> Result<ChainInfo, ChainError> {
    let leaf = CertInfo::parse(leaf_der)?;
    if !leaf.valid_at(t) {
        return Err(ChainError::LeafNotValidAt { t, not_before: leaf.not_before, not_after: leaf.not_after });
    }
    check_critical(&leaf)?;
    match leaf.key_usage {
        Some(ku) if ku & key_usage::DIGITAL_SIGNATURE != 0 => {}
        Some(_) => return Err(ChainError::LeafUsage("KeyUsage lacks digitalSignature")),
        None => return Err(ChainError::LeafUsage("no KeyUsage extension")),
    }
    if !leaf.ext_key_usage.contains(&oids::KP_CODE_SIGNING) {
        return Err(ChainError::LeafUsage("ExtendedKeyUsage lacks codeSigning"));
    }
    let cms_certs: Vec<CertInfo> = intermediates_from_cms
        .iter()
        .filter(|d| d.as_slice() != leaf_der)
        .take(MAX_CMS_INTERMEDIATES)
        .filter_map(|d| CertInfo::parse(d).ok())
        .collect();
    let mut reasons = Vec::new();
    let mut any_ca = false;
    for (ca_index, ca) in trust.certificate_authorities.iter().enumerate() {
        if !ca.valid_for.contains(t) {
            continue;
        }
        any_ca = true;
        let Some(anchor_der) = ca.chain_der.last() else {
            continue;
        };
        let ca_certs: Vec<CertInfo> = match ca.chain_der.iter().map(|d| CertInfo::parse(d)).collect() {
            Ok(v) => v,
            Err(e) => {
                reasons.push(format!("CA #{ca_index}: {e}"));
                continue;
            }
        };
        let mut pool: Vec<&CertInfo> = ca_certs.iter().collect();
        pool.extend(cms_certs.iter());
        let mut path = vec![&leaf];
        let mut budget = MAX_SIGNATURE_CHECKS;
        match build(&mut path, &pool, anchor_der, t, &mut budget) {
            Ok(()) => {
                let issuer_der = path.get(1).map(|c| c.der.clone()).unwrap_or_default();
                let issued_by_root = path.len() == 2 && path.get(1).is_some_and(|c| c.is_self_signed());
                return Ok(ChainInfo {
                    ca_index,
                    path: path.iter().map(|c| c.der.clone()).collect(),
                    issuer_der,
                    issued_by_root,
                });
            }
            Err(e) => reasons.push(format!("CA #{ca_index} ({}): {e}", ca.subject_common_name)),
        }
    }
    if !any_ca {
        return Err(ChainError::NoCaAtTime(t));
    }
    Err(ChainError::Untrusted { t, reasons: reasons.join("; ") })
}

/// Verify that `leaf` chains, at unix time `t`, to one of `authorities` whose validity window
/// contains `t` (used for timestamp authorities: no EKU or SCT rules here, the caller checks
/// the leaf's purpose). `extra` may supply intermediates but never anchors. Returns the index
/// of the authority.
pub fn verify_chain_to_authorities(
    leaf: &CertInfo,
    extra: &[Vec<u8>],
    authorities: &[crate::trust::root::CertificateAuthority],
    t: i64,
) -> Result<usize, ChainError> {
    if !leaf.valid_at(t) {
        return Err(ChainError::LeafNotValidAt { t, not_before: leaf.not_before, not_after: leaf.not_after });
    }
    check_critical(leaf)?;
    let extra: Vec<CertInfo> = extra
        .iter()
        .filter(|d| d.as_slice() != leaf.der)
        .take(MAX_CMS_INTERMEDIATES)
        .filter_map(|d| CertInfo::parse(d).ok())
        .collect();
    let mut reasons = Vec::new();
    let mut any = false;
    for (index, ca) in authorities.iter().enumerate() {
        if !ca.valid_for.contains(t) {
            continue;
        }
        any = true;
        let Some(anchor_der) = ca.chain_der.last() else {
            continue;
        };
        let ca_certs: Vec<CertInfo> = match ca.chain_der.iter().map(|d| CertInfo::parse(d)).collect() {
            Ok(v) => v,
            Err(e) => {
                reasons.push(format!("authority #{index}: {e}"));
                continue;
            }
        };
        // The leaf itself may be listed in the authority's chain (trusted roots list it first).
        let mut pool: Vec<&CertInfo> = ca_certs.iter().filter(|c| c.der != leaf.der).collect();
        pool.extend(extra.iter());
        let mut path = vec![leaf];
        let mut budget = MAX_SIGNATURE_CHECKS;
        match build(&mut path, &pool, anchor_der, t, &mut budget) {
            Ok(()) => return Ok(index),
            Err(e) => reasons.push(format!("authority #{index}: {e}")),
        }
    }
    if !any {
        return Err(ChainError::NoCaAtTime(t));
    }
    Err(ChainError::Untrusted { t, reasons: reasons.join("; ") })
}

/// Depth-first path building from `path.last()` to the anchor.
fn build<'a>(
    path: &mut Vec<&'a CertInfo>,
    pool: &[&'a CertInfo],
    anchor_der: &[u8],
    t: i64,
    budget: &mut usize,
) -> Result<(), ChainError> {
    let Some(&current) = path.last() else {
        return Err(ChainError::Untrusted { t, reasons: "empty path".into() });
    };
    if path.len() > 1 && current.der == anchor_der {
        return Ok(());
    }
    if path.len() >= MAX_PATH {
        return Err(ChainError::Untrusted { t, reasons: "path too long".into() });
    }
    let mut last_err = ChainError::Untrusted { t, reasons: format!("no issuer found for {}", current.display_name()) };
    for &cand in pool {
        if path.iter().any(|p| p.der == cand.der) || cand.subject_raw != current.issuer_raw {
            continue;
        }
        if let (Some(aki), Some(ski)) = (&current.authority_key_id, &cand.subject_key_id)
            && aki != ski
        {
            continue;
        }
        if *budget == 0 {
            return Err(ChainError::Untrusted { t, reasons: "too many candidate certificates".into() });
        }
        *budget -= 1;
        if let Err(e) = current.verify_signed_by(&cand.spki_der) {
            last_err = e;
            continue;
        }
        // `cand` will be a CA at depth path.len() (number of certificates below it, leaf included).
        if let Err(e) = check_ca(cand, path.len() - 1, t) {
            last_err = e;
            continue;
        }
        path.push(cand);
        match build(path, pool, anchor_der, t, budget) {
            Ok(()) => return Ok(()),
            Err(e) => {
                last_err = e;
                path.pop();
            }
        }
    }
    Err(last_err)
}

/// Check a CA certificate at time `t` that has `intermediates_below` CA certificates under it.
fn check_ca(c: &CertInfo, intermediates_below: usize, t: i64) -> Result<(), ChainError> {
    let name = c.display_name();
    let fail = |r: String| ChainError::Untrusted { t, reasons: r };
    if !c.valid_at(t) {
        return Err(fail(format!("{name} is not valid at {t}")));
    }
    check_critical(c)?;
    match c.basic_constraints {
        Some((true, path_len)) => {
            if let Some(max) = path_len
                && intermediates_below as u64 > max
            {
                return Err(fail(format!("{name}: path length constraint {max} exceeded")));
            }
        }
        _ => return Err(fail(format!("{name} is not a CA (basicConstraints)"))),
    }
    if let Some(ku) = c.key_usage
        && ku & key_usage::KEY_CERT_SIGN == 0
    {
        return Err(fail(format!("{name}: KeyUsage lacks keyCertSign")));
    }
    Ok(())
}

/// Why an embedded SCT check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SctError {
    /// A certificate could not be parsed.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// The leaf carries no SCT list.
    #[error("the certificate carries no embedded SCT (certificate transparency proof)")]
    Missing,
    /// The SCT list is malformed.
    #[error("malformed embedded SCT list: {0}")]
    Malformed(&'static str),
    /// No SCT was issued by a trusted CT log valid at its timestamp.
    #[error("no embedded SCT is from a trusted CT log valid at its timestamp (log ids: {0})")]
    UnknownLog(String),
    /// The SCT signature does not verify.
    #[error("the embedded SCT from log {log_id} does not verify: {reason}")]
    BadSignature {
        /// Hex log id.
        log_id: String,
        /// The underlying error.
        reason: String,
    },
}

/// One parsed SCT (RFC 6962 §3.2).
struct Sct<'a> {
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    hash_alg: u8,
    sig_alg: u8,
    signature: &'a [u8],
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SctError> {
        if self.0.len() < n {
            return Err(SctError::Malformed("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn uint(&mut self, n: usize) -> Result<u64, SctError> {
        Ok(self.take(n)?.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }
    fn vec16(&mut self) -> Result<&'a [u8], SctError> {
        let n = self.uint(2)? as usize;
        self.take(n)
    }
}

fn parse_sct_list(ext_value: &[u8]) -> Result<Vec<Sct<'_>>, SctError> {
    let inner = tlv::read_all(ext_value).map_err(|_| SctError::Malformed("not an OCTET STRING"))?;
    if inner.tag != 0x04 {
        return Err(SctError::Malformed("not an OCTET STRING"));
    }
    let mut outer = Cursor(inner.value);
    let list = outer.vec16()?;
    if !outer.0.is_empty() {
        return Err(SctError::Malformed("trailing bytes"));
    }
    let mut list = Cursor(list);
    let mut out = Vec::new();
    while !list.0.is_empty() {
        let mut c = Cursor(list.vec16()?);
        if c.uint(1)? != 0 {
            continue; // unknown SCT version: skip
        }
        let sct = Sct {
            log_id: c.take(32)?,
            timestamp_ms: c.uint(8)?,
            extensions: c.vec16()?,
            hash_alg: c.uint(1)? as u8,
            sig_alg: c.uint(1)? as u8,
            signature: c.vec16()?,
        };
        if !c.0.is_empty() {
            return Err(SctError::Malformed("trailing bytes in SCT"));
        }
        out.push(sct);
    }
    if out.is_empty() {
        return Err(SctError::Malformed("empty list"));
    }
    Ok(out)
}

/// Rebuild the precertificate TBS: the leaf TBS with the SCT-list extension removed, other
/// extensions kept in order and as received.
fn precert_tbs(tbs_raw: &[u8]) -> Result<Vec<u8>, SctError> {
    let bad = |_| SctError::Malformed("certificate TBS");
    let tbs = tlv::read_all(tbs_raw).map_err(bad)?;
    let mut content = Vec::with_capacity(tbs.value.len());
    for part in tlv::children(tbs.value).map_err(bad)? {
        if part.tag != 0xa3 {
            content.extend_from_slice(part.raw);
            continue;
        }
        let seq = tlv::read_all(part.value).map_err(bad)?;
        let mut exts = Vec::new();
        for ext in tlv::children(seq.value).map_err(bad)? {
            let (oid_t, _) = tlv::read(ext.value).map_err(bad)?;
            if tlv::oid(&oid_t).map_err(bad)? != oids::CT_PRECERT_SCTS {
                exts.extend_from_slice(ext.raw);
            }
        }
        if !exts.is_empty() {
            content.extend(tlv::encode(0xa3, &tlv::encode(0x30, &exts)));
        }
    }
    Ok(tlv::encode(0x30, &content))
}

/// Verify the leaf's embedded precertificate SCT (RFC 6962) against the CT logs of the trusted
/// root: the log is chosen by log id and its validity window must contain the SCT timestamp.
/// Succeeds when at least one SCT verifies.
pub fn verify_sct(leaf_der: &[u8], issuer_der: &[u8], trust: &TrustedRoot) -> Result<(), SctError> {
    let leaf = CertInfo::parse(leaf_der)?;
    let issuer = CertInfo::parse(issuer_der)?;
    let ext = leaf.extension(&oids::CT_PRECERT_SCTS).ok_or(SctError::Missing)?;
    let scts = parse_sct_list(&ext.value)?;
    let tbs = precert_tbs(leaf.tbs_der())?;
    if tbs.len() >= 1 << 24 {
        return Err(SctError::Malformed("TBS too large"));
    }
    let issuer_key_hash = Sha256::digest(&issuer.spki_der);
    let mut last_err = None;
    for sct in &scts {
        let ts = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
        let Some(log) = trust.ctlogs.iter().find(|l| l.log_id == sct.log_id && l.valid_for.contains(ts)) else {
            continue;
        };
        let hash = match (sct.sig_alg, sct.hash_alg) {
            (3, 4) => HashAlg::Sha256,
            (3, 5) => HashAlg::Sha384,
            (3, 6) => HashAlg::Sha512,
            _ => {
                last_err = Some(SctError::BadSignature {
                    log_id: hex::encode(sct.log_id),
                    reason: format!("unsupported algorithm (hash {}, signature {})", sct.hash_alg, sct.sig_alg),
                });
                continue;
            }
        };
        let mut signed = Vec::with_capacity(tbs.len() + 64);
        signed.push(0); // version v1
        signed.push(0); // certificate_timestamp
        signed.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&[0, 1]); // precert_entry
        signed.extend_from_slice(&issuer_key_hash);
        signed.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend_from_slice(&tbs);
        signed.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
        signed.extend_from_slice(sct.extensions);
        match pubkey::verify(&log.public_key_der, hash, &signed, sct.signature) {
            Ok(()) => return Ok(()),
            Err(e) => {
                last_err = Some(SctError::BadSignature { log_id: hex::encode(sct.log_id), reason: e.to_string() })
            }
        }
    }
    Err(last_err.unwrap_or_else(|| {
        SctError::UnknownLog(scts.iter().map(|s| hex::encode(s.log_id)).collect::<Vec<_>>().join(", "))
    }))
}

/// Decode the first `CERTIFICATE` block of a PEM text leniently (any line width) into DER.
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + pem[start..].find("-----END CERTIFICATE-----")?;
    let b64: String = pem[start..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// Hand-made certificates for tests (P-256 keys, ecdsa-with-SHA256).
#[cfg(test)]
pub(crate) mod testcert {
    use super::tlv::encode;
    use ecdsa::signature::Signer;
    use spki::EncodePublicKey;

    /// A deterministic P-256 key from a seed byte.
    pub(crate) fn key(seed: u8) -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    /// SPKI DER of a key.
    pub(crate) fn spki(k: &p256::ecdsa::SigningKey) -> Vec<u8> {
        k.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec()
    }

    /// `O=<o>, CN=<cn>` as a Name.
    pub(crate) fn name(o: &str, cn: &str) -> Vec<u8> {
        let atv = |oid: &[u8], v: &str| {
            encode(0x31, &encode(0x30, &[encode(0x06, oid), encode(0x0c, v.as_bytes())].concat()))
        };
        encode(0x30, &[atv(&[0x55, 0x04, 0x0a], o), atv(&[0x55, 0x04, 0x03], cn)].concat())
    }

    fn utc(t: i64) -> Vec<u8> {
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400);
        // civil_from_days (H. Hinnant)
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        let s = format!("{:02}{:02}{:02}{:02}{:02}{:02}Z", y % 100, m, d, secs / 3600, secs / 60 % 60, secs % 60);
        encode(0x17, s.as_bytes())
    }

    /// One extension.
    pub(crate) fn ext(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
        let mut parts = encode(0x06, oid);
        if critical {
            parts.extend_from_slice(&[0x01, 0x01, 0xff]);
        }
        parts.extend(encode(0x04, value));
        encode(0x30, &parts)
    }

    /// basicConstraints CA with an optional path length.
    pub(crate) fn bc_ca(path_len: Option<u8>) -> Vec<u8> {
        let mut v = vec![0x01, 0x01, 0xff];
        if let Some(n) = path_len {
            v.extend_from_slice(&[0x02, 0x01, n]);
        }
        ext(&[0x55, 0x1d, 0x13], true, &encode(0x30, &v))
    }

    /// keyUsage keyCertSign + cRLSign.
    pub(crate) fn ku_ca() -> Vec<u8> {
        ext(&[0x55, 0x1d, 0x0f], true, &[0x03, 0x02, 0x01, 0x06])
    }

    /// The extensions of a Fulcio-like leaf for `email`.
    pub(crate) fn leaf_exts(email: &str) -> Vec<Vec<u8>> {
        vec![
            ext(&[0x55, 0x1d, 0x0f], true, &[0x03, 0x02, 0x07, 0x80]),
            ext(&[0x55, 0x1d, 0x25], false, &encode(0x30, &encode(0x06, &[0x2b, 6, 1, 5, 5, 7, 3, 3]))),
            ext(&[0x55, 0x1d, 0x11], true, &encode(0x30, &encode(0x81, email.as_bytes()))),
            ext(&[0x2b, 6, 1, 4, 1, 0x83, 0xbf, 0x30, 1, 8], false, &encode(0x0c, b"https://issuer.example")),
        ]
    }

    /// Build and sign a certificate.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build(
        serial: u8,
        issuer: &[u8],
        subject: &[u8],
        not_before: i64,
        not_after: i64,
        subject_spki: &[u8],
        exts: &[Vec<u8>],
        signer: &p256::ecdsa::SigningKey,
    ) -> Vec<u8> {
        let alg = encode(0x30, &encode(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));
        let tbs = encode(
            0x30,
            &[
                encode(0xa0, &[0x02, 0x01, 0x02]),
                encode(0x02, &[serial]),
                alg.clone(),
                issuer.to_vec(),
                encode(0x30, &[utc(not_before), utc(not_after)].concat()),
                subject.to_vec(),
                subject_spki.to_vec(),
                encode(0xa3, &encode(0x30, &exts.concat())),
            ]
            .concat(),
        );
        let sig: p256::ecdsa::DerSignature = signer.sign(&tbs);
        let mut bits = vec![0u8];
        bits.extend_from_slice(sig.as_bytes());
        encode(0x30, &[tbs, alg, encode(0x03, &bits)].concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::root::{CertificateAuthority, ValidFor};
    use std::path::PathBuf;

    fn real() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real")
    }

    fn parse_utc(s: &str) -> i64 {
        // 2022-05-17T19:53:53Z
        let b = s.as_bytes();
        let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
        assert_eq!(b[10], b'T');
        tlv::days_from_civil(n(0..4), n(5..7), n(8..10)) * 86400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
    }

    /// (file, email, uri, issuer, not_before, not_after) per INDEX.tsv row.
    fn index() -> Vec<(String, String, String, String, i64, i64)> {
        let text = std::fs::read_to_string(real().join("INDEX.tsv")).unwrap();
        text.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0].into(), f[4].into(), f[5].into(), f[6].into(), parse_utc(f[7]), parse_utc(f[8]))
            })
            .collect()
    }

    fn leaf_of(file: &str) -> (Vec<u8>, Vec<Vec<u8>>) {
        let raw = std::fs::read(real().join(file)).unwrap();
        let kind = if file.ends_with(".tag") {
            crate::git::object::ObjectKind::Tag
        } else {
            crate::git::object::ObjectKind::Commit
        };
        let split = crate::git::object::split_object(kind, &raw).unwrap();
        let p = crate::crypto::cms::verify::parse(&crate::encoding::armor::decode(&split.signature).unwrap()).unwrap();
        (p.signer_cert_der, p.other_certs_der)
    }

    fn prod() -> &'static TrustedRoot {
        TrustedRoot::production().unwrap()
    }

    #[test]
    fn real_leaf_facts_match_the_index() {
        for (file, email, uri, issuer, nb, na) in index() {
            let (leaf, _) = leaf_of(&file);
            let c = CertInfo::parse(&leaf).unwrap();
            assert_eq!(c.fingerprint, hex::encode(Sha1::digest(&leaf)));
            assert_eq!(c.fingerprint.len(), 40);
            let want = if email.is_empty() { San::Uri(uri) } else { San::Email(email) };
            assert_eq!(c.sans, vec![want], "{file}");
            assert_eq!(c.oidc_issuer.as_deref(), Some(issuer.as_str()), "{file}");
            assert_eq!((c.not_before, c.not_after), (nb, na), "{file}");
            assert_eq!(c.subject, "");
            assert!(
                c.issuer_dn == "CN=sigstore-intermediate,O=sigstore.dev" || c.issuer_dn == "CN=sigstore,O=sigstore.dev"
            );
            assert!(c.ext_key_usage.contains(&oids::KP_CODE_SIGNING));
            if c.sans.iter().any(|s| matches!(s, San::Uri(_))) {
                assert!(c.workflow.repository.is_some() && c.workflow.sha.is_some(), "{file}");
            }
        }
    }

    #[test]
    fn real_leaves_chain_and_carry_valid_scts() {
        let mut lone = 0;
        for (file, _, _, _, nb, _) in index() {
            let (leaf, others) = leaf_of(&file);
            let chain = verify_chain(&leaf, &others, prod(), nb + 60).unwrap_or_else(|e| panic!("{file}: {e}"));
            if chain.issued_by_root {
                lone += 1;
                assert_eq!(chain.ca_index, 1);
                assert_eq!(chain.path.len(), 2);
                assert_eq!(verify_sct(&leaf, &chain.issuer_der, prod()), Err(SctError::Missing));
            } else {
                assert_eq!(chain.path.len(), 3, "{file}");
                verify_sct(&leaf, &chain.issuer_der, prod()).unwrap_or_else(|e| panic!("{file}: {e}"));
                // The SCT is bound to the issuer key.
                let wrong_issuer = chain.path.last().unwrap();
                assert!(matches!(verify_sct(&leaf, wrong_issuer, prod()), Err(SctError::BadSignature { .. })));
            }
            // Outside the leaf's validity.
            assert!(matches!(verify_chain(&leaf, &others, prod(), nb - 1), Err(ChainError::LeafNotValidAt { .. })));
        }
        assert_eq!(lone, 3, "three May-2022 leaves come straight from the 2021-10 root");
    }

    #[test]
    fn same_named_roots_are_told_apart_by_key() {
        // A May-2022 leaf issued directly by CA #1's root (O=sigstore.dev, CN=sigstore,
        // 2021-10-07). CA #0's lone root has the same name, a different key, and a window that
        // also covers May 2022: with only CA #0 the leaf must fail.
        let (file, .., nb, _) = index().into_iter().find(|r| r.0.contains("221292f7")).unwrap();
        let (leaf, _) = leaf_of(&file);
        let mut only_old = prod().clone();
        only_old.certificate_authorities.truncate(1);
        assert!(only_old.certificate_authorities[0].valid_for.contains(nb + 60));
        let root0 = CertInfo::parse(&only_old.certificate_authorities[0].chain_der[0]).unwrap();
        assert_eq!(root0.subject_raw, CertInfo::parse(&leaf).unwrap().issuer_raw);
        assert!(matches!(verify_chain(&leaf, &[], &only_old, nb + 60), Err(ChainError::Untrusted { .. })));
        // CA #0 stops vouching after 2022.
        let (file, .., nb, _) = index().into_iter().find(|r| r.0.contains("9d6c4c63")).unwrap();
        let (leaf, _) = leaf_of(&file);
        let mut only_old = prod().clone();
        only_old.certificate_authorities.truncate(1);
        assert_eq!(verify_chain(&leaf, &[], &only_old, nb + 60), Err(ChainError::NoCaAtTime(nb + 60)));
    }

    /// An SCT's extensions are opaque bytes covered by its signature: a valid SCT carrying
    /// extensions verifies, and altering them breaks the signature.
    #[test]
    fn sct_with_extensions_verifies() {
        use crate::crypto::x509::testcert::*;
        use ecdsa::signature::Signer as _;
        let (ca_key, leaf_key, log_key) = (key(41), key(42), key(43));
        let ca_name = name("ca", "ca");
        let ca = build(1, &ca_name, &ca_name, 1_000, 9_000_000_000, &spki(&ca_key), &[bc_ca(None), ku_ca()], &ca_key);
        let leaf_name = name("", "");
        let base_exts = leaf_exts("a@example.test");
        let plain = build(2, &ca_name, &leaf_name, 2_000, 3_000, &spki(&leaf_key), &base_exts, &ca_key);
        let tbs = CertInfo::parse(&plain).unwrap().tbs_der().to_vec();
        let log_spki = spki(&log_key);
        let log_id = crate::crypto::pubkey::key_id(&log_spki);
        let trust = TrustedRoot {
            ctlogs: vec![crate::trust::root::TransparencyLog {
                base_url: String::new(),
                log_id: log_id.to_vec(),
                public_key_der: log_spki,
                key_details: crate::trust::root::KEY_ECDSA_P256_SHA256.into(),
                valid_for: ValidFor::OPEN,
            }],
            ..Default::default()
        };
        let ts_ms: u64 = 2_500_000;
        let with_scts = |signed_ext: &[u8], carried_ext: &[u8]| {
            let mut signed = vec![0u8, 0];
            signed.extend_from_slice(&ts_ms.to_be_bytes());
            signed.extend_from_slice(&[0, 1]);
            signed.extend_from_slice(&Sha256::digest(spki(&ca_key)));
            signed.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
            signed.extend_from_slice(&tbs);
            signed.extend_from_slice(&(signed_ext.len() as u16).to_be_bytes());
            signed.extend_from_slice(signed_ext);
            let sig: p256::ecdsa::DerSignature = log_key.sign(&signed);
            let mut sct = vec![0u8];
            sct.extend_from_slice(&log_id);
            sct.extend_from_slice(&ts_ms.to_be_bytes());
            sct.extend_from_slice(&(carried_ext.len() as u16).to_be_bytes());
            sct.extend_from_slice(carried_ext);
            sct.extend_from_slice(&[4, 3]);
            sct.extend_from_slice(&(sig.as_bytes().len() as u16).to_be_bytes());
            sct.extend_from_slice(sig.as_bytes());
            let mut list = (sct.len() as u16).to_be_bytes().to_vec();
            list.extend(sct);
            let mut outer = (list.len() as u16).to_be_bytes().to_vec();
            outer.extend(list);
            let mut exts = base_exts.clone();
            exts.push(ext(oids::CT_PRECERT_SCTS.as_bytes(), false, &tlv::encode(0x04, &outer)));
            build(2, &ca_name, &leaf_name, 2_000, 3_000, &spki(&leaf_key), &exts, &ca_key)
        };
        let extensions = [0x00, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05];
        verify_sct(&with_scts(&[], &[]), &ca, &trust).unwrap();
        verify_sct(&with_scts(&extensions, &extensions), &ca, &trust).unwrap();
        let mut altered = extensions;
        altered[7] ^= 1;
        assert!(matches!(
            verify_sct(&with_scts(&extensions, &altered), &ca, &trust),
            Err(SctError::BadSignature { .. })
        ));
    }

    #[test]
    fn sct_needs_a_trusted_log_valid_at_its_time() {
        let (file, .., nb, _) = index().into_iter().find(|r| r.0.contains("9d6c4c63")).unwrap();
        let (leaf, _) = leaf_of(&file);
        let chain = verify_chain(&leaf, &[], prod(), nb + 60).unwrap();
        let mut no_ct = prod().clone();
        no_ct.ctlogs.clear();
        assert!(matches!(verify_sct(&leaf, &chain.issuer_der, &no_ct), Err(SctError::UnknownLog(_))));
        let mut expired = prod().clone();
        for l in &mut expired.ctlogs {
            l.valid_for = ValidFor { start: 0, end: Some(nb - 3600) };
        }
        assert!(matches!(verify_sct(&leaf, &chain.issuer_der, &expired), Err(SctError::UnknownLog(_))));
    }

    #[test]
    fn unknown_critical_extension_rejected() {
        let (file, .., nb, _) = index().into_iter().find(|r| r.0.contains("9d6c4c63")).unwrap();
        let (leaf, _) = leaf_of(&file);
        // Mark the 1.3.6.1.4.1.57264.1.8 extension critical (signature breaks too, but the
        // extension check comes first and must name it).
        let c = CertInfo::parse(&leaf).unwrap();
        let e = c.extension(&oids::FULCIO_ISSUER_V2).unwrap();
        let plain = [tlv::encode(0x06, oids::FULCIO_ISSUER_V2.as_bytes()), tlv::encode(0x04, &e.value)].concat();
        let old = tlv::encode(0x30, &plain);
        let new = tlv::encode(
            0x30,
            &[tlv::encode(0x06, oids::FULCIO_ISSUER_V2.as_bytes()), vec![1, 1, 0xff], tlv::encode(0x04, &e.value)]
                .concat(),
        );
        let pos = leaf.windows(old.len()).position(|w| w == old.as_slice()).unwrap();
        let mut tbs_children = Vec::new();
        let t = tlv::read_all(&leaf).unwrap();
        let (tbs, _) = tlv::read(t.value).unwrap();
        for k in tlv::children(tbs.value).unwrap() {
            if k.tag == 0xa3 {
                let seq = tlv::read_all(k.value).unwrap();
                let exts: Vec<u8> = tlv::children(seq.value)
                    .unwrap()
                    .iter()
                    .flat_map(|x| if x.raw == old.as_slice() { new.clone() } else { x.raw.to_vec() })
                    .collect();
                tbs_children.extend(tlv::encode(0xa3, &tlv::encode(0x30, &exts)));
            } else {
                tbs_children.extend_from_slice(k.raw);
            }
        }
        assert!(pos > 0);
        let rest = &t.value[tbs.raw.len()..];
        let mutated = tlv::encode(0x30, &[tlv::encode(0x30, &tbs_children), rest.to_vec()].concat());
        assert!(matches!(
            verify_chain(&mutated, &[], prod(), nb + 60),
            Err(ChainError::UnknownCriticalExtension { .. })
        ));
    }

    fn ca(chain: Vec<Vec<u8>>) -> CertificateAuthority {
        CertificateAuthority {
            subject_organization: "test".into(),
            subject_common_name: "test".into(),
            uri: String::new(),
            chain_der: chain,
            valid_for: ValidFor::OPEN,
        }
    }

    #[test]
    fn ca_constraints_are_enforced() {
        use testcert::*;
        let t0 = 1_700_000_000;
        let (rk, ik, lk) = (key(1), key(2), key(3));
        let rn = name("test", "root");
        let inn = name("test", "intermediate");
        let root_pl0 = build(1, &rn, &rn, t0 - 1000, t0 + 1000, &spki(&rk), &[bc_ca(Some(0)), ku_ca()], &rk);
        let root_pl1 = build(1, &rn, &rn, t0 - 1000, t0 + 1000, &spki(&rk), &[bc_ca(Some(1)), ku_ca()], &rk);
        let inter = build(2, &rn, &inn, t0 - 1000, t0 + 1000, &spki(&ik), &[bc_ca(Some(0)), ku_ca()], &rk);
        let inter_not_ca = build(2, &rn, &inn, t0 - 1000, t0 + 1000, &spki(&ik), &[ku_ca()], &rk);
        let inter_expired = build(2, &rn, &inn, t0 - 1000, t0 - 1, &spki(&ik), &[bc_ca(Some(0)), ku_ca()], &rk);
        let leaf = build(9, &inn, &[0x30, 0], t0 - 10, t0 + 590, &spki(&lk), &leaf_exts("a@example.com"), &ik);
        let trust =
            |chain: Vec<Vec<u8>>| TrustedRoot { certificate_authorities: vec![ca(chain)], ..Default::default() };

        let ok = verify_chain(&leaf, &[], &trust(vec![inter.clone(), root_pl1.clone()]), t0).unwrap();
        assert_eq!(ok.path, vec![leaf.clone(), inter.clone(), root_pl1.clone()]);
        assert!(ok.sct_required());
        assert!(matches!(
            verify_chain(&leaf, &[], &trust(vec![inter.clone(), root_pl0.clone()]), t0),
            Err(ChainError::Untrusted { .. })
        ));
        assert!(verify_chain(&leaf, &[], &trust(vec![inter_not_ca, root_pl1.clone()]), t0).is_err());
        assert!(verify_chain(&leaf, &[], &trust(vec![inter_expired, root_pl1.clone()]), t0).is_err());
        // An intermediate from the CMS may complete the path, but is never an anchor.
        assert!(verify_chain(&leaf, std::slice::from_ref(&inter), &trust(vec![root_pl1.clone()]), t0).is_ok());
        assert!(verify_chain(&leaf, &[inter.clone(), root_pl1.clone()], &TrustedRoot::default(), t0).is_err());
        assert!(matches!(
            verify_chain(&leaf, std::slice::from_ref(&inter), &trust(vec![root_pl0]), t0),
            Err(ChainError::Untrusted { .. })
        ));
        // Leaf signed directly by a lone root: no SCT needed.
        let direct = build(10, &rn, &[0x30, 0], t0 - 10, t0 + 590, &spki(&lk), &leaf_exts("a@example.com"), &rk);
        let info = verify_chain(&direct, &[], &trust(vec![root_pl1.clone()]), t0).unwrap();
        assert!(info.issued_by_root && !info.sct_required());
        // Leaf without codeSigning.
        let mut exts = leaf_exts("a@example.com");
        exts.remove(1);
        let no_eku = build(11, &rn, &[0x30, 0], t0 - 10, t0 + 590, &spki(&lk), &exts, &rk);
        assert!(matches!(
            verify_chain(&no_eku, &[], &trust(vec![root_pl1.clone()]), t0),
            Err(ChainError::LeafUsage(_))
        ));
        // A self-signed leaf is not trusted.
        let selfie = build(12, &[0x30, 0], &[0x30, 0], t0 - 10, t0 + 590, &spki(&lk), &leaf_exts("a@example.com"), &lk);
        assert!(verify_chain(&selfie, &[], &trust(vec![root_pl1]), t0).is_err());
    }

    #[test]
    fn san_forms_and_times() {
        let other = tlv::encode(
            0x30,
            &tlv::encode(
                0xa0,
                &[
                    tlv::encode(0x06, oids::FULCIO_OTHERNAME_SAN.as_bytes()),
                    tlv::encode(0xa0, &tlv::encode(0x0c, b"alice")),
                ]
                .concat(),
            ),
        );
        assert_eq!(parse_san(&other).unwrap(), vec![San::Username("alice".into())]);
        let uri = tlv::encode(0x30, &tlv::encode(0x86, b"https://x/y"));
        assert_eq!(parse_san(&uri).unwrap()[0].value(), Some("https://x/y"));
        assert!(parse_san(&[0x30, 0x00]).is_err());
        assert_eq!(tlv::time(&tlv::read_all(b"\x17\x0d700101000000Z").unwrap()).unwrap(), 0);
        assert_eq!(tlv::time(&tlv::read_all(b"\x18\x0f20380119031408Z").unwrap()).unwrap(), 2_147_483_648);
        assert!(tlv::time(&tlv::read_all(b"\x17\x0d701301000000Z").unwrap()).is_err());
        assert_eq!(parse_key_usage(&[0x03, 0x02, 0x07, 0x80]).unwrap(), key_usage::DIGITAL_SIGNATURE);
        assert_eq!(
            parse_key_usage(&[0x03, 0x02, 0x01, 0x06]).unwrap() & key_usage::KEY_CERT_SIGN,
            key_usage::KEY_CERT_SIGN
        );
        assert!(CertInfo::parse(&[0x30, 0x03, 0x02, 0x01, 0x01]).is_err());
    }
}
