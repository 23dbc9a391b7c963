//! Puts libtorch's folder in the rpath of this crate's binaries and tests (rpath.rs,
//! shared with the console's build script).
include!("rpath.rs");
