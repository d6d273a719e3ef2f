//! Keyed hashes that stand in for IP addresses, user agents and site user ids.
//!
//! Nothing here keeps or logs the raw value: it is truncated (IPs to /24 or /48),
//! then HMAC-SHA-256'd with the site's own secret, so the same visitor maps to
//! the same pseudonym within one site and to unrelated ones across sites.

use std::net::IpAddr;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// A site's pseudonymisation key.
pub struct Pseudonymiser {
    key: Vec<u8>,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymiser(<redacted>)")
    }
}

impl Pseudonymiser {
    /// From the site's secret (base64url, as the store keeps it).
    pub fn new(secret: &str) -> Pseudonymiser {
        let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(secret)
            .unwrap_or_else(|_| secret.as_bytes().to_vec());
        Pseudonymiser { key }
    }

    fn hash(&self, domain: &str, value: &[u8]) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value);
        keksdose_shared::canonical::hex(&mac.finalize().into_bytes())
    }

    /// The IP address truncated to its /24 (IPv4) or /48 (IPv6) network, hashed.
    pub fn ip(&self, ip: IpAddr) -> String {
        let truncated = match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                format!("{a}.{b}.{c}.0/24")
            }
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => return self.ip(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
                }
            },
        };
        self.hash("ip", truncated.as_bytes())
    }

    /// The whole IP address, hashed: what a site's backend saw at a step of a
    /// double opt-in, kept so that a given address can be shown to match. IPv4
    /// mapped into IPv6 counts as the IPv4 address.
    pub fn address(&self, ip: IpAddr) -> String {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.hash("address", ip.to_string().as_bytes())
    }

    pub fn user_agent(&self, ua: &str) -> String {
        self.hash("ua", ua.as_bytes())
    }

    /// A site's own user id (for access and erasure by subject).
    pub fn subject(&self, subject: &str) -> String {
        self.hash("subject", subject.as_bytes())
    }
}

/// `n` random bytes, base64url: consent ids, salts, keys and secrets.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // The OS RNG failing is unrecoverable; there is no safe fallback for keys.
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("the operating system's random number generator failed: {e}");
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_in_one_network_share_a_pseudonym_and_sites_do_not() {
        let a = Pseudonymiser::new(&random_token(32));
        let b = Pseudonymiser::new(&random_token(32));
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(a.ip(ip("203.0.113.7")), a.ip(ip("203.0.113.250")));
        assert_ne!(a.ip(ip("203.0.113.7")), a.ip(ip("203.0.114.7")));
        assert_eq!(a.ip(ip("2001:db8:1:2::1")), a.ip(ip("2001:db8:1:ffff::9")));
        assert_eq!(a.ip(ip("::ffff:203.0.113.7")), a.ip(ip("203.0.113.9")));
        assert_ne!(a.ip(ip("203.0.113.7")), b.ip(ip("203.0.113.7")));
        let h = a.user_agent("Mozilla/5.0");
        assert_eq!(h.len(), 64);
        assert!(!h.contains("Mozilla"));
    }
}
