//! `gitsign verify-bundle [--staging] --bundle FILE (--certificate-identity I
//! --certificate-oidc-issuer U | --key PEM) [--trusted-root FILE] FILE_OR_sha256:HEX`:
//! offline verification of any Sigstore bundle, with the arguments of the sigstore-conformance
//! CLI protocol. Exit 0 only when verified, 1 when not, 2 on usage errors. Without
//! `--trusted-root` or `--staging` the trusted root is the configured one, as for `gitsign verify`.
use gitsign::pipelines::verify::bundle::{self as bundle_verify, Artifact, BundleVerifyOptions, Signer};
use gitsign::pipelines::verify::policy::{Policy, PolicyFlags};
use gitsign::trust::root::TrustedRoot;
use std::process::ExitCode;

struct Args {
    staging: bool,
    bundle: String,
    identity: Option<String>,
    identity_regexp: Option<String>,
    issuer: Option<String>,
    issuer_regexp: Option<String>,
    key: Option<String>,
    trusted_root: Option<String>,
    insecure_ignore_sct: bool,
    input: String,
}

fn args(m: &clap::ArgMatches) -> Option<Args> {
    let s = |k: &str| m.get_one::<String>(k).cloned();
    Some(Args {
        staging: m.get_flag("staging"),
        bundle: s("bundle")?,
        identity: s("certificate-identity"),
        identity_regexp: s("certificate-identity-regexp"),
        issuer: s("certificate-oidc-issuer"),
        issuer_regexp: s("certificate-oidc-issuer-regexp"),
        key: s("key"),
        trusted_root: s("trusted-root"),
        insecure_ignore_sct: m.get_flag("insecure-ignore-sct"),
        input: s("input")?,
    })
}

pub(crate) fn run(argv: &[std::ffi::OsString]) -> ExitCode {
    let m = match crate::common::parse(crate::cli::verify_bundle_command(), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let Some(a) = args(&m) else {
        return crate::common::usage_error(
            "verify-bundle: --bundle and the artifact are required (see gitsign verify-bundle --help)",
        );
    };
    let (bundle_path, input) = (&a.bundle, &a.input);
    let fail = |msg: String| {
        eprintln!("gitsign: error: {msg}");
        ExitCode::FAILURE
    };
    let owned_root;
    let trust: &TrustedRoot = match (&a.trusted_root, a.staging) {
        (Some(path), _) => match TrustedRoot::from_file(path) {
            Ok(t) => {
                owned_root = t;
                &owned_root
            }
            Err(e) => return fail(e.to_string()),
        },
        (None, true) => match TrustedRoot::staging() {
            Ok(t) => t,
            Err(e) => return fail(e.to_string()),
        },
        // The configured root (GITSIGN_TRUSTED_ROOT, gitsign.trustedRoot, the TUF cache), as
        // `gitsign verify` uses it.
        (None, false) => {
            let cfg = match crate::common::load_config() {
                Ok(c) => c,
                Err(code) => return code,
            };
            match gitsign::app::setup::trusted_root_for(&cfg) {
                Ok(t) => {
                    owned_root = t;
                    &owned_root
                }
                Err(e) => return fail(e.to_string()),
            }
        }
    };
    let policy;
    let key_der;
    let identity_flags =
        a.identity.is_some() || a.identity_regexp.is_some() || a.issuer.is_some() || a.issuer_regexp.is_some();
    let signer = match &a.key {
        Some(_) if identity_flags => {
            return crate::common::usage_error("verify-bundle: --key excludes the --certificate-* identity flags");
        }
        Some(path) => {
            let pem = match crate::common::read_file_bounded(path.as_ref()) {
                Ok(p) => p,
                Err(e) => return fail(e),
            };
            key_der = match bundle_verify::public_key_from_pem(&String::from_utf8_lossy(&pem)) {
                Ok(k) => k,
                Err(e) => return fail(format!("{path}: {e}")),
            };
            Signer::PublicKey(&key_der)
        }
        None => {
            policy = match Policy::from_flags(&PolicyFlags {
                identity: a.identity.clone(),
                identity_regexp: a.identity_regexp.clone(),
                issuer: a.issuer.clone(),
                issuer_regexp: a.issuer_regexp.clone(),
                ..Default::default()
            }) {
                Ok(p) => p,
                Err(e) => return crate::common::usage_error(&format!("verify-bundle: {e}")),
            };
            Signer::Certificate(&policy)
        }
    };
    let bundle = match crate::common::read_file_bounded(bundle_path.as_ref()) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    // A digest only when it has the sha256:HEX form and is not a file on disk (protocol rule).
    let digest = bundle_verify::parse_digest_arg(input).filter(|_| !std::path::Path::new(input).exists());
    let bytes;
    let artifact = match digest {
        Some(d) => Artifact::Sha256(d),
        None => {
            bytes = match crate::common::read_file_bounded(input.as_ref()) {
                Ok(b) => b,
                Err(e) => return fail(e),
            };
            Artifact::Bytes(&bytes)
        }
    };
    let opts = BundleVerifyOptions { trust, signer, insecure_ignore_sct: a.insecure_ignore_sct };
    match bundle_verify::verify_bundle(&bundle, &artifact, &opts) {
        Ok(v) => {
            let who = match (&v.identity, &v.issuer) {
                (Some(i), Some(iss)) => format!("{i} (issuer {iss})"),
                (Some(i), None) => i.clone(),
                _ => "the given key".to_string(),
            };
            outln!("OK: {input}");
            eprintln!(
                "gitsign: bundle verified: signed by {who}; tlog index {}, verified signing time {}{}",
                v.log_index,
                gitsign::encoding::timefmt::rfc3339(v.integrated_time),
                if v.has_inclusion_proof { ", inclusion proof checked" } else { "" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            outln!("FAIL: {input}");
            fail(format!("{bundle_path}: {e}"))
        }
    }
}
