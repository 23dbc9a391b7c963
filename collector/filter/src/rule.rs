//! One forwarding rule, compiled from its stored columns: what it matches (a filter),
//! where it sends (a resolved destination) and how (raw, re-encoded, or dropped).
//! [`rules`](crate::rules) reads and writes them.

use crate::{Expr, FilterError};
use flowvision_codec::Protocol;
use std::net::{SocketAddr, ToSocketAddrs};

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Forward the original datagram unchanged when at least one of its records
    /// matches (plus every template/options datagram, so the receiver can decode).
    Raw {
        /// Send with the exporter's source address (raw socket, CAP_NET_RAW).
        transparent: bool,
    },
    /// Re-encode only the matching records in this protocol (NetFlow v9 or IPFIX).
    Reencode {
        /// [`Protocol::NetflowV9`] or [`Protocol::Ipfix`].
        protocol: Protocol,
    },
    /// Matching records are not forwarded by any later rule.
    Drop,
}

impl Action {
    /// The `action` column's value.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Raw { .. } => "raw",
            Action::Reencode { .. } => "reencode",
            Action::Drop => "drop",
        }
    }
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique name.
    pub name: String,
    /// The filter as written.
    pub filter_text: String,
    /// The parsed filter.
    pub filter: Expr,
    /// Where matching flows go (`None` for [`Action::Drop`]).
    pub destination: Option<SocketAddr>,
    /// The destination as written (host:port), for listings.
    pub destination_text: Option<String>,
    /// What to do.
    pub action: Action,
}

/// Why a rule is invalid.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// The filter does not parse.
    #[error("{0}")]
    Filter(#[from] FilterError),
    /// The destination is not host:port or does not resolve.
    #[error("destination `{0}`: {1}")]
    Destination(String, String),
    /// Anything else.
    #[error("{0}")]
    Invalid(String),
}

/// Parses the protocol name of `--reencode`.
pub fn reencode_protocol(name: &str) -> Result<Protocol, RuleError> {
    match name {
        "netflow_v9" | "v9" | "netflow9" => Ok(Protocol::NetflowV9),
        "ipfix" => Ok(Protocol::Ipfix),
        other => {
            Err(RuleError::Invalid(format!("re-encode protocol `{other}`: expected netflow_v9 or ipfix")))
        }
    }
}

/// Resolves host:port (IPv6 as `[addr]:port`); the first address wins.
pub fn resolve(dest: &str) -> Result<SocketAddr, RuleError> {
    let bad = |m: String| RuleError::Destination(dest.to_string(), m);
    let mut addrs = dest.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    addrs.next().ok_or_else(|| bad("resolves to no address".into()))
}

impl Rule {
    /// Builds and checks a rule from its stored columns.
    pub fn from_columns(
        name: &str,
        filter_text: &str,
        destination: Option<&str>,
        action: &str,
        protocol: Option<&str>,
        transparent: bool,
    ) -> Result<Rule, RuleError> {
        let filter = crate::parse(filter_text)?;
        let action = match action {
            "raw" => Action::Raw { transparent },
            "reencode" => Action::Reencode { protocol: reencode_protocol(protocol.unwrap_or(""))? },
            "drop" => Action::Drop,
            other => return Err(RuleError::Invalid(format!("unknown action `{other}`"))),
        };
        if transparent && !matches!(action, Action::Raw { .. }) {
            return Err(RuleError::Invalid("--transparent applies to raw forwarding only".into()));
        }
        let written = destination.filter(|_| action != Action::Drop).map(str::to_string);
        let destination = match (action, destination) {
            (Action::Drop, _) => None,
            (_, Some(d)) => Some(resolve(d)?),
            (_, None) => return Err(RuleError::Invalid("a destination (--to HOST:PORT) is required".into())),
        };
        if transparent && !destination.is_some_and(|d| d.is_ipv4()) {
            return Err(RuleError::Invalid("transparent forwarding supports IPv4 destinations only".into()));
        }
        Ok(Rule {
            name: name.to_string(),
            filter_text: filter_text.to_string(),
            filter,
            destination,
            destination_text: written,
            action,
        })
    }
}
