// SPDX-License-Identifier: MIT
/* Command-line parsing, good and bad. */
#include <errno.h>
#include <string.h>

#include "../cli.h"
#include "../log.h"
#include "tap.h"

static char err[256];
static struct vmm_config cfg;

#define PARSE(...) ({							\
	char *argv[] = { "ballast-vmm", __VA_ARGS__, NULL };		\
	cli_parse(ARRAY_SIZE(argv) - 1, argv, &cfg, err, sizeof(err));	\
})

static void test_good(void)
{
	tap_eq(PARSE("--kernel", "/k"), CLI_RUN, "minimal: --kernel");
	tap_ok(!strcmp(cfg.kernel, "/k"), "kernel path kept");
	tap_eq(cfg.mem_size, 512 * SZ_1M, "default memory 512M");
	tap_eq(cfg.cpus, 1, "default 1 vCPU");
	tap_eq(cfg.serial[0].type, SERIAL_STDIO, "default COM1 stdio");
	tap_eq(cfg.serial[1].type, SERIAL_NULL, "default COM2 null");
	tap_ok(!strcmp(cfg.cmdline, "console=ttyS0"), "default cmdline");
	tap_ok(!cfg.balloon_opts && !cfg.api_socket, "no balloon, no api socket by default");

	tap_eq(PARSE("--kernel=/k", "--initramfs", "/i", "--cmdline", "a b c",
		     "--memory", "size=1G,thp=on,shared=on", "--cpus", "2",
		     "--serial", "file=/tmp/c", "--serial2", "socket=/tmp/a.sock",
		     "--balloon", "size=64M,deflate_on_oom=on", "--api-socket", "/tmp/api",
		     "-v", "-v"), CLI_RUN, "everything");
	tap_ok(!strcmp(cfg.initramfs, "/i") && !strcmp(cfg.cmdline, "a b c"), "paths and cmdline");
	tap_eq(cfg.mem_size, SZ_1G, "size=1G");
	tap_ok(cfg.thp && cfg.shared, "thp=on, shared=on");
	tap_eq(cfg.cpus, 2, "--cpus 2");
	tap_eq(cfg.serial[0].type, SERIAL_FILE, "COM1 file");
	tap_ok(!strcmp(cfg.serial[0].path, "/tmp/c"), "COM1 path");
	tap_eq(cfg.serial[1].type, SERIAL_SOCKET, "COM2 socket");
	tap_ok(!strcmp(cfg.balloon_opts, "size=64M,deflate_on_oom=on"), "balloon string kept verbatim");
	tap_ok(!strcmp(cfg.api_socket, "/tmp/api"), "api socket kept");
	tap_eq(cfg.log_level, LOG_DEBUG, "-v -v is debug");

	tap_eq(PARSE("--kernel", "/k", "--cpus", "boot=4", "--serial", "null",
		     "--serial2", "dev=/dev/vport0p2", "--memory", "size=3072M"), CLI_RUN,
	       "cpus boot=N, dev= backend");
	tap_eq(cfg.cpus, 4, "boot=4");
	tap_eq(cfg.serial[1].type, SERIAL_DEV, "COM2 dev");
	tap_eq(cfg.mem_size, 3 * SZ_1G, "size=3072M");
	tap_eq(PARSE("--kernel", "/k", "-q"), CLI_RUN, "-q");
	tap_eq(cfg.log_level, LOG_ERR, "-q is errors only");
}

static void test_bad(void)
{
	static const struct {
		const char *a, *b;
		const char *want;
	} bad[] = {
		{ "--cpus", "0", "--cpus" },
		{ "--cpus", "65", "--cpus" },
		{ "--cpus", "two", "--cpus" },
		{ "--cpus", "2x", "--cpus" },
		{ "--memory", "512M", "key=value" },
		{ "--memory", "size=", "bad size" },
		{ "--memory", "size=12Q", "bad size" },
		{ "--memory", "size=-1G", "bad size" },
		{ "--memory", "size=16M", "at least" },
		{ "--memory", "size=2048G", "at most" },
		{ "--memory", "size=100000001", "4 KiB" },
		{ "--memory", "size=1G,thp=maybe", "thp" },
		{ "--memory", "thp=on", "size= is required" },
		{ "--memory", "size=1G,bogus=1", "unknown key" },
		{ "--serial", "tcp=1234", "--serial" },
		{ "--serial2", "file=", "--serial2" },
		{ "--serial2", "stdio", "both use stdio" },
		{ "--api-socket", "", "empty" },
		{ "--frobnicate", "1", "unknown option" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int ret = PARSE("--kernel", "/k", (char *)bad[i].a, (char *)bad[i].b);

		tap_eq(ret, -EINVAL, bad[i].a);
		if (!tap_ok(strstr(err, bad[i].want) != NULL, "  %s %s: '%s'", bad[i].a, bad[i].b, err))
			printf("#   want '%s'\n", bad[i].want);
		tap_ok(!strchr(err, '\n'), "  one line");
	}
	tap_eq(PARSE("--initramfs", "/i"), -EINVAL, "no --kernel");
	tap_ok(strstr(err, "--kernel is required") != NULL, "  says --kernel is required");
	tap_eq(PARSE("--kernel"), -EINVAL, "--kernel without a value");
	tap_eq(PARSE("--kernel", "/k", "stray"), -EINVAL, "stray argument");
	tap_eq(PARSE("--kernel", "/k", "--help=x"), -EINVAL, "--help takes no value");
	tap_eq(PARSE("--kernel", "/k", "--serial", "file=/x", "--serial2", "file=/x"), -EINVAL,
	       "same file for both UARTs");
}

static void test_size(void)
{
	u64 v = 0;

	tap_ok(!cli_parse_size("4096", &v) && v == 4096, "size: plain bytes");
	tap_ok(!cli_parse_size("2K", &v) && v == 2048, "size: K");
	tap_ok(!cli_parse_size("512MiB", &v) && v == 512 * SZ_1M, "size: MiB");
	tap_ok(!cli_parse_size("1T", &v) && v == 1024 * SZ_1G, "size: T");
	tap_ok(!cli_parse_size("0x1000", &v) && v == 4096, "size: hex");
	tap_eq(cli_parse_size("99999999999T", &v), -ERANGE, "size: overflow");
	tap_eq(cli_parse_size("", &v), -EINVAL, "size: empty");
	tap_eq(cli_parse_size("1Mx", &v), -EINVAL, "size: trailing junk");
}

int main(void)
{
	tap_start();
	test_good();
	test_bad();
	test_size();
	return tap_done();
}
