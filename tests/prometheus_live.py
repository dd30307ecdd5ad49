"""ifstatsd against the real thing: Debian's node_exporter and Prometheus (run by
tests/prometheus_live.sh, which says what it needs).

1. node_exporter parity (root: a network namespace). ifstatsd and node_exporter (netdev from
   /proc/net/dev, netclass, uname) run side by side in one namespace with a veth pair whose
   MTU, alias and state are set here; every node_* family ifstatsd serves must exist in
   node_exporter's output with the same TYPE and the same label names, and agree in value for
   the veth (counters after known traffic, link state) and for node_uname_info.
2. `promtool check metrics` finds nothing to say about ifstatsd's /metrics.
3. One Prometheus scrapes a daemon sampling every 10 s (a scripted source rising at a known
   rate) in three jobs, every 5, 15 and 30 s, and a second daemon sampling every second, whose
   source deletes an interface and re-creates it:
   - rate(node_network_receive_bytes_total[1m]) is within 1% of the true rate in each job
     (and [20s] at 5 s scrapes);
   - the deleted interface: node_network_* series end while it is gone, resets() is 1 across
     the re-creation, no rate (Prometheus's or ifstatsd's) spikes above the true one, its
     ifstatsd averages decay while it is gone (absence counts as covered, no traffic) and its
     "current" rate is absent;
   - every query of contrib/grafana/ifstatsd.json returns series.
Nothing waits on a fixed sleep: each wait is for a condition, with a deadline, except the
minute of scraping that rate(...[1m]) needs, paced by the clock.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

BIN = os.path.abspath(os.environ.get("IFSTATSD_BIN", "target/debug/ifstatsd"))
WORK = os.path.abspath(os.environ.get("PROMETHEUS_LIVE_DIR", "target/prometheus-live"))
RATE = 2_000_000  # B/s of the steady source, as in the issue
LIFE_RATE = 500_000  # B/s of the interface that is deleted and re-created
GONE_AT, BACK_AT = 20.0, 45.0  # seconds after the start of the lifecycle source
procs = []


def log(message):
    print(f"prometheus_live: {message}", flush=True)


def fail(message):
    sys.exit(f"prometheus_live: FAIL: {message}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def wait_for(what, check, deadline_s=30.0, every_s=0.1):
    until = time.monotonic() + deadline_s
    while True:
        try:
            result = check()
            if result:
                return result
        except (OSError, ValueError, KeyError, IndexError, subprocess.CalledProcessError):
            pass  # not up yet (a refused connection, a half-written answer): look again
        if time.monotonic() > until:
            fail(f"{what}: not within {deadline_s} s")
        time.sleep(every_s)


def start(args, name):
    out = open(os.path.join(WORK, f"{name}.log"), "w")
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    procs.append(proc)
    return proc


def stop_all():
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """The text format, as {family: (type, [(labels, value)])}; families by their TYPE line."""
    families, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            families.setdefault(name, (kind, []))
        elif line and not line.startswith("#"):
            m = LINE.match(line)
            if not m:
                fail(f"unparsable line {line!r}")
            labels = dict(LABEL.findall(m.group(2) or ""))
            families.setdefault(m.group(1), (types.get(m.group(1), "untyped"), []))
            families[m.group(1)][1].append((labels, float(m.group(3))))
    return families


# 1. node_exporter parity ------------------------------------------------------------------------

def sh(*args):
    subprocess.run(args, check=True)


def node_exporter_parity():
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            fail("node_exporter parity needs root (network namespaces), and CI runs as root")
        log("SKIP node_exporter parity: needs root for a network namespace")
        return
    ns, peer = "ns13-prom", "ns13-peer"
    for n in (ns, peer):
        subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)
        sh("ip", "netns", "add", n)
        # No IPv6: its autoconfiguration would send packets between the two reads.
        for key in ("all", "default"):
            sh("ip", "netns", "exec", n, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
    try:
        in_ns = ["ip", "netns", "exec", ns]
        sh("ip", "link", "add", "i13a", "netns", ns, "type", "veth", "peer", "i13b", "netns", peer)
        sh(*in_ns, "ip", "link", "set", "lo", "up")
        sh(*in_ns, "ip", "link", "set", "i13a", "mtu", "1400", "alias", 'uplink "test"\\1', "up")
        sh(*in_ns, "ip", "addr", "add", "10.13.0.1/24", "dev", "i13a")
        # A second veth left down: no carrier, no speed, operstate down.
        sh(*in_ns, "ip", "link", "add", "i13c", "type", "veth", "peer", "i13d")
        sh("ip", "netns", "exec", peer, "ip", "link", "set", "i13b", "up")
        sh("ip", "netns", "exec", peer, "ip", "addr", "add", "10.13.0.2/24", "dev", "i13b")
        wait_for("i13a up", lambda: "state UP" in subprocess.run(
            in_ns + ["ip", "link", "show", "i13a"], capture_output=True, text=True).stdout)
        # Known traffic: 50 datagrams of 1000 bytes from the peer.
        sender = ("import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                  "for _ in range(50): s.sendto(b'x' * 1000, ('10.13.0.1', 9))")
        sh("ip", "netns", "exec", peer, "python3", "-c", sender)
        port_i, port_n = free_port(), free_port()
        start(in_ns + [BIN, "--listen", f"127.0.0.1:{port_i}", "--interval", "1s",
                       "--log-level", "warn"], "parity-ifstatsd")
        start(in_ns + ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port_n}",
                       "--collector.disable-defaults", "--collector.netdev",
                       "--collector.netclass", "--collector.uname",
                       "--no-collector.netdev.netlink",
                       "--collector.netdev.device-exclude=^$"], "parity-node-exporter")
        fetch = lambda port: lambda: subprocess.run(
            in_ns + ["curl", "-sf", f"http://127.0.0.1:{port}/metrics"],
            capture_output=True, text=True, check=True).stdout
        wait_for("ifstatsd in the namespace", fetch(port_i))
        wait_for("node_exporter in the namespace", fetch(port_n))
        # Both read after the traffic stopped: the veths' counters must agree exactly.
        ours, theirs = parse(fetch(port_i)()), parse(fetch(port_n)())
        compared = 0
        for name, (kind, samples) in sorted(ours.items()):
            if not name.startswith("node_"):
                continue
            if name not in theirs:
                fail(f"{name}: node_exporter has no such family")
            their_kind, their_samples = theirs[name]
            if kind != their_kind:
                fail(f"{name}: TYPE {kind}, node_exporter's {their_kind}")
            our_sets = {frozenset(l) for l, _ in samples}
            their_sets = {frozenset(l) for l, _ in their_samples}
            if our_sets != their_sets:
                fail(f"{name}: label names {our_sets} against node_exporter's {their_sets}")
            for labels, value in samples:
                if labels.get("device") == "lo" and name.endswith("_total"):
                    continue  # the scrapes themselves cross lo between the two reads
                match = [v for l, v in their_samples if l == labels]
                if match != [value]:
                    theirs_for = [(l, v) for l, v in their_samples
                                  if l.get("device") == labels.get("device")]
                    fail(f"{name}{labels} = {value}; node_exporter: {theirs_for}")
                compared += 1
            # Every device node_exporter lists, ifstatsd lists too (speed: see the README).
            our_devices = {l.get("device") for l, _ in samples}
            for labels, value in their_samples:
                device = labels.get("device")
                if device not in our_devices and not (name == "node_network_speed_bytes"
                                                      and value < 0):
                    fail(f"{name}: node_exporter lists {device}, ifstatsd does not")
        wanted = [f"node_network_{d}_{c}_total" for d, cs in
                  [("receive", ["bytes", "packets", "errs", "drop", "fifo", "frame",
                                "compressed", "multicast"]),
                   ("transmit", ["bytes", "packets", "errs", "drop", "fifo", "colls",
                                 "carrier", "compressed"])] for c in cs]
        wanted += ["node_network_info", "node_network_up", "node_network_carrier",
                   "node_network_mtu_bytes", "node_network_speed_bytes", "node_uname_info"]
        missing = [w for w in wanted if w not in ours]
        if missing:
            fail(f"ifstatsd lacks {missing}")
        rx = [v for l, v in ours["node_network_receive_bytes_total"][1] if l["device"] == "i13a"]
        if not rx or rx[0] < 50 * 1000:
            fail(f"i13a received {rx}, not the 50 datagrams sent")
        info = [l for l, _ in ours["node_network_info"][1] if l["device"] == "i13a"][0]
        if info["ifalias"] != 'uplink \\"test\\"\\\\1' or info["duplex"] != "full":
            fail(f"i13a's info labels: {info}")
        not_ours = sorted(n for n in theirs if n.startswith("node_network")
                          and n not in ours)
        log(f"node_exporter parity: OK: {sum(1 for n in ours if n.startswith('node_'))} "
            f"families, {compared} series equal; node_exporter also has {', '.join(not_ours)}")
    finally:
        stop_all()
        procs.clear()
        for n in (ns, peer):
            subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)


# 3. Prometheus ----------------------------------------------------------------------------------

def writer(path, lines_at, stop):
    """Rewrites `path` every 20 ms with `lines_at(elapsed_seconds)` (atomically, by rename)."""
    t0 = time.time()
    header = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n"
    while not stop.is_set():
        text = header + "".join(lines_at(time.time() - t0))
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        stop.wait(0.02)


def line(name, rx_bytes):
    rx_bytes = int(rx_bytes)
    return (f"{name:>6}: {rx_bytes} {rx_bytes // 1000} 0 0 0 0 0 0 "
            f"{rx_bytes // 2} {rx_bytes // 2000} 0 0 0 0 0 0\n")


def steady(elapsed):
    return [line("lo", 0), line("wan", RATE * elapsed)]


def lifecycle(elapsed):
    lines = [line("lo", 0)]
    if elapsed < GONE_AT:
        lines.append(line("gone0", LIFE_RATE * elapsed))
    elif elapsed >= BACK_AT:
        lines.append(line("gone0", LIFE_RATE * (elapsed - BACK_AT)))
    return lines


class Prometheus:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def query(self, expr, at=None):
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        body = json.loads(get(f"{self.base}/api/v1/query?{urllib.parse.urlencode(params)}"))
        if body["status"] != "success":
            fail(f"{expr}: {body}")
        return body["data"]["result"]

    def value(self, expr, at=None):
        result = self.query(expr, at)
        if len(result) != 1:
            fail(f"{expr} at {at}: {len(result)} series, not 1: {result}")
        return float(result[0]["value"][1])

    def series(self, expr, start, end, step=1):
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": step}
        body = json.loads(get(f"{self.base}/api/v1/query_range?{urllib.parse.urlencode(params)}"))
        return body["data"]["result"]


def live_prometheus():
    steady_dev, life_dev = os.path.join(WORK, "steady.dev"), os.path.join(WORK, "life.dev")
    sysfs = os.path.join(WORK, "sysfs")
    # wan has link state, for the dashboard's utilisation and link panels.
    os.makedirs(os.path.join(sysfs, "wan"), exist_ok=True)
    for attribute, text in [("ifindex", "2"), ("operstate", "up"), ("mtu", "1500"),
                            ("carrier", "1"), ("speed", "100"), ("duplex", "full"),
                            ("address", "02:00:00:00:00:0a"), ("broadcast", "ff:ff:ff:ff:ff:ff"),
                            ("ifalias", "uplink")]:
        with open(os.path.join(sysfs, "wan", attribute), "w") as f:
            f.write(text + "\n")
    stop = threading.Event()
    threads = [threading.Thread(target=writer, args=(steady_dev, steady, stop), daemon=True),
               threading.Thread(target=writer, args=(life_dev, lifecycle, stop), daemon=True)]
    for t in threads:
        t.start()
    wait_for("the scripted sources", lambda: os.path.exists(steady_dev) and os.path.exists(life_dev))
    t_life0 = time.time()  # the lifecycle source's clock started within 20 ms of this
    port_a, port_b, port_p = free_port(), free_port(), free_port()
    start([BIN, "--listen", f"127.0.0.1:{port_a}", "--interval", "10s", "--source", steady_dev,
           "--sysfs", sysfs, "--log-level", "warn"], "daemon-10s")
    start([BIN, "--listen", f"127.0.0.1:{port_b}", "--interval", "1s", "--source", life_dev,
           "--sysfs", os.path.join(WORK, "no-sysfs"), "--log-level", "info"], "daemon-1s")
    for port in (port_a, port_b):
        wait_for(f"the daemon on {port}", lambda: get(f"http://127.0.0.1:{port}/health"))

    # 2. promtool check metrics, on the daemon with link state.
    metrics = get(f"http://127.0.0.1:{port_a}/metrics")
    check = subprocess.run(["promtool", "check", "metrics"], input=metrics,
                           capture_output=True, text=True)
    if check.returncode != 0 or check.stdout.strip() or check.stderr.strip():
        fail(f"promtool check metrics: {check.returncode} {check.stdout} {check.stderr}")
    log("promtool check metrics: clean")

    config = os.path.join(WORK, "prometheus.yml")
    rules = os.path.abspath("contrib/prometheus/ifstatsd.rules.yml")
    jobs = [("s5", "5s", port_a), ("s15", "15s", port_a), ("s30", "30s", port_a),
            ("life", "1s", port_b)]
    with open(config, "w") as f:
        f.write("global:\n  evaluation_interval: 5s\n")
        f.write(f"rule_files: ['{rules}']\n")
        f.write("scrape_configs:\n")
        for job, every, port in jobs:
            f.write(f"  - job_name: {job}\n    scrape_interval: {every}\n"
                    f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
    data = os.path.join(WORK, "prometheus-data")
    shutil.rmtree(data, ignore_errors=True)
    start(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
           f"--web.listen-address=127.0.0.1:{port_p}", "--log.level=warn"], "prometheus")
    prom = Prometheus(port_p)
    wait_for("Prometheus scraping gone0", lambda: prom.query('up{job="life"} == 1'),
             deadline_s=15)

    # The lifecycle, as it happens: sampled each second while the interface is gone.
    def life_json():
        return json.loads(get(f"http://127.0.0.1:{port_b}/api/v1/interface/gone0/stats"))
    gone_views = []
    wait_for("gone0 gone", lambda: time.time() - t_life0 > GONE_AT + 1.5, deadline_s=60)
    while time.time() - t_life0 < BACK_AT - 0.5:
        view = life_json()
        if not view["present"]:
            gone_views.append(view)
        time.sleep(1)
    if len(gone_views) < 15:
        fail(f"only {len(gone_views)} views of gone0 while it was gone")
    averages = [v["rates"]["avg_1m"]["rx_bytes_per_sec"] for v in gone_views]
    if any(later > earlier for earlier, later in zip(averages, averages[1:])):
        fail(f"gone0's 1-minute average rose while it was gone: {averages}")
    for view in gone_views:
        if view["rates"]["current"] is not None:
            fail(f"gone0 has a current rate while gone: {view['rates']['current']}")
        avg = view["rates"]["avg_1m"]
        # About 20 s of traffic inside a window that covers the absence too.
        expected = LIFE_RATE * GONE_AT / avg["covered_seconds"]
        if abs(avg["rx_bytes_per_sec"] - expected) > 0.1 * expected:
            fail(f"gone0's 1-minute average {avg} is not about {expected:.0f} B/s")
    log(f"gone0 while gone: 1m average fell {averages[0]:.0f} -> {averages[-1]:.0f} B/s, "
        f"covering {gone_views[-1]['rates']['avg_1m']['covered_seconds']:.1f} s")

    # rate(...[1m]) needs a minute of scrapes in every job, the 30 s one included.
    def a_minute_of_scrapes():
        # Samples spanning 60 s: the first of them a minute old.
        return all(prom.query(f'count_over_time(node_network_receive_bytes_total'
                              f'{{job="{job}",device="wan"}}[3m]) >= {60 // every + 1}')
                   for job, every in [("s5", 5), ("s15", 15), ("s30", 30)])
    wait_for("a minute of scrapes in every job", a_minute_of_scrapes, deadline_s=120, every_s=1)
    at = time.time()
    for job, window in [("s5", "1m"), ("s15", "1m"), ("s30", "1m"), ("s5", "20s")]:
        got = prom.value(f'rate(node_network_receive_bytes_total{{job="{job}",device="wan"}}'
                         f'[{window}])', at)
        error = got / RATE - 1
        log(f"rate([{window}]) at daemon 10 s / scrape {job[1:]} s: {got:.0f} B/s, "
            f"{100 * error:+.3f}% off the true {RATE}")
        if abs(error) > 0.01:
            fail(f"rate at scrape {job}: {got} is more than 1% off {RATE}")

    # The lifecycle, as Prometheus saw it.
    life = 'node_network_receive_bytes_total{job="life",device="gone0"}'
    resets = prom.value(f"resets({life}[{int(at - t_life0) + 5}s])", at)
    if resets != 1:
        fail(f"resets() = {resets} across gone0's re-creation, not 1")
    during = prom.query(f"count_over_time({life}[{int(BACK_AT - GONE_AT - 4)}s])",
                        t_life0 + BACK_AT - 1)
    if during:
        fail(f"node_network_* series of gone0 went on while it was gone: {during}")
    spikes = [("Prometheus rate()", f"max_over_time(rate({life}[3s])[{int(at - t_life0)}s:1s])"),
              ("ifstatsd current", f'max_over_time(ifstatsd_receive_bytes_per_second'
               f'{{job="life",device="gone0",window="current"}}[{int(at - t_life0)}s])')]
    for what, expr in spikes:
        peak = prom.value(expr, at)
        if peak > LIFE_RATE * 1.05:
            fail(f"{what} of gone0 spiked to {peak:.0f} B/s (true {LIFE_RATE})")
        log(f"gone0 re-created: {what} peaked at {peak:.0f} B/s (true {LIFE_RATE}): no spike")
    present = prom.series('ifstatsd_interface_present{job="life",device="gone0"}',
                          t_life0 + GONE_AT + 3, t_life0 + BACK_AT - 2)
    if not present or any(float(v) != 0 for _, v in present[0]["values"]):
        fail(f"ifstatsd_interface_present of gone0 while gone: {present}")

    # Every query of the Grafana dashboard returns series.
    grafana_queries(prom, at)
    stop.set()


def grafana_queries(prom, at):
    with open("contrib/grafana/ifstatsd.json") as f:
        dashboard = json.load(f)
    substitutions = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m",
                     "$job": "s15", "$instance": ".+", "$device": "wan"}
    count = 0
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for var, value in substitutions.items():
                expr = expr.replace(var, value)
            if "$" in expr:
                fail(f"panel {panel['title']!r}: unknown variable in {expr}")
            if not prom.query(expr, at):
                fail(f"panel {panel['title']!r}: {expr} returns no series")
            count += 1
    for variable in dashboard["templating"]["list"]:
        if variable.get("type") == "query":
            match = re.match(r"label_values\((.*),\s*(\w+)\)$", variable["query"]["query"]
                             if isinstance(variable["query"], dict) else variable["query"])
            expr = match.group(1)
            for var, value in substitutions.items():
                expr = expr.replace(var, value)
            if not prom.query(expr, at):
                fail(f"variable {variable['name']}: {expr} returns no series")
            count += 1
    log(f"grafana: every one of the dashboard's {count} queries returns series")


def main():
    os.makedirs(WORK, exist_ok=True)
    try:
        node_exporter_parity()
        live_prometheus()
    finally:
        stop_all()
    log("OK")


main()
