//! A bulk transfer: parallel TCP connections, or one QUIC (UDP) connection, moving a
//! number of bytes one way between a client and a server over a window, as an exporter
//! with a 60 s active timeout reports it: each connection cut into records of at most
//! a minute (more when a record would overflow NetFlow v5's 32-bit byte counter), the
//! first with SYN and the last with FIN, and the other side's acknowledgements coming
//! back as small flows. Exfiltration, backups, speed tests and bulk downloads are all
//! transfers; what tells them apart is who, where to, how much and when.

use crate::rng::Rng;
use crate::traffic::services::{flags, proto};
use crate::traffic::{ephemeral_port, Endpoint, Site};
use flowvision_codec::FlowRecord;

/// Largest byte count of one record (keeps NetFlow v5's 32-bit counter exact).
const MAX_RECORD_BYTES: u64 = 3_000_000_000;
/// The exporter's active timeout: a long connection is reported once a minute.
const ACTIVE_TIMEOUT_MS: i64 = 60_000;

/// Which way the bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The client sends (an upload, a backup, exfiltration).
    Upload,
    /// The server sends (a download).
    Download,
}

/// One record of one connection.
#[derive(Debug, Clone, Copy)]
struct Slice {
    end: i64,
    connection: usize,
    first: bool,
    last: bool,
    bytes: u64,
}

/// A scheduled transfer.
#[derive(Debug, Clone)]
pub struct Transfer {
    proto: u8,
    service_port: u16,
    direction: Direction,
    client_ports: Vec<u16>,
    starts: Vec<i64>,
    slices: Vec<Slice>,
    next: usize,
    total: u64,
}

impl Transfer {
    /// Cuts `total` bytes over `connections` connections of `proto` (TCP or UDP) to
    /// `service_port` into records over `[start, end)`.
    pub fn new(
        rng: &mut Rng,
        (start, end): (i64, i64),
        total: u64,
        connections: u64,
        (proto, service_port): (u8, u16),
        direction: Direction,
    ) -> Transfer {
        let connections = connections.max(1);
        let total = total.max(1);
        let len = (end - start).max(1);
        let slice = ACTIVE_TIMEOUT_MS.min(len);
        let by_time = (len as u64).div_ceil(slice as u64).max(1);
        let by_size = (total / connections).div_ceil(MAX_RECORD_BYTES).max(1);
        let per_conn = by_time.max(by_size);
        let step = (len as u64 / per_conn).max(1) as i64;
        let share = total / (connections * per_conn);
        let mut slices = Vec::new();
        let mut left = total;
        for k in 0..per_conn {
            for c in 0..connections as usize {
                let last = k + 1 == per_conn;
                let bytes = if last && c + 1 == connections as usize { left } else { share.min(left) };
                left -= bytes;
                // Each record ends at the end of its slice, a little staggered.
                let end_ms = (start + (k as i64 + 1) * step - 1 - c as i64 * 7).clamp(start, end - 1);
                slices.push(Slice { end: end_ms, connection: c, first: k == 0, last, bytes });
            }
        }
        slices.sort_by_key(|s| s.end);
        let client_ports = (0..connections).map(|_| ephemeral_port(rng)).collect();
        let starts = vec![start; connections as usize];
        Transfer { proto, service_port, direction, client_ports, starts, slices, next: 0, total }
    }

    /// Bytes the transfer moves.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Connections it uses.
    pub fn connections(&self) -> usize {
        self.client_ports.len()
    }

    /// The records (data one way, acknowledgements the other) ending before `t1`.
    pub fn emit(
        &mut self,
        t1: i64,
        (site, template): (&Site, &FlowRecord),
        client: &Endpoint,
        server: &Endpoint,
        out: &mut Vec<FlowRecord>,
    ) {
        let (sender, receiver) = match self.direction {
            Direction::Upload => (client, server),
            Direction::Download => (server, client),
        };
        while let Some(s) = self.slices.get(self.next).copied() {
            if s.end >= t1 {
                break;
            }
            self.next += 1;
            let begin = self.starts.get(s.connection).copied().unwrap_or(s.end).min(s.end);
            if let Some(b) = self.starts.get_mut(s.connection) {
                *b = s.end + 1;
            }
            let client_port = self.client_ports.get(s.connection).copied().unwrap_or(50_000);
            let (sender_port, receiver_port) = match self.direction {
                Direction::Upload => (client_port, self.service_port),
                Direction::Download => (self.service_port, client_port),
            };
            let mut data = *template;
            site.route(&mut data, sender, receiver, false);
            data.proto = self.proto;
            (data.src_port, data.dst_port) = (sender_port, receiver_port);
            data.tcp_flags = if self.proto == proto::TCP {
                let mut f = flags::ACK | flags::PSH;
                if s.first {
                    f |= flags::SYN;
                }
                if s.last {
                    f |= flags::FIN;
                }
                f
            } else {
                0
            };
            data.bytes = s.bytes.max(60);
            data.packets = data.bytes.div_ceil(1400).max(1);
            (data.flow_start_ms, data.flow_end_ms) = (Some(begin), Some(s.end));
            out.push(data);
            // TCP acknowledges every second segment; QUIC here every fourth packet
            // (with the ACK-frequency extension bulk senders negotiate).
            let mut ack = data;
            site.route(&mut ack, receiver, sender, false);
            (ack.src_port, ack.dst_port) = (receiver_port, sender_port);
            let (every, size) = if self.proto == proto::TCP { (2, 52) } else { (4, 64) };
            ack.packets = data.packets.div_ceil(every);
            ack.bytes = ack.packets * size;
            out.push(ack);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn a_transfer_is_cut_at_the_active_timeout_and_moves_every_byte() {
        let mut rng = Rng::new(7);
        let t = Transfer::new(&mut rng, (0, 600_000), 5_000_000_000, 2, (proto::TCP, 22), Direction::Upload);
        assert_eq!(t.slices.len(), 20, "ten minutes of two connections, one record a minute each");
        assert_eq!(t.slices.iter().map(|s| s.bytes).sum::<u64>(), 5_000_000_000);
        assert!(t.slices.iter().all(|s| (0..600_000).contains(&s.end)));
        assert_eq!(t.slices.iter().filter(|s| s.first).count(), 2);
        assert_eq!(t.slices.iter().filter(|s| s.last).count(), 2);
        let huge =
            Transfer::new(&mut rng, (0, 60_000), 20_000_000_000, 1, (proto::UDP, 443), Direction::Download);
        assert!(huge.slices.iter().all(|s| s.bytes <= MAX_RECORD_BYTES));
        assert_eq!(huge.slices.iter().map(|s| s.bytes).sum::<u64>(), 20_000_000_000);
    }
}
