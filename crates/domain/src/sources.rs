//! `allowed_sources`: the networks an application's credentials and tokens
//! may be used from (the contract's "Allowed sources").
//!
//! A list of 1 to [`MAX_SOURCES`] CIDRs; a bare address stands for itself
//! (`/32`, `/128`). A CIDR with bits set past its prefix (`10.0.0.5/8`) is
//! refused rather than truncated: it is as likely a mistyped single address
//! as a network, and widening it silently would let in what the admin did
//! not mean to. The same network listed twice is refused too, as a role is.
//! IPv4-mapped IPv6 networks (`::ffff:10.0.0.0/104`) are stored as the IPv4
//! network they are, and an address is judged in its canonical form, so a
//! client reaching a dual-stack socket over IPv4 matches its IPv4 entry.

use crate::validation::{ErrorCode, FieldError, ValidationErrors};
use ipnet::{IpNet, Ipv4Net};
use std::net::IpAddr;

pub const FIELD: &str = "allowed_sources";

/// The contract ("Allowed sources"): up to 50.
pub const MAX_SOURCES: usize = 50;

/// The longest stretch of a refused entry quoted back: no CIDR is longer,
/// and an absurd one must not make the answer absurd too.
const MAX_QUOTED_CHARS: usize = 64;

/// The networks an application may be reached from: never empty once
/// parsed, at most [`MAX_SOURCES`], each in canonical form, none twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedSources(Vec<IpNet>);

impl AllowedSources {
    /// The rule of the form field; every refused entry is reported, each
    /// naming its index. Past [`MAX_SOURCES`] only the count is reported,
    /// so a huge list costs one error, not one per entry.
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if raw.is_empty() {
            errors.push(FieldError::new(
                FIELD,
                ErrorCode::Required,
                "allowed_sources must list at least one CIDR; send null (or leave it out) to accept every address",
            ));
            return Err(errors);
        }
        if raw.len() > MAX_SOURCES {
            errors.push(FieldError::new(
                FIELD,
                ErrorCode::TooLong,
                format!(
                    "allowed_sources holds {} entries; at most {MAX_SOURCES} are allowed",
                    raw.len()
                ),
            ));
            return Err(errors);
        }
        // Each network with the index it was first listed at.
        let mut networks: Vec<(IpNet, usize)> = Vec::with_capacity(raw.len());
        for (at, entry) in raw.iter().enumerate() {
            let entry = entry.as_ref();
            match network(entry) {
                Err(why) => errors.push(why.error(at, entry)),
                Ok(net) => match networks.iter().find(|(seen, _)| *seen == net) {
                    Some((_, first)) => errors.push(FieldError::new(
                        FIELD,
                        ErrorCode::InvalidValue,
                        format!(
                            "allowed_sources[{at}] ({net}) repeats allowed_sources[{first}]; list each network once"
                        ),
                    )),
                    None => networks.push((net, at)),
                },
            }
        }
        errors.finish(|| Self(networks.into_iter().map(|(net, _)| net).collect()))
    }

    /// Whether `address` is inside one of the networks. An IPv4-mapped
    /// IPv6 address is the IPv4 address it carries; an IPv4 address is also
    /// inside an IPv6 network that holds its mapped form (`::/0` holds every
    /// address).
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        let mapped = match address {
            IpAddr::V4(v4) => Some(IpAddr::V6(v4.to_ipv6_mapped())),
            IpAddr::V6(_) => None,
        };
        self.0
            .iter()
            .any(|net| net.contains(&address) || mapped.is_some_and(|m| net.contains(&m)))
    }

    pub fn networks(&self) -> &[IpNet] {
        &self.0
    }

    /// Each network in canonical CIDR form (`127.0.0.1/32`): what is stored
    /// and shown.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(IpNet::to_string).collect()
    }
}

/// Why one entry is not a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    NotACidr,
    HostBits(IpNet),
}

impl Why {
    fn error(self, at: usize, entry: &str) -> FieldError {
        let message = match self {
            Self::NotACidr => {
                let quoted: String = entry.chars().take(MAX_QUOTED_CHARS).collect();
                format!(
                    "allowed_sources[{at}] is {quoted:?}, which is neither a CIDR (like 203.0.113.0/24 or 2001:db8::/48) nor an address"
                )
            }
            Self::HostBits(net) => {
                let single = IpNet::new(net.addr(), net.max_prefix_len()).unwrap_or(net);
                format!(
                    "allowed_sources[{at}] is {net}, which has bits set past its /{} prefix: write {} for the network, or {single} for the one address",
                    net.prefix_len(),
                    net.trunc()
                )
            }
        };
        FieldError::new(FIELD, ErrorCode::InvalidValue, message)
    }
}

fn network(entry: &str) -> Result<IpNet, Why> {
    let text = entry.trim();
    let net = if text.contains('/') {
        text.parse::<IpNet>().map_err(|_| Why::NotACidr)?
    } else {
        IpNet::from(text.parse::<IpAddr>().map_err(|_| Why::NotACidr)?)
    };
    if net.trunc() != net {
        return Err(Why::HostBits(net));
    }
    Ok(canonical(net))
}

/// An IPv6 network that lies wholly in `::ffff:0:0/96` as the IPv4 network it is.
fn canonical(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests;
