//! `gitsign show [REV] [-r REMOTE]`: the in-toto statement for a commit or an annotated tag
//! (gitsign's `show`), as indented JSON on stdout. A lightweight tag is refused, as upstream does.
use clap::{Arg, Command};
use gitsign::git::object::ObjectKind;
use std::process::{ExitCode, Stdio};

pub(crate) fn command() -> Command {
    Command::new("show")
        .about("Print the in-toto statement describing a commit or annotated tag and its signature")
        .long_about(
            "Print an in-toto statement (predicate https://gitsign.sigstore.dev/predicate/git/v0.1 for \
             commits, .../predicate/tag/v0.1 for annotated tags) with the object's fields, its signature \
             and the signer's certificate and signed attributes. The subject is the object id, named by \
             the remote's URL. Nothing is verified: use `gitsign verify` for that.",
        )
        .arg(Arg::new("rev").value_name("REV").help("Commit or annotated tag (default HEAD)"))
        .arg(
            Arg::new("remote")
                .short('r')
                .long("remote")
                .value_name("REMOTE")
                .default_value("origin")
                .help("Git remote whose URL names the subject"),
        )
        .after_help("Examples:\n  gitsign show\n  gitsign show v1.0.0 -r upstream | jq .predicate.signer_info")
}

/// The first configured URL of `remote`, or "" when there is none.
fn remote_url(remote: &str) -> String {
    let out = std::process::Command::new("git")
        .args(["config", "--get-all", &format!("remote.{remote}.url")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").to_string(),
        _ => String::new(),
    }
}

pub(crate) fn run(argv: &[std::ffi::OsString]) -> ExitCode {
    let m = match crate::common::parse(command(), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let rev = m.get_one::<String>("rev").cloned().unwrap_or_else(|| "HEAD".into());
    let remote = m.get_one::<String>("remote").cloned().unwrap_or_else(|| "origin".into());
    let fail = |msg: String| {
        eprintln!("gitsign: error: {msg}");
        ExitCode::FAILURE
    };
    // A lightweight tag is refused, as gitsign does: it names a commit but carries no signature.
    let obj = match gitsign::git::repo::read_object_no_lightweight_tag(&rev) {
        Ok(o) => o,
        Err(e @ gitsign::git::repo::RepoError::LightweightTag { .. }) => {
            return fail(format!("cannot show {rev}: {e}"));
        }
        Err(e) => return fail(format!("cannot show {rev}: {e} (give a commit or an annotated tag)")),
    };
    gitsign::app::runlog::debug(&format!("show: {rev} is {} {}", obj.kind.as_str(), obj.id));
    let url = remote_url(&remote);
    let stmt = match obj.kind {
        ObjectKind::Commit => gitsign::pipelines::attest::commit_statement(&obj.id, &obj.content, &url),
        ObjectKind::Tag => gitsign::pipelines::attest::tag_statement(&obj.id, &obj.content, &url),
    };
    let stmt = match stmt {
        Ok(s) => s,
        Err(e) => return fail(format!("{rev} ({}): {e}", obj.id)),
    };
    if let Some(why) = &stmt.signer_info_error {
        eprintln!("gitsign: warning: {rev}: the signature could not be parsed, so signer_info is left out: {why}");
    }
    match crate::out::write(stmt.to_json().as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
