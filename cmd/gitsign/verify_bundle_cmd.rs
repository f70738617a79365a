//! `gitsign verify-bundle [--staging] --bundle FILE (--certificate-identity I
//! --certificate-oidc-issuer U | --key PEM) [--trusted-root FILE] FILE_OR_sha256:HEX`:
//! offline verification of any Sigstore bundle, with the arguments of the sigstore-conformance
//! CLI protocol. Exit 0 only when verified, 1 when not, 2 on usage errors.
use gitsign::bundle_verify::{self, Artifact, BundleVerifyOptions, Signer};
use gitsign::policy::{Policy, PolicyFlags};
use gitsign::trust::TrustedRoot;
use std::process::ExitCode;

const USAGE: &str = "usage: gitsign verify-bundle [--staging] --bundle FILE \
(--certificate-identity IDENTITY --certificate-oidc-issuer URL | --key PEM) [--trusted-root FILE] FILE_OR_sha256:HEX
  --certificate-identity-regexp RE / --certificate-oidc-issuer-regexp RE  unanchored regular expressions (write ^...$)
  --insecure-ignore-sct                                                   do not require the certificate's SCT
  exit 0 only when the bundle verifies; 1 when it does not; 2 on usage errors";

#[derive(Default)]
struct Args {
    staging: bool,
    bundle: Option<String>,
    identity: Option<String>,
    identity_regexp: Option<String>,
    issuer: Option<String>,
    issuer_regexp: Option<String>,
    key: Option<String>,
    trusted_root: Option<String>,
    insecure_ignore_sct: bool,
    input: Option<String>,
}

fn parse(argv: &[String]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().cloned().ok_or_else(|| format!("{name} needs a value")),
            }
        };
        match flag {
            "--staging" => a.staging = true,
            "--insecure-ignore-sct" => a.insecure_ignore_sct = true,
            "--bundle" => a.bundle = Some(value(flag)?),
            "--certificate-identity" => a.identity = Some(value(flag)?),
            "--certificate-oidc-issuer" => a.issuer = Some(value(flag)?),
            "--certificate-identity-regexp" => a.identity_regexp = Some(value(flag)?),
            "--certificate-oidc-issuer-regexp" => a.issuer_regexp = Some(value(flag)?),
            "--key" => a.key = Some(value(flag)?),
            "--trusted-root" => a.trusted_root = Some(value(flag)?),
            "-h" | "--help" => return Err(String::new()),
            f if f.starts_with("--") => return Err(format!("unknown option {f}")),
            _ if a.input.is_none() => a.input = Some(arg.clone()),
            _ => return Err(format!("unexpected argument {arg}")),
        }
    }
    Ok(a)
}

pub fn run(argv: &[String]) -> ExitCode {
    let a = match parse(argv) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            outln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => return crate::usage_error(&format!("verify-bundle: {e}\n{USAGE}")),
    };
    let (Some(bundle_path), Some(input)) = (&a.bundle, &a.input) else {
        return crate::usage_error(&format!("verify-bundle: --bundle and the artifact are required\n{USAGE}"));
    };
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
        (None, false) => match TrustedRoot::production() {
            Ok(t) => t,
            Err(e) => return fail(e.to_string()),
        },
    };
    let policy;
    let key_der;
    let identity_flags =
        a.identity.is_some() || a.identity_regexp.is_some() || a.issuer.is_some() || a.issuer_regexp.is_some();
    let signer = match &a.key {
        Some(_) if identity_flags => {
            return crate::usage_error("verify-bundle: --key excludes the --certificate-* identity flags");
        }
        Some(path) => {
            let pem = match crate::read_file_bounded(path.as_ref()) {
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
                Err(e) => return crate::usage_error(&format!("verify-bundle: {e}")),
            };
            Signer::Certificate(&policy)
        }
    };
    let bundle = match crate::read_file_bounded(bundle_path.as_ref()) {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    // A digest only when it has the sha256:HEX form and is not a file on disk (protocol rule).
    let digest = bundle_verify::parse_digest_arg(input).filter(|_| !std::path::Path::new(input).exists());
    let bytes;
    let artifact = match digest {
        Some(d) => Artifact::Sha256(d),
        None => {
            bytes = match crate::read_file_bounded(input.as_ref()) {
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
                "gitsign: bundle verified: signed by {who}; tlog index {}, integrated time {}{}",
                v.log_index,
                v.integrated_time,
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
