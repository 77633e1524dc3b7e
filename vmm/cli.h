/* SPDX-License-Identifier: MIT */
/*
 * Command line, Cloud Hypervisor style: `--memory size=512M,thp=on`. The
 * parser only records and validates; nothing here opens files or /dev/kvm.
 */
#ifndef BALLAST_CLI_H
#define BALLAST_CLI_H

#include <stdio.h>

#include "compiler.h"

enum serial_backend {
	SERIAL_NULL,		/* output dropped, no input */
	SERIAL_STDIO,		/* stdin/stdout */
	SERIAL_FILE,		/* output to a file (truncated), no input */
	SERIAL_SOCKET,		/* Unix socket server, one client at a time */
	SERIAL_DEV,		/* a character device opened read-write */
};

struct serial_spec {
	enum serial_backend type;
	const char *path;	/* points into argv */
};

#define VMM_MAX_CPUS		64
#define VMM_MIN_MEM		(32 * SZ_1M)
#define VMM_MAX_MEM		(1024 * SZ_1G)
#define VMM_DEFAULT_MEM		(512 * SZ_1M)
#define VMM_DEFAULT_CMDLINE	"console=ttyS0"

struct vmm_config {
	const char *kernel;
	const char *initramfs;		/* NULL: none */
	const char *cmdline;
	u64 mem_size;
	bool thp;
	bool shared;
	unsigned int cpus;
	struct serial_spec serial[2];	/* COM1, COM2 */
	/* Owned by the balloon device and the control socket; kept verbatim. */
	const char *balloon_opts;	/* --balloon, NULL if absent */
	const char *api_socket;		/* --api-socket, NULL if absent */
	const char *pidfile;		/* --pidfile, NULL if absent */
	int log_level;
};

enum {
	CLI_RUN = 0,		/* configuration complete: boot the guest */
	CLI_EXIT = 1,		/* --help or --version printed: exit 0 */
};

/*
 * Parse argv into cfg. Returns CLI_RUN, CLI_EXIT or -EINVAL with a one-line
 * reason in err (no trailing newline).
 */
int cli_parse(int argc, char **argv, struct vmm_config *cfg, char *err, size_t errlen);
void cli_usage(FILE *f);

/* "512M", "2G", "1048576": bytes, suffixes K/M/G/T (powers of 1024). */
int cli_parse_size(const char *s, u64 *out);
/* stdio | null | file=PATH | socket=PATH | dev=PATH */
int cli_parse_serial(const char *s, struct serial_spec *spec);

#endif
