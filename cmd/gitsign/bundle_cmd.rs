//! `gitsign export-bundle REV -o FILE [--artifact FILE]`: a Sigstore bundle (v0.3) for the
//! signature of a commit or tag, verifiable by any Sigstore client.
use std::process::ExitCode;

pub fn run(args: &[String]) -> ExitCode {
    let mut rev = None;
    let mut out = None;
    let mut artifact = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" | "--output" => out = it.next().cloned(),
            "--artifact" => artifact = it.next().cloned(),
            s if s.starts_with("--output=") => out = Some(s["--output=".len()..].to_string()),
            s if s.starts_with("--artifact=") => artifact = Some(s["--artifact=".len()..].to_string()),
            s if s.starts_with('-') => return crate::usage_error(&format!("export-bundle: unknown option {s}")),
            s if rev.is_none() => rev = Some(s.to_string()),
            s => return crate::usage_error(&format!("export-bundle: unexpected argument {s}")),
        }
    }
    let rev = rev.unwrap_or_else(|| "HEAD".to_string());
    let Some(out) = out else {
        return crate::usage_error("export-bundle: -o FILE is required");
    };
    let fail = |msg: String| {
        eprintln!("gitsign: error: {msg}");
        ExitCode::FAILURE
    };
    let obj = match gitsign::repo::read_object(&rev) {
        Ok(o) => o,
        Err(e) => return fail(e.to_string()),
    };
    let split = match gitsign::git::split_object(obj.kind, &obj.content) {
        Ok(s) => s,
        Err(e) => return fail(format!("{rev}: {e}")),
    };
    let exported = match gitsign::bundle::from_signature(&split.signature) {
        Ok(x) => x,
        Err(e) => return fail(format!("{rev}: {e}")),
    };
    let json = serde_json::to_vec_pretty(&exported.bundle).expect("JSON values serialize");
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
