//! The verification pipeline (gitsign-compat §7.1, in order): armor, CMS, signer, content,
//! transparency log (embedded entry or online lookup), time, chain, SCT.
use crate::crypto::cms::verify::{self as cms, CmsError, ParsedSignature};
use crate::crypto::pubkey::{self, HashAlg};
use crate::crypto::x509::{self, CertError, CertInfo, ChainError, San, SctError};
use crate::encoding::armor::{self, ArmorError};
use crate::encoding::oids;
use crate::git::object::{self as git, HashAlgo, ObjectKind};
use crate::services::rekor::body;
use crate::services::rekor::client::{RekorClient, RekorError};
use crate::services::rekor::entry::{EntryError, TransparencyLogEntry};
use crate::services::rekor::types::LogEntry;
use crate::services::rekor::verify::{TlogError, verify_entry};
use crate::trust::root::TrustedRoot;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Chain time used when the transparency log is deliberately not checked: gitsign's legacy
/// verifier checks the chain at notBefore + 60 s.
pub const UNCHECKED_TLOG_CHAIN_OFFSET: i64 = 60;

/// Most Rekor entries fetched for one online lookup.
pub const MAX_ONLINE_ENTRIES: usize = 256;

/// Total time the online Rekor lookup of one object may take, all requests together, unless
/// configured (`gitsign.rekorLookupTimeout` / `GITSIGN_REKOR_LOOKUP_TIMEOUT`).
pub const DEFAULT_REKOR_LOOKUP_BUDGET: Duration = Duration::from_secs(60);

/// The Rekor calls online verification needs (implemented by [`RekorClient`]; tests use fakes).
/// Each request is cut short at `deadline`, the end of the lookup's time budget.
pub trait RekorLookup {
    /// Entry uuids logged with this certificate (PEM).
    fn search_by_certificate(&self, cert_pem: &str, deadline: Instant) -> Result<Vec<String>, RekorError>;
    /// One entry by uuid: the uuid the log answered with, and the entry.
    fn get_entry(&self, uuid: &str, deadline: Instant) -> Result<(String, LogEntry), RekorError>;
    /// The log's base URL, for messages.
    fn base_url(&self) -> &str;
    /// Total time the lookup of one object may take.
    fn lookup_budget(&self) -> Duration {
        DEFAULT_REKOR_LOOKUP_BUDGET
    }
}

impl RekorLookup for RekorClient {
    fn search_by_certificate(&self, cert_pem: &str, deadline: Instant) -> Result<Vec<String>, RekorError> {
        RekorClient::search_by_certificate_until(self, cert_pem, Some(deadline))
    }
    fn get_entry(&self, uuid: &str, deadline: Instant) -> Result<(String, LogEntry), RekorError> {
        RekorClient::get_entry_until(self, uuid, Some(deadline))
    }
    fn base_url(&self) -> &str {
        RekorClient::base_url(self)
    }
}

/// How to verify.
pub struct VerifyOptions<'a> {
    /// Trusted Fulcio CAs, Rekor and CT log keys.
    pub trust: &'a TrustedRoot,
    /// Rekor client for online-mode signatures (no embedded entry); `None` = offline.
    pub rekor: Option<&'a dyn RekorLookup>,
    /// The id of the object git stores (for online lookups); computed from the payload and
    /// signature text (SHA-1, as gitsign does) when `None`.
    pub object_id: Option<String>,
    /// Skip the transparency log entirely; the chain is checked at notBefore + 60 s and the result
    /// is reported as [`TlogEvidence::NotChecked`].
    pub insecure_ignore_tlog: bool,
    /// Skip the embedded SCT check.
    pub insecure_ignore_sct: bool,
}

impl<'a> VerifyOptions<'a> {
    /// Offline verification with every check on.
    pub fn new(trust: &'a TrustedRoot) -> Self {
        VerifyOptions { trust, rekor: None, object_id: None, insecure_ignore_tlog: false, insecure_ignore_sct: false }
    }
}

/// What vouched for the signing time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlogEvidence {
    /// An entry embedded in the signature (offline mode), verified against the trusted log key.
    Embedded {
        /// Global log index.
        log_index: i64,
        /// SET-verified integration time (unix seconds).
        integrated_time: i64,
    },
    /// An entry found in Rekor (online mode), verified against the trusted log key.
    Online {
        /// Global log index.
        log_index: i64,
        /// SET-verified integration time (unix seconds).
        integrated_time: i64,
        /// Entry uuid.
        uuid: String,
    },
    /// The log was not consulted (`insecure_ignore_tlog`): the signature and chain are good, but
    /// nothing shows when the signature was made.
    NotChecked,
}

/// A verified signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Lowercase hex SHA-1 of the signer certificate DER.
    pub fingerprint: String,
    /// The first SAN value (email, URI or username); empty when the certificate has none.
    pub identity: String,
    /// All SANs.
    pub sans: Vec<San>,
    /// OIDC issuer (ext 1.8, else 1.1).
    pub issuer: Option<String>,
    /// The certificate issuer's DN (e.g. `CN=sigstore-intermediate,O=sigstore.dev`).
    pub issuer_dn: String,
    /// Signer certificate DER.
    pub cert_der: Vec<u8>,
    /// Certificate notBefore (unix seconds).
    pub not_before: i64,
    /// Certificate notAfter (unix seconds).
    pub not_after: i64,
    /// The (untrusted) signingTime attribute.
    pub signing_time: Option<i64>,
    /// The time the chain was checked at.
    pub verified_at: i64,
    /// Whether an SCT was verified (false for leaves issued directly by a root, or when skipped).
    pub sct_verified: bool,
    /// Transparency log evidence.
    pub tlog: TlogEvidence,
    /// The verified RFC 3161 genTime (unix seconds), when the signature carries a timestamp.
    pub timestamp: Option<i64>,
}

/// GnuPG status class of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStatus {
    /// The signature is wrong or does not match the object (`BADSIG`, `%G?` = `B`).
    BadSig,
    /// The signature cannot be checked against the trusted root (`ERRSIG`, `%G?` = `E`).
    ErrSig,
}

/// Why verification failed. Each message says what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The signature text is not a `SIGNED MESSAGE` block or DER.
    #[error("cannot read the signature: {0}")]
    Armor(#[from] ArmorError),
    /// The CMS structure is malformed or unsupported.
    #[error("cannot parse the signature: {0}")]
    Cms(#[source] CmsError),
    /// The signer certificate is malformed.
    #[error("cannot parse the signer certificate: {0}")]
    Certificate(#[source] CertError),
    /// The signature does not match the payload or the signer key.
    #[error("BAD signature from certificate {fingerprint}: {source}")]
    Content {
        /// Signer fingerprint.
        fingerprint: String,
        /// What failed.
        #[source]
        source: CmsError,
    },
    /// The embedded Rekor entry is malformed.
    #[error(
        "the Rekor entry embedded in the signature is malformed: {source}; the signature was altered or made by an incompatible tool"
    )]
    EmbeddedEntry {
        /// Signer fingerprint.
        fingerprint: String,
        /// What is wrong.
        #[source]
        source: EntryError,
    },
    /// More than one embedded entry.
    #[error(
        "the signature embeds more than one Rekor entry (attribute 1.3.6.1.4.1.57264.3.1); refusing an ambiguous signature"
    )]
    AmbiguousEmbeddedEntry {
        /// Signer fingerprint.
        fingerprint: String,
    },
    /// The transparency log entry does not verify.
    #[error("the Rekor transparency log entry does not verify: {source}")]
    Tlog {
        /// Signer fingerprint.
        fingerprint: String,
        /// What failed.
        #[source]
        source: TlogError,
    },
    /// Online mode without a Rekor client.
    #[error(
        "this signature was made in online Rekor mode: its transparency log entry is only in Rekor and cannot be checked offline; verify with network access to Rekor (or accept a weaker result with --insecure-ignore-tlog)"
    )]
    TlogNeedsNetwork {
        /// Signer fingerprint.
        fingerprint: String,
    },
    /// Rekor could not be queried.
    #[error(
        "cannot look up the signature's entry in Rekor: {source}; check network access and the Rekor URL (gitsign.rekor)"
    )]
    RekorUnavailable {
        /// Signer fingerprint.
        fingerprint: String,
        /// The transport or API error.
        #[source]
        source: RekorError,
    },
    /// The online lookup ran out of its time budget.
    #[error(
        "the Rekor lookup in {rekor} for object {object_id} ran out of its time budget of {budget_secs} s after checking {examined} of {total} entries for certificate {fingerprint}; raise gitsign.rekorLookupTimeout / GITSIGN_REKOR_LOOKUP_TIMEOUT (seconds, default 60) or check the Rekor service"
    )]
    RekorLookupTimedOut {
        /// Signer fingerprint.
        fingerprint: String,
        /// The object id looked for.
        object_id: String,
        /// The Rekor URL.
        rekor: String,
        /// The budget, in seconds.
        budget_secs: u64,
        /// Entries examined before the budget ran out.
        examined: usize,
        /// Entries the search returned (0 when the search itself ran out of time).
        total: usize,
    },
    /// No Rekor entry binds this object to this certificate.
    #[error(
        "no entry in Rekor ({rekor}) records object {object_id} signed with certificate {fingerprint} ({candidates} entries for the certificate checked{}){}",
        if *not_checked > 0 { format!("; {not_checked} more not checked: the lookup stops at {MAX_ONLINE_ENTRIES} entries per object") } else { String::new() },
        last_problem.as_ref().map(|p| format!("; last problem: {p}")).unwrap_or_default()
    )]
    NoRekorEntry {
        /// Signer fingerprint.
        fingerprint: String,
        /// The object id looked for.
        object_id: String,
        /// The Rekor URL.
        rekor: String,
        /// Entries examined.
        candidates: usize,
        /// Why the last matching entry was rejected, if one matched.
        last_problem: Option<String>,
        /// Entries the search returned beyond [`MAX_ONLINE_ENTRIES`], never fetched.
        not_checked: usize,
    },
    /// The object id for the online lookup cannot be derived.
    #[error(
        "cannot compute the git object id for the Rekor lookup: the payload is neither a commit nor a tag; pass the object id"
    )]
    UnknownObjectKind {
        /// Signer fingerprint.
        fingerprint: String,
    },
    /// The transparency log time is outside the certificate validity.
    #[error(
        "the signature was logged at {}, outside the certificate validity ({}): the certificate had expired or was not yet valid when the signature was logged",
        crate::encoding::timefmt::rfc3339(*t),
        crate::encoding::timefmt::window(*not_before, *not_after)
    )]
    NotValidAtLogTime {
        /// Signer fingerprint.
        fingerprint: String,
        /// Verified integration time.
        t: i64,
        /// Certificate notBefore.
        not_before: i64,
        /// Certificate notAfter.
        not_after: i64,
    },
    /// The certificate does not chain to the trusted root.
    #[error(
        "untrusted certificate {fingerprint}: {source}; check the trusted root (gitsign.fulcioRoot / --trusted-root)"
    )]
    Chain {
        /// Signer fingerprint.
        fingerprint: String,
        /// What failed.
        #[source]
        source: ChainError,
    },
    /// The RFC 3161 timestamp token does not verify (or no TSA is trusted: fail closed).
    #[error("the RFC 3161 timestamp in the signature does not verify: {source}")]
    Timestamp {
        /// Signer fingerprint.
        fingerprint: String,
        /// What failed.
        #[source]
        source: crate::services::tsa::TsaError,
    },
    /// The timestamp's time is outside the certificate validity.
    #[error(
        "the signature was timestamped at {}, outside the certificate validity ({}): the certificate had expired or was not yet valid at that time",
        crate::encoding::timefmt::rfc3339(*t),
        crate::encoding::timefmt::window(*not_before, *not_after)
    )]
    NotValidAtTimestamp {
        /// Signer fingerprint.
        fingerprint: String,
        /// Verified genTime.
        t: i64,
        /// Certificate notBefore.
        not_before: i64,
        /// Certificate notAfter.
        not_after: i64,
    },
    /// The SCT check failed.
    #[error(
        "certificate transparency check failed for {fingerprint}: {source}; check the CT log keys of the trusted root (or --insecure-ignore-sct)"
    )]
    Sct {
        /// Signer fingerprint.
        fingerprint: String,
        /// What failed.
        #[source]
        source: SctError,
    },
}

impl VerifyError {
    /// The GnuPG verdict for this failure, as `git log --format=%G?` shows it.
    ///
    /// `BADSIG` (`B`) when the signature is cryptographically wrong or does not match the
    /// object: the content digest or signature, the embedded log entry (altered SET, proof or
    /// body), a certificate logged or timestamped outside its validity, a leaf that is not a
    /// code-signing certificate.
    ///
    /// `ERRSIG` (`E`, GnuPG's verdict for a missing key) when the signature is intact but
    /// cannot be checked: unreadable or unsupported, or out of reach of the trusted root (a
    /// certificate authority, transparency log, CT log or timestamp authority the trusted root
    /// does not know or no longer trusts at that time), or without transparency log evidence
    /// (Rekor unreachable, no entry for the object, the lookup's limits reached).
    pub fn status(&self) -> ErrorStatus {
        use crate::services::tsa::TsaError;
        let trust_gap = match self {
            VerifyError::Armor(_)
            | VerifyError::Cms(_)
            | VerifyError::Certificate(_)
            | VerifyError::TlogNeedsNetwork { .. }
            | VerifyError::RekorUnavailable { .. }
            | VerifyError::NoRekorEntry { .. }
            | VerifyError::RekorLookupTimedOut { .. }
            | VerifyError::UnknownObjectKind { .. } => true,
            VerifyError::Content { source, .. } => matches!(source, CmsError::UnsupportedKey(_)),
            VerifyError::Tlog { source, .. } => matches!(
                source,
                TlogError::UnknownLog { .. }
                    | TlogError::UnsupportedLogKey { .. }
                    | TlogError::KeyNotValidAtTime { .. }
            ),
            VerifyError::Chain { source, .. } => {
                matches!(source, ChainError::Untrusted { .. } | ChainError::NoCaAtTime(_))
            }
            VerifyError::Sct { source, .. } => matches!(source, SctError::UnknownLog(_) | SctError::Missing),
            VerifyError::Timestamp { source, .. } => {
                matches!(source, TsaError::NoTrustedTsa | TsaError::Untrusted { .. })
            }
            VerifyError::EmbeddedEntry { .. }
            | VerifyError::AmbiguousEmbeddedEntry { .. }
            | VerifyError::NotValidAtLogTime { .. }
            | VerifyError::NotValidAtTimestamp { .. } => false,
        };
        if trust_gap { ErrorStatus::ErrSig } else { ErrorStatus::BadSig }
    }

    /// The signer fingerprint, when the signer certificate is known.
    pub fn fingerprint(&self) -> Option<&str> {
        match self {
            VerifyError::Armor(_) | VerifyError::Cms(_) | VerifyError::Certificate(_) => None,
            VerifyError::Content { fingerprint, .. }
            | VerifyError::EmbeddedEntry { fingerprint, .. }
            | VerifyError::AmbiguousEmbeddedEntry { fingerprint }
            | VerifyError::Tlog { fingerprint, .. }
            | VerifyError::TlogNeedsNetwork { fingerprint }
            | VerifyError::RekorUnavailable { fingerprint, .. }
            | VerifyError::NoRekorEntry { fingerprint, .. }
            | VerifyError::RekorLookupTimedOut { fingerprint, .. }
            | VerifyError::UnknownObjectKind { fingerprint }
            | VerifyError::NotValidAtLogTime { fingerprint, .. }
            | VerifyError::Chain { fingerprint, .. }
            | VerifyError::Sct { fingerprint, .. }
            | VerifyError::Timestamp { fingerprint, .. }
            | VerifyError::NotValidAtTimestamp { fingerprint, .. } => Some(fingerprint),
        }
    }
}

/// Classify a failure for the status line (see [`VerifyError::status`]).
pub fn error_status_kind(e: &VerifyError) -> ErrorStatus {
    e.status()
}

/// For a `BADSIG` failure: the signer fingerprint and identity to print; `None` for `ERRSIG`.
pub fn signer_of_failure(e: &VerifyError) -> Option<(String, String)> {
    if error_status_kind(e) != ErrorStatus::BadSig {
        return None;
    }
    let fpr = e.fingerprint()?.to_string();
    Some((fpr, String::new()))
}

/// The identity (first SAN) of the signer certificate of a signature, without verifying
/// anything: for naming the signer in a `BADSIG` line.
pub fn claimed_signer(signature_text: &[u8]) -> Option<String> {
    let der = armor::decode(signature_text).ok()?;
    let sig = cms::parse(&der).ok()?;
    CertInfo::parse(&sig.signer_cert_der).ok()?.identity().map(str::to_string)
}

/// Verify a gitsign signature over `payload` (the bytes git hands to the program).
pub fn verify(payload: &[u8], signature_text: &[u8], opts: &VerifyOptions<'_>) -> Result<Verified, VerifyError> {
    let der = armor::decode(signature_text)?;
    let sig = cms::parse(&der).map_err(VerifyError::Cms)?;
    let leaf = CertInfo::parse(&sig.signer_cert_der).map_err(VerifyError::Certificate)?;
    let fingerprint = leaf.fingerprint.clone();
    cms::verify_content(&sig, payload)
        .map_err(|source| VerifyError::Content { fingerprint: fingerprint.clone(), source })?;

    // An embedded entry is always verified; `insecure_ignore_tlog` only excuses the *absence*
    // of log evidence (an online-mode signature whose entry cannot be looked up).
    let unchecked = || (leaf.not_before.saturating_add(UNCHECKED_TLOG_CHAIN_OFFSET), TlogEvidence::NotChecked);
    let (t, tlog) = if let Some(entry) = embedded_entry(&sig, &fingerprint)? {
        let body = body::hashedrekord_offline(&sig.signed_attrs_der, &sig.signature, &sig.signer_cert_der);
        let v = verify_entry(&entry, &body, opts.trust)
            .map_err(|source| VerifyError::Tlog { fingerprint: fingerprint.clone(), source })?;
        (v.integrated_time, TlogEvidence::Embedded { log_index: v.log_index, integrated_time: v.integrated_time })
    } else {
        match opts.rekor {
            None if opts.insecure_ignore_tlog => unchecked(),
            None => return Err(VerifyError::TlogNeedsNetwork { fingerprint }),
            Some(rekor) => {
                let object_id = match &opts.object_id {
                    Some(id) => id.clone(),
                    None => {
                        let kind = ObjectKind::from_payload(payload)
                            .ok_or_else(|| VerifyError::UnknownObjectKind { fingerprint: fingerprint.clone() })?;
                        let object = git::rebuild_object(kind, payload, signature_text, HashAlgo::Sha1);
                        git::object_id(kind, &object, HashAlgo::Sha1)
                    }
                };
                match online_lookup(rekor, &leaf, &object_id, opts.trust) {
                    Ok(found) => found,
                    Err(_) if opts.insecure_ignore_tlog => unchecked(),
                    Err(e) => return Err(e),
                }
            }
        }
    };

    // RFC 3161 timestamp (§10): verified whenever present (no trusted TSA fails closed); its
    // genTime is a verification time as well. With log evidence both must pass; without (an
    // unchecked online signature) it replaces the weak notBefore + 60 s.
    let timestamp = verified_timestamp(&sig, &leaf, opts.trust)?;
    let t = match (&tlog, timestamp) {
        (TlogEvidence::NotChecked, Some(gen_time)) => gen_time,
        _ => t,
    };

    if !leaf.valid_at(t) {
        return Err(VerifyError::NotValidAtLogTime {
            fingerprint,
            t,
            not_before: leaf.not_before,
            not_after: leaf.not_after,
        });
    }
    let chain = x509::verify_chain(&sig.signer_cert_der, &sig.other_certs_der, opts.trust, t)
        .map_err(|source| VerifyError::Chain { fingerprint: fingerprint.clone(), source })?;
    if let Some(gen_time) = timestamp.filter(|&g| g != t) {
        x509::verify_chain(&sig.signer_cert_der, &sig.other_certs_der, opts.trust, gen_time)
            .map_err(|source| VerifyError::Chain { fingerprint: fingerprint.clone(), source })?;
    }
    let sct_verified = if chain.sct_required() && !opts.insecure_ignore_sct {
        x509::verify_sct(&sig.signer_cert_der, &chain.issuer_der, opts.trust)
            .map_err(|source| VerifyError::Sct { fingerprint: fingerprint.clone(), source })?;
        true
    } else {
        false
    };
    Ok(Verified {
        fingerprint,
        identity: leaf.identity().unwrap_or_default().to_string(),
        sans: leaf.sans.clone(),
        issuer: leaf.oidc_issuer.clone(),
        issuer_dn: leaf.issuer_dn.clone(),
        cert_der: sig.signer_cert_der.clone(),
        not_before: leaf.not_before,
        not_after: leaf.not_after,
        signing_time: sig.signing_time,
        verified_at: t,
        sct_verified,
        tlog,
        timestamp,
    })
}

/// The signature's RFC 3161 timestamp (attribute id-aa-timeStampToken), verified against the
/// trusted timestamp authorities and bound to this signature; its genTime must fall inside the
/// signer certificate's validity. `None` when the signature carries none.
pub fn verified_timestamp(
    sig: &ParsedSignature,
    leaf: &CertInfo,
    trust: &TrustedRoot,
) -> Result<Option<i64>, VerifyError> {
    let fingerprint = || leaf.fingerprint.clone();
    let token = match sig.unsigned_attr(&oids::TIMESTAMP_TOKEN).as_slice() {
        [] => return Ok(None),
        [token] => token.to_vec(),
        more => {
            let source = crate::services::tsa::TsaError::Ambiguous(more.len());
            return Err(VerifyError::Timestamp { fingerprint: fingerprint(), source });
        }
    };
    let v = crate::services::tsa::verify_token(&token, &sig.signature, trust)
        .map_err(|source| VerifyError::Timestamp { fingerprint: fingerprint(), source })?;
    if !leaf.valid_at(v.gen_time) {
        return Err(VerifyError::NotValidAtTimestamp {
            fingerprint: fingerprint(),
            t: v.gen_time,
            not_before: leaf.not_before,
            not_after: leaf.not_after,
        });
    }
    Ok(Some(v.gen_time))
}

/// The embedded Rekor entry: attribute 3.1 holding an OCTET STRING (protobuf), or the
/// pre-release per-field set 3.0–3.8 (3.1 a PrintableString). `None` when there is none.
pub fn embedded_entry(sig: &ParsedSignature, fingerprint: &str) -> Result<Option<TransparencyLogEntry>, VerifyError> {
    let entry_err = |source| VerifyError::EmbeddedEntry { fingerprint: fingerprint.to_string(), source };
    let values = sig.unsigned_attr(&oids::REKOR_ENTRY);
    match values.as_slice() {
        [] => return Ok(None),
        [v] if v.first() == Some(&0x04) => {
            let os = x509::tlv::read_all(v)
                .map_err(|e| entry_err(EntryError::Field { field: "attribute 3.1".into(), reason: e.to_string() }))?;
            return TransparencyLogEntry::decode(os.value).map(Some).map_err(entry_err);
        }
        [_] => {}
        _ => return Err(VerifyError::AmbiguousEmbeddedEntry { fingerprint: fingerprint.to_string() }),
    }
    let mut fields = BTreeMap::new();
    for (oid, vals) in &sig.unsigned_attrs {
        let Some(n) = oid.to_string().strip_prefix(oids::SIGSTORE_REKOR_ARC).and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let [v] = vals.as_slice() else {
            return Err(VerifyError::AmbiguousEmbeddedEntry { fingerprint: fingerprint.to_string() });
        };
        if fields.insert(n, v.clone()).is_some() {
            return Err(VerifyError::AmbiguousEmbeddedEntry { fingerprint: fingerprint.to_string() });
        }
    }
    TransparencyLogEntry::from_per_field(&fields).map(Some).map_err(entry_err)
}

/// The fields of a hashedrekord body that bind it to an artifact and a certificate.
struct HashedRekordFields {
    hash_hex: String,
    signature: Vec<u8>,
    cert_der: Vec<u8>,
}

fn hashedrekord_fields(body: &[u8]) -> Option<HashedRekordFields> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    if v.get("kind")?.as_str()? != "hashedrekord" {
        return None;
    }
    let spec = v.get("spec")?;
    let hash = spec.get("data")?.get("hash")?;
    if hash.get("algorithm")?.as_str()? != "sha256" {
        return None;
    }
    let sig = spec.get("signature")?;
    let pem = STANDARD.decode(sig.get("publicKey")?.get("content")?.as_str()?).ok()?;
    Some(HashedRekordFields {
        hash_hex: hash.get("value")?.as_str()?.to_ascii_lowercase(),
        signature: STANDARD.decode(sig.get("content")?.as_str()?).ok()?,
        cert_der: x509::pem_to_der(std::str::from_utf8(&pem).ok()?)?,
    })
}

/// Online mode (§5.3): search by certificate only, accept the first entry whose data hash is
/// SHA-256(object id) AND whose certificate is the signer's (GHSA-8pmp), and which verifies
/// (SET, proof, checkpoint, and the ECDSA signature over the object id with the leaf key).
fn online_lookup(
    rekor: &dyn RekorLookup,
    leaf: &CertInfo,
    object_id: &str,
    trust: &TrustedRoot,
) -> Result<(i64, TlogEvidence), VerifyError> {
    let fingerprint = leaf.fingerprint.clone();
    let budget = rekor.lookup_budget();
    let deadline = Instant::now() + budget;
    let timed_out = |examined: usize, total: usize| VerifyError::RekorLookupTimedOut {
        fingerprint: fingerprint.clone(),
        object_id: object_id.to_string(),
        rekor: rekor.base_url().to_string(),
        budget_secs: budget.as_secs(),
        examined,
        total,
    };
    // A failed request after the deadline failed because of it: name the budget, not the log.
    let failed = |source, examined: usize, total: usize| {
        if Instant::now() >= deadline {
            timed_out(examined, total)
        } else {
            VerifyError::RekorUnavailable { fingerprint: fingerprint.clone(), source }
        }
    };
    let want_hash = hex::encode(Sha256::digest(object_id.as_bytes()));
    let uuids =
        rekor.search_by_certificate(&body::certificate_pem(&leaf.der), deadline).map_err(|e| failed(e, 0, 0))?;
    let total = uuids.len();
    let mut last_problem = None;
    let mut examined = 0;
    for uuid in uuids.iter().take(MAX_ONLINE_ENTRIES) {
        if Instant::now() >= deadline {
            return Err(timed_out(examined, total));
        }
        let fetched = rekor.get_entry(uuid, deadline);
        examined += 1;
        let (got_uuid, api_entry) = match fetched {
            Ok(x) => x,
            // A log that answers with a wrong or inconsistent entry: skip it, keep the reason.
            Err(RekorError::Malformed { reason, .. }) => {
                last_problem = Some(format!("entry {uuid}: {reason}"));
                continue;
            }
            Err(e) => return Err(failed(e, examined - 1, total)),
        };
        let Ok(entry) = TransparencyLogEntry::from_api(&api_entry) else {
            continue;
        };
        let Some(fields) = hashedrekord_fields(&entry.canonicalized_body) else {
            continue;
        };
        if fields.hash_hex != want_hash || fields.cert_der != leaf.der {
            continue;
        }
        if let Err(e) = pubkey::verify(&leaf.spki_der, HashAlg::Sha256, object_id.as_bytes(), &fields.signature) {
            last_problem = Some(format!("entry {got_uuid}: signature over the object id does not verify: {e}"));
            continue;
        }
        let body = entry.canonicalized_body.clone();
        match verify_entry(&entry, &body, trust) {
            Ok(v) => {
                return Ok((
                    v.integrated_time,
                    TlogEvidence::Online { log_index: v.log_index, integrated_time: v.integrated_time, uuid: got_uuid },
                ));
            }
            Err(e) => last_problem = Some(format!("entry {got_uuid}: {e}")),
        }
    }
    Err(VerifyError::NoRekorEntry {
        fingerprint: leaf.fingerprint.clone(),
        object_id: object_id.to_string(),
        rekor: rekor.base_url().to_string(),
        candidates: examined,
        last_problem,
        not_checked: total.saturating_sub(examined),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::x509::testcert;
    use crate::services::rekor::types::Verification;
    use crate::trust::root::{CertificateAuthority, TransparencyLog, ValidFor};
    use ecdsa::signature::Signer;
    use std::cell::RefCell;

    const T0: i64 = 1_780_000_000;
    const PAYLOAD: &[u8] = b"tree 1111\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nmsg\n";

    struct World {
        trust: TrustedRoot,
        leaf: Vec<u8>,
        leaf_key: p256::ecdsa::SigningKey,
        other_leaf: Vec<u8>,
        other_key: p256::ecdsa::SigningKey,
        rekor_key: p256::ecdsa::SigningKey,
        log_id: Vec<u8>,
    }

    /// A private Sigstore: a root CA issuing leaves directly (so no SCT is needed) and a Rekor key.
    fn world() -> World {
        use testcert::*;
        let (rk, lk, ok, logk) = (key(11), key(12), key(13), key(14));
        let rn = name("test", "root");
        let root = build(1, &rn, &rn, T0 - 10_000, T0 + 10_000, &spki(&rk), &[bc_ca(Some(1)), ku_ca()], &rk);
        let leaf = build(2, &rn, &[0x30, 0], T0, T0 + 600, &spki(&lk), &leaf_exts("alice@example.com"), &rk);
        let other_leaf = build(3, &rn, &[0x30, 0], T0, T0 + 600, &spki(&ok), &leaf_exts("mallory@example.com"), &rk);
        let log_spki = spki(&logk);
        let log_id = pubkey::key_id(&log_spki).to_vec();
        let trust = TrustedRoot {
            certificate_authorities: vec![CertificateAuthority {
                subject_organization: "test".into(),
                subject_common_name: "root".into(),
                uri: String::new(),
                chain_der: vec![root],
                valid_for: ValidFor::OPEN,
            }],
            tlogs: vec![TransparencyLog {
                base_url: "https://rekor.test".into(),
                log_id: log_id.clone(),
                public_key_der: log_spki,
                key_details: crate::trust::root::KEY_ECDSA_P256_SHA256.into(),
                valid_for: ValidFor::OPEN,
            }],
            ..Default::default()
        };
        World { trust, leaf, leaf_key: lk, other_leaf, other_key: ok, rekor_key: logk, log_id }
    }

    fn set_for(w: &World, body: &[u8], integrated_time: i64, log_index: i64) -> Vec<u8> {
        let msg = crate::services::rekor::set::payload(body, integrated_time, &w.log_id, log_index);
        let sig: p256::ecdsa::DerSignature = w.rekor_key.sign(&msg);
        sig.as_bytes().to_vec()
    }

    /// An offline-mode signature whose embedded entry says `integrated_time`.
    fn offline_signature(w: &World, integrated_time: i64) -> Vec<u8> {
        let pending = crate::crypto::cms::sign::sign_detached(PAYLOAD, &w.leaf, &w.leaf_key, T0).unwrap();
        let body = body::hashedrekord_offline(&pending.signed_attrs_der, &pending.signature, &w.leaf);
        let entry = TransparencyLogEntry {
            log_index: 42,
            log_id: w.log_id.clone(),
            kind: "hashedrekord".into(),
            version: "0.0.1".into(),
            integrated_time,
            signed_entry_timestamp: set_for(w, &body, integrated_time, 42),
            inclusion_proof: None,
            canonicalized_body: Vec::new(),
        };
        let value = crate::crypto::cms::sign::octet_string_value(&entry.encode()).unwrap();
        let der = pending.finish(&[(oids::REKOR_ENTRY, value)]).unwrap();
        armor::encode(&der).into_bytes()
    }

    fn online_signature(w: &World) -> Vec<u8> {
        let pending = crate::crypto::cms::sign::sign_detached(PAYLOAD, &w.leaf, &w.leaf_key, T0).unwrap();
        armor::encode(&pending.finish(&[]).unwrap()).into_bytes()
    }

    #[test]
    fn offline_mode_valid_and_time_bounds() {
        let w = world();
        let opts = VerifyOptions::new(&w.trust);
        let v = verify(PAYLOAD, &offline_signature(&w, T0 + 1), &opts).unwrap();
        assert_eq!(v.tlog, TlogEvidence::Embedded { log_index: 42, integrated_time: T0 + 1 });
        assert_eq!(v.identity, "alice@example.com");
        assert_eq!(v.issuer.as_deref(), Some("https://issuer.example"));
        assert_eq!(v.verified_at, T0 + 1);
        assert!(!v.sct_verified, "leaf issued directly by the root: no SCT");
        // Logged after the certificate expired, or before it was valid.
        for t in [T0 + 601, T0 - 1] {
            let e = verify(PAYLOAD, &offline_signature(&w, t), &opts).unwrap_err();
            assert!(matches!(e, VerifyError::NotValidAtLogTime { t: tt, .. } if tt == t), "{e}");
            assert_eq!(error_status_kind(&e), ErrorStatus::BadSig);
        }
        // Boundaries are inclusive.
        assert!(verify(PAYLOAD, &offline_signature(&w, T0 + 600), &opts).is_ok());
        assert!(verify(PAYLOAD, &offline_signature(&w, T0), &opts).is_ok());
        // Payload changed after signing: the embedded entry is still valid, the CMS is not (#317).
        let e = verify(b"tree 2222\n\nmsg\n", &offline_signature(&w, T0 + 1), &opts).unwrap_err();
        assert!(matches!(e, VerifyError::Content { source: CmsError::DigestMismatch, .. }));
        // Another trust root: the log is unknown, then the CA.
        let prod = TrustedRoot::production().unwrap();
        let e = verify(PAYLOAD, &offline_signature(&w, T0 + 1), &VerifyOptions::new(prod)).unwrap_err();
        assert!(matches!(e, VerifyError::Tlog { source: TlogError::UnknownLog { .. }, .. }), "{e}");
        assert_eq!(e.status(), ErrorStatus::ErrSig, "an unknown log is a missing key, not tampering");
        let mut no_ca = w.trust.clone();
        no_ca.certificate_authorities.clear();
        let e = verify(PAYLOAD, &offline_signature(&w, T0 + 1), &VerifyOptions::new(&no_ca)).unwrap_err();
        assert!(matches!(e, VerifyError::Chain { .. }), "{e}");
        assert_eq!(e.status(), ErrorStatus::ErrSig, "an unknown CA is a missing key, not tampering");
        // The log key no longer trusted at the integrated time: expired trust, not tampering.
        let mut expired = w.trust.clone();
        for log in &mut expired.tlogs {
            log.valid_for.end = Some(T0);
        }
        let e = verify(PAYLOAD, &offline_signature(&w, T0 + 1), &VerifyOptions::new(&expired)).unwrap_err();
        assert!(matches!(e, VerifyError::Tlog { source: TlogError::KeyNotValidAtTime { .. }, .. }), "{e}");
        assert_eq!(e.status(), ErrorStatus::ErrSig);
    }

    fn der_int(v: i64) -> Vec<u8> {
        let bytes = v.to_be_bytes();
        let mut start = 0;
        while start < 7 && bytes[start] == 0 && bytes[start + 1] & 0x80 == 0 {
            start += 1;
        }
        x509::tlv::encode(0x02, &bytes[start..])
    }

    #[test]
    fn pre_release_per_field_entry_verifies() {
        let w = world();
        let it = T0 + 3;
        let pending = crate::crypto::cms::sign::sign_detached(PAYLOAD, &w.leaf, &w.leaf_key, T0).unwrap();
        let body = body::hashedrekord_offline(&pending.signed_attrs_der, &pending.signature, &w.leaf);
        let set = set_for(&w, &body, it, 7);
        let arc = |n: u32| const_oid::ObjectIdentifier::new(&format!("{}{n}", oids::SIGSTORE_REKOR_ARC)).unwrap();
        let attrs = |set: &[u8]| {
            vec![
                (arc(0), der_int(it)),
                (arc(1), x509::tlv::encode(0x13, hex::encode(&w.log_id).as_bytes())),
                (arc(2), der_int(7)),
                (arc(3), x509::tlv::encode(0x04, set)),
            ]
        };
        let der = pending.clone().finish(&attrs(&set)).unwrap();
        let v = verify(PAYLOAD, armor::encode(&der).as_bytes(), &VerifyOptions::new(&w.trust)).unwrap();
        assert_eq!(v.tlog, TlogEvidence::Embedded { log_index: 7, integrated_time: it });
        // A tampered SET fails; a missing field is a malformed entry, never a panic.
        let mut bad = set.clone();
        if let Some(b) = bad.last_mut() {
            *b ^= 1;
        }
        let der = pending.clone().finish(&attrs(&bad)).unwrap();
        let e = verify(PAYLOAD, armor::encode(&der).as_bytes(), &VerifyOptions::new(&w.trust)).unwrap_err();
        assert!(matches!(e, VerifyError::Tlog { .. }), "{e}");
        let mut partial = attrs(&set);
        partial.remove(0);
        let der = pending.finish(&partial).unwrap();
        let e = verify(PAYLOAD, armor::encode(&der).as_bytes(), &VerifyOptions::new(&w.trust)).unwrap_err();
        assert!(matches!(e, VerifyError::EmbeddedEntry { .. }), "{e}");
    }

    #[test]
    fn online_mode_without_network_is_a_clear_errsig() {
        let w = world();
        let e = verify(PAYLOAD, &online_signature(&w), &VerifyOptions::new(&w.trust)).unwrap_err();
        assert!(matches!(e, VerifyError::TlogNeedsNetwork { .. }));
        assert_eq!(error_status_kind(&e), ErrorStatus::ErrSig);
        assert!(e.to_string().contains("cannot be checked offline"));
        assert!(e.fingerprint().is_some());
        let opts = VerifyOptions { insecure_ignore_tlog: true, ..VerifyOptions::new(&w.trust) };
        let v = verify(PAYLOAD, &online_signature(&w), &opts).unwrap();
        assert_eq!(v.tlog, TlogEvidence::NotChecked);
        assert_eq!(v.verified_at, T0 + UNCHECKED_TLOG_CHAIN_OFFSET);
    }

    struct FakeRekor {
        entries: Vec<(String, LogEntry)>,
        queries: RefCell<Vec<String>>,
        down: bool,
    }

    impl RekorLookup for FakeRekor {
        fn search_by_certificate(&self, cert_pem: &str, _: Instant) -> Result<Vec<String>, RekorError> {
            self.queries.borrow_mut().push(cert_pem.to_string());
            if self.down {
                return Err(RekorError::Unreachable { url: "https://rekor.test".into(), reason: "down".into() });
            }
            Ok(self.entries.iter().map(|(u, _)| u.clone()).collect())
        }
        fn get_entry(&self, uuid: &str, _: Instant) -> Result<(String, LogEntry), RekorError> {
            if uuid.starts_with("bad") {
                return Err(RekorError::Malformed {
                    url: uuid.into(),
                    reason: "body does not hash to the uuid".into(),
                });
            }
            self.entries.iter().find(|(u, _)| u == uuid).cloned().ok_or_else(|| RekorError::Status {
                url: uuid.into(),
                status: 404,
                message: "not found".into(),
            })
        }
        fn base_url(&self) -> &str {
            "https://rekor.test"
        }
    }

    /// An online-mode entry for `oid`, logged with `cert`/`key`.
    fn api_entry(w: &World, oid: &str, cert: &[u8], key: &p256::ecdsa::SigningKey, index: i64) -> (String, LogEntry) {
        let sig: p256::ecdsa::DerSignature = key.sign(oid.as_bytes());
        let body = body::hashedrekord_online(oid, sig.as_bytes(), cert);
        let set = set_for(w, &body, T0 + 2, index);
        let uuid = hex::encode(crate::services::rekor::merkle::leaf_hash(&body));
        (
            uuid,
            LogEntry {
                body: STANDARD.encode(&body),
                integrated_time: T0 + 2,
                log_id: hex::encode(&w.log_id),
                log_index: index,
                verification: Some(Verification {
                    inclusion_proof: None,
                    signed_entry_timestamp: Some(STANDARD.encode(set)),
                }),
            },
        )
    }

    #[test]
    fn online_lookup_binds_object_and_certificate() {
        let w = world();
        let sig_text = online_signature(&w);
        let object = git::rebuild_object(ObjectKind::Commit, PAYLOAD, &sig_text, HashAlgo::Sha1);
        let oid = git::object_id(ObjectKind::Commit, &object, HashAlgo::Sha1);
        let other_oid = "0123456789abcdef0123456789abcdef01234567";
        let same_cert_other_commit = api_entry(&w, other_oid, &w.leaf, &w.leaf_key, 1);
        let right_hash_other_cert = api_entry(&w, &oid, &w.other_leaf, &w.other_key, 2);
        let right = api_entry(&w, &oid, &w.leaf, &w.leaf_key, 3);
        let run = |entries: Vec<(String, LogEntry)>| {
            let fake = FakeRekor { entries, queries: RefCell::new(Vec::new()), down: false };
            let opts = VerifyOptions { rekor: Some(&fake), ..VerifyOptions::new(&w.trust) };
            let r = verify(PAYLOAD, &sig_text, &opts);
            // (c) the search sends only the certificate: the signer's, as Rekor's canonical PEM.
            assert_eq!(*fake.queries.borrow(), vec![body::certificate_pem(&w.leaf)]);
            r
        };
        // (a) only an entry for the same certificate and another commit.
        let e = run(vec![same_cert_other_commit.clone()]).unwrap_err();
        assert!(matches!(&e, VerifyError::NoRekorEntry { candidates: 1, .. }), "{e}");
        assert_eq!(error_status_kind(&e), ErrorStatus::ErrSig, "no log evidence: cannot be checked");
        // (b) right hash, another certificate.
        let e = run(vec![right_hash_other_cert.clone()]).unwrap_err();
        assert!(matches!(&e, VerifyError::NoRekorEntry { .. }), "{e}");
        // (d) a mix: the right one is used.
        let v = run(vec![same_cert_other_commit, right_hash_other_cert, right.clone()]).unwrap();
        assert_eq!(v.tlog, TlogEvidence::Online { log_index: 3, integrated_time: T0 + 2, uuid: right.0.clone() });
        // An inconsistent answer from the log is skipped, not fatal.
        let mut inconsistent = right.clone();
        inconsistent.0 = "bad-entry".into();
        let v = run(vec![inconsistent, right.clone()]).unwrap();
        assert!(matches!(v.tlog, TlogEvidence::Online { log_index: 3, .. }));
        // The given object id takes precedence over the computed one.
        let fake = FakeRekor { entries: vec![right.clone()], queries: RefCell::new(Vec::new()), down: false };
        let opts =
            VerifyOptions { rekor: Some(&fake), object_id: Some(other_oid.into()), ..VerifyOptions::new(&w.trust) };
        assert!(matches!(verify(PAYLOAD, &sig_text, &opts), Err(VerifyError::NoRekorEntry { .. })));
        // A matching entry whose SET is broken is rejected, with the reason.
        let mut bad = right.clone();
        if let Some(v) = bad.1.verification.as_mut() {
            v.signed_entry_timestamp = Some(STANDARD.encode(set_for(&w, b"other", T0 + 2, 3)));
        }
        let e = run(vec![bad]).unwrap_err();
        assert!(e.to_string().contains("last problem"), "{e}");
        // Rekor unreachable: ERRSIG.
        let fake = FakeRekor { entries: vec![], queries: RefCell::new(Vec::new()), down: true };
        let opts = VerifyOptions { rekor: Some(&fake), ..VerifyOptions::new(&w.trust) };
        let e = verify(PAYLOAD, &sig_text, &opts).unwrap_err();
        assert!(matches!(e, VerifyError::RekorUnavailable { .. }));
        assert_eq!(error_status_kind(&e), ErrorStatus::ErrSig);
    }

    /// An offline-mode signature carrying an RFC 3161 token from `tsa` at `gen_time`.
    fn timestamped_signature(
        w: &World,
        tsa: &crate::services::tsa::testtsa::TestTsa,
        gen_time: i64,
        online: bool,
    ) -> Vec<u8> {
        use crate::services::tsa::testtsa::{Spec, token};
        let pending = crate::crypto::cms::sign::sign_detached(PAYLOAD, &w.leaf, &w.leaf_key, T0).unwrap();
        let imprint = Sha256::digest(&pending.signature).to_vec();
        let tok = token(tsa, &Spec { version: 1, imprint, nonce: Some(vec![5]), gen_time, with_certs: true });
        if online {
            return armor::encode(&pending.finish(&[(oids::TIMESTAMP_TOKEN, tok)]).unwrap()).into_bytes();
        }
        let body = body::hashedrekord_offline(&pending.signed_attrs_der, &pending.signature, &w.leaf);
        let entry = TransparencyLogEntry {
            log_index: 42,
            log_id: w.log_id.clone(),
            kind: "hashedrekord".into(),
            version: "0.0.1".into(),
            integrated_time: T0 + 1,
            signed_entry_timestamp: set_for(w, &body, T0 + 1, 42),
            inclusion_proof: None,
            canonicalized_body: Vec::new(),
        };
        let value = crate::crypto::cms::sign::octet_string_value(&entry.encode()).unwrap();
        let der = pending.finish(&[(oids::REKOR_ENTRY, value), (oids::TIMESTAMP_TOKEN, tok)]).unwrap();
        armor::encode(&der).into_bytes()
    }

    #[test]
    fn rfc3161_timestamp_is_verified_and_fails_closed() {
        use crate::services::tsa::TsaError;
        use crate::services::tsa::testtsa::{authority, tsa};
        let w = world();
        let t = tsa(61, T0 - 1000, T0 + 1000, true);
        let mut trust = w.trust.clone();
        trust.timestamp_authorities = vec![authority(&t)];
        let opts = VerifyOptions::new(&trust);
        // Rekor entry and token: both verified.
        let v = verify(PAYLOAD, &timestamped_signature(&w, &t, T0 + 2, false), &opts).unwrap();
        assert_eq!(v.timestamp, Some(T0 + 2));
        assert_eq!(v.verified_at, T0 + 1);
        assert!(matches!(v.tlog, TlogEvidence::Embedded { .. }));
        // No TSA trusted: fail closed even though the Rekor entry is fine.
        let e =
            verify(PAYLOAD, &timestamped_signature(&w, &t, T0 + 2, false), &VerifyOptions::new(&w.trust)).unwrap_err();
        assert!(matches!(e, VerifyError::Timestamp { source: TsaError::NoTrustedTsa, .. }), "{e}");
        assert_eq!(error_status_kind(&e), ErrorStatus::ErrSig);
        assert!(e.to_string().contains("timestampCertChain"), "{e}");
        // Another TSA trusted.
        let other = tsa(63, T0 - 1000, T0 + 1000, true);
        let mut wrong = w.trust.clone();
        wrong.timestamp_authorities = vec![authority(&other)];
        let e =
            verify(PAYLOAD, &timestamped_signature(&w, &t, T0 + 2, false), &VerifyOptions::new(&wrong)).unwrap_err();
        assert!(matches!(e, VerifyError::Timestamp { source: TsaError::Untrusted { .. }, .. }), "{e}");
        // genTime outside the signer certificate's validity.
        let e = verify(PAYLOAD, &timestamped_signature(&w, &t, T0 + 601, false), &opts).unwrap_err();
        assert!(matches!(e, VerifyError::NotValidAtTimestamp { t: tt, .. } if tt == T0 + 601), "{e}");
        // A token for another signature (moved onto a second signature of the same payload).
        let a = cms::parse(&armor::decode(&timestamped_signature(&w, &t, T0 + 2, false)).unwrap()).unwrap();
        let token_a = a.unsigned_attr(&oids::TIMESTAMP_TOKEN)[0].to_vec();
        // (ECDSA here is deterministic: another signing time gives another signature.)
        let pending = crate::crypto::cms::sign::sign_detached(PAYLOAD, &w.leaf, &w.leaf_key, T0 + 1).unwrap();
        let swapped = armor::encode(&pending.finish(&[(oids::TIMESTAMP_TOKEN, token_a)]).unwrap()).into_bytes();
        let e = verify(PAYLOAD, &swapped, &VerifyOptions { insecure_ignore_tlog: true, ..VerifyOptions::new(&trust) })
            .unwrap_err();
        assert!(matches!(e, VerifyError::Timestamp { source: TsaError::ImprintMismatch, .. }), "{e}");
        // Online-mode signature with a token, log not checked: genTime is the verification time.
        let opts = VerifyOptions { insecure_ignore_tlog: true, ..VerifyOptions::new(&trust) };
        let v = verify(PAYLOAD, &timestamped_signature(&w, &t, T0 + 5, true), &opts).unwrap();
        assert_eq!((v.verified_at, v.timestamp, v.tlog), (T0 + 5, Some(T0 + 5), TlogEvidence::NotChecked));
    }

    #[test]
    fn classification_of_unreadable_signatures() {
        let w = world();
        let e = verify(PAYLOAD, b"not a signature", &VerifyOptions::new(&w.trust)).unwrap_err();
        assert_eq!(error_status_kind(&e), ErrorStatus::ErrSig);
        assert_eq!(signer_of_failure(&e), None);
        let e = verify(b"x", &online_signature(&w), &VerifyOptions::new(&w.trust)).unwrap_err();
        assert_eq!(error_status_kind(&e), ErrorStatus::BadSig);
        assert!(signer_of_failure(&e).is_some());
    }
}
