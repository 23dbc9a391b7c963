//! Templates (NetFlow v9 and IPFIX): their definition as exported, their compiled form,
//! and the shared cache that scopes them by exporter and observation domain.

mod cache;
mod pending;

pub use cache::{
    CacheCounters, CacheSnapshot, SavedOptions, SavedTemplate, ScopeKey, ScopeOptions, TemplateCache,
    TemplateCacheConfig,
};
pub use pending::PendingSet;

use crate::error::{DecodeError, Result};
use crate::ie::{resolve_priorities, FieldSpec, Target, VARIABLE_LENGTH};
use crate::record::Protocol;
use serde::{Deserialize, Serialize};

/// Whether a template describes flow data or options data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TemplateKind {
    /// A data template.
    Data,
    /// An options template whose first `scope_fields` fields are scope fields.
    Options {
        /// Number of scope fields.
        scope_fields: u16,
    },
}

/// A template as compiled for decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Template id (256..=65535).
    pub id: u16,
    /// Protocol that defined it (v9 and IPFIX encode options scopes differently).
    pub protocol: Protocol,
    /// Data or options.
    pub kind: TemplateKind,
    /// The fields in record order.
    pub fields: Vec<FieldSpec>,
    targets: Vec<Target>,
    /// Record length when no field is variable-length.
    pub fixed_length: Option<usize>,
    /// Smallest possible record (variable-length fields counted as 1 length byte).
    pub min_length: usize,
}

impl Template {
    /// Compiles a template, rejecting those that cannot describe a record.
    pub fn new(protocol: Protocol, id: u16, kind: TemplateKind, fields: Vec<FieldSpec>) -> Result<Template> {
        if fields.is_empty() {
            return Err(DecodeError::BadTemplate { template_id: id, why: "no fields" });
        }
        let scope_fields = match kind {
            TemplateKind::Data => 0,
            TemplateKind::Options { scope_fields } => usize::from(scope_fields),
        };
        if scope_fields > fields.len() {
            return Err(DecodeError::BadTemplate { template_id: id, why: "more scope fields than fields" });
        }
        let mut fixed = 0usize;
        let mut min = 0usize;
        let mut variable = false;
        let mut targets = Vec::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            if f.length == VARIABLE_LENGTH {
                variable = true;
                min += 1;
            } else {
                fixed += usize::from(f.length);
                min += usize::from(f.length);
            }
            let target = if i < scope_fields && protocol == Protocol::NetflowV9 {
                // v9 scope fields are scope *types*, not element ids (RFC 3954 §6.1).
                match f.id {
                    2 => Target::ScopeInterface,
                    _ => Target::Skip,
                }
            } else if f.pen != 0 {
                Target::Keep
            } else {
                Target::of(f.id)
            };
            targets.push(target);
        }
        resolve_priorities(&mut targets);
        if min == 0 {
            // A record of length zero would make a data set loop forever.
            return Err(DecodeError::BadTemplate { template_id: id, why: "zero record length" });
        }
        Ok(Template {
            id,
            protocol,
            kind,
            fields,
            targets,
            fixed_length: (!variable).then_some(fixed),
            min_length: min,
        })
    }

    /// The compiled target of each field.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// True for options templates.
    pub fn is_options(&self) -> bool {
        matches!(self.kind, TemplateKind::Options { .. })
    }
}
