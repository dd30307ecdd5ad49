//! PURE: maps a request's method and raw URL to a [`Route`].

use crate::sample::proc_net_dev::is_valid_name;
use crate::serve::docs;

/// The prefix of the one-interface routes.
const INTERFACE_PREFIX: &str = "/api/v1/interface/";

/// The windows `/history` serves, by their `window` query value, in seconds.
pub const HISTORY_WINDOWS: [(&str, u32); 4] =
    [("1m", 60), ("5m", 300), ("15m", 900), ("60m", 3600)];
/// The window `/history` serves without a `window` query parameter.
pub const DEFAULT_HISTORY_WINDOW: u32 = 900;

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/v1/interface/{net_id}/stats`.
    InterfaceStats {
        /// The percent-decoded interface name.
        name: String,
    },
    /// `GET /api/v1/interface/{net_id}/history?window=...`.
    InterfaceHistory {
        /// The percent-decoded interface name.
        name: String,
        /// The window, in seconds.
        window_seconds: u32,
    },
    /// `GET /api/v1/interface/{net_id}/usage`.
    InterfaceUsage {
        /// The percent-decoded interface name.
        name: String,
    },
    /// The history route with a `window` other than 1m, 5m, 15m or 60m.
    InvalidWindow,
    /// `GET /`: the dashboard.
    Dashboard,
    /// `GET /api/v1/interfaces`.
    Interfaces,
    /// `GET /health`.
    Health,
    /// `GET /openapi.yaml`.
    OpenApi,
    /// `GET /metrics`.
    Metrics,
    /// `GET /docs`: Swagger UI.
    Docs,
    /// `GET /docs/<name>`: one of its files.
    DocsAsset {
        /// The file name.
        name: String,
    },
    /// The interface route with a name Linux cannot have.
    InvalidName {
        /// Why the name is refused.
        reason: &'static str,
    },
    /// A known path with a method other than GET or HEAD.
    MethodNotAllowed,
    /// Anything else.
    NotFound,
}

/// Routes a request. `url` is the raw request target; its query string is ignored, except for
/// `window` on `/history`.
pub fn route(method: &str, url: &str) -> Route {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    // A server must accept the absolute form `http://host/path` too (RFC 9112 §3.2.2).
    let path = strip_scheme_and_authority(path);
    let route = match path {
        "/" => Route::Dashboard,
        "/api/v1/interfaces" => Route::Interfaces,
        "/health" => Route::Health,
        "/openapi.yaml" => Route::OpenApi,
        "/metrics" => Route::Metrics,
        "/docs" => Route::Docs,
        _ if path.starts_with("/docs/") => match docs_asset(path) {
            Some(name) => Route::DocsAsset { name: name.into() },
            None => return Route::NotFound,
        },
        _ => match path
            .strip_prefix(INTERFACE_PREFIX)
            .and_then(|rest| rest.split_once('/'))
        {
            Some((segment, "stats")) => match interface_name(segment) {
                Ok(name) => Route::InterfaceStats { name },
                Err(reason) => Route::InvalidName { reason },
            },
            Some((segment, "usage")) => match interface_name(segment) {
                Ok(name) => Route::InterfaceUsage { name },
                Err(reason) => Route::InvalidName { reason },
            },
            Some((segment, "history")) => match (interface_name(segment), history_window(query)) {
                (Err(reason), _) => Route::InvalidName { reason },
                (Ok(_), None) => Route::InvalidWindow,
                (Ok(name), Some(window_seconds)) => Route::InterfaceHistory {
                    name,
                    window_seconds,
                },
            },
            _ => return Route::NotFound,
        },
    };
    match method {
        "GET" | "HEAD" => route,
        _ => Route::MethodNotAllowed,
    }
}

/// The name of the `/docs/<name>` file this build serves, if `path` is one.
fn docs_asset(path: &str) -> Option<&str> {
    path.strip_prefix("/docs/")
        .filter(|name| docs::asset(name).is_some())
}

/// `http://host:port/path` -> `/path`; any other target is returned as it is.
fn strip_scheme_and_authority(target: &str) -> &str {
    let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    else {
        return target;
    };
    rest.find('/').map_or("/", |slash| &rest[slash..])
}

/// The `window` of a `/history` query: absent means the default; a value other than 1m, 5m,
/// 15m or 60m (or a malformed one) is `None`. Other parameters are ignored.
fn history_window(query: &str) -> Option<u32> {
    let value = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("window="));
    match value {
        None => Some(DEFAULT_HISTORY_WINDOW),
        Some(value) => HISTORY_WINDOWS
            .iter()
            .find(|(text, _)| *text == value)
            .map(|&(_, seconds)| seconds),
    }
}

/// The interface name a path segment stands for, or why it cannot be one.
fn interface_name(segment: &str) -> Result<String, &'static str> {
    if segment.contains('/') {
        return Err(
            "not a Linux interface name (1 to 15 bytes, not . or .., no /, whitespace or NUL)",
        );
    }
    let bytes = percent_decode(segment).ok_or("malformed percent-encoding")?;
    // Names are matched as the sampler stores them: bytes that are not UTF-8 become U+FFFD.
    let name = String::from_utf8_lossy(&bytes);
    if !is_valid_name(&name) {
        return Err(
            "not a Linux interface name (1 to 15 bytes, not . or .., no /, whitespace or NUL)",
        );
    }
    Ok(name.into_owned())
}

/// Decodes `%XX` escapes; `None` for a `%` not followed by two hex digits.
pub fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let high = hex_digit(bytes.next()?)?;
            let low = hex_digit(bytes.next()?)?;
            out.push(high << 4 | low);
        } else {
            out.push(byte);
        }
    }
    Some(out)
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn stats(name: &str) -> Route {
        Route::InterfaceStats { name: name.into() }
    }

    fn history(name: &str, window_seconds: u32) -> Route {
        Route::InterfaceHistory {
            name: name.into(),
            window_seconds,
        }
    }

    #[rstest]
    #[case::plain("GET", "/api/v1/interface/eth0/stats", stats("eth0"))]
    #[case::head("HEAD", "/api/v1/interface/eth0/stats", stats("eth0"))]
    #[case::query_ignored("GET", "/api/v1/interface/lo/stats?x=1", stats("lo"))]
    #[case::vlan("GET", "/api/v1/interface/eth0.2/stats", stats("eth0.2"))]
    #[case::dash("GET", "/api/v1/interface/br-lan/stats", stats("br-lan"))]
    #[case::legacy_colon("GET", "/api/v1/interface/team0:1/stats", stats("team0:1"))]
    #[case::encoded_colon("GET", "/api/v1/interface/team0%3A1/stats", stats("team0:1"))]
    #[case::at_sign("GET", "/api/v1/interface/a%40b/stats", stats("a@b"))]
    #[case::fifteen_bytes(
        "GET",
        "/api/v1/interface/abcdefghijklmno/stats",
        stats("abcdefghijklmno")
    )]
    #[case::non_utf8("GET", "/api/v1/interface/w%FFlan/stats", stats("w\u{FFFD}lan"))]
    #[case::list("GET", "/api/v1/interfaces", Route::Interfaces)]
    #[case::health("HEAD", "/health", Route::Health)]
    #[case::health_query("GET", "/health?verbose", Route::Health)]
    #[case::spec("GET", "/openapi.yaml", Route::OpenApi)]
    #[case::absolute_form("GET", "http://192.0.2.1:9310/health", Route::Health)]
    #[case::absolute_form_stats("GET", "http://router/api/v1/interface/lo/stats", stats("lo"))]
    #[case::absolute_form_root("GET", "http://router", Route::Dashboard)]
    #[case::metrics("GET", "/metrics", Route::Metrics)]
    #[case::dashboard("GET", "/", Route::Dashboard)]
    #[case::history_default("GET", "/api/v1/interface/lo/history", history("lo", 900))]
    #[case::history_1m("GET", "/api/v1/interface/lo/history?window=1m", history("lo", 60))]
    #[case::history_60m(
        "HEAD",
        "/api/v1/interface/eth0/history?x=1&window=60m",
        history("eth0", 3600)
    )]
    #[case::history_bad_window(
        "GET",
        "/api/v1/interface/lo/history?window=2h",
        Route::InvalidWindow
    )]
    #[case::history_empty_window(
        "GET",
        "/api/v1/interface/lo/history?window=",
        Route::InvalidWindow
    )]
    #[case::docs("GET", "/docs", Route::Docs)]
    #[case::usage(
        "GET",
        "/api/v1/interface/pppoe-wan/usage",
        Route::InterfaceUsage { name: "pppoe-wan".into() }
    )]
    #[case::usage_head(
        "HEAD",
        "/api/v1/interface/lo/usage?x",
        Route::InterfaceUsage { name: "lo".into() }
    )]

    fn good_routes(#[case] method: &str, #[case] url: &str, #[case] expected: Route) {
        assert_eq!(route(method, url), expected);
    }

    #[rstest]
    #[case::sixteen_bytes("/api/v1/interface/abcdefghijklmnop/stats")]
    #[case::empty("/api/v1/interface//stats")]
    #[case::dot("/api/v1/interface/./stats")]
    #[case::dot_dot("/api/v1/interface/../stats")]
    #[case::encoded_dot_dot("/api/v1/interface/%2E%2E/stats")]
    #[case::encoded_slash("/api/v1/interface/a%2Fb/stats")]
    #[case::nul("/api/v1/interface/eth%000/stats")]
    #[case::space("/api/v1/interface/eth%200/stats")]
    #[case::tab("/api/v1/interface/eth%090/stats")]
    #[case::bad_escape("/api/v1/interface/eth%G0/stats")]
    #[case::short_escape("/api/v1/interface/eth%4/stats")]
    #[case::lone_percent("/api/v1/interface/%/stats")]
    #[case::usage_sixteen_bytes("/api/v1/interface/abcdefghijklmnop/usage")]
    fn invalid_names(#[case] url: &str) {
        assert!(
            matches!(route("GET", url), Route::InvalidName { .. }),
            "{url}: {:?}",
            route("GET", url)
        );
    }

    #[rstest]
    #[case::trailing_slash("/api/v1/interfaces/")]
    #[case::two_segments("/api/v1/interface/a/b/stats")]
    #[case::no_suffix("/api/v1/interface/eth0")]
    #[case::other_suffix("/api/v1/interface/eth0/rates")]
    #[case::case_matters("/HEALTH")]
    #[case::empty("")]
    fn unknown_paths(#[case] url: &str) {
        assert_eq!(route("GET", url), Route::NotFound);
        assert_eq!(route("DELETE", url), Route::NotFound);
    }

    #[rstest]
    #[case::post("POST")]
    #[case::put("PUT")]
    #[case::delete("DELETE")]
    #[case::options("OPTIONS")]
    #[case::trace("TRACE")]
    #[case::lowercase_get("get")]
    #[case::made_up("FOO")]
    fn other_methods_on_known_paths(#[case] method: &str) {
        for url in [
            "/health",
            "/api/v1/interfaces",
            "/openapi.yaml",
            "/api/v1/interface/lo/stats",
            "/api/v1/interface/lo/usage",
        ] {
            assert_eq!(
                route(method, url),
                Route::MethodNotAllowed,
                "{method} {url}"
            );
        }
        // The method is refused before the name is looked at.
        assert_eq!(
            route(method, "/api/v1/interface/%/stats"),
            Route::MethodNotAllowed
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2fb%2F"), Some(b"a/b/".to_vec()));
        assert_eq!(percent_decode("%e2%82%ac"), Some("€".as_bytes().to_vec()));
        assert_eq!(percent_decode("100%"), None);
        assert_eq!(percent_decode("%+1"), None);
    }
}
