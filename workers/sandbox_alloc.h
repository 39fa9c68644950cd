/* The sandbox's allocator: glibc's, noting in the region the call in which an allocation failed. */
#ifndef TURBINE_SANDBOX_ALLOC_H
#define TURBINE_SANDBOX_ALLOC_H

#include <stdatomic.h>
#include <stdint.h>

/* The call id recorded while init runs. */
#define SANDBOX_ALLOC_INIT UINT64_MAX

/*
 * Where failures are recorded (the region's alloc_failed), and the call in
 * progress (0 between calls). A process that dies after malloc, calloc or
 * realloc returned NULL in the call that dies is reported
 * Runtime.OutOfMemory rather than Runtime.ExitError.
 */
void sandbox_alloc_watch(_Atomic uint64_t *failed);
void sandbox_alloc_call(uint64_t call_id);

#endif /* TURBINE_SANDBOX_ALLOC_H */
