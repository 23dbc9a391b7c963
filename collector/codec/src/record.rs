//! The normalized flow record every protocol decodes into, and the datagram metadata
//! a collector needs next to it.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// Export protocol of a datagram. The names are those of the `decode` JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Cisco NetFlow version 5 (fixed format).
    NetflowV5,
    /// Cisco NetFlow version 9 (RFC 3954, template based).
    NetflowV9,
    /// IPFIX (RFC 7011).
    Ipfix,
    /// sFlow version 5 (sampled packet headers and counters).
    SflowV5,
}

impl Protocol {
    /// The name used in JSON, metrics and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::NetflowV5 => "netflow_v5",
            Protocol::NetflowV9 => "netflow_v9",
            Protocol::Ipfix => "ipfix",
            Protocol::SflowV5 => "sflow_v5",
        }
    }

    /// Parses the names printed by [`Protocol::as_str`].
    pub fn from_name(name: &str) -> Option<Protocol> {
        match name {
            "netflow_v5" => Some(Protocol::NetflowV5),
            "netflow_v9" => Some(Protocol::NetflowV9),
            "ipfix" => Some(Protocol::Ipfix),
            "sflow_v5" => Some(Protocol::SflowV5),
            _ => None,
        }
    }

    /// All four protocols, in a stable order.
    pub const ALL: [Protocol; 4] =
        [Protocol::NetflowV5, Protocol::NetflowV9, Protocol::Ipfix, Protocol::SflowV5];
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record's sampling rate came from, so operators can tell a measured rate
/// from an assumed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SamplingOrigin {
    /// Nothing said the flow was sampled: rate 1.
    #[default]
    Unsampled,
    /// The NetFlow v5 header's sampling interval.
    V5Header,
    /// A field of the data record itself (IE 34, 50, 305/306, 309/310).
    Record,
    /// An options record: a sampler table entry selected by the record's sampler id.
    SamplerTable,
    /// An options record giving the exporter-wide (observation domain) rate.
    ExporterOptions,
    /// The sFlow sample header.
    SflowSample,
    /// The collector's per-prefix configuration.
    Configured,
}

/// One flow as exported, counters not scaled by the sampling rate.
///
/// `Copy` and allocation-free on purpose: workers decode into a reused `Vec` of these.
/// Absent fields are zero / `None`, as an exporter that does not send a field says
/// nothing about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRecord {
    /// Export protocol.
    pub protocol: Protocol,
    /// The device that exported the flow: the UDP source address for NetFlow/IPFIX,
    /// the agent address for sFlow.
    pub exporter: IpAddr,
    /// v9 source id, IPFIX observation domain id, sFlow sub-agent id, v5 engine
    /// (type << 8 | id).
    pub observation_domain: u32,
    /// The datagram's sequence number (v5/v9/IPFIX/sFlow header).
    pub sequence: u32,
    /// Source address (`None` when the template carries none).
    pub src_addr: Option<IpAddr>,
    /// Destination address.
    pub dst_addr: Option<IpAddr>,
    /// Source transport port.
    pub src_port: u16,
    /// Destination transport port (ICMP type/code for some exporters).
    pub dst_port: u16,
    /// IP protocol number.
    pub proto: u8,
    /// Cumulative TCP flags (IPFIX carries 16 bits).
    pub tcp_flags: u16,
    /// IP type of service / traffic class.
    pub tos: u8,
    /// Octets, as exported.
    pub bytes: u64,
    /// Packets, as exported.
    pub packets: u64,
    /// One in `sampling_rate` packets was sampled (1 when unsampled).
    pub sampling_rate: u32,
    /// Where `sampling_rate` came from.
    pub sampling_origin: SamplingOrigin,
    /// Input interface (SNMP ifIndex).
    pub in_if: u32,
    /// Output interface (SNMP ifIndex).
    pub out_if: u32,
    /// Source AS.
    pub src_as: u32,
    /// Destination AS.
    pub dst_as: u32,
    /// IP next hop (or BGP next hop when only that is exported).
    pub next_hop: Option<IpAddr>,
    /// Source prefix length.
    pub src_mask: u8,
    /// Destination prefix length.
    pub dst_mask: u8,
    /// VLAN id (802.1Q), 0 when none.
    pub vlan: u16,
    /// Flow start, milliseconds since the Unix epoch (UTC).
    pub flow_start_ms: Option<i64>,
    /// Flow end, milliseconds since the Unix epoch (UTC).
    pub flow_end_ms: Option<i64>,
    /// Source MAC address.
    pub src_mac: Option<[u8; 6]>,
    /// Destination MAC address.
    pub dst_mac: Option<[u8; 6]>,
    /// Top MPLS label (20-bit label value), 0 when none.
    pub mpls_label: u32,
    /// Flow direction (0 ingress, 1 egress) when exported.
    pub direction: Option<u8>,
    /// The sampler/selector id the record refers to, when exported.
    pub sampler_id: Option<u64>,
    /// Index of this record's first enterprise-specific field in
    /// [`crate::DecodeOutput::enterprise_fields`] and how many there are.
    pub enterprise: (u32, u16),
}

impl FlowRecord {
    /// An empty record for `protocol` from `exporter`; decoders fill in the rest.
    pub fn new(protocol: Protocol, exporter: IpAddr) -> Self {
        FlowRecord {
            protocol,
            exporter,
            observation_domain: 0,
            sequence: 0,
            src_addr: None,
            dst_addr: None,
            src_port: 0,
            dst_port: 0,
            proto: 0,
            tcp_flags: 0,
            tos: 0,
            bytes: 0,
            packets: 0,
            sampling_rate: 1,
            sampling_origin: SamplingOrigin::Unsampled,
            in_if: 0,
            out_if: 0,
            src_as: 0,
            dst_as: 0,
            next_hop: None,
            src_mask: 0,
            dst_mask: 0,
            vlan: 0,
            flow_start_ms: None,
            flow_end_ms: None,
            src_mac: None,
            dst_mac: None,
            mpls_label: 0,
            direction: None,
            sampler_id: None,
            enterprise: (0, 0),
        }
    }
}

impl Default for FlowRecord {
    fn default() -> Self {
        FlowRecord::new(Protocol::NetflowV5, IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }
}

/// An enterprise-specific (or otherwise unknown-to-FlowVision) field kept verbatim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnterpriseField {
    /// Private enterprise number (0 for IANA elements FlowVision does not map).
    pub pen: u32,
    /// Information element id (without the enterprise bit).
    pub id: u16,
    /// Start of the value in [`crate::DecodeOutput::enterprise_bytes`].
    pub offset: u32,
    /// Length of the value.
    pub len: u32,
}

/// Information carried by options records that the collector acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsInfo {
    /// A sampler/selector and its rate (v9 sampler table, IPFIX selector report).
    Sampler {
        /// Sampler or selector id (`None`: applies to the whole observation domain).
        id: Option<u64>,
        /// One in `rate` packets.
        rate: u32,
    },
    /// An interface name/description table entry.
    Interface {
        /// SNMP ifIndex.
        index: u32,
        /// interfaceName (IE 82), or the description (IE 83) when no name is given.
        name: String,
    },
    /// The exporter's boot time (IE 160), which sysUpTime-relative times refer to.
    SystemInit {
        /// Milliseconds since the Unix epoch.
        ms: i64,
    },
}

/// An sFlow counter sample, reduced to the interface counters dashboards use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InterfaceCounters {
    /// sFlow agent address.
    pub agent: Option<IpAddr>,
    /// Sub-agent id.
    pub sub_agent: u32,
    /// SNMP ifIndex.
    pub if_index: u32,
    /// ifSpeed in bits/s.
    pub if_speed: u64,
    /// ifInOctets.
    pub in_octets: u64,
    /// ifInUcastPkts.
    pub in_ucast_pkts: u32,
    /// ifInErrors.
    pub in_errors: u32,
    /// ifInDiscards.
    pub in_discards: u32,
    /// ifOutOctets.
    pub out_octets: u64,
    /// ifOutUcastPkts.
    pub out_ucast_pkts: u32,
    /// ifOutErrors.
    pub out_errors: u32,
    /// ifOutDiscards.
    pub out_discards: u32,
}

/// What a datagram's header said, for sequence tracking and statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramInfo {
    /// Detected protocol.
    pub protocol: Protocol,
    /// Observation domain / source id / sub-agent.
    pub observation_domain: u32,
    /// Sequence number from the header.
    pub sequence: u32,
    /// Export time, seconds since the Unix epoch (sFlow has none: 0).
    pub export_time: u32,
    /// Flow records this datagram produced directly (held data decoded later is not
    /// counted here).
    pub records: u32,
    /// Data sets held back because their template had not arrived.
    pub held_sets: u32,
    /// Records decoded from sets that had been held earlier and whose template this
    /// datagram delivered.
    pub released_records: u32,
    /// Templates (and options templates) learned or refreshed.
    pub templates: u32,
    /// Options data records read (they count in IPFIX sequence numbers).
    pub options_records: u32,
}
