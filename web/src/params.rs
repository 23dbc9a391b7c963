//! Query parameters shared by pages and the API, parsed and validated before any of
//! them reaches the data layer.

use crate::data::dash::{AsSide, DashFilter};
use crate::data::flows::FlowQuery;
use crate::data::Window;
use crate::error::{AppError, AppResult};
use crate::net::Prefix;
use rocket::FromForm;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Parameters of dashboards: a preset range or `from`/`to`, and an exporter filter.
#[derive(Debug, Clone, Default, FromForm)]
pub struct DashParams {
    /// Preset: 5m, 15m, 1h, 6h, 24h, 7d [1h].
    pub range: Option<String>,
    /// Start (RFC 3339 or Unix milliseconds); with `to`, overrides `range`.
    pub from: Option<String>,
    /// End (RFC 3339 or Unix milliseconds) [now].
    pub to: Option<String>,
    /// Only this exporter (address or prefix).
    pub exporter: Option<String>,
    /// Rows of top-N tables [10, at most 1000].
    pub limit: Option<i64>,
    /// Talkers: src or dst; AS: src, dst or pair.
    pub side: Option<String>,
}

/// Parses a time: RFC 3339, or Unix milliseconds.
pub fn parse_time(name: &str, s: &str) -> AppResult<OffsetDateTime> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .map_err(|_| AppError::BadRequest(format!("{name}: out of range")));
    }
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        AppError::BadRequest(format!("{name}: use RFC 3339 (2024-05-01T12:00:00Z) or Unix milliseconds"))
    })
}

/// Parses an optional time parameter (empty = absent).
pub fn opt_time(name: &str, v: &Option<String>) -> AppResult<Option<OffsetDateTime>> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_time(name, s).map(Some),
    }
}

/// Parses an optional prefix parameter (empty = absent).
pub fn opt_prefix(name: &str, v: &Option<String>) -> AppResult<Option<Prefix>> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => crate::net::parse(s).map(Some).map_err(|e| AppError::BadRequest(format!("{name}: {e}"))),
    }
}

fn opt_num<T: std::str::FromStr>(name: &str, v: &Option<String>, what: &str) -> AppResult<Option<T>> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| AppError::BadRequest(format!("{name}: {what}"))),
    }
}

impl DashParams {
    /// The window: `from`/`to` when given, else the preset (default 1h).
    pub fn window(&self) -> AppResult<Window> {
        let now = OffsetDateTime::now_utc();
        let from = opt_time("from", &self.from)?;
        let to = opt_time("to", &self.to)?;
        if from.is_some() || to.is_some() {
            let to = to.unwrap_or(now);
            let from = from.ok_or_else(|| AppError::BadRequest("from: required with to".into()))?;
            return Window::span(from, to).map_err(Into::into);
        }
        let name = self.range.as_deref().unwrap_or("1h");
        Window::preset(name, now)
            .ok_or_else(|| AppError::BadRequest(format!("range: one of {}", preset_names())))
    }

    /// The preset name in effect ("custom" for from/to).
    pub fn range_name(&self) -> String {
        if self.from.as_deref().is_some_and(|s| !s.is_empty()) {
            return "custom".into();
        }
        self.range.clone().unwrap_or_else(|| "1h".into())
    }

    /// The exporter filter.
    pub fn filter(&self) -> AppResult<DashFilter> {
        Ok(DashFilter { exporter: opt_prefix("exporter", &self.exporter)? })
    }

    /// Rows of top-N tables.
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(10).clamp(1, 1000)
    }

    /// Talker side: true for destinations.
    pub fn talker_dst(&self) -> AppResult<bool> {
        match self.side.as_deref().unwrap_or("src") {
            "src" => Ok(false),
            "dst" => Ok(true),
            _ => Err(AppError::BadRequest("side: src or dst".into())),
        }
    }

    /// AS side.
    pub fn as_side(&self) -> AppResult<AsSide> {
        match self.side.as_deref().unwrap_or("src") {
            "src" => Ok(AsSide::Src),
            "dst" => Ok(AsSide::Dst),
            "pair" => Ok(AsSide::Pair),
            _ => Err(AppError::BadRequest("side: src, dst or pair".into())),
        }
    }
}

/// The preset names, comma-separated.
pub fn preset_names() -> String {
    crate::data::window::PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// Parses a filter expression (`None` or blank: no filter); a bad one is a 400 naming
/// the position and token at fault.
pub fn parse_filter(text: Option<&str>) -> AppResult<Option<flowvision_filter::Expr>> {
    match text.filter(|s| !s.trim().is_empty()) {
        None => Ok(None),
        // Untrimmed: error positions count from what the user typed.
        Some(t) => {
            flowvision_filter::parse(t).map(Some).map_err(|e| AppError::BadRequest(format!("filter: {e}")))
        }
    }
}

/// Parameters of flow search (all optional; strings so that empty form fields are
/// "no filter" and bad values get a precise message). `filter` is an expression in the
/// filter language; the other fields are a builder for one, ANDed with it.
#[derive(Debug, Clone, Default, FromForm)]
pub struct FlowParams {
    /// A filter expression (`proto tcp and dst port 443 and not exporter 192.0.2.1`).
    pub filter: Option<String>,
    /// Received at or after (RFC 3339 or Unix ms) [to - 15 min].
    pub from: Option<String>,
    /// Received before [now].
    pub to: Option<String>,
    /// Source address or prefix.
    pub src: Option<String>,
    /// Destination address or prefix.
    pub dst: Option<String>,
    /// Either address.
    pub addr: Option<String>,
    /// Source port.
    pub src_port: Option<String>,
    /// Destination port.
    pub dst_port: Option<String>,
    /// Either port.
    pub port: Option<String>,
    /// IP protocol number (or tcp, udp, icmp, icmpv6).
    pub proto: Option<String>,
    /// Exporter address or prefix.
    pub exporter: Option<String>,
    /// Input ifIndex.
    pub in_if: Option<String>,
    /// Output ifIndex.
    pub out_if: Option<String>,
    /// Either interface.
    pub interface: Option<String>,
    /// Page from 1 [1].
    pub page: Option<u32>,
    /// Rows per page [100, at most 1000].
    pub page_size: Option<u32>,
}

impl FlowParams {
    /// The validated query: the expression of [`FlowParams::expression`], parsed.
    pub fn query(&self) -> AppResult<FlowQuery> {
        Ok(FlowQuery {
            from: opt_time("from", &self.from)?,
            to: opt_time("to", &self.to)?,
            filter: parse_filter(self.expression()?.as_deref())?,
            page: self.page.unwrap_or(1).max(1),
            page_size: self.page_size.unwrap_or(100).clamp(1, crate::data::flows::MAX_PAGE_SIZE),
        })
    }

    /// The filter in effect: `filter` ANDed with the builder fields, as one expression
    /// (shown on the search page); `None` when nothing filters. A bad `filter` is
    /// reported with the position of the bad token in what the user typed.
    pub fn expression(&self) -> AppResult<Option<String>> {
        let mut parts = self.builder_parts()?;
        if let Some(f) = self.filter.as_deref().filter(|s| !s.trim().is_empty()) {
            parse_filter(Some(f))?;
            let f = f.trim();
            if parts.is_empty() {
                return Ok(Some(f.to_string()));
            }
            parts.insert(0, format!("({f})"));
        }
        Ok(if parts.is_empty() { None } else { Some(parts.join(" and ")) })
    }

    /// The builder fields, each validated with its own message, as filter terms.
    fn builder_parts(&self) -> AppResult<Vec<String>> {
        let port = |n: &str, v: &Option<String>| opt_num::<u16>(n, v, "a port number 0-65535");
        let ifx = |n: &str, v: &Option<String>| opt_num::<u32>(n, v, "an ifIndex 0-4294967295");
        let proto = match self.proto.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => Some(match s.to_ascii_lowercase().as_str() {
                "tcp" => 6,
                "udp" => 17,
                "icmp" => 1,
                "icmpv6" => 58,
                "gre" => 47,
                "esp" => 50,
                "sctp" => 132,
                other => other.parse::<u8>().map_err(|_| {
                    AppError::BadRequest(
                        "proto: a protocol number 0-255 or tcp, udp, icmp, icmpv6, gre, esp, sctp".into(),
                    )
                })?,
            }),
        };
        let mut parts = Vec::new();
        let mut add = |term: Option<String>| parts.extend(term);
        add(opt_prefix("src", &self.src)?.map(|p| format!("src net {p}")));
        add(opt_prefix("dst", &self.dst)?.map(|p| format!("dst net {p}")));
        add(opt_prefix("addr", &self.addr)?.map(|p| format!("net {p}")));
        add(port("src_port", &self.src_port)?.map(|n| format!("src port {n}")));
        add(port("dst_port", &self.dst_port)?.map(|n| format!("dst port {n}")));
        add(port("port", &self.port)?.map(|n| format!("port {n}")));
        add(proto.map(|n| format!("proto {n}")));
        add(opt_prefix("exporter", &self.exporter)?.map(|p| format!("exporter net {p}")));
        add(ifx("in_if", &self.in_if)?.map(|n| format!("in if {n}")));
        add(ifx("out_if", &self.out_if)?.map(|n| format!("out if {n}")));
        add(ifx("interface", &self.interface)?.map(|n| format!("if {n}")));
        Ok(parts)
    }

    /// The parameters as a query string (for paging and export links), without `page`.
    pub fn query_string(&self) -> String {
        let pairs: [(&str, &Option<String>); 14] = [
            ("filter", &self.filter),
            ("from", &self.from),
            ("to", &self.to),
            ("src", &self.src),
            ("dst", &self.dst),
            ("addr", &self.addr),
            ("src_port", &self.src_port),
            ("dst_port", &self.dst_port),
            ("port", &self.port),
            ("proto", &self.proto),
            ("exporter", &self.exporter),
            ("in_if", &self.in_if),
            ("out_if", &self.out_if),
            ("interface", &self.interface),
        ];
        let mut out: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| {
                v.as_deref()
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| format!("{k}={}", crate::pages::urlencode(s)))
            })
            .collect();
        if let Some(ps) = self.page_size {
            out.push(format!("page_size={ps}"));
        }
        out.join("&")
    }
}
