//! The spool: batches waiting for the database, one fsync'd file each, replayed in
//! file-name (= spool sequence) order.
//!
//! File `NNNNNNNNNNNNNNNNNNNN.batch` (20-digit sequence), written as `.tmp`, fsync'd,
//! renamed, and the directory fsync'd: a file either is complete or does not exist.
//! Layout (big-endian):
//!
//! ```text
//! magic "FVSPOOL1" | instance u64 | seq u64 | rows u32 | rows... | crc32 (IEEE) of all before
//! row: time_received_ms i64, protocol u8, exporter addr, observation_domain u32, sequence u32,
//!      src_addr opt-addr, dst_addr opt-addr, src_port u16, dst_port u16, proto u8, tcp_flags u16,
//!      tos u8, bytes u64, packets u64, sampling_rate u32, sampling_origin u8, in_if u32, out_if u32,
//!      src_as u32, dst_as u32, next_hop opt-addr, src_mask u8, dst_mask u8, vlan u16,
//!      flow_start opt-i64, flow_end opt-i64, src_mac opt-[6], dst_mac opt-[6], mpls_label u32,
//!      direction opt-u8, sampler_id opt-u64
//! addr: tag 4 + 4 bytes | tag 6 + 16 bytes (opt-addr: tag 0 = none); opt-x: u8 0/1 + value
//! ```
//!
//! The batch id travels with its rows, so a replayed batch that had in fact been
//! committed is recognised and skipped. Files that fail to decode are moved to
//! `rejected/` and counted, as are batches the database refuses as invalid.
//! Rejected files count towards the bound until an operator removes them.

use super::error::StoreError;
use super::stats::StoreStats;
use super::{Batch, BatchId, FlowRow};
use flowvision_codec::cursor::Cursor;
use flowvision_codec::{FlowRecord, Protocol, SamplingOrigin};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

const MAGIC: &[u8; 8] = b"FVSPOOL1";
const EXT: &str = "batch";

#[derive(Debug, Default)]
struct State {
    next_seq: u64,
    /// Spooled files by sequence, with their sizes.
    files: BTreeMap<u64, u64>,
    /// Files a writer is replaying now.
    claimed: BTreeSet<u64>,
    /// Bytes of spooled and rejected files.
    bytes: u64,
}

/// The spool directory and its bookkeeping, shared by all writers.
#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    rejected: PathBuf,
    max_bytes: u64,
    /// Files with a lower sequence were left by an earlier process (see `state.rs`).
    first_own_seq: u64,
    state: Mutex<State>,
    stats: Arc<StoreStats>,
}

fn seq_of(path: &Path, ext: &str) -> Option<u64> {
    if path.extension()?.to_str()? != ext {
        return None;
    }
    path.file_stem()?.to_str()?.parse().ok()
}

impl Spool {
    /// Opens (creating) `dir`: removes unfinished `.tmp` files and indexes the rest.
    pub fn open(dir: &Path, max_bytes: u64, stats: Arc<StoreStats>) -> Result<Spool, StoreError> {
        let rejected = dir.join("rejected");
        fs::create_dir_all(&rejected).map_err(StoreError::io(&rejected))?;
        let mut st = State { next_seq: 1, ..State::default() };
        for d in [dir, rejected.as_path()] {
            for e in fs::read_dir(d).map_err(StoreError::io(d))? {
                let e = e.map_err(StoreError::io(d))?;
                let path = e.path();
                if seq_of(&path, "tmp").is_some() {
                    // Never renamed: the writer died before the batch was durable.
                    let _ = fs::remove_file(&path);
                    continue;
                }
                let Some(seq) = seq_of(&path, EXT) else { continue };
                let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                st.bytes += size;
                st.next_seq = st.next_seq.max(seq + 1);
                if d == dir {
                    st.files.insert(seq, size);
                }
            }
        }
        let first_own_seq = st.next_seq;
        let spool = Spool {
            dir: dir.to_path_buf(),
            rejected,
            max_bytes,
            first_own_seq,
            state: Mutex::new(st),
            stats,
        };
        {
            let st = spool.lock();
            if !st.files.is_empty() {
                log::info!(
                    "spool: {} batches ({} bytes) to replay from {}",
                    st.files.len(),
                    st.bytes,
                    dir.display()
                );
            }
            spool.publish(&st);
        }
        Ok(spool)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, st: &State) {
        self.stats.spool_bytes.store(st.bytes, Ordering::Relaxed);
        self.stats.spool_files.store(st.files.len() as u64, Ordering::Relaxed);
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.{EXT}"))
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Moves the batches left by earlier processes (not those this process spooled:
    /// they are for the database it connects to now) into `to`, unreplayed. Returns
    /// how many batches and bytes moved. Call before any replay: claimed files stay.
    pub fn orphan_leftovers(&self, to: &Path) -> Result<(u64, u64), StoreError> {
        let mut st = self.lock();
        let old: Vec<(u64, u64)> = st
            .files
            .range(..self.first_own_seq)
            .filter(|(s, _)| !st.claimed.contains(s))
            .map(|(&s, &z)| (s, z))
            .collect();
        let (mut batches, mut bytes) = (0, 0);
        let mut result = Ok(());
        for (seq, size) in old {
            let from = self.path(seq);
            if let Err(e) = fs::rename(&from, to.join(format!("{seq:020}.{EXT}"))) {
                result = Err(StoreError::io(&from)(e));
                break;
            }
            st.files.remove(&seq);
            st.bytes = st.bytes.saturating_sub(size);
            batches += 1;
            bytes += size;
        }
        self.publish(&st);
        result.map(|()| (batches, bytes))
    }

    /// True when no batch waits in the spool (claimed ones included).
    pub fn is_empty(&self) -> bool {
        self.lock().files.is_empty()
    }

    /// Writes `batch` durably. `Ok(false)`: the spool is full, the batch was dropped
    /// (and counted).
    pub fn append(&self, batch: &Batch) -> Result<bool, StoreError> {
        let bytes = encode(batch);
        let size = bytes.len() as u64;
        let seq = {
            let mut st = self.lock();
            if st.bytes + size > self.max_bytes {
                drop(st);
                self.stats.batches_dropped_spool_full.fetch_add(1, Ordering::Relaxed);
                self.stats.rows_dropped_spool_full.fetch_add(batch.rows.len() as u64, Ordering::Relaxed);
                return Ok(false);
            }
            // Reserve the space now so concurrent writers cannot overshoot the bound.
            st.bytes += size;
            let seq = st.next_seq;
            st.next_seq += 1;
            seq
        };
        let path = self.path(seq);
        match self.write_durably(&path, &bytes) {
            Ok(()) => {
                let mut st = self.lock();
                st.files.insert(seq, size);
                self.publish(&st);
                self.stats.batches_spooled.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            Err(e) => {
                let mut st = self.lock();
                st.bytes = st.bytes.saturating_sub(size);
                self.publish(&st);
                self.stats.spool_errors.fetch_add(1, Ordering::Relaxed);
                self.stats.rows_dropped_spool_error.fetch_add(batch.rows.len() as u64, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    fn write_durably(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = path.with_extension("tmp");
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, path)?;
            File::open(&self.dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(StoreError::io(path))
    }

    /// Claims the oldest unclaimed file for replay.
    pub fn claim_oldest(&self) -> Option<(u64, PathBuf)> {
        let mut st = self.lock();
        let seq = st.files.keys().find(|s| !st.claimed.contains(s)).copied()?;
        st.claimed.insert(seq);
        Some((seq, self.path(seq)))
    }

    /// Reads a claimed file.
    pub fn read(&self, path: &Path) -> Result<Batch, StoreError> {
        let bytes = fs::read(path).map_err(StoreError::io(path))?;
        decode(&bytes).map_err(|why| StoreError::SpoolCorrupt { path: path.to_path_buf(), why })
    }

    /// The claimed file is in the database (or was already): delete it.
    pub fn complete(&self, seq: u64) {
        let _ = fs::remove_file(self.path(seq));
        let mut st = self.lock();
        st.claimed.remove(&seq);
        if let Some(size) = st.files.remove(&seq) {
            st.bytes = st.bytes.saturating_sub(size);
        }
        self.publish(&st);
    }

    /// Replay failed for a reason that may pass: give the file back.
    pub fn release(&self, seq: u64) {
        self.lock().claimed.remove(&seq);
    }

    /// The file can never be stored: move it to `rejected/` (kept for the operator).
    pub fn reject(&self, seq: u64) {
        let from = self.path(seq);
        let to = self.rejected.join(format!("{seq:020}.{EXT}"));
        if let Err(e) = fs::rename(&from, &to) {
            log::error!("spool: cannot move {} to {}: {e}", from.display(), to.display());
        }
        let mut st = self.lock();
        st.claimed.remove(&seq);
        st.files.remove(&seq);
        self.publish(&st);
    }

    /// Writes a batch straight into `rejected/` (the database refused it as invalid).
    pub fn reject_batch(&self, batch: &Batch) -> Result<(), StoreError> {
        let bytes = encode(batch);
        let seq = {
            let mut st = self.lock();
            st.bytes += bytes.len() as u64;
            let seq = st.next_seq;
            st.next_seq += 1;
            self.publish(&st);
            seq
        };
        let path = self.rejected.join(format!("{seq:020}.{EXT}"));
        fs::write(&path, &bytes).map_err(StoreError::io(&path))
    }
}

// ---- encoding -------------------------------------------------------------------

fn put_addr(out: &mut Vec<u8>, a: Option<IpAddr>) {
    match a {
        None => out.push(0),
        Some(IpAddr::V4(v)) => {
            out.push(4);
            out.extend_from_slice(&v.octets());
        }
        Some(IpAddr::V6(v)) => {
            out.push(6);
            out.extend_from_slice(&v.octets());
        }
    }
}

fn put_opt<const N: usize>(out: &mut Vec<u8>, v: Option<[u8; N]>) {
    match v {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            out.extend_from_slice(&b);
        }
    }
}

fn protocol_code(p: Protocol) -> u8 {
    match p {
        Protocol::NetflowV5 => 5,
        Protocol::NetflowV9 => 9,
        Protocol::Ipfix => 10,
        Protocol::SflowV5 => 50,
    }
}

fn origin_code(o: SamplingOrigin) -> u8 {
    match o {
        SamplingOrigin::Unsampled => 0,
        SamplingOrigin::V5Header => 1,
        SamplingOrigin::Record => 2,
        SamplingOrigin::SamplerTable => 3,
        SamplingOrigin::ExporterOptions => 4,
        SamplingOrigin::SflowSample => 5,
        SamplingOrigin::Configured => 6,
    }
}

/// The spool file bytes of `batch`.
pub(crate) fn encode(batch: &Batch) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + batch.rows.len() * 110);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&batch.id.instance.to_be_bytes());
    out.extend_from_slice(&batch.id.seq.to_be_bytes());
    out.extend_from_slice(&(batch.rows.len() as u32).to_be_bytes());
    for row in &batch.rows {
        let r = &row.record;
        out.extend_from_slice(&row.time_received_ms.to_be_bytes());
        out.push(protocol_code(r.protocol));
        put_addr(&mut out, Some(r.exporter));
        out.extend_from_slice(&r.observation_domain.to_be_bytes());
        out.extend_from_slice(&r.sequence.to_be_bytes());
        put_addr(&mut out, r.src_addr);
        put_addr(&mut out, r.dst_addr);
        out.extend_from_slice(&r.src_port.to_be_bytes());
        out.extend_from_slice(&r.dst_port.to_be_bytes());
        out.push(r.proto);
        out.extend_from_slice(&r.tcp_flags.to_be_bytes());
        out.push(r.tos);
        out.extend_from_slice(&r.bytes.to_be_bytes());
        out.extend_from_slice(&r.packets.to_be_bytes());
        out.extend_from_slice(&r.sampling_rate.to_be_bytes());
        out.push(origin_code(r.sampling_origin));
        for v in [r.in_if, r.out_if, r.src_as, r.dst_as] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        put_addr(&mut out, r.next_hop);
        out.push(r.src_mask);
        out.push(r.dst_mask);
        out.extend_from_slice(&r.vlan.to_be_bytes());
        put_opt(&mut out, r.flow_start_ms.map(i64::to_be_bytes));
        put_opt(&mut out, r.flow_end_ms.map(i64::to_be_bytes));
        put_opt(&mut out, r.src_mac);
        put_opt(&mut out, r.dst_mac);
        out.extend_from_slice(&r.mpls_label.to_be_bytes());
        put_opt(&mut out, r.direction.map(|d| [d]));
        put_opt(&mut out, r.sampler_id.map(u64::to_be_bytes));
    }
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

type R<T> = Result<T, &'static str>;
const TRUNC: &str = "truncated";

fn get_addr(c: &mut Cursor<'_>) -> R<Option<IpAddr>> {
    match c.u8().map_err(|_| TRUNC)? {
        0 => Ok(None),
        4 => Ok(Some(IpAddr::V4(Ipv4Addr::from(c.array::<4>().map_err(|_| TRUNC)?)))),
        6 => Ok(Some(IpAddr::V6(Ipv6Addr::from(c.array::<16>().map_err(|_| TRUNC)?)))),
        _ => Err("bad address tag"),
    }
}

fn get_opt<const N: usize>(c: &mut Cursor<'_>) -> R<Option<[u8; N]>> {
    match c.u8().map_err(|_| TRUNC)? {
        0 => Ok(None),
        1 => Ok(Some(c.array::<N>().map_err(|_| TRUNC)?)),
        _ => Err("bad option tag"),
    }
}

/// Decodes spool file bytes.
pub(crate) fn decode(bytes: &[u8]) -> R<Batch> {
    let body_len = bytes.len().checked_sub(4).ok_or(TRUNC)?;
    let (body, tail) = bytes.split_at(body_len);
    let stored = u32::from_be_bytes(tail.try_into().map_err(|_| TRUNC)?);
    if crc32(body) != stored {
        return Err("checksum mismatch");
    }
    let mut c = Cursor::new(body, "spool");
    let t = |_: flowvision_codec::DecodeError| TRUNC;
    if &c.array::<8>().map_err(t)? != MAGIC {
        return Err("bad magic");
    }
    let id = BatchId { instance: c.u64().map_err(t)?, seq: c.u64().map_err(t)? };
    let n = c.u32().map_err(t)? as usize;
    let mut rows = Vec::with_capacity(n.min(body.len() / 60));
    for _ in 0..n {
        let time_received_ms = i64::from_be_bytes(c.array::<8>().map_err(t)?);
        let protocol = match c.u8().map_err(t)? {
            5 => Protocol::NetflowV5,
            9 => Protocol::NetflowV9,
            10 => Protocol::Ipfix,
            50 => Protocol::SflowV5,
            _ => return Err("bad protocol"),
        };
        let exporter = get_addr(&mut c)?.ok_or("missing exporter")?;
        let mut r = FlowRecord::new(protocol, exporter);
        r.observation_domain = c.u32().map_err(t)?;
        r.sequence = c.u32().map_err(t)?;
        r.src_addr = get_addr(&mut c)?;
        r.dst_addr = get_addr(&mut c)?;
        r.src_port = c.u16().map_err(t)?;
        r.dst_port = c.u16().map_err(t)?;
        r.proto = c.u8().map_err(t)?;
        r.tcp_flags = c.u16().map_err(t)?;
        r.tos = c.u8().map_err(t)?;
        r.bytes = c.u64().map_err(t)?;
        r.packets = c.u64().map_err(t)?;
        r.sampling_rate = c.u32().map_err(t)?;
        r.sampling_origin = match c.u8().map_err(t)? {
            0 => SamplingOrigin::Unsampled,
            1 => SamplingOrigin::V5Header,
            2 => SamplingOrigin::Record,
            3 => SamplingOrigin::SamplerTable,
            4 => SamplingOrigin::ExporterOptions,
            5 => SamplingOrigin::SflowSample,
            6 => SamplingOrigin::Configured,
            _ => return Err("bad sampling origin"),
        };
        r.in_if = c.u32().map_err(t)?;
        r.out_if = c.u32().map_err(t)?;
        r.src_as = c.u32().map_err(t)?;
        r.dst_as = c.u32().map_err(t)?;
        r.next_hop = get_addr(&mut c)?;
        r.src_mask = c.u8().map_err(t)?;
        r.dst_mask = c.u8().map_err(t)?;
        r.vlan = c.u16().map_err(t)?;
        r.flow_start_ms = get_opt::<8>(&mut c)?.map(i64::from_be_bytes);
        r.flow_end_ms = get_opt::<8>(&mut c)?.map(i64::from_be_bytes);
        r.src_mac = get_opt::<6>(&mut c)?;
        r.dst_mac = get_opt::<6>(&mut c)?;
        r.mpls_label = c.u32().map_err(t)?;
        r.direction = get_opt::<1>(&mut c)?.map(|[d]| d);
        r.sampler_id = get_opt::<8>(&mut c)?.map(u64::from_be_bytes);
        rows.push(FlowRow { time_received_ms, record: r });
    }
    if !c.is_empty() {
        return Err("trailing bytes");
    }
    Ok(Batch { id, rows })
}

/// CRC-32 (IEEE 802.3, reflected, as zlib), table-driven.
fn crc32(data: &[u8]) -> u32 {
    // Built at compile time: an out-of-range index there is a compile error, not a panic.
    #[allow(clippy::indexing_slicing)]
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut crc = !0u32;
    for &b in data {
        let idx = ((crc ^ u32::from(b)) & 0xff) as usize;
        crc = TABLE.get(idx).copied().unwrap_or(0) ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn crc_known_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn encode_decode_and_corruption() {
        let mut r = FlowRecord::new(Protocol::SflowV5, "2001:db8::1".parse().unwrap());
        r.src_addr = Some("10.1.2.3".parse().unwrap());
        r.next_hop = Some("2001:db8::ff".parse().unwrap());
        r.bytes = u64::MAX;
        r.flow_start_ms = Some(-5);
        r.src_mac = Some([1, 2, 3, 4, 5, 6]);
        r.direction = Some(1);
        r.sampler_id = Some(u64::MAX - 1);
        r.sampling_origin = SamplingOrigin::Configured;
        let b = Batch {
            id: BatchId { instance: 7, seq: 9 },
            rows: vec![
                FlowRow { time_received_ms: 1, record: r },
                FlowRow { time_received_ms: 2, record: r },
            ],
        };
        let bytes = encode(&b);
        assert_eq!(decode(&bytes).unwrap(), b);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad).is_err(), "flip at {i} undetected");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
