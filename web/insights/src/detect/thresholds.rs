//! The rules' thresholds, from configuration (JSON; every field optional).
//!
//! The defaults are floors for a mid-size network: a few hundred never-completed
//! handshakes per second at one host is a flood there. A smaller network (or a quiet
//! night) lowers them by itself (`network.rs`); a large network raises them in its
//! configuration.

use serde::Deserialize;

/// Every rule's thresholds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// `syn_flood`: SYN-only packets per second at the victim.
    pub syn_flood_pps: f64,
    /// `syn_flood`: their share of the victim's inbound packets.
    pub syn_flood_share: f64,
    /// `udp_flood`: UDP packets per second at the victim.
    pub udp_flood_pps: f64,
    /// `udp_flood`: UDP's share of the victim's inbound packets.
    pub udp_flood_share: f64,
    /// `udp_flood`: at most this ratio of the victim's outbound to inbound packets (a
    /// QUIC download or a media stream is acknowledged; a flood is not).
    pub udp_flood_max_reply: f64,
    /// `udp_flood`: the floor when one host sends it all. One sender is one
    /// conversation, and one-way UDP bulk (Aspera-style transfers, video contribution
    /// feeds, media relays) reaches thousands of packets a second from one host.
    pub udp_flood_single_source_pps: f64,
    /// `icmp_flood`: ICMP packets per second at the victim.
    pub icmp_flood_pps: f64,
    /// `icmp_flood`: ICMP's share of the victim's inbound packets.
    pub icmp_flood_share: f64,
    /// `udp_amplification`: packets per second from reflector ports at the victim.
    pub amplification_pps: f64,
    /// `udp_amplification`: distinct reflectors.
    pub amplification_reflectors: f64,
    /// `udp_amplification`: the reflected share of the victim's inbound bytes.
    pub amplification_share: f64,
    /// `port_scan`: distinct destination ports from one source in the window.
    pub port_scan_ports: f64,
    /// `port_scan`, `host_sweep`: share of the source's flows that are probes (≤ 2
    /// packets).
    pub probe_share: f64,
    /// `host_sweep`: distinct destinations from one source in the window.
    pub host_sweep_peers: f64,
    /// `host_sweep`: at most this many distinct destination ports (ICMP has none).
    pub host_sweep_max_ports: f64,
    /// `host_sweep`: at most this share of the source's outbound flows answered by
    /// flows back to it (a resolver or a monitoring server gets answers).
    pub host_sweep_max_answered: f64,
    /// `port_scan`, `host_sweep` on a sampled exporter: at least this many distinct
    /// ports (hosts) actually seen before they are scaled by the sampling rate. Below
    /// it, a few sampled probes say nothing.
    pub scan_min_seen: f64,
    /// `exfiltration`: bytes an internal host sent out of the network in the window.
    pub exfiltration_bytes: f64,
    /// `exfiltration`: at least this many times what the host received from outside
    /// in the window and the one before it.
    pub exfiltration_ratio: f64,
    /// `exfiltration`: at least this many bytes per distinct host it sent to (an
    /// exfiltration goes to few places; a server answering the Internet spreads its
    /// bytes over thousands of clients).
    pub exfiltration_bytes_per_peer: f64,
    /// `beaconing`: contacts of one host with one outside service at a regular interval.
    pub beacon_min_contacts: f64,
    /// `beaconing`: at most this jitter (the interval's weighted standard deviation over
    /// its mean).
    pub beacon_max_jitter: f64,
    /// `beaconing`: contacts whose sizes spread by at most this much (standard
    /// deviation over mean) are check-ins, which hardly change size; unsampled pairs
    /// whose sizes spread more need `beacon_irregular_min_contacts`.
    pub beacon_max_size_jitter: f64,
    /// `beaconing`: contacts needed by a pair whose contact sizes vary (a person or an
    /// application using a service on a timer by chance looks regular for a few
    /// contacts, rarely for twice as many).
    pub beacon_irregular_min_contacts: f64,
    /// `beaconing`: at least this interval, seconds (faster is polling, not a check-in).
    pub beacon_min_period_secs: f64,
    /// `beaconing`: destination ports whose clients poll by design.
    pub beacon_ignore_ports: Vec<u16>,
    /// `traffic_anomaly`: the window compared with the same window on previous days,
    /// seconds.
    pub traffic_window_secs: i64,
    /// `traffic_anomaly`: how often a window is checked, seconds.
    pub traffic_step_secs: i64,
    /// `traffic_anomaly`: how long before the round the window ends, seconds (the
    /// last minutes' flows are still arriving).
    pub traffic_lag_secs: i64,
    /// `traffic_anomaly`: previous days read.
    pub traffic_history_days: u32,
    /// `traffic_anomaly`: at least this many of them with traffic in the window.
    pub traffic_min_days: u8,
    /// `traffic_anomaly`: half-width of the band in spreads.
    pub traffic_band_k: f64,
    /// `traffic_anomaly`: the spread is at least this share of the usual value.
    pub traffic_min_spread: f64,
    /// `traffic_anomaly`: and the window is at least this many times its usual value,
    /// or at most the usual value divided by it (a quiet link's quarter hour swings by
    /// half without anything happening).
    pub traffic_min_factor: f64,
    /// `traffic_anomaly` on a series seen through a packet sampler (1 in 2 or sparser):
    /// the factor instead of `traffic_min_factor`. A sampled record is one packet, so
    /// one transfer multiplies the records with the bytes and the "flows moved too"
    /// test says nothing; a quiet sampled link doubles or halves by chance.
    pub traffic_sampled_min_factor: f64,
    /// `traffic_anomaly` on a sampled series: the usual records (samples) per window
    /// below which only its silence is reported. 3,000 samples a quarter hour is about
    /// 2 Mbit/s at 1:64: below that, which few transfers were sampled decides the count
    /// (the week run of session 18 found quiet sFlow interfaces of 1,200-1,800 samples
    /// rising by four and falling to a tenth with nothing happening).
    pub traffic_sampled_min_records: f64,
    /// `traffic_anomaly`: a series usually carrying fewer flows (records) in the window
    /// is quiet: the few hosts behind it idle half a quarter hour at will, so its drop
    /// is reported only down to `traffic_quiet_min_factor` of its usual flows (a failed
    /// link or a cut-off customer port goes silent).
    pub traffic_quiet_flows: f64,
    /// `traffic_anomaly`: the factor a quiet series' flows must fall by.
    pub traffic_quiet_min_factor: f64,
    /// `traffic_anomaly`: exporters usually carrying fewer bytes in the window are
    /// left out (a few flows more or less are no anomaly).
    pub traffic_min_bytes: f64,
    /// `traffic_anomaly`: ... or fewer flows (records).
    pub traffic_min_flows: f64,
    /// `traffic_anomaly`: a rise is not reported when the bytes of the exporter's
    /// `traffic_max_hosts` busiest sources (or destinations) in the window make up at
    /// least this share of the bytes' excess over the usual value (a few transfers: a
    /// backup, a download), or the records of its busiest host at least this share of
    /// the records' excess (one server's crowd, one victim's flood): the host rules
    /// and the host anomaly model judge those.
    pub traffic_max_host_share: f64,
    /// `traffic_anomaly`: how many of the busiest hosts' bytes may explain a rise.
    pub traffic_max_hosts: u32,
    /// Floods and reflection in a small network: a floor comes down to this share of
    /// the exporter's usual packets per second (`detect/network.rs`).
    pub network_floor_share: f64,
    /// ... but never below this fraction of its configured value.
    pub network_min_floor_ratio: f64,
    /// A flood measured against a lowered floor needs at least this many distinct
    /// sources (one client retrying is no flood, however quiet the network).
    pub scaled_floor_min_sources: f64,
    /// Window of the flood and reflection rules, seconds.
    pub flood_window_secs: i64,
    /// Window of the scan and sweep rules, seconds.
    pub scan_window_secs: i64,
    /// Window of the scan and sweep rules for a host whose probes an exporter sampled,
    /// seconds: at 1 in 10 a sweep of a few hundred hosts in five minutes shows five a
    /// minute, under `scan_min_seen`; over five minutes twenty-five.
    pub scan_sampled_window_secs: i64,
    /// Window of the exfiltration rule, seconds: several active timeouts' worth of an
    /// upload's flow records.
    pub exfiltration_window_secs: i64,
    /// Window of the beaconing rule, seconds: the longest period it reports live.
    pub beacon_window_secs: i64,
    /// The five-minute windows (sampled scans, exfiltration) are evaluated when their
    /// end is on a multiple of this many seconds, not at every bucket: a window that
    /// long changes little in ten seconds, and evaluating it every bucket was a
    /// quarter of a live round (session 25). Detections come up to this much later.
    pub long_window_step_secs: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            syn_flood_pps: 200.0,
            syn_flood_share: 0.5,
            udp_flood_pps: 5_000.0,
            udp_flood_share: 0.8,
            udp_flood_max_reply: 0.05,
            udp_flood_single_source_pps: 20_000.0,
            icmp_flood_pps: 1_000.0,
            icmp_flood_share: 0.5,
            amplification_pps: 500.0,
            amplification_reflectors: 3.0,
            amplification_share: 0.5,
            port_scan_ports: 100.0,
            probe_share: 0.5,
            host_sweep_peers: 30.0,
            host_sweep_max_ports: 4.0,
            host_sweep_max_answered: 0.5,
            scan_min_seen: 10.0,
            exfiltration_bytes: 250e6,
            exfiltration_ratio: 10.0,
            exfiltration_bytes_per_peer: 5e6,
            beacon_min_contacts: 8.0,
            beacon_max_jitter: 0.1,
            beacon_max_size_jitter: 0.25,
            beacon_irregular_min_contacts: 16.0,
            beacon_min_period_secs: 10.0,
            beacon_ignore_ports: vec![53, 123],
            traffic_window_secs: 900,
            traffic_step_secs: 300,
            traffic_lag_secs: 180,
            traffic_history_days: 7,
            traffic_min_days: 3,
            traffic_band_k: 4.0,
            traffic_min_spread: 0.1,
            traffic_min_factor: 2.0,
            traffic_sampled_min_factor: 4.0,
            traffic_sampled_min_records: 3_000.0,
            traffic_quiet_flows: 1_000.0,
            traffic_quiet_min_factor: 10.0,
            traffic_min_bytes: 10e6,
            traffic_min_flows: 100.0,
            traffic_max_host_share: 0.5,
            traffic_max_hosts: 3,
            network_floor_share: 0.03,
            network_min_floor_ratio: 0.05,
            scaled_floor_min_sources: 10.0,
            flood_window_secs: 10,
            scan_window_secs: 60,
            scan_sampled_window_secs: 300,
            exfiltration_window_secs: 300,
            beacon_window_secs: 1800,
            long_window_step_secs: 30,
        }
    }
}

impl Thresholds {
    /// Whether the windows of [`Thresholds::long_window_step_secs`] are evaluated at
    /// `end_ms`.
    pub fn long_window_due(&self, end_ms: i64) -> bool {
        end_ms.rem_euclid(self.long_window_step_secs.max(1) * 1000) == 0
    }

    /// The longest window any rule reads, ms: the feature rows [`super::run`] needs
    /// before a window's end.
    pub fn longest_window_ms(&self) -> i64 {
        self.flood_window_secs
            .max(self.scan_window_secs)
            .max(self.scan_sampled_window_secs)
            .max(2 * self.exfiltration_window_secs)
            .max(1)
            * 1000
    }
}
