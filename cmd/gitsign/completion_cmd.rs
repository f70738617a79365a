//! `gitsign completion bash|zsh|fish|elvish|powershell` and `gitsign man`: generated from the
//! CLI definition in `cli.rs`, written to stdout.
use clap::{Arg, Command, value_parser};
use clap_complete::Shell;
use std::process::ExitCode;

pub fn completion_command() -> Command {
    Command::new("completion")
        .about("Print a shell completion script")
        .arg(Arg::new("shell").value_name("SHELL").required(true).value_parser(value_parser!(Shell)).help("bash, zsh, fish, elvish or powershell"))
        .after_help(
            "Examples:\n  gitsign completion bash > ~/.local/share/bash-completion/completions/gitsign\n  \
             gitsign completion zsh > \"${fpath[1]}/_gitsign\"\n  gitsign completion fish > ~/.config/fish/completions/gitsign.fish",
        )
}

pub fn man_command() -> Command {
    Command::new("man")
        .about("Print the gitsign(1) man page (roff) on stdout")
        .after_help("Example:\n  gitsign man > ~/.local/share/man/man1/gitsign.1 && man gitsign")
}

fn write_out(bytes: &[u8]) -> ExitCode {
    match crate::out::write(bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

pub fn run_completion(argv: &[std::ffi::OsString]) -> ExitCode {
    let m = match crate::cli::parse(completion_command(), argv) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let Some(shell) = m.get_one::<Shell>("shell").copied() else {
        return crate::usage_error("completion: name a shell (bash, zsh, fish, elvish, powershell)");
    };
    let mut cmd = crate::cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "gitsign", &mut buf);
    write_out(&buf)
}

/// One of `clap_mangen::Man`'s section renderers.
type Section = fn(&clap_mangen::Man, &mut dyn std::io::Write) -> std::io::Result<()>;

pub fn run_man(argv: &[std::ffi::OsString]) -> ExitCode {
    if let Err(code) = crate::cli::parse(man_command(), argv) {
        return code;
    }
    let cmd = crate::cli::command();
    let mut buf = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    if let Err(e) = man.render(&mut buf) {
        eprintln!("gitsign: error: cannot render the man page: {e}");
        return ExitCode::FAILURE;
    }
    // One section per subcommand, so `man gitsign` documents all of them.
    for sub in cmd.get_subcommands() {
        let name = format!("gitsign {}", sub.get_name());
        buf.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        let sub = sub.clone().bin_name(name.clone()).display_name(name).version(env!("CARGO_PKG_VERSION"));
        let man = clap_mangen::Man::new(sub);
        let sections: [Section; 4] = [
            clap_mangen::Man::render_synopsis_section,
            clap_mangen::Man::render_description_section,
            clap_mangen::Man::render_options_section,
            clap_mangen::Man::render_extra_section,
        ];
        for render in sections {
            let mut part = Vec::new();
            if render(&man, &mut part).is_ok() {
                // Demote the subcommand's own headings so they nest under its section.
                let text = String::from_utf8_lossy(&part).replace(".SH ", ".SS ");
                buf.extend_from_slice(text.as_bytes());
            }
        }
    }
    write_out(&buf)
}
