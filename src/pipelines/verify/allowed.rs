//! The allowed-signers policy (`gitsign.allowedSignersFile`): which Sigstore identities git's
//! own verification trusts, as `gpg.ssh.allowedSignersFile` does for SSH signatures.
//!
//! One rule per line; `#` starts a comment (at the start of a line or after whitespace), blank
//! lines are skipped. Fields are separated by whitespace:
//!
//! ```text
//! IDENTITY ISSUER [valid-after=RFC3339] [valid-before=RFC3339] [committer-must-match]
//! ```
//!
//! `IDENTITY` and `ISSUER` are exact values, or regular expressions when written `/…/`.
//! Regular expressions are **anchored**: `/.*@example\.com/` must match the whole value (it is
//! compiled as `^(?:…)$`), unlike the unanchored `--certificate-identity-regexp` flag. A field
//! cannot contain whitespace (write `\s` in a regular expression). `valid-after` is inclusive
//! and `valid-before` exclusive, both compared with the signature's verified time (the log's
//! integrated time or a timestamp authority's time, never "now"). `committer-must-match`
//! requires the certificate identity that matched to be the committer's (tagger's) email.
//!
//! [`parse`] is a pure function of the text; a malformed line is an error naming the source and
//! the line, never a rule that allows everything.
use crate::crypto::x509::San;
use regex::Regex;

/// Why a policy file or rule is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}: {reason}; fix or remove this rule (a broken policy allows nobody)")]
pub struct RuleError {
    /// The file (or the git config keys) the rule came from.
    pub source_name: String,
    /// 1-based line number (0 for a rule built from git config keys).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// A field of a rule: exact or an anchored regular expression.
#[derive(Debug, Clone)]
pub enum Field {
    /// Equal to this string.
    Exact(String),
    /// Matches this expression as a whole (the source as written between the slashes).
    Regexp(Regex, String),
}

impl Field {
    /// Parse `/…/` as an anchored regular expression, anything else as an exact value.
    pub fn parse(text: &str) -> Result<Field, String> {
        if text.len() >= 2 && text.starts_with('/') && text.ends_with('/') {
            let inner = &text[1..text.len() - 1];
            if inner.is_empty() {
                return Err("the regular expression // is empty (write /.*/ to allow any value)".into());
            }
            return Field::regexp(inner);
        }
        if text == "/" {
            return Err("a lone / is neither a value nor a regular expression".into());
        }
        Ok(Field::Exact(text.to_string()))
    }

    /// An anchored regular expression from its source (without slashes).
    pub fn regexp(inner: &str) -> Result<Field, String> {
        Regex::new(&format!("^(?:{inner})$"))
            .map(|r| Field::Regexp(r, inner.to_string()))
            .map_err(|e| format!("invalid regular expression /{inner}/: {e}"))
    }

    /// Whether `v` matches.
    pub fn matches(&self, v: &str) -> bool {
        match self {
            Field::Exact(s) => s == v,
            Field::Regexp(r, _) => r.is_match(v),
        }
    }

    /// The field as written in a rule.
    pub fn describe(&self) -> String {
        match self {
            Field::Exact(s) => s.clone(),
            Field::Regexp(_, s) => format!("/{s}/"),
        }
    }
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Where it was written: the file (or the git config keys).
    pub source_name: String,
    /// 1-based line (0 for git config keys).
    pub line: usize,
    /// The identity (certificate SAN) it allows.
    pub identity: Field,
    /// The OIDC issuer it allows.
    pub issuer: Field,
    /// Unix seconds: signatures made before this are not allowed.
    pub valid_after: Option<i64>,
    /// Unix seconds: signatures made at or after this are not allowed.
    pub valid_before: Option<i64>,
    /// The matching identity must be the committer's (tagger's) email.
    pub committer_must_match: bool,
}

impl Rule {
    /// `FILE:LINE`, or the source alone for a rule from git config keys.
    pub fn location(&self) -> String {
        if self.line == 0 { self.source_name.clone() } else { format!("{}:{}", self.source_name, self.line) }
    }
}

/// What a verified signature shows about its signer (plain values).
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    /// The certificate's SANs.
    pub sans: &'a [San],
    /// The certificate's OIDC issuer.
    pub issuer: Option<&'a str>,
    /// The verified signing time (log integrated time or TSA time), Unix seconds.
    pub time: i64,
    /// The committer's (tagger's) email, when the object names one.
    pub committer_email: Option<&'a str>,
}

/// No rule allows a signer: what was seen and why the nearest rules did not apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct NotAllowed {
    /// The certificate identities seen.
    pub identities: Vec<String>,
    /// The issuer seen.
    pub issuer: Option<String>,
    /// Where the rules came from.
    pub sources: Vec<String>,
    /// For rules whose identity and issuer matched: why they still did not apply.
    pub near: Vec<String>,
}

impl NotAllowed {
    fn message(&self) -> String {
        let ids = if self.identities.is_empty() {
            "(none)".to_string()
        } else {
            self.identities.iter().map(|i| format!("\"{i}\"")).collect::<Vec<_>>().join(", ")
        };
        let mut m = format!(
            "no rule in {} allows the signer {ids} (issuer \"{}\")",
            self.sources.join(" or "),
            self.issuer.as_deref().unwrap_or("(none)")
        );
        for n in &self.near {
            m.push_str("; ");
            m.push_str(n);
        }
        m.push_str(" (if this signer should be trusted, add a rule for it)");
        m
    }
}

/// A parsed policy: rules in order.
#[derive(Debug, Clone, Default)]
pub struct AllowedSigners {
    /// The rules.
    pub rules: Vec<Rule>,
    /// Where they came from (for messages), in order.
    pub sources: Vec<String>,
}

/// Parse an RFC 3339 time (`2026-01-31T00:00:00Z`) into Unix seconds.
fn parse_time(v: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|_| format!("\"{v}\" is not an RFC 3339 time (write it as 2026-01-31T00:00:00Z)"))
}

/// Parse one rule line (comments already removed; not blank).
fn parse_rule(source_name: &str, line: usize, text: &str) -> Result<Rule, RuleError> {
    let err = |reason: String| RuleError { source_name: source_name.to_string(), line, reason };
    let mut fields = text.split_whitespace();
    let identity = fields.next().ok_or_else(|| err("the rule is empty".into()))?;
    let Some(issuer) = fields.next() else {
        return Err(err(format!("the rule for {identity} names no issuer (write: IDENTITY ISSUER [options])")));
    };
    if ["valid-after=", "valid-before=", "committer-must-match"].iter().any(|o| identity.starts_with(o)) {
        return Err(err(format!("the rule starts with the option {identity}; it must start with an identity")));
    }
    let identity = Field::parse(identity).map_err(|r| err(format!("identity: {r}")))?;
    let issuer = Field::parse(issuer).map_err(|r| err(format!("issuer: {r}")))?;
    let mut rule = Rule {
        source_name: source_name.to_string(),
        line,
        identity,
        issuer,
        valid_after: None,
        valid_before: None,
        committer_must_match: false,
    };
    for opt in fields {
        let (name, value) = match opt.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (opt, None),
        };
        match (name, value) {
            ("valid-after", Some(v)) if rule.valid_after.is_none() => {
                rule.valid_after = Some(parse_time(v).map_err(err)?)
            }
            ("valid-before", Some(v)) if rule.valid_before.is_none() => {
                rule.valid_before = Some(parse_time(v).map_err(err)?)
            }
            ("committer-must-match", None) if !rule.committer_must_match => rule.committer_must_match = true,
            ("valid-after" | "valid-before" | "committer-must-match", _) => {
                return Err(err(format!("the option {opt} is repeated or malformed")));
            }
            _ => {
                return Err(err(format!(
                    "unknown option \"{opt}\" (known: valid-after=TIME, valid-before=TIME, committer-must-match)"
                )));
            }
        }
    }
    if let (Some(a), Some(b)) = (rule.valid_after, rule.valid_before)
        && a >= b
    {
        return Err(err("valid-after is not before valid-before, so the rule could never match".into()));
    }
    Ok(rule)
}

/// Parse a policy file's text. `source_name` names it in errors and in [`Rule::location`].
/// Every line is checked: the first malformed one is an error.
pub fn parse(source_name: &str, text: &str) -> Result<AllowedSigners, RuleError> {
    let mut rules = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        rules.push(parse_rule(source_name, i + 1, line)?);
    }
    Ok(AllowedSigners { rules, sources: vec![source_name.to_string()] })
}

/// A line without its comment: `#` at the start or after whitespace begins one (so `#` inside
/// a regular expression such as `/a#b/` is kept).
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return &line[..i];
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// The single-signer rule from `gitsign.verify.certificateIdentity[Regexp]` and
/// `gitsign.verify.certificateOidcIssuer[Regexp]` (regular expressions anchored as in files).
/// `None` when none is set; an error when only some are, or both forms of one field.
pub fn single_rule(
    identity: Option<&str>,
    identity_regexp: Option<&str>,
    issuer: Option<&str>,
    issuer_regexp: Option<&str>,
) -> Result<Option<Rule>, RuleError> {
    const SOURCE: &str = "git config gitsign.verify.*";
    let err = |reason: String| RuleError { source_name: SOURCE.into(), line: 0, reason };
    let field = |exact: Option<&str>, re: Option<&str>, name: &str| -> Result<Option<Field>, RuleError> {
        match (exact, re) {
            (Some(_), Some(_)) => {
                Err(err(format!("set gitsign.verify.{name} or gitsign.verify.{name}Regexp, not both")))
            }
            (Some(e), None) => Ok(Some(Field::Exact(e.to_string()))),
            (None, Some(r)) => Field::regexp(r).map(Some).map_err(|r| err(format!("{name}Regexp: {r}"))),
            (None, None) => Ok(None),
        }
    };
    let id = field(identity, identity_regexp, "certificateIdentity")?;
    let iss = field(issuer, issuer_regexp, "certificateOidcIssuer")?;
    match (id, iss) {
        (None, None) => Ok(None),
        (Some(identity), Some(issuer)) => Ok(Some(Rule {
            source_name: SOURCE.into(),
            line: 0,
            identity,
            issuer,
            valid_after: None,
            valid_before: None,
            committer_must_match: false,
        })),
        (Some(_), None) => Err(err("gitsign.verify.certificateIdentity is set without an OIDC issuer \
             (set gitsign.verify.certificateOidcIssuer too)"
            .into())),
        (None, Some(_)) => Err(err("gitsign.verify.certificateOidcIssuer is set without an identity \
             (set gitsign.verify.certificateIdentity too)"
            .into())),
    }
}

impl AllowedSigners {
    /// Add a rule from another source (the git config keys).
    pub fn push(&mut self, rule: Rule) {
        if !self.sources.contains(&rule.source_name) {
            self.sources.push(rule.source_name.clone());
        }
        self.rules.push(rule);
    }

    /// The first rule that allows `signer`, or what was seen and why no rule applied.
    pub fn find(&self, signer: &Signer<'_>) -> Result<&Rule, NotAllowed> {
        let values: Vec<&str> = signer.sans.iter().filter_map(San::value).collect();
        let mut near = Vec::new();
        for rule in &self.rules {
            let matching: Vec<&str> = values.iter().copied().filter(|v| rule.identity.matches(v)).collect();
            if matching.is_empty() || !signer.issuer.is_some_and(|i| rule.issuer.matches(i)) {
                continue;
            }
            let when = crate::encoding::timefmt::rfc3339(signer.time);
            if let Some(a) = rule.valid_after
                && signer.time < a
            {
                let after = crate::encoding::timefmt::rfc3339(a);
                near.push(format!("{} allows it only from {after}, and it was signed at {when}", rule.location()));
                continue;
            }
            if let Some(b) = rule.valid_before
                && signer.time >= b
            {
                let before = crate::encoding::timefmt::rfc3339(b);
                near.push(format!("{} allows it only before {before}, and it was signed at {when}", rule.location()));
                continue;
            }
            if rule.committer_must_match {
                let committer = signer.committer_email.unwrap_or_default();
                let is_email = |v: &str| signer.sans.iter().any(|s| matches!(s, San::Email(e) if e == v));
                let same = matching.iter().any(|v| is_email(v) && v.eq_ignore_ascii_case(committer));
                if committer.is_empty() || !same {
                    near.push(format!(
                        "{} requires the committer to be the signer, and the committer is \"{}\"",
                        rule.location(),
                        if committer.is_empty() { "(none)" } else { committer }
                    ));
                    continue;
                }
            }
            return Ok(rule);
        }
        Err(NotAllowed {
            identities: values.iter().map(|v| v.to_string()).collect(),
            issuer: signer.issuer.map(str::to_string),
            sources: self.sources.clone(),
            near,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GH: &str = "https://github.com/login/oauth";
    const ACTIONS: &str = "https://token.actions.githubusercontent.com";

    fn signer<'a>(sans: &'a [San], issuer: &'a str, time: i64, committer: Option<&'a str>) -> Signer<'a> {
        Signer { sans, issuer: Some(issuer), time, committer_email: committer }
    }

    #[test]
    fn exact_regexp_anchored_and_comments() {
        let text = "# team\n\nalice@example.com https://github.com/login/oauth  # Alice\n\
                    /.*@corp\\.example/ /https://accounts\\.google\\.com/\n";
        let p = parse("signers", text).unwrap();
        assert_eq!(p.rules.len(), 2);
        assert_eq!(p.rules[0].line, 3);
        assert_eq!(p.rules[1].location(), "signers:4");
        let alice = [San::Email("alice@example.com".into())];
        assert_eq!(p.find(&signer(&alice, GH, 0, None)).unwrap().line, 3);
        assert!(p.find(&signer(&alice, "https://accounts.google.com", 0, None)).is_err());
        let bob = [San::Email("bob@corp.example".into())];
        assert_eq!(p.find(&signer(&bob, "https://accounts.google.com", 0, None)).unwrap().line, 4);
        // anchored: a longer value does not match
        let evil = [San::Email("bob@corp.example.evil.test".into())];
        let e = p.find(&signer(&evil, "https://accounts.google.com", 0, None)).unwrap_err();
        assert!(e.to_string().contains("no rule in signers allows the signer \"bob@corp.example.evil.test\""), "{e}");
        let e = p.find(&signer(&bob, "https://accounts.google.com.evil", 0, None)).unwrap_err();
        assert!(e.to_string().contains("issuer \"https://accounts.google.com.evil\""), "{e}");
    }

    #[test]
    fn workflow_identities_exact_and_by_regexp() {
        let wf = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
        let text = format!(
            "{wf} {ACTIONS}\n/https://github\\.com/acme/[^/]+/\\.github/workflows/ci\\.yml@refs/tags/v.*/ {ACTIONS}\n"
        );
        let p = parse("f", &text).unwrap();
        let san = [San::Uri(wf.into())];
        assert_eq!(p.find(&signer(&san, ACTIONS, 0, None)).unwrap().line, 1);
        let other = [San::Uri(wf.replace("main", "dev"))];
        assert!(p.find(&signer(&other, ACTIONS, 0, None)).is_err());
        let tag = [San::Uri("https://github.com/acme/lib/.github/workflows/ci.yml@refs/tags/v1.2".into())];
        assert_eq!(p.find(&signer(&tag, ACTIONS, 0, None)).unwrap().line, 2);
        let fork = [San::Uri("https://github.com/acme/lib/.github/workflows/ci.yml@refs/heads/v1".into())];
        assert!(p.find(&signer(&fork, ACTIONS, 0, None)).is_err());
    }

    #[test]
    fn validity_window_and_committer() {
        let text = "a@x.test https://i valid-after=2026-01-01T00:00:00Z valid-before=2026-02-01T00:00:00Z\n\
                    c@x.test https://i committer-must-match\n";
        let p = parse("f", text).unwrap();
        let a = [San::Email("a@x.test".into())];
        let jan15 = 1_768_435_200; // 2026-01-15
        assert!(p.find(&signer(&a, "https://i", jan15, None)).is_ok());
        let e = p.find(&signer(&a, "https://i", 1_769_904_000, None)).unwrap_err(); // 2026-02-01
        assert!(e.to_string().contains("f:1 allows it only before 2026-02-01T00:00:00Z"), "{e}");
        assert!(p.find(&signer(&a, "https://i", 1_767_225_599, None)).is_err()); // 2025-12-31T23:59:59
        let c = [San::Email("c@x.test".into())];
        assert!(p.find(&signer(&c, "https://i", 0, Some("C@x.test"))).is_ok());
        let e = p.find(&signer(&c, "https://i", 0, Some("m@x.test"))).unwrap_err();
        assert!(e.to_string().contains("committer is \"m@x.test\""), "{e}");
        assert!(p.find(&signer(&c, "https://i", 0, None)).is_err());
        // a URI identity never equals a committer email
        let p = parse("f", "/.*/ https://i committer-must-match").unwrap();
        assert!(p.find(&signer(&[San::Uri("c@x.test".into())], "https://i", 0, Some("c@x.test"))).is_err());
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        for (text, line, words) in [
            ("a@x https://i\nlonely\n", 2, "names no issuer"),
            ("a@x https://i frobnicate\n", 1, "unknown option \"frobnicate\""),
            ("/(/ https://i\n", 1, "invalid regular expression"),
            ("a@x https://i valid-before=tomorrow\n", 1, "RFC 3339"),
            ("// https://i\n", 1, "is empty"),
            ("a@x https://i committer-must-match committer-must-match\n", 1, "repeated"),
            ("a@x https://i valid-after=2026-02-01T00:00:00Z valid-before=2026-01-01T00:00:00Z\n", 1, "never"),
            ("valid-after=2026-01-01T00:00:00Z a@x https://i\n", 1, "must start with an identity"),
        ] {
            let e = parse("/repo/.gitsign/allowed", text).unwrap_err();
            assert_eq!(e.line, line, "{text}");
            let m = e.to_string();
            assert!(m.starts_with(&format!("/repo/.gitsign/allowed:{line}: ")), "{m}");
            assert!(m.contains(words), "{m}");
        }
        assert!(parse("f", "# only comments\n\n").unwrap().rules.is_empty());
        assert!(parse("f", "/a#b/ https://i # comment").unwrap().rules[0].identity.matches("a#b"));
        assert!(
            parse("f", "https://x.test/id?a=b https://i").unwrap().rules[0].identity.matches("https://x.test/id?a=b")
        );
    }

    #[test]
    fn single_signer_keys() {
        assert!(single_rule(None, None, None, None).unwrap().is_none());
        let r = single_rule(None, Some(".*@x\\.test"), Some("https://i"), None).unwrap().unwrap();
        assert!(r.identity.matches("a@x.test") && !r.identity.matches("a@x.test.evil"));
        assert_eq!(r.location(), "git config gitsign.verify.*");
        assert!(single_rule(Some("a"), Some("b"), Some("i"), None).is_err());
        assert!(single_rule(Some("a"), None, None, None).unwrap_err().to_string().contains("without an OIDC issuer"));
        assert!(single_rule(None, None, None, Some("(")).is_err());
    }

    /// The README's example policies parse, and its anchoring example holds.
    #[test]
    fn readme_examples_parse() {
        let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"));
        let section = readme.split("\n## Who may sign").nth(1).unwrap();
        let section = section.split("\n## ").next().unwrap();
        let mut parsed = 0;
        for block in section.split("```text\n").skip(1) {
            let block = block.split("```").next().unwrap();
            if block.starts_with("IDENTITY ISSUER") {
                continue;
            }
            let p = parse("README", block).unwrap_or_else(|e| panic!("{e}\n{block}"));
            assert!(!p.rules.is_empty(), "{block}");
            parsed += 1;
            if block.contains("# people") {
                let gh = "https://github.com/login/oauth";
                let evil = [San::Email("x@example.com.evil.test".into())];
                assert!(p.find(&signer(&evil, gh, 0, None)).is_err());
                let ok = [San::Email("x@example.com".into())];
                assert!(p.find(&signer(&ok, gh, 0, None)).is_ok());
            }
        }
        assert_eq!(parsed, 2);
    }

    proptest! {
        /// Any exact identity/issuer written into a line is parsed back and matches itself only.
        #[test]
        fn exact_rules_round_trip(id in "[a-z0-9.@_+-]{1,20}", iss in "https://[a-z.]{1,15}", extra in "[a-z]{1,4}") {
            prop_assume!(!id.starts_with('/'));
            let p = parse("f", &format!("{} {}\n", id, iss)).unwrap();
            let sans = [San::Email(id.clone())];
            prop_assert!(p.find(&signer(&sans, &iss, 0, None)).is_ok());
            let longer = [San::Email(format!("{}{}", id, extra))];
            prop_assert!(p.find(&signer(&longer, &iss, 0, None)).is_err());
        }

        /// Regular-expression rules are anchored: a literal pattern never matches with a prefix
        /// or a suffix added.
        #[test]
        fn regexp_rules_are_anchored(lit in "[a-z]{1,12}", pre in "[a-z]{1,3}", suf in "[a-z]{1,3}") {
            let p = parse("f", &format!("/{}/ /https://i/", lit)).unwrap();
            let m = |v: String| p.find(&signer(&[San::Email(v)], "https://i", 0, None)).is_ok();
            prop_assert!(m(lit.clone()));
            let (prefixed, suffixed) = (format!("{}{}", pre, lit), format!("{}{}", lit, suf));
            prop_assert!(!m(prefixed));
            prop_assert!(!m(suffixed));
        }

        /// The parser never panics, and whatever it accepts has an identity and an issuer on
        /// each rule line; whatever it refuses names a line of the input.
        #[test]
        fn arbitrary_text_parses_or_names_a_line(text in "(([a-z@/=.*# -]|valid-after=|committer-must-match){0,30}\n){0,5}") {
            match parse("f", &text) {
                Ok(p) => {
                    for r in &p.rules {
                        let line = strip_comment(text.lines().nth(r.line - 1).unwrap());
                        prop_assert!(line.split_whitespace().count() >= 2);
                    }
                }
                Err(e) => {
                    prop_assert!(e.line >= 1 && e.line <= text.lines().count());
                    let prefix = ["f:", &e.line.to_string(), ": "].concat();
                    prop_assert!(e.to_string().starts_with(&prefix));
                }
            }
        }
    }
}
