//! The signing pipeline: identity (ID token → ephemeral P-256 key → Fulcio certificate),
//! the detached CMS signature, and the Rekor entry (embedded in offline mode, logged over
//! the object id in online mode).
use crate::app::config::{Config, RekorMode};
use crate::crypto::cms::sign::{PendingSignature, octet_string_value, sign_detached};
use crate::git::object::{self as git, HashAlgo, ObjectKind};
use crate::services::fulcio::{FulcioClient, FulcioError, certificate_pem};
use crate::services::oidc::{self, Claims, OidcError};
use crate::services::rekor::client::{RekorClient, RekorError};
use crate::services::rekor::entry::TransparencyLogEntry;
use crate::services::rekor::types::{
    HashedRekord, HashedRekordData, HashedRekordHash, HashedRekordPublicKey, HashedRekordSignature, HashedRekordSpec,
};
use crate::trust::root::TrustedRoot;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ecdsa::signature::Signer;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use spki::EncodePublicKey;

/// Errors while signing. Each says what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// No token, or an unusable one.
    #[error(transparent)]
    Oidc(#[from] OidcError),
    /// Fulcio failed.
    #[error("{0}\n  (check gitsign.fulcio / GITSIGN_FULCIO_URL and that your ID token is for this Fulcio's issuer)")]
    Fulcio(#[from] FulcioError),
    /// Rekor failed.
    #[error("{0}\n  (check gitsign.rekor / GITSIGN_REKOR_URL; nothing was signed)")]
    Rekor(#[from] RekorError),
    /// Building the CMS failed.
    #[error(transparent)]
    Cms(#[from] crate::crypto::cms::sign::CmsSignError),
    /// HTTP setup failed.
    #[error(transparent)]
    Http(#[from] crate::services::http::HttpError),
    /// Fulcio returned a certificate for another key.
    #[error("Fulcio at {url} returned a certificate for a different public key than the one we sent; refusing to sign")]
    WrongKey {
        /// The Fulcio URL.
        url: String,
    },
    /// Rekor returned an entry that cannot be embedded.
    #[error("Rekor at {url} answered with an entry that cannot be embedded in the signature: {reason}")]
    BadEntry {
        /// The Rekor URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Rekor's answer does not verify with the trusted root.
    #[error(
        "Rekor at {url} answered with an entry that does not verify with the trusted root, so nothing was signed: {reason}\n  (if you use a private Sigstore, point gitsign.trustedRoot / GITSIGN_TRUSTED_ROOT at its trusted_root.json)"
    )]
    UnverifiableEntry {
        /// The Rekor URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The payload is not a commit or tag (online mode needs to know which).
    #[error("online Rekor mode needs a commit or tag payload; this input is neither (use offline mode)")]
    NotAnObject,
    /// Sign-time committer check failed.
    #[error(
        "gitsign.matchCommitter is set, but the certificate identity {identity:?} matches neither user.email {email:?} nor user.name {name:?}"
    )]
    CommitterMismatch {
        /// SAN of the certificate.
        identity: String,
        /// user.email
        email: String,
        /// user.name
        name: String,
    },
    /// Fulcio's certificate cannot be used: another identity, expired, or not chaining to a
    /// trusted Fulcio CA. Nothing was signed.
    #[error(
        "Fulcio at {url} issued a certificate that cannot be used: {reason}; refusing to sign\n  (check gitsign.fulcio / GITSIGN_FULCIO_URL and the trusted root: gitsign.trustedRoot / GITSIGN_TRUSTED_ROOT)"
    )]
    BadCertificate {
        /// The Fulcio URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The key could not be generated.
    #[error("cannot generate a signing key: {0}")]
    Key(String),
    /// The key (or the cache daemon holding it) did not sign.
    #[error("cannot sign: {0}")]
    Signer(String),
    /// The RFC 3161 timestamp could not be obtained (gitsign.timestampServerURL).
    #[error(transparent)]
    Timestamp(#[from] crate::services::tsa::TsaError),
}

pub use crate::credentials::identity::Identity;

/// What a signature is, for status lines and messages.
#[derive(Debug, Clone)]
pub struct SignOutput {
    /// The armored signature, ending with a newline.
    pub armored: String,
    /// Lowercase hex SHA-1 of the leaf certificate.
    pub fingerprint: String,
    /// OpenPGP hash algorithm id of the leaf's signature algorithm (SIG_CREATED field).
    pub hash_algo: u8,
    /// Rekor log index.
    pub log_index: i64,
    /// The token's issuer.
    pub issuer: String,
    /// The challenge subject (email or sub).
    pub subject: String,
}

/// Clients used for signing.
pub struct Services {
    /// Fulcio.
    pub fulcio: FulcioClient,
    /// Rekor.
    pub rekor: RekorClient,
    /// The HTTP client (for token providers).
    pub http: reqwest::blocking::Client,
}

impl Services {
    /// Clients for the configured URLs.
    pub fn from_config(cfg: &Config) -> Result<Services, SignError> {
        let http = crate::services::http::client(&cfg.http_options())?;
        Ok(Services {
            fulcio: FulcioClient::new(&cfg.fulcio, http.clone()),
            rekor: RekorClient::new(&cfg.rekor, http.clone()),
            http,
        })
    }
}

/// Obtain an identity: a live one from the credential cache if one is configured (it wins
/// over every token source); otherwise a token from the configured provider, a fresh P-256
/// key, and a certificate from Fulcio for it, which is then stored in the cache. Cache
/// failures are warnings, never errors.
pub fn obtain_identity(
    cfg: &Config,
    services: &Services,
    trust: &TrustedRoot,
    now: i64,
) -> Result<Identity, SignError> {
    #[cfg(unix)]
    if let Some(identity) = crate::credentials::cache::lookup(cfg, trust, now) {
        return Ok(identity);
    }
    login_identity(cfg, services, trust, now)
}

/// The part of [`obtain_identity`] after a cache miss: log in, get a certificate, and store the
/// result in the cache if one is configured.
pub fn login_identity(cfg: &Config, services: &Services, trust: &TrustedRoot, now: i64) -> Result<Identity, SignError> {
    let token = oidc::get_token(cfg, &services.http)?;
    let identity = identity_from_token_from(&token.raw, token.origin, services, now)?;
    // Cache only what the signing path will accept: a cached credential wins over every
    // token source, so a certificate for the wrong identity would otherwise stick.
    #[cfg(unix)]
    if crate::credentials::cache::enabled(cfg)
        && check_match_committer(cfg, &identity).is_ok()
        && check_certificate(cfg, &identity, trust, now).is_ok()
    {
        crate::credentials::cache::remember(cfg, trust, &identity, now);
    }
    Ok(identity)
}

/// As [`obtain_identity`], with a given raw token.
pub fn identity_from_token(token: &str, services: &Services, now: i64) -> Result<Identity, SignError> {
    identity_from_token_from(token, "given", services, now)
}

/// As [`identity_from_token`], for a token whose source `origin` messages name (a phrase such
/// as `from SIGSTORE_ID_TOKEN`, see [`oidc::IdToken`]).
pub fn identity_from_token_from(
    token: &str,
    origin: &str,
    services: &Services,
    now: i64,
) -> Result<Identity, SignError> {
    let claims = Claims::parse(token).map_err(OidcError::from)?;
    claims.check_fresh_from(now, origin).map_err(OidcError::from)?;
    let subject = claims.challenge_subject().map_err(OidcError::from)?;
    let key = crate::crypto::secret::SecretKey::generate().map_err(|e| SignError::Key(e.to_string()))?;
    let spki = key.verifying_key().to_public_key_der().map_err(|e| SignError::Key(e.to_string()))?;
    let proof: p256::ecdsa::DerSignature = key.sign(subject.as_bytes());
    let certs = services.fulcio.signing_cert(token, spki.as_bytes(), proof.as_bytes())?;
    // The certificate must be for our key.
    let leaf =
        <x509_cert::Certificate as der::Decode>::from_der(&certs.leaf).map_err(|e| SignError::BadCertificate {
            url: services.fulcio.base_url().to_string(),
            reason: format!("it does not parse: {e}"),
        })?;
    let leaf_spki = der::Encode::to_der(leaf.tbs_certificate().subject_public_key_info()).map_err(|e| {
        SignError::BadCertificate { url: services.fulcio.base_url().to_string(), reason: e.to_string() }
    })?;
    if leaf_spki != spki.as_bytes() {
        return Err(SignError::WrongKey { url: services.fulcio.base_url().to_string() });
    }
    Ok(Identity { key: crate::credentials::identity::IdentityKey::Local(key), certs, claims, from_cache: false })
}

/// How far the local clock may lag behind Fulcio's when checking a fresh certificate (seconds).
pub const CLOCK_SKEW: i64 = 300;

/// Check the certificate of an identity before signing with it, as a verifier will later: it is
/// valid now (allowing [`CLOCK_SKEW`] for a local clock that lags), names the token's email when
/// the token has one, chains to a Fulcio CA of the trusted root, and carries a valid SCT when the
/// chain needs one. A signature made with a certificate failing any of these would never verify.
pub fn check_certificate(cfg: &Config, identity: &Identity, trust: &TrustedRoot, now: i64) -> Result<(), SignError> {
    let bad = |reason: String| SignError::BadCertificate { url: cfg.fulcio.clone(), reason };
    let leaf = &identity.certs.leaf;
    let info = crate::crypto::x509::CertInfo::parse(leaf).map_err(|e| bad(format!("it does not parse: {e}")))?;
    if now > info.not_after {
        return Err(bad(format!("it expired at {}", crate::encoding::timefmt::describe(info.not_after, now))));
    }
    if now.saturating_add(CLOCK_SKEW) < info.not_before {
        return Err(bad(format!(
            "it is not valid before {}; check the system clock",
            crate::encoding::timefmt::describe(info.not_before, now)
        )));
    }
    if let Some(email) = identity.claims.email.as_deref().filter(|e| !e.is_empty()) {
        let named = info.sans.iter().any(|s| matches!(s, crate::crypto::x509::San::Email(e) if e == email));
        if !named {
            let got = info.sans.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            return Err(bad(format!("it is for {got:?}, not for the token's identity {email:?}")));
        }
    }
    // A cached credential passed the checks below under this very trusted root before it was
    // stored (the cache key includes the root's fingerprint); its key was matched to the
    // certificate on the way out of the cache. Two P-384 verifications are most of the CPU a
    // warm signature costs, so they are not repeated for each commit of a rebase.
    if identity.from_cache {
        return Ok(());
    }
    let t = now.clamp(info.not_before, info.not_after);
    let chain = crate::crypto::x509::verify_chain(leaf, &identity.certs.chain, trust, t)
        .map_err(|e| bad(format!("it does not chain to a Fulcio CA of the trusted root: {e}")))?;
    if chain.sct_required() {
        crate::crypto::x509::verify_sct(leaf, &chain.issuer_der, trust)
            .map_err(|e| bad(format!("its certificate transparency proof (SCT) does not verify: {e}")))?;
    }
    Ok(())
}

/// OpenPGP hash id of the leaf certificate's signature algorithm (gitsign's SIG_CREATED rule).
fn leaf_hash_algo(leaf_der: &[u8]) -> u8 {
    use crate::app::gpg::status::{HASH_SHA256, HASH_SHA384, HASH_SHA512};
    let Ok(cert) = <x509_cert::Certificate as der::Decode>::from_der(leaf_der) else {
        return HASH_SHA256;
    };
    match crate::crypto::pubkey::HashAlg::from_ecdsa_sig_oid(&cert.signature_algorithm().oid) {
        Some(crate::crypto::pubkey::HashAlg::Sha384) => HASH_SHA384,
        Some(crate::crypto::pubkey::HashAlg::Sha512) => HASH_SHA512,
        _ => HASH_SHA256,
    }
}

fn hashed_rekord(hash: &[u8], signature: &[u8], leaf_der: &[u8]) -> HashedRekord {
    HashedRekord {
        api_version: "0.0.1".into(),
        kind: "hashedrekord".into(),
        spec: HashedRekordSpec {
            data: HashedRekordData { hash: HashedRekordHash { algorithm: "sha256".into(), value: hex::encode(hash) } },
            signature: HashedRekordSignature {
                content: STANDARD.encode(signature),
                public_key: HashedRekordPublicKey { content: STANDARD.encode(certificate_pem(leaf_der)) },
            },
        },
    }
}

/// Sign `payload` with `identity` and log it in Rekor according to `cfg.rekor_mode`.
pub fn sign_payload(
    cfg: &Config,
    identity: &Identity,
    rekor: &RekorClient,
    trust: &TrustedRoot,
    payload: &[u8],
    now: i64,
) -> Result<SignOutput, SignError> {
    let leaf = &identity.certs.leaf;
    let pending: PendingSignature = sign_detached(payload, leaf, &identity.key, now)?;
    // RFC 3161 (gitsign.timestampServerURL): fetched before anything is logged, so a TSA
    // failure leaves no Rekor entry behind; stored as id-aa-timeStampToken.
    let timestamp: Vec<_> = crate::services::tsa::token_for_signature(cfg, trust, &pending.signature)?
        .map(|token| (crate::encoding::oids::TIMESTAMP_TOKEN, token))
        .into_iter()
        .collect();
    let (armored, log_index) = match cfg.rekor_mode {
        RekorMode::Offline => {
            let hash = Sha256::digest(&pending.signed_attrs_der);
            let (_uuid, entry) = rekor.create_entry(&hashed_rekord(&hash, &pending.signature, leaf))?;
            let tle = TransparencyLogEntry::from_api(&entry)
                .map_err(|e| SignError::BadEntry { url: rekor.base_url().to_string(), reason: e.to_string() })?;
            // Never embed evidence that would not verify: check it as a verifier will, against
            // the body rebuilt from this signature and the trusted root's log key.
            let body =
                crate::services::rekor::body::hashedrekord_offline(&pending.signed_attrs_der, &pending.signature, leaf);
            crate::services::rekor::verify::verify_entry(&tle, &body, trust).map_err(|e| {
                SignError::UnverifiableEntry { url: rekor.base_url().to_string(), reason: e.to_string() }
            })?;
            // gitsign leaves the body out: the verifier rebuilds it from the signature.
            let value = octet_string_value(&tle.to_embedded().encode())?;
            let der = pending.finish(&[&[(crate::encoding::oids::REKOR_ENTRY, value)][..], &timestamp].concat())?;
            (crate::encoding::armor::encode(&der), entry.log_index)
        }
        RekorMode::Online => {
            let der = pending.finish(&timestamp)?;
            let armored = crate::encoding::armor::encode(&der);
            let kind = ObjectKind::from_payload(payload).ok_or(SignError::NotAnObject)?;
            let algo = if cfg.object_format == "sha256" { HashAlgo::Sha256 } else { HashAlgo::Sha1 };
            let object = git::rebuild_object(kind, payload, armored.as_bytes(), algo);
            let oid = git::object_id(kind, &object, algo);
            let sig: p256::ecdsa::DerSignature = identity
                .key
                .try_sign(oid.as_bytes())
                .map_err(|e| SignError::Signer(format!("the object id: {}", signer_error(&e))))?;
            let hash = Sha256::digest(oid.as_bytes());
            let (_uuid, entry) = rekor.create_entry(&hashed_rekord(&hash, sig.as_bytes(), leaf))?;
            // The entry lives only in the log: check now, as a verifier will look it up, that the
            // log vouched for this very entry (a lying log must not leave an unverifiable commit).
            let tle = TransparencyLogEntry::from_api(&entry)
                .map_err(|e| SignError::BadEntry { url: rekor.base_url().to_string(), reason: e.to_string() })?;
            let body = crate::services::rekor::body::hashedrekord_online(&oid, sig.as_bytes(), leaf);
            crate::services::rekor::verify::verify_entry(&tle, &body, trust).map_err(|e| {
                SignError::UnverifiableEntry { url: rekor.base_url().to_string(), reason: e.to_string() }
            })?;
            (armored, entry.log_index)
        }
    };
    Ok(SignOutput {
        armored,
        fingerprint: hex::encode(Sha1::digest(leaf)),
        hash_algo: leaf_hash_algo(leaf),
        log_index,
        issuer: identity.claims.iss.clone(),
        subject: identity.claims.challenge_subject().unwrap_or_default(),
    })
}

/// The words of a signing failure: its source's (the cache daemon's) when it has one.
pub fn signer_error(e: &p256::ecdsa::signature::Error) -> String {
    use std::error::Error;
    e.source().map(ToString::to_string).unwrap_or_else(|| e.to_string())
}

/// `gitsign.matchCommitter`: at sign time, a SAN email must equal `user.email`, or a SAN URI
/// must equal `user.name`.
pub fn check_match_committer(cfg: &Config, identity: &Identity) -> Result<(), SignError> {
    if !cfg.match_committer {
        return Ok(());
    }
    let info = crate::crypto::x509::CertInfo::parse(&identity.certs.leaf).map_err(|e| SignError::BadCertificate {
        url: cfg.fulcio.clone(),
        reason: format!("it does not parse: {e}"),
    })?;
    let email = cfg.user_email.clone().unwrap_or_default();
    let name = cfg.user_name.clone().unwrap_or_default();
    let ok = info.sans.iter().any(|san| match san {
        crate::crypto::x509::San::Email(e) => !email.is_empty() && *e == email,
        crate::crypto::x509::San::Uri(u) => !name.is_empty() && *u == name,
        _ => false,
    });
    if ok {
        Ok(())
    } else {
        Err(SignError::CommitterMismatch { identity: info.identity().unwrap_or_default().to_string(), email, name })
    }
}
