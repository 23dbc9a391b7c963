//! The rollups: traffic pre-aggregated per bucket, exporter and a few dimensions,
//! written by the collector in each batch's transaction and read by the console's
//! dashboards (`migrations/0002_rollups.sql`, `0006_topn_tiers.sql`).
//!
//! Every rollup has a 1-minute and a 1-hour tier; the high-cardinality ones
//! (talkers, services, AS pairs) also have a daily tier, and keep only their top keys
//! per period: the rest is folded into their "other" row, whose dimensions hold the
//! sentinels of [`Dimension::other`] (talkers `addr` 0.0.0.0/0, services `port` -1,
//! AS pairs `src_as` = `dst_as` = -1), so totals stay exact.

/// A rollup tier: the bucket length, and the table-name suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// 1-minute buckets (`_1m`), partitioned by UTC day.
    Minute,
    /// 1-hour buckets (`_1h`), partitioned by ISO week.
    Hour,
    /// UTC-day buckets (`_1d`), not partitioned; top-N rollups only.
    Day,
}

impl Tier {
    /// The table-name suffix: `1m`, `1h`, `1d` (a closed set: safe to format into SQL).
    pub const fn suffix(self) -> &'static str {
        match self {
            Tier::Minute => "1m",
            Tier::Hour => "1h",
            Tier::Day => "1d",
        }
    }

    /// Bucket length in milliseconds.
    pub const fn step_ms(self) -> i64 {
        match self {
            Tier::Minute => crate::MINUTE_MS,
            Tier::Hour => crate::HOUR_MS,
            Tier::Day => crate::DAY_MS,
        }
    }

    /// Bucket length in seconds.
    pub const fn step_seconds(self) -> i64 {
        self.step_ms() / 1000
    }
}

/// A dimension column of a rollup (after `bucket` and `exporter`, which every
/// rollup has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimension {
    /// Column name.
    pub column: &'static str,
    /// Its SQL type, as the migration declares it.
    pub sql_type: &'static str,
    /// Its value in the "other" row, as an SQL literal; `None` when the "other" row
    /// keeps the folded rows' value (a talker's side, a service's protocol).
    pub other: Option<&'static str>,
}

impl Dimension {
    /// True when the column holds whole numbers (bound as `int8` arrays).
    pub fn is_integer(&self) -> bool {
        matches!(self.sql_type, "smallint" | "integer" | "bigint")
    }
}

/// The talkers' "other" address, as SQL: every address outside the top N.
pub const OTHER_ADDR: &str = "'0.0.0.0/0'::inet";
/// The services' "other" port: every port of a protocol outside the top N.
pub const OTHER_PORT: i32 = -1;
/// The AS pairs' "other" AS number (in both `src_as` and `dst_as`).
pub const OTHER_AS: i64 = -1;

const D_IN_IF: Dimension = Dimension { column: "in_if", sql_type: "bigint", other: None };
const D_OUT_IF: Dimension = Dimension { column: "out_if", sql_type: "bigint", other: None };
const D_PROTO: Dimension = Dimension { column: "proto", sql_type: "smallint", other: None };
const D_PORT: Dimension = Dimension { column: "port", sql_type: "integer", other: Some("-1") };
const D_SRC_AS: Dimension = Dimension { column: "src_as", sql_type: "bigint", other: Some("-1") };
const D_DST_AS: Dimension = Dimension { column: "dst_as", sql_type: "bigint", other: Some("-1") };
const D_SIDE: Dimension = Dimension { column: "side", sql_type: "smallint", other: None };
const D_ADDR: Dimension = Dimension { column: "addr", sql_type: "inet", other: Some(OTHER_ADDR) };

/// What a rollup aggregates by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rollup {
    /// Device totals.
    Exporter,
    /// (input, output) interface pairs.
    Interface,
    /// IP protocol numbers.
    Protocol,
    /// Services: protocol and service port (top N).
    Service,
    /// (source AS, destination AS) pairs (top N).
    As,
    /// Source and destination addresses: `side` 0 and 1 (top N).
    Talker,
}

/// Every rollup table of every tier.
pub const TABLES: &[&str] = &[
    "rollup_exporter_1m",
    "rollup_exporter_1h",
    "rollup_interface_1m",
    "rollup_interface_1h",
    "rollup_protocol_1m",
    "rollup_protocol_1h",
    "rollup_service_1m",
    "rollup_service_1h",
    "rollup_service_1d",
    "rollup_as_1m",
    "rollup_as_1h",
    "rollup_as_1d",
    "rollup_talker_1m",
    "rollup_talker_1h",
    "rollup_talker_1d",
];

/// The measures every rollup row carries (see [`crate::Measures`]).
pub const MEASURES: [&str; 5] = ["flows", "bytes", "packets", "raw_bytes", "raw_packets"];

impl Rollup {
    /// Every rollup, in the order the writers lock them.
    pub const ALL: [Rollup; 6] =
        [Rollup::Exporter, Rollup::Interface, Rollup::Protocol, Rollup::Service, Rollup::As, Rollup::Talker];

    /// The top-N rollups: compacted per closed period, with a daily tier.
    pub const TOP_N: [Rollup; 3] = [Rollup::Talker, Rollup::Service, Rollup::As];

    /// The name inside the table names (`rollup_<name>_<tier>`).
    pub const fn name(self) -> &'static str {
        match self {
            Rollup::Exporter => "exporter",
            Rollup::Interface => "interface",
            Rollup::Protocol => "protocol",
            Rollup::Service => "service",
            Rollup::As => "as",
            Rollup::Talker => "talker",
        }
    }

    /// The dimension columns, in primary-key order.
    pub const fn dimensions(self) -> &'static [Dimension] {
        match self {
            Rollup::Exporter => &[],
            Rollup::Interface => &[D_IN_IF, D_OUT_IF],
            Rollup::Protocol => &[D_PROTO],
            Rollup::Service => &[D_PROTO, D_PORT],
            Rollup::As => &[D_SRC_AS, D_DST_AS],
            Rollup::Talker => &[D_SIDE, D_ADDR],
        }
    }

    /// True for the rollups that keep only their top keys (and so have an "other"
    /// row and a daily tier).
    pub const fn is_top_n(self) -> bool {
        matches!(self, Rollup::Service | Rollup::As | Rollup::Talker)
    }

    /// The tiers this rollup has.
    pub const fn tiers(self) -> &'static [Tier] {
        if self.is_top_n() {
            &[Tier::Minute, Tier::Hour, Tier::Day]
        } else {
            &[Tier::Minute, Tier::Hour]
        }
    }

    /// The table of `tier`; `None` when this rollup has no such tier.
    pub const fn table(self, tier: Tier) -> Option<&'static str> {
        use Rollup::*;
        use Tier::*;
        Some(match (self, tier) {
            (Exporter, Minute) => "rollup_exporter_1m",
            (Exporter, Hour) => "rollup_exporter_1h",
            (Interface, Minute) => "rollup_interface_1m",
            (Interface, Hour) => "rollup_interface_1h",
            (Protocol, Minute) => "rollup_protocol_1m",
            (Protocol, Hour) => "rollup_protocol_1h",
            (Service, Minute) => "rollup_service_1m",
            (Service, Hour) => "rollup_service_1h",
            (Service, Day) => "rollup_service_1d",
            (As, Minute) => "rollup_as_1m",
            (As, Hour) => "rollup_as_1h",
            (As, Day) => "rollup_as_1d",
            (Talker, Minute) => "rollup_talker_1m",
            (Talker, Hour) => "rollup_talker_1h",
            (Talker, Day) => "rollup_talker_1d",
            (Exporter | Interface | Protocol, Day) => return None,
        })
    }

    /// The 1-minute table (every rollup has one).
    pub const fn minute(self) -> &'static str {
        match self.table(Tier::Minute) {
            Some(t) => t,
            None => "",
        }
    }

    /// The 1-hour table (every rollup has one).
    pub const fn hour(self) -> &'static str {
        match self.table(Tier::Hour) {
            Some(t) => t,
            None => "",
        }
    }

    /// SQL predicate true for the "other" rows on `columns` (dimension columns with
    /// a sentinel, joined with AND): `addr = '0.0.0.0/0'::inet`, `port = -1`,
    /// `src_as = -1`. `"false"` when none of `columns` has one (no "other" row).
    pub fn other_on(self, columns: &[&str]) -> String {
        let terms: Vec<String> = self
            .dimensions()
            .iter()
            .filter(|d| columns.contains(&d.column))
            .filter_map(|d| d.other.map(|v| format!("{} = {v}", d.column)))
            .collect();
        if terms.is_empty() {
            "false".to_string()
        } else {
            terms.join(" AND ")
        }
    }

    /// SQL predicate true for this rollup's "other" rows (`"false"` when it has none).
    pub fn is_other(self) -> String {
        let all: Vec<&str> = self.dimensions().iter().map(|d| d.column).collect();
        self.other_on(&all)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn tables_are_named_by_rollup_and_tier() {
        let mut named = Vec::new();
        for r in Rollup::ALL {
            for t in r.tiers() {
                let name = r.table(*t).unwrap();
                assert_eq!(name, format!("rollup_{}_{}", r.name(), t.suffix()));
                named.push(name);
            }
            assert_eq!(r.table(Tier::Day).is_some(), r.is_top_n());
            assert_eq!(r.minute(), format!("rollup_{}_1m", r.name()));
            assert_eq!(r.hour(), format!("rollup_{}_1h", r.name()));
        }
        named.sort_unstable();
        let mut all = TABLES.to_vec();
        all.sort_unstable();
        assert_eq!(named, all);
    }

    #[test]
    fn other_rows() {
        assert_eq!(Rollup::Talker.is_other(), "addr = '0.0.0.0/0'::inet");
        assert_eq!(Rollup::Service.is_other(), "port = -1");
        assert_eq!(Rollup::As.is_other(), "src_as = -1 AND dst_as = -1");
        assert_eq!(Rollup::As.other_on(&["dst_as"]), "dst_as = -1");
        assert_eq!(Rollup::Protocol.is_other(), "false");
        assert_eq!(OTHER_PORT.to_string(), D_PORT.other.unwrap());
        assert_eq!(OTHER_AS.to_string(), D_SRC_AS.other.unwrap());
        for r in Rollup::ALL {
            assert_eq!(r.is_top_n(), r.is_other() != "false", "{r:?}");
        }
    }
}
