//! Identity policy for `gitsign verify`: which certificate identities and issuers are
//! acceptable, as in cosign/gitsign (`--certificate-identity[-regexp]`,
//! `--certificate-oidc-issuer[-regexp]`, GitHub workflow claims), plus a verify-time committer
//! match.
//!
//! Regular expressions are **unanchored** (a match anywhere in the value counts), as in cosign
//! and sigstore-go: write `^…$` to match a whole value.
use crate::crypto::x509::{CertInfo, San};
use crate::git::object::ObjectKind;
use regex::Regex;

/// Errors building or applying a policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// No identity constraint given.
    #[error(
        "--certificate-identity or --certificate-identity-regexp is required for verification in keyless mode \
         (or --insecure-no-identity to accept any signer)"
    )]
    MissingIdentity,
    /// No issuer constraint given.
    #[error(
        "--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required for verification in keyless mode \
         (or --insecure-no-identity to accept any signer)"
    )]
    MissingIssuer,
    /// An exact value and a regular expression given for the same field.
    #[error("{exact} and {regexp} cannot be used together: give one of them")]
    Conflicting {
        /// The exact flag.
        exact: &'static str,
        /// The regexp flag.
        regexp: &'static str,
    },
    /// The object repeats the header that names its committer (or tagger), so which one counts
    /// is ambiguous.
    #[error("the {kind} has more than one `{header}` header; refusing it, because tools disagree on which one counts")]
    RepeatedHeader {
        /// `commit` or `tag`.
        kind: &'static str,
        /// `committer` or `tagger`.
        header: &'static str,
    },
    /// A regular expression does not compile.
    #[error("invalid regular expression for {flag}: {reason}")]
    BadRegex {
        /// The flag.
        flag: &'static str,
        /// Why.
        reason: String,
    },
    /// The identity does not match.
    #[error("the certificate identity {} does not match the required {want}", quoted_list(got))]
    IdentityMismatch {
        /// What the certificate has (all SANs).
        got: Vec<String>,
        /// What was required.
        want: String,
    },
    /// The issuer does not match.
    #[error("the certificate's OIDC issuer {} does not match the required {want}", quoted_opt(got))]
    IssuerMismatch {
        /// The certificate's issuer.
        got: Option<String>,
        /// What was required.
        want: String,
    },
    /// A GitHub workflow claim does not match.
    #[error("the certificate's GitHub workflow {claim} {} does not match the required \"{want}\"", quoted_opt(got))]
    ClaimMismatch {
        /// The claim.
        claim: &'static str,
        /// The certificate's value.
        got: Option<String>,
        /// The required value.
        want: String,
    },
    /// The committer email differs from the certificate's.
    #[error("the committer email \"{committer}\" is not an email identity of the certificate ({})", quoted_list(sans))]
    CommitterMismatch {
        /// The commit's committer email.
        committer: String,
        /// The certificate's SANs.
        sans: Vec<String>,
    },
}

/// Values in double quotes, comma-separated, or `none` (for messages: never Rust's list syntax).
fn quoted_list(values: &[String]) -> String {
    if values.is_empty() {
        return "(none)".to_string();
    }
    values.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ")
}

/// A value in double quotes, or `(none)`.
fn quoted_opt(value: &Option<String>) -> String {
    value.as_deref().map_or_else(|| "(none)".to_string(), |v| format!("\"{v}\""))
}

/// An identity constraint: exact or regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Equal to this string.
    Exact(String),
    /// Matches this (unanchored) expression.
    Regexp(Regex),
}

impl Matcher {
    fn matches(&self, v: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == v,
            Matcher::Regexp(r) => r.is_match(v),
        }
    }
    fn describe(&self) -> String {
        match self {
            Matcher::Exact(s) => format!("{s:?}"),
            Matcher::Regexp(r) => format!("regexp {:?}", r.as_str()),
        }
    }
}

/// The policy flags as given.
#[derive(Debug, Clone, Default)]
pub struct PolicyFlags {
    /// `--certificate-identity`
    pub identity: Option<String>,
    /// `--certificate-identity-regexp`
    pub identity_regexp: Option<String>,
    /// `--certificate-oidc-issuer`
    pub issuer: Option<String>,
    /// `--certificate-oidc-issuer-regexp`
    pub issuer_regexp: Option<String>,
    /// `--certificate-github-workflow-trigger`
    pub github_workflow_trigger: Option<String>,
    /// `--certificate-github-workflow-sha`
    pub github_workflow_sha: Option<String>,
    /// `--certificate-github-workflow-name`
    pub github_workflow_name: Option<String>,
    /// `--certificate-github-workflow-repository`
    pub github_workflow_repository: Option<String>,
    /// `--certificate-github-workflow-ref`
    pub github_workflow_ref: Option<String>,
    /// `--insecure-no-identity`
    pub insecure_no_identity: bool,
    /// `--match-committer`
    pub match_committer: bool,
}

/// A compiled policy.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    identity: Option<Matcher>,
    issuer: Option<Matcher>,
    claims: Vec<(&'static str, String)>,
    match_committer: bool,
}

fn compile(
    exact_flag: &'static str,
    flag: &'static str,
    exact: &Option<String>,
    re: &Option<String>,
) -> Result<Option<Matcher>, PolicyError> {
    if exact.is_some() && re.is_some() {
        return Err(PolicyError::Conflicting { exact: exact_flag, regexp: flag });
    }
    if let Some(e) = exact {
        return Ok(Some(Matcher::Exact(e.clone())));
    }
    match re {
        Some(r) => Regex::new(r)
            .map(|r| Some(Matcher::Regexp(r)))
            .map_err(|e| PolicyError::BadRegex { flag, reason: e.to_string() }),
        None => Ok(None),
    }
}

impl Policy {
    /// Compile the flags; an identity and an issuer are required unless
    /// `insecure_no_identity`, and an exact value excludes the regular expression for the same
    /// field ([`PolicyError::Conflicting`]).
    pub fn from_flags(f: &PolicyFlags) -> Result<Policy, PolicyError> {
        let identity =
            compile("--certificate-identity", "--certificate-identity-regexp", &f.identity, &f.identity_regexp)?;
        let issuer =
            compile("--certificate-oidc-issuer", "--certificate-oidc-issuer-regexp", &f.issuer, &f.issuer_regexp)?;
        if !f.insecure_no_identity {
            if identity.is_none() {
                return Err(PolicyError::MissingIdentity);
            }
            if issuer.is_none() {
                return Err(PolicyError::MissingIssuer);
            }
        }
        let mut claims = Vec::new();
        for (name, v) in [
            ("trigger", &f.github_workflow_trigger),
            ("sha", &f.github_workflow_sha),
            ("name", &f.github_workflow_name),
            ("repository", &f.github_workflow_repository),
            ("ref", &f.github_workflow_ref),
        ] {
            if let Some(v) = v {
                claims.push((name, v.clone()));
            }
        }
        Ok(Policy { identity, issuer, claims, match_committer: f.match_committer })
    }

    /// Whether any identity constraint applies (for "Validated Certificate claims").
    pub fn constrains_identity(&self) -> bool {
        self.identity.is_some() || self.issuer.is_some() || !self.claims.is_empty() || self.match_committer
    }

    /// Check a verified signer certificate, and the committer email when `--match-committer`.
    pub fn check(&self, cert: &CertInfo, committer_email: Option<&str>) -> Result<(), PolicyError> {
        let sans: Vec<String> = cert.sans.iter().filter_map(|s| s.value().map(str::to_string)).collect();
        if let Some(m) = &self.identity
            && !sans.iter().any(|s| m.matches(s))
        {
            return Err(PolicyError::IdentityMismatch { got: sans, want: m.describe() });
        }
        if let Some(m) = &self.issuer
            && !cert.oidc_issuer.as_deref().is_some_and(|i| m.matches(i))
        {
            return Err(PolicyError::IssuerMismatch { got: cert.oidc_issuer.clone(), want: m.describe() });
        }
        for (claim, want) in &self.claims {
            let got = match *claim {
                "trigger" => &cert.workflow.trigger,
                "sha" => &cert.workflow.sha,
                "name" => &cert.workflow.name,
                "repository" => &cert.workflow.repository,
                _ => &cert.workflow.git_ref,
            };
            if got.as_deref() != Some(want.as_str()) {
                return Err(PolicyError::ClaimMismatch { claim, got: got.clone(), want: want.clone() });
            }
        }
        if self.match_committer {
            let committer = committer_email.unwrap_or_default();
            let ok = cert.sans.iter().any(|s| matches!(s, San::Email(e) if e.eq_ignore_ascii_case(committer)));
            if !ok || committer.is_empty() {
                return Err(PolicyError::CommitterMismatch { committer: committer.to_string(), sans });
            }
        }
        Ok(())
    }
}

/// The committer email of a raw commit payload (`committer Name <email> time tz`), or the
/// tagger email of a tag payload: only that header is read (a tag's `committer` line or a
/// commit's `tagger` line is ignored), and an object that repeats it is refused with
/// [`PolicyError::RepeatedHeader`]. `None` when the header is absent or has no `<email>`.
pub fn committer_email(kind: ObjectKind, payload: &[u8]) -> Result<Option<String>, PolicyError> {
    let header: &'static str = match kind {
        ObjectKind::Commit => "committer",
        ObjectKind::Tag => "tagger",
    };
    let mut found: Option<&[u8]> = None;
    for line in payload.split(|b| *b == b'\n') {
        if line.is_empty() {
            break; // end of headers
        }
        let Some(rest) = line.strip_prefix(header.as_bytes()).and_then(|r| r.strip_prefix(b" ")) else {
            continue;
        };
        if found.is_some() {
            return Err(PolicyError::RepeatedHeader { kind: kind.as_str(), header });
        }
        found = Some(rest);
    }
    let Some(rest) = found else { return Ok(None) };
    let s = String::from_utf8_lossy(rest);
    let Some(start) = s.find('<') else { return Ok(None) };
    let Some(end) = s[start..].find('>').map(|e| e + start) else { return Ok(None) };
    Ok(Some(s[start + 1..end].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert() -> CertInfo {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/real/examples/online-commit__sigstore_gitsign__9d6c4c63e05b62088998795e483cd6c8b33c29cb"
        );
        let pem = std::fs::read_to_string(format!("{dir}/cert0.pem")).unwrap();
        CertInfo::parse(&crate::services::fulcio::pem_certificates(&pem).unwrap()[0]).unwrap()
    }

    fn flags(id: Option<&str>, id_re: Option<&str>, iss: Option<&str>, iss_re: Option<&str>) -> PolicyFlags {
        PolicyFlags {
            identity: id.map(Into::into),
            identity_regexp: id_re.map(Into::into),
            issuer: iss.map(Into::into),
            issuer_regexp: iss_re.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn identity_and_issuer_required_and_matched() {
        let c = cert();
        assert!(matches!(Policy::from_flags(&flags(None, None, Some("x"), None)), Err(PolicyError::MissingIdentity)));
        assert!(matches!(Policy::from_flags(&flags(Some("x"), None, None, None)), Err(PolicyError::MissingIssuer)));
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<&'a str>, bool);
        let table: &[Case] = &[
            (Some("billy@chainguard.dev"), None, Some("https://accounts.google.com"), None, true),
            (Some("billy@chainguard.dev"), None, Some("https://github.com/login/oauth"), None, false),
            (Some("mallory@chainguard.dev"), None, Some("https://accounts.google.com"), None, false),
            (None, Some("@chainguard\\.dev$"), None, Some("google"), true),
            (None, Some("^chainguard"), None, Some("google"), false),
            (None, Some("chainguard"), None, Some("^https://accounts\\.google\\.com$"), true),
        ];
        for (id, id_re, iss, iss_re, ok) in table {
            let p = Policy::from_flags(&flags(*id, *id_re, *iss, *iss_re)).unwrap();
            assert_eq!(p.check(&c, None).is_ok(), *ok, "{id:?} {id_re:?} {iss:?} {iss_re:?}");
        }
        let any = Policy::from_flags(&PolicyFlags { insecure_no_identity: true, ..Default::default() }).unwrap();
        assert!(any.check(&c, None).is_ok());
        assert!(Policy::from_flags(&flags(None, Some("("), Some("x"), None)).is_err());
    }

    #[test]
    fn committer_match_and_workflow_claims() {
        let c = cert();
        let mut f = flags(Some("billy@chainguard.dev"), None, Some("https://accounts.google.com"), None);
        f.match_committer = true;
        let p = Policy::from_flags(&f).unwrap();
        assert!(p.check(&c, Some("billy@chainguard.dev")).is_ok());
        assert!(matches!(p.check(&c, Some("someone@else.dev")), Err(PolicyError::CommitterMismatch { .. })));
        assert!(p.check(&c, None).is_err());
        let mut f = flags(Some("billy@chainguard.dev"), None, Some("https://accounts.google.com"), None);
        f.github_workflow_repository = Some("sigstore/gitsign".into());
        assert!(matches!(Policy::from_flags(&f).unwrap().check(&c, None), Err(PolicyError::ClaimMismatch { .. })));
        assert_eq!(
            committer_email(
                ObjectKind::Commit,
                b"tree x\nauthor A <a@x> 1 +0000\ncommitter C D <c@y> 1 +0000\n\nmsg\ncommitter <no@no>\n"
            )
            .unwrap(),
            Some("c@y".into())
        );
    }

    #[test]
    fn committer_for_commits_tagger_for_tags_and_no_repeats() {
        // a commit: only `committer` counts, even when a `tagger` line comes first
        let commit = b"tree x\ntagger T <t@x> 1 +0000\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 1 +0000\n\nm\n";
        assert_eq!(committer_email(ObjectKind::Commit, commit).unwrap(), Some("c@x".into()));
        // a tag: only `tagger`, even when a `committer` line comes first
        let tag = b"object x\ntype commit\ntag v\ncommitter C <c@x> 1 +0000\ntagger T <t@x> 1 +0000\n\nm\n";
        assert_eq!(committer_email(ObjectKind::Tag, tag).unwrap(), Some("t@x".into()));
        // a repeated header is refused (git shows the last one; we accept neither)
        let twice = b"tree x\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 1 +0000\ncommitter M <m@x> 1 +0000\n\nm\n";
        let e = committer_email(ObjectKind::Commit, twice).unwrap_err();
        assert!(matches!(e, PolicyError::RepeatedHeader { header: "committer", .. }), "{e}");
        let twice = b"object x\ntype commit\ntag v\ntagger T <t@x> 1 +0000\ntagger M <m@x> 1 +0000\n\nm\n";
        assert!(committer_email(ObjectKind::Tag, twice).is_err());
        // continuation lines and the message are not headers
        let cont =
            b"tree x\ncommitter C <c@x> 1 +0000\nmergetag object y\n committer E <e@x> 1 +0000\n\ncommitter <z@x>\n";
        assert_eq!(committer_email(ObjectKind::Commit, cont).unwrap(), Some("c@x".into()));
        assert_eq!(committer_email(ObjectKind::Commit, b"tree x\n\nm\n").unwrap(), None);
    }

    #[test]
    fn exact_and_regexp_for_one_field_conflict() {
        let e = Policy::from_flags(&flags(Some("a@x"), Some("^a@"), Some("https://i"), None)).unwrap_err();
        assert!(matches!(e, PolicyError::Conflicting { exact: "--certificate-identity", .. }), "{e}");
        let e = Policy::from_flags(&flags(Some("a@x"), None, Some("https://i"), Some("i"))).unwrap_err();
        assert!(matches!(e, PolicyError::Conflicting { exact: "--certificate-oidc-issuer", .. }), "{e}");
        assert!(e.to_string().contains("cannot be used together"), "{e}");
    }
}
