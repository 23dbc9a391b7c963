//! Sending many datagrams with one `sendmmsg` system call on a connected UDP socket.
//!
//! On a relay the kernel's per-call overhead (syscall entry, socket lookup, locking)
//! was paid once per forwarded datagram; with `sendmmsg` it is paid once per batch.
//! What remains per datagram is the UDP transmit itself.
//!
//! One catch: when datagram `k > 0` of a call fails, Linux returns `k` and drops the
//! error. On a connected UDP socket that error is usually an ICMP error (port or host
//! unreachable) reported for an earlier datagram, which the failing send consumed. So
//! the socket gets `IP_RECVERR` ([`enable_error_queue`]): every ICMP error is also
//! queued on the socket's error queue, where the reason is read back after a short
//! count (and the queue is drained after every failure, so it never fills).

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders,
    SockaddrStorage,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// Datagrams passed to one `sendmmsg` call at most.
pub const MAX_BATCH: usize = 64;

/// Error-queue entries read at most after one failure (each ICMP error adds one).
const ERROR_QUEUE_DRAIN: usize = 256;

/// Turns on `IP_RECVERR` / `IPV6_RECVERR` on `socket`, so that the reason of a failure
/// inside a `sendmmsg` batch can be read back (see the module comment).
pub fn enable_error_queue(socket: &UdpSocket) -> io::Result<()> {
    let v6 = socket.local_addr()?.is_ipv6();
    if v6 {
        setsockopt(socket, sockopt::Ipv6RecvErr, &true)?;
    } else {
        setsockopt(socket, sockopt::Ipv4RecvErr, &true)?;
    }
    Ok(())
}

/// Reusable message headers for `sendmmsg`. Holds raw pointers between calls (never
/// dereferenced outside a call), so it is not `Send`: create it on the thread that
/// sends.
pub struct MultiSender {
    headers: MultiHeaders<SockaddrStorage>,
    /// No address per message: the socket is connected.
    addrs: Vec<Option<SockaddrStorage>>,
}

impl std::fmt::Debug for MultiSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiSender").finish_non_exhaustive()
    }
}

impl Default for MultiSender {
    fn default() -> Self {
        Self::new()
    }
}

impl MultiSender {
    /// Headers for up to [`MAX_BATCH`] datagrams per call.
    pub fn new() -> Self {
        MultiSender { headers: MultiHeaders::preallocate(MAX_BATCH, None), addrs: vec![None; MAX_BATCH] }
    }

    /// Sends `datagrams` in order on the connected `socket`, [`MAX_BATCH`] per call,
    /// and reports each datagram's outcome exactly once, in order, to `outcome(index,
    /// result)`.
    ///
    /// `sendmmsg` returns how many of the batch went out; when datagram `k` fails,
    /// the call returns the ones before it (or the error itself when `k` is the
    /// first). The failed one is reported with its error and sending continues with
    /// `k + 1`, so one refused datagram (ICMP unreachable reported late, say) neither
    /// stops the batch nor gets counted twice.
    pub fn send_connected<'d>(
        &mut self,
        socket: &UdpSocket,
        datagrams: impl Iterator<Item = &'d [u8]>,
        outcome: &mut impl FnMut(usize, &[u8], io::Result<()>),
    ) {
        let fd = socket.as_raw_fd();
        let mut pending: Vec<&'d [u8]> = Vec::with_capacity(MAX_BATCH);
        let mut base = 0usize;
        let mut datagrams = datagrams.peekable();
        while datagrams.peek().is_some() || !pending.is_empty() {
            while pending.len() < MAX_BATCH {
                match datagrams.next() {
                    Some(d) => pending.push(d),
                    None => break,
                }
            }
            let sent = self.send_once(fd, &pending);
            let done = match sent {
                Ok(0) => {
                    // Not expected from the kernel for a non-empty batch; report the
                    // first as failed so the loop always advances.
                    report(&pending, base, 1, Err(io::Error::from(io::ErrorKind::WriteZero)), outcome)
                }
                Ok(m) if m >= pending.len() => report(&pending, base, m, Ok(()), outcome),
                Ok(m) => {
                    // Datagram `m` failed and the kernel dropped the error: take the
                    // reason from the error queue. With no reason there (a signal
                    // interrupted the call, or a local error), `m` is tried again in
                    // the next call, where a lasting error comes back as the first
                    // datagram's and is counted there; each call still makes progress.
                    let ok = report(&pending, base, m, Ok(()), outcome);
                    match (drain_error_queue(fd), pending.get(m)) {
                        (Some(why), Some(d)) => {
                            outcome(base + m, d, Err(why));
                            ok + 1
                        }
                        _ => ok,
                    }
                }
                Err(Errno::EINTR) => 0,
                Err(e) => {
                    let _ = drain_error_queue(fd);
                    report(&pending, base, 1, Err(io::Error::from(e)), outcome)
                }
            };
            pending.drain(..done.min(pending.len()));
            base += done;
        }
    }

    fn send_once(&mut self, fd: i32, batch: &[&[u8]]) -> Result<usize, Errno> {
        let slices: Vec<[IoSlice<'_>; 1]> = batch.iter().map(|d| [IoSlice::new(d)]).collect();
        let cmsgs: [ControlMessage<'_>; 0] = [];
        sendmmsg(fd, &mut self.headers, slices.iter(), &self.addrs, cmsgs, MsgFlags::empty())
            .map(|results| results.count())
    }
}

/// Reads every entry of `fd`'s error queue; returns the last one's error (the most
/// recent ICMP error, the one a failed send consumed), if there was any.
fn drain_error_queue(fd: i32) -> Option<io::Error> {
    let mut last = None;
    let mut cmsg = nix::cmsg_space!(nix::libc::sock_extended_err, nix::libc::sockaddr_in6);
    for _ in 0..ERROR_QUEUE_DRAIN {
        // The queued entry carries the offending datagram; its start is enough.
        let mut buf = [0u8; 64];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let flags = MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT;
        let Ok(msg) = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(cmsg.as_mut_slice()), flags) else {
            break;
        };
        let Ok(cmsgs) = msg.cmsgs() else { continue };
        for c in cmsgs {
            if let ControlMessageOwned::Ipv4RecvErr(e, _) | ControlMessageOwned::Ipv6RecvErr(e, _) = c {
                last = Some(io::Error::from_raw_os_error(e.ee_errno as i32));
            }
        }
    }
    last
}

/// Reports the first `count` datagrams of `batch` with `result` (an error belongs to
/// the first one only); returns how many were reported.
fn report(
    batch: &[&[u8]],
    base: usize,
    count: usize,
    result: io::Result<()>,
    outcome: &mut impl FnMut(usize, &[u8], io::Result<()>),
) -> usize {
    match result {
        Ok(()) => {
            let mut n = 0;
            for (i, d) in batch.iter().enumerate().take(count) {
                outcome(base + i, d, Ok(()));
                n += 1;
            }
            n
        }
        Err(e) => match batch.first() {
            Some(d) => {
                outcome(base, d, Err(e));
                1
            }
            None => 0,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn sends_every_datagram_in_order_across_batches() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket2::SockRef::from(&rx).set_recv_buffer_size(4 << 20).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let data: Vec<Vec<u8>> = (0..150u32).map(|i| vec![i as u8; 10 + i as usize]).collect();
        let mut seen = Vec::new();
        let mut ms = MultiSender::new();
        ms.send_connected(&tx, data.iter().map(|d| d.as_slice()), &mut |i, d, r| {
            assert!(r.is_ok(), "datagram {i}: {r:?}");
            seen.push((i, d.len()));
        });
        assert_eq!(seen, (0..150).map(|i| (i, 10 + i)).collect::<Vec<_>>());
        let mut buf = [0u8; 2048];
        for d in &data {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], d.as_slice());
        }
        println!("sendmmsg: {} datagrams sent and received in order", data.len());
    }

    #[test]
    fn refused_datagrams_are_reported_once_each_and_sending_goes_on() {
        // A port nobody listens on: loopback answers with ICMP port unreachable,
        // which a connected socket reports as ECONNREFUSED on a later send.
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(addr).unwrap();
        enable_error_queue(&tx).unwrap();
        let data: Vec<Vec<u8>> = (0..200u32).map(|i| vec![i as u8; 100]).collect();
        let mut ms = MultiSender::new();
        let (mut ok, mut refused, mut order) = (0, 0, Vec::new());
        // Loopback answers within the send itself, so errors land inside batches.
        for round in 0..5 {
            ms.send_connected(&tx, data.iter().map(|d| d.as_slice()), &mut |i, _, r| {
                order.push(i);
                match r {
                    Ok(()) => ok += 1,
                    Err(e) if e.raw_os_error() == Some(Errno::ECONNREFUSED as i32) => refused += 1,
                    Err(e) => panic!("round {round}, datagram {i}: {e}"),
                }
            });
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(ok + refused, 5 * data.len(), "every datagram reported exactly once");
        assert_eq!(order, (0..5).flat_map(|_| 0..data.len()).collect::<Vec<_>>());
        // Every datagram after one that drew an ICMP error is refused (the error is
        // pending), so about half are; none may pass silently.
        assert!(refused >= 5 * data.len() / 3, "ICMP unreachable not reported: {refused} refused");
        println!("sendmmsg to a closed port: {ok} sent, {refused} refused, of {}", 5 * data.len());
    }
}
