//! PURE: the live dashboard at `/`: one page of plain HTML, CSS and JavaScript, embedded, with no
//! external assets. It reads `/api/v1/interfaces` and `/history` every 5 seconds and draws its
//! chart as SVG with its own code.

use crate::serve::docs::Asset;

/// The page's source, `src/dashboard.html`.
pub const PAGE: &str = include_str!("dashboard.html");

/// The page at `/`.
pub fn page() -> Asset {
    Asset {
        content_type: "text/html; charset=utf-8",
        body: PAGE.as_bytes(),
        gzipped: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_small_and_self_contained() {
        assert!(PAGE.len() < 40 * 1024, "{} bytes", PAGE.len());
        // Nothing is loaded from elsewhere (the SVG namespace is a name, not a load).
        for external in [
            "src=\"http",
            "href=\"http",
            "url(http",
            "src=\"//",
            "href=\"//",
        ] {
            assert!(!PAGE.contains(external), "{external} in the page");
        }
        assert!(PAGE.contains("/api/v1/interfaces") && PAGE.contains("/history?window="));
    }
}
