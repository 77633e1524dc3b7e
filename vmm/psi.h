/* SPDX-License-Identifier: MIT */
/*
 * Pressure stall information (Documentation/accounting/psi.rst): a trigger
 * on memory pressure that wakes the I/O loop with EPOLLPRI, and the
 * averages, for auto-ballooning. The parsing is pure and unit-tested.
 */
#ifndef BALLAST_PSI_H
#define BALLAST_PSI_H

#include <stddef.h>

#include "compiler.h"

#define PSI_SYSTEM_MEMORY	"/proc/pressure/memory"

/* One line of a pressure file: the averages in hundredths of a percent. */
struct psi_line {
	u32 avg10, avg60, avg300;
	u64 total_us;
};

/*
 * The "some" or "full" line (kind) of a pressure file's text. Returns 0,
 * or -EINVAL when the line is missing or malformed.
 */
int psi_parse(const char *text, const char *kind, struct psi_line *out);

/*
 * Where to watch: the memory.pressure of the cgroup v2 that /proc/self/cgroup
 * names (its "0::" line) when that is not the root and the file exists
 * under cgroup_root, else PSI_SYSTEM_MEMORY. self_cgroup is that file's
 * text. Pure apart from one access() on the candidate.
 */
void psi_pick_path(const char *self_cgroup, const char *cgroup_root, char *path, size_t len);

/*
 * Open path and arm a trigger on "some" stall of at least stall_us within
 * window_us; the returned fd polls EPOLLPRI when it fires. A negative errno
 * with a one-line reason in err otherwise.
 */
int psi_trigger_open(const char *path, u64 stall_us, u64 window_us, char *err, size_t errlen);

/* Read path's "some" and "full" lines; 0 or a negative errno. */
int psi_read(const char *path, struct psi_line *some, struct psi_line *full);

#endif
