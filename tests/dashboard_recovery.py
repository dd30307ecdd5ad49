"""The dashboard when the daemon goes away and comes back, in headless Chromium driven over the
DevTools protocol: the page says the daemon is unreachable, then recovers by itself.

Usage: dashboard_recovery.py IFSTATSD_BINARY CHROMIUM WORKDIR
"""
import json
import socket
import subprocess
import sys
import time
import urllib.request

import websocket  # websocket-client

BIN, CHROMIUM, WORK = sys.argv[1:4]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, condition, deadline=20.0):
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        try:
            if condition():
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    sys.exit(f"dashboard_recovery: timed out waiting until {what}")


def start_daemon(port):
    daemon = subprocess.Popen([BIN, "--listen", f"127.0.0.1:{port}", "--interval", "1s",
                               "--log-level", "warn"])
    wait_until("the daemon answers", lambda: urllib.request.urlopen(
        f"http://127.0.0.1:{port}/health", timeout=1).status == 200)
    return daemon


class Page:
    """One Chromium tab, evaluated over the DevTools protocol."""

    def __init__(self, devtools_port, url):
        request = urllib.request.Request(
            f"http://127.0.0.1:{devtools_port}/json/new?{url}", method="PUT")
        target = json.load(urllib.request.urlopen(request, timeout=5))
        # No Origin header: Chromium refuses DevTools connections from origins it was not told of.
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=10,
                                              suppress_origin=True)
        self.next_id = 0

    def eval(self, expression):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": "Runtime.evaluate",
                                 "params": {"expression": expression, "returnByValue": True}}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                return message["result"]["result"].get("value")


def main():
    port, devtools = free_port(), free_port()
    daemon = start_daemon(port)
    browser = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-quic", f"--user-data-dir={WORK}/recovery-profile",
         f"--remote-debugging-port={devtools}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until("Chromium's DevTools answer", lambda: urllib.request.urlopen(
            f"http://127.0.0.1:{devtools}/json/version", timeout=1).status == 200)
        page = Page(devtools, f"http://127.0.0.1:{port}/")
        updates = lambda: int(page.eval("document.body.dataset.updates") or 0)
        banner = lambda: page.eval("document.getElementById('banner').classList.contains('show')")
        wait_until("the page has data", lambda: updates() >= 1)
        assert banner() is False, "no banner while the daemon answers"

        daemon.terminate()
        daemon.wait(timeout=5)
        wait_until("the page says the daemon is unreachable", lambda: banner() is True)
        stale = updates()

        daemon = start_daemon(port)
        wait_until("the page recovers by itself", lambda: banner() is False and updates() > stale)
        cards = page.eval("document.querySelectorAll('article.card').length")
        assert cards >= 1, cards
        print(f"dashboard_recovery: OK: banner shown while the daemon was down, gone after it "
              f"came back ({updates()} updates, {cards} cards)")
    finally:
        browser.terminate()
        daemon.terminate()
        browser.wait(timeout=5)
        daemon.wait(timeout=5)


main()
