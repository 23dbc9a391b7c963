//! Evaluates a filter against one decoded record. Allocation-free: the relay runs it
//! per record in the worker's path.

use super::{Dir, Expr, IfDir, Pred};
use flowvision_codec::FlowRecord;
use std::net::IpAddr;

/// Whether `record` matches `expr`.
pub fn matches(expr: &Expr, record: &FlowRecord) -> bool {
    match expr {
        Expr::And(a, b) => matches(a, record) && matches(b, record),
        Expr::Or(a, b) => matches(a, record) || matches(b, record),
        Expr::Not(e) => !matches(e, record),
        Expr::Pred(p) => pred(p, record),
    }
}

fn either<T: Copy>(dir: Dir, src: T, dst: T, test: impl Fn(T) -> bool) -> bool {
    match dir {
        Dir::Src => test(src),
        Dir::Dst => test(dst),
        Dir::Any => test(src) || test(dst),
    }
}

fn pred(p: &Pred, r: &FlowRecord) -> bool {
    match p {
        Pred::Any => true,
        Pred::Host(dir, a) => either(*dir, r.src_addr, r.dst_addr, |x: Option<IpAddr>| x == Some(*a)),
        Pred::Net(dir, n) => {
            either(*dir, r.src_addr, r.dst_addr, |x: Option<IpAddr>| x.is_some_and(|ip| n.contains(ip)))
        }
        Pred::Port(dir, cmp, port) => {
            either(*dir, r.src_port, r.dst_port, |x: u16| cmp.test(u64::from(x), u64::from(*port)))
        }
        Pred::As(dir, cmp, asn) => {
            either(*dir, r.src_as, r.dst_as, |x: u32| cmp.test(u64::from(x), u64::from(*asn)))
        }
        Pred::If(d, n) => match d {
            IfDir::In => r.in_if == *n,
            IfDir::Out => r.out_if == *n,
            IfDir::Any => r.in_if == *n || r.out_if == *n,
        },
        Pred::Proto(p) => r.proto == *p,
        Pred::Exporter(a) => r.exporter == *a,
        Pred::ExporterNet(n) => n.contains(r.exporter),
        Pred::Bytes(cmp, n) => cmp.test(r.bytes, *n),
        Pred::Packets(cmp, n) => cmp.test(r.packets, *n),
        Pred::Flags(mask) => r.tcp_flags & mask == *mask,
        Pred::Tos(cmp, n) => cmp.test(u64::from(r.tos), u64::from(*n)),
        Pred::Vlan(cmp, n) => cmp.test(u64::from(r.vlan), u64::from(*n)),
        Pred::NextHop(a) => r.next_hop == Some(*a),
    }
}
