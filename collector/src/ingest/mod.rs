//! Sources of datagrams: kernel UDP sockets (always) and AF_XDP rings (when XDP can
//! be set up). Each source hands a worker (exporter address, payload) pairs through
//! [`DatagramSource`]; the loop that drives it is [`crate::pipeline::worker::Worker`].

pub mod udp;
pub mod xdp;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Where a worker's datagrams come from.
pub trait DatagramSource {
    /// Waits up to `timeout` for datagrams, hands each one of a batch to `handle`
    /// (exporter address and UDP payload), then releases the batch's buffers to the
    /// source (AF_XDP: frames back to the fill ring). Returns how many units were taken
    /// (datagrams, or frames for AF_XDP); 0 means nothing arrived within `timeout`, which
    /// is how a stopping worker knows the source is drained.
    fn receive<F: FnMut(SocketAddr, &[u8])>(&mut self, timeout: Duration, handle: F) -> io::Result<usize>;

    /// Publishes the source's own counters; called with the pipeline's counter flush
    /// (about every 100 ms) and once when the worker stops.
    fn flush_counters(&mut self) {}
}
