#!/usr/bin/env python3
"""Decode a flow-export capture with tshark and print one JSON object per flow record,
normalized exactly as FlowVision's codec normalizes (collector/codec/src/decode.rs
`apply()` / `finish()`, netflow_v5.rs, sflow.rs + packet.rs). tshark is the independent
oracle: every value printed here is a value tshark decoded; this script only maps tshark's
fields onto FlowVision's record and repeats the codec's normalization rules.

Usage:
  tshark_flows.py CAPTURE.pcap[ng]                 # any pcap/pcapng tshark can read
  tshark_flows.py --raw PAYLOAD.bin [PAYLOAD2 ...] # raw UDP payload file(s), fed in order
  options: --summary FILE (JSON summary), --exporter ADDR (raw source, default 192.0.2.1),
           --no-split (raw: never split a file into several datagrams)

Raw payload files are wrapped into a temporary pcap (Ethernet/IPv4/UDP, source
192.0.2.1:40000, destination 192.0.2.2 port 2055 for NetFlow/IPFIX, 6343 for sFlow). A raw
file may hold several datagrams back to back (netcat captures); they are split exactly like
`flowvision-collector decode --raw-split` does (collector/src/cli/raw.rs): NetFlow v5 by its
count (1..=30 records, 24 + 48 x count bytes) and IPFIX by its message length, when that is
shorter than what is left; NetFlow v9 and sFlow carry no length, so from the first of those
on the rest of the file is one datagram.

How tshark is run:
  * one classification pass (cflow/sflow dissectors disabled) lists every UDP datagram with its
    first payload bytes: first u16 5/9/10 -> cflow, first u32 == 5 -> sflow, anything else
    (NetFlow v1/v7/v8, junk) is not a FlowVision protocol and yields nothing;
  * a cflow pass with `-d udp.port==P,cflow` for every source AND destination port of a
    cflow datagram (UDP tries the lower port first, so both are mapped), and an sflow pass
    likewise; the two passes are needed because a port may carry both protocols
    (tcpdump/tests/sflow_multiple_counter_30_pdus.pcap). Every UDP heuristic dissector is
    disabled so that none can steal a datagram; IP reassembly stays on (tshark's default).
  * `-o cflow.max_template_fields:0` lifts tshark's default limit of 60 fields per
    template (0 = unlimited), which otherwise makes it ignore long real templates.
  * output is `-T json -x`: the raw byte offset of every field lets this script tell which
    template field a value came from (tshark shows RFC 5103 reverse fields, PEN 29305, under
    the same names as the forward ones, e.g. two `cflow.octets` in one flow).

Output lines (JSONL):
  * a record: {"protocol", "exporter", "observation_domain", "sequence", "src_addr",
    "dst_addr", "src_port", "dst_port", "proto", "tcp_flags", "tos", "bytes", "packets",
    "sampling_rate", "in_if", "out_if", "src_as", "dst_as", "next_hop", "src_mask",
    "dst_mask", "vlan", "flow_start", "flow_end", "_frame"}; times are RFC 3339 UTC with
    milliseconds or null; "_frame" (frame number in the capture or in the wrapped pcap) is
    for people and is ignored by the comparator.
  * a marker for a datagram tshark could not (fully) decode, so that the comparator may accept
    FlowVision records tshark has no counterpart for:
      {"tshark": "no template", "protocol", "exporter", "observation_domain", "sequence",
       "template_id", "set_length", "_frame"}
        a data set whose template tshark had not seen. tshark only uses templates that came
        earlier in the file (and keys them by addresses AND ports); FlowVision holds such a
        set and decodes it when the template arrives, so its records appear only on our side.
      {"tshark": "exception", ..., "message"}
        tshark's dissection of the datagram stopped in an exception (e.g. a field length it
        refuses, "Trying to fetch an IPv4 address with length 2"); the record being decoded is
        printed with "?" for the fields after the fault, the rest of the datagram is unknown.
      {"tshark": "stopped at header count", ..., "count", "undecoded_bytes"}
        tshark 4.0 stops a NetFlow v9 datagram after `count` records; exporters fill the
        count inconsistently (softflowd's is too low, Fortigate counts flowsets) and FlowVision
        walks the flowsets by their lengths, so the records after that point are ours alone.

Value "?": tshark cannot tell, the comparator skips the field. The cases:
  * sampling_rate of a NetFlow v9/IPFIX record that states no rate itself, when a data set of
    the same exporter/protocol/domain went undecoded by tshark earlier (no template,
    exception) or an options record's sampling fields could not be read: it may have been
    the sampling options FlowVision applies. Otherwise the rate is computed the codec's way
    (decode.rs finish()/options_record()) from the options data tshark decoded: the record's
    own IE 34/50 or 305/306 or 309/310, else the sampler table entry of its IE 48/302, else
    the exporter-wide rate, else 1.
  * tcp_flags of an sFlow sampled IPv4/IPv6 record and tos of a sampled IPv4 record
    (formats 3/4, used only when the sample has no usable raw header): tshark 4.0 reads those
    bits from the first byte of the XDR u32, where they never are.
  * fields after the point where tshark's dissection of a record hit an exception (the record
    is also flagged "_partial": FlowVision rejects such malformed records, the comparator
    accepts it missing).
  * an sFlow sample tshark flags malformed: every field taken from its records.
flow_start/flow_end of an IPFIX record timed only by IE 21/22 (sysUpTime) with no
systemInitTimeMilliseconds (IE 160) in the record or in earlier options data are null, as in
FlowVision; "_uptime_unknown" marks them (the comparator skips a null there, in case
FlowVision learned IE 160 from options data tshark could not decode).
Enterprise-specific fields (PEN != 0) are never compared: FlowVision keeps them verbatim.
Options data records are not flow records and are not printed.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
from decimal import Decimal

TSHARK = os.environ.get("TSHARK", "tshark")
RAW_EXPORTER = "192.0.2.1"
RAW_COLLECTOR = "192.0.2.2"
RAW_SPORT = 40000
NETFLOW_PORT = 2055
SFLOW_PORT = 6343

FIELD_ORDER = [
    "protocol", "exporter", "observation_domain", "sequence", "src_addr", "dst_addr",
    "src_port", "dst_port", "proto", "tcp_flags", "tos", "bytes", "packets", "sampling_rate",
    "in_if", "out_if", "src_as", "dst_as", "next_hop", "src_mask", "dst_mask", "vlan",
    "flow_start", "flow_end",
]
UNKNOWN = "?"
DEBUG = bool(os.environ.get("TSHARK_FLOWS_DEBUG"))
U32_MAX = 0xFFFFFFFF


# ----------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------

def rfc3339_ms(ms):
    """Unix milliseconds -> 2024-02-29T12:00:00.123Z (same as record.rs format_rfc3339_ms)."""
    if ms is None:
        return None
    secs, millis = divmod(ms, 1000)
    days, sod = divmod(secs, 86400)
    # civil_from_days (Howard Hinnant), identical to the codec's.
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        y, m, d, sod // 3600, (sod // 60) % 60, sod % 60, millis)


MONTHS = {m: i + 1 for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])}
ABS_RE = re.compile(r"^([A-Z][a-z]{2})\s+(\d+),\s+(-?\d+)\s+(\d+):(\d+):(\d+)(?:\.(\d+))?\s+UTC$")


def days_from_civil(y, m, d):
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def abs_time_ms(text):
    """tshark FT_ABSOLUTE_TIME text (TZ=UTC) -> Unix ms, floor (ns truncated like the codec)."""
    m = ABS_RE.match(text.strip())
    if not m:
        raise ValueError("unparsed tshark absolute time %r" % text)
    mon, day, year, hh, mi, ss, frac = m.groups()
    days = days_from_civil(int(year), MONTHS[mon], int(day))
    secs = days * 86400 + int(hh) * 3600 + int(mi) * 60 + int(ss)
    ns = int((frac or "0").ljust(9, "0")[:9])
    return secs * 1000 + ns // 1_000_000


def rel_time_ms(text):
    """tshark FT_RELATIVE_TIME text ("1809.518000000" seconds) -> integer milliseconds."""
    t = text.strip().split()[0]
    return int((Decimal(t) * 1000).to_integral_value(rounding="ROUND_FLOOR"))


def to_int(text):
    t = text.strip().split()[0]
    return int(t, 0)


def norm_ip(text):
    return str(ipaddress.ip_address(text.strip()))


def i32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


# ----------------------------------------------------------------------------------------
# Raw payloads -> pcap
# ----------------------------------------------------------------------------------------

def split_datagrams(data):
    """Splits a raw file holding back-to-back datagrams exactly like
    `flowvision-collector decode --raw-split` (collector/src/cli/raw.rs): NetFlow v5 by its
    count (1..=30 records, 24 + 48 x count bytes), IPFIX by its message length (>= 16), when
    that length is shorter than what is left; NetFlow v9 and sFlow carry no length, so from
    the first of those on the rest of the file is one datagram."""
    out = []
    rest = data
    while rest:
        n = None
        if len(rest) >= 4:
            version, field = struct.unpack("!HH", rest[:4])
            if version == 5 and 1 <= field <= 30:
                n = 24 + 48 * field
            elif version == 10 and field >= 16:
                n = field
        if n is None or not 0 < n < len(rest):
            out.append(rest)
            break
        out.append(rest[:n])
        rest = rest[n:]
    return out or [data]


def looks_like(payload):
    """'cflow', 'sflow' or None, by content (the codec's detect.rs rule)."""
    if len(payload) < 4:
        return None
    v16 = struct.unpack("!H", payload[0:2])[0]
    v32 = struct.unpack("!I", payload[0:4])[0]
    if v16 in (5, 9, 10):
        return "cflow"
    if v32 == 5:
        return "sflow"
    return None


def write_pcap(path, datagrams, exporter=RAW_EXPORTER):
    """Minimal pcap writer: Ethernet / IPv4 / UDP around each payload."""
    src = ipaddress.IPv4Address(exporter).packed
    dst = ipaddress.IPv4Address(RAW_COLLECTOR).packed
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, payload in enumerate(datagrams):
            dport = SFLOW_PORT if looks_like(payload) == "sflow" else NETFLOW_PORT
            udp = struct.pack("!HHHH", RAW_SPORT, dport, 8 + len(payload), 0) + payload
            ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0,
                                       64, 17, 0, src, dst))
            s = sum(struct.unpack("!10H", bytes(ip)))
            s = (s >> 16) + (s & 0xFFFF)
            s += s >> 16
            ip[10:12] = struct.pack("!H", ~s & 0xFFFF)
            frame = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
            frame += bytes(ip) + udp
            ts = 1_700_000_000 + i
            f.write(struct.pack("<IIII", ts, 0, len(frame), len(frame)))
            f.write(frame)


# ----------------------------------------------------------------------------------------
# Running tshark
# ----------------------------------------------------------------------------------------

def tshark_env():
    env = dict(os.environ)
    env["TZ"] = "UTC"
    env["LC_ALL"] = "C"
    return env


_HEURISTICS = None


def udp_heuristics():
    """Internal names of every heuristic dissector on the UDP table.

    `tshark -G heuristic-decodes` lists protocols, but `--disable-heuristic` wants the
    heuristic's internal name ("rtp_udp", "someip_udp_heur", "quic", ...), which tshark does
    not list. Candidates are tried in a few rounds against an empty capture: tshark names
    every one it does not know. Names never found are reported in the summary; they cannot
    steal a datagram anyway because decode-as maps both ports and udp.try_heuristic_first
    is off (heuristics only run when no port dissector accepts the datagram)."""
    global _HEURISTICS, _HEURISTICS_MISSING
    if _HEURISTICS is not None:
        return _HEURISTICS
    cached = os.environ.get("TSHARK_FLOWS_HEURISTICS")
    if cached:
        data = json.loads(cached)
        _HEURISTICS, _HEURISTICS_MISSING = data["disabled"], data["missing"]
        return _HEURISTICS
    out = subprocess.run([TSHARK, "-G", "heuristic-decodes"], capture_output=True, text=True,
                         env=tshark_env()).stdout
    protos = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0] == "udp" and parts[1] not in protos:
            protos.append(parts[1])
    def variants(p):
        u = p.replace("-", "_")
        seen = []
        for c in (p + "_udp", u + "_udp", p, u, p + "_udp_heur", u + "_udp_heur", p + "_heur", u + "_heur"):
            if c not in seen:
                seen.append(c)
        return seen
    todo = {p: variants(p) for p in protos}
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "empty.pcap")
        write_pcap(empty, [])
        for _ in range(8):
            if not todo:
                break
            trying = {p: c[0] for p, c in todo.items()}
            args = [TSHARK, "-n", "-r", empty]
            for c in trying.values():
                args += ["--disable-heuristic", c]
            err = subprocess.run(args, capture_output=True, text=True, env=tshark_env()).stderr
            rejected = set(re.findall(r"No such protocol (\S+), can't disable", err))
            for p, c in list(trying.items()):
                if c in rejected:
                    todo[p] = todo[p][1:]
                    if not todo[p]:
                        del todo[p]
                else:
                    found.append(c)
                    del todo[p]
    _HEURISTICS = found
    _HEURISTICS_MISSING = sorted(set(protos) - {p for p in protos if any(v in found for v in variants(p))})
    return _HEURISTICS


_HEURISTICS_MISSING = []


def base_args(path):
    args = [TSHARK, "-n", "-r", path, "-o", "ip.defragment:TRUE", "-o", "udp.try_heuristic_first:FALSE"]
    for h in udp_heuristics():
        args += ["--disable-heuristic", h]
    return args


def classify(path):
    """Lists UDP datagrams: frame -> (kind, exporter, sport, dport)."""
    args = base_args(path) + [
        "--disable-protocol", "cflow", "--disable-protocol", "sflow",
        "-Y", "udp && !icmp && !icmpv6",
        "-T", "fields", "-E", "occurrence=l", "-E", "separator=\t",
        "-e", "frame.number", "-e", "frame.protocols", "-e", "ip.src", "-e", "ipv6.src",
        "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.payload",
    ]
    p = subprocess.run(args, capture_output=True, text=True, env=tshark_env())
    frames = {}
    for line in p.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) < 7 or not cols[0]:
            continue
        frame, protos, ip4, ip6, sport, dport, payload = cols[:7]
        chain = protos.split(":")
        if "udp" not in chain:
            continue
        carrier = None
        for proto in chain[: len(chain) - chain[::-1].index("udp") - 1]:
            if proto in ("ip", "ipv6"):
                carrier = proto
        exporter = ip4 if carrier == "ip" else ip6
        try:
            head = bytes.fromhex(payload.replace(":", "")[:8])
        except ValueError:
            continue
        kind = looks_like(head)
        frames[int(frame)] = (kind, norm_ip(exporter) if exporter else None,
                              int(sport or 0), int(dport or 0), head)
    return frames, p.stderr


class Obj(list):
    """A JSON object as an ordered list of (key, value) pairs: tshark repeats keys."""

    def get(self, key, default=None):
        for k, v in self:
            if k == key:
                return v
        return default

    def all(self, key):
        return [v for k, v in self if k == key]


def stream_packets(args):
    """Runs tshark -T json and yields one parsed packet at a time (constant memory)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=tshark_env(), bufsize=1 << 20)
    buf = []
    for line in proc.stdout:
        if line.startswith("  {"):
            buf = [line]
        elif line.startswith("  }"):
            buf.append("  }")
            yield json.loads("".join(buf), object_pairs_hook=Obj)
            buf = []
        elif buf:
            buf.append(line)
    err = proc.stderr.read()
    proc.wait()
    if proc.returncode not in (0, None) and "cut short in the middle of a packet" in err:
        # A capture file cut mid-record: tshark decoded every complete packet.
        TRUNCATED_CAPTURES.append(args[args.index("-r") + 1])
    elif proc.returncode not in (0, None):
        sys.stderr.write(err)
        raise RuntimeError("tshark failed (%s): %s" % (proc.returncode, err.strip()[-500:]))


TRUNCATED_CAPTURES = []


def layers_of(packet):
    return packet.get("_source").get("layers")


# ----------------------------------------------------------------------------------------
# NetFlow v5 / v9 / IPFIX (cflow)
# ----------------------------------------------------------------------------------------

# IANA element -> what FlowVision's codec does with it (collector/codec/src/ie.rs Target::of).
TARGET = {
    1: "Octets", 2: "Packets", 4: "Proto", 5: "Tos", 6: "TcpFlags", 7: "SrcPort",
    8: "SrcAddr", 27: "SrcAddr", 9: "SrcMask", 29: "SrcMask", 10: "InIf", 11: "DstPort",
    12: "DstAddr", 28: "DstAddr", 13: "DstMask", 30: "DstMask", 14: "OutIf",
    15: "NextHop", 62: "NextHop", 18: "BgpNextHop", 63: "BgpNextHop", 16: "SrcAs",
    17: "DstAs", 21: "EndUptime", 22: "StartUptime", 23: "PostOctets", 24: "PostPackets",
    34: "SamplingInterval", 50: "SamplingInterval", 48: "SamplerId", 58: "Vlan",
    243: "Dot1qVlan", 85: "TotalOctets", 86: "TotalPackets", 150: "StartSeconds",
    151: "EndSeconds", 152: "StartMillis", 153: "EndMillis", 154: "StartNtp", 156: "StartNtp",
    155: "EndNtp", 157: "EndNtp", 158: "StartDeltaMicros", 159: "EndDeltaMicros",
    160: "SystemInitMillis", 161: "DurationMillis", 162: "DurationMicros",
    231: "InitiatorOctets", 298: "InitiatorPackets", 302: "SelectorId",
    305: "SamplingPacketInterval", 306: "SamplingPacketSpace", 309: "SamplingSize",
    310: "SamplingPopulation",
}
ADDR_TARGETS = {"SrcAddr", "DstAddr", "NextHop", "BgpNextHop"}
ABS_TARGETS = {"StartSeconds", "EndSeconds", "StartMillis", "EndMillis", "StartNtp", "EndNtp",
               "SystemInitMillis"}
REL_TARGETS = {"StartUptime", "EndUptime"}
SAMPLING_TARGETS = {"SamplingInterval", "SamplingPacketInterval", "SamplingPacketSpace",
                    "SamplingSize", "SamplingPopulation"}
# The tshark field each element is expected to show up as (checked; see README mapping).
EXPECTED_HF = {
    1: "cflow.octets", 2: "cflow.packets", 4: "cflow.protocol", 5: "cflow.tos",
    6: "cflow.tcpflags", 7: "cflow.srcport", 8: "cflow.srcaddr", 27: "cflow.srcaddrv6",
    9: "cflow.srcmask", 29: "cflow.srcmaskv6", 10: "cflow.inputint", 11: "cflow.dstport",
    12: "cflow.dstaddr", 28: "cflow.dstaddrv6", 13: "cflow.dstmask", 30: "cflow.dstmaskv6",
    14: "cflow.outputint", 15: "cflow.nexthop", 62: "cflow.nexthopv6", 18: "cflow.bgpnexthop",
    63: "cflow.bgpnexthopv6", 16: "cflow.srcas", 17: "cflow.dstas", 21: "cflow.timeend",
    22: "cflow.timestart", 23: "cflow.post_octets", 24: "cflow.post_packets",
    34: "cflow.sampling_interval", 50: "cflow.sampler_random_interval", 48: "cflow.sampler_id",
    58: "cflow.vlanid", 243: "cflow.dot1q_vlan_id", 85: "cflow.permanent_octets",
    86: "cflow.permanent_packets",
    150: "cflow.abstimestart", 151: "cflow.abstimeend", 152: "cflow.abstimestart",
    153: "cflow.abstimeend", 154: "cflow.abstimestart", 155: "cflow.abstimeend",
    156: "cflow.abstimestart", 157: "cflow.abstimeend",
    160: "cflow.sys_init_time", 231: "cflow.initiator_octets", 298: "cflow.initiator_packets",
    305: "cflow.sampling_packet_interval", 306: "cflow.sampling_packet_space",
    309: "cflow.sampling_size", 310: "cflow.sampling_population",
}

VARLEN = 0xFFFF


class Item:
    __slots__ = ("name", "value", "pos", "len", "mask")

    def __init__(self, name, value, pos, length, mask):
        self.name, self.value, self.pos, self.len, self.mask = name, value, pos, length, mask

    def __repr__(self):
        return "%s@%d+%d=%r" % (self.name, self.pos, self.len, self.value)


def collect_items(obj, out):
    """Leaf fields with their raw position (from -x `_raw` arrays), in document order."""
    pending = {}
    for key, val in obj:
        if isinstance(val, Obj):
            collect_items(val, out)
            continue
        if key.endswith("_raw") and isinstance(val, list) and len(val) >= 4:
            try:
                pending[key[:-4]] = (int(val[1]), int(val[2]), int(val[3]))
            except (TypeError, ValueError):
                pass
            continue
        if isinstance(val, list):
            # A repeated raw entry lands here when tshark emits arrays; ignore.
            continue
        if key in pending:
            pos, length, mask = pending.pop(key)
            out.append(Item(key, val, pos, length, mask))
    return out


def has_malformed(obj):
    for key, val in obj:
        if key == "_ws.malformed":
            return True
        if isinstance(val, Obj) and has_malformed(val):
            return True
    return False


def malformed_messages(obj, out):
    for key, val in obj:
        if key == "_ws.expert.message" and isinstance(val, str):
            out.append(val)
        if isinstance(val, Obj):
            malformed_messages(val, out)
    return out


class Template:
    def __init__(self, tid, options, fields):
        self.tid = tid
        self.options = options
        self.fields = fields  # list of (ie, pen, length, is_scope)


def parse_templates(set_obj):
    out = []
    for key, val in set_obj:
        if not isinstance(val, Obj):
            continue
        if key.startswith("Template (Id") or key.startswith("Options Template (Id"):
            tid = val.get("cflow.template_id")
            if tid is None:
                continue
            fields = []
            for fkey, fval in val:
                if not (isinstance(fval, Obj) and fkey.startswith("Field (")):
                    continue
                ie = None
                for name in ("cflow.template_ipfix_field_type", "cflow.template_ipfix_field_type_enterprise",
                             "cflow.template_field_type", "cflow.template_field_type_enterprise",
                             "cflow.scope_field_type"):
                    if fval.get(name) is not None:
                        ie = fval.get(name)
                        break
                length = fval.get("cflow.template_field_length")
                pen = 0
                if fval.get("cflow.template_ipfix_pen_provided") in ("1", "True", "true"):
                    pen = int(fval.get("cflow.template_ipfix_field_pen") or 0) or -1
                    if ie is None:
                        ie = "-1"  # vendor-named element id (cflow.template_<vendor>_...): not compared
                if ie is None or length is None:
                    raise RuntimeError("template %s: cannot read %s: %r" % (tid, fkey, list(fval)))
                fields.append((to_int(ie), pen, to_int(length), "[Scope]" in fkey))
            out.append(Template(to_int(tid), key.startswith("Options"), fields))
    return out


class Pending:
    """Mirror of decode.rs `Pending`."""

    def __init__(self):
        self.v = {}

    def set(self, k, val):
        self.v[k] = val

    def get(self, k):
        return self.v.get(k)


class ScopeState:
    """What options data tshark decoded for one (exporter, protocol, domain): the mirror of
    the codec's ScopeOptions (template/cache.rs)."""

    def __init__(self):
        self.domain_rate = None
        self.samplers = {}
        self.system_init_ms = None
        # A data set of this scope went undecoded (no template in tshark) or an options
        # record could not be read: it may have been sampling options FlowVision applies.
        self.uncertain = False


def first(*vals):
    for v in vals:
        if v is not None:
            return v
    return None


class CflowDecoder:
    def __init__(self, summary):
        self.templates = {}  # (frame, domain, tid) -> Template
        self.scopes = {}  # (exporter, protocol, domain) -> ScopeState
        self.summary = summary
        self.unexpected_hf = summary.setdefault("unexpected_tshark_fields", {})

    def scope(self, key):
        st = self.scopes.get(key)
        if st is None:
            st = self.scopes[key] = ScopeState()
        return st

    # -- v5 ------------------------------------------------------------------------------
    def v5(self, frame, exporter, pdu, emit):
        ts = pdu.get("cflow.timestamp_tree") or Obj()
        secs = to_int(ts.get("cflow.unix_secs"))
        nsecs = to_int(ts.get("cflow.unix_nsecs") or "0")
        uptime = rel_time_ms(pdu.get("cflow.sysuptime"))
        export_ms = secs * 1000 + nsecs // 1_000_000
        domain = (to_int(pdu.get("cflow.engine_type")) << 8) | to_int(pdu.get("cflow.engine_id"))
        seq = to_int(pdu.get("cflow.sequence"))
        rate = to_int(pdu.get("cflow.samplerate") or "0") & 0x3FFF
        for key, rec in pdu:
            if not (isinstance(rec, Obj) and key.startswith("pdu ")):
                continue
            if has_malformed(rec):
                self.summary["v5_partial_records"] = self.summary.get("v5_partial_records", 0) + 1
                continue
            td = rec.get("cflow.timedelta_tree") or Obj()
            first_up = rel_time_ms(td.get("cflow.timestart"))
            last_up = rel_time_ms(td.get("cflow.timeend"))
            r = {
                "protocol": "netflow_v5", "exporter": exporter, "observation_domain": domain,
                "sequence": seq,
                "src_addr": norm_ip(rec.get("cflow.srcaddr")),
                "dst_addr": norm_ip(rec.get("cflow.dstaddr")),
                "src_port": to_int(rec.get("cflow.srcport")),
                "dst_port": to_int(rec.get("cflow.dstport")),
                "proto": to_int(rec.get("cflow.protocol")),
                "tcp_flags": to_int(rec.get("cflow.tcpflags")),
                "tos": to_int(rec.get("cflow.tos")),
                "bytes": to_int(rec.get("cflow.octets")),
                "packets": to_int(rec.get("cflow.packets")),
                "sampling_rate": rate if rate > 1 else 1,
                "in_if": to_int(rec.get("cflow.inputint")),
                "out_if": to_int(rec.get("cflow.outputint")),
                "src_as": to_int(rec.get("cflow.srcas")),
                "dst_as": to_int(rec.get("cflow.dstas")),
                "next_hop": norm_ip(rec.get("cflow.nexthop")),
                "src_mask": to_int(rec.get("cflow.srcmask")),
                "dst_mask": to_int(rec.get("cflow.dstmask")),
                "vlan": 0,
                "flow_start": rfc3339_ms(export_ms - i32(uptime - first_up)),
                "flow_end": rfc3339_ms(export_ms - i32(uptime - last_up)),
                "_frame": frame,
            }
            emit(r)

    # -- v9 / IPFIX ----------------------------------------------------------------------
    def v9_ipfix(self, frame, exporter, pdu, pdu_raw, emit, marker):
        version = to_int(pdu.get("cflow.version"))
        protocol = "netflow_v9" if version == 9 else "ipfix"
        seq = to_int(pdu.get("cflow.sequence"))
        if version == 9:
            ts = pdu.get("cflow.timestamp_tree") or Obj()
            export_secs = to_int(ts.get("cflow.unix_secs"))
            uptime = rel_time_ms(pdu.get("cflow.sysuptime"))
            domain = to_int(pdu.get("cflow.source_id"))
        else:
            ts = pdu.get("cflow.timestamp_tree") or Obj()
            export_secs = to_int(ts.get("cflow.exporttime"))
            uptime = None
            domain = to_int(pdu.get("cflow.od_id"))
        ctx = {
            "protocol": protocol, "exporter": exporter, "domain": domain, "sequence": seq,
            "export_ms": export_secs * 1000, "uptime": uptime, "frame": frame,
        }
        scope = self.scope((exporter, protocol, domain))
        base_marker = {"protocol": protocol, "exporter": exporter, "observation_domain": domain,
                       "sequence": seq, "_frame": frame}
        set_end = None
        stopped = False
        for key, fs in pdu:
            if not (isinstance(fs, Obj) and (key.startswith("FlowSet ") or key.startswith("Set "))):
                continue
            head = collect_items(Obj([(k, v) for k, v in fs if not isinstance(v, Obj)]), [])
            pos = [it.pos for it in head if it.name == "cflow.flowset_id"]
            length = fs.get("cflow.flowset_length")
            if pos and length is not None and to_int(length) >= 4:
                set_end = pos[0] + to_int(length)
            set_id = fs.get("cflow.flowset_id")
            if set_id is None:
                continue
            set_id = to_int(set_id)
            if set_id < 256:
                for t in parse_templates(fs):
                    self.templates[(frame, domain, t.tid)] = t
                continue
            tframe = fs.get("cflow.template_frame")
            if tframe is None:
                msgs = malformed_messages(fs, [])
                if any("no template found" in m for m in msgs):
                    scope.uncertain = True
                    m = dict(base_marker)
                    m.update({"tshark": "no template", "template_id": set_id,
                              "set_length": to_int(fs.get("cflow.flowset_length") or "0")})
                    marker(m)
                else:
                    scope.uncertain = True
                    m = dict(base_marker)
                    m.update({"tshark": "exception", "template_id": set_id,
                              "message": "; ".join(msgs)[:300]})
                    marker(m)
                continue
            template = self.templates.get((to_int(tframe), domain, set_id))
            if template is None:
                self.summary.setdefault("notes", []).append(
                    "frame %d: template %d (frame %s) not found in tshark output" % (frame, set_id, tframe))
                continue
            raw_pos = None
            set_items = collect_items(Obj([(k, v) for k, v in fs if not isinstance(v, Obj)]), [])
            for it in set_items:
                if it.name == "cflow.flowset_id":
                    raw_pos = it.pos
            if raw_pos is None:
                raise RuntimeError("frame %d: no raw position for flowset (run with -x)" % frame)
            rec_start = raw_pos + 4
            flows = [(k, v) for k, v in fs if isinstance(v, Obj) and k.startswith("Flow ")]
            exception = any(key == "_ws.malformed" for key, _ in fs)
            for k, flow in flows:
                # Only an exception at the level of the record stops tshark; a malformed
                # packet nested inside a field (e.g. the frame section of IE 315, cut
                # short by design) does not.
                broken = any(key == "_ws.malformed" for key, _ in flow)
                items = collect_items(flow, [])
                values, rec_end, complete = self.assign(template, items, rec_start, pdu_raw)
                if DEBUG:
                    sys.stderr.write("frame %d set %d %s start %d end %d\n" % (frame, set_id, k, rec_start, rec_end))
                    for v in values:
                        sys.stderr.write("    IE %s pen %s len %s -> %r\n" % (v[0], v[1], v[2], v[3]))
                rec_start = rec_end
                if template.options:
                    self.options_record(template, values, scope, ctx)
                    if broken:
                        exception = True
                        break
                    continue
                r = self.finish(template, values, ctx, scope, complete and not broken)
                if broken or not complete:
                    # tshark stopped inside this record: FlowVision rejects such a record
                    # (the set is malformed), so the comparator may find it missing.
                    r["_partial"] = True
                emit(r)
                if broken:
                    exception = True
                    break
            if exception:
                scope.uncertain = True
                m = dict(base_marker)
                m.update({"tshark": "exception", "template_id": set_id,
                          "message": "; ".join(malformed_messages(fs, []))[:300]})
                marker(m)
                # tshark gives up on the rest of the datagram after an exception.
                stopped = True
                break
        data, base = pdu_raw
        if not stopped and set_end is not None and data:
            rest = data[set_end - base:]
            if version == 9 and len(rest) >= 4 and any(rest):
                # tshark 4.0 stops a v9 datagram once it has dissected `count` records
                # (RFC 3954 5.1: template, options and data records), while FlowVision walks
                # the flowsets by their lengths because exporters fill `count` inconsistently
                # (softflowd's is lower than what it sends, Fortigate counts flowsets).
                m = dict(base_marker)
                m.update({"tshark": "stopped at header count",
                          "count": to_int(pdu.get("cflow.count") or "0"), "undecoded_bytes": len(rest)})
                marker(m)

    def assign(self, template, items, start, pdu_raw):
        """Maps tshark items to template fields by byte position. Returns
        ([(ie, pen, length, item or None, is_scope)], record end, complete).

        Field boundaries follow the template; the length of a variable-length field
        (RFC 7011 7: one byte, or 255 and two bytes) is read from the PDU bytes tshark
        reports (`cflow_raw`), exactly where tshark itself read it."""
        by_pos = {}
        for it in items:
            if it.mask != 0:
                continue
            by_pos.setdefault(it.pos, []).append(it)
        data, base = pdu_raw

        def byte_at(p):
            i = p - base
            return data[i] if 0 <= i < len(data) else None

        off = start
        values = []
        complete = True
        for idx, (ie, pen, length, is_scope) in enumerate(template.fields):
            if length == VARLEN:
                b = byte_at(off)
                if b is None:
                    complete = False
                elif b < 255:
                    n, data_pos = b, off + 1
                else:
                    hi, lo = byte_at(off + 1), byte_at(off + 2)
                    if hi is None or lo is None:
                        complete = False
                    else:
                        n, data_pos = (hi << 8) | lo, off + 3
                if not complete:
                    for rest in template.fields[idx:]:
                        values.append((rest[0], rest[1], rest[2], None, rest[3]))
                    break
                main = [it for it in by_pos.get(data_pos, []) if not it.name.startswith("cflow.string_len")]
                values.append((ie, pen, n, main[0] if main else None, is_scope))
                off = data_pos + n
                continue
            if length == 0:
                # A zero-length field has no value (FlowVision applies nothing either).
                values.append((ie, pen, 0, None, is_scope))
                continue
            cands = [it for it in by_pos.get(off, []) if not it.name.startswith("cflow.string_len")]
            main = None
            exp = EXPECTED_HF.get(ie) if pen == 0 else None
            for it in cands:
                if exp and it.name == exp:
                    main = it
                    break
            if main is None and cands:
                main = cands[0]
            values.append((ie, pen, length, main, is_scope))
            off += length
        return values, off, complete

    def value_of(self, ie, target, length, item, ctx):
        v = item.value
        if target in ADDR_TARGETS:
            if length not in (4, 16):
                return None
            return norm_ip(v)
        if target in ABS_TARGETS:
            return abs_time_ms(v)
        if target in REL_TARGETS:
            if ABS_RE.match(v.strip()):
                # tshark shows a sysUpTime value of 0 as an absolute time (1970-01-01).
                ms = abs_time_ms(v)
                if ms != 0:
                    self.summary.setdefault("notes", []).append(
                        "IE %d shown as absolute time %r (taken as %d ms)" % (ie, v, ms))
                return ms
            return rel_time_ms(v)
        if target == "DurationMillis":
            return rel_time_ms(v) if "." in v else to_int(v)
        if target == "DurationMicros":
            return rel_time_ms(v) * 1000 if "." in v else to_int(v)
        if target in ("StartDeltaMicros", "EndDeltaMicros"):
            if ABS_RE.match(v.strip()):
                # tshark shows export time minus the delta; recover the delta in us.
                m = ABS_RE.match(v.strip())
                ns = int((m.group(7) or "0").ljust(9, "0")[:9])
                abs_us = (abs_time_ms(v) // 1000) * 1_000_000 + ns // 1000
                return ctx["export_ms"] * 1000 - abs_us
            return rel_time_ms(v) * 1000 if "." in v else to_int(v)
        return to_int(v)

    @staticmethod
    def targets_of(template, protocol):
        """Template::new + ie::resolve_priorities: what each field sets, decided once per
        template. Of the elements meaning the same thing, the best one present in the
        template wins and the others are skipped: bytes from 1, else 85, 231, 23; packets
        from 2, else 86, 298, 24; next hop from 15/62, else 18/63; VLAN from 58, else 243."""
        targets = []
        for ie, pen, length, is_scope in template.fields:
            if is_scope and protocol == "netflow_v9":
                targets.append("ScopeInterface" if ie == 2 else None)
            elif pen != 0:
                targets.append(None)  # enterprise-specific: kept verbatim, not compared
            else:
                targets.append(TARGET.get(ie))
        for order, winner in PRIORITIES:
            best = next((o for o in order if o in targets), None)
            if best is None:
                continue
            targets = [winner if t == best else (None if t in order else t) for t in targets]
        return targets

    def record_fields(self, template, values, ctx, scope):
        """decode.rs apply(), field by field in template order."""
        rec = {"src_addr": None, "dst_addr": None, "next_hop": None, "flow_start": None, "flow_end": None}
        p = Pending()
        unknown = set()
        targets = self.targets_of(template, ctx["protocol"])
        for (ie, pen, length, item, is_scope), target in zip(values, targets):
            if target is None:
                continue
            if item is None:
                if length == 0:
                    # Zero-length field: FlowVision applies the value 0 (be_uint of no
                    # bytes); tshark shows nothing. Left to the comparator as a finding.
                    continue
                unknown.add(target)
                continue
            exp = EXPECTED_HF.get(ie)
            if exp and item.name != exp and not (target in REL_TARGETS and item.name.startswith("cflow.abstime")):
                key = "%d->%s" % (ie, item.name)
                self.unexpected_hf[key] = self.unexpected_hf.get(key, 0) + 1
            try:
                val = self.value_of(ie, target, length, item, ctx)
            except (ValueError, ArithmeticError) as e:
                self.summary.setdefault("notes", []).append(
                    "frame %d: IE %d value %r not understood (%s)" % (ctx["frame"], ie, item.value, e))
                unknown.add(target)
                continue
            if val is None:
                continue
            self.apply(target, val, rec, p, ctx)
        return rec, p, unknown

    @staticmethod
    def apply(target, val, rec, p, ctx):
        simple = {
            "SrcPort": ("src_port", 0xFFFF), "DstPort": ("dst_port", 0xFFFF), "Proto": ("proto", 0xFF),
            "TcpFlags": ("tcp_flags", 0xFFFF), "Tos": ("tos", 0xFF), "SrcMask": ("src_mask", 0xFF),
            "DstMask": ("dst_mask", 0xFF), "Vlan": ("vlan", 0xFFFF),
        }
        clamped = {"InIf": "in_if", "OutIf": "out_if", "SrcAs": "src_as", "DstAs": "dst_as"}
        pending = {
            "StartDeltaMicros": "start_delta_us", "EndDeltaMicros": "end_delta_us",
            "DurationMillis": "duration_ms", "SystemInitMillis": "system_init_ms",
            "SelectorId": "selector_id", "SamplingInterval": "sampling_interval",
            "SamplingPacketInterval": "packet_interval", "SamplingPacketSpace": "packet_space",
            "SamplingSize": "sampling_size", "SamplingPopulation": "sampling_population",
        }
        if target in ("SrcAddr", "DstAddr", "NextHop"):
            # decode.rs pick_addr(): in dual-stack templates an all-zero address never
            # replaces one already read.
            field = {"SrcAddr": "src_addr", "DstAddr": "dst_addr", "NextHop": "next_hop"}[target]
            old = rec.get(field)
            if not (ipaddress.ip_address(val).is_unspecified and old is not None
                    and not ipaddress.ip_address(old).is_unspecified):
                rec[field] = val
        elif target in simple:
            name, mask = simple[target]
            rec[name] = val & mask
        elif target in clamped:
            rec[clamped[target]] = min(val, U32_MAX)
        elif target == "Bytes":
            rec["bytes"] = val
        elif target == "PacketCount":
            rec["packets"] = val
        elif target in ("StartUptime", "EndUptime"):
            field = "flow_start" if target == "StartUptime" else "flow_end"
            v = val & 0xFFFFFFFF
            if ctx["uptime"] is not None:
                # v9: relative to the header's sysUpTime at export time (signed 32-bit).
                rec[field] = ctx["export_ms"] - i32(ctx["uptime"] - v)
            else:
                p.set("start_uptime" if field == "flow_start" else "end_uptime", v)
        elif target in ("StartSeconds", "StartMillis", "StartNtp"):
            rec["flow_start"] = val
        elif target in ("EndSeconds", "EndMillis", "EndNtp"):
            rec["flow_end"] = val
        elif target == "DurationMicros":
            p.set("duration_ms", val // 1000)
        elif target == "SamplerId":
            rec["sampler_id"] = val
        elif target in pending:
            p.set(pending[target], val)

    @staticmethod
    def record_rate(p):
        i = p.get("sampling_interval")
        if i:
            return min(i, U32_MAX)
        i = p.get("packet_interval")
        if i:
            space = p.get("packet_space") or 0
            return min((i + space) // i, U32_MAX)
        size, pop = p.get("sampling_size"), p.get("sampling_population")
        if size and pop is not None:
            return max(min(pop // size, U32_MAX), 1)
        return None

    def options_record(self, template, values, scope, ctx):
        """decode.rs options_record(): sampler rates and the exporter's boot time."""
        rec, p, unknown = self.record_fields(template, values, ctx, scope)
        rate = self.record_rate(p)
        if unknown & {"SamplingInterval", "SamplingPacketInterval", "SamplingPacketSpace", "SamplingSize",
                      "SamplingPopulation", "SamplerId", "SelectorId"}:
            scope.uncertain = True
        if rate is not None:
            sid = rec.get("sampler_id")
            if sid is None:
                sid = p.get("selector_id")
            if sid is None:
                scope.domain_rate = max(rate, 1)
            else:
                scope.samplers[sid] = max(rate, 1)
        if p.get("system_init_ms") is not None:
            scope.system_init_ms = p.get("system_init_ms")

    def finish(self, template, values, ctx, scope, complete):
        rec, p, unknown = self.record_fields(template, values, ctx, scope)
        g = p.get
        if rec.get("sampler_id") is None and g("selector_id") is not None:
            rec["sampler_id"] = g("selector_id")
        start, end = rec["flow_start"], rec["flow_end"]
        uptime_unknown = False
        if ctx["uptime"] is None:
            init = first(g("system_init_ms"), scope.system_init_ms)
            if init is not None:
                if g("start_uptime") is not None:
                    start = init + g("start_uptime")
                if g("end_uptime") is not None:
                    end = init + g("end_uptime")
            elif g("start_uptime") is not None or g("end_uptime") is not None:
                uptime_unknown = True
        export_ms = ctx["export_ms"]
        if start is None and g("start_delta_us") is not None:
            start = (export_ms * 1000 - g("start_delta_us")) // 1000
        if end is None and g("end_delta_us") is not None:
            end = (export_ms * 1000 - g("end_delta_us")) // 1000
        d = g("duration_ms")
        if d is not None:
            if start is not None and end is None:
                end = start + d
            elif start is None and end is not None:
                start = end - d
        # Sampling (finish()): the record's own statement, then its sampler's table entry,
        # then the exporter-wide rate, both from options data tshark decoded earlier.
        rate = self.record_rate(p)
        if rate is None:
            sid = rec.get("sampler_id")
            if sid is not None and sid in scope.samplers:
                rate = scope.samplers[sid]
            elif scope.domain_rate is not None:
                rate = scope.domain_rate
            else:
                rate = 1
            if scope.uncertain:
                rate = UNKNOWN
        out = {
            "protocol": ctx["protocol"], "exporter": ctx["exporter"],
            "observation_domain": ctx["domain"], "sequence": ctx["sequence"],
            "src_addr": rec["src_addr"], "dst_addr": rec["dst_addr"],
            "src_port": rec.get("src_port", 0), "dst_port": rec.get("dst_port", 0),
            "proto": rec.get("proto", 0), "tcp_flags": rec.get("tcp_flags", 0),
            "tos": rec.get("tos", 0), "bytes": rec.get("bytes", 0), "packets": rec.get("packets", 0),
            "sampling_rate": rate,
            "in_if": rec.get("in_if", 0), "out_if": rec.get("out_if", 0),
            "src_as": rec.get("src_as", 0), "dst_as": rec.get("dst_as", 0),
            "next_hop": rec["next_hop"], "src_mask": rec.get("src_mask", 0),
            "dst_mask": rec.get("dst_mask", 0), "vlan": rec.get("vlan", 0),
            "flow_start": rfc3339_ms(start), "flow_end": rfc3339_ms(end),
        }
        # Fields tshark never decoded (dissection stopped at or before them) are unknown.
        affected = set()
        for t in unknown:
            affected |= TARGET_FIELDS.get(t, set())
        for f in affected:
            out[f] = UNKNOWN
        if uptime_unknown:
            out["_uptime_unknown"] = True
        out["_frame"] = ctx["frame"]
        return out


PRIORITIES = [
    (["Octets", "TotalOctets", "InitiatorOctets", "PostOctets"], "Bytes"),
    (["Packets", "TotalPackets", "InitiatorPackets", "PostPackets"], "PacketCount"),
    (["NextHop", "BgpNextHop"], "NextHop"),
    (["Vlan", "Dot1qVlan"], "Vlan"),
]


# Which output fields a codec target can influence (to mark them "?" when tshark stopped).
TARGET_FIELDS = {
    "SrcAddr": {"src_addr"}, "DstAddr": {"dst_addr"}, "SrcPort": {"src_port"},
    "DstPort": {"dst_port"}, "Proto": {"proto"}, "TcpFlags": {"tcp_flags"}, "Tos": {"tos"},
    "Bytes": {"bytes"}, "PacketCount": {"packets"},
    "Octets": {"bytes"}, "TotalOctets": {"bytes"}, "InitiatorOctets": {"bytes"},
    "PostOctets": {"bytes"}, "Packets": {"packets"}, "TotalPackets": {"packets"},
    "InitiatorPackets": {"packets"}, "PostPackets": {"packets"}, "InIf": {"in_if"},
    "OutIf": {"out_if"}, "SrcAs": {"src_as"}, "DstAs": {"dst_as"},
    "NextHop": {"next_hop"}, "BgpNextHop": {"next_hop"}, "SrcMask": {"src_mask"},
    "DstMask": {"dst_mask"}, "Vlan": {"vlan"}, "Dot1qVlan": {"vlan"},
    "StartUptime": {"flow_start", "flow_end"}, "EndUptime": {"flow_start", "flow_end"},
    "StartSeconds": {"flow_start", "flow_end"}, "EndSeconds": {"flow_start", "flow_end"},
    "StartMillis": {"flow_start", "flow_end"}, "EndMillis": {"flow_start", "flow_end"},
    "StartNtp": {"flow_start", "flow_end"}, "EndNtp": {"flow_start", "flow_end"},
    "StartDeltaMicros": {"flow_start", "flow_end"}, "EndDeltaMicros": {"flow_start", "flow_end"},
    "DurationMillis": {"flow_start", "flow_end"}, "DurationMicros": {"flow_start", "flow_end"},
    "SystemInitMillis": {"flow_start", "flow_end"},
    "SamplingInterval": {"sampling_rate"}, "SamplingPacketInterval": {"sampling_rate"},
    "SamplingPacketSpace": {"sampling_rate"}, "SamplingSize": {"sampling_rate"},
    "SamplingPopulation": {"sampling_rate"}, "SamplerId": {"sampling_rate"},
    "SelectorId": {"sampling_rate"},
}


# ----------------------------------------------------------------------------------------
# sFlow v5
# ----------------------------------------------------------------------------------------

SFLOW_LOCAL = 0x3FFFFFFF  # compact interface value "the device itself"


def compact_interface(v):
    """sflow/flow_sample.rs compact_interface(): format bits 0 and not "local"."""
    return v if (v >> 30) == 0 and v != SFLOW_LOCAL else 0


def sflow_records(frame, pdu, emit, summary, udp_source):
    """One record per standard flow sample (format 1) and expanded flow sample (format 3).
    Counter samples, discarded-packet events (format 5) and other enterprises' samples are
    not flow records."""
    agent = pdu.get("sflow_245.agent") or pdu.get("sflow_245.agent.v6")
    exporter = norm_ip(agent) if agent else udp_source
    sub_agent = to_int(pdu.get("sflow_245.sub_agent_id") or "0")
    seq = to_int(pdu.get("sflow_245.sequence_number") or "0")
    for key, sample in pdu:
        if not isinstance(sample, Obj):
            continue
        st = sample.get("sflow_245.sampletype")
        if st is None:
            continue
        st = to_int(st)
        enterprise = to_int(sample.get("sflow.enterprise") or "0")
        if enterprise != 0 or st not in (1, 3):
            continue
        r = sflow_sample(frame, exporter, sub_agent, seq, st, sample, summary)
        if r is not None:
            emit(r)


def sflow_sample(frame, exporter, sub_agent, seq, st, sample, summary):
    g = sample.get
    rate = to_int(g("sflow.flow_sample.sampling_rate") or "0")
    if st == 1:
        in_if = compact_interface(to_int(g("sflow.flow_sample.input_interface") or "0"))
        out_tree = g("sflow.flow_sample.output_interface_tree") or Obj()
        out_fmt = to_int(out_tree.get("sflow.flow_sample.output_interface_format") or "0")
        out_val = to_int(out_tree.get("sflow.flow_sample.output_interface_value") or "0")
        out_if = out_val if out_fmt == 0 and out_val != SFLOW_LOCAL else 0
    else:
        in_fmt = to_int(g("sflow.flow_sample.input_interface_format") or "0")
        in_val = to_int(g("sflow.flow_sample.input_interface_value") or "0")
        out_fmt = to_int(g("sflow.flow_sample.output_interface.format") or "0")
        out_val = to_int(g("sflow.flow_sample.output_interface_value") or "0")
        in_if = in_val if in_fmt == 0 and in_val != U32_MAX else 0
        out_if = out_val if out_fmt == 0 and out_val != U32_MAX else 0
    r = {
        "protocol": "sflow_v5", "exporter": exporter, "observation_domain": sub_agent,
        "sequence": seq, "src_addr": None, "dst_addr": None, "src_port": 0, "dst_port": 0,
        "proto": 0, "tcp_flags": 0, "tos": 0, "bytes": 0, "packets": 1,
        "sampling_rate": max(rate, 1), "in_if": in_if, "out_if": out_if,
        "src_as": 0, "dst_as": 0, "next_hop": None, "src_mask": 0, "dst_mask": 0, "vlan": 0,
        "flow_start": None, "flow_end": None,
    }
    header = ethernet = sampled = switch = router = gateway = None
    for key, rec in sample:
        if not isinstance(rec, Obj):
            continue
        fmt = rec.get("sflow_245.flow_record_format")
        if fmt is None or to_int(rec.get("sflow.enterprise") or "0") != 0:
            continue
        fmt = to_int(fmt)
        if fmt == 1 and header is None:
            header = rec
        elif fmt == 2 and ethernet is None:
            ethernet = rec
        elif fmt in (3, 4) and sampled is None:
            sampled = (fmt, rec)
        elif fmt == 1001 and switch is None:
            switch = rec
        elif fmt == 1002 and router is None:
            router = rec
        elif fmt == 1003 and gateway is None:
            gateway = rec
    # tshark gave up inside the sample itself or one of its records (not merely inside the
    # dissection of a sampled packet header, which is cut short by design).
    partial = any(k == "_ws.malformed" for k, _ in sample) or any(
        isinstance(v, Obj) and any(k2 == "_ws.malformed" for k2, _ in v) for _, v in sample)
    hdr = None
    if header is not None:
        hdr = {}
        proto = to_int(header.get("sflow_245.header_protocol") or "0")
        tree = header.get("sflow_245.header_tree")
        if tree is not None and proto in (1, 11, 12):
            sampled_packet(tree, hdr, proto)
        r["vlan"] = hdr.get("vlan", 0)
    if hdr is not None and hdr.get("src_addr") is not None:
        for f in ("src_addr", "dst_addr", "proto", "tos", "src_port", "dst_port", "tcp_flags"):
            r[f] = hdr.get(f, 0)
    elif sampled is not None:
        sampled_ip_record(sampled[1], r, v6=sampled[0] == 4)
    # bytes: raw header frame length, else Ethernet frame data length, else sampled IP length.
    if header is not None:
        r["bytes"] = to_int(header.get("sflow_245.header.frame_length") or "0")
    elif ethernet is not None:
        r["bytes"] = to_int(ethernet.get("sflow_245.ethernet.length") or "0")
    elif sampled is not None:
        r["bytes"] = to_int(sampled[1].get("sflow_245.ip.length") or "0")
    if switch is not None:
        def vid(v):
            return v if 1 <= v <= 4095 else None
        vin = vid(to_int(switch.get("sflow_245.vlan.in") or "0"))
        vout = vid(to_int(switch.get("sflow_245.vlan.out") or "0"))
        v = vin if vin is not None else (vout if vout is not None else 0)
        if v:
            r["vlan"] = v
    if router is not None:
        nh = router.get("sflow_245.nexthop") or router.get("sflow_245.nexthop.v6")
        r["next_hop"] = norm_ip(nh) if nh else None
        for f, k in (("src_mask", "sflow_245.nexthop.src_mask"), ("dst_mask", "sflow_245.nexthop.dst_mask")):
            m = to_int(router.get(k) or "0")
            r[f] = m if m <= 128 else 0
    if gateway is not None:
        r["src_as"] = to_int(gateway.get("sflow_245.srcAS") or "0")
        path = []
        for k, v in gateway:
            if k == "sflow.as_type_tree" and isinstance(v, Obj):
                path += [to_int(x) for x in v.all("sflow_245.dstAS")]
        r["dst_as"] = path[-1] if path else 0
        if r["next_hop"] is None:
            nh = gateway.get("sflow_245.nexthop") or gateway.get("sflow_245.nexthop.v6")
            if nh and not ipaddress.ip_address(nh).is_unspecified:
                r["next_hop"] = norm_ip(nh)
    if partial:
        summary["sflow_partial_samples"] = summary.get("sflow_partial_samples", 0) + 1
        for f in ("src_addr", "dst_addr", "src_port", "dst_port", "proto", "tcp_flags", "tos",
                  "vlan", "next_hop", "src_mask", "dst_mask", "src_as", "dst_as", "bytes"):
            r[f] = UNKNOWN
    r["_frame"] = frame
    return r


L2_LAYERS = ("eth", "vlan", "ieee8021ad", "mpls")
L4_PORTS = {"tcp": "tcp", "udp": "udp", "udplite": "udp", "sctp": "sctp", "dccp": "dccp"}
IPV6_NEXT_KEYS = ("ipv6.hopopts.nxt", "ipv6.routing.nxt", "ipv6.fraghdr.nxt", "ipv6.dstopts.nxt",
                  "ipv6.mipv6.nxt", "ah.next_header", "ipv6.shim6.nxt")


def last_key(obj, keys):
    found = None
    for k, v in obj:
        if k in keys and not isinstance(v, Obj):
            found = v
        elif isinstance(v, Obj):
            inner = last_key(v, keys)
            if inner is not None:
                found = inner
    return found


def sampled_packet(tree, hdr, header_protocol):
    """The outermost IP packet of a sampled header as tshark dissected it, reached the way
    packet.rs reaches it: Ethernet, VLAN/QinQ tags, MPLS, then IPv4/IPv6 (or the IP header
    directly for header protocols 11/12)."""
    ip = None
    l4 = None
    for key, val in tree:
        if not isinstance(val, Obj):
            continue
        if ip is None:
            if key in ("ip", "ipv6"):
                ip = (key, val)
                continue
            if header_protocol == 1 and key in L2_LAYERS:
                if key in ("vlan", "ieee8021ad") and "vlan" not in hdr:
                    vid = val.get("vlan.id") or val.get("ieee8021ad.id")
                    hdr["vlan"] = to_int(vid or "0")
                continue
            return  # something packet.rs does not walk through (LLC, ARP, ...)
        if key in L4_PORTS or key in ("icmp", "icmpv6"):
            l4 = (key, val)
        break
    if ip is None:
        return
    kind, v = ip
    if v.get("ip.src" if kind == "ip" else "ipv6.src") is None:
        return  # header cut before the addresses
    if kind == "ip":
        hdr["src_addr"] = norm_ip(v.get("ip.src"))
        hdr["dst_addr"] = norm_ip(v.get("ip.dst"))
        hdr["proto"] = to_int(v.get("ip.proto") or "0")
        hdr["tos"] = to_int(v.get("ip.dsfield") or "0") & 0xFF
    else:
        hdr["src_addr"] = norm_ip(v.get("ipv6.src"))
        hdr["dst_addr"] = norm_ip(v.get("ipv6.dst"))
        nxt = last_key(v, IPV6_NEXT_KEYS)
        hdr["proto"] = to_int(nxt if nxt is not None else (v.get("ipv6.nxt") or "0"))
        hdr["tos"] = to_int(v.get("ipv6.tclass") or "0") & 0xFF
    if l4 is None:
        return
    name, t = l4
    if name in L4_PORTS:
        p = L4_PORTS[name]
        if t.get(p + ".srcport") is not None:
            hdr["src_port"] = to_int(t.get(p + ".srcport"))
            hdr["dst_port"] = to_int(t.get(p + ".dstport") or "0")
        if name == "tcp" and t.get("tcp.flags") is not None:
            hdr["tcp_flags"] = to_int(t.get("tcp.flags")) & 0xFF
    else:
        if t.get(name + ".type") is not None:
            hdr["src_port"] = 0
            hdr["dst_port"] = (to_int(t.get(name + ".type")) << 8) | to_int(t.get(name + ".code") or "0")


def sampled_ip_record(rec, r, v6):
    if v6:
        r["src_addr"] = norm_ip(rec.get("sflow_245.ipv6_src"))
        r["dst_addr"] = norm_ip(rec.get("sflow_245.ipv6_dst"))
        r["tos"] = to_int(rec.get("sflow_245.ipv6_priority") or "0") & 0xFF
    else:
        r["src_addr"] = norm_ip(rec.get("sflow_245.ipv4_src"))
        r["dst_addr"] = norm_ip(rec.get("sflow_245.ipv4_dst"))
        # Same for the ToS: tshark splits the first byte of the u32 into RFC 1349 bits.
        r["tos"] = UNKNOWN
    r["proto"] = to_int(rec.get("sflow.ip_protocol") or "0") & 0xFF
    r["src_port"] = to_int(rec.get("sflow_245.ip.source_port") or "0") & 0xFFFF
    r["dst_port"] = to_int(rec.get("sflow.ip.destination_port") or "0") & 0xFFFF
    # tshark 4.0 reads the TCP flag bits from the first (most significant) byte of the XDR
    # u32, where they never are (nxthdr-sflow-parser/tests/data/sflow.pcap: 0x00000010 shown
    # as no flags), so it cannot tell the flags of a sampled IPv4/IPv6 record.
    r["tcp_flags"] = UNKNOWN


# ----------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------

def decode_capture(path, out, summary, raw_exporter=None):
    frames, err = classify(path)
    summary["udp_heuristics_not_disabled"] = _HEURISTICS_MISSING
    cflow_frames = {f for f, v in frames.items() if v[0] == "cflow"}
    sflow_frames = {f for f, v in frames.items() if v[0] == "sflow"}
    summary["udp_datagrams"] = len(frames)
    summary["cflow_datagrams"] = len(cflow_frames)
    summary["sflow_datagrams"] = len(sflow_frames)
    summary["other_udp_datagrams"] = len(frames) - len(cflow_frames) - len(sflow_frames)
    versions = {}
    for f in cflow_frames:
        v = struct.unpack("!H", frames[f][4][0:2])[0]
        versions[v] = versions.get(v, 0) + 1
    summary["cflow_versions"] = {str(k): v for k, v in sorted(versions.items())}
    results = {}  # frame -> list of lines

    def ports_of(fs):
        ports = set()
        for f in fs:
            ports.add(frames[f][2])
            ports.add(frames[f][3])
        return sorted(p for p in ports if p)

    malformed = {}

    def note_malformed(frame, layers):
        msgs = []
        for key, val in layers:
            if key == "_ws.malformed":
                msgs += malformed_messages(val, []) if isinstance(val, Obj) else []
                msgs = msgs or ["Malformed Packet"]
        return msgs

    if cflow_frames:
        dec = CflowDecoder(summary)
        args = base_args(path) + ["-o", "cflow.max_template_fields:0"]
        for p in ports_of(cflow_frames):
            args += ["-d", "udp.port==%d,cflow" % p]
        args += ["-T", "json", "-x", "-J", "frame cflow _ws.malformed"]
        for packet in stream_packets(args):
            layers = layers_of(packet)
            frame = to_int(layers.get("frame").get("frame.number"))
            if frame not in cflow_frames:
                continue
            exporter = raw_exporter or frames[frame][1]
            lines = results.setdefault(frame, [])
            pdus = layers.all("cflow")
            raws = layers.all("cflow_raw")
            top_malformed = any(k == "_ws.malformed" for k, _ in layers)
            for n, pdu in enumerate(pdus):
                if not isinstance(pdu, Obj):
                    continue
                raw = raws[n] if n < len(raws) else None
                pdu_raw = (bytes.fromhex(raw[0]), int(raw[1])) if raw else (b"", 0)
                version = to_int(pdu.get("cflow.version") or "0")
                if version == 5:
                    dec.v5(frame, exporter, pdu, lines.append)
                elif version in (9, 10):
                    dec.v9_ipfix(frame, exporter, pdu, pdu_raw, lines.append, lines.append)
                else:
                    summary.setdefault("unsupported_versions", {})
                    k = str(version)
                    summary["unsupported_versions"][k] = summary["unsupported_versions"].get(k, 0) + 1
            if top_malformed or any(has_malformed(p) for p in pdus if isinstance(p, Obj)):
                msgs = []
                for p in pdus:
                    if isinstance(p, Obj):
                        malformed_messages(p, msgs)
                msgs = [m for m in msgs if "no template found" not in m and "Unexpected flow sequence" not in m]
                if msgs or top_malformed:
                    malformed[frame] = sorted(set(msgs))[:3] or ["Malformed Packet"]
    if sflow_frames:
        args = base_args(path)
        for p in ports_of(sflow_frames):
            args += ["-d", "udp.port==%d,sflow" % p]
        args += ["-T", "json", "-J", "frame sflow _ws.malformed"]
        for packet in stream_packets(args):
            layers = layers_of(packet)
            frame = to_int(layers.get("frame").get("frame.number"))
            if frame not in sflow_frames:
                continue
            lines = results.setdefault(frame, [])
            pdus = [p for p in layers.all("sflow") if isinstance(p, Obj)]
            for pdu in pdus:
                sflow_records(frame, pdu, lines.append, summary, raw_exporter or frames[frame][1])
            top_malformed = any(k == "_ws.malformed" for k, _ in layers)
            if top_malformed or any(has_malformed(p) for p in pdus):
                msgs = []
                for p in pdus:
                    malformed_messages(p, msgs)
                malformed[frame] = sorted(set(msgs))[:3] or ["Malformed Packet"]
    summary["tshark_malformed_frames"] = len(malformed)
    summary["tshark_malformed"] = {str(k): v for k, v in sorted(malformed.items())[:20]}
    records = markers = 0
    for frame in sorted(results):
        for line in results[frame]:
            if "tshark" in line:
                markers += 1
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
                continue
            records += 1
            ordered = {k: line.get(k) for k in FIELD_ORDER}
            for k, v in line.items():
                if k.startswith("_"):
                    ordered[k] = v
            out.write(json.dumps(ordered, separators=(",", ":")) + "\n")
    if TRUNCATED_CAPTURES:
        summary.setdefault("notes", []).append(
            "capture file cut short in the middle of a packet: the last, partial packet is not decoded")
    summary["records"] = records
    summary["markers"] = markers
    kinds = {}
    for frame in results:
        for line in results[frame]:
            if "tshark" in line:
                kinds[line["tshark"]] = kinds.get(line["tshark"], 0) + 1
    summary["marker_kinds"] = kinds
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--raw", action="store_true", help="inputs are raw UDP payload files")
    ap.add_argument("--no-split", action="store_true", help="raw: one datagram per file")
    ap.add_argument("--exporter", default=RAW_EXPORTER, help="raw: source address")
    ap.add_argument("--summary", help="write a JSON summary here")
    ap.add_argument("-o", "--output", help="write records here instead of stdout")
    a = ap.parse_args(argv)
    summary = {"inputs": a.inputs, "raw": a.raw}
    out = open(a.output, "w") if a.output else sys.stdout
    try:
        if a.raw:
            datagrams = []
            per_file = []
            for path in a.inputs:
                data = open(path, "rb").read()
                parts = [data] if a.no_split else split_datagrams(data)
                parts = [p for p in parts if p]
                per_file.append(len(parts))
                datagrams += parts
            summary["datagrams_per_file"] = per_file
            with tempfile.TemporaryDirectory() as tmp:
                pcap = os.path.join(tmp, "raw.pcap")
                write_pcap(pcap, datagrams, a.exporter)
                decode_capture(pcap, out, summary, raw_exporter=str(ipaddress.ip_address(a.exporter)))
        else:
            if len(a.inputs) != 1:
                ap.error("give one capture file (merge captures with mergecap -a)")
            decode_capture(a.inputs[0], out, summary)
    finally:
        if a.output:
            out.close()
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(summary, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
