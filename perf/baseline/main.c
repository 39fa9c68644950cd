/* turbine-kernel-baseline: Turbine's handlers behind an ordinary kernel UDP server, for comparison. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>

#include "request.h"
#include "serve.h"

#define MAIN_BURST 32
#define MAIN_MAX_THREADS 64
#define MAIN_RX_BYTES 2048u
/* Room for a few thousand datagrams: a closed-loop generator keeps hundreds in flight,
 * and a drop here would stall it, not measure the server. */
#define MAIN_RCVBUF (4 << 20)
#define MAIN_DEFAULT_TIMEOUT_MS 3000u
#define EX_USAGE 64

struct main_options {
	struct in_addr bind;
	uint16_t port;
	unsigned int threads;
	unsigned int nb_functions;
	struct serve_function functions[SERVE_MAX_FUNCTIONS];
};

/* One thread's socket, buffers and serving state; the buffers are reused for every burst. */
struct main_thread {
	pthread_t tid;
	int fd;
	int cpu;                   /* pinned to this CPU, -1 when not */
	struct serve_thread serve;
	struct mmsghdr rx[MAIN_BURST];
	struct mmsghdr tx[MAIN_BURST];
	struct iovec rx_iov[MAIN_BURST];
	struct iovec tx_iov[MAIN_BURST];
	struct sockaddr_in from[MAIN_BURST];
	uint8_t in[MAIN_BURST][MAIN_RX_BYTES];
	uint8_t out[MAIN_BURST][SERVE_MAX_PAYLOAD];
};

static volatile sig_atomic_t main_quit;

static void
main_on_signal(int sig)
{
	(void)sig;
	main_quit = 1;
}

static void
main_usage(FILE *f)
{
	fprintf(f,
		"usage: turbine-kernel-baseline [options] --fn NAME=PATH[,timeout_ms=N] ...\n"
		"  --bind ADDR       local IPv4 address (default 0.0.0.0)\n"
		"  --port N          UDP port (default 9000)\n"
		"  --threads N       threads, one SO_REUSEPORT socket each, pinned to the\n"
		"                    process's CPUs in turn (default 1)\n"
		"  --fn NAME=PATH    serve function NAME from handler module PATH; repeatable;\n"
		"                    ,timeout_ms=N sets its timeout (default 3000)\n"
		"  -h, --help        this text\n");
}

/* TSC cycles per second against CLOCK_MONOTONIC_RAW: there is no EAL to ask. */
static uint64_t
main_tsc_hz(void)
{
	struct timespec a, b, nap = { .tv_sec = 0, .tv_nsec = 100 * 1000 * 1000 };
	uint64_t t0, t1, ns;

	clock_gettime(CLOCK_MONOTONIC_RAW, &a);
	t0 = rte_rdtsc();
	nanosleep(&nap, NULL);
	clock_gettime(CLOCK_MONOTONIC_RAW, &b);
	t1 = rte_rdtsc();
	ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
	return ns == 0 ? 0 : (uint64_t)((double)(t1 - t0) * 1e9 / (double)ns);
}

static int
main_parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *v >= min && *v <= max ? 0 : -1;
}

/* NAME=PATH[,timeout_ms=N]: the subset of turbine's --fn that the baseline needs. */
static int
main_parse_fn(struct main_options *o, const char *optarg_fn)
{
	char arg[PATH_MAX + 128], err[512];
	struct serve_function *fn;
	char *eq, *path, *key;
	unsigned long v;

	/* Cut up a copy: argv stays as given, for ps and the perf suite's records. */
	if (snprintf(arg, sizeof(arg), "%s", optarg_fn) >= (int)sizeof(arg)) {
		fprintf(stderr, "--fn: argument too long\n");
		return -1;
	}
	eq = strchr(arg, '=');
	if (o->nb_functions == SERVE_MAX_FUNCTIONS) {
		fprintf(stderr, "--fn: at most %d functions\n", SERVE_MAX_FUNCTIONS);
		return -1;
	}
	if (eq == NULL || !request_name_valid(arg, (uint32_t)(eq - arg))) {
		fprintf(stderr, "--fn %s: expected NAME=PATH, NAME 1..64 of [A-Za-z0-9_-]\n", arg);
		return -1;
	}
	fn = &o->functions[o->nb_functions];
	fn->name_len = (uint32_t)(eq - arg);   /* 1..64: checked above */
	memcpy(fn->name, arg, fn->name_len);
	fn->name[fn->name_len] = '\0';
	fn->timeout_ms = MAIN_DEFAULT_TIMEOUT_MS;
	path = eq + 1;
	key = strchr(path, ',');
	if (key != NULL) {
		*key++ = '\0';
		if (strncmp(key, "timeout_ms=", 11) != 0 ||
		    main_parse_uint(key + 11, 1, 900000, &v) < 0) {
			fprintf(stderr, "--fn %s: unknown or bad key '%s' (timeout_ms=1..900000)\n",
				fn->name, key);
			return -1;
		}
		fn->timeout_ms = (uint32_t)v;
	}
	if (module_load(&fn->mod, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "turbine-kernel-baseline: %s\n", err);
		return -1;
	}
	o->nb_functions++;
	return 0;
}

static int
main_parse_options(struct main_options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "fn", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->bind.s_addr = htonl(INADDR_ANY);
	o->port = 9000;
	o->threads = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (inet_pton(AF_INET, optarg, &o->bind) != 1) {
				fprintf(stderr, "--bind %s: not an IPv4 address\n", optarg);
				return -1;
			}
			break;
		case 'p':
			if (main_parse_uint(optarg, 1, 65535, &v) < 0) {
				fprintf(stderr, "--port %s: expected 1..65535\n", optarg);
				return -1;
			}
			o->port = (uint16_t)v;
			break;
		case 't':
			if (main_parse_uint(optarg, 1, MAIN_MAX_THREADS, &v) < 0) {
				fprintf(stderr, "--threads %s: expected 1..%d\n", optarg, MAIN_MAX_THREADS);
				return -1;
			}
			o->threads = (unsigned int)v;
			break;
		case 'f':
			if (main_parse_fn(o, optarg) < 0)
				return -1;
			break;
		case 'h':
			main_usage(stdout);
			exit(0);
		default:
			main_usage(stderr);
			return -1;
		}
	}
	if (optind != argc || o->nb_functions == 0) {
		main_usage(stderr);
		return -1;
	}
	return 0;
}

static int
main_socket(const struct main_options *o)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(o->port),
				    .sin_addr = o->bind };
	/* Wake up now and then to notice a signal that went to another thread. */
	struct timeval tick = { .tv_sec = 0, .tv_usec = 200 * 1000 };
	int one = 1, rcvbuf = MAIN_RCVBUF;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return -errno;
	/* SO_RCVBUFFORCE passes net.core.rmem_max when we may (root); SO_RCVBUF is capped by it. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static void
main_rx_prepare(struct main_thread *t)
{
	unsigned int i;

	for (i = 0; i < MAIN_BURST; i++) {
		t->rx_iov[i] = (struct iovec){ t->in[i], MAIN_RX_BYTES };
		t->rx[i].msg_hdr = (struct msghdr){
			.msg_name = &t->from[i], .msg_namelen = sizeof(t->from[i]),
			.msg_iov = &t->rx_iov[i], .msg_iovlen = 1,
		};
	}
}

/* Send what the burst produced; a datagram the kernel refuses is counted, not retried. */
static void
main_tx(struct main_thread *t, unsigned int n)
{
	unsigned int done = 0;
	int sent;

	while (done < n) {
		sent = sendmmsg(t->fd, t->tx + done, n - done, 0);
		if (sent < 0) {
			if (errno == EINTR)
				continue;
			t->serve.counters[SERVE_send_errors]++;
			done++;
			continue;
		}
		done += (unsigned int)sent;
	}
}

static void *
main_thread_loop(void *arg)
{
	struct main_thread *t = arg;
	unsigned int i, n;
	uint32_t len;
	int nb;

	if (t->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	while (!main_quit) {
		main_rx_prepare(t);
		nb = recvmmsg(t->fd, t->rx, MAIN_BURST, MSG_WAITFORONE, NULL);
		if (nb <= 0)
			continue;   /* the receive timeout, a signal, or an error to try again */
		n = 0;
		for (i = 0; i < (unsigned int)nb; i++) {
			len = serve_datagram(&t->serve, t->in[i], t->rx[i].msg_len, t->out[n]);
			if (len == 0)
				continue;
			t->tx_iov[n] = (struct iovec){ t->out[n], len };
			t->tx[n].msg_hdr = (struct msghdr){
				.msg_name = &t->from[i], .msg_namelen = t->rx[i].msg_hdr.msg_namelen,
				.msg_iov = &t->tx_iov[n], .msg_iovlen = 1,
			};
			n++;
		}
		main_tx(t, n);
	}
	return NULL;
}

/* The process's allowed CPUs in order, so that `taskset -c 0` pins the single thread there. */
static int
main_nth_cpu(unsigned int n)
{
	cpu_set_t set;
	int cpu, count;

	if (sched_getaffinity(0, sizeof(set), &set) < 0 || (count = CPU_COUNT(&set)) == 0)
		return -1;
	n %= (unsigned int)count;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set) && n-- == 0)
			return cpu;
	return -1;
}

static void
main_print_final(struct main_thread *threads, unsigned int nb)
{
	uint64_t total[SERVE_COUNTER_MAX] = { 0 };
	unsigned int i, c;

	for (i = 0; i < nb; i++)
		for (c = 0; c < SERVE_COUNTER_MAX; c++)
			total[c] += threads[i].serve.counters[c];
	printf("turbine-kernel-baseline: final {");
	for (c = 0; c < SERVE_COUNTER_MAX; c++)
		printf("%s\"%s\": %" PRIu64, c == 0 ? "" : ", ", serve_counter_names[c], total[c]);
	printf("}\n");
}

int
main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = main_on_signal };
	struct main_options opts;
	struct main_thread *threads;
	char addr[INET_ADDRSTRLEN];
	unsigned int i, f, started = 0;
	socklen_t optlen;
	uint64_t tsc_hz;
	int rc = 1, rcvbuf;

	if (main_parse_options(&opts, argc, argv) < 0)
		return EX_USAGE;
	tsc_hz = main_tsc_hz();
	for (f = 0; f < opts.nb_functions; f++)
		opts.functions[f].timeout_tsc = (uint64_t)opts.functions[f].timeout_ms * tsc_hz / 1000;

	threads = calloc(opts.threads, sizeof(*threads));
	if (threads == NULL) {
		fprintf(stderr, "turbine-kernel-baseline: out of memory\n");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	for (i = 0; i < opts.threads; i++) {
		struct main_thread *t = &threads[i];

		t->fd = main_socket(&opts);
		if (t->fd < 0) {
			fprintf(stderr, "turbine-kernel-baseline: socket for port %u: %s\n",
				opts.port, strerror(-t->fd));
			goto out;
		}
		t->cpu = opts.threads > 1 ? main_nth_cpu(i) : -1;
		if (serve_thread_init(&t->serve, i, opts.functions, opts.nb_functions, tsc_hz) < 0) {
			fprintf(stderr, "turbine-kernel-baseline: out of memory\n");
			close(t->fd);
			goto out;
		}
		for (f = 0; f < opts.nb_functions; f++)
			if (!t->serve.envs[f].ready)
				fprintf(stderr, "turbine-kernel-baseline: function %s not ready: %s\n",
					opts.functions[f].name, t->serve.envs[f].error);
		if (pthread_create(&t->tid, NULL, main_thread_loop, t) != 0) {
			fprintf(stderr, "turbine-kernel-baseline: cannot start thread %u\n", i);
			serve_thread_fini(&t->serve);
			close(t->fd);
			goto out;
		}
		started++;
	}
	inet_ntop(AF_INET, &opts.bind, addr, sizeof(addr));
	optlen = sizeof(rcvbuf);
	getsockopt(threads[0].fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen);
	printf("turbine-kernel-baseline: ready: %s:%u, %u thread(s), %u function(s), "
	       "receive buffer %d bytes, tsc %" PRIu64 " Hz\n",
	       addr, opts.port, opts.threads, opts.nb_functions, rcvbuf, tsc_hz);
	fflush(stdout);
	rc = 0;
out:
	if (rc != 0)
		main_quit = 1;
	for (i = 0; i < started; i++) {
		pthread_join(threads[i].tid, NULL);
		serve_thread_fini(&threads[i].serve);
		close(threads[i].fd);
	}
	if (rc == 0)
		main_print_final(threads, started);
	for (f = 0; f < opts.nb_functions; f++)
		module_unload(&opts.functions[f].mod);
	free(threads);
	return rc;
}
