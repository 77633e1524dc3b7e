// SPDX-License-Identifier: MIT
/*
 * 16550A UART emulation and its host backends. Locking: s->lock covers the
 * registers, the receive FIFO and the transmit buffer; it is taken by vCPU
 * threads (register access) and the I/O thread (backend events).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "ioloop.h"
#include "kvm.h"
#include "log.h"
#include "serial.h"

/* Register offsets and bits (include/uapi/linux/serial_reg.h). */
#define UART_RX		0
#define UART_TX		0
#define UART_DLL	0
#define UART_IER	1
#define UART_DLM	1
#define UART_IIR	2
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6
#define UART_SCR	7

#define UART_IER_RDI	0x01
#define UART_IER_THRI	0x02
#define UART_IER_RLSI	0x04
#define UART_IER_MSI	0x08
#define UART_IIR_NO_INT	0x01
#define UART_IIR_MSI	0x00
#define UART_IIR_THRI	0x02
#define UART_IIR_RDI	0x04
#define UART_IIR_FIFO	0xc0	/* FIFOs enabled (16550A) */
#define UART_FCR_ENABLE	0x01
#define UART_FCR_CLR_RX	0x02
#define UART_LCR_DLAB	0x80
#define UART_MCR_DTR	0x01
#define UART_MCR_RTS	0x02
#define UART_MCR_OUT1	0x04
#define UART_MCR_OUT2	0x08
#define UART_MCR_LOOP	0x10
#define UART_LSR_DR	0x01
#define UART_LSR_THRE	0x20
#define UART_LSR_TEMT	0x40
#define UART_MSR_CTS	0x10
#define UART_MSR_DSR	0x20
#define UART_MSR_RI	0x40
#define UART_MSR_DCD	0x80

#define RETRY_NS	200000000	/* dev=: look again 200 ms after a hang-up */

static const char panic_banner[] = "Kernel panic - not syncing";

static const struct {
	const char *name;
	u16 port;
	u8 irq;
} uarts[] = {
	{ "COM1", 0x3f8, 4 },
	{ "COM2", 0x2f8, 3 },
};

static struct termios saved_termios;
static bool termios_saved;

static void restore_termios(void)
{
	if (termios_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
}

/* ---- interrupt state ------------------------------------------------ */

static u8 iir(struct serial *s)
{
	u8 fifo = s->fcr & UART_FCR_ENABLE ? UART_IIR_FIFO : 0;

	if ((s->ier & UART_IER_RDI) && s->rx_count)
		return fifo | UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		return fifo | UART_IIR_THRI;
	return fifo | UART_IIR_NO_INT;
}

static void update_irq(struct serial *s)
{
	int level = !(iir(s) & UART_IIR_NO_INT);

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->kvm && s->kvm->vm_fd >= 0)
		kvm_irq_line(s->kvm, s->irq, level);
}

/* ---- backend polling ------------------------------------------------ */

static void backend_event(void *opaque, u32 events);

/* Arm EPOLLIN while the FIFO has room and EPOLLOUT while output waits. */
static void update_poll(struct serial *s)
{
	struct ioloop *loop = s->kvm ? s->kvm->loop : NULL;
	u32 rx = 0, tx = 0;

	if (!loop)
		return;
	if (s->rx_fd >= 0 && s->rx_count < SERIAL_RX_SIZE)
		rx = EPOLLIN;
	if (s->tx_fd >= 0 && s->tx_len)
		tx = EPOLLOUT;
	if (s->rx_fd >= 0 && s->rx_fd == s->tx_fd) {
		if ((rx | tx) != (s->rx_mask | s->tx_mask))
			ioloop_mod(loop, s->rx_fd, rx | tx);
		s->rx_mask = rx;
		s->tx_mask = tx;
		return;
	}
	if (s->rx_fd >= 0 && rx != s->rx_mask)
		ioloop_mod(loop, s->rx_fd, rx);
	s->rx_mask = rx;
	if (s->tx_fd >= 0 && tx != s->tx_mask)
		ioloop_mod(loop, s->tx_fd, tx);
	s->tx_mask = tx;
}

static void drop_client(struct serial *s)
{
	struct ioloop *loop = s->kvm->loop;
	int fd = s->tx_fd;

	if (fd < 0)
		return;
	ioloop_del(loop, fd);
	close(fd);
	s->rx_fd = s->tx_fd = -1;
	s->rx_mask = s->tx_mask = 0;
	s->stats.tx_dropped += s->tx_len;
	s->tx_len = 0;
	if (s->listen_fd >= 0)
		ioloop_mod(loop, s->listen_fd, EPOLLIN);
	pr_info("%s: client disconnected", s->name);
}

/* The other end of a dev= port went away: stop polling, look again later. */
static void dev_hangup(struct serial *s)
{
	struct itimerspec ts = { .it_value.tv_nsec = RETRY_NS };

	ioloop_del(s->kvm->loop, s->rx_fd);
	s->rx_mask = s->tx_mask = 0;
	s->rx_fd = -1;		/* tx_fd stays: writes fail and are counted */
	if (s->timer_fd >= 0)
		timerfd_settime(s->timer_fd, 0, &ts, NULL);
}

/* Write what we can of txbuf; called with the lock held. */
static void flush_tx(struct serial *s)
{
	while (s->tx_len && s->tx_fd >= 0) {
		ssize_t n = s->spec.type == SERIAL_SOCKET ?
			send(s->tx_fd, s->txbuf, s->tx_len, MSG_NOSIGNAL | MSG_DONTWAIT) :
			write(s->tx_fd, s->txbuf, s->tx_len);

		if (n > 0) {
			s->stats.tx_bytes += n;
			s->tx_len -= n;
			memmove(s->txbuf, s->txbuf + n, s->tx_len);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		/* EPIPE, ECONNRESET, EIO...: the output is gone. */
		s->stats.tx_dropped += s->tx_len;
		s->tx_len = 0;
		if (s->spec.type == SERIAL_SOCKET)
			drop_client(s);
		break;
	}
}

static void watch_panic(struct serial *s, u8 c)
{
	if (c == (u8)panic_banner[s->panic_match])
		s->panic_match++;
	else
		s->panic_match = c == (u8)panic_banner[0];	/* 'K' starts only once */
	if (s->panic_match == sizeof(panic_banner) - 1) {
		s->kvm->guest_panicked = true;
		s->panic_match = 0;
	}
}

static void transmit(struct serial *s, u8 c)
{
	if (s->watch_panic && s->kvm)
		watch_panic(s, c);
	if (s->tx_fd < 0) {
		s->stats.tx_dropped++;
		return;
	}
	if (s->tx_len == SERIAL_TX_BUF) {
		s->stats.tx_dropped++;
		return;
	}
	s->txbuf[s->tx_len++] = c;
	flush_tx(s);
	update_poll(s);
}

static void rx_push(struct serial *s, u8 c)
{
	if (s->rx_count == SERIAL_RX_SIZE)
		return;
	s->rx[(s->rx_head + s->rx_count++) % SERIAL_RX_SIZE] = c;
}

size_t serial_receive(struct serial *s, const u8 *buf, size_t len)
{
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < len && s->rx_count < SERIAL_RX_SIZE; i++)
		rx_push(s, buf[i]);
	s->stats.rx_bytes += i;
	update_irq(s);
	update_poll(s);
	pthread_mutex_unlock(&s->lock);
	return i;
}

/* ---- guest-visible registers ---------------------------------------- */

static u8 msr(struct serial *s)
{
	if (s->mcr & UART_MCR_LOOP)
		return (s->mcr & UART_MCR_RTS ? UART_MSR_CTS : 0) |
		       (s->mcr & UART_MCR_DTR ? UART_MSR_DSR : 0) |
		       (s->mcr & UART_MCR_OUT1 ? UART_MSR_RI : 0) |
		       (s->mcr & UART_MCR_OUT2 ? UART_MSR_DCD : 0);
	return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
}

static u8 reg_read(struct serial *s, u64 off)
{
	u8 v;

	switch (off) {
	case UART_RX:
		if (s->lcr & UART_LCR_DLAB)
			return s->dll;
		if (!s->rx_count)
			return 0;
		v = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_RX_SIZE;
		s->rx_count--;
		update_poll(s);		/* room again: resume reading */
		return v;
	case UART_IER:
		return s->lcr & UART_LCR_DLAB ? s->dlm : s->ier;
	case UART_IIR:
		v = iir(s);
		/* Reading IIR while it reports THRE acknowledges it. */
		if ((v & 0x0f) == UART_IIR_THRI)
			s->thr_ipending = false;
		return v;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return UART_LSR_THRE | UART_LSR_TEMT | (s->rx_count ? UART_LSR_DR : 0);
	case UART_MSR:
		return msr(s);
	case UART_SCR:
		return s->scr;
	}
	return 0xff;
}

static void reg_write(struct serial *s, u64 off, u8 v)
{
	switch (off) {
	case UART_TX:
		if (s->lcr & UART_LCR_DLAB) {
			s->dll = v;
			break;
		}
		if (s->mcr & UART_MCR_LOOP)
			rx_push(s, v);
		else
			transmit(s, v);
		/* Sent at once: the holding register is empty again. */
		s->thr_ipending = true;
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI with THR empty raises it, as on real parts. */
		if ((v & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
			s->thr_ipending = true;
		s->ier = v & (UART_IER_RDI | UART_IER_THRI | UART_IER_RLSI | UART_IER_MSI);
		break;
	case UART_FCR:
		s->fcr = v & UART_FCR_ENABLE;
		if (v & UART_FCR_CLR_RX) {
			s->rx_count = 0;
			update_poll(s);
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	}
}

void serial_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	struct serial *s = opaque;
	u32 i;

	pthread_mutex_lock(&s->lock);
	/* A wider access is a string of byte accesses to consecutive ports. */
	for (i = 0; i < len && off + i < 8; i++) {
		if (is_write)
			reg_write(s, off + i, data[i]);
		else
			data[i] = reg_read(s, off + i);
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/* ---- I/O thread ----------------------------------------------------- */

static void do_rx(struct serial *s)
{
	u8 buf[SERIAL_RX_SIZE];
	size_t room = SERIAL_RX_SIZE - s->rx_count;
	ssize_t n;

	if (!room)
		return;
	n = s->spec.type == SERIAL_SOCKET ? recv(s->rx_fd, buf, room, MSG_DONTWAIT) :
					    read(s->rx_fd, buf, room);
	if (n > 0) {
		ssize_t i;

		for (i = 0; i < n; i++)
			rx_push(s, buf[i]);
		s->stats.rx_bytes += n;
		update_irq(s);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* EOF or error. */
	switch (s->spec.type) {
	case SERIAL_SOCKET:
		drop_client(s);
		break;
	case SERIAL_DEV:
		dev_hangup(s);
		break;
	default:
		/* stdin closed: no more input, output continues. */
		ioloop_del(s->kvm->loop, s->rx_fd);
		s->rx_fd = -1;
		s->rx_mask = 0;
		break;
	}
}

static void backend_event(void *opaque, u32 events)
{
	struct serial_fd *sf = opaque;
	struct serial *s = sf->s;

	pthread_mutex_lock(&s->lock);
	if ((events & EPOLLIN) && sf->fd == s->rx_fd)
		do_rx(s);
	if ((events & EPOLLOUT) && sf->fd == s->tx_fd)
		flush_tx(s);
	if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN)) {
		if (s->spec.type == SERIAL_SOCKET && sf->fd == s->tx_fd) {
			drop_client(s);
		} else if (s->spec.type == SERIAL_DEV && sf->fd == s->rx_fd) {
			dev_hangup(s);
		} else if (sf->fd == s->rx_fd || sf->fd == s->tx_fd) {
			/* A pipe's other end closed: stop watching it. */
			ioloop_del(s->kvm->loop, sf->fd);
			if (sf->fd == s->rx_fd)
				s->rx_fd = -1;
			if (sf->fd == s->tx_fd) {
				s->stats.tx_dropped += s->tx_len;
				s->tx_len = 0;
				s->tx_fd = -1;
			}
			s->rx_mask = s->tx_mask = 0;
		}
	}
	update_poll(s);
	pthread_mutex_unlock(&s->lock);
}

/* Watch fd for the I/O thread through sf; false with errno set on failure. */
static bool watch_as(struct serial_fd *sf, struct serial *s, int fd, u32 events, ioloop_fn fn)
{
	int ret;

	sf->s = s;
	sf->fd = fd;
	ret = ioloop_add(s->kvm->loop, fd, events, fn, sf);
	if (ret < 0)
		errno = -ret;
	return ret == 0;
}

static struct serial_fd *watch(struct serial *s, int fd, u32 events, ioloop_fn fn)
{
	struct serial_fd *sf = calloc(1, sizeof(*sf));

	if (!sf)
		return NULL;
	if (!watch_as(sf, s, fd, events, fn)) {
		free(sf);
		return NULL;
	}
	return sf;
}

/*
 * A new socket client or dev= peer: watched through s->peer, so a VMM that
 * sees a thousand connections does not keep a thousand handler records.
 */
static bool watch_peer(struct serial *s, int fd)
{
	return watch_as(&s->peer, s, fd, EPOLLIN, backend_event);
}

static void listen_event(void *opaque, u32 events)
{
	struct serial_fd *sf = opaque;
	struct serial *s = sf->s;
	int fd;

	pthread_mutex_lock(&s->lock);
	if (s->tx_fd >= 0) {
		/* One client at a time; the next waits in the backlog. */
		ioloop_mod(s->kvm->loop, s->listen_fd, 0);
		goto out;
	}
	fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		goto out;
	s->rx_fd = s->tx_fd = fd;
	s->rx_mask = EPOLLIN;
	s->tx_mask = 0;
	if (!watch_peer(s, fd)) {
		close(fd);
		s->rx_fd = s->tx_fd = -1;
		goto out;
	}
	s->stats.clients++;
	ioloop_mod(s->kvm->loop, s->listen_fd, 0);
	pr_info("%s: client connected", s->name);
out:
	pthread_mutex_unlock(&s->lock);
}

static void retry_event(void *opaque, u32 events)
{
	struct serial_fd *sf = opaque;
	struct serial *s = sf->s;
	u64 ticks;

	if (read(s->timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* spurious */
	}
	pthread_mutex_lock(&s->lock);
	if (s->rx_fd < 0 && s->tx_fd >= 0) {
		s->rx_fd = s->tx_fd;
		s->rx_mask = EPOLLIN;
		s->tx_mask = 0;
		if (!watch_peer(s, s->rx_fd))
			s->rx_fd = -1;
	}
	update_poll(s);
	pthread_mutex_unlock(&s->lock);
}

/* ---- set-up --------------------------------------------------------- */

static int open_stdio(struct serial *s)
{
	struct stat st;
	int fd = -1;

	if (fstat(STDOUT_FILENO, &st) == 0) {
		if (S_ISREG(st.st_mode)) {
			fd = STDOUT_FILENO;	/* files never say EAGAIN */
		} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
			/*
			 * A fresh open file description, so O_NONBLOCK does
			 * not leak to the shell sharing our stdout.
			 */
			fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
			if (fd >= 0)
				s->own_tx = true;
		}
		if (fd < 0) {
			fd = STDOUT_FILENO;
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		}
	}
	s->tx_fd = fd;
	s->rx_fd = STDIN_FILENO;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
		struct termios raw = saved_termios;

		/* Raw, so the guest does the echo and line editing; keep ^C. */
		cfmakeraw(&raw);
		raw.c_lflag |= ISIG;
		raw.c_oflag |= OPOST | ONLCR;
		termios_saved = true;
		atexit(restore_termios);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	return 0;
}

static int open_socket(struct serial *s, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(s->spec.path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: socket path too long: '%s'", s->name, s->spec.path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, s->spec.path);
	/* A socket left behind by an earlier run is ours to replace. */
	if (lstat(s->spec.path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(s->spec.path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 1) < 0) {
		snprintf(err, errlen, "%s: cannot listen on '%s': %s", s->name, s->spec.path,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	s->listen_fd = fd;
	return 0;
}

int serial_init(struct serial *s, struct kvm *kvm, int index, const struct serial_spec *spec,
		char *err, size_t errlen)
{
	int ret = 0, fd;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->kvm = kvm;
	s->name = uarts[index].name;
	s->port = uarts[index].port;
	s->irq = uarts[index].irq;
	s->spec = *spec;
	s->rx_fd = s->tx_fd = s->listen_fd = s->timer_fd = -1;
	s->watch_panic = index == 0;

	switch (spec->type) {
	case SERIAL_NULL:
		break;
	case SERIAL_STDIO:
		ret = open_stdio(s);
		break;
	case SERIAL_FILE:
		fd = open(spec->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0644);
		if (fd < 0) {
			snprintf(err, errlen, "%s: cannot open '%s': %s", s->name, spec->path,
				 strerror(errno));
			return -EINVAL;
		}
		s->tx_fd = fd;
		s->own_tx = true;
		break;
	case SERIAL_DEV:
		fd = open(spec->path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "%s: cannot open '%s': %s", s->name, spec->path,
				 strerror(errno));
			return -EINVAL;
		}
		if (isatty(fd)) {
			struct termios t;

			if (tcgetattr(fd, &t) == 0) {
				cfmakeraw(&t);
				tcsetattr(fd, TCSANOW, &t);
			}
		}
		s->rx_fd = s->tx_fd = fd;
		s->own_rx = s->own_tx = true;
		s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		break;
	case SERIAL_SOCKET:
		ret = open_socket(s, err, errlen);
		break;
	}
	if (ret)
		return ret;

	ret = bus_register(&kvm->pio_bus, s->port, 8, serial_io, s);
	if (ret) {
		snprintf(err, errlen, "%s: port 0x%x busy", s->name, s->port);
		return ret;
	}
	if (!kvm->loop)
		return 0;

	/* Register what the I/O thread watches. */
	if (s->listen_fd >= 0 && !watch(s, s->listen_fd, EPOLLIN, listen_event))
		goto err_watch;
	if (s->timer_fd >= 0 && !watch(s, s->timer_fd, EPOLLIN, retry_event))
		goto err_watch;
	if (s->rx_fd >= 0) {
		/* Regular files can't be polled: then there is no input. */
		if (!watch(s, s->rx_fd, EPOLLIN, backend_event))
			s->rx_fd = -1;
		else
			s->rx_mask = EPOLLIN;
	}
	if (s->tx_fd >= 0 && s->tx_fd != s->rx_fd) {
		/*
		 * Registered idle; EPOLLOUT is armed only while output waits.
		 * Regular files (EPERM) need no polling: they never block.
		 */
		if (!watch(s, s->tx_fd, 0, backend_event) && errno != EPERM)
			pr_info("%s: output is not pollable; it may be dropped", s->name);
	}
	return 0;

err_watch:
	snprintf(err, errlen, "%s: cannot watch the backend: %s", s->name, strerror(errno));
	return -EINVAL;
}

void serial_exit(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	/* Last chance for buffered output: block briefly rather than lose it. */
	if (s->tx_len && s->tx_fd >= 0) {
		int fl = fcntl(s->tx_fd, F_GETFL);

		if (fl >= 0 && (fl & O_NONBLOCK)) {
			fcntl(s->tx_fd, F_SETFL, fl & ~O_NONBLOCK);
			flush_tx(s);
			fcntl(s->tx_fd, F_SETFL, fl);
		}
	}
	if ((s->own_tx || s->spec.type == SERIAL_SOCKET) && s->tx_fd >= 0)
		close(s->tx_fd);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		unlink(s->spec.path);
	}
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	s->rx_fd = s->tx_fd = s->listen_fd = s->timer_fd = -1;
	pthread_mutex_unlock(&s->lock);
	if (s->stats.tx_dropped)
		pr_info("%s: %llu output bytes dropped", s->name,
			(unsigned long long)s->stats.tx_dropped);
}
