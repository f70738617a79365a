//! Wiring the configuration into the pieces: the trusted root to verify with, and the object
//! id git will store (for online-mode Rekor lookups).
use crate::app::config::Config;
use crate::git::object::{self as git, HashAlgo, ObjectKind};
use crate::trust::root::{TrustError, TrustedRoot};
use std::time::Instant;

/// The trusted root for verification: `gitsign.trustedRoot` / `GITSIGN_TRUSTED_ROOT` when
/// set, else the one `gitsign initialize` cached through TUF (see [`crate::trust::tuf`]), else the
/// embedded production root; then gitsign's legacy overrides (`gitsign.fulcioRoot` PEM roots,
/// `SIGSTORE_REKOR_PUBLIC_KEY`, `gitsign.timestampCertChain`).
pub fn trusted_root_for(cfg: &Config) -> Result<TrustedRoot, TrustError> {
    trusted_root_with(cfg, false)
}

/// [`trusted_root_for`] without any network access (`gitsign verify --offline`): an expired
/// TUF cache is not refreshed.
pub fn trusted_root_offline(cfg: &Config) -> Result<TrustedRoot, TrustError> {
    trusted_root_with(cfg, true)
}

fn trusted_root_with(cfg: &Config, offline: bool) -> Result<TrustedRoot, TrustError> {
    let mut root = match &cfg.trusted_root {
        Some(path) => TrustedRoot::from_file(path)?,
        None => tuf_or_embedded_root(cfg, offline)?,
    };
    if let Some(path) = &cfg.fulcio_root {
        let pem = std::fs::read(path).map_err(|e| TrustError::Read { path: path.clone(), reason: e.to_string() })?;
        root = root.with_fulcio_roots_pem(&pem)?;
    }
    if let Some(path) = &cfg.rekor_public_key {
        let pem = std::fs::read(path).map_err(|e| TrustError::Read { path: path.clone(), reason: e.to_string() })?;
        root = root.with_rekor_public_key_pem(&pem)?;
    }
    // gitsign.timestampCertChain: the only trusted RFC 3161 authority when set.
    root = crate::services::tsa::with_configured_chain(root, cfg)?;
    Ok(root)
}

/// The TUF-cached trusted root when `gitsign initialize` has been run, else the embedded
/// production root. Warnings (stale cache, unreachable mirror) go to stderr once per run; an
/// unreachable mirror never fails signing or verification, but a cache expired for longer than
/// [`crate::trust::tuf::MAX_EXPIRED_DAYS`] does (fail closed).
fn tuf_or_embedded_root(cfg: &Config, offline: bool) -> Result<TrustedRoot, TrustError> {
    let http = cfg.http_options();
    let Some(rt) = crate::trust::tuf::runtime_trusted_root(&crate::trust::tuf::RuntimeOptions { http, offline }) else {
        return Ok(TrustedRoot::production()?.clone());
    };
    let rt = rt?;
    for w in &rt.warnings {
        eprintln!("{w}");
    }
    match rt.json.map(|j| TrustedRoot::from_json(&j)) {
        Some(Ok(root)) => Ok(root),
        Some(Err(e)) => {
            if !WARNED_BAD_TUF_ROOT.swap(true, std::sync::atomic::Ordering::SeqCst) {
                eprintln!("gitsign: warning: the TUF-cached trusted root is not usable ({e}); using the embedded one");
            }
            Ok(TrustedRoot::production()?.clone())
        }
        None => Ok(TrustedRoot::production()?.clone()),
    }
}

static WARNED_BAD_TUF_ROOT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The id of the object git stores for this payload and signature text (commit: signature
/// inserted as a header; tag: appended), or `None` when the payload is neither.
pub fn object_id_from_parts(payload: &[u8], signature_text: &[u8], object_format: &str) -> Option<String> {
    let kind = ObjectKind::from_payload(payload)?;
    let algo = if object_format == "sha256" { HashAlgo::Sha256 } else { HashAlgo::Sha1 };
    let object = git::rebuild_object(kind, payload, signature_text, algo);
    Some(git::object_id(kind, &object, algo))
}

/// A Rekor client built on first use: verifying signatures with embedded entries never pays
/// for HTTPS set-up (loading the platform's CA store).
pub struct LazyRekor {
    url: String,
    options: crate::services::http::HttpOptions,
    budget: std::time::Duration,
    client: std::sync::OnceLock<Result<crate::services::rekor::client::RekorClient, String>>,
}

impl LazyRekor {
    /// A lazy client for the configured Rekor.
    pub fn new(cfg: &Config) -> LazyRekor {
        LazyRekor {
            url: cfg.rekor.clone(),
            options: cfg.http_options(),
            budget: cfg.rekor_lookup_timeout.map_or(
                crate::pipelines::verify::signature::DEFAULT_REKOR_LOOKUP_BUDGET,
                std::time::Duration::from_secs,
            ),
            client: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&crate::services::rekor::client::RekorClient, crate::services::rekor::client::RekorError> {
        self.client
            .get_or_init(|| {
                crate::services::http::client(&self.options)
                    .map(|h| {
                        crate::services::rekor::client::RekorClient::new(&self.url, h).with_request_timeout(
                            self.options.timeout.unwrap_or(crate::services::http::DEFAULT_TIMEOUT),
                        )
                    })
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|reason| crate::services::rekor::client::RekorError::Unreachable {
                url: self.url.clone(),
                reason: reason.clone(),
            })
    }
}

impl crate::pipelines::verify::signature::RekorLookup for LazyRekor {
    fn search_by_certificate(
        &self,
        cert_pem: &str,
        deadline: Instant,
    ) -> Result<Vec<String>, crate::services::rekor::client::RekorError> {
        self.get()?.search_by_certificate_until(cert_pem, Some(deadline))
    }
    fn get_entry(
        &self,
        uuid: &str,
        deadline: Instant,
    ) -> Result<(String, crate::services::rekor::types::LogEntry), crate::services::rekor::client::RekorError> {
        self.get()?.get_entry_until(uuid, Some(deadline))
    }
    fn base_url(&self) -> &str {
        &self.url
    }
    fn lookup_budget(&self) -> std::time::Duration {
        self.budget
    }
}

type Slot<T> = std::sync::Arc<std::sync::Mutex<Option<T>>>;

/// A [`crate::pipelines::verify::signature::RekorLookup`] that remembers answers for the life of one run: range
/// verification of online-mode signatures searches once per certificate and fetches each entry
/// once, however many commits share them (the credential cache reuses one certificate for many
/// commits). Concurrent callers asking the same question wait for one request. Errors are not
/// remembered.
pub struct CachingRekor<L> {
    inner: L,
    searches: std::sync::Mutex<std::collections::HashMap<String, Slot<Vec<String>>>>,
    entries:
        std::sync::Mutex<std::collections::HashMap<String, Slot<(String, crate::services::rekor::types::LogEntry)>>>,
}

impl<L: crate::pipelines::verify::signature::RekorLookup> CachingRekor<L> {
    /// Wrap a lookup.
    pub fn new(inner: L) -> CachingRekor<L> {
        CachingRekor { inner, searches: Default::default(), entries: Default::default() }
    }

    fn cached<T: Clone>(
        map: &std::sync::Mutex<std::collections::HashMap<String, Slot<T>>>,
        key: &str,
        fetch: impl FnOnce() -> Result<T, crate::services::rekor::client::RekorError>,
    ) -> Result<T, crate::services::rekor::client::RekorError> {
        let slot = {
            let mut m = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            m.entry(key.to_string()).or_default().clone()
        };
        let mut guard = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(v) = guard.as_ref() {
            return Ok(v.clone());
        }
        let v = fetch()?;
        *guard = Some(v.clone());
        Ok(v)
    }
}

impl<L: crate::pipelines::verify::signature::RekorLookup> crate::pipelines::verify::signature::RekorLookup
    for CachingRekor<L>
{
    fn search_by_certificate(
        &self,
        cert_pem: &str,
        deadline: Instant,
    ) -> Result<Vec<String>, crate::services::rekor::client::RekorError> {
        Self::cached(&self.searches, cert_pem, || self.inner.search_by_certificate(cert_pem, deadline))
    }
    fn get_entry(
        &self,
        uuid: &str,
        deadline: Instant,
    ) -> Result<(String, crate::services::rekor::types::LogEntry), crate::services::rekor::client::RekorError> {
        Self::cached(&self.entries, uuid, || self.inner.get_entry(uuid, deadline))
    }
    fn base_url(&self) -> &str {
        self.inner.base_url()
    }
    fn lookup_budget(&self) -> std::time::Duration {
        self.inner.lookup_budget()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::verify::signature::RekorLookup;
    use crate::services::rekor::client::RekorError;
    use crate::services::rekor::types::LogEntry;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn far() -> Instant {
        Instant::now() + std::time::Duration::from_secs(60)
    }

    /// Counts calls; `fail_first` makes the first search fail (errors must not be cached).
    #[derive(Default)]
    struct Counting {
        searches: AtomicUsize,
        gets: AtomicUsize,
        fail_first: bool,
    }

    impl RekorLookup for Counting {
        fn search_by_certificate(&self, cert_pem: &str, _: Instant) -> Result<Vec<String>, RekorError> {
            let n = self.searches.fetch_add(1, Ordering::SeqCst);
            if self.fail_first && n == 0 {
                return Err(RekorError::Unreachable { url: "x".into(), reason: "down".into() });
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            Ok(vec![format!("{cert_pem}-1"), format!("{cert_pem}-2")])
        }
        fn get_entry(&self, uuid: &str, _: Instant) -> Result<(String, LogEntry), RekorError> {
            self.gets.fetch_add(1, Ordering::SeqCst);
            let e = LogEntry {
                body: String::new(),
                integrated_time: 1,
                log_id: String::new(),
                log_index: 7,
                verification: None,
            };
            Ok((uuid.to_string(), e))
        }
        fn base_url(&self) -> &str {
            "https://rekor.test"
        }
    }

    #[test]
    fn each_question_is_asked_once_per_run() {
        let c = CachingRekor::new(Counting::default());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for cert in ["A", "B", "A"] {
                        for uuid in c.search_by_certificate(cert, far()).unwrap() {
                            assert_eq!(c.get_entry(&uuid, far()).unwrap().0, uuid);
                        }
                    }
                });
            }
        });
        assert_eq!(c.inner.searches.load(Ordering::SeqCst), 2, "one search per certificate");
        assert_eq!(c.inner.gets.load(Ordering::SeqCst), 4, "one fetch per uuid");
        assert_eq!(c.base_url(), "https://rekor.test");
    }

    #[test]
    fn errors_are_not_remembered() {
        let c = CachingRekor::new(Counting { fail_first: true, ..Default::default() });
        assert!(c.search_by_certificate("A", far()).is_err());
        assert_eq!(c.search_by_certificate("A", far()).unwrap().len(), 2);
        assert_eq!(c.search_by_certificate("A", far()).unwrap().len(), 2);
        assert_eq!(c.inner.searches.load(Ordering::SeqCst), 2);
    }
}
