#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Break mkreport.py (and soak.py, mkindex.py, clauses.py) on purpose, once per mutant,
and run test_mkreport.sh against each broken copy (MKREPORT=..., SOAK=...,
MKINDEX=...): every
mutant must make a check fail, and every check must fail under some
mutant, or that check proves nothing. A developer's tool, not part of
`make check`:

    selftests/report/mutants.py [MUTANT...]

A mutant whose text is no longer in its file stops the run: update it.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = open(os.path.join(HERE, "mkreport.py"), encoding="utf-8").read()
SOAK_SRC = open(os.path.join(HERE, "soak.py"), encoding="utf-8").read()
INDEX_SRC = open(os.path.join(HERE, "mkindex.py"), encoding="utf-8").read()
CLAUSES_SRC = open(os.path.join(HERE, "clauses.py"), encoding="utf-8").read()

# name: (text in mkreport.py, what replaces it)
M = {
 'errorpass': ('            if error is not None:\n', '            if False:\n'),
 'skipattr': ('text = (skipped.get("message") or node_text(skipped)).strip()', 'text = "".join(skipped.itertext()).strip()'),
 'offersnote': ('            if m and m.group(1) in self.offers:', '            if False:'),
 'begin': ('name = BEGIN_RE.sub("", tc.get("name", ""), count=1) if garbled else tc.get("name", "")', 'name = tc.get("name", "")'),
 'asks': ('    return "<th>%s%s</th>" % (h(row), "<br><span class=\\"muted\\">%s</span>" % h(what) if what else "")', '    return "<th>%s</th>" % h(row)'),
 'exit1': ('    write_files(out, files)\n    return 0\n', '    write_files(out, files)\n    return 1\n'),
 'notrun': ('    if kinds == {SKIP} and all(t.not_offered for t in skipped):', '    if kinds == {SKIP}:'),
 'range': ('clauses.extend("%s-%d" % (kind, n) for n in range(lo, hi + 1))', 'clauses.append(tag)'),
 'cellpass': ('    for k in (FAIL, INTERMITTENT, PASS, ERROR, NOT_REACHED, SKIP):', '    for k in (PASS, FAIL, INTERMITTENT, ERROR, NOT_REACHED, SKIP):'),
 'rowpass': ('''    if FAIL in kinds:
        return DEVIATE
    if INTERMITTENT in kinds:
        return INTERMITTENT
    if PASS in kinds:
        return CONFORM''', '''    if PASS in kinds:
        return CONFORM
    if INTERMITTENT in kinds:
        return INTERMITTENT
    if FAIL in kinds:
        return DEVIATE'''),
 'notoffered': ('r"\\bdoes not (offer|take)\\b"', 'r"\\bnever matches\\b"'),
 'sortsection': ('return (3, 0, tuple(int(x) for x in row[1:].split(".")))', 'return (-1, 0, tuple(int(x) for x in row[1:].split(".")))'),
 'sortnum': ('return (2, int(m.group(2)), "")', 'return (2, 0, m.group(2))'),
 'words': ('        elif w:\n            clauses.append("%s: %s" % (w.group(1).upper(), w.group(2)))', '        elif False:\n            pass'),
 'usage0': ('        sys.exit(2)', '        sys.exit(0)'),
 'usage2lines': ('print("%s: error: %s" % (PROG, e), file=sys.stderr)', 'print("%s: error:\\n%s" % (PROG, e), file=sys.stderr)'),
 'noplot': ('    if not traces:\n        return notes', '    if True:\n        return notes'),
 'gpcrash': ('    if not have:\n        notes.append', '    if not have:\n        raise SystemExit(1)\n        notes.append'),
 'teardown': ('                if m:\n', '                if False:\n'),
 'setupfile': ('''                errors.append("%s: setup_file failed, its tests did not run: %s"
                              % (file, why_lines(text)))''', '                pass'),
 'whytrace': ('        if BATS_TRACE_RE.match(line):\n            continue', '        if False:\n            continue'),
 'nocopy': ('            shutil.copyfile(j, dest)', '            pass'),
 'htmlverdict': ('% (cls, h(v.replace(" ", "-")), h(names),', '% (cls, "pass", h(names),'),
 'htmllink': ('<title>Conformance: %s</title>', '<link rel=\\"stylesheet\\" href=\\"x.css\\"><title>Conformance: %s</title>'),
 'htmlimg': ('src=\\"data:image/svg+xml;base64,%s\\"', 'src=\\"%s\\"'),
 'skipreason': ('        if self.verdict == SKIP:\n            return self.text or "no reason given"', '        if self.verdict == SKIP:\n            return ""'),
 'errcount': ('        return len(self.errors) + len(self.harness)', '        return len(self.harness)'),
 'offers': ('self.offers = self.meta.get("offers", "").split()', 'self.offers = []'),
 'hint': ('if b"</testsuites>" not in f.read():', 'if False:'),
 'lateusage': ('''    out = os.path.abspath(args.out)
''', '''    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True); open(os.path.join(out, "report.md"), "w").close()
'''),
 'nojunitok': ('            raise UsageError("%s: no junit/*.xml files" % path)', '            pass'),
 'nometaok': ('            raise UsageError("%s: no meta file" % path)\n        self.meta = parse_meta(meta_path)', '            pass\n        self.meta = parse_meta(meta_path) if os.path.isfile(meta_path) else {}'),
 'metaloose': ('            raise UsageError("%s:%d: not a key=value line: %s" % (path, n, line))', '            continue'),
 'nodirok': ('            raise UsageError("%s: no such run directory" % p)', '            pass'),
 'behind': ('line = "  - %s: %s — %s" %', 'line = "  - %s: %s: %s" %'),
 'summarymd': ('    for line in report.summary().splitlines():', '    for line in report.summary().splitlines()[1:]:'),
 'failtext': ('        return first_lines(self.text)', '        return ""'),
 'group': ('            groups.append("[%s]" % tag)', '            pass'),
 'untagged': ('        return [], ["untagged"]', '        return [], []'),
 'deviatelist': ('lines.append("%s: %s." % (head, ", ".join("%s (%s)" % (r, self.who(r)) for r in these)))', 'pass'),
 'svgtitle': ('title=gp_str(tr["title"])', 'title=gp_str("")'),
 # The verdict per assertion (checks.jsonl).
 'fallbackonly': ('        return any(r["kind"] in ("check", "harness", "end") for r in self.records)', '        return False'),
 'nointermittent': ('kind = PASS if f == 0 else (FAIL if f == n else INTERMITTENT)', 'kind = PASS if f == 0 else FAIL'),
 'testintermittent': ('t.outcome = "deviates" if t.f == t.n else "intermittent"', 't.outcome = "deviates"'),
 'rowintermittent': ('''    if INTERMITTENT in kinds:
        return INTERMITTENT
    if PASS in kinds:''', '''    if PASS in kinds:'''),
 'harnessdeviates': ('''        elif tr.harness:
            tr.outcome = ERROR''', '''        elif tr.harness:
            tr.outcome = FAIL'''),
 'outsidedeviates': ('''            tr.outcome = ERROR
            tr.why = "failed outside any assertion''', '''            tr.outcome = FAIL
            tr.why = "failed outside any assertion'''),
 'nametagpass': ('''        elif any(c in tr.not_reached for tr in ran):
            t.results[c] = Result(NOT_REACHED)''', '''        else:
            t.results[c] = Result(PASS)'''),
 'notreachedpass': ('            t.results[c] = Result(NOT_REACHED)', '            t.results[c] = Result(PASS)'),
 'laterpass': ('''                else:
                    tr.clauses.setdefault(c, PASS)''', '''                else:
                    tr.clauses[c] = PASS'''),
 'recordskip': ('        if tr.end == "skip" or (tr.end is None and junit == SKIP):', '        if tr.end is None and junit == SKIP:'),
 'alldevice': ('    return "driver" if row.startswith(("R-", "R: ")) else "device"', '    return "device"'),
 'bydriverall': ('row_verdict(self.items(r, d))', 'row_verdict(self.items(r))'),
 'devicebox': ('            for row in self.side_rows(which):\n                for run in self.runs:', '            for row in self.clause_rows():\n                for run in self.runs:'),
 'driverevidence': ('            w("  > %s" % md(first_lines(ev)))', '            pass'),
 'harnesstries': ('        self.harness = [(run, t, n, why) for run in runs for t, n, why in run.harness_errors()]', '        self.harness = []'),
 'harnessevidence': ('            tr.evidence = "\\n".join(r["evidence"] for r in tr.harness if r["evidence"])', '            pass'),
 'junitevidence': ('                tr.evidence = first_lines(final_text)', '                pass'),
 'nobeginstrip': ('            if stripped != t.name and (bats_file(t.file), stripped) in by_key:', '            if False:'),
 'keepfirst': ('            last[t.key] = t', '            last.setdefault(t.key, t)'),
 'orphans': ('''            self.errors.append("%s: \\"%s\\": in checks.jsonl but not in the JUnit (did bats die?)"
                               % (recs[0]["file"], name))''', '            pass'),
 'badline': ('''            errors.append("%s:%d: not a record: %s" % (os.path.basename(path), n, e))''', '            pass'),
 'notes': ('''    for r in tr.notes:
        out.append''', '''    for r in []:
        out.append'''),
 'headline2': ('        return "%s: %s (%s, %s: %s)." % (', '        return "%s:\\n%s (%s, %s: %s)." % ('),
 'jsonint': ('                if t.outcome == "intermittent" and name not in intermittent:', '                if False:'),
 'jsontries': ('"outcome": t.outcome, "tries": max(len(t.tries), 1)})', '"outcome": t.outcome, "tries": 1})'),
 'htmlintclass': ('              INTERMITTENT: "intermittent", NOT_REACHED: "notreached"}', '              INTERMITTENT: "FAIL", NOT_REACHED: "notreached"}'),
 # The VMM's version, the date, the tries behind a verdict, the rows' ids.
 'noversion': ('"vmm_version": self.version, "date": self.date,', '"date": self.date,'),
 'noheading': ('    w(md(report.heading()))\n', ''),
 'localdate': ('datetime.datetime.now(datetime.timezone.utc)', 'datetime.datetime.now()'),
 'versionempty': ('.split()) or "unknown"', '.split()) or ""'),
 'notries': ('            c.update(tries_json(self.tries(r)))\n', ''),
 'nodrivertries': ('                    c["by_driver_tries"] = counts', '                    pass'),
 'triesall': ('        given = [res for _, res in items if res and res.kind == kind]', '        given = [res for _, res in items if res]'),
 'rowid': ('w("<tr id=\\"%s\\">%s%s" % (h(clause_id(row)), clause_th(row),', 'w("<tr>%s%s" % (clause_th(row),'),
 'mdanchor': ('% (clause_id(row), md(row), row_verdict_text(report, row)))', '% ("", md(row), row_verdict_text(report, row)))'),
 'htmlanchor': ('            w("<div class=\\"test\\" id=\\"%s\\"><h3>%s: %s — %s</h3>" % (', '            w("<div class=\\"test\\"><h3>%s%s: %s — %s</h3>" % ('),
}

# soak.py's: name: (text in soak.py, what replaces it)
S = {
 'soakexit': ('    return 1 if short or flipped else 0', '    return 0'),
 'soakskip': ('             if seq.count("pass") < n and seq != ["skip"] * n}', '             if seq.count("pass") < n}'),
 'soakabsent': ('             if seq.count("pass") < n and', '             if None not in seq and seq.count("pass") < n and'),
 'soakflip': ('    flipped = {c: seq for c, seq in clauses.items() if len(set(seq)) > 1}', '    flipped = {}'),
 'soakorder': ('    paths = sorted(args.verdicts, key=natural)', '    paths = sorted(args.verdicts)'),
 'soakvmm': ('    if v.get("vmm") != vmm:\n        raise UsageError', '    if False:\n        raise UsageError'),
 'soakjson': ('        raise UsageError("%s: not JSON: %s" % (path, e))', '        raise SystemExit(1)'),
 'soakempty': ('        raise UsageError("no VERDICTS.json given")', '        pass'),
 'soakhistory': ('"runs": [{"path": p, "verdicts": v} for p, v in zip(paths, runs)]', '"runs": []'),
 'soakseq': ('" → ".join(v or "absent" for v in seq)', '" → ".join(v or "absent" for v in seq[-1:])'),
}

# mkindex.py's: name: (text in mkindex.py, what replaces it)
I = {
 'ixnotrun': ('        if cv is None:\n            return None, NOT_RUN', '        if cv is None:\n            return None, ""'),
 'ixcounts': ('            text += " (%d of %d)" % (fn["failed"], fn["tries"])', '            pass'),
 'ixbydriver': ('            verdict = (cv.get("by_driver") or {}).get(driver)', '            pass'),
 'ixrowsort': ('    return sorted({c for vm in vmms for c in vm.side_rows(side)}, key=clause_key)', '    return sorted({c for vm in vmms for c in vm.side_rows(side)})'),
 'ixcolsort': ('    for name in sorted(os.listdir(root)):', '    for name in sorted(os.listdir(root), reverse=True):'),
 'ixsides': ('if (cv.get("side") == "driver") == (side == "driver")]', 'if True]'),
 'ixhidden': ('        if name.startswith((".", "driver-")) or name == "index"', '        if name.startswith("driver-") or name == "index"'),
 'ixquiet': ('            print("%s: %s: skipped: no readable', '            (lambda *a, **k: None)("%s: %s: skipped: no readable'),
 'ixanchor': ('"#" + mk.clause_id(clause) if clause else ""', '""'),
 'ixrelative': ('        link = os.path.relpath(path, outdir).replace(os.sep, "/")', '        link = name'),
 'ixreadout': ('                or os.path.realpath(path) == os.path.realpath(outdir):', '                :'),
 'ixversion': ('        self.version = str(v.get("vmm_version") or "not recorded")', '        self.version = "not recorded"'),
 'ixharness': ('mk.plural(self.harness_errors, "harness error")', 'mk.plural(0, "harness error")'),
 'ixcolour': ('        mk.ROW_CLASS.get(verdict, ""), mk.h(verdict)', '        "", mk.h(verdict)'),
 'ixspan': ('"".join(vmm_th(vm, len(vm.drivers)) for vm in vmms if vm.drivers)', '"".join(vmm_th(vm) for vm in vmms if vm.drivers)'),
 'ixnoreport': ('    if not vmms:\n        raise', '    if False:\n        raise'),
 'ixtally': ('return [v for v in (self.cell(c, driver)[0] for c in self.side_rows(side)) if v in mk.ROW_VERDICTS]', 'return [mk.CONFORM for c in self.side_rows(side)]'),
 'ixworst': ('    for v in (mk.DEVIATE, mk.INTERMITTENT, mk.ERRORED, mk.CONFORM):', '    for v in (mk.CONFORM, mk.DEVIATE, mk.INTERMITTENT, mk.ERRORED):'),
 'ixrunsgroup': ('            drivers.setdefault(tuple(ks), []).append(d)', '            drivers.setdefault((d,), []).append(d)'),
 'ixnodir': ('    if not os.path.isdir(args.root):\n        raise', '    if False:\n        raise'),
}


# clauses.py's, reached through the copy beside a whole mkreport.py:
# name: (text in clauses.py, what replaces it)
C = {
 'clbare': ('    "R-38": "reporting: uses no reported page before the ack",\n', ''),
}


def mutant_file(tmp, name):
    """(variable, path) of the broken copy."""
    if name in M:
        src, var, old, new = (SRC, "MKREPORT") + M[name]
    elif name in S:
        src, var, old, new = (SOAK_SRC, "SOAK") + S[name]
    elif name in C:
        src, var, old, new = (CLAUSES_SRC, "MKREPORT") + C[name]
    else:
        src, var, old, new = (INDEX_SRC, "MKINDEX") + I[name]
    if src.count(old) != 1:
        sys.exit("mutant %s: its text is in %s's file %d times, not once" % (name, var, src.count(old)))
    # In a directory of its own, beside copies of what it imports.
    d = os.path.join(tmp, name)
    os.makedirs(d)
    for f in ("mkreport.py", "clauses.py"):
        shutil.copy(os.path.join(HERE, f), d)
    path = os.path.join(d, {"MKREPORT": "mkreport.py", "SOAK": "soak.py", "MKINDEX": "mkindex.py"}[var])
    if name in C:
        with open(os.path.join(d, "clauses.py"), "w", encoding="utf-8") as f:
            f.write(src.replace(old, new))
        return var, path
    with open(path, "w", encoding="utf-8") as f:
        f.write(src.replace(old, new))
    os.chmod(path, 0o755)
    return var, path


def main(names):
    failing_somewhere, quiet = set(), []
    checks = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or list(M) + list(S) + list(I) + list(C):
            var, path = mutant_file(tmp, name)
            r = subprocess.run([os.path.join(HERE, "test_mkreport.sh")], capture_output=True,
                               text=True, env=dict(os.environ, **{var: path}))
            fails = re.findall(r"^not ok (\d+)", r.stdout, re.M)
            plan = re.search(r"^1\.\.(\d+)", r.stdout, re.M)
            checks = max(checks, int(plan.group(1)) if plan else 0)
            failing_somewhere.update(int(n) for n in fails)
            print("%-12s %s" % (name, ("caught by checks " + " ".join(fails)) if fails else "NOT CAUGHT"))
            if not fails:
                quiet.append(name)
    ok = not quiet
    if not names:
        never = [n for n in range(1, checks + 1) if n not in failing_somewhere]
        if never:
            print("checks no mutant makes fail: %s" % " ".join(map(str, never)))
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
