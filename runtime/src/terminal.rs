//! How the command line shows progress: live lines on a terminal, plain lines otherwise.
//!
//! On a terminal, every resource in flight has a line saying what it is doing and for how long;
//! the lines are redrawn on every event, and by a [`Ticker`] between events, so that a slow
//! create visibly counts up. A finished resource's line becomes permanent. Elsewhere (CI logs,
//! pipes) each start and end is one plain line, and nothing ticks. Both keep a row per resource
//! for the final table. Everything goes to stderr, so stdout stays clean for `--json`.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::plan::Action;
use crate::progress::{Event, Observer};

/// How often the live lines are redrawn between events while something is in flight.
pub(crate) const TICK: Duration = Duration::from_millis(200);

/// One finished resource, for the final table.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    action: Action,
    status: &'static str,
    elapsed: Option<Duration>,
}

/// What is on the screen, and where it goes.
struct Screen {
    out: Box<dyn Write + Send>,
    in_flight: Vec<(String, Action, Instant)>,
    /// Live lines currently drawn below the permanent ones.
    drawn: usize,
    rows: Vec<Row>,
    /// Set by [`Progress::finish`]: nothing is drawn live any more.
    finished: bool,
}

impl Screen {
    /// Erases the live lines drawn last.
    fn erase(&mut self) {
        for _ in 0..self.drawn {
            let _ = write!(self.out, "\x1b[1A\x1b[2K");
        }
        self.drawn = 0;
    }

    /// Draws one live line per resource in flight, with its elapsed time as of now.
    fn draw(&mut self) {
        let now = Instant::now();
        let lines: Vec<String> = self
            .in_flight
            .iter()
            .map(|(id, action, started)| live_line(id, *action, now.duration_since(*started)))
            .collect();
        for line in &lines {
            let _ = writeln!(self.out, "{line}");
        }
        self.drawn = lines.len();
    }
}

/// The live line of a resource in flight: what is being done to it, and for how long.
pub(crate) fn live_line(id: &str, action: Action, elapsed: Duration) -> String {
    format!("  … {action} {id} ({:.1}s)", elapsed.as_secs_f64())
}

/// A progress display writing to stderr (or, in tests, to any writer).
pub(crate) struct Progress {
    live: bool,
    screen: Mutex<Screen>,
    /// Wakes an idle [`Ticker`] when something starts.
    wake: Notify,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl Progress {
    /// Live lines when `live` (stderr is a terminal), plain lines otherwise; to stderr.
    pub(crate) fn new(live: bool) -> Progress {
        Progress::with_writer(live, Box::new(std::io::stderr()))
    }

    /// Like [`Progress::new`], writing to `out`.
    pub(crate) fn with_writer(live: bool, out: Box<dyn Write + Send>) -> Progress {
        Progress {
            live,
            screen: Mutex::new(Screen {
                out,
                in_flight: Vec::new(),
                drawn: 0,
                rows: Vec::new(),
                finished: false,
            }),
            wake: Notify::new(),
        }
    }

    /// Starts redrawing the live lines every `period` while anything is in flight, so that
    /// elapsed times move between events. `None` when not live: plain lines never tick.
    pub(crate) fn start_ticker(self: &Arc<Self>, period: Duration) -> Option<Ticker> {
        if !self.live {
            return None;
        }
        let progress = Arc::clone(self);
        let handle = tokio::spawn(async move {
            loop {
                if !progress.busy() {
                    progress.wake.notified().await;
                }
                tokio::time::sleep(period).await;
                if !progress.tick() {
                    break;
                }
            }
        });
        Some(Ticker { handle })
    }

    /// Whether a resource is in flight (and the display not finished).
    fn busy(&self) -> bool {
        let screen = self.screen.lock().expect("progress lock");
        !screen.finished && !screen.in_flight.is_empty()
    }

    /// Redraws the live lines, if any; `false` once the display is finished.
    fn tick(&self) -> bool {
        let mut screen = self.screen.lock().expect("progress lock");
        if screen.finished {
            return false;
        }
        if !screen.in_flight.is_empty() || screen.drawn > 0 {
            screen.erase();
            screen.draw();
            let _ = screen.out.flush();
        }
        true
    }

    /// Clears the live lines, stops live drawing, and returns the final table (empty when
    /// nothing ran).
    pub(crate) fn finish(&self) -> String {
        let mut screen = self.screen.lock().expect("progress lock");
        if self.live {
            screen.erase();
            let _ = screen.out.flush();
        }
        screen.finished = true;
        drop(screen);
        // A ticker waiting for work sees `finished` and ends.
        self.wake.notify_one();
        let screen = self.screen.lock().expect("progress lock");
        if screen.rows.is_empty() {
            return String::new();
        }
        let width = screen.rows.iter().map(|r| r.id.len()).max().unwrap_or(0);
        let mut out = String::new();
        for row in &screen.rows {
            let elapsed = row
                .elapsed
                .map(|d| format!("{:.1}s", d.as_secs_f64()))
                .unwrap_or_default();
            out.push_str(&format!(
                "{:<width$}  {:<9}  {:<7}  {}\n",
                row.id,
                row.action.as_str(),
                row.status,
                elapsed,
            ));
        }
        out
    }
}

/// Redraws a live [`Progress`] between events; stops when the display is finished, when
/// [`Ticker::stop`] is called, or when dropped.
#[derive(Debug)]
pub(crate) struct Ticker {
    handle: JoinHandle<()>,
}

impl Ticker {
    /// Stops the redraws and waits until the task has ended: nothing is drawn after this.
    pub(crate) async fn stop(mut self) {
        self.handle.abort();
        let _ = (&mut self.handle).await;
    }

    /// Whether the redrawing task has ended.
    #[cfg(test)]
    pub(crate) fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

impl Observer for Progress {
    fn event(&self, event: Event) {
        let mut screen = self.screen.lock().expect("progress lock");
        let live = self.live && !screen.finished;
        if live {
            screen.erase();
        }
        match event {
            Event::Started { id, action } => {
                if !self.live {
                    let _ = writeln!(screen.out, "{action} {id} ...");
                }
                screen.in_flight.push((id, action, Instant::now()));
                self.wake.notify_one();
            }
            Event::Finished {
                id,
                action,
                elapsed,
            } => {
                screen.in_flight.retain(|(i, _, _)| *i != id);
                let _ = writeln!(
                    screen.out,
                    "{action} {id}: done in {:.1}s",
                    elapsed.as_secs_f64()
                );
                screen.rows.push(Row {
                    id,
                    action,
                    status: "done",
                    elapsed: Some(elapsed),
                });
            }
            Event::Failed {
                id,
                action,
                message,
            } => {
                screen.in_flight.retain(|(i, _, _)| *i != id);
                let _ = writeln!(screen.out, "{action} {id}: FAILED: {message}");
                screen.rows.push(Row {
                    id,
                    action,
                    status: "failed",
                    elapsed: None,
                });
            }
            Event::Skipped { id, because } => {
                let _ = writeln!(screen.out, "{id}: skipped, it waits for `{because}`");
                screen.rows.push(Row {
                    id,
                    action: Action::Keep,
                    status: "skipped",
                    elapsed: None,
                });
            }
            Event::Warning { id, message } => {
                let _ = writeln!(screen.out, "warning: {id}: {message}");
            }
            Event::Output { id, line } => {
                let _ = writeln!(screen.out, "  {id} | {line}");
            }
        }
        if live {
            screen.draw();
        }
        let _ = screen.out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can read while the display holds it.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn started(id: &str, action: Action) -> Event {
        Event::Started {
            id: id.into(),
            action,
        }
    }

    fn finished(id: &str, action: Action, millis: u64) -> Event {
        Event::Finished {
            id: id.into(),
            action,
            elapsed: Duration::from_millis(millis),
        }
    }

    /// The elapsed seconds of every live line of `id` drawn so far.
    fn drawn_elapsed(text: &str, id: &str) -> Vec<f64> {
        let prefix = format!("{id} (");
        text.lines()
            .filter(|l| l.contains('…'))
            .filter_map(|l| {
                let rest = &l[l.find(&prefix)? + prefix.len()..];
                rest.strip_suffix("s)")?.parse().ok()
            })
            .collect()
    }

    async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
        for _ in 0..500 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("never happened: {what}");
    }

    #[test]
    fn a_live_line_says_what_is_done_to_which_resource_and_for_how_long() {
        assert_eq!(
            live_line("sessions", Action::Create, Duration::from_millis(1_300)),
            "  … create sessions (1.3s)"
        );
        assert_eq!(
            live_line("api", Action::Replace, Duration::from_secs(61)),
            "  … replace api (61.0s)"
        );
        assert_eq!(
            live_line("kv", Action::Delete, Duration::ZERO),
            "  … delete kv (0.0s)"
        );
    }

    #[tokio::test]
    async fn plain_lines_are_one_per_event_and_never_tick() {
        let buffer = Buffer::default();
        let progress = Arc::new(Progress::with_writer(false, Box::new(buffer.clone())));
        assert!(progress.start_ticker(Duration::from_millis(1)).is_none());
        progress.event(started("sessions", Action::Create));
        progress.event(Event::Warning {
            id: "sessions".into(),
            message: "slow".into(),
        });
        progress.event(finished("sessions", Action::Create, 2_000));
        progress.event(started("api", Action::Update));
        tokio::time::sleep(Duration::from_millis(20)).await;
        progress.event(Event::Failed {
            id: "api".into(),
            action: Action::Update,
            message: "boom".into(),
        });
        progress.event(Event::Skipped {
            id: "route".into(),
            because: "api".into(),
        });
        let table = progress.finish();
        assert_eq!(
            buffer.text(),
            "create sessions ...\n\
             warning: sessions: slow\n\
             create sessions: done in 2.0s\n\
             update api ...\n\
             update api: FAILED: boom\n\
             route: skipped, it waits for `api`\n"
        );
        assert_eq!(
            table,
            "sessions  create     done     2.0s\n\
             api       update     failed   \n\
             route     no change  skipped  \n"
        );
    }

    #[tokio::test]
    async fn live_lines_count_up_between_events_and_the_ticker_ends_with_the_display() {
        let buffer = Buffer::default();
        let progress = Arc::new(Progress::with_writer(true, Box::new(buffer.clone())));
        let ticker = progress
            .start_ticker(Duration::from_millis(10))
            .expect("a live display ticks");
        progress.event(started("slow", Action::Create));
        assert_eq!(buffer.text(), "  … create slow (0.0s)\n");
        // No event arrives, yet the line is redrawn with a growing elapsed time.
        eventually("the elapsed time moves", || {
            drawn_elapsed(&buffer.text(), "slow")
                .iter()
                .any(|&s| s >= 0.1)
        })
        .await;
        let text = buffer.text();
        let elapsed = drawn_elapsed(&text, "slow");
        assert!(elapsed.is_sorted(), "{elapsed:?}");
        // Every redraw first erases the line it replaces.
        assert_eq!(text.matches("\x1b[1A\x1b[2K").count(), elapsed.len() - 1);

        // Nothing in flight: the ticker draws nothing.
        progress.event(finished("slow", Action::Create, 150));
        assert!(buffer.text().ends_with("create slow: done in 0.1s\n"));
        let idle = buffer.text().len();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(buffer.text().len(), idle);

        // Work again: ticks resume.
        progress.event(started("next", Action::Update));
        eventually("ticks resume", || {
            drawn_elapsed(&buffer.text(), "next").len() >= 2
        })
        .await;

        // The display is finished: the live line goes, and the ticker ends by itself.
        let table = progress.finish();
        assert!(table.starts_with("slow  create"), "{table}");
        eventually("the ticker ends", || ticker.is_finished()).await;
        let done = buffer.text();
        assert!(done.ends_with("\x1b[1A\x1b[2K"), "{done:?}");
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(buffer.text(), done);
    }

    #[tokio::test]
    async fn a_stopped_ticker_draws_nothing_more() {
        let buffer = Buffer::default();
        let progress = Arc::new(Progress::with_writer(true, Box::new(buffer.clone())));
        let ticker = progress.start_ticker(Duration::from_millis(5)).unwrap();
        progress.event(started("slow", Action::Delete));
        eventually("a tick", || {
            drawn_elapsed(&buffer.text(), "slow").len() >= 2
        })
        .await;
        ticker.stop().await;
        let stopped = buffer.text();
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(buffer.text(), stopped, "a resource is still in flight");
    }
}
