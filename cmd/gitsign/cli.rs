//! The one definition of gitsign's command line, from which `--help`, the shell completions
//! (`gitsign completion`) and the man page (`gitsign man`) are generated. Subcommands parse
//! with the same `clap::Command`s they contribute here.
use crate::common::with_purpose;
use crate::verify_cli::verify_command;
use clap::{Arg, ArgAction, Command, value_parser};
use clap_complete::Shell;

/// Examples shown under `gitsign --help` and in the man page.
pub(crate) const EXAMPLES: &str = "\
Examples:
  gitsign setup --global                      make git sign with this gitsign (gpg.format=x509)
  git commit -S -m 'signed'                   sign a commit (git runs gitsign -bsau KEY)
  gitsign verify --certificate-identity you@example.com \\
      --certificate-oidc-issuer https://github.com/login/oauth HEAD
  gitsign verify origin/main..HEAD --certificate-identity-regexp '@example\\.com$' \\
      --certificate-oidc-issuer https://accounts.google.com
  gitsign show HEAD                           the commit's in-toto statement
  gitsign doctor                              check configuration, trust root and services
  gitsign completion bash > ~/.local/share/bash-completion/completions/gitsign
  gitsign man --dir ~/.local/share/man/man1      gitsign(1) and one page per command";

/// `gitsign export-bundle`.
pub(crate) fn export_bundle_command() -> Command {
    Command::new("export-bundle")
        .about("Write a Sigstore bundle (v0.3) for a commit's or tag's signature")
        .arg(Arg::new("rev").value_name("REV").help("Commit or tag (default HEAD)"))
        .arg(Arg::new("output").short('o').long("output").value_name("FILE").required(true).help("Bundle file"))
        .arg(Arg::new("artifact").long("artifact").value_name("FILE").help("Also write the signed payload here"))
        .after_help(
            "Examples:\n  gitsign export-bundle HEAD -o head.sigstore.json --artifact head.payload\n  \
             cosign verify-blob --bundle head.sigstore.json --certificate-identity you@example.com \
             --certificate-oidc-issuer https://accounts.google.com head.payload",
        )
}

/// `gitsign verify-bundle` (the sigstore-conformance CLI protocol's arguments).
pub(crate) fn verify_bundle_command() -> Command {
    Command::new("verify-bundle")
        .about("Verify a Sigstore bundle (v0.1-v0.3; message signature or DSSE) offline")
        .long_about(
            "Verify a Sigstore bundle (v0.1-v0.3; message signature or DSSE) offline.\n\n\
             The trusted root is --trusted-root, else --staging's embedded root, else the configured one \
             (GITSIGN_TRUSTED_ROOT / gitsign.trustedRoot, as for `gitsign verify`), else the TUF cache or the \
             embedded production root. Exit 0 only when the bundle verifies; 1 when it does not; 2 on usage errors.",
        )
        .arg(Arg::new("staging").long("staging").action(ArgAction::SetTrue).help("Use the embedded staging root"))
        .arg(Arg::new("bundle").long("bundle").value_name("FILE").required(true).help("The bundle"))
        .arg(
            Arg::new("certificate-identity")
                .long("certificate-identity")
                .value_name("ID")
                .conflicts_with("certificate-identity-regexp")
                .help("The certificate identity to require, exactly (not with --certificate-identity-regexp)"),
        )
        .arg(
            Arg::new("certificate-identity-regexp")
                .long("certificate-identity-regexp")
                .value_name("RE")
                .help("A regular expression the identity must match (unanchored: use ^...$)"),
        )
        .arg(
            Arg::new("certificate-oidc-issuer")
                .long("certificate-oidc-issuer")
                .value_name("URL")
                .conflicts_with("certificate-oidc-issuer-regexp")
                .help("The OIDC issuer to require, exactly (not with --certificate-oidc-issuer-regexp)"),
        )
        .arg(
            Arg::new("certificate-oidc-issuer-regexp")
                .long("certificate-oidc-issuer-regexp")
                .value_name("RE")
                .help("A regular expression the OIDC issuer must match (unanchored: use ^...$)"),
        )
        .arg(Arg::new("key").long("key").value_name("PEM").help("Verify with this public key instead"))
        .arg(
            Arg::new("trusted-root")
                .long("trusted-root")
                .value_name("FILE")
                .help("A Sigstore trusted_root.json (default: the configured one, see above)"),
        )
        .arg(
            Arg::new("insecure-ignore-sct")
                .long("insecure-ignore-sct")
                .action(ArgAction::SetTrue)
                .help("Do not require the certificate's SCT"),
        )
        .arg(Arg::new("input").value_name("FILE_OR_sha256:HEX").required(true).help("The artifact or its digest"))
        .after_help(
            "Examples:\n  gitsign verify-bundle --bundle a.sigstore.json --certificate-identity you@example.com \\\n      \
             --certificate-oidc-issuer https://accounts.google.com a.txt\n  \
             gitsign verify-bundle --bundle a.sigstore.json --key cosign.pub sha256:HEX",
        )
}

/// The whole CLI: git's gpg-style interface at the top level, human commands below.
pub(crate) fn command() -> Command {
    Command::new("gitsign")
        .about("Keyless Git signing with Sigstore (gitsign-rs)")
        .long_about(
            "Keyless Git signing with Sigstore (gitsign-rs).\n\n\
             Git runs gitsign as its X.509 signing program (git config gpg.format x509; git config \
             gpg.x509.program gitsign): `gitsign --status-fd=2 -bsau KEY` signs stdin, `gitsign \
             --status-fd=1 --verify SIGFILE -` verifies. The subcommands are for people and CI.\n\n\
             Configuration: git config gitsign.* keys or GITSIGN_*/SIGSTORE_* variables (see the README).",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .disable_version_flag(true)
        .after_help(EXAMPLES)
        .arg(
            Arg::new("sign")
                .short('s')
                .long("sign")
                .action(ArgAction::SetTrue)
                .help("Make a signature (of stdin or FILE)"),
        )
        .arg(
            Arg::new("detach-sign")
                .short('b')
                .long("detach-sign")
                .action(ArgAction::SetTrue)
                .help("Make a detached signature"),
        )
        .arg(Arg::new("armor").short('a').long("armor").action(ArgAction::SetTrue).help("ASCII-armored output"))
        .arg(
            Arg::new("local-user")
                .short('u')
                .long("local-user")
                .value_name("KEY")
                .help("Accepted for gpg compatibility; ignored"),
        )
        .arg(
            Arg::new("verify")
                .long("verify")
                .action(ArgAction::SetTrue)
                .help("Verify SIGFILE against the data (stdin or DATAFILE)"),
        )
        .arg(
            Arg::new("status-fd")
                .long("status-fd")
                .value_name("FD")
                .help("Write gpg status lines to this file descriptor"),
        )
        .arg(
            Arg::new("include-certs").long("include-certs").value_name("N").help("Accepted for compatibility; ignored"),
        )
        .arg(
            Arg::new("version")
                .long("version")
                .action(ArgAction::SetTrue)
                .help("Print the version, build and configuration"),
        )
        .arg(Arg::new("files").value_name("FILE").num_args(0..).help("Data (sign) or SIGFILE [DATAFILE|-] (verify)"))
        .subcommand(crate::version_cmd::command())
        .subcommand(verify_command(false))
        .subcommand(verify_command(true))
        .subcommand(export_bundle_command())
        .subcommand(verify_bundle_command())
        .subcommand(crate::show_cmd::command())
        .subcommand(crate::attest_cmd::attest_command())
        .subcommand(crate::attest_cmd::verify_command())
        .subcommand(crate::setup_cmd::command())
        .subcommand(crate::doctor_cmd::command())
        .subcommand(crate::initialize_cmd::command())
        .subcommand(completion_command())
        .subcommand(man_command())
        .mut_subcommands(with_purpose)
}

/// `gitsign completion SHELL`.
pub(crate) fn completion_command() -> Command {
    Command::new("completion")
        .about("Print a shell completion script")
        .arg(Arg::new("shell").value_name("SHELL").required(true).value_parser(value_parser!(Shell)).help("bash, zsh, fish, elvish or powershell"))
        .after_help(
            "Examples:\n  gitsign completion bash > ~/.local/share/bash-completion/completions/gitsign\n  \
             gitsign completion zsh > \"${fpath[1]}/_gitsign\"\n  gitsign completion fish > ~/.config/fish/completions/gitsign.fish",
        )
}

/// `gitsign man`.
pub(crate) fn man_command() -> Command {
    Command::new("man")
        .about("Print a man page (roff): gitsign(1), or one per subcommand")
        .long_about(
            "Print a man page (roff): gitsign(1), or one per subcommand.\n\n\
             Without arguments, print gitsign(1) (with the CONFIGURATION and ENVIRONMENT sections) on \
             stdout; with SUBCOMMAND, print gitsign-SUBCOMMAND(1). With --dir DIR, write gitsign.1 and \
             every gitsign-SUBCOMMAND.1 into DIR.",
        )
        .arg(Arg::new("subcommand").value_name("SUBCOMMAND").help("The subcommand whose page to print (e.g. verify)"))
        .arg(
            Arg::new("dir")
                .long("dir")
                .value_name("DIR")
                .conflicts_with("subcommand")
                .help("Write every page (gitsign.1, gitsign-verify.1, ...) into DIR"),
        )
        .after_help(
            "Examples:\n  gitsign man --dir ~/.local/share/man/man1 && man gitsign-verify\n  \
             gitsign man > gitsign.1\n  gitsign man verify | man -l -",
        )
}
