// SPDX-License-Identifier: MIT
/*
 * Option parsing. Hand-rolled rather than getopt_long so that it keeps no
 * global state (the unit tests call it many times) and so that every error
 * names the option it came from.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

#define BALLAST_VERSION "0.1"

void cli_usage(FILE *f)
{
	fprintf(f,
"Usage: ballast-vmm --kernel PATH [OPTIONS]\n"
"\n"
"A small x86-64 KVM VMM: boots a Linux bzImage directly (64-bit boot\n"
"protocol, no firmware) with a virtio-pci balloon device.\n"
"\n"
"Options:\n"
"  --kernel PATH        bzImage to boot (boot protocol 2.06 or newer with a\n"
"                       64-bit entry point). Required.\n"
"  --initramfs PATH     initramfs (cpio, optionally compressed) to load.\n"
"  --cmdline STRING     kernel command line (default \"" VMM_DEFAULT_CMDLINE "\").\n"
"  --memory OPTS        guest RAM: size=SIZE[,thp=on|off][,shared=on|off]\n"
"                       size: bytes with optional K/M/G/T suffix (default\n"
"                       512M; RAM above 3G is placed above 4G). thp=on asks\n"
"                       for transparent huge pages (MADV_HUGEPAGE); shared=on\n"
"                       backs RAM with a shared memfd instead of private\n"
"                       anonymous memory.\n"
"  --cpus N             number of vCPUs, 1..%d (default 1); also boot=N.\n"
"  --serial SPEC        COM1 (0x3f8, IRQ 4), the console (default stdio).\n"
"  --serial2 SPEC       COM2 (0x2f8, IRQ 3), the agent channel (default null).\n"
"                       SPEC is one of:\n"
"                         stdio          stdin/stdout\n"
"                         null           output dropped, no input\n"
"                         file=PATH      output written to PATH (truncated)\n"
"                         socket=PATH    Unix socket server; one client at a\n"
"                                        time, output dropped while none is\n"
"                                        connected\n"
"                         dev=PATH       character device opened read-write\n"
"                                        (e.g. a virtio-serial port)\n"
"                       Guest output never blocks a vCPU: bytes the backend\n"
"                       cannot take are dropped and counted.\n"
"  --balloon OPTS       virtio-balloon device options (see the balloon\n"
"                       device's documentation).\n"
"  --api-socket PATH    control socket (JSON lines); `ballast-vmm ctl PATH JSON`\n"
"                       is its client.\n"
"  --pidfile PATH       write the VMM's pid to PATH once the options check out.\n"
"  -v, --verbose        more log output on stderr (repeat for debug).\n"
"  -q, --quiet          errors only.\n"
"  -h, --help           this text.\n"
"  -V, --version        print the version.\n"
"\n"
"Exit status: the guest's reboot (keyboard-controller reset) exits 0; a\n"
"reset after the console printed \"Kernel panic - not syncing\", a triple\n"
"fault, or a KVM internal error exits 1 with the vCPU registers on stderr;\n"
"bad options or files, or an unusable /dev/kvm, exit 2 before the guest\n"
"runs.\n", VMM_MAX_CPUS);
}

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int cli_parse_size(const char *s, u64 *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	/* Accept "512MiB" and "512MB" too, both meaning MiB. */
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	if (shift && v > (~0ULL >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

int cli_parse_serial(const char *s, struct serial_spec *spec)
{
	static const struct {
		const char *prefix;
		enum serial_backend type;
	} with_path[] = {
		{ "file=", SERIAL_FILE },
		{ "socket=", SERIAL_SOCKET },
		{ "dev=", SERIAL_DEV },
	};
	size_t i;

	if (!strcmp(s, "stdio") || !strcmp(s, "tty")) {
		*spec = (struct serial_spec) { .type = SERIAL_STDIO };
		return 0;
	}
	if (!strcmp(s, "null") || !strcmp(s, "off")) {
		*spec = (struct serial_spec) { .type = SERIAL_NULL };
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(with_path); i++) {
		size_t n = strlen(with_path[i].prefix);

		if (strncmp(s, with_path[i].prefix, n))
			continue;
		if (!s[n])
			return -EINVAL;
		*spec = (struct serial_spec) { .type = with_path[i].type, .path = s + n };
		return 0;
	}
	return -EINVAL;
}

/* "size=512M,thp=on": opts is a scratch copy, cut up in place. */
static int parse_memory(char *opts, struct vmm_config *cfg, char *err, size_t errlen)
{
	char *save = NULL, *tok;
	bool have_size = false;

	for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *val = strchr(tok, '=');

		if (!val)
			return fail(err, errlen, "--memory: expected key=value, got '%s'", tok);
		*val++ = '\0';
		if (!strcmp(tok, "size")) {
			int ret = cli_parse_size(val, &cfg->mem_size);

			if (ret)
				return fail(err, errlen, "--memory: bad size '%s'", val);
			have_size = true;
		} else if (!strcmp(tok, "thp") || !strcmp(tok, "hugepages")) {
			if (parse_bool(val, &cfg->thp))
				return fail(err, errlen, "--memory: %s must be on or off, got '%s'", tok, val);
		} else if (!strcmp(tok, "shared")) {
			if (parse_bool(val, &cfg->shared))
				return fail(err, errlen, "--memory: shared must be on or off, got '%s'", val);
		} else {
			return fail(err, errlen, "--memory: unknown key '%s' (size, thp, shared)", tok);
		}
	}
	if (!have_size)
		return fail(err, errlen, "--memory: size= is required");
	return 0;
}

static int parse_cpus(const char *s, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (!strncmp(s, "boot=", 5))
		s += 5;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > VMM_MAX_CPUS)
		return -EINVAL;
	*out = v;
	return 0;
}

enum opt_id {
	OPT_KERNEL, OPT_INITRAMFS, OPT_CMDLINE, OPT_MEMORY, OPT_CPUS, OPT_SERIAL,
	OPT_SERIAL2, OPT_BALLOON, OPT_API_SOCKET, OPT_PIDFILE, OPT_VERBOSE, OPT_QUIET, OPT_HELP,
	OPT_VERSION,
};

static const struct {
	const char *name;
	char short_name;
	bool has_arg;
	enum opt_id id;
} options[] = {
	{ "kernel", 0, true, OPT_KERNEL },
	{ "initramfs", 0, true, OPT_INITRAMFS },
	{ "cmdline", 0, true, OPT_CMDLINE },
	{ "memory", 0, true, OPT_MEMORY },
	{ "cpus", 0, true, OPT_CPUS },
	{ "serial", 0, true, OPT_SERIAL },
	{ "console", 0, true, OPT_SERIAL },
	{ "serial2", 0, true, OPT_SERIAL2 },
	{ "balloon", 0, true, OPT_BALLOON },
	{ "api-socket", 0, true, OPT_API_SOCKET },
	{ "pidfile", 0, true, OPT_PIDFILE },
	{ "verbose", 'v', false, OPT_VERBOSE },
	{ "quiet", 'q', false, OPT_QUIET },
	{ "help", 'h', false, OPT_HELP },
	{ "version", 'V', false, OPT_VERSION },
};

int cli_parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen)
{
	static char membuf[256];
	int i;

	*cfg = (struct vmm_config) {
		.cmdline = VMM_DEFAULT_CMDLINE,
		.mem_size = VMM_DEFAULT_MEM,
		.cpus = 1,
		.serial = { { .type = SERIAL_STDIO }, { .type = SERIAL_NULL } },
		.log_level = LOG_WARN,
	};
	if (err && errlen)
		err[0] = '\0';

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		size_t j, namelen;
		int found = -1;

		if (arg[0] != '-' || !arg[1])
			return fail(err, errlen, "unexpected argument '%s' (see --help)", arg);
		if (arg[1] != '-') {
			if (arg[2])
				return fail(err, errlen, "unknown option '%s' (see --help)", arg);
			for (j = 0; j < ARRAY_SIZE(options); j++)
				if (options[j].short_name == arg[1])
					found = j;
		} else {
			arg += 2;
			eq = strchr(arg, '=');
			namelen = eq ? (size_t)(eq - arg) : strlen(arg);
			for (j = 0; j < ARRAY_SIZE(options); j++)
				if (strlen(options[j].name) == namelen &&
				    !strncmp(options[j].name, arg, namelen))
					found = j;
			if (eq)
				val = eq + 1;
		}
		if (found < 0)
			return fail(err, errlen, "unknown option '%s' (see --help)", argv[i]);
		if (options[found].has_arg && !val) {
			if (i + 1 >= argc)
				return fail(err, errlen, "option --%s needs a value", options[found].name);
			val = argv[++i];
		} else if (!options[found].has_arg && val) {
			return fail(err, errlen, "option --%s takes no value", options[found].name);
		}

		switch (options[found].id) {
		case OPT_KERNEL:
			cfg->kernel = val;
			break;
		case OPT_INITRAMFS:
			cfg->initramfs = val;
			break;
		case OPT_CMDLINE:
			cfg->cmdline = val;
			break;
		case OPT_MEMORY:
			if (strlen(val) >= sizeof(membuf))
				return fail(err, errlen, "--memory: value too long");
			strcpy(membuf, val);
			if (parse_memory(membuf, cfg, err, errlen))
				return -EINVAL;
			break;
		case OPT_CPUS:
			if (parse_cpus(val, &cfg->cpus))
				return fail(err, errlen, "--cpus: expected 1..%d, got '%s'",
					    VMM_MAX_CPUS, val);
			break;
		case OPT_SERIAL:
		case OPT_SERIAL2:
			if (cli_parse_serial(val, &cfg->serial[options[found].id == OPT_SERIAL2]))
				return fail(err, errlen,
					    "--%s: expected stdio, null, file=PATH, socket=PATH or dev=PATH, got '%s'",
					    options[found].name, val);
			break;
		case OPT_BALLOON:
			cfg->balloon_opts = val;
			break;
		case OPT_API_SOCKET:
			if (!*val)
				return fail(err, errlen, "--api-socket: empty path");
			cfg->api_socket = val;
			break;
		case OPT_PIDFILE:
			if (!*val)
				return fail(err, errlen, "--pidfile: empty path");
			cfg->pidfile = val;
			break;
		case OPT_VERBOSE:
			if (cfg->log_level < LOG_DEBUG)
				cfg->log_level++;
			break;
		case OPT_QUIET:
			cfg->log_level = LOG_ERR;
			break;
		case OPT_HELP:
			cli_usage(stdout);
			return CLI_EXIT;
		case OPT_VERSION:
			printf("ballast-vmm " BALLAST_VERSION "\n");
			return CLI_EXIT;
		}
	}

	if (!cfg->kernel)
		return fail(err, errlen, "--kernel is required (see --help)");
	if (cfg->mem_size < VMM_MIN_MEM)
		return fail(err, errlen, "--memory: size must be at least %llu MiB",
			    VMM_MIN_MEM / SZ_1M);
	if (cfg->mem_size > VMM_MAX_MEM)
		return fail(err, errlen, "--memory: size must be at most %llu GiB",
			    VMM_MAX_MEM / SZ_1G);
	if (cfg->mem_size & (SZ_4K - 1))
		return fail(err, errlen, "--memory: size must be a multiple of 4 KiB");
	if (cfg->serial[0].type == SERIAL_STDIO && cfg->serial[1].type == SERIAL_STDIO)
		return fail(err, errlen, "--serial and --serial2 cannot both use stdio");
	if (cfg->serial[0].path && cfg->serial[1].path &&
	    cfg->serial[0].type != SERIAL_DEV &&
	    !strcmp(cfg->serial[0].path, cfg->serial[1].path))
		return fail(err, errlen, "--serial and --serial2 use the same path '%s'",
			    cfg->serial[0].path);
	return CLI_RUN;
}
