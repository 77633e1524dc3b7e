// SPDX-License-Identifier: MIT
/* Pressure files as the kernel prints them, and picking which one to watch. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../psi.h"
#include "tap.h"

static const char memory[] =
	"some avg10=12.34 avg60=0.50 avg300=100.00 total=987654321\n"
	"full avg10=1.00 avg60=0.00 avg300=0.00 total=42\n";

static void test_parse(void)
{
	static const char *const bad[] = {
		"", "some\n", "some avg10=1.00\n",
		"some avg10=1.0 avg60=0.00 avg300=0.00 total=1\n",
		"some avg10=101.00 avg60=0.00 avg300=0.00 total=1\n",
		"some avg10=x avg60=0.00 avg300=0.00 total=1\n",
		"some avg10=1.00 avg60=0.00 avg300=0.00 total=\n",
		"some avg10=1.00 avg60=0.00 avg300=0.00 total=12junk\n",
		"some avg10=1.00 avg60=0.00 avg300=0.00 total=99999999999999999999999\n",
		"something avg10=1.00 avg60=0.00 avg300=0.00 total=1\n",
	};
	struct psi_line l;
	unsigned int i, rejected = 0;

	tap_ok(!psi_parse(memory, "some", &l) && l.avg10 == 1234 && l.avg60 == 50 &&
	       l.avg300 == 10000 && l.total_us == 987654321, "the some line, in hundredths");
	tap_ok(!psi_parse(memory, "full", &l) && l.avg10 == 100 && l.total_us == 42,
	       "the full line, found on the second line");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (psi_parse(bad[i], "some", &l) == -EINVAL)
			rejected++;
		else
			printf("#   accepted: %s", bad[i]);
	}
	tap_eq(rejected, sizeof(bad) / sizeof(bad[0]), "malformed or missing lines are refused");
}

static void test_pick_path(void)
{
	char root[] = "/tmp/ballast-psi.XXXXXX", dir[128], file[160], path[256];
	FILE *f;

	if (!mkdtemp(root)) {
		tap_ok(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(dir, sizeof(dir), "%s/vms.slice", root);
	snprintf(file, sizeof(file), "%s/memory.pressure", dir);
	mkdir(dir, 0755);
	f = fopen(file, "w");
	if (f)
		fclose(f);

	psi_pick_path("1:name=systemd:/x\n0::/vms.slice\n", root, path, sizeof(path));
	tap_ok(!strcmp(path, file), "a cgroup v2 of its own: that cgroup's memory.pressure");
	psi_pick_path("0::/\n", root, path, sizeof(path));
	tap_ok(!strcmp(path, PSI_SYSTEM_MEMORY), "the root cgroup: the system's file");
	psi_pick_path("0::/gone.slice\n", root, path, sizeof(path));
	tap_ok(!strcmp(path, PSI_SYSTEM_MEMORY), "a cgroup without the file: the system's");
	psi_pick_path("12:memory:/legacy\n", root, path, sizeof(path));
	tap_ok(!strcmp(path, PSI_SYSTEM_MEMORY), "cgroup v1 only: the system's");

	unlink(file);
	rmdir(dir);
	rmdir(root);
}

static void test_trigger_errors(void)
{
	char err[200] = "";
	int fd = psi_trigger_open("/nonexistent/memory.pressure", 100000, 1000000, err, sizeof(err));

	tap_ok(fd == -ENOENT && strstr(err, "/nonexistent/memory.pressure"),
	       "a missing file: -ENOENT and a line that names it");
}

int main(void)
{
	tap_start();
	test_parse();
	test_pick_path();
	test_trigger_errors();
	return tap_done();
}
