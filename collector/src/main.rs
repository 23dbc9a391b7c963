//! `flowvision-collector`: the data-plane daemon and its tools.

fn main() {}
