/* SPDX-License-Identifier: MIT */
/*
 * 16550A UARTs: COM1 (0x3f8, IRQ 4) is the console, COM2 (0x2f8, IRQ 3) the
 * agent channel. The guest side is register-accurate enough for Linux's 8250
 * driver (FIFO detection, loopback test, THRE and receive interrupts). The
 * host side is a backend from the command line; guest output never blocks a
 * vCPU: what the backend cannot take right now is buffered (64 KiB) and then
 * dropped and counted.
 */
#ifndef BALLAST_SERIAL_H
#define BALLAST_SERIAL_H

#include <pthread.h>

#include "cli.h"
#include "compiler.h"

struct kvm;

#define SERIAL_RX_SIZE		4096
#define SERIAL_TX_BUF		65536

struct serial_stats {
	u64 tx_bytes;		/* guest -> backend, delivered */
	u64 tx_dropped;		/* guest -> backend, lost (no client, full) */
	u64 rx_bytes;		/* backend -> guest */
	u64 clients;		/* socket connections accepted */
};

/* What the I/O thread hands a serial handler: which port, which fd. */
struct serial_fd {
	struct serial *s;
	int fd;
};

struct serial {
	struct kvm *kvm;
	const char *name;
	u16 port;
	u8 irq;
	pthread_mutex_t lock;

	/* 16550A registers. */
	u8 ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thr_ipending;
	int irq_level;
	u8 rx[SERIAL_RX_SIZE];
	unsigned int rx_head, rx_count;

	/* Backend. */
	struct serial_spec spec;
	int rx_fd;		/* -1: no input */
	int tx_fd;		/* -1: output dropped */
	int listen_fd;		/* socket= only */
	int timer_fd;		/* dev=: retry after the other end hung up */
	bool own_rx, own_tx;	/* close on shutdown */
	u32 rx_mask, tx_mask;	/* epoll events currently armed */
	u8 txbuf[SERIAL_TX_BUF];
	size_t tx_len;
	/* The socket client or dev= peer of the moment: one, reused. */
	struct serial_fd peer;

	/* COM1 watches for the kernel's panic banner (see i8042.c). */
	bool watch_panic;
	unsigned int panic_match;

	struct serial_stats stats;
};

/* Set up UART index (0: COM1, 1: COM2) with its backend. err on failure. */
int serial_init(struct serial *s, struct kvm *kvm, int index, const struct serial_spec *spec,
		char *err, size_t errlen);
void serial_exit(struct serial *s);

/* The register file, exposed for unit tests: offset 0..7 from the base. */
void serial_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write);
/* Queue bytes for the guest as if the backend sent them; returns bytes taken. */
size_t serial_receive(struct serial *s, const u8 *buf, size_t len);

#endif
