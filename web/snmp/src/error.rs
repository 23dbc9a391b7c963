//! Why a poll failed, in the words the exporter page shows.

use serde::Serialize;

/// The class of a poll failure: what an operator has to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PollErrorKind {
    /// No answer within the timeout after every retry: the agent is unreachable, SNMP is
    /// off, an ACL drops us, or (v2c) the community is wrong — v2c agents do not answer
    /// a wrong community at all, so the two cannot be told apart.
    Timeout,
    /// SNMPv3: unknown user, wrong authentication or privacy password, unsupported
    /// security level (the agent sent a USM report, or the response failed its HMAC).
    Authentication,
    /// The agent answered but refused or lacks what is asked (e.g. the system group is
    /// not in the view the credentials grant).
    NoSuchObject,
    /// Sending failed (no route, address family, port unreachable).
    Network,
    /// The agent sent something that is not a valid answer.
    Protocol,
    /// The credentials cannot be used (e.g. too short a v3 password).
    Configuration,
}

impl PollErrorKind {
    /// Every kind (for metrics with a fixed label set).
    pub const ALL: [PollErrorKind; 6] = [
        PollErrorKind::Timeout,
        PollErrorKind::Authentication,
        PollErrorKind::NoSuchObject,
        PollErrorKind::Network,
        PollErrorKind::Protocol,
        PollErrorKind::Configuration,
    ];

    /// The snake_case name (API, metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            PollErrorKind::Timeout => "timeout",
            PollErrorKind::Authentication => "authentication",
            PollErrorKind::NoSuchObject => "no_such_object",
            PollErrorKind::Network => "network",
            PollErrorKind::Protocol => "protocol",
            PollErrorKind::Configuration => "configuration",
        }
    }
}

/// A failed poll: its kind and a sentence naming the agent and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PollError {
    /// What class of failure.
    pub kind: PollErrorKind,
    /// For people: the agent, what was asked and what went wrong (never a secret).
    pub message: String,
}

impl PollError {
    pub(crate) fn new(kind: PollErrorKind, message: impl Into<String>) -> PollError {
        PollError { kind, message: message.into() }
    }

    /// Classifies a client error; `what` names the request (e.g. "the system group").
    pub(crate) fn from_client(agent: &str, what: &str, e: &async_snmp::Error) -> PollError {
        use async_snmp::ErrorKind as K;
        let kind = match e.kind() {
            K::Timeout | K::ConstructionTimeout => PollErrorKind::Timeout,
            K::Auth | K::Report | K::Privacy => PollErrorKind::Authentication,
            K::Network | K::Closed => PollErrorKind::Network,
            K::Snmp => PollErrorKind::NoSuchObject,
            K::Config | K::InvalidOid | K::InvalidMessage | K::OutboundMessageTooLarge => {
                PollErrorKind::Configuration
            }
            _ => PollErrorKind::Protocol,
        };
        let hint = match kind {
            PollErrorKind::Timeout => {
                " (agent unreachable, SNMP disabled or filtered, or for v2c a wrong community: agents do not answer those)"
            }
            PollErrorKind::Authentication => " (check the v3 user, protocols and passwords)",
            _ => "",
        };
        PollError::new(kind, format!("{agent}: {what}: {e}{hint}"))
    }
}
