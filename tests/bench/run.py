#!/usr/bin/env python3
"""`make bench`: measures ifstatsd against its floors and peers and writes BENCHMARKS.md.

Every figure in BENCHMARKS.md comes from this run. The machines are shared and noisy, so each
comparison is a ratio of two things measured in the same run, interleaved, as medians of several
runs; absolute times are shown but are not the verdict.

Areas (each a function below): sampling (the `sampling` bench in namespaces of 4, 100 and 1000
interfaces), CPU per sample of the daemon at 100 ms against a minimal C sampler (the floor,
tests/bench/floor_sampler.c), CPU per hour (ifstatsd, the floor sampler and vnstatd, idle), HTTP
(CPU per request and throughput against a bare tiny_http server, CPU per /metrics scrape against
node_exporter, the issue-4 load test), memory, size, flash writes, and a steady-state run with
interfaces churning.

    BENCH_QUICK=1 make bench     # short runs (about 3 minutes), for working on the harness
    make bench                   # the full run (about 20 minutes)
    python3 tests/bench/run.py background sample_cpu    # chosen areas only (names: AREAS below)

Chosen areas print their tables and figures to stdout and leave BENCHMARKS.md alone: a document
with some sections missing would read as a whole run.

Needs root (network namespaces), cargo, and Debian's gcc, wrk, vnstat and
prometheus-node-exporter, which it installs with apt-get when they are missing. Whatever it
starts (processes, namespaces, a scratch directory) is removed however it ends.
"""

import http.client
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
QUICK = os.environ.get("BENCH_QUICK") == "1"


class Settings:
    """Durations and repetitions: the full run, or short ones with BENCH_QUICK=1."""

    runs = 1 if QUICK else 3                    # repetitions behind each median
    wrk_seconds = 3 if QUICK else 10            # one throughput / CPU-per-request run
    connections = (1, 10, 100)
    sampling_sizes = (4, 100, 1000)
    # A whole sample of 1000 interfaces takes tens of milliseconds (sysfs): fewer iterations there.
    sampling_iterations = {4: 300, 100: 100, 1000: 50} if QUICK else {4: 2000, 100: 1000, 1000: 200}
    scrapes = 60 if QUICK else 300              # paced /metrics scrapes per run
    scrape_rate = 20                            # scrapes per second
    load_seconds = 10 if QUICK else 30          # issue 4's load test (30 s in the issue)
    load_connections = 50
    memory_load_seconds = 3 if QUICK else 10
    steady_seconds = 60 if QUICK else 600       # churn run; also the CPU-per-hour window
    steady_every = 10 if QUICK else 30          # RSS sample period of the churn run
    default_interval = 10                       # ifstatsd's default --interval, seconds
    idle_interfaces = 16
    # CPU per sample beside the floor sampler: lo and 100 veth ends, the shortest --interval.
    sample_cpu_interfaces = 101
    sample_cpu_interval = 0.1                   # seconds (--interval 100ms)
    sample_cpu_seconds = 10 if QUICK else 30    # one measuring window; S.runs of them


S = Settings()
PREFIX = f"ifsb{os.getpid() % 100000}"          # our namespaces; never anyone else's
COMMANDS = []                                   # every measuring command, for BENCHMARKS.md


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def record(argv):
    """Remembers a command for the 'exact commands' section (scratch paths shortened)."""
    text = " ".join(shlex.quote(str(a)) for a in argv)
    if HARNESS.scratch:
        text = text.replace(str(HARNESS.scratch), "$SCRATCH")
    text = text.replace(str(TARGET), "$CARGO_TARGET_DIR").replace(str(ROOT) + "/", "")
    text = text.replace(sys.executable, "python3").replace(PREFIX + "-", "$NS-")
    if text not in COMMANDS:
        COMMANDS.append(text)


def run(argv, check=True, capture=True, timeout=None):
    """Runs a command to completion; its stdout (text) when captured."""
    done = subprocess.run([str(a) for a in argv], check=check, timeout=timeout, text=True,
                          stdout=subprocess.PIPE if capture else None)
    return done.stdout if capture else ""


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------------------------
# Cleanup: everything started goes through the harness, which undoes it on every exit path.


class Harness:
    def __init__(self):
        self.procs = []          # (Popen, log file)
        self.namespaces = []
        self.stop = threading.Event()
        self.threads = []
        self.scratch = None

    def start(self, argv, name, ns=None, env=None):
        """Starts a long-running process (inside `ns` if given), its output in a log file."""
        full = (["ip", "netns", "exec", ns] if ns else []) + [str(a) for a in argv]
        record(([f"{k}={v}" for k, v in (env or {}).items()]) + full)
        out = open(self.scratch / f"{name}.log", "w")
        # `ip netns exec` execs the command, so the pid is the program's own.
        proc = subprocess.Popen(full, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})))
        self.procs.append((proc, out))
        return proc

    def stop_process(self, proc):
        """SIGTERM, then SIGKILL after 5 s; waits for the exit either way."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def thread(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        t.start()
        self.threads.append(t)
        return t

    def cleanup(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)
        for proc, out in reversed(self.procs):
            try:
                self.stop_process(proc)
            except Exception as e:  # keep cleaning up the rest
                log(f"cleanup: pid {proc.pid}: {e}")
            out.close()
        for ns in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)


HARNESS = Harness()


def on_signal(signum, _frame):
    # SystemExit unwinds through main()'s finally, which cleans up.
    raise SystemExit(f"stopped by signal {signum}")


# ---------------------------------------------------------------------------------------------
# Network namespaces


def make_namespace(label, interfaces):
    """A namespace listing exactly `interfaces` interfaces in its /proc/net/dev: `lo` and
    interfaces-1 veth ends, up, whose peers live in a sibling namespace (so they count once)."""
    ns, peer = f"{PREFIX}-{label}", f"{PREFIX}-{label}p"
    for name in (ns, peer):
        run(["ip", "netns", "add", name])
        HARNESS.namespaces.append(name)
    pairs = interfaces - 1
    COMMANDS.append(f"ip netns add $NS-{label}; ip netns add $NS-{label}p; ip -n $NS-{label} -batch -  "
                    f"# link set lo up; link add e$I type veth peer name p$I netns $NS-{label}p; "
                    f"link set e$I up; for I in 0..{pairs - 1}; p$I set up in $NS-{label}p")
    batch(ns, ["link set lo up"] +
          [f"link add e{i} type veth peer name p{i} netns {peer}" for i in range(pairs)] +
          [f"link set e{i} up" for i in range(pairs)])
    batch(peer, [f"link set p{i} up" for i in range(pairs)])
    return ns


def batch(ns, lines, check=True):
    """Runs `ip` commands in `ns` in one process (1000 interfaces in a few seconds)."""
    if not lines:
        return True
    done = subprocess.run(["ip", "-n", ns, "-batch", "-"], input="\n".join(lines) + "\n",
                          text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip -n {ns} -batch failed: {done.stderr.strip()}")
    return done.returncode == 0


def count_interfaces(ns):
    text = run(["ip", "netns", "exec", ns, "cat", "/proc/net/dev"])
    return sum(1 for line in text.splitlines() if ":" in line)


# ---------------------------------------------------------------------------------------------
# /proc readings


def status(pid):
    """VmRSS and VmHWM in bytes, Threads, and open descriptors."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return {
        "rss": int(fields["VmRSS"][0]) * 1024,
        "hwm": int(fields["VmHWM"][0]) * 1024,
        "threads": int(fields["Threads"][0]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


CLOCK_TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


def stat_cpu_ns(pid):
    """utime+stime of the whole process, exited threads included (in clock ticks: good for
    totals of seconds, too coarse for an idle daemon)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) * CLOCK_TICK_NS


class TaskCpu:
    """Nanoseconds on CPU of every thread of a process, from /proc/PID/task/*/schedstat (exact,
    unlike the ticks of /proc/PID/stat; /proc/PID/schedstat alone covers the main thread only).
    Polled every second by a harness thread so that a thread that exits loses at most its last
    second; `ns()` is the CPU used since the meter was created."""

    def __init__(self, pid):
        self.pid = pid
        self.first, self.last, self.names = {}, {}, {}
        self.lock = threading.Lock()
        self.poll()
        HARNESS.thread(self._poll_forever)

    def _read(self):
        seen = {}
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except FileNotFoundError:
            return seen
        for tid in tids:
            try:
                seen[tid] = int(Path(f"/proc/{self.pid}/task/{tid}/schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                pass
        return seen

    def poll(self):
        seen = self._read()
        with self.lock:
            starting = not self.first
            for tid, ns in seen.items():
                # A thread born after the start counts from zero.
                self.first.setdefault(tid, ns if starting else 0)
                self.last[tid] = ns
                if tid not in self.names:
                    self.names[tid] = thread_name(self.pid, tid)

    def _poll_forever(self):
        while not HARNESS.stop.wait(1.0) and os.path.exists(f"/proc/{self.pid}"):
            self.poll()

    def ns(self):
        return sum(self.by_thread().values())

    def by_thread(self):
        """CPU nanoseconds since the start per thread name (threads of one name summed)."""
        self.poll()
        totals = {}
        with self.lock:
            for tid in self.last:
                name = self.names.get(tid) or "?"
                totals[name] = totals.get(name, 0) + self.last[tid] - self.first[tid]
        return totals


def thread_name(pid, tid):
    try:
        return Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# HTTP helpers, all run inside the server's namespace


def fetch(ns, url, timeout=5):
    """The body of a GET, or None."""
    done = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sf", "-m", str(timeout), url],
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return done.stdout if done.returncode == 0 else None


def wait_until(what, ready, seconds, proc=None):
    """Polls `ready()` until it returns a true value or the deadline passes (then fails)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with status {proc.returncode}")
        value = ready()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"{what}: not ready within {seconds} s")


def free_port():
    # Every server runs in its own namespace's loopback; ports only need to differ within one.
    free_port.next += 1
    return free_port.next


free_port.next = 19300


class Daemon:
    """ifstatsd, the release binary, in a namespace, with explicit flags."""

    def __init__(self, ns, name, *flags, interval=S.default_interval):
        self.ns, self.name, self.interval = ns, name, interval
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = [BIN["ifstatsd"], "--listen", f"127.0.0.1:{self.port}",
                "--interval", interval_flag(interval), "--log-level", "warn", *flags]
        self.proc = HARNESS.start(argv, name, ns)
        self.pid = self.proc.pid

    def health(self):
        body = fetch(self.ns, self.base + "/health")
        return json.loads(body) if body else None

    def warm(self):
        """Waits until two samples are in, so that rates exist and the rings hold data."""
        wait_until(f"{self.name} warm-up",
                   lambda: (self.health() or {}).get("samples_total", 0) >= 2,
                   3 * self.interval + 20, self.proc)
        return self

    def log_text(self):
        return (HARNESS.scratch / f"{self.name}.log").read_text(errors="replace")

    def flood_cuts(self):
        """Connections cut so far for pipelining too deep (src/http.rs)."""
        return self.log_text().count("pipelined requests waiting; cut")


def interval_flag(seconds):
    """An --interval value: whole seconds as "10s", anything shorter as "100ms"."""
    return f"{seconds:g}s" if seconds == int(seconds) else f"{round(seconds * 1000)}ms"


def floor_sampler_start(ns, name, interval_s):
    """The floor sampler (tests/bench/floor_sampler.c) in `ns`: it reads that namespace's
    /proc/net/dev every `interval_s` seconds, on a fixed grid, until stopped."""
    return HARNESS.start([BIN["floor_sampler"], round(interval_s * 1000)], name, ns)


class Floor:
    """The bare tiny_http server (tests/bench/floor_http.rs) answering `body_bytes` bytes."""

    def __init__(self, ns, name, body_bytes):
        self.ns, self.name = ns, name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        argv = [BIN["floor_http"], "--listen", f"127.0.0.1:{self.port}",
                "--body-bytes", body_bytes]
        self.proc = HARNESS.start(argv, name, ns)
        self.pid = self.proc.pid
        wait_until(name, lambda: fetch(ns, self.base + "/") is not None, 20, self.proc)


def wrk(ns, url, connections, seconds):
    """One wrk run: requests, req/s, errors (socket errors and non-2xx/3xx), latency."""
    argv = ["ip", "netns", "exec", ns, "wrk", f"-t{min(2, connections)}", f"-c{connections}",
            f"-d{seconds}s", "--latency", url]
    record(argv)
    out = run(argv, timeout=seconds + 60)
    number = lambda pattern: int(m.group(1)) if (m := re.search(pattern, out)) else 0
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    latency = {}
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)\b", out)
        if m:
            latency[pct] = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    return {
        "requests": number(r"(\d+) requests in"),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "socket_errors": sum(int(x) for x in socket.groups()) if socket else 0,
        "error_kinds": dict(zip(("connect", "read", "write", "timeout"),
                                (int(x) for x in socket.groups()))) if socket else {},
        "non_2xx": number(r"Non-2xx or 3xx responses: (\d+)"),
        "p50_ms": latency.get("50"),
        "p99_ms": latency.get("99"),
    }


def wrk_with_cpu(server, url, connections, seconds):
    """A wrk run with the server's CPU (utime+stime: it includes the threads tiny_http starts
    and ends per connection) divided by the requests completed."""
    before, cuts = stat_cpu_ns(server.pid), flood_cuts(server)
    result = wrk(server.ns, url, connections, seconds)
    result["cpu_ns_per_request"] = ((stat_cpu_ns(server.pid) - before) / result["requests"]
                                    if result["requests"] else None)
    result["flood_cuts"] = flood_cuts(server) - cuts
    return result


def flood_cuts(server):
    # The floor has no flood limit.
    return server.flood_cuts() if isinstance(server, Daemon) else 0


def paced_scrapes(ns, url, count, rate):
    """`count` GETs at `rate` a second on one keep-alive connection (as a scraper does, at a
    pace no flood limit is near), run by this script inside the namespace."""
    argv = ["ip", "netns", "exec", ns, sys.executable, __file__, "scrape", url, count, rate]
    record(argv)
    return json.loads(run(argv, timeout=count / rate + 120))


def scrape_main(url, count, rate):
    """The `scrape` subcommand: prints {"ok": N, "failed": N}."""
    host_port = url.split("/")[2]
    path = "/" + url.split("/", 3)[3]
    ok = failed = 0
    conn = None
    start = time.monotonic()
    for i in range(count):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        try:
            conn = conn or http.client.HTTPConnection(host_port, timeout=5)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if 200 <= response.status < 300:
                ok += 1
            else:
                failed += 1
        except (OSError, http.client.HTTPException):
            failed += 1
            conn = None
    print(json.dumps({"ok": ok, "failed": failed}))


# ---------------------------------------------------------------------------------------------
# Set-up: packages, builds


def ensure_packages():
    """gcc, wrk, vnstat and node_exporter from Debian, with their services not left running: the
    harness starts its own instances, and a system one would share the machine's CPU."""
    wanted = {"gcc": "gcc", "wrk": "wrk", "vnstatd": "vnstat",
              "prometheus-node-exporter": "prometheus-node-exporter"}
    missing = [pkg for tool, pkg in wanted.items() if not shutil.which(tool)]
    if missing:
        log(f"installing {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
                       check=True, env=env)
    for service in ("vnstat", "prometheus-node-exporter"):
        stop_service(service)


def stop_service(service):
    if shutil.which("systemctl") and subprocess.run(
            ["systemctl", "is-system-running"], capture_output=True).returncode in (0, 1):
        subprocess.run(["systemctl", "disable", "--now", service], capture_output=True)
    if Path(f"/etc/init.d/{service}").exists():
        subprocess.run(["invoke-rc.d", service, "stop"], capture_output=True)
        subprocess.run(["update-rc.d", service, "disable"], capture_output=True)
    # A copy we did not start is only reported: its CPU would add noise to every figure.
    other = subprocess.run(["pgrep", "-x", {"vnstat": "vnstatd"}.get(service, "prometheus-nod")],
                           capture_output=True, text=True).stdout.split()
    if other:
        log(f"warning: {service} is running outside the harness (pids {' '.join(other)})")


BIN = {}


def build():
    """The release binary, the floor example and the sampling bench (when the branch has it),
    copied to the scratch directory so that a rebuild during the run cannot change them; the
    floor sampler, compiled straight into it."""
    log("cargo build --release; the floor example; the sampling bench; the floor sampler")
    for argv in (["cargo", "build", "--release"],
                 ["cargo", "build", "--release", "--example", "floor_http"]):
        record(argv)
        run(argv, capture=False, timeout=1800)
    for name, path in (("ifstatsd", TARGET / "release" / "ifstatsd"),
                       ("floor_http", TARGET / "release" / "examples" / "floor_http")):
        copy = HARNESS.scratch / name
        shutil.copy2(path, copy)
        # The release profile strips already (Cargo.toml); strip again in case it stops doing so.
        run(["strip", copy])
        BIN[name] = copy
    BIN["sampling"] = build_sampling_bench()
    BIN["floor_sampler"] = HARNESS.scratch / "floor_sampler"
    argv = ["gcc", "-O2", "-Wall", "-o", BIN["floor_sampler"], "tests/bench/floor_sampler.c"]
    record(argv)
    run(argv, capture=False)


def build_sampling_bench():
    metadata = json.loads(run(["cargo", "metadata", "--no-deps", "--format-version", "1"]))
    targets = [t for p in metadata["packages"] for t in p["targets"]]
    if not any(t["name"] == "sampling" and "bench" in t["kind"] for t in targets):
        return None
    argv = ["cargo", "bench", "--bench", "sampling", "--no-run", "--message-format=json"]
    record(argv)
    for line in run(argv, timeout=1800).splitlines():
        message = json.loads(line)
        if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "sampling" \
                and message.get("executable"):
            copy = HARNESS.scratch / "sampling-bench"
            shutil.copy2(message["executable"], copy)
            return copy
    raise RuntimeError("cargo bench --no-run named no sampling executable")


# ---------------------------------------------------------------------------------------------
# Areas. Each returns the figures its BENCHMARKS.md section is rendered from.


def vnstatd_start(ns):
    """vnStat's daemon at its defaults, but with its database and pid file in our scratch
    directory (so it starts empty and adds every interface of the namespace)."""
    db = HARNESS.scratch / "vnstat-db"
    db.mkdir()
    conf = HARNESS.scratch / "vnstat.conf"
    conf.write_text(f'DatabaseDir "{db}"\nPidFile "{HARNESS.scratch}/vnstat.pid"\n')
    record(["#", "vnstat.conf:", f'DatabaseDir "{db}"', f'PidFile "{HARNESS.scratch}/vnstat.pid"'])
    proc = HARNESS.start(["vnstatd", "-n", "--config", conf], "vnstatd", ns)
    wait_until("vnstatd's database", lambda: any(db.iterdir()), 30, proc)
    return proc


def churn(ns, pool, present, stop):
    """Keeps `present` veth pairs of a pool of `pool` names existing in `ns`, replacing two
    pairs every half second: each replacement is a new interface (new ifindex) under a name the
    daemon may have seen before. Interfaces present stay constant, so the daemon's rings fill at
    the same pace as the control's, and only churn itself could make the two curves differ."""
    alive = list(range(present))
    COMMANDS.append(f"# churn, every 0.5 s: ip -n {ns.replace(PREFIX + '-', '$NS-')} -batch -  # link del "
                    f"c$OLD a (x2); link add c$NEW a type veth peer name c$NEW b (x2, names mod {pool}); "
                    "link set up")
    batch(ns, [f"link add c{i}a type veth peer name c{i}b" for i in alive] +
          [f"link set c{i}{end} up" for i in alive for end in "ab"])
    next_name = present
    while not stop.wait(0.5):
        gone, alive = alive[:2], alive[2:]
        born = [(next_name + k) % pool for k in range(2)]
        next_name = (next_name + 2) % pool
        alive += born
        batch(ns, [f"link del c{i}a" for i in gone] +
              [f"link add c{i}a type veth peer name c{i}b" for i in born] +
              [f"link set c{i}{end} up" for i in born for end in "ab"], check=False)


def area_background():
    """The long, mostly idle part, all at once: CPU per hour of ifstatsd (default interval, 16
    interfaces), the floor sampler (same file, same interval) and vnstatd in one namespace,
    vnstatd's writes, idle RSS; the steady-state churn run with its control; and the state-file
    writes script."""
    log(f"CPU per hour, vnstatd, steady state: {S.steady_seconds} s")
    idle = make_namespace("idle", S.idle_interfaces)
    # The churn namespace: 16 interfaces and `present` veth pairs out of a pool of names; the
    # control namespace: 16 interfaces and `present` pairs that stay. 16 + 2 x 50 names stay
    # under the default --max-interfaces (128): every name of the pool gets a ring.
    pool, present = 50, 8
    churn_ns = make_namespace("churn", S.idle_interfaces)
    control_ns = make_namespace("ctl", S.idle_interfaces)
    batch(control_ns, [f"link add k{i}a type veth peer name k{i}b" for i in range(present)] +
          [f"link set k{i}{end} up" for i in range(present) for end in "ab"])
    HARNESS.thread(churn, churn_ns, pool, present, HARNESS.stop)
    daemon = Daemon(idle, "ifstatsd-idle")
    control = Daemon(control_ns, "ifstatsd-control", interval=1)
    churned = Daemon(churn_ns, "ifstatsd-churn", interval=1)
    vnstatd = vnstatd_start(idle)
    floor = floor_sampler_start(idle, "floor-sampler-idle", S.default_interval)
    writes = HARNESS.thread(state_writes_script)
    for d in (daemon, control, churned):
        d.warm()
    # The warm-up's requests keep each reaper looking twice a second, and trimming the heap
    # twice, for 6 s after (IDLE_THREADS_EXIT, src/reaper.rs): metered, that would be idle CPU
    # the daemon does not spend while idle.
    time.sleep(8)

    cpu = {"ifstatsd": TaskCpu(daemon.pid), "floor": TaskCpu(floor.pid), "vnstatd": TaskCpu(vnstatd.pid)}
    io_before = proc_io(vnstatd.pid)
    start = time.monotonic()
    curve = []
    for k in range(S.steady_seconds // S.steady_every + 1):
        # A fixed measuring grid: the k-th point at k * steady_every seconds.
        HARNESS.stop.wait(max(0.0, start + k * S.steady_every - time.monotonic()))
        if HARNESS.stop.is_set():
            raise SystemExit("stopped")
        curve.append({
            "seconds": round(time.monotonic() - start),
            "rss": status(churned.pid)["rss"],
            "control_rss": status(control.pid)["rss"],
            "present": count_interfaces(churn_ns),
            "tracked": (churned.health() or {}).get("interfaces"),
            "refused": (churned.health() or {}).get("interfaces_refused_total"),
        })
    window = time.monotonic() - start
    io_after = proc_io(vnstatd.pid)
    result = {
        "window_s": window,
        "cpu_ms_per_hour": {k: m.ns() / 1e6 * 3600 / window for k, m in cpu.items()},
        "ifstatsd_threads_ms_per_hour": {name: ns / 1e6 * 3600 / window for name, ns in
                                         cpu["ifstatsd"].by_thread().items()},
        "idle_rss": status(daemon.pid)["rss"],
        "vnstatd_rss": status(vnstatd.pid)["rss"],
        "vnstatd_write_bytes_per_day": (io_after["write_bytes"] - io_before["write_bytes"]) * 86400 / window,
        "vnstatd_wchar_per_day": (io_after["wchar"] - io_before["wchar"]) * 86400 / window,
        "curve": curve,
        "churn_log_lines": len(churned.log_text().splitlines()),
    }
    writes.join(timeout=300)
    result["state_writes"] = STATE_WRITES
    for proc in (daemon.proc, control.proc, churned.proc, vnstatd, floor):
        HARNESS.stop_process(proc)
    return result


def proc_io(pid):
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return {k: int(v) for k, v in fields.items()}


STATE_WRITES = {}


def state_writes_script():
    """tests/bench_state_writes.sh, unchanged: its own file source, so it runs beside the rest."""
    # Started through the harness, so that an interrupted run stops it (its own trap then
    # stops its daemon and writer).
    proc = HARNESS.start(["bash", "tests/bench_state_writes.sh"], "state-writes",
                         env={"IFSTATSD_BIN": str(BIN["ifstatsd"])})
    proc.wait()
    text = (HARNESS.scratch / "state-writes.log").read_text(errors="replace")
    if proc.returncode != 0:
        STATE_WRITES["error"] = text.strip()[-300:]
        return
    patterns = {
        "file_bytes": r"state file: (\d+) bytes",
        "per_interface_hour": r"\((\d+) bytes per interface-hour\)",
        "wchar_per_save": r"per save: (\d+) bytes written",
        "write_bytes_per_save": r"\((\d+) bytes to storage|, (\d+) bytes to storage",
        "per_day": r"save interval \(96 saves\): (\d+) bytes",
    }
    for key, pattern in patterns.items():
        m = re.search(pattern, text)
        STATE_WRITES[key] = int(next(g for g in m.groups() if g)) if m else None
    m = re.search(r"write_bytes, ([^)]+)\)", text)
    STATE_WRITES["fs"] = m.group(1) if m else "?"


def area_sampling(namespaces):
    """The sampling bench in each namespace, S.runs times, medians of every numeric key."""
    if not BIN.get("sampling"):
        return None
    results = {}
    for size, ns in namespaces.items():
        log(f"sampling bench, {size} interfaces")
        runs = []
        for _ in range(S.runs):
            argv = ["ip", "netns", "exec", ns, BIN["sampling"], "--iterations",
                    S.sampling_iterations[size]]
            record(argv)
            lines = [l for l in run(argv, timeout=900).splitlines() if l.startswith("{")]
            runs.append(json.loads(lines[-1]))
        keys = {k for r in runs for k, v in r.items() if isinstance(v, (int, float))}
        results[size] = {k: median([r.get(k) for r in runs]) for k in keys}
        results[size]["allocs_read_parse_max"] = max(r.get("allocs_per_sample_read_parse", 0) for r in runs)
    return results


def area_sample_cpu():
    """CPU per sample of ifstatsd at the shortest --interval in a namespace of 101 interfaces,
    beside the floor sampler on the same file at the same interval, both metered over the same
    windows: S.runs windows of S.sample_cpu_seconds, back to back, medians. CPU is every
    thread's (TaskCpu), so the daemon's figure includes its statistics thread, its reaper's
    looks and idle HTTP threads: all it costs to run at this interval, per sample taken."""
    size, interval = S.sample_cpu_interfaces, S.sample_cpu_interval
    log(f"CPU per sample, {size} interfaces, --interval {interval_flag(interval)}: "
        f"{S.runs} x {S.sample_cpu_seconds} s")
    ns = make_namespace(f"cpu{size}", size)
    floor = floor_sampler_start(ns, f"floor-sampler-{size}", interval)
    daemon = Daemon(ns, f"ifstatsd-cpu{size}", interval=interval).warm()

    def samples_total():
        """The daemon's own count of samples, and when it was read (mid-request)."""
        before = time.monotonic()
        health = daemon.health()
        if not health:
            raise RuntimeError(f"{daemon.name}: no answer on /health")
        return health["samples_total"], (before + time.monotonic()) / 2

    # No request during the windows: after one, the reaper looks twice a second and trims the
    # heap twice, for IDLE_THREADS_EXIT (6 s, src/reaper.rs). So the daemon's count is read
    # once before a settling time and once after the last window, and each window's samples
    # are its length at the rate between the two readings (ticks late or missed included).
    samples_first, first_at = samples_total()
    time.sleep(8)
    windows = []
    for _ in range(S.runs):
        meters = {"ifstatsd": TaskCpu(daemon.pid), "floor": TaskCpu(floor.pid)}
        start = time.monotonic()
        if HARNESS.stop.wait(S.sample_cpu_seconds):
            raise SystemExit("stopped")
        threads_ns = meters["ifstatsd"].by_thread()
        floor_ns = meters["floor"].ns()
        windows.append((time.monotonic() - start, threads_ns, floor_ns))
    samples_last, last_at = samples_total()
    samples_per_s = (samples_last - samples_first) / (last_at - first_at)
    runs = []
    for window_s, threads_ns, floor_ns in windows:
        samples = window_s * samples_per_s
        # The floor wakes on a fixed grid and catches up when late: one sample per interval.
        floor_samples = window_s / interval
        runs.append({
            "cpu_ns_per_sample": sum(threads_ns.values()) / samples,
            "floor_cpu_ns_per_sample": floor_ns / floor_samples,
            "threads_ns_per_sample": {name: ns / samples for name, ns in threads_ns.items()},
        })
    metered_s = sum(w[0] for w in windows)
    result = {
        "interfaces": count_interfaces(ns),
        "interval_s": interval,
        "tracked": (daemon.health() or {}).get("interfaces"),
        "samples": round(metered_s * samples_per_s),
        "floor_samples": round(metered_s / interval),
        # How many of its ticks the daemon took (1.0: none missed, none late).
        "samples_per_interval": samples_per_s * interval,
        "cpu_ns_per_sample": median([r["cpu_ns_per_sample"] for r in runs]),
        "floor_cpu_ns_per_sample": median([r["floor_cpu_ns_per_sample"] for r in runs]),
        # Each window's ratio, then their median: both figures of a ratio share one window.
        "ratio": median([r["cpu_ns_per_sample"] / r["floor_cpu_ns_per_sample"] for r in runs]),
        "threads_ns_per_sample": {name: median([r["threads_ns_per_sample"].get(name, 0) for r in runs])
                                  for name in {n for r in runs for n in r["threads_ns_per_sample"]}},
    }
    HARNESS.stop_process(daemon.proc)
    HARNESS.stop_process(floor)
    return result


def area_memory(namespaces):
    """Idle RSS after warm-up and RSS under wrk load, with 4, 100 and 1000 interfaces. All three
    daemons run at once (they are idle but for their own ticks), each loaded in turn."""
    daemons = {size: Daemon(ns, f"ifstatsd-mem{size}", "--max-interfaces", "1024",
                             "--max-connections", "128")
               for size, ns in namespaces.items()}
    for d in daemons.values():
        d.warm()
    results = {}
    for size, d in daemons.items():
        log(f"memory, {size} interfaces")
        idle = status(d.pid)
        peak = PeakSampler(d.pid)
        load = wrk(d.ns, d.base + "/api/v1/interface/lo/stats", 10, S.memory_load_seconds)
        peak.finish()
        results[size] = {"idle_rss": idle["rss"], "load_rss": peak.peak["rss"],
                         "tracked": (d.health() or {}).get("interfaces"),
                         "errors": load["socket_errors"] + load["non_2xx"],
                         "flood_cuts": d.flood_cuts(), "rps": load["rps"]}
        HARNESS.stop_process(d.proc)
    return results


class PeakSampler:
    """/proc/PID/status and the descriptor count every second, keeping the largest."""

    def __init__(self, pid):
        self.pid, self.samples = pid, []
        self.done = threading.Event()
        self.thread = HARNESS.thread(self._run)

    def _run(self):
        while True:
            try:
                self.samples.append(status(self.pid))
            except FileNotFoundError:
                return
            if self.done.wait(1.0) or HARNESS.stop.is_set():
                return

    def finish(self):
        self.done.set()
        self.thread.join(timeout=5)
        self.peak = {k: max(s[k] for s in self.samples) for k in ("rss", "threads", "fds")}
        return self


def area_http(ns):
    """ifstatsd against the floor (a bare tiny_http answering a body of the same size) for the
    stats and interfaces routes at 1, 10 and 100 connections, interleaved, medians of S.runs;
    then /metrics scrapes against node_exporter; then issue 4's load test."""
    # 100 wrk connections: more than the router default of --max-connections (64) allows.
    daemon = Daemon(ns, "ifstatsd-http", "--max-connections", "128").warm()
    routes = {"stats": "/api/v1/interface/lo/stats", "interfaces": "/api/v1/interfaces"}
    sizes = {name: len(fetch(ns, daemon.base + path).encode()) for name, path in routes.items()}
    floors = {name: Floor(ns, f"floor-{name}", size) for name, size in sizes.items()}
    table = []
    for name, path in routes.items():
        for c in S.connections:
            log(f"HTTP {path}, {c} connections")
            runs = {"ifstatsd": [], "floor": []}
            for _ in range(S.runs):
                runs["ifstatsd"].append(wrk_with_cpu(daemon, daemon.base + path, c, S.wrk_seconds))
                runs["floor"].append(wrk_with_cpu(floors[name], floors[name].base + path, c, S.wrk_seconds))
            row = {"route": name, "connections": c}
            for server, results in runs.items():
                row[server] = {k: median([r[k] for r in results]) for k in
                               ("rps", "cpu_ns_per_request", "p50_ms", "p99_ms")}
                row[server]["errors"] = sum(r["socket_errors"] + r["non_2xx"] for r in results)
                row[server]["flood_cuts"] = sum(r["flood_cuts"] for r in results)
                row[server]["error_kinds"] = error_kinds(results)
            table.append(row)
    for floor in floors.values():
        HARNESS.stop_process(floor.proc)
    cuts = {"flood": daemon.flood_cuts()}
    scrape = area_scrapes(ns, daemon)
    load = area_load_test(daemon)
    HARNESS.stop_process(daemon.proc)
    return {"body_bytes": sizes, "table": table, "cuts": cuts, "scrape": scrape, "load": load}


def area_scrapes(ns, daemon):
    """CPU per /metrics scrape (paced, one keep-alive connection, background work included)
    for ifstatsd and node_exporter (netdev collector only) on the same 16 interfaces."""
    port = free_port()
    exporter = HARNESS.start(["prometheus-node-exporter", "--collector.disable-defaults",
                              "--collector.netdev", "--web.listen-address", f"127.0.0.1:{port}"],
                             "node_exporter", ns)
    url = f"http://127.0.0.1:{port}/metrics"
    wait_until("node_exporter", lambda: fetch(ns, url) is not None, 30, exporter)
    time.sleep(5)  # a fixed settling time after its first scrape, then its idle RSS
    exporter_idle_rss = status(exporter.pid)["rss"]
    servers = {"ifstatsd": (daemon.pid, daemon.base + "/metrics"), "node_exporter": (exporter.pid, url)}
    per_scrape = {name: [] for name in servers}
    failed = {name: 0 for name in servers}
    for _ in range(S.runs):
        for name, (pid, target) in servers.items():
            log(f"{S.scrapes} paced scrapes of {name}")
            meter = TaskCpu(pid)
            result = paced_scrapes(ns, target, S.scrapes, S.scrape_rate)
            per_scrape[name].append(meter.ns() / max(1, result["ok"]))
            failed[name] += result["failed"]
    body = {"ifstatsd": len(fetch(ns, daemon.base + "/metrics")), "node_exporter": len(fetch(ns, url))}
    HARNESS.stop_process(exporter)
    return {"cpu_ns": {k: median(v) for k, v in per_scrape.items()}, "failed": failed,
            "exporter_idle_rss": exporter_idle_rss, "body_bytes": body}


def area_load_test(daemon):
    """Issue 4: wrk at 50 connections on the stats route; RSS, threads and descriptors before,
    at their peak during (sampled every second), and after: once tiny_http has ended the threads
    it started for the load (it keeps idle ones a while), 60 s at most."""
    log(f"load test: {S.load_connections} connections, {S.load_seconds} s")
    # A first, short load, so that "before" already holds what the first load of this size
    # leaves for reuse (glibc keeps exited threads' stacks); then quiet until the reaper's
    # second heap trim, IDLE_THREADS_EXIT after the connections ended.
    wrk(daemon.ns, daemon.base + "/api/v1/interface/lo/stats", S.load_connections, 5)
    settle(daemon)
    before, cuts = status(daemon.pid), daemon.flood_cuts()
    peak = PeakSampler(daemon.pid)
    result = wrk(daemon.ns, daemon.base + "/api/v1/interface/lo/stats",
                 S.load_connections, S.load_seconds)
    peak.finish()
    result["flood_cuts"] = daemon.flood_cuts() - cuts
    settled = settle(daemon, before["threads"])
    after = status(daemon.pid)
    rss_during = [s["rss"] for s in peak.samples]
    half = len(rss_during) // 2
    return {"wrk": result, "before": before, "peak": peak.peak, "after": after, "settled": settled,
            # Growth while the load goes on: the second half's largest RSS over the first half's.
            "growth_under_load": max(rss_during[half:]) - max(rss_during[:half]) if half else 0}


def settle(daemon, threads=None):
    """Waits (60 s at most) until tiny_http has ended the threads it started for a load (down to
    `threads`, or to the usual 8 at most), then for the reaper's second heap trim, which comes
    6 s after the connections ended (src/reaper.rs, IDLE_THREADS_EXIT). Whether the threads
    ended in time."""
    limit = threads if threads is not None else 8
    try:
        wait_until("the load's threads ending",
                   lambda: status(daemon.pid)["threads"] <= limit, 60, daemon.proc)
    except RuntimeError:
        return False  # measured anyway; the report says so
    time.sleep(3)  # the threads end 5 s after the load, the trim 6 s after: a fixed margin
    return True


def error_kinds(results):
    """wrk's errors of several runs by kind, the non-zero ones: "read 12, timeout 1"."""
    totals = {}
    for r in results:
        for kind, n in list(r["error_kinds"].items()) + [("non-2xx", r["non_2xx"])]:
            totals[kind] = totals.get(kind, 0) + n
    return ", ".join(f"{k} {n}" for k, n in totals.items() if n) or "none"


def area_size():
    """Stripped sizes, and cargo-bloat's per-crate table (built unstripped in a separate target
    directory, so that the measured binaries are never replaced)."""
    sizes = {name: BIN[name].stat().st_size for name in ("ifstatsd", "floor_http")}
    if not shutil.which("cargo-bloat"):
        log("installing cargo-bloat")
        run(["cargo", "install", "cargo-bloat", "--locked"], capture=False, timeout=1800)
    log("cargo bloat (a separate unstripped build)")
    argv = ["cargo", "bloat", "--release", "--crates", "-n", "20"]
    record(["CARGO_PROFILE_RELEASE_STRIP=false"] + argv)
    env = dict(os.environ, CARGO_PROFILE_RELEASE_STRIP="false",
               CARGO_TARGET_DIR=str(TARGET / "bench-bloat"))
    out = subprocess.run(argv, cwd=ROOT, env=env, text=True, capture_output=True, timeout=1800)
    return {"sizes": sizes, "bloat": out.stdout.strip() if out.returncode == 0 else
            "cargo bloat failed: " + out.stderr.strip()[-500:]}


# ---------------------------------------------------------------------------------------------
# The report


def kb(n):
    return "n/a" if n is None else f"{n / 1000:,.0f} KB"


def mb(n):
    return "n/a" if n is None else f"{n / 1e6:,.2f} MB"


def us(ns):
    return "n/a" if ns is None else f"{ns / 1000:,.1f} µs"


def ratio(a, b):
    return "n/a" if not a or not b else f"{a / b:.2f}×"


def verdict(ok):
    return "**yes**" if ok else "**no**"


def render_sampling(sampling):
    if sampling is None:
        return ("Not measured: this branch has no `sampling` bench target "
                "(`tests/bench/sampling.rs`, on the `sampling` branch, has not landed).")
    rows = ["| interfaces | floor: open+read | floor: pread | ifstatsd: whole sample (p50 / p90) "
            "| ratio to open+read (goal ≤ 1.25×) | allocations in read+parse (goal 0) "
            "| allocations per whole tick | live bytes growth | ring bytes per interface-hour (goal ≤ 16 KB) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for size, r in sampling.items():
        g = r.get
        rows.append(
            f"| {size} ({g('interfaces'):.0f} read) | {us(g('floor_open_read_ns_median'))} "
            f"| {us(g('floor_pread_ns_median'))} | {us(g('sample_ns_median'))} / {us(g('sample_ns_p90'))} "
            f"| {g('ratio'):.2f}× ({verdict(g('ratio') <= 1.25)}) "
            f"| {g('allocs_per_sample_read_parse'):g} ({verdict(r['allocs_read_parse_max'] == 0)}) "
            f"| {g('allocs_per_sample_total'):g} | {g('live_bytes_growth'):,.0f} B "
            f"| {g('ring_bytes_per_interface'):,.0f} B ({verdict(g('ring_bytes_per_interface') <= 16000)}) |")
    return "\n".join(rows)


def render_fresh(sampling):
    if sampling is None:
        return "Not measured (no sampling bench)."
    rows = ["| interfaces | `/api/v1/interfaces` | `/api/v1/interface/lo/stats` | `/metrics` |",
            "|---|---|---|---|"]
    for size, r in sampling.items():
        g = r.get
        if g("fresh_metrics_ns_median") is None:
            continue
        rows.append(f"| {size} | {us(g('fresh_interfaces_ns_median'))} "
                    f"| {us(g('fresh_stats_ns_median'))} | {us(g('fresh_metrics_ns_median'))} |")
    return "\n".join(rows)


def render_cpu(bg):
    cpu = bg["cpu_ms_per_hour"]
    over_floor = cpu["ifstatsd"] / cpu["floor"] if cpu["floor"] else None
    rows = [
        "| process (16 interfaces, default intervals) | CPU per hour | ifstatsd / this | goal |",
        "|---|---|---|---|",
        f"| **ifstatsd**, all threads | **{cpu['ifstatsd']:,.1f} ms** | | "
        f"< 10 ms: {verdict(cpu['ifstatsd'] < 10)} |",
    ]
    for name, ms in sorted(bg["ifstatsd_threads_ms_per_hour"].items(), key=lambda kv: -kv[1]):
        rows.append(f"| ifstatsd, thread `{name}` | {ms:,.1f} ms | | |")
    rows += [
        f"| floor sampler (`floor_sampler.c`, every {S.default_interval} s) | {cpu['floor']:,.1f} ms "
        f"| {ratio(cpu['ifstatsd'], cpu['floor'])} "
        f"| ifstatsd ≤ 1.5× the floor: {verdict(over_floor is not None and over_floor <= 1.5)} |",
        f"| vnstatd (measured, same run; quoted from the issue: ~150 ms) | {cpu['vnstatd']:,.1f} ms "
        f"| {ratio(cpu['ifstatsd'], cpu['vnstatd'])} | |",
    ]
    return "\n".join(rows)


def render_sample_cpu(sc):
    if sc is None:
        return "Not measured."
    rows = [
        f"| process ({sc['interfaces']} interfaces, every {sc['interval_s'] * 1000:g} ms) "
        "| CPU per sample | samples | ifstatsd / floor | goal |",
        "|---|---|---|---|---|",
        f"| **ifstatsd**, all threads | **{us(sc['cpu_ns_per_sample'])}** "
        f"| {sc['samples']:,} (one per {sc['interval_s'] / sc['samples_per_interval'] * 1000:.1f} ms) "
        f"| {sc['ratio']:.2f}× | ≤ 1.25× the floor: {verdict(sc['ratio'] <= 1.25)} |",
    ]
    for name, ns in sorted(sc["threads_ns_per_sample"].items(), key=lambda kv: -kv[1]):
        rows.append(f"| ifstatsd, thread `{name}` | {us(ns)} | | | |")
    rows.append(f"| floor sampler (`floor_sampler.c`, same file, same interval) "
                f"| {us(sc['floor_cpu_ns_per_sample'])} | {sc['floor_samples']:,} | | |")
    return "\n".join(rows)


def render_http(h):
    rows = ["| route | connections | ifstatsd req/s | floor req/s | throughput ifstatsd / floor "
            "| ifstatsd CPU/request | floor CPU/request | CPU ifstatsd / floor (goal ≤ 1.5×) "
            "| ifstatsd p50 / p99 | errors: ifstatsd / floor (goal 0) | ifstatsd's errors by kind "
            "| cut for pipelining |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in h["table"]:
        i, f = row["ifstatsd"], row["floor"]
        cpu_ratio = i["cpu_ns_per_request"] / f["cpu_ns_per_request"] \
            if i["cpu_ns_per_request"] and f["cpu_ns_per_request"] else None
        rows.append(
            f"| `{row['route']}` | {row['connections']} | {i['rps']:,.0f} | {f['rps']:,.0f} "
            f"| {ratio(i['rps'], f['rps'])} | {us(i['cpu_ns_per_request'])} | {us(f['cpu_ns_per_request'])} "
            f"| {'n/a' if cpu_ratio is None else f'{cpu_ratio:.2f}×'} "
            f"({verdict(cpu_ratio is not None and cpu_ratio <= 1.5)}) "
            f"| {i['p50_ms']:.2f} / {i['p99_ms']:.2f} ms | {i['errors']} / {f['errors']} "
            f"| {i['error_kinds']} | {i['flood_cuts']} |")
    return "\n".join(rows)


def render_scrape(h, bg):
    s = h["scrape"]
    cpu = s["cpu_ns"]
    return "\n".join([
        "| figure | ifstatsd | node_exporter 1.5.0, netdev only (measured, same run) "
        "| node_exporter / ifstatsd | goal |",
        "|---|---|---|---|---|",
        f"| CPU per `/metrics` scrape | {us(cpu['ifstatsd'])} | {us(cpu['node_exporter'])} "
        f"(reference, quoted from the issue: 750-1100 µs) | {ratio(cpu['node_exporter'], cpu['ifstatsd'])} "
        f"| a twentieth: {verdict(cpu['ifstatsd'] * 20 <= cpu['node_exporter'])} |",
        f"| `/metrics` body | {s['body_bytes']['ifstatsd']:,} B | {s['body_bytes']['node_exporter']:,} B | | |",
        f"| failed scrapes | {s['failed']['ifstatsd']} | {s['failed']['node_exporter']} | | 0 |",
        f"| idle RSS, 16 interfaces | {mb(bg['idle_rss'])} | {mb(s['exporter_idle_rss'])} "
        f"| {ratio(s['exporter_idle_rss'], bg['idle_rss'])} | |",
    ])


def render_load(h):
    load = h["load"]
    w, b, p, a = load["wrk"], load["before"], load["peak"], load["after"]
    errors = w["socket_errors"] + w["non_2xx"]
    return "\n".join([
        "| figure | before | peak during | after |",
        "|---|---|---|---|",
        f"| RSS | {mb(b['rss'])} | {mb(p['rss'])} | {mb(a['rss'])} |",
        f"| threads | {b['threads']} | {p['threads']} | {a['threads']} |",
        f"| open descriptors | {b['fds']} | {p['fds']} | {a['fds']} |",
        "",
        f"{w['requests']:,} requests, {w['rps']:,.0f} req/s, p50 {w['p50_ms']:.2f} ms, "
        f"p99 {w['p99_ms']:.2f} ms; errors (socket errors + non-2xx): **{errors}** "
        f"(goal 0: {verdict(errors == 0)}; {error_kinds([w])}; connections cut for "
        f"pipelining: {w['flood_cuts']}). "
        f"{'' if load['settled'] else 'Its threads had not ended 60 s after the load. '}"
        f"RSS after minus before, what the load left behind: "
        f"{(a['rss'] - b['rss']) / 1024:+,.0f} KiB; flat (at most 64 KiB): "
        f"{verdict(a['rss'] - b['rss'] <= 65536)}. During the load RSS moves with the "
        f"connections' threads and buffers (largest RSS of the second half minus that of the "
        f"first half: {load['growth_under_load'] / 1024:+,.0f} KiB).",
    ])


def render_memory(mem, bg, h):
    rows = ["| interfaces | ifstatsd idle RSS | ifstatsd RSS under wrk -c10 | req/s | tracked "
            "| errors under load | cut for pipelining |",
            "|---|---|---|---|---|---|---|"]
    for size, r in mem.items():
        rows.append(f"| {size} | {mb(r['idle_rss'])} | {mb(r['load_rss'])} | {r['rps']:,.0f} "
                    f"| {r['tracked']} | {r['errors']} | {r['flood_cuts']} |")
    rows += ["", "| idle RSS, 16 interfaces | ifstatsd | vnstatd 2.10 | node_exporter 1.5.0 | goal |",
             "|---|---|---|---|---|",
             f"| measured in this run | {mb(bg['idle_rss'])} | {mb(bg['vnstatd_rss'])} "
             f"| {mb(h['scrape']['exporter_idle_rss'])} | ifstatsd < 3 MB: {verdict(bg['idle_rss'] < 3e6)} |"]
    return "\n".join(rows)


def render_size(size):
    s = size["sizes"]
    return "\n".join([
        "| binary (release profile, stripped) | bytes | goal |",
        "|---|---|---|",
        f"| ifstatsd (default features) | {s['ifstatsd']:,} ({kb(s['ifstatsd'])}) "
        f"| < 700 KB: {verdict(s['ifstatsd'] < 700_000)} |",
        f"| floor: bare tiny_http + socket2 (`floor_http`) | {s['floor_http']:,} ({kb(s['floor_http'])}) | |",
        f"| ifstatsd over the floor | {s['ifstatsd'] - s['floor_http']:,} "
        f"({ratio(s['ifstatsd'], s['floor_http'])}) | |",
        "",
        "Per crate (`cargo bloat`, unstripped build; `.text` only, so the total is below the file size):",
        "",
        "```text",
        size["bloat"],
        "```",
    ])


def render_writes(bg):
    w = bg["state_writes"]
    if "error" in w or w.get("per_day") is None:
        ifstatsd_rows = [f"| `--state-file` | not measured: {w.get('error', 'no output')} | |"]
    else:
        ifstatsd_rows = [
            f"| state file, 16 interfaces, full hour | {w['file_bytes']:,} B "
            f"({w['per_interface_hour']:,} B per interface-hour) | |",
            f"| written per save (`wchar` / `write_bytes`, {w['fs']}) | {w['wchar_per_save']:,} B / "
            f"{w['write_bytes_per_save']:,} B | |",
            f"| **written per day at the defaults** (96 saves, every 15 min) | **{mb(w['per_day'])}** "
            f"| vnstatd at its defaults: {vnstat_writes(bg)} |",
            f"| written per day with `--save-interval 1h` (24 saves) | {mb(w['write_bytes_per_save'] * 24)} | |",
            "| written per day with `--save-interval 0` | one save per stop | |",
        ]
    return "\n".join(["| figure | ifstatsd | peer |", "|---|---|---|"] + ifstatsd_rows)


def vnstat_writes(bg):
    window = bg["window_s"]
    measured = (f"{mb(bg['vnstatd_write_bytes_per_day'])} a day to storage (`write_bytes`; "
                f"`wchar` {mb(bg['vnstatd_wchar_per_day'])}), measured over {window / 60:.0f} min, "
                f"16 interfaces")
    if window < 300:
        # Its SaveInterval is 5 minutes: a shorter window may see no save at all.
        measured += " (window shorter than its 5-minute save interval: not representative)"
    return measured + "; reference quoted from the issue: about 33 MB a day"


def render_steady(bg):
    curve = bg["curve"]
    rows = ["| minute | RSS, churned daemon | RSS, control (no churn) | interfaces present | "
            "tracked by the daemon | refused |", "|---|---|---|---|---|---|"]
    for p in curve:
        rows.append(f"| {p['seconds'] / 60:.1f} | {p['rss'] / 1024:,.0f} KiB | {p['control_rss'] / 1024:,.0f} KiB "
                    f"| {p['present']} | {p['tracked']} | {p['refused']} |")
    # The baseline skips the start (rings allocated for every pool name in the first seconds).
    base_at = min(60, S.steady_seconds / 3)
    base = next(p for p in curve if p["seconds"] >= base_at)
    last = curve[-1]
    growth = last["rss"] - base["rss"]
    control_growth = last["control_rss"] - base["control_rss"]
    excess = growth - control_growth
    allowed = max(65536, 0.02 * base["rss"])
    rows += ["", f"From minute {base['seconds'] / 60:.1f} to minute {last['seconds'] / 60:.1f}: the churned "
             f"daemon's RSS changed by {growth / 1024:+,.0f} KiB, the control's by {control_growth / 1024:+,.0f} KiB "
             f"(rings filling: both hold the same number of present interfaces); the difference, "
             f"{excess / 1024:+,.0f} KiB, is what churn added. Verdict: **{'flat' if excess <= allowed else 'not flat'}** "
             f"under churn (flat: churn added at most {allowed / 1024:,.0f} KiB, 2% of its RSS or 64 KiB, "
             f"beyond the rings filling, which the control shows and which ends when they hold an hour)."]
    return "\n".join(rows)


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} × {cpu}, {mem:.0f} GiB, Linux {os.uname().release}"


def versions():
    lock = (ROOT / "Cargo.lock").read_text()
    m = re.search(r'name = "tiny_http"\nversion = "([^"]+)"', lock)
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    first = lambda argv: run(argv, check=False).splitlines()[0]
    return ", ".join([
        first(["rustc", "-V"]), f"tiny_http {m.group(1) if m else '?'}", wrk_v.split(" [")[0],
        first(["vnstatd", "--version"]).replace(" by Teemu Toivola <tst at iki dot fi>", ""),
        first(["prometheus-node-exporter", "--version"]).split(" (")[0].replace(", version", ""),
        first(["ip", "-V"]).split(", ")[1],
    ])


def commit():
    head = run(["git", "rev-parse", "--short", "HEAD"], check=False).strip()
    dirty = run(["git", "status", "--porcelain", "--untracked-files=no"], check=False).strip()
    return head + (" with uncommitted changes" if dirty else "")


def render(figures, started, elapsed, load_before):
    template = Template((ROOT / "tests" / "bench" / "BENCHMARKS.md.in").read_text())
    bg, h = figures["background"], figures["http"]
    return template.substitute(
        mode="quick (`BENCH_QUICK=1`: short runs, not for the record)" if QUICK else "full",
        date=started.strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine(),
        versions=versions(),
        commit=commit(),
        elapsed=f"{elapsed / 60:.1f} min",
        loadavg=f"{load_before} at the start, {os.getloadavg()[0]:.2f} at the end",
        runs=S.runs,
        wrk_seconds=S.wrk_seconds,
        sampling_iterations=", ".join(f"{n:,}" for n in S.sampling_iterations.values()),
        sampling=render_sampling(figures["sampling"]),
        sample_cpu_runs=S.runs,
        sample_cpu_seconds=S.sample_cpu_seconds,
        sample_cpu=render_sample_cpu(figures["sample_cpu"]),
        fresh=render_fresh(figures["sampling"]),
        cpu_window=f"{bg['window_s'] / 60:.1f}",
        cpu=render_cpu(bg),
        http_sizes=f"{h['body_bytes']['stats']:,} B (stats) and {h['body_bytes']['interfaces']:,} B (interfaces)",
        http=render_http(h),
        flood_cuts=h["cuts"]["flood"],
        scrapes=S.scrapes,
        scrape_rate=S.scrape_rate,
        scrape=render_scrape(h, bg),
        load_seconds=S.load_seconds,
        load_connections=S.load_connections,
        load=render_load(h),
        memory_load_seconds=S.memory_load_seconds,
        memory=render_memory(figures["memory"], bg, h),
        size=render_size(figures["size"]),
        writes=render_writes(bg),
        steady_minutes=f"{S.steady_seconds / 60:g}",
        steady_every=S.steady_every,
        steady=render_steady(bg),
        commands="\n".join(COMMANDS),
    )


# ---------------------------------------------------------------------------------------------


# The areas in the order of a whole run; a run of chosen areas keeps this order.
AREAS = ("background", "sampling", "sample_cpu", "memory", "http", "size")


def render_chosen(figures):
    """The tables of a run of chosen areas, each that its figures allow (memory's and the
    scrapes' also need the background's and HTTP's), then every figure as JSON."""
    sections = {
        "CPU per hour": lambda f: render_cpu(f["background"]),
        "Flash writes": lambda f: render_writes(f["background"]),
        "Steady state": lambda f: render_steady(f["background"]),
        "Sampling": lambda f: render_sampling(f["sampling"]),
        "Fresh replies": lambda f: render_fresh(f["sampling"]),
        "CPU per sample": lambda f: render_sample_cpu(f["sample_cpu"]),
        "HTTP": lambda f: render_http(f["http"]),
        "Scrapes": lambda f: render_scrape(f["http"], f["background"]),
        "Load test": lambda f: render_load(f["http"]),
        "Memory": lambda f: render_memory(f["memory"], f["background"], f["http"]),
        "Size": lambda f: render_size(f["size"]),
    }
    parts = []
    for title, section in sections.items():
        try:
            parts.append(f"## {title}\n\n{section(figures)}\n")
        except KeyError:
            pass  # an area this section needs was not run
    parts.append("## Figures\n\n```json\n" + json.dumps(figures, indent=1, default=str) + "\n```\n")
    return "\n".join(parts)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "scrape":
        return scrape_main(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    chosen = sys.argv[1:] or list(AREAS)
    unknown = [a for a in chosen if a not in AREAS]
    if unknown:
        sys.exit(f"unknown area {' '.join(unknown)}; areas: {' '.join(AREAS)}")
    whole = set(chosen) == set(AREAS)
    if os.geteuid() != 0:
        sys.exit("make bench needs root: it creates network namespaces")
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    os.chdir(ROOT)
    started = datetime.now(timezone.utc)
    load_before = f"{os.getloadavg()[0]:.2f}"
    t0 = time.monotonic()
    # On the same file system as the build: vnstatd's database writes must reach a disk.
    TARGET.mkdir(parents=True, exist_ok=True)
    HARNESS.scratch = Path(tempfile.mkdtemp(prefix="bench-", dir=TARGET))
    try:
        ensure_packages()
        build()
        figures = {}
        if "background" in chosen:
            figures["background"] = area_background()
        if "sampling" in chosen or "memory" in chosen:
            namespaces = {n: make_namespace(f"n{n}", n) for n in S.sampling_sizes}
        if "sampling" in chosen:
            figures["sampling"] = area_sampling(namespaces)
        if "sample_cpu" in chosen:
            figures["sample_cpu"] = area_sample_cpu()
        if "memory" in chosen:
            figures["memory"] = area_memory(namespaces)
        if "http" in chosen:
            figures["http"] = area_http(make_namespace("http", S.idle_interfaces))
        if "size" in chosen:
            figures["size"] = area_size()
        if whole:
            report = render(figures, started, time.monotonic() - t0, load_before)
            (ROOT / "BENCHMARKS.md").write_text(report)
            log(f"BENCHMARKS.md written ({(time.monotonic() - t0) / 60:.1f} min)")
        else:
            print(render_chosen(figures), flush=True)
            log(f"areas {' '.join(chosen)} done ({(time.monotonic() - t0) / 60:.1f} min); "
                "BENCHMARKS.md left as it was")
    finally:
        HARNESS.cleanup()


if __name__ == "__main__":
    main()
