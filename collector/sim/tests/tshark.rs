//! tshark decodes everything the simulator writes, with zero malformed packets, and
//! every record it shows equals the simulator's own account of what it sent, field
//! by field, for a small run of each protocol. Skipped (with the reason printed)
//! when tshark is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod common;

use common::*;
use flowvision_codec::{FlowRecord, Protocol};
use serde_json::Value;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

/// What tshark shows of one record, and the same view of the account's record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    exporter: IpAddr,
    domain: u32,
    sequence: u32,
    src: IpAddr,
    dst: IpAddr,
    src_port: u16,
    dst_port: u16,
    proto: u8,
    tcp_flags: u16,
    tos: u8,
    bytes: u64,
    packets: u64,
    in_if: u32,
    out_if: u32,
    src_as: u32,
    dst_as: u32,
    next_hop: Option<IpAddr>,
    src_mask: u8,
    dst_mask: u8,
    vlan: u16,
    start_ms: Option<i64>,
    end_ms: Option<i64>,
    sampling_rate: u32,
    macs: Option<([u8; 6], [u8; 6])>,
}

fn view_of(r: &FlowRecord) -> View {
    View {
        exporter: r.exporter,
        domain: r.observation_domain,
        sequence: r.sequence,
        src: r.src_addr.unwrap(),
        dst: r.dst_addr.unwrap(),
        src_port: r.src_port,
        dst_port: r.dst_port,
        proto: r.proto,
        tcp_flags: r.tcp_flags,
        tos: r.tos,
        bytes: r.bytes,
        packets: r.packets,
        in_if: r.in_if,
        out_if: r.out_if,
        src_as: r.src_as,
        dst_as: r.dst_as,
        next_hop: r.next_hop,
        src_mask: r.src_mask,
        dst_mask: r.dst_mask,
        vlan: r.vlan,
        start_ms: r.flow_start_ms,
        end_ms: r.flow_end_ms,
        sampling_rate: r.sampling_rate,
        macs: r.src_mac.zip(r.dst_mac),
    }
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn num(v: &Value, key: &str) -> u64 {
    let t = s(v, key).unwrap_or_else(|| panic!("no {key} in {v}"));
    match t.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
        None => t.parse().unwrap_or_else(|_| panic!("{key} = {t:?}")),
    }
}

fn opt_num(v: &Value, key: &str) -> Option<u64> {
    s(v, key).map(|_| num(v, key))
}

fn ip(v: &Value, keys: &[&str]) -> Option<IpAddr> {
    keys.iter().find_map(|k| s(v, k)).map(|t| t.parse().unwrap())
}

fn mac(t: &str) -> [u8; 6] {
    let b: Vec<u8> = t.split(':').map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
    b.try_into().unwrap()
}

/// "1598877.096000000" (seconds) as milliseconds, without floating point.
fn secs_to_ms(t: &str) -> i64 {
    let (whole, frac) = t.split_once('.').unwrap_or((t, "0"));
    let ms: String = frac.chars().chain("000".chars()).take(3).collect();
    whole.parse::<i64>().unwrap() * 1000 + ms.parse::<i64>().unwrap()
}

/// "May  1, 2024 11:59:45.309000000 UTC" as Unix milliseconds.
fn abs_time_ms(t: &str) -> i64 {
    let parts: Vec<&str> = t.split_whitespace().collect();
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let m = months.iter().position(|x| *x == parts[0]).unwrap() + 1;
    let d: u32 = parts[1].trim_end_matches(',').parse().unwrap();
    let rfc = format!("{}-{m:02}-{d:02}T{}Z", parts[2], parts[3]);
    flowvision_sim::clock::parse_time_ms(&rfc, 0).unwrap()
}

/// Children whose key starts with `prefix`, ordered by the first number in the key
/// after it (tshark labels: "Flow 12", "pdu 3/30", "FlowSet 2 [id=256]").
fn numbered<'a>(v: &'a Value, prefix: &str) -> Vec<&'a Value> {
    let mut out: Vec<(u64, &Value)> = v
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, c)| {
                    let n: String = k[prefix.len()..]
                        .chars()
                        .skip_while(|c| !c.is_ascii_digit())
                        .take_while(char::is_ascii_digit)
                        .collect();
                    (n.parse().unwrap_or(0), c)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by_key(|(n, _)| *n);
    out.into_iter().map(|(_, c)| c).collect()
}

fn cflow_views(packet: &Value, exporter: IpAddr, out: &mut Vec<View>) {
    let c = &packet["cflow"];
    let version = num(c, "cflow.version");
    let ts = &c["cflow.timestamp_tree"];
    let uptime_ms = s(c, "cflow.sysuptime").map(secs_to_ms);
    let (export_ms, domain, flows) = match version {
        5 => {
            let export =
                num(ts, "cflow.unix_secs") as i64 * 1000 + num(ts, "cflow.unix_nsecs") as i64 / 1_000_000;
            let domain = (num(c, "cflow.engine_type") << 8 | num(c, "cflow.engine_id")) as u32;
            (export, domain, numbered(c, "pdu "))
        }
        9 => {
            let flows = numbered(c, "FlowSet ").into_iter().flat_map(|set| numbered(set, "Flow ")).collect();
            (num(ts, "cflow.unix_secs") as i64 * 1000, num(c, "cflow.source_id") as u32, flows)
        }
        10 => {
            let flows = numbered(c, "Set ").into_iter().flat_map(|set| numbered(set, "Flow ")).collect();
            (num(ts, "cflow.exporttime") as i64 * 1000, num(c, "cflow.od_id") as u32, flows)
        }
        v => panic!("version {v}"),
    };
    let sequence = num(c, "cflow.sequence") as u32;
    for f in flows {
        let times = &f["cflow.timedelta_tree"];
        let (start_ms, end_ms) = match version {
            10 => (
                s(times, "cflow.abstimestart").map(abs_time_ms),
                s(times, "cflow.abstimeend").map(abs_time_ms),
            ),
            _ => {
                let up = uptime_ms.unwrap();
                let at = |k: &str| s(times, k).map(|t| export_ms - (up - secs_to_ms(t)));
                (at("cflow.timestart"), at("cflow.timeend"))
            }
        };
        let sampling_rate = match version {
            5 => (num(c, "cflow.samplerate") as u32).max(1),
            _ => num(f, "cflow.sampling_interval") as u32,
        };
        out.push(View {
            exporter,
            domain,
            sequence,
            src: ip(f, &["cflow.srcaddr", "cflow.srcaddrv6"]).unwrap(),
            dst: ip(f, &["cflow.dstaddr", "cflow.dstaddrv6"]).unwrap(),
            src_port: num(f, "cflow.srcport") as u16,
            dst_port: num(f, "cflow.dstport") as u16,
            proto: num(f, "cflow.protocol") as u8,
            tcp_flags: num(f, "cflow.tcpflags") as u16,
            tos: num(f, "cflow.tos") as u8,
            bytes: num(f, "cflow.octets"),
            packets: num(f, "cflow.packets"),
            in_if: num(f, "cflow.inputint") as u32,
            out_if: num(f, "cflow.outputint") as u32,
            src_as: num(f, "cflow.srcas") as u32,
            dst_as: num(f, "cflow.dstas") as u32,
            next_hop: ip(f, &["cflow.nexthop", "cflow.nexthopv6"]),
            src_mask: opt_num(f, "cflow.srcmask").or(opt_num(f, "cflow.srcmaskv6")).unwrap() as u8,
            dst_mask: opt_num(f, "cflow.dstmask").or(opt_num(f, "cflow.dstmaskv6")).unwrap() as u8,
            vlan: opt_num(f, "cflow.vlanid").unwrap_or(0) as u16,
            start_ms,
            end_ms,
            sampling_rate,
            macs: None,
        });
    }
}

fn sflow_views(packet: &Value, out: &mut Vec<View>) {
    let sf = &packet["sflow"];
    let exporter: IpAddr = s(sf, "sflow_245.agent").unwrap().parse().unwrap();
    let domain = num(sf, "sflow_245.sub_agent_id") as u32;
    let sequence = num(sf, "sflow_245.sequence_number") as u32;
    let mut samples: Vec<&Value> = sf
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("Flow sample"))
        .map(|(_, v)| v)
        .collect();
    samples.sort_by_key(|v| num(v, "sflow.flow_sample.sequence_number"));
    assert_eq!(samples.len() as u64, num(sf, "sflow_245.numsamples"));
    for smp in samples {
        let raw = &smp["Raw packet header"];
        let h = &raw["sflow_245.header_tree"];
        let (l3, v6) = if h.get("ipv6").is_some() { (&h["ipv6"], true) } else { (&h["ip"], false) };
        let proto = if v6 { num(l3, "ipv6.nxt") } else { num(l3, "ip.proto") } as u8;
        let tos = if v6 { num(l3, "ipv6.tclass") as u8 } else { num(l3, "ip.dsfield") as u8 };
        let (src_port, dst_port, tcp_flags) = if let Some(t) = h.get("tcp") {
            (num(t, "tcp.srcport") as u16, num(t, "tcp.dstport") as u16, num(t, "tcp.flags") as u16)
        } else if let Some(u) = h.get("udp") {
            (num(u, "udp.srcport") as u16, num(u, "udp.dstport") as u16, 0)
        } else if let Some(i) = h.get("icmp").or(h.get("icmpv6")) {
            let (t, c) = if v6 { ("icmpv6.type", "icmpv6.code") } else { ("icmp.type", "icmp.code") };
            (0, (num(i, t) << 8 | num(i, c)) as u16, 0)
        } else {
            (0, 0, 0)
        };
        let router = &smp["Extended router data"];
        let gateway = &smp["Extended gateway data"];
        let eth = &h["eth"];
        out.push(View {
            exporter,
            domain,
            sequence,
            src: ip(l3, &["ip.src", "ipv6.src"]).unwrap(),
            dst: ip(l3, &["ip.dst", "ipv6.dst"]).unwrap(),
            src_port,
            dst_port,
            proto,
            tcp_flags,
            tos,
            bytes: num(raw, "sflow_245.header.frame_length"),
            // One flow sample stands for one sampled packet.
            packets: 1,
            in_if: num(smp, "sflow.flow_sample.input_interface") as u32,
            out_if: num(
                &smp["sflow.flow_sample.output_interface_tree"],
                "sflow.flow_sample.output_interface_value",
            ) as u32,
            src_as: num(gateway, "sflow_245.srcAS") as u32,
            dst_as: num(&gateway["sflow.as_type_tree"], "sflow_245.dstAS") as u32,
            next_hop: ip(router, &["sflow_245.nexthop", "sflow_245.nexthop.v6"]),
            src_mask: num(router, "sflow_245.nexthop.src_mask") as u8,
            dst_mask: num(router, "sflow_245.nexthop.dst_mask") as u8,
            vlan: h.get("vlan").map_or(0, |v| num(v, "vlan.id") as u16),
            start_ms: None,
            end_ms: None,
            sampling_rate: num(smp, "sflow.flow_sample.sampling_rate") as u32,
            macs: Some((mac(s(eth, "eth.src").unwrap()), mac(s(eth, "eth.dst").unwrap()))),
        });
    }
}

fn tshark(bin: &Path, pcap: &Path, extra: &[&str]) -> Vec<u8> {
    let out = Command::new(bin)
        .arg("-r")
        .arg(pcap)
        .args(["-d", "udp.port==2055,cflow", "-d", "udp.port==4739,cflow", "-d", "udp.port==6343,sflow"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn tshark_decodes_every_record_as_the_account_says() {
    let Some(bin) = tool("tshark") else { return };
    let dir = temp_dir("tshark");
    let mut total = 0;
    for p in Protocol::ALL {
        let pcap = dir.join(format!("{}.pcap", p.as_str()));
        let mut sc = scenario(&[p], 3, 2500, 21);
        for g in &mut sc.exporters {
            g.restart_at = vec!["60ms".into()];
        }
        let (sent, _) = run(plan(&sc), Some(&pcap));

        // Zero malformed packets, no expert errors.
        let bad = tshark(
            &bin,
            &pcap,
            &["-Y", "_ws.malformed || _ws.expert.severity == error", "-T", "fields", "-e", "frame.number"],
        );
        assert!(bad.is_empty(), "{p}: malformed or erroneous frames: {}", String::from_utf8_lossy(&bad));

        let json: Value =
            serde_json::from_slice(&tshark(&bin, &pcap, &["-T", "json", "--no-duplicate-keys"])).unwrap();
        let packets = json.as_array().unwrap();
        assert_eq!(packets.len(), sent.len(), "{p}: one frame per datagram");
        let mut shown = Vec::new();
        for (packet, d) in packets.iter().zip(&sent) {
            let layers = &packet["_source"]["layers"];
            let before = shown.len();
            if p == Protocol::SflowV5 {
                sflow_views(layers, &mut shown);
            } else {
                let exporter: IpAddr = s(&layers["ip"], "ip.src").unwrap().parse().unwrap();
                assert_eq!(exporter, d.src.ip());
                cflow_views(layers, exporter, &mut shown);
            }
            assert_eq!(shown.len() - before, d.records.len(), "{p}: records in one datagram");
        }
        let expected: Vec<View> = account(&sent).iter().map(view_of).collect();
        assert_eq!(shown.len(), expected.len());
        for (i, (got, want)) in shown.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "{p}: record {i} as tshark shows it differs from the account");
        }
        println!(
            "tshark: {p}: {} frames, {} records equal to the account, 0 malformed",
            sent.len(),
            shown.len()
        );
        total += shown.len();
    }
    assert_eq!(total, 4 * 2500);
}
