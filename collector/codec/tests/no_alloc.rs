//! Proof that the decode hot path allocates nothing per record: a counting global
//! allocator watches a steady-state decode loop over real encoded datagrams.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
// The only unsafe in this test: a GlobalAlloc must be an `unsafe impl`. It forwards
// every call unchanged to the system allocator and only counts.
#![allow(unsafe_code)]

use flowvision_codec::encode::sflow::SflowEncoder;
use flowvision_codec::encode::{TemplateEncoder, TemplateEncoderConfig, V5Encoder};
use flowvision_codec::{DecodeOutput, Decoder, FlowRecord, Protocol, TemplateCacheConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while running `f`.
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get)
}

const EXPORTER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const NOW: i64 = 1_732_000_000_000;

fn records(n: u32) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let mut r = FlowRecord::new(Protocol::NetflowV9, EXPORTER);
            r.src_addr = Some(if i % 5 == 0 {
                IpAddr::V6(Ipv6Addr::from(0x2001_0db8u128 << 96 | u128::from(i)))
            } else {
                IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i))
            });
            r.dst_addr = Some(if i % 5 == 0 {
                IpAddr::V6(Ipv6Addr::LOCALHOST)
            } else {
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1))
            });
            r.bytes = u64::from(i) * 100;
            r.packets = u64::from(i);
            r.flow_start_ms = Some(NOW - 10_000);
            r.flow_end_ms = Some(NOW - 1_000);
            r
        })
        .collect()
}

fn datagrams(protocol: Protocol) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let recs = records(3000);
    let mut templates = Vec::new();
    let mut data = Vec::new();
    match protocol {
        Protocol::NetflowV5 => {
            let v4: Vec<_> = recs.into_iter().filter(|r| matches!(r.src_addr, Some(IpAddr::V4(_)))).collect();
            V5Encoder::new(0, 0, 100).encode(NOW, 5_000_000, &v4, |d| data.push(d.to_vec()));
        }
        Protocol::SflowV5 => {
            SflowEncoder::new(EXPORTER, 0).encode_flows(5_000_000, &recs, |d| data.push(d.to_vec()));
        }
        _ => {
            let mut cfg = TemplateEncoderConfig::new(protocol, 3);
            cfg.template_refresh_datagrams = 0;
            cfg.template_refresh_ms = 0;
            let mut enc = TemplateEncoder::new(cfg);
            enc.encode(NOW, 5_000_000, &[], |d| templates.push(d.to_vec()));
            enc.encode(NOW, 5_000_000, &recs, |d| data.push(d.to_vec()));
        }
    }
    (templates, data)
}

#[test]
fn steady_state_decode_allocates_nothing() {
    for protocol in Protocol::ALL {
        let (templates, data) = datagrams(protocol);
        let decoder = Decoder::new(TemplateCacheConfig::default());
        let mut out = DecodeOutput::default();
        for t in &templates {
            decoder.decode(EXPORTER, t, NOW, &mut out).unwrap();
        }
        // Warm-up: buffers grow to their working size, the lookup memo fills.
        for d in &data {
            out.clear();
            decoder.decode(EXPORTER, d, NOW, &mut out).unwrap();
        }
        let mut decoded = 0usize;
        let n = allocations(|| {
            for _ in 0..10 {
                for d in &data {
                    out.clear();
                    decoder.decode(EXPORTER, d, NOW, &mut out).unwrap();
                    decoded += out.records.len();
                }
            }
        });
        println!("{protocol}: {decoded} records decoded with {n} allocations");
        assert!(decoded >= 20_000);
        assert_eq!(n, 0, "{protocol}: the hot path allocated");
    }
}

#[test]
fn the_counter_does_count() {
    // Guards the guard: a Vec allocation must be seen.
    let n = allocations(|| {
        std::hint::black_box(vec![0u8; 64]);
    });
    assert_eq!(n, 1);
}
