//! Prometheus text exposition and the small HTTP server that serves it.

use super::Counters;
use flowvision_codec::{Protocol, TemplateCache};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Accumulates metric families in Prometheus text format.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts a family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    /// One sample; `labels` are (name, value) pairs.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) -> &mut Self {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let v = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
                let _ = write!(self.text, "{k}=\"{v}\"");
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
        self
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// The text.
    pub fn finish(self) -> String {
        self.text
    }
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// Counter or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic since the process started.
    Counter,
    /// A current value.
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// A metric family of the ingest side: what `/metrics` and the statistics table
/// (`collector_stats.counters`) both name from one place.
#[derive(Debug, PartialEq, Eq)]
pub struct Family {
    /// Prometheus name (`flowvision_` prefixed; counters end in `_total`).
    pub name: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// Help text.
    pub help: &'static str,
    /// The label that splits the family (`protocol`, `reason`), if any.
    pub label: Option<&'static str>,
}

impl Family {
    /// The statistics key of one sample: the name without `flowvision_`, and the
    /// label's value after a dot (`records_decoded_total.ipfix`,
    /// `datagrams_undecodable_total.truncated`).
    pub fn statistics_key(&self, label: Option<&str>) -> String {
        let name = self.name.strip_prefix("flowvision_").unwrap_or(self.name);
        match label {
            Some(v) => format!("{name}.{v}"),
            None => name.to_string(),
        }
    }
}

const fn family(name: &'static str, kind: Kind, help: &'static str) -> Family {
    Family { name, kind, help, label: None }
}

const fn labelled(name: &'static str, label: &'static str, help: &'static str) -> Family {
    Family { name, kind: Kind::Counter, help, label: Some(label) }
}

/// The ingest side's metric families, in the order `/metrics` shows them.
pub mod families {
    use super::{family, labelled, Family, Kind};

    /// Datagrams read.
    pub const DATAGRAMS_RECEIVED: Family =
        family("flowvision_datagrams_received_total", Kind::Counter, "UDP datagrams read by the collector.");
    /// Their payload bytes.
    pub const DATAGRAM_BYTES: Family =
        family("flowvision_datagram_bytes_total", Kind::Counter, "Payload bytes of the datagrams read.");
    /// Datagrams decoded, by protocol.
    pub const DATAGRAMS_DECODED: Family =
        labelled("flowvision_datagrams_decoded_total", "protocol", "Datagrams decoded, by protocol.");
    /// Records decoded, by protocol.
    pub const RECORDS_DECODED: Family =
        labelled("flowvision_records_decoded_total", "protocol", "Flow records decoded, by protocol.");
    /// Undecodable datagrams, by reason.
    pub const DATAGRAMS_UNDECODABLE: Family = labelled(
        "flowvision_datagrams_undecodable_total",
        "reason",
        "Datagrams that could not be (fully) decoded, by reason.",
    );
    /// Rows dropped before storage, by reason.
    pub const ROWS_DROPPED: Family =
        labelled("flowvision_rows_dropped_total", "reason", "Flow rows dropped before storage, by reason.");
    /// Rows handed to the writers.
    pub const ROWS_QUEUED: Family =
        family("flowvision_rows_queued_total", Kind::Counter, "Rows handed to the database writers.");
    /// Kernel drops on the collector's sockets.
    pub const KERNEL_DROPS: Family = family(
        "flowvision_kernel_drops_total",
        Kind::Counter,
        "Datagrams the kernel dropped on our sockets (buffer overflow).",
    );
    /// Upstream loss per sequence numbers.
    pub const SEQUENCE_LOST: Family = family(
        "flowvision_sequence_lost_total",
        Kind::Counter,
        "Upstream loss: units missing from exporters' sequence numbers.",
    );
    /// Sequence restarts.
    pub const SEQUENCE_RESETS: Family = family(
        "flowvision_sequence_resets_total",
        Kind::Counter,
        "Sequence restarts (exporter reboots, reordering).",
    );
    /// Template records received.
    pub const TEMPLATES_LEARNED: Family =
        family("flowvision_templates_learned_total", Kind::Counter, "Template records received.");
    /// Templates withdrawn.
    pub const TEMPLATES_WITHDRAWN: Family =
        family("flowvision_templates_withdrawn_total", Kind::Counter, "Templates withdrawn by exporters.");
    /// Templates known now.
    pub const TEMPLATES: Family = family("flowvision_templates", Kind::Gauge, "Templates currently known.");
    /// Data sets held for a template.
    pub const SETS_HELD: Family =
        family("flowvision_sets_held_total", Kind::Counter, "Data sets held until their template arrived.");
    /// Held data sets decoded later.
    pub const SETS_RELEASED: Family =
        family("flowvision_sets_released_total", Kind::Counter, "Held data sets decoded later.");
    /// Data sets waiting now.
    pub const SETS_PENDING: Family =
        family("flowvision_sets_pending", Kind::Gauge, "Data sets waiting for a template now.");
    /// Their bytes.
    pub const SETS_PENDING_BYTES: Family =
        family("flowvision_sets_pending_bytes", Kind::Gauge, "Bytes of data sets waiting now.");
}

/// One family's samples: label value (for labelled families) and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilySamples {
    /// The family.
    pub family: &'static Family,
    /// Its samples, in order.
    pub samples: Vec<(Option<&'static str>, u64)>,
}

/// The ingest counters and the template cache's at one moment: rendered as
/// `/metrics` text and flattened into statistics keys from the same values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestMetrics {
    /// Every family, in `/metrics` order.
    pub families: Vec<FamilySamples>,
}

impl IngestMetrics {
    /// Reads the counters.
    pub fn collect(c: &Counters, cache: &TemplateCache, kernel_drops: u64) -> IngestMetrics {
        use families::*;
        let one =
            |family: &'static Family, value: u64| FamilySamples { family, samples: vec![(None, value)] };
        let by_protocol = |family: &'static Family, counters: &[AtomicU64; 4]| FamilySamples {
            family,
            samples: Protocol::ALL.iter().zip(counters).map(|(p, n)| (Some(p.as_str()), load(n))).collect(),
        };
        let undecodable = c.undecodable.lock().unwrap_or_else(|e| e.into_inner());
        let k = &cache.counters;
        let (held, held_bytes) = cache.pending_usage();
        let families = vec![
            one(&DATAGRAMS_RECEIVED, load(&c.datagrams_received)),
            one(&DATAGRAM_BYTES, load(&c.datagram_bytes)),
            by_protocol(&DATAGRAMS_DECODED, &c.datagrams_decoded),
            by_protocol(&RECORDS_DECODED, &c.records_decoded),
            FamilySamples {
                family: &DATAGRAMS_UNDECODABLE,
                samples: undecodable.iter().map(|(reason, n)| (Some(*reason), *n)).collect(),
            },
            FamilySamples {
                family: &ROWS_DROPPED,
                samples: vec![
                    (Some("queue_full"), load(&c.rows_dropped_queue_full)),
                    (Some("template_timeout_sets"), load(&k.sets_dropped_timeout)),
                    (Some("template_overflow_sets"), load(&k.sets_dropped_overflow)),
                ],
            },
            one(&ROWS_QUEUED, load(&c.rows_queued)),
            one(&KERNEL_DROPS, kernel_drops),
            one(&SEQUENCE_LOST, load(&c.sequence_lost)),
            one(&SEQUENCE_RESETS, load(&c.sequence_resets)),
            one(&TEMPLATES_LEARNED, load(&k.templates_learned)),
            one(&TEMPLATES_WITHDRAWN, load(&k.templates_withdrawn)),
            one(&TEMPLATES, cache.template_count() as u64),
            one(&SETS_HELD, load(&k.sets_held)),
            one(&SETS_RELEASED, load(&k.sets_released)),
            one(&SETS_PENDING, held as u64),
            one(&SETS_PENDING_BYTES, held_bytes as u64),
        ];
        IngestMetrics { families }
    }

    /// Appends the Prometheus text of every family.
    pub fn render(&self, e: &mut Exposition) {
        for f in &self.families {
            e.family(f.family.name, f.family.kind.as_str(), f.family.help);
            for (label, value) in &f.samples {
                match (f.family.label, label) {
                    (Some(name), Some(v)) => e.sample(f.family.name, &[(name, v)], *value),
                    _ => e.sample(f.family.name, &[], *value),
                };
            }
        }
    }

    /// The same values as statistics keys (`collector_stats.counters`): see
    /// [`Family::statistics_key`].
    pub fn statistics(&self) -> BTreeMap<String, u64> {
        self.families
            .iter()
            .flat_map(|f| f.samples.iter().map(|(label, v)| (f.family.statistics_key(*label), *v)))
            .collect()
    }
}

/// Writes the ingest counters and the template cache's counters.
pub fn ingest_metrics(e: &mut Exposition, c: &Counters, cache: &TemplateCache, kernel_drops: u64) {
    IngestMetrics::collect(c, cache, kernel_drops).render(e);
}

/// Serves `GET /metrics` on `listen` from a background thread; `render` builds the
/// page for each request. Returns the bound address (useful with port 0).
pub fn serve(
    listen: SocketAddr,
    render: Arc<dyn Fn() -> String + Send + Sync>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        for stream in listener.incoming().flatten() {
            // One slow client must not stall the next scrape forever.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
            let _ = respond(stream, render.as_ref());
        }
    })?;
    Ok(local)
}

fn respond(stream: TcpStream, render: &(dyn Fn() -> String + Send + Sync)) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Drain headers.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let mut stream = stream;
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    if request_line.starts_with("GET ") && (path == "/metrics" || path.starts_with("/metrics?")) {
        let body = render();
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        let body = "not found: try /metrics\n";
        write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use flowvision_codec::TemplateCacheConfig;

    /// How the statistics keys were made before they had a typed source: by
    /// re-reading the `/metrics` text. The keys stored in the database must not change.
    fn keys_from_text(text: &str) -> BTreeMap<String, u64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (key, value) = l.rsplit_once(' ')?;
                let key = key.trim_start_matches("flowvision_").replace("{", ".").replace(['}', '"'], "");
                let key = key.split_once('=').map(|(a, b)| format!("{a}.{b}")).unwrap_or(key);
                let key = key.replace("..", ".").replace(".reason.", ".").replace(".protocol.", ".");
                Some((key, value.parse::<u64>().ok()?))
            })
            .collect()
    }

    #[test]
    fn statistics_keys_are_the_metrics_flattened() {
        let c = Counters::default();
        c.datagrams_received.store(10, Ordering::Relaxed);
        c.records_decoded[2].store(7, Ordering::Relaxed);
        c.rows_dropped_queue_full.store(3, Ordering::Relaxed);
        c.undecodable.lock().unwrap().insert("truncated", 2);
        c.undecodable.lock().unwrap().insert("unknown_version", 1);
        let cache = TemplateCache::new(TemplateCacheConfig::default());
        let m = IngestMetrics::collect(&c, &cache, 5);
        let mut e = Exposition::default();
        m.render(&mut e);
        let text = e.finish();
        let keys = m.statistics();
        assert_eq!(keys, keys_from_text(&text));
        assert_eq!(keys["records_decoded_total.ipfix"], 7);
        assert_eq!(keys["datagrams_undecodable_total.truncated"], 2);
        assert_eq!(keys["rows_dropped_total.queue_full"], 3);
        assert_eq!(keys["kernel_drops_total"], 5);
        assert!(text.contains("flowvision_records_decoded_total{protocol=\"ipfix\"} 7\n"), "{text}");
        // A family with no samples still has its HELP and TYPE lines.
        let empty = IngestMetrics::collect(&Counters::default(), &cache, 0);
        let mut e = Exposition::default();
        empty.render(&mut e);
        assert!(e.finish().contains("# TYPE flowvision_datagrams_undecodable_total counter\n# HELP"));
    }
}
