#!/usr/bin/env python3
"""The firewall cap the README advises bounds a connection flood (`make test`; root).

tiny_http gives every open connection a thread of its own, and the reaper cuts those beyond
--max-connections only at its next look, so what bounds the daemon's threads and memory during a
flood is how many connections reach it (src/serve/mod.rs, "Memory"). The README tells a router's
admin to cap them in the firewall with one nftables rule. This test loads exactly that rule
(RULE, the README's text) in a network namespace of its own and floods the daemon there twice:

1. without the rule (the control): 600 connections at once; the daemon's thread count must
   rise past CONTROL_MIN_THREADS, which shows the flood reaches it and the measure can fail;
2. with the rule: 3000 connections at once; at most CAP of them may be accepted (the others are
   refused with a TCP reset), and the daemon's threads may never pass its idle count plus CAP
   plus a margin (tiny_http's four idle workers and its accept thread may come and go);

and after each flood /health must answer 200 from a new connection. Threads are read from
/proc/PID/status every 10 ms while the flood is held open.

Without root it prints why it skips; under CI=true it fails instead.
"""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

BIN = os.environ.get("IFSTATSD_BIN", "target/debug/ifstatsd")
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "fixtures", "proc_net_dev", "openwrt-router-typical.txt")
NS = "ns12cap"
PORT = 9310
CAP = 32
# The README's rule, word for word (test_readme_quotes_the_rule checks that it does).
RULE = f"tcp dport {PORT} ct state new ct count over {CAP} reject with tcp reset"
CONTROL_CONNECTIONS = 600
CONTROL_MIN_THREADS = 200
FLOOD_CONNECTIONS = 3000
# Beyond the idle count and CAP: tiny_http's accept thread and pool workers that a moment's
# probe or cut leaves (threads exit 5 s after their last connection), and the reaper's look.
THREAD_MARGIN = 8
DEADLINE_S = 30.0


def fail(message):
    print(f"connection_cap: FAIL: {message}", flush=True)
    sys.exit(1)


def threads(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise RuntimeError("no Threads line")


def health():
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=2) as response:
        return response.status


def wait_for(what, ready):
    ends = time.monotonic() + DEADLINE_S
    while time.monotonic() < ends:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.05)
    fail(f"{what} not within {DEADLINE_S:.0f} s")


def flood(pid, count, hold_s=2.0):
    """Opens `count` connections as fast as it can, holds them `hold_s`, closes them. Returns
    (accepted, refused, peak threads)."""
    peak = [threads(pid)]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], threads(pid))
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    accepted, refused = [], 0
    try:
        for _ in range(count):
            s = socket.socket()
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", PORT))
                accepted.append(s)
            except ConnectionRefusedError:
                refused += 1
                s.close()
        time.sleep(hold_s)
    finally:
        for s in accepted:
            s.close()
        done.set()
        watcher.join()
    return len(accepted), refused, peak[0]


def inside():
    """Runs in the namespace: the daemon, the two floods, the rule."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    daemon = subprocess.Popen([BIN, "--listen", f"127.0.0.1:{PORT}", "--source", FIXTURE,
                               "--log-level", "warn"])
    try:
        wait_for("the daemon's /health", lambda: health() == 200)
        # Every thread a fresh daemon has: its own, tiny_http's accept thread and the four
        # workers tiny_http starts with (the /health request was served by one of them).
        idle = threads(daemon.pid)

        accepted, refused, peak = flood(daemon.pid, CONTROL_CONNECTIONS)
        print(f"without the rule: {accepted} of {CONTROL_CONNECTIONS} connections accepted, "
              f"{refused} refused; threads idle {idle}, peak {peak}", flush=True)
        if peak < CONTROL_MIN_THREADS:
            fail(f"the control flood reached only {peak} threads (expected {CONTROL_MIN_THREADS} "
                 "or more): the measure could not tell the rule's effect")
        wait_for("back to idle threads after the control", lambda: threads(daemon.pid) <= idle)
        wait_for("/health after the control flood", lambda: health() == 200)

        table = (f"table inet ifstatsd_cap {{\n  chain input {{\n"
                 f"    type filter hook input priority 0;\n    {RULE}\n  }}\n}}\n")
        subprocess.run(["nft", "-f", "-"], input=table, text=True, check=True)
        accepted, refused, peak = flood(daemon.pid, FLOOD_CONNECTIONS)
        print(f"with `{RULE}`: {accepted} of {FLOOD_CONNECTIONS} connections accepted, "
              f"{refused} refused; threads idle {idle}, peak {peak}", flush=True)
        broken = []
        if accepted > CAP:
            broken.append(f"{accepted} connections accepted, over the cap of {CAP}")
        if accepted + refused != FLOOD_CONNECTIONS:
            broken.append(f"{FLOOD_CONNECTIONS - accepted - refused} connections neither accepted nor refused")
        if peak > idle + CAP + THREAD_MARGIN:
            broken.append(f"{peak} threads at the peak, over {idle} idle + {CAP} + {THREAD_MARGIN}")
        if broken:
            fail("; ".join(broken))
        # The flood's connections are gone from conntrack's count once closed.
        wait_for("/health after the flood", lambda: health() == 200)
        if daemon.poll() is not None:
            fail(f"the daemon exited with {daemon.returncode}")
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    print("connection_cap: ok", flush=True)


def test_readme_quotes_the_rule():
    with open(os.path.join(HERE, "..", "README.md")) as f:
        readme = f.read()
    if f"`{RULE}`" not in readme.replace("\n", " "):
        fail(f"README.md does not give the rule this test loads: `{RULE}`")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--inside":
        return inside()
    test_readme_quotes_the_rule()
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            fail("needs root (a network namespace and nftables), and CI runs as root")
        print("connection_cap: skipped: needs root (a network namespace and nftables)")
        return
    subprocess.run(["ip", "netns", "del", NS], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        env = dict(os.environ, IFSTATSD_BIN=os.path.abspath(BIN))
        done = subprocess.run(["ip", "netns", "exec", NS, sys.executable, os.path.abspath(__file__),
                               "--inside"], env=env)
        if done.returncode != 0:
            sys.exit(done.returncode)
    finally:
        subprocess.run(["ip", "netns", "del", NS])


if __name__ == "__main__":
    main()
