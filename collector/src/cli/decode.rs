//! `flowvision-collector decode FILE...`: decodes every UDP datagram of capture files
//! (or raw payload files) with one shared decoder and prints one JSON object per flow
//! record on stdout, then a summary on stderr.

use clap::Args;
use flowvision_capture::{CaptureError, CaptureFormat, CaptureStats, DatagramReader};
use flowvision_codec::offline::OfflineDecoder;
use flowvision_codec::{detect, json, raw, DecodeOutput, Detected, TemplateCacheConfig};
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Raw payload files larger than this are refused: no datagram is that large, and
/// reading `/dev/zero` by mistake must not exhaust memory.
const MAX_RAW_FILE: u64 = 16 << 20;

const AFTER_HELP: &str = "\
Input: pcap (either byte order, micro- or nanosecond) and pcapng are recognized by their
magic number. Every UDP datagram on any port is decoded (IPv4/IPv6, VLAN tags, IP
fragments reassembled); the exporter is the datagram's source address, and the capture
time of each frame is the decoder's clock (template hold times follow capture time).
Any other file is ONE raw UDP payload from --exporter. Templates persist across the
files of one command line, in order, so a template file can precede its data file.

Output: one JSON object per flow record (JSON Lines) with the fields protocol,
exporter, observation_domain, sequence, src_addr, dst_addr, src_port, dst_port, proto,
tcp_flags, tos, bytes, packets, sampling_rate, in_if, out_if, src_as, dst_as, next_hop,
src_mask, dst_mask, vlan, flow_start, flow_end. Counters are as exported (not scaled
by sampling_rate); times are RFC 3339 UTC; absent values are null.

Summary (stderr): files, frames, datagrams, records per protocol, undecodable datagrams
by reason, skipped frames by reason, and held data sets whose template never came.

Exit status: 0 when every file was read (undecodable datagrams and a capture cut short
in its last record are reported, not failures); 1 when a file could not be opened or
read; 2 on bad usage.";

/// Options of `decode`.
#[derive(Debug, Clone, Args)]
#[command(after_help = AFTER_HELP)]
pub struct DecodeArgs {
    /// pcap/pcapng capture or raw UDP payload files, decoded in order; `-` reads
    /// standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Split raw payload files holding several datagrams back to back: NetFlow v5 by
    /// its record count (24 + 48 x count bytes), IPFIX by its message length. NetFlow
    /// v9 and sFlow carry no length, so from the first of those on the rest of the file
    /// stays one datagram.
    #[arg(long)]
    pub raw_split: bool,
    /// Exporter address for raw payloads, which have no IP header.
    #[arg(long, value_name = "ADDR", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub exporter: IpAddr,
}

/// Per-protocol counters (keyed by protocol name, `unknown` when not even the
/// version could be recognized).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProtocolCounts {
    /// Datagrams of this protocol.
    pub datagrams: u64,
    /// Flow records printed.
    pub records: u64,
    /// Undecodable datagrams by [`flowvision_codec::DecodeError::reason`].
    pub undecodable: BTreeMap<&'static str, u64>,
}

/// Everything `decode` counted.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Inputs given (opened or not).
    pub files: u64,
    /// Inputs that were pcap files.
    pub pcap_files: u64,
    /// Inputs that were pcapng files.
    pub pcapng_files: u64,
    /// Inputs taken as raw payloads.
    pub raw_files: u64,
    /// Captures that ended inside a record (read up to it).
    pub truncated_files: u64,
    /// Inputs that could not be opened or read.
    pub failed_files: u64,
    /// Frame-level counters of all captures.
    pub capture: CaptureStats,
    /// Datagrams decoded (from captures and raw files).
    pub datagrams: u64,
    /// Flow records printed.
    pub records: u64,
    /// Counters by protocol name.
    pub protocols: BTreeMap<&'static str, ProtocolCounts>,
    /// Held data sets decoded once their template arrived.
    pub held_released: u64,
    /// Held data sets dropped while decoding because they waited too long.
    pub held_timed_out: u64,
    /// Held data sets dropped because the holding area was full.
    pub held_overflow: u64,
    /// Held data sets still waiting at the end: their template was never seen.
    pub held_never_released: u64,
}

impl Summary {
    /// Undecodable datagrams of all protocols by reason.
    pub fn undecodable(&self) -> BTreeMap<&'static str, u64> {
        let mut all = BTreeMap::new();
        for p in self.protocols.values() {
            for (reason, n) in &p.undecodable {
                *all.entry(*reason).or_insert(0) += n;
            }
        }
        all
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |f: &mut fmt::Formatter<'_>, label: &str, n: u64| writeln!(f, "  {label:<40}{n:>10}");
        writeln!(f, "decode summary:")?;
        writeln!(
            f,
            "  {:<40}{:>10}  (pcap {}, pcapng {}, raw {})",
            "files", self.files, self.pcap_files, self.pcapng_files, self.raw_files
        )?;
        line(f, "frames", self.capture.frames)?;
        line(f, "datagrams", self.datagrams)?;
        if self.capture.reassembled > 0 {
            line(f, "  reassembled from IP fragments", self.capture.reassembled)?;
        }
        line(f, "records", self.records)?;
        let undecodable = self.undecodable();
        line(f, "undecodable datagrams", undecodable.values().sum())?;
        for (reason, n) in &undecodable {
            line(f, &format!("  {reason}"), *n)?;
        }
        line(f, "skipped frames", self.capture.skipped.total())?;
        for (reason, n) in self.capture.skipped.iter() {
            line(f, &format!("  {reason}"), n)?;
        }
        line(f, "held sets released", self.held_released)?;
        if self.held_timed_out > 0 {
            line(f, "held sets dropped (timeout)", self.held_timed_out)?;
        }
        if self.held_overflow > 0 {
            line(f, "held sets dropped (holding area full)", self.held_overflow)?;
        }
        line(f, "held sets dropped (template never seen)", self.held_never_released)?;
        line(f, "truncated files", self.truncated_files)?;
        line(f, "unreadable files", self.failed_files)?;
        if !self.protocols.is_empty() {
            writeln!(f, "  {:<16}{:>12}{:>12}{:>14}", "protocol", "datagrams", "records", "undecodable")?;
        }
        for (name, p) in &self.protocols {
            let bad: u64 = p.undecodable.values().sum();
            write!(f, "  {name:<16}{:>12}{:>12}{bad:>14}", p.datagrams, p.records)?;
            if bad > 0 {
                let reasons: Vec<String> = p.undecodable.iter().map(|(r, n)| format!("{r} {n}")).collect();
                write!(f, "  ({})", reasons.join(", "))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// How reading one input ended.
#[derive(Debug)]
pub enum InputEnd {
    /// Read to its end.
    Complete,
    /// The capture ends inside a record; everything before it was decoded.
    Truncated(CaptureError),
    /// The input could not be opened or read (further).
    Failed(String),
}

/// A decode run: one decoder (templates persist across inputs) and one output.
pub struct DecodeRun<W: Write> {
    decoder: OfflineDecoder,
    out: DecodeOutput,
    sink: W,
    summary: Summary,
    raw_split: bool,
    raw_exporter: IpAddr,
}

impl<W: Write> DecodeRun<W> {
    /// A run writing JSON lines to `sink`.
    pub fn new(args: &DecodeArgs, sink: W) -> Self {
        DecodeRun {
            decoder: OfflineDecoder::new(TemplateCacheConfig::default()),
            out: DecodeOutput::default(),
            sink,
            summary: Summary::default(),
            raw_split: args.raw_split,
            raw_exporter: args.exporter,
        }
    }

    /// Decodes the file at `path` (`-`: standard input). `Err` only when writing the
    /// output failed; input problems are counted and returned as [`InputEnd`].
    pub fn path(&mut self, path: &Path) -> io::Result<InputEnd> {
        if path.as_os_str() == "-" {
            return self.input(io::stdin().lock());
        }
        match File::open(path) {
            Ok(file) => self.input(BufReader::with_capacity(1 << 16, file)),
            Err(e) => {
                self.summary.files += 1;
                self.summary.failed_files += 1;
                Ok(InputEnd::Failed(format!("cannot open: {e}")))
            }
        }
    }

    /// Decodes one input stream: a capture, or else one raw payload.
    pub fn input<R: Read>(&mut self, mut reader: R) -> io::Result<InputEnd> {
        self.summary.files += 1;
        let mut head = [0u8; 4];
        let got = match read_up_to(&mut reader, &mut head) {
            Ok(n) => n,
            Err(e) => return Ok(self.failed(e.to_string())),
        };
        let head = head.get(..got).unwrap_or(&[]);
        let end = match CaptureFormat::detect(head) {
            Some(format) => {
                match format {
                    CaptureFormat::Pcapng => self.summary.pcapng_files += 1,
                    _ => self.summary.pcap_files += 1,
                }
                self.capture(io::Cursor::new(head.to_vec()).chain(reader))?
            }
            None => {
                self.summary.raw_files += 1;
                let mut buf = head.to_vec();
                match reader.take(MAX_RAW_FILE + 1).read_to_end(&mut buf) {
                    Ok(_) if buf.len() as u64 > MAX_RAW_FILE => InputEnd::Failed(format!(
                        "not a capture file, and larger than {MAX_RAW_FILE} bytes for a raw payload"
                    )),
                    Ok(_) => {
                        self.raw(&buf)?;
                        InputEnd::Complete
                    }
                    Err(e) => InputEnd::Failed(e.to_string()),
                }
            }
        };
        match &end {
            InputEnd::Complete => {}
            InputEnd::Truncated(_) => self.summary.truncated_files += 1,
            InputEnd::Failed(_) => self.summary.failed_files += 1,
        }
        Ok(end)
    }

    fn failed(&mut self, why: String) -> InputEnd {
        self.summary.failed_files += 1;
        InputEnd::Failed(why)
    }

    fn capture<R: Read>(&mut self, reader: R) -> io::Result<InputEnd> {
        let mut datagrams = match DatagramReader::new(reader) {
            Ok(r) => r,
            Err(e) if e.is_truncation() => return Ok(InputEnd::Truncated(e)),
            Err(e) => return Ok(InputEnd::Failed(e.to_string())),
        };
        let end = loop {
            match datagrams.next_datagram() {
                Ok(Some(d)) => {
                    let now_ms = d.timestamp_ns.div_euclid(1_000_000);
                    self.decoder.captured_at(now_ms);
                    self.datagram(d.src.ip(), d.payload, now_ms)?;
                }
                Ok(None) => break InputEnd::Complete,
                Err(e) if e.is_truncation() => break InputEnd::Truncated(e),
                Err(e) => break InputEnd::Failed(e.to_string()),
            }
        };
        self.summary.capture.merge(datagrams.stats());
        Ok(end)
    }

    fn raw(&mut self, buf: &[u8]) -> io::Result<()> {
        // The capture time of the last frame, when a capture came first.
        let now_ms = self.decoder.untimed_now(wall_clock_ms);
        let parts = if self.raw_split { raw::split(buf) } else { vec![buf] };
        for part in parts {
            self.datagram(self.raw_exporter, part, now_ms)?;
        }
        Ok(())
    }

    /// Decodes one datagram and prints its records.
    pub fn datagram(&mut self, exporter: IpAddr, payload: &[u8], now_ms: i64) -> io::Result<()> {
        self.out.clear();
        let result = self.decoder.decode(exporter, payload, now_ms, &mut self.out);
        let name = match &result {
            Ok(info) => info.protocol.as_str(),
            Err(_) => protocol_name(payload),
        };
        let counts = self.summary.protocols.entry(name).or_default();
        counts.datagrams += 1;
        counts.records += self.out.records.len() as u64;
        if let Err(e) = &result {
            *counts.undecodable.entry(e.reason()).or_insert(0) += 1;
        }
        self.summary.datagrams += 1;
        self.summary.records += self.out.records.len() as u64;
        // Records of sets complete before an error are good data and printed too.
        for rec in &self.out.records {
            json::write_record(&mut self.sink, rec)?;
            self.sink.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Counts held sets whose template never came, flushes the output and returns the
    /// summary.
    pub fn finish(mut self) -> io::Result<Summary> {
        let cache = self.decoder.decoder().cache();
        let counters = &cache.counters;
        self.summary.held_timed_out = counters.sets_dropped_timeout.load(Ordering::Relaxed);
        self.summary.held_overflow = counters.sets_dropped_overflow.load(Ordering::Relaxed);
        self.summary.held_never_released = cache.flush_pending();
        self.summary.held_released = counters.sets_released.load(Ordering::Relaxed);
        self.sink.flush()?;
        Ok(self.summary)
    }
}

/// The protocol a datagram claims to be, for counting the undecodable ones.
fn protocol_name(payload: &[u8]) -> &'static str {
    match detect(payload) {
        Ok(Detected::NetflowV5) => "netflow_v5",
        Ok(Detected::NetflowV9) => "netflow_v9",
        Ok(Detected::Ipfix) => "ipfix",
        Ok(Detected::SflowV5) => "sflow_v5",
        Err(_) => "unknown",
    }
}

fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Runs `decode`: exit 0 when every input was read, 1 when one could not be.
pub fn run(args: &DecodeArgs) -> ExitCode {
    let sink = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut run = DecodeRun::new(args, sink);
    for path in &args.files {
        let name = path.display();
        match run.path(path) {
            Ok(InputEnd::Complete) => {}
            Ok(InputEnd::Truncated(e)) => {
                eprintln!(
                    "flowvision-collector: warning: {name}: {e} (complete records before it were decoded)"
                )
            }
            Ok(InputEnd::Failed(why)) => eprintln!("flowvision-collector: error: {name}: {why}"),
            Err(e) => return output_failed(&e),
        }
    }
    let summary = match run.finish() {
        Ok(s) => s,
        Err(e) => return output_failed(&e),
    };
    eprint!("{summary}");
    if summary.failed_files > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// stdout closed by the reader (`| head`) ends the run quietly; other write errors
/// are failures.
fn output_failed(e: &io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("flowvision-collector: error: cannot write output: {e}");
    ExitCode::from(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use flowvision_capture::PcapWriter;

    fn args() -> DecodeArgs {
        DecodeArgs { files: Vec::new(), raw_split: false, exporter: IpAddr::V4(Ipv4Addr::UNSPECIFIED) }
    }

    /// A NetFlow v5 datagram with `count` records, built field by field.
    fn v5(count: u16, seq: u32) -> Vec<u8> {
        let mut d = vec![0, 5];
        d.extend(count.to_be_bytes());
        d.extend(1000u32.to_be_bytes()); // sysUpTime
        d.extend(1_700_000_000u32.to_be_bytes());
        d.extend(0u32.to_be_bytes());
        d.extend(seq.to_be_bytes());
        d.extend([0, 0, 0, 0]);
        for i in 0..count {
            d.extend([10, 0, 0, i as u8, 10, 0, 1, 1, 0, 0, 0, 0]);
            d.extend([0, 1, 0, 2]); // in/out if
            d.extend(3u32.to_be_bytes()); // packets
            d.extend(300u32.to_be_bytes()); // bytes
            d.extend(500u32.to_be_bytes());
            d.extend(900u32.to_be_bytes());
            d.extend([0, 80, 1, 187, 0, 0x12, 6, 0, 0, 0, 0, 0, 24, 16, 0, 0]);
        }
        d
    }

    #[test]
    fn capture_and_raw_inputs() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        let src = "192.0.2.9:5000".parse().unwrap();
        let dst = "192.0.2.1:2055".parse().unwrap();
        w.write_udp(1_700_000_000_000_000_000, src, dst, &v5(2, 1)).unwrap();
        w.write_udp(1_700_000_000_500_000_000, src, dst, b"\x00\x63garbage").unwrap();
        let pcap = w.into_inner();

        let mut run = DecodeRun::new(&args(), Vec::new());
        assert!(matches!(run.input(&pcap[..]).unwrap(), InputEnd::Complete));
        let raw = [v5(1, 2), v5(3, 3)].concat();
        assert!(matches!(run.input(&raw[..]).unwrap(), InputEnd::Complete));
        let mut split = DecodeRun::new(&DecodeArgs { raw_split: true, ..args() }, Vec::new());
        split.input(&raw[..]).unwrap();
        let cut = &pcap[..pcap.len() - 2];
        assert!(matches!(run.input(cut).unwrap(), InputEnd::Truncated(_)));

        let out = String::from_utf8(run.sink.clone()).unwrap();
        let s = run.finish().unwrap();
        let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        // 2 from the pcap, 1 from the unsplit raw file (v5 ignores what follows its
        // records), 2 again from the cut pcap's first datagram.
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["exporter"], "192.0.2.9");
        assert_eq!(lines[0]["src_addr"], "10.0.0.0");
        assert_eq!(lines[0]["bytes"], 300);
        assert_eq!(lines[2]["exporter"], "0.0.0.0");
        assert_eq!((s.files, s.pcap_files, s.raw_files, s.truncated_files), (3, 2, 1, 1));
        assert_eq!((s.datagrams, s.records), (4, 5));
        assert_eq!(s.protocols["unknown"].undecodable["unknown_protocol"], 1);
        assert_eq!(s.capture.frames, 3);
        let text = s.to_string();
        assert!(text.contains("unknown_protocol"), "{text}");

        let s = split.finish().unwrap();
        assert_eq!((s.datagrams, s.records), (2, 4));
    }
}
