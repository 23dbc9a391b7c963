//! The rules repository against a real PostgreSQL with the real schema: save (insert
//! and replace), list in evaluation order, load (enabled rows compiled, bad rows
//! described, not fatal), delete, and the NOTIFY every change sends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_filter::rules::{self, StoredRule, CHANNEL};
use flowvision_filter::Action;
use flowvision_tests::pg::PgCluster;
use futures_util::StreamExt;
use std::time::Duration;
use tokio_postgres::{AsyncMessage, NoTls};

fn row(name: &str, filter: &str, destination: Option<&str>, action: &str, position: i32) -> StoredRule {
    StoredRule {
        name: name.into(),
        filter: filter.into(),
        destination: destination.map(str::to_string),
        action: action.into(),
        protocol: None,
        transparent: false,
        position,
        enabled: true,
    }
}

#[test]
fn save_list_load_delete_and_notify() {
    let pg = PgCluster::start().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, mut connection) = tokio_postgres::connect(pg.url(), NoTls).await.unwrap();
        let (tx, mut notified) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(Ok(m)) = messages.next().await {
                if let AsyncMessage::Notification(n) = m {
                    let _ = tx.send(n.channel().to_string());
                }
            }
        });
        flowvision_migrations::apply(&client, flowvision_migrations::MIGRATIONS).await.unwrap();
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await.unwrap();

        rules::save(&client, &row("web", "proto tcp and dst port 443", Some("127.0.0.1:9995"), "raw", 0))
            .await
            .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), notified.recv()).await.unwrap();
        assert_eq!(got.as_deref(), Some(CHANNEL));
        rules::save(&client, &row("dns", "port 53", None, "drop", -1)).await.unwrap();
        rules::save(&client, &row("broken", "proto tcpp", Some("127.0.0.1:9995"), "raw", 5)).await.unwrap();
        let mut off = row("off", "any", Some("127.0.0.1:9995"), "raw", 1);
        off.enabled = false;
        rules::save(&client, &off).await.unwrap();

        // Evaluation order: position, then name.
        let listed = rules::list(&client).await.unwrap();
        let names: Vec<&str> = listed.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["dns", "web", "off", "broken"]);
        assert_eq!(listed[1], row("web", "proto tcp and dst port 443", Some("127.0.0.1:9995"), "raw", 0));

        // Enabled rows compile; the bad one is described and skipped, the disabled one ignored.
        let (loaded, problems) = rules::load(&client).await.unwrap();
        let names: Vec<&str> = loaded.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["dns", "web"]);
        assert_eq!(loaded[0].action, Action::Drop);
        assert_eq!(loaded[1].destination, Some("127.0.0.1:9995".parse().unwrap()));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("rule broken skipped: ") && problems[0].contains("tcpp"),
            "{problems:?}"
        );

        // Saving a known name replaces the rule (and enables it again).
        let mut replaced = row("off", "udp", None, "reencode", 2);
        replaced.destination = Some("[::1]:4739".into());
        replaced.protocol = Some("ipfix".into());
        rules::save(&client, &replaced).await.unwrap();
        let listed = rules::list(&client).await.unwrap();
        assert_eq!(listed.iter().filter(|r| r.name == "off").collect::<Vec<_>>(), [&replaced]);

        assert!(rules::delete(&client, "broken").await.unwrap());
        assert!(!rules::delete(&client, "broken").await.unwrap());
        assert_eq!(rules::list(&client).await.unwrap().len(), 3);
        println!("covered save, replace, list order, load with a bad and a disabled row, delete, notify");
    });
}
