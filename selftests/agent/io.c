// SPDX-License-Identifier: MIT
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "agent.h"

/*
 * Write all of buf. EAGAIN waits a little rather than failing: a virtio
 * port with no host end connected reports it, and so may a socket.
 */
int agent_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 50);
			continue;
		}
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}
