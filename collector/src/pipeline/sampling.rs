//! Configured sampling rates per exporter prefix (`SAMPLING_RATES`).
//!
//! Some exporters sample without saying so (or say it in options records sent only
//! every few minutes). Operators state what they know:
//! `SAMPLING_RATES="10.0.0.0/8=1000,192.0.2.7/32=!512"` — `=N` is a default used when
//! a record carries no rate of its own; `=!N` overrides whatever the exporter says.
//! The longest matching prefix wins.

use flowvision_codec::prefix::{Prefix, PrefixError};
use flowvision_codec::{FlowRecord, SamplingOrigin};

/// One prefix and what it says about sampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplingRule {
    /// The exporters it applies to.
    pub prefix: Prefix,
    /// One in `rate` packets.
    pub rate: u32,
    /// Replace the exporter's own rate (`=!N`) rather than fill in a missing one.
    pub overrides: bool,
}

/// Parses `PREFIX=N` / `PREFIX=!N` items separated by commas.
pub fn parse_rules(text: &str) -> Result<Vec<SamplingRule>, String> {
    let mut rules = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (prefix, rate) = item.split_once('=').ok_or_else(|| format!("{item:?}: expected PREFIX=RATE"))?;
        let (overrides, rate) = match rate.trim().strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, rate.trim()),
        };
        let rate: u32 = rate.parse().map_err(|_| format!("{item:?}: rate must be a positive integer"))?;
        if rate == 0 {
            return Err(format!("{item:?}: rate must be at least 1"));
        }
        let prefix: Prefix = prefix.parse().map_err(|e| match e {
            PrefixError::Address(addr) => format!("{item:?}: {addr:?} is not an IP address"),
            _ => format!("{item:?}: bad prefix length"),
        })?;
        rules.push(SamplingRule { prefix, rate, overrides });
    }
    // Longest prefix first, so the first match is the best.
    rules.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
    Ok(rules)
}

/// Applies the best matching rule to a record.
pub fn apply(rules: &[SamplingRule], rec: &mut FlowRecord) {
    if rules.is_empty() {
        return;
    }
    if let Some(rule) = rules.iter().find(|r| r.prefix.contains(rec.exporter)) {
        if rule.overrides || rec.sampling_origin == SamplingOrigin::Unsampled {
            rec.sampling_rate = rule.rate;
            rec.sampling_origin = SamplingOrigin::Configured;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use flowvision_codec::Protocol;

    #[test]
    fn longest_prefix_default_and_override() {
        let rules = parse_rules("10.0.0.0/8=1000, 10.1.0.0/16=!64, 2001:db8::/32=10").unwrap();
        let mut r = FlowRecord::new(Protocol::NetflowV9, "10.2.3.4".parse().unwrap());
        apply(&rules, &mut r);
        assert_eq!((r.sampling_rate, r.sampling_origin), (1000, SamplingOrigin::Configured));
        // A rate from the exporter wins over a default...
        let mut r = FlowRecord::new(Protocol::NetflowV9, "10.2.3.4".parse().unwrap());
        r.sampling_rate = 100;
        r.sampling_origin = SamplingOrigin::SamplerTable;
        apply(&rules, &mut r);
        assert_eq!(r.sampling_rate, 100);
        // ...but not over an override.
        r.exporter = "10.1.9.9".parse().unwrap();
        apply(&rules, &mut r);
        assert_eq!(r.sampling_rate, 64);
        let mut r = FlowRecord::new(Protocol::Ipfix, "2001:db8::1".parse().unwrap());
        apply(&rules, &mut r);
        assert_eq!(r.sampling_rate, 10);
    }

    #[test]
    fn bad_rules_are_explained() {
        assert!(parse_rules("10.0.0.0/33=5").unwrap_err().contains("prefix length"));
        assert!(parse_rules("10.0.0.0/8=0").unwrap_err().contains("at least 1"));
        assert!(parse_rules("banana=5").unwrap_err().contains("not an IP address"));
        assert!(parse_rules("10.0.0.0/8").unwrap_err().contains("PREFIX=RATE"));
    }
}
