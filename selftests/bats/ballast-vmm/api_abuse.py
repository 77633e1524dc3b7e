#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Abuse a running ballast-vmm's --api-socket, one case per call.

    api_abuse.py SOCKET CASE

CASE is one of: malformed, truncated, oversized, crowd, silent. Each prints
what it saw, one line per client, and exits 0 only if every client got what
the socket promises: an error reply (a JSON object with "ok": false and an
"error" string) or, where noted, a closed connection. The VMM must be alive
and serving afterwards; the caller checks the guest, the balloon and the
descriptors.
"""
import json
import socket
import sys
import time

TIMEOUT_S = 10

# Requests that are not valid, one per connection: each must be refused.
MALFORMED = [
    b"not json",
    b"[]",
    b"{}",
    b'"query"',
    b'{"cmd":"query"',
    b'{"cmd":"query"} x',
    b'{"cmd":"nope"}',
    b'{"cmd":42}',
    b'{"cmd":"query","cmd":"query"}',
    b'{"cmd":"balloon"}',
    b'{"cmd":"balloon","size_mib":-1}',
    b'{"cmd":"balloon","size_mib":1e300}',
    b'{"cmd":"balloon","size_mib":"64"}',
    b'{"cmd":"balloon","size_mib":18446744073709551616}',
    b'{"cmd":"balloon","size_mib":999999999}',
    b'{"cmd":"balloon","size_mib":1,"target_mib":1}',
    b'{"cmd":"hint","action":"sideways"}',
    b'{"cmd":"\xff\xfe"}',
    b'{"cmd":"query","x":"\xc3\x28"}',
    b"\x00\x01\x02\x03",
    b"\xef\xbb\xbf{\"cmd\":\"query\"}",
]


def connect(path):
    """Connect as ballast-vmm ctl does: a full listen backlog makes a
    non-blocking Unix connect fail with EAGAIN, so try again until the
    deadline."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT_S)
        try:
            s.connect(path)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def read_line(s):
    """One reply line, or None if the connection closed first."""
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            chunk = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            return None
        if not chunk:
            return None
        buf += chunk
    return buf


def refused(reply):
    """The reply is one JSON object saying ok:false with an error string."""
    try:
        obj = json.loads(reply)
    except (TypeError, ValueError):
        return False
    return isinstance(obj, dict) and obj.get("ok") is False and isinstance(obj.get("error"), str)


def report(ok, what, reply):
    shown = reply.decode(errors="replace").strip() if reply else "(closed)"
    print(f"{'ok' if ok else 'BAD'}: {what}: {shown[:120]}")
    return ok


def case_malformed(path):
    good = True
    for req in MALFORMED:
        with connect(path) as s:
            s.sendall(req + b"\n")
            reply = read_line(s)
        good &= report(refused(reply), repr(req)[:60], reply)
    return good


def case_truncated(path):
    good = True
    # A request cut short by the client closing its side: refused at EOF.
    with connect(path) as s:
        s.sendall(b'{"cmd":"bal')
        s.shutdown(socket.SHUT_WR)
        reply = read_line(s)
    good &= report(refused(reply), "half a request, then EOF", reply)
    # A client that goes away mid-request, never reading: nothing to check
    # but that the next client is served.
    for _ in range(8):
        s = connect(path)
        s.sendall(b'{"cmd":"balloon","si')
        s.close()
    with connect(path) as s:
        s.sendall(b'{"cmd":"query"}\n')
        reply = read_line(s)
    good &= report(reply is not None and not refused(reply), "query after 8 hang-ups", reply)
    return good


def case_oversized(path):
    # 1 MiB without a newline: told once that the line is too long, and the
    # rest is swallowed (or the connection dropped), never buffered whole.
    with connect(path) as s:
        try:
            s.sendall(b"a" * (1 << 20))
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = read_line(s)
    return report(reply is None or refused(reply), "1 MiB without a newline", reply)


def case_crowd(path, n=64):
    # 64 clients connect before any asks: those beyond the server's limit
    # are told so; every one gets a reply and at least one is served.
    socks = [connect(path) for _ in range(n)]
    served = told = 0
    for s in socks:
        try:
            s.sendall(b'{"cmd":"query"}\n')
        except (BrokenPipeError, ConnectionResetError):
            pass
    for s in socks:
        reply = read_line(s)
        if reply and not refused(reply):
            served += 1
        elif refused(reply):
            told += 1
        s.close()
    print(f"{n} clients at once: {served} served, {told} told there are too many, "
          f"{n - served - told} without a reply")
    return served > 0 and served + told == n


def case_silent(path, n=16, idle_s=6):
    # n clients connect and never write; once they have been silent longer
    # than the server's idle limit, a new client is served all the same.
    quiet = [connect(path) for _ in range(n)]
    time.sleep(idle_s)
    with connect(path) as s:
        s.sendall(b'{"cmd":"query"}\n')
        reply = read_line(s)
    for q in quiet:
        q.close()
    return report(reply is not None and not refused(reply),
                  f"a new client after {n} silent ones held {idle_s} s", reply)


def main():
    cases = {"malformed": case_malformed, "truncated": case_truncated,
             "oversized": case_oversized, "crowd": case_crowd, "silent": case_silent}
    if len(sys.argv) != 3 or sys.argv[2] not in cases:
        print(f"usage: {sys.argv[0]} SOCKET {'|'.join(cases)}", file=sys.stderr)
        return 2
    try:
        return 0 if cases[sys.argv[2]](sys.argv[1]) else 1
    except OSError as e:
        print(f"{sys.argv[2]}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
