//! Template persistence: a collector restarted between a template and its data still
//! decodes the data (templates and sampler options restored from PostgreSQL, or from
//! the local copy when the database is down at start).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod store_common;

use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig};
use flowvision_codec::template::ScopeKey;
use flowvision_codec::{
    CacheSnapshot, DecodeOutput, Decoder, FlowRecord, OptionsInfo, Protocol, TemplateCacheConfig,
};
use flowvision_collector::store::{load_templates, save_templates, Store, StoreStats};
use flowvision_tests::pg::PgCluster;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use store_common::*;

const NOW: i64 = 1_732_000_000_000;

fn exporter(i: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, i))
}

/// (templates + data, data only) of one v9 or IPFIX stream.
fn stream(protocol: Protocol, domain: u32) -> (Vec<u8>, Vec<u8>) {
    let mut cfg = TemplateEncoderConfig::new(protocol, domain);
    cfg.template_refresh_datagrams = 0;
    cfg.template_refresh_ms = 0;
    let mut enc = TemplateEncoder::new(cfg);
    let recs: Vec<FlowRecord> = (0..5u8)
        .map(|i| {
            let mut r = FlowRecord::new(protocol, exporter(1));
            r.src_addr = Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)));
            r.dst_addr = Some(if i % 2 == 0 {
                "2001:db8::5".parse().unwrap()
            } else {
                IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9))
            });
            if i % 2 == 0 {
                r.src_addr = Some("2001:db8::1".parse().unwrap());
            }
            r.bytes = 1000 + u64::from(i);
            r.packets = 2;
            r.flow_start_ms = Some(NOW - 5000);
            r.flow_end_ms = Some(NOW - 1000);
            r
        })
        .collect();
    let mut out = Vec::new();
    enc.encode(NOW, 10_000, &recs, |d| out.push(d.to_vec()));
    enc.encode(NOW + 1000, 11_000, &recs, |d| out.push(d.to_vec()));
    assert_eq!(out.len(), 2);
    (out[0].clone(), out[1].clone())
}

fn sorted(mut s: CacheSnapshot) -> CacheSnapshot {
    s.templates.sort_by_key(|t| (t.scope.exporter, t.scope.protocol.as_str(), t.scope.domain, t.id));
    s.options.sort_by_key(|o| (o.scope.exporter, o.scope.protocol.as_str(), o.scope.domain));
    s
}

fn decode(d: &Decoder, from: IpAddr, datagram: &[u8]) -> Vec<FlowRecord> {
    let mut out = DecodeOutput::default();
    d.decode(from, datagram, NOW + 2000, &mut out).unwrap();
    out.records
}

#[test]
fn restart_between_template_and_data_still_decodes() {
    let mut pg = PgCluster::start().unwrap();
    let spool = tempfile::tempdir().unwrap();
    let cfg = config(pg.url(), spool.path());

    // Collector 1 learns templates of two exporters (v9 and IPFIX) and a sampler.
    let a = Decoder::new(TemplateCacheConfig::default());
    let streams = [(exporter(1), stream(Protocol::NetflowV9, 3)), (exporter(2), stream(Protocol::Ipfix, 77))];
    for (ex, (first, _)) in &streams {
        assert!(!decode(&a, *ex, first).is_empty());
    }
    let scope = ScopeKey { exporter: exporter(2), protocol: Protocol::Ipfix, domain: 77 };
    a.cache().apply_options(scope, &OptionsInfo::Sampler { id: Some(7), rate: 512 });
    a.cache().apply_options(scope, &OptionsInfo::SystemInit { ms: NOW - 86_400_000 });
    let snapshot = a.cache().snapshot();
    assert!(snapshot.templates.len() >= 4, "{} templates", snapshot.templates.len());

    let (store, tx) = Store::start(cfg.clone(), Arc::new(StoreStats::default())).unwrap();
    store.save_templates(&snapshot).unwrap();
    let mut c = pg.connect().unwrap();
    assert!(wait_until(Duration::from_secs(20), || {
        c.query_one("SELECT count(*) FROM templates", &[]).unwrap().get::<_, i64>(0)
            == snapshot.templates.len() as i64
    }));
    drop(tx);
    store.shutdown().unwrap();

    // Collector 2 (restarted): restores, then receives only data.
    let (store, tx) = Store::start(cfg.clone(), Arc::new(StoreStats::default())).unwrap();
    let restored = store.load_templates().unwrap().expect("templates restored");
    assert_eq!(sorted(restored.clone()), sorted(snapshot.clone()), "snapshot round trip");
    let b = Decoder::new(TemplateCacheConfig::default());
    assert_eq!(b.cache().restore(&restored), 0);
    let fresh = Decoder::new(TemplateCacheConfig::default());
    let mut decoded = 0;
    for (ex, (_, data)) in &streams {
        let want = decode(&a, *ex, data);
        assert!(!want.is_empty());
        assert_eq!(decode(&b, *ex, data), want, "restored decoder differs");
        assert!(decode(&fresh, *ex, data).is_empty(), "without templates the data is held");
        decoded += want.len();
    }
    assert_eq!(b.cache().options(&scope).samplers.get(&7), Some(&512));
    drop(tx);
    store.shutdown().unwrap();

    // Saving replaces a scope's template set: a withdrawn template disappears.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = flowvision_collector::store::connect_and_migrate(&cfg).await.unwrap();
        let mut fewer = snapshot.clone();
        let gone = fewer.templates.remove(0);
        assert_eq!(save_templates(&client, &fewer).await.unwrap(), fewer.templates.len());
        let back = load_templates(&client).await.unwrap();
        assert_eq!(sorted(back.clone()), sorted(fewer));
        assert!(!back.templates.iter().any(|t| t.scope == gone.scope && t.id == gone.id));
    });

    // Database down at start: the local copy still restores the templates.
    if !pg.can_stop() {
        println!("external DATABASE_URL: local-copy fallback not exercised");
        return;
    }
    pg.stop().unwrap();
    let (store, tx) = Store::start(cfg, Arc::new(StoreStats::default())).unwrap();
    let local = store.load_templates().unwrap().expect("local copy");
    assert_eq!(sorted(local), sorted(snapshot.clone()));
    drop(tx);
    store.shutdown().unwrap();
    println!(
        "{} templates + sampler options persisted; after a restart {decoded} records of data-only datagrams \
         decode exactly as before (0 without the restore); withdrawn template removed; local copy used with \
         the database down",
        snapshot.templates.len()
    );
}
