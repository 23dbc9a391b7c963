//! Reads every pcap/pcapng under the shared fixtures and, when tshark is installed,
//! checks the UDP datagram count of each file against tshark's own dissection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_capture::{CaptureFormat, CaptureStats, DatagramReader};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("FLOWVISION_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
    };
    dir.is_dir().then_some(dir)
}

/// Every file under `dir` whose first bytes are a pcap or pcapng magic, sorted.
fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let head: Vec<u8> = fs::read(&path).unwrap().into_iter().take(4).collect();
                if CaptureFormat::detect(&head).is_some() {
                    out.push(path);
                }
            }
        }
    }
    out.sort();
    out
}

struct FileResult {
    datagrams: u64,
    stats: CaptureStats,
    error: Option<String>,
}

fn read_file(path: &Path) -> FileResult {
    let file = fs::File::open(path).unwrap();
    let mut reader = DatagramReader::new(std::io::BufReader::new(file)).unwrap();
    let mut datagrams = 0u64;
    let error = loop {
        match reader.next_datagram() {
            Ok(Some(d)) => {
                assert!(d.payload.len() <= 65_535);
                datagrams += 1;
            }
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    let stats = *reader.stats();
    assert_eq!(stats.frames, stats.datagrams - stats.reassembled + stats.fragments + stats.skipped.total());
    FileResult { datagrams, stats, error }
}

fn tshark_available() -> bool {
    Command::new("tshark").arg("-v").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Frames tshark dissects as UDP directly over the outermost IP layer (so an ICMP
/// error quoting a UDP header, or a packet sampled inside sFlow, does not count).
/// Reassembled datagrams count once, on the frame that completed them.
fn tshark_udp_count(path: &Path) -> u64 {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-Y", "udp", "-T", "fields", "-e", "frame.protocols"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| {
            let layers: Vec<&str> = line.split(':').collect();
            let Some(ip) = layers.iter().position(|l| *l == "ip" || *l == "ipv6") else { return false };
            layers[ip + 1..].iter().find(|l| !l.starts_with("ipv6.")) == Some(&"udp")
        })
        .count() as u64
}

#[test]
fn every_fixture_capture_reads_and_matches_tshark() {
    let Some(dir) = fixtures_dir() else {
        println!("SKIPPED: fixtures directory not found (set FLOWVISION_FIXTURES)");
        return;
    };
    let files = capture_files(&dir);
    assert!(!files.is_empty(), "no capture files under {}", dir.display());
    let tshark = tshark_available();
    if !tshark {
        println!("tshark not installed: datagram counts not compared");
    }
    let mut total = CaptureStats::default();
    let mut mismatches = Vec::new();
    for path in &files {
        let r = read_file(path);
        total.merge(&r.stats);
        let name = path.strip_prefix(&dir).unwrap_or(path).display().to_string();
        if let Some(e) = &r.error {
            println!("{name}: {e}");
        }
        if tshark {
            let expected = tshark_udp_count(path);
            if expected != r.datagrams {
                mismatches.push(format!("{name}: tshark {expected}, flowvision {}", r.datagrams));
            }
        }
    }
    println!(
        "{} capture files: {} frames, {} UDP datagrams ({} reassembled), skipped {:?}",
        files.len(),
        total.frames,
        total.datagrams,
        total.reassembled,
        total.skipped.iter().collect::<Vec<_>>()
    );
    assert!(mismatches.is_empty(), "datagram counts differ from tshark:\n{}", mismatches.join("\n"));
}

/// The file cut at exactly 4,000,000 bytes: every complete record is read, then the
/// truncation is reported (tshark: 2708 frames, "cut short in the middle of a packet").
#[test]
fn file_cut_mid_record_stops_cleanly() {
    let Some(dir) = fixtures_dir() else {
        println!("SKIPPED: fixtures directory not found");
        return;
    };
    let path = dir.join("overflowd/netflow_4M.pcap");
    let file = fs::File::open(&path).unwrap();
    let mut reader = DatagramReader::new(std::io::BufReader::new(file)).unwrap();
    let (datagrams, err) = reader.read_all();
    let err = err.expect("truncation reported");
    assert!(err.is_truncation(), "{err}");
    assert!(reader.next_datagram().unwrap().is_none());
    if tshark_available() {
        assert_eq!(datagrams.len() as u64, tshark_udp_count(&path));
    }
    assert_eq!(datagrams.len(), 2708);
    println!("netflow_4M.pcap: {} datagrams, then: {err}", datagrams.len());
}
