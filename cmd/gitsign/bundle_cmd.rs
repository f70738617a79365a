//! `gitsign export-bundle REV -o FILE [--artifact FILE]`: a Sigstore bundle (v0.3) for the
//! signature of a commit or tag, verifiable by any Sigstore client.
use std::process::ExitCode;

pub(crate) fn run(argv: &[std::ffi::OsString]) -> ExitCode {
    let m = match crate::common::parse(crate::cli::export_bundle_command(), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let rev = m.get_one::<String>("rev").cloned().unwrap_or_else(|| "HEAD".to_string());
    let Some(out) = m.get_one::<String>("output").cloned() else {
        return crate::common::usage_error("export-bundle: -o FILE is required");
    };
    let artifact = m.get_one::<String>("artifact").cloned();
    let fail = |msg: String| {
        eprintln!("gitsign: error: {msg}");
        ExitCode::FAILURE
    };
    let obj = match gitsign::git::repo::read_object(&rev) {
        Ok(o) => o,
        Err(e) => return fail(e.to_string()),
    };
    let split = match gitsign::git::object::split_object(obj.kind, &obj.content) {
        Ok(s) => s,
        Err(e) => return fail(format!("{rev}: {e}")),
    };
    let exported = match gitsign::pipelines::bundle::from_signature(&split.signature) {
        Ok(x) => x,
        Err(e) => return fail(format!("{rev}: {e}")),
    };
    let json = match serde_json::to_vec_pretty(&exported.bundle) {
        Ok(j) => j,
        Err(e) => return fail(format!("{rev}: cannot write the bundle as JSON: {e}")),
    };
    if let Err(e) = std::fs::write(&out, json) {
        return fail(format!("cannot write {out}: {e}"));
    }
    if let Some(path) = artifact
        && let Err(e) = std::fs::write(&path, &exported.artifact)
    {
        return fail(format!("cannot write {path}: {e}"));
    }
    eprintln!("gitsign: wrote the bundle for {} ({}) to {out}", rev, obj.id);
    ExitCode::SUCCESS
}
