//! The client's address: the socket peer, or, when the peer is a proxy the
//! operator trusts, the address that proxy reports.
//!
//! Every adapter puts the socket peer in the request's extensions as
//! [`PeerAddr`]; nothing else is believed. `Forwarded` (RFC 7239) or, when it is
//! absent, `X-Forwarded-For` is read only when the peer is inside
//! [`WebConfig::trusted_proxies`](super::WebConfig::trusted_proxies), and then
//! from the right: each hop that is itself a trusted proxy is skipped, and the
//! first one that is not is the client. Hops to its left were written by the
//! client and are never used, so a client cannot choose its address by sending
//! the header itself.

use std::net::IpAddr;

use http::header::HeaderMap;
use ipnet::IpNet;

/// The socket peer of a request, as the adapter's server accepted it. Adapters
/// must put exactly this in the request's extensions, never an address taken
/// from a header: the core decides which headers to believe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub IpAddr);

/// The client's address the core derived (from [`PeerAddr`] and trusted proxies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientAddr(pub(crate) IpAddr);

/// The client behind `peer`: `peer` itself unless it is a trusted proxy, then the
/// rightmost forwarded hop that is not a trusted proxy. A hop that cannot be
/// parsed (`unknown`, an obfuscated name) ends the walk at the last proxy that
/// named it, which is then taken as the client: never an address the client
/// could have chosen.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let trusts = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !trusts(&peer) {
        return peer;
    }
    let walk = |hops: Vec<Option<IpAddr>>| {
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if trusts(ip) => client = *ip,
                Some(ip) => return *ip,
                None => return client,
            }
        }
        client
    };
    let forwarded = headers.contains_key(http::header::FORWARDED);
    let x_forwarded = headers.contains_key("x-forwarded-for");
    match (forwarded, x_forwarded) {
        (true, false) => walk(forwarded_hops(headers)),
        (false, true) => walk(x_forwarded_hops(headers)),
        (false, false) => peer,
        // Both: one may have come from the client, passed through by a proxy that
        // writes only the other. Believe them only when they agree; otherwise the
        // client is the proxy itself (never an address a client chose).
        (true, true) => {
            let a = walk(forwarded_hops(headers));
            let b = walk(x_forwarded_hops(headers));
            if a == b { a } else { peer }
        }
    }
}

/// Every `for=` of every `Forwarded` header, in order. `None` for an entry that
/// is not an IP address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all(http::header::FORWARDED) {
        let Ok(text) = std::str::from_utf8(value.as_bytes()) else {
            hops.push(None);
            continue;
        };
        for element in text.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim().eq_ignore_ascii_case("for").then_some(v.trim())
            });
            if let Some(node) = node {
                hops.push(parse_node(node.trim_matches('"')));
            }
        }
    }
    hops
}

/// Every entry of every `X-Forwarded-For` header, in order.
fn x_forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| match std::str::from_utf8(v.as_bytes()) {
            Ok(text) => text.split(',').map(|s| parse_node(s.trim())).collect(),
            Err(_) => vec![None],
        })
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:8080`, `[2001:db8::1]`, `[2001:db8::1]:8080`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
        assert_eq!(
            client_address(ip("192.0.2.7"), &h, &trusted),
            ip("192.0.2.7")
        );
        assert_eq!(client_address(ip("192.0.2.7"), &h, &[]), ip("192.0.2.7"));
    }

    #[test]
    fn a_trusted_proxy_is_believed_from_the_right() {
        let trusted: Vec<IpNet> = vec![
            "10.0.0.0/8".parse().expect("net"),
            "2001:db8:ffff::/48".parse().expect("net"),
        ];
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("x-forwarded-for", "192.0.2.9")], "192.0.2.9"),
            // The client wrote the left part; the proxy appended the right.
            (&[("x-forwarded-for", "6.6.6.6, 192.0.2.9")], "192.0.2.9"),
            (
                &[
                    ("x-forwarded-for", "6.6.6.6"),
                    ("x-forwarded-for", "192.0.2.9, 10.1.1.1"),
                ],
                "192.0.2.9",
            ),
            (
                &[(
                    "forwarded",
                    "for=6.6.6.6, for=\"[2001:db8::7]:443\";proto=https",
                )],
                "2001:db8::7",
            ),
            // Both headers: a client may have sent one through a proxy that
            // writes the other, so they count only when they agree.
            (
                &[
                    ("forwarded", "for=6.6.6.6"),
                    ("x-forwarded-for", "192.0.2.9"),
                ],
                "10.0.0.1",
            ),
            (
                &[
                    ("forwarded", "for=192.0.2.9:5555"),
                    ("x-forwarded-for", "192.0.2.9"),
                ],
                "192.0.2.9",
            ),
            (&[("x-forwarded-for", "6.6.6.6, unknown")], "10.0.0.1"),
            (&[("forwarded", "for=_hidden")], "10.0.0.1"),
            (&[], "10.0.0.1"),
            (&[("x-forwarded-for", "10.2.2.2, 10.3.3.3")], "10.2.2.2"),
        ];
        for (pairs, want) in cases {
            assert_eq!(
                client_address(ip("10.0.0.1"), &headers(pairs), &trusted),
                ip(want),
                "{pairs:?}"
            );
        }
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// Whatever a client writes in either header, an untrusted peer is the
        /// client, and behind a trusted proxy the hop the proxy appended wins.
        #[test]
        fn client_written_headers_never_choose_the_address(
            left in "[ -~]{0,80}",
            other in proptest::option::of(proptest::prop_oneof![
                "[ -~]{0,80}",
                proptest::prelude::any::<[u8; 4]>()
                    .prop_map(|b| format!("for={}.{}.{}.{}", b[0], b[1], b[2], b[3])),
            ]),
        ) {
            let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
            let mut h = HeaderMap::new();
            if let Ok(v) = format!("{left}, 192.0.2.9").parse() {
                h.append("x-forwarded-for", v);
            }
            if let Some(Ok(v)) = other.as_deref().map(str::parse) {
                h.append(http::header::FORWARDED, v);
            }
            proptest::prop_assert_eq!(client_address(ip("192.0.2.7"), &h, &trusted), ip("192.0.2.7"));
            let got = client_address(ip("10.0.0.1"), &h, &trusted);
            let appended = !h.contains_key(http::header::FORWARDED) && h.contains_key("x-forwarded-for");
            if appended {
                proptest::prop_assert_eq!(got, ip("192.0.2.9"));
            } else {
                proptest::prop_assert!(got == ip("192.0.2.9") || got == ip("10.0.0.1"), "{got}");
            }
        }
    }
}
