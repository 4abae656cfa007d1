#!/usr/bin/env python3
"""hostile.py: runs a file of the hostile input corpus (tests/regress/hostile/)
through the in-tree FastCGI client against a running restfcgi, and checks
every answer; also counts entries and snapshots the sqlite store.

  hostile.py run FILE SOCKET   one line per failed entry, a summary line;
                               exit 1 when an entry failed
  hostile.py count FILE...     entries per file and the total
  hostile.py snapshot DIR      a dump of every sqlite file under DIR

Entry format (see tests/regress/hostile/README.md):
  ## what the entry attacks (and why this status, when debatable)
  METHOD URI
  header Name: value        (any number)
  as USER | as nobody       (credentials; default: the admin)
  from ADDR                 (REMOTE_ADDR; default: one address per entry)
  body TEXT                 (the request body; default: none)
  client ARGS...            (more fcgi_client arguments)
  sleep SECONDS             (before the request)
  expect STATUS [JSON]      (exact status; with JSON, the body must equal it)

In METHOD, URI, header values and bodies: \\xNN is that byte,
<<rep N:TEXT>> is TEXT N times (N may be "A+B-C" of numbers and ${VARS}),
<<b64:TEXT>> is TEXT (after \\xNN) in base64,
${NAME} is the environment variable NAME.
"""
import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib

KEYWORDS = ("header", "as", "from", "body", "client", "sleep", "expect")


def parse(path):
    """The entries of a file: dicts with line, what, method, uri, directives."""
    entries, cur = [], None
    with open(path, encoding="utf-8") as f:
        for no, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("## "):
                cur = {"file": os.path.basename(path), "line": no, "what": line[3:].strip(),
                       "headers": [], "client": [], "as": "admin"}
                entries.append(cur)
                continue
            if not line.strip() or line.startswith("#"):
                continue
            if cur is None:
                raise SystemExit(f"{path}:{no}: a request before its '## what' line")
            if "method" not in cur:
                # METHOD URI, split at the first space outside a <<rep>>.
                cut = next((i for i, ch in enumerate(line) if ch == " " and
                            line[:i].count("<<") == line[:i].count(">>")), len(line))
                cur["method"], cur["uri"] = line[:cut], line[cut + 1:]
                continue
            word, _, rest = line.partition(" ")
            if word not in KEYWORDS:
                raise SystemExit(f"{path}:{no}: unknown directive {word!r}")
            if word == "header":
                cur["headers"].append(rest)
            elif word == "client":
                cur["client"] += rest.split()
            elif word == "expect":
                status, _, want = rest.partition(" ")
                cur["status"] = int(status)
                if want.strip():
                    cur["want"] = want
            else:
                cur[word] = rest
    for e in entries:
        if "method" not in e or "status" not in e:
            raise SystemExit(f"{path}:{e['line']}: an entry needs a request line and expect")
    return entries


def expand_vars(text):
    def var(m):
        if m.group(1) not in os.environ:
            raise SystemExit(f"${{{m.group(1)}}} is not set")
        return os.environ[m.group(1)]
    return re.sub(r"\$\{([A-Z0-9_]+)\}", var, text)


def number(expr):
    total = 0
    for sign, n in re.findall(r"([+-]?)\s*(\d+)", expr.replace(" ", "")):
        total += -int(n) if sign == "-" else int(n)
    return total


def unescape(raw):
    return re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)


def expand(text):
    """The bytes a field stands for: variables, <<rep>>, <<b64>>, then \\xNN."""
    text = expand_vars(text)
    text = re.sub(r"<<rep ([^:]+):(.*?)>>", lambda m: m.group(2) * number(m.group(1)), text,
                  flags=re.S)
    text = re.sub(r"<<b64:(.*?)>>",
                  lambda m: base64.b64encode(unescape(m.group(1).encode())).decode(), text,
                  flags=re.S)
    return unescape(text.encode("utf-8"))


def credentials(user):
    """The Authorization header for a user named in $HOSTILE_USERS (id:pw ...)."""
    if user == "nobody":
        return None
    for pair in os.environ.get("HOSTILE_USERS", "").split():
        uid, _, pw = pair.partition(":")
        if uid == user:
            return b"Authorization: Basic " + base64.b64encode(f"{uid}:{pw}".encode())
    raise SystemExit(f"unknown user {user} (HOSTILE_USERS)")


def split_response(out):
    head, sep, body = out.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = out.partition(b"\n\n")
    headers = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    status = int(headers.get("status", "200").split()[0]) if out else 0
    return status, headers, body


def check(e, rc, out, secret):
    """The reasons an answer is wrong (empty when right)."""
    if rc == 3:
        return ["no answer within the client's timeout (a hang)"]
    if rc == 4:
        return ["cannot connect (the server is gone?)"]
    if rc != 0:
        return [f"fcgi_client exit {rc} (connection closed early: a crash?)"]
    status, headers, body = split_response(out)
    problems = []
    if status >= 500:
        problems.append(f"5xx: {status}")
    if status != e["status"]:
        problems.append(f"status {status}, expected {e['status']}")
    head_only = e["method"] in ("HEAD", "OPTIONS") or status in (204, 304) or \
        (200 <= status < 300 and not body and "want" not in e)
    if not head_only:
        try:
            doc = json.loads(body)
        except ValueError:
            problems.append("the body is not JSON")
            doc = None
        if doc is not None and status >= 400:
            if not (isinstance(doc, dict) and doc.get("http status code") == status and
                    isinstance(doc.get("http status description"), str) and
                    isinstance(doc.get("message"), str)):
                problems.append("the body is not the documented JSON error")
        want = json.loads(expand_vars(e["want"])) if "want" in e else None
        if "want" in e and doc != want:
            problems.append(f"body {json.dumps(doc)[:200]}, expected {json.dumps(want)}")
        if not headers.get("content-type", "").startswith("application/json"):
            problems.append(f"Content-Type {headers.get('content-type')!r}")
    if status == 401 and "www-authenticate" not in headers and "noauthchallenge" not in e["uri"] \
            and not any(h.lower().startswith("no-auth-challenge") for h in e["headers"]):
        problems.append("401 without WWW-Authenticate")
    if secret and len(secret) >= 8 and secret in body:
        problems.append("the credential sent comes back in the body")
    if problems:
        problems.append(f"answer: {out[:300]!r}")
    return problems


def run(path, sock):
    entries = parse(path)
    fcgi = os.environ["FCGI_CLIENT"]
    timeout = os.environ.get("HOSTILE_TIMEOUT", "20")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, e in enumerate(entries):
            if "sleep" in e:
                time.sleep(float(e["sleep"]))
            args = [fcgi, "-s", sock, "-t", timeout, "-m", expand(e["method"]), "-u",
                    expand(e["uri"])]
            addr = e.get("from") or f"10.{zlib.crc32(e['file'].encode()) % 200}.{i // 250}.{i % 250 + 1}"
            args += ["-p", b"REMOTE_ADDR=" + expand(addr)]
            auth = credentials(e["as"])
            secret = None
            for h in e["headers"]:
                hv = expand(h)
                if hv.lower().startswith(b"authorization:"):
                    auth = None  # the entry brings its own
                    secret = hv.split(b" ")[-1]
                args += ["-H", hv]
            if auth:
                args += ["-H", auth]
            if "body" in e:
                bf = os.path.join(tmp, "body")
                with open(bf, "wb") as f:
                    f.write(expand(e["body"]))
                args += ["--body-file", bf]
            args += [expand(a) for a in e["client"]]
            started = time.monotonic()
            p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if os.environ.get("HOSTILE_TIMES"):
                print(f"{time.monotonic() - started:7.3f} s  {e['file']}:{e['line']}", flush=True)
            problems = check(e, p.returncode, p.stdout, secret)
            if problems:
                failed += 1
                print(f"FAIL {e['file']}:{e['line']}: {e['what']}: {e['method']} "
                      f"{e['uri'][:120]}\n    " + "\n    ".join(problems), flush=True)
    print(f"{os.path.basename(path)}: {len(entries)} entries, {len(entries) - failed} passed, "
          f"{failed} failed")
    return 1 if failed else 0


def snapshot(root):
    """Every sqlite file's rows, in a stable order (WAL content included)."""
    lines = []
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            if name.endswith(("-wal", "-shm", "-journal")):
                continue
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                if f.read(16) != b"SQLite format 3\x00":
                    lines.append(f"file {os.path.relpath(path, root)}")
                    continue
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            lines.append(f"database {os.path.relpath(path, root)}")
            lines += list(db.iterdump())
            db.close()
    return "\n".join(lines)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "run":
        return run(sys.argv[2], sys.argv[3])
    if len(sys.argv) >= 3 and sys.argv[1] == "count":
        total = 0
        for path in sys.argv[2:]:
            n = len(parse(path))
            total += n
            print(f"{os.path.basename(path)}: {n}")
        print(f"total: {total}")
        return 0
    if len(sys.argv) == 3 and sys.argv[1] == "snapshot":
        print(snapshot(sys.argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
