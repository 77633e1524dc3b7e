#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Break mkreport.py on purpose, once per mutant, and run test_mkreport.sh
against each broken copy (MKREPORT=...): every mutant must make a check
fail, and every check must fail under some mutant, or that check proves
nothing. A developer's tool, not part of `make check`:

    selftests/report/mutants.py [MUTANT...]

A mutant whose text is no longer in mkreport.py stops the run: update it.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = open(os.path.join(HERE, "mkreport.py"), encoding="utf-8").read()

# name: (text in mkreport.py, what replaces it)
M = {
 'errorpass': ('            if error is not None:\n', '            if False:\n'),
 'skipattr': ('text = (skipped.get("message") or node_text(skipped)).strip()', 'text = "".join(skipped.itertext()).strip()'),
 'offersnote': ('            if m and m.group(1) in self.offers:', '            if False:'),
 'begin': ('name = BEGIN_RE.sub("", tc.get("name", ""), count=1) if garbled else tc.get("name", "")', 'name = tc.get("name", "")'),
 'exit1': ('    return 0\n\n\nif __name__', '    return 1\n\n\nif __name__'),
 'notrun': ('    if tests and all(t.not_offered for t in tests):', '    if tests:'),
 'range': ('clauses.extend("%s-%d" % (kind, n) for n in range(lo, hi + 1))', 'clauses.append(tag)'),
 'cellpass': ('''    if FAIL in vs:
        return FAIL
    if ERROR in vs:
        return ERROR
    if PASS in vs:
        return PASS
    return SKIP''', '''    if PASS in vs:
        return PASS
    if FAIL in vs:
        return FAIL
    if ERROR in vs:
        return ERROR
    return SKIP'''),
 'rowpass': ('''    if FAIL in vs:
        return DEVIATE
    if ERROR in vs:
        return ERRORED
    if PASS in vs:''', '''    if PASS in vs:
        return CONFORM
    if ERROR in vs:
        return ERRORED
    if FAIL in vs:'''),
 'notoffered': ('r"\\bdoes not (offer|take)\\b"', 'r"\\bnever matches\\b"'),
 'sort': ('return (2, int(m.group(2)), "")', 'return (-1, int(m.group(2)), "")'),
 'sortnum': ('return (2, int(m.group(2)), "")', 'return (2, 0, m.group(2))'),
 'words': ('        elif w:\n            clauses.append("D: " + w.group(1))', '        elif False:\n            pass'),
 'usage0': ('        sys.exit(2)', '        sys.exit(0)'),
 'usage2lines': ('print("%s: error: %s" % (PROG, e), file=sys.stderr)', 'print("%s: error:\\n%s" % (PROG, e), file=sys.stderr)'),
 'noplot': ('    if not traces:\n        return notes', '    if True:\n        return notes'),
 'gpcrash': ('    if not have:\n        notes.append', '    if not have:\n        raise SystemExit(1)\n        notes.append'),
 'teardown': ('                if m:\n', '                if False:\n'),
 'setupfile': ('''                errors.append("%s: setup_file failed, its tests did not run: %s"
                              % (file, first_lines(text, 3)))''', '                pass'),
 'nocopy': ('            shutil.copyfile(j, dest)', '            pass'),
 'htmlverdict': ('% (cls, h(v), h(names), h(cell_text(ts, v)), items))', '% (cls, "pass", h(names), h(cell_text(ts, v)), items))'),
 'htmllink': ('<title>Conformance: %s</title>', '<link rel=\\"stylesheet\\" href=\\"x.css\\"><title>Conformance: %s</title>'),
 'htmlimg': ('src=\\"data:image/svg+xml;base64,%s\\"', 'src=\\"%s\\"'),
 'skipreason': ('        if self.verdict == SKIP:\n            return self.text or "no reason given"', '        if self.verdict == SKIP:\n            return ""'),
 'errcount': ('        if self.errors:\n            text +=', '        if False:\n            text +='),
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
 'summarymd': ('    w(report.summary())\n    w("")\n    w("Clauses', '    w("")\n    w("Clauses'),
 'failtext': ('        return first_lines(self.text)', '        return ""'),
 'group': ('            groups.append("[%s]" % tag)', '            pass'),
 'untagged': ('        return [], ["untagged"]', '        return [], []'),
 'deviatelist': ('text += " Deviates from: %s." % ", ".join(dev)', 'pass'),
 'svgtitle': ('title=gp_str(tr["title"])', 'title=gp_str("")'),
}


def main(names):
    failing_somewhere, quiet = set(), []
    checks = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or M:
            old, new = M[name]
            if SRC.count(old) != 1:
                sys.exit("mutant %s: its text is in mkreport.py %d times, not once" % (name, SRC.count(old)))
            path = os.path.join(tmp, name + ".py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(SRC.replace(old, new))
            os.chmod(path, 0o755)
            r = subprocess.run([os.path.join(HERE, "test_mkreport.sh")], capture_output=True,
                               text=True, env=dict(os.environ, MKREPORT=path))
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
