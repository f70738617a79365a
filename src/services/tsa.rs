//! RFC 3161 timestamps (gitsign-compat §10): the request for a signature's timestamp, the
//! client, parsing of responses and tokens, and verification of a token against trusted
//! timestamp authorities.
//!
//! Signing: `TimeStampReq { version 1, messageImprint { sha256, SHA-256(SignerInfo.signature) },
//! nonce (128 random bits), certReq TRUE }` is POSTed to `gitsign.timestampServerURL`; the
//! response's status, imprint and nonce are checked and the token (a CMS ContentInfo) becomes
//! the unsigned attribute id-aa-timeStampToken (1.2.840.113549.1.9.16.2.14).
//!
//! Verification: the token's SignedData signature, the signer's ExtendedKeyUsage timeStamping,
//! its chain to a trusted TSA (the `gitsign.timestampCertChain` PEM chain when configured,
//! otherwise the trusted root's `timestampAuthorities` whose `validFor` contains genTime),
//! TSTInfo version 1 and the imprint. A token with no trusted TSA fails closed. Tokens are read
//! as DER (responses and tokens in BER are rejected as malformed).
use crate::app::config::Config;
use crate::crypto::pubkey::{self, HashAlg};
use crate::crypto::x509::tlv::{self, Tlv, TlvError};
use crate::crypto::x509::{self, CertInfo};
use crate::encoding::oids;
use crate::trust::root::{CertificateAuthority, TrustError, TrustedRoot, ValidFor};
use const_oid::ObjectIdentifier as Oid;
use sha2::{Digest, Sha256};

/// id-ct-TSTInfo, the eContentType of a timestamp token.
pub const ID_CT_TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// id-kp-timeStamping.
pub const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
/// id-aa-signingCertificateV2 (ESS, RFC 5035).
pub const SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// Largest timestamp response read (bytes).
pub const MAX_RESPONSE: u64 = 1 << 20;
/// Media type of a request.
pub const QUERY_MEDIA_TYPE: &str = "application/timestamp-query";
/// Media type of a response.
pub const REPLY_MEDIA_TYPE: &str = "application/timestamp-reply";

/// Why a timestamp could not be obtained or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsaError {
    /// The TSA could not be reached.
    #[error(
        "cannot reach the timestamp authority at {url}: {reason}\n  (check gitsign.timestampServerURL / GITSIGN_TIMESTAMP_SERVER_URL, or unset it to sign without an RFC 3161 timestamp; nothing was signed)"
    )]
    Unreachable {
        /// The TSA URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The TSA answered with an HTTP error.
    #[error(
        "the timestamp authority at {url} answered HTTP {status}: {body}\n  (check gitsign.timestampServerURL; nothing was signed)"
    )]
    Http {
        /// The TSA URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// The TSA answered with something other than a timestamp reply.
    #[error(
        "the timestamp authority at {url} answered with Content-Type {got:?}, not {REPLY_MEDIA_TYPE}: is gitsign.timestampServerURL an RFC 3161 endpoint?"
    )]
    ContentType {
        /// The TSA URL.
        url: String,
        /// The Content-Type received.
        got: String,
    },
    /// The TSA refused to timestamp.
    #[error("the timestamp authority refused the request: PKIStatus {status}{text}")]
    Rejected {
        /// PKIStatus (0 granted, 1 grantedWithMods, 2 rejection, 3 waiting, 4/5 revocation).
        status: u64,
        /// statusString and failInfo, when given.
        text: String,
    },
    /// A structure is not the DER expected.
    #[error("malformed RFC 3161 {what}: {reason}")]
    Malformed {
        /// Which structure.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The token timestamps other data.
    #[error("the timestamp token is for other data: its message imprint does not match the signature")]
    ImprintMismatch,
    /// The response does not carry our nonce.
    #[error("the timestamp response does not carry the request's nonce (a replayed or mixed-up response)")]
    NonceMismatch,
    /// TSTInfo version other than 1.
    #[error("unsupported TSTInfo version {0} (only version 1 exists)")]
    Version(u64),
    /// A hash or signature algorithm this crate does not check.
    #[error("unsupported algorithm {0} in the timestamp token")]
    UnsupportedAlgorithm(String),
    /// The token's CMS signature or its binding to the TSTInfo fails.
    #[error("the timestamp token's signature does not verify: {0}")]
    BadSignature(String),
    /// The signer certificate is in neither the token nor the trusted chains.
    #[error("the timestamp token's signer certificate is neither in the token nor in a trusted TSA chain")]
    NoSignerCertificate,
    /// The signer is not a timestamping certificate.
    #[error("the timestamp token's signer certificate is not for timestamping (ExtendedKeyUsage lacks timeStamping)")]
    NotTimestamping,
    /// genTime outside the TSA certificate's validity.
    #[error(
        "the timestamp's time {} is outside the TSA certificate validity ({})",
        crate::encoding::timefmt::rfc3339(*gen_time),
        crate::encoding::timefmt::window(*not_before, *not_after)
    )]
    TsaCertificateNotValid {
        /// genTime.
        gen_time: i64,
        /// TSA leaf notBefore.
        not_before: i64,
        /// TSA leaf notAfter.
        not_after: i64,
    },
    /// A token is present but no TSA is trusted.
    #[error(
        "the signature carries an RFC 3161 timestamp, but no timestamp authority is trusted, so it cannot be checked (failing closed)\n  (set gitsign.timestampCertChain / GITSIGN_TIMESTAMP_CERT_CHAIN to the TSA's PEM certificate chain, or use a trusted root listing it in timestampAuthorities)"
    )]
    NoTrustedTsa,
    /// The TSA does not chain to a trusted TSA.
    #[error(
        "the timestamp authority is not trusted at {}: {reasons}\n  (check gitsign.timestampCertChain / GITSIGN_TIMESTAMP_CERT_CHAIN and the trusted root's timestampAuthorities)",
        crate::encoding::timefmt::rfc3339(*gen_time)
    )]
    Untrusted {
        /// genTime.
        gen_time: i64,
        /// Why each candidate failed.
        reasons: String,
    },
    /// More than one token on the signer.
    #[error("the signature carries {0} timestamp tokens; refusing an ambiguous signature")]
    Ambiguous(usize),
    /// The configured chain cannot be used.
    #[error(
        "the timestamp certificate chain {path} cannot be used: {reason}\n  (gitsign.timestampCertChain / GITSIGN_TIMESTAMP_CERT_CHAIN must be a PEM file: the TSA certificate, intermediates, and the root)"
    )]
    Chain {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

fn malformed(what: &'static str) -> impl Fn(TlvError) -> TsaError {
    move |e| TsaError::Malformed { what, reason: e.to_string() }
}

fn bad(what: &'static str, reason: impl Into<String>) -> TsaError {
    TsaError::Malformed { what, reason: reason.into() }
}

/// The hash of an AlgorithmIdentifier (parameters absent or NULL).
fn hash_of_alg(alg: &Tlv<'_>, what: &'static str) -> Result<(Oid, HashAlg), TsaError> {
    if alg.tag != 0x30 {
        return Err(bad(what, "AlgorithmIdentifier is not a SEQUENCE"));
    }
    let (o, params) = tlv::read(alg.value).map_err(malformed(what))?;
    let oid = tlv::oid(&o).map_err(malformed(what))?;
    if !(params.is_empty() || params == [0x05, 0x00]) {
        return Err(bad(what, "unexpected algorithm parameters"));
    }
    let h = if oid == oids::SHA256 {
        HashAlg::Sha256
    } else if oid == oids::SHA384 {
        HashAlg::Sha384
    } else if oid == oids::SHA512 {
        HashAlg::Sha512
    } else {
        return Err(TsaError::UnsupportedAlgorithm(oid.to_string()));
    };
    Ok((oid, h))
}

/// The input with indefinite (BER) lengths made definite; definite-length elements keep their
/// bytes, so signatures over them still verify. DER input is returned unchanged.
fn definite<'a>(input: &'a [u8], what: &'static str) -> Result<std::borrow::Cow<'a, [u8]>, TsaError> {
    match tlv::read_all(input) {
        Err(TlvError::Indefinite) => {
            let (converted, used) = crate::crypto::cms::verify::ber_to_definite(input, 0).map_err(malformed(what))?;
            if used != input.len() {
                return Err(bad(what, "trailing bytes"));
            }
            Ok(std::borrow::Cow::Owned(converted))
        }
        _ => Ok(std::borrow::Cow::Borrowed(input)),
    }
}

/// INTEGER content octets without redundant leading zeros (for value comparison).
fn int_value(content: &[u8]) -> &[u8] {
    let skip = content.iter().take_while(|&&b| b == 0).count();
    &content[skip..]
}

/// DER INTEGER from unsigned big-endian bytes.
fn uint(bytes: &[u8]) -> Vec<u8> {
    let b = int_value(bytes);
    let mut content = Vec::with_capacity(b.len() + 1);
    if b.first().is_none_or(|&x| x & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(b);
    tlv::encode(0x02, &content)
}

/// A DER TimeStampReq for a SHA-256 imprint: version 1, the imprint, `nonce` (an unsigned
/// big-endian integer), certReq TRUE.
pub fn build_request(imprint: &[u8; 32], nonce: &[u8]) -> Vec<u8> {
    let alg = tlv::encode(0x30, &tlv::encode(0x06, oids::SHA256.as_bytes()));
    let message_imprint = tlv::encode(0x30, &[alg, tlv::encode(0x04, imprint)].concat());
    let body = [tlv::encode(0x02, &[1]), message_imprint, uint(nonce), tlv::encode(0x01, &[0xff])].concat();
    tlv::encode(0x30, &body)
}

/// A parsed TSTInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TstInfo {
    /// Version (1).
    pub version: u64,
    /// The TSA policy.
    pub policy: Oid,
    /// Hash algorithm of the imprint.
    pub imprint_alg: HashAlg,
    /// The hashed message.
    pub imprint: Vec<u8>,
    /// Serial number content octets.
    pub serial: Vec<u8>,
    /// genTime, unix seconds (fractions dropped).
    pub gen_time: i64,
    /// Nonce content octets, when present.
    pub nonce: Option<Vec<u8>>,
}

/// GeneralizedTime as RFC 3161 allows it: `YYYYMMDDHHMMSS[.f+]Z`; fractions are dropped.
fn gen_time(t: &Tlv<'_>) -> Result<i64, TsaError> {
    if t.tag != 0x18 {
        return Err(bad("TSTInfo", "genTime is not a GeneralizedTime"));
    }
    let v = t.value;
    let whole = match v.iter().position(|&b| b == b'.') {
        Some(14) if v.last() == Some(&b'Z') && v.len() > 16 && v[15..v.len() - 1].iter().all(u8::is_ascii_digit) => {
            [&v[..14], b"Z"].concat()
        }
        Some(_) => return Err(bad("TSTInfo", "malformed genTime fraction")),
        None => v.to_vec(),
    };
    let encoded = tlv::encode(0x18, &whole);
    let parsed = tlv::read_all(&encoded).map_err(malformed("TSTInfo genTime"))?;
    tlv::time(&parsed).map_err(malformed("TSTInfo genTime"))
}

/// Parse a DER TSTInfo.
pub fn parse_tst_info(der: &[u8]) -> Result<TstInfo, TsaError> {
    let m = malformed("TSTInfo");
    let outer = tlv::read_all(der).map_err(&m)?;
    if outer.tag != 0x30 {
        return Err(bad("TSTInfo", "not a SEQUENCE"));
    }
    let items = tlv::children(outer.value).map_err(&m)?;
    let mut it = items.iter();
    let mut next = |what: &str| it.next().copied().ok_or_else(|| bad("TSTInfo", format!("missing {what}")));
    let version = tlv::small_uint(&next("version")?).map_err(&m)?;
    let policy = tlv::oid(&next("policy")?).map_err(&m)?;
    let mi = next("messageImprint")?;
    let (imprint_alg, imprint) = parse_imprint(&mi)?;
    let serial = next("serialNumber")?;
    if serial.tag != 0x02 || serial.value.is_empty() {
        return Err(bad("TSTInfo", "serialNumber is not an INTEGER"));
    }
    let gtime = gen_time(&next("genTime")?)?;
    let mut nonce = None;
    for t in it {
        match t.tag {
            0x30 | 0x01 | 0xa0 | 0xa1 => {} // accuracy, ordering, tsa, extensions
            0x02 if nonce.is_none() => nonce = Some(t.value.to_vec()),
            other => return Err(bad("TSTInfo", format!("unexpected element with tag 0x{other:02x}"))),
        }
    }
    Ok(TstInfo { version, policy, imprint_alg, imprint, serial: serial.value.to_vec(), gen_time: gtime, nonce })
}

fn parse_imprint(mi: &Tlv<'_>) -> Result<(HashAlg, Vec<u8>), TsaError> {
    if mi.tag != 0x30 {
        return Err(bad("messageImprint", "not a SEQUENCE"));
    }
    let parts = tlv::children(mi.value).map_err(malformed("messageImprint"))?;
    let [alg, hashed] = parts.as_slice() else {
        return Err(bad("messageImprint", "expected hashAlgorithm and hashedMessage"));
    };
    let (_, h) = hash_of_alg(alg, "messageImprint")?;
    if hashed.tag != 0x04 || hashed.value.len() != h.digest(b"").len() {
        return Err(bad("messageImprint", "hashedMessage has the wrong type or length"));
    }
    Ok((h, hashed.value.to_vec()))
}

/// A parsed timestamp token (CMS SignedData over a TSTInfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The TSTInfo.
    pub tst: TstInfo,
    /// The TSTInfo DER (eContent).
    pub tst_der: Vec<u8>,
    /// Certificates carried in the token (DER).
    pub certs: Vec<Vec<u8>>,
    /// sid: issuer Name DER (issuerAndSerialNumber) …
    sid_issuer: Option<Vec<u8>>,
    /// … and serial number content octets; or subjectKeyIdentifier.
    sid_serial: Vec<u8>,
    sid_ski: Option<Vec<u8>>,
    digest_alg: HashAlg,
    signed_attrs: Vec<u8>,
    content_type: Option<Oid>,
    message_digest: Option<Vec<u8>>,
    ess_cert_hash: Option<(HashAlg, Vec<u8>)>,
    sig_alg: Oid,
    signature: Vec<u8>,
}

/// Parse a DER TimeStampToken (ContentInfo { signedData, SignedData { … id-ct-TSTInfo … } }).
pub fn parse_token(der: &[u8]) -> Result<Token, TsaError> {
    let m = malformed("timestamp token");
    let der = definite(der, "timestamp token")?;
    let ci = tlv::read_all(&der).map_err(&m)?;
    let ci_parts = tlv::children(ci.value).map_err(&m)?;
    let [ct, content] = ci_parts.as_slice() else {
        return Err(bad("timestamp token", "ContentInfo is not { contentType, [0] content }"));
    };
    if ci.tag != 0x30 || tlv::oid(ct).map_err(&m)? != oids::SIGNED_DATA || content.tag != 0xa0 {
        return Err(bad("timestamp token", "not a CMS SignedData ContentInfo"));
    }
    let sd = tlv::read_all(content.value).map_err(&m)?;
    if sd.tag != 0x30 {
        return Err(bad("timestamp token", "SignedData is not a SEQUENCE"));
    }
    let items = tlv::children(sd.value).map_err(&m)?;
    let mut it = items.iter().peekable();
    let mut take = |tag: u8, what: &'static str| -> Result<Tlv<'_>, TsaError> {
        match it.next() {
            Some(t) if t.tag == tag => Ok(*t),
            _ => Err(bad("timestamp token", format!("missing or misplaced {what}"))),
        }
    };
    take(0x02, "SignedData version")?;
    take(0x31, "digestAlgorithms")?;
    let encap = take(0x30, "encapContentInfo")?;
    let mut certs = Vec::new();
    let mut signer_infos = None;
    for t in it {
        match t.tag {
            0xa0 => {
                for c in tlv::children(t.value).map_err(&m)? {
                    if c.tag == 0x30 {
                        certs.push(c.raw.to_vec());
                    }
                }
            }
            0xa1 => {}
            0x31 if signer_infos.is_none() => signer_infos = Some(t),
            _ => return Err(bad("timestamp token", "unexpected SignedData element")),
        }
    }
    let encap_parts = tlv::children(encap.value).map_err(&m)?;
    let [etype, econtent] = encap_parts.as_slice() else {
        return Err(bad("timestamp token", "encapContentInfo has no content"));
    };
    if tlv::oid(etype).map_err(&m)? != ID_CT_TST_INFO {
        return Err(bad("timestamp token", "eContentType is not id-ct-TSTInfo"));
    }
    let os = (econtent.tag == 0xa0).then(|| tlv::read_all(econtent.value)).transpose().map_err(&m)?;
    let tst_der = match os {
        Some(o) if o.tag == 0x04 => o.value.to_vec(),
        _ => return Err(bad("timestamp token", "eContent is not [0] OCTET STRING")),
    };
    let tst = parse_tst_info(&tst_der)?;

    let infos =
        tlv::children(signer_infos.ok_or_else(|| bad("timestamp token", "no signerInfos"))?.value).map_err(&m)?;
    let [si] = infos.as_slice() else {
        return Err(bad("timestamp token", format!("{} SignerInfos (exactly one expected)", infos.len())));
    };
    let fields = tlv::children(si.value).map_err(&m)?;
    let [_version, sid, digest_alg, attrs, sig_alg, signature, ..] = fields.as_slice() else {
        return Err(bad("timestamp token", "SignerInfo is incomplete"));
    };
    let (mut sid_issuer, mut sid_serial, mut sid_ski) = (None, Vec::new(), None);
    match sid.tag {
        0x30 => {
            let p = tlv::children(sid.value).map_err(&m)?;
            let [issuer, serial] = p.as_slice() else {
                return Err(bad("timestamp token", "malformed issuerAndSerialNumber"));
            };
            sid_issuer = Some(issuer.raw.to_vec());
            sid_serial = serial.value.to_vec();
        }
        0x80 => sid_ski = Some(sid.value.to_vec()),
        _ => return Err(bad("timestamp token", "malformed SignerIdentifier")),
    }
    let (_, digest_alg) = hash_of_alg(digest_alg, "SignerInfo digestAlgorithm")?;
    if attrs.tag != 0xa0 {
        return Err(bad("timestamp token", "SignerInfo has no signed attributes"));
    }
    let mut signed_attrs = attrs.raw.to_vec();
    signed_attrs[0] = 0x31;
    let (mut content_type, mut message_digest, mut ess_cert_hash) = (None, None, None);
    for a in tlv::children(attrs.value).map_err(&m)? {
        let p = tlv::children(a.value).map_err(&m)?;
        let [aoid, values] = p.as_slice() else {
            return Err(bad("timestamp token", "malformed attribute"));
        };
        let aoid = tlv::oid(aoid).map_err(&m)?;
        let vals = tlv::children(values.value).map_err(&m)?;
        let single = || match vals.as_slice() {
            [v] => Ok(*v),
            _ => Err(bad("timestamp token", format!("attribute {aoid} must have exactly one value"))),
        };
        if aoid == oids::CONTENT_TYPE {
            if content_type.replace(tlv::oid(&single()?).map_err(&m)?).is_some() {
                return Err(bad("timestamp token", "duplicate contentType attribute"));
            }
        } else if aoid == oids::MESSAGE_DIGEST {
            let v = single()?;
            if v.tag != 0x04 || message_digest.replace(v.value.to_vec()).is_some() {
                return Err(bad("timestamp token", "malformed or duplicate messageDigest attribute"));
            }
        } else if aoid == SIGNING_CERTIFICATE_V2 {
            ess_cert_hash = Some(ess_first_cert_hash(&single()?)?);
        }
    }
    let sig_alg = alg_oid(sig_alg)?;
    if signature.tag != 0x04 {
        return Err(bad("timestamp token", "signature is not an OCTET STRING"));
    }
    Ok(Token {
        tst,
        tst_der,
        certs,
        sid_issuer,
        sid_serial,
        sid_ski,
        digest_alg,
        signed_attrs,
        content_type,
        message_digest,
        ess_cert_hash,
        sig_alg,
        signature: signature.value.to_vec(),
    })
}

fn alg_oid(alg: &Tlv<'_>) -> Result<Oid, TsaError> {
    if alg.tag != 0x30 {
        return Err(bad("timestamp token", "signatureAlgorithm is not a SEQUENCE"));
    }
    let (o, _) = tlv::read(alg.value).map_err(malformed("signatureAlgorithm"))?;
    tlv::oid(&o).map_err(malformed("signatureAlgorithm"))
}

/// The first ESSCertIDv2 of a SigningCertificateV2: hash algorithm (default SHA-256) and hash.
fn ess_first_cert_hash(v: &Tlv<'_>) -> Result<(HashAlg, Vec<u8>), TsaError> {
    let m = malformed("signingCertificateV2");
    let certs = tlv::children(v.value).map_err(&m)?;
    let first_list = certs.first().ok_or_else(|| bad("signingCertificateV2", "empty"))?;
    let ids = tlv::children(first_list.value).map_err(&m)?;
    let id = ids.first().ok_or_else(|| bad("signingCertificateV2", "no ESSCertIDv2"))?;
    let parts = tlv::children(id.value).map_err(&m)?;
    match parts.as_slice() {
        [alg, hash, ..] if alg.tag == 0x30 && hash.tag == 0x04 => {
            Ok((hash_of_alg(alg, "signingCertificateV2")?.1, hash.value.to_vec()))
        }
        [hash, ..] if hash.tag == 0x04 => Ok((HashAlg::Sha256, hash.value.to_vec())),
        _ => Err(bad("signingCertificateV2", "malformed ESSCertIDv2")),
    }
}

/// Parse a DER TimeStampResp answering a request for `imprint` (SHA-256) with `nonce`: the
/// status must be granted (0) or grantedWithMods (1), and the token must carry the same
/// imprint and nonce. Returns the token (ContentInfo DER).
pub fn parse_response(der: &[u8], imprint: &[u8], nonce: &[u8]) -> Result<Vec<u8>, TsaError> {
    let m = malformed("timestamp response");
    let der = definite(der, "timestamp response")?;
    let resp = tlv::read_all(&der).map_err(&m)?;
    if resp.tag != 0x30 {
        return Err(bad("timestamp response", "not a SEQUENCE"));
    }
    let parts = tlv::children(resp.value).map_err(&m)?;
    let status_info =
        parts.first().filter(|t| t.tag == 0x30).ok_or_else(|| bad("timestamp response", "no PKIStatusInfo"))?;
    let si = tlv::children(status_info.value).map_err(&m)?;
    let status =
        tlv::small_uint(si.first().ok_or_else(|| bad("timestamp response", "empty PKIStatusInfo"))?).map_err(&m)?;
    if status > 1 {
        let mut text = String::new();
        for t in &si[1..] {
            match t.tag {
                0x30 => {
                    for s in tlv::children(t.value).unwrap_or_default() {
                        text.push_str(&format!(" ({})", String::from_utf8_lossy(s.value)));
                    }
                }
                0x03 => text.push_str(&format!(" [failInfo {}]", hex::encode(t.value))),
                _ => {}
            }
        }
        return Err(TsaError::Rejected { status, text });
    }
    let token = match parts.as_slice() {
        [_, token] => token,
        _ => return Err(bad("timestamp response", "granted without exactly one token")),
    };
    let parsed = parse_token(token.raw)?;
    if parsed.tst.imprint_alg != HashAlg::Sha256 || parsed.tst.imprint != imprint {
        return Err(TsaError::ImprintMismatch);
    }
    if parsed.tst.nonce.as_deref().map(int_value) != Some(int_value(nonce)) {
        return Err(TsaError::NonceMismatch);
    }
    Ok(token.raw.to_vec())
}

/// The token of a timestamp as stored: a bare token (ContentInfo, as in a CMS unsigned
/// attribute) is returned as is; a TimeStampResp (as a Sigstore bundle's `signedTimestamp`)
/// must have a granted status and exactly one token, which is returned.
pub fn token_of(der: &[u8]) -> Result<Vec<u8>, TsaError> {
    let m = malformed("timestamp");
    let outer = tlv::read_all(der).map_err(&m)?;
    if outer.tag != 0x30 {
        return Err(bad("timestamp", "not a SEQUENCE"));
    }
    let parts = tlv::children(outer.value).map_err(&m)?;
    match parts.first().map(|t| t.tag) {
        Some(0x06) => Ok(der.to_vec()),
        Some(0x30) => {
            let si = tlv::children(parts[0].value).map_err(&m)?;
            let status = tlv::small_uint(si.first().ok_or_else(|| bad("timestamp response", "empty PKIStatusInfo"))?)
                .map_err(&m)?;
            if status > 1 {
                return Err(TsaError::Rejected { status, text: String::new() });
            }
            match parts.as_slice() {
                [_, token] => Ok(token.raw.to_vec()),
                _ => Err(bad("timestamp response", "granted without exactly one token")),
            }
        }
        _ => Err(bad("timestamp", "neither a TimeStampResp nor a token")),
    }
}

/// Obtain a timestamp token for a SignerInfo signature from the TSA at `url`.
pub fn fetch_token(http: &reqwest::blocking::Client, url: &str, signature: &[u8]) -> Result<Vec<u8>, TsaError> {
    let imprint: [u8; 32] = Sha256::digest(signature).into();
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce)
        .map_err(|e| TsaError::Unreachable { url: url.into(), reason: format!("no randomness for the nonce: {e}") })?;
    let request = build_request(&imprint, &nonce);
    let resp = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, QUERY_MEDIA_TYPE)
        .header(reqwest::header::ACCEPT, REPLY_MEDIA_TYPE)
        .body(request)
        .send()
        .map_err(|e| TsaError::Unreachable { url: url.into(), reason: crate::services::http::error_chain(&e) })?;
    let status = resp.status().as_u16();
    let content_type =
        resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = crate::services::http::read_limited(resp, MAX_RESPONSE).map_err(|e| TsaError::Unreachable {
        url: url.into(),
        reason: match e {
            crate::services::http::BodyError::TooLarge(n) => format!("response larger than {n} bytes"),
            crate::services::http::BodyError::Read(r) => r,
        },
    })?;
    if !(200..300).contains(&status) {
        let shown: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        return Err(TsaError::Http { url: url.into(), status, body: shown });
    }
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(REPLY_MEDIA_TYPE) {
        return Err(TsaError::ContentType { url: url.into(), got: content_type });
    }
    parse_response(&body, &imprint, &nonce)
}

/// The token for a signature when `gitsign.timestampServerURL` is set, else `None`. When the
/// trusted root (or `gitsign.timestampCertChain`) names timestamp authorities, the token must
/// verify against them, as a verifier will check it; with none trusted it is embedded as
/// received (verifiers then fail closed until a TSA chain is configured).
pub fn token_for_signature(cfg: &Config, trust: &TrustedRoot, signature: &[u8]) -> Result<Option<Vec<u8>>, TsaError> {
    let Some(url) = cfg.timestamp_server_url.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    let http = crate::services::http::client(&cfg.http_options())
        .map_err(|e| TsaError::Unreachable { url: url.into(), reason: e.to_string() })?;
    let token = fetch_token(&http, url, signature)?;
    if !trust.timestamp_authorities.is_empty() {
        verify_token(&token, signature, trust)?;
    }
    Ok(Some(token))
}

/// A timestamp authority from a PEM chain (TSA certificate, intermediates, root last), with no
/// validity window, as `gitsign.timestampCertChain` gives it.
pub fn authority_from_pem(pem: &str, path: &str) -> Result<CertificateAuthority, TsaError> {
    let err = |reason: String| TsaError::Chain { path: path.into(), reason };
    let certs = crate::services::fulcio::pem_certificates(pem).map_err(err)?;
    let Some(last) = certs.last() else {
        return Err(err("no certificate".into()));
    };
    let root = CertInfo::parse(last).map_err(|e| err(e.to_string()))?;
    if !root.is_self_signed() {
        return Err(err("the last certificate is not a self-signed root".into()));
    }
    for c in &certs {
        CertInfo::parse(c).map_err(|e| err(e.to_string()))?;
    }
    Ok(CertificateAuthority {
        subject_organization: String::new(),
        subject_common_name: String::new(),
        uri: String::new(),
        chain_der: certs,
        valid_for: ValidFor::OPEN,
    })
}

/// `gitsign.timestampCertChain`: when configured, its chain becomes the only trusted timestamp
/// authority (replacing the trusted root's `timestampAuthorities`).
pub fn with_configured_chain(mut root: TrustedRoot, cfg: &Config) -> Result<TrustedRoot, TrustError> {
    let Some(path) = cfg.timestamp_cert_chain.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(root);
    };
    let pem =
        std::fs::read_to_string(path).map_err(|e| TrustError::Read { path: path.into(), reason: e.to_string() })?;
    let ca = authority_from_pem(&pem, path).map_err(|e| TrustError::Pem(e.to_string()))?;
    root.timestamp_authorities = vec![ca];
    Ok(root)
}

/// What a verified token establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// genTime, unix seconds.
    pub gen_time: i64,
    /// Index of the TSA in `TrustedRoot::timestamp_authorities`.
    pub tsa_index: usize,
}

/// Verify a timestamp token over a SignerInfo `signature` against the trusted TSAs.
pub fn verify_token(token_der: &[u8], signature: &[u8], trust: &TrustedRoot) -> Result<VerifiedTimestamp, TsaError> {
    if trust.timestamp_authorities.is_empty() {
        return Err(TsaError::NoTrustedTsa);
    }
    let token = parse_token(token_der)?;
    if token.tst.version != 1 {
        return Err(TsaError::Version(token.tst.version));
    }
    if token.tst.imprint != token.tst.imprint_alg.digest(signature) {
        return Err(TsaError::ImprintMismatch);
    }
    // The signed attributes bind the TSTInfo.
    if token.content_type != Some(ID_CT_TST_INFO) {
        return Err(TsaError::BadSignature("the contentType attribute is not id-ct-TSTInfo".into()));
    }
    if token.message_digest.as_deref() != Some(token.digest_alg.digest(&token.tst_der).as_slice()) {
        return Err(TsaError::BadSignature("the messageDigest attribute does not match the TSTInfo".into()));
    }
    // The signer: in the token, or in a trusted chain.
    let mut pool: Vec<&[u8]> = token.certs.iter().map(Vec::as_slice).collect();
    pool.extend(trust.timestamp_authorities.iter().flat_map(|a| a.chain_der.iter().map(Vec::as_slice)));
    let signer = pool
        .iter()
        .filter_map(|d| CertInfo::parse(d).ok())
        .find(|c| match (&token.sid_issuer, &token.sid_ski) {
            (Some(issuer), _) => c.issuer_raw == *issuer && int_value(&c.serial) == int_value(&token.sid_serial),
            (None, Some(ski)) => c.subject_key_id.as_ref() == Some(ski),
            (None, None) => false,
        })
        .ok_or(TsaError::NoSignerCertificate)?;
    let hash = HashAlg::from_ecdsa_sig_oid(&token.sig_alg)
        .ok_or_else(|| TsaError::UnsupportedAlgorithm(token.sig_alg.to_string()))?;
    pubkey::verify(&signer.spki_der, hash, &token.signed_attrs, &token.signature)
        .map_err(|e| TsaError::BadSignature(e.to_string()))?;
    if let Some((alg, h)) = &token.ess_cert_hash
        && alg.digest(&signer.der) != *h
    {
        return Err(TsaError::BadSignature("signingCertificateV2 names another certificate".into()));
    }
    if !signer.ext_key_usage.contains(&KP_TIME_STAMPING) {
        return Err(TsaError::NotTimestamping);
    }
    let gtime = token.tst.gen_time;
    if !signer.valid_at(gtime) {
        return Err(TsaError::TsaCertificateNotValid {
            gen_time: gtime,
            not_before: signer.not_before,
            not_after: signer.not_after,
        });
    }
    let extra: Vec<Vec<u8>> = token.certs.clone();
    let tsa_index = x509::verify_chain_to_authorities(&signer, &extra, &trust.timestamp_authorities, gtime)
        .map_err(|e| TsaError::Untrusted { gen_time: gtime, reasons: e.to_string() })?;
    Ok(VerifiedTimestamp { gen_time: gtime, tsa_index })
}

/// Why the RFC 3161 timestamps of a signature do not establish its time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// A token does not verify.
    #[error("RFC 3161 timestamp #{} does not verify: {err}", index + 1)]
    Token {
        /// Position of the token (from 0).
        index: usize,
        /// Why.
        err: TsaError,
    },
    /// The signing certificate was not valid at a token's time.
    #[error(
        "the signature was timestamped at {}, outside the signing certificate's validity ({}): it was not made while the certificate was valid",
        crate::encoding::timefmt::rfc3339(*t),
        crate::encoding::timefmt::window(*not_before, *not_after)
    )]
    CertNotValidAt {
        /// The token's time.
        t: i64,
        /// notBefore.
        not_before: i64,
        /// notAfter.
        not_after: i64,
    },
}

/// Verify every token (or TimeStampResp, [`token_of`]) over `signature` against the trusted TSAs
/// ([`verify_token`]) and, when
/// given, that the signing certificate was valid at each token's time. Returns the times, in
/// the tokens' order.
pub fn verify_all(
    tokens: &[Vec<u8>],
    signature: &[u8],
    cert: Option<&CertInfo>,
    trust: &TrustedRoot,
) -> Result<Vec<i64>, TimestampError> {
    let mut times = Vec::with_capacity(tokens.len());
    for (index, token) in tokens.iter().enumerate() {
        let v = token_of(token)
            .and_then(|t| verify_token(&t, signature, trust))
            .map_err(|err| TimestampError::Token { index, err })?;
        if let Some(c) = cert
            && !c.valid_at(v.gen_time)
        {
            return Err(TimestampError::CertNotValidAt {
                t: v.gen_time,
                not_before: c.not_before,
                not_after: c.not_after,
            });
        }
        times.push(v.gen_time);
    }
    Ok(times)
}

#[cfg(test)]
pub(crate) mod testtsa {
    //! A TSA for tests: a root and a timestamping leaf, and tokens made to order.
    use super::*;
    use crate::crypto::x509::testcert::*;
    use ecdsa::signature::Signer;

    pub(crate) struct TestTsa {
        pub root: Vec<u8>,
        pub leaf: Vec<u8>,
        pub key: p256::ecdsa::SigningKey,
    }

    fn eku_ts(critical: bool) -> Vec<u8> {
        let kp = tlv::encode(0x06, KP_TIME_STAMPING.as_bytes());
        ext(&[0x55, 0x1d, 0x25], critical, &tlv::encode(0x30, &kp))
    }

    /// `eku`: whether the leaf has EKU timeStamping (else codeSigning-less, no EKU).
    pub(crate) fn tsa(seed: u8, not_before: i64, not_after: i64, eku: bool) -> TestTsa {
        let (rk, lk) = (key(seed), key(seed.wrapping_add(1)));
        let rn = name("tsa", &format!("root{seed}"));
        let ln = name("tsa", &format!("leaf{seed}"));
        let root = build(1, &rn, &rn, not_before - 1000, not_after + 1000, &spki(&rk), &[bc_ca(Some(0)), ku_ca()], &rk);
        let exts = if eku { vec![eku_ts(true)] } else { vec![] };
        let leaf = build(2, &rn, &ln, not_before, not_after, &spki(&lk), &exts, &rk);
        TestTsa { root, leaf, key: lk }
    }

    pub(crate) fn authority(t: &TestTsa) -> CertificateAuthority {
        CertificateAuthority {
            subject_organization: "tsa".into(),
            subject_common_name: "root".into(),
            uri: String::new(),
            chain_der: vec![t.leaf.clone(), t.root.clone()],
            valid_for: ValidFor::OPEN,
        }
    }

    pub(crate) fn gentime(unix: i64) -> Vec<u8> {
        let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap();
        let s = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        tlv::encode(0x18, s.as_bytes())
    }

    pub(crate) struct Spec {
        pub version: u8,
        pub imprint: Vec<u8>,
        pub nonce: Option<Vec<u8>>,
        pub gen_time: i64,
        pub with_certs: bool,
    }

    /// A TimeStampToken from `t` per `spec`.
    pub(crate) fn token(t: &TestTsa, spec: &Spec) -> Vec<u8> {
        let seq = |p: &[Vec<u8>]| tlv::encode(0x30, &p.concat());
        let set = |p: &[Vec<u8>]| tlv::encode(0x31, &p.concat());
        let oid = |o: &Oid| tlv::encode(0x06, o.as_bytes());
        let alg = seq(&[oid(&oids::SHA256)]);
        let mut tst = vec![
            tlv::encode(0x02, &[spec.version]),
            oid(&Oid::new_unwrap("1.2.3.4")),
            seq(&[alg.clone(), tlv::encode(0x04, &spec.imprint)]),
            tlv::encode(0x02, &[7]),
            gentime(spec.gen_time),
        ];
        if let Some(n) = &spec.nonce {
            tst.push(uint(n));
        }
        let tst = seq(&tst);
        let leaf_info = CertInfo::parse(&t.leaf).unwrap();
        let ess = seq(&[seq(&[seq(&[tlv::encode(0x04, &Sha256::digest(&t.leaf))])])]);
        let mut attrs = vec![
            seq(&[oid(&oids::CONTENT_TYPE), set(&[oid(&ID_CT_TST_INFO)])]),
            seq(&[oid(&oids::MESSAGE_DIGEST), set(&[tlv::encode(0x04, &Sha256::digest(&tst))])]),
            seq(&[oid(&SIGNING_CERTIFICATE_V2), set(&[ess])]),
        ];
        attrs.sort();
        let signed = set(&attrs);
        let sig: p256::ecdsa::DerSignature = t.key.sign(&signed);
        let mut implicit = signed.clone();
        implicit[0] = 0xa0;
        let si = seq(&[
            tlv::encode(0x02, &[1]),
            seq(&[leaf_info.issuer_raw.clone(), tlv::encode(0x02, &leaf_info.serial)]),
            alg.clone(),
            implicit,
            seq(&[oid(&oids::ECDSA_SHA256)]),
            tlv::encode(0x04, sig.as_bytes()),
        ]);
        let mut sd = vec![
            tlv::encode(0x02, &[3]),
            set(&[alg]),
            seq(&[oid(&ID_CT_TST_INFO), tlv::encode(0xa0, &tlv::encode(0x04, &tst))]),
        ];
        if spec.with_certs {
            sd.push(tlv::encode(0xa0, &[t.leaf.clone(), t.root.clone()].concat()));
        }
        sd.push(set(&[si]));
        seq(&[oid(&oids::SIGNED_DATA), tlv::encode(0xa0, &seq(&sd))])
    }

    /// A TimeStampResp with `status` and (when granted) `token`.
    pub(crate) fn response(status: u8, token: Option<&[u8]>) -> Vec<u8> {
        let mut parts = vec![tlv::encode(0x30, &tlv::encode(0x02, &[status]))];
        if let Some(t) = token {
            parts.push(t.to_vec());
        }
        tlv::encode(0x30, &parts.concat())
    }
}

#[cfg(test)]
mod tests {
    use super::testtsa::*;
    use super::*;

    const T0: i64 = 1_780_000_000;
    const SIG: &[u8] = b"\x30\x06\x02\x01\x01\x02\x01\x01";

    fn spec(imprint: Vec<u8>, nonce: Option<Vec<u8>>) -> Spec {
        Spec { version: 1, imprint, nonce, gen_time: T0, with_certs: true }
    }

    fn trust_with(a: &[&TestTsa]) -> TrustedRoot {
        TrustedRoot { timestamp_authorities: a.iter().map(|t| authority(t)).collect(), ..Default::default() }
    }

    #[test]
    fn request_encoding() {
        let imprint = [0xabu8; 32];
        let nonce = [0x80u8; 16];
        let req = build_request(&imprint, &nonce);
        let expected_head = [0x30, 0x4a, 0x02, 0x01, 0x01, 0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09];
        assert_eq!(&req[..11], &expected_head);
        // nonce with a high bit: a leading zero keeps it positive
        let n = &req[req.len() - 3 - 19..req.len() - 3];
        assert_eq!(&n[..3], &[0x02, 0x11, 0x00]);
        assert_eq!(&req[req.len() - 3..], &[0x01, 0x01, 0xff]);
        assert!(tlv::read_all(&req).is_ok());
    }

    #[test]
    fn response_checks_status_imprint_and_nonce() {
        let t = tsa(41, T0 - 100, T0 + 100, true);
        let imprint = Sha256::digest(SIG).to_vec();
        let nonce = vec![1u8; 16];
        let tok = token(&t, &spec(imprint.clone(), Some(nonce.clone())));
        assert_eq!(parse_response(&response(0, Some(&tok)), &imprint, &nonce).unwrap(), tok);
        assert_eq!(parse_response(&response(1, Some(&tok)), &imprint, &nonce).unwrap(), tok);
        // Rejection, waiting, revocation: refused with the status.
        for s in [2u8, 3, 4, 5] {
            let e = parse_response(&response(s, None), &imprint, &nonce).unwrap_err();
            assert!(matches!(e, TsaError::Rejected { status, .. } if status == s as u64), "{e}");
        }
        // Granted without a token.
        assert!(matches!(parse_response(&response(0, None), &imprint, &nonce), Err(TsaError::Malformed { .. })));
        // Other imprint / other nonce / no nonce.
        let e = parse_response(&response(0, Some(&tok)), &[0u8; 32], &nonce).unwrap_err();
        assert_eq!(e, TsaError::ImprintMismatch);
        let e = parse_response(&response(0, Some(&tok)), &imprint, &[2u8; 16]).unwrap_err();
        assert_eq!(e, TsaError::NonceMismatch);
        let no_nonce = token(&t, &spec(imprint.clone(), None));
        let e = parse_response(&response(0, Some(&no_nonce)), &imprint, &nonce).unwrap_err();
        assert_eq!(e, TsaError::NonceMismatch);
        // Garbage and truncation never panic.
        let resp = response(0, Some(&tok));
        for cut in 0..resp.len() {
            assert!(parse_response(&resp[..cut], &imprint, &nonce).is_err());
        }
    }

    #[test]
    fn token_verification() {
        let t = tsa(43, T0 - 100, T0 + 100, true);
        let imprint = Sha256::digest(SIG).to_vec();
        let good = token(&t, &spec(imprint.clone(), Some(vec![9])));
        let trust = trust_with(&[&t]);
        let v = verify_token(&good, SIG, &trust).unwrap();
        assert_eq!(v, VerifiedTimestamp { gen_time: T0, tsa_index: 0 });
        // Without certificates in the token: the signer comes from the trusted chain.
        let bare = token(&t, &Spec { with_certs: false, ..spec(imprint.clone(), Some(vec![9])) });
        assert_eq!(verify_token(&bare, SIG, &trust).unwrap().gen_time, T0);
        // No TSA trusted: fail closed.
        assert_eq!(verify_token(&good, SIG, &TrustedRoot::default()).unwrap_err(), TsaError::NoTrustedTsa);
        // Another TSA trusted.
        let other = tsa(45, T0 - 100, T0 + 100, true);
        let e = verify_token(&good, SIG, &trust_with(&[&other])).unwrap_err();
        assert!(matches!(e, TsaError::Untrusted { .. }), "{e}");
        // A TSA window that does not contain genTime.
        let mut windowed = trust.clone();
        windowed.timestamp_authorities[0].valid_for = ValidFor { start: T0 + 1, end: None };
        assert!(matches!(verify_token(&good, SIG, &windowed), Err(TsaError::Untrusted { .. })));
        // Timestamp of another signature.
        assert_eq!(verify_token(&good, b"other", &trust).unwrap_err(), TsaError::ImprintMismatch);
        // Version 2.
        let v2 = token(&t, &Spec { version: 2, ..spec(imprint.clone(), None) });
        assert_eq!(verify_token(&v2, SIG, &trust).unwrap_err(), TsaError::Version(2));
        // genTime outside the TSA certificate.
        let late = token(&t, &Spec { gen_time: T0 + 101, ..spec(imprint.clone(), None) });
        assert!(matches!(verify_token(&late, SIG, &trust), Err(TsaError::TsaCertificateNotValid { .. })));
        // A leaf without EKU timeStamping.
        let no_eku = tsa(47, T0 - 100, T0 + 100, false);
        let tok = token(&no_eku, &spec(imprint.clone(), None));
        assert_eq!(verify_token(&tok, SIG, &trust_with(&[&no_eku])).unwrap_err(), TsaError::NotTimestamping);
        // Any flipped byte of the token is rejected (or, inside certificates, unused).
        let mut rejected = 0;
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] ^= 0x01;
            if verify_token(&b, SIG, &trust).is_err() {
                rejected += 1;
            }
        }
        assert!(rejected > good.len() / 2, "only {rejected} of {} flips rejected", good.len());
        // The TSTInfo and signature in particular.
        let mut b = good.clone();
        let last = b.len() - 1;
        b[last] ^= 0x01;
        assert!(verify_token(&b, SIG, &trust).is_err());
    }

    #[test]
    fn configured_chain() {
        let t = tsa(49, T0 - 100, T0 + 100, true);
        let pem = format!(
            "{}{}",
            crate::services::fulcio::certificate_pem(&t.leaf),
            crate::services::fulcio::certificate_pem(&t.root)
        );
        let a = authority_from_pem(&pem, "chain.pem").unwrap();
        assert_eq!(a.chain_der, vec![t.leaf.clone(), t.root.clone()]);
        // A chain without its root is refused.
        let e = authority_from_pem(&crate::services::fulcio::certificate_pem(&t.leaf), "chain.pem").unwrap_err();
        assert!(matches!(e, TsaError::Chain { .. }), "{e}");
        assert!(authority_from_pem("", "chain.pem").is_err());
    }

    /// Re-encode the outermost SEQUENCE with an indefinite length (BER).
    fn indefinite_outer(der: &[u8]) -> Vec<u8> {
        let t = tlv::read_all(der).unwrap();
        [&[0x30, 0x80][..], t.value, &[0, 0]].concat()
    }

    #[test]
    fn ber_response_and_token_are_accepted() {
        let t = tsa(51, T0 - 100, T0 + 100, true);
        let imprint = Sha256::digest(SIG).to_vec();
        let tok = token(&t, &spec(imprint.clone(), Some(vec![3])));
        let ber_tok = indefinite_outer(&tok);
        let trust = trust_with(&[&t]);
        assert_eq!(verify_token(&ber_tok, SIG, &trust).unwrap().gen_time, T0);
        let ber_resp = indefinite_outer(&response(0, Some(&ber_tok)));
        assert_eq!(parse_response(&ber_resp, &imprint, &[3]).unwrap(), tok);
    }

    /// The production trusted root's TSA chain is usable: its leaf is for timestamping and
    /// chains to its root (at a time inside the leaf's validity).
    #[test]
    fn production_tsa_chain_builds() {
        let prod = TrustedRoot::production().unwrap();
        let a = prod.timestamp_authorities.first().expect("production lists a TSA");
        let leaf = CertInfo::parse(&a.chain_der[0]).unwrap();
        assert!(leaf.ext_key_usage.contains(&KP_TIME_STAMPING));
        let t = leaf.not_before + 86_400;
        let mut open = a.clone();
        open.valid_for = ValidFor::OPEN;
        assert_eq!(x509::verify_chain_to_authorities(&leaf, &[], &[open], t).unwrap(), 0);
        // The Fulcio CAs do not vouch for it.
        let fulcio = prod.certificate_authorities.clone();
        assert!(x509::verify_chain_to_authorities(&leaf, &[], &fulcio, t).is_err());
    }

    #[test]
    fn gen_time_with_fraction() {
        let raw = tlv::encode(0x18, b"20260101000000.125Z");
        let t = tlv::read_all(&raw).unwrap();
        assert_eq!(gen_time(&t).unwrap(), 1_767_225_600);
        for bad in [&b"20260101000000.Z"[..], b"20260101000000.1x5Z", b"202601010000Z"] {
            let raw = tlv::encode(0x18, bad);
            assert!(gen_time(&tlv::read_all(&raw).unwrap()).is_err());
        }
    }
}
