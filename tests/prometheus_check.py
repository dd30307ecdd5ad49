"""Checks /metrics with a real exposition-format parser (prometheus_client) against the JSON API.

Run by tests/prometheus.sh with the address of a daemon sampling a source that has traffic.
Fetches the JSON, the metrics, and the JSON again; retries until both JSON reads come from the
same sample, so that every figure can be compared exactly.
"""
import datetime
import json
import sys
import time
import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

BASE = sys.argv[1]
COUNTERS = {
    "receive_bytes": "rx_bytes", "receive_packets": "rx_packets",
    "receive_errs": "rx_errors", "receive_drop": "rx_dropped",
    "transmit_bytes": "tx_bytes", "transmit_packets": "tx_packets",
    "transmit_errs": "tx_errors", "transmit_drop": "tx_dropped",
}
# The other eight /proc/net/dev counters: served as node_exporter names them, no rates.
OTHER_COUNTERS = {
    "receive_fifo": "rx_fifo", "receive_frame": "rx_frame",
    "receive_compressed": "rx_compressed", "receive_multicast": "rx_multicast",
    "transmit_fifo": "tx_fifo", "transmit_colls": "tx_colls",
    "transmit_carrier": "tx_carrier", "transmit_compressed": "tx_compressed",
}
WINDOWS = {"current": "current", "1m": "avg_1m", "5m": "avg_5m", "15m": "avg_15m"}


def get(path):
    with urllib.request.urlopen(BASE + path, timeout=5) as response:
        return response.headers.get("Content-Type"), response.read().decode()


def usage_path(name):
    return "/api/v1/interface/" + urllib.parse.quote(name, safe="") + "/usage"


def consistent_read(deadline=10.0):
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        before = json.loads(get("/api/v1/interfaces")[1])
        content_type, metrics = get("/metrics")
        usages = {i["interface"]: json.loads(get(usage_path(i["interface"]))[1])
                  for i in before["interfaces"]}
        after = json.loads(get("/api/v1/interfaces")[1])
        if before == after:
            return after, content_type, metrics, usages
    sys.exit("no two reads of the same sample within the deadline")


def main():
    listing, content_type, text, usages = consistent_read()
    assert content_type == "text/plain; version=0.0.4; charset=utf-8", content_type
    families = {f.name: f for f in text_string_to_metric_families(text)}
    # A name left behind by a rename has no series (its history went to the new name).
    interfaces = {i["interface"]: i for i in listing["interfaces"] if i["renamed_to"] is None}
    present = {name for name, i in interfaces.items() if i["present"]}
    checked = 0

    for metric, field in {**COUNTERS, **OTHER_COUNTERS}.items():
        family = families[f"node_network_{metric}"]  # the parser drops "_total"
        assert family.type == "counter", (metric, family.type)
        assert family.documentation, metric
        seen = {s.labels["device"]: s.value for s in family.samples if s.name.endswith("_total")}
        assert set(seen) == present, (metric, set(seen), present)
        for device, value in seen.items():
            assert value == interfaces[device]["counters"][field], (metric, device, value)
            checked += 1

    for metric, field in COUNTERS.items():
        family = families[f"ifstatsd_{metric}_per_second"]
        assert family.type == "gauge", family.type
        values = {(s.labels["device"], s.labels["window"]): s.value for s in family.samples}
        for name, iface in interfaces.items():
            for window, key in WINDOWS.items():
                rate = iface["rates"][key]
                if rate is None:
                    assert (name, window) not in values, (metric, name, window)
                else:
                    assert values[(name, window)] == rate[f"{field}_per_sec"], (metric, name, window)
                    checked += 1

    # The speeds prometheus.sh set up: a sysfs fixture's (lo: 10 Mbit/s, no ethtool involved),
    # --link-speed's (eth0), and none (the others).
    speeds = {n: i["link_speed_bits_per_sec"] for n, i in interfaces.items()}
    assert speeds["lo"] == 10_000_000 and speeds["eth0"] == 100_000_000, speeds
    assert all(v is None for n, v in speeds.items() if n not in ("lo", "eth0")), speeds
    # Utilisation, where the link speed is known (issue 17): the same windows, absent elsewhere.
    utilised = 0
    for metric, direction in [("receive", "rx"), ("transmit", "tx")]:
        family = families[f"ifstatsd_{metric}_utilisation_ratio"]
        assert family.type == "gauge", family.type
        values = {(s.labels["device"], s.labels["window"]): s.value for s in family.samples}
        expected = {}
        for name, iface in interfaces.items():
            for window, key in WINDOWS.items():
                rate = iface["rates"][key]
                if rate is not None and rate[f"{direction}_utilisation"] is not None:
                    expected[(name, window)] = rate[f"{direction}_utilisation"]
        assert values == expected, (metric, values, expected)
        utilised += len(values)
    assert utilised >= 2 * len(WINDOWS), f"only {utilised} utilisations to compare"
    checked += utilised

    covered = {(s.labels["device"], s.labels["window"]): s.value
               for s in families["ifstatsd_rate_covered_seconds"].samples}
    expected = {(name, window): iface["rates"][key]["covered_seconds"]
                for name, iface in interfaces.items() for window, key in WINDOWS.items()
                if iface["rates"][key] is not None}
    assert covered == expected, (covered, expected)
    checked += len(covered)

    rates_checked = checked - utilised - sum(len(present) for _ in {**COUNTERS, **OTHER_COUNTERS}) - len(covered)
    assert rates_checked >= 8 * len(WINDOWS), f"only {rates_checked} rates to compare"

    def per_device(family_name, kind):
        family = families[family_name]
        assert family.type == kind, (family_name, family.type)
        return {s.labels["device"]: s.value for s in family.samples
                if not s.name.endswith("_created")}

    assert per_device("ifstatsd_interface_present", "gauge") == {
        n: float(i["present"]) for n, i in interfaces.items()}
    assert per_device("ifstatsd_interface_uptime_seconds", "gauge") == {
        n: i["uptime_seconds"] for n, i in interfaces.items() if i["uptime_seconds"] is not None}
    def epoch(stamp):
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()

    up_since = per_device("ifstatsd_interface_up_since_timestamp_seconds", "gauge")
    expected = {n: epoch(i["up_since"]) for n, i in interfaces.items() if i["up_since"]}
    assert set(up_since) == set(expected), (up_since, expected)
    for name, value in up_since.items():  # the JSON has milliseconds, the metric microseconds
        assert abs(value - expected[name]) < 0.001, (name, value, expected[name])

    # node_exporter's netclass families, from the JSON's link state, for present interfaces.
    info = {s.labels["device"]: s.labels for s in families["node_network_info"].samples}
    assert set(info) == present, (set(info), present)
    for name in present:
        iface, labels = interfaces[name], info[name]
        link = iface["link"]
        assert labels == {
            "device": name, "address": link["address"] or "", "broadcast": link["broadcast"] or "",
            "duplex": link["duplex"] or "", "ifalias": link["alias"] or "",
            "operstate": iface["oper_state"] or "",
        }, labels
    assert per_device("node_network_up", "gauge") == {
        n: float(interfaces[n]["oper_state"] == "up") for n in present}
    for family_name, value in [("node_network_carrier", lambda l: l["carrier"]),
                               ("node_network_mtu_bytes", lambda l: l["mtu_bytes"]),
                               ("node_network_speed_bytes",
                                lambda l: l["speed_mbps"] and l["speed_mbps"] * 125000)]:
        assert per_device(family_name, "gauge") == {
            n: float(value(interfaces[n]["link"])) for n in present
            if value(interfaces[n]["link"]) is not None}, family_name
    linked = [n for n in present if interfaces[n]["link"]["speed_mbps"]]
    assert linked, "no interface with link state to compare"
    uname = families["node_uname_info"].samples[0].labels
    assert set(uname) == {"domainname", "machine", "nodename", "release", "sysname", "version"}
    assert uname["sysname"] == "Linux", uname

    assert per_device("ifstatsd_interface_resets", "counter") == {
        n: i["events"]["resets"] for n, i in interfaces.items()}
    assert per_device("ifstatsd_interface_wraps", "counter") == {
        n: i["events"]["wraps"] for n, i in interfaces.items()}
    assert per_device("ifstatsd_interface_glitches", "counter") == {
        n: i["events"]["glitches"] for n, i in interfaces.items()}
    assert per_device("ifstatsd_interface_renames", "counter") == {
        n: i["events"]["renames"] for n, i in interfaces.items()}

    # The usage totals equal /usage's: today, the month and the cycle by direction, the
    # projection, and the quota where there is one.
    def by_direction(family_name):
        family = families[family_name]
        assert family.type == "gauge", (family_name, family.type)
        return {(s.labels["device"], s.labels["direction"]): s.value for s in family.samples}

    today, month, cycle = (by_direction(f"ifstatsd_usage_{p}_bytes") for p in ("today", "month", "cycle"))
    quotas = per_device("ifstatsd_quota_bytes", "gauge")
    projected = per_device("ifstatsd_usage_cycle_projected_bytes", "gauge")
    counted = 0
    for name, usage in usages.items():
        assert usage["updated_at"] == listing["updated_at"], (usage["updated_at"], listing["updated_at"])
        day = usage["days"][0]
        assert day["date"] == usage["today"], usage
        for direction, field in [("receive", "rx_bytes"), ("transmit", "tx_bytes")]:
            assert today[(name, direction)] == day[field], (name, direction)
            assert month[(name, direction)] == usage["months"][0][field], (name, direction)
            assert cycle[(name, direction)] == usage["cycle"][field], (name, direction)
            counted += today[(name, direction)]
        assert projected[name] == usage["cycle"]["projected_bytes"], name
        if usage["cycle"]["quota_bytes"] is None:
            assert name not in quotas, name
        else:
            assert quotas[name] == usage["cycle"]["quota_bytes"], name
    assert counted > 0, "no traffic counted today"
    assert quotas == {"eth0": 1_000_000_000}, quotas
    checked += 7 * len(usages)

    health = json.loads(get("/health")[1])
    for family_name, kind in [("ifstatsd_up", "gauge"), ("ifstatsd_samples", "counter"),
                              ("ifstatsd_collection_errors", "counter"),
                              ("ifstatsd_parse_errors", "counter"),
                              ("ifstatsd_interfaces_refused", "counter"),
                              ("ifstatsd_restarts", "counter"),
                              ("ifstatsd_last_restart_timestamp_seconds", "gauge"),
                              ("ifstatsd_last_sample_age_seconds", "gauge"),
                              ("ifstatsd_sample_interval_seconds", "gauge"),
                              ("ifstatsd_build_info", "gauge")]:
        assert families[family_name].type == kind, (family_name, families[family_name].type)
    assert families["ifstatsd_up"].samples[0].value == (1.0 if health["status"] == "ok" else 0.0)
    assert families["ifstatsd_sample_interval_seconds"].samples[0].value == health["sample_interval_seconds"]
    assert families["ifstatsd_build_info"].samples[0].labels == {"version": health["version"]}
    assert families["ifstatsd_samples"].samples[0].value <= health["samples_total"]
    assert families["ifstatsd_restarts"].samples[0].value == health["restarts_total"]
    # Absent before the first restart, like the JSON's null.
    assert (families["ifstatsd_last_restart_timestamp_seconds"].samples == []) == (
        health["last_restart_at"] is None)
    print(f"prometheus_check: OK: {len(families)} metric families, {checked} values equal the JSON API's")


main()
