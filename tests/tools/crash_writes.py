#!/usr/bin/env python3
"""Writes for the crash-consistency tests (tests/reliability/crash.sh):
concurrent POST/PUT/PATCH through a front server, every answer recorded,
then a check of what the store holds against what was acknowledged.

  crash_writes.py load URL COLL STOP_FILE JOURNAL THREADS SEED
      writes to URL/COLL until STOP_FILE exists, from THREADS threads, each
      on documents of its own; writes JOURNAL (JSON) and prints the figures.
  crash_writes.py verify URL COLL JOURNAL
      reads every document of COLL and checks it against JOURNAL.

Authorization comes from $CRASH_AUTH (a whole header value).

Each document is a chain: every PUT or PATCH carries If-Match with the ETag
of the document's confirmed state (the last acknowledged write, or a state a
read saw), so at most one write sent from a state can apply to it, and a
write applies only to the state it was sent from. A write answered 201/200
with an ETag is acknowledged: it becomes the confirmed state. A write with no
answer, or a 5xx (the front's 502 when a worker died), is unknown: it may or
may not have applied. The document must then hold either its confirmed state
(same ETag, same content) or one of the unknown writes sent from it (its
content, another ETag), nothing else. Every write's content is unique (the
thread and a sequence number), so a content names the write that made it.
An absent document (never acknowledged) may hold one of its unknown POSTs
or nothing. A read that sees an unknown write confirms it: the other unknown
writes carried the older ETag and can never apply. A read that sees anything
else, a 412 with no unknown write outstanding, or a 404 for a document that
exists, is an error: an acknowledged write was lost or changed.
"""
import base64
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

TIMEOUT = 30          # s per request: longer than any front's own timeouts
DOCS_PER_THREAD = 40  # documents a thread creates at most
PAUSE_AFTER_UNKNOWN = 0.05


class Doc:
    def __init__(self, doc_id):
        self.id = doc_id
        self.etag = None      # confirmed state: None = absent
        self.content = None
        self.pending = []     # contents of unknown writes sent from the confirmed state
        self.sync = False     # a read must settle it before the next write
        self.broken = False   # an error was seen: no more writes to it

    def journal(self):
        return {"id": self.id, "etag": self.etag, "content": self.content, "pending": self.pending}


class Client:
    """One keep-alive connection; status 0 when no HTTP answer came."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.base = u.hostname, u.port, u.path.rstrip("/")
        self.conn = None
        self.auth = os.environ.get("CRASH_AUTH", "")

    def request(self, method, path, body=None, headers=None):
        h = {"Authorization": self.auth}
        if body is not None:
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=TIMEOUT)
            self.conn.request(method, self.base + path, body=body, headers=h)
            resp = self.conn.getresponse()
            data = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            return resp.status, resp.getheader("ETag"), data
        except (OSError, http.client.HTTPException):
            self.close()
            return 0, None, b""

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def content_of(doc):
    """A stored document without _id and _etag: what a write wrote."""
    return {k: v for k, v in doc.items() if k not in ("_id", "_etag")}


def etag_of(doc):
    e = doc.get("_etag")
    return e.get("$oid") if isinstance(e, dict) else e


class Writer(threading.Thread):
    def __init__(self, n, url, coll, stop_file, seed, stats, lock):
        super().__init__()
        self.n, self.coll, self.stop_file = n, coll, stop_file
        self.rng = random.Random(seed * 1000 + n)
        self.client = Client(url)
        self.docs = []
        self.seq = 0
        self.stats, self.lock = stats, lock
        self.errors = []

    def count(self, key):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + 1

    def error(self, doc, what):
        doc.broken = True
        msg = f"{doc.id}: {what}"
        self.errors.append(msg)
        print("ERROR " + msg, file=sys.stderr, flush=True)

    def new_content(self, op):
        self.seq += 1
        # Sizes from a few bytes to several KiB: rows that span pages too.
        pad = self.rng.choice([4, 40, 400, 4000]) + self.rng.randrange(100)
        return {"t": self.n, "seq": self.seq, "op": op,
                "nested": {"a": [self.seq, "x" * (self.seq % 7)], "ok": True},
                "pad": "%x" % self.seq * (pad // len("%x" % self.seq))}

    def path(self, doc):
        return f"{self.coll}/{urllib.parse.quote(doc.id)}"

    def unknown(self, doc, content, status):
        doc.pending.append(content)
        doc.sync = True
        self.count("unknown")
        self.count(f"unknown_{status}")
        time.sleep(PAUSE_AFTER_UNKNOWN)

    def post(self, doc):
        content = self.new_content("post")
        status, etag, body = self.client.request("POST", self.coll, dict(content, _id=doc.id))
        if status == 201 and etag:
            doc.etag, doc.content, doc.pending = etag, content, []
            self.count("acked")
            self.count("acked_post")
        elif status == 409 and doc.pending:
            doc.sync = True  # an unknown POST made it
            self.count("conflict_after_unknown")
        elif status == 0 or status >= 500:
            self.unknown(doc, content, status)
        else:
            self.error(doc, f"POST answered {status} {body[:200]!r}")

    def update(self, doc):
        op = self.rng.choice(["put", "patch"])
        content = self.new_content(op)
        body = content if op == "put" else {"$set": content}
        status, etag, data = self.client.request(op.upper(), self.path(doc), body, {"If-Match": doc.etag})
        if status == 200 and etag:
            doc.etag, doc.content, doc.pending = etag, content, []
            self.count("acked")
            self.count("acked_" + op)
        elif status == 412 and doc.pending:
            doc.sync = True
            self.count("conflict_after_unknown")
        elif status == 0 or status >= 500:
            self.unknown(doc, content, status)
        else:
            self.error(doc, f"{op.upper()} If-Match {doc.etag} answered {status} "
                            f"(unknown writes outstanding: {len(doc.pending)}) {data[:200]!r}")

    def read(self, doc):
        """Settles a document after an unknown write or a conflict."""
        status, etag, data = self.client.request("GET", self.path(doc))
        if status == 0 or status >= 500:
            self.count("read_failed")
            time.sleep(PAUSE_AFTER_UNKNOWN)
            return
        self.count("reads")
        if status == 404:
            if doc.etag is not None:
                self.error(doc, f"read 404, acknowledged at ETag {doc.etag}")
            doc.sync = False  # absent: its creation is sent again
            return
        if status != 200:
            self.error(doc, f"read answered {status} {data[:200]!r}")
            return
        stored = json.loads(data)
        seen, content = etag_of(stored), content_of(stored)
        if seen != etag:
            self.error(doc, f"read: ETag header {etag} but _etag {seen}")
        if seen == doc.etag and content == doc.content:
            doc.sync = False
        elif content in doc.pending and seen != doc.etag:
            doc.etag, doc.content, doc.pending, doc.sync = seen, content, [], False
            self.count("unknown_seen_applied")
        else:
            self.error(doc, f"read {seen} {content!r:.200}: neither the confirmed {doc.etag} "
                            f"nor one of {len(doc.pending)} unknown writes")

    def run(self):
        while not os.path.exists(self.stop_file):
            usable = [d for d in self.docs if not d.broken]
            waiting = [d for d in usable if d.sync]
            absent = [d for d in usable if d.etag is None and not d.sync]
            present = [d for d in usable if d.etag is not None and not d.sync]
            if waiting:
                self.read(self.rng.choice(waiting))
            elif absent:
                self.post(self.rng.choice(absent))
            elif len(self.docs) < DOCS_PER_THREAD and (len(present) < 4 or self.rng.random() < 0.2):
                doc = Doc(f"t{self.n}-{len(self.docs)}")
                self.docs.append(doc)
                self.post(doc)
            elif present:
                self.update(self.rng.choice(present))
            else:
                time.sleep(0.1)  # every document of this thread failed
        self.client.close()


def load(url, coll, stop_file, journal, threads, seed):
    stats, lock = {}, threading.Lock()
    writers = [Writer(n, url, coll, stop_file, seed, stats, lock) for n in range(threads)]
    started = time.monotonic()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    docs = [d.journal() for w in writers for d in w.docs]
    errors = [e for w in writers for e in w.errors]
    with open(journal, "w") as f:
        json.dump({"docs": docs, "stats": stats, "errors": errors}, f)
    answers = ", ".join(f"{k[8:] if k != 'unknown_0' else 'no answer'}: {v}" for k, v in sorted(stats.items())
                        if k.startswith("unknown_") and k[8:].isdigit())
    print(f"load: {time.monotonic() - started:.1f} s, documents {len(docs)}, acknowledged "
          f"{stats.get('acked', 0)} (POST {stats.get('acked_post', 0)}, PUT {stats.get('acked_put', 0)}, "
          f"PATCH {stats.get('acked_patch', 0)}), unknown {stats.get('unknown', 0)} ({answers}; "
          f"seen applied later {stats.get('unknown_seen_applied', 0)}), reads {stats.get('reads', 0)}, "
          f"errors {len(errors)}")
    return 1 if errors else 0


def stored_docs(client, coll):
    """Every document of coll, by _id, through pages of 1000."""
    out, page = {}, 1
    while True:
        for attempt in range(50):
            status, _, data = client.request("GET", f"{coll}?pagesize=1000&page={page}")
            if status == 200:
                break
            time.sleep(0.2)
        else:
            sys.exit(f"verify: GET {coll} page {page} answered {status}: {data[:300]!r}")
        batch = json.loads(data)
        for d in batch:
            out[d["_id"]] = d
        if len(batch) < 1000:
            return out
        page += 1


def verify(url, coll, journal):
    with open(journal) as f:
        j = json.load(f)
    stored = stored_docs(Client(url), coll)
    errors, counts = list(j["errors"]), {"confirmed": 0, "unknown_applied": 0, "absent": 0}
    known = set()
    for d in j["docs"]:
        known.add(d["id"])
        s = stored.get(d["id"])
        if s is None:
            if d["etag"] is not None:
                errors.append(f"{d['id']}: missing, acknowledged at ETag {d['etag']}")
            else:
                counts["absent"] += 1
            continue
        seen, content = etag_of(s), content_of(s)
        if d["etag"] is not None and seen == d["etag"]:
            if content != d["content"]:
                errors.append(f"{d['id']}: ETag {seen} as acknowledged, but the content differs: "
                              f"{content!r:.200} instead of {d['content']!r:.200}")
            counts["confirmed"] += 1
        elif content in d["pending"] and seen != d["etag"]:
            counts["unknown_applied"] += 1
        else:
            errors.append(f"{d['id']}: holds {seen} {content!r:.200}: neither the last acknowledged "
                          f"write ({d['etag']}) nor one of {len(d['pending'])} unknown writes after it")
    for extra in sorted(set(stored) - known, key=str):
        errors.append(f"{extra}: stored, but never written")
    for e in errors[:20]:
        print("ERROR " + e, file=sys.stderr)
    print(f"verify: {len(stored)} stored documents; {counts['confirmed']} at their last acknowledged "
          f"write, {counts['unknown_applied']} at an unknown write after it, {counts['absent']} never "
          f"acknowledged and absent; errors {len(errors)}")
    return 1 if errors else 0


def main():
    if len(sys.argv) == 8 and sys.argv[1] == "load":
        url, coll, stop, journal, threads, seed = sys.argv[2:8]
        sys.exit(load(url, coll, stop, journal, int(threads), int(seed)))
    if len(sys.argv) == 5 and sys.argv[1] == "verify":
        sys.exit(verify(*sys.argv[2:5]))
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
