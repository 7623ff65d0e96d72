//! Which IP addresses an outgoing fetch may reach: the public internet only,
//! unless an operator says otherwise. One rule for an address written in a
//! URL and for every address a name resolves to, so DNS cannot route around
//! what a literal may not name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a globally reachable unicast address. Everything else is
/// refused: loopback, private (RFC 1918), link-local, unique-local (RFC 4193),
/// unspecified, CGNAT shared space (RFC 6598), multicast, broadcast,
/// documentation, benchmarking and reserved ranges. An IPv6 address that
/// carries an IPv4 one (mapped, NAT64, 6to4) is judged by that IPv4 address,
/// since that is where a connection to it ends up.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_is_public(v4),
        IpAddr::V6(v6) => v6_is_public(v6),
    }
}

/// `(network, prefix length)`: IANA's IPv4 special-purpose registry, less
/// the few entries it marks globally reachable (which nobody serves a JWKS on).
const V4_NOT_PUBLIC: [(u32, u32); 15] = [
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8 private
    (0x6440_0000, 10), // 100.64.0.0/10 CGNAT shared space
    (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
    (0xa9fe_0000, 16), // 169.254.0.0/16 link-local (cloud metadata lives here)
    (0xac10_0000, 12), // 172.16.0.0/12 private
    (0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2.0/24 TEST-NET-1
    (0xc058_6300, 24), // 192.88.99.0/24 6to4 relay anycast (deprecated)
    (0xc0a8_0000, 16), // 192.168.0.0/16 private
    (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xc633_6400, 24), // 198.51.100.0/24 TEST-NET-2
    (0xcb00_7100, 24), // 203.0.113.0/24 TEST-NET-3
    (0xe000_0000, 4),  // 224.0.0.0/4 multicast
    (0xf000_0000, 4),  // 240.0.0.0/4 reserved, and 255.255.255.255 broadcast
];

fn v4_is_public(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    !V4_NOT_PUBLIC
        .iter()
        .any(|&(network, len)| bits >> (32 - len) == network >> (32 - len))
}

fn v6_is_public(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    let within = |network: u128, len: u32| bits >> (128 - len) == network >> (128 - len);
    let embedded_v4 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if within(0xffff_0000_0000, 96) || within(0x0064_ff9b_u128 << 96, 96) {
        // IPv4-mapped (::ffff:0:0/96) and NAT64's well-known prefix (RFC 6052).
        return v4_is_public(embedded_v4);
    }
    if within(0x2002_u128 << 112, 16) {
        // 6to4 (RFC 3056): the IPv4 address sits in bits 16..48.
        return v4_is_public(Ipv4Addr::from((bits >> 80) as u32));
    }
    // Only 2000::/3 is global unicast; inside it, these are not reachable
    // (IETF assignments with Teredo, documentation, RFC 9637 documentation).
    within(0x2000_u128 << 112, 3)
        && !within(0x2001_u128 << 112, 23)
        && !within(0x2001_0db8_u128 << 96, 32)
        && !within(0x3fff_u128 << 112, 20)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(address: &str, public: bool) {
        let ip: IpAddr = address.parse().expect("an address");
        assert_eq!(is_public(ip), public, "{address}");
    }

    #[test]
    fn named_ranges() {
        for address in [
            "127.0.0.1",
            "127.255.255.254",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "203.0.113.9",
            "192.0.0.8",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "::127.0.0.1",
            "100::1",
            "fec0::1",
        ] {
            check(address, false);
        }
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "192.169.0.1",
            "169.253.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            check(address, true);
        }
    }

    fn within_v4(network: u32, len: u32, host: u32) -> Ipv4Addr {
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        Ipv4Addr::from((network & mask) | (host & !mask))
    }

    proptest! {
        #[test]
        fn every_address_of_a_refused_ipv4_range_is_refused(range in 0..V4_NOT_PUBLIC.len(), host: u32) {
            let (network, len) = V4_NOT_PUBLIC[range];
            prop_assert!(!is_public(IpAddr::V4(within_v4(network, len, host))));
        }

        #[test]
        fn what_the_standard_library_calls_special_is_refused(bits: u32) {
            let ip = Ipv4Addr::from(bits);
            if ip.is_private() || ip.is_loopback() || ip.is_link_local() || ip.is_unspecified()
                || ip.is_multicast() || ip.is_broadcast() || ip.is_documentation() {
                prop_assert!(!is_public(IpAddr::V4(ip)));
            }
        }

        #[test]
        fn an_ipv4_mapped_or_nat64_address_is_judged_by_its_ipv4_address(bits: u32) {
            let v4 = Ipv4Addr::from(bits);
            let nat64 = Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(bits));
            prop_assert_eq!(is_public(IpAddr::V6(v4.to_ipv6_mapped())), is_public(IpAddr::V4(v4)));
            prop_assert_eq!(is_public(IpAddr::V6(nat64)), is_public(IpAddr::V4(v4)));
        }

        #[test]
        fn ipv6_outside_global_unicast_is_refused(bits: u128) {
            let ip = Ipv6Addr::from(bits);
            let carries_v4 = bits >> 32 == 0xffff || bits >> 32 == 0x0064_ff9b_u128 << 64;
            if bits >> 125 != 0b001 && !carries_v4 {
                prop_assert!(!is_public(IpAddr::V6(ip)));
            }
            if ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || ip.is_unicast_link_local()
                || ip.is_unique_local() {
                prop_assert!(!is_public(IpAddr::V6(ip)));
            }
        }

        #[test]
        fn unique_local_and_link_local_ipv6_are_refused(host: u128) {
            let ula = Ipv6Addr::from((0xfc00_u128 << 112) | (host >> 7));
            let link = Ipv6Addr::from((0xfe80_u128 << 112) | (host >> 10));
            prop_assert!(!is_public(IpAddr::V6(ula)));
            prop_assert!(!is_public(IpAddr::V6(link)));
        }
    }
}
