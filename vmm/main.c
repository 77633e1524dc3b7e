// SPDX-License-Identifier: MIT
/*
 * ballast-vmm: parse, check every input, build the VM, run one thread per
 * vCPU and the I/O loop on the main thread, exit with the guest's verdict.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boot.h"
#include "cli.h"
#include "control.h"
#include "ioloop.h"
#include "kvm.h"
#include "log.h"
#include "pci.h"
#include "serial.h"
#include "vcpu.h"
#include "virtio/balloon/balloon.h"
#include "virtio/pci.h"

struct vm {
	struct vmm_config cfg;
	struct kvm kvm;
	struct serial serial[2];
	struct balloon_config balloon_cfg;
	struct virtio_device *balloon;	/* NULL without --balloon */
	struct control *control;	/* NULL without --api-socket */
};

static char err[512];

static void on_kick(int sig)
{
	/* Only interrupts KVM_RUN; vcpu_thread() then checks for exit. */
}

/* The running machine, once every vCPU runs: SIGTERM then stops it in order. */
static struct kvm *term_kvm;

/*
 * SIGTERM and SIGHUP: with the machine up, the same orderly stop as a
 * guest reset (every step async-signal-safe: atomics, pthread_kill and an
 * eventfd write), so the control socket goes away with its file and the
 * sanitizers' exit-time checks run; before that, leave at once.
 */
static void on_term(int sig)
{
	struct kvm *kvm = __atomic_load_n(&term_kvm, __ATOMIC_ACQUIRE);

	if (!kvm)
		_exit(128 + sig);
	kvm_request_exit(kvm, 128 + sig);
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_kick };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);		/* no SA_RESTART: KVM_RUN returns */
	signal(SIGPIPE, SIG_IGN);		/* a socket peer leaving is EPIPE */
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* Options that belong to the devices: checked before /dev/kvm is touched. */
static int check_device_options(struct vm *vm)
{
	balloon_config_init(&vm->balloon_cfg);
	if (!vm->cfg.balloon_opts)
		return 0;
	if (balloon_parse_opts(vm->cfg.balloon_opts, &vm->balloon_cfg, err, sizeof(err)) ||
	    balloon_config_check(&vm->balloon_cfg, vm->cfg.mem_size, err, sizeof(err)))
		return -EINVAL;
	return 0;
}

/*
 * The balloon's write tracking for free page hints: KVM's dirty log, and a
 * pause of every vCPU while it is read and the clean pages go (at most a
 * second; past that, the run's pages stay). The referee reads the same log
 * without a pause (log_read).
 */
#define HINT_PAUSE_TIMEOUT_MS	1000

static int vm_dirty_log_start(void *opaque)
{
	return kvm_dirty_log_start(opaque);
}

static int vm_pause(void *opaque)
{
	return kvm_pause_vcpus(opaque, HINT_PAUSE_TIMEOUT_MS);
}

static int vm_dirty_log_collect(void *opaque, u64 *words, u64 nr_pfns)
{
	return kvm_dirty_log_collect(opaque, words, nr_pfns);
}

static void vm_resume(void *opaque)
{
	kvm_resume_vcpus(opaque);
}

static int vm_dirty_log_read(void *opaque, u64 *words, u64 nr_pfns)
{
	return kvm_dirty_log_read(opaque, words, nr_pfns);
}

static const struct balloon_dirty_ops vm_dirty_ops = {
	.log_start = vm_dirty_log_start,
	.pause = vm_pause,
	.log_collect = vm_dirty_log_collect,
	.resume = vm_resume,
	.log_read = vm_dirty_log_read,
};

/* After a guest died on its own: what the balloon knows (fatal exits). */
static void vm_balloon_postmortem(void *opaque, FILE *f)
{
	balloon_postmortem(opaque, f);
}

/*
 * ===== Devices on the PCI bus =====
 * The one place where virtio devices are created and put on the bus. The
 * balloon (virtio/balloon/) exists with --balloon; the control socket
 * (control.c) with --api-socket, with or without a balloon.
 */
static int vm_add_devices(struct vm *vm)
{
	int ret;

	if (vm->cfg.balloon_opts) {
		vm->balloon = balloon_create(&vm->balloon_cfg, &vm->kvm.mem, vm->kvm.loop);
		if (!vm->balloon) {
			snprintf(err, sizeof(err), "cannot create the balloon device: %s",
				 strerror(errno));
			return -ENODEV;
		}
		if ((vm->balloon_cfg.free_page_hint && vm->balloon_cfg.hint_release) ||
		    vm->balloon_cfg.referee)
			balloon_set_dirty_ops(vm->balloon, &vm_dirty_ops, &vm->kvm);
		ret = balloon_auto_start(vm->balloon, vm->kvm.loop, err, sizeof(err));
		if (ret)
			return ret;
		vm->kvm.postmortem = vm_balloon_postmortem;
		vm->kvm.postmortem_opaque = vm->balloon;
		ret = virtio_pci_create(&vm->kvm, vm->balloon);
		if (ret) {
			snprintf(err, sizeof(err), "cannot put the balloon on PCI: %s",
				 strerror(-ret));
			return ret;
		}
	}
	if (vm->cfg.api_socket) {
		vm->control = control_create(vm->cfg.api_socket, vm->kvm.loop, vm->balloon);
		if (!vm->control) {
			snprintf(err, sizeof(err), "--api-socket %s: %s", vm->cfg.api_socket,
				 strerror(errno));
			return -EINVAL;
		}
	}
	return 0;
}

static int vm_create(struct vm *vm)
{
	struct kvm *kvm = &vm->kvm;
	int ret, i;

	kvm->nr_cpus = vm->cfg.cpus;
	if (kvm_open(kvm, err, sizeof(err)) || kvm_create_vm(kvm, err, sizeof(err)))
		return -ENODEV;

	ret = guest_mem_create(&kvm->mem, vm->cfg.mem_size, vm->cfg.thp, vm->cfg.shared);
	if (ret) {
		snprintf(err, sizeof(err), "cannot allocate %llu MiB of guest RAM: %s",
			 (unsigned long long)vm->cfg.mem_size / SZ_1M, strerror(-ret));
		return ret;
	}
	ret = kvm_set_memory(kvm);
	if (ret) {
		snprintf(err, sizeof(err), "KVM_SET_USER_MEMORY_REGION: %s", strerror(-ret));
		return ret;
	}

	kvm->loop = ioloop_create();
	if (!kvm->loop) {
		snprintf(err, sizeof(err), "cannot create the I/O loop: %s", strerror(errno));
		return -ENOMEM;
	}
	for (i = 0; i < 2; i++) {
		ret = serial_init(&vm->serial[i], kvm, i, &vm->cfg.serial[i], err, sizeof(err));
		if (ret)
			return ret;
	}
	if ((ret = pci_init(kvm)) || (ret = i8042_init(kvm)) || (ret = rtc_init(kvm)) ||
	    (ret = acpi_pm_init(kvm))) {
		snprintf(err, sizeof(err), "cannot set up the platform devices: %s",
			 strerror(-ret));
		return ret;
	}
	return vm_add_devices(vm);
}

static int vm_start_cpus(struct vm *vm)
{
	struct kvm *kvm = &vm->kvm;
	struct vcpu_boot_state st;
	unsigned int i;
	int ret;

	ret = boot_load(kvm, &vm->cfg, &st, err, sizeof(err));
	if (ret)
		return ret;
	kvm->vcpus = calloc(kvm->nr_cpus, sizeof(*kvm->vcpus));
	if (!kvm->vcpus)
		return -ENOMEM;
	for (i = 0; i < kvm->nr_cpus; i++) {
		kvm->vcpus[i] = vcpu_create(kvm, i);
		if (!kvm->vcpus[i]) {
			snprintf(err, sizeof(err), "cannot create vCPU %u: %s", i, strerror(errno));
			return -errno;
		}
	}
	/* PCI config address writes: buffered by KVM, replayed on the next exit. */
	if (kvm_coalesce_pio(kvm, kvm->vcpus[0]->fd, 0xcf8, 4))
		pr_info("no coalesced PIO: two exits per PCI config access");
	ret = vcpu_setup_boot(kvm->vcpus[0], &st);
	if (ret) {
		snprintf(err, sizeof(err), "cannot set up the boot vCPU: %s", strerror(-ret));
		return ret;
	}
	/* From here on the guest runs: no more die(). */
	for (i = 0; i < kvm->nr_cpus; i++) {
		ret = vcpu_start(kvm->vcpus[i]);
		if (ret) {
			pr_err("cannot start vCPU thread %u: %s", i, strerror(-ret));
			kvm_request_exit(kvm, 1);
			return 0;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct vm vm;
	struct timespec t0, t1;
	unsigned int i;
	int ret;

	if (argc > 1 && !strcmp(argv[1], "ctl"))
		return control_client_main(argc, argv);

	ret = cli_parse(argc, argv, &vm.cfg, err, sizeof(err));
	if (ret == CLI_EXIT) {
		if (!strcmp(argv[argc - 1], "--help") || !strcmp(argv[argc - 1], "-h"))
			fputs(balloon_opts_help, stdout);
		return 0;
	}
	if (ret < 0)
		die("%s", err);
	log_level = vm.cfg.log_level;
	setup_signals();
	clock_gettime(CLOCK_MONOTONIC, &t0);

	if (check_device_options(&vm) || boot_check(&vm.cfg, err, sizeof(err)))
		die("%s", err);
	if (vm.cfg.pidfile) {
		FILE *f = fopen(vm.cfg.pidfile, "w");

		if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f))
			die("--pidfile %s: %s", vm.cfg.pidfile, strerror(errno));
	}
	if (vm_create(&vm) || vm_start_cpus(&vm))
		die("%s", err);
	__atomic_store_n(&term_kvm, &vm.kvm, __ATOMIC_RELEASE);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	pr_info("guest started: %u vCPUs, %llu MiB, set-up took %ld ms", vm.kvm.nr_cpus,
		(unsigned long long)vm.cfg.mem_size / SZ_1M,
		(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);

	ret = ioloop_run(vm.kvm.loop);
	if (ret)
		pr_err("I/O loop failed: %s", strerror(-ret));
	if (!kvm_exiting(&vm.kvm))
		kvm_request_exit(&vm.kvm, 1);
	for (i = 0; i < vm.kvm.nr_cpus; i++)
		if (vm.kvm.vcpus[i] && vm.kvm.vcpus[i]->started)
			pthread_join(vm.kvm.vcpus[i]->thread, NULL);
	for (i = 0; i < 2; i++)
		serial_exit(&vm.serial[i]);
	if (vm.control)
		control_destroy(vm.control);
	for (i = 0; i < vm.kvm.nr_cpus; i++)
		vcpu_log_exit_stats(vm.kvm.vcpus[i]);
	/* A signal's stop says so: the guest had no say in it. */
	if (vm.kvm.exit_status > 128)
		pr_warn("stopped by signal %d", vm.kvm.exit_status - 128);
	return vm.kvm.exit_status;
}
