//! `openapi.yaml` is the contract. These tests hold the document and the server to each other:
//!
//! - the document parses as OpenAPI 3.0 and every `$ref` resolves;
//! - every (path, method, status) the router and handler answer to a table of real requests is
//!   documented, with its media type and headers, and every documented one is answered;
//! - every body has exactly the documented fields, all required, null only where nullable; and a
//!   property is nullable exactly when its Rust field is an `Option` (seen through serde);
//! - `nullable` is read the strict OpenAPI 3.0.3 way: only beside a `type`; a named schema that
//!   may be null is `anyOf: [{$ref: X}, {$ref: NullValue}]` (never `allOf` + `nullable`);
//! - HEAD operations document headers and no body; patterns compile without lookaround;
//! - every example has exactly the documented fields too.
//!
//! The document served at `/openapi.yaml` is `api::OPENAPI_YAML`, the one checked here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ifstatsd::sample::offload::{Flowtable, Offload};
use ifstatsd::sample::proc_net_dev::{Counters, MAX_NAME_BYTES};
use ifstatsd::sample::snapshot::{
    Duplex, HwAddr, InterfaceSample, LinkInfo, OperState, Sample, Snapshot,
};
use ifstatsd::serve::api::{
    self, Clock, ErrorBody, ErrorDetail, Health, History, InterfaceList, Point, Reply, OPENAPI_YAML,
};
use ifstatsd::serve::routes::route;
use ifstatsd::stats::usage::Accounting;
use ifstatsd::stats::view::{StatsView, Timestamp};
use ifstatsd::stats::Stats;
use openapiv3::OpenAPI;
use serde_json::Value;

const INTERVAL: Duration = Duration::from_secs(10);

/// The methods the server implements, as OpenAPI operation keys.
const OPERATIONS: [&str; 2] = ["get", "head"];

/// The `pattern` every `format: date-time` property carries, which [`is_rfc3339_millis`] checks.
const TIMESTAMP_PATTERN: &str =
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$";

/// The schema that makes a named schema nullable, as the second branch of an `anyOf`.
const NULL_VALUE: &str = "#/components/schemas/NullValue";

/// Error codes the document lists that no request can produce: `api::json` falls back to
/// `internal_error` only if serde_json fails, and none of the API's types can make it fail.
const UNREACHABLE: [(u64, &str); 1] = [(500, "internal_error")];

/// Error codes the HTTP layer (`src/http.rs`) sends before a request reaches `api::handle`, for
/// heads and bodies no client of the API sends; tests/hardening.rs checks each.
const HTTP_LAYER: [(u64, &str); 5] = [
    (400, "bad_content_length"),
    (413, "payload_too_large"),
    (414, "uri_too_long"),
    (417, "expectation_failed"),
    (431, "request_header_fields_too_large"),
];

fn spec() -> Value {
    yaml_serde::from_str(OPENAPI_YAML).expect("openapi.yaml is valid YAML")
}

// ---------------------------------------------------------------------------------------------
// The document itself
// ---------------------------------------------------------------------------------------------

#[test]
fn spec_is_openapi_3_0_with_resolvable_refs() {
    let parsed: OpenAPI = yaml_serde::from_str(OPENAPI_YAML).expect("openapi.yaml is OpenAPI 3.0");
    assert!(
        parsed.openapi.starts_with("3.0."),
        "openapi: {} (openapiv3 and `nullable` are 3.0)",
        parsed.openapi
    );
    assert_eq!(
        parsed.info.version,
        env!("CARGO_PKG_VERSION"),
        "info.version is the crate's"
    );
    let spec = spec();
    let mut refs = Vec::new();
    collect_refs(&spec, "", &mut refs);
    assert!(refs.len() > 10, "only {} $refs", refs.len());
    let mut used = BTreeSet::new();
    for (at, reference) in &refs {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{at}: {reference} is not a local $ref"));
        assert!(
            spec.pointer(pointer).is_some(),
            "{at}: dangling $ref {reference}"
        );
        used.insert(pointer.to_owned());
    }
    // Nothing in components is dead text that no test would ever look at.
    for (kind, entries) in spec["components"].as_object().unwrap() {
        for name in entries.as_object().unwrap().keys() {
            let pointer = format!("/components/{kind}/{name}");
            assert!(used.contains(&pointer), "{pointer} is never referenced");
        }
    }
}

fn collect_refs(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(r)) => out.push((at.to_owned(), r.clone())),
                    _ => collect_refs(value, &format!("{at}/{key}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_refs(item, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn net_id_parameter_has_a_pattern_and_a_real_example() {
    let spec = spec();
    let parameter = &spec["components"]["parameters"]["NetId"];
    assert_eq!(parameter["name"], "net_id");
    assert_eq!(parameter["in"], "path");
    assert_eq!(
        parameter["example"], "lo",
        "schemathesis needs a name that exists"
    );
    let schema = &parameter["schema"];
    assert!(schema["pattern"]
        .as_str()
        .is_some_and(|p| p.starts_with('^') && p.ends_with('$')));
    assert_eq!(schema["minLength"], 1, "net_id minLength");
    assert_eq!(schema["maxLength"], MAX_NAME_BYTES, "net_id maxLength");
    // The example is a name the server accepts, and answers 200 for once `lo` is sampled. (That
    // the pattern admits exactly the printable names the server accepts is
    // `net_id_pattern_admits_exactly_...` below, and tests/schemathesis.sh asks the daemon.)
    let (view, clock) = views().fresh;
    let reply = api::handle(&route("GET", "/api/v1/interface/lo/stats"), &view, clock);
    assert_eq!(reply.status, 200, "GET the example net_id `lo`");
}

// ---------------------------------------------------------------------------------------------
// The server's answers
// ---------------------------------------------------------------------------------------------

/// The states the server is asked in.
struct Views {
    /// `eth0` (up, with traffic and rates), `lo` (operstate unknown), `down0` (down),
    /// `fixture0` (no sysfs, seen once: null rates, ifindex and operstate) and `gone0`
    /// (vanished), the latest sample 1 s ago.
    fresh: (StatsView, Clock),
    /// The same after a failed sample, 40 s (4 intervals) after the last good one: degraded.
    stale: (StatsView, Clock),
    /// Before the first sample (the daemon never serves then, but the types allow it).
    empty: (StatsView, Clock),
}

fn views() -> Views {
    let t0 = Instant::now();
    let wall0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut stats = Stats::new("/proc/net/dev", INTERVAL);
    stats.set_accounting(Accounting {
        quotas: vec![("eth0".into(), 500_000_000_000)],
        ..Accounting::default()
    });
    let iface = |name: &str, bytes: u64, sysfs: Option<(u32, OperState)>| InterfaceSample {
        name: name.into(),
        counters: Counters::from_array([bytes, bytes / 100, 0, 1, bytes / 2, bytes / 200, 0, 0]),
        ifindex: sysfs.map(|s| s.0),
        oper_state: sysfs.map(|s| s.1),
        // Every link attribute filled where sysfs is, none where it is not.
        speed_mbps: sysfs.map(|_| 1000),
        link: match sysfs {
            Some((ifindex, _)) => LinkInfo {
                mtu_bytes: Some(1500),
                carrier: Some(true),
                duplex: Some(Duplex::Full),
                address: HwAddr::new(&[2, 0, 0, 0, 0, ifindex as u8]),
                broadcast: HwAddr::new(&[0xff; 6]),
                alias: format!("{name} \"link\""),
            },
            None => LinkInfo::default(),
        },
    };
    let samples = [
        vec![
            iface("eth0", 0, Some((2, OperState::Up))),
            iface("down0", 0, Some((3, OperState::Down))),
            iface("gone0", 0, Some((4, OperState::Up))),
            iface("lo", 0, Some((1, OperState::Unknown))),
            iface("wan0", 0, Some((7, OperState::Up))),
        ],
        vec![
            InterfaceSample {
                speed_mbps: Some(1000),
                ..iface("eth0", 10_000, Some((2, OperState::Up)))
            },
            iface("down0", 0, Some((3, OperState::Down))),
            iface("fixture0", 500, None),
            iface("lo", 600, Some((1, OperState::Unknown))),
            // wan0 renamed: its history and a renamed_from under the new name, renamed_to
            // under the old one.
            iface("wan1", 700, Some((7, OperState::Up))),
        ],
    ];
    // Flow offloading as the sampler reports it: an OpenWrt router with a flowtable, then a
    // machine without nftables or OpenWrt.
    let flowtable = Offload::new(
        Ok(vec![Flowtable {
            family: "inet",
            table: "fw4".into(),
            name: "ft".into(),
            hardware: true,
            interfaces: vec!["eth0".into()],
        }]),
        Some("hardware"),
    );
    let without = Offload::new(
        Err(std::io::Error::from_raw_os_error(93)), // EPROTONOSUPPORT
        None,
    );
    let later = samples[1].clone();
    for (k, interfaces) in samples.into_iter().enumerate() {
        let offset = INTERVAL * k as u32;
        stats.apply(Sample {
            taken_at: t0 + offset,
            wall: wall0 + offset,
            result: Ok(Snapshot {
                interfaces,
                skipped: vec![],
                offload: (k == 1).then(|| Arc::new(flowtable.clone())),
                ..Snapshot::default()
            }),
        });
    }
    let fresh = stats.view();
    // Half an interval later, the same counters, and the other offload answer (still degraded
    // at the stale clock: 35 s without a sample).
    stats.apply(Sample {
        taken_at: t0 + INTERVAL * 3 / 2,
        wall: wall0 + INTERVAL * 3 / 2,
        result: Ok(Snapshot {
            interfaces: later,
            skipped: vec![],
            offload: Some(Arc::new(without)),
            ..Snapshot::default()
        }),
    });
    stats.apply(Sample {
        taken_at: t0 + INTERVAL * 5,
        wall: wall0 + INTERVAL * 5,
        result: Err("cannot read /proc/net/dev: No such file or directory (os error 2)".into()),
    });
    let stale = stats.view();
    let clock = |seconds| Clock {
        started: t0,
        now: t0 + Duration::from_secs(seconds),
    };
    Views {
        fresh: (fresh, clock(11)),
        stale: (stale, clock(50)),
        empty: (Stats::new("/proc/net/dev", INTERVAL).view(), clock(1)),
    }
}

/// The requests: every known path with good and bad input, other methods, unknown paths. Each
/// `GET` is asked again as `HEAD`.
const REQUESTS: &[(&str, &str)] = &[
    ("GET", "/api/v1/interface/eth0/stats"),
    ("GET", "/api/v1/interface/down0/stats"),
    ("GET", "/api/v1/interface/fixture0/stats"),
    ("GET", "/api/v1/interface/gone0/stats"),
    ("GET", "/api/v1/interface/lo/stats?verbose=1"),
    ("GET", "/api/v1/interface/wan9/stats"),
    ("GET", "/api/v1/interface/team0%3A1/stats"),
    ("GET", "/api/v1/interface/%2F/stats"),
    ("GET", "/api/v1/interface/../stats"),
    ("GET", "/api/v1/interface//stats"),
    ("GET", "/api/v1/interface/abcdefghijklmnop/stats"),
    ("GET", "/api/v1/interface/eth%200/stats"),
    ("GET", "/api/v1/interface/eth%G0/stats"),
    ("GET", "/api/v1/interfaces"),
    ("GET", "/api/v1/interfaces?x"),
    ("GET", "/health"),
    ("GET", "/openapi.yaml"),
    ("GET", "/metrics"),
    ("GET", "/docs"),
    ("GET", "/"),
    ("PUT", "/"),
    ("GET", "/api/v1/interface/eth0/history"),
    ("GET", "/api/v1/interface/down0/history?window=1m"),
    ("GET", "/api/v1/interface/gone0/history?window=60m"),
    ("GET", "/api/v1/interface/eth0/history?window=2h"),
    ("GET", "/api/v1/interface/..%2F/history"),
    ("GET", "/api/v1/interface/wan9/history?window=5m"),
    ("POST", "/api/v1/interface/eth0/history"),
    ("GET", "/api/v1/interface/eth0/usage"),
    ("GET", "/api/v1/interface/gone0/usage?x=1"),
    ("GET", "/api/v1/interface/fixture0/usage"),
    ("GET", "/api/v1/interface/wan9/usage"),
    ("GET", "/api/v1/interface/%2F/usage"),
    ("PUT", "/api/v1/interface/eth0/usage"),
    ("POST", "/api/v1/interface/eth0/stats"),
    ("DELETE", "/api/v1/interface/%/stats"),
    ("PUT", "/api/v1/interfaces"),
    ("OPTIONS", "/health"),
    ("TRACE", "/health"),
    ("PATCH", "/openapi.yaml"),
    ("DELETE", "/docs"),
    ("PUT", "/metrics"),
    ("get", "/openapi.yaml"),
    // Not in the document: 404 not_found.
    ("GET", "/api/v1/interfaces/"),
    ("GET", "/api/v1/interface/eth0"),
    ("GET", "/api/v1/interface/a/b/stats"),
    ("GET", "/HEALTH"),
    ("POST", "/metrics"),
];

/// One answer, and which request and state it was for.
struct Answer {
    method: String,
    url: String,
    state: &'static str,
    reply: Reply,
}

impl Answer {
    fn label(&self) -> String {
        format!(
            "{} {} ({} view) -> {}",
            self.method, self.url, self.state, self.reply.status
        )
    }

    fn body(&self) -> Value {
        match self.reply.content_type {
            "application/json" => serde_json::from_slice(&self.reply.body)
                .unwrap_or_else(|e| panic!("{}: body is not JSON: {e}", self.label())),
            "application/yaml" => yaml_serde::from_slice(&self.reply.body)
                .unwrap_or_else(|e| panic!("{}: body is not YAML: {e}", self.label())),
            "text/html; charset=utf-8" => Value::String(
                String::from_utf8(self.reply.body.clone())
                    .unwrap_or_else(|e| panic!("{}: the page is not UTF-8: {e}", self.label())),
            ),
            ifstatsd::serve::metrics::CONTENT_TYPE => Value::String(
                String::from_utf8(self.reply.body.clone())
                    .unwrap_or_else(|e| panic!("{}: metrics are not UTF-8: {e}", self.label())),
            ),
            other => panic!("{}: unexpected Content-Type {other}", self.label()),
        }
    }
}

fn answers() -> Vec<Answer> {
    let views = views();
    let states = [
        ("fresh", &views.fresh),
        ("stale", &views.stale),
        ("empty", &views.empty),
    ];
    let mut answers = Vec::new();
    for (state, (view, clock)) in states {
        for &(method, url) in REQUESTS {
            let methods: &[&str] = if method == "GET" {
                &["GET", "HEAD"]
            } else {
                &[method]
            };
            for &method in methods {
                answers.push(Answer {
                    method: method.to_owned(),
                    url: url.to_owned(),
                    state,
                    reply: api::handle(&route(method, url), view, *clock),
                });
            }
        }
    }
    answers
}

/// The document's path template that `url` falls under, if any.
fn template<'a>(spec: &'a Value, url: &str) -> Option<&'a str> {
    let path = url.split_once('?').map_or(url, |(path, _)| path);
    let segments: Vec<&str> = path.split('/').collect();
    let matching: Vec<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .filter(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(part, segment)| part.starts_with('{') || part == segment)
        })
        .collect();
    assert!(
        matching.len() <= 1,
        "{url} matches several paths: {matching:?}"
    );
    matching.first().copied()
}

/// The operations of a path that a request with `method` is answered under: its own (`true`), or
/// for a method the path does not declare (HTTP methods are case-sensitive), the operations of
/// the path that document 405 (`false`): OpenAPI cannot describe an undeclared method's answer
/// anywhere else. Only GET does: a 405 under HEAD would promise a body HEAD never gets.
fn operations_for(spec: &Value, template: &str, method: &str) -> (Vec<String>, bool) {
    let item = spec["paths"][template].as_object().unwrap();
    let declared: Vec<String> = OPERATIONS
        .iter()
        .filter(|op| item.contains_key(**op))
        .map(|op| op.to_string())
        .collect();
    let own = method.to_ascii_lowercase();
    if method == method.to_ascii_uppercase() && declared.contains(&own) {
        (vec![own], true)
    } else {
        let documenting_405 = declared
            .into_iter()
            .filter(|op| item[op.as_str()]["responses"].get("405").is_some())
            .collect();
        (documenting_405, false)
    }
}

/// Every (path, operation, status) the document lists.
fn documented(parsed: &OpenAPI) -> BTreeSet<(String, String, u16)> {
    let mut set = BTreeSet::new();
    for (path, method, operation) in parsed.operations() {
        assert!(
            OPERATIONS.contains(&method),
            "{method} {path}: the server implements only GET and HEAD"
        );
        assert!(
            operation.responses.default.is_none(),
            "{method} {path}: no `default` response"
        );
        for status in operation.responses.responses.keys() {
            let openapiv3::StatusCode::Code(code) = status else {
                panic!("{method} {path}: a status range ({status}) is not precise");
            };
            set.insert((path.to_owned(), method.to_owned(), *code));
        }
    }
    set
}

#[test]
fn every_answer_is_documented_and_every_documented_status_is_answered() {
    let spec = spec();
    let parsed: OpenAPI = yaml_serde::from_str(OPENAPI_YAML).unwrap();
    let documented = documented(&parsed);
    let mut answered = BTreeSet::new();
    for answer in answers() {
        let label = answer.label();
        let reply = &answer.reply;
        let Some(template) = template(&spec, &answer.url) else {
            // A path the document does not list must be one the server does not serve.
            assert_eq!(
                reply.status, 404,
                "{label}: answered, but openapi.yaml has no such path"
            );
            assert_eq!(answer.body()["error"]["code"], "not_found", "{label}");
            continue;
        };
        let (operations, declared) = operations_for(&spec, template, &answer.method);
        assert!(
            declared || reply.status == 405,
            "{label}: the server serves {} {template}, but openapi.yaml declares no such operation",
            answer.method
        );
        for op in operations {
            let at = format!("{label}: `{op} {template}`");
            let key = (template.to_owned(), op.clone(), reply.status);
            assert!(
                documented.contains(&key),
                "{at} does not document status {}; it lists {:?}",
                reply.status,
                documented
                    .iter()
                    .filter(|(t, o, _)| t == template && *o == op)
                    .map(|(_, _, s)| s)
                    .collect::<Vec<_>>()
            );
            let response = response(&spec, template, &op, reply.status);
            let headers = response["headers"].as_object();
            let header = |name: &str| headers.and_then(|h| h.get(name)).map(|h| resolve(&spec, h));
            if op == "head" {
                // tiny_http sends the headers of GET's answer, Content-Length included, and no
                // body: a HEAD response that declared content would have clients parse nothing.
                assert!(
                    response.get("content").is_none(),
                    "{at}: a HEAD response declares a body"
                );
                let length = header("Content-Length")
                    .unwrap_or_else(|| panic!("{at}: HEAD documents no Content-Length"));
                assert_eq!(
                    length["required"], true,
                    "{at}: Content-Length is always sent"
                );
                assert_eq!(length["schema"]["type"], "integer", "{at}: Content-Length");
            } else {
                let content = response["content"].as_object().expect("content");
                let media: Vec<&String> = content.keys().collect();
                assert_eq!(media, [reply.content_type], "{at}: media type");
            }
            // The headers http.rs adds: Cache-Control on JSON, Allow when the reply says so.
            let cache_control = reply.content_type == "application/json";
            assert_eq!(
                header("Cache-Control").is_some(),
                cache_control,
                "{at}: Cache-Control header"
            );
            assert_eq!(header("Allow").is_some(), reply.allow, "{at}: Allow header");
            // Their values (http.rs sends `no-store` and `api::ALLOW`), always sent.
            let sent = [
                ("Cache-Control", cache_control, "no-store"),
                ("Allow", reply.allow, api::ALLOW),
            ];
            for (name, _, value) in sent.into_iter().filter(|(_, sent, _)| *sent) {
                let header = header(name).unwrap();
                assert_eq!(header["required"], true, "{at}: {name} is always sent");
                let values = header["schema"]["enum"].as_array();
                assert_eq!(
                    values,
                    Some(&vec![Value::from(value)]),
                    "{at}: {name} values"
                );
            }
            answered.insert(key);
        }
    }
    let never: Vec<_> = documented.difference(&answered).collect();
    assert!(
        never.is_empty(),
        "documented, but no request gets it: {never:?}"
    );
}

#[test]
fn head_answers_like_get() {
    let views = views();
    let (view, clock) = &views.fresh;
    for &(method, url) in REQUESTS.iter().filter(|(method, _)| *method == "GET") {
        let get = api::handle(&route(method, url), view, *clock);
        let head = api::handle(&route("HEAD", url), view, *clock);
        // tiny_http drops the body of a HEAD reply and keeps its Content-Length.
        assert_eq!(head, get, "HEAD {url}");
    }
}

#[test]
fn bodies_match_their_documented_schemas() {
    let spec = spec();
    let mut walker = Walker::new(&spec);
    let mut codes = BTreeSet::new();
    let mut health = BTreeSet::new();
    for answer in answers() {
        let label = answer.label();
        let body = answer.body();
        let status = answer.reply.status;
        if let Some(error) = body.get("error") {
            assert_eq!(
                error["status"], status,
                "{label}: error.status is the HTTP status"
            );
            codes.insert((status as u64, error["code"].as_str().unwrap().to_owned()));
        }
        let Some(template) = template(&spec, &answer.url) else {
            walker.check("", &spec_ref("Error"), &body, &label);
            continue;
        };
        for op in operations_for(&spec, template, &answer.method).0 {
            if op == "head" {
                continue; // no body: checked by every_answer_is_documented_...
            }
            let response = response(&spec, template, &op, status);
            let media = &response["content"][answer.reply.content_type];
            let at = format!("{label}: `{op} {template}` body");
            walker.check("", &media["schema"], &body, &at);
            if answer.reply.content_type == "application/yaml" {
                assert_eq!(
                    answer.reply.body,
                    OPENAPI_YAML.as_bytes(),
                    "{at}: this document"
                );
                continue;
            }
            // The example shows the right case: the same error code (one of the examples' when
            // a response has several), or health status.
            let example = &media["example"];
            let codes: Vec<&Value> = examples_of(media)
                .iter()
                .filter_map(|e| e["error"].get("code"))
                .collect();
            if !codes.is_empty() {
                assert!(
                    codes.contains(&&body["error"]["code"]),
                    "{at}: error code {} is in none of the examples {codes:?}",
                    body["error"]["code"]
                );
            }
            if let Some(health_status) = example.get("status") {
                assert_eq!(
                    &body["status"], health_status,
                    "{at}: status differs from the example"
                );
                health.insert(body["status"].as_str().unwrap().to_owned());
            }
        }
    }
    // Every schema was checked against a real body, and every nullable property was seen null.
    // HistoryWindow is a query parameter's schema, checked by `history_window_is_the_routes`.
    let schemas: BTreeSet<String> = spec["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|name| *name != "HistoryWindow")
        .map(|name| format!("/components/schemas/{name}"))
        .collect();
    let unchecked: Vec<_> = schemas.difference(&walker.visited).collect();
    assert!(
        unchecked.is_empty(),
        "no body was checked against {unchecked:?}"
    );
    let never_null: Vec<_> = nullable_properties(&spec)
        .into_iter()
        .filter(|p| !walker.nulls.contains(p))
        .collect();
    assert!(
        never_null.is_empty(),
        "nullable, but no body has null there: {never_null:?}"
    );
    // The codes are exactly what the server sends; the statuses lie in the documented range.
    let error = &spec["components"]["schemas"]["ErrorDetail"]["properties"];
    let mut sent: BTreeSet<(u64, String)> = codes.clone();
    for (status, code) in UNREACHABLE {
        assert!(
            !codes.iter().any(|(_, c)| c == code),
            "{code} is reachable now: document it"
        );
        sent.insert((status, code.to_owned()));
    }
    sent.extend(HTTP_LAYER.map(|(status, code)| (status, code.to_owned())));
    let sent_codes: BTreeSet<&str> = sent.iter().map(|(_, c)| c.as_str()).collect();
    let sent_statuses: BTreeSet<u64> = sent.iter().map(|(s, _)| *s).collect();
    // An open list: a closed `enum` would break every generated client at the first new code.
    let code = &spec["components"]["schemas"]["ErrorCode"];
    assert!(code.get("enum").is_none(), "ErrorCode is an open string");
    let listed: BTreeSet<&str> = code["x-extensible-enum"]
        .as_array()
        .expect("ErrorCode lists its codes in x-extensible-enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        listed, sent_codes,
        "ErrorCode x-extensible-enum vs codes sent"
    );
    let description = code["description"].as_str().unwrap();
    for (status, code) in &sent {
        assert!(
            description.contains(&format!("`{code}` ({status}")),
            "ErrorCode's description does not say `{code}` ({status})"
        );
    }
    assert!(
        error["status"].get("enum").is_none(),
        "statuses can grow too"
    );
    let (min, max) = (&error["status"]["minimum"], &error["status"]["maximum"]);
    assert!(
        sent_statuses
            .iter()
            .all(|s| min.as_u64() <= Some(*s) && Some(*s) <= max.as_u64()),
        "ErrorDetail.status [{min}, {max}] vs statuses sent {sent_statuses:?}"
    );
    let health_enum = string_enum(&spec["components"]["schemas"]["Health"]["properties"]["status"]);
    let health: BTreeSet<&str> = health.iter().map(String::as_str).collect();
    assert_eq!(health_enum, health, "Health.status enum vs statuses sent");
}

#[test]
fn nullable_exactly_where_the_rust_field_is_an_option() {
    let spec = spec();
    let views = views();
    let (view, _) = &views.fresh;
    let collection = &view.collection;
    let offload = Offload {
        active: true,
        interfaces: vec!["wan".into()],
        flowtables: vec![Flowtable {
            family: "inet",
            table: "fw4".into(),
            name: "ft".into(),
            hardware: false,
            interfaces: vec!["wan".into()],
        }],
        openwrt_flow_offloading: Some("software"),
        flowtables_error: Some("nftables: Protocol not supported".into()),
    };
    // A field added to Health stops this literal from compiling: add it here and to the Health
    // schema in openapi.yaml, nullable if and only if it is an Option.
    let health = Health {
        status: "ok",
        version: ifstatsd::VERSION,
        uptime_seconds: 1.5,
        source: &collection.source,
        sample_interval_seconds: collection.interval.as_secs_f64(),
        last_sample_at: Some(Timestamp(SystemTime::now())),
        last_sample_age_seconds: Some(0.5),
        samples_total: collection.samples_total,
        collection_errors_total: collection.collection_errors_total,
        parse_errors_total: collection.parse_errors_total,
        interfaces_refused_total: collection.interfaces_refused_total,
        last_error: None,
        interfaces: view.interfaces.len(),
        state_file: Some("/var/lib/ifstatsd/state"),
        last_save_at: None,
        last_save_error: None,
        state_restore_error: None,
        restarts_total: 0,
        last_restart_reason: None,
        last_restart_at: None,
        offload: Some(&offload),
    };
    let list = InterfaceList {
        updated_at: view.updated_at.unwrap(),
        interfaces: &view.interfaces,
    };
    let error = ErrorBody {
        error: ErrorDetail {
            status: 404,
            code: "not_found",
            message: "no such route".into(),
        },
    };
    let point = Point {
        start: Timestamp(SystemTime::now()),
        end: Timestamp(SystemTime::now()),
        seconds: 10.0,
        gap: false,
        rx_bytes_per_sec: 1.0,
        rx_packets_per_sec: 1.0,
        rx_errors_per_sec: 0.0,
        rx_dropped_per_sec: 0.0,
        tx_bytes_per_sec: 1.0,
        tx_packets_per_sec: 1.0,
        tx_errors_per_sec: 0.0,
        tx_dropped_per_sec: 0.0,
    };
    let history = History {
        interface: "eth0",
        present: true,
        window_seconds: 900.0,
        sample_interval_seconds: 10.0,
        updated_at: Timestamp(SystemTime::now()),
        points: vec![point],
    };
    let eth0 = view.interface("eth0").unwrap();
    let usage = eth0.usage_report(&view.accounting, view.updated_at.unwrap().0);
    assert!(usage.cycle.quota_bytes.is_some() && !usage.days.is_empty());
    let shapes = [
        ("Usage", shape::of(&usage)),
        ("History", shape::of(&history)),
        ("InterfaceList", shape::of(&list)),
        ("Health", shape::of(&health)),
        ("Error", shape::of(&error)),
    ];
    let mut options = BTreeMap::new();
    for (name, shape) in shapes {
        let shape = shape.unwrap_or_else(|e| panic!("{name}: {e}"));
        let pointer = format!("/components/schemas/{name}");
        check_shape(&spec, &pointer, &spec_ref(name), &shape, name, &mut options);
    }
    // The shapes reached every nullable property, so none is nullable without an Option.
    for pointer in nullable_properties(&spec) {
        assert_eq!(
            options.get(&pointer),
            Some(&true),
            "{pointer} is nullable but no Rust Option"
        );
    }
}

#[test]
fn oper_state_enum_is_every_variant() {
    use OperState::*;
    let all = [
        Unknown,
        NotPresent,
        Down,
        LowerLayerDown,
        Testing,
        Dormant,
        Up,
    ];
    for state in all {
        // No wildcard: a new variant does not compile until it is listed above.
        match state {
            Unknown | NotPresent | Down | LowerLayerDown | Testing | Dormant | Up => {}
        }
    }
    let names: Vec<Value> = all
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
    let spec = spec();
    let schema = &spec["components"]["schemas"]["OperState"];
    assert_eq!(schema["enum"].as_array().unwrap(), &names, "OperState enum");
    let property = &spec["components"]["schemas"]["InterfaceStats"]["properties"]["oper_state"];
    let (target, _, nullable) = unwrap_schema(&spec, "oper_state", property);
    assert_eq!(target, "/components/schemas/OperState");
    assert!(nullable, "oper_state is null while the interface is absent");
    for name in names {
        assert_eq!(
            OperState::from_sysfs(name.as_str().unwrap()).map(|s| serde_json::to_value(s).unwrap()),
            Some(name)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The examples
// ---------------------------------------------------------------------------------------------

#[test]
fn examples_match_their_schemas() {
    let spec = spec();
    let mut walker = Walker::new(&spec);
    let mut seen = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for op in OPERATIONS {
            let Some(operation) = item.get(op) else {
                continue;
            };
            for (status, response) in operation["responses"].as_object().unwrap() {
                let response = resolve(&spec, response);
                if op == "head" {
                    assert!(
                        response.get("content").is_none(),
                        "HEAD {path} {status}: a body"
                    );
                    continue;
                }
                for (media, content) in response["content"].as_object().unwrap() {
                    let at = format!("the {media} example of `{op} {path}` {status}");
                    let examples = examples_of(content);
                    assert!(!examples.is_empty(), "{at} is missing");
                    for example in examples {
                        walker.check("", &content["schema"], example, &at);
                        if let Some(error) = example.get("error") {
                            assert_eq!(error["status"].to_string(), *status, "{at}: error.status");
                        }
                    }
                    seen += 1;
                }
            }
        }
    }
    let parsed: OpenAPI = yaml_serde::from_str(OPENAPI_YAML).unwrap();
    let with_body = documented(&parsed)
        .into_iter()
        .filter(|(_, method, _)| method != "head")
        .count();
    assert_eq!(seen, with_body, "one example per documented GET response");
}

// ---------------------------------------------------------------------------------------------
// Walking a value and its schema
// ---------------------------------------------------------------------------------------------

/// A media type's example, or the values of its named `examples`.
fn examples_of(media: &Value) -> Vec<&Value> {
    match (
        media.get("example"),
        media.get("examples").and_then(Value::as_object),
    ) {
        (Some(example), _) => vec![example],
        (None, Some(named)) => named.values().map(|e| &e["value"]).collect(),
        (None, None) => vec![],
    }
}

fn spec_ref(name: &str) -> Value {
    serde_json::json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn response<'a>(spec: &'a Value, template: &str, op: &str, status: u16) -> &'a Value {
    let response = &spec["paths"][template][op]["responses"][status.to_string()];
    assert!(!response.is_null(), "`{op} {template}` has no {status}");
    resolve(spec, response)
}

fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    resolve_at(spec, String::new(), value).1
}

/// Follows `$ref`s; returns the JSON pointer of the schema reached (or `pointer` if none).
fn resolve_at<'a>(spec: &'a Value, pointer: String, value: &'a Value) -> (String, &'a Value) {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = &r[1..];
            let value = spec
                .pointer(target)
                .unwrap_or_else(|| panic!("dangling {r}"));
            resolve_at(spec, target.to_owned(), value)
        }
        None => (pointer, value),
    }
}

/// The schema `schema` stands for and whether it admits null, read as OpenAPI 3.0.3 reads it:
/// `nullable: true` counts only beside a `type` (the clarified 3.0.3 rule that strict validators
/// and generators follow), so a named schema that may be null is
/// `anyOf: [{$ref: X}, {$ref: NullValue}]`. Anything else that tries (`nullable` beside `allOf`
/// or `$ref`, a nullable component) fails here.
fn unwrap_schema<'a>(
    spec: &'a Value,
    pointer: &str,
    schema: &'a Value,
) -> (String, &'a Value, bool) {
    assert!(
        schema.get("allOf").is_none() && schema.get("oneOf").is_none(),
        "{pointer}: allOf/oneOf (a nullable $ref is anyOf [$ref, NullValue])"
    );
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        assert!(
            schema.get("type").is_none() && schema.get("nullable").is_none(),
            "{pointer}: anyOf stands alone"
        );
        let refs: Vec<&str> = any.iter().filter_map(|s| s["$ref"].as_str()).collect();
        assert!(
            refs.len() == 2 && any.len() == 2 && refs[1] == NULL_VALUE && refs[0] != NULL_VALUE,
            "{pointer}: anyOf is used only as [{{$ref: X}}, {{$ref: NullValue}}]"
        );
        let (target, inner) = resolve_at(spec, format!("{pointer}/anyOf/0"), &any[0]);
        assert_ne!(
            inner.get("nullable"),
            Some(&Value::Bool(true)),
            "{target}: nullable itself"
        );
        return (target, inner, true);
    }
    let (target, inner) = resolve_at(spec, pointer.to_owned(), schema);
    let nullable = inner.get("nullable") == Some(&Value::Bool(true));
    assert!(
        !nullable || inner.get("type").is_some(),
        "{target}: `nullable` without a `type` is ignored by OpenAPI 3.0.3"
    );
    assert!(
        !nullable || schema.get("$ref").is_none(),
        "{target}: a component is nullable; make the property anyOf [$ref, NullValue]"
    );
    (target, inner, nullable)
}

/// Whether `schema` is `anyOf: [.., {$ref: NullValue}]`.
fn schema_has_null_branch(schema: &Value) -> bool {
    schema["anyOf"]
        .as_array()
        .is_some_and(|any| any.iter().any(|s| s["$ref"] == NULL_VALUE))
}

/// The schema at a JSON pointer into the document (`Null` if there is none, as for the
/// pointer-less top of a response).
fn schema_at<'a>(spec: &'a Value, pointer: &str) -> &'a Value {
    spec.pointer(pointer).unwrap_or(&Value::Null)
}

fn string_enum(schema: &Value) -> BTreeSet<&str> {
    schema["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// The JSON pointers of every property declared nullable, at any depth of the schemas.
fn nullable_properties(spec: &Value) -> BTreeSet<String> {
    fn walk(schema: &Value, pointer: &str, out: &mut BTreeSet<String>) {
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                let pointer = format!("{pointer}/properties/{name}");
                let null_branch = property["anyOf"]
                    .as_array()
                    .is_some_and(|any| any.iter().any(|s| s["$ref"] == NULL_VALUE));
                if property.get("nullable") == Some(&Value::Bool(true)) || null_branch {
                    out.insert(pointer.clone());
                }
                walk(property, &pointer, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        walk(schema, &format!("/components/schemas/{name}"), &mut out);
    }
    out
}

/// Checks values against schemas, recording what it saw.
struct Walker<'a> {
    spec: &'a Value,
    /// The pointers of the nullable properties that held null.
    nulls: BTreeSet<String>,
    /// The pointers of the component schemas that a value was checked against.
    visited: BTreeSet<String>,
}

impl<'a> Walker<'a> {
    fn new(spec: &'a Value) -> Self {
        Walker {
            spec,
            nulls: BTreeSet::new(),
            visited: BTreeSet::new(),
        }
    }

    /// `value` against `schema` (at `pointer`), recursively: the same object keys, all of them
    /// required, null only where nullable, the JSON type, enums, bounds, lengths and timestamps.
    fn check(&mut self, pointer: &str, schema: &Value, value: &Value, at: &str) {
        let (target, schema, nullable) = unwrap_schema(self.spec, pointer, schema);
        if target.starts_with("/components/schemas/") {
            self.visited.insert(target.clone());
        }
        if value.is_null() {
            assert!(nullable, "{at}: null, but not nullable in openapi.yaml");
            self.nulls.insert(pointer.to_owned());
            if schema_has_null_branch(schema_at(self.spec, pointer)) {
                self.visited.insert(NULL_VALUE[1..].to_owned());
            }
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            // JSON Schema compares numbers by value: 900.0 is the enum's 900.
            let same = |a: &Value| a == value || (a.is_number() && a.as_f64() == value.as_f64());
            assert!(
                allowed.iter().any(same),
                "{at}: {value} is not in the enum {allowed:?}"
            );
        }
        let kind = schema["type"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: the schema has no type"));
        match (kind, value) {
            ("object", Value::Object(map)) if schema["additionalProperties"] == true => {
                // An open object (the OpenAPI document itself): its required keys, and the
                // types of the properties it names.
                for key in schema["required"].as_array().into_iter().flatten() {
                    let key = key.as_str().unwrap();
                    assert!(map.contains_key(key), "{at}: no {key}");
                }
                for (key, property) in schema["properties"].as_object().into_iter().flatten() {
                    if let Some(value) = map.get(key) {
                        let pointer = format!("{target}/properties/{key}");
                        self.check(&pointer, property, value, &format!("{at} > {key}"));
                    }
                }
            }
            ("object", Value::Object(map)) => {
                let properties = schema["properties"].as_object().expect("properties");
                let documented: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
                let sent: BTreeSet<&str> = map.keys().map(String::as_str).collect();
                let extra: Vec<_> = sent.difference(&documented).collect();
                let missing: Vec<_> = documented.difference(&sent).collect();
                assert!(
                    extra.is_empty() && missing.is_empty(),
                    "{at}: fields not in the schema {target}: {extra:?}; in the schema but not here: {missing:?}"
                );
                let required: BTreeSet<&str> = schema["required"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{target}: no `required`"))
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
                assert_eq!(
                    required, documented,
                    "{target}: `required` is not every property"
                );
                assert_eq!(
                    schema["additionalProperties"], false,
                    "{target}: additionalProperties"
                );
                for (key, value) in map {
                    let pointer = format!("{target}/properties/{key}");
                    self.check(&pointer, &properties[key], value, &format!("{at} > {key}"));
                }
            }
            ("array", Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.check(
                        &format!("{target}/items"),
                        &schema["items"],
                        item,
                        &format!("{at}[{i}]"),
                    );
                }
            }
            ("string", Value::String(text)) => {
                let chars = text.chars().count() as u64;
                if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                    assert!(chars >= min, "{at}: {text:?} is shorter than {min}");
                }
                if schema.get("format").and_then(Value::as_str) == Some("date-time") {
                    assert_eq!(schema["pattern"], TIMESTAMP_PATTERN, "{target}: pattern");
                    assert!(
                        is_rfc3339_millis(text),
                        "{at}: {text:?} is not RFC 3339 UTC with ms"
                    );
                }
            }
            ("boolean", Value::Bool(_)) => {}
            ("integer", Value::Number(n)) if n.is_u64() || n.is_i64() => self.bounds(schema, n, at),
            ("number", Value::Number(n)) => self.bounds(schema, n, at),
            _ => panic!("{at}: {value} is not of type {kind}"),
        }
    }

    fn bounds(&self, schema: &Value, n: &serde_json::Number, at: &str) {
        let x = n.as_f64().unwrap();
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
            if schema.get("exclusiveMinimum") == Some(&Value::Bool(true)) {
                assert!(x > min, "{at}: {x} is not above {min}");
            } else {
                assert!(x >= min, "{at}: {x} is below {min}");
            }
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
            assert!(x <= max, "{at}: {x} is above {max}");
        }
    }
}

/// `2026-11-24T20:21:15.468Z`: what `humantime::format_rfc3339_millis` writes, and
/// [`TIMESTAMP_PATTERN`] says.
fn is_rfc3339_millis(text: &str) -> bool {
    text.len() == 24
        && text.bytes().enumerate().all(|(i, c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            23 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Checks a serde shape against a schema: the same fields, and each field an `Option` exactly
/// where its property is nullable. Records, per property pointer, whether it was an `Option`.
fn check_shape(
    spec: &Value,
    pointer: &str,
    schema: &Value,
    shape: &shape::Shape,
    at: &str,
    options: &mut BTreeMap<String, bool>,
) {
    use shape::Shape;
    let (target, schema, _) = unwrap_schema(spec, pointer, schema);
    match shape {
        Shape::Struct(fields) => {
            let properties = schema["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{at}: a Rust struct, but {target} has no properties"));
            let names: BTreeSet<&str> = fields.iter().map(|(name, _)| *name).collect();
            let documented: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
            assert_eq!(
                names, documented,
                "{at}: Rust fields vs {target} properties"
            );
            for (name, field) in fields {
                let property = &properties[*name];
                let pointer = format!("{target}/properties/{name}");
                let (_, _, nullable) = unwrap_schema(spec, &pointer, property);
                let (is_option, inner) = match field {
                    Shape::Option(inner) => (true, inner.as_deref()),
                    other => (false, Some(other)),
                };
                let at = format!("{at}.{name}");
                assert_eq!(
                    is_option,
                    nullable,
                    "{at}: the Rust field is {}an Option but {pointer} is {}nullable",
                    if is_option { "" } else { "not " },
                    if nullable { "" } else { "not " },
                );
                let seen = options.entry(pointer.clone()).or_insert(is_option);
                assert_eq!(*seen, is_option, "{at}: sometimes an Option, sometimes not");
                if let Some(inner) = inner {
                    check_shape(spec, &pointer, property, inner, &at, options);
                }
            }
        }
        Shape::Seq(items) => {
            assert_eq!(
                schema["type"], "array",
                "{at}: a Rust sequence, but {target} is not an array"
            );
            for (i, item) in items.iter().enumerate() {
                let pointer = format!("{target}/items");
                check_shape(
                    spec,
                    &pointer,
                    &schema["items"],
                    item,
                    &format!("{at}[{i}]"),
                    options,
                );
            }
        }
        Shape::Scalar => {
            let kind = schema["type"].as_str().unwrap_or_default();
            assert!(
                !matches!(kind, "object" | "array"),
                "{at}: a Rust scalar, but {target} is {kind}"
            );
        }
        Shape::Option(_) => panic!("{at}: an Option inside an Option"),
    }
}

/// A serde `Serializer` that records the shape of a value instead of its data: structs with their
/// field names, sequences, scalars, and which fields are `Option`s (serde tells `Some(x)` from a
/// plain `x`, which JSON cannot).
mod shape {
    use serde::ser::{self, Impossible, Serialize};
    use serde_json::Error;

    #[derive(Debug)]
    pub enum Shape {
        Scalar,
        Option(Option<Box<Shape>>),
        Seq(Vec<Shape>),
        Struct(Vec<(&'static str, Shape)>),
    }

    pub fn of<T: Serialize>(value: &T) -> Result<Shape, Error> {
        value.serialize(Recorder)
    }

    struct Recorder;

    fn unsupported(what: &str) -> Error {
        ser::Error::custom(format!(
            "the API types use no {what}; teach tests/openapi.rs about it"
        ))
    }

    macro_rules! scalars {
        ($($method:ident: $ty:ty),*) => {
            $(fn $method(self, _: $ty) -> Result<Shape, Error> {
                Ok(Shape::Scalar)
            })*
        };
    }

    impl ser::Serializer for Recorder {
        type Ok = Shape;
        type Error = Error;
        type SerializeSeq = Items;
        type SerializeTuple = Impossible<Shape, Error>;
        type SerializeTupleStruct = Impossible<Shape, Error>;
        type SerializeTupleVariant = Impossible<Shape, Error>;
        type SerializeMap = Impossible<Shape, Error>;
        type SerializeStruct = Fields;
        type SerializeStructVariant = Impossible<Shape, Error>;

        scalars!(
            serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
            serialize_i64: i64, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
            serialize_u64: u64, serialize_char: char, serialize_str: &str, serialize_bytes: &[u8],
            serialize_unit_struct: &'static str
        );

        fn serialize_f32(self, v: f32) -> Result<Shape, Error> {
            self.serialize_f64(v.into())
        }

        fn serialize_f64(self, v: f64) -> Result<Shape, Error> {
            // serde_json writes NaN and infinities as null, which no number property allows.
            match v.is_finite() {
                true => Ok(Shape::Scalar),
                false => Err(ser::Error::custom(format!("{v} would be sent as null"))),
            }
        }

        fn serialize_none(self) -> Result<Shape, Error> {
            Ok(Shape::Option(None))
        }

        fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Shape, Error> {
            Ok(Shape::Option(Some(Box::new(value.serialize(Recorder)?))))
        }

        fn serialize_unit(self) -> Result<Shape, Error> {
            Ok(Shape::Scalar)
        }

        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
        ) -> Result<Shape, Error> {
            Ok(Shape::Scalar)
        }

        fn serialize_newtype_struct<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            value: &T,
        ) -> Result<Shape, Error> {
            value.serialize(self)
        }

        fn serialize_newtype_variant<T: Serialize + ?Sized>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<Shape, Error> {
            Err(unsupported("newtype variant"))
        }

        fn serialize_seq(self, _: Option<usize>) -> Result<Items, Error> {
            Ok(Items(Vec::new()))
        }

        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
            Err(unsupported("tuple"))
        }

        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Error> {
            Err(unsupported("tuple struct"))
        }

        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Error> {
            Err(unsupported("tuple variant"))
        }

        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
            Err(unsupported("map"))
        }

        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Fields, Error> {
            Ok(Fields(Vec::new()))
        }

        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Error> {
            Err(unsupported("struct variant"))
        }
    }

    pub struct Items(Vec<Shape>);

    impl ser::SerializeSeq for Items {
        type Ok = Shape;
        type Error = Error;

        fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
            self.0.push(value.serialize(Recorder)?);
            Ok(())
        }

        fn end(self) -> Result<Shape, Error> {
            Ok(Shape::Seq(self.0))
        }
    }

    pub struct Fields(Vec<(&'static str, Shape)>);

    impl ser::SerializeStruct for Fields {
        type Ok = Shape;
        type Error = Error;

        fn serialize_field<T: Serialize + ?Sized>(
            &mut self,
            name: &'static str,
            value: &T,
        ) -> Result<(), Error> {
            self.0.push((name, value.serialize(Recorder)?));
            Ok(())
        }

        fn skip_field(&mut self, name: &'static str) -> Result<(), Error> {
            Err(ser::Error::custom(format!(
                "{name} is skipped: the API always sends every field"
            )))
        }

        fn end(self) -> Result<Shape, Error> {
            Ok(Shape::Struct(self.0))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What strict tools and generated clients need
// ---------------------------------------------------------------------------------------------

/// Every object of the document, with its JSON pointer.
fn every_object<'a>(value: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match value {
        Value::Object(map) => {
            out.push((at.clone(), value));
            for (key, value) in map {
                every_object(value, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                every_object(item, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn nullable_only_beside_a_type() {
    let spec = spec();
    let mut objects = Vec::new();
    every_object(&spec, String::new(), &mut objects);
    let mut nullable = 0;
    for (at, object) in objects {
        // Examples are data: a property called `nullable` there would be no keyword.
        if at.contains("/example") {
            continue;
        }
        for keyword in ["allOf", "oneOf"] {
            assert!(object.get(keyword).is_none(), "{at}: {keyword}");
        }
        if object.get("nullable").is_some() {
            nullable += 1;
            assert!(
                object.get("type").is_some(),
                "{at}: `nullable` without a `type`: OpenAPI 3.0.3 ignores it"
            );
            assert!(
                object.get("$ref").is_none(),
                "{at}: `nullable` beside a $ref is ignored"
            );
            if let Some(values) = object.get("enum").and_then(Value::as_array) {
                assert!(
                    values.contains(&Value::Null),
                    "{at}: `nullable` does not bypass `enum`"
                );
            }
        }
        if let Some(any) = object.get("anyOf") {
            // unwrap_schema's rule, wherever an anyOf is.
            unwrap_schema(&spec, &at, object);
            assert!(any.is_array(), "{at}: anyOf");
        }
    }
    assert!(
        nullable > 5,
        "only {nullable} nullable schemas: is the walk blind?"
    );
    // Among the components, NullValue alone admits null.
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        let is_null_value = format!("#/components/schemas/{name}") == NULL_VALUE;
        assert_eq!(
            schema.get("nullable") == Some(&Value::Bool(true)),
            is_null_value,
            "components/schemas/{name}: nullable"
        );
    }
    let null_value = &spec.pointer(&NULL_VALUE[1..]).unwrap();
    assert_eq!(
        null_value["enum"],
        serde_json::json!([null]),
        "NullValue is null only"
    );
}

#[test]
fn patterns_compile_without_lookaround() {
    let spec = spec();
    let mut objects = Vec::new();
    every_object(&spec, String::new(), &mut objects);
    let mut patterns = 0;
    for (at, object) in objects {
        let Some(pattern) = object.get("pattern").and_then(Value::as_str) else {
            continue;
        };
        patterns += 1;
        // Rust's regex, like Go's RE2, has no lookaround or backreferences: what it compiles,
        // they compile. ECMAScript (`u` flag) is checked by tests/contract.sh with node.
        regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{at}: {pattern}: {e}"));
        assert!(
            !pattern.contains("(?=") && !pattern.contains("(?!") && !pattern.contains("(?<"),
            "{at}: lookaround in {pattern}"
        );
    }
    assert!(patterns > 5, "only {patterns} patterns");
}

/// The names of the net_id corpus: every printable ASCII byte alone and inside a name, dots,
/// lengths around 15, and a deterministic pseudo-random sweep.
fn net_id_corpus() -> Vec<String> {
    let mut names: Vec<String> = (0x20u8..0x7f).map(|b| char::from(b).to_string()).collect();
    names.extend((0x20u8..0x7f).map(|b| format!("a{}b", char::from(b))));
    names.extend((0x20u8..0x7f).map(|b| format!("{}..", char::from(b))));
    names.extend((1..=17).map(|n| ".".repeat(n)));
    names.extend((13..=17).map(|n| "a".repeat(n)));
    names.extend((13..=17).map(|n| format!("{}x", ".".repeat(n))));
    names.extend(
        [
            "", ".a", "a.", "..a", "a..", "a/b", "/", "eth0.2", "team0:1", "br-lan",
        ]
        .map(String::from),
    );
    let mut seed: u32 = 14;
    for _ in 0..5000 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = 1 + (seed >> 16) % 17;
        let name = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                // Dots and slashes often, the rest of printable ASCII too.
                match (seed >> 16) % 8 {
                    0 | 1 => '.',
                    2 => '/',
                    _ => char::from(0x20 + ((seed >> 8) % 95) as u8),
                }
            })
            .collect();
        names.push(name);
    }
    names
}

#[test]
fn net_id_pattern_admits_exactly_the_printable_names_the_daemon_accepts() {
    let spec = spec();
    let schema = &spec["components"]["parameters"]["NetId"]["schema"];
    let pattern = regex::Regex::new(schema["pattern"].as_str().unwrap()).unwrap();
    let max = schema["maxLength"].as_u64().unwrap() as usize;
    let min = schema["minLength"].as_u64().unwrap() as usize;
    let mut admitted = 0;
    for name in net_id_corpus() {
        let by_spec = (min..=max).contains(&name.chars().count()) && pattern.is_match(&name);
        let by_daemon = ifstatsd::sample::proc_net_dev::is_valid_name(&name);
        // Printable ASCII but the space: the pattern's own alphabet, where it must be exact.
        // Beyond it (a space, non-ASCII) the pattern may be stricter, never looser.
        let printable = name.bytes().all(|b| (0x21..0x7f).contains(&b));
        if by_spec {
            admitted += 1;
            assert!(
                by_daemon,
                "{name:?}: the pattern admits it, the daemon refuses it"
            );
        } else if printable {
            assert!(
                !by_daemon,
                "{name:?}: the daemon accepts it, the pattern does not"
            );
        }
    }
    assert!(admitted > 1000, "only {admitted} names admitted");
}

#[test]
fn history_window_is_the_routes() {
    use ifstatsd::serve::routes::{DEFAULT_HISTORY_WINDOW, HISTORY_WINDOWS};
    let spec = spec();
    let window = &spec["components"]["schemas"]["HistoryWindow"];
    let names: Vec<&str> = HISTORY_WINDOWS.iter().map(|(name, _)| *name).collect();
    let listed: Vec<&str> = window["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(listed, names, "HistoryWindow enum");
    let default = HISTORY_WINDOWS
        .iter()
        .find(|(_, seconds)| *seconds == DEFAULT_HISTORY_WINDOW)
        .unwrap();
    assert_eq!(window["default"], default.0, "HistoryWindow default");
    let seconds: Vec<f64> = HISTORY_WINDOWS.iter().map(|(_, s)| f64::from(*s)).collect();
    let property = &spec["components"]["schemas"]["History"]["properties"]["window_seconds"];
    assert_eq!(property["type"], "number", "every _seconds is a number");
    let listed: Vec<f64> = property["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    assert_eq!(listed, seconds, "History.window_seconds enum");
    // Generated enums read as words, one per value.
    for schema in [window, property] {
        let names = schema["x-enum-varnames"]
            .as_array()
            .expect("x-enum-varnames");
        assert_eq!(names.len(), HISTORY_WINDOWS.len());
    }
}

#[test]
fn every_seconds_property_is_a_number() {
    let spec = spec();
    let mut objects = Vec::new();
    every_object(&spec["components"]["schemas"], String::new(), &mut objects);
    let mut seen = 0;
    for (at, object) in objects {
        for (name, property) in object["properties"].as_object().into_iter().flatten() {
            // A link's speed (whole bit/s from the driver or the command line) and a zone's UTC
            // offset (whole seconds) are integers; every measured duration and rate is a number.
            if name == "link_speed_bits_per_sec" || name == "utc_offset_seconds" {
                assert_eq!(property["type"], "integer", "{at}/{name}");
            } else if name.ends_with("_seconds") || name == "seconds" || name.ends_with("_per_sec")
            {
                seen += 1;
                assert_eq!(property["type"], "number", "{at}/{name}");
            }
        }
    }
    assert!(seen > 20, "only {seen} properties");
}

#[test]
fn a_vanished_interface_has_no_link_and_the_example_says_so() {
    let (view, _) = views().fresh;
    let gone = view.interface("gone0").expect("gone0 is kept");
    assert!(!gone.present);
    let gone = serde_json::to_value(gone).unwrap();
    for field in ["ifindex", "oper_state", "uptime_seconds", "up_since"] {
        assert_eq!(gone[field], Value::Null, "gone0 {field}");
    }
    assert_eq!(gone["rates"]["current"], Value::Null);
    assert_eq!(gone["counters"]["rx_bytes"], 0, "its last counters stay");
    let spec = spec();
    let example = &spec["components"]["responses"]["InterfaceList"]["content"]["application/json"]
        ["example"]["interfaces"];
    let vanished: Vec<&Value> = example
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["present"] == false)
        .collect();
    assert!(
        !vanished.is_empty(),
        "the list example shows a vanished interface"
    );
    for example in vanished {
        for field in ["ifindex", "oper_state", "uptime_seconds", "up_since"] {
            assert_eq!(
                example[field],
                Value::Null,
                "the vanished example's {field}"
            );
        }
        assert_eq!(example["rates"]["current"], Value::Null);
    }
}

#[test]
fn help_lists_every_route_as_the_spec_names_it() {
    let spec = spec();
    let help = ifstatsd::config::HELP;
    let routes = help
        .split_once("Routes")
        .expect("--help has a Routes section")
        .1;
    let listed: BTreeSet<&str> = routes
        .split_whitespace()
        .filter(|word| word.starts_with('/'))
        .collect();
    let paths: BTreeSet<&str> = spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(listed, paths, "--help's routes vs openapi.yaml's paths");
}

#[test]
fn every_operation_schema_and_property_is_described() {
    let spec = spec();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for op in OPERATIONS {
            let operation = &item[op];
            for field in ["summary", "description", "operationId"] {
                assert!(operation[field].is_string(), "{op} {path}: no {field}");
            }
        }
    }
    for (name, schema) in spec["components"]["schemas"].as_object().unwrap() {
        assert!(
            schema["description"].is_string(),
            "schema {name}: no description"
        );
        for (property, value) in schema["properties"].as_object().into_iter().flatten() {
            // A bare $ref takes its target's description (3.0.3 ignores siblings of $ref).
            assert!(
                value["description"].is_string() || value.get("$ref").is_some(),
                "{name}.{property}: no description"
            );
        }
    }
}
