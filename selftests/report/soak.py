#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Whether the conformance verdict of one VMM holds still over repeated runs.

    soak.py --vmm NAME --out OUTDIR VERDICTS.json...

Each VERDICTS.json is mkreport.py's verdicts.json of one run of
selftests/conformance.sh (selftests/soak.sh makes them). OUTDIR gets
history.json (every run's verdicts, each test's outcome and each clause's
verdict run by run) and soak.md (each test's pass count, each clause whose
verdict changed between runs with its sequence); soak.md is printed too.
README.md beside this file gives the formats. Python 3 standard library
only.

Exit status: 0 when every test passed in every run (or was skipped in
every run) and no clause's verdict changed; 1 when one did not; 2 on bad
usage, with one error line.
"""
import argparse
import json
import os
import re
import sys

PROG = "soak.py"


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def natural(path):
    """run-2 before run-10: the shell's glob sorts them as text."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path)]


def load(path, vmm):
    try:
        with open(path, encoding="utf-8") as f:
            v = json.load(f)
    except OSError as e:
        raise UsageError("%s: unreadable: %s" % (path, e.strerror or e))
    except ValueError as e:
        raise UsageError("%s: not JSON: %s" % (path, e))
    if not isinstance(v, dict) or not isinstance(v.get("tests"), list) \
            or not isinstance(v.get("clauses"), dict):
        raise UsageError("%s: not a verdicts.json (no tests and clauses)" % path)
    if v.get("vmm") != vmm:
        raise UsageError("%s: the verdicts of vmm %s, not %s" % (path, v.get("vmm"), vmm))
    return v


def test_key(t):
    """A test in one cell (run label: the driver and kernel), the same name
    in every soak run."""
    return "%s: %s — %s" % (t.get("file", "?"), t.get("test", "?"), t.get("run", "?"))


def md(text):
    return str(text).replace("|", "\\|")


def soak(vmm, paths):
    runs = [load(p, vmm) for p in paths]
    n = len(runs)
    tests, clauses = {}, {}
    for k, v in enumerate(runs):
        for t in v["tests"]:
            tests.setdefault(test_key(t), [None] * n)[k] = t.get("outcome")
        for c, cv in v["clauses"].items():
            clauses.setdefault(c, [None] * n)[k] = cv.get("verdict") if isinstance(cv, dict) else None
    # A test skipped every time is steady; one absent from a run (None)
    # or with any other outcome there is not.
    short = {k: seq for k, seq in tests.items()
             if seq.count("pass") < n and seq != ["skip"] * n}
    flipped = {c: seq for c, seq in clauses.items() if len(set(seq)) > 1}
    history = {"vmm": vmm, "runs": [{"path": p, "verdicts": v} for p, v in zip(paths, runs)],
               "tests": tests, "clauses": clauses}
    return history, short, flipped


def render(vmm, n, history, short, flipped):
    out = []
    w = out.append
    if short or flipped:
        head = "soak %s: NOT steady over %d run%s: %d test%s passed fewer than %d times, %d clause%s flipped" % (
            vmm, n, "" if n == 1 else "s", len(short), "" if len(short) == 1 else "s", n,
            len(flipped), "" if len(flipped) == 1 else "s")
        if flipped:
            head += " (%s)" % ", ".join(flipped)
    else:
        head = "soak %s: steady over %d run%s" % (vmm, n, "" if n == 1 else "s")
    w("# Soak: %s" % vmm)
    w("")
    w(head + ".")
    w("")
    w("## Tests")
    w("")
    w("| test | passed | outcome per run |")
    w("|---|---|---|")
    for key, seq in sorted(history["tests"].items(), key=lambda kv: (kv[0] not in short, kv[0])):
        w("| %s | %d of %d%s | %s |" % (md(key), seq.count("pass"), n,
                                       " (skipped every run)" if seq == ["skip"] * n else "",
                                       ", ".join(o or "absent" for o in seq)))
    w("")
    w("## Clauses whose verdict changed")
    w("")
    if flipped:
        w("| clause | verdict per run |")
        w("|---|---|")
        for c, seq in flipped.items():
            w("| %s | %s |" % (md(c), " → ".join(v or "absent" for v in seq)))
    else:
        w("None: every clause had the same verdict in every run.")
    return "\n".join(out) + "\n"


def main(argv):
    ap = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmm", required=True, help="the VMM's name, as in VMM=")
    ap.add_argument("--out", required=True, help="where history.json and soak.md go")
    ap.add_argument("verdicts", nargs="*", metavar="VERDICTS.json")
    args = ap.parse_args(argv)
    if not args.verdicts:
        raise UsageError("no VERDICTS.json given")
    paths = sorted(args.verdicts, key=natural)
    history, short, flipped = soak(args.vmm, paths)
    text = render(args.vmm, len(paths), history, short, flipped)
    os.makedirs(args.out, exist_ok=True)
    for name, data in (("history.json", json.dumps(history, indent=1, ensure_ascii=False) + "\n"),
                       ("soak.md", text)):
        tmp = os.path.join(args.out, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, os.path.join(args.out, name))
    sys.stdout.write(text)
    return 1 if short or flipped else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        sys.exit(2)
