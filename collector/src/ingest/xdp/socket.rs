//! One AF_XDP socket on one RX queue, with its own UMEM (xdpilone). The only module of
//! the collector that needs `unsafe`: the UMEM is memory shared with the kernel, so
//! mapping it and reading received frames out of it cannot be checked by the compiler.
#![allow(unsafe_code)]

use crate::config::XdpCopyMode;
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::mman::{mmap_anonymous, munmap, MapFlags, ProtFlags};
use std::ffi::CString;
use std::io;
use std::num::NonZeroU32;
use std::os::fd::{BorrowedFd, RawFd};
use std::ptr::NonNull;
use std::time::Duration;
use xdpilone::{DeviceQueue, IfInfo, RingRx, Socket, SocketConfig, Umem, UmemConfig, User};

/// Descriptors taken off the RX ring per call: small enough that frames return to
/// the fill ring promptly, large enough to amortise the ring's atomics.
const RX_BATCH: u32 = 64;

/// Sizes and flags of one queue's socket.
#[derive(Debug, Clone, Copy)]
pub struct SocketSettings {
    /// UMEM frames.
    pub frames: u32,
    /// Bytes per frame.
    pub frame_size: u32,
    /// RX and fill ring entries.
    pub ring_size: u32,
    /// Copy or zero-copy.
    pub copy: XdpCopyMode,
}

/// The kernel's XDP_STATISTICS for one socket (Linux >= 5.9 fields included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// Frames dropped for reasons other than a full ring (e.g. too big for a frame).
    pub rx_dropped: u64,
    /// Invalid descriptors on the fill ring.
    pub rx_invalid_descs: u64,
    /// Frames dropped because the RX ring was full (the worker fell behind).
    pub rx_ring_full: u64,
    /// Times the kernel found the fill ring empty (no buffer to receive into).
    pub rx_fill_ring_empty: u64,
}

/// Anonymous memory shared with the kernel as the UMEM; unmapped on drop.
struct Area {
    ptr: NonNull<u8>,
    len: usize,
}

impl Area {
    fn new(len: usize) -> io::Result<Area> {
        let size = std::num::NonZeroUsize::new(len)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty UMEM"))?;
        // SAFETY: a fresh private anonymous mapping aliases nothing; its address and
        // length are kept in `Area` and released exactly once in `Drop`.
        let ptr = unsafe {
            mmap_anonymous(
                None,
                size,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_PRIVATE | MapFlags::MAP_POPULATE,
            )
        }
        .map_err(io::Error::from)?;
        Ok(Area { ptr: ptr.cast(), len })
    }

    fn as_slice_ptr(&self) -> NonNull<[u8]> {
        NonNull::slice_from_raw_parts(self.ptr, self.len)
    }

    /// `len` bytes at `offset`, or `None` when that is outside the area.
    fn bytes(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > self.len {
            return None;
        }
        // SAFETY: the range is inside the mapping (checked above) and the mapping lives
        // as long as `self`. The kernel wrote this frame and handed it to us on the RX
        // ring; it will not write it again until the worker puts it back on the fill
        // ring, which happens only after the returned slice is dropped (see `receive`).
        Some(unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(offset), len) })
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, and the UMEM that shared
        // it with the kernel (declared before `area` in `XskQueue`) is already dropped,
        // which closed the socket and released the kernel's pin on these pages.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// One RX queue's AF_XDP socket: UMEM, fill ring, RX ring. Fields drop in order, so
/// the rings and socket go before the memory they point into.
pub struct XskQueue {
    rx: RingRx,
    fill: DeviceQueue,
    user: User,
    _umem: Umem,
    area: Area,
    frame_size: u64,
    /// Frame addresses owned by user space and not yet on the fill ring.
    free: Vec<u64>,
}

impl std::fmt::Debug for XskQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XskQueue").field("fd", &self.fd()).field("free", &self.free.len()).finish()
    }
}

fn errno(e: xdpilone::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.get_raw().abs())
}

impl XskQueue {
    /// Creates the UMEM and the socket, and binds it to `queue` of `interface`.
    pub fn open(interface: &str, queue: u32, s: SocketSettings) -> io::Result<XskQueue> {
        let len = usize::try_from(u64::from(s.frames) * u64::from(s.frame_size))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "UMEM too large"))?;
        let area = Area::new(len)?;
        let config = UmemConfig {
            fill_size: s.ring_size,
            complete_size: s.ring_size,
            frame_size: s.frame_size,
            headroom: 0,
            flags: 0,
        };
        // SAFETY: `area` is a page-aligned mapping of `frames * frame_size` bytes that
        // outlives the Umem (both are owned by the returned XskQueue, `area` dropped last).
        let umem = unsafe { Umem::new(config, area.as_slice_ptr()) }.map_err(errno)?;
        let mut info = IfInfo::invalid();
        let name = CString::new(interface).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        info.from_name(&name).map_err(errno)?;
        info.set_queue(queue);
        let socket = Socket::with_shared(&info, &umem).map_err(errno)?;
        let fill = umem.fq_cq(&socket).map_err(errno)?;
        let bind_flags = SocketConfig::XDP_BIND_NEED_WAKEUP
            | match s.copy {
                XdpCopyMode::Auto => 0,
                XdpCopyMode::Copy => SocketConfig::XDP_BIND_COPY,
                XdpCopyMode::ZeroCopy => SocketConfig::XDP_BIND_ZEROCOPY,
            };
        let config = SocketConfig { rx_size: NonZeroU32::new(s.ring_size), tx_size: None, bind_flags };
        let user = umem.rx_tx(&socket, &config).map_err(errno)?;
        let rx = user.map_rx().map_err(errno)?;
        umem.bind(&user).map_err(errno)?;
        let frame_size = u64::from(s.frame_size);
        let free = (0..u64::from(s.frames)).map(|i| i * frame_size).collect();
        let mut q = XskQueue { rx, fill, user, _umem: umem, area, frame_size, free };
        q.refill();
        Ok(q)
    }

    /// The socket's descriptor, for the XSKMAP.
    pub fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }

    /// Puts every free frame on the fill ring (as many as fit).
    fn refill(&mut self) {
        if self.free.is_empty() {
            return;
        }
        let want = u32::try_from(self.free.len()).unwrap_or(u32::MAX);
        let mut writer = self.fill.fill(want);
        let start = self.free.len().saturating_sub(writer.capacity() as usize);
        let n = writer.insert(self.free.get(start..).unwrap_or(&[]).iter().copied());
        writer.commit();
        drop(writer);
        self.free.truncate(self.free.len().saturating_sub(n as usize));
        if self.fill.needs_wakeup() {
            self.fill.wake();
        }
    }

    /// Waits up to `timeout` for frames, hands each one to `on_frame`, returns their
    /// count. Frames go back on the fill ring right after, so it never runs dry while
    /// the worker keeps up.
    pub fn receive(&mut self, timeout: Duration, mut on_frame: impl FnMut(&[u8])) -> io::Result<usize> {
        if self.rx.available() == 0 {
            // SAFETY: the descriptor is owned by `self.rx` and stays open for this call.
            let fd = unsafe { BorrowedFd::borrow_raw(self.fd()) };
            let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
            let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
            match poll(&mut fds, ms) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(io::Error::from(e)),
            }
        }
        let mut n = 0;
        let mut reader = self.rx.receive(RX_BATCH);
        while let Some(desc) = reader.read() {
            n += 1;
            let addr = desc.addr;
            if let (Ok(at), Ok(len)) = (usize::try_from(addr), usize::try_from(desc.len)) {
                if let Some(frame) = self.area.bytes(at, len) {
                    on_frame(frame);
                }
            }
            // The chunk's base address; the descriptor may point past a headroom.
            self.free.push(addr - addr % self.frame_size);
        }
        reader.release();
        drop(reader);
        self.refill();
        Ok(n)
    }

    /// XDP_STATISTICS of the socket.
    pub fn stats(&self) -> io::Result<SocketStats> {
        let s = self.user.statistics_v2().map_err(errno)?;
        Ok(SocketStats {
            rx_dropped: s.rx_dropped,
            rx_invalid_descs: s.rx_invalid_descs,
            rx_ring_full: s.rx_ring_full,
            rx_fill_ring_empty: s.rx_fill_ring_empty_descs,
        })
    }
}
