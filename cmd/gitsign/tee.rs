//! `GITSIGN_LOG` / `gitsign.logPath`: when set, this process truncates the log, writes the run's
//! header, and runs itself again as a child with stderr piped, copying every stderr line both
//! to its own stderr and to the log. stdin, stdout and any `--status-fd` descriptor are
//! inherited, so git sees exactly what it would without the log.
use gitsign::app::runlog::{self, CHILD_ENV, Level};
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::process::{Command, ExitCode, Stdio};

/// The configured log path, if any: `GITSIGN_LOG`, else `gitsign.logPath` from the
/// configuration the command loads anyway (no extra `git` run).
fn log_path() -> Option<String> {
    if let Some(p) = std::env::var("GITSIGN_LOG").ok().filter(|p| !p.is_empty()) {
        return Some(p);
    }
    crate::common::cached_config().as_ref().ok()?.log_path.clone()
}

/// Run the logged child when a log is configured; `None` means "not logging, carry on".
pub(crate) fn run_logged(argv: &[OsString]) -> Option<ExitCode> {
    if std::env::var_os(CHILD_ENV).is_some() {
        return None;
    }
    let path = log_path()?;
    let level = Level::from_env();
    let mut file = match runlog::open(std::path::Path::new(&path), true) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "gitsign: warning: cannot open the log file {path} (GITSIGN_LOG / gitsign.logPath): {e}; not logging"
            );
            return None;
        }
    };
    let args: Vec<String> = argv.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut header = String::new();
    if level >= Level::Info {
        header.push_str(&runlog::line(
            Level::Info,
            &format!("gitsign-rs {} run: gitsign {}", env!("CARGO_PKG_VERSION"), runlog::redact_args(&args).join(" ")),
        ));
    }
    if level >= Level::Debug {
        let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
        header.push_str(&runlog::line(Level::Debug, &format!("cwd: {cwd}")));
        header.push_str(&runlog::line(
            Level::Debug,
            &format!("environment variables set (names only): {}", runlog::env_names().join(" ")),
        ));
        match crate::common::cached_config() {
            Ok(cfg) => header.push_str(&runlog::line(Level::Debug, &runlog::config_summary(cfg))),
            Err(e) => header.push_str(&runlog::line(Level::Error, &format!("configuration: {e}"))),
        }
    }
    let _ = file.write_all(header.as_bytes());
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            let _ = file
                .write_all(runlog::line(Level::Error, &format!("cannot find this program to run it: {e}")).as_bytes());
            return None;
        }
    };
    let mut child = match Command::new(exe)
        .args(argv)
        .env(CHILD_ENV, &path)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let _ = file.write_all(runlog::line(Level::Error, &format!("cannot run the logged child: {e}")).as_bytes());
            return None;
        }
    };
    if let Some(err) = child.stderr.take() {
        let mut reader = std::io::BufReader::new(err);
        let mut buf = Vec::new();
        let mut stderr = std::io::stderr();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let _ = stderr.write_all(&buf).and_then(|_| stderr.flush());
                    let mut log = runlog::open(std::path::Path::new(&path), false).ok();
                    if let Some(f) = log.as_mut() {
                        let _ = f.write_all(
                            runlog::line(Level::Info, &format!("stderr: {}", String::from_utf8_lossy(&buf))).as_bytes(),
                        );
                    }
                }
            }
        }
    }
    let status = child.wait();
    let code = match &status {
        Ok(s) => s.code().unwrap_or(1),
        Err(_) => 1,
    };
    if level >= Level::Info {
        let what = match status {
            Ok(s) if s.code().is_some() => format!("exit status {code}"),
            Ok(s) => format!("terminated abnormally ({s})"),
            Err(e) => format!("could not wait for the child: {e}"),
        };
        if let Ok(mut f) = runlog::open(std::path::Path::new(&path), false) {
            let lvl = if code == 0 { Level::Info } else { Level::Error };
            let _ = f.write_all(runlog::line(lvl, &what).as_bytes());
        }
    }
    Some(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
