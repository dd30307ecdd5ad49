//! The HTTP side against a real server in this process, with real requests over TCP: every route,
//! status, header and error path, HEAD, keep-alive and pipelining, and how the request loop ends.
//!
//! The view is built by feeding `Stats` samples with known counters, 10 s apart, so every counter,
//! rate, window and timestamp the server answers with is known exactly. The client is a few lines
//! of raw HTTP/1.1 over `TcpStream`, with a read timeout so that a hang fails instead of blocking.

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use ifstatsd::sample::proc_net_dev::{Counters, ParseError, ParseErrorKind};
use ifstatsd::sample::snapshot::{InterfaceSample, LinkInfo, OperState, Sample, Snapshot};
use ifstatsd::serve;
use ifstatsd::serve::api::{self, Clock, ViewCache, OPENAPI_YAML};
use ifstatsd::serve::routes;
use ifstatsd::stats::view::{SharedView, StatsView};
use ifstatsd::stats::Stats;
use rstest::rstest;
use serde_json::{json, Value};
use support::{fetch, request_text, Client, Response, IO_TIMEOUT};

/// The sampling interval of every view built here.
const INTERVAL: Duration = Duration::from_secs(10);
/// The `source` the statistics report.
const SOURCE: &str = "/test/proc/net/dev";

// ---------------------------------------------------------------------------------------------
// A server in this process.

/// `serve::serve` on 127.0.0.1:0 in a thread; stopped (flag, then unblock) and joined when dropped,
/// asserting that the loop returned `Ok`.
struct TestServer {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    shared: Arc<SharedView>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl TestServer {
    /// Serves `view`, as a daemon started at `started`.
    fn start(view: StatsView, started: Instant) -> TestServer {
        let server = Arc::new(serve::bind("127.0.0.1:0".parse().unwrap()).expect("bind port 0"));
        let addr = serve::local_addr(&server).expect("an IP address");
        let shared = Arc::new(SharedView::new(view));
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = thread::spawn({
            let (server, shared, stopping) = (server.clone(), shared.clone(), stopping.clone());
            move || serve::serve(&server, &shared, started, &stopping)
        });
        TestServer {
            addr,
            server,
            shared,
            stopping,
            thread: Some(thread),
        }
    }

    /// The standard view (see [`standard_samples`]), its last sample taken 1 s ago.
    fn standard() -> TestServer {
        let (stats, started) = stats_after(standard_samples(), Duration::from_secs(1));
        TestServer::start(stats.view(), started)
    }

    fn fetch(&self, method: &str, target: &str) -> Response {
        fetch(self.addr, method, target)
    }

    fn get(&self, target: &str) -> Response {
        self.fetch("GET", target)
    }

    /// Ends the loop the way the signal thread does, and returns what `serve` returned.
    fn stop(mut self) -> io::Result<()> {
        self.stopping.store(true, Ordering::SeqCst);
        self.server.unblock();
        let thread = self.thread.take().expect("not stopped yet");
        thread.join().expect("the request loop did not panic")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stopping.store(true, Ordering::SeqCst);
            self.server.unblock();
            let ended = thread.join();
            if !thread::panicking() {
                assert!(
                    matches!(ended, Ok(Ok(()))),
                    "the request loop ended with {ended:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Samples with known counters.

/// The wall time of sample `k`: sample 0 is 2027-01-15T08:00:00.123Z.
fn wall(k: u32) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123) + INTERVAL * k
}

fn iface(
    name: &str,
    c: [u64; 8],
    ifindex: Option<u32>,
    state: Option<OperState>,
) -> InterfaceSample {
    InterfaceSample {
        name: name.to_owned(),
        counters: Counters::from_array(c),
        ifindex,
        oper_state: state,
        speed_mbps: None,
        link: LinkInfo::default(),
    }
}

fn snapshot(interfaces: Vec<InterfaceSample>) -> Result<Snapshot, String> {
    Ok(Snapshot {
        interfaces,
        ..Snapshot::default()
    })
}

/// `Instant::now() - ago`, which the monotonic clock may not reach back to just after boot.
fn instant_ago(ago: Duration) -> Instant {
    Instant::now()
        .checked_sub(ago)
        .unwrap_or_else(|| panic!("the monotonic clock does not reach back {ago:?}"))
}

/// Statistics after `samples` (one per [`INTERVAL`], sample `k` at wall time [`wall`]`(k)`), the
/// last one taken `age` before now; and the instant of the first sample, as the daemon's start.
fn stats_after(samples: Vec<Result<Snapshot, String>>, age: Duration) -> (Stats, Instant) {
    let steps = u32::try_from(samples.len()).unwrap().saturating_sub(1);
    let first = instant_ago(age + INTERVAL * steps);
    let mut stats = Stats::new(SOURCE, INTERVAL);
    for (k, result) in (0..).zip(samples) {
        stats.apply(Sample {
            taken_at: first + INTERVAL * k,
            wall: wall(k),
            result,
        });
    }
    (stats, first)
}

/// rx bytes counted by eth0 after sample `k`: 100, 100, 200, 200, 300, 300, 400, 400 B/s over
/// the eight intervals.
const ETH0_RX: [u64; 9] = [0, 1000, 2000, 4000, 6000, 9000, 12_000, 16_000, 20_000];

/// A large counter, to see that u64 values reach the client exactly.
const BIG: u64 = u64::MAX - 1;

/// Nine samples, 10 s apart (80 s), listed out of name order:
/// - `eth0` (ifindex 2, up): rx bytes per [`ETH0_RX`] on top of 1 000 000, rx packets 1 per
///   100 B, 1 rx error and 2 tx drops per interval; tx half the rx bytes and packets.
/// - `lo` (ifindex 1, unknown) idle with large counters; `team0:1` idle, no sysfs data;
///   `eth1` (ifindex 3) down and idle.
/// - `wg0` (ifindex 9, up) is in samples 0 and 1 only: 100 B/s rx, 200 B/s tx between them.
fn standard_samples() -> Vec<Result<Snapshot, String>> {
    (0..9u64)
        .map(|k| {
            let rx = ETH0_RX[k as usize];
            let eth0 = [
                1_000_000 + rx,
                rx / 100,
                k,
                0,
                1_000_000 + rx / 2,
                rx / 200,
                0,
                2 * k,
            ];
            let mut interfaces = vec![];
            if k < 2 {
                let wg0 = [
                    100 + 1000 * k,
                    1 + 10 * k,
                    0,
                    0,
                    200 + 2000 * k,
                    2 + 20 * k,
                    0,
                    0,
                ];
                interfaces.push(iface("wg0", wg0, Some(9), Some(OperState::Up)));
            }
            interfaces.extend([
                iface("team0:1", [7, 7, 0, 0, 7, 7, 0, 0], None, None),
                iface(
                    "lo",
                    [BIG, 5, 0, 0, BIG, 5, 0, 0],
                    Some(1),
                    Some(OperState::Unknown),
                ),
                iface("eth1", [0; 8], Some(3), Some(OperState::Down)),
                iface("eth0", eth0, Some(2), Some(OperState::Up)),
            ]);
            snapshot(interfaces)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Expected bodies.

fn counters(c: [u64; 8]) -> Value {
    json!({
        "rx_bytes": c[0], "rx_packets": c[1], "rx_errors": c[2], "rx_dropped": c[3],
        "tx_bytes": c[4], "tx_packets": c[5], "tx_errors": c[6], "tx_dropped": c[7],
        "rx_fifo": 0, "rx_frame": 0, "rx_compressed": 0, "rx_multicast": 0,
        "tx_fifo": 0, "tx_colls": 0, "tx_carrier": 0, "tx_compressed": 0,
    })
}

/// The link attributes of a sample without any.
fn no_link() -> Value {
    json!({
        "speed_mbps": null, "duplex": null, "mtu_bytes": null, "carrier": null,
        "address": null, "broadcast": null, "alias": null,
    })
}

fn rate(window: f64, covered: f64, r: [f64; 8]) -> Value {
    json!({
        "window_seconds": window, "covered_seconds": covered,
        "rx_bytes_per_sec": r[0], "rx_packets_per_sec": r[1],
        "rx_errors_per_sec": r[2], "rx_dropped_per_sec": r[3],
        "tx_bytes_per_sec": r[4], "tx_packets_per_sec": r[5],
        "tx_errors_per_sec": r[6], "tx_dropped_per_sec": r[7],
        "rx_utilisation": null, "tx_utilisation": null,
    })
}

/// The rates of an idle interface seen in all nine samples.
fn idle_rates() -> Value {
    json!({
        "current": rate(10.0, 10.0, [0.0; 8]),
        "avg_1m": rate(60.0, 60.0, [0.0; 8]),
        "avg_5m": rate(300.0, 80.0, [0.0; 8]),
        "avg_15m": rate(900.0, 80.0, [0.0; 8]),
    })
}

fn no_events() -> Value {
    json!({"resets": 0, "wraps": 0, "glitches": 0, "renames": 0})
}

/// What the standard view serves for each interface, worked out by hand.
fn expected(name: &str) -> Value {
    match name {
        "eth0" => json!({
            "interface": "eth0", "present": true, "updated_at": "2027-01-15T08:01:20.123Z",
            "uptime_seconds": 80.0, "up_since": "2027-01-15T08:00:00.123Z",
            "uptime_is_lower_bound": true, "sample_interval_seconds": 10.0,
            "ifindex": 2, "oper_state": "up", "link_speed_bits_per_sec": null, "link": no_link(),
            "renamed_from": null, "renamed_to": null,
            "counters": counters([1_020_000, 200, 8, 0, 1_010_000, 100, 0, 16]),
            "rates": {
                // The last interval: 4000 B in 10 s.
                "current": rate(10.0, 10.0, [400.0, 4.0, 0.1, 0.0, 200.0, 2.0, 0.0, 0.2]),
                // 60 s + half an interval reaches back to 15 s: the six intervals from 20 s.
                "avg_1m": rate(60.0, 60.0, [300.0, 3.0, 0.1, 0.0, 150.0, 1.5, 0.0, 0.2]),
                // Not full: the 80 s there are.
                "avg_5m": rate(300.0, 80.0, [250.0, 2.5, 0.1, 0.0, 125.0, 1.25, 0.0, 0.2]),
                "avg_15m": rate(900.0, 80.0, [250.0, 2.5, 0.1, 0.0, 125.0, 1.25, 0.0, 0.2]),
            },
            "events": no_events(),
        }),
        "eth1" => json!({
            "interface": "eth1", "present": true, "updated_at": "2027-01-15T08:01:20.123Z",
            "uptime_seconds": null, "up_since": null, "uptime_is_lower_bound": false,
            "sample_interval_seconds": 10.0, "ifindex": 3, "oper_state": "down", "link_speed_bits_per_sec": null, "link": no_link(),
            "renamed_from": null, "renamed_to": null,
            "counters": counters([0; 8]), "rates": idle_rates(), "events": no_events(),
        }),
        "lo" => json!({
            "interface": "lo", "present": true, "updated_at": "2027-01-15T08:01:20.123Z",
            "uptime_seconds": 80.0, "up_since": "2027-01-15T08:00:00.123Z",
            "uptime_is_lower_bound": true, "sample_interval_seconds": 10.0,
            "ifindex": 1, "oper_state": "unknown", "link_speed_bits_per_sec": null, "link": no_link(),
            "renamed_from": null, "renamed_to": null,
            "counters": counters([BIG, 5, 0, 0, BIG, 5, 0, 0]),
            "rates": idle_rates(), "events": no_events(),
        }),
        "team0:1" => json!({
            "interface": "team0:1", "present": true, "updated_at": "2027-01-15T08:01:20.123Z",
            "uptime_seconds": 80.0, "up_since": "2027-01-15T08:00:00.123Z",
            "uptime_is_lower_bound": true, "sample_interval_seconds": 10.0,
            "ifindex": null, "oper_state": null, "link_speed_bits_per_sec": null, "link": no_link(),
            "renamed_from": null, "renamed_to": null,
            "counters": counters([7, 7, 0, 0, 7, 7, 0, 0]),
            "rates": idle_rates(), "events": no_events(),
        }),
        // Gone since sample 2: its last data, no uptime (so no lower bound either), no current
        // rate, no link (ifindex, operstate and link are null while it is absent), and windows in which its absence counts as covered with no traffic: the
        // 1-minute window is all absence, the others hold its one interval and 70 s of absence.
        "wg0" => json!({
            "interface": "wg0", "present": false, "updated_at": "2027-01-15T08:00:10.123Z",
            "uptime_seconds": null, "up_since": null, "uptime_is_lower_bound": false,
            "sample_interval_seconds": 10.0, "ifindex": null, "oper_state": null, "link_speed_bits_per_sec": null, "link": null,
            "renamed_from": null, "renamed_to": null,
            "counters": counters([1100, 11, 0, 0, 2200, 22, 0, 0]),
            "rates": {
                "current": null,
                "avg_1m": rate(60.0, 60.0, [0.0; 8]),
                "avg_5m": rate(300.0, 80.0, [12.5, 0.125, 0.0, 0.0, 25.0, 0.25, 0.0, 0.0]),
                "avg_15m": rate(900.0, 80.0, [12.5, 0.125, 0.0, 0.0, 25.0, 0.25, 0.0, 0.0]),
            },
            "events": no_events(),
        }),
        _ => unreachable!("{name}"),
    }
}

/// The exact error body, status and headers of an error response.
fn assert_error(response: &Response, status: u16, code: &str, message: &str) {
    let body = String::from_utf8_lossy(&response.body);
    assert_eq!(response.status, status, "{body}");
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(
        response.json(),
        json!({"error": {"status": status, "code": code, "message": message}})
    );
    if status != 405 {
        assert_eq!(response.header("allow"), None);
    }
}

const NOT_FOUND: &str = "no such route; see /openapi.yaml";
const MALFORMED: &str = "invalid interface name: malformed percent-encoding";
const NOT_LINUX: &str =
    "invalid interface name: not a Linux interface name (1 to 15 bytes, not . or .., no /, whitespace or NUL)";

fn stats_path(name: &str) -> String {
    format!("/api/v1/interface/{name}/stats")
}

// ---------------------------------------------------------------------------------------------
// One interface.

#[rstest]
#[case::busy("eth0")]
#[case::down("eth1")]
#[case::large_counters("lo")]
#[case::no_sysfs("team0:1")]
#[case::vanished("wg0")]
fn an_interface_is_served_with_its_exact_counters_rates_and_times(#[case] name: &str) {
    let server = TestServer::standard();
    let response = server.get(&stats_path(name));
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(response.header("allow"), None);
    assert_eq!(response.content_length(), response.body.len());
    assert_eq!(response.json(), expected(name));
}

#[rstest]
#[case::encoded_colon("team0%3A1", "team0:1")]
#[case::encoded_colon_lower_case_hex("team0%3a1", "team0:1")]
#[case::raw_colon("team0:1", "team0:1")]
#[case::every_byte_encoded("%6C%6F", "lo")]
#[case::one_letter_encoded("%65th0", "eth0")]
fn names_are_percent_decoded(#[case] segment: &str, #[case] name: &str) {
    let server = TestServer::standard();
    let response = server.get(&stats_path(segment));
    assert_eq!(response.status, 200, "{segment}");
    assert_eq!(response.json(), expected(name));
}

#[rstest]
#[case::unknown("nope0", "nope0")]
#[case::case_sensitive("ETH0", "ETH0")]
#[case::prefix_of_a_known_name("eth", "eth")]
#[case::known_name_as_a_prefix("eth00", "eth00")]
#[case::fifteen_bytes_is_valid("abcdefghijklmno", "abcdefghijklmno")]
#[case::encoded("n%6Fpe0", "nope0")]
#[case::quote_escaped_in_the_message("a%22b", "a\\\"b")]
fn an_unknown_interface_gets_404_interface_not_found(#[case] segment: &str, #[case] shown: &str) {
    let server = TestServer::standard();
    let message = format!("no interface \"{shown}\" has been seen in the last 60 minutes");
    assert_error(
        &server.get(&stats_path(segment)),
        404,
        "interface_not_found",
        &message,
    );
}

#[rstest]
#[case::encoded_slash("%2F", NOT_LINUX)]
#[case::encoded_slash_inside("eth%2F0", NOT_LINUX)]
#[case::dot_dot("..", NOT_LINUX)]
#[case::encoded_dot_dot("%2E%2E", NOT_LINUX)]
#[case::dot(".", NOT_LINUX)]
#[case::nul("%00", NOT_LINUX)]
#[case::nul_inside("eth%000", NOT_LINUX)]
#[case::space("eth%200", NOT_LINUX)]
#[case::tab("eth%09", NOT_LINUX)]
#[case::newline("eth%0A", NOT_LINUX)]
#[case::sixteen_bytes("abcdefghijklmnop", NOT_LINUX)]
#[case::sixteen_bytes_once_decoded("%C3%A4bcdefghijklmno", NOT_LINUX)]
#[case::empty("", NOT_LINUX)]
#[case::not_hex("eth%G0", MALFORMED)]
#[case::one_digit("eth%4", MALFORMED)]
#[case::lone_percent("%", MALFORMED)]
#[case::percent_at_the_end("eth0%", MALFORMED)]
fn a_name_linux_cannot_have_gets_400_invalid_interface_name(
    #[case] segment: &str,
    #[case] message: &str,
) {
    let server = TestServer::standard();
    let target = stats_path(segment);
    assert_error(&server.get(&target), 400, "invalid_interface_name", message);
    // A query string changes nothing.
    assert_error(
        &server.get(&format!("{target}?x=1")),
        400,
        "invalid_interface_name",
        message,
    );
}

// ---------------------------------------------------------------------------------------------
// Other routes.

#[test]
fn the_list_holds_every_interface_sorted_by_name_as_served_one_by_one() {
    let server = TestServer::standard();
    let response = server.get("/api/v1/interfaces");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let names = ["eth0", "eth1", "lo", "team0:1", "wg0"];
    assert_eq!(
        response.json(),
        json!({
            "updated_at": "2027-01-15T08:01:20.123Z",
            "interfaces": names.map(expected),
        })
    );
    for name in names {
        let one = server.get(&stats_path(&name.replace(':', "%3A"))).json();
        assert_eq!(one, expected(name));
    }
}

#[test]
fn the_openapi_document_is_served_as_yaml() {
    let server = TestServer::standard();
    let response = server.get("/openapi.yaml");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/yaml"));
    assert_eq!(response.content_length(), OPENAPI_YAML.len());
    assert_eq!(response.body, OPENAPI_YAML.as_bytes());
}

#[rstest]
#[case::empty_path("")]
#[case::list_trailing_slash("/api/v1/interfaces/")]
#[case::health_trailing_slash("/health/")]
#[case::spec_trailing_slash("/openapi.yaml/")]
#[case::stats_trailing_slash("/api/v1/interface/eth0/stats/")]
#[case::no_stats_suffix("/api/v1/interface/eth0")]
#[case::no_stats_suffix_trailing_slash("/api/v1/interface/eth0/")]
#[case::no_name("/api/v1/interface/stats")]
#[case::two_segments("/api/v1/interface/eth0/x/stats")]
#[case::other_suffix("/api/v1/interface/eth0/rates")]
#[case::singular_list("/api/v1/interface")]
#[case::other_version("/api/v2/interfaces")]
#[case::double_slash("//health")]
#[case::upper_case("/HEALTH")]
#[case::extension("/health.json")]
#[case::encoded_route("/%68ealth")]
#[case::with_query("/nope?x=1")]
fn an_unknown_route_gets_404_not_found(#[case] target: &str) {
    let server = TestServer::standard();
    assert_error(&server.get(target), 404, "not_found", NOT_FOUND);
    // Another method on an unknown route is still 404: there is nothing to allow.
    assert_error(&server.fetch("DELETE", target), 404, "not_found", NOT_FOUND);
}

#[rstest]
#[case::post("POST", "{}")]
#[case::put("PUT", "{\"a\": 1}")]
#[case::patch("PATCH", "[]")]
#[case::delete("DELETE", "")]
#[case::options("OPTIONS", "")]
#[case::trace("TRACE", "")]
#[case::made_up("BREW", "")]
#[case::lower_case_get("get", "")]
fn another_method_on_a_known_route_gets_405_with_allow(#[case] method: &str, #[case] body: &str) {
    let server = TestServer::standard();
    // All on one connection: a request body must not be read as the next request.
    let mut client = Client::connect(server.addr);
    for target in [
        "/health",
        "/api/v1/interfaces",
        "/openapi.yaml",
        "/api/v1/interface/eth0/stats",
        "/api/v1/interface/nope0/stats",
        "/api/v1/interface/%2F/stats",
        "/health?x=1",
    ] {
        client.send(&request_text(method, target, "", body));
        let response = client.receive(false);
        assert_error(
            &response,
            405,
            "method_not_allowed",
            "only GET, HEAD are allowed",
        );
        assert_eq!(
            response.header("allow"),
            Some("GET, HEAD"),
            "{method} {target}"
        );
        assert_eq!(client.request("GET", "/api/v1/interfaces").status, 200);
    }
}

#[rstest]
#[case::stats("/api/v1/interface/eth0/stats", 200)]
#[case::vanished("/api/v1/interface/wg0/stats", 200)]
#[case::list("/api/v1/interfaces", 200)]
#[case::spec("/openapi.yaml", 200)]
#[case::health("/health", 200)]
#[case::unknown_interface("/api/v1/interface/nope0/stats", 404)]
#[case::invalid_name("/api/v1/interface/%2F/stats", 400)]
#[case::unknown_route("/nope", 404)]
fn head_has_the_status_and_headers_of_get_and_no_body(#[case] target: &str, #[case] status: u16) {
    let server = TestServer::standard();
    let get = server.get(target);
    // fetch() asserts that the connection closes with no byte after the headers.
    let head = server.fetch("HEAD", target);
    assert_eq!((get.status, head.status), (status, status));
    for name in ["content-type", "cache-control", "allow"] {
        assert_eq!(head.header(name), get.header(name), "{name}");
    }
    if target == "/health" {
        // Its uptime and age are printed with however many digits they need at that moment.
        let (head, get) = (head.content_length(), get.body.len());
        assert!(
            head.abs_diff(get) <= 16,
            "HEAD says {head} bytes, GET sent {get}"
        );
    } else {
        assert_eq!(head.content_length(), get.body.len());
    }
    // And on a kept-alive connection, the next response follows the headers directly.
    let mut client = Client::connect(server.addr);
    client.send(
        &(request_text("HEAD", target, "", "") + &request_text("GET", "/openapi.yaml", "", "")),
    );
    assert_eq!(client.receive(true).status, status);
    let next = client.receive(false);
    assert_eq!(next.status, 200);
    assert_eq!(next.body, OPENAPI_YAML.as_bytes());
}

#[rstest]
#[case::health("/health")]
#[case::list("/api/v1/interfaces")]
#[case::stats("/api/v1/interface/eth0/stats")]
#[case::spec("/openapi.yaml")]
fn a_query_string_is_ignored(#[case] path: &str) {
    let server = TestServer::standard();
    let plain = server.get(path);
    for query in ["?", "?x=1", "?a=/b&c=%ZZ", "?format=xml#frag"] {
        let target = format!("{path}{query}");
        let response = server.get(&target);
        assert_eq!(response.status, plain.status, "{target}");
        assert_eq!(
            response.header("content-type"),
            plain.header("content-type")
        );
        if path == "/health" {
            let (mut with, mut without) = (response.json(), plain.json());
            for changing in ["uptime_seconds", "last_sample_age_seconds"] {
                with[changing] = Value::Null;
                without[changing] = Value::Null;
            }
            assert_eq!(with, without, "{target}");
        } else {
            assert_eq!(response.body, plain.body, "{target}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Health.

/// The fields of `/health`, as documented.
const HEALTH_FIELDS: [&str; 21] = [
    "status",
    "version",
    "uptime_seconds",
    "source",
    "sample_interval_seconds",
    "last_sample_at",
    "last_sample_age_seconds",
    "samples_total",
    "collection_errors_total",
    "parse_errors_total",
    "interfaces_refused_total",
    "last_error",
    "interfaces",
    "state_file",
    "last_save_at",
    "last_save_error",
    "state_restore_error",
    "restarts_total",
    "last_restart_reason",
    "last_restart_at",
    "offload",
];

/// The persistence fields of `/health` when there is no state file, and its restart fields
/// before any restart.
fn no_persistence_no_restart(mut health: Value) -> Value {
    for field in [
        "state_file",
        "last_save_at",
        "last_save_error",
        "state_restore_error",
        "last_restart_reason",
        "last_restart_at",
        // No snapshot of these tests carries a look at flow offloading.
        "offload",
    ] {
        health[field] = Value::Null;
    }
    health["restarts_total"] = json!(0);
    health
}

/// The health body, checked to have exactly [`HEALTH_FIELDS`], without its two clock readings,
/// which are returned apart: (body, uptime, age of the last success).
fn split_health(response: &Response) -> (Value, f64, Option<f64>) {
    let Value::Object(mut health) = response.json() else {
        panic!("not an object: {}", String::from_utf8_lossy(&response.body));
    };
    let mut fields: Vec<&str> = health.keys().map(String::as_str).collect();
    let mut expected = HEALTH_FIELDS.to_vec();
    fields.sort_unstable();
    expected.sort_unstable();
    assert_eq!(fields, expected);
    let uptime = health.remove("uptime_seconds").and_then(|v| v.as_f64());
    let age = health
        .remove("last_sample_age_seconds")
        .and_then(|v| v.as_f64());
    (
        Value::Object(health),
        uptime.expect("a numeric uptime"),
        age,
    )
}

/// Asserts `value` is at least `low` and, the test being quick, not more than 5 s over it.
fn assert_clock(what: &str, value: f64, low: f64) {
    assert!(
        (low..low + 5.0).contains(&value),
        "{what} = {value}, expected about {low}"
    );
}

/// Health is `ok` up to three intervals (30 s) after the last successful sample, `degraded`
/// with 503 after that; the data is served either way.
#[rstest]
#[case::fresh(1, 200, "ok")]
#[case::two_and_a_half_intervals(25, 200, "ok")]
#[case::just_over_three_intervals(31, 503, "degraded")]
#[case::long_ago(100, 503, "degraded")]
fn health_follows_the_age_of_the_last_success(
    #[case] age_s: u64,
    #[case] status: u16,
    #[case] word: &str,
) {
    let (stats, started) = stats_after(standard_samples(), Duration::from_secs(age_s));
    let server = TestServer::start(stats.view(), started);
    let response = server.get("/health");
    assert_eq!(response.status, status);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let (health, uptime, age) = split_health(&response);
    assert_eq!(
        health,
        no_persistence_no_restart(json!({
            "status": word,
            "version": env!("CARGO_PKG_VERSION"),
            "source": SOURCE,
            "sample_interval_seconds": 10.0,
            "last_sample_at": "2027-01-15T08:01:20.123Z",
            "samples_total": 9,
            "collection_errors_total": 0,
            "parse_errors_total": 0,
            "interfaces_refused_total": 0,
            "last_error": null,
            "interfaces": 5,
        }))
    );
    // The daemon "started" at the first sample, 80 s before the last.
    assert_clock("uptime_seconds", uptime, 80.0 + age_s as f64);
    assert_clock("last_sample_age_seconds", age.unwrap(), age_s as f64);
    assert_eq!(server.fetch("HEAD", "/health").status, status);
    assert_eq!(
        server.get("/api/v1/interface/eth0/stats").json(),
        expected("eth0")
    );
}

#[test]
fn health_without_any_successful_sample_is_degraded() {
    let error = "cannot read /test/proc/net/dev: No such file or directory (os error 2)";
    let (stats, started) = stats_after(vec![Err(error.into()), Err(error.into())], Duration::ZERO);
    let server = TestServer::start(stats.view(), started);
    let response = server.get("/health");
    assert_eq!(response.status, 503);
    let (health, uptime, age) = split_health(&response);
    assert_eq!(
        health,
        no_persistence_no_restart(json!({
            "status": "degraded",
            "version": env!("CARGO_PKG_VERSION"),
            "source": SOURCE,
            "sample_interval_seconds": 10.0,
            "last_sample_at": null,
            "samples_total": 0,
            "collection_errors_total": 2,
            "parse_errors_total": 0,
            "interfaces_refused_total": 0,
            "last_error": error,
            "interfaces": 0,
        }))
    );
    assert_clock("uptime_seconds", uptime, 10.0);
    assert_eq!(age, None);
    let list = server.get("/api/v1/interfaces");
    assert_eq!(list.status, 200);
    // A state the daemon never serves (its first sample succeeds before it listens), so the
    // list's time, never null in the contract, falls back to the epoch.
    assert_eq!(
        list.json(),
        json!({"updated_at": "1970-01-01T00:00:00.000Z", "interfaces": []})
    );
    let message = "no interface \"lo\" has been seen in the last 60 minutes";
    assert_error(
        &server.get("/api/v1/interface/lo/stats"),
        404,
        "interface_not_found",
        message,
    );
}

#[test]
fn health_reports_failures_skipped_lines_and_saves_but_stays_ok_while_fresh() {
    let lo = |k| iface("lo", [k, k, 0, 0, k, k, 0, 0], None, None);
    let skipped = vec![
        ParseError {
            line: 5,
            kind: ParseErrorKind::FieldCount { found: 15 },
        },
        ParseError {
            line: 7,
            kind: ParseErrorKind::MissingColon,
        },
    ];
    let samples = vec![
        snapshot(vec![lo(1)]),
        Ok(Snapshot {
            interfaces: vec![lo(2)],
            skipped,
            offload: None,
            ..Snapshot::default()
        }),
    ];
    let (mut stats, started) = stats_after(samples, Duration::from_secs(2));
    let server = TestServer::start(stats.view(), started);
    let (health, _, _) = split_health(&server.get("/health"));
    assert_eq!(health["status"], "ok");
    assert_eq!(health["samples_total"], 2);
    assert_eq!(health["parse_errors_total"], 2);
    assert_eq!(health["collection_errors_total"], 0);
    assert_eq!(
        health["last_error"],
        "skipped line 5: expected 16 counters, found 15 (and 1 more)"
    );
    assert_eq!(health["interfaces"], 1);

    // A failed read after that: counted and reported, still ok (the last success is 2 s old).
    let failure = "no interface line in /test/proc/net/dev (0 bytes)";
    stats.apply(Sample {
        taken_at: Instant::now(),
        wall: wall(2),
        result: Err(failure.into()),
    });
    server.shared.publish(stats.view(), 0);
    let response = server.get("/health");
    assert_eq!(response.status, 200);
    let (health, _, age) = split_health(&response);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["samples_total"], 2);
    assert_eq!(health["collection_errors_total"], 1);
    assert_eq!(health["last_error"], failure);
    assert_eq!(health["last_sample_at"], "2027-01-15T08:00:10.123Z");
    assert_clock("last_sample_age_seconds", age.unwrap(), 2.0);
    assert_eq!(health, no_persistence_no_restart(health.clone()));

    // The state file and how saving and restoring it went.
    stats.set_state_file("/var/lib/ifstatsd/state");
    stats.record_restore_error("unsupported version 9".into());
    stats.record_save(wall(3), None);
    stats.record_save(
        wall(4),
        Some("No space left on device (os error 28)".into()),
    );
    server.shared.publish(stats.view(), 0);
    let (health, _, _) = split_health(&server.get("/health"));
    assert_eq!(health["status"], "ok");
    assert_eq!(health["state_file"], "/var/lib/ifstatsd/state");
    assert_eq!(health["last_save_at"], "2027-01-15T08:00:30.123Z");
    assert_eq!(
        health["last_save_error"],
        "No space left on device (os error 28)"
    );
    assert_eq!(health["state_restore_error"], "unsupported version 9");
}

// ---------------------------------------------------------------------------------------------
// The hand-off, connections, and the loop itself.

#[test]
fn a_newly_published_view_is_served_at_the_next_request() {
    let (mut stats, started) = stats_after(standard_samples(), Duration::from_secs(11));
    let server = TestServer::start(stats.view(), started);
    let mut client = Client::connect(server.addr);
    assert_eq!(
        client.request("GET", "/api/v1/interface/eth0/stats").json(),
        expected("eth0")
    );
    // Asked before the new view too: replies made from a view are kept until the next one.
    let list_before = client.request("GET", "/api/v1/interfaces").json();
    let metrics_before = client.request("GET", "/metrics").body;
    // Sample 9, 10 s later: eth0 received 5000 B more; wg0 is still gone.
    let eth0 = [1_025_000, 250, 9, 0, 1_012_500, 125, 0, 18];
    let interfaces = vec![
        iface("eth0", eth0, Some(2), Some(OperState::Up)),
        iface("eth1", [0; 8], Some(3), Some(OperState::Down)),
        iface(
            "lo",
            [BIG, 5, 0, 0, BIG, 5, 0, 0],
            Some(1),
            Some(OperState::Unknown),
        ),
        iface("team0:1", [7, 7, 0, 0, 7, 7, 0, 0], None, None),
    ];
    stats.apply(Sample {
        taken_at: started + INTERVAL * 9,
        wall: wall(9),
        result: snapshot(interfaces),
    });
    server.shared.publish(stats.view(), 0);
    let eth0 = client.request("GET", "/api/v1/interface/eth0/stats").json();
    assert_eq!(eth0["updated_at"], "2027-01-15T08:01:30.123Z");
    assert_eq!(
        eth0["counters"],
        counters([1_025_000, 250, 9, 0, 1_012_500, 125, 0, 18])
    );
    let current = rate(10.0, 10.0, [500.0, 5.0, 0.1, 0.0, 250.0, 2.5, 0.0, 0.2]);
    assert_eq!(eth0["rates"]["current"], current);
    let wg0 = client.request("GET", "/api/v1/interface/wg0/stats").json();
    assert_eq!(
        wg0["rates"]["avg_5m"]["covered_seconds"], 90.0,
        "its absence grows"
    );
    let list = client.request("GET", "/api/v1/interfaces").json();
    assert_eq!(list["updated_at"], "2027-01-15T08:01:30.123Z");
    assert_ne!(list, list_before);
    let metrics = String::from_utf8(client.request("GET", "/metrics").body).unwrap();
    assert_ne!(metrics.as_bytes(), metrics_before);
    assert!(metrics.contains("node_network_receive_bytes_total{device=\"eth0\"} 1025000\n"));
    assert!(metrics.contains("ifstatsd_samples_total 10\n"), "{metrics}");
}

#[test]
fn kept_replies_are_the_replies_made_afresh() {
    let (stats, started) = stats_after(standard_samples(), Duration::from_secs(1));
    let view = Arc::new(stats.view());
    let mut cache = ViewCache::default();
    let targets = [
        "/api/v1/interfaces",
        "/api/v1/interface/eth0/stats",
        "/api/v1/interface/lo/stats",
        "/api/v1/interface/nope/stats",
        "/metrics",
        "/health",
        "/api/v1/interface/eth0/history?window=5m",
    ];
    for round in 0..3 {
        for target in targets {
            // The clock moves: /metrics's age and /health must follow it, cached or not.
            let clock = Clock {
                started,
                now: Instant::now() + Duration::from_secs(round * 7),
            };
            let route = routes::route("GET", target);
            let afresh = api::handle(&route, &view, clock);
            let kept = api::handle_cached(&route, &view, clock, &mut cache);
            assert_eq!(kept, afresh, "{target}, round {round}");
        }
    }
}

/// Requests of every kind on one kept-alive connection, one after the other, then pipelined.
#[test]
fn one_connection_carries_many_requests_in_order() {
    let server = TestServer::standard();
    let requests = [
        ("GET", "/api/v1/interface/eth0/stats", "", 200),
        ("GET", "/nope", "", 404),
        ("GET", "/api/v1/interface/%2F/stats", "", 400),
        ("GET", "/api/v1/interface/nope0/stats", "", 404),
        ("POST", "/health", "{\"x\": 1}", 405),
        ("HEAD", "/openapi.yaml", "", 200),
        ("GET", "/api/v1/interfaces", "", 200),
        ("OPTIONS", "/openapi.yaml", "", 405),
        ("GET", "/health", "", 200),
        ("GET", "/openapi.yaml", "", 200),
    ];
    let mut client = Client::connect(server.addr);
    for (method, target, body, status) in requests {
        client.send(&request_text(method, target, "", body));
        assert_eq!(
            client.receive(method == "HEAD").status,
            status,
            "{method} {target}"
        );
    }
    let batch: String = requests
        .iter()
        .map(|(method, target, body, _)| request_text(method, target, "", body))
        .collect();
    client.send(&batch);
    for (method, target, _, status) in requests {
        let response = client.receive(method == "HEAD");
        assert_eq!(response.status, status, "pipelined {method} {target}");
        if target == "/api/v1/interface/eth0/stats" {
            assert_eq!(response.json(), expected("eth0"));
        }
    }
    // The last one asks to close, and the server does.
    client.send(&request_text("GET", "/health", "Connection: close\r\n", ""));
    assert_eq!(client.receive(false).status, 200);
    client.assert_closed();
}

/// Responses over 1 KB on a kept-alive connection do not stall. (Nagle's 44 ms per response would
/// still pass this deadline; the point is that none waits for a timeout or hangs.)
#[test]
fn twenty_large_responses_on_one_connection_come_within_a_deadline() {
    let server = TestServer::standard();
    let mut client = Client::connect(server.addr);
    let deadline = Instant::now() + Duration::from_secs(5);
    for k in 0..20 {
        let response = client.request("GET", "/api/v1/interface/eth0/stats");
        assert_eq!(response.status, 200, "request {k}");
        assert!(
            response.body.len() > 1024,
            "only {} bytes",
            response.body.len()
        );
        assert!(Instant::now() < deadline, "{k} requests took over 5 s");
    }
}

#[test]
fn the_loop_returns_ok_when_stopping_and_unblocked() {
    let server = TestServer::standard();
    assert_eq!(server.get("/health").status, 200);
    let addr = server.addr;
    let ended = server.stop();
    assert!(ended.is_ok(), "{ended:?}");
    // Nobody answers any more: the connection is refused, or closed, or gets no response.
    if let Ok(mut stream) = TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let _ = stream.write_all(request_text("GET", "/health", "", "").as_bytes());
        let mut byte = [0; 1];
        let read = stream.read(&mut byte);
        assert!(
            !matches!(read, Ok(1)),
            "the loop still answers after it returned"
        );
    }
}

/// An unblock nobody asked for means tiny_http's accept thread is gone: `serve` must not report
/// a clean stop then, so that the daemon exits with an error.
#[test]
fn the_loop_returns_err_when_unblocked_without_stopping() {
    let mut server = TestServer::standard();
    assert_eq!(server.get("/health").status, 200);
    server.server.unblock();
    let thread = server.thread.take().unwrap();
    let ended = thread.join().expect("the request loop did not panic");
    assert!(ended.is_err(), "serve returned {ended:?}");
}

#[test]
fn bind_reports_its_port_and_refuses_a_port_in_use() {
    let server = serve::bind("127.0.0.1:0".parse().unwrap()).expect("bind port 0");
    let addr = serve::local_addr(&server).expect("an IP address");
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0);
    let again = serve::bind(addr).map(|_| ());
    assert_eq!(again.map_err(|e| e.kind()), Err(io::ErrorKind::AddrInUse));
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let again = serve::bind(taken.local_addr().unwrap()).map(|_| ());
    assert_eq!(again.map_err(|e| e.kind()), Err(io::ErrorKind::AddrInUse));
}

// ---------------------------------------------------------------------------------------------
// The dashboard and its data.

#[test]
fn the_dashboard_is_served_at_the_root() {
    let server = TestServer::standard();
    let page = server.get("/");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.body, ifstatsd::serve::dashboard::PAGE.as_bytes());
    assert_eq!(server.fetch("HEAD", "/").content_length(), page.body.len());
}

/// The intervals eth0's history holds, as (start, end, rx bytes per second).
fn eth0_points(history: &Value) -> Vec<(String, String, f64)> {
    history["points"]
        .as_array()
        .expect("points")
        .iter()
        .map(|p| {
            let at = |key: &str| p[key].as_str().unwrap().to_owned();
            (
                at("start"),
                at("end"),
                p["rx_bytes_per_sec"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn history_has_one_point_per_interval_in_the_window() {
    let server = TestServer::standard();
    let response = server.get("/api/v1/interface/eth0/history");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let history = response.json();
    assert_eq!(history["window_seconds"], 900.0, "15 minutes by default");
    assert_eq!(history["interface"], "eth0");
    assert_eq!(history["updated_at"], "2027-01-15T08:01:20.123Z");
    let points = eth0_points(&history);
    assert_eq!(points.len(), 8, "nine samples, eight intervals");
    let rates: Vec<f64> = points.iter().map(|p| p.2).collect();
    let expected: Vec<f64> = ETH0_RX
        .windows(2)
        .map(|w| (w[1] - w[0]) as f64 / 10.0)
        .collect();
    assert_eq!(rates, expected);
    assert_eq!(points[0].0, "2027-01-15T08:00:00.123Z");
    assert_eq!(points[7].1, "2027-01-15T08:01:20.123Z");
    assert!(history["points"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["gap"] == false));
    // One minute holds the last six intervals (and half an interval of slack).
    let minute = server
        .get("/api/v1/interface/eth0/history?window=1m")
        .json();
    assert_eq!(minute["window_seconds"], 60.0);
    assert_eq!(eth0_points(&minute), points[2..]);
}

#[test]
fn history_shows_a_gap_where_samples_are_missing() {
    // Samples 0, 1, then 5 and 6: the interval from 1 to 5 spans missing samples.
    let samples: Vec<_> = standard_samples()
        .into_iter()
        .enumerate()
        .map(|(k, s)| {
            if (2..5).contains(&k) {
                Err("gone".into())
            } else {
                s
            }
        })
        .take(7)
        .collect();
    let (stats, started) = stats_after(samples, Duration::from_secs(1));
    let server = TestServer::start(stats.view(), started);
    let history = server
        .get("/api/v1/interface/eth0/history?window=5m")
        .json();
    let gaps: Vec<bool> = history["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["gap"].as_bool().unwrap())
        .collect();
    assert_eq!(gaps, [false, true, false]);
    assert_eq!(history["points"][1]["seconds"], 40.0);
}

#[rstest]
#[case::two_hours("window=2h")]
#[case::seconds("window=900")]
#[case::empty("window=")]
#[case::upper("window=15M")]
fn history_refuses_other_windows(#[case] query: &str) {
    let server = TestServer::standard();
    let response = server.get(&format!("/api/v1/interface/eth0/history?{query}"));
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"]["code"], "invalid_window");
}

#[test]
fn history_of_an_unknown_or_invalid_interface() {
    let server = TestServer::standard();
    let unknown = server.get("/api/v1/interface/nope0/history");
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "interface_not_found");
    let invalid = server.get("/api/v1/interface/%2F/history?window=2h");
    assert_eq!(invalid.status, 400);
    assert_eq!(
        invalid.json()["error"]["code"],
        "invalid_interface_name",
        "the name first"
    );
    let vanished = server
        .get("/api/v1/interface/wg0/history?window=60m")
        .json();
    assert_eq!(vanished["present"], false);
    assert_eq!(
        eth0_points(&vanished).len(),
        1,
        "its one interval, still in the hour"
    );
}
