//! Puts libtorch's folder in the rpath of the console's binary and tests (the rule is
//! the models crate's, web/insights/models/rpath.rs).
include!("insights/models/rpath.rs");
