//! Human messages: to the controlling terminal when there is one, else stderr. Never stdout.
use std::io::Write;

/// Where prompts and progress go.
pub(crate) struct Tty {
    out: Box<dyn Write>,
    /// `out` is the controlling terminal (not stderr).
    terminal: bool,
}

impl Tty {
    /// `/dev/tty` if it can be opened, else stderr.
    pub(crate) fn open() -> Tty {
        match std::fs::OpenOptions::new().write(true).open("/dev/tty") {
            Ok(f) => Tty { out: Box::new(f), terminal: true },
            Err(_) => Tty { out: Box::new(std::io::stderr()), terminal: false },
        }
    }

    /// Repeat on the terminal the warnings already written to stderr, when stderr itself is
    /// not that terminal (under git, which shows stderr only when signing fails). Each once.
    pub(crate) fn repeat_warnings(&mut self, warnings: &[String]) {
        use std::io::IsTerminal;
        if self.terminal && !std::io::stderr().is_terminal() {
            for w in warnings {
                self.say(w);
            }
        }
    }

    /// Print one line.
    pub(crate) fn say(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}
