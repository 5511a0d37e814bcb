//! `s3://`, `arn:aws:s3:...` and `gs://` sources fetched anonymously over
//! HTTPS from the object's public URL. Ignition uses the AWS and Google SDKs
//! with instance credentials and falls back to anonymous access; reignite
//! has no credential support yet, so only publicly readable objects work and
//! a denied request says that credentials would be needed.

use crate::error::FetchError;
use crate::http::HttpFailure;

/// Where a cloud object is fetched from, and how to explain failures.
#[derive(Debug)]
pub(crate) struct CloudTarget {
    pub(crate) https_url: String,
    provider: &'static str,
}

impl CloudTarget {
    pub(crate) fn map_failure(&self, f: HttpFailure, shown: &str) -> FetchError {
        match f {
            HttpFailure::Status(404) => FetchError::NotFound {
                url: shown.into(),
                status: Some(404),
            },
            HttpFailure::Status(status @ (401 | 403)) => FetchError::CredentialsRequired {
                url: shown.into(),
                status,
                provider: self.provider,
            },
            HttpFailure::Status(status) => FetchError::HttpStatus {
                url: shown.into(),
                status,
            },
            HttpFailure::Fetch(e) => e,
        }
    }
}

/// Maps a cloud source to its public HTTPS URL.
pub(crate) fn resolve(scheme: &str, source: &str) -> Result<CloudTarget, FetchError> {
    let bad = |reason: &str| FetchError::InvalidUrl {
        url: crate::error::display_url(source),
        reason: reason.into(),
    };
    match scheme {
        "s3" => {
            let u = url::Url::parse(source).map_err(|e| bad(&e.to_string()))?;
            let bucket = u.host_str().ok_or_else(|| bad("missing bucket"))?;
            let key = u.path().trim_start_matches('/');
            let mut out = s3_object_url("aws", bucket, key, &bad)?;
            if let Some(v) = u
                .query_pairs()
                .find(|(k, _)| k == "versionId")
                .map(|(_, v)| v.into_owned())
            {
                out.query_pairs_mut().append_pair("versionId", &v);
            }
            Ok(CloudTarget {
                https_url: out.into(),
                provider: "AWS",
            })
        }
        "arn" => {
            // arn:PARTITION:s3:REGION:ACCOUNT:RESOURCE
            let parts: Vec<&str> = source.splitn(6, ':').collect();
            if parts.len() != 6 || parts[2] != "s3" {
                return Err(bad(
                    "not an S3 ARN (arn:PARTITION:s3:REGION:ACCOUNT:RESOURCE)",
                ));
            }
            let (partition, region, account, resource) = (parts[1], parts[3], parts[4], parts[5]);
            let url = if let Some(rest) = resource.strip_prefix("accesspoint/") {
                let (name, key) = rest
                    .split_once("/object/")
                    .ok_or_else(|| bad("access point ARN without /object/KEY"))?;
                if region.is_empty() || account.is_empty() {
                    return Err(bad("access point ARN without region or account"));
                }
                let mut u = url::Url::parse(&format!(
                    "https://{name}-{account}.s3-accesspoint.{region}.{}/",
                    domain(partition)
                ))
                .map_err(|e| bad(&e.to_string()))?;
                u.set_path(key);
                u
            } else {
                let (bucket, key) = resource
                    .split_once('/')
                    .ok_or_else(|| bad("S3 ARN without an object key"))?;
                s3_object_url(partition, bucket, key, &bad)?
            };
            Ok(CloudTarget {
                https_url: url.into(),
                provider: "AWS",
            })
        }
        "gs" => {
            let u = url::Url::parse(source).map_err(|e| bad(&e.to_string()))?;
            let bucket = u.host_str().ok_or_else(|| bad("missing bucket"))?;
            let object = percent_decode(u.path().trim_start_matches('/'));
            Ok(CloudTarget {
                https_url: format!(
                    "https://storage.googleapis.com/storage/v1/b/{}/o/{}?alt=media",
                    encode_component(bucket.as_bytes()),
                    encode_component(&object)
                ),
                provider: "Google Cloud",
            })
        }
        _ => Err(bad("not a cloud storage scheme")),
    }
}

fn domain(partition: &str) -> &'static str {
    if partition == "aws-cn" {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

fn s3_object_url(
    partition: &str,
    bucket: &str,
    key: &str,
    bad: &dyn Fn(&str) -> FetchError,
) -> Result<url::Url, FetchError> {
    if bucket.is_empty() || key.is_empty() {
        return Err(bad("S3 source needs a bucket and an object key"));
    }
    let endpoint = match partition {
        "aws" => "s3".to_string(),
        "aws-cn" => "s3.cn-north-1".to_string(),
        "aws-us-gov" => "s3.us-gov-west-1".to_string(),
        other => return Err(bad(&format!("unknown AWS partition {other:?}"))),
    };
    // Bucket names with dots break virtual-host TLS; use the path style.
    let base = if bucket.contains('.') {
        format!("https://{endpoint}.{}/{bucket}/", domain(partition))
    } else {
        format!("https://{bucket}.{endpoint}.{}/", domain(partition))
    };
    let mut u = url::Url::parse(&base).map_err(|e| bad(&e.to_string()))?;
    let path = format!("{}{}", u.path(), key);
    u.set_path(&path);
    Ok(u)
}

fn encode_component(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len());
    for &c in b {
        if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
            s.push(c as char);
        } else {
            s.push_str(&format!("%{c:02X}"));
        }
    }
    s
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (
                (b[i + 1] as char).to_digit(16),
                (b[i + 2] as char).to_digit(16),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url_of(scheme: &str, src: &str) -> String {
        resolve(scheme, src).unwrap().https_url
    }

    #[test]
    fn s3_urls() {
        assert_eq!(
            url_of("s3", "s3://bucket/path/to/obj"),
            "https://bucket.s3.amazonaws.com/path/to/obj"
        );
        assert_eq!(
            url_of("s3", "s3://my.bucket/obj?versionId=v1"),
            "https://s3.amazonaws.com/my.bucket/obj?versionId=v1"
        );
        assert_eq!(
            url_of("arn", "arn:aws:s3:::bucket/key/x"),
            "https://bucket.s3.amazonaws.com/key/x"
        );
        assert_eq!(
            url_of(
                "arn",
                "arn:aws:s3:us-west-2:123456789012:accesspoint/test/object/some/path"
            ),
            "https://test-123456789012.s3-accesspoint.us-west-2.amazonaws.com/some/path"
        );
        assert!(resolve("arn", "arn:aws:iam::1:role/x").is_err());
        assert!(resolve("s3", "s3://bucket/").is_err());
    }

    #[test]
    fn gs_urls() {
        assert_eq!(
            url_of("gs", "gs://b/dir/obj%20x.ign"),
            "https://storage.googleapis.com/storage/v1/b/b/o/dir%2Fobj%20x.ign?alt=media"
        );
    }

    #[test]
    fn denied_names_missing_credentials() {
        let t = resolve("s3", "s3://b/k").unwrap();
        let e = t.map_failure(HttpFailure::Status(403), "s3://b/k");
        assert!(e.to_string().contains("AWS credentials"), "{e}");
        assert_eq!(e.http_status(), Some(403));
    }
}
