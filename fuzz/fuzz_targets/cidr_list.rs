//! `allowed_sources`: a list of CIDRs as an admin sends it
//! (`AllowedSources::parse`), and `contains`.
//!
//! Properties: an accepted list's canonical text (`to_strings`) parses again
//! to an equal list, and is its own canonical text; every network is
//! canonical (no host bits, no IPv4-mapped IPv6 network) and listed once;
//! `contains` answers the same before and after, and agrees with a
//! bit-by-bit reference, for probe addresses around every network.

#![no_main]

use arbitrary::Arbitrary;
use casebook_domain::sources::{AllowedSources, MAX_SOURCES};
use casebook_fuzz::{Input, input};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Arbitrary, Debug)]
enum Entry {
    V4([u8; 4], Option<u8>),
    V6([u8; 16], Option<u8>),
    /// `::ffff:a.b.c.d`, with a prefix counted over all 128 bits.
    Mapped([u8; 4], Option<u8>),
    Padded(Box<Entry>),
    Raw(String),
}

impl Entry {
    fn text(&self) -> String {
        let prefix = |p: &Option<u8>| p.map(|p| format!("/{p}")).unwrap_or_default();
        match self {
            Self::V4(a, p) => format!("{}{}", Ipv4Addr::from(*a), prefix(p)),
            Self::V6(a, p) => format!("{}{}", Ipv6Addr::from(*a), prefix(p)),
            Self::Mapped(a, p) => format!("::ffff:{}{}", Ipv4Addr::from(*a), prefix(p)),
            Self::Padded(inner) => format!(" {}\t", inner.text()),
            Self::Raw(raw) => raw.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Built {
    entries: Vec<Entry>,
    probes: Vec<IpAddr>,
}

fuzz_target!(|data: &[u8]| {
    let (raw, probes): (Vec<String>, Vec<IpAddr>) = match input::<Built>(data) {
        None => return,
        // One entry a line, as an admin pastes them.
        Some(Input::Raw(text)) => (
            String::from_utf8_lossy(text).split('\n').map(str::to_owned).collect(),
            [
                "0.0.0.0",
                "10.0.0.1",
                "127.0.0.1",
                "203.0.113.7",
                "::",
                "::1",
                "::ffff:10.0.0.1",
                "2001:db8::1",
            ]
            .iter()
            .map(|a| a.parse().expect("a probe is an address"))
            .collect(),
        ),
        Some(Input::Built(built)) => (built.entries.iter().map(Entry::text).collect(), built.probes),
    };
    check(&raw, probes);
});

fn check(raw: &[String], mut probes: Vec<IpAddr>) {
    let Ok(list) = AllowedSources::parse(raw) else { return };
    assert!((1..=MAX_SOURCES).contains(&list.networks().len()));
    assert_eq!(list.networks().len(), raw.len(), "an accepted entry went missing");

    let canonical = list.to_strings();
    let again = AllowedSources::parse(&canonical)
        .unwrap_or_else(|e| panic!("the canonical form {canonical:?} is refused: {e}"));
    assert_eq!(again, list, "{raw:?} -> {canonical:?}");
    assert_eq!(again.to_strings(), canonical);

    for (i, net) in list.networks().iter().enumerate() {
        assert_eq!(net.trunc(), *net, "{net} keeps host bits");
        if let IpAddr::V6(v6) = net.addr() {
            assert!(
                !(net.prefix_len() >= 96 && v6.to_ipv4_mapped().is_some()),
                "{net} is an IPv4 network written as IPv6"
            );
        }
        assert!(!list.networks()[..i].contains(net), "{net} listed twice");
        probes.extend(around(net.addr(), net.broadcast()));
    }
    for probe in probes {
        let verdict = list.contains(probe);
        assert_eq!(again.contains(probe), verdict, "{probe} in {canonical:?}");
        assert_eq!(
            verdict,
            list.networks()
                .iter()
                .any(|n| reference_contains(n.addr(), n.prefix_len(), probe)),
            "{probe} in {canonical:?}"
        );
    }
}

/// The first and last address of a network, their neighbours, and each
/// one's other spelling (IPv4 and IPv4-mapped IPv6).
fn around(first: IpAddr, last: IpAddr) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for addr in [first, last] {
        let bits = bits(addr);
        for b in [bits.wrapping_sub(1), bits, bits.wrapping_add(1)] {
            let addr = match addr {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(b as u32)),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(b)),
            };
            out.push(addr);
            match addr {
                IpAddr::V4(v4) => out.push(IpAddr::V6(v4.to_ipv6_mapped())),
                IpAddr::V6(v6) => out.extend(v6.to_ipv4_mapped().map(IpAddr::V4)),
            }
        }
    }
    out
}

fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Membership by masks: an address is judged as the IPv4 address it is
/// when it is one (mapped or not), and an IPv6 network holds an IPv4
/// address when it holds its mapped form.
fn reference_contains(net: IpAddr, prefix: u8, probe: IpAddr) -> bool {
    let probe = probe.to_canonical();
    let (net_bits, width, probe_bits) = match (net, probe) {
        (IpAddr::V4(n), IpAddr::V4(p)) => (u128::from(u32::from(n)), 32, u128::from(u32::from(p))),
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
        (IpAddr::V6(n), IpAddr::V6(p)) => (u128::from(n), 128, u128::from(p)),
        (IpAddr::V6(n), IpAddr::V4(p)) => (u128::from(n), 128, u128::from(p.to_ipv6_mapped())),
    };
    let host_bits = width - u32::from(prefix);
    host_bits >= 128 || (net_bits ^ probe_bits) >> host_bits == 0
}
