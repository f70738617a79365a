//! Sigstore trusted roots: Fulcio CAs, Rekor and CT log keys and TSAs, each with its validity window.
//!
//! The trusted root comes from the `application/vnd.dev.sigstore.trustedroot+json;version=0.1`
//! document (embedded copies of the public-good production and staging roots, or a file), or
//! from gitsign's legacy sources: a PEM file of Fulcio certificates (`gitsign.fulcioRoot`) and a
//! PEM Rekor public key (`SIGSTORE_REKOR_PUBLIC_KEY`). Log keys are only ever taken from here,
//! never from a log's own API (GHSA-xvrc-2wvh-49vc).
use crate::crypto::pubkey::{self, Curve, HashAlg};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use std::path::Path;
use std::sync::OnceLock;

/// Media type prefix of the trusted root document.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.trustedroot+json";

/// `keyDetails` of an ECDSA P-256 key used with SHA-256.
pub const KEY_ECDSA_P256_SHA256: &str = "PKIX_ECDSA_P256_SHA_256";
/// `keyDetails` of an ECDSA P-384 key used with SHA-384.
pub const KEY_ECDSA_P384_SHA384: &str = "PKIX_ECDSA_P384_SHA_384";
/// `keyDetails` of an Ed25519 key (Rekor v2 logs).
pub const KEY_ED25519: &str = "PKIX_ED25519";

/// OID of Ed25519 public keys, 1.3.101.112.
const ED25519_OID: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("1.3.101.112");

/// Largest trusted root file accepted (the public-good root is about 7 KiB).
const MAX_FILE: u64 = 16 << 20;

/// Why a trusted root could not be loaded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    /// The file could not be read.
    #[error("cannot read the trusted root file {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The file was read but its contents are not a usable trusted root.
    #[error("the trusted root file {path} is not usable: {source}")]
    InFile {
        /// The file.
        path: String,
        /// What is wrong with its contents.
        #[source]
        source: Box<TrustError>,
    },
    /// The document is not JSON of the trusted root shape.
    #[error("malformed trusted root JSON: {0}")]
    Json(String),
    /// The document declares another media type.
    #[error("unsupported trusted root media type {0:?} (expected {TRUSTED_ROOT_MEDIA_TYPE};version=0.1)")]
    MediaType(String),
    /// A field holds a malformed value.
    #[error("malformed trusted root field {field}: {reason}")]
    Field {
        /// JSON path of the field, e.g. `tlogs[0].publicKey.rawBytes`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// PEM input could not be decoded.
    #[error("malformed PEM: {0}")]
    Pem(String),
    /// The TUF-cached trusted root cannot be used.
    #[error(transparent)]
    Tuf(#[from] crate::trust::tuf::TufError),
}

fn field_err(field: impl Into<String>, reason: impl Into<String>) -> TrustError {
    TrustError::Field { field: field.into(), reason: reason.into() }
}

/// A validity window in unix seconds; both ends inclusive, `end == None` means open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidFor {
    /// First second of validity (`i64::MIN` when the source gives no validity period).
    pub start: i64,
    /// Last second of validity; `None` when open-ended.
    pub end: Option<i64>,
}

impl ValidFor {
    /// A window with no bounds (legacy PEM sources have no validity windows).
    pub const OPEN: ValidFor = ValidFor { start: i64::MIN, end: None };

    /// Whether unix time `t` (seconds) falls inside the window, both ends inclusive.
    pub fn contains(&self, t: i64) -> bool {
        t >= self.start && self.end.is_none_or(|end| t <= end)
    }
}

/// A certificate authority (Fulcio or a timestamp authority) with its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateAuthority {
    /// `subject.organization` (empty when absent).
    pub subject_organization: String,
    /// `subject.commonName` (empty when absent).
    pub subject_common_name: String,
    /// The authority's URI (empty when absent).
    pub uri: String,
    /// Certificates (DER) in the document's order: intermediate(s) first, root last.
    pub chain_der: Vec<Vec<u8>>,
    /// When this authority may vouch for certificates.
    pub valid_for: ValidFor,
}

impl CertificateAuthority {
    /// The root (last) certificate of the chain, DER.
    pub fn root_der(&self) -> Option<&[u8]> {
        self.chain_der.last().map(Vec::as_slice)
    }

    /// The intermediates (every certificate but the last), DER, nearest to the leaf first.
    pub fn intermediates_der(&self) -> &[Vec<u8>] {
        match self.chain_der.split_last() {
            Some((_, rest)) => rest,
            None => &[],
        }
    }
}

/// A transparency log (Rekor or a CT log) and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransparencyLog {
    /// The log's base URL (empty for a key given as a bare PEM).
    pub base_url: String,
    /// Log id, raw bytes (for ECDSA logs: SHA-256 of the SPKI DER).
    pub log_id: Vec<u8>,
    /// The log key, DER: a SubjectPublicKeyInfo, except for `PKCS1_*` key details (PKCS#1).
    pub public_key_der: Vec<u8>,
    /// Key type as the trusted root names it, e.g. `PKIX_ECDSA_P256_SHA_256` or `PKIX_ED25519`.
    pub key_details: String,
    /// When the key may sign entries.
    pub valid_for: ValidFor,
}

impl TransparencyLog {
    /// The hash to use with this log's ECDSA key, or `None` when the key is not an ECDSA key
    /// this crate checks (e.g. Ed25519 Rekor v2 keys, which are kept but never used).
    pub fn ecdsa_hash(&self) -> Option<HashAlg> {
        match pubkey::curve_of(&self.public_key_der) {
            Ok(Curve::P256) => Some(HashAlg::Sha256),
            Ok(Curve::P384) => Some(HashAlg::Sha384),
            Err(_) => None,
        }
    }

    /// The log id as lowercase hex.
    pub fn log_id_hex(&self) -> String {
        hex::encode(&self.log_id)
    }
}

/// A Sigstore trusted root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedRoot {
    /// Fulcio certificate authorities.
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// Rekor transparency logs.
    pub tlogs: Vec<TransparencyLog>,
    /// Certificate transparency logs.
    pub ctlogs: Vec<TransparencyLog>,
    /// RFC 3161 timestamp authorities.
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

static PRODUCTION_JSON: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/trust/production_trusted_root.json"));
static STAGING_JSON: &[u8] =
    include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/trust/staging_trusted_root.json"));

static PRODUCTION: OnceLock<Result<TrustedRoot, TrustError>> = OnceLock::new();
static STAGING: OnceLock<Result<TrustedRoot, TrustError>> = OnceLock::new();

impl TrustedRoot {
    /// A digest of everything a certificate check depends on (Fulcio CA chains and validity
    /// windows, CT log keys and windows). The credential cache binds entries to it, so a
    /// certificate checked under one trusted root is never reused under another.
    pub fn fingerprint(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut put = |b: &[u8]| {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        };
        let window = |v: &ValidFor| [v.start.to_be_bytes(), v.end.unwrap_or(i64::MAX).to_be_bytes()].concat();
        put(b"gitsign-rs trusted root fingerprint v1");
        for ca in &self.certificate_authorities {
            put(b"ca");
            put(&window(&ca.valid_for));
            for der in &ca.chain_der {
                put(der);
            }
        }
        for log in &self.ctlogs {
            put(b"ct");
            put(&window(&log.valid_for));
            put(&log.log_id);
            put(&log.public_key_der);
        }
        h.finalize().into()
    }

    /// The Sigstore public-good production trusted root (embedded copy, parsed once).
    pub fn production() -> Result<&'static TrustedRoot, TrustError> {
        PRODUCTION.get_or_init(|| TrustedRoot::from_json(PRODUCTION_JSON)).as_ref().map_err(Clone::clone)
    }

    /// The Sigstore staging (sigstage.dev) trusted root (embedded copy, parsed once).
    pub fn staging() -> Result<&'static TrustedRoot, TrustError> {
        STAGING.get_or_init(|| TrustedRoot::from_json(STAGING_JSON)).as_ref().map_err(Clone::clone)
    }

    /// Read and parse a trusted root JSON file; errors name the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<TrustedRoot, TrustError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let bytes = read_bounded(path)?;
        TrustedRoot::from_json(&bytes).map_err(|e| TrustError::InFile { path: shown, source: Box::new(e) })
    }

    /// Parse a trusted root (`application/vnd.dev.sigstore.trustedroot+json;version=0.1`).
    /// Unknown fields are ignored.
    pub fn from_json(json: &[u8]) -> Result<TrustedRoot, TrustError> {
        let raw: RawRoot = serde_json::from_slice(json).map_err(|e| TrustError::Json(e.to_string()))?;
        if let Some(mt) = &raw.media_type
            && !mt.starts_with(TRUSTED_ROOT_MEDIA_TYPE)
        {
            return Err(TrustError::MediaType(mt.clone()));
        }
        let tlogs = raw
            .tlogs
            .iter()
            .enumerate()
            .map(|(i, l)| convert_log(l, &format!("tlogs[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let ctlogs = raw
            .ctlogs
            .iter()
            .enumerate()
            .map(|(i, l)| convert_log(l, &format!("ctlogs[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let certificate_authorities = raw
            .certificate_authorities
            .iter()
            .enumerate()
            .map(|(i, c)| convert_ca(c, &format!("certificateAuthorities[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let timestamp_authorities = raw
            .timestamp_authorities
            .iter()
            .enumerate()
            .map(|(i, c)| convert_ca(c, &format!("timestampAuthorities[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedRoot { certificate_authorities, tlogs, ctlogs, timestamp_authorities })
    }

    /// The Rekor log with this raw log id.
    pub fn tlog_by_id(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }

    /// The CT log with this raw log id.
    pub fn ctlog_by_id(&self, log_id: &[u8]) -> Option<&TransparencyLog> {
        self.ctlogs.iter().find(|l| l.log_id == log_id)
    }

    /// The Fulcio CAs whose validity window contains unix time `t`.
    pub fn certificate_authorities_at(&self, t: i64) -> impl Iterator<Item = &CertificateAuthority> {
        self.certificate_authorities.iter().filter(move |ca| ca.valid_for.contains(t))
    }

    /// Replace the Fulcio CAs with the certificates of a PEM file (gitsign's `gitsign.fulcioRoot`,
    /// `GITSIGN_FULCIO_ROOT`, `SIGSTORE_FULCIO_ROOT`, `SIGSTORE_ROOT_FILE`).
    ///
    /// As in gitsign, a certificate whose issuer equals its subject is a root and every other one
    /// an intermediate, and there are no validity windows. Each root becomes a CA of its own
    /// (`chain_der = [root]`, for leaves it issues directly), plus one CA per path of
    /// intermediates below it (`chain_der = [deepest intermediate, …, root]`); an intermediate
    /// belongs below a certificate when its issuer names that certificate and, for ECDSA issuers,
    /// its signature verifies with that certificate's key. All windows are [`ValidFor::OPEN`].
    pub fn with_fulcio_roots_pem(mut self, pem: &[u8]) -> Result<TrustedRoot, TrustError> {
        let blocks = pem_blocks(pem)?;
        let mut certs = Vec::new();
        for (i, (label, der)) in blocks.into_iter().enumerate() {
            if label != "CERTIFICATE" {
                continue;
            }
            certs.push(ParsedCert::parse(der).map_err(|e| TrustError::Pem(format!("certificate #{i}: {e}")))?);
        }
        if certs.is_empty() {
            return Err(TrustError::Pem("no CERTIFICATE block found".into()));
        }
        let mut cas = Vec::new();
        for root in certs.iter().filter(|c| c.is_self_issued()) {
            let ca = |chain: Vec<Vec<u8>>| CertificateAuthority {
                subject_organization: root.organization.clone(),
                subject_common_name: root.common_name.clone(),
                uri: String::new(),
                chain_der: chain,
                valid_for: ValidFor::OPEN,
            };
            cas.push(ca(vec![root.der.clone()]));
            let mut paths = Vec::new();
            extend_paths(&certs, &mut vec![root], &mut paths);
            for path in paths {
                // `path` is root-first; the trusted root's order is intermediates first, root last.
                cas.push(ca(path.iter().rev().map(|c| c.der.clone()).collect()));
            }
        }
        if cas.is_empty() {
            return Err(TrustError::Pem("no self-signed (root) certificate found".into()));
        }
        self.certificate_authorities = cas;
        Ok(self)
    }

    /// Replace the Rekor log keys with one PEM public key (`SIGSTORE_REKOR_PUBLIC_KEY`); its log
    /// id is SHA-256 of the SPKI DER, its window open and its base URL empty.
    pub fn with_rekor_public_key_pem(mut self, pem: &[u8]) -> Result<TrustedRoot, TrustError> {
        self.tlogs = vec![log_from_pem(pem)?];
        Ok(self)
    }

    /// Replace the CT log keys with one PEM public key (`SIGSTORE_CT_LOG_PUBLIC_KEY_FILE`); its log
    /// id is SHA-256 of the SPKI DER and its window open.
    pub fn with_ctlog_public_key_pem(mut self, pem: &[u8]) -> Result<TrustedRoot, TrustError> {
        self.ctlogs = vec![log_from_pem(pem)?];
        Ok(self)
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, TrustError> {
    use std::io::Read;
    let shown = path.display().to_string();
    let read_err = |e: std::io::Error| TrustError::Read { path: shown.clone(), reason: e.to_string() };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(TrustError::Read { path: shown, reason: format!("larger than {MAX_FILE} bytes") });
    }
    Ok(bytes)
}

fn log_from_pem(pem: &[u8]) -> Result<TransparencyLog, TrustError> {
    let blocks = pem_blocks(pem)?;
    let der = blocks
        .into_iter()
        .find(|(label, _)| label == "PUBLIC KEY")
        .map(|(_, der)| der)
        .ok_or_else(|| TrustError::Pem("no PUBLIC KEY block found".into()))?;
    let key_details = key_details_of(&der).map_err(TrustError::Pem)?;
    Ok(TransparencyLog {
        base_url: String::new(),
        log_id: pubkey::key_id(&der).to_vec(),
        public_key_der: der,
        key_details,
        valid_for: ValidFor::OPEN,
    })
}

/// The trusted-root `keyDetails` name of an SPKI (DER).
pub fn key_details_of(spki_der: &[u8]) -> Result<String, String> {
    use der::Decode;
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|e| format!("public key: {e}"))?;
    if spki.algorithm.oid == ED25519_OID {
        return Ok(KEY_ED25519.into());
    }
    match pubkey::curve_of(spki_der) {
        Ok(Curve::P256) => Ok(KEY_ECDSA_P256_SHA256.into()),
        Ok(Curve::P384) => Ok(KEY_ECDSA_P384_SHA384.into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Decode every PEM block of `input` (lenient: any line width, CRLF, text around blocks).
/// Returns (label, DER) pairs in order.
pub(crate) fn pem_blocks(input: &[u8]) -> Result<Vec<(String, Vec<u8>)>, TrustError> {
    let text = std::str::from_utf8(input).map_err(|_| TrustError::Pem("not UTF-8 text".into()))?;
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("-----BEGIN ") {
            let label =
                rest.strip_suffix("-----").ok_or_else(|| TrustError::Pem(format!("malformed line {line:?}")))?;
            if current.is_some() {
                return Err(TrustError::Pem(format!("BEGIN {label} inside another block")));
            }
            current = Some((label.to_string(), String::new()));
        } else if let Some(rest) = line.strip_prefix("-----END ") {
            let label =
                rest.strip_suffix("-----").ok_or_else(|| TrustError::Pem(format!("malformed line {line:?}")))?;
            let (open, b64) = current.take().ok_or_else(|| TrustError::Pem(format!("END {label} without BEGIN")))?;
            if open != label {
                return Err(TrustError::Pem(format!("BEGIN {open} closed by END {label}")));
            }
            let der = STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| TrustError::Pem(format!("{label}: invalid base64: {e}")))?;
            out.push((open, der));
        } else if let Some((_, b64)) = current.as_mut() {
            // Skip RFC 1421 headers such as `Proc-Type:` (none expected, tolerated).
            if !line.contains(':') {
                b64.push_str(line);
            }
        }
    }
    if let Some((label, _)) = current {
        return Err(TrustError::Pem(format!("BEGIN {label} without END")));
    }
    Ok(out)
}

/// The facts of a certificate needed to sort a PEM bundle into chains.
struct ParsedCert {
    der: Vec<u8>,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    spki: Vec<u8>,
    tbs: Vec<u8>,
    sig_alg: const_oid::ObjectIdentifier,
    signature: Vec<u8>,
    organization: String,
    common_name: String,
}

impl ParsedCert {
    fn parse(der: Vec<u8>) -> Result<ParsedCert, der::Error> {
        use der::{Decode, Encode};
        let cert = x509_cert::Certificate::from_der(&der)?;
        let tbs = cert.tbs_certificate();
        let organization = tbs.subject().organization()?.map(|s| s.value().into_owned()).unwrap_or_default();
        let common_name = tbs.subject().common_name()?.map(|s| s.value().into_owned()).unwrap_or_default();
        Ok(ParsedCert {
            subject: tbs.subject().to_der()?,
            issuer: tbs.issuer().to_der()?,
            spki: tbs.subject_public_key_info().to_der()?,
            tbs: tbs.to_der()?,
            sig_alg: cert.signature_algorithm().oid,
            signature: cert.signature().raw_bytes().to_vec(),
            organization,
            common_name,
            der,
        })
    }

    fn is_self_issued(&self) -> bool {
        self.subject == self.issuer
    }

    /// Whether `self` names `parent` as issuer and (when checkable) `parent`'s key signed it.
    fn issued_by(&self, parent: &ParsedCert) -> bool {
        if self.issuer != parent.subject {
            return false;
        }
        match (HashAlg::from_ecdsa_sig_oid(&self.sig_alg), pubkey::curve_of(&parent.spki)) {
            (Some(hash), Ok(_)) => pubkey::verify(&parent.spki, hash, &self.tbs, &self.signature).is_ok(),
            // Not an ECDSA signature or key: gitsign's pool would decide by name and signature;
            // we cannot check the signature here, the chain verifier will.
            _ => true,
        }
    }
}

/// Depth-first: every maximal path of intermediates below the last certificate of `path`.
fn extend_paths<'a>(certs: &'a [ParsedCert], path: &mut Vec<&'a ParsedCert>, out: &mut Vec<Vec<&'a ParsedCert>>) {
    const MAX_DEPTH: usize = 8;
    let Some(top) = path.last().copied() else { return };
    let mut extended = false;
    if path.len() < MAX_DEPTH {
        for c in certs {
            if c.is_self_issued() || path.iter().any(|p| p.der == c.der) || !c.issued_by(top) {
                continue;
            }
            extended = true;
            path.push(c);
            extend_paths(certs, path, out);
            path.pop();
        }
    }
    if !extended && path.len() > 1 {
        out.push(path.clone());
    }
}

fn parse_time(field: &str, value: &str) -> Result<i64, TrustError> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| field_err(field, format!("{value:?} is not an RFC 3339 time: {e}")))
}

fn convert_valid_for(raw: &Option<RawValidFor>, field: &str) -> Result<ValidFor, TrustError> {
    let Some(raw) = raw else { return Ok(ValidFor::OPEN) };
    // A TimeRange's start is required: a malformed root is rejected, not read as unbounded.
    let start = match &raw.start {
        Some(s) => parse_time(&format!("{field}.start"), s)?,
        None => return Err(field_err(format!("{field}.start"), "missing (a validity period needs its start)")),
    };
    let end = match &raw.end {
        Some(s) => Some(parse_time(&format!("{field}.end"), s)?),
        None => None,
    };
    Ok(ValidFor { start, end })
}

fn decode_b64(field: &str, value: &str) -> Result<Vec<u8>, TrustError> {
    STANDARD.decode(value.trim()).map_err(|e| field_err(field, format!("invalid base64: {e}")))
}

fn convert_log(raw: &RawLog, field: &str) -> Result<TransparencyLog, TrustError> {
    let key_field = format!("{field}.publicKey.rawBytes");
    let raw_bytes = raw.public_key.raw_bytes.as_deref().ok_or_else(|| field_err(&key_field, "missing"))?;
    let public_key_der = decode_b64(&key_field, raw_bytes)?;
    // Kept as given: usually an SPKI, but e.g. staging's old CT log has a PKCS#1 RSA key
    // (`PKCS1_RSA_PKCS1V5`). Keys that are not ECDSA SPKIs are never used for checks.
    if public_key_der.is_empty() {
        return Err(field_err(&key_field, "empty"));
    }
    // A key declared ECDSA must be one: a broken key is reported here, naming the field, not
    // later as a confusing verification failure.
    if raw.public_key.key_details.starts_with("PKIX_ECDSA")
        && let Err(e) = pubkey::curve_of(&public_key_der)
    {
        return Err(field_err(&key_field, format!("not a {} public key: {e}", raw.public_key.key_details)));
    }
    let log_id = decode_b64(&format!("{field}.logId.keyId"), &raw.log_id.key_id)?;
    if log_id.is_empty() {
        return Err(field_err(format!("{field}.logId.keyId"), "empty"));
    }
    Ok(TransparencyLog {
        base_url: raw.base_url.clone(),
        log_id,
        public_key_der,
        key_details: raw.public_key.key_details.clone(),
        valid_for: convert_valid_for(&raw.public_key.valid_for, &format!("{field}.publicKey.validFor"))?,
    })
}

fn convert_ca(raw: &RawCa, field: &str) -> Result<CertificateAuthority, TrustError> {
    let mut chain_der = Vec::new();
    for (i, c) in raw.cert_chain.certificates.iter().enumerate() {
        let f = format!("{field}.certChain.certificates[{i}].rawBytes");
        let der = decode_b64(&f, &c.raw_bytes)?;
        {
            use der::Decode;
            x509_cert::Certificate::from_der(&der).map_err(|e| field_err(&f, format!("not a DER certificate: {e}")))?;
        }
        chain_der.push(der);
    }
    if chain_der.is_empty() {
        return Err(field_err(format!("{field}.certChain.certificates"), "empty"));
    }
    Ok(CertificateAuthority {
        subject_organization: raw.subject.organization.clone(),
        subject_common_name: raw.subject.common_name.clone(),
        uri: raw.uri.clone(),
        chain_der,
        valid_for: convert_valid_for(&raw.valid_for, &format!("{field}.validFor"))?,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRoot {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Vec<RawLog>,
    #[serde(default)]
    certificate_authorities: Vec<RawCa>,
    #[serde(default)]
    ctlogs: Vec<RawLog>,
    #[serde(default)]
    timestamp_authorities: Vec<RawCa>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLog {
    #[serde(default)]
    base_url: String,
    public_key: RawPublicKey,
    log_id: RawLogId,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublicKey {
    #[serde(default)]
    raw_bytes: Option<String>,
    #[serde(default)]
    key_details: String,
    #[serde(default)]
    valid_for: Option<RawValidFor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLogId {
    key_id: String,
}

#[derive(Deserialize)]
struct RawValidFor {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCa {
    #[serde(default)]
    subject: RawSubject,
    #[serde(default)]
    uri: String,
    cert_chain: RawChain,
    #[serde(default)]
    valid_for: Option<RawValidFor>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawSubject {
    #[serde(default)]
    organization: String,
    #[serde(default)]
    common_name: String,
}

#[derive(Deserialize)]
struct RawChain {
    #[serde(default)]
    certificates: Vec<RawCert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCert {
    raw_bytes: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const REKOR_ID: &str = "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d";

    fn shared(path: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../shared/fixtures/trust/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn ts(s: &str) -> i64 {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp()
    }

    #[test]
    fn production_root_contents() {
        let root = TrustedRoot::production().unwrap();
        assert_eq!(root.tlogs.len(), 2);
        assert_eq!(root.ctlogs.len(), 2);
        assert_eq!(root.certificate_authorities.len(), 2);
        assert_eq!(root.timestamp_authorities.len(), 1);

        let rekor = root.tlog_by_id(&hex::decode(REKOR_ID).unwrap()).unwrap();
        assert_eq!(rekor.base_url, "https://rekor.sigstore.dev");
        assert_eq!(rekor.key_details, KEY_ECDSA_P256_SHA256);
        assert_eq!(pubkey::key_id(&rekor.public_key_der).to_vec(), rekor.log_id);
        assert_eq!(rekor.valid_for, ValidFor { start: ts("2021-01-12T11:53:27Z"), end: None });
        assert_eq!(rekor.ecdsa_hash(), Some(HashAlg::Sha256));

        // Rekor v2: Ed25519, kept but not usable for ECDSA; its log id is not sha256(SPKI).
        let v2 = &root.tlogs[1];
        assert_eq!(v2.key_details, KEY_ED25519);
        assert_eq!(v2.ecdsa_hash(), None);
        assert_ne!(pubkey::key_id(&v2.public_key_der).to_vec(), v2.log_id);

        // CA #0: the 2021 root alone, window ends 2022-12-31T23:59:59.999Z (truncated to seconds).
        let ca0 = &root.certificate_authorities[0];
        assert_eq!(ca0.subject_organization, "sigstore.dev");
        assert_eq!(ca0.subject_common_name, "sigstore");
        assert_eq!(ca0.uri, "https://fulcio.sigstore.dev");
        assert_eq!(ca0.chain_der.len(), 1);
        assert_eq!(ca0.valid_for.end, Some(ts("2022-12-31T23:59:59Z")));
        assert!(ca0.valid_for.contains(ts("2022-12-31T23:59:59Z")));
        assert!(!ca0.valid_for.contains(ts("2023-01-01T00:00:00Z")));
        assert!(ca0.valid_for.contains(ts("2021-03-07T03:20:29Z")));
        assert!(!ca0.valid_for.contains(ts("2021-03-07T03:20:28Z")));
        // CA #1: intermediate first, root last, matching the PEM extracts.
        let ca1 = &root.certificate_authorities[1];
        assert_eq!(ca1.chain_der.len(), 2);
        assert_eq!(ca1.valid_for.end, None);
        let inter = pem_blocks(&shared("production_fulcio_intermediates.pem")).unwrap();
        assert_eq!(ca1.intermediates_der(), &[inter[0].1.clone()][..]);
        let roots = pem_blocks(&shared("production_fulcio_roots.pem")).unwrap();
        let root_ders: Vec<_> = roots.iter().map(|(_, d)| d.clone()).collect();
        assert!(root_ders.contains(&ca1.root_der().unwrap().to_vec()));
        assert!(root_ders.contains(&ca0.root_der().unwrap().to_vec()));
        assert_eq!(root.certificate_authorities_at(ts("2022-06-01T00:00:00Z")).count(), 2);
        assert_eq!(root.certificate_authorities_at(ts("2026-06-01T00:00:00Z")).count(), 1);

        let ct = root.ctlog_by_id(&STANDARD.decode("3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4=").unwrap()).unwrap();
        assert_eq!(ct.base_url, "https://ctfe.sigstore.dev/2022");
        assert_eq!(ct.valid_for.start, ts("2022-10-20T00:00:00Z"));
        let ct_pem = pem_blocks(&shared("production_ctlog_ctfe.sigstore.dev_2022.pub.pem")).unwrap();
        assert_eq!(ct.public_key_der, ct_pem[0].1);
        assert!(root.ctlog_by_id(&[0u8; 32]).is_none());
        assert!(root.tlog_by_id(&[]).is_none());
    }

    #[test]
    fn embedded_copies_match_shared_fixtures() {
        assert_eq!(PRODUCTION_JSON, &shared("production_trusted_root.json")[..]);
        assert_eq!(STAGING_JSON, &shared("staging_trusted_root.json")[..]);
    }

    #[test]
    fn staging_root_parses() {
        let root = TrustedRoot::staging().unwrap();
        assert_eq!(root.tlogs[0].base_url, "https://rekor.sigstage.dev");
        assert_eq!(root.tlogs[0].log_id, pubkey::key_id(&root.tlogs[0].public_key_der).to_vec());
        assert!(root.tlogs.iter().skip(1).all(|l| l.key_details == KEY_ED25519));
        assert_ne!(root.tlogs[0].log_id, TrustedRoot::production().unwrap().tlogs[0].log_id);
        assert!(!root.certificate_authorities.is_empty());
        // The old staging CT log key is PKCS#1 RSA: kept, never usable for ECDSA.
        assert_eq!(root.ctlogs[0].key_details, "PKCS1_RSA_PKCS1V5");
        assert_eq!(root.ctlogs[0].ecdsa_hash(), None);
    }

    #[test]
    fn unknown_fields_ignored_and_errors_typed() {
        let doc = br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","extra":1,
            "tlogs":[{"baseUrl":"x","hashAlgorithm":"SHA2_256","future":true,"publicKey":{"rawBytes":
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==",
            "keyDetails":"PKIX_ECDSA_P256_SHA_256","validFor":{"start":"2021-01-12T11:53:27Z"}},
            "logId":{"keyId":"wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0="}}]}"#;
        let root = TrustedRoot::from_json(doc).unwrap();
        assert_eq!(root.tlogs[0].log_id, hex::decode(REKOR_ID).unwrap());
        assert!(root.certificate_authorities.is_empty());

        assert!(matches!(TrustedRoot::from_json(b"not json"), Err(TrustError::Json(_))));
        assert!(matches!(
            TrustedRoot::from_json(br#"{"mediaType":"application/json"}"#),
            Err(TrustError::MediaType(_))
        ));
        let bad_time =
            br#"{"certificateAuthorities":[{"certChain":{"certificates":[]},"validFor":{"start":"yesterday"}}]}"#;
        assert!(matches!(TrustedRoot::from_json(bad_time), Err(TrustError::Field { .. })));
        let bad_key = br#"{"tlogs":[{"publicKey":{"rawBytes":"AA="},"logId":{"keyId":"AA=="}}]}"#;
        match TrustedRoot::from_json(bad_key) {
            Err(TrustError::Field { field, .. }) => assert_eq!(field, "tlogs[0].publicKey.rawBytes"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn from_file_names_the_file() {
        let missing = TrustedRoot::from_file("/nonexistent/trusted_root.json").unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/trusted_root.json"), "{missing}");
        let dir = std::env::temp_dir().join(format!("gitsign-trust-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bad = dir.join("bad.json");
        std::fs::write(&bad, b"{").unwrap();
        let err = TrustedRoot::from_file(&bad).unwrap_err();
        assert!(matches!(err, TrustError::InFile { .. }));
        assert!(err.to_string().contains("bad.json"), "{err}");
        let good = dir.join("good.json");
        std::fs::write(&good, PRODUCTION_JSON).unwrap();
        assert_eq!(&TrustedRoot::from_file(&good).unwrap(), TrustedRoot::production().unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn legacy_fulcio_pem_sources() {
        let mut pem = shared("production_fulcio_roots.pem");
        pem.extend_from_slice(&shared("production_fulcio_intermediates.pem"));
        let root = TrustedRoot::default().with_fulcio_roots_pem(&pem).unwrap();
        // Two roots (same subject, different keys): each alone, plus the intermediate under the
        // 2021-10 root only (its signature decides, not the shared name).
        assert_eq!(root.certificate_authorities.len(), 3);
        assert!(root.certificate_authorities.iter().all(|c| c.valid_for == ValidFor::OPEN));
        assert!(root.certificate_authorities.iter().all(|c| c.subject_common_name == "sigstore"));
        let prod = TrustedRoot::production().unwrap();
        let with_inter: Vec<_> = root.certificate_authorities.iter().filter(|c| c.chain_der.len() == 2).collect();
        assert_eq!(with_inter.len(), 1);
        assert_eq!(with_inter[0].chain_der, prod.certificate_authorities[1].chain_der);
        assert!(root.certificate_authorities.iter().any(|c| c.chain_der == prod.certificate_authorities[0].chain_der));

        assert!(TrustedRoot::default().with_fulcio_roots_pem(b"").is_err());
        assert!(TrustedRoot::default().with_fulcio_roots_pem(&shared("production_fulcio_intermediates.pem")).is_err());
        assert!(TrustedRoot::default().with_fulcio_roots_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
    }

    #[test]
    fn legacy_rekor_key_pem() {
        let root = TrustedRoot::production()
            .unwrap()
            .clone()
            .with_rekor_public_key_pem(&shared("production_rekor_rekor.sigstore.dev.pub.pem"))
            .unwrap();
        assert_eq!(root.tlogs.len(), 1);
        assert_eq!(root.tlogs[0].log_id_hex(), REKOR_ID);
        assert_eq!(root.tlogs[0].key_details, KEY_ECDSA_P256_SHA256);
        assert!(root.tlogs[0].valid_for.contains(i64::MIN));
        assert_eq!(root.tlogs[0].public_key_der, TrustedRoot::production().unwrap().tlogs[0].public_key_der);
        assert!(TrustedRoot::default().with_rekor_public_key_pem(b"junk").is_err());
        let root = TrustedRoot::default()
            .with_ctlog_public_key_pem(&shared("production_ctlog_ctfe.sigstore.dev_2022.pub.pem"))
            .unwrap();
        assert_eq!(STANDARD.encode(&root.ctlogs[0].log_id), "3T0wasbHETJjGR4cmWc3AqJKXrjePK3/h4pygC8p7o4=");
    }

    #[test]
    fn pem_blocks_is_lenient_but_checked() {
        let one_line = b"junk\r\n-----BEGIN PUBLIC KEY-----\r\nAAEC\r\nAw==\r\n-----END PUBLIC KEY-----\r\n";
        assert_eq!(pem_blocks(one_line).unwrap(), vec![("PUBLIC KEY".to_string(), vec![0, 1, 2, 3])]);
        assert!(pem_blocks(b"-----BEGIN A-----\nAA==\n-----END B-----\n").is_err());
        assert!(pem_blocks(b"-----END A-----\n").is_err());
        assert!(pem_blocks(b"-----BEGIN A-----\n!!\n-----END A-----\n").is_err());
        assert!(pem_blocks(&[0xff, 0xfe]).is_err());
    }
}
