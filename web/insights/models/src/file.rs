//! The model file: one JSON document with what the model is (kind, version, inputs,
//! outputs, layer widths), how it was trained, its weights, and a checksum of the
//! weights. JSON because the weights are small (a few thousand values), the file then
//! reads in a review and diffs between versions, and floats round-trip exactly
//! (shortest representation), so a reloaded model scores identically.

use crate::error::ModelError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The format name and version every model file starts with.
pub const FORMAT: &str = "flowvision-model/1";

/// One named weight tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedTensor {
    /// Variable name (`l0.weight`, `l0.bias`, ...).
    pub name: String,
    /// Shape.
    pub shape: Vec<i64>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

/// A whole model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// What the model does (`host_class`, `host_anomaly`).
    pub kind: String,
    /// Version of this kind's weights; insights name it as `model:KIND@VERSION`.
    pub version: u32,
    /// Input names, in order.
    pub inputs: Vec<String>,
    /// Output names, in order (classes, or the reconstructed inputs).
    pub outputs: Vec<String>,
    /// Layer widths from input to output.
    pub layers: Vec<usize>,
    /// Per-input reference values (the training data's means), for explanations.
    pub reference: Vec<f32>,
    /// How the weights were made: command, seed, data, epochs, quality.
    pub training: serde_json::Value,
    /// The weights, sorted by name.
    pub tensors: Vec<NamedTensor>,
    /// FNV-1a (64 bits, hex) over the tensors' names, shapes and values' bits.
    pub checksum: String,
}

/// FNV-1a over the tensors, in order.
pub fn checksum(tensors: &[NamedTensor]) -> String {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for t in tensors {
        eat(t.name.as_bytes());
        for d in &t.shape {
            eat(&d.to_le_bytes());
        }
        for v in &t.values {
            eat(&v.to_bits().to_le_bytes());
        }
    }
    format!("{h:016x}")
}

impl ModelFile {
    /// A document for a network's weights (the format and checksum filled in).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kind: &str,
        version: u32,
        inputs: &[&str],
        outputs: Vec<String>,
        layers: Vec<usize>,
        reference: Vec<f32>,
        training: serde_json::Value,
        tensors: Vec<NamedTensor>,
    ) -> ModelFile {
        ModelFile {
            format: FORMAT.to_owned(),
            kind: kind.to_owned(),
            version,
            inputs: inputs.iter().map(|s| (*s).to_owned()).collect(),
            outputs,
            layers,
            reference,
            training,
            checksum: checksum(&tensors),
            tensors,
        }
    }

    /// Checks that the document is a `kind` model over exactly these inputs, in order;
    /// `input_set` names them in the error ("host profile").
    pub fn expect(&self, kind: &str, inputs: &[&str], input_set: &str, what: &str) -> Result<(), ModelError> {
        let bad = |reason: String| ModelError::Incompatible { what: what.to_owned(), reason };
        if self.kind != kind {
            return Err(bad(format!("a {} model, not a {kind} one", self.kind)));
        }
        if self.inputs.len() != inputs.len() || self.inputs.iter().zip(inputs).any(|(a, b)| a != b) {
            return Err(bad(format!("its inputs are not this build's {input_set} (retrain it)")));
        }
        Ok(())
    }

    /// Parses and checks a model document; `what` names it in errors.
    pub fn parse(bytes: &[u8], what: &str) -> Result<ModelFile, ModelError> {
        let f: ModelFile = serde_json::from_slice(bytes)
            .map_err(|e| ModelError::Format { what: what.to_owned(), reason: e.to_string() })?;
        if f.format != FORMAT {
            return Err(ModelError::Format {
                what: what.to_owned(),
                reason: format!("format {:?}, expected {FORMAT:?}", f.format),
            });
        }
        let computed = checksum(&f.tensors);
        if computed != f.checksum {
            return Err(ModelError::Checksum { what: what.to_owned(), stored: f.checksum, computed });
        }
        for t in &f.tensors {
            let n = t.shape.iter().try_fold(1i64, |acc, d| if *d > 0 { acc.checked_mul(*d) } else { None });
            if n != i64::try_from(t.values.len()).ok() {
                return Err(ModelError::Incompatible {
                    what: what.to_owned(),
                    reason: format!(
                        "tensor {} has shape {:?} but {} values",
                        t.name,
                        t.shape,
                        t.values.len()
                    ),
                });
            }
            if t.values.iter().any(|v| !v.is_finite()) {
                return Err(ModelError::Incompatible {
                    what: what.to_owned(),
                    reason: format!("tensor {} holds a value that is not finite", t.name),
                });
            }
        }
        if f.reference.len() != f.inputs.len() {
            return Err(ModelError::Incompatible {
                what: what.to_owned(),
                reason: format!("{} reference values for {} inputs", f.reference.len(), f.inputs.len()),
            });
        }
        Ok(f)
    }

    /// Reads and checks a model file.
    pub fn read(path: &Path) -> Result<ModelFile, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io { path: path.to_owned(), source })?;
        ModelFile::parse(&bytes, &path.display().to_string())
    }

    /// The document, with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain strings, numbers and vectors cannot fail.
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }

    /// Writes the file atomically (a temporary file renamed over it), so a crash never
    /// leaves half a model where the console looks for one.
    pub fn write(&self, path: &Path) -> Result<(), ModelError> {
        let io = |source| ModelError::Io { path: path.to_owned(), source };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, self.to_bytes()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}
