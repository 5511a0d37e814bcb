//! Proxy selection with the semantics of Go's `golang.org/x/net/http/httpproxy`,
//! which Ignition uses for `ignition.proxy`: `httpProxy` for `http` URLs,
//! `httpsProxy` for `https` URLs, never for `localhost` or loopback
//! addresses, and `noProxy` entries that are `*`, an IP, a CIDR block, a
//! domain (matching itself and its subdomains), `.domain` / `*.domain`
//! (subdomains only), each optionally with `:port`.

use std::net::IpAddr;

use crate::error::FetchError;

/// The parsed proxy settings of one config level.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProxyConfig {
    http: Option<String>,
    https: Option<String>,
    all: bool,
    matchers: Vec<Matcher>,
}

#[derive(Debug, Clone)]
enum Matcher {
    Cidr {
        net: IpAddr,
        prefix: u8,
    },
    Ip {
        ip: IpAddr,
        port: Option<u16>,
    },
    Domain {
        /// Always starts with `.`.
        suffix: String,
        port: Option<u16>,
        /// Whether the bare domain (without the dot) matches too.
        match_host: bool,
    },
}

impl ProxyConfig {
    pub(crate) fn new(p: &reignite_spec::Proxy) -> Result<Self, FetchError> {
        let mut cfg = ProxyConfig {
            http: normalize_proxy(p.http_proxy.as_deref())?,
            https: normalize_proxy(p.https_proxy.as_deref())?,
            ..Default::default()
        };
        for entry in p.no_proxy.iter().flat_map(|e| e.split(',')) {
            let entry = entry.trim().to_ascii_lowercase();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                cfg.all = true;
                continue;
            }
            if let Some((addr, prefix)) = entry.split_once('/') {
                if let (Ok(net), Ok(prefix)) = (addr.parse::<IpAddr>(), prefix.parse::<u8>()) {
                    let max = if net.is_ipv4() { 32 } else { 128 };
                    if prefix <= max {
                        cfg.matchers.push(Matcher::Cidr { net, prefix });
                        continue;
                    }
                }
            }
            if let Ok(ip) = entry.parse::<IpAddr>() {
                cfg.matchers.push(Matcher::Ip { ip, port: None });
                continue;
            }
            let (host, port) = split_host_port(&entry);
            if host.is_empty() {
                continue;
            }
            if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
                cfg.matchers.push(Matcher::Ip { ip, port });
                continue;
            }
            let host = host.strip_prefix('*').unwrap_or(host);
            let (suffix, match_host) = match host.strip_prefix('.') {
                Some(_) => (host.to_string(), false),
                None => (format!(".{host}"), true),
            };
            cfg.matchers.push(Matcher::Domain {
                suffix,
                port,
                match_host,
            });
        }
        Ok(cfg)
    }

    /// The proxy URL to use for `url`, or `None` for a direct connection.
    pub(crate) fn proxy_for(&self, url: &url::Url) -> Option<&str> {
        let proxy = match url.scheme() {
            "https" => self.https.as_deref(),
            "http" => self.http.as_deref(),
            _ => None,
        }?;
        let port = url.port_or_known_default();
        let host = match url.host()? {
            url::Host::Domain(d) => {
                let d = d.to_ascii_lowercase();
                if d == "localhost" {
                    return None;
                }
                HostKind::Name(d)
            }
            url::Host::Ipv4(ip) => HostKind::Ip(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => HostKind::Ip(IpAddr::V6(ip)),
        };
        if let HostKind::Ip(ip) = &host {
            if ip.is_loopback() {
                return None;
            }
        }
        if self.all {
            return None;
        }
        let bypass = self.matchers.iter().any(|m| match (m, &host) {
            (Matcher::Cidr { net, prefix }, HostKind::Ip(ip)) => in_cidr(*ip, *net, *prefix),
            (Matcher::Ip { ip: want, port: p }, HostKind::Ip(ip)) => {
                want == ip && (p.is_none() || *p == port)
            }
            (
                Matcher::Domain {
                    suffix,
                    port: p,
                    match_host,
                },
                HostKind::Name(name),
            ) => {
                let hit = name.ends_with(suffix.as_str())
                    || (*match_host && name.as_str() == &suffix[1..]);
                hit && (p.is_none() || *p == port)
            }
            _ => false,
        });
        if bypass {
            None
        } else {
            Some(proxy)
        }
    }
}

enum HostKind {
    Name(String),
    Ip(IpAddr),
}

/// Go's httpproxy prefixes a scheme-less proxy with `http://`.
fn normalize_proxy(p: Option<&str>) -> Result<Option<String>, FetchError> {
    let Some(p) = p.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let full = if p.contains("://") {
        p.to_string()
    } else {
        format!("http://{p}")
    };
    let parsed = url::Url::parse(&full).map_err(|e| FetchError::Proxy {
        proxy: p.into(),
        reason: e.to_string(),
    })?;
    match parsed.scheme() {
        "http" | "https" => Ok(Some(full)),
        other => Err(FetchError::Proxy {
            proxy: p.into(),
            reason: format!("proxy scheme {other:?} is not supported (use http or https)"),
        }),
    }
}

fn split_host_port(s: &str) -> (&str, Option<u16>) {
    // `[v6]:port`, `host:port`; a bare IPv6 was handled before.
    if let Some(i) = s.rfind(':') {
        if let Ok(port) = s[i + 1..].parse::<u16>() {
            return (&s[..i], Some(port));
        }
    }
    (s, None)
}

fn in_cidr(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(no_proxy: &[&str]) -> ProxyConfig {
        ProxyConfig::new(&reignite_spec::Proxy {
            http_proxy: Some("proxy.example:3128".into()),
            https_proxy: Some("https://sproxy.example".into()),
            no_proxy: no_proxy.iter().map(|s| s.to_string()).collect(),
        })
        .unwrap()
    }

    fn via(c: &ProxyConfig, u: &str) -> Option<String> {
        c.proxy_for(&url::Url::parse(u).unwrap())
            .map(str::to_string)
    }

    #[test]
    fn scheme_selects_proxy_and_loopback_is_direct() {
        let c = cfg(&[]);
        assert_eq!(
            via(&c, "http://a.example/x").as_deref(),
            Some("http://proxy.example:3128")
        );
        assert_eq!(
            via(&c, "https://a.example/x").as_deref(),
            Some("https://sproxy.example")
        );
        assert_eq!(via(&c, "http://localhost/x"), None);
        assert_eq!(via(&c, "http://127.0.0.1:8080/x"), None);
        assert_eq!(via(&c, "http://[::1]/x"), None);
    }

    #[test]
    fn no_proxy_forms() {
        let c = cfg(&[
            "10.0.0.0/8",
            "192.168.1.1",
            "example.com",
            ".sub.org",
            "*.star.net",
            "ported.io:8080",
        ]);
        for direct in [
            "http://10.1.2.3/",
            "http://192.168.1.1/",
            "http://example.com/",
            "http://a.example.com/",
            "http://x.sub.org/",
            "http://y.star.net/",
            "http://ported.io:8080/",
        ] {
            assert_eq!(via(&c, direct), None, "{direct}");
        }
        for proxied in [
            "http://11.1.2.3/",
            "http://192.168.1.2/",
            "http://notexample.com/",
            "http://sub.org/",
            "http://star.net/",
            "http://ported.io/",
        ] {
            assert!(via(&c, proxied).is_some(), "{proxied}");
        }
        let all = cfg(&["*"]);
        assert_eq!(via(&all, "https://anything.example/"), None);
    }

    #[test]
    fn bad_proxy_scheme() {
        let err = ProxyConfig::new(&reignite_spec::Proxy {
            http_proxy: Some("socks5://p:1080".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
    }
}
