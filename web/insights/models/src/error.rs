//! What can go wrong with a model, as types the console can show.

use std::path::PathBuf;

/// A model that cannot be loaded, saved or trained.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The model file could not be read or written.
    #[error("model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a model document (truncated, not JSON, fields missing).
    #[error("model file {what} is not a FlowVision model: {reason}")]
    Format {
        /// The file, or "embedded" for the shipped weights.
        what: String,
        /// What the parser said.
        reason: String,
    },
    /// The weights do not match their checksum: the file was altered or damaged.
    #[error(
        "model file {what}: checksum mismatch (stored {stored}, computed {computed}); the file is damaged"
    )]
    Checksum {
        /// The file.
        what: String,
        /// The checksum the file states.
        stored: String,
        /// The checksum of the weights it holds.
        computed: String,
    },
    /// The model is of another kind, version or shape than this build expects.
    #[error("model file {what}: {reason}")]
    Incompatible {
        /// The file.
        what: String,
        /// What does not match.
        reason: String,
    },
    /// libtorch refused an operation.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// Training was asked for without data of every class.
    #[error("training data: {0}")]
    Data(String),
}
