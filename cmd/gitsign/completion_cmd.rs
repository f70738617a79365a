//! `gitsign completion bash|zsh|fish|elvish|powershell` and `gitsign man [SUBCOMMAND|--dir DIR]`:
//! generated from the CLI definition in `cli.rs` (and, for the man page's CONFIGURATION and
//! ENVIRONMENT sections, from `gitsign::app::config::SETTINGS`), written to stdout or DIR.
use crate::cli::{completion_command, man_command};
use clap::Command;
use clap_complete::Shell;
use std::process::ExitCode;

fn write_out(bytes: &[u8]) -> ExitCode {
    match crate::out::write(bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

pub(crate) fn run_completion(argv: &[std::ffi::OsString]) -> ExitCode {
    let m = match crate::common::parse(completion_command(), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let Some(shell) = m.get_one::<Shell>("shell").copied() else {
        return crate::common::usage_error("completion: name a shell (bash, zsh, fish, elvish, powershell)");
    };
    let mut cmd = crate::cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "gitsign", &mut buf);
    write_out(&buf)
}

/// The CLI with every subcommand named `gitsign-NAME`, as its page is.
fn man_tree() -> Command {
    let mut cmd = crate::cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The CONFIGURATION and ENVIRONMENT sections, from the library's settings table.
fn configuration_sections() -> roff::Roff {
    use roff::{bold, italic, roman};
    let mut r = roff::Roff::new();
    r.control("SH", ["CONFIGURATION"]);
    r.text([roman(
        "Settings come from git config keys (any scope) and environment variables; a variable wins over \
         the key, and among variables the first listed wins. gitsign.* keys compare case-insensitively.",
    )]);
    for s in gitsign::app::config::SETTINGS {
        r.control("TP", []);
        let mut head = Vec::new();
        if let Some(k) = s.git_key {
            head.push(bold(k));
        }
        for (i, e) in s.env.iter().enumerate() {
            if i > 0 || s.git_key.is_some() {
                head.push(roman(", "));
            }
            head.push(bold(*e));
        }
        r.text(head);
        r.text([roman(format!("{}. Default: ", s.about)), italic(s.default), roman(".")]);
    }
    r.control("SH", ["ENVIRONMENT"]);
    r.text([roman("Besides the variables above:")]);
    for (name, default, about) in gitsign::app::config::OTHER_ENVIRONMENT {
        r.control("TP", []);
        r.text([bold(*name)]);
        r.text([roman(format!("{about}. Default: ")), italic(*default), roman(".")]);
    }
    r
}

/// One of `clap_mangen::Man`'s section renderers.
type Section = fn(&clap_mangen::Man, &mut dyn std::io::Write) -> std::io::Result<()>;

/// Render one page; gitsign(1) also gets every subcommand inline and the configuration, a
/// subcommand's page a pointer back.
fn render_page(cmd: &Command, top: bool) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let cmd = cmd.clone().version(env!("CARGO_PKG_VERSION"));
    clap_mangen::Man::new(cmd.clone()).source(format!("gitsign {}", env!("CARGO_PKG_VERSION"))).render(&mut buf)?;
    if top {
        // Each subcommand also inline, so `gitsign man > gitsign.1` alone documents all of them.
        for sub in cmd.get_subcommands() {
            let name = format!("gitsign {}", sub.get_name());
            buf.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
            let man = clap_mangen::Man::new(sub.clone().bin_name(name.clone()).display_name(name));
            let sections: [Section; 4] = [
                clap_mangen::Man::render_synopsis_section,
                clap_mangen::Man::render_description_section,
                clap_mangen::Man::render_options_section,
                clap_mangen::Man::render_extra_section,
            ];
            for render in sections {
                let mut part = Vec::new();
                render(&man, &mut part)?;
                // Demote the subcommand's own headings so they nest under its section.
                buf.extend_from_slice(String::from_utf8_lossy(&part).replace(".SH ", ".SS ").as_bytes());
            }
        }
    }
    let mut extra = if top { configuration_sections() } else { roff::Roff::new() };
    extra.control("SH", ["SEE ALSO"]);
    extra.text([roff::roman(if top { "git(1), git-config(1)" } else { "gitsign(1)" })]);
    extra.to_writer(&mut buf)?;
    Ok(buf)
}

pub(crate) fn run_man(argv: &[std::ffi::OsString]) -> ExitCode {
    let m = match crate::common::parse(man_command(), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let tree = man_tree();
    let fail = |msg: String| {
        eprintln!("gitsign: error: {msg}");
        ExitCode::FAILURE
    };
    if let Some(dir) = m.get_one::<String>("dir") {
        if let Err(e) = std::fs::create_dir_all(dir) {
            return fail(format!("cannot create {dir}: {e}"));
        }
        let pages = std::iter::once((&tree, true)).chain(tree.get_subcommands().map(|s| (s, false)));
        for (cmd, top) in pages {
            let name = format!("{}.1", cmd.get_display_name().unwrap_or(cmd.get_name()));
            let path = std::path::Path::new(dir).join(&name);
            if let Err(e) = render_page(cmd, top).and_then(|b| std::fs::write(&path, b)) {
                return fail(format!("cannot write {}: {e}", path.display()));
            }
            eprintln!("gitsign: wrote {}", path.display());
        }
        return ExitCode::SUCCESS;
    }
    let page = match m.get_one::<String>("subcommand") {
        None => render_page(&tree, true),
        Some(name) => match tree.find_subcommand(name) {
            Some(sub) => render_page(sub, false),
            None => {
                let names: Vec<&str> = tree.get_subcommands().map(|s| s.get_name()).collect();
                return crate::common::usage_error(&format!(
                    "man: no subcommand {name:?}; one of: {}",
                    names.join(", ")
                ));
            }
        },
    };
    match page {
        Ok(b) => write_out(&b),
        Err(e) => fail(format!("cannot render the man page: {e}")),
    }
}
