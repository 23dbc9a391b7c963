//! The shared fixture corpus (`../shared/fixtures`, never copied into the repository)
//! and the row shape the end-to-end tests compare `flows` with.

use flowvision_codec::FlowRecord;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The fixtures directory: `FLOWVISION_FIXTURES`, else `../shared/fixtures` beside the
/// repository.
pub fn dir() -> PathBuf {
    std::env::var_os("FLOWVISION_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"))
}

/// Every pcap/pcapng file under the fixtures, recognized by its magic number, in path
/// order.
pub fn capture_files() -> io::Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
        let mut entries =
            std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<io::Result<Vec<_>>>()?;
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else {
                let bytes = std::fs::read(&p)?;
                let magic = bytes.get(..4).and_then(|m| <[u8; 4]>::try_from(m).ok()).map(u32::from_le_bytes);
                if matches!(magic, Some(0xa1b2_c3d4 | 0xd4c3_b2a1 | 0xa1b2_3c4d | 0x4d3c_b2a1 | 0x0a0d_0d0a))
                {
                    out.push(p);
                }
            }
        }
        Ok(())
    }
    let root = dir();
    if !root.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("fixtures not found at {} (set FLOWVISION_FIXTURES)", root.display()),
        ));
    }
    let mut out = Vec::new();
    walk(&root, &mut out)?;
    Ok(out)
}

/// What the end-to-end tests compare of a flow: protocol, exporter, 5-tuple minus the
/// protocol number's name, counters.
pub type Row = (String, String, Option<String>, Option<String>, i32, i32, i16, i64, i64);

/// The [`Row`] of a decoded record.
pub fn row_of(r: &FlowRecord) -> Row {
    (
        r.protocol.as_str().to_string(),
        r.exporter.to_string(),
        r.src_addr.map(|a| a.to_string()),
        r.dst_addr.map(|a| a.to_string()),
        i32::from(r.src_port),
        i32::from(r.dst_port),
        i16::from(r.proto),
        i64::try_from(r.bytes).unwrap_or(i64::MAX),
        i64::try_from(r.packets).unwrap_or(i64::MAX),
    )
}

/// Every row of `flows` as a multiset of [`Row`]s.
pub fn stored_rows(db: &mut postgres::Client) -> Result<BTreeMap<Row, usize>, postgres::Error> {
    let mut out = BTreeMap::new();
    for r in db.query(
        "SELECT protocol::text, host(exporter), host(src_addr), host(dst_addr), src_port, dst_port, proto, bytes, packets FROM flows",
        &[],
    )? {
        let row: Row =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, r.try_get(6)?, r.try_get(7)?, r.try_get(8)?);
        *out.entry(row).or_default() += 1;
    }
    Ok(out)
}
