//! Transparent forwarding: the original datagram re-sent with the exporter's source
//! address and port, through a raw IPv4 socket with `IP_HDRINCL` (needs CAP_NET_RAW).
//! Receivers that key exporters by source address then see the real device.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// A raw socket that writes its own IPv4 and UDP headers.
#[derive(Debug)]
pub struct SpoofSocket {
    socket: Socket,
    buf: Vec<u8>,
}

/// Why a transparent destination cannot send.
#[derive(Debug, thiserror::Error)]
pub enum TransparentError {
    /// No CAP_NET_RAW (or not root).
    #[error(
        "transparent forwarding needs CAP_NET_RAW (run as root or `setcap cap_net_raw+ep` the binary): {0}"
    )]
    Permission(io::Error),
    /// Any other socket error.
    #[error("raw socket: {0}")]
    Socket(io::Error),
}

impl SpoofSocket {
    /// Opens the raw socket.
    pub fn open() -> Result<SpoofSocket, TransparentError> {
        let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP)).map_err(|e| {
            if e.kind() == io::ErrorKind::PermissionDenied {
                TransparentError::Permission(e)
            } else {
                TransparentError::Socket(e)
            }
        })?;
        socket.set_header_included_v4(true).map_err(TransparentError::Socket)?;
        Ok(SpoofSocket { socket, buf: Vec::with_capacity(2048) })
    }

    /// Sends `payload` from `src` to `dst` (both IPv4).
    pub fn send(&mut self, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> io::Result<usize> {
        build(&mut self.buf, src, dst, payload)?;
        self.socket.send_to(&self.buf, &SockAddr::from(SocketAddr::V4(dst)))
    }
}

fn sum16(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        if let [a, b] = c {
            acc += u32::from(u16::from_be_bytes([*a, *b]));
        }
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Writes IPv4 header + UDP header + payload into `out`.
pub fn build(out: &mut Vec<u8>, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> io::Result<()> {
    let udp_len = u16::try_from(payload.len() + 8)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "datagram too large"))?;
    let total = udp_len
        .checked_add(20)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "datagram too large"))?;
    out.clear();
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]); // id 0 (kernel fills), DF, TTL 64, UDP
    out.extend_from_slice(&src.ip().octets());
    out.extend_from_slice(&dst.ip().octets());
    let ip_sum = fold(sum16(out.get(..20).unwrap_or(&[]), 0));
    if let Some(c) = out.get_mut(10..12) {
        c.copy_from_slice(&ip_sum.to_be_bytes());
    }
    out.extend_from_slice(&src.port().to_be_bytes());
    out.extend_from_slice(&dst.port().to_be_bytes());
    out.extend_from_slice(&udp_len.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    // UDP checksum over the pseudo-header, header and payload.
    let mut acc = sum16(&src.ip().octets(), 0);
    acc = sum16(&dst.ip().octets(), acc);
    acc += 17 + u32::from(udp_len);
    acc = sum16(out.get(20..).unwrap_or(&[]), acc);
    let mut udp_sum = fold(acc);
    if udp_sum == 0 {
        udp_sum = 0xffff;
    }
    if let Some(c) = out.get_mut(26..28) {
        c.copy_from_slice(&udp_sum.to_be_bytes());
    }
    Ok(())
}

/// `ip` as IPv4 when it is one (or an IPv4-mapped IPv6 address).
pub fn as_v4(addr: SocketAddr) -> Option<SocketAddrV4> {
    match addr {
        SocketAddr::V4(a) => Some(a),
        SocketAddr::V6(a) => a.ip().to_ipv4_mapped().map(|ip: Ipv4Addr| SocketAddrV4::new(ip, a.port())),
    }
}
