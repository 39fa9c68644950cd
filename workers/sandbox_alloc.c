/* The sandbox's allocator: glibc's, noting in the region the call in which an allocation failed. */
#include <stddef.h>

#include "sandbox_alloc.h"

/*
 * RLIMIT_AS makes an allocation beyond memory_mb fail instead of waking the
 * host's OOM killer; what the process does next (abort, a NULL dereference)
 * would otherwise look like any other crash. The executable defines malloc,
 * calloc and realloc, so the module and every library resolve them here
 * (the executable comes first in the lookup scope), and hands them to
 * glibc's own entry points: free, memalign and the rest stay glibc's and
 * work on the same heap. AddressSanitizer builds keep its interceptors.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ALLOC_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ALLOC_SANITIZED 1
#endif

static _Atomic uint64_t *sandbox_alloc_failed_at;
static uint64_t sandbox_alloc_current;

void
sandbox_alloc_watch(_Atomic uint64_t *failed)
{
	sandbox_alloc_failed_at = failed;
}

void
sandbox_alloc_call(uint64_t call_id)
{
	sandbox_alloc_current = call_id;
}

#ifndef SANDBOX_ALLOC_SANITIZED
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);

static void *
sandbox_alloc_note(void *p, int asked)
{
	if (p == NULL && asked && sandbox_alloc_failed_at != NULL)
		atomic_store_explicit(sandbox_alloc_failed_at, sandbox_alloc_current,
				      memory_order_relaxed);
	return p;
}

__attribute__((visibility("default"))) void *
malloc(size_t size)
{
	return sandbox_alloc_note(__libc_malloc(size), size != 0);
}

__attribute__((visibility("default"))) void *
calloc(size_t n, size_t size)
{
	return sandbox_alloc_note(__libc_calloc(n, size), n != 0 && size != 0);
}

__attribute__((visibility("default"))) void *
realloc(void *p, size_t size)
{
	return sandbox_alloc_note(__libc_realloc(p, size), size != 0);
}
#endif
