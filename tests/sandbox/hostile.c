/* Test program: a fake turbine-sandbox that follows the region's protocol but lies in its results. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "sandbox_ring.h"

/*
 * The lie is named by the configuration's module path:
 *   ok        an honest nil body (the protocol works with a foreign implementation);
 *   wrong-id  a result for another call;
 *   body-out  a body that ends past its buffer;
 *   log-out   a log tail longer than its buffer;
 *   flood     a thousand results for one call;
 *   status    an unknown status.
 */

static void
hostile_pause(void)
{
	struct timespec ts = { 0, 100000 };

	nanosleep(&ts, NULL);
}

int
main(void)
{
	struct sandbox_region *r;
	const char *mode;
	struct stat st;
	uint32_t idx = 0;
	uint8_t *base;

	if (fstat(SANDBOX_REGION_FD, &st) != 0)
		return 2;
	base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    SANDBOX_REGION_FD, 0);
	if (base == MAP_FAILED)
		return 2;
	r = (struct sandbox_region *)base;
	mode = r->config.strings;
	atomic_store(&r->state, SANDBOX_REGION_READY);
	atomic_fetch_add(&r->events, 1);
	syscall(SYS_futex, &r->events, FUTEX_WAKE, 1, NULL, NULL, 0);

	for (;;) {
		uint32_t slot = idx & (r->nb_slots - 1);
		uint8_t *out = base + sandbox_region_out_off(r->nb_slots, r->in_max, r->out_max,
							      slot);
		struct sandbox_resp d;

		while (atomic_load(&r->req_tail) == idx)
			hostile_pause();
		atomic_store(&r->req_head, idx + 1);
		memset(&d, 0, sizeof(d));
		d.call_id = r->req[slot].call_id;
		d.status = SANDBOX_RESP_OK;
		out[0] = 0xc0;  /* nil */
		d.body_len = 1;
		if (strcmp(mode, "wrong-id") == 0)
			d.call_id += 7;
		else if (strcmp(mode, "body-out") == 0)
			d.body_off = r->out_max - 1, d.body_len = 0xffffffffu;
		else if (strcmp(mode, "log-out") == 0)
			d.log_len = 1u << 30;
		else if (strcmp(mode, "status") == 0)
			d.status = 0x7f;
		r->resp[slot] = d;
		atomic_store(&r->resp_tail, strcmp(mode, "flood") == 0 ? idx + 1000 : idx + 1);
		idx++;
	}
}
