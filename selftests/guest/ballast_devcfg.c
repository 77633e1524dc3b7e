// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_devcfg: print the balloon device's configuration space as the
 * device holds it, read from inside the guest, whatever the VMM's control
 * plane says and whichever driver is bound:
 *
 *   num_pages N
 *   actual N
 *   [free_page_hint_cmd_id N]
 *   [poison_val N]
 *
 * It reads through the VIRTIO_PCI_CAP_PCI_CFG window (virtio 1.2 §4.1.4.9)
 * in the PCI configuration space, which sysfs lets root write: the driver
 * never uses that window, and mapping the BAR itself is refused once a
 * driver holds it (CONFIG_IO_STRICT_DEVMEM). A device without the window
 * breaks a MUST of §4.1.4.9: exit status 1 with that said. Exit status 4
 * (skip) when there is no virtio-pci balloon.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VIRTIO_BUS		"/sys/bus/virtio/devices"
#define VIRTIO_ID_BALLOON	5
#define PCI_STATUS		0x06
#define PCI_STATUS_CAP_LIST	0x10
#define PCI_CAPABILITY_LIST	0x34
#define PCI_CAP_ID_VNDR		0x09
#define CAP_DEVICE_CFG		4
#define CAP_PCI_CFG		5
/* struct virtio_pci_cap: cfg_type at 3, bar at 4, offset at 8, length at 12. */
#define CAP_CFG_TYPE		3
#define CAP_BAR			4
#define CAP_OFFSET		8
#define CAP_LENGTH		12
/* struct virtio_pci_cfg_cap: the data window follows the cap. */
#define CAP_PCI_CFG_DATA	16

static const char *const fields[] = {
	"num_pages", "actual", "free_page_hint_cmd_id", "poison_val",
};

/* The PCI function behind the virtio balloon: its sysfs config file. */
static int find_balloon_config(char *path, size_t len)
{
	DIR *d = opendir(VIRTIO_BUS);
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		char buf[PATH_MAX], real[PATH_MAX];
		unsigned int id;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(buf, sizeof(buf), VIRTIO_BUS "/%s/device", e->d_name);
		f = fopen(buf, "r");
		if (!f)
			continue;
		if (fscanf(f, "%x", &id) == 1 && id == VIRTIO_ID_BALLOON) {
			snprintf(buf, sizeof(buf), VIRTIO_BUS "/%s/..", e->d_name);
			if (realpath(buf, real) && strlen(real) + sizeof("/config") <= len) {
				strcpy(path, real);
				strcat(path, "/config");
				found = access(path, R_OK | W_OK) == 0;
			}
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

static int cfg_read(int fd, unsigned int off, void *buf, size_t len)
{
	return pread(fd, buf, len, off) == (ssize_t)len ? 0 : -1;
}

static int cfg_write(int fd, unsigned int off, const void *buf, size_t len)
{
	return pwrite(fd, buf, len, off) == (ssize_t)len ? 0 : -1;
}

/* Walk the capability list for a vendor cap of cfg_type; its offset or 0. */
static unsigned int find_cap(int fd, uint8_t type)
{
	uint16_t status;
	uint8_t pos, hdr[4];
	int guard = 48;

	if (cfg_read(fd, PCI_STATUS, &status, 2) || !(status & PCI_STATUS_CAP_LIST) ||
	    cfg_read(fd, PCI_CAPABILITY_LIST, &pos, 1))
		return 0;
	while (pos >= 0x40 && guard--) {
		if (cfg_read(fd, pos & ~3u, hdr, sizeof(hdr)))
			return 0;
		if (hdr[0] == PCI_CAP_ID_VNDR && hdr[CAP_CFG_TYPE] == type)
			return pos & ~3u;
		pos = hdr[1];
	}
	return 0;
}

/* One le32 of the device config through the window (little-endian host). */
static int window_read32(int fd, unsigned int win, uint8_t bar, uint32_t off, uint32_t *val)
{
	uint32_t len = 4;

	if (cfg_write(fd, win + CAP_BAR, &bar, 1) || cfg_write(fd, win + CAP_OFFSET, &off, 4) ||
	    cfg_write(fd, win + CAP_LENGTH, &len, 4))
		return -1;
	return cfg_read(fd, win + CAP_PCI_CFG_DATA, val, 4);
}

int main(void)
{
	char path[PATH_MAX];
	unsigned int dev, win, i;
	uint32_t off, len, val;
	uint8_t bar;
	int fd;

	if (!find_balloon_config(path, sizeof(path))) {
		fprintf(stderr, "ballast_devcfg: no virtio-pci balloon device\n");
		return 4;
	}
	fd = open(path, O_RDWR);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	dev = find_cap(fd, CAP_DEVICE_CFG);
	win = find_cap(fd, CAP_PCI_CFG);
	if (!dev || !win) {
		fprintf(stderr, "ballast_devcfg: %s: no %s capability (virtio 1.2 §4.1.4.%s)\n",
			path, dev ? "VIRTIO_PCI_CAP_PCI_CFG" : "VIRTIO_PCI_CAP_DEVICE_CFG",
			dev ? "9" : "6");
		return 1;
	}
	if (cfg_read(fd, dev + CAP_BAR, &bar, 1) || cfg_read(fd, dev + CAP_OFFSET, &off, 4) ||
	    cfg_read(fd, dev + CAP_LENGTH, &len, 4)) {
		perror(path);
		return 1;
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]) && (i + 1) * 4 <= len; i++) {
		if (window_read32(fd, win, bar, off + i * 4, &val)) {
			perror(path);
			return 1;
		}
		printf("%s %u\n", fields[i], val);
	}
	close(fd);
	return 0;
}
