// SPDX-License-Identifier: MIT
/*
 * MC146818 CMOS RTC on ports 0x70/0x71, read-only clock from the host's
 * UTC time. Linux reads it at boot (and rtc_cmos probes it); all-ones from an
 * empty port would read as "update in progress" forever.
 */
#include <pthread.h>
#include <time.h>

#include "kvm.h"

#define RTC_INDEX_PORT	0x70
#define RTC_REG_A	0x0a
#define RTC_REG_B	0x0b
#define RTC_REG_C	0x0c
#define RTC_REG_D	0x0d
#define RTC_CENTURY	0x32

struct rtc {
	pthread_mutex_t lock;
	u8 index;
	u8 ram[128];
};

static struct rtc rtc = { .lock = PTHREAD_MUTEX_INITIALIZER };

static u8 bcd(unsigned int v)
{
	return (v / 10) << 4 | (v % 10);
}

static u8 rtc_read(u8 reg)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (reg) {
	case 0x00: return bcd(tm.tm_sec);
	case 0x02: return bcd(tm.tm_min);
	case 0x04: return bcd(tm.tm_hour);
	case 0x06: return bcd(tm.tm_wday + 1);
	case 0x07: return bcd(tm.tm_mday);
	case 0x08: return bcd(tm.tm_mon + 1);
	case 0x09: return bcd(tm.tm_year % 100);
	case RTC_CENTURY: return bcd((tm.tm_year + 1900) / 100);
	case RTC_REG_A: return 0x26;	/* 32.768 kHz, 1024 Hz, no update in progress */
	case RTC_REG_B: return 0x02;	/* 24-hour, BCD, no interrupts */
	case RTC_REG_C: return 0;
	case RTC_REG_D: return 0x80;	/* battery good */
	default: return rtc.ram[reg & 0x7f];
	}
}

static void rtc_io(void *opaque, u64 off, u8 *data, u32 len, bool is_write)
{
	pthread_mutex_lock(&rtc.lock);
	if (off == 0) {
		if (is_write)
			rtc.index = data[0] & 0x7f;	/* bit 7: NMI mask */
		else
			data[0] = rtc.index;
	} else if (is_write) {
		/* Clock and status writes are dropped: the host owns the time. */
		if (rtc.index > RTC_REG_D && rtc.index != RTC_CENTURY)
			rtc.ram[rtc.index] = data[0];
	} else {
		data[0] = rtc_read(rtc.index);
	}
	pthread_mutex_unlock(&rtc.lock);
}

int rtc_init(struct kvm *kvm)
{
	return bus_register(&kvm->pio_bus, RTC_INDEX_PORT, 2, rtc_io, NULL);
}
