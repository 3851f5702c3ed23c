/* The one allocation wrapper. Everything in Flotilla allocates through these so
 * tests can make the Nth allocation fail (curl-style "torture" runs).
 * All functions are thread-safe; flt_free(NULL) is a no-op. */
#ifndef FLT_ALLOC_H
#define FLT_ALLOC_H

#include <stddef.h>

void *flt_malloc(size_t n);
void *flt_calloc(size_t count, size_t size); /* checks count*size overflow */
void *flt_realloc(void *p, size_t n);
void *flt_reallocarray(void *p, size_t count, size_t size);
char *flt_strdup(const char *s);
char *flt_strndup(const char *s, size_t n);
void *flt_memdup(const void *p, size_t n);
void flt_free(void *p);

/* Test hook: after `n` more successful allocations, every allocation fails
 * until flt_alloc_fail_reset(). n < 0 disables injection. Counts are global. */
void flt_alloc_fail_after(long n);
void flt_alloc_fail_reset(void);

#endif
