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
    /// Where each common field sits, for fixed-length data templates made only of
    /// common fields (each at most once). Why: a record of such a template is then
    /// decoded by straight-line code, with no loop over the fields and no dispatch on
    /// each field's target.
    layout: Option<Box<Layout>>,
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
        let layout = match (variable, kind) {
            (false, TemplateKind::Data) => Layout::of(&fields, &targets).map(Box::new),
            _ => None,
        };
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
            layout,
            fixed_length: (!variable).then_some(fixed),
            min_length: min,
        })
    }

    /// The compiled target of each field.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The straight-line layout of a fixed-length data template, when it has one.
    pub(crate) fn layout(&self) -> Option<&Layout> {
        self.layout.as_deref()
    }

    /// True for options templates.
    pub fn is_options(&self) -> bool {
        matches!(self.kind, TemplateKind::Options { .. })
    }
}

/// The targets a [`Layout`] covers, in the order of [`Layout::spans`].
pub(crate) const LAYOUT_TARGETS: [Target; 24] = [
    Target::SrcAddr,
    Target::DstAddr,
    Target::SrcPort,
    Target::DstPort,
    Target::Proto,
    Target::TcpFlags,
    Target::Tos,
    Target::Bytes,
    Target::PacketCount,
    Target::InIf,
    Target::OutIf,
    Target::SrcAs,
    Target::DstAs,
    Target::NextHop,
    Target::SrcMask,
    Target::DstMask,
    Target::Vlan,
    Target::StartUptime,
    Target::EndUptime,
    Target::StartSeconds,
    Target::EndSeconds,
    Target::StartMillis,
    Target::EndMillis,
    Target::SamplingInterval,
];

/// Byte range in the record of each of [`LAYOUT_TARGETS`] (`None`: not in the template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub spans: [Option<(usize, usize)>; 24],
}

impl Layout {
    /// The layout of a fixed-length template, or `None` when a field needs the general
    /// decoder: a target outside [`LAYOUT_TARGETS`], or one that occurs twice (e.g. the
    /// IPv4 and IPv6 source of a dual-stack template, whose order matters).
    fn of(fields: &[FieldSpec], targets: &[Target]) -> Option<Layout> {
        let mut spans = [None; 24];
        let mut start = 0usize;
        for (f, t) in fields.iter().zip(targets) {
            let len = usize::from(f.length);
            let end = start + len;
            let inert = t.is_inert();
            // Zero-length fields say nothing; the general decoder ignores them too.
            if len != 0 && !inert {
                let i = LAYOUT_TARGETS.iter().position(|l| l == t)?;
                let span = spans.get_mut(i)?;
                if span.is_some() {
                    return None;
                }
                *span = Some((start, end));
            }
            start = end;
        }
        Some(Layout { spans })
    }
}
