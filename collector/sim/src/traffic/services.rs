//! The service and port mix: which applications flows belong to, how their two
//! directions look (packet sizes, packet counts, DSCP), and the TCP flag patterns of
//! complete, reset, long-lived and failed connections.
//!
//! Weights follow the usual shape of an enterprise/ISP edge: web (TLS over TCP and
//! QUIC) dominates, DNS is the most frequent UDP service, a long tail of mail,
//! remote access, VoIP, VPN and peer-to-peer ports follows.

/// TCP flag bits.
pub mod flags {
    /// FIN.
    pub const FIN: u16 = 0x01;
    /// SYN.
    pub const SYN: u16 = 0x02;
    /// RST.
    pub const RST: u16 = 0x04;
    /// PSH.
    pub const PSH: u16 = 0x08;
    /// ACK.
    pub const ACK: u16 = 0x10;
}

/// IP protocol numbers used by the simulator.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// GRE.
    pub const GRE: u8 = 47;
    /// ESP (IPsec).
    pub const ESP: u8 = 50;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// How the server port of a service is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// A well-known port.
    Fixed(u16),
    /// Uniform in a range (RTP, peer-to-peer).
    Range(u16, u16),
    /// No ports (GRE, ESP) or ICMP type/code.
    None,
}

/// One service of the mix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Service {
    /// Name (for documentation and tests).
    pub name: &'static str,
    /// IP protocol.
    pub proto: u8,
    /// Server port.
    pub port: Port,
    /// Relative frequency of connections.
    pub weight: f64,
    /// Share of connections that come from outside to an internal server.
    pub inbound: f64,
    /// DSCP/TOS byte.
    pub tos: u8,
    /// Median bytes per packet, client to server.
    pub request_packet: f64,
    /// Median bytes per packet, server to client.
    pub response_packet: f64,
    /// Largest bytes per packet (DNS and NTP answers stay small: amplification is
    /// an anomaly, not background).
    pub max_packet: f64,
    /// Median packets of the server-to-client direction.
    pub packets_median: f64,
    /// Spread of packet counts (log-normal sigma): the heavier, the longer the tail.
    pub packets_sigma: f64,
    /// Client packets per server packet.
    pub request_ratio: f64,
    /// Probability that the server answers at all (one-way syslog: 0).
    pub reply: f64,
    /// Median flow duration per packet, milliseconds.
    pub ms_per_packet: f64,
}

// Eight columns read best as one table row per service.
#[allow(clippy::too_many_arguments)]
const fn svc(
    name: &'static str,
    proto: u8,
    port: Port,
    weight: f64,
    inbound: f64,
    sizes: (f64, f64, f64),
    packets: (f64, f64, f64),
    reply: f64,
) -> Service {
    Service {
        name,
        proto,
        port,
        weight,
        inbound,
        tos: 0,
        request_packet: sizes.0,
        response_packet: sizes.1,
        max_packet: sizes.2,
        packets_median: packets.0,
        packets_sigma: packets.1,
        request_ratio: packets.2,
        reply,
        ms_per_packet: 20.0,
    }
}

/// The default mix.
pub fn default_services() -> Vec<Service> {
    use proto::*;
    use Port::*;
    let mut s = vec![
        svc("https", TCP, Fixed(443), 36.0, 0.08, (180.0, 1200.0, 1500.0), (18.0, 1.6, 0.6), 1.0),
        svc("quic", UDP, Fixed(443), 10.0, 0.02, (120.0, 1250.0, 1400.0), (25.0, 1.5, 0.4), 0.98),
        svc("http", TCP, Fixed(80), 7.0, 0.10, (300.0, 1100.0, 1500.0), (10.0, 1.5, 0.6), 1.0),
        svc("dns", UDP, Fixed(53), 14.0, 0.05, (70.0, 160.0, 512.0), (1.0, 0.3, 1.0), 0.97),
        svc("ntp", UDP, Fixed(123), 1.5, 0.02, (76.0, 76.0, 90.0), (1.0, 0.1, 1.0), 0.95),
        svc("ssh", TCP, Fixed(22), 2.0, 0.4, (90.0, 200.0, 1500.0), (40.0, 2.0, 0.9), 0.97),
        svc("smtp", TCP, Fixed(25), 1.0, 0.7, (600.0, 90.0, 1500.0), (12.0, 1.0, 1.2), 0.95),
        svc("submission", TCP, Fixed(587), 0.6, 0.3, (700.0, 90.0, 1500.0), (10.0, 1.0, 1.2), 1.0),
        svc("imaps", TCP, Fixed(993), 1.2, 0.2, (120.0, 900.0, 1500.0), (12.0, 1.4, 0.6), 1.0),
        svc("rdp", TCP, Fixed(3389), 0.6, 0.5, (150.0, 700.0, 1500.0), (200.0, 1.5, 0.8), 0.98),
        svc("smb", TCP, Fixed(445), 0.8, 0.2, (300.0, 1000.0, 1500.0), (30.0, 1.8, 0.7), 0.9),
        svc("ldap", TCP, Fixed(389), 0.4, 0.3, (150.0, 400.0, 1500.0), (6.0, 0.8, 1.0), 1.0),
        svc("kerberos", UDP, Fixed(88), 0.3, 0.3, (250.0, 700.0, 1400.0), (1.0, 0.2, 1.0), 1.0),
        svc("snmp", UDP, Fixed(161), 0.4, 0.6, (90.0, 200.0, 1400.0), (2.0, 0.8, 1.0), 0.98),
        svc("syslog", UDP, Fixed(514), 0.5, 0.5, (180.0, 0.0, 1400.0), (6.0, 1.2, 1.0), 0.0),
        svc("sip", UDP, Fixed(5060), 0.5, 0.4, (600.0, 500.0, 1400.0), (4.0, 0.6, 1.0), 0.95),
        svc("rtp", UDP, Range(16_384, 32_767), 0.8, 0.4, (200.0, 200.0, 260.0), (1500.0, 1.2, 1.0), 0.95),
        svc("openvpn", UDP, Fixed(1194), 0.4, 0.5, (500.0, 900.0, 1450.0), (300.0, 2.0, 0.7), 1.0),
        svc("ipsec", ESP, None, 0.4, 0.5, (600.0, 800.0, 1450.0), (400.0, 2.0, 0.8), 1.0),
        svc("gre", GRE, None, 0.2, 0.5, (500.0, 700.0, 1476.0), (300.0, 2.0, 0.8), 1.0),
        svc("icmp", ICMP, None, 2.0, 0.3, (84.0, 84.0, 1500.0), (3.0, 0.6, 1.0), 0.9),
        svc("mysql", TCP, Fixed(3306), 0.3, 0.6, (200.0, 600.0, 1500.0), (20.0, 1.5, 0.8), 1.0),
        svc("postgres", TCP, Fixed(5432), 0.3, 0.6, (200.0, 600.0, 1500.0), (20.0, 1.5, 0.8), 1.0),
        svc("memcached", UDP, Fixed(11_211), 0.05, 0.3, (60.0, 300.0, 600.0), (1.0, 0.3, 1.0), 1.0),
        svc("ssdp", UDP, Fixed(1900), 0.05, 0.1, (130.0, 300.0, 400.0), (1.0, 0.3, 1.0), 0.5),
        svc("p2p", TCP, Range(6881, 6999), 1.5, 0.3, (400.0, 1000.0, 1500.0), (60.0, 2.2, 0.8), 0.9),
        svc("high-tcp", TCP, Range(1024, 65_000), 3.0, 0.2, (300.0, 800.0, 1500.0), (12.0, 1.8, 0.8), 0.9),
        svc("high-udp", UDP, Range(1024, 65_000), 1.5, 0.2, (200.0, 500.0, 1472.0), (6.0, 1.8, 0.9), 0.8),
    ];
    for x in &mut s {
        match x.name {
            // Voice is marked EF, signalling CS3, video/VPN AF41; the rest best effort.
            "rtp" => (x.tos, x.ms_per_packet) = (0xb8, 20.0),
            "sip" => x.tos = 0x60,
            "openvpn" | "ipsec" => x.tos = 0x88,
            "dns" | "ntp" | "kerberos" | "snmp" | "memcached" | "ssdp" => x.ms_per_packet = 5.0,
            "ssh" | "rdp" => x.ms_per_packet = 400.0,
            _ => {}
        }
    }
    s
}

/// What happened to a TCP connection, which sets its flags and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpOutcome {
    /// Handshake, data, FIN.
    Complete,
    /// Reset after some data.
    Reset,
    /// A middle part of a long connection cut by the active timeout: no SYN, no FIN.
    Continued,
    /// SYN without answer, or answered by RST.
    Failed,
}

impl TcpOutcome {
    /// Picks an outcome: most connections complete.
    #[inline]
    pub fn pick(u: f64) -> TcpOutcome {
        if u < 0.80 {
            TcpOutcome::Complete
        } else if u < 0.88 {
            TcpOutcome::Continued
        } else if u < 0.96 {
            TcpOutcome::Reset
        } else {
            TcpOutcome::Failed
        }
    }

    /// Cumulative flags of the client and the server direction.
    #[inline]
    pub fn flags(self) -> (u16, u16) {
        use flags::*;
        match self {
            TcpOutcome::Complete => (SYN | ACK | PSH | FIN, SYN | ACK | PSH | FIN),
            TcpOutcome::Continued => (ACK | PSH, ACK | PSH),
            TcpOutcome::Reset => (SYN | ACK | PSH | RST, SYN | ACK | PSH),
            TcpOutcome::Failed => (SYN, RST | ACK),
        }
    }
}

/// ICMP echo request and reply as NetFlow carries them in the destination port
/// (type << 8 | code), for ICMP and ICMPv6.
pub fn icmp_echo(v6: bool) -> (u16, u16) {
    if v6 {
        (128 << 8, 129 << 8)
    } else {
        (8 << 8, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_is_sane() {
        let s = default_services();
        let total: f64 = s.iter().map(|x| x.weight).sum();
        let web: f64 =
            s.iter().filter(|x| matches!(x.name, "https" | "quic" | "http")).map(|x| x.weight).sum();
        assert!(web / total > 0.5);
        assert!(s.iter().all(|x| x.max_packet <= 1500.0 && x.request_packet <= x.max_packet));
        // Background DNS/NTP/memcached/SSDP answers stay far below amplification sizes.
        for name in ["dns", "ntp", "memcached", "ssdp"] {
            let x = s.iter().find(|x| x.name == name).map(|x| x.max_packet).unwrap_or(0.0);
            assert!(x <= 600.0, "{name}");
        }
        assert_eq!(TcpOutcome::pick(0.99).flags().0, flags::SYN);
    }
}
