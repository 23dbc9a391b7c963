//! Puts libtorch's folder in the rpath of the benchmarks (they link the console, which
//! links the insights models; the rule is web/insights/models/rpath.rs).
include!("../web/insights/models/rpath.rs");
