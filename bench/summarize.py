#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make bench's summary: the raw records bench/run.sh left in RAW_DIR
(runs.txt, one KEY=VALUE line a run, and a CSV of samples a resize) become
OUT_DIR/results.json (one object a measurement), results.md (the table to
read at a glance, each goal met or missed with its figure) and one plot per
VMM of an inflate (Rss, target and `actual` against time).

    summarize.py RAW_DIR OUT_DIR

Ratios are ballast-vmm / QEMU of the medians. Nothing is asserted: a
benchmark reports; a missed goal is said, with the figure.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys

BASE, PEER = "ballast-vmm", "qemu"
LINUX = "virtio_balloon"

# name: (kind, how to get one value from a record, unit, what it is)
METRICS = {
    "inflate_s": ("inflate", lambda r: r["t_actual_s"], "s",
                  "balloon command to `actual` at the target"),
    "inflate_e2e_s": ("inflate", lambda r: max(r["t_actual_s"], r["t_rss_s"]), "s",
                      "balloon command to `actual` at the target and the VMM's Rss settled"),
    "rss_released_mib": ("inflate", lambda r: r["rss_before_mib"] - r["rss_after_mib"], "MiB",
                         "Rss the host got back"),
    "vmm_cpu_ms_per_gib": ("inflate", lambda r: net_cpu(r, "cpu_ms", "base_cpu_ms_per_s"), "ms/GiB",
                           "VMM CPU, every thread, guest mode included (the guest's driver runs "
                           "there), idle rate taken off"),
    "device_cpu_ms_per_gib": ("inflate", lambda r: net_cpu(r, "dev_ms", "base_dev_ms_per_s"), "ms/GiB",
                              "VMM CPU outside guest mode (device model, exits, control plane), "
                              "every thread, idle rate taken off"),
    "madvise_per_gib": ("inflate", lambda r: per_gib(r, r.get("madvise_calls")), "calls/GiB",
                        "release calls (madvise, fallocate) per GiB"),
    "ko_alloc_ms_per_gib": ("inflate", lambda r: per_gib(r, ms(r.get("ko_alloc_us"))), "ms/GiB",
                            "ballast.ko: the guest allocating the pages (debugfs inflate_alloc_us)"),
    "ko_device_ms_per_gib": ("inflate", lambda r: per_gib(r, ms(r.get("ko_xfer_us"))), "ms/GiB",
                             "ballast.ko: from adding the requests to the device's ack, the kick's "
                             "exit included (inflate_xfer_us)"),
    "ko_between_ms_per_gib": ("inflate", lambda r: per_gib(r, between_rounds(r)), "ms/GiB",
                              "ballast.ko: command to `actual` outside its rounds: the interrupt's "
                              "way to the worker, config reads and writes, the sampler's polling"),
    "deflate_s": ("deflate", lambda r: r["t_actual_s"], "s", "command to `actual` at 0"),
    "boot_s": ("boot", lambda r: r["t_s"], "s", "VMM started to the guest's agent answering"),
    "boot_before_kernel_s": ("boot", lambda r: r["to_uptime_s"] - r["guest_up_s"], "s",
                             "harness starting the VMM to the guest kernel's clock starting "
                             "(start path, VMM set-up, firmware, kernel load; +-0.1 s)"),
    "boot_vmm_setup_ms": ("boot", lambda r: r.get("vmm_setup_ms"), "ms",
                          "of that, the set-up the VMM logs itself (ballast-vmm: memory, kernel "
                          "load, vCPUs)"),
    "fpr_s": ("fpr", lambda r: max(r["t_rss_s"] - r["gap_s"], 0.0), "s",
              "guest frees 1 GiB to Rss settled >= 768 MiB lower (free page reporting; +-0.2 s)"),
}

# (ratio name, metric, numerator config, denominator config, goal, what)
GOALS = [
    ("device_cpu_per_gib_ratio", "device_cpu_ms_per_gib", (LINUX, 0), (LINUX, 0), 1 / 3,
     "device CPU per GiB inflated"),
    ("madvise_per_gib_ratio", "madvise_per_gib", (LINUX, 0), (LINUX, 0), 1 / 50,
     "release calls per GiB"),
    ("inflate_ratio", "inflate_e2e_s", (LINUX, 0), (LINUX, 0), 0.85,
     "inflate end to end, Linux's driver"),
    ("ballastko_b32_ratio", "inflate_e2e_s", ("ballast", 32), (LINUX, 0), 1 / 5,
     "ballast.ko batch 32 on ballast-vmm vs Linux's driver on QEMU"),
    ("ballastko_b1_ratio", "inflate_e2e_s", ("ballast", 1), (LINUX, 0), None,
     "ballast.ko batch 1 on ballast-vmm vs Linux's driver on QEMU"),
    ("deflate_ratio", "deflate_s", (LINUX, 0), (LINUX, 0), None, "deflate to 0, Linux's driver"),
]


def net_cpu(r, key, rate):
    """CPU up to the end of the work less the idle rate over that time, per GiB."""
    done = max(r["t_actual_s"], r["t_rss_s"])
    return per_gib(r, max(r[key] - r.get(rate, 0.0) * done, 0.0))


def ms(us):
    return None if us is None else us / 1000


def between_rounds(r):
    if r.get("ko_us") is None:
        return None
    return max(r["t_actual_s"] * 1000 - r["ko_us"] / 1000, 0.0)


def per_gib(r, value):
    if value is None:
        return None
    return value * 1024 / r["size_mib"]


def load(raw):
    records = []
    with open(os.path.join(raw, "runs.txt")) as f:
        for line in f:
            rec = {}
            for tok in line.split():
                key, _, val = tok.partition("=")
                try:
                    rec[key] = float(val) if "." in val or val.isdigit() else val
                except ValueError:
                    rec[key] = val
            if "kind" in rec:
                records.append(rec)
    return records


def config(r):
    """What a record's measurement is grouped by, besides the VMM."""
    if r["kind"] == "boot":
        return {"cpus": int(r["cpus"])}
    if r["kind"] == "fpr":
        return {}
    c = {"driver": r["driver"], "batch": int(r["batch"]), "size_mib": int(r["size_mib"])}
    # Records read numbers back as numbers: blocks=1 is 1.0 here.
    if r.get("blocks"):
        c["blocks"] = True
    return c


def stats(values):
    return {"n": len(values), "median": statistics.median(values),
            "min": min(values), "max": max(values), "values": values}


def measurements(records):
    """One object per metric, VMM and configuration, over its repetitions."""
    groups = {}
    for r in records:
        for name, (kind, get, unit, what) in METRICS.items():
            if r["kind"] != kind:
                continue
            try:
                v = get(r)
            except (KeyError, TypeError):
                continue
            if v is None:
                continue
            cfg = config(r)
            key = (name, r["vmm"], tuple(sorted(cfg.items())))
            groups.setdefault(key, {"measurement": name, "vmm": r["vmm"], **cfg,
                                    "unit": unit, "what": what, "_v": []})["_v"].append(v)
    # QEMU counts no release calls itself: strace counted them on one run.
    for r in records:
        if r["kind"] == "strace" and r.get("madvise", "") != "":
            calls = float(r["madvise"]) + float(r.get("fallocate") or 0)
            groups[("madvise_per_gib", r["vmm"], "strace")] = {
                "measurement": "madvise_per_gib", "vmm": r["vmm"], "driver": LINUX, "batch": 0,
                "size_mib": int(r["size_mib"]), "unit": "calls/GiB",
                "what": "release calls per GiB (strace -c, one run)",
                "_v": [calls * 1024 / r["size_mib"]]}
    out = []
    for g in groups.values():
        vals = g.pop("_v")
        out.append({**g, **stats(vals)})
    return out


def find(ms, name, vmm, driver, batch, size=None, cpus=None):
    for m in ms:
        if (m["measurement"], m["vmm"]) != (name, vmm):
            continue
        if cpus is not None:
            if m.get("cpus") == cpus:
                return m
        elif m.get("driver") == driver and m.get("batch") == batch and \
                (size is None or m.get("size_mib") == size):
            return m
    return None


def ratios(ms):
    sizes = sorted({m["size_mib"] for m in ms if "size_mib" in m})
    out = []

    def add(name, num, den, goal, what, **cfg):
        if not num or not den:
            return
        value = num["median"] / den["median"] if den["median"] else None
        out.append({"measurement": name, **cfg, "value": value,
                    "ballast_vmm": num["median"], "qemu": den["median"], "unit": num["unit"],
                    "goal_max": goal, "met": None if goal is None or value is None else value <= goal,
                    "what": what})

    for name, metric, (nd, nb), (dd, db), goal, what in GOALS:
        for size in sizes:
            # QEMU's release calls come from one strace run: per GiB, any size.
            dsize = None if metric == "madvise_per_gib" else size
            add(name, find(ms, metric, BASE, nd, nb, size), find(ms, metric, PEER, dd, db, dsize),
                goal, what, size_mib=size)
    for cpus in (1, 2):
        add("boot_ratio", find(ms, "boot_s", BASE, None, None, cpus=cpus),
            find(ms, "boot_s", PEER, None, None, cpus=cpus), 0.5, "boot to agent", cpus=cpus)
    fb, fq = (next((m for m in ms if m["measurement"] == "fpr_s" and m["vmm"] == v), None)
              for v in (BASE, PEER))
    add("fpr_ratio", fb, fq, None, "free page reporting, free to Rss settled")
    return out


def fmt(v, unit=""):
    if v is None:
        return "-"
    if abs(v) >= 100 or unit in ("calls/GiB", "MiB"):
        return f"{v:.0f}"
    return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"


def cell(m, reps):
    """median (min-max), and how many runs when fewer than REPS made it."""
    if not m:
        return "-"
    text = fmt(m["median"], m["unit"])
    if m["n"] > 1:
        text += f" ({fmt(m['min'], m['unit'])}-{fmt(m['max'], m['unit'])})"
    if m["n"] < reps and m["what"].find("one run") < 0:
        text += f" n={m['n']}"
    return text


def config_label(m):
    if "cpus" in m:
        return f"{m['cpus']} vCPU"
    if "driver" not in m:
        return "1 GiB freed"
    drv = "Linux" if m["driver"] == LINUX else f"ballast.ko b{m['batch']}"
    if m.get("blocks"):
        drv += " blocks"
    return f"{m['size_mib']} MiB, {drv}"


def missing(ms, rs, run):
    """The ratios a run cut short has no figure for, by size (batch 1 only
    at the sizes the run meant to measure it at)."""
    sizes = sorted({m["size_mib"] for m in ms if m["measurement"] == "inflate_s"})
    # A lone size reads back as a number (256.0), a list as text ("256,1024").
    b1 = run.get("b1_sizes", "")
    b1_sizes = ({int(b1)} if isinstance(b1, (int, float)) else
                {int(s) for s in str(b1).split(",") if s.isdigit()}) or set(sizes)
    have = {(r["measurement"], r.get("size_mib"), r.get("cpus")) for r in rs}
    out = [f"`{name}` at {size} MiB" for name, *_ in GOALS for size in sizes
           if (name, size, None) not in have
           and (name != "ballastko_b1_ratio" or size in b1_sizes)]
    out += [f"`boot_ratio` at {c} vCPU" for c in (1, 2) if ("boot_ratio", None, c) not in have]
    if ("fpr_ratio", None, None) not in have:
        out.append("`fpr_ratio`")
    return out


def markdown(ms, rs, records):
    run = next((r for r in records if r["kind"] == "run"), {})
    reps = int(run.get("reps") or max((r["rep"] for r in records if isinstance(r.get("rep"), float)),
                                      default=1))
    sizes = sorted({int(r["size_mib"]) for r in records if r["kind"] == "inflate"})
    lines = [
        "# make bench: ballast-vmm against QEMU",
        "",
        (f"Measured in {run['wall_s']:.0f} s" if "wall_s" in run else "") +
        (", **cut short** (interrupted or timed out)." if run.get("interrupted") == 1.0 else "."),
        "",
        f"REPS={reps}, balloon sizes {' '.join(map(str, sizes))} MiB (guest RAM twice that, "
        "at least 512 MiB). Both VMMs nested in one QEMU-TCG test host with nested kvm_amd "
        "(QEMU there with -enable-kvm), Debian's cloud kernel in the guest, one vCPU unless said. "
        "Median (min-max) of the repetitions; ratios are ballast-vmm / QEMU of the medians.",
        "",
        "## Goals",
        "",
        "| ratio | at | ballast-vmm | QEMU | ratio | goal | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rs:
        at = f"{r['size_mib']} MiB" if "size_mib" in r else (f"{r['cpus']} vCPU" if "cpus" in r else "")
        goal = "-" if r["goal_max"] is None else f"<= {r['goal_max']:.3g}"
        verdict = "-" if r["met"] is None else ("met" if r["met"] else
                                                f"**missed**: {fmt(r['value'])}")
        lines.append(f"| {r['what']} (`{r['measurement']}`) | {at} | {fmt(r['ballast_vmm'], r['unit'])} "
                     f"| {fmt(r['qemu'], r['unit'])} | {fmt(r['value'])} | {goal} | {verdict} |")
    gone = missing(ms, rs, run)
    if gone:
        lines += ["", "Not measured in this run: " + ", ".join(gone) + "."]
    lines += ["", "## Measurements", "",
              f"| measurement | configuration | {BASE} | {PEER} |", "|---|---|---|---|"]
    keys = []
    for m in ms:
        k = (m["measurement"], config_label(m))
        if k not in keys:
            keys.append(k)
    order = list(METRICS)
    keys.sort(key=lambda k: (order.index(k[0]), k[1]))
    for name, label in keys:
        by = {m["vmm"]: m for m in ms if (m["measurement"], config_label(m)) == (name, label)}
        unit = METRICS[name][2]
        lines.append(f"| {name} ({unit}) | {label} | {cell(by.get(BASE), reps)} "
                     f"| {cell(by.get(PEER), reps)} |")
    lines += ["", "What each measurement is:", ""]
    lines += [f"- `{k}`: {v[3]}" for k, v in METRICS.items()]
    lines += ["", "Plots of one inflate per VMM: " +
              ", ".join(f"`{os.path.basename(p)}`" for p in PLOTS) if PLOTS else ""]
    return "\n".join(lines) + "\n"


PLOTS = []


def plot(raw, out, records):
    """Rss, target and `actual` against time for one inflate per VMM:
    Linux's driver, the first repetition, at 1 GiB when the run has it
    (the size the issue compares at), else the largest size."""
    if not shutil.which("gnuplot"):
        print("summarize: no gnuplot, no plots", file=sys.stderr)
        return
    inflates = [r for r in records if r["kind"] == "inflate" and r["driver"] == LINUX]
    if not inflates:
        return
    sizes = {int(r["size_mib"]) for r in inflates}
    size = 1024 if 1024 in sizes else max(sizes)
    for vmm in (PEER, BASE):
        csv = os.path.join(raw, f"inflate-{vmm}-{LINUX}-{size}-1.csv")
        if not os.path.exists(csv):
            continue
        svg = os.path.join(out, f"inflate-{vmm}-{size}.svg")
        script = f"""
set terminal svg size 800,450 dynamic
set output '{svg}'
set datafile separator ','
set key outside bottom center horizontal
set title '{vmm}: inflate to {size} MiB, Linux driver (nested)'
set xlabel 'seconds after the balloon command'
set ylabel 'MiB'
set grid
plot '{csv}' using 1:4 with lines lw 2 title 'VMM Rss', \\
     '' using 1:2 with lines dt 2 title 'target', \\
     '' using 1:3 with lines lw 2 title 'actual'
"""
        res = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if res.returncode:
            print(f"summarize: gnuplot failed for {vmm}: {res.stderr.strip()}", file=sys.stderr)
        else:
            PLOTS.append(svg)


def main():
    if len(sys.argv) != 3:
        print("usage: summarize.py RAW_DIR OUT_DIR", file=sys.stderr)
        return 2
    raw, out = sys.argv[1:]
    try:
        records = load(raw)
    except OSError as e:
        print(f"summarize: {e}", file=sys.stderr)
        return 1
    if not records:
        print(f"summarize: no records in {raw}/runs.txt", file=sys.stderr)
        return 1
    ms = measurements(records)
    rs = ratios(ms)
    plot(raw, out, records)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(ms + rs, f, indent=1)
        f.write("\n")
    md = markdown(ms, rs, records)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(md)
    print(md)
    print(f"bench: {os.path.join(out, 'results.md')}, results.json and {len(PLOTS)} plots",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
