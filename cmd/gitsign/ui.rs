//! Human messages: to the controlling terminal when there is one, else stderr. Never stdout.
use std::io::Write;

/// Where prompts and progress go.
pub struct Tty {
    out: Box<dyn Write>,
}

impl Tty {
    /// `/dev/tty` if it can be opened, else stderr.
    pub fn open() -> Tty {
        match std::fs::OpenOptions::new().write(true).open("/dev/tty") {
            Ok(f) => Tty { out: Box::new(f) },
            Err(_) => Tty { out: Box::new(std::io::stderr()) },
        }
    }

    /// Print one line.
    pub fn say(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}
