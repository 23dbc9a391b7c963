//! Host feature rows as PostgreSQL sends them in a binary COPY (`COPY (SELECT ...) TO
//! STDOUT (FORMAT binary)`), decoded here rather than as query rows.
//!
//! Why: the insights engine's reads of `host_features` were most of what a backtest
//! cost, and most of that was the query path itself — a row object with its own
//! allocation per row, collected into a vector, then a typed lookup per column
//! (twenty-five of them) — not the bytes (session 26 profile of a clean two-day run).
//! A COPY stream is one message per row, decoded here in place. The collector writes
//! the same rows in the same format (`collector/src/store/features.rs`).
//!
//! A tuple is: the writing transaction (`xmin`, int8), bucket (timestamptz), exporter
//! and host (inet), the counters in [`Counters::NAMES`] order (int8), then the sketches
//! in [`HostFeatures::SKETCH_NAMES`] order (bytea). A sketch whose bytes are not a
//! sketch is read as empty, as the query path did.

use flowvision_insights::features::{Counters, HostFeatures, HostKey, COUNTERS};
use flowvision_insights::Distinct;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Fields of a tuple: transaction, bucket, exporter, host, counters, four sketches.
pub(crate) const FIELDS: usize = 4 + COUNTERS + 4;

/// The binary COPY signature that opens the stream.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC), in ms.
const PG_EPOCH_MS: i64 = 946_684_800_000;

/// Why a COPY stream of feature rows could not be decoded (the rows before it were).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyDecodeError {
    /// The stream does not open with the binary COPY signature.
    #[error("not a binary COPY stream (no PGCOPY signature)")]
    Signature,
    /// A tuple has another number of fields than the statement selects.
    #[error("a feature row has {found} fields, expected {FIELDS}")]
    FieldCount {
        /// Fields the tuple says it has.
        found: i16,
    },
    /// A field is NULL, of a length its type cannot have, or not an address.
    #[error("field {field} of a feature row: {what}")]
    Field {
        /// 0-based column of the statement.
        field: usize,
        /// What is wrong with it.
        what: &'static str,
    },
    /// The stream ended inside a tuple or before its trailer.
    #[error("the COPY stream ended before its trailer")]
    Truncated,
    /// Bytes followed the trailer.
    #[error("bytes after the COPY trailer")]
    AfterTrailer,
}

/// One decoded row: the transaction that wrote it, its key, its features.
pub(crate) type FeatureTuple = (i64, HostKey, HostFeatures);

/// Where the decoder is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Tuples,
    Ended,
}

/// A binary COPY stream of feature rows decoded as its chunks arrive (a chunk may end
/// anywhere: what is left of an incomplete tuple waits for the next one).
#[derive(Debug)]
pub(crate) struct FeatureCopy {
    stage: Stage,
    pending: Vec<u8>,
}

/// What the bytes at hand hold next.
// A step lives on the stack for one tuple; boxing the large variant would allocate per
// row, which is what reading by COPY avoids.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// Not all of it yet.
    Incomplete,
    /// A header or trailer of this many bytes.
    Frame(usize),
    /// A tuple of this many bytes.
    Tuple(usize, FeatureTuple),
}

impl FeatureCopy {
    /// A decoder at the start of a stream.
    pub(crate) fn new() -> FeatureCopy {
        FeatureCopy { stage: Stage::Header, pending: Vec::new() }
    }

    /// Decodes what `chunk` completes, handing each row to `row`.
    pub(crate) fn feed(
        &mut self,
        chunk: &[u8],
        row: &mut impl FnMut(FeatureTuple),
    ) -> Result<(), CopyDecodeError> {
        if self.pending.is_empty() {
            // PostgreSQL sends a tuple per message: the usual path copies nothing.
            let used = self.decode(chunk, row)?;
            self.pending.extend_from_slice(chunk.get(used..).unwrap_or_default());
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(chunk);
            let used = self.decode(&pending, row)?;
            pending.drain(..used.min(pending.len()));
            self.pending = pending;
        }
        Ok(())
    }

    /// The stream's end: an error unless its trailer came and nothing after it.
    pub(crate) fn finish(self) -> Result<(), CopyDecodeError> {
        if self.stage == Stage::Ended && self.pending.is_empty() {
            Ok(())
        } else {
            Err(CopyDecodeError::Truncated)
        }
    }

    /// Decodes the complete frames at the start of `buf`; returns the bytes used.
    fn decode(&mut self, buf: &[u8], row: &mut impl FnMut(FeatureTuple)) -> Result<usize, CopyDecodeError> {
        let mut at = 0;
        loop {
            let rest = buf.get(at..).unwrap_or_default();
            let step = match self.stage {
                Stage::Header => header(rest)?,
                Stage::Tuples => tuple(rest)?,
                Stage::Ended if rest.is_empty() => return Ok(at),
                Stage::Ended => return Err(CopyDecodeError::AfterTrailer),
            };
            match step {
                Step::Incomplete => return Ok(at),
                Step::Frame(n) => {
                    at += n;
                    self.stage = if self.stage == Stage::Header { Stage::Tuples } else { Stage::Ended };
                }
                Step::Tuple(n, t) => {
                    at += n;
                    row(t);
                }
            }
        }
    }
}

/// Reads big-endian integers and length-prefixed fields off a byte slice; `None`
/// when the slice ends first.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.buf.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(b)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn i16(&mut self) -> Option<i16> {
        self.array().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Option<i32> {
        self.array().map(i32::from_be_bytes)
    }

    /// Field `field`'s bytes (`Ok(None)`: not all there yet).
    fn field(&mut self, field: usize) -> Result<Option<&'a [u8]>, CopyDecodeError> {
        let Some(len) = self.i32() else { return Ok(None) };
        let len = match usize::try_from(len) {
            Ok(n) => n,
            Err(_) if len == -1 => return Err(CopyDecodeError::Field { field, what: "NULL" }),
            Err(_) => return Err(CopyDecodeError::Field { field, what: "negative length" }),
        };
        Ok(self.take(len))
    }
}

/// Signature, flags, header extension.
fn header(buf: &[u8]) -> Result<Step, CopyDecodeError> {
    let mut r = Reader { buf, at: 0 };
    let Some(signature) = r.take(SIGNATURE.len()) else {
        return if SIGNATURE.starts_with(buf) {
            Ok(Step::Incomplete)
        } else {
            Err(CopyDecodeError::Signature)
        };
    };
    if signature != SIGNATURE {
        return Err(CopyDecodeError::Signature);
    }
    let (Some(_flags), Some(extension)) = (r.i32(), r.i32()) else { return Ok(Step::Incomplete) };
    let extension = usize::try_from(extension).map_err(|_| CopyDecodeError::Signature)?;
    Ok(match r.take(extension) {
        Some(_) => Step::Frame(r.at),
        None => Step::Incomplete,
    })
}

/// A tuple, or the trailer (a field count of -1).
fn tuple(buf: &[u8]) -> Result<Step, CopyDecodeError> {
    let mut r = Reader { buf, at: 0 };
    let Some(count) = r.i16() else { return Ok(Step::Incomplete) };
    if count == -1 {
        return Ok(Step::Frame(r.at));
    }
    if usize::try_from(count).ok() != Some(FIELDS) {
        return Err(CopyDecodeError::FieldCount { found: count });
    }
    // Fields in statement order; `None` from any: the tuple is not complete yet.
    macro_rules! next {
        ($field:expr) => {
            match r.field($field)? {
                Some(b) => b,
                None => return Ok(Step::Incomplete),
            }
        };
    }
    let xid = int8(next!(0), 0)?;
    let bucket_ms = int8(next!(1), 1)?.div_euclid(1000).saturating_add(PG_EPOCH_MS);
    let exporter = inet(next!(2), 2)?;
    let host = inet(next!(3), 3)?;
    let mut fields = [0i64; COUNTERS];
    for (i, v) in fields.iter_mut().enumerate() {
        *v = int8(next!(4 + i), 4 + i)?;
    }
    let mut sketches = [Distinct::default(); 4];
    for (i, s) in sketches.iter_mut().enumerate() {
        *s = Distinct::from_bytes(next!(4 + COUNTERS + i)).unwrap_or_default();
    }
    let [sources_in, reflectors_in, peers_out, ports_out] = sketches;
    let f = HostFeatures {
        counters: Counters::from_fields(fields),
        sources_in,
        reflectors_in,
        peers_out,
        ports_out,
    };
    Ok(Step::Tuple(r.at, (xid, HostKey { bucket_ms, exporter, host }, f)))
}

fn int8(b: &[u8], field: usize) -> Result<i64, CopyDecodeError> {
    let b: [u8; 8] = b.try_into().map_err(|_| CopyDecodeError::Field { field, what: "not 8 bytes" })?;
    Ok(i64::from_be_bytes(b))
}

/// inet's binary form: family (2 IPv4, 3 IPv6), prefix bits, is-cidr, address length,
/// address. Feature rows hold host addresses; the prefix length is not kept.
fn inet(b: &[u8], field: usize) -> Result<IpAddr, CopyDecodeError> {
    let bad = CopyDecodeError::Field { field, what: "not an address" };
    match b {
        [2, _, _, 4, a @ ..] => {
            <[u8; 4]>::try_from(a).map(|a| IpAddr::V4(Ipv4Addr::from(a))).map_err(|_| bad)
        }
        [3, _, _, 16, a @ ..] => {
            <[u8; 16]>::try_from(a).map(|a| IpAddr::V6(Ipv6Addr::from(a))).map_err(|_| bad)
        }
        _ => Err(bad),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn put_field(out: &mut Vec<u8>, b: &[u8]) {
        out.extend_from_slice(&(b.len() as i32).to_be_bytes());
        out.extend_from_slice(b);
    }

    fn put_inet(out: &mut Vec<u8>, a: IpAddr) {
        match a {
            IpAddr::V4(a) => put_field(out, &[&[2, 32, 0, 4][..], &a.octets()].concat()),
            IpAddr::V6(a) => put_field(out, &[&[3, 128, 0, 16][..], &a.octets()].concat()),
        }
    }

    /// A stream of `rows` as PostgreSQL writes it.
    fn stream(rows: &[FeatureTuple]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        for (xid, k, f) in rows {
            out.extend_from_slice(&(FIELDS as i16).to_be_bytes());
            put_field(&mut out, &xid.to_be_bytes());
            put_field(&mut out, &((k.bucket_ms - PG_EPOCH_MS) * 1000).to_be_bytes());
            put_inet(&mut out, k.exporter);
            put_inet(&mut out, k.host);
            for v in f.counters.fields() {
                put_field(&mut out, &v.to_be_bytes());
            }
            for s in f.sketches() {
                put_field(&mut out, s.as_bytes());
            }
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn rows(n: usize) -> Vec<FeatureTuple> {
        (0..n)
            .map(|i| {
                let mut f = HostFeatures::default();
                f.counters.flows_out = i as i64 * 3;
                f.counters.bytes_in = -(i as i64);
                f.peers_out.insert_addr(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8)));
                let host = if i % 2 == 0 {
                    IpAddr::V4(Ipv4Addr::new(192, 0, 2, i as u8))
                } else {
                    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16))
                };
                let k = HostKey {
                    bucket_ms: 1_765_000_000_000 + i as i64 * 10_000,
                    exporter: "127.1.0.1".parse().unwrap(),
                    host,
                };
                (i as i64 + 700, k, f)
            })
            .collect()
    }

    fn decode_in_chunks(bytes: &[u8], chunk: usize) -> Result<Vec<FeatureTuple>, CopyDecodeError> {
        let mut d = FeatureCopy::new();
        let mut out = Vec::new();
        for c in bytes.chunks(chunk.max(1)) {
            d.feed(c, &mut |t| out.push(t))?;
        }
        d.finish()?;
        Ok(out)
    }

    #[test]
    fn rows_come_back_as_written_however_the_stream_is_cut() {
        let want = rows(5);
        let bytes = stream(&want);
        for chunk in [1, 2, 3, 7, 64, 511, bytes.len()] {
            assert_eq!(decode_in_chunks(&bytes, chunk).unwrap(), want, "chunks of {chunk}");
        }
        assert!(decode_in_chunks(&stream(&[]), 5).unwrap().is_empty());
    }

    #[test]
    fn a_bad_stream_is_a_typed_error() {
        let bytes = stream(&rows(2));
        // Cut anywhere before the trailer's end: truncated.
        for cut in [0, 5, 19, 40, bytes.len() - 1] {
            assert_eq!(decode_in_chunks(&bytes[..cut], 4), Err(CopyDecodeError::Truncated), "cut at {cut}");
        }
        let mut after = bytes.clone();
        after.push(0);
        assert_eq!(decode_in_chunks(&after, 1000), Err(CopyDecodeError::AfterTrailer));
        let mut text = bytes.clone();
        text[0] = b'p';
        assert_eq!(decode_in_chunks(&text, 1000), Err(CopyDecodeError::Signature));
        // The first tuple's field count, then its xid's length.
        let mut count = bytes.clone();
        count[20] = 3;
        assert_eq!(decode_in_chunks(&count, 1000), Err(CopyDecodeError::FieldCount { found: 3 }));
        let mut null = bytes.clone();
        null[21..25].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(decode_in_chunks(&null, 1000), Err(CopyDecodeError::Field { field: 0, what: "NULL" }));
        let mut short = bytes;
        short[24] = 4;
        assert!(matches!(decode_in_chunks(&short, 1000), Err(CopyDecodeError::Field { .. })));
    }

    #[test]
    fn a_sketch_that_is_not_one_reads_as_empty() {
        let mut bytes = stream(&rows(1));
        // The last sketch's length field sits 4 + 64 + 2 bytes before the end.
        let at = bytes.len() - 2 - 64 - 4;
        bytes[at..at + 4].copy_from_slice(&63i32.to_be_bytes());
        bytes.remove(at + 4);
        let got = decode_in_chunks(&bytes, 1000).unwrap();
        assert_eq!(got[0].2.ports_out, Distinct::default());
    }

    proptest! {
        /// Any bytes, cut anywhere: rows or a typed error, never a panic.
        #[test]
        fn any_bytes_decode_or_fail_cleanly(
            noise in proptest::collection::vec(any::<u8>(), 0..600),
            keep in 0usize..2000,
            chunk in 1usize..300,
        ) {
            let mut bytes = stream(&rows(2));
            bytes.truncate(keep.min(bytes.len()));
            bytes.extend_from_slice(&noise);
            let _ = decode_in_chunks(&bytes, chunk);
            let _ = decode_in_chunks(&noise, chunk);
        }
    }
}
