//! Which address a request comes from: the socket peer, or, behind a reverse
//! proxy the operator trusts, the client that proxy names in
//! `X-Forwarded-For`. Throttles and (later) allowed sources key on it, so a
//! header from anyone else must never move it.

use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// `CASEBOOK_TRUSTED_PROXIES`: the networks whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("CASEBOOK_TRUSTED_PROXIES: {0:?} is not a CIDR (like 10.0.0.0/8 or 192.0.2.7/32) nor an address")]
pub struct TrustedProxiesError(String);

impl TrustedProxies {
    /// A comma-separated list of CIDRs; a bare address stands for itself.
    pub fn parse(list: &str) -> Result<Self, TrustedProxiesError> {
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| TrustedProxiesError(item.chars().take(64).collect()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `address` is one of the trusted proxies.
    pub fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client of a request that arrived from `peer`. Walks
    /// `X-Forwarded-For` from the right, the end each trusted proxy appends
    /// to, past every trusted hop: the first address that is not a trusted
    /// proxy is the client. Whatever a client wrote further left is never
    /// reached, and an entry that is not an address stops the walk at the
    /// last hop known.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let hops = headers.get_all("x-forwarded-for").iter().rev().flat_map(|value| {
            let entries: Vec<&str> = value.to_str().unwrap_or("").split(',').collect();
            entries.into_iter().rev()
        });
        for hop in hops {
            let Ok(address) = hop.trim().parse::<IpAddr>() else {
                return client;
            };
            client = address.to_canonical();
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn check(trusted: &str, peer: &str, forwarded: &[&str], expected: &str) {
        let proxies = TrustedProxies::parse(trusted).unwrap();
        let got = proxies.client_address(peer.parse().unwrap(), &headers(forwarded));
        assert_eq!(
            got,
            expected.parse::<IpAddr>().unwrap(),
            "{trusted} {peer} {forwarded:?}"
        );
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        check("", "203.0.113.9", &["198.51.100.1"], "203.0.113.9");
        check("10.0.0.0/8", "203.0.113.9", &["198.51.100.1"], "203.0.113.9");
        check("10.0.0.0/8", "10.1.2.3", &[], "10.1.2.3");
        check("10.0.0.0/8", "10.1.2.3", &["198.51.100.1"], "198.51.100.1");
        check("10.0.0.0/8", "10.1.2.3", &["6.6.6.6, 198.51.100.1"], "198.51.100.1");
        check(
            "10.0.0.0/8",
            "10.1.2.3",
            &["6.6.6.6, 198.51.100.1, 10.9.9.9"],
            "198.51.100.1",
        );
        check("10.0.0.0/8", "10.1.2.3", &["6.6.6.6", "198.51.100.1"], "198.51.100.1");
        check("10.0.0.0/8", "10.1.2.3", &["garbage, 198.51.100.1"], "198.51.100.1");
        check("10.0.0.0/8", "10.1.2.3", &["198.51.100.1, garbage"], "10.1.2.3");
        check("127.0.0.1, ::1", "::ffff:127.0.0.1", &["2001:db8::1"], "2001:db8::1");
        check("192.0.2.7", "192.0.2.7", &["198.51.100.1"], "198.51.100.1");
        check("192.0.2.7", "192.0.2.8", &["198.51.100.1"], "192.0.2.8");
    }

    #[test]
    fn lists_parse_strictly() {
        assert_eq!(TrustedProxies::parse("").unwrap(), TrustedProxies::default());
        assert!(TrustedProxies::parse("10.0.0.0/8, fd00::/8,192.0.2.1").is_ok());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
    }
}
