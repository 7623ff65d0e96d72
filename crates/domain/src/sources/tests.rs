use super::*;
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn parsed(raw: &[&str]) -> Result<Vec<String>, Vec<(ErrorCode, String)>> {
    AllowedSources::parse(raw)
        .map(|s| s.to_strings())
        .map_err(|e| e.into_errors().into_iter().map(|e| (e.code, e.message)).collect())
}

fn check(raw: &[&str], expected: &[&str]) {
    assert_eq!(
        parsed(raw),
        Ok(expected.iter().map(|s| s.to_string()).collect()),
        "{raw:?}"
    );
}

fn refused(raw: &[&str], code: ErrorCode, message_has: &str) {
    let errors = parsed(raw).unwrap_err();
    assert!(
        errors.iter().any(|(c, m)| *c == code && m.contains(message_has)),
        "{raw:?}: {errors:?}"
    );
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn cidrs_and_bare_addresses_read_canonically() {
    check(&["10.0.0.0/8"], &["10.0.0.0/8"]);
    check(&["127.0.0.1"], &["127.0.0.1/32"]);
    check(&[" 192.0.2.0/24 "], &["192.0.2.0/24"]);
    check(&["2001:db8::1"], &["2001:db8::1/128"]);
    check(&["2001:DB8:0::/32"], &["2001:db8::/32"]);
    check(&["0.0.0.0/0", "::/0"], &["0.0.0.0/0", "::/0"]);
    // IPv4-mapped IPv6 is the IPv4 network it is.
    check(&["::ffff:10.0.0.0/104"], &["10.0.0.0/8"]);
    check(&["::ffff:127.0.0.1"], &["127.0.0.1/32"]);
}

#[test]
fn host_bits_are_refused_with_both_readings_offered() {
    refused(&["10.0.0.5/8"], ErrorCode::InvalidValue, "write 10.0.0.0/8");
    refused(&["10.0.0.5/8"], ErrorCode::InvalidValue, "or 10.0.0.5/32");
    refused(&["2001:db8::1/32"], ErrorCode::InvalidValue, "2001:db8::/32");
}

#[test]
fn what_is_not_a_network_is_refused_naming_its_index() {
    for bad in [
        "",
        "localhost",
        "10.0.0.0/33",
        "10.0.0.0/",
        "10.0.0/8",
        "010.0.0.1",
        "fe80::1%eth0",
        "10.0.0.0/8/8",
        "1.2.3.4 /32",
    ] {
        refused(&["192.0.2.0/24", bad], ErrorCode::InvalidValue, "allowed_sources[1]");
    }
    let long = "9".repeat(10_000);
    let errors = parsed(&[long.as_str()]).unwrap_err();
    assert!(
        errors[0].1.len() < 300,
        "a refused entry is quoted short: {}",
        errors[0].1
    );
}

#[test]
fn every_bad_entry_is_reported_at_once() {
    let errors = parsed(&["nope", "10.0.0.1/8", "10.0.0.0/8", "10.0.0.0/8"]).unwrap_err();
    let messages: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(errors.len(), 3, "{messages:?}");
    assert!(messages[0].contains("allowed_sources[0]"));
    assert!(messages[1].contains("allowed_sources[1]"));
    assert!(messages[2].contains("allowed_sources[3]") && messages[2].contains("allowed_sources[2]"));
}

#[test]
fn the_same_network_twice_is_refused_however_written() {
    refused(&["127.0.0.1", "127.0.0.1/32"], ErrorCode::InvalidValue, "repeats");
    refused(
        &["10.0.0.0/8", "::ffff:10.0.0.0/104"],
        ErrorCode::InvalidValue,
        "repeats",
    );
    // Overlapping but different networks are fine.
    check(&["10.0.0.0/8", "10.1.0.0/16"], &["10.0.0.0/8", "10.1.0.0/16"]);
}

#[test]
fn one_to_fifty_entries() {
    refused(&[], ErrorCode::Required, "at least one");
    let fifty: Vec<String> = (0..50).map(|i| format!("10.0.{i}.0/24")).collect();
    assert!(AllowedSources::parse(&fifty).is_ok());
    let many: Vec<String> = (0..10_000).map(|i| format!("bad {i}")).collect();
    let errors = AllowedSources::parse(&many).unwrap_err();
    assert_eq!(errors.errors().len(), 1, "past the limit, only the count");
    assert!(errors.has(FIELD, ErrorCode::TooLong));
}

#[test]
fn contains_judges_the_canonical_address() {
    let s = AllowedSources::parse(&["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"]).unwrap();
    for (address, inside) in [
        ("127.0.0.1", true),
        ("127.0.0.2", false),
        ("::ffff:127.0.0.1", true),
        ("::ffff:127.0.0.2", false),
        ("10.255.255.255", true),
        ("11.0.0.0", false),
        ("2001:db8:ffff::1", true),
        ("2001:db9::1", false),
        ("::1", false),
        ("::127.0.0.1", false),
    ] {
        assert_eq!(s.contains(ip(address)), inside, "{address}");
    }
    let everything_v6 = AllowedSources::parse(&["::/0"]).unwrap();
    assert!(
        everything_v6.contains(ip("192.0.2.1")),
        "::/0 holds every mapped address"
    );
    assert!(
        !AllowedSources::default().contains(ip("127.0.0.1")),
        "an empty list holds nothing"
    );
}

fn any_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 0u8..=32)
            .prop_map(|(bits, len)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(bits), len).unwrap().trunc())),
        (any::<u128>(), 0u8..=128)
            .prop_map(|(bits, len)| IpNet::V6(ipnet::Ipv6Net::new(Ipv6Addr::from(bits), len).unwrap().trunc())),
    ]
}

fn any_address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
        any::<u128>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        any::<u32>().prop_map(|b| IpAddr::V6(Ipv4Addr::from(b).to_ipv6_mapped())),
    ]
}

/// The rule `contains` must agree with, written out bit by bit.
fn inside(net: &IpNet, address: IpAddr) -> bool {
    let bits = |a: IpAddr| match a.to_canonical() {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    };
    let (network, len) = match net {
        IpNet::V4(v4) => (
            u128::from(v4.network().to_ipv6_mapped()),
            u32::from(v4.prefix_len()) + 96,
        ),
        IpNet::V6(v6) => (u128::from(v6.network()), u32::from(v6.prefix_len())),
    };
    len == 0 || bits(address) >> (128 - len) == network >> (128 - len)
}

proptest! {
    #[test]
    fn no_input_panics_the_rule(raw in proptest::collection::vec(".{0,60}", 0..60)) {
        let _ = AllowedSources::parse(&raw);
    }

    #[test]
    fn what_is_shown_reads_back_the_same(nets in proptest::collection::btree_set(any_net(), 1..20)) {
        let raw: Vec<String> = nets.iter().map(IpNet::to_string).collect();
        // Mapped IPv6 networks and their IPv4 forms may collide: skip those lists.
        if let Ok(once) = AllowedSources::parse(&raw) {
            let again = AllowedSources::parse(&once.to_strings()).unwrap();
            prop_assert_eq!(once, again);
        }
    }

    #[test]
    fn contains_is_prefix_matching_on_the_canonical_address(net in any_net(), address in any_address()) {
        let sources = AllowedSources::parse(&[net.to_string()]).unwrap();
        prop_assert_eq!(sources.contains(address), inside(&net, address), "{} {}", net, address);
    }

    #[test]
    fn an_address_and_its_mapped_form_are_judged_alike(
        nets in proptest::collection::vec(any_net(), 1..5),
        bits in any::<u32>(),
    ) {
        let raw: Vec<String> = nets.iter().map(IpNet::to_string).collect();
        if let Ok(sources) = AllowedSources::parse(&raw) {
            let v4 = Ipv4Addr::from(bits);
            prop_assert_eq!(sources.contains(IpAddr::V4(v4)), sources.contains(IpAddr::V6(v4.to_ipv6_mapped())));
        }
    }

    #[test]
    fn a_bare_address_holds_itself_and_no_neighbour(bits in any::<u32>()) {
        let address = Ipv4Addr::from(bits);
        let sources = AllowedSources::parse(&[address.to_string()]).unwrap();
        prop_assert!(sources.contains(IpAddr::V4(address)));
        prop_assert!(!sources.contains(IpAddr::V4(Ipv4Addr::from(bits.wrapping_add(1)))));
        prop_assert!(!sources.contains(IpAddr::V4(Ipv4Addr::from(bits.wrapping_sub(1)))));
    }

    #[test]
    fn host_bits_are_always_refused(bits in any::<u32>(), len in 0u8..32) {
        let net = Ipv4Net::new(Ipv4Addr::from(bits), len).unwrap();
        let result = AllowedSources::parse(&[net.to_string()]);
        prop_assert_eq!(result.is_ok(), net.trunc() == net);
    }
}
