#!/usr/bin/env python3
"""Secrets hygiene across the whole test suite.

  suite_logs.py collect CASE_DIR DEST   (tests/lib.sh, when a case ends)
  suite_logs.py check SUITE_LOGS        (the ctest secrets.logs_hold_no_secrets)

collect copies the case's logs (*.log, *.err: what restfcgi, the front
servers and jongodb wrote) to DEST and writes DEST/secrets: every password,
token and key the case used, from what tests/lib.sh noted ($T/.secrets: the
admin password, Basic credentials, Bearer tokens, "password" fields of
bodies), the token managers' secrets and private keys in the case's files,
and the Auth-Token headers and JWTs in the responses it kept.

check fails, naming the log and the kind of secret (never the secret
itself), when any secret of any case appears in any log of the suite.
"""
import os
import re
import shutil
import sys

MIN_LEN = 8          # shorter "secrets" ("wrong", "pw") would match ordinary words
MAX_FILE = 4 << 20   # case files read for secrets; logs are copied whole
LOG_SUFFIXES = (".log", ".err")
# The one secret restfcgi prints on purpose (README, "Authentication"): the
# random admin password it made at the first start, when none was given.
BOOTSTRAP_LINE = re.compile(rb"(?m)^restfcgi: created user '[^'\n]*' with role '[^'\n]*' and password [0-9a-f]+ .*$")

JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
AUTH_TOKEN = re.compile(rb"(?im)^Auth-Token: *([^\r\n]+)")
CONF_SECRET = re.compile(rb"(?i)\b(?:secret|password)\s*=\s*\"([^\"]+)\"")
PEM_PRIVATE = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----(.*?)-----END", re.S)


def case_files(case_dir):
    for root, dirs, files in os.walk(case_dir):
        # Store files (sqlite databases, WAL) hold hashes, not what we want.
        dirs[:] = [d for d in dirs if d not in ("data", "node_modules")]
        for name in files:
            yield os.path.join(root, name)


def read_small(path):
    try:
        if os.path.islink(path) or not os.path.isfile(path) or os.path.getsize(path) > MAX_FILE:
            return b""
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def secrets_of(case_dir):
    found = {}

    def add(kind, value):
        value = value.strip()
        if len(value) >= MIN_LEN:
            found.setdefault(value, kind)

    for line in read_small(os.path.join(case_dir, ".secrets")).splitlines():
        kind, _, value = line.partition(b"\t")
        add(kind.decode(errors="replace"), value)
    admin = os.environ.get("RESTFCGI_ADMIN_PASSWORD", "").encode()
    if admin:
        add("admin password", admin)
    for path in case_files(case_dir):
        name = os.path.basename(path)
        if name.endswith(LOG_SUFFIXES) or name == ".secrets":
            continue
        data = read_small(path)
        if not data:
            continue
        if name.endswith((".secret", "admin-password")):
            add("secret file " + name, data)
        for m in PEM_PRIVATE.finditer(data):
            # Each line of the key's base64 body is itself key material.
            for line in m.group(1).split():
                add("private key " + name, line)
        for m in CONF_SECRET.finditer(data):
            add("configured secret in " + name, m.group(1))
        for m in AUTH_TOKEN.finditer(data):
            add("issued token", m.group(1))
        for m in JWT.finditer(data):
            add("JWT", m.group(0))
    return found


def collect(case_dir, dest):
    os.makedirs(dest, exist_ok=True)
    for path in case_files(case_dir):
        if path.endswith(LOG_SUFFIXES) and os.path.isfile(path) and not os.path.islink(path):
            rel = os.path.relpath(path, case_dir).replace(os.sep, "__")
            shutil.copyfile(path, os.path.join(dest, rel))
    with open(os.path.join(dest, "secrets"), "wb") as f:
        for value, kind in secrets_of(case_dir).items():
            f.write(kind.encode() + b"\t" + value + b"\n")


def check(suite_dir):
    secrets = {}
    logs = []
    for case in sorted(os.listdir(suite_dir)):
        d = os.path.join(suite_dir, case)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            path = os.path.join(d, name)
            if name == "secrets":
                for line in read_small(path).splitlines():
                    kind, _, value = line.partition(b"\t")
                    if len(value) >= MIN_LEN:
                        secrets.setdefault(value, (kind.decode(errors="replace"), case))
            else:
                logs.append((case, name, path))
    if not secrets:
        # ctest runs this after the cases that need it; none ran, or none
        # used a secret: nothing to check (77: skipped).
        print("no secrets collected: no script case ran with RESTFCGI_SUITE_LOGS set")
        return 77
    # One alternation of every secret, longest first, so one pass per log.
    pattern = re.compile(b"|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)))
    hits = 0
    size = 0
    for case, name, path in logs:
        with open(path, "rb") as f:
            data = f.read()
        size += len(data)
        data = BOOTSTRAP_LINE.sub(lambda m: b"-" * len(m.group(0)), data)
        for m in pattern.finditer(data):
            kind, owner = secrets[m.group(0)]
            line = data.count(b"\n", 0, m.start()) + 1
            print(f"SECRET IN LOG: {case}/{name} line {line}: a {kind} (used by {owner})")
            hits += 1
    print(f"{len(secrets)} secrets from {len({c for _, c in secrets.values()})} cases "
          f"checked against {len(logs)} logs ({size} bytes): {hits} hits")
    return 1 if hits else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "collect":
        collect(argv[2], argv[3])
        return 0
    if len(argv) == 3 and argv[1] == "check":
        return check(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
