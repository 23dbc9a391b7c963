//! Sources of datagrams: kernel UDP sockets (always) and AF_XDP rings (when XDP can
//! be set up). Each source hands a worker (exporter address, payload) pairs.

pub mod udp;
pub mod xdp;
