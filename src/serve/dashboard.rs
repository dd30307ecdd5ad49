//! PURE: the live dashboard at `/`: one page of plain HTML, CSS and JavaScript, embedded, with no
//! external assets. It reads `/api/v1/interfaces`, `/history` and `/usage` every 5 seconds and draws its
//! chart as SVG with its own code.
//!
//! # What it shows
//!
//! Open `http://127.0.0.1:9310/` in a browser: one page embedded in the binary (17 KB, no external
//! assets, no build step), refreshed every 5 seconds. A card per interface shows up/down and uptime,
//! the current RX and TX rates, the 1/5/15-minute averages, totals, packets, errors and drops (in red
//! when they moved since the last refresh), resets, wraps, glitches and renames; the link's speed
//! and the share of it each rate uses, where the speed is known; a vanished interface is greyed out
//! and marked, and a renamed one says where its history went. A banner names the interfaces a flow
//! offload covers (their counters may miss forwarded traffic). Above them, a chart of RX and TX over the last 15 minutes (60 on demand) for the chosen
//! interface (click a card; the busiest by default), in bit/s or B/s, with a read-out under the
//! pointer or finger; missing samples are left as gaps; the link's speed is a dashed ceiling line
//! (only labelled when the traffic stays under a twentieth of it, not to flatten the traffic).
//! Under it, the same interface's usage (`/usage`): today, this month, and the billing cycle
//! against its quota as a bar with the projection to the cycle's end, and the last 31 days as
//! stacked RX and TX bars. When the daemon cannot be reached the page says so and recovers by
//! itself. It follows the system's light or dark mode and fits a phone.
//!
//! `make test` loads it in headless Chromium and leaves desktop and phone screenshots in
//! `target/dashboard-desktop.png` and `target/dashboard-phone.png`.

/// The page's source, `src/serve/dashboard.html`, for the tests (the binary embeds only
/// [`PAGE_DEFLATED`]).
pub const PAGE: &str = include_str!("dashboard.html");

/// [`PAGE`] deflated by build.rs, inflated per request by `api` into the reply at `/`.
pub const PAGE_DEFLATED: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/dashboard.html.deflate"));

/// The page's `Content-Type`.
pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";

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
        assert!(PAGE.contains("/usage`"));
    }
}
