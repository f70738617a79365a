//! Which token source a login uses ([`get_token`]; the order is in the [`super`] documentation).
use super::error::OidcError;
use super::{ambient, browser, device};
use crate::app::config::Config;

/// A raw ID token and where it came from.
#[derive(Clone)]
pub struct IdToken {
    /// The compact JWT.
    pub raw: String,
    /// Its source as a phrase for messages: `from SIGSTORE_ID_TOKEN`, `from the browser login`.
    pub origin: &'static str,
}

impl std::fmt::Debug for IdToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdToken").field("origin", &self.origin).finish_non_exhaustive()
    }
}

/// Get a raw ID token according to the configuration (see the module documentation for
/// the order).
pub fn get_token(cfg: &Config, http: &reqwest::blocking::Client) -> Result<IdToken, OidcError> {
    let browser = |raw: String| IdToken { raw, origin: "from the browser login" };
    match cfg.token_provider.as_deref().unwrap_or("") {
        "" => {
            for p in ambient::ALL {
                match p.fetch(&cfg.client_id, http) {
                    Ok(Some(raw)) => return Ok(IdToken { raw, origin: p.origin() }),
                    Ok(None) => {}
                    Err(e) if p.failure_means_absent() => {
                        crate::app::runlog::debug(&format!("{e}; trying the next token source"));
                    }
                    Err(e) => return Err(e),
                }
            }
            for hint in ambient::unsupported_hints() {
                eprintln!("gitsign: warning: {hint}");
            }
            browser::login(cfg, http).map(browser)
        }
        "interactive" => browser::login(cfg, http).map(browser),
        "device" => device::login(cfg, http).map(|raw| IdToken { raw, origin: "from the device login" }),
        name => {
            if let Some(&(name, todo)) = ambient::UNSUPPORTED.iter().find(|(n, _)| *n == name) {
                return Err(OidcError::UnsupportedProvider { name, todo });
            }
            let p = ambient::by_name(name).ok_or_else(|| OidcError::UnknownProvider(name.to_string()))?;
            let raw = p
                .fetch(&cfg.client_id, http)?
                .ok_or(OidcError::NoToken { provider: p.name(), audience: cfg.client_id.clone() })?;
            Ok(IdToken { raw, origin: p.origin() })
        }
    }
}
