//! Renders a filter as a parameterized SQL `WHERE` clause over the `flows` table
//! (migrations/0001_flows.sql), for flow search. Values never enter the SQL text:
//! each becomes a `$n` placeholder and an entry of `params`.

use super::{Dir, Expr, IfDir, Pred};
use std::net::IpAddr;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlParam {
    /// A 64-bit integer (ports, AS numbers, interfaces, protocol numbers, counters),
    /// bound as `bigint` (the SQL casts: `$n::bigint`, so the caller binds an `i64`
    /// whatever the column's width).
    Int(i64),
    /// An address or prefix, bound as text (the SQL casts it: `$n::text::inet`).
    Inet(String),
}

fn push(params: &mut Vec<SqlParam>, p: SqlParam) -> String {
    let cast = match p {
        SqlParam::Int(_) => "bigint",
        SqlParam::Inet(_) => "text::inet",
    };
    params.push(p);
    format!("${}::{cast}", params.len())
}

/// Counters past `i64::MAX` cannot be stored in a `bigint` column: clamp the bound, so
/// the comparison keeps its meaning over every storable value.
fn int(n: u64) -> SqlParam {
    SqlParam::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn both(dir: Dir, f: impl Fn(&str) -> String) -> String {
    match dir {
        Dir::Src => f("src"),
        Dir::Dst => f("dst"),
        Dir::Any => format!("({} OR {})", f("src"), f("dst")),
    }
}

/// Renders `expr`; placeholders continue after those already in `params`, so a caller
/// can combine it with its own conditions (time range, exporter scope).
pub fn to_sql(expr: &Expr, params: &mut Vec<SqlParam>) -> String {
    match expr {
        Expr::And(a, b) => {
            let a = to_sql(a, params);
            let b = to_sql(b, params);
            format!("({a} AND {b})")
        }
        Expr::Or(a, b) => {
            let a = to_sql(a, params);
            let b = to_sql(b, params);
            format!("({a} OR {b})")
        }
        Expr::Not(e) => format!("(NOT {})", to_sql(e, params)),
        Expr::Pred(p) => pred(p, params),
    }
}

/// `col op ph`, false (not NULL) where the column is NULL (an address absent from the
/// template), so `not host X` keeps such rows as the in-memory evaluation does.
/// Written as `col op ph AND col IS NOT NULL` rather than `COALESCE(col op ph,
/// FALSE)`: the planner can use the bare comparison as an index condition (the BRIN
/// bloom index on the addresses, migrations/0018), which it cannot inside COALESCE.
fn present(col: &str, op: &str, ph: &str) -> String {
    format!("({col} {op} {ph} AND {col} IS NOT NULL)")
}

fn inet(a: IpAddr) -> SqlParam {
    SqlParam::Inet(a.to_string())
}

fn pred(p: &Pred, params: &mut Vec<SqlParam>) -> String {
    match p {
        Pred::Any => "TRUE".into(),
        Pred::Host(dir, a) => {
            let ph = push(params, inet(*a));
            both(*dir, |d| present(&format!("{d}_addr"), "=", &ph))
        }
        // A whole-address prefix (/32, /128: the console's address fields send one for
        // a single host) is that host: equality, which the address index can answer.
        Pred::Net(dir, n) if n.len() == if n.addr().is_ipv4() { 32 } else { 128 } => {
            let ph = push(params, inet(n.addr()));
            both(*dir, |d| present(&format!("{d}_addr"), "=", &ph))
        }
        Pred::Net(dir, n) => {
            let ph = push(params, SqlParam::Inet(n.to_string()));
            both(*dir, |d| present(&format!("{d}_addr"), "<<=", &ph))
        }
        Pred::Port(dir, cmp, port) => {
            let ph = push(params, SqlParam::Int(i64::from(*port)));
            both(*dir, |d| format!("{d}_port {} {ph}", cmp.sql()))
        }
        Pred::As(dir, cmp, asn) => {
            let ph = push(params, SqlParam::Int(i64::from(*asn)));
            both(*dir, |d| format!("{d}_as {} {ph}", cmp.sql()))
        }
        Pred::If(d, n) => {
            let ph = push(params, SqlParam::Int(i64::from(*n)));
            match d {
                IfDir::In => format!("in_if = {ph}"),
                IfDir::Out => format!("out_if = {ph}"),
                IfDir::Any => format!("(in_if = {ph} OR out_if = {ph})"),
            }
        }
        Pred::Proto(p) => format!("proto = {}", push(params, SqlParam::Int(i64::from(*p)))),
        Pred::Exporter(a) => format!("exporter = {}", push(params, inet(*a))),
        Pred::ExporterNet(n) => format!("exporter <<= {}", push(params, SqlParam::Inet(n.to_string()))),
        Pred::Bytes(cmp, n) => format!("bytes {} {}", cmp.sql(), push(params, int(*n))),
        Pred::Packets(cmp, n) => format!("packets {} {}", cmp.sql(), push(params, int(*n))),
        Pred::Flags(mask) => {
            let ph = push(params, SqlParam::Int(i64::from(*mask)));
            format!("(tcp_flags & {ph}) = {ph}")
        }
        Pred::Tos(cmp, n) => format!("tos {} {}", cmp.sql(), push(params, SqlParam::Int(i64::from(*n)))),
        Pred::Vlan(cmp, n) => format!("vlan {} {}", cmp.sql(), push(params, SqlParam::Int(i64::from(*n)))),
        Pred::NextHop(a) => present("next_hop", "=", &push(params, inet(*a))),
    }
}
