//! `openapi.yaml` is the contract: it must parse as OpenAPI 3.0, document every route and status
//! the server answers (and nothing it never answers), and describe exactly the fields the server
//! serializes, nullable exactly where they can be null.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use ifstatsd::api::{self, Clock, OPENAPI_YAML};
use ifstatsd::proc_net_dev::Counters;
use ifstatsd::routes::route;
use ifstatsd::snapshot::{InterfaceSample, OperState, Sample, Snapshot};
use ifstatsd::stats::Stats;
use ifstatsd::view::StatsView;
use openapiv3::OpenAPI;
use serde_json::Value;

const INTERVAL: Duration = Duration::from_secs(10);

fn spec_json() -> Value {
    yaml_serde::from_str(OPENAPI_YAML).expect("openapi.yaml is valid YAML")
}

/// A view with `eth0` (sysfs data, up, with rates), `down0` (down), and `fixture0` (no sysfs,
/// seen once: null rates, ifindex and operstate), and `gone0`, which vanished.
fn view_and_clock() -> (StatsView, Instant) {
    let t0 = Instant::now();
    let wall0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut stats = Stats::new("/proc/net/dev", INTERVAL);
    let iface = |name: &str, bytes: u64, sysfs: Option<(u32, OperState)>| InterfaceSample {
        name: name.into(),
        counters: Counters::from_array([bytes, bytes / 100, 0, 1, bytes / 2, bytes / 200, 0, 0]),
        ifindex: sysfs.map(|s| s.0),
        oper_state: sysfs.map(|s| s.1),
    };
    let samples = [
        vec![
            iface("eth0", 0, Some((2, OperState::Up))),
            iface("down0", 0, Some((3, OperState::Down))),
            iface("gone0", 0, Some((4, OperState::Up))),
        ],
        vec![
            iface("eth0", 10_000, Some((2, OperState::Up))),
            iface("down0", 0, Some((3, OperState::Down))),
            iface("fixture0", 500, None),
        ],
    ];
    for (k, interfaces) in samples.into_iter().enumerate() {
        let offset = INTERVAL * k as u32;
        stats.apply(Sample {
            taken_at: t0 + offset,
            wall: wall0 + offset,
            result: Ok(Snapshot {
                interfaces,
                skipped: vec![],
            }),
        });
    }
    (stats.view(), t0)
}

/// Every (path template, status) the server answers to a wide set of requests, with the bodies.
fn server_answers() -> BTreeMap<(String, u16), Vec<Value>> {
    let (view, t0) = view_and_clock();
    let fresh = Clock {
        started: t0,
        now: t0 + INTERVAL + Duration::from_secs(1),
    };
    let stale = Clock {
        started: t0,
        now: t0 + INTERVAL * 5,
    };
    let stats = "/api/v1/interface/{net_id}/stats";
    let cases: &[(&str, &str, &str)] = &[
        (stats, "GET", "/api/v1/interface/eth0/stats"),
        (stats, "GET", "/api/v1/interface/down0/stats"),
        (stats, "GET", "/api/v1/interface/fixture0/stats"),
        (stats, "GET", "/api/v1/interface/gone0/stats"),
        (stats, "HEAD", "/api/v1/interface/eth0/stats"),
        (stats, "GET", "/api/v1/interface/wan9/stats"),
        (stats, "GET", "/api/v1/interface/%2F/stats"),
        (stats, "GET", "/api/v1/interface/../stats"),
        (stats, "GET", "/api/v1/interface/abcdefghijklmnop/stats"),
        (stats, "POST", "/api/v1/interface/eth0/stats"),
        ("/api/v1/interfaces", "GET", "/api/v1/interfaces"),
        ("/api/v1/interfaces", "DELETE", "/api/v1/interfaces"),
        ("/health", "GET", "/health"),
        ("/health", "PUT", "/health"),
        ("/openapi.yaml", "GET", "/openapi.yaml"),
        ("/openapi.yaml", "OPTIONS", "/openapi.yaml"),
    ];
    let mut answers: BTreeMap<(String, u16), Vec<Value>> = BTreeMap::new();
    let mut record = |template: &str, reply: api::Reply| {
        let body = if reply.content_type == "application/json" {
            serde_json::from_slice(&reply.body).expect("JSON bodies parse")
        } else {
            yaml_serde::from_slice(&reply.body).expect("the YAML body parses")
        };
        answers
            .entry((template.to_owned(), reply.status))
            .or_default()
            .push(body);
    };
    for (template, method, url) in cases {
        record(template, api::handle(&route(method, url), &view, fresh));
    }
    record(
        "/health",
        api::handle(&route("GET", "/health"), &view, stale),
    );
    // Before any successful sample (the daemon does not start serving then, but the types allow
    // it): the timestamps are null.
    let empty = Stats::new("/proc/net/dev", INTERVAL).view();
    record(
        "/health",
        api::handle(&route("GET", "/health"), &empty, fresh),
    );
    let list = api::handle(&route("GET", "/api/v1/interfaces"), &empty, fresh);
    record("/api/v1/interfaces", list);
    answers
}

/// Every (path template, status) the spec documents. Other methods than GET are documented as
/// the 405 of each path's GET operation.
fn documented(spec: &OpenAPI) -> BTreeSet<(String, u16)> {
    let mut set = BTreeSet::new();
    for (path, method, operation) in spec.operations() {
        assert_eq!(
            method, "get",
            "{path}: only GET is an operation; HEAD mirrors it"
        );
        for status in operation.responses.responses.keys() {
            let code = match status {
                openapiv3::StatusCode::Code(code) => *code,
                other => panic!("{path}: status ranges are not precise enough: {other:?}"),
            };
            set.insert((path.to_owned(), code));
        }
        assert!(
            operation.responses.default.is_none(),
            "{path}: no default response"
        );
    }
    set
}

#[test]
fn spec_is_openapi_3_0_with_resolvable_refs() {
    let spec: OpenAPI = yaml_serde::from_str(OPENAPI_YAML).expect("openapi.yaml is OpenAPI 3.0");
    assert!(
        spec.openapi.starts_with("3.0."),
        "openapiv3 models only 3.0.x"
    );
    assert_eq!(spec.info.version, env!("CARGO_PKG_VERSION"));
    let json = spec_json();
    let mut refs = Vec::new();
    collect_refs(&json, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference.strip_prefix('#').expect("local refs only");
        assert!(json.pointer(pointer).is_some(), "dangling {reference}");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_route_and_status_is_documented_and_every_documented_one_is_answered() {
    let spec: OpenAPI = yaml_serde::from_str(OPENAPI_YAML).unwrap();
    let documented = documented(&spec);
    let answered: BTreeSet<(String, u16)> = server_answers().into_keys().collect();
    let undocumented: Vec<_> = answered.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "answered but not documented: {undocumented:?}"
    );
    let never: Vec<_> = documented.difference(&answered).collect();
    assert!(never.is_empty(), "documented but never answered: {never:?}");
}

#[test]
fn bodies_have_exactly_the_documented_fields() {
    let spec = spec_json();
    let answers = server_answers();
    let mut nulls = BTreeSet::new();
    for ((template, status), bodies) in &answers {
        let schema = response_schema(&spec, template, *status);
        for body in bodies {
            let at = format!("{template} {status}");
            check(&spec, &schema, body, &at, &mut nulls);
        }
    }
    // Every nullable property was seen null, so none is nullable without reason.
    let nullable = nullable_properties(&spec);
    let never_null: Vec<_> = nullable.difference(&nulls).collect();
    assert!(
        never_null.is_empty(),
        "nullable but never null: {never_null:?}"
    );
}

#[test]
fn examples_have_exactly_the_documented_fields() {
    let spec = spec_json();
    let mut seen = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (status, response) in item["get"]["responses"].as_object().unwrap() {
            let response = resolve(&spec, response);
            for (media, content) in response["content"].as_object().unwrap() {
                let example = content
                    .get("example")
                    .expect("every response has an example");
                let at = format!("{media} example of {path} {status}");
                check(
                    &spec,
                    &content["schema"],
                    example,
                    &at,
                    &mut BTreeSet::new(),
                );
                seen += 1;
            }
        }
    }
    assert!(seen >= 8, "only {seen} examples");
}

#[test]
fn headers_the_server_sends_are_documented() {
    let spec = spec_json();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (status, response) in item["get"]["responses"].as_object().unwrap() {
            let response = resolve(&spec, response);
            let headers = response.get("headers").and_then(Value::as_object);
            let has = |name: &str| headers.is_some_and(|h| h.contains_key(name));
            let json = response["content"].get("application/json").is_some();
            assert_eq!(has("Cache-Control"), json, "{path} {status}: Cache-Control");
            assert_eq!(has("Allow"), status == "405", "{path} {status}: Allow");
        }
    }
}

fn response_schema(spec: &Value, template: &str, status: u16) -> Value {
    let response = &spec["paths"][template]["get"]["responses"][status.to_string()];
    let response = resolve(spec, response);
    let content = response["content"].as_object().expect("content");
    let (_, media) = content.iter().next().expect("one media type");
    media["schema"].clone()
}

fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(spec, spec.pointer(&r[1..]).expect("ref resolves")),
        None => value,
    }
}

/// The schema itself, unwrapping `allOf: [one]` (the 3.0 way to make a $ref nullable).
fn unwrap_schema<'a>(spec: &'a Value, schema: &'a Value) -> (&'a Value, bool) {
    let nullable = schema.get("nullable") == Some(&Value::Bool(true));
    let inner = match schema.get("allOf").and_then(Value::as_array) {
        Some(all) if all.len() == 1 => resolve(spec, &all[0]),
        _ => resolve(spec, schema),
    };
    (
        inner,
        nullable || inner.get("nullable") == Some(&Value::Bool(true)),
    )
}

/// Checks `value` against `schema` recursively: the same object keys, every key required,
/// null only where nullable, the JSON type and enums right.
fn check(spec: &Value, schema: &Value, value: &Value, at: &str, nulls: &mut BTreeSet<String>) {
    let (schema, nullable) = unwrap_schema(spec, schema);
    if value.is_null() {
        assert!(nullable, "{at}: null but not nullable");
        nulls.insert(at.rsplit(" > ").next().unwrap_or(at).to_owned());
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        assert!(allowed.contains(value), "{at}: {value} not in {allowed:?}");
    }
    let kind = schema["type"]
        .as_str()
        .unwrap_or_else(|| panic!("{at}: no type"));
    match (kind, value) {
        ("object", Value::Object(map)) if schema.get("properties").is_none() => {
            // A free-form object (the OpenAPI document itself): only its required keys.
            for key in schema["required"].as_array().expect("required") {
                let key = key.as_str().unwrap();
                assert!(map.contains_key(key), "{at}: no {key}");
            }
        }
        ("object", Value::Object(map)) => {
            let properties = schema["properties"].as_object().expect("properties");
            let documented: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
            let sent: BTreeSet<&str> = map.keys().map(String::as_str).collect();
            assert_eq!(sent, documented, "{at}: fields differ from the schema");
            let required: BTreeSet<&str> = schema["required"]
                .as_array()
                .expect("required")
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(
                required, documented,
                "{at}: required differs from properties"
            );
            assert_eq!(schema["additionalProperties"], Value::Bool(false), "{at}");
            for (key, value) in map {
                check(
                    spec,
                    &properties[key],
                    value,
                    &format!("{at} > {key}"),
                    nulls,
                );
            }
        }
        ("array", Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check(spec, &schema["items"], item, &format!("{at}[{i}]"), nulls);
            }
        }
        ("string", Value::String(_)) | ("boolean", Value::Bool(_)) => {}
        ("integer", Value::Number(n)) => assert!(n.is_u64() || n.is_i64(), "{at}: {n}"),
        ("number", Value::Number(_)) => {}
        _ => panic!("{at}: {value} is not of type {kind}"),
    }
}

/// The names of all properties declared nullable, anywhere in the schemas.
fn nullable_properties(spec: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for schema in spec["components"]["schemas"].as_object().unwrap().values() {
        if let Some(properties) = schema["properties"].as_object() {
            for (name, property) in properties {
                if property.get("nullable") == Some(&Value::Bool(true)) {
                    names.insert(name.clone());
                }
            }
        }
    }
    names
}
