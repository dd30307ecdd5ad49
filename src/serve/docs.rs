//! PURE: `/docs`, Swagger UI over `/openapi.yaml`. With the `swagger-ui` feature the page and its
//! two assets are embedded (the assets gzipped, as `build.rs` fetched them); without it, `/docs`
//! is a short page that says how to get it.
//!
//! `make run` builds with the cargo feature `swagger-ui`: `/docs` shows Swagger UI over
//! `/openapi.yaml`, with its two assets fetched from the npm package `swagger-ui-dist` (5.35.0) at
//! build time, gzipped and embedded (+470 KB), so it works with no internet on the router; its
//! Apache-2.0 `LICENSE` and `NOTICE` are served at `/docs/LICENSE` and `/docs/NOTICE`. The default
//! build (`make release`, for routers) leaves it out and `/docs` says how to get it.

/// A static file the daemon serves.
pub struct Asset {
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes, as sent.
    pub body: &'static [u8],
    /// Whether the bytes are gzipped (`Content-Encoding: gzip`).
    pub gzipped: bool,
}

/// The page at `/docs`.
pub fn page() -> Asset {
    Asset {
        content_type: "text/html; charset=utf-8",
        body: PAGE.as_bytes(),
        gzipped: false,
    }
}

/// The file `/docs/<name>`, if there is one.
pub fn asset(name: &str) -> Option<Asset> {
    assets::find(name)
}

#[cfg(feature = "swagger-ui")]
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ifstatsd API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: "/openapi.yaml", dom_id: "#ui", deepLinking: true });</script>
<p style="font: 12px sans-serif; margin: 1em">Swagger UI is Apache-2.0 licensed:
<a href="/docs/LICENSE">LICENSE</a>, <a href="/docs/NOTICE">NOTICE</a>.</p>
</body>
</html>
"##;

#[cfg(not(feature = "swagger-ui"))]
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ifstatsd API</title></head>
<body style="font: 16px sans-serif; max-width: 40em; margin: 2em auto">
<h1>ifstatsd API</h1>
<p>This build has no Swagger UI, to keep the binary small for routers. The API is described
in <a href="/openapi.yaml">/openapi.yaml</a> (OpenAPI 3.0.3): open it in any OpenAPI viewer.</p>
<p>To serve Swagger UI here, build with <code>cargo build --release --features swagger-ui</code>
(or run <code>make run</code>): it adds about 470 KB.</p>
</body>
</html>
"##;

#[cfg(feature = "swagger-ui")]
mod assets {
    use super::Asset;

    macro_rules! out_dir_file {
        ($name:literal) => {
            include_bytes!(concat!(env!("OUT_DIR"), "/", $name))
        };
    }

    pub fn find(name: &str) -> Option<Asset> {
        let (content_type, body, gzipped): (_, &'static [u8], _) = match name {
            "swagger-ui-bundle.js" => (
                "text/javascript; charset=utf-8",
                out_dir_file!("swagger-ui-bundle.js.gz"),
                true,
            ),
            "swagger-ui.css" => (
                "text/css; charset=utf-8",
                out_dir_file!("swagger-ui.css.gz"),
                true,
            ),
            "LICENSE" => (
                "text/plain; charset=utf-8",
                out_dir_file!("swagger-ui-LICENSE"),
                false,
            ),
            "NOTICE" => (
                "text/plain; charset=utf-8",
                out_dir_file!("swagger-ui-NOTICE"),
                false,
            ),
            _ => return None,
        };
        Some(Asset {
            content_type,
            body,
            gzipped,
        })
    }
}

#[cfg(not(feature = "swagger-ui"))]
mod assets {
    use super::Asset;

    pub fn find(_name: &str) -> Option<Asset> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_points_at_the_spec() {
        let page = std::str::from_utf8(page().body).unwrap();
        assert!(page.contains("/openapi.yaml"));
        assert!(asset("../Cargo.toml").is_none());
        if cfg!(feature = "swagger-ui") {
            assert!(asset("swagger-ui-bundle.js").is_some_and(|a| a.gzipped));
            assert!(asset("LICENSE").is_some_and(|a| !a.body.is_empty()));
        } else {
            assert!(page.contains("--features swagger-ui"));
            assert!(asset("swagger-ui-bundle.js").is_none());
        }
    }
}
