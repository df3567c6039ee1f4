//! Log lines written to stdout in batches rather than one `write` each.
//!
//! Under load every request logs a `served` line, and a write per line cost a system call in
//! the service and a wake-up of the process reading the pipe (`brigade up`'s supervisor) per
//! line: about 4 % of the gateway's CPU in a profile of `brigade load --mix boutique`. Lines are
//! gathered in memory instead and written together [`LINGER`] after the first of them, or at
//! once when [`MAX_BUFFERED`] bytes are waiting, so the reader sees them a few milliseconds
//! late. A warning or an error is written at once with whatever waits before it: the lines that
//! explain a failure are never the ones held back. [`flush`] writes what waits (at exit, and
//! before a panic's message).
//!
//! What a process killed outright (SIGKILL) had not written yet — at most [`LINGER`] of info
//! lines — is lost with it.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;

/// How long a line waits for others before it is written.
pub const LINGER: Duration = Duration::from_millis(20);
/// Bytes waiting past which they are written at once by the thread logging.
pub const MAX_BUFFERED: usize = 64 * 1024;

/// Where lines go: a sink (stdout) behind a buffer, written by a thread of its own.
pub struct Batched<W> {
    shared: Arc<Shared<W>>,
}

struct Shared<W> {
    state: Mutex<State<W>>,
    /// Signalled when the buffer stops being empty.
    waiting: Condvar,
    /// False when the writing thread could not start: then every line is written at once.
    lingering: AtomicBool,
}

struct State<W> {
    buffer: Vec<u8>,
    sink: W,
}

impl<W> Clone for Batched<W> {
    fn clone(&self) -> Self {
        Batched {
            shared: self.shared.clone(),
        }
    }
}

impl<W: Write + Send + 'static> Batched<W> {
    /// Lines for `sink`, each written at most `linger` after it was logged, by a thread this
    /// starts (it lives as long as the process: the logger is global).
    pub fn new(sink: W, linger: Duration) -> Batched<W> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buffer: Vec::with_capacity(MAX_BUFFERED),
                sink,
            }),
            waiting: Condvar::new(),
            lingering: AtomicBool::new(true),
        });
        let writer = shared.clone();
        let started = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.write_after(linger));
        if started.is_err() {
            shared.lingering.store(false, Ordering::Relaxed);
        }
        Batched { shared }
    }
}

impl<W: Write> Batched<W> {
    /// Writes whatever waits.
    pub fn flush(&self) {
        self.shared.lock().write_out();
    }
}

impl<W: Write> Shared<W> {
    fn lock(&self) -> MutexGuard<'_, State<W>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writing thread: waits for a first line, lets others join it for `linger`, writes
    /// them all; forever.
    // A thread of its own, never a runtime's worker: sleeping blocks no task.
    #[allow(clippy::disallowed_methods)]
    fn write_after(&self, linger: Duration) {
        let mut state = self.lock();
        loop {
            while state.buffer.is_empty() {
                state = self
                    .waiting
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            drop(state);
            std::thread::sleep(linger);
            state = self.lock();
            state.write_out();
        }
    }
}

impl<W: Write> State<W> {
    fn write_out(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        // Nowhere to report a failed write of the log: the lines are dropped, as stdout's own
        // writer would drop them.
        let _ = self.sink.write_all(&self.buffer);
        let _ = self.sink.flush();
        self.buffer.clear();
    }
}

/// One event's bytes (the formatter writes an event in one call or a few): appended to the
/// buffer, and written out when dropped if the event is a warning or an error.
pub struct LineWriter<'a, W: Write> {
    shared: &'a Shared<W>,
    urgent: bool,
}

impl<W: Write> Write for LineWriter<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut state = self.shared.lock();
        let was_empty = state.buffer.is_empty();
        state.buffer.extend_from_slice(bytes);
        if state.buffer.len() >= MAX_BUFFERED || !self.shared.lingering.load(Ordering::Relaxed) {
            state.write_out();
        } else if was_empty && !self.urgent {
            self.shared.waiting.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for LineWriter<'_, W> {
    fn drop(&mut self) {
        if self.urgent {
            self.shared.lock().write_out();
        }
    }
}

impl<'a, W: Write + 'a> MakeWriter<'a> for Batched<W> {
    type Writer = LineWriter<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink whose bytes the test can read.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn line<W: Write>(writer: &Batched<W>, level: Level, text: &str) {
        let urgent = level <= Level::WARN;
        let mut line = LineWriter {
            shared: &writer.shared,
            urgent,
        };
        line.write_all(text.as_bytes()).unwrap();
    }

    /// Longer than any test: what waits is written only by a warning, a flush or a full buffer.
    const FOREVER: Duration = Duration::from_secs(3600);

    #[test]
    fn info_lines_wait_and_a_warning_takes_them_along_in_order() {
        let sink = Sink::default();
        let batched = Batched::new(sink.clone(), FOREVER);
        line(&batched, Level::INFO, "one\n");
        line(&batched, Level::INFO, "two\n");
        assert_eq!(sink.text(), "", "info lines wait");
        line(&batched, Level::WARN, "three\n");
        assert_eq!(
            sink.text(),
            "one\ntwo\nthree\n",
            "a warning is written at once"
        );
    }

    #[test]
    // The writer is a plain thread on the real clock: so is the test's wait for it.
    #[allow(clippy::disallowed_methods, clippy::disallowed_types)]
    fn a_line_is_written_after_the_linger_by_itself() {
        let sink = Sink::default();
        let batched = Batched::new(sink.clone(), LINGER);
        line(&batched, Level::INFO, "alone\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while sink.text() != "alone\n" {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(LINGER);
        }
    }

    #[test]
    fn a_flush_writes_what_waits_and_a_full_buffer_is_written_at_once() {
        let sink = Sink::default();
        let batched = Batched::new(sink.clone(), FOREVER);
        line(&batched, Level::INFO, "waiting\n");
        batched.flush();
        assert_eq!(sink.text(), "waiting\n");

        let long = "x".repeat(MAX_BUFFERED);
        line(&batched, Level::DEBUG, &long);
        assert_eq!(sink.text().len(), "waiting\n".len() + MAX_BUFFERED);
    }
}
