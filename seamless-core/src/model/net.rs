//! Client addresses as limits count them.

use std::net::{IpAddr, Ipv6Addr};

/// What per-address limits count by: an IPv4 address, or an IPv6 address's /64
/// (one subscriber gets a whole /64, so counting single IPv6 addresses would
/// give an attacker 2^64 buckets).
pub fn address_bucket(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{}/64", Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ipv6_counts_per_64() {
        assert_eq!(
            address_bucket(ip("2001:db8:1:2:aaaa::1")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            address_bucket(ip("2001:db8:1:2:bbbb::9")),
            address_bucket(ip("2001:db8:1:2::1"))
        );
        assert_ne!(
            address_bucket(ip("2001:db8:1:3::1")),
            address_bucket(ip("2001:db8:1:2::1"))
        );
        assert_eq!(address_bucket(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(address_bucket(ip("::ffff:192.0.2.1")), "192.0.2.1");
    }
}
