//! `gitsign attest -f FILE [--objtype commit|tree] [--type URI] [REV]` and
//! `gitsign verify-attestation [REV] ...`: signed in-toto attestations about commits and trees,
//! logged in Rekor and stored under `refs/attestations/{commits,trees}` (as sigstore/gitsign).
use clap::{Arg, ArgAction, Command};
use gitsign::pipelines::attest::check::{CheckOptions, verify_attestation};
use gitsign::pipelines::attest::refs::{self, ObjType};
use gitsign::pipelines::verify::policy::{Policy, PolicyFlags};
use std::process::ExitCode;

fn objtype_arg() -> Arg {
    Arg::new("objtype")
        .long("objtype")
        .value_name("commit|tree")
        .value_parser(["commit", "tree"])
        .default_value("commit")
        .help("Git object type the attestation is about: REV's commit, or REV's tree")
}

fn rev_arg() -> Arg {
    Arg::new("rev").value_name("REV").default_value("HEAD").help("The commit (or, with --objtype tree, its tree)")
}

pub(crate) fn attest_command() -> Command {
    Command::new("attest")
        .about("Sign an in-toto attestation about a commit or tree and store it under refs/attestations/")
        .long_about(
            "Wrap FILE (a JSON object: the predicate) in an in-toto v1 statement whose subject is the \
             commit (digest gitCommit) or its tree (gitTree), sign it in a DSSE envelope with a Fulcio \
             certificate, log it in Rekor (intoto v0.0.1 entry), and commit FILE and FILE.sig under \
             <id>/ in refs/attestations/commits (or refs/attestations/trees). The worktree, index and \
             HEAD are not touched. Prints the new attestation commit id. Push the ref to share it: \
             git push origin 'refs/attestations/*'.",
        )
        .arg(
            Arg::new("filepath")
                .short('f')
                .long("filepath")
                .value_name("FILE")
                .required(true)
                .help("The attestation (predicate) file"),
        )
        .arg(objtype_arg())
        .arg(
            Arg::new("type")
                .long("type")
                .value_name("URI")
                .default_value("")
                .hide_default_value(true)
                .help("Predicate type URI (e.g. https://slsa.dev/provenance/v1); left out of the statement when empty, as gitsign does"),
        )
        .arg(rev_arg())
        .after_help(
            "Examples:\n  gitsign attest -f provenance.json --type https://slsa.dev/provenance/v1\n  \
             gitsign attest -f sbom.spdx.json --objtype tree --type https://spdx.dev/Document\n  \
             git push origin 'refs/attestations/*'",
        )
}

pub(crate) fn verify_command() -> Command {
    Command::new("verify-attestation")
        .about("Verify the attestations stored for a commit or tree with an identity policy")
        .long_about(
            "Verify every attestation stored for REV under refs/attestations/ (or only --name, or only \
             those of predicate --type): the DSSE signature, the Rekor entry recording that envelope \
             (SET, inclusion proof, trusted log key), the certificate at the entry's integrated time \
             (Fulcio chain, SCT, identity policy), that the statement's subject is REV's id, and that \
             the stored predicate file is the one signed. Needs Rekor (the envelope carries no \
             certificate). Exit 0 only when at least one attestation was checked and all passed.",
        )
        .arg(rev_arg())
        .arg(objtype_arg())
        .arg(Arg::new("type").long("type").value_name("URI").help("Only attestations of this predicate type (others are skipped)"))
        .arg(Arg::new("name").long("name").value_name("FILE").help("Only the attestation stored as FILE"))
        .arg(Arg::new("certificate-identity").long("certificate-identity").value_name("ID"))
        .arg(Arg::new("certificate-identity-regexp").long("certificate-identity-regexp").value_name("RE"))
        .arg(Arg::new("certificate-oidc-issuer").long("certificate-oidc-issuer").value_name("URL"))
        .arg(Arg::new("certificate-oidc-issuer-regexp").long("certificate-oidc-issuer-regexp").value_name("RE"))
        .arg(
            Arg::new("insecure-no-identity")
                .long("insecure-no-identity")
                .action(ArgAction::SetTrue)
                .help("Accept any signer identity"),
        )
        .arg(Arg::new("trusted-root").long("trusted-root").value_name("FILE").help("A Sigstore trusted_root.json"))
        .arg(Arg::new("insecure-ignore-sct").long("insecure-ignore-sct").action(ArgAction::SetTrue))
        .after_help(
            "Example:\n  gitsign verify-attestation HEAD --type https://slsa.dev/provenance/v1 \\\n      \
             --certificate-identity ci@example.com --certificate-oidc-issuer https://token.actions.githubusercontent.com",
        )
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn fail(msg: String) -> ExitCode {
    eprintln!("gitsign: error: {msg}");
    ExitCode::FAILURE
}

fn objtype(m: &clap::ArgMatches) -> ObjType {
    m.get_one::<String>("objtype").and_then(|s| ObjType::parse(s)).unwrap_or(ObjType::Commit)
}

pub(crate) fn run_attest(argv: &[std::ffi::OsString]) -> ExitCode {
    let m = match crate::common::parse(attest_command(), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let kind = objtype(&m);
    let rev = m.get_one::<String>("rev").cloned().unwrap_or_else(|| "HEAD".into());
    let predicate_type = m.get_one::<String>("type").cloned().unwrap_or_default();
    let Some(path) = m.get_one::<String>("filepath") else {
        return crate::common::usage_error("attest needs -f FILE");
    };
    let Some(name) = std::path::Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return crate::common::usage_error(&format!("{path:?} does not name a file"));
    };
    let cfg = match crate::common::load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Everything local first: a bad file or revision fails before any login.
    let predicate = match crate::common::read_file_bounded(std::ffi::OsStr::new(path)) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if let Err(e) = gitsign::pipelines::attest::sign::canonical_predicate(&predicate) {
        return fail(format!("{path}: {e}"));
    }
    let target = match refs::resolve(&rev, kind) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let trust = match gitsign::app::setup::trusted_root_for(&cfg) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let services = match gitsign::pipelines::sign::Services::from_config(&cfg) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let identity = match gitsign::pipelines::sign::obtain_identity(&cfg, &services, &trust, now()) {
        Ok(i) => i,
        Err(e) => return fail(e.to_string()),
    };
    if let Err(e) = gitsign::pipelines::sign::check_certificate(&cfg, &identity, &trust, now()) {
        return fail(e.to_string());
    }
    let out = match gitsign::pipelines::attest::sign::attest(
        &identity,
        &services.rekor,
        &trust,
        kind,
        &target,
        &name,
        &predicate,
        &predicate_type,
    ) {
        Ok(o) => o,
        Err(e) => return fail(e.to_string()),
    };
    let mut tty = crate::ui::Tty::open();
    tty.say(&format!("tlog entry created with index: {}", out.log_index));
    tty.say(&format!(
        "gitsign: attested {} {} as {} in {} ({}/{name}, {}/{name}.sig)",
        kind.as_str(),
        out.target,
        identity.claims.challenge_subject().unwrap_or_default(),
        out.ref_name,
        out.target,
        out.target
    ));
    outln!("{}", out.commit);
    ExitCode::SUCCESS
}

pub(crate) fn run_verify(argv: &[std::ffi::OsString]) -> ExitCode {
    let m = match crate::common::parse(verify_command(), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let s = |k: &str| m.get_one::<String>(k).cloned();
    let policy = match Policy::from_flags(&PolicyFlags {
        identity: s("certificate-identity"),
        identity_regexp: s("certificate-identity-regexp"),
        issuer: s("certificate-oidc-issuer"),
        issuer_regexp: s("certificate-oidc-issuer-regexp"),
        insecure_no_identity: m.get_flag("insecure-no-identity"),
        ..Default::default()
    }) {
        Ok(p) => p,
        Err(e) => return crate::common::usage_error(&e.to_string()),
    };
    let kind = objtype(&m);
    let rev = s("rev").unwrap_or_else(|| "HEAD".into());
    let mut cfg = match crate::common::load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Some(t) = s("trusted-root") {
        cfg.trusted_root = Some(t);
    }
    let trust = match gitsign::app::setup::trusted_root_for(&cfg) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let target = match refs::resolve(&rev, kind) {
        Ok(t) => t,
        Err(e) => return fail(e.to_string()),
    };
    let stored = match refs::load(kind.ref_name(), &target) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let wanted_name = s("name");
    let stored: Vec<_> = stored.into_iter().filter(|a| wanted_name.as_ref().is_none_or(|n| *n == a.name)).collect();
    if stored.is_empty() {
        return fail(format!(
            "no attestation{} stored for {} {target} ({rev}) under {} (fetch it with: git fetch origin '{}:{}')",
            wanted_name.map(|n| format!(" named {n}")).unwrap_or_default(),
            kind.as_str(),
            kind.ref_name(),
            kind.ref_name(),
            kind.ref_name()
        ));
    }
    let http = match gitsign::services::http::client(&cfg.http_options()) {
        Ok(h) => h,
        Err(e) => return fail(e.to_string()),
    };
    let rekor = gitsign::services::rekor::client::RekorClient::new(&cfg.rekor, http);
    let want_type = s("type");
    let opts = CheckOptions {
        trust: &trust,
        policy: &policy,
        predicate_type: want_type.as_deref(),
        insecure_ignore_sct: m.get_flag("insecure-ignore-sct"),
    };
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for a in &stored {
        let predicate = (!a.predicate.is_empty()).then_some((a.name.as_str(), a.predicate.as_slice()));
        match verify_attestation(&a.envelope, predicate, kind, &target, &rekor, &opts) {
            Ok(v) => {
                passed += 1;
                outln!(
                    "Verified {} for {} {target}: predicate type \"{}\", signed by {} (issuer {}), Rekor index {} at {}",
                    a.name,
                    kind.as_str(),
                    v.predicate_type,
                    v.identity,
                    v.issuer.as_deref().unwrap_or("unknown"),
                    v.log_index,
                    gitsign::encoding::timefmt::rfc3339(v.integrated_time)
                );
            }
            Err(gitsign::pipelines::attest::sign::AttestationError::PredicateType { .. }) => skipped += 1,
            Err(e) => {
                failed += 1;
                eprintln!("gitsign: error: {} for {} {target}: {e}", a.name, kind.as_str());
            }
        }
    }
    if failed > 0 || passed == 0 {
        if passed == 0 && failed == 0 {
            eprintln!(
                "gitsign: error: none of the {skipped} attestation(s) for {} {target} has predicate type {:?}",
                kind.as_str(),
                want_type.unwrap_or_default()
            );
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
