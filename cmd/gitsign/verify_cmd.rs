//! `gitsign --verify SIGFILE [DATA|-]`: what git runs for `verify-commit`, `verify-tag` and
//! `log --show-signature`. Status lines go to `--status-fd`, human text to stderr.
use gitsign::app::gpg::args::GpgArgs;
use gitsign::app::gpg::status::{HASH_SHA256, Status, StatusWriter};
use gitsign::git::object::ObjectKind;
use gitsign::pipelines::verify::allowed::Signer;
use gitsign::pipelines::verify::policy::committer_email;
use gitsign::pipelines::verify::signature::{TlogEvidence, VerifyOptions};
use std::process::ExitCode;

pub(crate) fn run(a: &GpgArgs) -> ExitCode {
    let mut status = match StatusWriter::for_fd(a.status_fd) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("gitsign: error: cannot open --status-fd: {e}");
            return ExitCode::from(2);
        }
    };
    status.emit(&Status::NewSig);
    let errsig = |status: &mut StatusWriter, msg: String| {
        status.emit(&Status::ErrSig { key_id: "0000000000000000".into(), time: 0, rc: 9 });
        eprintln!("gitsign: error: {msg}");
        ExitCode::FAILURE
    };
    // Inputs: signature file (or stdin when absent), data file (`-` or absent = stdin).
    let (sig, data) = match read_inputs(&a.positional) {
        Ok(x) => x,
        Err(e) => return errsig(&mut status, e),
    };
    let cfg = match crate::common::load_config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    // A policy that cannot be loaded allows nobody: a valid signature is then not reported good
    // (ERRSIG, `%G?` = `E`); a bad one is still reported bad.
    let policy = gitsign::app::allowed::load_policy(&cfg);
    let trust = match gitsign::app::setup::trusted_root_for(&cfg) {
        Ok(t) => t,
        Err(e) => return errsig(&mut status, e.to_string()),
    };
    let rekor = gitsign::app::setup::LazyRekor::new(&cfg);
    let object_id = gitsign::app::setup::object_id_from_parts(&data, &sig, &cfg.object_format);
    let opts = VerifyOptions {
        trust: &trust,
        rekor: Some(&rekor),
        object_id,
        insecure_ignore_tlog: false,
        insecure_ignore_sct: false,
    };
    match gitsign::pipelines::verify::signature::verify(&data, &sig, &opts) {
        Ok(v) => {
            let policy = match policy {
                Ok(p) => p,
                Err(e) => {
                    status.emit(&Status::ErrSig { key_id: v.fingerprint.clone(), time: v.verified_at, rc: 9 });
                    eprintln!("gitsign: error: the signature is valid, but the signer cannot be checked: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let time = match &v.tlog {
                TlogEvidence::Embedded { integrated_time, .. } | TlogEvidence::Online { integrated_time, .. } => {
                    *integrated_time
                }
                TlogEvidence::NotChecked => v.not_before,
            };
            status.emit(&Status::GoodSig { key_id: v.fingerprint.clone(), signer: v.identity.clone() });
            status.emit(&Status::ValidSig { fingerprint: v.fingerprint.clone(), time, hash_algo: HASH_SHA256 });
            // Who may sign: with a policy, a valid signature from a signer no rule allows is
            // reported with undefined trust (git's `U`), as an unknown key is with GnuPG.
            let allowed = policy.as_ref().map(|p| {
                let email = ObjectKind::from_payload(&data).and_then(|k| committer_email(k, &data).ok().flatten());
                let signer = Signer {
                    sans: &v.sans,
                    issuer: v.issuer.as_deref(),
                    time: v.verified_at,
                    committer_email: email.as_deref(),
                };
                p.find(&signer).map(|rule| rule.location())
            });
            status.emit(if matches!(allowed, Some(Err(_))) { &Status::TrustUndefined } else { &Status::TrustFully });
            let log = match &v.tlog {
                TlogEvidence::Embedded { log_index, .. } => {
                    format!("tlog index: {log_index} (embedded in the signature, verified offline)")
                }
                TlogEvidence::Online { log_index, .. } => {
                    format!("tlog index: {log_index} (looked up in {})", cfg.rekor)
                }
                TlogEvidence::NotChecked => "tlog: not checked".to_string(),
            };
            eprintln!("{log}");
            eprintln!("gitsign: Signature made using certificate ID 0x{}", v.fingerprint);
            eprintln!(
                "gitsign: Good signature from [{}]({})",
                v.sans.iter().filter_map(|s| s.value()).collect::<Vec<_>>().join(", "),
                v.issuer.as_deref().unwrap_or("unknown issuer")
            );
            eprintln!("Validated Git signature: true");
            eprintln!("Validated Rekor entry: {}", !matches!(v.tlog, TlogEvidence::NotChecked));
            match &allowed {
                Some(Ok(rule)) => {
                    eprintln!("gitsign: the signer is allowed by {rule}");
                    eprintln!("Validated Certificate claims: true");
                }
                Some(Err(e)) => {
                    eprintln!(
                        "gitsign: WARNING: the signature is valid, but {e}; git treats it as untrusted \
                         (%G? is U, and merge/pull --verify-signatures refuse it)"
                    );
                    eprintln!("Validated Certificate claims: false");
                }
                None => {
                    eprintln!("Validated Certificate claims: false");
                    eprintln!(
                        "WARNING: git verify-commit does not verify cert claims. Prefer using `gitsign verify` instead."
                    );
                    eprintln!(
                        "gitsign: to have git check who signed, set gitsign.allowedSignersFile to a file of \
                         allowed signers (see the README, \"Who may sign\")"
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let Err(pe) = &policy {
                eprintln!("gitsign: error: {pe}");
            }
            // BADSIG: the signature is wrong; ERRSIG (git's `E`, GnuPG's "missing key"): it is
            // intact but cannot be checked against the trusted root. ERRSIG names the signer
            // certificate when it is known (git shows it as %GK).
            match gitsign::pipelines::verify::signature::signer_of_failure(&e) {
                Some((fpr, _)) => {
                    let signer = gitsign::pipelines::verify::signature::claimed_signer(&sig).unwrap_or_default();
                    status.emit(&Status::BadSig { key_id: fpr, signer });
                    eprintln!("gitsign: error: {e}");
                }
                None => {
                    let key_id = e.fingerprint().unwrap_or("0000000000000000").to_string();
                    status.emit(&Status::ErrSig { key_id, time: 0, rc: 9 });
                    eprintln!("gitsign: error: {e}");
                    if e.fingerprint().is_some() {
                        eprintln!("gitsign: the signature cannot be checked (this alone does not show tampering)");
                    }
                }
            }
            ExitCode::FAILURE
        }
    }
}

fn read_inputs(pos: &[std::ffi::OsString]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let read_stdin = || crate::common::read_bounded(std::io::stdin().lock(), "stdin");
    let read_file = |p: &std::ffi::OsString| crate::common::read_file_bounded(p);
    match pos {
        [] => Err("no signature given: usage is gitsign --verify SIGFILE [DATAFILE|-]".into()),
        [sig] => Ok((read_file(sig)?, read_stdin()?)),
        [sig, data, ..] => {
            let sig = if sig == "-" { read_stdin()? } else { read_file(sig)? };
            let data = if data == "-" { read_stdin()? } else { read_file(data)? };
            Ok((sig, data))
        }
    }
}
