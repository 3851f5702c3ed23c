/* Allocation wrapper with failure injection for tests. The counter is the one
 * piece of process-wide state in common/: it exists only to be set by tests. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"

static atomic_long fail_after = -1;

static int should_fail(void)
{
	long cur = atomic_load_explicit(&fail_after, memory_order_relaxed);
	while (cur >= 0) {
		if (cur == 0)
			return 1;
		if (atomic_compare_exchange_weak(&fail_after, &cur, cur - 1))
			return 0;
	}
	return 0;
}

void flt_alloc_fail_after(long n)
{
	atomic_store(&fail_after, n < 0 ? -1 : n);
}

void flt_alloc_fail_reset(void)
{
	atomic_store(&fail_after, -1);
}

void *flt_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *flt_calloc(size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *flt_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

void *flt_reallocarray(void *p, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size)
		return NULL;
	return flt_realloc(p, count * size);
}

char *flt_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = flt_malloc(len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *flt_strdup(const char *s)
{
	return flt_strndup(s, strlen(s));
}

void *flt_memdup(const void *p, size_t n)
{
	void *d = flt_malloc(n);
	if (d && n)
		memcpy(d, p, n);
	return d;
}

void flt_free(void *p)
{
	free(p);
}
