//! The host anomaly model in the console, against a real PostgreSQL: trained from the
//! host feature rows the collector's store wrote for fifty minutes of ordinary traffic,
//! kept as version 1 in `insight_models`; a host that then sends a thousand times its
//! usual bytes becomes a `host_anomaly` insight naming it and `bytes_out`, an ordinary
//! minute does not; a restarted engine reuses the stored version, and one whose stored
//! model is damaged says so and trains version 2.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::{now_ms, store, Web};
use flowvision_codec::{FlowRecord, Protocol};
use flowvision_collector::store::FlowRow;
use flowvision_insights::features::InternalNetworks;
use flowvision_web::anomaly::{score_minute, train, AnomalyConfig, AnomalyLoop};
use flowvision_web::models::ModelService;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

fn flow(end_ms: i64, src: IpAddr, dst: IpAddr, sport: u16, dport: u16, packets: u64, bytes: u64) -> FlowRow {
    let mut r = FlowRecord::new(Protocol::NetflowV5, "192.0.2.1".parse().unwrap());
    r.src_addr = Some(src);
    r.dst_addr = Some(dst);
    r.proto = 6;
    r.src_port = sport;
    r.dst_port = dport;
    r.tcp_flags = 0x1b;
    r.packets = packets;
    r.bytes = bytes;
    r.flow_start_ms = Some(end_ms - 2_000);
    r.flow_end_ms = Some(end_ms);
    FlowRow { time_received_ms: end_ms + 1_000, record: r }
}

fn client(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 5, 0, i))
}

fn server(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, i))
}

/// One minute of twelve clients browsing three servers, with a little variation.
fn ordinary_minute(minute: i64, rows: &mut Vec<FlowRow>) {
    for c in 1..=12u8 {
        let n = 4 + (minute / 60_000 + i64::from(c)) % 5;
        for k in 0..n {
            let t = minute + 2_000 + k * 9_000 + i64::from(c) * 300;
            let s = server(1 + (c + k as u8) % 3);
            let port = 40_000 + (c as u16) * 100 + k as u16;
            rows.push(flow(t, client(c), s, port, 443, 12, 1_500 + 40 * k as u64));
            rows.push(flow(t, s, client(c), 443, port, 30, 40_000 + 500 * k as u64));
        }
    }
}

#[test]
fn a_model_trained_on_the_appliance_history_names_a_host_that_changed() {
    let web = Web::start_with(|c| c.insights = false);
    let now = now_ms();
    let first = (now / 60_000 - 60) * 60_000;
    let anomalous = (now / 60_000 - 5) * 60_000;
    let mut rows = Vec::new();
    for m in 0..50 {
        ordinary_minute(first + m * 60_000, &mut rows);
    }
    ordinary_minute(anomalous, &mut rows);
    // Client 3 uploads 40 GB-scale volumes to one outside host in the anomalous minute.
    for k in 0..40 {
        rows.push(flow(
            anomalous + 1_000 + k * 1_400,
            client(3),
            server(9),
            50_000 + k as u16,
            443,
            90_000,
            120_000_000,
        ));
    }
    rows.sort_by_key(|r| r.time_received_ms);
    store(web.pg.url(), &rows);

    let cfg = common::config(web.pg.url());
    let models = Arc::new(ModelService::load(&cfg.models_dir));
    let acfg = AnomalyConfig { epochs: 300, ..AnomalyConfig::default() };
    let rt = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let db = rt.block_on(async { flowvision_web::data::Db::new(&cfg).unwrap() });
    assert!(models.anomaly_model().is_none());

    // Trained on the history before the anomalous minute, as the schedule would have.
    let version = rt.block_on(train(&db, &models, &acfg, anomalous + acfg.lag_ms)).unwrap();
    assert_eq!(version, Some(1));
    assert_eq!(models.anomaly_status().detector.as_deref(), Some("model:host_anomaly@1"));
    let mut pg = web.pg.connect().unwrap();
    let stored: i64 =
        pg.query_one("SELECT count(*) FROM insight_models WHERE kind = 'host_anomaly'", &[]).unwrap().get(0);
    assert_eq!(stored, 1);

    let found = rt.block_on(score_minute(&db, &models, &acfg, anomalous)).unwrap();
    for i in &found {
        println!("{} {:?} {:?} score {:.2}: {}", i.kind.as_str(), i.source, i.target, i.score, i.why.summary);
    }
    let hit = found.iter().find(|i| i.source == Some(client(3))).expect("the uploading client is reported");
    assert_eq!(hit.kind.as_str(), "host_anomaly");
    assert_eq!(hit.detector, "model:host_anomaly@1");
    assert_eq!(hit.why.observed[0].feature, "bytes_out", "{:?}", hit.why);
    assert!(hit.why.observed[0].value >= 4.0e9, "{:?}", hit.why.observed[0]);
    assert!(found.len() <= 3, "only the changed host stands out: {found:?}");
    // Only the operator's own hosts are scored: the upload's outside receiver is not,
    // and with the servers' network given as the own one it is the client that is not.
    let host_of =
        |i: &flowvision_insights::Insight| i.source.or(i.target).map(|h| h.to_string()).unwrap_or_default();
    assert!(found.iter().all(|i| host_of(i).starts_with("10.5.0.")), "{found:?}");
    let servers_own =
        AnomalyConfig { hosts: InternalNetworks::parse("203.0.113.0/24").unwrap(), ..acfg.clone() };
    let as_servers = rt.block_on(score_minute(&db, &models, &servers_own, anomalous)).unwrap();
    assert!(!as_servers.is_empty(), "the receiver of 4.8 GB in a minute stands out");
    assert!(as_servers.iter().all(|i| host_of(i).starts_with("203.0.113.")), "{as_servers:?}");
    let quiet = rt.block_on(score_minute(&db, &models, &acfg, first + 30 * 60_000)).unwrap();
    assert!(quiet.is_empty(), "an ordinary minute: {quiet:?}");
    // Stored like any insight, listed by the API's kind filter.
    rt.block_on(db.engine_record(hit)).unwrap();
    let admin = web.login(common::ADMIN, common::ADMIN_PW);
    let listed = web.json(&format!("/api/v1/insights?from={}&kind=host_anomaly", first), &admin);
    assert_eq!(listed["insights"][0]["source"], "10.5.0.3", "{listed:#}");

    // A restarted engine loads version 1 instead of training again.
    let restarted = Arc::new(ModelService::load(&cfg.models_dir));
    let mut lp = AnomalyLoop::default();
    rt.block_on(lp.round(&db, &restarted, &acfg, now)).unwrap();
    assert_eq!(restarted.anomaly_status().detector.as_deref(), Some("model:host_anomaly@1"));

    // A damaged stored model is refused with its reason, and a new version trained.
    pg.execute("UPDATE insight_models SET document = 'not a model'::bytea", &[]).unwrap();
    let again = Arc::new(ModelService::load(&cfg.models_dir));
    let mut lp = AnomalyLoop::default();
    rt.block_on(async {
        lp.round(&db, &again, &acfg, now).await.unwrap();
        lp.wait_for_training().await;
    });
    assert_eq!(
        again.anomaly_status().detector.as_deref(),
        Some("model:host_anomaly@2"),
        "{:?}",
        again.anomaly_status()
    );
    let versions: Vec<i32> = pg
        .query("SELECT version FROM insight_models ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![1, 2]);
}
