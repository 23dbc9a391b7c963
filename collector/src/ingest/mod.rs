//! Sources of datagrams: kernel UDP sockets (always) and, later, AF_XDP rings. Each
//! source hands a worker batches of (exporter address, payload).

pub mod udp;
