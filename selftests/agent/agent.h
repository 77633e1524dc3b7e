/* SPDX-License-Identifier: MIT */
#ifndef BALLAST_AGENT_H
#define BALLAST_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#define MIN(a, b)	((a) < (b) ? (a) : (b))

/* Exit status of the client when the agent could not be reached in time. */
#define AGENT_EXIT_NO_REPLY	255

struct reply {
	unsigned long seq;
	int status;
	char *out;
	size_t len;
};

int agent_serve(const char *path);
int agent_write_all(int fd, const char *buf, size_t len);
void agent_drain(int fd, struct reply *r);
int agent_exec(const char *sock, const char *cmd, unsigned int timeout_s, bool quiet);
int agent_talk(const char *sock, const char *until, unsigned int timeout_s);
/* Create one empty VM and keep it until killed (hold.c). */
int agent_hold_kvm(void);

#endif
