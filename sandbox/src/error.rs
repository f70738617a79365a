//! Error types.

use std::fmt;

#[derive(Debug)]
pub(crate) enum Error {
    Io(std::io::Error),
    Db(rusqlite::Error),
    Json(serde_json::Error),
    /// Persistent state under the directory is missing or unusable.
    State(String),
    Usage(String),
    /// A `--trust-issuer` issuer is misconfigured.
    Issuer(crate::issuers::IssuerError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Db(e) => write!(f, "database error: {e}"),
            Error::Json(e) => write!(f, "JSON error: {e}"),
            Error::State(m) => write!(f, "{m}"),
            Error::Usage(m) => write!(f, "{m}"),
            Error::Issuer(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Db(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(e)
    }
}
