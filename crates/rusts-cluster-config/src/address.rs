use std::{
    fmt,
    net::{Ipv4Addr, Ipv6Addr},
};

/// Why a node's `address` is not a usable `host:port`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddressProblem {
    /// The address is empty.
    Empty,
    /// There is no `:port` after the host.
    MissingPort,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// An IPv6 address without the brackets that separate it from the port.
    UnbracketedIpv6,
    /// The text in brackets is not an IPv6 address.
    InvalidIpv6,
    /// The host is neither an IPv4 address nor a DNS name.
    InvalidHost,
}

impl fmt::Display for AddressProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressProblem::Empty => "it is empty",
            AddressProblem::MissingPort => "it has no `:port`",
            AddressProblem::InvalidPort => "the port is not a number from 1 to 65535",
            AddressProblem::UnbracketedIpv6 => {
                "an IPv6 host must be written in brackets, e.g. [::1]:8086"
            }
            AddressProblem::InvalidIpv6 => "the text in brackets is not an IPv6 address",
            AddressProblem::InvalidHost => {
                "the host is neither an IPv4 address nor a DNS name (letters, digits and \
                 hyphens in dot-separated labels)"
            }
        })
    }
}

impl std::error::Error for AddressProblem {}

/// Checks that `address` is `host:port`, where the host is an IPv4 address,
/// an IPv6 address in brackets, or a DNS name, and the port is 1-65535.
///
/// Returns the address in a canonical form, so that two spellings of one
/// address (`DB1:8086` and `db1:08086`, `[::1]:80` and `[0::1]:80`) compare
/// equal: IP addresses as the standard library prints them, names in lower
/// case, the port as a number. Validation's duplicate-address rule and
/// [`address_handovers`](crate::address_handovers) compare addresses in
/// this form, and so should any tool that compares them.
///
/// # Errors
///
/// The [`AddressProblem`] when `address` is not a valid `host:port`.
///
/// ```
/// use rusts_cluster_config::canonical_address;
///
/// assert_eq!(canonical_address("Node-C.internal:08086")?, "node-c.internal:8086");
/// assert_eq!(canonical_address("[2001:db8:0:0:0:0:0:3]:8086")?, "[2001:db8::3]:8086");
/// assert!(canonical_address("10.0.0.3").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn canonical_address(address: &str) -> Result<String, AddressProblem> {
    if address.is_empty() {
        return Err(AddressProblem::Empty);
    }
    if let Some(rest) = address.strip_prefix('[') {
        let (inner, after) = rest.split_once(']').ok_or(AddressProblem::InvalidIpv6)?;
        let ip: Ipv6Addr = inner.parse().map_err(|_| AddressProblem::InvalidIpv6)?;
        let port = after.strip_prefix(':').ok_or(AddressProblem::MissingPort)?;
        return Ok(format!("[{ip}]:{}", parse_port(port)?));
    }
    let (host, port) = address
        .rsplit_once(':')
        .ok_or(AddressProblem::MissingPort)?;
    if host.contains(':') {
        return Err(AddressProblem::UnbracketedIpv6);
    }
    let port = parse_port(port)?;
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        Ok(format!("{ip}:{port}"))
    } else if is_dns_name(host) {
        Ok(format!("{}:{port}", host.to_ascii_lowercase()))
    } else {
        Err(AddressProblem::InvalidHost)
    }
}

/// The form in which two addresses are compared: [`check_address`]'s
/// canonical form, or the text as written when it is not a valid address
/// (validation reports those; comparing them as written keeps a check on
/// an invalid config from panicking or matching everything). The one
/// comparison of addresses, for the duplicate rule and for hand-overs
/// between generations alike.
pub(crate) fn comparable_address(address: &str) -> std::borrow::Cow<'_, str> {
    match canonical_address(address) {
        Ok(canonical) => canonical.into(),
        Err(_) => address.into(),
    }
}

fn parse_port(port: &str) -> Result<u16, AddressProblem> {
    // `u16::from_str` accepts a leading `+`; a port is digits only.
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddressProblem::InvalidPort);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(AddressProblem::InvalidPort),
    }
}

/// A DNS host name as RFC 1123 allows it: at most 253 characters of
/// dot-separated labels, each 1-63 letters, digits or hyphens, not starting
/// or ending with a hyphen; the last label is not all digits, so that a
/// malformed IPv4 address such as `999.1.1.1` is not taken for a name.
fn is_dns_name(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    let last_is_numeric = host
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    labels_ok && !last_is_numeric
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_host_forms() {
        for ok in [
            "10.0.1.1:8086",
            "[::1]:8086",
            "[2001:db8::7]:1",
            "localhost:65535",
            "db-1.us-east-1.example.com:8086",
            "node1:80",
            "0.0.0.0:9",
        ] {
            assert!(canonical_address(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn spellings_of_one_address_have_one_canonical_form() {
        let same =
            |a: &str, b: &str| assert_eq!(canonical_address(a), canonical_address(b), "{a} vs {b}");
        same("DB1.Example.com:8086", "db1.example.com:08086");
        same("[::1]:8086", "[0:0::1]:8086");
        same("[2001:DB8::7]:1", "[2001:db8:0:0:0:0:0:7]:001");
        assert_ne!(
            canonical_address("10.0.0.1:80"),
            canonical_address("10.0.0.1:81")
        );
    }

    #[test]
    fn names_what_is_wrong() {
        use AddressProblem::*;
        let cases = [
            ("", Empty),
            ("10.0.1.1", MissingPort),
            ("10.0.1.1:", InvalidPort),
            ("10.0.1.1:0", InvalidPort),
            ("10.0.1.1:65536", InvalidPort),
            ("10.0.1.1:+80", InvalidPort),
            ("10.0.1.1:http", InvalidPort),
            ("10.0.1.1:0000080", InvalidPort),
            ("::1:8086", UnbracketedIpv6),
            ("[::1]", MissingPort),
            ("[::1]8086", MissingPort),
            ("[nope]:8086", InvalidIpv6),
            ("[::1:8086", InvalidIpv6),
            ("999.1.1.1:80", InvalidHost),
            ("-bad.example:80", InvalidHost),
            ("bad-.example:80", InvalidHost),
            ("a..b:80", InvalidHost),
            ("under_score:80", InvalidHost),
            ("white space:80", InvalidHost),
            (":8086", InvalidHost),
        ];
        for (address, problem) in cases {
            assert_eq!(canonical_address(address), Err(problem), "{address:?}");
        }
        let long_label = format!("{}.example:80", "a".repeat(64));
        assert_eq!(canonical_address(&long_label), Err(InvalidHost));
        let long_name = format!("{}:80", ["abcdefghi"; 26].join("."));
        assert_eq!(canonical_address(&long_name), Err(InvalidHost));
    }
}
