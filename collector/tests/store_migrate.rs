//! Migrations against a real PostgreSQL: applied once, idempotent, checksum-verified,
//! and the schema they create is the one the store writes to.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_collector::store::migrate::{self, Migration, MIGRATIONS};
use flowvision_collector::store::{connect_and_migrate, StoreConfig, StoreError};
use flowvision_tests::pg::PgCluster;

#[test]
fn migrations_apply_once_idempotent_and_checksummed() {
    let pg = PgCluster::start().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let cfg = StoreConfig::new(pg.url(), spool.path());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        // First run applies everything (connect_and_migrate), second applies nothing.
        let client = connect_and_migrate(&cfg).await.unwrap();
        let again = migrate::apply(&client, MIGRATIONS).await.unwrap();
        assert_eq!(again, 0, "second run applied migrations again");
        let n: i64 = client.query_one("SELECT count(*) FROM schema_migrations", &[]).await.unwrap().get(0);
        assert_eq!(n as usize, MIGRATIONS.len());
        for m in MIGRATIONS {
            let sum: String = client
                .query_one("SELECT checksum FROM schema_migrations WHERE version = $1", &[&m.version])
                .await
                .unwrap()
                .get(0);
            assert_eq!(sum, m.checksum(), "{}", m.name);
        }

        // Concurrent start-ups (several collectors, the web service): the advisory
        // lock serialises them; exactly one applies, on a fresh database.
        client.batch_execute("CREATE DATABASE race").await.unwrap();
        let mut race_cfg = cfg.clone();
        race_cfg.database_url = flowvision_tests::pg::with_dbname(pg.url(), "race");
        let mut handles = Vec::new();
        for _ in 0..4 {
            let c = race_cfg.clone();
            handles.push(tokio::spawn(async move {
                let client = flowvision_collector::store::connect_and_migrate(&c).await.unwrap();
                let n: i64 =
                    client.query_one("SELECT count(*) FROM schema_migrations", &[]).await.unwrap().get(0);
                n
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap() as usize, MIGRATIONS.len());
        }

        // An applied file that changed is an error, and nothing is applied.
        let mut changed: Vec<Migration> = MIGRATIONS.to_vec();
        let edited: &'static str = Box::leak(format!("{}\n-- edited\n", changed[0].sql).into_boxed_str());
        changed[0].sql = edited;
        match migrate::apply(&client, &changed).await {
            Err(StoreError::MigrationChanged { version, applied, current, .. }) => {
                assert_eq!(version, changed[0].version);
                assert_ne!(applied, current);
                println!(
                    "changed migration refused: {}",
                    migrate::apply(&client, &changed).await.unwrap_err()
                );
            }
            other => panic!("expected MigrationChanged, got {other:?}"),
        }

        // A new migration is applied exactly once; a failing one leaves nothing behind.
        let mut more: Vec<Migration> = MIGRATIONS.to_vec();
        more.push(Migration { version: 9000, name: "9000_test.sql", sql: "CREATE TABLE t9000 (x int);" });
        assert_eq!(migrate::apply(&client, &more).await.unwrap(), 1);
        assert_eq!(migrate::apply(&client, &more).await.unwrap(), 0);
        more.push(Migration {
            version: 9001,
            name: "9001_bad.sql",
            sql: "CREATE TABLE t9001 (x int); SELECT * FROM no_such_table;",
        });
        assert!(matches!(
            migrate::apply(&client, &more).await,
            Err(StoreError::MigrationFailed { version: 9001, .. })
        ));
        let t: Option<String> =
            client.query_one("SELECT to_regclass('t9001')::text", &[]).await.unwrap().get(0);
        assert!(t.is_none(), "failed migration left its table behind");
        // CRLF line endings are not a change.
        let mut crlf: Vec<Migration> = MIGRATIONS.to_vec();
        crlf[1].sql = Box::leak(crlf[1].sql.replace('\n', "\r\n").into_boxed_str());
        assert_eq!(migrate::apply(&client, &crlf).await.unwrap(), 0);

        // The tables the store and the console rely on exist.
        for t in [
            "flows",
            "ingest_batches",
            "rollup_talker_1h",
            "exporters",
            "exporter_stats_1m",
            "collector_stats",
            "templates",
            "template_options",
        ] {
            let r: Option<String> =
                client.query_one("SELECT to_regclass($1)::text", &[&t]).await.unwrap().get(0);
            assert!(r.is_some(), "table {t} missing");
        }
    });
    println!(
        "{} migrations applied once; re-run, concurrent run, changed file, failing file checked",
        MIGRATIONS.len()
    );
}
