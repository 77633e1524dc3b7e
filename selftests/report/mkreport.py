#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The conformance verdict for one VMM, from the bats runs of the suite.

    mkreport.py --vmm NAME --out OUTDIR RUNDIR...

Each RUNDIR is one bats run (one VMM, one driver, one guest kernel): a
`meta` file, `junit/*.xml` from bats' junit report formatter and,
optionally, `traces/*.csv` (one per resize) with `traces/*.title`.
OUTDIR gets report.md, report.html, summary.txt, plots/*.svg and junit/.
README.md beside this file gives the formats. Python 3 standard library
only; gnuplot (or $GNUPLOT) draws the plots when it is there.

Exit status: 0 when the report is written, whatever the tests did (the
runner decides its own exit); 2 on bad usage, with one error line.
"""
import argparse
import base64
import html
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

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


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- tags

CLAUSE_RE = re.compile(r"^([DR])-(\d+)$", re.I)
RANGE_RE = re.compile(r"^([DR])-(\d+)\s*(?:\.\.|–)\s*(?:([DR])-)?(\d+)$", re.I)
WORDS_RE = re.compile(r"^D:\s*(.+)$")
SECTION_RE = re.compile(r"^§?(\d+(?:\.\d+)+)$")
TAGS_RE = re.compile(r"\[([^\[\]]*)\]\s*$")


def parse_tags(name):
    """Return (clauses, groups) for a test name.

    The tags are the last [...] of the name, comma separated: D-n and R-n
    (ranges R-17..R-22 or R-36..41 expand), "D: words" (a device
    obligation named in words), a spec section such as 2.7.8; any other
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
            clauses.append("D: " + w.group(1))
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
    """D-n, then "D: words", then R-n, then § sections, then groups."""
    m = CLAUSE_RE.match(row)
    if m and m.group(1) == "D":
        return (0, int(m.group(2)), "")
    if row.startswith("D: "):
        return (1, 0, row)
    if m:
        return (2, int(m.group(2)), "")
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

    @property
    def rows(self):
        return self.clauses + self.groups

    def reason(self):
        if self.verdict == SKIP:
            return self.text or "no reason given"
        return first_lines(self.text)


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
                              % (file, first_lines(text, 3)))
                continue
            if error is not None:
                tests.append(Test(file, name, time, ERROR, node_text(error)))
            elif failure is not None:
                text = node_text(failure)
                m = TEARDOWN_RE.search(text)
                if m:
                    errors.append("%s: teardown_file failed (after \"%s\"): %s"
                                  % (file, name, first_lines(text[m.start():], 3)))
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
        for t in self.tests:
            m = re.search(r"does not (?:offer|take) '?([\w.-]+)", t.text) if t.not_offered else None
            if m and m.group(1) in self.offers:
                self.notes.append("\"%s\" skipped because \"%s\", but meta offers= lists %s"
                                  % (t.name, t.text, m.group(1)))
        self.traces = self.read_traces()

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
        c = {PASS: 0, FAIL: 0, SKIP: 0, ERROR: 0}
        for t in self.tests:
            c[t.verdict] += 1
        return c


# ---------------------------------------------------------------- verdicts

def cell_verdict(tests):
    """One matrix cell: the tests of one column carrying one row."""
    if not tests:
        return None
    vs = {t.verdict for t in tests}
    if FAIL in vs:
        return FAIL
    if ERROR in vs:
        return ERROR
    if PASS in vs:
        return PASS
    return SKIP


# Verdicts of a row over every column.
CONFORM, DEVIATE, NOT_OFFERED, NOT_RUN, ERRORED = (
    "conforms", "deviates", "not offered", "not run", "error")


def row_verdict(tests):
    vs = {t.verdict for t in tests}
    if FAIL in vs:
        return DEVIATE
    if ERROR in vs:
        return ERRORED
    if PASS in vs:
        return CONFORM
    if tests and all(t.not_offered for t in tests):
        return NOT_OFFERED
    return NOT_RUN


GROUP_WORDS = {CONFORM: "pass", DEVIATE: "fail", NOT_OFFERED: "not offered",
               NOT_RUN: "not run", ERRORED: "error"}


class Report:
    def __init__(self, vmm, runs):
        self.vmm = vmm
        self.runs = runs
        rows = {}
        for run in runs:
            for t in run.tests:
                for r in t.rows:
                    rows.setdefault(r, {}).setdefault(run.label, []).append(t)
        self.rows = sorted(rows, key=row_key)
        self.cells = rows
        self.verdicts = {r: row_verdict([t for ts in rows[r].values() for t in ts])
                         for r in self.rows}
        self.errors = ["%s: %s" % (run.label, e) for run in runs for e in run.errors]
        self.notes = ["%s: %s" % (run.label, n) for run in runs for n in run.notes]
        for run in runs:
            v = run.meta.get("vmm")
            if v and v != vmm:
                self.notes.append("%s: meta says vmm=%s, the report is for %s" % (run.label, v, vmm))

    def clause_rows(self):
        return [r for r in self.rows if is_clause(r)]

    def group_rows(self):
        return [r for r in self.rows if not is_clause(r)]

    def summary(self):
        clauses = self.clause_rows()
        n = {v: 0 for v in (CONFORM, DEVIATE, NOT_OFFERED, NOT_RUN, ERRORED)}
        for r in clauses:
            n[self.verdicts[r]] += 1
        parts = ["%d conform" % n[CONFORM], "%d deviate" % n[DEVIATE],
                 "%d not offered" % n[NOT_OFFERED]]
        if n[NOT_RUN]:
            parts.append("%d not run" % n[NOT_RUN])
        if n[ERRORED]:
            parts.append("%d in error" % n[ERRORED])
        text = "%s: %s" % (self.vmm, ", ".join(parts))
        if self.errors:
            text += ", %d error%s" % (len(self.errors), "" if len(self.errors) == 1 else "s")
        text += " (%d clause%s, %d run%s: %s)." % (
            len(clauses), "" if len(clauses) == 1 else "s",
            len(self.runs), "" if len(self.runs) == 1 else "s",
            "; ".join(r.column for r in self.runs))
        dev = [r for r in clauses if self.verdicts[r] == DEVIATE]
        if dev:
            text += " Deviates from: %s." % ", ".join(dev)
        off = [r for r in clauses if self.verdicts[r] == NOT_OFFERED]
        if off:
            text += " Not offered: %s." % ", ".join(off)
        groups = self.group_rows()
        if groups:
            text += " Checks not tied to a clause: %s." % ", ".join(
                "%s %s" % (g, GROUP_WORDS[self.verdicts[g]]) for g in groups)
        total = {PASS: 0, FAIL: 0, SKIP: 0, ERROR: 0}
        for run in self.runs:
            for k, v in run.counts().items():
                total[k] += v
        text += " Tests: %d passed, %d failed, %d skipped" % (total[PASS], total[FAIL], total[SKIP])
        if total[ERROR]:
            text += ", %d in error" % total[ERROR]
        text += "."
        return text


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


def cell_text(tests, verdict):
    if verdict is None:
        return "—"
    if verdict == SKIP:
        reasons = sorted({t.text or "no reason given" for t in tests})
        return "skip: " + "; ".join(reasons)
    n = len(tests)
    extra = ""
    skipped = sum(1 for t in tests if t.verdict == SKIP)
    if verdict == PASS and skipped:
        extra = " (%d of %d skipped)" % (skipped, n)
    elif verdict in (FAIL, ERROR):
        bad = sum(1 for t in tests if t.verdict == verdict)
        extra = " (%d of %d)" % (bad, n) if n > 1 else ""
    return verdict + extra


def verdict_md(v):
    return "**FAIL**" if v == FAIL else ("**error**" if v == ERROR else v)


def fmt_time(t):
    return "" if t is None else "%.1f s" % t


def render_md(report, plot_notes):
    out = []
    w = out.append
    w("# Conformance: %s" % report.vmm)
    w("")
    w(report.summary())
    w("")
    w("Clauses are numbered as in `shared/notes/virtio-balloon-reference.md`: D-n device, "
      "R-n driver statements of virtio 1.2 §5.5. A clause conforms if every test carrying "
      "it passed wherever it ran, deviates if one failed, is not offered if all its tests "
      "were skipped because the VMM does not offer what they need.")
    w("")
    w("## Runs")
    w("")
    w("| run | driver | guest kernel | offers | passed | failed | skipped |")
    w("|---|---|---|---|---|---|---|")
    for run in report.runs:
        c = run.counts()
        w("| %s | %s | %s | %s | %d | %d | %d |" % (
            md(run.label), md(run.driver), md(run.kernel), md(" ".join(run.offers)) or "—",
            c[PASS], c[FAIL] + c[ERROR], c[SKIP]))
    w("")
    if report.errors or report.notes or plot_notes:
        w("## Errors and notes")
        w("")
        for e in report.errors:
            w("- **error** %s" % md(e))
        for n in report.notes + plot_notes:
            w("- note: %s" % md(n))
        w("")
    w("## Matrix")
    w("")
    w("| clause | verdict | " + " | ".join(md(r.column) for r in report.runs) + " |")
    w("|---|---|" + "---|" * len(report.runs))
    for row in report.rows:
        cells = []
        for run in report.runs:
            ts = report.cells[row].get(run.label, [])
            v = cell_verdict(ts)
            t = md(cell_text(ts, v))
            cells.append("**%s**" % t if v in (FAIL, ERROR) else t)
        w("| %s | %s | %s |" % (md(row), report.verdicts[row], " | ".join(cells)))
    w("")
    w("### Tests behind each row")
    w("")
    for row in report.rows:
        w("- **%s** (%s)" % (md(row), report.verdicts[row]))
        for run in report.runs:
            for t in report.cells[row].get(run.label, []):
                line = "  - %s: %s — %s" % (md(run.column), verdict_md(t.verdict), md(t.name))
                if t.verdict == SKIP:
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
            w("| %s | %s%s | %s | %s | %s |" % (
                md(t.file), md(t.name), (" " + plots) if plots else "",
                verdict_md(t.verdict), fmt_time(t.time), md(t.reason())))
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


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:110em}
h1{font-size:1.6em}h2{font-size:1.3em;margin-top:2em}h3{font-size:1.05em}
p.summary{font-size:1.1em;background:#f4f6f8;border-left:4px solid #555;padding:.8em}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #bbb;padding:.3em .5em;vertical-align:top;text-align:left}
th{background:#eee}
td.pass{background:#d4edda}td.FAIL{background:#f5b7b1;font-weight:bold}
td.skip{background:#e9ecef;color:#555}td.offered{background:#fff3cd;color:#555}
td.error{background:#ffd59e;font-weight:bold}td.none{color:#aaa;text-align:center}
td.conforms{background:#d4edda}td.deviates{background:#f5b7b1;font-weight:bold}
td.notoffered{background:#fff3cd}td.notrun{background:#e9ecef}
details summary{cursor:pointer}details ul{margin:.3em 0;padding-left:1.2em;font-weight:normal}
pre{margin:0;white-space:pre-wrap;font-size:.85em;max-width:60em}
li.error{color:#a00}.muted{color:#777}img.plot{max-width:100%;border:1px solid #ddd}
"""

CELL_CLASS = {PASS: "pass", FAIL: "FAIL", SKIP: "skip", ERROR: "error"}
ROW_CLASS = {CONFORM: "conforms", DEVIATE: "deviates", NOT_OFFERED: "notoffered",
             NOT_RUN: "notrun", ERRORED: "error"}


def h(text):
    return html.escape(text or "")


def render_html(report, outdir, plot_notes):
    out = []
    w = out.append
    w("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    w("<title>Conformance: %s</title><style>%s</style></head><body>" % (h(report.vmm), CSS))
    w("<h1>Conformance: %s</h1>" % h(report.vmm))
    w("<p class=\"summary\" id=\"summary\">%s</p>" % h(report.summary()))
    w("<p class=\"muted\">D-n and R-n number the device's and the driver's normative statements "
      "of virtio 1.2 §5.5 in the order the spec gives them. Open a cell to see the tests "
      "behind it.</p>")
    w("<h2>Runs</h2><table><tr><th>run</th><th>driver</th><th>guest kernel</th><th>offers</th>"
      "<th>passed</th><th>failed</th><th>skipped</th></tr>")
    for run in report.runs:
        c = run.counts()
        w("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td></tr>"
          % (h(run.label), h(run.driver), h(run.kernel), h(" ".join(run.offers)) or "—",
             c[PASS], c[FAIL] + c[ERROR], c[SKIP]))
    w("</table>")
    if report.errors or report.notes or plot_notes:
        w("<h2>Errors and notes</h2><ul>")
        for e in report.errors:
            w("<li class=\"error\"><pre>%s</pre></li>" % h(e))
        for n in report.notes + plot_notes:
            w("<li>%s</li>" % h(n))
        w("</ul>")
    w("<h2>Matrix</h2><table id=\"matrix\"><tr><th>clause</th><th>verdict</th>")
    for run in report.runs:
        w("<th>%s<br><span class=\"muted\">%s</span></th>" % (h(run.driver), h(run.kernel)))
    w("</tr>")
    for row in report.rows:
        rv = report.verdicts[row]
        w("<tr><th>%s</th><td class=\"%s\">%s</td>" % (h(row), ROW_CLASS[rv], h(rv)))
        for run in report.runs:
            ts = report.cells[row].get(run.label, [])
            v = cell_verdict(ts)
            if v is None:
                w("<td class=\"none\" data-verdict=\"none\">—</td>")
                continue
            cls = CELL_CLASS[v]
            if v == SKIP and all(t.not_offered for t in ts):
                cls = "skip offered"
            names = "\n".join("%s: %s" % (t.verdict, t.name) for t in ts)
            items = "".join("<li>%s — %s%s</li>" % (
                h(t.verdict), h(t.name),
                (": " + h(t.reason())) if t.verdict != PASS else "") for t in ts)
            w("<td class=\"%s\" data-verdict=\"%s\" title=\"%s\"><details><summary>%s</summary>"
              "<ul>%s</ul></details></td>" % (cls, h(v), h(names), h(cell_text(ts, v)), items))
        w("</tr>")
    w("</table>")
    for run in report.runs:
        w("<h2>Tests: %s</h2>" % h(run.column))
        w("<table><tr><th>file</th><th>test</th><th>verdict</th><th>time</th>"
          "<th>skip reason or failure</th></tr>")
        for t in run.tests:
            cls = CELL_CLASS[t.verdict]
            if t.not_offered:
                cls = "skip offered"
            plots = "".join(" <a href=\"#%s\">plot</a>" % h(plot_id(run, tr)) for tr in t.traces)
            w("<tr><td>%s</td><td>%s%s</td><td class=\"%s\">%s</td><td>%s</td><td><pre>%s</pre></td></tr>"
              % (h(t.file), h(t.name), plots, cls, h(t.verdict), fmt_time(t.time), h(t.reason())))
        w("</table>")
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
    report = Report(args.vmm, runs)

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
        "report.md": render_md(report, plot_notes),
        "report.html": render_html(report, out, plot_notes),
    }
    for name, text in files.items():
        tmp = os.path.join(out, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, os.path.join(out, name))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        sys.exit(2)
