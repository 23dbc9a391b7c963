//! Files written by `PcapWriter`, and fragmented captures built here, as tshark sees
//! them: no malformed packets, valid checksums, and the same datagrams we read.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use flowvision_capture::{DatagramReader, PcapWriter};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

fn tshark_available() -> bool {
    Command::new("tshark").arg("-v").output().map(|o| o.status.success()).unwrap_or(false)
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("flowvision-capture-{}-{name}", std::process::id()))
}

fn tshark_fields(path: &PathBuf, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path).args(["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]);
    cmd.args(["-T", "fields", "-E", "separator=|"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('|').map(str::to_owned).collect()).collect()
}

#[test]
fn tshark_reads_written_files_without_malformed_packets() {
    if !tshark_available() {
        println!("SKIPPED: tshark not installed");
        return;
    }
    let path = temp_file("writer.pcap");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = PcapWriter::new(file).unwrap();
    let v4: [SocketAddr; 2] = ["192.0.2.10:50000".parse().unwrap(), "198.51.100.1:2055".parse().unwrap()];
    let v6: [SocketAddr; 2] =
        ["[2001:db8::10]:50001".parse().unwrap(), "[2001:db8::1]:4739".parse().unwrap()];
    let mut sent = Vec::new();
    for i in 0..40u32 {
        let [src, dst] = if i % 2 == 0 { v4 } else { v6 };
        // Odd and even lengths exercise the checksum's padding byte.
        let payload: Vec<u8> = (0..(i * 37 % 1400 + i % 2)).map(|b| (b ^ i) as u8).collect();
        let ts = 1_700_000_000_000_000_000 + i64::from(i) * 1_000_123;
        w.write_udp(ts, src, dst, &payload).unwrap();
        sent.push((ts, src, dst, payload));
    }
    w.flush().unwrap();
    drop(w);

    let rows = tshark_fields(
        &path,
        &["frame.number", "ip.checksum.status", "udp.checksum.status", "udp.length", "_ws.malformed"],
    );
    assert_eq!(rows.len(), sent.len());
    for (row, (_, _, _, payload)) in rows.iter().zip(&sent) {
        let is_v4 = !row[1].is_empty();
        if is_v4 {
            assert_eq!(row[1], "1", "IPv4 checksum not good: {row:?}");
        }
        assert_eq!(row[2], "1", "UDP checksum not good: {row:?}");
        assert_eq!(row[3], (payload.len() + 8).to_string());
        assert!(row[4].is_empty(), "malformed: {row:?}");
    }
    let mut r = DatagramReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let (got, err) = r.read_all();
    assert!(err.is_none());
    for (g, (ts, src, dst, payload)) in got.iter().zip(&sent) {
        assert_eq!((g.timestamp_ns, g.src, g.dst, &g.payload), (*ts, *src, *dst, payload));
    }
    println!("{} datagrams written and verified by tshark", rows.len());
    std::fs::remove_file(&path).unwrap();
}

/// Builds an IPv4 fragment as an Ethernet frame.
fn v4_fragment(id: u16, offset: usize, more: bool, body: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    let start = f.len();
    f.extend([0x45, 0]);
    f.extend(((20 + body.len()) as u16).to_be_bytes());
    f.extend(id.to_be_bytes());
    f.extend(((offset / 8) as u16 | if more { 0x2000 } else { 0 }).to_be_bytes());
    f.extend([64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    let sum = !fold(f[start..].chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum());
    f[start + 10..start + 12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(body);
    f
}

fn fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// A fragmented datagram (sent out of order) is one datagram for tshark and for us.
#[test]
fn fragmented_datagram_counts_like_tshark() {
    if !tshark_available() {
        println!("SKIPPED: tshark not installed");
        return;
    }
    let payload: Vec<u8> = (0..4000u32).map(|i| (i * 7) as u8).collect();
    let mut udp = 9999u16.to_be_bytes().to_vec();
    udp.extend(2055u16.to_be_bytes());
    udp.extend(((payload.len() + 8) as u16).to_be_bytes());
    udp.extend([0, 0]); // no checksum
    udp.extend(&payload);
    let mut file = Vec::new();
    file.extend(0xa1b2_c3d4u32.to_le_bytes());
    file.extend([2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]);
    let pieces = [(1480usize, true), (0, true), (2960, false)];
    for (i, (off, more)) in pieces.into_iter().enumerate() {
        let end = if more { off + 1480 } else { udp.len() };
        let frame = v4_fragment(77, off, more, &udp[off..end]);
        file.extend((1_700_000_000u32 + i as u32).to_le_bytes());
        file.extend(0u32.to_le_bytes());
        file.extend((frame.len() as u32).to_le_bytes());
        file.extend((frame.len() as u32).to_le_bytes());
        file.extend(frame);
    }
    let path = temp_file("fragments.pcap");
    std::fs::write(&path, &file).unwrap();
    let rows = tshark_fields(&path, &["frame.number", "udp.length", "_ws.malformed"]);
    let udp_rows: Vec<_> = rows.iter().filter(|r| !r[1].is_empty()).collect();
    let mut r = DatagramReader::new(&file[..]).unwrap();
    let (got, err) = r.read_all();
    assert!(err.is_none());
    assert_eq!(got.len(), udp_rows.len(), "tshark rows {rows:?}");
    assert_eq!(udp_rows[0][1], (payload.len() + 8).to_string());
    assert_eq!(got[0].payload, payload);
    assert_eq!(r.stats().fragments, 3);
    println!("fragmented datagram: tshark and flowvision both see {} datagram(s)", got.len());
    std::fs::remove_file(&path).unwrap();
}
