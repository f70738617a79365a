//! stdout of the human subcommands (`version`, `man`, `completion`, `verify`, `show`, …): a
//! reader that went away (`gitsign man | head`) ends the command quietly with the status a
//! shell reports for a program stopped by a closed pipe, instead of a panic message.
//! (Signing writes its signature itself: there a closed stdout is a failed signature.)
use std::io::Write;
use std::process::ExitCode;

/// 128 + SIGPIPE: what the shell shows for any program stopped by a closed pipe.
pub(crate) const EXIT_CLOSED_STDOUT: u8 = 141;

/// Write `bytes` to stdout and flush. A closed pipe gives `Err(141)` with nothing said; another
/// write error is reported on stderr and gives `Err(1)`.
pub(crate) fn write(bytes: &[u8]) -> Result<(), ExitCode> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(ExitCode::from(EXIT_CLOSED_STDOUT)),
        Err(e) => {
            eprintln!("gitsign: error: cannot write to stdout: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// [`write`] for code that goes on printing: on failure the process ends here with that status.
pub(crate) fn print(text: &str) {
    if let Err(code) = write(text.as_bytes()) {
        let status = if code == ExitCode::from(EXIT_CLOSED_STDOUT) { i32::from(EXIT_CLOSED_STDOUT) } else { 1 };
        std::process::exit(status);
    }
}
