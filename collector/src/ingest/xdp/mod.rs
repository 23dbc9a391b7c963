//! XDP/AF_XDP ingest: loads xdp/flowvision.bpf.c (built by build.rs) with aya,
//! attaches it through a BPF link (so the kernel detaches it when the process dies,
//! even on SIGKILL), fills its `ports` map, opens one AF_XDP socket per RX queue and
//! runs one pinned worker per queue into the same [`Pipeline`] as the UDP path.
//!
//! Any setup failure is an [`XdpError`] whose [`XdpError::cause`] names what is
//! missing, so `INGEST_MODE=auto` can log one line and carry on with UDP sockets.

pub mod socket;
pub mod worker;

use crate::config::{XdpAttachMode, XdpConfig};
use crate::pipeline::Pipeline;
use crate::telemetry::metrics::Exposition;
use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, XskMap};
use aya::programs::{Xdp, XdpMode};
use aya::Ebpf;
use socket::{SocketSettings, XskQueue};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use thiserror::Error;
use worker::QueueCounters;

/// The compiled XDP program (empty when clang was missing at build time).
static PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/flowvision.bpf.o"));

/// Names of the program's per-CPU counter slots, in slot order (see the enum in
/// xdp/flowvision.bpf.c): (metric, reason label).
pub const COUNTER_NAMES: [(&str, &str); 10] = [
    ("seen", ""),
    ("redirected", ""),
    ("passed", "not_ip"),
    ("passed", "not_udp"),
    ("passed", "fragment"),
    ("passed", "ipv6_extension_header"),
    ("passed", "port_not_ours"),
    ("passed", "no_socket"),
    ("passed", "truncated"),
    ("passed", "redirect_failed"),
];

/// Why XDP could not be set up, by the cause an operator acts on.
#[derive(Debug, Error)]
pub enum XdpError {
    /// No CAP_BPF/CAP_NET_ADMIN (or CAP_SYS_ADMIN), or a locked-down kernel.
    #[error("missing capability (CAP_BPF + CAP_NET_ADMIN, or root): {0}")]
    Capability(String),
    /// `XDP_INTERFACE` names no interface.
    #[error("no such interface {0:?}")]
    NoInterface(String),
    /// Not set.
    #[error("XDP_INTERFACE not set")]
    NoInterfaceConfigured,
    /// The driver (or mode asked for) has no XDP / AF_XDP support.
    #[error("driver without XDP support for this mode: {0}")]
    Driver(String),
    /// Another XDP program or AF_XDP socket already holds the interface/queue.
    #[error("busy interface (another XDP program or AF_XDP socket holds it): {0}")]
    Busy(String),
    /// The collector was built without clang.
    #[error("XDP program not built (clang missing at build time)")]
    NotBuilt,
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl XdpError {
    /// Short name of the cause, for logs and tests.
    pub fn cause(&self) -> &'static str {
        match self {
            XdpError::Capability(_) => "missing capability",
            XdpError::NoInterface(_) | XdpError::NoInterfaceConfigured => "no such interface",
            XdpError::Driver(_) => "driver without XDP",
            XdpError::Busy(_) => "busy interface",
            XdpError::NotBuilt => "program not built",
            XdpError::Other(_) => "other",
        }
    }

    /// Classifies an error from aya or the socket calls by the errno inside it.
    fn classify(what: &str, err: &(dyn std::error::Error + 'static)) -> XdpError {
        let mut text = format!("{what}: {err}");
        let mut source = err.source();
        let mut code = None;
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                code = code.or(io.raw_os_error());
            }
            cur = e.source();
        }
        while let Some(s) = source {
            // aya's messages often repeat their source already.
            let part = s.to_string();
            if !text.contains(&part) {
                text.push_str(": ");
                text.push_str(&part);
            }
            source = s.source();
        }
        match code {
            Some(c) if c == nix::errno::Errno::EPERM as i32 => XdpError::Capability(text),
            Some(c) if c == nix::errno::Errno::EACCES as i32 => XdpError::Capability(text),
            Some(c) if c == nix::errno::Errno::EBUSY as i32 || c == nix::errno::Errno::EEXIST as i32 => {
                XdpError::Busy(text)
            }
            Some(c)
                if c == nix::errno::Errno::EOPNOTSUPP as i32
                    || c == nix::errno::Errno::ENOTSUP as i32
                    || c == nix::errno::Errno::EPROTONOSUPPORT as i32 =>
            {
                XdpError::Driver(text)
            }
            Some(c) if c == nix::errno::Errno::ENODEV as i32 => XdpError::NoInterface(text),
            _ => XdpError::Other(text),
        }
    }
}

/// Builds the pipeline of queue `i`.
pub type PipelineFactory<'a> = dyn FnMut(usize) -> Pipeline + 'a;

/// A running XDP ingest: program attached, one worker per queue.
pub struct XdpIngest {
    /// Keeps the program loaded and its link attached; dropped = detached.
    _ebpf: Ebpf,
    counters_map: Arc<Mutex<PerCpuArray<MapData, u64>>>,
    queues: Vec<Arc<QueueCounters>>,
    threads: Vec<JoinHandle<()>>,
    /// The XDP workers' own stop flag (a failed start must not stop anyone else).
    stop: Arc<AtomicBool>,
    /// Interface, mode and queue count, for the start-up log line.
    pub description: String,
}

impl std::fmt::Debug for XdpIngest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpIngest").field("description", &self.description).finish_non_exhaustive()
    }
}

/// RX queues of `interface` (from sysfs), at least 1.
fn rx_queues(interface: &str) -> u32 {
    std::fs::read_dir(format!("/sys/class/net/{interface}/queues"))
        .map(|d| {
            d.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with("rx-")).count()
        })
        .ok()
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(1)
        .max(1)
}

impl XdpIngest {
    /// Loads and attaches the program, opens the sockets and starts the workers.
    /// On error nothing is left attached.
    pub fn start(
        config: &XdpConfig,
        ports: &[u16],
        make_pipeline: &mut PipelineFactory<'_>,
    ) -> Result<XdpIngest, XdpError> {
        let stop = Arc::new(AtomicBool::new(false));
        let interface = config.interface.clone().ok_or(XdpError::NoInterfaceConfigured)?;
        if nix::net::if_::if_nametoindex(interface.as_str()).is_err() {
            return Err(XdpError::NoInterface(interface));
        }
        if PROGRAM.is_empty() {
            return Err(XdpError::NotBuilt);
        }
        let mut ebpf = Ebpf::load(PROGRAM).map_err(|e| XdpError::classify("loading the XDP program", &e))?;
        {
            let map = ebpf.map_mut("ports").ok_or_else(|| XdpError::Other("no ports map".into()))?;
            let mut map: BpfHashMap<&mut MapData, u16, u8> =
                BpfHashMap::try_from(map).map_err(|e| XdpError::classify("ports map", &e))?;
            for port in ports {
                // The program compares the port as it is in the packet (big-endian).
                let key = u16::from_ne_bytes(port.to_be_bytes());
                map.insert(key, 1, 0).map_err(|e| XdpError::classify("filling the ports map", &e))?;
            }
        }
        let counters_map =
            ebpf.take_map("counters").ok_or_else(|| XdpError::Other("no counters map".into()))?;
        let counters_map: PerCpuArray<MapData, u64> =
            PerCpuArray::try_from(counters_map).map_err(|e| XdpError::classify("counters map", &e))?;
        let mode = match config.attach {
            XdpAttachMode::Auto => XdpMode::Default,
            XdpAttachMode::Native => XdpMode::Driver,
            XdpAttachMode::Generic => XdpMode::Skb,
        };
        {
            let program: &mut Xdp = ebpf
                .program_mut("flowvision_xdp")
                .ok_or_else(|| XdpError::Other("no flowvision_xdp program in the object".into()))?
                .try_into()
                .map_err(|e| XdpError::classify("XDP program", &e))?;
            program.load().map_err(|e| XdpError::classify("loading the XDP program", &e))?;
            program
                .attach(&interface, mode)
                .map_err(|e| XdpError::classify(&format!("attaching to {interface}"), &e))?;
        }
        let queue_count = if config.queues == 0 { rx_queues(&interface) } else { config.queues };
        let settings = SocketSettings {
            frames: config.umem_frames,
            frame_size: config.frame_size,
            ring_size: config.ring_size,
            copy: config.copy,
        };
        let mut xsks: XskMap<MapData> =
            XskMap::try_from(ebpf.take_map("xsks_map").ok_or_else(|| XdpError::Other("no xsks_map".into()))?)
                .map_err(|e| XdpError::classify("xsks_map", &e))?;
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let mut threads = Vec::new();
        let mut queues = Vec::new();
        let mut failure = None;
        for q in 0..queue_count {
            // The UMEM is not Send (raw shared memory), so each socket is created on
            // the worker thread that uses it; the thread reports its fd or the error.
            let (tx, rx) = std::sync::mpsc::channel();
            let counters = Arc::new(QueueCounters::default());
            let pipeline = make_pipeline(q as usize);
            let core = cores.get(q as usize % cores.len().max(1)).map(|c| c.id);
            let stop_q = Arc::clone(&stop);
            let iface = interface.clone();
            let counters_q = Arc::clone(&counters);
            let spawned = std::thread::Builder::new().name(format!("xdp-{q}")).spawn(move || {
                match XskQueue::open(&iface, q, settings) {
                    Ok(queue) => {
                        let _ = tx.send(Ok(queue.fd()));
                        worker::run(queue, pipeline, counters_q, core, stop_q);
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
            let handle = match spawned {
                Ok(h) => h,
                Err(e) => {
                    failure = Some(XdpError::Other(format!("starting a worker thread: {e}")));
                    break;
                }
            };
            threads.push(handle);
            match rx.recv() {
                Ok(Ok(fd)) => {
                    if let Err(e) = xsks.set(q, fd, 0) {
                        failure = Some(XdpError::classify(&format!("xsks_map[{q}]"), &e));
                        break;
                    }
                    queues.push(counters);
                }
                Ok(Err(e)) => {
                    failure =
                        Some(XdpError::classify(&format!("AF_XDP socket on {interface} queue {q}"), &e));
                    break;
                }
                Err(_) => {
                    failure = Some(XdpError::Other(format!("queue {q} worker died during setup")));
                    break;
                }
            }
        }
        if let Some(e) = failure {
            // Workers already running see `stop` and exit; dropping `ebpf` detaches.
            stop.store(true, Ordering::Release);
            for t in threads {
                let _ = t.join();
            }
            return Err(e);
        }
        let description = format!(
            "XDP on {interface} ({:?} mode, {queue_count} queue{}, {:?} copy mode), AF_XDP sockets",
            config.attach,
            if queue_count == 1 { "" } else { "s" },
            config.copy
        );
        // The XSKMAP must stay alive with the program; keep it in the Ebpf's lifetime
        // by leaking nothing: the map fd is held by the loaded program.
        drop(xsks);
        Ok(XdpIngest {
            _ebpf: ebpf,
            counters_map: Arc::new(Mutex::new(counters_map)),
            queues,
            threads,
            stop,
            description,
        })
    }

    /// Writes the program's and the sockets' counters.
    pub fn metrics(&self) -> impl Fn(&mut Exposition) + Send + Sync + 'static {
        let map = Arc::clone(&self.counters_map);
        let queues = self.queues.clone();
        move |e: &mut Exposition| write_metrics(e, &map, &queues)
    }

    /// Stops the workers (each drains its ring and sends its batch), waits for them,
    /// then detaches the program.
    pub fn join(self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn write_metrics(e: &mut Exposition, map: &Mutex<PerCpuArray<MapData, u64>>, queues: &[Arc<QueueCounters>]) {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    let value = |slot: u32| map.get(&slot, 0).map(|v| v.iter().sum::<u64>()).unwrap_or(0);
    e.single(
        "flowvision_xdp_packets_seen_total",
        "counter",
        "Packets the XDP program looked at (all CPUs).",
        value(0),
    );
    e.single(
        "flowvision_xdp_packets_redirected_total",
        "counter",
        "Packets the XDP program steered into AF_XDP sockets.",
        value(1),
    );
    e.family(
        "flowvision_xdp_packets_passed_total",
        "counter",
        "Packets the XDP program left to the kernel stack, by reason.",
    );
    for (slot, (name, reason)) in COUNTER_NAMES.iter().enumerate() {
        if *name == "passed" {
            e.sample("flowvision_xdp_packets_passed_total", &[("reason", reason)], value(slot as u32));
        }
    }
    let load = |f: &dyn Fn(&QueueCounters) -> u64| queues.iter().map(|q| f(q)).sum::<u64>();
    let r = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    for (name, help, v) in [
        ("flowvision_xdp_frames_total", "Frames read from AF_XDP RX rings.", load(&|q| r(&q.frames))),
        (
            "flowvision_xdp_datagrams_total",
            "UDP datagrams from AF_XDP frames handed to the decoders.",
            load(&|q| r(&q.datagrams)),
        ),
        (
            "flowvision_xdp_frames_bad_checksum_total",
            "AF_XDP frames dropped for a wrong IPv4 header or UDP checksum.",
            load(&|q| r(&q.bad_checksum)),
        ),
        (
            "flowvision_xdp_frames_malformed_total",
            "AF_XDP frames that held no complete UDP datagram.",
            load(&|q| r(&q.malformed)),
        ),
        (
            "flowvision_xdp_partial_checksum_total",
            "AF_XDP datagrams from local senders with offloaded (partial) UDP checksums, accepted.",
            load(&|q| r(&q.partial_checksum)),
        ),
        (
            "flowvision_xdp_rx_dropped_total",
            "XDP_STATISTICS rx_dropped: frames the socket dropped (e.g. larger than a UMEM frame).",
            load(&|q| r(&q.rx_dropped)),
        ),
        (
            "flowvision_xdp_rx_invalid_descs_total",
            "XDP_STATISTICS rx_invalid_descs.",
            load(&|q| r(&q.rx_invalid_descs)),
        ),
        (
            "flowvision_xdp_rx_ring_full_total",
            "XDP_STATISTICS rx_ring_full: frames dropped because a worker fell behind.",
            load(&|q| r(&q.rx_ring_full)),
        ),
        (
            "flowvision_xdp_fill_ring_empty_total",
            "XDP_STATISTICS rx_fill_ring_empty_descs: times the kernel had no buffer to receive into.",
            load(&|q| r(&q.rx_fill_ring_empty)),
        ),
    ] {
        e.single(name, "counter", help, v);
    }
    e.single("flowvision_xdp_queues", "gauge", "AF_XDP sockets (RX queues) in use.", queues.len() as u64);
}
