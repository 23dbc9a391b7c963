//! Long flows, exported piece by piece at the exporter's active timeout.
//!
//! A router's flow cache does not hold a connection's counters until it ends: every
//! active timeout it exports what the connection carried since the last export. A
//! flow longer than the timeout therefore reaches the collector as a series of
//! records, each covering one timeout's worth of the connection at its own pace, the
//! first with the opening flags, the middle ones with neither SYN nor FIN, the last
//! with the closing flags. Putting all of an elephant's packets into the first record
//! would make a 2-million-packet download look like 33,000 packets a second for one
//! minute, which is a flood, not a download.
//!
//! The queue hands each piece out when the exporter would have exported it; the
//! simulation emits a due piece in place of a new connection, so the run's record
//! rate stays what its plan says.

use super::services::flags::{FIN, RST, SYN};
use flowvision_codec::FlowRecord;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// What is left of one direction of a long flow.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Direction {
    /// The last piece exported (addresses, ports, interfaces: the next piece's too).
    record: FlowRecord,
    /// Packets not yet exported.
    packets: u64,
    /// Bytes not yet exported.
    bytes: u64,
    /// The flags of the connection's closing piece.
    closing_flags: u16,
}

impl Direction {
    /// Cuts the piece of `[from, to]` out of what is left of a flow ending at `end`
    /// (`opening`: the connection's first piece, which carries at least one packet).
    /// A slow flow may pass a timeout without a packet: no record then, as a flow
    /// cache exports none.
    fn piece(&mut self, from: i64, to: i64, end: i64, opening: bool) -> Option<FlowRecord> {
        let last = to >= end;
        let share = if last || end <= from { 1.0 } else { (to - from) as f64 / (end - from) as f64 };
        let due = if last { self.packets } else { (self.packets as f64 * share).round() as u64 };
        let packets = if opening { due.max(1) } else { due }.min(self.packets);
        if packets == 0 {
            return None;
        }
        let bytes = if last {
            self.bytes
        } else {
            (self.bytes as f64 * packets as f64 / self.packets as f64).round() as u64
        };
        self.packets = self.packets.saturating_sub(packets);
        self.bytes = self.bytes.saturating_sub(bytes);
        let mut r = self.record;
        r.packets = packets;
        r.bytes = bytes.max(packets);
        r.flow_start_ms = Some(from);
        r.flow_end_ms = Some(to);
        let f = self.closing_flags;
        r.tcp_flags = match (opening, last) {
            (true, true) => f,
            (true, false) => f & !(FIN | RST),
            (false, true) => f & !SYN,
            (false, false) => f & !(SYN | FIN | RST),
        };
        self.record = r;
        Some(r)
    }
}

/// A flow whose later pieces are still to be exported.
#[derive(Debug, Clone, PartialEq)]
struct LongFlow {
    /// When the next piece is due: the end of the time it covers.
    due_ms: i64,
    /// Ties between flows due at the same millisecond go in the order they started.
    seq: u64,
    /// The exporter the flow goes through (the caller's index).
    exporter: usize,
    /// Where the next piece starts.
    next_from_ms: i64,
    /// When the connection ends.
    end_ms: i64,
    /// The exporter's active timeout.
    timeout_ms: i64,
    /// The client's direction.
    request: Direction,
    /// The server's answer, when it answered.
    response: Option<Direction>,
}

impl Eq for LongFlow {}

impl Ord for LongFlow {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due_ms, self.seq).cmp(&(other.due_ms, other.seq))
    }
}

impl PartialOrd for LongFlow {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The first piece of a long flow, as [`LongFlows::cut`] returns it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FirstPiece {
    /// The client's record of the first timeout.
    pub request: FlowRecord,
    /// The server's record of the first timeout, when it answered.
    pub response: Option<FlowRecord>,
}

/// The long flows still running, ordered by when their next piece is due.
#[derive(Debug, Clone, Default)]
pub struct LongFlows {
    queue: BinaryHeap<Reverse<LongFlow>>,
    seq: u64,
}

impl LongFlows {
    /// No long flow running.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many long flows are still running.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no long flow is running.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Takes a connection (whole `request` and `response` records, their flags the
    /// connection's) that began at `start_ms` and lasts `duration_ms`, longer than
    /// the exporter's `timeout_ms`: returns its first timeout's pieces and keeps the
    /// rest, due one timeout after another.
    pub fn cut(
        &mut self,
        exporter: usize,
        start_ms: i64,
        duration_ms: i64,
        timeout_ms: i64,
        request: FlowRecord,
        response: Option<FlowRecord>,
    ) -> FirstPiece {
        let timeout_ms = timeout_ms.max(1);
        let end_ms = start_ms + duration_ms.max(0);
        let first_end = (start_ms + timeout_ms).min(end_ms);
        let direction = |r: FlowRecord| Direction {
            record: r,
            packets: r.packets,
            bytes: r.bytes,
            closing_flags: r.tcp_flags,
        };
        let mut req = direction(request);
        let mut resp = response.map(direction);
        let first = FirstPiece {
            // A connection has a packet each way (the opening piece takes one).
            request: req.piece(start_ms, first_end, end_ms, true).unwrap_or(request),
            response: resp.as_mut().and_then(|d| {
                // The answer starts a round trip after the request.
                let from = d.record.flow_start_ms.unwrap_or(start_ms).clamp(start_ms, first_end);
                d.piece(from, first_end, end_ms, true)
            }),
        };
        if first_end < end_ms {
            self.seq += 1;
            self.queue.push(Reverse(LongFlow {
                due_ms: (first_end + timeout_ms).min(end_ms),
                seq: self.seq,
                exporter,
                next_from_ms: first_end,
                end_ms,
                timeout_ms,
                request: req,
                response: resp,
            }));
        }
        first
    }

    /// The exporter of the piece due first, if it is due at `now_ms`.
    pub fn due(&self, now_ms: i64) -> Option<usize> {
        self.queue.peek().filter(|f| f.0.due_ms <= now_ms).map(|f| f.0.exporter)
    }

    /// Appends the piece due first (the client's record, then the server's when
    /// it answered and `room` allows two; a direction without a packet in the piece's
    /// time has none); returns how many records it appended.
    pub fn next_piece(&mut self, room: usize, out: &mut Vec<FlowRecord>) -> usize {
        let Some(Reverse(mut f)) = self.queue.pop() else { return 0 };
        let (from, to) = (f.next_from_ms, f.due_ms);
        let mut made = 0;
        if let Some(r) = f.request.piece(from, to, f.end_ms, false) {
            out.push(r);
            made += 1;
        }
        if let Some(piece) = f.response.as_mut().and_then(|d| d.piece(from, to, f.end_ms, false)) {
            if room >= 2 {
                out.push(piece);
                made += 1;
            }
        }
        if to < f.end_ms {
            f.next_from_ms = to;
            f.due_ms = (to + f.timeout_ms).min(f.end_ms);
            self.queue.push(Reverse(f));
        }
        made
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::super::services::flags::{ACK, PSH};
    use super::*;
    use flowvision_codec::Protocol;
    use std::net::{IpAddr, Ipv4Addr};

    fn record(packets: u64, bytes: u64, start: i64, flags: u16) -> FlowRecord {
        let mut r = FlowRecord::new(Protocol::NetflowV9, IpAddr::V4(Ipv4Addr::LOCALHOST));
        r.proto = 6;
        r.src_port = 40_000;
        r.dst_port = 443;
        r.packets = packets;
        r.bytes = bytes;
        r.tcp_flags = flags;
        r.flow_start_ms = Some(start);
        r
    }

    #[test]
    fn a_download_of_an_hour_is_sixty_records_at_its_own_pace() {
        let mut flows = LongFlows::new();
        let all = SYN | ACK | PSH | FIN;
        let (start, hour) = (1_000_000, 3_600_000);
        let req = record(40_000, 2_400_000, start, all);
        let resp = record(120_000, 168_000_000, start + 30, all);
        let first = flows.cut(3, start, hour, 60_000, req, Some(resp));
        let mut pieces = vec![(first.request, first.response.unwrap())];
        assert_eq!(first.request.tcp_flags, SYN | ACK | PSH);
        let mut now = start;
        while !flows.is_empty() {
            now += 1_000;
            while let Some(e) = flows.due(now) {
                assert_eq!(e, 3);
                let mut out = Vec::new();
                assert_eq!(flows.next_piece(2, &mut out), 2);
                pieces.push((out[0], out[1]));
            }
        }
        assert_eq!(pieces.len(), 60);
        // Every packet and byte exported once, at the flow's pace, in order.
        assert_eq!(pieces.iter().map(|p| p.0.packets).sum::<u64>(), 40_000);
        assert_eq!(pieces.iter().map(|p| p.1.packets).sum::<u64>(), 120_000);
        assert_eq!(pieces.iter().map(|p| p.1.bytes).sum::<u64>(), 168_000_000);
        for (i, (q, r)) in pieces.iter().enumerate() {
            let (s, e) = (q.flow_start_ms.unwrap(), q.flow_end_ms.unwrap());
            assert!(e - s <= 60_000 && s == start + i as i64 * 60_000, "{i}: {s}..{e}");
            assert!((1_900..=2_100).contains(&r.packets), "{i}: {} packets", r.packets);
            let flags = q.tcp_flags;
            match i {
                0 => assert_eq!(flags, SYN | ACK | PSH),
                59 => assert_eq!(flags, ACK | PSH | FIN),
                _ => assert_eq!(flags, ACK | PSH, "{i}"),
            }
            assert_eq!((q.src_port, r.tcp_flags & SYN == 0 || i == 0), (40_000, true));
        }
    }

    #[test]
    fn a_slow_flow_sends_no_empty_records() {
        // Three packets over ten minutes: a record for each minute that had one.
        let mut flows = LongFlows::new();
        let first = flows.cut(0, 0, 600_000, 60_000, record(3, 300, 0, 0), None);
        let mut records = vec![first.request];
        let mut now = 0;
        while !flows.is_empty() {
            now += 60_000;
            while flows.due(now).is_some() {
                flows.next_piece(1, &mut records);
            }
        }
        assert_eq!(records.iter().map(|r| r.packets).sum::<u64>(), 3);
        assert_eq!(records.iter().map(|r| r.bytes).sum::<u64>(), 300);
        assert!(records.iter().all(|r| r.packets >= 1), "{records:?}");
        assert_eq!(records.len(), 3);
    }

    #[test]
    fn due_pieces_come_in_time_order_across_exporters() {
        let mut flows = LongFlows::new();
        let r = record(10_000, 10_000_000, 0, 0);
        flows.cut(0, 0, 200_000, 60_000, r, None);
        flows.cut(1, 30_000, 100_000, 60_000, r, None);
        assert_eq!(flows.due(100_000), None);
        let mut order = Vec::new();
        let mut now = 0;
        while !flows.is_empty() {
            now += 10_000;
            while let Some(e) = flows.due(now) {
                let mut out = Vec::new();
                flows.next_piece(1, &mut out);
                order.push((e, out[0].flow_end_ms.unwrap()));
            }
        }
        assert_eq!(order, [(0, 120_000), (1, 130_000), (0, 180_000), (0, 200_000)]);
    }
}
