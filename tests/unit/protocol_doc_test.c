/* Keeps docs/protocol.md true: the JSON examples of the unsigned messages and
 * of the release manifest must decode with the codecs in common/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flt/manifest.h"
#include "flt/msg.h"

enum { K_MANIFEST, K_STATE, K_EVENTS, K_TELEMETRY, K_ACK, K_FETCH, K_STATUS, K_COUNT };

static int classify(const char *s, size_t n)
{
	struct flt_manifest *m = NULL;
	struct flt_state *st = NULL;
	struct flt_event_batch *ev = NULL;
	struct flt_telemetry_batch *t = NULL;
	struct flt_ack a;
	struct flt_fetch f;
	struct flt_status su;

	if (flt_manifest_parse(s, n, &m, NULL) == FLT_OK) {
		flt_manifest_free(m);
		return K_MANIFEST;
	}
	if (flt_state_parse(s, n, &st, NULL) == FLT_OK) {
		flt_state_free(st);
		return K_STATE;
	}
	if (flt_events_parse(s, n, &ev, NULL) == FLT_OK) {
		flt_events_free(ev);
		return K_EVENTS;
	}
	if (flt_telemetry_parse(s, n, &t, NULL) == FLT_OK) {
		flt_telemetry_free(t);
		return K_TELEMETRY;
	}
	if (flt_ack_parse(s, n, &a, NULL) == FLT_OK)
		return K_ACK;
	if (flt_fetch_parse(s, n, &f, NULL) == FLT_OK)
		return K_FETCH;
	if (flt_status_parse(s, n, &su, NULL) == FLT_OK)
		return K_STATUS;
	return -1;
}

static void test_examples_decode(void **state)
{
	(void)state;
	const char *src = getenv("FLT_SOURCE_DIR");
	char path[4096];
	int seen[K_COUNT] = {0};
	FILE *f;
	char *doc, *p;
	long n;

	assert_non_null(src);
	snprintf(path, sizeof(path), "%s/docs/protocol.md", src);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	doc = calloc(1, (size_t)n + 1);
	assert_non_null(doc);
	assert_int_equal(fread(doc, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	for (p = doc; (p = strstr(p, "```json\n")) != NULL;) {
		char *start = p + 8, *end = strstr(start, "```");
		int k;
		assert_non_null(end);
		k = classify(start, (size_t)(end - start));
		if (k >= 0)
			seen[k]++;
		p = end + 3;
	}
	free(doc);
	assert_true(seen[K_MANIFEST] >= 1);
	assert_true(seen[K_STATE] >= 1);
	assert_true(seen[K_EVENTS] >= 1);
	assert_true(seen[K_TELEMETRY] >= 1);
	assert_true(seen[K_ACK] >= 1);
	assert_true(seen[K_FETCH] >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
