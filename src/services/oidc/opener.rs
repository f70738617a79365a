//! Opening the login URL in a browser: `gitsign.urlOpener` / `GITSIGN_URL_OPENER`, else the
//! platform's opener (`xdg-open`, `open`, `rundll32`).
//!
//! The opener setting uses gitsign's format: a command line split shell-style (whitespace
//! separates words; single or double quotes group and are removed; a backslash is an ordinary
//! character; CR and LF are refused), in which each word may contain the placeholder
//! `{{.URL}}` (inside quotes also `{{ .URL }}`), which must occur at least once. The URL is put in
//! after splitting, so it is always one argument, and the program is run without a shell.
//! Its stdin, stdout and stderr are detached from ours: a browser printing
//! `Opening in existing browser session.` must never end up in the signature (gitsign #741).
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Problems with the opener setting.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OpenerError {
    /// Nothing to run.
    #[error("gitsign.urlOpener is empty")]
    Empty,
    /// A newline in the setting.
    #[error("gitsign.urlOpener must be one line (it contains CR or LF)")]
    Newline,
    /// Unbalanced quote.
    #[error("gitsign.urlOpener has an unterminated {0} quote")]
    Unterminated(char),
    /// No `{{.URL}}`.
    #[error("gitsign.urlOpener must contain the placeholder {{{{.URL}}}}, e.g. `firefox --new-window {{{{.URL}}}}`")]
    NoPlaceholder,
    /// Another template action.
    #[error("gitsign.urlOpener may only use the placeholder {{{{.URL}}}}, not {0:?}")]
    Template(String),
}

/// A parsed opener command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opener {
    words: Vec<String>,
}

const PLACEHOLDER: &str = "\u{0}URL\u{0}";

/// Replace `{{.URL}}` / `{{ .URL }}` by an internal marker; refuse any other `{{ … }}`.
fn mark_placeholders(word: &str) -> Result<(String, bool), OpenerError> {
    let mut out = String::new();
    let mut rest = word;
    let mut found = false;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err(OpenerError::Template(rest[i..].to_string()));
        };
        let action = after[..j].trim();
        if action != ".URL" {
            return Err(OpenerError::Template(format!("{{{{{}}}}}", &after[..j])));
        }
        out.push_str(PLACEHOLDER);
        found = true;
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok((out, found))
}

impl Opener {
    /// Parse a setting.
    pub fn parse(setting: &str) -> Result<Opener, OpenerError> {
        if setting.contains(['\r', '\n']) {
            return Err(OpenerError::Newline);
        }
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut in_word = false;
        let mut quote: Option<char> = None;
        for c in setting.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => cur.push(c),
                (None, '\'' | '"') => {
                    quote = Some(c);
                    in_word = true;
                }
                (None, c) if c.is_whitespace() => {
                    if in_word {
                        words.push(std::mem::take(&mut cur));
                        in_word = false;
                    }
                }
                (None, c) => {
                    cur.push(c);
                    in_word = true;
                }
            }
        }
        if let Some(q) = quote {
            return Err(OpenerError::Unterminated(q));
        }
        if in_word {
            words.push(cur);
        }
        if words.is_empty() {
            return Err(OpenerError::Empty);
        }
        let mut any = false;
        let mut marked = Vec::with_capacity(words.len());
        for w in &words {
            let (m, found) = mark_placeholders(w)?;
            any |= found;
            marked.push(m);
        }
        if !any {
            return Err(OpenerError::NoPlaceholder);
        }
        Ok(Opener { words: marked })
    }

    /// The platform's default opener.
    pub fn platform() -> Opener {
        let words: &[&str] = if cfg!(target_os = "macos") {
            &["open", PLACEHOLDER]
        } else if cfg!(windows) {
            &["rundll32", "url.dll,FileProtocolHandler", PLACEHOLDER]
        } else {
            &["xdg-open", PLACEHOLDER]
        };
        Opener { words: words.iter().map(|s| s.to_string()).collect() }
    }

    /// The argv for `url`.
    pub fn argv(&self, url: &str) -> Vec<String> {
        self.words.iter().map(|w| w.replace(PLACEHOLDER, url)).collect()
    }

    /// Run the opener for `url`, detached from our stdio. Waits up to `settle` for it to
    /// fail fast (e.g. `xdg-open` without a desktop); a program still running then counts as
    /// started, and is reaped in the background.
    pub fn open(&self, url: &str, settle: Duration) -> Result<(), String> {
        let argv = self.argv(url);
        let Some((prog, args)) = argv.split_first() else { return Err("empty command".into()) };
        let mut child = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {prog:?}: {e}"))?;
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(st)) if st.success() => return Ok(()),
                Ok(Some(st)) => return Err(format!("{prog:?} failed ({st})")),
                Ok(None) if start.elapsed() >= settle => {
                    std::thread::spawn(move || {
                        let _ = child.wait();
                    });
                    return Ok(());
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(25)),
                Err(e) => return Err(format!("{prog:?}: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://issuer.test/auth?a=1&b='x y'\"";

    #[test]
    fn parsing_and_rendering() {
        let o = Opener::parse("firefox --new-window {{.URL}}").unwrap();
        assert_eq!(o.argv(URL), vec!["firefox", "--new-window", URL]);
        let o = Opener::parse("  'my browser' \"--flag=a b\"   x{{.URL}}y '{{ .URL }}' ").unwrap();
        assert_eq!(o.argv("U"), vec!["my browser", "--flag=a b", "xUy", "U"]);
        let o = Opener::parse(r"C:\Tools\open.exe {{.URL}} ''").unwrap();
        assert_eq!(o.argv("U"), vec![r"C:\Tools\open.exe", "U", ""]);
        let o = Opener::parse("sh -c 'echo $0' {{.URL}}").unwrap();
        assert_eq!(o.argv("; rm -rf /"), vec!["sh", "-c", "echo $0", "; rm -rf /"]);
    }

    #[test]
    fn refusals() {
        assert_eq!(Opener::parse("firefox"), Err(OpenerError::NoPlaceholder));
        assert_eq!(Opener::parse("   "), Err(OpenerError::Empty));
        assert_eq!(Opener::parse("a {{.URL}}\nb"), Err(OpenerError::Newline));
        assert_eq!(Opener::parse("a '{{.URL}}"), Err(OpenerError::Unterminated('\'')));
        assert!(matches!(Opener::parse("a {{.Other}} {{.URL}}"), Err(OpenerError::Template(_))));
        assert!(matches!(Opener::parse("a {{.URL"), Err(OpenerError::Template(_))));
    }

    #[test]
    fn running() {
        let ok = Opener::parse("true {{.URL}}").unwrap();
        assert_eq!(ok.open("x", Duration::from_secs(2)), Ok(()));
        let bad = Opener::parse("false {{.URL}}").unwrap();
        assert!(bad.open("x", Duration::from_secs(2)).is_err());
        let missing = Opener::parse("/nonexistent/opener {{.URL}}").unwrap();
        assert!(missing.open("x", Duration::from_secs(2)).unwrap_err().contains("cannot run"));
        // still running after the settle time: counts as opened, without waiting for it
        let t = Instant::now();
        let running = Opener::parse("sh -c 'sleep 3' {{.URL}}").unwrap();
        assert_eq!(running.open("x", Duration::from_millis(200)), Ok(()));
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
