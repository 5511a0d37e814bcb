//! Resource fetching as Ignition does it: `data:`, `http(s)`, `tftp`, `s3`/`gs`
//! (anonymous), gzip decompression and sha256/sha512 verification, streamed;
//! plus config assembly ([`assemble()`]): base configs, `merge`/`replace`
//! chains and post-merge validation.
//!
//! Contents are streamed from the source through the decompressor and the
//! hasher into the caller's writer in 64 KiB chunks, so the size of a file
//! does not decide the memory used. The hash is only known at the end: on a
//! mismatch the bytes have already been written and the caller discards them
//! (the engine writes into a temp file next to the target).
//!
//! # Where reignite differs from Ignition, on purpose
//!
//! * [`FetchOptions::unlimited_total_bound`] can bound retries that Ignition
//!   would run forever (`httpTotal` unset); the CLI sets it.
//! * Reference chains are limited in depth and count, and loops are errors
//!   ([`AssembleOptions`]); Ignition follows them forever.
//! * `s3://`, `arn:` and `gs://` are fetched anonymously from the public
//!   HTTPS URL; there is no credential support (instance roles, GCE tokens,
//!   Azure identities) yet, and denied requests say so.
//! * An `https` proxy (the proxy itself spoken to over TLS) is only used
//!   through `CONNECT`; plain `http` proxies get `http` requests in absolute
//!   form like Go's transport.
//! * TFTP sends no options (`blksize`, `tsize`): plain RFC 1350, 512-byte
//!   blocks.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reignite_spec::{Config, HttpHeader, Resource};

pub mod assemble;
mod cloud;
mod dataurl;
mod error;
mod forward;
mod http;
mod proxy;
mod tftp;
mod verify;

pub use assemble::{
    assemble, AssembleError, AssembleOptions, Assembled, ConfigKind, FetchedConfig,
};
pub use error::{FetchError, LastAttempt};

/// The Ignition release whose fetch behaviour reignite follows; used in the
/// default `User-Agent`.
pub const IGNITION_COMPAT_VERSION: &str = "2.26.0";

/// Fetch settings. `Default` gives Ignition's behaviour: 10 s response-header
/// timeout, no total timeout (retry forever), system roots only, no proxy.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FetchOptions {
    /// `ignition.timeouts.httpResponseHeaders` (default 10 s; `None` = none).
    pub response_header_timeout: Option<Duration>,
    /// `ignition.timeouts.httpTotal`: the whole fetch including retries and
    /// the body (`None` = no limit, Ignition's default).
    pub total_timeout: Option<Duration>,
    /// Used instead of `total_timeout` when that is `None`, so that an
    /// unreachable URL fails after bounded retries. Not Ignition behaviour;
    /// `None` by default, the CLI sets it.
    pub unlimited_total_bound: Option<Duration>,
    /// TCP connect (and TLS handshake) timeout per attempt (Go's dialer: 30 s).
    pub connect_timeout: Option<Duration>,
    /// Extra trusted CAs, each a PEM bundle, added to the system roots.
    pub ca_bundles: Vec<Vec<u8>>,
    /// `ignition.proxy`.
    pub proxy: reignite_spec::Proxy,
    /// Default `User-Agent` (a config header of the same name replaces it).
    pub user_agent: String,
    /// Default `Accept`.
    pub accept: String,
    /// Backoff before doubling: the first wait is twice this (Ignition: 100 ms,
    /// so 200 ms, 400 ms, ... capped at `max_backoff`).
    pub initial_backoff: Duration,
    /// Cap of the retry backoff (Ignition: 5 s).
    pub max_backoff: Duration,
    /// Redirects followed per attempt (Go: 10).
    pub max_redirects: u32,
    /// TFTP: how long to wait for a packet before retransmitting.
    pub tftp_timeout: Duration,
    /// TFTP: retransmissions of one packet before giving up.
    pub tftp_retries: u32,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            response_header_timeout: Some(Duration::from_secs(10)),
            total_timeout: None,
            unlimited_total_bound: None,
            connect_timeout: Some(Duration::from_secs(30)),
            ca_bundles: Vec::new(),
            proxy: Default::default(),
            user_agent: format!(
                "Ignition/{IGNITION_COMPAT_VERSION} reignite/{}",
                env!("CARGO_PKG_VERSION")
            ),
            accept: "application/vnd.coreos.ignition+json;version=3.6.0, */*;q=0.1".into(),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_redirects: 10,
            tftp_timeout: Duration::from_secs(5),
            tftp_retries: 5,
        }
    }
}

impl FetchOptions {
    /// Applies `ignition.timeouts` and `ignition.proxy` of `cfg` (CAs need
    /// fetching; see [`Fetcher::with_config`]).
    pub fn apply_timeouts_and_proxy(&mut self, cfg: &Config) {
        let t = &cfg.ignition.timeouts;
        self.response_header_timeout = match t.http_response_headers {
            None => Some(Duration::from_secs(10)),
            Some(s) if s <= 0 => None,
            Some(s) => Some(Duration::from_secs(s as u64)),
        };
        self.total_timeout = match t.http_total {
            Some(s) if s > 0 => Some(Duration::from_secs(s as u64)),
            _ => None,
        };
        self.proxy = cfg.ignition.proxy.clone();
    }
}

/// Fetches resources. Cheap to share by reference; not `Clone` (it owns a
/// connection pool).
#[derive(Debug)]
pub struct Fetcher {
    opts: FetchOptions,
    /// PEM bundles of `ignition.security.tls.certificateAuthorities` of the
    /// config in force.
    config_cas: Vec<Vec<u8>>,
    /// CA bundles already fetched, by resource (Ignition caches them too),
    /// shared by every fetcher derived with [`Fetcher::with_config`].
    ca_cache: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    http: http::HttpClient,
}

impl Fetcher {
    /// A fetcher with exactly these options.
    pub fn new(opts: FetchOptions) -> Result<Self, FetchError> {
        Fetcher::build(opts, Vec::new(), Default::default())
    }

    fn build(
        opts: FetchOptions,
        config_cas: Vec<Vec<u8>>,
        ca_cache: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    ) -> Result<Self, FetchError> {
        let http = http::HttpClient::new(&opts, &config_cas)?;
        Ok(Fetcher {
            opts,
            config_cas,
            ca_cache,
            http,
        })
    }

    /// A default fetcher configured with `cfg`'s timeouts, CAs and proxy.
    pub fn from_config(cfg: &Config) -> Result<Self, FetchError> {
        Fetcher::new(FetchOptions::default())?.with_config(cfg)
    }

    /// A new fetcher with this one's base options (user agent, backoff,
    /// bounds, `ca_bundles`) and `cfg`'s timeouts and proxy (unset ones take
    /// Ignition's defaults), as Ignition's `UpdateHttpTimeoutsAndCAs` does.
    /// CAs follow Ignition too: when `cfg` lists CAs they replace the
    /// previous config's CAs (system roots stay), fetched with the *new*
    /// timeouts and proxy but the *old* trust roots; when it lists none, the
    /// previous config's CAs stay in force.
    pub fn with_config(&self, cfg: &Config) -> Result<Self, FetchError> {
        let mut opts = self.opts.clone();
        opts.apply_timeouts_and_proxy(cfg);
        let cas = &cfg.ignition.security.tls.certificate_authorities;
        if cas.is_empty() {
            return Fetcher::build(opts, self.config_cas.clone(), self.ca_cache.clone());
        }
        let mut interim: Option<Fetcher> = None;
        let mut blobs = Vec::with_capacity(cas.len());
        for ca in cas {
            if let Some(blob) = self.cached_ca(ca) {
                blobs.push(blob);
                continue;
            }
            if interim.is_none() {
                interim = Some(Fetcher::build(
                    opts.clone(),
                    self.config_cas.clone(),
                    self.ca_cache.clone(),
                )?);
            }
            let src = ca.source.clone().unwrap_or_default();
            let pem = interim
                .as_ref()
                .expect("just built")
                .fetch_bytes(ca, MAX_CA_SIZE)
                .map_err(|e| FetchError::CaFetch {
                    source_url: error::display_url(&src),
                    inner: Box::new(e),
                })?;
            http::parse_ca_bundle(&pem, &src)?;
            self.ca_cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(ca_key(ca), pem.clone());
            blobs.push(pem);
        }
        Fetcher::build(opts, blobs, self.ca_cache.clone())
    }

    /// The bytes of a CA bundle this fetcher (or one it was derived from)
    /// already fetched; used to rewrite CA sources as `data:` URLs.
    pub fn cached_ca(&self, ca: &Resource) -> Option<Vec<u8>> {
        self.ca_cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&ca_key(ca))
            .cloned()
    }

    /// The PEM bundles from the config in force.
    pub fn config_cas(&self) -> &[Vec<u8>] {
        &self.config_cas
    }

    /// The options in force.
    pub fn options(&self) -> &FetchOptions {
        &self.opts
    }

    /// Streams the resource's bytes (decompressed per `compression`, verified
    /// against `verification.hash` over the decompressed bytes) into `out`;
    /// returns bytes written. On a hash mismatch returns
    /// [`FetchError::HashMismatch`] *after* writing: callers write into a
    /// temp file and discard it. An absent or empty `source` is empty content.
    pub fn fetch_into(&self, res: &Resource, out: &mut dyn Write) -> Result<u64, FetchError> {
        self.fetch_with(res, out, None, verify::HashCompare::Decoded)
    }

    /// Like [`Fetcher::fetch_into`] into memory, failing with
    /// [`FetchError::TooLarge`] past `limit` bytes (after decompression).
    /// For configs and CA bundles.
    pub fn fetch_bytes(&self, res: &Resource, limit: usize) -> Result<Vec<u8>, FetchError> {
        let mut out = Vec::new();
        self.fetch_with(res, &mut out, Some(limit), verify::HashCompare::Decoded)?;
        Ok(out)
    }

    /// Fetches a referenced config (`merge`/`replace`): like `fetch_bytes`,
    /// but the hash is compared as a lower-case hex string, as Ignition does.
    pub(crate) fn fetch_config(&self, res: &Resource, limit: usize) -> Result<Vec<u8>, FetchError> {
        let mut out = Vec::new();
        self.fetch_with(
            res,
            &mut out,
            Some(limit),
            verify::HashCompare::LowerHexString,
        )?;
        Ok(out)
    }

    fn fetch_with(
        &self,
        res: &Resource,
        out: &mut dyn Write,
        limit: Option<usize>,
        compare: verify::HashCompare,
    ) -> Result<u64, FetchError> {
        let source = res.source.as_deref().unwrap_or("");
        let gzip = verify::is_gzip(res.compression.as_deref())?;
        let expected = verify::Expected::parse(res.verification.hash.as_deref())?;
        if source.is_empty() {
            // Ignition returns before decompressing or verifying.
            return Ok(0);
        }
        let shown = error::display_url(source);
        let mut reader = self.open(source, &res.http_headers, gzip)?;
        verify::copy_verified(
            &mut reader,
            gzip,
            expected.as_ref(),
            compare,
            out,
            limit,
            &shown,
        )
    }

    /// Opens the raw (still compressed) byte stream of `source`.
    fn open(
        &self,
        source: &str,
        headers: &[HttpHeader],
        gzip: bool,
    ) -> Result<Box<dyn Read + Send>, FetchError> {
        let shown = error::display_url(source);
        let scheme = scheme_of(source).ok_or_else(|| FetchError::InvalidUrl {
            url: shown.clone(),
            reason: "missing scheme".into(),
        })?;
        match scheme.as_str() {
            "data" => {
                let data = dataurl::decode(source)
                    .map_err(|reason| FetchError::DataUrl { url: shown, reason })?;
                Ok(Box::new(std::io::Cursor::new(data)))
            }
            "http" | "https" => {
                let headers: Vec<_> = headers
                    .iter()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect();
                self.http
                    .get(&self.opts, source, &headers, self.deadline())
                    .map_err(|f| match f {
                        http::HttpFailure::Status(404) => FetchError::NotFound {
                            url: shown,
                            status: Some(404),
                        },
                        http::HttpFailure::Status(status) => {
                            FetchError::HttpStatus { url: shown, status }
                        }
                        http::HttpFailure::Fetch(e) => e,
                    })
            }
            "tftp" => tftp::open(source, &self.opts),
            "s3" | "arn" | "gs" => {
                if gzip && scheme != "gs" {
                    return Err(FetchError::CompressionUnsupportedScheme { url: shown });
                }
                let target = cloud::resolve(&scheme, source)?;
                self.http
                    .get(&self.opts, &target.https_url, &[], self.deadline())
                    .map_err(|f| target.map_failure(f, &shown))
            }
            _ => Err(FetchError::UnsupportedScheme { scheme, url: shown }),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.opts
            .total_timeout
            .or(self.opts.unlimited_total_bound)
            .map(|t| Instant::now() + t)
    }
}

/// CA bundles larger than this are refused (a PEM bundle of every public CA
/// is about 200 KiB).
const MAX_CA_SIZE: usize = 4 << 20;

fn ca_key(ca: &Resource) -> String {
    serde_json::to_string(ca).unwrap_or_default()
}

/// The URL scheme, lower-cased (Go's `url.Parse` does the same).
fn scheme_of(source: &str) -> Option<String> {
    let (scheme, _) = source.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic()
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    Some(scheme.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(source: &str) -> Resource {
        Resource {
            source: Some(source.into()),
            ..Default::default()
        }
    }

    #[test]
    fn data_urls_and_empty_sources() {
        let f = Fetcher::new(FetchOptions::default()).unwrap();
        assert_eq!(f.fetch_bytes(&res("data:,hi%21"), 100).unwrap(), b"hi!");
        assert_eq!(f.fetch_bytes(&res(""), 100).unwrap(), b"");
        assert_eq!(f.fetch_bytes(&Resource::default(), 100).unwrap(), b"");
        let err = f.fetch_bytes(&res("data:,a b"), 100).unwrap_err();
        assert!(matches!(err, FetchError::DataUrl { .. }), "{err}");
    }

    #[test]
    fn unsupported_schemes() {
        let f = Fetcher::new(FetchOptions::default()).unwrap();
        for src in ["file:///etc/passwd", "oem:///x", "ftp://h/x"] {
            let err = f.fetch_bytes(&res(src), 100).unwrap_err();
            assert!(
                matches!(err, FetchError::UnsupportedScheme { .. }),
                "{src}: {err}"
            );
        }
        let err = f.fetch_bytes(&res("/no/scheme"), 100).unwrap_err();
        assert!(matches!(err, FetchError::InvalidUrl { .. }), "{err}");
    }

    #[test]
    fn s3_refuses_compression() {
        let f = Fetcher::new(FetchOptions::default()).unwrap();
        let mut r = res("s3://bucket/key");
        r.compression = Some("gzip".into());
        let err = f.fetch_bytes(&r, 100).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("compression is not supported with that scheme"),
            "{err}"
        );
    }

    #[test]
    fn fetcher_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Fetcher>();
    }

    #[test]
    fn timeouts_from_config() {
        let mut cfg = Config::default();
        cfg.ignition.timeouts.http_response_headers = Some(0);
        cfg.ignition.timeouts.http_total = Some(7);
        let mut o = FetchOptions::default();
        o.apply_timeouts_and_proxy(&cfg);
        assert_eq!(o.response_header_timeout, None);
        assert_eq!(o.total_timeout, Some(Duration::from_secs(7)));
        cfg.ignition.timeouts = Default::default();
        o.apply_timeouts_and_proxy(&cfg);
        assert_eq!(o.response_header_timeout, Some(Duration::from_secs(10)));
        assert_eq!(o.total_timeout, None);
    }
}
