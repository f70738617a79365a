//! SIGTERM/SIGINT: set a flag that the main thread polls, so the server can stop
//! between requests (never in the middle of a log append) and exit with status 0.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static STOP: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Install the handlers (Unix only; elsewhere the default behaviour stays).
pub(crate) fn install() {
    #[cfg(unix)]
    {
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: `on_signal` is async-signal-safe (a single atomic store), and
        // `signal` is called with valid signal numbers and a valid handler.
        #[allow(unsafe_code)]
        unsafe {
            libc::signal(libc::SIGTERM, handler);
            libc::signal(libc::SIGINT, handler);
        }
    }
}

/// Block until a stop signal arrived.
pub(crate) fn wait() {
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
}
