// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// FlowVision XDP program: steers flow-export datagrams (UDP to one of the collector's
// ports) into the AF_XDP socket of their RX queue; everything else goes to the kernel.
//
// Built by collector/build.rs with `clang -O2 -g -target bpf`; the object is never
// committed. Parsing stops early (XDP_PASS) on anything unusual, so the kernel stack
// stays the authority for all traffic the collector does not claim: IP fragments,
// IPv6 extension headers, non-UDP, other ports.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Counter slots; the collector names them in ingest/xdp/mod.rs (COUNTER_NAMES).
enum {
    C_SEEN = 0,
    C_REDIRECTED,
    C_PASS_NOT_IP,
    C_PASS_NOT_UDP,
    C_PASS_FRAGMENT,
    C_PASS_IPV6_EXT,
    C_PASS_PORT,
    C_PASS_NO_SOCKET,
    C_PASS_TRUNCATED,
    C_REDIRECT_FAILED,
    C_COUNT
};

// Destination ports (network byte order) -> 1. Filled by the collector.
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, __u16);
    __type(value, __u8);
} ports SEC(".maps");

// RX queue index -> AF_XDP socket. Filled by the collector.
struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u32);
} xsks_map SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, C_COUNT);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 slot)
{
    __u64 *v = bpf_map_lookup_elem(&counters, &slot);
    if (v)
        *v += 1;
}

static __always_inline int pass(__u32 slot)
{
    count(slot);
    return XDP_PASS;
}

#define VLAN_HLEN 4
#define MAX_VLAN 2

SEC("xdp")
int flowvision_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    count(C_SEEN);

    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return pass(C_PASS_TRUNCATED);
    __u16 proto = eth->h_proto;
    void *cur = eth + 1;

    // 802.1Q, 802.1ad (QinQ) and the pre-standard QinQ tag: at most two, unrolled.
#pragma unroll
    for (int i = 0; i < MAX_VLAN; i++) {
        if (proto != bpf_htons(0x8100) && proto != bpf_htons(0x88a8) && proto != bpf_htons(0x9100))
            break;
        if (cur + VLAN_HLEN > end)
            return pass(C_PASS_TRUNCATED);
        proto = *(__u16 *)(cur + 2);
        cur += VLAN_HLEN;
    }

    struct udphdr *udp;
    if (proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = cur;
        if ((void *)(ip + 1) > end)
            return pass(C_PASS_TRUNCATED);
        if (ip->version != 4 || ip->ihl < 5)
            return pass(C_PASS_NOT_IP);
        if (ip->protocol != IPPROTO_UDP)
            return pass(C_PASS_NOT_UDP);
        // More-fragments flag or a non-zero offset: the kernel reassembles.
        if (ip->frag_off & bpf_htons(0x3fff))
            return pass(C_PASS_FRAGMENT);
        udp = cur + ip->ihl * 4;
    } else if (proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = cur;
        if ((void *)(ip6 + 1) > end)
            return pass(C_PASS_TRUNCATED);
        if (ip6->nexthdr == 44)
            return pass(C_PASS_FRAGMENT);
        // Extension headers are legal but rare on flow export; the kernel handles them
        // rather than a verifier-bounded header walk here.
        if (ip6->nexthdr != IPPROTO_UDP) {
            if (ip6->nexthdr == 0 || ip6->nexthdr == 43 || ip6->nexthdr == 60 || ip6->nexthdr == 51)
                return pass(C_PASS_IPV6_EXT);
            return pass(C_PASS_NOT_UDP);
        }
        udp = (void *)(ip6 + 1);
    } else {
        return pass(C_PASS_NOT_IP);
    }

    if ((void *)(udp + 1) > end)
        return pass(C_PASS_TRUNCATED);
    __u16 dport = udp->dest;
    if (!bpf_map_lookup_elem(&ports, &dport))
        return pass(C_PASS_PORT);

    __u32 queue = ctx->rx_queue_index;
    if (!bpf_map_lookup_elem(&xsks_map, &queue))
        return pass(C_PASS_NO_SOCKET);
    // XDP_PASS in the flags is the action if the socket went away since the lookup.
    int action = bpf_redirect_map(&xsks_map, queue, XDP_PASS);
    if (action == XDP_REDIRECT)
        count(C_REDIRECTED);
    else
        count(C_REDIRECT_FAILED);
    return action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
