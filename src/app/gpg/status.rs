//! `[GNUPG:]` status lines, typed, with one writer.
//!
//! git parses these (`gpg-interface.c`): signing succeeds only when `SIG_CREATED ` starts a
//! line of the status buffer; verifying needs `\n[GNUPG:] GOODSIG ` (so a line must precede it:
//! `NEWSIG`), at most one of GOODSIG/BADSIG/ERRSIG/EXPSIG/EXPKEYSIG/REVKEYSIG, and a
//! `TRUST_*` line for `merge --verify-signatures`.
use std::io::Write;

/// OpenPGP public-key algorithm id for ECDSA.
pub const PK_ECDSA: u8 = 19;
/// OpenPGP hash algorithm ids.
pub const HASH_SHA256: u8 = 8;
/// SHA-384
pub const HASH_SHA384: u8 = 9;
/// SHA-512
pub const HASH_SHA512: u8 = 10;

/// One status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Signing starts (older git looked for a line before SIG_CREATED).
    BeginSigning,
    /// A signature was made.
    SigCreated {
        /// Detached (`D`) or not (`S`).
        detached: bool,
        /// OpenPGP public-key algorithm id.
        pk_algo: u8,
        /// OpenPGP hash algorithm id.
        hash_algo: u8,
        /// Unix seconds.
        time: i64,
        /// Lowercase hex SHA-1 of the signer certificate.
        fingerprint: String,
    },
    /// A signature is about to be checked.
    NewSig,
    /// Good signature.
    GoodSig {
        /// Key id (the fingerprint).
        key_id: String,
        /// Signer identity (certificate SAN).
        signer: String,
    },
    /// Valid signature details.
    ValidSig {
        /// Fingerprint.
        fingerprint: String,
        /// Unix seconds of the trusted signing time.
        time: i64,
        /// OpenPGP hash algorithm id.
        hash_algo: u8,
    },
    /// Bad signature: the signer is known, a check failed.
    BadSig {
        /// Key id.
        key_id: String,
        /// Signer identity.
        signer: String,
    },
    /// The signature could not be checked.
    ErrSig {
        /// Key id, or sixteen zeros.
        key_id: String,
        /// Unix seconds (0 if unknown).
        time: i64,
        /// gpg reason code: 4 = unknown algorithm, 9 = missing key/evidence.
        rc: u8,
    },
    /// Full trust: the signer is allowed by the configured policy (or no policy is set).
    TrustFully,
    /// Unknown trust: the signature is valid but no policy rule allows the signer (git shows
    /// `%G?` = `U` and `merge --verify-signatures` refuses it).
    TrustUndefined,
}

impl Status {
    /// The line without the `[GNUPG:] ` prefix and newline.
    pub fn body(&self) -> String {
        match self {
            Status::BeginSigning => "BEGIN_SIGNING".into(),
            Status::SigCreated { detached, pk_algo, hash_algo, time, fingerprint } => format!(
                "SIG_CREATED {} {pk_algo} {hash_algo} 00 {time} {fingerprint}",
                if *detached { 'D' } else { 'S' }
            ),
            Status::NewSig => "NEWSIG".into(),
            Status::GoodSig { key_id, signer } => format!("GOODSIG {key_id} {}", one_line(signer)),
            Status::ValidSig { fingerprint, time, hash_algo } => {
                let date = time::OffsetDateTime::from_unix_timestamp(*time)
                    .map(|t| format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
                    .unwrap_or_else(|_| "1970-01-01".into());
                format!("VALIDSIG {fingerprint} {date} {time} 0 0 0 {PK_ECDSA} {hash_algo} 00 {fingerprint}")
            }
            Status::BadSig { key_id, signer } => format!("BADSIG {key_id} {}", one_line(signer)),
            Status::ErrSig { key_id, time, rc } => {
                format!("ERRSIG {key_id} {PK_ECDSA} {HASH_SHA256} 00 {time} {rc}")
            }
            Status::TrustFully => "TRUST_FULLY 0 shell".into(),
            Status::TrustUndefined => "TRUST_UNDEFINED 0 shell".into(),
        }
    }
}

fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Where status lines go.
pub struct StatusWriter {
    sink: Option<Box<dyn Write + Send>>,
}

impl StatusWriter {
    /// A writer for `--status-fd N`: 1 = stdout, 2 = stderr, another N ≥ 0 = that inherited
    /// descriptor, negative or absent = nowhere.
    pub fn for_fd(fd: Option<i32>) -> std::io::Result<StatusWriter> {
        let sink: Option<Box<dyn Write + Send>> = match fd {
            None => None,
            Some(n) if n < 0 => None,
            Some(1) => Some(Box::new(std::io::stdout())),
            Some(2) => Some(Box::new(std::io::stderr())),
            Some(n) => Some(Box::new(std::fs::OpenOptions::new().append(true).open(format!("/dev/fd/{n}"))?)),
        };
        Ok(StatusWriter { sink })
    }

    /// A writer into any sink (tests).
    pub fn to(sink: Box<dyn Write + Send>) -> StatusWriter {
        StatusWriter { sink: Some(sink) }
    }

    /// Emit one line. Write errors are ignored: the exit code carries the verdict.
    pub fn emit(&mut self, status: &Status) {
        if let Some(w) = self.sink.as_mut() {
            let _ = writeln!(w, "[GNUPG:] {}", status.body());
            let _ = w.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_lines_name_gnupg_levels() {
        // git reads the word after TRUST_ (gpg-interface.c): FULLY is `G`, UNDEFINED is `U`.
        assert_eq!(Status::TrustFully.body(), "TRUST_FULLY 0 shell");
        assert_eq!(Status::TrustUndefined.body(), "TRUST_UNDEFINED 0 shell");
    }

    #[test]
    fn lines_match_what_git_parses() {
        let fpr = "3f2a".repeat(10);
        assert_eq!(
            Status::SigCreated {
                detached: true,
                pk_algo: 19,
                hash_algo: 9,
                time: 1785939437,
                fingerprint: fpr.clone()
            }
            .body(),
            format!("SIG_CREATED D 19 9 00 1785939437 {fpr}")
        );
        assert_eq!(
            Status::GoodSig { key_id: fpr.clone(), signer: "a@b.c".into() }.body(),
            format!("GOODSIG {fpr} a@b.c")
        );
        let v = Status::ValidSig { fingerprint: fpr.clone(), time: 1785939437, hash_algo: 8 }.body();
        let fields: Vec<&str> = v.split(' ').collect();
        assert_eq!(fields[0], "VALIDSIG");
        assert_eq!(fields[2], "2026-08-05");
        assert_eq!(fields[10], fpr, "git's %GP is the 10th field");
        assert_eq!(Status::TrustFully.body(), "TRUST_FULLY 0 shell");
        assert_eq!(Status::GoodSig { key_id: "k".into(), signer: "a\nb".into() }.body(), "GOODSIG k a?b");
    }
}
