//! A run on a thread of its own, for callers that must stay responsive while it
//! sends (the command line, a console that starts several runs): [`start`] returns
//! a [`SimulationHandle`] that reads the run's [`Progress`], cancels it and joins it.
//!
//! Cancelling is prompt: pacing waits in slices of at most 20 ms and the generator
//! checks between ticks (at most 100 ms of virtual time), so a run stops within a
//! tick's sending. A cancelled run still sends its open datagrams, flushes its
//! files and writes its labels, and its summary says it was cancelled.

use crate::error::SimError;
use crate::run::{Outcome, Progress, Run, RunOptions, RunState};
use crate::scenario::Plan;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// What a run and its observers share: the cancellation flag and the last progress.
#[derive(Debug, Default)]
pub(crate) struct Control {
    cancel: Arc<AtomicBool>,
    progress: Mutex<Progress>,
}

impl Control {
    pub(crate) fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub(crate) fn publish(&self, progress: Progress) {
        // A poisoned lock only means an observer panicked holding it; the value is whole.
        *self.progress.lock().unwrap_or_else(PoisonError::into_inner) = progress;
    }

    fn progress(&self) -> Progress {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn fail(&self) {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner).state = RunState::Failed;
    }
}

/// A simulation running on its own thread.
///
/// Dropping the handle cancels the run (a run nobody can stop should not keep
/// sending) without waiting for it.
#[derive(Debug)]
pub struct SimulationHandle {
    control: Arc<Control>,
    thread: Option<JoinHandle<Result<Outcome, SimError>>>,
}

/// Builds `plan`'s simulation, opens its outputs and starts sending on a new thread.
///
/// Errors of the plan and of the outputs (an unwritable file, an address that cannot
/// be bound) are returned here, before anything is sent; errors while sending come
/// from [`SimulationHandle::join`].
pub fn start(plan: Plan, options: &RunOptions) -> Result<SimulationHandle, SimError> {
    let run = Run::prepare(plan, options)?;
    let control = Arc::new(Control::default());
    let shared = Arc::clone(&control);
    let thread = std::thread::Builder::new()
        .name("flowvision-sim".into())
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| run.execute(&shared)))
                .unwrap_or_else(|payload| Err(SimError::Panicked(panic_message(payload.as_ref()))));
            if result.is_err() {
                shared.fail();
            }
            result
        })
        .map_err(SimError::Spawn)?;
    Ok(SimulationHandle { control, thread: Some(thread) })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

impl SimulationHandle {
    /// The run's progress (published every 50 ms while it sends, and when it ends).
    pub fn progress(&self) -> Progress {
        self.control.progress()
    }

    /// Asks the run to stop; it sends its open datagrams, flushes its outputs and
    /// writes its labels, then [`SimulationHandle::join`] returns.
    pub fn cancel(&self) {
        self.control.cancel();
    }

    /// Whether the run's thread has ended (`join` will not wait).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().map_or(true, JoinHandle::is_finished)
    }

    /// Waits for the run to end and returns what it sent.
    pub fn join(mut self) -> Result<Outcome, SimError> {
        let Some(thread) = self.thread.take() else {
            return Err(SimError::Panicked("the run was already joined".into()));
        };
        // The thread catches the run's panics; a panic here would be in the catching.
        thread.join().unwrap_or_else(|payload| Err(SimError::Panicked(panic_message(payload.as_ref()))))
    }
}

impl Drop for SimulationHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.control.cancel();
        }
    }
}
