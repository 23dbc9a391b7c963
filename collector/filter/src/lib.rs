//! FlowVision's filter language and forwarding rules, apart from the daemon.
//!
//! On the data path, the collector's relay evaluates a rule's filter against every
//! decoded record ([`eval`]) before a datagram or its matching records leave for
//! another collector; the console renders the same filters as SQL `WHERE` clauses for
//! flow search ([`sql`]) and reads and writes the rules both sides share ([`rules`]).
//! Nothing here receives or sends datagrams or loads XDP programs, so the console can depend on it.
//!
//! The language: nfdump/tcpdump-style expressions over flow records
//! (`proto tcp and dst port 443 and src net 10.0.0.0/8`, `exporter 192.0.2.1`,
//! `src as 64500`, `in if 3`, `bytes > 1M`, `packets < 10`, `flags S and not flags A`,
//! `tos 184`, `vlan 10`, `next hop ADDR`, `port https`, `not`, `or`, parentheses); the grammar is in
//! docs/relay.md.

pub mod eval;
pub mod lexer;
pub mod parser;
pub mod rule;
pub mod rules;
pub mod sql;

use std::net::IpAddr;

pub use eval::matches;
pub use flowvision_codec::prefix::Prefix;
pub use parser::parse;
pub use rule::{Action, Rule, RuleError};
pub use sql::{to_sql, SqlParam};

/// A parse error, pointing at the offending token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter error at position {pos} (`{token}`): {message}")]
pub struct FilterError {
    /// Byte offset of the bad token in the expression (the end for a missing token).
    pub pos: usize,
    /// The token as written (empty at end of input).
    pub token: String,
    /// What is wrong.
    pub message: String,
}

impl FilterError {
    pub(crate) fn new(pos: usize, token: impl Into<String>, message: impl Into<String>) -> Self {
        FilterError { pos, token: token.into(), message: message.into() }
    }

    /// The expression with a caret line under the bad token, for terminals.
    pub fn caret(&self, input: &str) -> String {
        let width = self.token.chars().count().max(1);
        let lead = input.get(..self.pos).map(|s| s.chars().count()).unwrap_or(0);
        format!("{input}\n{}{}", " ".repeat(lead), "^".repeat(width))
    }
}

/// Which address/port/AS of a flow a predicate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The source.
    Src,
    /// The destination.
    Dst,
    /// Either (tcpdump's default when neither `src` nor `dst` is given).
    Any,
}

/// Which interface a predicate looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfDir {
    /// Input interface.
    In,
    /// Output interface.
    Out,
    /// Either.
    Any,
}

/// A comparison for numeric predicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=` (the default)
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Cmp {
    /// Applies the comparison.
    pub fn test(self, a: u64, b: u64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }

    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "<>",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }
}

/// One test on a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pred {
    /// `[src|dst] host ADDR` (also `ip ADDR`).
    Host(Dir, IpAddr),
    /// `[src|dst] net PREFIX`.
    Net(Dir, Prefix),
    /// `[src|dst] port [OP] N`.
    Port(Dir, Cmp, u16),
    /// `[src|dst] as [OP] N`.
    As(Dir, Cmp, u32),
    /// `[in|out] if N`.
    If(IfDir, u32),
    /// `proto NAME|N` (or a bare `tcp`, `udp`, `icmp`...).
    Proto(u8),
    /// `exporter ADDR` (or `exporter net PREFIX` via [`Pred::ExporterNet`]).
    Exporter(IpAddr),
    /// `exporter net PREFIX`.
    ExporterNet(Prefix),
    /// `bytes [OP] N` (N may end in k, m or g: powers of 1000, as in nfdump). Raw
    /// counters, as exported (not scaled by the sampling rate), like nfdump's.
    Bytes(Cmp, u64),
    /// `packets [OP] N` (same suffixes).
    Packets(Cmp, u64),
    /// `flags LETTERS|N`: every one of these TCP flags is set (nfdump's semantics;
    /// F S R P A U E C, or a number).
    Flags(u16),
    /// `tos [OP] N`.
    Tos(Cmp, u8),
    /// `vlan [OP] N`.
    Vlan(Cmp, u16),
    /// `next hop ADDR` (also `next ip ADDR`, `nexthop ADDR`).
    NextHop(IpAddr),
    /// `any`: every record.
    Any,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// Both.
    And(Box<Expr>, Box<Expr>),
    /// Either.
    Or(Box<Expr>, Box<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A leaf test.
    Pred(Pred),
}

/// IP protocol names the parser accepts (besides numbers 0-255).
pub const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("igmp", 2),
    ("ipip", 4),
    ("tcp", 6),
    ("egp", 8),
    ("udp", 17),
    ("ipv6", 41),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("icmp6", 58),
    ("icmpv6", 58),
    ("ospf", 89),
    ("pim", 103),
    ("vrrp", 112),
    ("l2tp", 115),
    ("sctp", 132),
];

/// Well-known port names the parser accepts after `port` (besides numbers 0-65535).
pub const PORTS: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("dns", 53),
    ("domain", 53),
    ("dhcp", 67),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("http", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("ntp", 123),
    ("imap", 143),
    ("snmp", 161),
    ("snmptrap", 162),
    ("bgp", 179),
    ("ldap", 389),
    ("https", 443),
    ("smb", 445),
    ("syslog", 514),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
    ("mssql", 1433),
    ("openvpn", 1194),
    ("radius", 1812),
    ("nfs", 2049),
    ("netflow", 2055),
    ("mysql", 3306),
    ("rdp", 3389),
    ("ipfix", 4739),
    ("ipsec-nat", 4500),
    ("sip", 5060),
    ("postgres", 5432),
    ("postgresql", 5432),
    ("sflow", 6343),
    ("http-alt", 8080),
];

/// TCP flag letters of `flags`, nfdump's: FIN, SYN, RST, PSH, ACK, URG, ECE, CWR.
pub const TCP_FLAGS: &[(char, u16)] =
    &[('F', 0x01), ('S', 0x02), ('R', 0x04), ('P', 0x08), ('A', 0x10), ('U', 0x20), ('E', 0x40), ('C', 0x80)];
