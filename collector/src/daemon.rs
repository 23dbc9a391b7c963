//! `flowvision-collector run`: wires sockets, workers, the template cache, the store
//! and `/metrics` together, and shuts them down in an order that loses nothing.
//!
//! ```text
//! sockets (SO_REUSEPORT, one per port per worker)
//!   -> worker threads (pinned): decode -> sample -> sequence -> batch
//!   -> bounded queue -> store writers (COPY binary + rollups, spool when the DB is away)
//! ```

use crate::clock::now_ms;
use crate::config::{CollectorConfig, IngestMode};
use crate::ingest::udp::{bind_port, UdpReceiver};
use crate::ingest::xdp::{XdpError, XdpIngest};
use crate::pipeline::worker::Worker;
use crate::pipeline::{Pipeline, WorkerSettings};
use crate::store::{CollectorSnapshot, ExporterTotals, Store, StoreConfig, StoreStats};
use crate::telemetry::metrics::{Exposition, IngestMetrics};
use crate::telemetry::{self, Counters};
use anyhow::Context;
use flowvision_codec::{Decoder, TemplateCache, TemplateCacheConfig};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often templates are written to the database (and at shutdown).
const TEMPLATE_SAVE_EVERY: Duration = Duration::from_secs(30);
/// How often counters go to the statistics and exporters tables.
const STATS_EVERY: Duration = Duration::from_secs(10);

/// Logs one line at info level.
pub fn log(msg: impl std::fmt::Display) {
    log::info!("{msg}");
}

/// Runs the collector until SIGTERM or SIGINT.
pub fn run(config: CollectorConfig) -> anyhow::Result<()> {
    let term = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, Arc::clone(&term)).context("installing signal handlers")?;
    }
    let counters = Arc::new(Counters::default());
    let cache = Arc::new(TemplateCache::new(TemplateCacheConfig::default()));

    let instance = crate::store::new_instance_id();
    let store_stats = Arc::new(StoreStats::default());
    let mut store_config = StoreConfig::new(config.database_url.clone(), config.state_dir.join("spool"));
    store_config.retention_days = config.retention_days;
    store_config.archive_gate = config.archive.is_some();
    store_config.spool_max_bytes = config.spool_max_bytes;
    store_config.writers = config.db_writers;
    store_config.host_features_per_signal = config.feature_hosts;
    store_config.internal_networks = config.internal_networks.clone();
    store_config.beacon_pairs = config.beacon_pairs;
    store_config.instance = instance;
    let (store, tx) = Store::start(store_config, Arc::clone(&store_stats)).context("starting the store")?;
    match store.load_templates() {
        Ok(Some(snapshot)) => {
            let skipped = cache.restore(&snapshot);
            log(format_args!(
                "restored {} templates from the database ({skipped} no longer valid)",
                snapshot.templates.len()
            ));
        }
        Ok(None) => {}
        Err(e) => log(format_args!("templates not restored: {e}")),
    }

    let mut sockets: Vec<Vec<std::net::UdpSocket>> = (0..config.workers).map(|_| Vec::new()).collect();
    for port in &config.ports {
        for worker in sockets.iter_mut() {
            worker.push(
                bind_port(*port, config.socket_rcvbuf).with_context(|| format!("binding UDP port {port}"))?,
            );
        }
    }
    let ports: BTreeSet<u16> = config.ports.iter().copied().collect();

    let stop = Arc::new(AtomicBool::new(false));
    // Forwarding rules (docs/relay.md): loaded from the database and reloaded
    // on change by their own thread; workers see an empty set until then.
    let relay = crate::forward::Relay::new();
    let reload =
        crate::forward::reload::spawn(config.database_url.clone(), Arc::clone(&relay), Arc::clone(&stop))
            .context("starting the forwarding-rules thread")?;
    let settings = WorkerSettings {
        relay: Arc::clone(&relay),
        batch_rows: config.batch_rows,
        batch_max_age: Duration::from_millis(config.batch_max_age_ms),
        sampling: Arc::new(config.sampling.clone()),
        instance,
        batch_seq: Arc::new(AtomicU64::new(0)),
        row_pool: Some(store.row_pool()),
    };
    // Every worker's pipeline, UDP or AF_XDP, is built here: per-flow stages added to it
    // reach both ingest paths.
    let make_pipeline = |_queue: usize| {
        Pipeline::new(
            Decoder::with_cache(Arc::clone(&cache)),
            tx.clone(),
            Arc::clone(&counters),
            settings.clone(),
        )
    };
    // The UDP sockets above stay bound in every mode: with XDP they receive what the
    // program passes to the kernel (IP fragments) and whatever arrives while the
    // program is not attached (restarts).
    let xdp = match config.ingest_mode {
        IngestMode::Udp => None,
        mode => match XdpIngest::start(&config.xdp, &config.ports, &mut |queue| make_pipeline(queue)) {
            Ok(x) => {
                log(format_args!("ingest: {}, plus UDP sockets for fragments", x.description));
                Some(x)
            }
            Err(XdpError::NoInterfaceConfigured) if mode == IngestMode::Auto => {
                log("ingest: UDP sockets (XDP_INTERFACE not set, so XDP is not tried)");
                None
            }
            Err(e) if mode == IngestMode::Auto => {
                // One line; the error's text starts with its cause.
                log(format_args!("ingest: XDP unavailable ({e}); falling back to UDP sockets"));
                None
            }
            Err(e) => {
                return Err(anyhow::anyhow!("INGEST_MODE=xdp but XDP setup failed ({}): {e}", e.cause()))
            }
        },
    };
    let xdp_metrics = xdp.as_ref().map(|x| x.metrics());

    // The archive (docs/archive.md): its own thread and connection; retention waits
    // for it (archive_gate above).
    let archive_stats = Arc::new(flowvision_archive::ArchiveStats::default());
    let archive = match &config.archive {
        None => None,
        Some(cfg) => {
            let archiver = flowvision_archive::Archiver::new(
                cfg.clone(),
                config.state_dir.join("archive"),
                Arc::clone(&archive_stats),
            )
            .context("opening the archive bucket")?;
            log(format_args!(
                "archive: closed partitions go to bucket {} at {} (every {} s)",
                cfg.bucket,
                cfg.endpoint,
                cfg.interval.as_secs()
            ));
            let settings = flowvision_archive::archiver::LoopSettings {
                database_url: config.database_url.clone(),
                retention_days: config.retention_days,
                host: crate::store::host_name(),
            };
            Some(archiver.spawn(settings, Arc::clone(&stop)).context("starting the archive thread")?)
        }
    };
    let archive_enabled = archive.is_some();

    let render = {
        let counters = Arc::clone(&counters);
        let cache = Arc::clone(&cache);
        let store_stats = Arc::clone(&store_stats);
        let ports = ports.clone();
        let relay = Arc::clone(&relay);
        Arc::new(move || {
            let mut e = Exposition::default();
            telemetry::metrics::ingest_metrics(
                &mut e,
                &counters,
                &cache,
                telemetry::kernel::udp_drops(&ports),
            );
            if let Some(write) = &xdp_metrics {
                write(&mut e);
            }
            relay.metrics(&mut e);
            store_stats.for_each_metric(|name, gauge, help, value| {
                e.single(
                    &format!("flowvision_store_{name}"),
                    if gauge { "gauge" } else { "counter" },
                    help,
                    value,
                );
            });
            let mut text = e.finish();
            if archive_enabled {
                archive_stats.render(&mut text);
            }
            text
        })
    };
    let metrics_addr = telemetry::metrics::serve(config.metrics_listen, render)
        .with_context(|| format!("serving metrics on {}", config.metrics_listen))?;

    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut threads = Vec::new();
    let mut rcvbuf = None;
    for (i, socks) in sockets.into_iter().enumerate() {
        rcvbuf =
            rcvbuf.or_else(|| socks.first().and_then(|s| socket2::SockRef::from(s).recv_buffer_size().ok()));
        let pipeline = make_pipeline(i);
        let core = cores.get(i % cores.len().max(1)).map(|c| c.id);
        let stop = Arc::clone(&stop);
        threads.push(
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                // The receiver's recvmmsg headers hold raw pointers (not Send), so it
                // is built on the worker's own thread.
                .spawn(move || Worker::new(UdpReceiver::new(socks), pipeline).run(core, stop))
                .context("starting a worker thread")?,
        );
    }
    drop(tx);
    log(format_args!(
        "listening on UDP ports {} (IPv4 and IPv6, {} workers, SO_RCVBUF {} bytes), metrics on http://{metrics_addr}/metrics",
        config.ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", "),
        config.workers,
        rcvbuf.map(|b| b.to_string()).unwrap_or_else(|| "?".into()),
    ));

    let mut last_templates = Instant::now();
    let mut last_stats = Instant::now();
    while !term.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(200));
        cache.expire(now_ms());
        if last_templates.elapsed() >= TEMPLATE_SAVE_EVERY {
            save_templates(&store, &cache);
            last_templates = Instant::now();
        }
        if last_stats.elapsed() >= STATS_EVERY {
            write_stats(&store, &counters, &cache, &ports, &relay);
            last_stats = Instant::now();
        }
    }

    log("stopping: draining sockets and queues");
    stop.store(true, Ordering::Release);
    for t in threads {
        let _ = t.join();
    }
    // Workers are done: send what the destinations still hold.
    relay.shutdown(Duration::from_secs(2));
    let _ = reload.join();
    if let Some(a) = archive {
        let _ = a.join();
    }
    if let Some(x) = xdp {
        x.join();
    }
    save_templates(&store, &cache);
    let dropped_held = cache.flush_pending();
    write_stats(&store, &counters, &cache, &ports, &relay);
    store.shutdown().context("flushing the store")?;
    log(format_args!(
        "stopped: {} datagrams, {} records, {} undecodable, {} rows queued, {} rows dropped (queue full), {dropped_held} held sets never matched a template",
        counters.datagrams_received.load(Ordering::Relaxed),
        counters.records_total(),
        counters.undecodable_total(),
        counters.rows_queued.load(Ordering::Relaxed),
        counters.rows_dropped_queue_full.load(Ordering::Relaxed),
    ));
    Ok(())
}

fn save_templates(store: &Store, cache: &TemplateCache) {
    if let Err(e) = store.save_templates(&cache.snapshot()) {
        log(format_args!("saving templates failed (kept in memory, retried later): {e}"));
    }
}

fn write_stats(
    store: &Store,
    counters: &Counters,
    cache: &TemplateCache,
    ports: &BTreeSet<u16>,
    relay: &crate::forward::Relay,
) {
    let mut snapshot = snapshot(counters, cache, telemetry::kernel::udp_drops(ports));
    // The relay's counters, by rule and destination (the console's rules page).
    snapshot.counters.extend(relay.statistics());
    if let Err(e) = store.write_stats(&snapshot) {
        log(format_args!("writing statistics failed: {e}"));
    }
}

/// Totals since start, which the store turns into deltas for its tables.
fn snapshot(counters: &Counters, cache: &TemplateCache, kernel_drops: u64) -> CollectorSnapshot {
    // The same numbers as /metrics, keyed name.label_value (see Family::statistics_key).
    let totals = IngestMetrics::collect(counters, cache, kernel_drops).statistics();
    let exporters = counters
        .exporters
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(addr, c)| ExporterTotals {
            exporter: *addr,
            protocol: c.protocol,
            datagrams: c.datagrams,
            datagram_bytes: c.datagram_bytes,
            records: c.records,
            decode_errors: c.undecodable,
            sequence_lost: c.sequence_lost,
            templates: c.templates,
            last_seen_ms: c.last_seen_ms,
        })
        .collect();
    CollectorSnapshot { time_ms: now_ms(), counters: totals, exporters }
}
