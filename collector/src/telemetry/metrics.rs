//! Prometheus text exposition and the small HTTP server that serves it.

use super::Counters;
use flowvision_codec::{Protocol, TemplateCache};
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

/// Writes the ingest counters and the template cache's counters.
pub fn ingest_metrics(e: &mut Exposition, c: &Counters, cache: &TemplateCache, kernel_drops: u64) {
    e.single(
        "flowvision_datagrams_received_total",
        "counter",
        "UDP datagrams read by the collector.",
        load(&c.datagrams_received),
    );
    e.single(
        "flowvision_datagram_bytes_total",
        "counter",
        "Payload bytes of the datagrams read.",
        load(&c.datagram_bytes),
    );
    e.family("flowvision_datagrams_decoded_total", "counter", "Datagrams decoded, by protocol.");
    for (p, n) in Protocol::ALL.iter().zip(&c.datagrams_decoded) {
        e.sample("flowvision_datagrams_decoded_total", &[("protocol", p.as_str())], load(n));
    }
    e.family("flowvision_records_decoded_total", "counter", "Flow records decoded, by protocol.");
    for (p, n) in Protocol::ALL.iter().zip(&c.records_decoded) {
        e.sample("flowvision_records_decoded_total", &[("protocol", p.as_str())], load(n));
    }
    e.family(
        "flowvision_datagrams_undecodable_total",
        "counter",
        "Datagrams that could not be (fully) decoded, by reason.",
    );
    for (reason, n) in c.undecodable.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        e.sample("flowvision_datagrams_undecodable_total", &[("reason", reason)], *n);
    }
    e.family("flowvision_rows_dropped_total", "counter", "Flow rows dropped before storage, by reason.");
    e.sample("flowvision_rows_dropped_total", &[("reason", "queue_full")], load(&c.rows_dropped_queue_full));
    let k = &cache.counters;
    e.sample(
        "flowvision_rows_dropped_total",
        &[("reason", "template_timeout_sets")],
        load(&k.sets_dropped_timeout),
    );
    e.sample(
        "flowvision_rows_dropped_total",
        &[("reason", "template_overflow_sets")],
        load(&k.sets_dropped_overflow),
    );
    e.single(
        "flowvision_rows_queued_total",
        "counter",
        "Rows handed to the database writers.",
        load(&c.rows_queued),
    );
    e.single(
        "flowvision_kernel_drops_total",
        "counter",
        "Datagrams the kernel dropped on our sockets (buffer overflow).",
        kernel_drops,
    );
    e.single(
        "flowvision_sequence_lost_total",
        "counter",
        "Upstream loss: units missing from exporters' sequence numbers.",
        load(&c.sequence_lost),
    );
    e.single(
        "flowvision_sequence_resets_total",
        "counter",
        "Sequence restarts (exporter reboots, reordering).",
        load(&c.sequence_resets),
    );
    e.single(
        "flowvision_templates_learned_total",
        "counter",
        "Template records received.",
        load(&k.templates_learned),
    );
    e.single(
        "flowvision_templates_withdrawn_total",
        "counter",
        "Templates withdrawn by exporters.",
        load(&k.templates_withdrawn),
    );
    e.single("flowvision_templates", "gauge", "Templates currently known.", cache.template_count() as u64);
    e.single(
        "flowvision_sets_held_total",
        "counter",
        "Data sets held until their template arrived.",
        load(&k.sets_held),
    );
    e.single(
        "flowvision_sets_released_total",
        "counter",
        "Held data sets decoded later.",
        load(&k.sets_released),
    );
    let (held, held_bytes) = cache.pending_usage();
    e.single("flowvision_sets_pending", "gauge", "Data sets waiting for a template now.", held as u64);
    e.single("flowvision_sets_pending_bytes", "gauge", "Bytes of data sets waiting now.", held_bytes as u64);
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
