#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every VMM's conformance verdict side by side: a row per clause, a column per VMM.

    mkindex.py [--out OUTDIR] REPORT_ROOT

REPORT_ROOT holds a directory per VMM with mkreport.py's report in it
(verdicts.json, report.md, report.html): build/report/ after
selftests/conformance.sh. OUTDIR (REPORT_ROOT by default) gets index.md and
index.html: the Device table (D-n, device duties in words, the transport's
sections; a column per VMM), the Driver table (R-n; a column per VMM and
driver), a Harness line per VMM, each cell linked to the clause in that
VMM's report. A directory without a readable verdicts.json is skipped with
one line on stderr; one whose name starts with '.', one named index and
OUTDIR are not looked at. README.md beside this file gives the formats.
Python 3 standard library only.

Exit status: 0 when the index is written; 2 on bad usage (REPORT_ROOT is
not a directory or holds no VMM's report), with one error line.
"""
import argparse
import json
import os
import sys

# The report's own order of clauses, colours and escaping.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mkreport as mk  # noqa: E402
from clauses import title  # noqa: E402

PROG = "mkindex.py"
NOT_RUN = "—"

# What each verdict word means, for the legend (the words are mkreport's).
LEGEND = ((mk.CONFORM, "every assertion of it passed"),
          (mk.DEVIATE, "an assertion of it failed on every try"),
          (mk.INTERMITTENT, "failed on some tries, passed on others"),
          (mk.NOT_OFFERED, "the VMM does not offer what its tests need"),
          (mk.NOT_EXERCISED, "no assertion of it ran to a verdict"),
          (mk.ERRORED, "only the harness broke where it was checked"),
          (NOT_RUN, "that VMM's run has no entry for it (not run)"))

INTRO = ("Who honours which clause of the virtio-balloon device (virtio 1.2 §5.5), "
         "by the verdicts of ballast's conformance suite: a row per clause, a column "
         "per VMM, each cell that VMM's verdict as its own report gives it, linked to "
         "the evidence (the tests behind the clause in that report). D-n and R-n number "
         "the device's and the driver's normative statements of §5.5 in the spec's "
         "order; \"D: words\" is a device duty named in words, § a section of the "
         "transport. The Device table judges the VMM; the Driver table judges the "
         "guest's driver (Linux's virtio_balloon, or ballast.ko) as it ran under each "
         "VMM. \"(2 of 2)\" counts the tries that failed the clause of those that "
         "checked it. The table of runs counts each VMM's verdicts, the device's and each "
         "driver's; the reports may come from runs of different dates and breadth, and "
         "it says which.")


class Vmm:
    """One VMM's report: its directory (the column's name) and its
    verdicts.json."""
    def __init__(self, name, link, v):
        self.name = name
        self.link = link          # its directory, relative to the index
        self.vmm = str(v.get("vmm") or name)
        self.version = str(v.get("vmm_version") or "not recorded")
        self.date = str(v.get("date") or "not recorded")
        self.runs = [r for r in v.get("runs") or [] if isinstance(r, dict)]
        self.clauses = {c: cv for c, cv in v["clauses"].items() if isinstance(cv, dict)}
        self.harness_errors = v.get("harness_errors", 0)
        self.intermittent = len(v.get("intermittent") or [])
        self.drivers = []
        for d in [r.get("driver") for r in self.runs] + [
                d for cv in self.clauses.values() for d in cv.get("by_driver") or {}]:
            if d and d not in self.drivers:
                self.drivers.append(d)

    def href(self, ext, clause=None):
        """Its report.md or report.html, at CLAUSE's row."""
        return "%s/report.%s%s" % (self.link, ext, "#" + mk.clause_id(clause) if clause else "")

    def cell(self, clause, driver=None):
        """(verdict or None, text): the VMM's verdict on CLAUSE (DRIVER's
        under it, for the driver's clauses), with the tries behind it
        where verdicts.json has them; (None, "—") where it has none."""
        cv = self.clauses.get(clause)
        if cv is None:
            return None, NOT_RUN
        verdict, fn = cv.get("verdict"), cv
        if driver is not None:
            verdict = (cv.get("by_driver") or {}).get(driver)
            fn = (cv.get("by_driver_tries") or {}).get(driver) or {}
        if not verdict:
            return None, NOT_RUN
        text = str(verdict)
        if isinstance(fn.get("failed"), int) and isinstance(fn.get("tries"), int):
            text += " (%d of %d)" % (fn["failed"], fn["tries"])
        return verdict, text

    def runs_text(self):
        """"DRIVERS on KERNELS", one part per set of kernels: one part
        where every driver ran on the same kernels, as make conformance
        runs them."""
        kernels = {}
        for r in self.runs:
            kernels.setdefault(str(r.get("driver", "?")), []).append(str(r.get("kernel", "?")))
        drivers = {}
        for d, ks in kernels.items():
            drivers.setdefault(tuple(ks), []).append(d)
        return "; ".join("%s on %s" % (", ".join(ds), ", ".join(ks))
                         for ks, ds in drivers.items()) or "none recorded"

    def verdicts(self, side, driver=None):
        """Its verdicts on SIDE's rows (DRIVER's under it, for the
        driver's), those of the report's words only."""
        return [v for v in (self.cell(c, driver)[0] for c in self.side_rows(side)) if v in mk.ROW_VERDICTS]

    def side_rows(self, side):
        """Its clauses of SIDE ("device": every side but the driver's)."""
        return [c for c, cv in self.clauses.items() if (cv.get("side") == "driver") == (side == "driver")]

    def counts(self, driver=None):
        """(the worst verdict, "N conform, N deviate, ..."): the device's
        verdicts, or DRIVER's, counted as the report's headline counts them."""
        vs = self.verdicts("driver", driver) if driver else self.verdicts("device")
        return worst(vs), mk.Report.counts_text(vs)

    def harness_text(self):
        return "%s, %s" % (mk.plural(self.harness_errors, "harness error"),
                            mk.plural(self.intermittent, "intermittent test"))


def worst(verdicts):
    """The verdict a row of counts is coloured by: deviates, then
    intermittent, then error, else conforms (none when there are none)."""
    for v in (mk.DEVIATE, mk.INTERMITTENT, mk.ERRORED, mk.CONFORM):
        if v in verdicts:
            return v
    return None


def read_reports(root, outdir):
    """A Vmm for each directory of ROOT with a readable verdicts.json, by
    name; one line on stderr for each without."""
    vmms = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        # driver-*: a driver's report (mkdriver.py), not a VMM's.
        if name.startswith((".", "driver-")) or name == "index" or not os.path.isdir(path) \
                or os.path.realpath(path) == os.path.realpath(outdir):
            continue
        try:
            with open(os.path.join(path, "verdicts.json"), encoding="utf-8") as f:
                v = json.load(f)
            if not isinstance(v, dict) or not isinstance(v.get("clauses"), dict):
                raise ValueError("it has no clauses")
        except OSError as e:
            print("%s: %s: skipped: no readable verdicts.json (%s)" % (PROG, path, e.strerror or e),
                  file=sys.stderr)
            continue
        except ValueError as e:
            print("%s: %s: skipped: verdicts.json is not mkreport.py's: %s" % (PROG, path, e),
                  file=sys.stderr)
            continue
        link = os.path.relpath(path, outdir).replace(os.sep, "/")
        vmms.append(Vmm(name, link, v))
    return vmms


def clause_key(clause):
    try:
        return mk.row_key(clause)
    except ValueError:
        return (4, 0, clause)


def side_rows(vmms, side):
    """The clauses of SIDE ("device": every side but the driver's) any
    VMM has, in the report's order."""
    return sorted({c for vm in vmms for c in vm.side_rows(side)}, key=clause_key)


def driver_columns(vmms):
    return [(vm, d) for vm in vmms for d in vm.drivers]


# ---------------------------------------------------------------- Markdown

def md_cell(vm, clause, driver=None):
    verdict, text = vm.cell(clause, driver)
    if verdict is None:
        return text
    text = "[%s](%s)" % (mk.md(text), vm.href("md", clause))
    return "**%s**" % text if verdict in (mk.DEVIATE, mk.ERRORED) else text


def render_md(vmms):
    out = []
    w = out.append
    w("# virtio-balloon conformance: every VMM")
    w("")
    w(mk.md(INTRO))
    w("")
    w("; ".join("**%s**: %s" % (mk.md(word), mk.md(what)) for word, what in LEGEND) + ".")
    w("")
    w("## Runs")
    w("")
    w("| VMM | version | run on (UTC) | device | driver | runs: drivers on guest kernels | report |")
    w("|---|---|---|---|---|---|---|")
    for vm in vmms:
        w("| %s | %s | %s | %s | %s | %s | [report.md](%s) |" % (
            mk.md(vm.name), mk.md(vm.version), mk.md(vm.date), mk.md(vm.counts()[1]),
            mk.md("; ".join("%s: %s" % (d, vm.counts(d)[1]) for d in vm.drivers) or NOT_RUN),
            mk.md(vm.runs_text()), vm.href("md")))
    w("")
    w("## Device")
    w("")
    w("| clause | what it asks | " + " | ".join(mk.md(vm.name) for vm in vmms) + " |")
    w("|---|---|" + "---|" * len(vmms))
    for c in side_rows(vmms, "device"):
        w("| %s | %s | %s |" % (mk.md(c), mk.md(title(c)), " | ".join(md_cell(vm, c) for vm in vmms)))
    w("")
    w("## Driver")
    w("")
    cols = driver_columns(vmms)
    w("| clause | what it asks | " + " | ".join("%s / %s" % (mk.md(vm.name), mk.md(d)) for vm, d in cols) + " |")
    w("|---|---|" + "---|" * len(cols))
    for c in side_rows(vmms, "driver"):
        w("| %s | %s | %s |" % (mk.md(c), mk.md(title(c)), " | ".join(md_cell(vm, c, d) for vm, d in cols)))
    w("")
    w("## Harness")
    w("")
    for vm in vmms:
        w("- %s: %s ([report](%s))." % (mk.md(vm.name), vm.harness_text(), vm.href("md") + "#harness"))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- HTML

CSS = mk.CSS + """
td a{color:inherit;text-decoration:none;display:block}td a:hover{text-decoration:underline}
th.vmm{text-align:center}#legend td{font-weight:normal;text-align:left;color:#222}
"""


def html_cell(vm, clause, driver=None):
    verdict, text = vm.cell(clause, driver)
    if verdict is None:
        return "<td class=\"none\" data-verdict=\"none\">%s</td>" % mk.h(text)
    return "<td class=\"%s\" data-verdict=\"%s\"><a href=\"%s\">%s</a></td>" % (
        mk.ROW_CLASS.get(verdict, ""), mk.h(verdict), mk.h(vm.href("html", clause)), mk.h(text))


def counts_td(counts, label="", attrs=""):
    """A cell of Vmm.counts() (LABEL first), coloured by their worst verdict."""
    verdict, text = counts
    return "<td class=\"%s\" data-verdict=\"%s\"%s>%s</td>" % (
        mk.ROW_CLASS.get(verdict, "none"), mk.h(verdict or "none"), attrs, mk.h(label + text))


def vmm_th(vm, colspan=1):
    return "<th class=\"vmm\"%s title=\"%s\"><a href=\"%s\">%s</a></th>" % (
        " colspan=\"%d\"" % colspan if colspan > 1 else "",
        mk.h("%s, run on %s" % (vm.version, vm.date)), mk.h(vm.href("html")), mk.h(vm.name))


def render_html(vmms):
    out = []
    w = out.append
    w("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    w("<title>virtio-balloon conformance: every VMM</title><style>%s</style></head><body>" % CSS)
    w("<h1>virtio-balloon conformance: every VMM</h1>")
    w("<p class=\"summary\">%s</p>" % mk.h(INTRO))
    w("<table id=\"legend\"><tr>%s</tr></table>" % "".join("<td class=\"%s\"><b>%s</b>: %s</td>" % (
        "none" if word == NOT_RUN else mk.ROW_CLASS[word], mk.h(word), mk.h(what))
        for word, what in LEGEND))
    w("<h2>Runs</h2><table id=\"runs\"><tr><th>VMM</th><th>version</th><th>run on (UTC)</th>"
      "<th>device</th><th>driver</th><th>runs: drivers on guest kernels</th></tr>")
    for vm in vmms:
        # A row per driver, its counts coloured on their own; the VMM's
        # cells span them.
        span = " rowspan=\"%d\"" % len(vm.drivers) if len(vm.drivers) > 1 else ""
        drivers = [counts_td(vm.counts(d), d + ": ") for d in vm.drivers] or [counts_td((None, NOT_RUN))]
        w("<tr data-vmm=\"%s\"><th%s><a href=\"%s\">%s</a></th><td%s>%s</td><td%s>%s</td>%s%s<td%s>%s</td></tr>" % (
            mk.h(vm.name), span, mk.h(vm.href("html")), mk.h(vm.name), span, mk.h(vm.version), span, mk.h(vm.date),
            counts_td(vm.counts(), attrs=span), drivers[0], span, mk.h(vm.runs_text())))
        w("".join("<tr data-vmm=\"%s\">%s</tr>" % (mk.h(vm.name), td) for td in drivers[1:]))
    w("</table>")
    w("<h2>Device</h2><table id=\"device\"><tr><th>clause</th>%s</tr>" % "".join(vmm_th(vm) for vm in vmms))
    for c in side_rows(vmms, "device"):
        w("<tr>%s%s</tr>" % (mk.clause_th(c), "".join(html_cell(vm, c) for vm in vmms)))
    w("</table>")
    cols = driver_columns(vmms)
    w("<h2>Driver</h2><table id=\"driver\"><tr><th rowspan=\"2\">clause</th>%s</tr><tr>%s</tr>" % (
        "".join(vmm_th(vm, len(vm.drivers)) for vm in vmms if vm.drivers),
        "".join("<th title=\"%s\">%s</th>" % (mk.h(mk.driver_label(d)), mk.h(d)) for _, d in cols)))
    for c in side_rows(vmms, "driver"):
        w("<tr>%s%s</tr>" % (mk.clause_th(c), "".join(html_cell(vm, c, d) for vm, d in cols)))
    w("</table>")
    w("<h2>Harness</h2><ul>")
    for vm in vmms:
        w("<li%s data-vmm=\"%s\">%s: %s (<a href=\"%s\">report</a>).</li>" % (
            " class=\"error\"" if vm.harness_errors or vm.intermittent else "", mk.h(vm.name), mk.h(vm.name), mk.h(vm.harness_text()), mk.h(vm.href("html") + "#harness")))
    w("</ul></body></html>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- main

def main(argv):
    ap = mk.Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", help="where index.md and index.html go (default: REPORT_ROOT)")
    ap.add_argument("root", metavar="REPORT_ROOT")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.root):
        raise mk.UsageError("%s: not a directory" % args.root)
    out = args.out or args.root
    vmms = read_reports(args.root, out)
    if not vmms:
        raise mk.UsageError("%s: no VMM's report (DIR/verdicts.json) in it" % args.root)
    os.makedirs(out, exist_ok=True)
    mk.write_files(out, {"index.md": render_md(vmms), "index.html": render_html(vmms)})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except mk.UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        sys.exit(2)
