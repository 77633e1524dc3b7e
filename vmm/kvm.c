// SPDX-License-Identifier: MIT
/*
 * VM-wide KVM state. Everything here runs at set-up, except the IRQ, routing
 * and ioeventfd helpers, which device code calls from any thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ioloop.h"
#include "kvm.h"
#include "log.h"
#include "vcpu.h"

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -ENODEV;
}

/*
 * A /dev/kvm without VT-x/AMD-V (kvm_pvm, a paravirtual software KVM) opens
 * and creates VMs fine but hangs a stock kernel in its real-mode setup; say
 * so up front instead of hanging.
 */
static bool host_has_hw_virt(void)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return true;	/* can't tell: let KVM decide */
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		found = strstr(line, " vmx") || strstr(line, " svm");
		break;
	}
	fclose(f);
	return found;
}

int kvm_open(struct kvm *kvm, char *err, size_t errlen)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};
	size_t i;
	int ret;

	kvm->sys_fd = -1;
	kvm->vm_fd = -1;
	kvm->exit_status = -1;
	pthread_mutex_init(&kvm->route_lock, NULL);
	pthread_mutex_init(&kvm->coalesced_lock, NULL);
	pthread_mutex_init(&kvm->pause_lock, NULL);
	pthread_cond_init(&kvm->pause_cond, NULL);
	bus_init(&kvm->pio_bus, "pio");
	bus_init(&kvm->mmio_bus, "mmio");

	kvm->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm->sys_fd < 0)
		return fail(err, errlen, "cannot open /dev/kvm: %s%s", strerror(errno),
			    errno == ENOENT ? " (no KVM on this host; load kvm_intel or kvm_amd)" : "");
	ret = ioctl(kvm->sys_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION)
		return fail(err, errlen, "/dev/kvm: API version %d, need %d", ret, KVM_API_VERSION);
	if (access("/sys/module/kvm_pvm", F_OK) == 0 && !host_has_hw_virt())
		return fail(err, errlen,
			    "/dev/kvm is kvm_pvm (no VT-x/AMD-V): it cannot boot a stock kernel");
	if (!host_has_hw_virt())
		return fail(err, errlen,
			    "/dev/kvm is unusable: the CPU shows neither vmx nor svm");
	for (i = 0; i < ARRAY_SIZE(caps); i++)
		if (ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return fail(err, errlen, "/dev/kvm lacks %s", caps[i].name);
	kvm->tsc_deadline = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;

	kvm->run_size = ioctl(kvm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->run_size <= 0)
		return fail(err, errlen, "/dev/kvm: KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));

	for (i = 64; ; i *= 2) {
		kvm->cpuid = calloc(1, sizeof(*kvm->cpuid) + i * sizeof(struct kvm_cpuid_entry2));
		if (!kvm->cpuid)
			return fail(err, errlen, "out of memory");
		kvm->cpuid->nent = i;
		if (ioctl(kvm->sys_fd, KVM_GET_SUPPORTED_CPUID, kvm->cpuid) == 0)
			break;
		free(kvm->cpuid);
		kvm->cpuid = NULL;
		if (errno != E2BIG || i >= 1024)
			return fail(err, errlen, "/dev/kvm: KVM_GET_SUPPORTED_CPUID: %s",
				    strerror(errno));
	}
	return 0;
}

/* The PC wiring QEMU uses: ISA IRQ 0 (PIT) on IOAPIC pin 2, else identity. */
static void routes_init_irqchip(struct kvm *kvm)
{
	u32 i;

	kvm->nr_routes = 0;
	for (i = 0; i < 16; i++) {
		if (i == 2)
			continue;	/* the cascade */
		kvm->routes[kvm->nr_routes++] = (struct kvm_irq_routing_entry) {
			.gsi = i, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
				       .pin = i % 8 },
		};
	}
	for (i = 0; i < IOAPIC_NR_PINS; i++) {
		if (i == 2)
			continue;
		kvm->routes[kvm->nr_routes++] = (struct kvm_irq_routing_entry) {
			.gsi = i, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = i ? i : 2 },
		};
	}
	kvm->next_gsi = IOAPIC_NR_PINS;
}

/* Called with route_lock held. KVM_SET_GSI_ROUTING replaces the whole table. */
static int routes_commit(struct kvm *kvm)
{
	struct {
		struct kvm_irq_routing hdr;
		struct kvm_irq_routing_entry e[KVM_MAX_ROUTES];
	} r;

	memset(&r.hdr, 0, sizeof(r.hdr));
	r.hdr.nr = kvm->nr_routes;
	memcpy(r.e, kvm->routes, kvm->nr_routes * sizeof(r.e[0]));
	if (ioctl(kvm->vm_fd, KVM_SET_GSI_ROUTING, &r) < 0)
		return -errno;
	return 0;
}

int kvm_create_vm(struct kvm *kvm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	u64 map_addr = KVM_IDENTITY_MAP_ADDR;
	int ret, max;

	kvm->vm_fd = ioctl(kvm->sys_fd, KVM_CREATE_VM, 0);
	if (kvm->vm_fd < 0)
		return fail(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
	max = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && kvm->nr_cpus > (unsigned int)max)
		return fail(err, errlen, "--cpus %u: this KVM allows at most %d", kvm->nr_cpus, max);
	/* Intel needs these pages reserved below 4G; harmless on AMD. */
	if (ioctl(kvm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		return fail(err, errlen, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(kvm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &map_addr) < 0)
		return fail(err, errlen, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(kvm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail(err, errlen, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(kvm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return fail(err, errlen, "KVM_CREATE_PIT2: %s", strerror(errno));

	pthread_mutex_lock(&kvm->route_lock);
	routes_init_irqchip(kvm);
	ret = routes_commit(kvm);
	pthread_mutex_unlock(&kvm->route_lock);
	if (ret)
		return fail(err, errlen, "KVM_SET_GSI_ROUTING: %s", strerror(-ret));
	return 0;
}

/* One memory slot per RAM region, slot i for region i. */
static int kvm_set_slots(struct kvm *kvm, u32 flags)
{
	int i;

	for (i = 0; i < kvm->mem.nr_regions; i++) {
		struct guest_mem_region *r = &kvm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.flags = flags,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->hva,
		};

		if (ioctl(kvm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return -errno;
	}
	return 0;
}

int kvm_set_memory(struct kvm *kvm)
{
	return kvm_set_slots(kvm, 0);
}

/* Each slot's log, ORed into words at the slot's first PFN; the log is reset. */
int kvm_dirty_log_read(struct kvm *kvm, u64 *words, u64 nr_pfns)
{
	int i, ret = 0;

	for (i = 0; i < kvm->mem.nr_regions && !ret; i++) {
		const struct guest_mem_region *r = &kvm->mem.regions[i];
		u64 pages = r->size >> 12, first = r->gpa >> 12, w, nr_words = (pages + 63) / 64;
		struct kvm_dirty_log log = { .slot = i };
		u64 *bits = calloc(nr_words, sizeof(u64));

		if (!bits)
			return -ENOMEM;
		log.dirty_bitmap = bits;
		if (ioctl(kvm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			ret = -errno;
		/* Regions start on 256 KiB boundaries (0 and 4 GiB): whole words. */
		for (w = 0; words && !ret && w < nr_words; w++) {
			u64 pfn = first + w * 64;

			if (bits[w] && pfn < nr_pfns && !(first % 64))
				words[pfn / 64] |= bits[w];
		}
		free(bits);
	}
	return ret;
}

int kvm_dirty_log_start(struct kvm *kvm)
{
	int ret;

	/* Already on: reading the log resets it. */
	if (kvm->dirty_logging)
		return kvm_dirty_log_read(kvm, NULL, 0);
	ret = kvm_set_slots(kvm, KVM_MEM_LOG_DIRTY_PAGES);
	if (!ret)
		kvm->dirty_logging = true;
	return ret;
}

int kvm_dirty_log_collect(struct kvm *kvm, u64 *words, u64 nr_pfns)
{
	int ret;

	if (!kvm->dirty_logging)
		return -EINVAL;
	ret = kvm_dirty_log_read(kvm, words, nr_pfns);
	/* Logging costs a write fault per page: off until the next run. */
	if (!kvm_set_slots(kvm, 0))
		kvm->dirty_logging = false;
	return ret;
}

void kvm_close(struct kvm *kvm)
{
	if (kvm->vm_fd >= 0)
		close(kvm->vm_fd);
	if (kvm->sys_fd >= 0)
		close(kvm->sys_fd);
	free(kvm->cpuid);
	kvm->cpuid = NULL;
	kvm->vm_fd = kvm->sys_fd = -1;
}

int kvm_coalesce_pio(struct kvm *kvm, int vcpu_fd, u16 port, u16 len)
{
	struct kvm_coalesced_mmio_zone zone = { .addr = port, .size = len, .pio = 1 };
	long page = sysconf(_SC_PAGESIZE);
	/* CAP_COALESCED_MMIO gives the ring's page offset in the vCPU mapping. */
	int off = ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_MMIO);
	void *ring;

	if (off <= 0 || ioctl(kvm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_COALESCED_PIO) <= 0)
		return -ENOTSUP;
	if (!kvm->coalesced_ring) {
		ring = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, off * page);
		if (ring == MAP_FAILED)
			return -ENOTSUP;
		kvm->coalesced_ring = ring;
		kvm->coalesced_max = (page - sizeof(struct kvm_coalesced_mmio_ring)) /
				     sizeof(struct kvm_coalesced_mmio);
	}
	if (ioctl(kvm->vm_fd, KVM_REGISTER_COALESCED_MMIO, &zone) < 0)
		return -ENOTSUP;
	return 0;
}

void kvm_flush_coalesced(struct kvm *kvm)
{
	struct kvm_coalesced_mmio_ring *ring = kvm->coalesced_ring;

	if (!ring || __atomic_load_n(&ring->first, __ATOMIC_ACQUIRE) ==
		     __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&kvm->coalesced_lock);
	while (ring->first != __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE)) {
		struct kvm_coalesced_mmio *e = &ring->coalesced_mmio[ring->first];
		u8 data[8];
		u32 len = MIN(e->len, 8U);

		memcpy(data, e->data, len);
		bus_dispatch(e->pio ? &kvm->pio_bus : &kvm->mmio_bus, e->phys_addr, data, len, true);
		__atomic_store_n(&ring->first, (ring->first + 1) % kvm->coalesced_max,
				 __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&kvm->coalesced_lock);
}

int kvm_irq_line(struct kvm *kvm, u32 gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(kvm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

int kvm_ioeventfd(struct kvm *kvm, u64 addr, u32 len, int fd, bool pio, bool assign)
{
	struct kvm_ioeventfd ioev = {
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	if (ioctl(kvm->vm_fd, KVM_IOEVENTFD, &ioev) < 0)
		return -errno;
	return 0;
}

int kvm_irqfd(struct kvm *kvm, u32 gsi, int fd, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = fd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (ioctl(kvm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

int kvm_msi_route_alloc(struct kvm *kvm, u32 *gsi)
{
	int ret = 0;

	pthread_mutex_lock(&kvm->route_lock);
	if (kvm->nr_routes == KVM_MAX_ROUTES) {
		ret = -ENOSPC;
	} else {
		/*
		 * Address 0 would deliver to APIC 0 vector 0; nothing signals
		 * the irqfd before the guest programs the entry, and an MSI
		 * with vector 0 is dropped by the local APIC anyway.
		 */
		*gsi = kvm->next_gsi++;
		kvm->routes[kvm->nr_routes++] = (struct kvm_irq_routing_entry) {
			.gsi = *gsi, .type = KVM_IRQ_ROUTING_MSI,
		};
		ret = routes_commit(kvm);
	}
	pthread_mutex_unlock(&kvm->route_lock);
	return ret;
}

int kvm_msi_route_set(struct kvm *kvm, u32 gsi, u64 addr, u32 data)
{
	unsigned int i;
	int ret = -ENOENT;

	pthread_mutex_lock(&kvm->route_lock);
	for (i = 0; i < kvm->nr_routes; i++) {
		struct kvm_irq_routing_entry *e = &kvm->routes[i];

		if (e->gsi != gsi || e->type != KVM_IRQ_ROUTING_MSI)
			continue;
		if (e->u.msi.address_lo == (u32)addr && e->u.msi.address_hi == addr >> 32 &&
		    e->u.msi.data == data) {
			ret = 0;	/* unchanged: skip the ioctl */
			break;
		}
		e->u.msi.address_lo = addr;
		e->u.msi.address_hi = addr >> 32;
		e->u.msi.data = data;
		ret = routes_commit(kvm);
		break;
	}
	pthread_mutex_unlock(&kvm->route_lock);
	return ret;
}

bool kvm_exiting(const struct kvm *kvm)
{
	return __atomic_load_n(&kvm->exit_status, __ATOMIC_ACQUIRE) >= 0;
}

void kvm_request_exit(struct kvm *kvm, int status)
{
	int expected = -1;
	unsigned int i;

	if (!__atomic_compare_exchange_n(&kvm->exit_status, &expected, status, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	for (i = 0; i < kvm->nr_cpus; i++)
		if (kvm->vcpus && kvm->vcpus[i])
			vcpu_kick(kvm->vcpus[i]);
	if (kvm->loop)
		ioloop_stop(kvm->loop);
}
