//! UDP services that answer a small spoofed request with a large reply, and so are
//! abused as reflectors: traffic *from* these source ports to one host, from many
//! sources, is the signature of a reflection (amplification) attack.
//!
//! The list follows the US-CERT TA14-017A advisory and later reflection vectors seen
//! in the wild (CLDAP, memcached, WS-Discovery, ARD, CoAP, DVRIP).

/// (UDP source port, service) of each known reflector, sorted by port.
pub const SERVICES: [(u16, &str); 21] = [
    (17, "QOTD"),
    (19, "CharGen"),
    (53, "DNS"),
    (69, "TFTP"),
    (111, "Portmap"),
    (123, "NTP"),
    (137, "NetBIOS"),
    (161, "SNMP"),
    (389, "CLDAP"),
    (500, "IKE"),
    (520, "RIP"),
    (1434, "MS-SQL browser"),
    (1900, "SSDP"),
    (3283, "Apple Remote Desktop"),
    (3389, "RDP (UDP)"),
    (3702, "WS-Discovery"),
    (5353, "mDNS"),
    (5683, "CoAP"),
    (11211, "memcached"),
    (37810, "DVRIP"),
    (47808, "BACnet"),
];

/// The reflector service of a UDP source port, if it is one.
#[inline]
pub fn service(src_port: u16) -> Option<&'static str> {
    SERVICES.binary_search_by_key(&src_port, |&(p, _)| p).ok().and_then(|i| SERVICES.get(i)).map(|&(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_and_looked_up() {
        assert!(SERVICES.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)));
        assert_eq!(service(123), Some("NTP"));
        assert_eq!(service(11211), Some("memcached"));
        assert_eq!(service(443), None);
    }
}
