//! Labelled hosts for the classifier, from the simulator's host roles
//! ([`flowvision_sim::roles`]): each host gets a role, a window of 5 to 60 minutes and
//! its own draws, its flows become a [`HostProfile`], and the role is the label.
//!
//! [`HostProfile`]: flowvision_insights::profile::HostProfile

use flowvision_codec::{FlowRecord, Protocol};
use flowvision_insights::profile::{FlowView, HostProfile, PROFILE_LEN};
use flowvision_sim::rng::Rng;
use flowvision_sim::roles::{host_flows, HostRole};
use std::net::{IpAddr, Ipv4Addr};

/// The classes, in the classifier's output order: the simulator's roles.
pub fn class_names() -> Vec<&'static str> {
    HostRole::ALL.iter().map(|r| r.name()).collect()
}

/// What a profile needs of a record (sampling-corrected counters).
pub fn view(r: &FlowRecord) -> Option<FlowView> {
    let rate = u64::from(r.sampling_rate.max(1));
    Some(FlowView {
        src: r.src_addr?,
        dst: r.dst_addr?,
        src_port: r.src_port,
        dst_port: r.dst_port,
        proto: r.proto,
        tcp_flags: r.tcp_flags,
        packets: r.packets.saturating_mul(rate),
        bytes: r.bytes.saturating_mul(rate),
        start_ms: r.flow_start_ms.unwrap_or(0),
    })
}

/// `hosts_per_role` hosts of every role drawn from `seed`: (profile vector, class index).
/// Each flow is kept with probability `keep` (1.0: all), the way a packet-sampled
/// exporter misses most small flows.
pub fn labelled_hosts(seed: u64, hosts_per_role: usize, keep: f64) -> Vec<([f32; PROFILE_LEN], usize)> {
    let template = FlowRecord::new(Protocol::Ipfix, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut out = Vec::with_capacity(hosts_per_role * HostRole::ALL.len());
    for i in 0..hosts_per_role {
        for (class, role) in HostRole::ALL.iter().enumerate() {
            let index = (i * HostRole::ALL.len() + class) as u64;
            let mut rng = Rng::stream(seed, "host-roles", index);
            let window_ms = [5, 15, 30, 60].get(rng.index(4)).copied().unwrap_or(15) * 60_000;
            let host = IpAddr::V4(Ipv4Addr::from(0x0a09_0000u32 + index as u32));
            let mut profile = HostProfile::new(host);
            let flows = host_flows(*role, host, window_ms, &mut rng, template);
            let mut thin = Rng::stream(seed, "host-roles-thinning", index);
            for r in flows {
                if keep < 1.0 && !thin.chance(keep) {
                    continue;
                }
                if let Some(f) = view(&r) {
                    profile.observe(&f);
                }
            }
            out.push((profile.vector(), class));
        }
    }
    out
}

/// Per-class recall and overall accuracy of predictions against labels.
pub fn quality(predicted: &[usize], labels: &[usize], classes: usize) -> (f64, Vec<f64>) {
    let mut hit = vec![0usize; classes];
    let mut all = vec![0usize; classes];
    for (p, y) in predicted.iter().zip(labels) {
        if let Some(a) = all.get_mut(*y) {
            *a += 1;
        }
        if p == y {
            if let Some(h) = hit.get_mut(*y) {
                *h += 1;
            }
        }
    }
    let correct: usize = hit.iter().sum();
    let recall =
        hit.iter().zip(&all).map(|(h, a)| if *a == 0 { 0.0 } else { *h as f64 / *a as f64 }).collect();
    (correct as f64 / labels.len().max(1) as f64, recall)
}
