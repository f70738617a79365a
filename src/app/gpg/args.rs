//! A table-driven parser for the gpg/gpgsm-style argv that git and other front ends send.
//!
//! It follows GnuPG's conventions, which clap cannot express: bundled short flags where the
//! last flag of a bundle may take the next argument (`-bsau KEY`, `-abu KEY`), attached short
//! values (`-uKEY`), `--opt=value` and `--opt value`, long options abbreviated to any unique
//! prefix (an exact name wins; an ambiguous prefix is an error naming the candidates), and
//! `--` ending the options. Flags that gpg front ends send and that change nothing here are
//! accepted with a warning.
use std::ffi::OsString;

/// What an option does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Sign,
    Verify,
    Version,
    LocalUser,
    Detach,
    Armor,
    StatusFd,
    Help,
    /// Accepted and ignored, with a warning; the bool says whether it takes a value.
    Ignored,
}

struct Opt {
    long: &'static str,
    short: Option<char>,
    takes_value: bool,
    action: Action,
}

const OPTIONS: &[Opt] = &[
    Opt { long: "sign", short: Some('s'), takes_value: false, action: Action::Sign },
    Opt { long: "verify", short: Some('v'), takes_value: false, action: Action::Verify },
    Opt { long: "version", short: None, takes_value: false, action: Action::Version },
    Opt { long: "local-user", short: Some('u'), takes_value: true, action: Action::LocalUser },
    Opt { long: "detach-sign", short: Some('b'), takes_value: false, action: Action::Detach },
    Opt { long: "detached-sign", short: None, takes_value: false, action: Action::Detach },
    Opt { long: "armor", short: Some('a'), takes_value: false, action: Action::Armor },
    Opt { long: "status-fd", short: None, takes_value: true, action: Action::StatusFd },
    Opt { long: "help", short: Some('h'), takes_value: false, action: Action::Help },
    // gpg/gpgsm options that front ends send and that change nothing for gitsign.
    Opt { long: "include-certs", short: None, takes_value: true, action: Action::Ignored },
    Opt { long: "keyid-format", short: None, takes_value: true, action: Action::Ignored },
    Opt { long: "batch", short: None, takes_value: false, action: Action::Ignored },
    Opt { long: "no-tty", short: None, takes_value: false, action: Action::Ignored },
    Opt { long: "yes", short: None, takes_value: false, action: Action::Ignored },
    Opt { long: "with-colons", short: None, takes_value: false, action: Action::Ignored },
    Opt { long: "disable-crl-checks", short: None, takes_value: false, action: Action::Ignored },
    Opt { long: "disable-policy-checks", short: None, takes_value: false, action: Action::Ignored },
    Opt { long: "pinentry-mode", short: None, takes_value: true, action: Action::Ignored },
    Opt { long: "digest-algo", short: None, takes_value: true, action: Action::Ignored },
];

/// The parsed command line of a gpg-style invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpgArgs {
    /// `-s/--sign`
    pub sign: bool,
    /// `-v/--verify`
    pub verify: bool,
    /// `--version`
    pub version: bool,
    /// `-h/--help`
    pub help: bool,
    /// `-b/--detach-sign`
    pub detach: bool,
    /// `-a/--armor`
    pub armor: bool,
    /// `-u/--local-user` (accepted; gitsign signs with the OIDC identity)
    pub local_user: Option<String>,
    /// `--status-fd N`: 1 = stdout, 2 = stderr, other N ≥ 0 = that fd; negative = none.
    pub status_fd: Option<i32>,
    /// Positional arguments (files; `-` = stdin).
    pub positional: Vec<OsString>,
    /// Warnings about accepted-but-ignored options, for stderr.
    pub warnings: Vec<String>,
}

/// The mode a gpg-style command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Make a signature.
    Sign,
    /// Verify a signature.
    Verify,
    /// Print the version.
    Version,
    /// Print usage.
    Help,
}

/// Errors in a gpg-style command line.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArgsError {
    /// An option that is not known.
    #[error("unknown option '{0}' (run 'gitsign --help' for the options git uses)")]
    Unknown(String),
    /// A prefix matching several options.
    #[error("option '--{prefix}' is ambiguous: it could be {}", candidates.iter().map(|c| format!("--{c}")).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        /// What was given.
        prefix: String,
        /// What it could mean.
        candidates: Vec<String>,
    },
    /// An option that needs a value got none.
    #[error("option '{0}' needs a value")]
    MissingValue(String),
    /// `--status-fd` with something other than an integer.
    #[error("--status-fd needs a file descriptor number, got '{0}'")]
    BadStatusFd(String),
    /// An argument that is not valid UTF-8 where text is needed.
    #[error("option value for '{0}' is not valid UTF-8")]
    NotUtf8(String),
    /// Conflicting modes.
    #[error("{0}")]
    Conflict(&'static str),
}

fn find_long(name: &str) -> Result<&'static Opt, ArgsError> {
    if let Some(o) = OPTIONS.iter().find(|o| o.long == name) {
        return Ok(o);
    }
    let matches: Vec<&Opt> = OPTIONS.iter().filter(|o| o.long.starts_with(name)).collect();
    match matches.as_slice() {
        [] => Err(ArgsError::Unknown(format!("--{name}"))),
        [one] => Ok(one),
        many => {
            // Aliases of one action (detach-sign / detached-sign) are not ambiguous.
            if many.iter().all(|o| o.action == many[0].action) {
                return Ok(many[0]);
            }
            Err(ArgsError::Ambiguous {
                prefix: name.to_string(),
                candidates: many.iter().map(|o| o.long.to_string()).collect(),
            })
        }
    }
}

fn find_short(c: char) -> Result<&'static Opt, ArgsError> {
    OPTIONS.iter().find(|o| o.short == Some(c)).ok_or_else(|| ArgsError::Unknown(format!("-{c}")))
}

fn apply(out: &mut GpgArgs, opt: &Opt, shown: &str, value: Option<String>) -> Result<(), ArgsError> {
    match opt.action {
        Action::Sign => out.sign = true,
        Action::Verify => out.verify = true,
        Action::Version => out.version = true,
        Action::Help => out.help = true,
        Action::Detach => out.detach = true,
        Action::Armor => out.armor = true,
        Action::LocalUser => out.local_user = value,
        Action::StatusFd => {
            let v = value.unwrap_or_default();
            out.status_fd = Some(v.trim().parse().map_err(|_| ArgsError::BadStatusFd(v.clone()))?);
        }
        Action::Ignored => out.warnings.push(match value {
            Some(v) => format!("gitsign: ignoring option {shown} {v} (it has no effect on gitsign)"),
            None => format!("gitsign: ignoring option {shown} (it has no effect on gitsign)"),
        }),
    }
    Ok(())
}

fn utf8(arg: OsString, opt: &str) -> Result<String, ArgsError> {
    arg.into_string().map_err(|_| ArgsError::NotUtf8(opt.to_string()))
}

/// Parse a gpg-style argv (without the program name).
pub fn parse<I>(args: I) -> Result<GpgArgs, ArgsError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut out = GpgArgs::default();
    let mut it = args.into_iter().map(Into::into);
    while let Some(arg) = it.next() {
        let Some(text) = arg.to_str().map(str::to_string) else {
            out.positional.push(arg);
            continue;
        };
        if text == "--" {
            out.positional.extend(it.by_ref());
            break;
        }
        if let Some(long) = text.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let opt = find_long(name)?;
            let shown = format!("--{}", opt.long);
            let value = if opt.takes_value {
                match inline {
                    Some(v) => Some(v),
                    None => Some(utf8(it.next().ok_or_else(|| ArgsError::MissingValue(shown.clone()))?, &shown)?),
                }
            } else {
                if inline.is_some() {
                    out.warnings.push(format!("gitsign: option {shown} takes no value; ignoring the value"));
                }
                None
            };
            apply(&mut out, opt, &shown, value)?;
        } else if text.len() > 1 && text.starts_with('-') {
            let chars: Vec<char> = text[1..].chars().collect();
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                let opt = find_short(c)?;
                let shown = format!("-{c}");
                let value = if opt.takes_value {
                    let rest: String = chars[i + 1..].iter().collect();
                    i = chars.len();
                    if rest.is_empty() {
                        Some(utf8(it.next().ok_or_else(|| ArgsError::MissingValue(shown.clone()))?, &shown)?)
                    } else {
                        Some(rest)
                    }
                } else {
                    i += 1;
                    None
                };
                apply(&mut out, opt, &shown, value)?;
            }
        } else {
            out.positional.push(arg);
        }
    }
    Ok(out)
}

impl GpgArgs {
    /// The mode, following gitsign's dispatch: `--version`, then sign (`-s` or `-b`), then
    /// verify; conflicting combinations are errors.
    pub fn mode(&self) -> Result<Mode, ArgsError> {
        if self.version {
            return Ok(Mode::Version);
        }
        if self.help {
            return Ok(Mode::Help);
        }
        if self.verify && self.sign {
            return Err(ArgsError::Conflict("--sign and --verify cannot be used together"));
        }
        if self.verify && (self.detach || self.armor) {
            return Err(ArgsError::Conflict("--detach-sign and --armor are for signing, not with --verify"));
        }
        if self.sign || self.detach {
            return Ok(Mode::Sign);
        }
        if self.verify {
            return Ok(Mode::Verify);
        }
        Ok(Mode::Help)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<GpgArgs, ArgsError> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn table_of_real_invocations() {
        struct Case {
            argv: &'static [&'static str],
            mode: Mode,
            fd: Option<i32>,
            user: Option<&'static str>,
            positional: &'static [&'static str],
        }
        let cases = [
            // git sign_buffer_gpg
            Case {
                argv: &["--status-fd=2", "-bsau", "Jane <j@x>"],
                mode: Mode::Sign,
                fd: Some(2),
                user: Some("Jane <j@x>"),
                positional: &[],
            },
            // jj
            Case { argv: &["-abu", "KEY"], mode: Mode::Sign, fd: None, user: Some("KEY"), positional: &[] },
            Case { argv: &["-sbau", "KEY"], mode: Mode::Sign, fd: None, user: Some("KEY"), positional: &[] },
            Case {
                argv: &["--status-fd", "2", "-b", "-s", "-a", "-uKEY"],
                mode: Mode::Sign,
                fd: Some(2),
                user: Some("KEY"),
                positional: &[],
            },
            // git verify_gpg_signed_buffer
            Case {
                argv: &["--status-fd=1", "--verify", "/tmp/.git_vtag_tmpX", "-"],
                mode: Mode::Verify,
                fd: Some(1),
                user: None,
                positional: &["/tmp/.git_vtag_tmpX", "-"],
            },
            Case {
                argv: &["--stat=1", "--veri", "sig", "-"],
                mode: Mode::Verify,
                fd: Some(1),
                user: None,
                positional: &["sig", "-"],
            },
            Case { argv: &["--version"], mode: Mode::Version, fd: None, user: None, positional: &[] },
            Case {
                argv: &["--detached-sign", "--armor", "--local-user=x"],
                mode: Mode::Sign,
                fd: None,
                user: Some("x"),
                positional: &[],
            },
            Case {
                argv: &["-v", "--", "-sig", "-"],
                mode: Mode::Verify,
                fd: None,
                user: None,
                positional: &["-sig", "-"],
            },
        ];
        for c in cases {
            let a = p(c.argv).unwrap_or_else(|e| panic!("{:?}: {e}", c.argv));
            assert_eq!(a.mode().unwrap(), c.mode, "{:?}", c.argv);
            assert_eq!(a.status_fd, c.fd, "{:?}", c.argv);
            assert_eq!(a.local_user.as_deref(), c.user, "{:?}", c.argv);
            let pos: Vec<String> = a.positional.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            assert_eq!(pos, c.positional, "{:?}", c.argv);
        }
    }

    #[test]
    fn harmless_flags_warn_and_unknown_fail() {
        let a = p(&["--include-certs", "-2", "--keyid-format=long", "--batch", "--no-tty", "-bsau", "k"]).unwrap();
        assert_eq!(a.mode().unwrap(), Mode::Sign);
        assert_eq!(a.warnings.len(), 4, "{:?}", a.warnings);
        assert_eq!(p(&["--frobnicate"]), Err(ArgsError::Unknown("--frobnicate".into())));
        assert_eq!(p(&["-bsx"]), Err(ArgsError::Unknown("-x".into())));
        assert!(matches!(p(&["--ver"]), Err(ArgsError::Ambiguous { .. })));
        assert_eq!(p(&["-bsau"]), Err(ArgsError::MissingValue("-u".into())));
        assert_eq!(p(&["--status-fd=x"]), Err(ArgsError::BadStatusFd("x".into())));
        assert!(matches!(p(&["-s", "--verify"]).unwrap().mode(), Err(ArgsError::Conflict(_))));
        assert!(matches!(p(&["-a", "--verify"]).unwrap().mode(), Err(ArgsError::Conflict(_))));
        assert_eq!(p(&[]).unwrap().mode().unwrap(), Mode::Help);
    }
}
