//! The HTTP side against a real server on 127.0.0.1:0, with real requests over TCP: every route,
//! status, header and error path. The view is built by feeding the statistics known samples.

mod support;

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use ifstatsd::api::OPENAPI_YAML;
use ifstatsd::http;
use ifstatsd::proc_net_dev::Counters;
use ifstatsd::snapshot::{InterfaceSample, OperState, Sample, Snapshot};
use ifstatsd::stats::Stats;
use ifstatsd::view::SharedView;
use rstest::rstest;
use serde_json::Value;
use support::{counters_of, read_response, request, Response};

const INTERVAL: Duration = Duration::from_secs(10);

/// A server in this process, stopped and joined when dropped.
struct Server {
    addr: SocketAddr,
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// Serves the statistics after `samples` (each a list of interfaces), taken 10 s apart and
    /// ending `age` before now.
    fn start(samples: &[Vec<InterfaceSample>], age: Duration) -> Server {
        let now = Instant::now();
        let first = now - age - INTERVAL * samples.len().saturating_sub(1) as u32;
        let wall0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut stats = Stats::new("/test/net_dev", INTERVAL);
        for (k, interfaces) in samples.iter().enumerate() {
            stats.apply(Sample {
                taken_at: first + INTERVAL * k as u32,
                wall: wall0 + INTERVAL * k as u32,
                result: Ok(Snapshot {
                    interfaces: interfaces.clone(),
                    skipped: vec![],
                }),
            });
        }
        let shared = Arc::new(SharedView::new(stats.view()));
        let server = Arc::new(http::bind("127.0.0.1:0".parse().unwrap()).expect("bind"));
        let addr = http::local_addr(&server).expect("an IP address");
        let stopping = Arc::new(AtomicBool::new(false));
        let thread = thread::spawn({
            let (server, stopping) = (Arc::clone(&server), Arc::clone(&stopping));
            move || http::serve(&server, &shared, now, &stopping)
        });
        Server {
            addr,
            server,
            stopping,
            thread: Some(thread),
        }
    }

    fn standard() -> Server {
        Server::start(&standard_samples(), Duration::from_secs(1))
    }

    fn send(&self, method: &str, target: &str) -> Response {
        request(self.addr, method, target).unwrap_or_else(|e| panic!("{method} {target}: {e}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let ended = thread.join().expect("the loop did not panic");
            if !thread::panicking() {
                assert!(ended.is_ok(), "the loop ended with {ended:?}");
            }
        }
    }
}

fn iface(name: &str, c: [u64; 8], ifindex: Option<u32>) -> InterfaceSample {
    InterfaceSample {
        name: name.into(),
        counters: Counters::from_array(c),
        ifindex,
        oper_state: ifindex.map(|_| OperState::Up),
    }
}

/// eth0 receives 1000 B and 10 packets and sends 500 B per 10 s; `team0:1` and `lo` idle;
/// `wg0` is in the first sample only.
fn standard_samples() -> Vec<Vec<InterfaceSample>> {
    (0..3u64)
        .map(|k| {
            let mut sample = vec![
                iface("lo", [0; 8], Some(1)),
                iface(
                    "eth0",
                    [k * 1000, k * 10, 0, k, k * 500, k * 5, 0, 0],
                    Some(2),
                ),
                iface("team0:1", [7, 7, 0, 0, 7, 7, 0, 0], None),
            ];
            if k == 0 {
                sample.push(iface("wg0", [42, 1, 0, 0, 43, 1, 0, 0], Some(9)));
            }
            sample
        })
        .collect()
}

fn assert_error(response: &Response, status: u16, code: &str) {
    assert_eq!(response.status, status);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let json = response.json();
    assert_eq!(json["error"]["status"], status);
    assert_eq!(json["error"]["code"], code);
    assert!(json["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
    assert_eq!(json.as_object().unwrap().len(), 1, "{json}");
}

#[test]
fn one_interface_with_exact_counters_and_rates() {
    let server = Server::standard();
    let response = server.send("GET", "/api/v1/interface/eth0/stats");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let eth0 = response.json();
    assert_eq!(eth0["interface"], "eth0");
    assert_eq!(eth0["present"], true);
    assert_eq!(eth0["ifindex"], 2);
    assert_eq!(eth0["oper_state"], "up");
    assert_eq!(eth0["updated_at"], "2027-01-15T08:00:20.000Z");
    assert_eq!(eth0["up_since"], "2027-01-15T08:00:00.000Z");
    assert_eq!(eth0["uptime_seconds"], 20.0);
    assert_eq!(eth0["uptime_is_lower_bound"], true);
    assert_eq!(eth0["sample_interval_seconds"], 10.0);
    assert_eq!(counters_of(&eth0), [2000, 20, 0, 2, 1000, 10, 0, 0]);
    let current = &eth0["rates"]["current"];
    assert_eq!(current["window_seconds"], 10.0);
    assert_eq!(current["covered_seconds"], 10.0);
    assert_eq!(current["rx_bytes_per_sec"], 100.0);
    assert_eq!(current["rx_packets_per_sec"], 1.0);
    assert_eq!(current["rx_dropped_per_sec"], 0.1);
    assert_eq!(current["tx_bytes_per_sec"], 50.0);
    for window in ["avg_1m", "avg_5m", "avg_15m"] {
        let rate = &eth0["rates"][window];
        assert_eq!(rate["covered_seconds"], 20.0, "{window}");
        assert_eq!(rate["rx_bytes_per_sec"], 100.0, "{window}");
        assert_eq!(rate["tx_packets_per_sec"], 0.5, "{window}");
    }
    assert_eq!(eth0["events"], serde_json::json!({"resets": 0, "wraps": 0}));
}

#[rstest]
#[case::encoded_colon("/api/v1/interface/team0%3A1/stats", "team0:1")]
#[case::raw_colon("/api/v1/interface/team0:1/stats", "team0:1")]
#[case::query_ignored("/api/v1/interface/lo/stats?verbose=1", "lo")]
#[case::encoded_letters("/api/v1/interface/%65th0/stats", "eth0")]
fn names_are_percent_decoded(#[case] target: &str, #[case] name: &str) {
    let server = Server::standard();
    let response = server.send("GET", target);
    assert_eq!(response.status, 200, "{target}");
    assert_eq!(response.json()["interface"], name);
}

#[test]
fn a_vanished_interface_keeps_its_last_data() {
    let server = Server::standard();
    let wg0 = server.send("GET", "/api/v1/interface/wg0/stats").json();
    assert_eq!(wg0["present"], false);
    assert_eq!(counters_of(&wg0), [42, 1, 0, 0, 43, 1, 0, 0]);
    assert_eq!(wg0["rates"]["current"], Value::Null);
    assert_eq!(wg0["uptime_seconds"], Value::Null);
    assert_eq!(wg0["updated_at"], "2027-01-15T08:00:00.000Z");
}

#[rstest]
#[case::encoded_slash("/api/v1/interface/a%2Fb/stats")]
#[case::dot_dot("/api/v1/interface/../stats")]
#[case::encoded_dot_dot("/api/v1/interface/%2e%2e/stats")]
#[case::dot("/api/v1/interface/./stats")]
#[case::nul("/api/v1/interface/eth%000/stats")]
#[case::space("/api/v1/interface/eth%200/stats")]
#[case::sixteen_bytes("/api/v1/interface/abcdefghijklmnop/stats")]
#[case::sixteen_bytes_encoded("/api/v1/interface/%C3%A4bcdefghijklmno/stats")]
#[case::empty("/api/v1/interface//stats")]
#[case::bad_escape("/api/v1/interface/eth%zz/stats")]
#[case::truncated_escape("/api/v1/interface/eth%2/stats")]
fn names_linux_cannot_have_get_400(#[case] target: &str) {
    let server = Server::standard();
    assert_error(&server.send("GET", target), 400, "invalid_interface_name");
}

#[test]
fn an_unknown_interface_gets_404_without_echoing_raw_input() {
    let server = Server::standard();
    let response = server.send("GET", "/api/v1/interface/%3Cb%3E%22x/stats");
    assert_error(&response, 404, "interface_not_found");
    let message = response.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("<b>\\\"x"), "{message}");
}

#[rstest]
#[case::root("/")]
#[case::trailing_slash("/api/v1/interfaces/")]
#[case::stats_trailing_slash("/api/v1/interface/eth0/stats/")]
#[case::two_segments("/api/v1/interface/eth0/x/stats")]
#[case::no_suffix("/api/v1/interface/eth0")]
#[case::old_version("/api/v0/interfaces")]
#[case::case("/Health")]
fn unknown_routes_get_404(#[case] target: &str) {
    let server = Server::standard();
    assert_error(&server.send("GET", target), 404, "not_found");
}

#[rstest]
fn other_methods_get_405_with_allow(
    #[values("POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "BREW")] method: &str,
    #[values(
        "/health",
        "/api/v1/interfaces",
        "/api/v1/interface/eth0/stats",
        "/openapi.yaml"
    )]
    target: &str,
) {
    let server = Server::standard();
    let response = server.send(method, target);
    assert_error(&response, 405, "method_not_allowed");
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
}

#[rstest]
#[case::stats("/api/v1/interface/eth0/stats")]
#[case::list("/api/v1/interfaces")]
#[case::health("/health")]
#[case::spec("/openapi.yaml")]
#[case::not_found("/api/v1/interface/nope/stats")]
#[case::invalid("/api/v1/interface/../stats")]
fn head_has_the_headers_of_get_and_no_body(#[case] target: &str) {
    let server = Server::standard();
    let get = server.send("GET", target);
    // Sent on one connection, a body after HEAD's headers would be read as the next response.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "HEAD {target} HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let head = read_response(&mut reader, true).unwrap();
    let next = read_response(&mut reader, false).unwrap();
    assert_eq!(head.status, get.status);
    assert_eq!(head.header("content-type"), get.header("content-type"));
    let length: usize = head.header("content-length").unwrap().parse().unwrap();
    assert_eq!(length, get.body.len());
    assert_eq!(next.status, 200, "HEAD sent a body: {next:?}");
}

#[test]
fn the_list_is_sorted_and_complete() {
    let server = Server::standard();
    let list = server.send("GET", "/api/v1/interfaces");
    assert_eq!(list.status, 200);
    assert_eq!(list.header("cache-control"), Some("no-store"));
    let list = list.json();
    assert_eq!(list["updated_at"], "2027-01-15T08:00:20.000Z");
    let names: Vec<&str> = list["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["interface"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["eth0", "lo", "team0:1", "wg0"]);
    let one = server.send("GET", "/api/v1/interface/eth0/stats").json();
    assert_eq!(list["interfaces"][0], one);
}

#[test]
fn health_is_ok_with_a_fresh_sample() {
    let server = Server::standard();
    let response = server.send("GET", "/health");
    assert_eq!(response.status, 200);
    let health = response.json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health["source"], "/test/net_dev");
    assert_eq!(health["sample_interval_seconds"], 10.0);
    assert_eq!(health["last_sample_at"], "2027-01-15T08:00:20.000Z");
    let age = health["last_sample_age_seconds"].as_f64().unwrap();
    assert!((1.0..30.0).contains(&age), "{age}");
    assert!(health["uptime_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(health["samples_total"], 3);
    assert_eq!(health["collection_errors_total"], 0);
    assert_eq!(health["parse_errors_total"], 0);
    assert_eq!(health["last_error"], Value::Null);
    assert_eq!(health["interfaces"], 4);
}

#[test]
fn health_is_degraded_after_three_intervals_without_a_sample() {
    let server = Server::start(&standard_samples(), INTERVAL * 3 + Duration::from_secs(1));
    let response = server.send("GET", "/health");
    assert_eq!(response.status, 503);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.json()["status"], "degraded");
    // The data is still served.
    assert_eq!(
        server.send("GET", "/api/v1/interface/eth0/stats").status,
        200
    );
}

#[test]
fn the_openapi_document_is_served_as_yaml() {
    let server = Server::standard();
    let response = server.send("GET", "/openapi.yaml");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/yaml"));
    assert_eq!(response.body, OPENAPI_YAML.as_bytes());
}

#[test]
fn keep_alive_connections_get_every_answer_in_order() {
    let server = Server::standard();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let deadline = Instant::now() + Duration::from_secs(10);
    // The stats body is over 1 KB: without TCP_NODELAY each would wait for a delayed ACK.
    for k in 0..50 {
        let target = if k % 2 == 0 {
            "/api/v1/interface/eth0/stats"
        } else {
            "/health"
        };
        write!(stream, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let response = read_response(&mut reader, false).unwrap();
        assert_eq!(response.status, 200, "request {k}");
        assert!(k % 2 == 1 || response.body.len() > 1024);
    }
    assert!(
        Instant::now() < deadline,
        "50 keep-alive requests took over 10 s"
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = Server::standard();
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let targets = [
        "/health",
        "/nope",
        "/api/v1/interface/lo/stats",
        "/api/v1/interface/../stats",
    ];
    let mut batch = String::new();
    for target in targets {
        batch.push_str(&format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
    }
    stream.write_all(batch.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    let statuses: Vec<u16> = targets
        .iter()
        .map(|_| read_response(&mut reader, false).unwrap().status)
        .collect();
    assert_eq!(statuses, [200, 404, 200, 400]);
}

#[test]
fn the_loop_stops_when_unblocked_while_stopping() {
    let server = Server::standard();
    assert_eq!(server.send("GET", "/health").status, 200);
    drop(server); // Drop asserts the loop returned Ok.
}
