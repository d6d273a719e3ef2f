//! Which address a request came from, when the server sits behind proxies.
//!
//! By default the TCP peer is the client and `X-Forwarded-For` is ignored: anyone
//! can send that header. Only when the peer is one of the operator's
//! `trusted_proxies` is the header read, from the right (the address the last
//! proxy saw) leftwards, skipping trusted proxies; the first untrusted address is
//! the client. Entries left of it are whatever the client claimed and are never
//! used. The address found is only ever pseudonymised ([`crate::pseudonym`]),
//! never stored or logged.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address range such as `10.0.0.0/8`, `2001:db8::/32`, or one address.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                masked(n.to_bits().into(), a.to_bits().into(), self.prefix, 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => masked(n.to_bits(), a.to_bits(), self.prefix, 128),
            _ => false,
        }
    }
}

/// Whether `a` and `b` agree in their first `prefix` of `width` bits.
fn masked(a: u128, b: u128, prefix: u8, width: u32) -> bool {
    let shift = width - u32::from(prefix);
    shift >= width || (a >> shift) == (b >> shift)
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("expected an IP address or a range like \"10.0.0.0/8\", got {s:?}");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net = canonical(addr.parse::<IpAddr>().map_err(|_| bad())?);
        let width = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(bad)?,
        };
        Ok(Cidr { net, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cidr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The client's address: the peer, or, if the peer is a trusted proxy, the
/// right-most untrusted address of `X-Forwarded-For` (all of its values, in order).
pub fn client_ip<'a>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'a str>,
    trusted: &[Cidr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        // A garbled entry ends the chain: nothing left of it can be trusted.
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            break;
        };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().unwrap()).collect()
    }

    #[test]
    fn ranges_contain_what_they_should() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.1.2.3")));
        assert!(c.contains(ip("::ffff:10.1.2.3")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("1.2.3.4")));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::1")) && !v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let xff = ["198.51.100.7, 203.0.113.9"];
        // Not trusted (the default): the header is ignored.
        assert_eq!(client_ip(ip("192.0.2.1"), xff, &[]), ip("192.0.2.1"));
        let trusted = cidrs(&["192.0.2.0/24", "10.0.0.0/8"]);
        // Behind a trusted proxy: the right-most untrusted hop, never a spoofed one left of it.
        assert_eq!(client_ip(ip("192.0.2.1"), xff, &trusted), ip("203.0.113.9"));
        assert_eq!(
            client_ip(
                ip("192.0.2.1"),
                ["1.1.1.1, 203.0.113.9", "10.0.0.5"],
                &trusted
            ),
            ip("203.0.113.9")
        );
        // Only trusted hops: the left-most of them.
        assert_eq!(
            client_ip(ip("192.0.2.1"), ["10.0.0.5"], &trusted),
            ip("10.0.0.5")
        );
        // No header or garbage: the peer or the last good hop.
        assert_eq!(client_ip(ip("192.0.2.1"), [], &trusted), ip("192.0.2.1"));
        assert_eq!(
            client_ip(ip("192.0.2.1"), ["evil, 10.0.0.5"], &trusted),
            ip("10.0.0.5")
        );
    }
}
