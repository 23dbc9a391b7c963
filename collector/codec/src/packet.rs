//! Layer 2-4 parsing of sampled packet headers (sFlow) and captured frames.
