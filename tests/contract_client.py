"""The contract from a client's side: a Python client generated from openapi.yaml by
openapi-python-client, run against the real daemon in every state the API has, with every
response also validated by openapi-schema-validator's OAS30StrictValidator.

Run by tests/contract.sh (which installs the tools and generates the client), as

    python tests/contract_client.py SPEC CLIENT_PARENT_DIR DAEMON_BINARY WORK_DIR

States, on a scripted --source file and a --sysfs fixture tree (no root needed):
- first sample: a daemon with --interval 15m has one sample: every rate is null;
- normal traffic: a daemon with --interval 200ms; counters written by this script are served
  exactly, and rates times seconds give back the bytes and packets written;
- a vanished interface: its line removed from the source: present false, no link, no uptime;
- degraded: the source removed: /health 503 `degraded`, the rest still served;
- every error status: 400 (name, window), 404 (interface, path), 405, and the HTTP layer's
  400 bad_content_length, 413, 414, 417 and 431.
Every operation is called as GET and HEAD through the generated client (HEAD: no body, GET's
headers). Every wait has a deadline; nothing sleeps and hopes.
"""

import importlib
import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse

import yaml
from openapi_schema_validator import OAS30StrictValidator

SPEC_PATH, CLIENT_DIR, DAEMON, WORK = sys.argv[1:5]
sys.path.insert(0, CLIENT_DIR)

import httpx  # noqa: E402
from ifstatsd_client import Client  # noqa: E402
from ifstatsd_client.api.operations import (  # noqa: E402
    get_dashboard, get_docs, get_health, get_metrics, get_open_api,
    head_dashboard, head_docs, head_health, head_metrics, head_open_api)
from ifstatsd_client.api.statistics import (  # noqa: E402
    get_interface_history, get_interface_stats, get_interface_usage, head_interface_history,
    head_interface_stats, head_interface_usage, head_interfaces, list_interfaces)
from ifstatsd_client.models import (  # noqa: E402
    Error, Health, HealthStatus, History, HistoryWindow, HistoryWindowSeconds,
    InterfaceList, InterfaceStats, OperState, Rate, Usage)

SPEC_TEXT = open(SPEC_PATH, encoding="utf-8").read()
SPEC = yaml.safe_load(SPEC_TEXT)

passed = 0


def check(condition, what):
    """One assertion, counted; a failure ends the run with what failed."""
    global passed
    if not condition:
        raise AssertionError(what)
    passed += 1


# --- the document, strictly -----------------------------------------------------------------------

def validator(schema):
    """openapi-schema-validator's OAS30StrictValidator (OAS30Validator with the strict type and
    format rules: `nullable` only beside `type`) for `schema`, resolving $refs into the
    document."""
    schema = dict(schema, components=SPEC["components"])
    return OAS30StrictValidator(schema, format_checker=OAS30StrictValidator.FORMAT_CHECKER)


def deref(node):
    """Follows a local $ref (responses, headers, parameters)."""
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def validate(schema, value, what):
    errors = sorted(validator(schema).iter_errors(value), key=str)
    check(not errors, f"{what}: {'; '.join(e.message for e in errors[:3])}")


def check_examples():
    """Every example in the document validates against its schema, strictly."""
    seen = 0
    for path, item in SPEC["paths"].items():
        for method in ("get", "head"):
            for status, response in item[method]["responses"].items():
                response = deref(response)
                for media, content in response.get("content", {}).items():
                    examples = [content["example"]] if "example" in content else [
                        e["value"] for e in content.get("examples", {}).values()]
                    check(examples, f"{method} {path} {status} {media}: no example")
                    for example in examples:
                        validate(content["schema"], example,
                                 f"the example of {method} {path} {status} {media}")
                        seen += 1
    for name, parameter in SPEC["components"]["parameters"].items():
        validate(parameter["schema"], parameter["example"], f"parameter {name}'s example")
        seen += 1
    return seen


# --- the daemon and its source ----------------------------------------------------------------------

HEADER = ("Inter-|   Receive                                                |  Transmit\n"
          " face |bytes    packets errs drop fifo frame compressed multicast"
          "|bytes    packets errs drop fifo colls carrier compressed\n")


def write_source(path, interfaces):
    """Writes a /proc/net/dev text: {name: (rx_bytes, rx_packets, rx_errs, rx_drop, tx_bytes,
    tx_packets, tx_errs, tx_drop)}; replaced atomically, as the kernel's file never half-shows."""
    lines = [HEADER]
    for name, c in interfaces.items():
        rx, tx = c[:4], c[4:]
        lines.append(f"{name:>6}: {rx[0]} {rx[1]} {rx[2]} {rx[3]} 0 0 0 0 "
                     f"{tx[0]} {tx[1]} {tx[2]} {tx[3]} 0 0 0 0\n")
    with open(path + ".new", "w") as f:
        f.write("".join(lines))
    os.replace(path + ".new", path)


def write_sysfs(root, links):
    """{name: (ifindex, operstate)} as sysfs files."""
    for name, (ifindex, state) in links.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        with open(os.path.join(root, name, "ifindex"), "w") as f:
            f.write(f"{ifindex}\n")
        with open(os.path.join(root, name, "operstate"), "w") as f:
            f.write(f"{state}\n")


def wait_for(what, condition, seconds=20):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Daemon:
    def __init__(self, name, source, sysfs, interval):
        self.log_path = os.path.join(WORK, f"{name}.log")
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [DAEMON, "--listen", "127.0.0.1:0", "--source", source, "--sysfs", sysfs,
             "--interval", interval, "--log-level", "info"],
            stdout=subprocess.DEVNULL, stderr=self.log)
        self.url = wait_for(f"{name} to listen", self.listening)
        self.client = Client(base_url=self.url, raise_on_unexpected_status=True, timeout=5.0)

    def listening(self):
        check_alive = self.process.poll()
        if check_alive is not None:
            raise AssertionError(f"the daemon exited with {check_alive}: {self.logged()}")
        for line in self.logged().splitlines():
            if "serving http://" in line:
                return "http://" + line.split("serving http://")[1].split()[0].rstrip("/")
        return None

    def logged(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


# --- every response, through the generated client and the validator --------------------------------

def template_of(url_path):
    for template in SPEC["paths"]:
        parts, segments = template.split("/"), url_path.split("/")
        if len(parts) == len(segments) and all(
                p.startswith("{") or p == s for p, s in zip(parts, segments)):
            return template
    return None


def documented(response, method, what, path=None):
    """Checks a response (httpx's, or the generated client's with `path`) against the document:
    its status is listed for the operation (405 under GET for the methods a path does not
    declare), its required headers are sent with the documented values, and a GET body
    validates against the schema of its media type."""
    path = path or response.request.url.path
    template = template_of(path)
    check(template is not None, f"{what}: {path} is not in the document")
    item = SPEC["paths"][template]
    operation = item.get(method.lower()) or item["get"]
    status = str(int(response.status_code))
    check(status in operation["responses"],
          f"{what}: {method} {template} does not document {status}")
    spec_response = deref(operation["responses"][status])
    for name, header in spec_response.get("headers", {}).items():
        header = deref(header)
        value = response.headers.get(name)
        check(value is not None or not header.get("required"), f"{what}: no {name} header")
        if value is not None:
            typed = int(value) if header["schema"]["type"] == "integer" else value
            validate(header["schema"], typed, f"{what}: header {name}")
    content = spec_response.get("content")
    if method == "HEAD":
        check(content is None, f"{what}: HEAD documents a body")
        check(response.content == b"", f"{what}: HEAD got a body")
        return None
    media = response.headers["content-type"]
    check(media in content, f"{what}: Content-Type {media} is not documented")
    if media == "application/json":
        body = json.loads(response.content)
    elif media == "application/yaml":
        body = yaml.safe_load(response.content)
    else:
        body = response.content.decode("utf-8")
    validate(content[media]["schema"], body, f"{what}: body")
    return body


def call(module, what, client, **kwargs):
    """Calls a generated GET operation and checks the very bytes its model was parsed from
    against the document; returns the generated client's response (`parsed`: the model)."""
    response = module.sync_detailed(client=client, **kwargs)
    documented(response, "GET", what, path=module._get_kwargs(**kwargs)["url"])
    return response


def head_matches_get(head_module, get_module, what, same_length=True, **kwargs):
    """HEAD through the generated client: no body, GET's status, Content-Length of GET's body
    (`same_length`: for bodies that hold the daemon's clock, /health and /metrics, a length)."""
    client = kwargs["client"]
    head = head_module.sync_detailed(**kwargs)
    check(head.parsed is None and head.content == b"", f"{what}: HEAD parsed or got a body")
    args = {k: v for k, v in kwargs.items() if k != "client"}
    http = client.get_httpx_client()
    get = http.get(get_module._get_kwargs(**args)["url"],
                   params=get_module._get_kwargs(**args).get("params"))
    check(int(head.status_code) == get.status_code,
          f"{what}: HEAD {int(head.status_code)}, GET {get.status_code}")
    length = int(head.headers["content-length"])
    check(length == len(get.content) if same_length else length > 0,
          f"{what}: HEAD's Content-Length {head.headers['content-length']} is not GET's body "
          f"length {len(get.content)}")
    check(head.headers.get("cache-control") == get.headers.get("cache-control"),
          f"{what}: HEAD and GET differ in Cache-Control")
    raw = http.head(get.request.url)
    documented(raw, "HEAD", what)
    return head


def close(a, b, what, relative=1e-9):
    check(math.isclose(a, b, rel_tol=relative, abs_tol=1e-9), f"{what}: {a} != {b}")


# --- the states ------------------------------------------------------------------------------------

LINKS = {"ct0": (7, "up"), "ct1": (8, "down"), "gone0": (9, "up")}  # nosys0: no sysfs at all
START = {
    "ct0": [1_000_000, 1_000, 1, 2, 500_000, 400, 0, 3],
    "ct1": [10, 1, 0, 0, 20, 2, 0, 0],
    "gone0": [300, 3, 0, 0, 600, 6, 0, 0],
    "nosys0": [5, 1, 0, 0, 5, 1, 0, 0],
}


FIELDS = ["rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
          "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"]


def counters_of(stats):
    return [getattr(stats.counters, field) for field in FIELDS]


def every_operation(d, name, what):
    """Every operation, GET and HEAD, through the generated client; the models parsed."""
    c = d.client
    stats = call(get_interface_stats, f"{what}: stats {name}", client=c, net_id=name).parsed
    check(isinstance(stats, InterfaceStats), f"{what}: stats is an InterfaceStats")
    head_matches_get(head_interface_stats, get_interface_stats, f"{what}: HEAD stats",
                     client=c, net_id=name)
    for window in HistoryWindow:
        history = call(get_interface_history, f"{what}: history {window}", client=c,
                       net_id=name, window=window).parsed
        check(isinstance(history, History), f"{what}: history is a History")
        seconds = {"1m": 60, "5m": 300, "15m": 900, "60m": 3600}[window.value]
        check(history.window_seconds == HistoryWindowSeconds(seconds),
              f"{what}: window_seconds {history.window_seconds} for {window}")
        head_matches_get(head_interface_history, get_interface_history,
                         f"{what}: HEAD history {window}", client=c, net_id=name, window=window)
    usage = call(get_interface_usage, f"{what}: usage {name}", client=c, net_id=name).parsed
    check(isinstance(usage, Usage), f"{what}: usage is a Usage")
    check(usage.cycle.total_bytes == usage.cycle.rx_bytes + usage.cycle.tx_bytes,
          f"{what}: the cycle's total is rx + tx")
    head_matches_get(head_interface_usage, get_interface_usage, f"{what}: HEAD usage",
                     client=c, net_id=name)
    listed = call(list_interfaces, f"{what}: list", client=c).parsed
    check(isinstance(listed, InterfaceList), f"{what}: the list is an InterfaceList")
    names = [i.interface for i in listed.interfaces]
    check(names == sorted(names), f"{what}: the list is sorted: {names}")
    head_matches_get(head_interfaces, list_interfaces, f"{what}: HEAD list", client=c)
    health = call(get_health, f"{what}: health", client=c).parsed
    check(isinstance(health, Health), f"{what}: health is a Health")
    head_matches_get(head_health, get_health, f"{what}: HEAD health", client=c,
                     same_length=False)
    metrics = call(get_metrics, f"{what}: metrics", client=c).parsed
    check(isinstance(metrics, str) and "# TYPE node_network_receive_bytes_total counter" in metrics,
          f"{what}: metrics")
    head_matches_get(head_metrics, get_metrics, f"{what}: HEAD metrics", client=c,
                     same_length=False)
    page = call(get_dashboard, f"{what}: dashboard", client=c).parsed
    check(page.lower().startswith("<!doctype html>"), f"{what}: the dashboard is a page")
    head_matches_get(head_dashboard, get_dashboard, f"{what}: HEAD dashboard", client=c)
    docs = call(get_docs, f"{what}: docs", client=c).parsed
    check(docs.lower().startswith("<!doctype html>"), f"{what}: /docs is a page")
    head_matches_get(head_docs, get_docs, f"{what}: HEAD docs", client=c)
    # openapi-python-client has no YAML decoder (it says so when generating): `parsed` is None,
    # and the bytes are this document.
    lenient = Client(base_url=d.url, timeout=5.0)
    document = get_open_api.sync_detailed(client=lenient)
    check(int(document.status_code) == 200 and document.content == SPEC_TEXT.encode(),
          f"{what}: /openapi.yaml is this document")
    documented(httpx.get(d.url + "/openapi.yaml"), "GET", f"{what}: openapi.yaml")
    head_matches_get(head_open_api, get_open_api, f"{what}: HEAD openapi.yaml", client=c)
    return stats, listed, health


def state_first_sample(source, sysfs):
    """One sample: every interface is known, no rate has an interval yet."""
    d = Daemon("first", source, sysfs, "15m")
    try:
        for name in START:
            stats, listed, health = every_operation(d, name, f"first sample, {name}")
            check(health.status == HealthStatus.OK and health.samples_total == 1,
                  f"first sample: health {health.status} after {health.samples_total} samples")
            rates = stats.rates
            for window in ("current", "avg_1m", "avg_5m", "avg_15m"):
                check(getattr(rates, window) is None, f"first sample, {name}: {window} is null")
            check(counters_of(stats) == START[name],
                  f"first sample, {name}: counters {counters_of(stats)}")
            history = get_interface_history.sync(client=d.client, net_id=name)
            check(history.points == [], f"first sample, {name}: no interval yet")
        ct0 = get_interface_stats.sync(client=d.client, net_id="ct0")
        check(ct0.oper_state == OperState.UP and ct0.ifindex == 7, "first sample: ct0's link")
        check(ct0.uptime_is_lower_bound and ct0.uptime_seconds == 0.0, "first sample: ct0 up")
        ct1 = get_interface_stats.sync(client=d.client, net_id="ct1")
        check(ct1.oper_state == OperState.DOWN and ct1.uptime_seconds is None, "ct1 is down")
        nosys = get_interface_stats.sync(client=d.client, net_id="nosys0")
        check(nosys.ifindex is None and nosys.oper_state is None, "nosys0: no link known")
    finally:
        d.stop()


def state_traffic_vanished_degraded(source, sysfs):
    write_source(source, START)
    d = Daemon("live", source, sysfs, "200ms")
    c = d.client
    try:
        health = lambda: get_health.sync(client=c)  # noqa: E731
        wait_for("a second sample", lambda: health().samples_total >= 2)
        # Normal traffic: ct0 receives and sends a known number of bytes and packets.
        sent = [123_456, 789, 4, 5, 65_432, 321, 1, 2]
        now = dict(START, ct0=[a + b for a, b in zip(START["ct0"], sent)])
        write_source(source, now)
        served = lambda: get_interface_stats.sync(client=c, net_id="ct0")  # noqa: E731
        wait_for("ct0's new counters", lambda: counters_of(served())
                 == now["ct0"])
        wait_for("a sample after the change", lambda: served().rates.current is not None
                 and served().rates.current.rx_bytes_per_sec == 0.0)
        stats, _, health_now = every_operation(d, "ct0", "traffic")
        check(health_now.status == HealthStatus.OK, "traffic: healthy")
        check(stats.present and stats.oper_state == OperState.UP and stats.ifindex == 7,
              "traffic: ct0's link")
        fields = FIELDS
        for window in ("avg_1m", "avg_5m", "avg_15m"):
            rate = getattr(stats.rates, window)
            check(isinstance(rate, Rate), f"traffic: {window} is a Rate")
            for field, amount in zip(fields, sent):
                close(getattr(rate, field + "_per_sec") * rate.covered_seconds, amount,
                      f"traffic: {window} {field} times covered_seconds", 1e-6)
        # The usage totals count the same deltas: what was written since the first sample.
        usage = get_interface_usage.sync(client=c, net_id="ct0")
        check((usage.cycle.rx_bytes, usage.cycle.tx_bytes) == (sent[0], sent[4]),
              f"traffic: usage {usage.cycle.rx_bytes}/{usage.cycle.tx_bytes} is what was sent")
        check(usage.cycle.quota_bytes is None and usage.cycle.remaining_bytes is None,
              "traffic: no quota")
        history = get_interface_history.sync(client=c, net_id="ct0", window=HistoryWindow.ONE_MINUTE)
        for field, amount in zip(fields, sent):
            total = sum(getattr(p, field + "_per_sec") * p.seconds for p in history.points)
            close(total, amount, f"traffic: history {field}, rates times seconds", 1e-6)
        check(all(p.end > p.start for p in history.points), "traffic: points move forward")
        check(history.points[-1].end == history.updated_at, "traffic: the window ends now")

        # A vanished interface: its line gone from the source.
        del now["gone0"]
        write_source(source, now)
        gone = lambda: get_interface_stats.sync(client=c, net_id="gone0")  # noqa: E731
        wait_for("gone0 to vanish", lambda: not gone().present)
        stats, listed, _ = every_operation(d, "gone0", "vanished")
        check(stats.ifindex is None and stats.oper_state is None, "vanished: no link")
        check(stats.uptime_seconds is None and stats.up_since is None, "vanished: no uptime")
        check(stats.rates.current is None and isinstance(stats.rates.avg_1m, Rate),
              "vanished: no current rate; the averages keep what it was seen doing")
        check(counters_of(stats) == START["gone0"], "vanished: last counters")
        in_list = [i for i in listed.interfaces if i.interface == "gone0"]
        check(len(in_list) == 1 and not in_list[0].present and in_list[0].ifindex is None,
              "vanished: listed, absent, without a link")

        # Degraded: the source removed.
        os.remove(source)
        wait_for("/health to turn 503",
                 lambda: int(get_health.sync_detailed(client=c).status_code) == 503)
        stats, _, health_now = every_operation(d, "ct0", "degraded")
        check(health_now.status == HealthStatus.DEGRADED, "degraded: status degraded")
        check("cannot read" in (health_now.last_error or ""), f"degraded: {health_now.last_error}")
        check(health_now.collection_errors_total >= 3, "degraded: failed samples counted")
        check(counters_of(stats) == now["ct0"], "degraded: last good data")
        head = head_health.sync_detailed(client=c)
        check(int(head.status_code) == 503, "degraded: HEAD /health 503")

        errors(d)
    finally:
        d.stop()


def expect_error(response, status, code, what, parse=None):
    """An error answer: the documented status, an Error the generated model parses, its code."""
    check(response.status_code == status, f"{what}: {response.status_code}, not {status}")
    check(response.headers.get("content-type") == "application/json", f"{what}: JSON")
    body = response.json()
    validate({"$ref": "#/components/schemas/Error"}, body, f"{what}: Error body")
    error = parse(response) if parse else Error.from_dict(body)
    check(isinstance(error, Error), f"{what}: parsed into Error")
    check(error.error.status == status and error.error.code == code and error.error.message,
          f"{what}: {error.error.status} {error.error.code}")


def raw_exchange(url, request):
    """Sends raw bytes on a new connection; returns the answer, as httpx would parse it."""
    netloc = urllib.parse.urlsplit(url).netloc
    host, port = netloc.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return httpx.Response(status, headers=headers, content=body)


def errors(d):
    c = d.client

    def generated(module, **kwargs):
        """The generated operation's own parsing of an answer."""
        return lambda response: module._build_response(client=c, response=response).parsed

    for name, status, code in [("abcdefghijklmnop", 400, "invalid_interface_name"),
                               ("a b", 400, "invalid_interface_name"),
                               ("wan9", 404, "interface_not_found")]:
        for module, head in [(get_interface_stats, head_interface_stats),
                             (get_interface_history, head_interface_history),
                             (get_interface_usage, head_interface_usage)]:
            response = module.sync_detailed(client=c, net_id=name)
            check(isinstance(response.parsed, Error), f"{name}: parsed into Error")
            raw = httpx.get(d.url + module._get_kwargs(net_id=name)["url"])
            documented(raw, "GET", f"{module.__name__} {name!r}")
            expect_error(raw, status, code, f"{module.__name__} {name!r}", generated(module))
            head_matches_get(head, module, f"HEAD {name!r}", client=c, net_id=name)
    # A window the enum does not have: the generated function cannot send it; the raw request
    # is parsed by the generated operation's own code.
    raw = httpx.get(d.url + "/api/v1/interface/ct0/history", params={"window": "2h"})
    documented(raw, "GET", "window=2h")
    expect_error(raw, 400, "invalid_window", "window=2h", generated(get_interface_history))
    check(int(httpx.head(raw.request.url).status_code) == 400, "HEAD window=2h")
    # Other methods: 405 with Allow, documented under GET.
    modules = {"/api/v1/interface/ct0/stats": get_interface_stats,
               "/api/v1/interface/ct0/history": get_interface_history,
               "/api/v1/interface/ct0/usage": get_interface_usage,
               "/api/v1/interfaces": list_interfaces, "/health": get_health,
               "/metrics": get_metrics, "/openapi.yaml": get_open_api, "/": get_dashboard,
               "/docs": get_docs}
    check({template_of(p) for p in modules} == set(SPEC["paths"]), "405: every path")
    for path, module in modules.items():
        for method in ("POST", "PUT", "DELETE", "OPTIONS"):
            raw = httpx.request(method, d.url + path)
            documented(raw, method, f"{method} {path}")
            check(raw.headers.get("allow") == "GET, HEAD", f"{method} {path}: Allow")
            expect_error(raw, 405, "method_not_allowed", f"{method} {path}", generated(module))
    # A path outside the document.
    expect_error(httpx.get(d.url + "/api/v1/interfaces/"), 404, "not_found", "unknown path")
    # The HTTP layer, before a request reaches an operation; each ends its connection.
    layer = [
        (b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" + b"x" * 2048,
         413, "payload_too_large"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
         400, "bad_content_length"),
        (b"GET /health?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
         417, "expectation_failed"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(
            b"X-H%d: v\r\n" % i for i in range(120)) + b"\r\n",
         431, "request_header_fields_too_large"),
    ]
    for request, status, code in layer:
        expect_error(raw_exchange(d.url, request), status, code, f"HTTP layer {code}")


def check_generated_names():
    """The generated code reads well: no `...Type1` copies of an enum, no `VALUE_2` members, no
    `ErrorError`: the shared types have names in the document."""
    import enum
    import inspect
    import ifstatsd_client.models as models
    classes = [c for _, c in inspect.getmembers(models, inspect.isclass)]
    names = sorted(c.__name__ for c in classes)
    copies = [n for n in names if re.search(r"Type\d", n) or n == "ErrorError"]
    check(not copies, f"generated names that say the document lacks a name: {copies}")
    for c in classes:
        if issubclass(c, enum.Enum):
            members = [m.name for m in c]
            check(not [m for m in members if m.startswith("VALUE_")], f"{c.__name__}: {members}")
    for wanted in ("OperState", "HistoryWindow", "ErrorDetail", "RestartReason", "Rate"):
        check(wanted in names, f"no generated {wanted}: {names}")


def main():
    os.makedirs(WORK, exist_ok=True)
    check_generated_names()
    source = os.path.join(WORK, "net_dev")
    sysfs = os.path.join(WORK, "sysfs")
    write_sysfs(sysfs, LINKS)
    write_source(source, START)
    examples = check_examples()
    print(f"contract_client.py: {examples} examples valid under OAS30StrictValidator")
    state_first_sample(source, sysfs)
    print("contract_client.py: first sample (null rates): every operation, GET and HEAD")
    state_traffic_vanished_degraded(source, sysfs)
    print("contract_client.py: traffic, a vanished interface, degraded, every error status")
    print(f"contract: {passed} passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"contract_client.py: FAILED: {e}", file=sys.stderr)
        print(f"contract: {passed} passed, 1 failed")
        sys.exit(1)
