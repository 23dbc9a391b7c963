//! Per-flow stages: where enrichment (interface names from SNMP, say) and feature
//! extraction (insights computed where the flows pass) plug into a worker.
//!
//! A stage sees every flow record of its worker once, after decoding, relay and the
//! configured sampling rates, and before the record joins the batch for the store; it
//! may change the record in place (fill a field) or only read it (count, sketch). Each
//! worker owns its own stage instances, so a stage needs no locks on the hot path and
//! publishes what it gathered in [`FlowStage::flush`], which the worker calls with its
//! counter flush (about every 100 ms) and once when it stops.
//!
//! A worker with no stages pays one branch per datagram.

use crate::store::FlowRow;

/// One step applied to each flow record between sampling and batching.
pub trait FlowStage: Send {
    /// A short name, for logs.
    fn name(&self) -> &'static str;

    /// Sees (and may change) one flow: its record and receive time.
    fn flow(&mut self, row: &mut FlowRow);

    /// Publishes what was gathered since the last call (shared counters, a channel).
    fn flush(&mut self) {}
}

/// A worker's stages, in the order they run.
#[derive(Default)]
pub struct Stages {
    stages: Vec<Box<dyn FlowStage>>,
}

impl std::fmt::Debug for Stages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.stages.iter().map(|s| s.name())).finish()
    }
}

impl Stages {
    /// Adds a stage after the others.
    pub fn push(&mut self, stage: Box<dyn FlowStage>) {
        self.stages.push(stage);
    }

    /// No stages configured.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty()
    }

    /// Runs every stage over one datagram's rows, stage by stage.
    #[inline]
    pub fn apply(&mut self, rows: &mut [FlowRow]) {
        for stage in self.stages.iter_mut() {
            for row in rows.iter_mut() {
                stage.flow(row);
            }
        }
    }

    /// Lets every stage publish.
    pub fn flush(&mut self) {
        for stage in self.stages.iter_mut() {
            stage.flush();
        }
    }
}
