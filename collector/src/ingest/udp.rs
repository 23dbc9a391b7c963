//! Kernel UDP sockets: one SO_REUSEPORT socket per (port, worker), dual-stack, read
//! with `recvmmsg` so one system call brings up to [`BATCH`] datagrams.

use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::{self, IoSliceMut};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

/// Datagrams read per `recvmmsg` call.
pub const BATCH: usize = 64;
/// Receive buffer per datagram: the largest UDP payload, so nothing is truncated.
const DATAGRAM_MAX: usize = 65_536;

/// Binds one socket for `port` with SO_REUSEPORT, on `[::]` (IPv4 and IPv6) when the
/// host has IPv6, else on `0.0.0.0`.
pub fn bind_port(port: u16, rcvbuf: usize) -> io::Result<UdpSocket> {
    let v6 = Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)).and_then(|s| {
        s.set_only_v6(false)?;
        Ok(s)
    });
    let (socket, addr): (Socket, SocketAddr) = match v6 {
        Ok(s) => (s, SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))),
        Err(_) => (
            Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?,
            SocketAddr::from(([0, 0, 0, 0], port)),
        ),
    };
    socket.set_reuse_port(true)?;
    // The kernel may cap this at net.core.rmem_max; the effective size is logged.
    let _ = socket.set_recv_buffer_size(rcvbuf);
    socket.bind(&SockAddr::from(addr))?;
    Ok(socket.into())
}

/// The sockets one worker reads, and its receive buffers.
pub struct UdpReceiver {
    sockets: Vec<UdpSocket>,
    buffers: Vec<Vec<u8>>,
    headers: MultiHeaders<SockaddrStorage>,
    received: Vec<(usize, Option<SocketAddr>)>,
    next_socket: usize,
}

impl std::fmt::Debug for UdpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpReceiver").field("sockets", &self.sockets).finish_non_exhaustive()
    }
}

fn to_std(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    let v6 = SocketAddrV6::from(*addr.as_sockaddr_in6()?);
    // Dual-stack sockets report IPv4 exporters as ::ffff:a.b.c.d; name them as IPv4.
    Some(match v6.ip().to_ipv4_mapped() {
        Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
        None => SocketAddr::V6(v6),
    })
}

impl UdpReceiver {
    /// A receiver over already bound sockets.
    pub fn new(sockets: Vec<UdpSocket>) -> Self {
        UdpReceiver {
            sockets,
            buffers: (0..BATCH).map(|_| vec![0u8; DATAGRAM_MAX]).collect(),
            headers: MultiHeaders::preallocate(BATCH, None),
            received: Vec::with_capacity(BATCH),
            next_socket: 0,
        }
    }

    /// Local addresses of the sockets.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().filter_map(|s| s.local_addr().ok()).collect()
    }

    /// Waits up to `timeout` for datagrams and reads one batch from one ready socket
    /// (round robin, so a busy port cannot starve the others). Returns how many
    /// datagrams [`UdpReceiver::datagram`] can now give.
    pub fn recv(&mut self, timeout: Duration) -> io::Result<usize> {
        self.received.clear();
        let ready = {
            let mut fds: Vec<PollFd<'_>> =
                self.sockets.iter().map(|s| PollFd::new(s.as_fd(), PollFlags::POLLIN)).collect();
            let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
            match poll(&mut fds, ms) {
                Ok(0) => return Ok(0),
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => return Ok(0),
                Err(e) => return Err(io::Error::from(e)),
            }
            let n = fds.len();
            (0..n)
                .map(|k| (self.next_socket + k) % n)
                .find(|i| fds.get(*i).and_then(|f| f.any()).unwrap_or(false))
        };
        let Some(index) = ready else { return Ok(0) };
        self.next_socket = index + 1;
        let Some(socket) = self.sockets.get(index) else { return Ok(0) };
        let fd = socket.as_raw_fd();
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
            self.buffers.iter_mut().map(|b| [IoSliceMut::new(b.as_mut_slice())]).collect();
        match recvmmsg(fd, &mut self.headers, iovs.iter_mut(), MsgFlags::MSG_DONTWAIT, None) {
            Ok(results) => {
                for msg in results {
                    self.received.push((msg.bytes, msg.address.as_ref().and_then(to_std)));
                }
            }
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(io::Error::from(e)),
        }
        Ok(self.received.len())
    }

    /// Datagram `i` of the last batch: its source and payload.
    pub fn datagram(&self, i: usize) -> Option<(SocketAddr, &[u8])> {
        let (len, src) = self.received.get(i)?;
        let payload = self.buffers.get(i)?.get(..*len)?;
        Some(((*src)?, payload))
    }
}

impl super::DatagramSource for UdpReceiver {
    /// One `recvmmsg` batch; the buffers are reused by the next call.
    fn receive<F: FnMut(SocketAddr, &[u8])>(
        &mut self,
        timeout: Duration,
        mut handle: F,
    ) -> io::Result<usize> {
        let n = self.recv(timeout)?;
        for i in 0..n {
            if let Some((src, payload)) = self.datagram(i) {
                handle(src, payload);
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn receives_from_ipv4_and_ipv6_on_one_port() {
        let first = bind_port(0, 1 << 20).unwrap();
        let port = first.local_addr().unwrap().port();
        let mut rx = UdpReceiver::new(vec![first]);
        let tx4 = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx4.send_to(b"v4 hello", ("127.0.0.1", port)).unwrap();
        if let Ok(tx6) = UdpSocket::bind("[::1]:0") {
            tx6.send_to(b"v6 hello", ("::1", port)).unwrap();
        }
        let mut seen = Vec::new();
        for _ in 0..20 {
            let n = rx.recv(Duration::from_millis(100)).unwrap();
            for i in 0..n {
                let (src, payload) = rx.datagram(i).unwrap();
                seen.push((src.ip().is_ipv4(), payload.to_vec()));
            }
            if seen.len() >= 2 {
                break;
            }
        }
        assert!(seen.contains(&(true, b"v4 hello".to_vec())), "IPv4 exporter seen as IPv4: {seen:?}");
    }
}
