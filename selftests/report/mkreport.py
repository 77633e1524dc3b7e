#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The conformance verdict for one VMM, from the bats runs of the suite.

    mkreport.py --vmm NAME [--vmm-version TEXT] [--date WHEN] --out OUTDIR RUNDIR...

Each RUNDIR is one bats run (one VMM, one driver, one guest kernel): a
`meta` file, `junit/*.xml` from bats' junit report formatter, optionally
`checks.jsonl` (one record per assertion, from the suite's verdict helper)
and `traces/*.csv` (one per resize) with `traces/*.title`. OUTDIR gets
report.md, report.html, summary.txt, verdicts.json, plots/*.svg and junit/.
README.md beside this file gives the formats. Python 3 standard library
only; gnuplot (or $GNUPLOT) draws the plots when it is there.

Exit status: 0 when the report is written, whatever the tests did (the
runner decides its own exit); 2 on bad usage, with one error line.
"""
import argparse
import base64
import datetime
import html
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import clauses

PROG = "mkreport.py"

# A skip whose message says this is the VMM not offering what the test
# needs ("kvmtool does not offer free_page_reporting"); any other skip is
# a test that did not run for another reason.
NOT_OFFERED_RE = re.compile(r"\bdoes not (offer|take)\b", re.I)
# bats writes a failed teardown_file into the last test's <failure>.
TEARDOWN_RE = re.compile(r"^\(from function `teardown_file'", re.M)
# bats 1.8.2 names every test after a failed setup_file "begin N NAME".
BEGIN_RE = re.compile(r"^begin \d+ ")

PASS, FAIL, SKIP, ERROR = "pass", "FAIL", "skip", "error"
# A test's outcome over its tries.
OUTCOMES = ("pass", "deviates", "intermittent", "error", "skip")
# What one clause got in one test, besides those: failed in some tries and
# passed in others; named in the test but not asserted before it failed.
INTERMITTENT, NOT_REACHED = "intermittent", "not reached"


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- tags

CLAUSE_RE = re.compile(r"^([DR])-(\d+)$", re.I)
RANGE_RE = re.compile(r"^([DR])-(\d+)\s*(?:\.\.|–)\s*(?:([DR])-)?(\d+)$", re.I)
WORDS_RE = re.compile(r"^([DR]):\s*(.+)$")
SECTION_RE = re.compile(r"^§?(\d+(?:\.\d+)+)$")
TAGS_RE = re.compile(r"\[([^\[\]]*)\]\s*$")


def parse_tags(name):
    """Return (clauses, groups) for a test name.

    The tags are the last [...] of the name, comma separated: D-n and R-n
    (ranges R-17..R-22 or R-36..41 expand), "D: words" and "R: words" (a
    device or driver obligation named in words: "R: kernel log clean", no
    oops or lockup), a spec section such as 2.7.8; any other
    word is a group ("[batch]"). A name without tags is "untagged".
    """
    m = TAGS_RE.search(name)
    if not m:
        return [], ["untagged"]
    clauses, groups = [], []
    for raw in m.group(1).split(","):
        tag = " ".join(raw.split())
        if not tag:
            continue
        c = CLAUSE_RE.match(tag)
        r = RANGE_RE.match(tag)
        w = WORDS_RE.match(tag)
        s = SECTION_RE.match(tag)
        if c:
            clauses.append("%s-%d" % (c.group(1).upper(), int(c.group(2))))
        elif r and (r.group(3) is None or r.group(3).upper() == r.group(1).upper()):
            kind, lo, hi = r.group(1).upper(), int(r.group(2)), int(r.group(4))
            if lo > hi:
                lo, hi = hi, lo
            clauses.extend("%s-%d" % (kind, n) for n in range(lo, hi + 1))
        elif w:
            clauses.append("%s: %s" % (w.group(1).upper(), w.group(2)))
        elif s:
            clauses.append("§" + s.group(1))
        else:
            groups.append("[%s]" % tag)
    if not clauses and not groups:
        groups.append("untagged")
    seen = set()
    clauses = [c for c in clauses if not (c in seen or seen.add(c))]
    return clauses, groups


def row_key(row):
    """D-n, then "D: words", then R-n and "R: words", then § sections,
    then groups."""
    m = CLAUSE_RE.match(row)
    if m and m.group(1) == "D":
        return (0, int(m.group(2)), "")
    if row.startswith("D: "):
        return (1, 0, row)
    if m:
        return (2, int(m.group(2)), "")
    if row.startswith("R: "):
        return (2, 10 ** 6, row)
    if row.startswith("§"):
        return (3, 0, tuple(int(x) for x in row[1:].split(".")))
    if row == "untagged":
        return (5, 0, "")
    return (4, 0, row)


def is_clause(row):
    return row_key(row)[0] < 4


# ---------------------------------------------------------------- input

def parse_meta(path):
    """Shell-style key=value lines; blank lines and # comments ignored."""
    meta = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise UsageError("%s: unreadable meta: %s" % (path, e.strerror or e))
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, eq, value = line.partition("=")
        if not eq or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise UsageError("%s:%d: not a key=value line: %s" % (path, n, line))
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value]
        meta[key] = " ".join(words)
    return meta


class Test:
    def __init__(self, file, name, time, verdict, text):
        self.file = file          # the .bats file (the testsuite's name)
        self.name = name
        self.time = time          # seconds, float or None
        self.verdict = verdict    # PASS, FAIL, SKIP, ERROR
        self.text = text          # skip reason or failure output
        self.clauses, self.groups = parse_tags(name)
        self.not_offered = verdict == SKIP and bool(NOT_OFFERED_RE.search(text))
        self.traces = []
        self.records = []         # its lines of checks.jsonl, in order
        self.tries = []           # Try, from the records
        self.results = {}         # row -> Result
        self.outcome = None       # OUTCOMES, set by judge()
        self.f = self.n = 0       # tries that failed an assertion, of those that ran

    @property
    def rows(self):
        """The name's rows, then those only its assertions name."""
        rows = self.clauses + self.groups
        return rows + [r for r in self.results if r not in rows]

    @property
    def recorded(self):
        """Whether the test's assertions were recorded: then they give the
        verdicts, not the name's tags."""
        return any(r["kind"] in ("check", "harness", "end") for r in self.records)

    @property
    def key(self):
        return (bats_file(self.file), self.name)

    def reason(self):
        if self.verdict is None:
            return "not in the JUnit"
        if self.verdict == SKIP:
            return self.text or "no reason given"
        return first_lines(self.text)


# bats' call trace above a failed setup_file's or teardown_file's output,
# and the line that names the command that failed.
BATS_TRACE_RE = re.compile(r"^\s*\(?from function `|^\s*in test file ")
FAILED_CMD_RE = re.compile(r"^\s*(`.*') failed$")


def why_lines(text, n=3):
    """A failed setup_file's or teardown_file's cause, first: the command
    that failed, then the first n lines it printed (a panic, the VMM's
    last words), without bats' call trace, which would fill the lines a
    report has room for."""
    cmd, said = None, []
    for line in text.strip().splitlines():
        if BATS_TRACE_RE.match(line):
            continue
        m = FAILED_CMD_RE.match(line)
        if m and cmd is None and not said:
            cmd = m.group(1)
            continue
        said.append(line)
    body = first_lines("\n".join(said), n)
    return "%s failed: %s" % (cmd, body) if cmd else body


def first_lines(text, n=4, width=160):
    lines = [l.rstrip() for l in text.strip().splitlines()]
    out = [l if len(l) <= width else l[:width - 1] + "…" for l in lines[:n]]
    if len(lines) > n:
        out.append("…")
    return "\n".join(out)


def read_junit(path, tests, errors):
    """Append the testcases of one bats junit file to tests, and what is
    wrong with the run itself (setup_file, teardown_file, a broken file)
    to errors."""
    rel = path
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        hint = ""
        try:
            with open(path, "rb") as f:
                if b"</testsuites>" not in f.read():
                    hint = " (incomplete: bats 1.8.2 writes its JUnit from a background" \
                           " process, after bats itself exits; the runner must wait for it)"
        except OSError:
            pass
        errors.append("%s: not readable JUnit XML: %s%s" % (rel, e, hint))
        return
    suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
    garbled = False
    for suite in suites:
        sname = suite.get("name", "")
        for tc in suite.iter("testcase"):
            name = BEGIN_RE.sub("", tc.get("name", ""), count=1) if garbled else tc.get("name", "")
            file = tc.get("classname") or sname
            try:
                time = float(tc.get("time"))
            except (TypeError, ValueError):
                time = None
            failure = tc.find("failure")
            error = tc.find("error")
            skipped = tc.find("skipped")
            if not name:
                # bats 1.8.2: a failed setup_file is a nameless testcase,
                # the file's tests are not in the report at all, and the
                # tests of the files after it are named "begin N NAME".
                garbled = True
                what = failure if failure is not None else error
                text = node_text(what) if what is not None else ""
                errors.append("%s: setup_file failed, its tests did not run: %s"
                              % (file, why_lines(text)))
                continue
            if error is not None:
                tests.append(Test(file, name, time, ERROR, node_text(error)))
            elif failure is not None:
                text = node_text(failure)
                m = TEARDOWN_RE.search(text)
                if m:
                    errors.append("%s: teardown_file failed (after \"%s\"): %s"
                                  % (file, name, why_lines(text[m.start():])))
                    text = text[:m.start()].rstrip()
                if text:
                    tests.append(Test(file, name, time, FAIL, text))
                else:
                    tests.append(Test(file, name, time, PASS, ""))
            elif skipped is not None:
                text = (skipped.get("message") or node_text(skipped)).strip()
                tests.append(Test(file, name, time, SKIP, text))
            else:
                tests.append(Test(file, name, time, PASS, ""))


def node_text(node):
    text = node.get("message", "") if node is not None else ""
    body = "".join(node.itertext()) if node is not None else ""
    if text and body and text not in body:
        return text + "\n" + body
    return body or text


def bats_file(name):
    """A test's file as JUnit's classname and the records both name it."""
    name = os.path.basename(name or "")
    return name[:-5] if name.endswith(".bats") else name


RECORD_KINDS = ("check", "harness", "end", "retry", "note")


def read_checks(path, errors):
    """The records of checks.jsonl (README.md), in order; a line that is
    not one is an error of the run, the others still count."""
    records = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        errors.append("%s: unreadable: %s" % (path, e.strerror or e))
        return records
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            if not isinstance(r, dict) or r.get("kind") not in RECORD_KINDS:
                raise ValueError("kind is not one of %s" % ", ".join(RECORD_KINDS))
            r["try"] = int(r.get("try") or 1)
        except ValueError as e:
            errors.append("%s:%d: not a record: %s" % (os.path.basename(path), n, e))
            continue
        for k in ("file", "test", "result", "tags", "what", "evidence"):
            r[k] = str(r.get(k) or "")
        records.append(r)
    return records


class Result:
    """What one row got in one test: KIND (PASS, FAIL, INTERMITTENT,
    ERROR, SKIP, NOT_REACHED), F tries failed of N tries that asserted it
    (0, 0 where that does not apply) and the failing check ("what")."""
    def __init__(self, kind, f=0, n=0, what="", recorded=False):
        self.kind, self.f, self.n, self.what = kind, f, n, what
        self.recorded = recorded  # from assertions, not the fallback

    def text(self):
        if self.kind in (FAIL, INTERMITTENT) and self.recorded:
            return "%s (%d of %d tr%s)" % (self.kind, self.f, self.n, "y" if self.n == 1 else "ies")
        return self.kind


class Try:
    def __init__(self, number):
        self.number = number
        self.checks = []          # (record, clauses)
        self.harness = []         # harness records
        self.notes = []           # note records
        self.end = None           # the end record's result
        self.retried = False
        self.outcome = None       # PASS, FAIL, ERROR, SKIP
        self.why = ""             # for ERROR: what broke
        self.evidence = ""        # and what shows it
        self.clauses = {}         # clause -> PASS or FAIL in this try
        self.not_reached = []     # name clauses never asserted in a failed try


def judge(t, final_text=""):
    """Set t's results, outcome and tries from its records (or, for a test
    without any, from JUnit's verdict and the name's tags: the fallback)."""
    if not t.recorded:
        kind = {PASS: PASS, FAIL: FAIL, SKIP: SKIP}.get(t.verdict, ERROR)
        # The name's tags take the test's verdict, as one try.
        res = Result(kind, 1 if kind == FAIL else 0, 1 if kind in (PASS, FAIL) else 0)
        t.results = {c: res for c in t.clauses}
        t.outcome = {PASS: "pass", FAIL: "deviates", SKIP: "skip"}.get(t.verdict, "error")
        t.f, t.n = res.f, res.n
        for g in t.groups:
            t.results[g] = res
        return
    by_try = {}
    for r in t.records:
        tr = by_try.get(r["try"])
        if tr is None:
            tr = by_try[r["try"]] = Try(r["try"])
        if r["kind"] == "check":
            clauses, _ = parse_tags("[%s]" % r["tags"])
            tr.checks.append((r, clauses))
            for c in clauses:
                if r["result"] == "fail":
                    tr.clauses[c] = FAIL
                else:
                    tr.clauses.setdefault(c, PASS)
        elif r["kind"] == "harness":
            tr.harness.append(r)
        elif r["kind"] == "note":
            tr.notes.append(r)
        elif r["kind"] == "end":
            tr.end = r["result"]
        elif r["kind"] == "retry":
            tr.retried = True
    t.tries = [by_try[k] for k in sorted(by_try)]
    for i, tr in enumerate(t.tries):
        final = i == len(t.tries) - 1
        # JUnit holds only the final try; its verdict stands in for an end
        # record that never came.
        junit = t.verdict if final else None
        failed_check = any(r["result"] == "fail" for r, _ in tr.checks)
        if tr.end == "skip" or (tr.end is None and junit == SKIP):
            tr.outcome = SKIP
        elif tr.harness:
            tr.outcome = ERROR
            tr.why = "; ".join(r["what"] for r in tr.harness)
            tr.evidence = "\n".join(r["evidence"] for r in tr.harness if r["evidence"])
        elif failed_check:
            tr.outcome = FAIL
        elif tr.end == "fail" or (tr.end is None and junit in (FAIL, ERROR)):
            tr.outcome = ERROR
            tr.why = "failed outside any assertion (a setup step died)"
            if final:
                tr.evidence = first_lines(final_text)
        elif tr.end is None and junit is None:
            tr.outcome = ERROR
            tr.why = "the try has no end record and is not in the JUnit (bats died?)"
        else:
            tr.outcome = PASS
        if tr.outcome in (FAIL, ERROR):
            tr.not_reached = [c for c in t.clauses if c not in tr.clauses]
    ran = [tr for tr in t.tries if tr.outcome != SKIP]
    counted = [tr for tr in ran if tr.outcome in (PASS, FAIL)]
    t.f, t.n = sum(1 for tr in counted if tr.outcome == FAIL), len(counted)
    if not ran:
        t.outcome = "skip"
    elif t.f:
        t.outcome = "deviates" if t.f == t.n else "intermittent"
    elif any(tr.outcome == ERROR for tr in ran):
        t.outcome = "error"
    else:
        t.outcome = "pass"
    rows = list(t.clauses)
    for tr in t.tries:
        rows += [c for c in tr.clauses if c not in rows]
    for c in rows:
        if not ran:
            t.results[c] = Result(SKIP)
            continue
        # A try the harness broke says nothing of a clause's steadiness:
        # the tries that ended at a verdict count, where there are any
        # (a failure confirmed on a retry the harness then broke before
        # that check is not intermittent).
        pool = counted if any(c in tr.clauses for tr in counted) else ran
        n = sum(1 for tr in pool if c in tr.clauses)
        f = sum(1 for tr in pool if tr.clauses.get(c) == FAIL)
        what = next((r["what"] for tr in ran for r, cs in tr.checks
                     if c in cs and r["result"] == "fail"), "")
        if n:
            kind = PASS if f == 0 else (FAIL if f == n else INTERMITTENT)
            t.results[c] = Result(kind, f, n, what, True)
        elif any(c in tr.not_reached for tr in ran if tr.outcome == ERROR):
            t.results[c] = Result(ERROR)
        elif any(c in tr.not_reached for tr in ran):
            t.results[c] = Result(NOT_REACHED)
        # Named, never asserted, only passing tries: the name is
        # documentation, it gives no verdict.
    group = {"pass": PASS, "deviates": FAIL, "intermittent": INTERMITTENT,
             "error": ERROR, "skip": SKIP}[t.outcome]
    for g in t.groups:
        t.results[g] = Result(group, t.f, t.n, recorded=True)


def slug(text):
    """A test name as the runner names its trace files."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def safe(label):
    """A run's label as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "run"


class Run:
    def __init__(self, path, label):
        self.path = path
        self.label = label
        meta_path = os.path.join(path, "meta")
        if not os.path.isfile(meta_path):
            raise UsageError("%s: no meta file" % path)
        self.meta = parse_meta(meta_path)
        self.driver = self.meta.get("driver", "?")
        self.kernel = self.meta.get("kernel", "?")
        self.offers = self.meta.get("offers", "").split()
        jdir = os.path.join(path, "junit")
        self.junit = []
        for dirpath, _, files in os.walk(jdir):
            self.junit += [os.path.join(dirpath, f) for f in files if f.endswith(".xml")]
        self.junit.sort()
        if not self.junit:
            raise UsageError("%s: no junit/*.xml files" % path)
        self.tests, self.errors, self.notes = [], [], []
        for j in self.junit:
            read_junit(j, self.tests, self.errors)
        self.attach_records()
        for t in self.tests:
            m = re.search(r"does not (?:offer|take) '?([\w.-]+)", t.text) if t.not_offered else None
            if m and m.group(1) in self.offers:
                self.notes.append("\"%s\" skipped because \"%s\", but meta offers= lists %s"
                                  % (t.name, t.text, m.group(1)))
        self.traces = self.read_traces()

    def attach_records(self):
        """Give each test its records of checks.jsonl and its verdicts."""
        path = os.path.join(self.path, "checks.jsonl")
        records = read_checks(path, self.errors) if os.path.isfile(path) else []
        records = self.filter_records(records)
        by_key = {}
        for r in records:
            by_key.setdefault((bats_file(r["file"]), r["test"]), []).append(r)
        # bats 1.8.2's JUnit of a file with a retried test names every
        # test "begin N NAME" and may hold a retried test twice, the
        # final try last: strip what a record's name shows is not the
        # name, keep the last of each.
        # It may also cut a retried test's name at " N ", N its count of
        # begin lines, one ahead of the test's number after a retry ("...
        # held 5 s between ..." became "s between ..."): a name no record
        # has that ends, after a space, one a record has is that test.
        last = {}
        for t in self.tests:
            stripped = BEGIN_RE.sub("", t.name, count=1)
            if (bats_file(t.file), stripped) not in by_key:
                stripped = next((n for f, n in by_key if f == bats_file(t.file)
                                 and n.endswith(" " + stripped)), stripped)
            if stripped != t.name and (bats_file(t.file), stripped) in by_key:
                t.name = stripped
                t.clauses, t.groups = parse_tags(stripped)
            last[t.key] = t
        self.tests = [t for t in self.tests if last[t.key] is t]
        for t in self.tests:
            t.records = by_key.pop(t.key, [])
        # Records of a test the JUnit does not have (bats died under it):
        # still its verdicts, and an error of the run.
        for (file, name), recs in by_key.items():
            t = Test(recs[0]["file"], name, None, None, "")
            t.records = recs
            self.tests.append(t)
            self.errors.append("%s: \"%s\": in checks.jsonl but not in the JUnit (did bats die?)"
                               % (recs[0]["file"], name))
        for t in self.tests:
            judge(t, t.text if t.verdict in (FAIL, ERROR) else "")

    def filter_records(self, records):
        """The records as this report judges them (mkdriver.py's runs
        judge the driver alone); all of them here."""
        return records

    def harness_errors(self):
        """(test, try number, what and evidence) of every try and fallback
        test that ended in error."""
        out = []
        for t in self.tests:
            if t.recorded:
                out += [(t, tr.number, ("%s\n%s" % (tr.why, tr.evidence)).strip())
                        for tr in t.tries if tr.outcome == ERROR]
            elif t.verdict == ERROR:
                out.append((t, 1, first_lines(t.text)))
        return out

    def read_traces(self):
        tdir = os.path.join(self.path, "traces")
        if not os.path.isdir(tdir):
            return []
        traces = []
        by_slug = sorted(((slug(t.name), t) for t in self.tests), key=lambda x: -len(x[0]))
        for f in sorted(os.listdir(tdir)):
            if not f.endswith(".csv"):
                continue
            stem = f[:-4]
            title_path = os.path.join(tdir, stem + ".title")
            try:
                with open(title_path, encoding="utf-8", errors="replace") as tf:
                    title = tf.readline().strip()
            except OSError:
                title = stem
            tr = {"csv": os.path.join(tdir, f), "stem": stem, "title": title or stem,
                  "test": None, "svg": None, "note": None}
            for s, t in by_slug:
                if s and (stem == s or stem.startswith(s + "-")):
                    tr["test"] = t
                    t.traces.append(tr)
                    break
            traces.append(tr)
        return traces

    @property
    def column(self):
        return "%s / %s" % (self.driver, self.kernel)

    def counts(self):
        c = {o: 0 for o in OUTCOMES}
        for t in self.tests:
            c[t.outcome] += 1
        return c


# ---------------------------------------------------------------- verdicts

def cell_verdict(items):
    """One matrix cell: what the tests of one column gave one row, each
    item (test, Result or None: named, never asserted)."""
    kinds = {res.kind for _, res in items if res}
    for k in (FAIL, INTERMITTENT, PASS, ERROR, NOT_REACHED, SKIP):
        if k in kinds:
            return k
    return None


# Verdicts of a row over columns.
CONFORM, DEVIATE, NOT_OFFERED, NOT_EXERCISED, ERRORED = (
    "conforms", "deviates", "not offered", "not exercised", "error")
ROW_VERDICTS = (CONFORM, DEVIATE, INTERMITTENT, NOT_OFFERED, NOT_EXERCISED, ERRORED)


def row_verdict(items):
    kinds = {res.kind for _, res in items if res}
    if FAIL in kinds:
        return DEVIATE
    if INTERMITTENT in kinds:
        return INTERMITTENT
    if PASS in kinds:
        return CONFORM
    if ERROR in kinds:
        return ERRORED
    skipped = [t for t, res in items if res and res.kind == SKIP]
    if kinds == {SKIP} and all(t.not_offered for t in skipped):
        return NOT_OFFERED
    return NOT_EXERCISED


GROUP_WORDS = {CONFORM: "pass", DEVIATE: "fail", INTERMITTENT: "intermittent",
               NOT_OFFERED: "not offered", NOT_EXERCISED: "not exercised", ERRORED: "error"}


def side(row):
    """Whose statement a row is: the driver's (R-n), the device's (D-n,
    "D: words", the transport's sections, which bind the device), or a
    group of checks tied to no clause."""
    if not is_clause(row):
        return "group"
    return "driver" if row.startswith(("R-", "R: ")) else "device"


def driver_label(driver):
    return {"virtio_balloon": "Linux's virtio_balloon"}.get(driver, driver)


def plural(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


class Report:
    def __init__(self, vmm, runs, version="unknown", date=""):
        self.vmm = vmm
        self.version = version    # the VMM's own words, one line
        self.date = date          # when the report was made, UTC
        self.runs = runs
        rows = {}
        for run in runs:
            for t in run.tests:
                for r in t.rows:
                    rows.setdefault(r, {}).setdefault(run.label, []).append((t, t.results.get(r)))
        self.rows = sorted(rows, key=row_key)
        self.cells = rows
        self.verdicts = {r: row_verdict(self.items(r)) for r in self.rows}
        self.drivers = []
        for run in runs:
            if run.driver not in self.drivers:
                self.drivers.append(run.driver)
        # A driver's verdict on its clauses, over its own columns only.
        self.by_driver = {r: {d: row_verdict(self.items(r, d)) for d in self.drivers}
                          for r in self.rows if side(r) == "driver"}
        self.errors = ["%s: %s" % (run.label, e) for run in runs for e in run.errors]
        self.harness = [(run, t, n, why) for run in runs for t, n, why in run.harness_errors()]
        self.notes = ["%s: %s" % (run.label, n) for run in runs for n in run.notes]
        for run in runs:
            v = run.meta.get("vmm")
            if v and v != vmm:
                self.notes.append("%s: meta says vmm=%s, the report is for %s" % (run.label, v, vmm))

    def items(self, row, driver=None):
        return [it for run in self.runs if driver is None or run.driver == driver
                for it in self.cells[row].get(run.label, [])]

    def clause_rows(self):
        return [r for r in self.rows if is_clause(r)]

    def group_rows(self):
        return [r for r in self.rows if not is_clause(r)]

    def side_rows(self, which):
        return [r for r in self.rows if side(r) == which]

    def n_harness(self):
        return len(self.errors) + len(self.harness)

    def tries(self, row, driver=None):
        """(f, n) behind a row that deviates or is intermittent (over one
        driver's columns with DRIVER): the tries that failed it of those
        that asserted it, in the tests that deviate on it (or are
        intermittent on it); None for any other verdict."""
        items = self.items(row, driver)
        kind = {DEVIATE: FAIL, INTERMITTENT: INTERMITTENT}.get(row_verdict(items))
        if kind is None:
            return None
        given = [res for _, res in items if res and res.kind == kind]
        return sum(res.f for res in given), sum(res.n for res in given)

    def heading(self):
        """The line under the title: the VMM's version and the report's date."""
        return "VMM version: %s. Run on %s (UTC)." % (self.version, self.date)

    def kernels(self, driver):
        return ", ".join(run.kernel for run in self.runs if run.driver == driver)

    @staticmethod
    def counts_text(verdicts, long=False):
        """"N conform, N deviate, N intermittent, N not offered", then not
        exercised and in error where there are any (always when LONG)."""
        n = {v: 0 for v in ROW_VERDICTS}
        for v in verdicts:
            n[v] += 1
        parts = ["%d conform" % n[CONFORM], "%d deviate" % n[DEVIATE],
                 "%d intermittent" % n[INTERMITTENT], "%d not offered" % n[NOT_OFFERED]]
        if n[NOT_EXERCISED] or long:
            parts.append("%d not exercised" % n[NOT_EXERCISED])
        if n[ERRORED]:
            parts.append("%d in error" % n[ERRORED])
        return ", ".join(parts)

    def device_counts(self, long=False):
        return self.counts_text([self.verdicts[r] for r in self.side_rows("device")], long)

    def driver_counts(self, d, long=False):
        return self.counts_text([self.by_driver[r][d] for r in self.side_rows("driver")], long)

    def harness_text(self):
        n = self.n_harness()
        return plural(n, "error") if n else "no errors"

    def device_summary(self):
        return "Device (%s): %s." % (self.vmm, self.device_counts(True))

    def driver_summary(self):
        return "Driver: %s." % "; ".join("%s (%s): %s" % (
            driver_label(d), self.kernels(d), self.driver_counts(d, True)) for d in self.drivers)

    def harness_summary(self):
        return "Harness: %s." % self.harness_text()

    def headline(self):
        """summary.txt's first line: one line, "VMM: " first (the runner
        prints it after a run)."""
        clauses = self.clause_rows()
        parts = ["device " + self.device_counts()]
        parts += ["driver %s %s" % (driver_label(d), self.driver_counts(d)) for d in self.drivers]
        n = self.n_harness()
        parts.append("harness %s" % plural(n, "error"))
        return "%s: %s (%s, %s: %s)." % (
            self.vmm, "; ".join(parts), plural(len(clauses), "clause"),
            plural(len(self.runs), "run"), "; ".join(r.column for r in self.runs))

    def who(self, row):
        if side(row) == "device":
            return "device"
        bad = [d for d in self.drivers if self.by_driver[row][d] in (DEVIATE, INTERMITTENT)]
        return "driver " + ", ".join(driver_label(d) for d in bad)

    def summary(self):
        """The headline, then one line each: what deviates and is
        intermittent (with whose it is), what is not offered or not
        exercised, the groups, the tests."""
        clauses = self.clause_rows()
        lines = [self.headline()]
        for v, head in ((DEVIATE, "Deviates from"), (INTERMITTENT, "Intermittent")):
            these = [r for r in clauses if self.verdicts[r] == v]
            if these:
                lines.append("%s: %s." % (head, ", ".join("%s (%s)" % (r, self.who(r)) for r in these)))
        off = [r for r in clauses if self.verdicts[r] == NOT_OFFERED]
        if off:
            lines.append("Not offered: %s." % ", ".join(off))
        idle = [r for r in clauses if self.verdicts[r] == NOT_EXERCISED]
        if idle:
            lines.append("Not exercised: %s." % ", ".join(idle))
        groups = self.group_rows()
        if groups:
            lines.append("Checks not tied to a clause: %s." % ", ".join(
                "%s %s" % (g, GROUP_WORDS[self.verdicts[g]]) for g in groups))
        total = {o: 0 for o in OUTCOMES}
        for run in self.runs:
            for k, v in run.counts().items():
                total[k] += v
        lines.append("Tests: %d passed, %d deviated, %d intermittent, %d in error, %d skipped." % (
            total["pass"], total["deviates"], total["intermittent"], total["error"], total["skip"]))
        return "\n".join(lines)

    def findings(self, which):
        """(row, run, test, Result) of each deviation and intermittent of a
        side, deviations first."""
        out = []
        for kind in (FAIL, INTERMITTENT):
            for row in self.side_rows(which):
                for run in self.runs:
                    for t, res in self.cells[row].get(run.label, []):
                        if res and res.kind == kind:
                            out.append((row, run, t, res))
        return out

    def verdicts_json(self):
        tests, intermittent = [], []
        for run in self.runs:
            for t in run.tests:
                tests.append({"run": run.label, "file": t.file, "test": t.name,
                              "outcome": t.outcome, "tries": max(len(t.tries), 1)})
                name = "%s: %s" % (t.file, t.name)
                if t.outcome == "intermittent" and name not in intermittent:
                    intermittent.append(name)
        clauses = {}
        for r in self.clause_rows():
            c = {"side": side(r), "verdict": self.verdicts[r]}
            c.update(tries_json(self.tries(r)))
            if side(r) == "driver":
                c["by_driver"] = dict(self.by_driver[r])
                counts = {d: tries_json(self.tries(r, d)) for d in self.drivers}
                counts = {d: fn for d, fn in counts.items() if fn}
                if counts:
                    c["by_driver_tries"] = counts
            clauses[r] = c
        return {"vmm": self.vmm, "vmm_version": self.version, "date": self.date,
                "runs": [{"label": r.label, "driver": r.driver, "kernel": r.kernel} for r in self.runs],
                "clauses": clauses, "tests": tests, "intermittent": intermittent,
                "harness_errors": self.n_harness()}


def tries_json(fn):
    """A row's (f, n) as verdicts.json gives them."""
    return {"failed": fn[0], "tries": fn[1]} if fn else {}


def clause_id(row):
    """The HTML id of a row of the matrix (report.html#clause-D-3): its
    name with every run of other characters than letters and digits
    made one -; the index links to it."""
    return "clause-" + (re.sub(r"[^A-Za-z0-9]+", "-", row).strip("-") or "row")


# ---------------------------------------------------------------- plots

GNUPLOT_SCRIPT = """\
set terminal svg size 800,420 dynamic noenhanced font "sans,11" background rgb "white"
set output {out}
set datafile separator ","
set title {title}
set xlabel "seconds since the resize command"
set ylabel "MiB (target, actual)"
set y2label "host RSS, MiB"
set ytics nomirror
set y2tics
set key outside top center horizontal
set grid
plot {csv} every ::1 using 1:2 with steps lw 2 lc rgb "#1f77b4" title "target", \\
     {csv} every ::1 using 1:3 with linespoints lw 2 pt 7 ps 0.4 lc rgb "#2ca02c" title "actual", \\
     {csv} every ::1 using 1:($4/1024) axes x1y2 with lines lw 2 lc rgb "#d62728" title "host RSS"
"""


def gp_str(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


def draw_plots(report, outdir):
    gnuplot = os.environ.get("GNUPLOT") or "gnuplot"
    have = shutil.which(gnuplot)
    pdir = os.path.join(outdir, "plots")
    notes = []
    traces = [tr for run in report.runs for tr in run.traces]
    if not traces:
        return notes
    if not have:
        notes.append("plots skipped: %s not found (install gnuplot-nox)" % gnuplot)
        for tr in traces:
            tr["note"] = "no plot: gnuplot not found"
        return notes
    os.makedirs(pdir, exist_ok=True)
    for run in report.runs:
        for tr in run.traces:
            rows = 0
            try:
                with open(tr["csv"], encoding="utf-8", errors="replace") as f:
                    header = f.readline().strip()
                    rows = sum(1 for l in f if l.strip())
            except OSError as e:
                tr["note"] = "unreadable: %s" % e
                continue
            if not header.startswith("t_s,target_mib,actual_mib,rss_kib"):
                tr["note"] = "no plot: header is %r, not t_s,target_mib,actual_mib,rss_kib" % header
                continue
            if rows == 0:
                tr["note"] = "no plot: the trace has no samples"
                continue
            name = "%s--%s.svg" % (safe(run.label), tr["stem"])
            svg = os.path.join(pdir, name)
            script = GNUPLOT_SCRIPT.format(out=gp_str(svg), title=gp_str(tr["title"]),
                                           csv=gp_str(os.path.abspath(tr["csv"])))
            p = subprocess.run([have], input=script, text=True, capture_output=True)
            if p.returncode != 0 or not os.path.isfile(svg):
                tr["note"] = "gnuplot failed: %s" % first_lines(p.stderr, 2)
                continue
            tr["svg"] = "plots/" + name
    return notes


# ---------------------------------------------------------------- Markdown

def md(text):
    text = html.escape(text, quote=False).replace("|", "\\|").replace("`", "\\`")
    text = text.replace("[", "\\[").replace("]", "\\]")
    return "<br>".join(text.strip().splitlines())


def cell_text(items, verdict):
    if verdict is None:
        return "—"
    if verdict == SKIP:
        reasons = sorted({t.text or "no reason given" for t, res in items if res and res.kind == SKIP})
        return "skip: " + "; ".join(reasons)
    given = [res for _, res in items if res]
    n = len(given)
    bad = [res for res in given if res.kind == verdict]
    text = bad[0].text() if len(bad) == 1 else verdict
    if verdict == PASS:
        for kind, word in ((SKIP, "skipped"), (ERROR, "in error"), (NOT_REACHED, "not reached")):
            k = sum(1 for res in given if res.kind == kind)
            if k:
                text += " (%d of %d %s)" % (k, n, word)
    elif verdict in (FAIL, INTERMITTENT, ERROR) and n > 1:
        text += " (%d of %d)" % (len(bad), n)
    return text


def item_text(t, res):
    """What one test gave one row, for the lists behind the cells."""
    if res is None:
        return "no assertion"
    if not res.recorded:
        return verdict_md(res.kind)
    return verdict_md(res.text())


def verdict_md(v):
    return "**%s**" % v if v.startswith((FAIL, ERROR, "deviates")) else v


def outcome_text(t):
    """A test's outcome over its tries: pass, deviates (2 of 2),
    intermittent (1 of 2), error, skip; a test without records keeps
    JUnit's word."""
    if not t.recorded:
        return t.verdict or ERROR
    if t.outcome in ("deviates", "intermittent"):
        return "%s (%d of %d)" % (t.outcome, t.f, t.n)
    return t.outcome


def fmt_time(t):
    return "" if t is None else "%.1f s" % t


def anchor(run, t):
    return "ev-%s-%s" % (safe(run.label), slug("%s %s" % (bats_file(t.file), t.name)))


def row_verdict_text(report, row):
    if side(row) != "driver":
        return report.verdicts[row]
    return "; ".join("%s: %s" % (driver_label(d), report.by_driver[row][d]) for d in report.drivers)


def try_lines(t, tr):
    """(class, text, evidence) of one try: its checks, what it did not
    reach, its harness errors and notes."""
    out = []
    for r, _ in tr.checks:
        out.append(("pass" if r["result"] == "pass" else FAIL,
                    "%s [%s] (%s) %s" % (PASS if r["result"] == "pass" else FAIL, r["tags"],
                                         side_of_tags(r["tags"]), r["what"]), r["evidence"]))
    if tr.not_reached:
        out.append(("notreached", "not reached: %s" % ", ".join(tr.not_reached), ""))
    for r in tr.harness:
        out.append(("error", "harness error: %s" % r["what"], r["evidence"]))
    if tr.outcome == ERROR and not tr.harness:
        out.append(("error", "harness error: %s" % tr.why, tr.evidence))
    for r in tr.notes:
        out.append(("note", "note: %s" % r["what"], r["evidence"]))
    return out


def side_of_tags(tags):
    sides = {side(c) for c in parse_tags("[%s]" % tags)[0]}
    return ", ".join(x for x in ("device", "driver") if x in sides) or "harness"


def try_head(tr):
    words = {PASS: "passed", FAIL: "failed an assertion", ERROR: "harness error", SKIP: "skipped"}
    return "try %d: %s%s" % (tr.number, words[tr.outcome], "; run again" if tr.retried else "")


def asks(row, escape):
    """" (what ROW asks)", escaped by ESCAPE, where clauses.py says; else ""."""
    what = clauses.title(row)
    return " (%s)" % escape(what) if what else ""


def clause_th(row):
    """ROW's heading cell: the clause, and under it what it asks."""
    what = clauses.title(row)
    return "<th>%s%s</th>" % (h(row), "<br><span class=\"muted\">%s</span>" % h(what) if what else "")


def finding_md(row, run, t, res, driver=False):
    """One deviation or intermittent of the Device or Driver part, in
    Markdown: the clause, whose driver (Driver part), the verdict, the
    failed assertion, the test and its column, a link to its evidence."""
    who = md(driver_label(run.driver)) + ", " if driver else ""
    return "- **%s**%s %s%s: %s — %s, %s ([evidence](#%s))" % (
        md(row), asks(row, md), who, res.text(), md(res.what or "the test failed"), md(t.name),
        md(run.column), anchor(run, t))


def render_md(report, plot_notes):
    out = []
    w = out.append
    w("# Conformance: %s" % report.vmm)
    w("")
    w(md(report.heading()))
    w("")
    for line in report.summary().splitlines():
        w(line)
        w("")
    w("D-n and R-n number the device's and the driver's normative statements of virtio 1.2 "
      "§5.5 in the spec's order, and selftests/report/clauses.py says in a few words what "
      "each asks (beside the clause here and in the index). Each assertion of a test names the clauses "
      "it checks; a clause conforms if every assertion of it passed, deviates if one failed "
      "on every try, is intermittent if it failed on some tries only, is not offered if all "
      "its tests were skipped because the VMM does not offer what they need. A failure of "
      "the harness is its own error, never a deviation.")
    w("")
    w("## Device")
    w("")
    w(report.device_summary())
    w("")
    for row, run, t, res in report.findings("device"):
        w(finding_md(row, run, t, res))
    w("")
    w("## Driver")
    w("")
    w(report.driver_summary())
    w("")
    for row, run, t, res in report.findings("driver"):
        w(finding_md(row, run, t, res, driver=True))
        ev = failed_evidence(t, row)
        if ev:
            w("  > %s" % md(first_lines(ev)))
    w("")
    w("## Harness")
    w("")
    w(report.harness_summary())
    w("")
    for e in report.errors:
        w("- **error** %s" % md(e))
    for run, t, n, why in report.harness:
        w("- **error** %s: %s: %s, try %d: %s ([evidence](#%s))" % (
            md(run.label), md(t.file), md(t.name), n, md(first_lines(why)), anchor(run, t)))
    w("")
    w("## Runs")
    w("")
    w("| run | driver | guest kernel | offers | passed | failed | skipped |")
    w("|---|---|---|---|---|---|---|")
    for run in report.runs:
        c = run.counts()
        w("| %s | %s | %s | %s | %d | %d | %d |" % (
            md(run.label), md(run.driver), md(run.kernel), md(" ".join(run.offers)) or "—",
            c["pass"], c["deviates"] + c["intermittent"] + c["error"], c["skip"]))
    w("")
    if report.notes or plot_notes:
        w("## Notes")
        w("")
        for n in report.notes + plot_notes:
            w("- note: %s" % md(n))
        w("")
    w("## Matrix")
    for title, which in (("Device", "device"), ("Driver", "driver"),
                         ("Checks not tied to a clause", "group")):
        rows = report.side_rows(which)
        if not rows:
            continue
        w("")
        w("### %s" % title)
        w("")
        w("| clause | verdict | " + " | ".join(md(r.column) for r in report.runs) + " |")
        w("|---|---|" + "---|" * len(report.runs))
        for row in rows:
            cells = []
            for run in report.runs:
                items = report.cells[row].get(run.label, [])
                v = cell_verdict(items)
                t = md(cell_text(items, v))
                cells.append("**%s**" % t if v in (FAIL, ERROR) else t)
            w("| %s | %s | %s |" % (md(row), row_verdict_text(report, row), " | ".join(cells)))
    w("")
    w("### Tests behind each row")
    w("")
    for row in report.rows:
        w("- <a id=\"%s\"></a>**%s** (%s)" % (clause_id(row), md(row), row_verdict_text(report, row)))
        for run in report.runs:
            for t, res in report.cells[row].get(run.label, []):
                line = "  - %s: %s — %s" % (md(run.column), item_text(t, res), md(t.name))
                if res and res.kind == SKIP:
                    line += " (%s)" % md(t.reason())
                w(line)
    w("")
    for run in report.runs:
        w("## Tests: %s" % md(run.column))
        w("")
        w("| file | test | verdict | time | skip reason or failure |")
        w("|---|---|---|---|---|")
        for t in run.tests:
            plots = " ".join("[plot](%s)" % tr["svg"] for tr in t.traces if tr["svg"])
            name = md(t.name)
            if t.recorded:
                name = "[%s](#%s)" % (name, anchor(run, t))
            w("| %s | %s%s | %s | %s | %s |" % (
                md(t.file), name, (" " + plots) if plots else "",
                verdict_md(outcome_text(t)), fmt_time(t.time),
                md(test_reason(t))))
        w("")
        for t in run.tests:
            if not t.recorded:
                continue
            w("### <a id=\"%s\"></a>%s: %s — %s" % (anchor(run, t), md(t.file), md(t.name),
                                                 verdict_md(outcome_text(t))))
            w("")
            for tr in t.tries:
                w("- %s" % try_head(tr))
                for cls, text, ev in try_lines(t, tr):
                    w("  - %s" % ("**%s**" % md(text) if cls in (FAIL, "error") else md(text)))
                    if ev:
                        w("    <br>evidence: %s" % md(ev))
            w("")
    traces = [(run, tr) for run in report.runs for tr in run.traces]
    if traces:
        w("## Resizes")
        w("")
        for run, tr in traces:
            w("### %s — %s" % (md(run.column), md(tr["title"])))
            w("")
            if tr["svg"]:
                w("![%s](%s)" % (md(tr["title"]), tr["svg"]))
            else:
                w("%s (`%s`)" % (md(tr["note"] or "no plot"), md(os.path.basename(tr["csv"]))))
            w("")
    return "\n".join(out) + "\n"


def test_reason(t):
    """A test's line in the tables: the skip's reason, what failed (the
    assertions' words where there are records, JUnit's first lines
    where there are none), what broke the harness."""
    if not t.recorded or t.outcome == "skip":
        return t.reason()
    whats = []
    for tr in t.tries:
        for r, _ in tr.checks:
            if r["result"] == "fail" and r["what"] not in whats:
                whats.append(r["what"])
        if tr.outcome == ERROR and tr.why not in whats:
            whats.append(tr.why)
    return "\n".join(whats)


def failed_evidence(t, row):
    """The readings of the first failed check of ROW in T."""
    for tr in t.tries:
        for r, cs in tr.checks:
            if row in cs and r["result"] == "fail":
                return r["evidence"]
    return ""


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:110em}
h1{font-size:1.6em}h2{font-size:1.3em;margin-top:2em}h3{font-size:1.05em}
p.summary{font-size:1.1em;background:#f4f6f8;border-left:4px solid #555;padding:.8em}
div.boxes{display:flex;flex-wrap:wrap;gap:1em}
div.box{flex:1 1 28em;border:1px solid #bbb;border-top:6px solid #2e7d32;padding:.2em 1em;background:#fafafa}
div.box.bad{border-top-color:#c0392b}div.box.shaky{border-top-color:#e69500}div.box.broken{border-top-color:#7b5ea7}
div.box h2{margin-top:.4em}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #bbb;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#eee}
td.pass{background:#d4edda}td.FAIL{background:#f5b7b1;font-weight:bold}
td.intermittent{background:#ffc14d;font-weight:bold}
td.skip{background:#e9ecef;color:#555}td.offered{background:#fff3cd;color:#555}
td.error{background:#e2d4f0;font-weight:bold}td.none{color:#aaa;text-align:center}
td.notreached{background:#f8f9fa;color:#555;font-style:italic}
td.conforms{background:#d4edda}td.deviates{background:#f5b7b1;font-weight:bold}
td.notoffered{background:#fff3cd}td.notexercised{background:#e9ecef}
details summary{cursor:pointer}details ul{margin:.3em 0;padding-left:1.2em;font-weight:normal}
pre{margin:0;white-space:pre-wrap;font-size:.85em;max-width:60em}
li.error{color:#5b3a8a}li.FAIL{color:#a00}li.notreached{color:#777}
.muted{color:#777}th .muted{font-weight:normal}img.plot{max-width:100%;border:1px solid #ddd}
div.test{border-left:3px solid #bbb;padding-left:1em;margin:1em 0}
"""

CELL_CLASS = {PASS: "pass", FAIL: "FAIL", SKIP: "skip", ERROR: "error",
              INTERMITTENT: "intermittent", NOT_REACHED: "notreached"}
ROW_CLASS = {CONFORM: "conforms", DEVIATE: "deviates", INTERMITTENT: "intermittent",
             NOT_OFFERED: "notoffered", NOT_EXERCISED: "notexercised", ERRORED: "error"}
OUTCOME_CLASS = {"pass": "pass", "deviates": "FAIL", "intermittent": "intermittent",
                 "error": "error", "skip": "skip"}


def h(text):
    return html.escape(text or "")


def box_class(verdicts):
    if DEVIATE in verdicts:
        return "bad"
    if INTERMITTENT in verdicts:
        return "shaky"
    return "good"


def render_finding(run, t, row, res, driver=False):
    ev = failed_evidence(t, row)
    return ("<li class=\"%s\" data-clause=\"%s\" data-verdict=\"%s\"><b>%s</b>%s%s %s: %s — %s, %s "
            "(<a href=\"#%s\">evidence</a>)%s</li>" % (
                CELL_CLASS[res.kind], h(row), h(res.kind), h(row), asks(row, h),
                (" " + h(driver_label(run.driver)) + ",") if driver else "", h(res.text()),
                h(res.what or "the test failed"), h(t.name), h(run.column), h(anchor(run, t)),
                ("<pre>%s</pre>" % h(first_lines(ev))) if driver and ev else ""))


def render_html(report, outdir, plot_notes):
    out = []
    w = out.append
    w("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    w("<title>Conformance: %s</title><style>%s</style></head><body>" % (h(report.vmm), CSS))
    w("<h1>Conformance: %s</h1>" % h(report.vmm))
    w("<p class=\"muted\" id=\"heading\">%s</p>" % h(report.heading()))
    w("<p class=\"summary\" id=\"summary\">%s</p>" % "<br>".join(
        h(l) for l in report.summary().splitlines()))
    w("<div class=\"boxes\">")
    dev = [report.verdicts[r] for r in report.side_rows("device")]
    w("<div class=\"box %s\" id=\"device\"><h2>Device</h2><p data-summary=\"device\">%s</p><ul>"
      % (box_class(dev), h(report.device_summary())))
    for row, run, t, res in report.findings("device"):
        w(render_finding(run, t, row, res))
    w("</ul></div>")
    drv = [v for r in report.side_rows("driver") for v in report.by_driver[r].values()]
    w("<div class=\"box %s\" id=\"driver\"><h2>Driver</h2><p data-summary=\"driver\">%s</p><ul>"
      % (box_class(drv), h(report.driver_summary())))
    for row, run, t, res in report.findings("driver"):
        w(render_finding(run, t, row, res, True))
    w("</ul></div>")
    w("<div class=\"box %s\" id=\"harness\"><h2>Harness</h2><p data-summary=\"harness\">%s</p><ul>"
      % ("broken" if report.n_harness() else "good", h(report.harness_summary())))
    for e in report.errors:
        w("<li class=\"error\" data-harness=\"run\"><pre>%s</pre></li>" % h(e))
    for run, t, n, why in report.harness:
        w("<li class=\"error\" data-harness=\"try\">%s: %s: %s, try %d (<a href=\"#%s\">evidence</a>)"
          "<pre>%s</pre></li>" % (h(run.label), h(t.file), h(t.name), n, h(anchor(run, t)),
                                  h(first_lines(why))))
    w("</ul></div></div>")
    w("<p class=\"muted\">D-n and R-n number the device's and the driver's normative statements "
      "of virtio 1.2 §5.5 in the order the spec gives them. A verdict comes from the "
      "assertions that name a clause, never from a test's name alone. Open a cell to see "
      "the tests behind it.</p>")
    w("<h2>Runs</h2><table><tr><th>run</th><th>driver</th><th>guest kernel</th><th>offers</th>"
      "<th>passed</th><th>failed</th><th>skipped</th></tr>")
    for run in report.runs:
        c = run.counts()
        w("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td></tr>"
          % (h(run.label), h(run.driver), h(run.kernel), h(" ".join(run.offers)) or "—",
             c["pass"], c["deviates"] + c["intermittent"] + c["error"], c["skip"]))
    w("</table>")
    if report.notes or plot_notes:
        w("<h2>Notes</h2><ul>")
        for n in report.notes + plot_notes:
            w("<li>%s</li>" % h(n))
        w("</ul>")
    for title, which in (("Device", "device"), ("Driver", "driver"),
                         ("Checks not tied to a clause", "group")):
        rows = report.side_rows(which)
        if not rows:
            continue
        w("<h2>Matrix: %s</h2><table id=\"matrix-%s\"><tr><th>clause</th>" % (h(title), which))
        drivers = report.drivers if which == "driver" else [None]
        for d in drivers:
            w("<th>verdict%s</th>" % ("<br>" + h(driver_label(d)) if d else ""))
        for run in report.runs:
            w("<th>%s<br><span class=\"muted\">%s</span></th>" % (h(run.driver), h(run.kernel)))
        w("</tr>")
        for row in rows:
            rvs = [report.by_driver[row][d] for d in drivers] if which == "driver" \
                else [report.verdicts[row]]
            w("<tr id=\"%s\">%s%s" % (h(clause_id(row)), clause_th(row), "".join(
                "<td class=\"%s\" data-row-verdict=\"%s\"%s>%s</td>" % (
                    ROW_CLASS[rv], h(rv), (" data-driver=\"%s\"" % h(d)) if d else "", h(rv))
                for rv, d in zip(rvs, drivers))))
            for run in report.runs:
                items = report.cells[row].get(run.label, [])
                v = cell_verdict(items)
                if v is None:
                    w("<td class=\"none\" data-verdict=\"none\">—</td>")
                    continue
                cls = CELL_CLASS[v]
                if v == SKIP and all(t.not_offered for t, res in items if res and res.kind == SKIP):
                    cls = "skip offered"
                names = "\n".join("%s: %s" % (item_text(t, res).strip("*"), t.name) for t, res in items)
                lis = "".join("<li>%s — %s%s</li>" % (
                    h(item_text(t, res).strip("*")), h(t.name),
                    (": " + h(t.reason())) if res and res.kind == SKIP else "") for t, res in items)
                w("<td class=\"%s\" data-verdict=\"%s\" title=\"%s\"><details><summary>%s</summary>"
                  "<ul>%s</ul></details></td>" % (cls, h(v.replace(" ", "-")), h(names),
                                                  h(cell_text(items, v)), lis))
            w("</tr>")
        w("</table>")
    for run in report.runs:
        w("<h2>Tests: %s</h2>" % h(run.column))
        w("<table><tr><th>file</th><th>test</th><th>verdict</th><th>time</th>"
          "<th>skip reason or failure</th></tr>")
        for t in run.tests:
            cls = OUTCOME_CLASS[t.outcome]
            if t.not_offered:
                cls = "skip offered"
            plots = "".join(" <a href=\"#%s\">plot</a>" % h(plot_id(run, tr)) for tr in t.traces)
            name = h(t.name)
            if t.recorded:
                name = "<a href=\"#%s\">%s</a>" % (h(anchor(run, t)), name)
            w("<tr><td>%s</td><td>%s%s</td><td class=\"%s\" data-outcome=\"%s\">%s</td><td>%s</td>"
              "<td><pre>%s</pre></td></tr>"
              % (h(t.file), name, plots, cls, h(t.outcome), h(outcome_text(t)), fmt_time(t.time),
                 h(test_reason(t))))
        w("</table>")
        for t in run.tests:
            if not t.recorded:
                continue
            w("<div class=\"test\" id=\"%s\"><h3>%s: %s — %s</h3>" % (
                h(anchor(run, t)), h(t.file), h(t.name), h(outcome_text(t))))
            for tr in t.tries:
                w("<p data-try=\"%d\" data-outcome=\"%s\">%s</p><ul>" % (
                    tr.number, h(tr.outcome), h(try_head(tr))))
                for cls, text, ev in try_lines(t, tr):
                    w("<li class=\"%s\">%s%s</li>" % (cls, h(text),
                                                   ("<pre>%s</pre>" % h(ev)) if ev else ""))
                w("</ul>")
            w("</div>")
    traces = [(run, tr) for run in report.runs for tr in run.traces]
    if traces:
        w("<h2>Resizes</h2>")
        for run, tr in traces:
            w("<h3 id=\"%s\">%s — %s</h3>" % (h(plot_id(run, tr)), h(run.column), h(tr["title"])))
            if tr["svg"]:
                with open(os.path.join(outdir, tr["svg"]), "rb") as f:
                    data = base64.b64encode(f.read()).decode("ascii")
                w("<img class=\"plot\" alt=\"%s\" src=\"data:image/svg+xml;base64,%s\">"
                  % (h(tr["title"]), data))
            else:
                w("<p class=\"muted\">%s (%s)</p>" % (h(tr["note"] or "no plot"),
                                                       h(os.path.basename(tr["csv"]))))
    w("</body></html>")
    return "\n".join(out) + "\n"


def plot_id(run, tr):
    return "plot-%s--%s" % (safe(run.label), tr["stem"])


# ---------------------------------------------------------------- main

class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def labels_for(paths):
    labels, seen = [], {}
    for p in paths:
        base = safe(os.path.basename(os.path.abspath(p)))
        n = seen.get(base, 0) + 1
        seen[base] = n
        labels.append(base if n == 1 else "%s-%d" % (base, n))
    return labels


def main(argv):
    ap = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmm", required=True, help="the VMM's name, as in VMM=")
    ap.add_argument("--vmm-version", help="the VMM's version, one line (default: unknown)")
    ap.add_argument("--date", help="when the run was, as written in the report"
                    " (default: now, UTC, to the minute: 2025-01-31T14:05Z)")
    ap.add_argument("--out", required=True, help="the report's directory")
    ap.add_argument("rundirs", nargs="*", metavar="RUNDIR")
    args = ap.parse_args(argv)
    if not args.rundirs:
        raise UsageError("no RUNDIR given")
    out = os.path.abspath(args.out)
    for p in args.rundirs:
        if not os.path.isdir(p):
            raise UsageError("%s: no such run directory" % p)
        if os.path.abspath(p) == out:
            raise UsageError("%s: the output directory cannot be a RUNDIR" % p)
    runs = [Run(p, l) for p, l in zip(args.rundirs, labels_for(args.rundirs))]
    date = args.date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    version = " ".join((args.vmm_version or "").split()) or "unknown"
    report = Report(args.vmm, runs, version, date)

    os.makedirs(out, exist_ok=True)
    for sub in ("junit", "plots"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
    for run in runs:
        jroot = os.path.join(run.path, "junit")
        for j in run.junit:
            dest = os.path.join(out, "junit", run.label, os.path.relpath(j, jroot))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(j, dest)
    plot_notes = draw_plots(report, out)
    files = {
        "summary.txt": report.summary() + "\n",
        "verdicts.json": json.dumps(report.verdicts_json(), indent=1, ensure_ascii=False) + "\n",
        "report.md": render_md(report, plot_notes),
        "report.html": render_html(report, out, plot_notes),
    }
    write_files(out, files)
    return 0


def write_files(outdir, files):
    """Each NAME: TEXT of FILES into OUTDIR, written aside and renamed: a
    reader never sees half a file."""
    for name, text in files.items():
        tmp = os.path.join(outdir, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, os.path.join(outdir, name))


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        sys.exit(2)
