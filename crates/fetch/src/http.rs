//! `http`/`https` fetching the way Ignition's `HttpClient` does it: default
//! headers overridden by the resource's `httpHeaders`, redirects followed
//! with *all* headers dropped, 200/204 success, 404 "resource not found",
//! other codes below 500 fail at once, 5xx and transport errors retried with
//! a doubling backoff until the total timeout (if any) runs out.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use ureq::config::AutoHeaderValue;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{display_url, FetchError, LastAttempt};
use crate::proxy::ProxyConfig;
use crate::FetchOptions;

/// A configured HTTP client: one agent (pool + TLS roots) plus the policy.
/// The agent, and with it the system trust store (~150 files read and
/// parsed), is built on the first request: most configs fetch only `data:`
/// URLs and should not pay for it. CA bundles are parsed up front so a bad
/// one is still reported when the fetcher is created.
#[derive(Debug)]
pub(crate) struct HttpClient {
    agent: std::sync::OnceLock<ureq::Agent>,
    /// The CAs of `FetchOptions::ca_bundles` and of the config, parsed.
    extra_cas: Vec<Certificate<'static>>,
    connect_timeout: Option<std::time::Duration>,
    response_header_timeout: Option<std::time::Duration>,
    proxy: ProxyConfig,
}

/// Statuses that mean "retry" besides 5xx (none for generic HTTP; Azure's
/// platform code in Ignition adds some, reignite has no platform code yet).
fn is_retryable(status: u16) -> bool {
    status >= 500
}

impl HttpClient {
    /// `config_cas` are the PEM bundles of the config in force, trusted in
    /// addition to the system roots and `opts.ca_bundles`.
    pub(crate) fn new(opts: &FetchOptions, config_cas: &[Vec<u8>]) -> Result<Self, FetchError> {
        let mut extra_cas = Vec::new();
        for (i, pem) in opts.ca_bundles.iter().enumerate() {
            extra_cas.extend(parse_ca_bundle(pem, &format!("CA bundle #{i}"))?);
        }
        for (i, pem) in config_cas.iter().enumerate() {
            extra_cas.extend(parse_ca_bundle(pem, &format!("config CA #{i}"))?);
        }
        Ok(HttpClient {
            agent: std::sync::OnceLock::new(),
            extra_cas,
            connect_timeout: opts.connect_timeout,
            response_header_timeout: opts.response_header_timeout,
            proxy: ProxyConfig::new(&opts.proxy)?,
        })
    }

    /// The agent, built on first use: system roots plus the extra CAs.
    fn agent(&self) -> &ureq::Agent {
        self.agent.get_or_init(|| {
            let mut certs: Vec<Certificate<'static>> = native_roots().to_vec();
            certs.extend(self.extra_cas.iter().cloned());
            let tls = TlsConfig::builder()
                .root_certs(RootCerts::new_with_certs(&certs))
                .build();
            let config = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .user_agent(AutoHeaderValue::None)
                .accept(AutoHeaderValue::None)
                .accept_encoding(AutoHeaderValue::None)
                .tls_config(tls)
                .timeout_connect(self.connect_timeout)
                .timeout_recv_response(self.response_header_timeout)
                .build();
            ureq::Agent::new_with_config(config)
        })
    }

    /// GETs `url` with retries. On success returns the body reader (status
    /// 200 or 204). `headers` are the resource's `httpHeaders` (a `None`
    /// value removes a default header).
    pub(crate) fn get(
        &self,
        opts: &FetchOptions,
        url: &str,
        headers: &[(String, Option<String>)],
        deadline: Option<Instant>,
    ) -> Result<Box<dyn Read + Send>, HttpFailure> {
        let shown = display_url(url);
        let mut backoff = opts.initial_backoff;
        let mut attempts = 0u32;
        let mut last = LastAttempt::None;
        loop {
            if let Some(d) = deadline {
                if Instant::now() >= d {
                    return Err(HttpFailure::Fetch(FetchError::Timeout {
                        url: shown,
                        attempts,
                        last,
                    }));
                }
            }
            attempts += 1;
            match self.attempt(opts, url, headers, deadline) {
                Ok(resp) => {
                    let status = resp.status;
                    if !is_retryable(status) {
                        return match status {
                            200 | 204 => Ok(resp.body),
                            _ => Err(HttpFailure::Status(status)),
                        };
                    }
                    last = LastAttempt::Status(status);
                }
                Err(AttemptError::Fatal(reason)) => {
                    return Err(HttpFailure::Fetch(FetchError::Request {
                        url: shown,
                        reason,
                    }))
                }
                Err(AttemptError::Retry(e)) => last = LastAttempt::Transport(e),
            }
            // Ignition doubles before the first wait: 200 ms, 400 ms, ... 5 s.
            backoff = (backoff * 2).min(opts.max_backoff);
            if let Some(d) = deadline {
                if Instant::now() + backoff >= d {
                    // Waiting would outlive the deadline; Ignition gives up
                    // with the same error when the wait is interrupted.
                    return Err(HttpFailure::Fetch(FetchError::Timeout {
                        url: shown,
                        attempts,
                        last,
                    }));
                }
            }
            std::thread::sleep(backoff);
        }
    }

    /// One attempt including redirects (which drop every header, as
    /// Ignition's `CheckRedirect` does).
    fn attempt(
        &self,
        opts: &FetchOptions,
        url: &str,
        headers: &[(String, Option<String>)],
        deadline: Option<Instant>,
    ) -> Result<Resp, AttemptError> {
        let mut current =
            url::Url::parse(url).map_err(|e| AttemptError::Fatal(format!("invalid URL: {e}")))?;
        let mut redirects = 0u32;
        loop {
            let sent: Vec<(String, String)> = if redirects == 0 {
                merged_headers(opts, headers)
            } else {
                Vec::new()
            };
            let resp = self.send(opts, &current, &sent, deadline)?;
            match (resp.status, resp.location.clone()) {
                (301 | 302 | 303 | 307 | 308, Some(loc)) => {
                    redirects += 1;
                    if redirects > opts.max_redirects {
                        return Err(AttemptError::Fatal(format!(
                            "stopped after {} redirects",
                            opts.max_redirects
                        )));
                    }
                    current = current.join(&loc).map_err(|e| {
                        AttemptError::Fatal(format!("invalid redirect location {loc:?}: {e}"))
                    })?;
                    if !matches!(current.scheme(), "http" | "https") {
                        return Err(AttemptError::Fatal(format!(
                            "redirect to unsupported scheme {:?}",
                            current.scheme()
                        )));
                    }
                }
                _ => return Ok(resp),
            }
        }
    }

    /// One request, through the proxy that applies to `url` if any.
    fn send(
        &self,
        opts: &FetchOptions,
        url: &url::Url,
        headers: &[(String, String)],
        deadline: Option<Instant>,
    ) -> Result<Resp, AttemptError> {
        let proxy = match self.proxy.proxy_for(url) {
            Some(p) => Some(
                url::Url::parse(p)
                    .map_err(|e| AttemptError::Fatal(format!("invalid proxy {p:?}: {e}")))?,
            ),
            None => None,
        };
        // Plain http through an http proxy: absolute-form, as Go does.
        if let Some(p) = proxy.as_ref().filter(|p| p.scheme() == "http") {
            if url.scheme() == "http" {
                let f = crate::forward::get(
                    p,
                    url,
                    headers,
                    opts.connect_timeout,
                    opts.response_header_timeout,
                    deadline,
                )
                .map_err(AttemptError::Retry)?;
                return Ok(Resp {
                    status: f.status,
                    location: f.location,
                    body: f.body,
                });
            }
        }
        let mut req = self.agent().get(url.as_str());
        for (name, value) in headers {
            req = req.header(name.as_str(), value.as_str());
        }
        let proxy = match proxy {
            Some(p) => Some(ureq::Proxy::new(p.as_str()).map_err(|e| {
                AttemptError::Fatal(format!("invalid proxy {:?}: {e}", p.as_str()))
            })?),
            None => None,
        };
        let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let req = req.config().proxy(proxy).timeout_global(remaining).build();
        let resp = match req.call() {
            Ok(r) => r,
            Err(e @ (ureq::Error::BadUri(_) | ureq::Error::Http(_))) => {
                return Err(AttemptError::Fatal(e.to_string()))
            }
            Err(e) => return Err(AttemptError::Retry(e.to_string())),
        };
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Resp {
            status: resp.status().as_u16(),
            location,
            body: Box::new(resp.into_body().into_reader()),
        })
    }
}

/// A response whose head has been read.
struct Resp {
    status: u16,
    location: Option<String>,
    body: Box<dyn Read + Send>,
}

/// The outcome of a failed GET, before the caller maps statuses to errors
/// (cloud schemes turn 401/403 into a credentials error).
#[derive(Debug)]
pub(crate) enum HttpFailure {
    /// A final non-success status below 500.
    Status(u16),
    /// Everything else, already an error.
    Fetch(FetchError),
}

enum AttemptError {
    Retry(String),
    Fatal(String),
}

/// Ignition's defaults, with the config's headers replacing same-named ones
/// (case-insensitively, last one wins) and `null` values removing them.
fn merged_headers(
    opts: &FetchOptions,
    headers: &[(String, Option<String>)],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, Option<String>)> = vec![
        ("User-Agent".into(), Some(opts.user_agent.clone())),
        ("Accept".into(), Some(opts.accept.clone())),
        ("Accept-Encoding".into(), Some("identity".into())),
    ];
    for (name, value) in headers {
        if let Some(slot) = out.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            slot.1 = value.clone();
        } else {
            out.push((name.clone(), value.clone()));
        }
    }
    out.into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect()
}

/// The system trust store, loaded once per process.
fn native_roots() -> &'static [Certificate<'static>] {
    static ROOTS: std::sync::OnceLock<Arc<Vec<Certificate<'static>>>> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        Arc::new(
            loaded
                .certs
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect(),
        )
    })
}

/// All certificates of a PEM bundle (Ignition ≥ 2.x adds every block of the
/// bundle to the system pool); a bundle without one is an error.
pub(crate) fn parse_ca_bundle(
    pem: &[u8],
    source: &str,
) -> Result<Vec<Certificate<'static>>, FetchError> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(FetchError::Ca {
                    source_url: display_url(source),
                    reason: e.to_string(),
                })
            }
        }
    }
    if certs.is_empty() {
        return Err(FetchError::Ca {
            source_url: display_url(source),
            reason: "no certificate found".into(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_headers_override_defaults() {
        let opts = FetchOptions::default();
        let h = merged_headers(
            &opts,
            &[
                ("user-agent".into(), Some("custom".into())),
                ("Accept-Encoding".into(), None),
                ("X-Extra".into(), Some("1".into())),
            ],
        );
        let names: Vec<_> = h.iter().map(|(n, v)| format!("{n}={v}")).collect();
        assert_eq!(
            names,
            [
                "User-Agent=custom".to_string(),
                format!("Accept={}", opts.accept),
                "X-Extra=1".into()
            ]
        );
    }

    #[test]
    fn bundle_without_certificates_is_rejected() {
        let err = parse_ca_bundle(b"not pem", "data:,x").unwrap_err();
        assert!(
            err.to_string().starts_with("unable to decode PEM block"),
            "{err}"
        );
    }
}
