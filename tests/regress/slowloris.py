#!/usr/bin/env python3
"""slowloris.py URL AUTH_HEADER SECONDS SLOW_CLIENTS: slow-loris clients
against a front server while normal clients use it.

Half the slow clients send their request headers one byte at a time, half
send whole headers and then a declared 64 KiB body one byte at a time; each
sends a byte every 0.4 s and never finishes. Meanwhile two normal clients
send GET /ping and an authenticated GET, one after the other, on new
connections. After SECONDS the slow clients that are still connected are
closed. Prints the figures; exit 1 when a normal request failed, got a 5xx
or took longer than 3 s, or a slow client got an answer from restfcgi (a
JSON error body: the front passed an unfinished request on)."""
import http.client
import socket
import sys
import threading
import time
import urllib.parse

url, auth, seconds, nslow = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
u = urllib.parse.urlsplit(url)
host, port, base = u.hostname, u.port, u.path.rstrip("/")
name, _, value = auth.partition(": ")
stop = time.monotonic() + seconds
results, slow_state = [], {"dropped": 0, "answered_by_app": 0, "front_answers": []}
lock = threading.Lock()


def slow_client(i):
    s = socket.create_connection((host, port), timeout=5)
    if i % 2 == 0:
        data = f"GET {base}/hostile/docs HTTP/1.1\r\nHost: x\r\n{name}: {value}\r\nX-Slow: ".encode()
        data += b"a" * 100000
    else:
        head = (f"POST {base}/hostile/docs HTTP/1.1\r\nHost: x\r\n{name}: {value}\r\n"
                "Content-Type: application/json\r\nContent-Length: 65536\r\n\r\n").encode()
        s.sendall(head)
        data = b'{"_id":"slow","a":"' + b"x" * 65000
    dropped = False
    for b in data:
        if time.monotonic() > stop:
            break
        try:
            s.sendall(bytes([b]))
        except OSError:
            dropped = True
            break
        time.sleep(0.4)
    # Whatever the front answered (a 408, or a close), never restfcgi's JSON.
    s.settimeout(0.2)
    try:
        answer = s.recv(4096)
    except OSError:
        answer = b""
    s.close()
    with lock:
        slow_state["dropped"] += dropped
        if answer:
            slow_state["front_answers"].append(answer.split(b"\r\n", 1)[0].decode("latin-1"))
            if b'"http status code"' in answer:
                slow_state["answered_by_app"] += 1


def normal_client():
    n = 0
    while time.monotonic() < stop:
        path = f"{base}/ping" if n % 2 == 0 else f"{base}/roles/admin"
        headers = {} if n % 2 == 0 else {name: value}
        started = time.monotonic()
        try:
            c = http.client.HTTPConnection(host, port, timeout=10)
            c.request("GET", path, headers=headers)
            r = c.getresponse()
            r.read()
            status = r.status
            c.close()
        except OSError as e:
            status = f"error {e}"
        with lock:
            results.append((status, time.monotonic() - started))
        n += 1
        time.sleep(0.05)


slow = [threading.Thread(target=slow_client, args=(i,)) for i in range(nslow)]
for t in slow:
    t.start()
    time.sleep(0.02)
normal = [threading.Thread(target=normal_client) for _ in range(2)]
for t in normal:
    t.start()
for t in normal + slow:
    t.join()

bad = [r for r in results if r[0] != 200 or r[1] > 3.0]
times = sorted(r[1] for r in results)
print(f"normal requests: {len(results)}, not 200 or slower than 3 s: {len(bad)}, "
      f"median {times[len(times) // 2] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms")
print(f"slow clients: {nslow}, dropped by the front before the end: {slow_state['dropped']}, "
      f"front answers: {sorted(set(slow_state['front_answers']))}")
if bad:
    print(f"FAIL: {bad[:10]}")
if slow_state["answered_by_app"]:
    print(f"FAIL: {slow_state['answered_by_app']} unfinished requests reached restfcgi")
sys.exit(1 if bad or slow_state["answered_by_app"] or not results else 0)
