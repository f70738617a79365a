//! `gitsign verify [REV|RANGE ...]` and `gitsign verify-tag TAG ...`: verification with an
//! identity policy, for CI. One summary per object on stdout (or JSON lines with `--json`),
//! exit 0 only when every object passed.
//!
//! `verify` takes commits: a revision is peeled to the commit it names (`REV^{commit}`), so a
//! signed tag on an unsigned commit fails; `verify-tag` takes annotated tags. A range that
//! selects no commit is an error unless `--allow-empty`.
use clap::{FromArgMatches, Parser};
use gitsign::git::object::ObjectKind;
use gitsign::pipelines::verify::allowed::Signer;
use gitsign::pipelines::verify::object::verify_object;
use gitsign::pipelines::verify::policy::{Policy, PolicyError, PolicyFlags};
use gitsign::pipelines::verify::signature::{TlogEvidence, VerifyOptions};
use std::process::ExitCode;

/// The flags of `gitsign verify` and `gitsign verify-tag` (their purpose and examples are set
/// in `cli.rs`).
#[derive(Parser, Debug)]
#[command(name = "gitsign verify")]
pub(crate) struct VerifyArgs {
    /// Commits (REV, peeled to its commit) or ranges (A..B) to verify; tags for verify-tag.
    /// Default: HEAD.
    pub revs: Vec<String>,
    /// The certificate identity (SAN email, URI or username) to require, exactly. Not together
    /// with --certificate-identity-regexp.
    #[arg(long, conflicts_with = "certificate_identity_regexp")]
    pub certificate_identity: Option<String>,
    /// A regular expression the identity must match (unanchored: use ^…$). Not together with
    /// --certificate-identity.
    #[arg(long)]
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer to require, exactly. Not together with --certificate-oidc-issuer-regexp.
    #[arg(long, conflicts_with = "certificate_oidc_issuer_regexp")]
    pub certificate_oidc_issuer: Option<String>,
    /// A regular expression the OIDC issuer must match (unanchored: use ^…$). Not together
    /// with --certificate-oidc-issuer.
    #[arg(long)]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// GitHub workflow trigger (certificate extension 1.3.6.1.4.1.57264.1.2).
    #[arg(long)]
    pub certificate_github_workflow_trigger: Option<String>,
    /// GitHub workflow SHA (extension 1.3).
    #[arg(long)]
    pub certificate_github_workflow_sha: Option<String>,
    /// GitHub workflow name (extension 1.4).
    #[arg(long)]
    pub certificate_github_workflow_name: Option<String>,
    /// GitHub workflow repository (extension 1.5).
    #[arg(long)]
    pub certificate_github_workflow_repository: Option<String>,
    /// GitHub workflow ref (extension 1.6).
    #[arg(long)]
    pub certificate_github_workflow_ref: Option<String>,
    /// Require the certificate's email to be the commit's committer (or the tag's tagger).
    #[arg(long)]
    pub match_committer: bool,
    /// Accept any signer identity (only the signature, chain and log are checked).
    #[arg(long)]
    pub insecure_no_identity: bool,
    /// A Sigstore trusted_root.json to use instead of the configured or embedded one.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<String>,
    /// Never use the network: online-mode signatures then cannot be checked against Rekor.
    #[arg(long)]
    pub offline: bool,
    /// Do not require the certificate's embedded SCT.
    #[arg(long)]
    pub insecure_ignore_sct: bool,
    /// Accept signatures whose Rekor entry cannot be looked up (weaker result: the chain is
    /// checked at notBefore + 60 s and nothing shows when the signature was made).
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// One JSON record per object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Succeed when a range selects no commit (by default an empty range is an error, so that
    /// swapped or equal A..B ends do not pass having verified nothing).
    #[arg(long)]
    pub allow_empty: bool,
}

struct Target {
    id: String,
    kind: ObjectKind,
    content: Vec<u8>,
}

/// `gitsign verify` (commits) or, with `tags`, `gitsign verify-tag`.
pub(crate) fn verify_command(tags: bool) -> clap::Command {
    let cmd = <VerifyArgs as clap::CommandFactory>::command();
    if tags {
        cmd.name("verify-tag")
            .about("Verify annotated tags with an identity policy")
            .long_about(
                "Verify annotated tags with an identity policy.\n\n\
                 Each TAG names an annotated tag (refs/tags/TAG); its own signature is checked. A \
                 lightweight tag carries no signature and is refused. Without identity flags, the \
                 allowed-signers policy (gitsign.allowedSignersFile / GITSIGN_ALLOWED_SIGNERS) decides \
                 who may sign. To check the commit a tag points at, \
                 use `gitsign verify TAG`.",
            )
            .after_help(
                "Examples:\n  gitsign verify-tag v1.2.3 --certificate-identity you@example.com \
                 --certificate-oidc-issuer https://accounts.google.com\n  \
                 gitsign verify-tag v1.2.3 v1.2.4 --json --certificate-identity-regexp '@example\\.com$' \
                 --certificate-oidc-issuer https://github.com/login/oauth",
            )
    } else {
        cmd.name("verify")
            .about("Verify commits (REV or A..B ranges) with an identity policy")
            .long_about(
                "Verify commits (REV or A..B ranges) with an identity policy.\n\n\
                 Every REV is peeled to the commit it names (as `git rev-parse REV^{commit}`): a tag name \
                 checks the commit's signature, not the tag's (use `gitsign verify-tag` for that). A range \
                 that selects no commit is an error unless --allow-empty. Without identity flags, the \
                 allowed-signers policy (gitsign.allowedSignersFile / GITSIGN_ALLOWED_SIGNERS) decides \
                 who may sign, as it does for git verify-commit. Exit 0 only when every commit \
                 verified; 1 when one did not; 2 on usage errors.",
            )
            .after_help(
                "Examples:\n  gitsign verify HEAD --certificate-identity you@example.com \
                 --certificate-oidc-issuer https://github.com/login/oauth\n  \
                 gitsign verify main..feature --certificate-identity-regexp '^ci@' \
                 --certificate-oidc-issuer-regexp 'token\\.actions'",
            )
    }
}

fn fail(msg: String) -> ExitCode {
    eprintln!("gitsign: error: {msg}");
    ExitCode::from(2)
}

/// Expand revisions and ranges into objects: commits for `verify` (tags peeled), annotated
/// tags for `verify-tag`.
fn targets(args: &VerifyArgs, tags: bool) -> Result<Vec<Target>, String> {
    let revs = if args.revs.is_empty() {
        if tags {
            return Err("verify-tag needs at least one tag name".into());
        }
        vec!["HEAD".to_string()]
    } else {
        args.revs.clone()
    };
    let mut out = Vec::new();
    for rev in revs {
        if !tags && rev.contains("..") {
            let ids = gitsign::git::repo::rev_list(&rev).map_err(|e| e.to_string())?;
            if ids.is_empty() && !args.allow_empty {
                return Err(format!(
                    "no commits in {rev}: the range selects nothing, so nothing was verified \
                     (check the order of A..B; pass --allow-empty if an empty range is expected)"
                ));
            }
            let mut reader = gitsign::git::repo::BatchReader::new().map_err(|e| e.to_string())?;
            for id in ids {
                let o = reader.read(&id).map_err(|e| e.to_string())?;
                out.push(Target { id: o.id, kind: o.kind, content: o.content });
            }
            continue;
        }
        let o = if tags {
            let o = gitsign::git::repo::read_object(&format!("refs/tags/{rev}")).map_err(|e| e.to_string())?;
            if o.kind != ObjectKind::Tag {
                return Err(format!("{rev} is not an annotated tag (lightweight tags carry no signature)"));
            }
            o
        } else {
            gitsign::git::repo::read_commit(&rev).map_err(|e| e.to_string())?
        };
        out.push(Target { id: o.id, kind: o.kind, content: o.content });
    }
    Ok(out)
}

/// The outcome for one object.
struct Outcome {
    id: String,
    kind: &'static str,
    result: Result<Summary, String>,
}

struct Summary {
    identity: String,
    issuer: Option<String>,
    tlog: TlogEvidence,
    claims_checked: bool,
    /// The allowed-signers rule (`FILE:LINE`) that allowed the signer, when a policy file decided.
    rule: Option<String>,
}

pub(crate) fn run(argv: &[std::ffi::OsString], tags: bool) -> ExitCode {
    let matches = match crate::common::parse(verify_command(tags), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let args = match VerifyArgs::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let mut cfg = match crate::common::load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut flags = PolicyFlags {
        identity: args.certificate_identity.clone(),
        identity_regexp: args.certificate_identity_regexp.clone(),
        issuer: args.certificate_oidc_issuer.clone(),
        issuer_regexp: args.certificate_oidc_issuer_regexp.clone(),
        github_workflow_trigger: args.certificate_github_workflow_trigger.clone(),
        github_workflow_sha: args.certificate_github_workflow_sha.clone(),
        github_workflow_name: args.certificate_github_workflow_name.clone(),
        github_workflow_repository: args.certificate_github_workflow_repository.clone(),
        github_workflow_ref: args.certificate_github_workflow_ref.clone(),
        insecure_no_identity: args.insecure_no_identity,
        match_committer: args.match_committer,
    };
    // Without identity flags, the configured allowed-signers policy decides (the same one git's
    // own verification honours); identity flags, when given, replace it.
    let identity_flags = flags.identity.is_some()
        || flags.identity_regexp.is_some()
        || flags.issuer.is_some()
        || flags.issuer_regexp.is_some()
        || flags.github_workflow_trigger.is_some()
        || flags.github_workflow_sha.is_some()
        || flags.github_workflow_name.is_some()
        || flags.github_workflow_repository.is_some()
        || flags.github_workflow_ref.is_some()
        || flags.insecure_no_identity;
    let allowed = if identity_flags {
        None
    } else {
        match gitsign::app::allowed::load_policy(&cfg) {
            Ok(p) => p,
            Err(e) => return fail(e.to_string()),
        }
    };
    if allowed.is_some() {
        // The rules check the identity; the flags' policy still checks --match-committer.
        flags.insecure_no_identity = true;
    }
    let policy = match Policy::from_flags(&flags) {
        Ok(p) => p,
        Err(e @ (PolicyError::MissingIdentity | PolicyError::MissingIssuer)) => {
            return fail(format!(
                "{e}; or name a file of allowed signers with gitsign.allowedSignersFile / GITSIGN_ALLOWED_SIGNERS"
            ));
        }
        Err(e) => return fail(e.to_string()),
    };
    if let Some(t) = &args.trusted_root {
        cfg.trusted_root = Some(t.clone());
    }
    let trust = match if args.offline {
        gitsign::app::setup::trusted_root_offline(&cfg)
    } else {
        gitsign::app::setup::trusted_root_for(&cfg)
    } {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let rekor = if args.offline {
        None
    } else {
        // One search per certificate and one fetch per entry for the whole run.
        Some(gitsign::app::setup::CachingRekor::new(gitsign::app::setup::LazyRekor::new(&cfg)))
    };
    let targets = match targets(&args, tags) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };

    let check = |t: &Target| -> Outcome {
        let kind = t.kind.as_str();
        let opts = VerifyOptions {
            trust: &trust,
            rekor: rekor.as_ref().map(|r| r as &dyn gitsign::pipelines::verify::signature::RekorLookup),
            object_id: Some(t.id.clone()),
            insecure_ignore_tlog: args.insecure_ignore_tlog,
            insecure_ignore_sct: args.insecure_ignore_sct,
        };
        let result = verify_object(t.kind, &t.content, &policy, &opts).map_err(|e| e.to_string()).and_then(|v| {
            let rule = match &allowed {
                Some(rules) => {
                    let signer = Signer {
                        sans: &v.signature.sans,
                        issuer: v.issuer.as_deref(),
                        time: v.signature.verified_at,
                        committer_email: v.committer_email.as_deref(),
                    };
                    let rule = rules.find(&signer).map_err(|e| format!("the signature is valid, but {e}"))?;
                    Some(rule.location())
                }
                None => None,
            };
            Ok(Summary {
                identity: v.identity,
                issuer: v.issuer,
                tlog: v.tlog,
                claims_checked: rule.is_some() || policy.constrains_identity(),
                rule,
            })
        });
        Outcome { id: t.id.clone(), kind, result }
    };

    // Parallel over the available cores; results kept in input order.
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(targets.len().max(1));
    let chunk = targets.len().div_ceil(workers.max(1)).max(1);
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> =
            targets.chunks(chunk).map(|c| s.spawn(|| c.iter().map(check).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });

    let mut all_ok = true;
    for o in &outcomes {
        all_ok &= o.result.is_ok();
        if args.json {
            outln!("{}", json_record(o));
        } else {
            print_human(o);
        }
    }
    if !args.json && outcomes.len() > 1 {
        let good = outcomes.iter().filter(|o| o.result.is_ok()).count();
        outln!("{good} of {} objects verified", outcomes.len());
    }
    if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn tlog_fields(t: &TlogEvidence) -> (Option<i64>, Option<i64>, &'static str) {
    match t {
        TlogEvidence::Embedded { log_index, integrated_time } => (Some(*log_index), Some(*integrated_time), "embedded"),
        TlogEvidence::Online { log_index, integrated_time, .. } => (Some(*log_index), Some(*integrated_time), "online"),
        TlogEvidence::NotChecked => (None, None, "not-checked"),
    }
}

fn print_human(o: &Outcome) {
    match &o.result {
        Ok(s) => {
            let (idx, t, how) = tlog_fields(&s.tlog);
            let verdict = if matches!(s.tlog, TlogEvidence::NotChecked) {
                "VERIFIED (signature and chain valid; transparency log not checked)"
            } else {
                "VERIFIED"
            };
            outln!("{} {}: {verdict}", o.id, o.kind);
            outln!("  identity: {}", s.identity);
            outln!("  issuer: {}", s.issuer.as_deref().unwrap_or("(none)"));
            if let (Some(idx), Some(t)) = (idx, t) {
                outln!("  tlog index: {idx} ({how}), integrated time: {}", gitsign::encoding::timefmt::rfc3339(t));
            }
            outln!("  certificate claims checked: {}", s.claims_checked);
            if let Some(rule) = &s.rule {
                outln!("  allowed by: {rule}");
            }
        }
        Err(e) => {
            outln!("{} {}: FAILED", o.id, o.kind);
            outln!("  reason: {e}");
        }
    }
}

fn json_record(o: &Outcome) -> serde_json::Value {
    match &o.result {
        Ok(s) => {
            let (idx, t, how) = tlog_fields(&s.tlog);
            serde_json::json!({
                "object": o.id, "type": o.kind, "verified": true,
                "identity": s.identity, "issuer": s.issuer,
                "tlog": how, "logIndex": idx, "integratedTime": t,
                "certificateClaimsChecked": s.claims_checked,
                "rule": s.rule,
            })
        }
        Err(e) => serde_json::json!({"object": o.id, "type": o.kind, "verified": false, "error": e}),
    }
}
