//! Every name this crate declares exists in the migrations' SQL (which is immutable
//! once applied: a name here that is not there is a bug here).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_schema::partition::PARTITIONED;
use flowvision_schema::{rollup, tables, Rollup, MEASURES};
use std::path::Path;

/// All of `migrations/*.sql` and the runner's own table, whitespace collapsed.
fn sql() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    let mut text = String::new();
    for f in files.iter().chain([&dir.join("src/lib.rs")]) {
        text.push_str(&std::fs::read_to_string(f).unwrap());
        text.push('\n');
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The column list of `CREATE TABLE [IF NOT EXISTS] name (...)` and what follows it.
fn create_table<'a>(sql: &'a str, name: &str) -> &'a str {
    let start = [format!("CREATE TABLE {name} ("), format!("CREATE TABLE IF NOT EXISTS {name} (")]
        .iter()
        .find_map(|p| sql.find(p.as_str()))
        .unwrap_or_else(|| panic!("no CREATE TABLE {name} in the migrations"));
    let rest = &sql[start..];
    &rest[..rest.find(';').unwrap()]
}

#[test]
fn every_table_is_created() {
    let sql = sql();
    for t in tables::ALL.iter().chain(rollup::TABLES).chain([&tables::SCHEMA_MIGRATIONS]) {
        create_table(&sql, t);
    }
}

#[test]
fn rollups_have_their_dimensions_and_measures() {
    let sql = sql();
    for r in Rollup::ALL {
        for tier in r.tiers() {
            let name = r.table(*tier).unwrap();
            let def = create_table(&sql, name);
            let mut key = vec!["bucket", "exporter"];
            for d in r.dimensions() {
                assert!(
                    def.contains(&format!(" {} {} NOT NULL", d.column, d.sql_type)),
                    "{name}.{}",
                    d.column
                );
                key.push(d.column);
            }
            for m in MEASURES {
                assert!(def.contains(&format!(" {m} bigint NOT NULL")), "{name}.{m}");
            }
            assert!(def.contains(&format!("PRIMARY KEY ({})", key.join(", "))), "{name} key");
        }
    }
}

#[test]
fn partitioned_tables_are_partitioned_by_time() {
    let sql = sql();
    for (t, _) in PARTITIONED {
        let def = create_table(&sql, t);
        assert!(
            def.ends_with("PARTITION BY RANGE (bucket)")
                || def.ends_with("PARTITION BY RANGE (time_received)")
                || def.ends_with("PARTITION BY RANGE (started)"),
            "{t}"
        );
    }
    for r in Rollup::TOP_N {
        let day = r.table(flowvision_schema::Tier::Day).unwrap();
        assert!(!create_table(&sql, day).contains("PARTITION BY"), "{day}");
    }
}

#[test]
fn other_rows_are_the_documented_ones() {
    let sql = sql();
    // 0006 documents the sentinels of each top-N rollup.
    for r in Rollup::TOP_N {
        for d in r.dimensions() {
            if let Some(v) = d.other {
                let literal = v.trim_end_matches("::inet").trim_matches('\'');
                assert!(
                    sql.contains(&format!("{} = {literal}", d.column)),
                    "{}: {} = {literal}",
                    r.name(),
                    d.column
                );
            }
        }
    }
}
