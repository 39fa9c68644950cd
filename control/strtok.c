/*
 * strtok() with a saved position per thread, for every caller in the process.
 *
 * DPDK's telemetry (22.11) serves each client on a thread of its own and
 * splits each command from its parameters there with strtok(buffer, ",")
 * then strtok(NULL, ...). glibc keeps strtok's position in one global, so a
 * client's second call could resume in another client's buffer: a command
 * saw no parameter, or another client's (a /turbine/deploy or /turbine/set
 * with someone else's function and value). The executable's definition comes
 * first in the dynamic linker's search, so the library's calls land here.
 */
#include <string.h>

char *
strtok(char *s, const char *delim)
{
	static __thread char *saved;

	return strtok_r(s, delim, &saved);
}
