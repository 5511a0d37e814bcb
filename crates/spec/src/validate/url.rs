//! URL rules: a faithful model of Go's `net/url.Parse` (only what decides
//! success, the scheme, the opaque part and the query), the per-version scheme
//! list of Ignition's `validateURL`, S3 `versionId` and ARN checks, and the
//! proxy and Tang URL checks. Ignition reports `unable to parse url` exactly
//! when Go's parser fails, so the parser's error conditions (control bytes,
//! bad percent escapes, bad ports, invalid host characters, a colon in the
//! first segment of a scheme-less URL) are reproduced.

use super::{dataurl, Rules};

pub(crate) const ERR_INVALID_URL: &str = "unable to parse url";
pub(crate) const ERR_INVALID_SCHEME: &str = "invalid url scheme";
const ERR_S3_VERSION: &str = "invalid S3 object VersionId";
const ERR_S3_ARN: &str = "invalid S3 ARN format";

/// The parts of a parsed URL that Ignition looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoUrl {
    /// Lower-cased scheme, possibly empty.
    pub scheme: String,
    /// The rootless part after `scheme:` (`data:` and `arn:` URLs).
    pub opaque: String,
    pub raw_query: String,
}

/// Go `url.Parse`; `Err(())` wherever Go returns an error.
pub(crate) fn parse(raw: &str) -> Result<GoUrl, ()> {
    let (u, frag) = match raw.find('#') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    let url = parse_no_frag(u)?;
    if let Some(f) = frag {
        if !f.is_empty() {
            unescape(f, Mode::Other)?;
        }
    }
    Ok(url)
}

fn parse_no_frag(raw: &str) -> Result<GoUrl, ()> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(());
    }
    let mut url = GoUrl {
        scheme: String::new(),
        opaque: String::new(),
        raw_query: String::new(),
    };
    if raw == "*" {
        return Ok(url);
    }
    let (scheme, rest) = get_scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    let mut rest = rest;
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        rest = &rest[..rest.len() - 1];
    } else if let Some(i) = rest.find('?') {
        url.raw_query = rest[i + 1..].to_string();
        rest = &rest[..i];
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_string();
            return Ok(url);
        }
        let segment = rest.split('/').next().unwrap_or("");
        if segment.contains(':') {
            return Err(());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let authority_and_path = &rest[2..];
        let (authority, path) = match authority_and_path.find('/') {
            Some(i) => (&authority_and_path[..i], &authority_and_path[i..]),
            None => (authority_and_path, ""),
        };
        parse_authority(authority)?;
        rest = path;
    }
    unescape(rest, Mode::Other)?;
    Ok(url)
}

fn get_scheme(raw: &str) -> Result<(&str, &str), ()> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err(()); // missing protocol scheme
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn parse_authority(authority: &str) -> Result<(), ()> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    parse_host(host)?;
    if let Some(ui) = userinfo {
        let valid = ui.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.'
                        | b'_'
                        | b':'
                        | b'~'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b'%'
                        | b'@'
                )
        });
        if !valid {
            return Err(());
        }
        for part in ui.splitn(2, ':') {
            unescape(part, Mode::Other)?;
        }
    }
    Ok(())
}

fn valid_optional_port(port: &str) -> bool {
    if port.is_empty() {
        return true;
    }
    match port.strip_prefix(':') {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

fn parse_host(host: &str) -> Result<(), ()> {
    if host.starts_with('[') {
        let i = host.rfind(']').ok_or(())?;
        if !valid_optional_port(&host[i + 1..]) {
            return Err(());
        }
        if let Some(zone) = host[..i].find("%25") {
            unescape(&host[..zone], Mode::Host)?;
            unescape(&host[zone..i], Mode::Zone)?;
            unescape(&host[i..], Mode::Host)?;
            return Ok(());
        }
    } else if let Some(i) = host.rfind(':') {
        if !valid_optional_port(&host[i..]) {
            return Err(());
        }
    }
    unescape(host, Mode::Host).map(|_| ())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Host,
    Zone,
    QueryComponent,
    Other,
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Go's `shouldEscape(c, encodeHost)`.
fn host_should_escape(c: u8) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    !matches!(
        c,
        b'!' | b'$'
            | b'&'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b'+'
            | b','
            | b';'
            | b'='
            | b':'
            | b'['
            | b']'
            | b'<'
            | b'>'
            | b'"'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
    )
}

/// Go's `unescape`: validates escapes and returns the decoded bytes.
fn unescape(s: &str, mode: Mode) -> Result<Vec<u8>, ()> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len()
                    || !b[i + 1].is_ascii_hexdigit()
                    || !b[i + 2].is_ascii_hexdigit()
                {
                    return Err(());
                }
                let v = (unhex(b[i + 1]) << 4) | unhex(b[i + 2]);
                let is25 = &b[i..i + 3] == b"%25";
                if mode == Mode::Host && unhex(b[i + 1]) < 8 && !is25 {
                    return Err(());
                }
                if mode == Mode::Zone && !is25 && v != b' ' && host_should_escape(v) {
                    return Err(());
                }
                out.push(v);
                i += 3;
            }
            b'+' => {
                out.push(if mode == Mode::QueryComponent {
                    b' '
                } else {
                    b'+'
                });
                i += 1;
            }
            c => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && host_should_escape(c) {
                    return Err(());
                }
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The values of `key` in a raw query, as Go's `url.Query()` would list them.
fn query_values(raw_query: &str, key: &str) -> Option<Vec<Vec<u8>>> {
    let mut found: Option<Vec<Vec<u8>>> = None;
    for part in raw_query.split('&') {
        if part.contains(';') || part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let Ok(k) = unescape(k, Mode::QueryComponent) else {
            continue;
        };
        let Ok(v) = unescape(v, Mode::QueryComponent) else {
            continue;
        };
        if k == key.as_bytes() {
            found.get_or_insert_with(Vec::new).push(v);
        }
    }
    found
}

fn check_version_id(u: &GoUrl) -> Result<(), String> {
    if let Some(v) = query_values(&u.raw_query, "versionId") {
        if v.first().is_none_or(|x| x.is_empty()) {
            return Err(ERR_S3_VERSION.into());
        }
    }
    Ok(())
}

/// aws-sdk-go-v2 `arn.IsARN` + `arn.Parse` + Ignition's S3 checks.
fn check_arn(u: &GoUrl) -> Result<(), String> {
    let full = format!("{}:{}", u.scheme, u.opaque);
    if !(full.starts_with("arn:") && full.matches(':').count() >= 5) {
        return Err(ERR_S3_ARN.into());
    }
    let sections: Vec<&str> = full.splitn(6, ':').collect();
    if sections.len() != 6 {
        return Err("arn: not enough sections".into());
    }
    let (service, resource) = (sections[2], sections[5]);
    if service != "s3" {
        return Err(ERR_S3_ARN.into());
    }
    let parts = full.split('/').count();
    if (resource.starts_with("accesspoint/") && parts < 3) || parts < 2 {
        return Err(ERR_S3_ARN.into());
    }
    check_version_id(u)
}

/// Ignition's `validateURL` for the config's spec version: `Err(message)`.
pub(crate) fn validate_url(s: &str, rules: &Rules) -> Result<(), String> {
    let u = parse(s).map_err(|_| ERR_INVALID_URL.to_string())?;
    match u.scheme.as_str() {
        "http" | "https" | "tftp" => Ok(()),
        "gs" if rules.gs_scheme() => Ok(()),
        "s3" => check_version_id(&u),
        "arn" if rules.arn_scheme() => check_arn(&u),
        "data" => dataurl::decode_check(s),
        _ => Err(ERR_INVALID_SCHEME.into()),
    }
}

/// `validateURLNilOK`: unset and empty sources are fine.
pub(crate) fn validate_url_nil_ok(s: Option<&str>, rules: &Rules) -> Result<(), String> {
    match s {
        None | Some("") => Ok(()),
        Some(s) => validate_url(s, rules),
    }
}

/// The scheme of `s` if Go can parse it.
pub(crate) fn scheme_of(s: &str) -> Result<String, ()> {
    parse(s).map(|u| u.scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(minor: u64) -> Rules {
        Rules::for_version(&semver::Version::new(3, minor, 0))
    }

    #[test]
    fn go_parse_errors() {
        for bad in [
            "http://exa mple.com/",
            "http://host:port/",
            "http://[::1/",
            "http://a%zzb/",
            "http://x/%zz",
            "http://x/#%zz",
            ":foo",
            "1http://x",
            "a\u{7f}b",
            "http://x/\n",
            "http://us{er@host/",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        for good in [
            "",
            "/foo",
            "foo",
            "http://example.com:8080/a?b=c#d",
            "http://[::1]:80/",
            "http://user:pa%20ss@host/",
            "data:,%zz",
            "HTTP://x",
            "http://é.example/",
        ] {
            assert!(parse(good).is_ok(), "{good:?} should parse");
        }
        assert_eq!(parse("HTTP://x").unwrap().scheme, "http");
        assert_eq!(
            parse("arn:aws:s3:::b/k?x=1").unwrap().opaque,
            "aws:s3:::b/k"
        );
    }

    /// `TestURLValidate` of upstream's `config/v3_6/types/url_test.go`.
    #[test]
    fn upstream_url_table_3_6() {
        let r = rules(6);
        let ok = Ok(());
        let arn = Err(ERR_S3_ARN.to_string());
        let cases: &[(Option<&str>, Result<(), String>)] = &[
            (None, ok.clone()),
            (Some(""), ok.clone()),
            (Some("http://example.com"), ok.clone()),
            (Some("https://example.com"), ok.clone()),
            (Some("tftp://example.com:69/foobar.txt"), ok.clone()),
            (Some("data:,example%20file%0A"), ok.clone()),
            (Some("bad://"), Err(ERR_INVALID_SCHEME.into())),
            (Some("s3://bucket/key"), ok.clone()),
            (Some("s3://bucket/key?versionId="), Err(ERR_S3_VERSION.into())),
            (Some("s3://bucket/key?versionId=aVersionHash"), ok.clone()),
            (Some("Arn:"), arn.clone()),
            (Some("arn:aws:iam:us-west-2:123456789012:resource"), arn.clone()),
            (Some("arn:aws:s3:::bucket-name-but-no-key"), arn.clone()),
            (Some("arn:aws:s3:us-west-2:123456789012:accesspoint"), arn.clone()),
            (Some("arn:aws:s3:us-west-2:123456789012:accesspoint/"), arn.clone()),
            (
                Some("arn:aws:s3:us-west-2:123456789012:accesspoint/accesspoint-name-but-no-bucket"),
                arn.clone(),
            ),
            (Some("arn:aws:s3:us-west-2:123456789012:bucket-name/object-key"), ok.clone()),
            (
                Some("arn:aws:s3:us-west-2:123456789012:bucket-name/object-key?versionId=aVersionHash"),
                ok.clone(),
            ),
            (
                Some("arn:aws:s3:us-west-2:123456789012:accesspoint/accesspoint-name/object"),
                ok.clone(),
            ),
            (
                Some("arn:aws:s3:us-west-2:123456789012:accesspoint/accesspoint-name/some/nested/object"),
                ok.clone(),
            ),
            (
                Some("arn:aws:s3:us-west-2:123456789012:accesspoint/accesspoint-name/object?versionId=aVersionHash"),
                ok.clone(),
            ),
            (Some("arn:aws:s3:::bucket-name/object-key"), ok.clone()),
            (Some("arn:aws:s3:::bucket-name/some/nested/object"), ok.clone()),
            (Some("arn:aws:s3:::bucket-name/object-key?versionId=aVersionHash"), ok.clone()),
            (Some("gs://bucket/object"), ok.clone()),
        ];
        for (i, (input, want)) in cases.iter().enumerate() {
            assert_eq!(&validate_url_nil_ok(*input, &r), want, "#{i}: {input:?}");
        }
    }

    #[test]
    fn schemes_per_version() {
        let r30 = rules(0);
        let r32 = rules(2);
        let r34 = rules(4);
        assert_eq!(
            validate_url("gs://b/o", &r30).unwrap_err(),
            ERR_INVALID_SCHEME
        );
        assert!(validate_url("gs://b/o", &r32).is_ok());
        assert_eq!(
            validate_url("arn:aws:s3:::bucket/key", &r32).unwrap_err(),
            ERR_INVALID_SCHEME
        );
        assert!(validate_url("arn:aws:s3:::bucket/key", &r34).is_ok());
        assert!(validate_url("arn:aws:s3:us-east-1:123:accesspoint/ap/object/k", &r34).is_ok());
        assert_eq!(
            validate_url("arn:aws:s3:::bucket", &r34).unwrap_err(),
            ERR_S3_ARN
        );
        assert_eq!(
            validate_url("arn:aws:iam:::bucket/k", &r34).unwrap_err(),
            ERR_S3_ARN
        );
        assert_eq!(
            validate_url("arn:aws:s3:us-east-1:123:accesspoint/ap", &r34).unwrap_err(),
            ERR_S3_ARN
        );
        assert_eq!(validate_url("arn:aws:s3", &r34).unwrap_err(), ERR_S3_ARN);
        assert_eq!(
            validate_url("arn:aws:s3:::bucket/key?versionId=", &r34).unwrap_err(),
            ERR_S3_VERSION
        );
        for r in [&r30, &r34] {
            assert_eq!(
                validate_url("s3://b/k?versionId=", r).unwrap_err(),
                ERR_S3_VERSION
            );
            assert_eq!(
                validate_url("s3://b/k?versionId", r).unwrap_err(),
                ERR_S3_VERSION
            );
            assert!(validate_url("s3://b/k?versionId=abc", r).is_ok());
            assert!(validate_url("s3://b/k?versionId=;x", r).is_ok());
            assert!(validate_url("tftp://h/p", r).is_ok());
            assert_eq!(
                validate_url("file:///etc/x", r).unwrap_err(),
                ERR_INVALID_SCHEME
            );
            assert_eq!(validate_url("", r).unwrap_err(), ERR_INVALID_SCHEME);
            assert_eq!(validate_url("http://a b", r).unwrap_err(), ERR_INVALID_URL);
        }
        assert!(validate_url_nil_ok(Some(""), &r30).is_ok());
        assert!(validate_url_nil_ok(None, &r30).is_ok());
    }
}
