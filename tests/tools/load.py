#!/usr/bin/env python3
"""A steady HTTP load for the cluster tests: N threads, each on its own
keep-alive connection, GET URL for SECONDS; every request is logged as
"<unix time when it ended> <status>" (status 0: no HTTP answer: refused,
reset or timed out) to OUT. Prints "total ok failed" at the end.

usage: load.py URL SECONDS THREADS OUT [HEADER: value]...
"""
import http.client
import sys
import threading
import time
import urllib.parse


def worker(url, headers, deadline, out, lock):
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    conn = None
    while time.monotonic() < deadline:
        try:
            if conn is None:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            status = 0
            if conn is not None:
                conn.close()
            conn = None
        with lock:
            out.append((time.time(), status))
    if conn is not None:
        conn.close()


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    url, seconds, threads, out_path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    headers = dict(h.split(": ", 1) for h in sys.argv[5:])
    deadline = time.monotonic() + seconds
    out, lock = [], threading.Lock()
    pool = [threading.Thread(target=worker, args=(url, headers, deadline, out, lock))
            for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.sort()
    with open(out_path, "w") as f:
        for t, status in out:
            f.write(f"{t:.3f} {status}\n")
    ok = sum(1 for _, s in out if 200 <= s < 300)
    print(len(out), ok, len(out) - ok)


if __name__ == "__main__":
    main()
