//! Information elements FlowVision understands, and what each one sets.
//!
//! NetFlow v9 field types 1-127 and IPFIX IANA elements share their numbers, so one
//! table serves both. A template is compiled once into a list of [`Target`]s, so that
//! decoding a record is a walk over that list with no lookups.

use serde::{Deserialize, Serialize};

/// IANA information element numbers used by the codec (RFC 7012 / IANA registry).
#[allow(missing_docs)]
pub mod id {
    pub const OCTET_DELTA_COUNT: u16 = 1;
    pub const PACKET_DELTA_COUNT: u16 = 2;
    pub const PROTOCOL_IDENTIFIER: u16 = 4;
    pub const IP_CLASS_OF_SERVICE: u16 = 5;
    pub const TCP_CONTROL_BITS: u16 = 6;
    pub const SOURCE_TRANSPORT_PORT: u16 = 7;
    pub const SOURCE_IPV4_ADDRESS: u16 = 8;
    pub const SOURCE_IPV4_PREFIX_LENGTH: u16 = 9;
    pub const INGRESS_INTERFACE: u16 = 10;
    pub const DESTINATION_TRANSPORT_PORT: u16 = 11;
    pub const DESTINATION_IPV4_ADDRESS: u16 = 12;
    pub const DESTINATION_IPV4_PREFIX_LENGTH: u16 = 13;
    pub const EGRESS_INTERFACE: u16 = 14;
    pub const IP_NEXT_HOP_IPV4_ADDRESS: u16 = 15;
    pub const BGP_SOURCE_AS_NUMBER: u16 = 16;
    pub const BGP_DESTINATION_AS_NUMBER: u16 = 17;
    pub const BGP_NEXT_HOP_IPV4_ADDRESS: u16 = 18;
    pub const FLOW_END_SYS_UP_TIME: u16 = 21;
    pub const FLOW_START_SYS_UP_TIME: u16 = 22;
    pub const POST_OCTET_DELTA_COUNT: u16 = 23;
    pub const POST_PACKET_DELTA_COUNT: u16 = 24;
    pub const SOURCE_IPV6_ADDRESS: u16 = 27;
    pub const DESTINATION_IPV6_ADDRESS: u16 = 28;
    pub const SOURCE_IPV6_PREFIX_LENGTH: u16 = 29;
    pub const DESTINATION_IPV6_PREFIX_LENGTH: u16 = 30;
    pub const SAMPLING_INTERVAL: u16 = 34;
    pub const SAMPLING_ALGORITHM: u16 = 35;
    pub const SAMPLER_ID: u16 = 48;
    pub const SAMPLER_MODE: u16 = 49;
    pub const SAMPLER_RANDOM_INTERVAL: u16 = 50;
    pub const SOURCE_MAC_ADDRESS: u16 = 56;
    pub const VLAN_ID: u16 = 58;
    pub const FLOW_DIRECTION: u16 = 61;
    pub const IP_NEXT_HOP_IPV6_ADDRESS: u16 = 62;
    pub const BGP_NEXT_HOP_IPV6_ADDRESS: u16 = 63;
    pub const MPLS_TOP_LABEL_STACK_SECTION: u16 = 70;
    pub const DESTINATION_MAC_ADDRESS: u16 = 80;
    pub const INTERFACE_NAME: u16 = 82;
    pub const INTERFACE_DESCRIPTION: u16 = 83;
    pub const OCTET_TOTAL_COUNT: u16 = 85;
    pub const PACKET_TOTAL_COUNT: u16 = 86;
    pub const FLOW_START_SECONDS: u16 = 150;
    pub const FLOW_END_SECONDS: u16 = 151;
    pub const FLOW_START_MILLISECONDS: u16 = 152;
    pub const FLOW_END_MILLISECONDS: u16 = 153;
    pub const FLOW_START_MICROSECONDS: u16 = 154;
    pub const FLOW_END_MICROSECONDS: u16 = 155;
    pub const FLOW_START_NANOSECONDS: u16 = 156;
    pub const FLOW_END_NANOSECONDS: u16 = 157;
    pub const FLOW_START_DELTA_MICROSECONDS: u16 = 158;
    pub const FLOW_END_DELTA_MICROSECONDS: u16 = 159;
    pub const SYSTEM_INIT_TIME_MILLISECONDS: u16 = 160;
    pub const FLOW_DURATION_MILLISECONDS: u16 = 161;
    pub const FLOW_DURATION_MICROSECONDS: u16 = 162;
    pub const INITIATOR_OCTETS: u16 = 231;
    pub const RESPONDER_OCTETS: u16 = 232;
    pub const DOT1Q_VLAN_ID: u16 = 243;
    pub const INITIATOR_PACKETS: u16 = 298;
    pub const SELECTOR_ID: u16 = 302;
    pub const SAMPLING_PACKET_INTERVAL: u16 = 305;
    pub const SAMPLING_PACKET_SPACE: u16 = 306;
    pub const SAMPLING_SIZE: u16 = 309;
    pub const SAMPLING_POPULATION: u16 = 310;
}

/// What a field sets when a record is decoded.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    SrcAddr,
    DstAddr,
    SrcPort,
    DstPort,
    Proto,
    TcpFlags,
    Tos,
    /// The octet counter chosen for `bytes` (see [`resolve_priorities`]).
    Bytes,
    /// The packet counter chosen for `packets`.
    PacketCount,
    Octets,
    Packets,
    PostOctets,
    PostPackets,
    TotalOctets,
    TotalPackets,
    InitiatorOctets,
    InitiatorPackets,
    InIf,
    OutIf,
    SrcAs,
    DstAs,
    NextHop,
    BgpNextHop,
    SrcMask,
    DstMask,
    Vlan,
    Dot1qVlan,
    StartUptime,
    EndUptime,
    StartSeconds,
    EndSeconds,
    StartMillis,
    EndMillis,
    StartNtp,
    EndNtp,
    StartDeltaMicros,
    EndDeltaMicros,
    DurationMillis,
    DurationMicros,
    SystemInitMillis,
    SrcMac,
    DstMac,
    MplsTopLabel,
    Direction,
    SamplerId,
    SelectorId,
    SamplingInterval,
    SamplingPacketInterval,
    SamplingPacketSpace,
    SamplingSize,
    SamplingPopulation,
    InterfaceName,
    InterfaceDescription,
    /// A v9 options scope of type "Interface" (scope type 2).
    ScopeInterface,
    /// Kept verbatim as an enterprise field.
    Keep,
    /// Decoded by nobody (length still honoured).
    Skip,
}

impl Target {
    /// Targets that set nothing when a record is decoded: skipped fields, and counters
    /// and addresses that lost to a higher-priority duplicate (`resolve_priorities`) or
    /// only stand in for one. The straight-line layout ignores them; `apply` does too.
    pub fn is_inert(self) -> bool {
        matches!(
            self,
            Target::Skip
                | Target::Octets
                | Target::Packets
                | Target::PostOctets
                | Target::PostPackets
                | Target::TotalOctets
                | Target::TotalPackets
                | Target::InitiatorOctets
                | Target::InitiatorPackets
                | Target::BgpNextHop
                | Target::Dot1qVlan
        )
    }

    /// The target of IANA element `ie` (enterprise number 0).
    pub fn of(ie: u16) -> Target {
        use id::*;
        match ie {
            OCTET_DELTA_COUNT => Target::Octets,
            PACKET_DELTA_COUNT => Target::Packets,
            PROTOCOL_IDENTIFIER => Target::Proto,
            IP_CLASS_OF_SERVICE => Target::Tos,
            TCP_CONTROL_BITS => Target::TcpFlags,
            SOURCE_TRANSPORT_PORT => Target::SrcPort,
            SOURCE_IPV4_ADDRESS | SOURCE_IPV6_ADDRESS => Target::SrcAddr,
            SOURCE_IPV4_PREFIX_LENGTH | SOURCE_IPV6_PREFIX_LENGTH => Target::SrcMask,
            INGRESS_INTERFACE => Target::InIf,
            DESTINATION_TRANSPORT_PORT => Target::DstPort,
            DESTINATION_IPV4_ADDRESS | DESTINATION_IPV6_ADDRESS => Target::DstAddr,
            DESTINATION_IPV4_PREFIX_LENGTH | DESTINATION_IPV6_PREFIX_LENGTH => Target::DstMask,
            EGRESS_INTERFACE => Target::OutIf,
            IP_NEXT_HOP_IPV4_ADDRESS | IP_NEXT_HOP_IPV6_ADDRESS => Target::NextHop,
            BGP_NEXT_HOP_IPV4_ADDRESS | BGP_NEXT_HOP_IPV6_ADDRESS => Target::BgpNextHop,
            BGP_SOURCE_AS_NUMBER => Target::SrcAs,
            BGP_DESTINATION_AS_NUMBER => Target::DstAs,
            FLOW_END_SYS_UP_TIME => Target::EndUptime,
            FLOW_START_SYS_UP_TIME => Target::StartUptime,
            POST_OCTET_DELTA_COUNT => Target::PostOctets,
            POST_PACKET_DELTA_COUNT => Target::PostPackets,
            SAMPLING_INTERVAL | SAMPLER_RANDOM_INTERVAL => Target::SamplingInterval,
            SAMPLER_ID => Target::SamplerId,
            SOURCE_MAC_ADDRESS => Target::SrcMac,
            DESTINATION_MAC_ADDRESS => Target::DstMac,
            VLAN_ID => Target::Vlan,
            DOT1Q_VLAN_ID => Target::Dot1qVlan,
            FLOW_DIRECTION => Target::Direction,
            MPLS_TOP_LABEL_STACK_SECTION => Target::MplsTopLabel,
            INTERFACE_NAME => Target::InterfaceName,
            INTERFACE_DESCRIPTION => Target::InterfaceDescription,
            OCTET_TOTAL_COUNT => Target::TotalOctets,
            PACKET_TOTAL_COUNT => Target::TotalPackets,
            FLOW_START_SECONDS => Target::StartSeconds,
            FLOW_END_SECONDS => Target::EndSeconds,
            FLOW_START_MILLISECONDS => Target::StartMillis,
            FLOW_END_MILLISECONDS => Target::EndMillis,
            FLOW_START_MICROSECONDS | FLOW_START_NANOSECONDS => Target::StartNtp,
            FLOW_END_MICROSECONDS | FLOW_END_NANOSECONDS => Target::EndNtp,
            FLOW_START_DELTA_MICROSECONDS => Target::StartDeltaMicros,
            FLOW_END_DELTA_MICROSECONDS => Target::EndDeltaMicros,
            SYSTEM_INIT_TIME_MILLISECONDS => Target::SystemInitMillis,
            FLOW_DURATION_MILLISECONDS => Target::DurationMillis,
            FLOW_DURATION_MICROSECONDS => Target::DurationMicros,
            INITIATOR_OCTETS => Target::InitiatorOctets,
            INITIATOR_PACKETS => Target::InitiatorPackets,
            SELECTOR_ID => Target::SelectorId,
            SAMPLING_PACKET_INTERVAL => Target::SamplingPacketInterval,
            SAMPLING_PACKET_SPACE => Target::SamplingPacketSpace,
            SAMPLING_SIZE => Target::SamplingSize,
            SAMPLING_POPULATION => Target::SamplingPopulation,
            _ => Target::Skip,
        }
    }
}

/// Picks, once per template, which of several elements that mean the same thing fills
/// the record: octets from 1 (octetDeltaCount), else 85 (octetTotalCount), else 231
/// (initiatorOctets, Cisco ASA's forward bytes), else 23 (postOctetDeltaCount); packets
/// likewise from 2, 86, 298, 24; next hop from 15/62, else the BGP next hop 18/63; VLAN
/// from 58, else 243. The losers become [`Target::Skip`], so decoding a record never
/// weighs alternatives.
pub fn resolve_priorities(targets: &mut [Target]) {
    fn pick(targets: &mut [Target], order: &[Target], winner: Target) {
        let Some(best) = order.iter().find(|o| targets.contains(o)).copied() else { return };
        for t in targets.iter_mut() {
            if *t == best {
                *t = winner;
            } else if order.contains(t) {
                *t = Target::Skip;
            }
        }
    }
    use Target::*;
    pick(targets, &[Octets, TotalOctets, InitiatorOctets, PostOctets], Bytes);
    pick(targets, &[Packets, TotalPackets, InitiatorPackets, PostPackets], PacketCount);
    pick(targets, &[NextHop, BgpNextHop], NextHop);
    pick(targets, &[Vlan, Dot1qVlan], Vlan);
}

/// One field of a template as it was exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Element id (enterprise bit cleared).
    pub id: u16,
    /// Private enterprise number, 0 for IANA/v9 fields.
    pub pen: u32,
    /// Length in bytes, [`VARIABLE_LENGTH`] for IPFIX variable-length fields.
    pub length: u16,
}

/// RFC 7011 §7: length 65535 announces a variable-length field.
pub const VARIABLE_LENGTH: u16 = 0xffff;
