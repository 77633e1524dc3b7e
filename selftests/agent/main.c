// SPDX-License-Identifier: MIT
/*
 * ballast-agent: one static binary for both ends of the agent channel.
 *
 *   ballast-agent serve DEVICE              in the guest (or the test host)
 *   ballast-agent exec [-t S] SOCKET CMD..  run CMD there, print its output,
 *                                           exit with its status
 *   ballast-agent wait [-t S] SOCKET        until the agent answers
 *   ballast-agent talk [-t S] SOCKET UNTIL  send stdin, print the replies up
 *                                           to the first line holding UNTIL
 *   ballast-agent hold-kvm                  in the test host: keep one empty
 *                                           VM for good (hold.c says why)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

static int usage(void)
{
	fprintf(stderr, "usage: ballast-agent serve DEVICE\n"
			"       ballast-agent exec [-t SECONDS] SOCKET COMMAND...\n"
			"       ballast-agent wait [-t SECONDS] SOCKET\n"
			"       ballast-agent talk [-t SECONDS] SOCKET UNTIL < REQUEST\n"
			"       ballast-agent hold-kvm\n");
	return 2;
}

/* Join argv into one shell command line, as ssh does. */
static char *join(int argc, char **argv)
{
	size_t len = 1;
	char *s;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	for (int i = 0; s && i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* Ask a trivial question over and over until the agent answers. */
static int wait_agent(const char *sock, unsigned int timeout_s)
{
	time_t end = time(NULL) + timeout_s;

	do {
		if (agent_exec(sock, "true", 3, true) == 0)
			return 0;
	} while (time(NULL) < end);
	fprintf(stderr, "ballast-agent: %s: agent did not answer within %us\n", sock, timeout_s);
	return AGENT_EXIT_NO_REPLY;
}

int main(int argc, char **argv)
{
	unsigned int timeout_s = 60;
	const char *verb;
	char *end;
	int opt;

	/* A peer that hangs up must be an error return, not a death. */
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && !strcmp(argv[1], "hold-kvm"))
		return agent_hold_kvm();
	if (argc < 3)
		return usage();
	verb = argv[1];
	if (!strcmp(verb, "serve"))
		return argc == 3 ? agent_serve(argv[2]) : usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "+t:")) != -1) {
		if (opt != 't')
			return usage();
		timeout_s = strtoul(optarg, &end, 10);
		if (*end || !timeout_s) {
			fprintf(stderr, "ballast-agent: bad timeout '%s'\n", optarg);
			return 2;
		}
	}
	if (!strcmp(verb, "wait") && argc - optind == 1)
		return wait_agent(argv[optind], timeout_s);
	if (!strcmp(verb, "talk") && argc - optind == 2)
		return agent_talk(argv[optind], argv[optind + 1], timeout_s);
	if (!strcmp(verb, "exec") && argc - optind >= 2) {
		char *cmd = join(argc - optind - 1, argv + optind + 1);

		return cmd ? agent_exec(argv[optind], cmd, timeout_s, false) : 2;
	}
	return usage();
}
