//! Progress of a deploy or destroy, as events for whoever shows them.
//!
//! The engine reports each resource's start and end to an [`Observer`]; the command line draws
//! live lines on a terminal or plain lines otherwise, tests can record them, and library callers
//! can ignore them ([`Silent`]).

use std::time::Duration;

use crate::plan::Action;

/// Something that happened to one resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A request for this resource is about to be sent.
    Started {
        /// The logical id.
        id: String,
        /// What is being done.
        action: Action,
    },
    /// It finished.
    Finished {
        /// The logical id.
        id: String,
        /// What was done.
        action: Action,
        /// How long it took.
        elapsed: Duration,
    },
    /// It failed.
    Failed {
        /// The logical id.
        id: String,
        /// What was being done.
        action: Action,
        /// The error message (never a secret).
        message: String,
    },
    /// It did not run because something it waits for failed.
    Skipped {
        /// The logical id.
        id: String,
        /// The resource it waited for.
        because: String,
    },
    /// Something worth telling the user that is not a failure.
    Warning {
        /// The logical id.
        id: String,
        /// The message.
        message: String,
    },
    /// A line a long step printed (cargo's output while a Rust Worker builds).
    Output {
        /// The logical id.
        id: String,
        /// The line.
        line: String,
    },
}

/// Receives progress events; called from the engine's task, so it must be quick.
pub trait Observer: Send + Sync {
    /// One event.
    fn event(&self, event: Event);
}

/// Runs one resource's step between its [`Event::Started`] and its [`Event::Finished`] or
/// [`Event::Failed`], so that no step starts on screen without ending there.
pub(crate) async fn observed<T>(
    observer: &dyn Observer,
    id: &str,
    action: Action,
    step: impl std::future::Future<Output = crate::error::Result<T>>,
) -> crate::error::Result<T> {
    let started = std::time::Instant::now();
    observer.event(Event::Started {
        id: id.to_owned(),
        action,
    });
    let result = step.await;
    observer.event(match &result {
        Ok(_) => Event::Finished {
            id: id.to_owned(),
            action,
            elapsed: started.elapsed(),
        },
        Err(e) => Event::Failed {
            id: id.to_owned(),
            action,
            message: e.report(),
        },
    });
    result
}

/// Hands the lines a provider's step prints to an [`Observer`] as [`Event::Output`].
pub(crate) struct ObservedLog<'a>(pub &'a dyn Observer);

impl athanor_core::provider::StepLog for ObservedLog<'_> {
    fn line(&self, id: &str, line: &str) {
        self.0.event(Event::Output {
            id: id.to_owned(),
            line: line.to_owned(),
        });
    }
}

/// An observer that drops every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _event: Event) {}
}

/// An observer that keeps every event, for tests and callers that report afterwards.
#[derive(Debug, Default)]
pub struct Recorder {
    events: std::sync::Mutex<Vec<Event>>,
}

impl Recorder {
    /// The events so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("recorder lock").clone()
    }
}

impl Observer for Recorder {
    fn event(&self, event: Event) {
        self.events.lock().expect("recorder lock").push(event);
    }
}
