//! The text of one MIB file, as the core API takes it: bytes and a label, no path.

use std::sync::Arc;

/// One file's content and the label diagnostics name it by (usually its path).
///
/// The bytes are shared, not copied, between this and the resolver's documents, so a
/// whole corpus (tens of megabytes) is held once.
#[derive(Debug, Clone)]
pub struct SourceText {
    label: Arc<str>,
    bytes: Arc<[u8]>,
}

impl SourceText {
    /// A file's content under a label.
    pub fn new(label: impl Into<Arc<str>>, bytes: impl Into<Arc<[u8]>>) -> Self {
        Self { label: label.into(), bytes: bytes.into() }
    }

    /// The label (path or other name) given at construction.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The raw content; MIB files are ASCII in principle and anything in practice.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn shared_label(&self) -> Arc<str> {
        Arc::clone(&self.label)
    }

    pub(crate) fn shared_bytes(&self) -> Arc<[u8]> {
        Arc::clone(&self.bytes)
    }
}
