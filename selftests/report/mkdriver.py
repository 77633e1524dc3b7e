#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The conformance verdict for one balloon driver, from the driver suite's
runs on ballast-vmm with its referee on (selftests/conformance-driver.sh).

    mkdriver.py --driver NAME [--vmm-version TEXT] [--date WHEN] --out OUTDIR RUNDIR...

Each RUNDIR is one bats run of the driver under one guest kernel, as
mkreport.py reads it (meta, junit/, checks.jsonl); its parsing and its
judging per assertion are mkreport's. The subject here is the driver: the
device is ballast-vmm, trusted as the referee. So only the R-n clauses get
verdicts, per guest kernel; a failed assertion that names no R-n clause
(a D-n one, the control plane) is an error of the referee or the harness,
never the driver's deviation, as is every harness error. OUTDIR gets
report.md, report.html, summary.txt and verdicts.json. Exit status 0 when
written; 2 on bad usage, with one line.
"""
import datetime
import html
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mkreport as mk  # noqa: E402

PROG = "mkdriver.py"
# The notes helpers/driver.bash keeps with a failed test.
EVIDENCE_NOTES = ("referee log", "guest kernel log")


def driver_side(tags):
    """Whether an assertion's tags name a driver duty (R-n)."""
    return any(mk.side(c) == "driver" for c in mk.parse_tags("[%s]" % tags)[0])


class DriverRun(mk.Run):
    def filter_records(self, records):
        """A failed check that names no R-n clause broke the referee (the
        trusted device) or the harness: a harness record, so its try is
        an error; a passed one gives the driver nothing and is dropped."""
        out = []
        for r in records:
            if r["kind"] == "check" and not driver_side(r["tags"]):
                if r["result"] != "fail":
                    continue
                r = dict(r, kind="harness", result="fail",
                         what="not the driver's (the referee or the harness): [%s] %s"
                         % (r["tags"] or "no clause", r["what"]))
            out.append(r)
        return out


class DriverReport:
    def __init__(self, driver, runs, version, date):
        self.driver, self.runs, self.version, self.date = driver, runs, version, date
        rows = {}
        for run in runs:
            for t in run.tests:
                for r in t.rows:
                    if mk.side(r) == "driver":
                        rows.setdefault(r, {}).setdefault(run.label, []).append((t, t.results.get(r)))
        self.rows = sorted(rows, key=mk.row_key)
        self.cells = rows
        # A clause no test of a kernel named or asserted: not exercised there.
        self.verdicts = {r: {run.label: mk.row_verdict(rows[r].get(run.label, [])) for run in runs}
                         for r in self.rows}
        self.errors = ["%s: %s" % (run.label, e) for run in runs for e in run.errors]
        self.harness = [(run, t, n, why) for run in runs for t, n, why in run.harness_errors()]

    def name(self):
        return mk.driver_label(self.driver)

    def kernel_line(self, run):
        n = {v: 0 for v in mk.ROW_VERDICTS}
        for r in self.rows:
            n[self.verdicts[r][run.label]] += 1
        parts = ["%d conform" % n[mk.CONFORM], "%d deviate" % n[mk.DEVIATE]]
        if n[mk.INTERMITTENT]:
            parts.append("%d intermittent" % n[mk.INTERMITTENT])
        parts.append("%d not exercised" % (n[mk.NOT_EXERCISED] + n[mk.NOT_OFFERED]))
        if n[mk.ERRORED]:
            parts.append("%d in error" % n[mk.ERRORED])
        return "Linux %s %s: %s" % (run.kernel, run.driver, ", ".join(parts))

    def n_harness(self):
        return len(self.errors) + len(self.harness)

    def summary(self):
        lines = [self.kernel_line(run) for run in self.runs]
        for v, head in ((mk.DEVIATE, "Deviates from"), (mk.INTERMITTENT, "Intermittent")):
            these = ["%s (%s)" % (r, ", ".join(run.kernel for run in self.runs
                                              if self.verdicts[r][run.label] == v))
                     for r in self.rows if v in self.verdicts[r].values()]
            if these:
                lines.append("%s: %s." % (head, ", ".join(these)))
        lines.append("Harness and referee: %s." % (
            mk.plural(self.n_harness(), "error") if self.n_harness() else "no errors"))
        return "\n".join(lines)

    def findings(self):
        """(row, run, test, Result) of each deviation, then each intermittent."""
        out = []
        for kind in (mk.FAIL, mk.INTERMITTENT):
            for row in self.rows:
                for run in self.runs:
                    for t, res in self.cells[row].get(run.label, []):
                        if res and res.kind == kind:
                            out.append((row, run, t, res))
        return out

    def intermittent(self):
        out = []
        for run in self.runs:
            for t in run.tests:
                name = "%s: %s" % (t.file, t.name)
                if t.outcome == "intermittent" and name not in out:
                    out.append(name)
        return out

    def verdicts_json(self):
        return {"subject": "driver", "driver": self.driver, "vmm": "ballast-vmm",
                "vmm_version": self.version, "date": self.date,
                "runs": [{"label": r.label, "kernel": r.kernel, "line": self.kernel_line(r)}
                         for r in self.runs],
                "clauses": {r: {"by_kernel": self.verdicts[r]} for r in self.rows},
                "intermittent": self.intermittent(),
                "harness_errors": self.n_harness()}


def evidence(t, row):
    """The failed check's readings, then the notes helpers/driver.bash
    kept from the same test: the referee's log and the guest kernel's."""
    parts = []
    ev = mk.failed_evidence(t, row)
    if ev:
        parts.append(("the failed assertion's readings", ev))
    for tr in t.tries:
        for r in tr.notes:
            if r["what"].startswith(EVIDENCE_NOTES):
                parts.append(("try %d: %s" % (tr.number, r["what"]), r["evidence"] or "(empty)"))
    return parts


def cell_words(report, row, run):
    v = report.verdicts[row][run.label]
    if v in (mk.DEVIATE, mk.INTERMITTENT):
        given = [res for _, res in report.cells[row].get(run.label, [])
                 if res and res.kind == {mk.DEVIATE: mk.FAIL}.get(v, mk.INTERMITTENT)]
        f, n = sum(r.f for r in given), sum(r.n for r in given)
        return "%s (%d of %d)" % (v, f, n)
    return v


def render_md(report):
    out = []
    w = out.append
    w("# Driver conformance: %s" % report.name())
    w("")
    w("On ballast-vmm with its referee on (the device is trusted; the driver is judged). "
      "VMM version: %s. Run on %s (UTC)." % (mk.md(report.version), mk.md(report.date)))
    w("")
    for line in report.summary().splitlines():
        w("- " + mk.md(line))
    w("")
    w("## Driver duties (R-n) per guest kernel")
    w("")
    w("| clause | " + " | ".join(mk.md(r.kernel) for r in report.runs) + " |")
    w("|---|" + "---|" * len(report.runs))
    for row in report.rows:
        cells = []
        for run in report.runs:
            t = cell_words(report, row, run)
            cells.append("**%s**" % t if t.startswith((mk.DEVIATE, mk.ERRORED)) else t)
        w("| %s | %s |" % (row, " | ".join(cells)))
    w("")
    w("## Deviations")
    w("")
    found = report.findings()
    if not found:
        w("None.")
    for row, run, t, res in found:
        w("### %s, Linux %s: %s" % (row, mk.md(run.kernel), res.text()))
        w("")
        w("%s — %s: %s" % (mk.md(res.what or "the test failed"), mk.md(t.file), mk.md(t.name)))
        w("")
        for head, text in evidence(t, row):
            w("%s:" % mk.md(head))
            w("")
            w("```")
            w(text.replace("```", "'''"))
            w("```")
            w("")
    w("## Harness and referee")
    w("")
    w("Errors of the harness or of ballast-vmm (the referee): never the driver's deviation.")
    w("")
    if not report.n_harness():
        w("None.")
    for e in report.errors:
        w("- **error** %s" % mk.md(e))
    for run, t, n, why in report.harness:
        w("- **error** %s: %s: %s, try %d: %s" % (mk.md(run.kernel), mk.md(t.file), mk.md(t.name), n,
                                                  mk.md(mk.first_lines(why))))
    w("")
    w("## Tests")
    w("")
    w("| guest kernel | file | test | outcome | skip reason or failure |")
    w("|---|---|---|---|---|")
    for run in report.runs:
        for t in run.tests:
            w("| %s | %s | %s | %s | %s |" % (mk.md(run.kernel), mk.md(t.file), mk.md(t.name),
                                              mk.verdict_md(mk.outcome_text(t)), mk.md(mk.test_reason(t))))
    return "\n".join(out) + "\n"


def render_html(report):
    e = html.escape
    cls = {mk.CONFORM: "pass", mk.DEVIATE: "FAIL", mk.INTERMITTENT: "intermittent",
           mk.ERRORED: "error", mk.NOT_EXERCISED: "skip", mk.NOT_OFFERED: "skip"}
    out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">",
           "<title>Driver conformance: %s</title>" % e(report.name()),
           "<style>%s</style></head><body>" % mk.CSS,
           "<h1>Driver conformance: %s</h1>" % e(report.name()),
           "<p>On ballast-vmm with its referee on (the device is trusted; the driver is judged). "
           "VMM version: %s. Run on %s (UTC).</p>" % (e(report.version), e(report.date)),
           "<ul class=\"summary\">"]
    out += ["<li>%s</li>" % e(line) for line in report.summary().splitlines()]
    out += ["</ul>", "<h2>Driver duties (R-n) per guest kernel</h2>", "<table><tr><th>clause</th>"]
    out += ["<th>%s</th>" % e(r.kernel) for r in report.runs]
    out.append("</tr>")
    for row in report.rows:
        out.append("<tr id=\"%s\">%s" % (mk.clause_id(row), mk.clause_th(row)))
        for run in report.runs:
            v = report.verdicts[row][run.label]
            out.append("<td class=\"%s\" data-verdict=\"%s\" data-kernel=\"%s\">%s</td>" % (
                cls[v], e(v), e(run.label), e(cell_words(report, row, run))))
        out.append("</tr>")
    out += ["</table>", "<h2>Deviations</h2>"]
    found = report.findings()
    if not found:
        out.append("<p>None.</p>")
    for row, run, t, res in found:
        out.append("<div class=\"box deviates\" data-clause=\"%s\" data-kernel=\"%s\">" % (e(row), e(run.label)))
        out.append("<h3>%s, Linux %s: %s</h3>" % (e(row), e(run.kernel), e(res.text())))
        out.append("<p>%s — %s: %s</p>" % (e(res.what or "the test failed"), e(t.file), e(t.name)))
        for head, text in evidence(t, row):
            out.append("<p>%s:</p><pre>%s</pre>" % (e(head), e(text)))
        out.append("</div>")
    out += ["<h2>Harness and referee</h2>",
            "<p>Errors of the harness or of ballast-vmm (the referee): never the driver's deviation.</p>",
            "<ul id=\"harness\">"]
    out += ["<li class=\"error\">%s</li>" % e(x) for x in report.errors]
    out += ["<li class=\"error\">%s: %s: %s, try %d: <pre>%s</pre></li>" % (
        e(run.kernel), e(t.file), e(t.name), n, e(why)) for run, t, n, why in report.harness]
    out += ["</ul>", "<h2>Tests</h2>", "<table><tr><th>guest kernel</th><th>file</th><th>test</th>"
            "<th>outcome</th><th>skip reason or failure</th></tr>"]
    for run in report.runs:
        for t in run.tests:
            out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td data-outcome=\"%s\">%s</td><td>%s</td></tr>" % (
                e(run.kernel), e(t.file), e(t.name), e(t.outcome), e(mk.outcome_text(t)),
                e(mk.test_reason(t))))
    out += ["</table>", "</body></html>"]
    return "\n".join(out) + "\n"


def main(argv):
    ap = mk.Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--driver", required=True, choices=("virtio_balloon", "ballast.ko"))
    ap.add_argument("--vmm-version", help="ballast-vmm's version, one line (default: unknown)")
    ap.add_argument("--date", help="when the run was (default: now, UTC, to the minute)")
    ap.add_argument("--out", required=True, help="the report's directory")
    ap.add_argument("rundirs", nargs="*", metavar="RUNDIR")
    args = ap.parse_args(argv)
    if not args.rundirs:
        raise mk.UsageError("no RUNDIR given")
    out = os.path.abspath(args.out)
    for p in args.rundirs:
        if not os.path.isdir(p):
            raise mk.UsageError("%s: no such run directory" % p)
        if os.path.abspath(p) == out:
            raise mk.UsageError("%s: the output directory cannot be a RUNDIR" % p)
    runs = [DriverRun(p, l) for p, l in zip(args.rundirs, mk.labels_for(args.rundirs))]
    for run in runs:
        if run.driver != args.driver:
            raise mk.UsageError("%s: meta says driver=%s, not %s" % (run.path, run.driver, args.driver))
    date = args.date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    version = " ".join((args.vmm_version or "").split()) or "unknown"
    report = DriverReport(args.driver, runs, version, date)
    os.makedirs(out, exist_ok=True)
    mk.write_files(out, {
        "summary.txt": report.summary() + "\n",
        "verdicts.json": json.dumps(report.verdicts_json(), indent=1, ensure_ascii=False) + "\n",
        "report.md": render_md(report),
        "report.html": render_html(report),
    })
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except mk.UsageError as err:
        print("%s: error: %s" % (PROG, err), file=sys.stderr)
        sys.exit(2)
