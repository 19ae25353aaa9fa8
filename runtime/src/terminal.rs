//! How the command line shows progress: live lines on a terminal, plain lines otherwise.
//!
//! On a terminal, every resource in flight has a line that is redrawn as events arrive; a
//! finished resource's line becomes permanent. Elsewhere (CI logs, pipes) each start and end is
//! one plain line. Both keep a row per resource for the final table. Everything goes to stderr,
//! so stdout stays clean for `--json`.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::plan::Action;
use crate::progress::{Event, Observer};

/// One finished resource, for the final table.
#[derive(Debug, Clone)]
struct Row {
    id: String,
    action: Action,
    status: &'static str,
    elapsed: Option<Duration>,
}

#[derive(Debug, Default)]
struct Screen {
    in_flight: Vec<(String, Action, Instant)>,
    drawn: usize,
    rows: Vec<Row>,
}

/// A progress display writing to stderr.
#[derive(Debug)]
pub struct Progress {
    live: bool,
    screen: Mutex<Screen>,
}

impl Progress {
    /// Live lines when `live` (stderr is a terminal), plain lines otherwise.
    pub fn new(live: bool) -> Progress {
        Progress {
            live,
            screen: Mutex::new(Screen::default()),
        }
    }

    /// Clears the live lines, and returns the final table (empty when nothing ran).
    pub fn finish(&self) -> String {
        let mut screen = self.screen.lock().expect("progress lock");
        if self.live {
            let mut err = std::io::stderr().lock();
            erase(&mut err, screen.drawn);
            screen.drawn = 0;
        }
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

fn erase(out: &mut impl Write, lines: usize) {
    for _ in 0..lines {
        let _ = write!(out, "\x1b[1A\x1b[2K");
    }
}

impl Observer for Progress {
    fn event(&self, event: Event) {
        let mut screen = self.screen.lock().expect("progress lock");
        let mut err = std::io::stderr().lock();
        if self.live {
            erase(&mut err, screen.drawn);
            screen.drawn = 0;
        }
        match event {
            Event::Started { id, action } => {
                if !self.live {
                    let _ = writeln!(err, "{action} {id} ...");
                }
                screen.in_flight.push((id, action, Instant::now()));
            }
            Event::Finished {
                id,
                action,
                elapsed,
            } => {
                screen.in_flight.retain(|(i, _, _)| *i != id);
                let _ = writeln!(err, "{action} {id}: done in {:.1}s", elapsed.as_secs_f64());
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
                let _ = writeln!(err, "{action} {id}: FAILED: {message}");
                screen.rows.push(Row {
                    id,
                    action,
                    status: "failed",
                    elapsed: None,
                });
            }
            Event::Skipped { id, because } => {
                let _ = writeln!(err, "{id}: skipped, it waits for `{because}`");
                screen.rows.push(Row {
                    id,
                    action: Action::Keep,
                    status: "skipped",
                    elapsed: None,
                });
            }
            Event::Warning { id, message } => {
                let _ = writeln!(err, "warning: {id}: {message}");
            }
        }
        if self.live {
            let lines: Vec<String> = screen
                .in_flight
                .iter()
                .map(|(id, action, started)| {
                    format!(
                        "  … {action} {id} ({:.1}s)",
                        started.elapsed().as_secs_f64()
                    )
                })
                .collect();
            for line in &lines {
                let _ = writeln!(err, "{line}");
            }
            screen.drawn = lines.len();
        }
        let _ = err.flush();
    }
}
