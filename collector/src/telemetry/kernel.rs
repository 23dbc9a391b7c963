//! Datagrams the kernel dropped before we read them (socket buffer overflow), from
//! `/proc/net/udp` and `/proc/net/udp6`: the "drops" column of our sockets.

use std::collections::BTreeSet;

/// Sum of the drops column of every UDP socket bound to one of `ports`.
pub fn udp_drops(ports: &BTreeSet<u16>) -> u64 {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|text| drops_in(&text, ports))
        .sum()
}

/// Parses one /proc/net/udp* table.
pub fn drops_in(table: &str, ports: &BTreeSet<u16>) -> u64 {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let port = cols.get(1)?.rsplit(':').next()?;
            let port = u16::from_str_radix(port, 16).ok()?;
            if !ports.contains(&port) {
                return None;
            }
            cols.last()?.parse::<u64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_drops_of_our_ports() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                 1: 00000000:0807 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 17\n\
                 2: 00000000:0808 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1 2 0000000000000000 5\n";
        let ports: BTreeSet<u16> = [2055].into_iter().collect();
        assert_eq!(drops_in(t, &ports), 17);
    }
}
