//! Browsers: a page on another site must not be able to use this service through its
//! visitors' browsers (a cross-origin `text/plain` POST needs no preflight), and the service's
//! own pages say what a browser may load for them.
//!
//! SPEC §4: a request whose `Origin` names another host than its `Host` (host and port
//! compared, scheme ignored; `X-Forwarded-Host` instead of `Host` only from a trusted proxy) is
//! 403 `forbidden_origin`, unless the origin is allowed by `--allowed-origin`, which also gets
//! CORS answers (preflight included). Requests without `Origin` (curl, Python) pass.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use super::error::ApiError;
use super::server::peer;

/// Who may call the service from a browser.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    /// Origins allowed besides the server's own, as `scheme://host[:port]`, lower case.
    allowed: Arc<[String]>,
    /// Proxies whose `X-Forwarded-Host` names the host the client asked for.
    trusted_proxies: Arc<[IpAddr]>,
}

impl OriginPolicy {
    pub fn new(allowed: &[String], trusted_proxies: &[IpAddr]) -> Self {
        OriginPolicy {
            allowed: allowed
                .iter()
                .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            trusted_proxies: trusted_proxies.into(),
        }
    }

    /// The CORS layer answering the allowed origins (and no other).
    pub fn cors(&self) -> CorsLayer {
        let allowed: Vec<HeaderValue> = self
            .allowed
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin).ok())
            .collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([header::ETAG, header::RETRY_AFTER])
    }

    /// Whether a request with these headers from `peer` may go on.
    fn admits(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        if self.allowed.contains(&origin) {
            return true;
        }
        let forwarded = peer
            .filter(|peer| self.trusted_proxies.contains(peer))
            .and_then(|_| headers.get("x-forwarded-host"));
        let Some(host) = forwarded.or_else(|| headers.get(header::HOST)) else {
            return false;
        };
        let Ok(host) = host.to_str() else {
            return false;
        };
        // A proxy chain lists hosts left to right; the first is what the client asked for.
        let host = host.split(',').next().unwrap_or_default().trim();
        match origin_host_and_port(&origin) {
            Some((origin_host, origin_port)) => {
                let host = host.to_ascii_lowercase();
                let (host, port) = split_port(&host);
                host == origin_host && port.unwrap_or(origin_port) == origin_port
            }
            None => false,
        }
    }
}

/// `(host, port)` of `scheme://host[:port]`, the port defaulting to the scheme's; `None` for
/// an opaque origin such as `null`.
fn origin_host_and_port(origin: &str) -> Option<(String, u16)> {
    let (scheme, rest) = origin.split_once("://")?;
    let default_port = match scheme {
        "https" | "wss" => 443,
        _ => 80,
    };
    let (host, port) = split_port(rest);
    if host.is_empty() {
        return None;
    }
    Some((host.to_owned(), port.unwrap_or(default_port)))
}

/// `host` and its port, if it has one (`[::1]:8000`, `localhost:8000`, `example.org`). An
/// authority whose port does not read is returned whole, so it matches nothing.
fn split_port(authority: &str) -> (&str, Option<u16>) {
    // An IPv6 literal is bracketed: its port follows the closing bracket.
    let host_end = if authority.starts_with('[') {
        authority
            .find(']')
            .map_or(authority.len(), |bracket| bracket + 1)
    } else {
        authority.rfind(':').unwrap_or(authority.len())
    };
    let (host, rest) = authority.split_at(host_end);
    match rest.strip_prefix(':').map(str::parse) {
        None if rest.is_empty() => (host, None),
        Some(Ok(port)) => (host, Some(port)),
        _ => (authority, None),
    }
}

/// Refuses requests from origins the policy does not admit.
pub async fn check(policy: OriginPolicy, request: Request, next: Next) -> Response {
    let peer = peer(&request).map(|address| address.ip());
    if policy.admits(request.headers(), peer) {
        return next.run(request).await;
    }
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|origin| origin.to_str().ok())
        .unwrap_or("(unreadable)")
        .to_owned();
    tracing::warn!(%origin, "refused a request from another origin");
    super::error::Failure::from(ApiError::ForbiddenOrigin(origin)).into_response()
}

/// What a browser may do with our pages: load scripts, styles, pictures and data only from this
/// server, never frame them, never guess a content type.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

/// `'unsafe-inline'` styles: the API page (Swagger UI) sets style attributes in its markup;
/// scripts stay strictly our own files.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; \
     object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    axum::http::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn same_host_and_port_is_admitted_whatever_the_scheme() {
        let policy = OriginPolicy::default();
        for (origin, host) in [
            ("http://localhost:8000", "localhost:8000"),
            ("https://localhost:8000", "localhost:8000"),
            ("http://EXAMPLE.org", "example.org"),
            ("http://example.org", "example.org:80"),
            ("https://example.org", "example.org:443"),
            ("http://[::1]:8000", "[::1]:8000"),
        ] {
            let request = headers(&[("origin", origin), ("host", host)]);
            assert!(policy.admits(&request, None), "{origin} on {host}");
        }
    }

    #[test]
    fn another_host_or_port_or_an_opaque_origin_is_refused() {
        let policy = OriginPolicy::default();
        for (origin, host) in [
            ("http://evil.example", "localhost:8000"),
            ("http://localhost:8001", "localhost:8000"),
            ("http://localhost", "localhost:8000"),
            ("null", "localhost:8000"),
            ("http://[::1]:8001", "[::1]:8000"),
        ] {
            let request = headers(&[("origin", origin), ("host", host)]);
            assert!(!policy.admits(&request, None), "{origin} on {host}");
        }
        assert!(!policy.admits(&headers(&[("origin", "http://a")]), None));
    }

    #[test]
    fn no_origin_passes_and_an_allowed_origin_passes() {
        let policy = OriginPolicy::new(&["http://app.example:3000/".into()], &[]);
        assert!(policy.admits(&headers(&[("host", "localhost:8000")]), None));
        let allowed = headers(&[("origin", "http://app.example:3000"), ("host", "api:8000")]);
        assert!(policy.admits(&allowed, None));
    }

    #[test]
    fn forwarded_host_counts_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let policy = OriginPolicy::new(&[], &[proxy]);
        let request = headers(&[
            ("origin", "https://maps.example"),
            ("host", "10.0.0.2:8000"),
            ("x-forwarded-host", "maps.example"),
        ]);
        assert!(policy.admits(&request, Some(proxy)));
        assert!(!policy.admits(&request, Some("10.0.0.9".parse().unwrap())));
        assert!(!policy.admits(&request, None));
    }
}
