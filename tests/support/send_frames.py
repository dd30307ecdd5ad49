#!/usr/bin/env python3
"""Sends raw Ethernet frames of a known size out of one interface, paced in bursts.

Usage: send_frames.py IFACE DST_MAC COUNT FRAME_BYTES BURSTS GAP_MS

The frames carry the local experimental EtherType 0x88B5, so the receiving kernel counts them
(rx_packets, rx_bytes) and then drops them for want of a protocol handler (rx_dropped): every byte
and every drop is known in advance. Prints the number of frames the kernel accepted.
"""
import socket
import sys
import time

iface, dst, count, size, bursts, gap_ms = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
with open(f"/sys/class/net/{iface}/address") as f:
    src = f.read().strip()
header = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", "")) + b"\x88\xb5"
frame = header + bytes(size - len(header))

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((iface, 0))
sent = 0
per_burst = count // bursts
for burst in range(bursts):
    n = per_burst if burst < bursts - 1 else count - per_burst * (bursts - 1)
    for _ in range(n):
        sent += sock.send(frame) == size
    if burst < bursts - 1:
        time.sleep(gap_ms / 1000)
print(sent)
