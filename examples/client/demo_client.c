/* flotilla-demo-client: a device application for the demo. It classifies the
 * digits held-out split through libflotilla (the agent's local socket) and
 * prints one JSON line of measured figures. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <flotilla.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IMG          64 /* 1x1x8x8 float32 */
#define MAX_IMAGES   100000
#define MAX_VERSIONS 16

struct opts {
	const char *socket;
	const char *model;
	const char *x_file;
	const char *y_file;
	const char *stop_file; /* loop over the split until this file exists */
	long min_passes;
};

struct tally {
	uint64_t version;
	long requests, correct;
	double first_ms, last_ms; /* since start */
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	void *buf = NULL;
	long n;
	if (!f) {
		fprintf(stderr, "demo-client: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*size = (size_t)n;
out:
	fclose(f);
	return buf;
}

static int argmax(const struct flotilla_result *r)
{
	const struct flotilla_tensor *t;
	const float *v;
	size_t n, i;
	int best = 0;
	float bv;
	if (r->n_outputs < 1)
		return -1;
	t = &r->outputs[0];
	if (t->dtype != FLOTILLA_FLOAT || t->size < sizeof(float))
		return -1;
	v = t->data;
	n = t->size / sizeof(float);
	bv = v[0];
	for (i = 1; i < n; i++)
		if (v[i] > bv) {
			bv = v[i];
			best = (int)i;
		}
	return best;
}

static int file_exists(const char *p)
{
	FILE *f = p ? fopen(p, "rb") : NULL;
	if (!f)
		return 0;
	fclose(f);
	return 1;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: flotilla-demo-client --socket PATH --model NAME --x FILE --y FILE\n"
	        "                            [--until FILE [--min-passes N]]\n"
	        "Classifies every image of X (N x 1x8x8 float32) through the agent and prints\n"
	        "one JSON line: requests, failures, accuracy per answering version, swap time.\n"
	        "With --until it loops over the split until FILE exists.\n");
}

int main(int argc, char **argv)
{
	struct opts o = {.min_passes = 1};
	struct tally t[MAX_VERSIONS];
	size_t nt = 0, xs = 0, ys = 0, n, i;
	float *x = NULL;
	uint8_t *y = NULL;
	flotilla_client *c = NULL;
	long failures = 0, requests = 0, passes = 0;
	char first_error[256] = "";
	double t0, swap_wall = 0, swap_ms = 0;
	uint64_t prev_version = 0;
	int rc = 1, a;

	signal(SIGPIPE, SIG_IGN);
	for (a = 1; a < argc; a += 2) {
		const char *v = a + 1 < argc ? argv[a + 1] : NULL;
		if (!v) {
			usage();
			return 2;
		}
		if (!strcmp(argv[a], "--socket"))
			o.socket = v;
		else if (!strcmp(argv[a], "--model"))
			o.model = v;
		else if (!strcmp(argv[a], "--x"))
			o.x_file = v;
		else if (!strcmp(argv[a], "--y"))
			o.y_file = v;
		else if (!strcmp(argv[a], "--until"))
			o.stop_file = v;
		else if (!strcmp(argv[a], "--min-passes"))
			o.min_passes = strtol(v, NULL, 10);
		else {
			usage();
			return 2;
		}
	}
	if (!o.socket || !o.model || !o.x_file || !o.y_file) {
		usage();
		return 2;
	}
	x = read_file(o.x_file, &xs);
	y = read_file(o.y_file, &ys);
	if (!x || !y)
		goto out;
	n = ys;
	if (n == 0 || n > MAX_IMAGES || xs != n * IMG * sizeof(float)) {
		fprintf(stderr,
		        "demo-client: %s holds %zu bytes, expected %zu images of 8x8 float32\n",
		        o.x_file, xs, n);
		goto out;
	}
	if (flotilla_connect(o.socket, 10000, &c) != FLOTILLA_OK) {
		fprintf(stderr, "demo-client: cannot connect to %s\n", o.socket);
		goto out;
	}
	t0 = now_ms();
	for (;;) {
		for (i = 0; i < n; i++) {
			struct flotilla_tensor in = {.name = "input",
			                             .dtype = FLOTILLA_FLOAT,
			                             .rank = 4,
			                             .dims = {1, 1, 8, 8},
			                             .data = x + i * IMG,
			                             .size = IMG * sizeof(float)};
			struct flotilla_result *r = NULL;
			size_t k;
			int s = flotilla_infer(c, o.model, 0, &in, 1, &r);
			double at = now_ms() - t0;
			requests++;
			if (s != FLOTILLA_OK) {
				failures++;
				if (!first_error[0])
					snprintf(first_error, sizeof(first_error), "%s: %s",
					         flotilla_strstatus(s), flotilla_last_error(c));
				continue;
			}
			for (k = 0; k < nt && t[k].version != r->version; k++)
				;
			if (k == nt && nt < MAX_VERSIONS) {
				memset(&t[nt], 0, sizeof(t[nt]));
				t[nt].version = r->version;
				t[nt].first_ms = at;
				nt++;
			}
			if (k < nt) {
				t[k].requests++;
				t[k].correct += argmax(r) == (int)y[i];
				t[k].last_ms = at;
			}
			if (prev_version && r->version != prev_version && swap_wall == 0) {
				swap_wall = wall_s();
				swap_ms = at;
			}
			prev_version = r->version;
			flotilla_result_free(r);
		}
		passes++;
		if (!o.stop_file || (passes >= o.min_passes && file_exists(o.stop_file)))
			break;
	}
	printf("{\"model\":\"%s\",\"requests\":%ld,\"failed\":%ld,\"passes\":%ld,"
	       "\"elapsed_ms\":%.1f,\"swap_at_ms\":%.1f,\"swap_at_unix\":%.3f,\"first_error\":\"",
	       o.model, requests, failures, passes, now_ms() - t0, swap_ms, swap_wall);
	for (i = 0; first_error[i]; i++)
		if (first_error[i] != '"' && first_error[i] != '\\')
			putchar(first_error[i]);
	printf("\",\"versions\":[");
	for (i = 0; i < nt; i++)
		printf("%s{\"version\":%llu,\"requests\":%ld,\"correct\":%ld,\"accuracy\":%.4f,"
		       "\"first_ms\":%.1f,\"last_ms\":%.1f}",
		       i ? "," : "", (unsigned long long)t[i].version, t[i].requests, t[i].correct,
		       t[i].requests ? (double)t[i].correct / (double)t[i].requests : 0.0,
		       t[i].first_ms, t[i].last_ms);
	printf("]}\n");
	rc = failures ? 1 : 0;
out:
	flotilla_close(c);
	free(x);
	free(y);
	return rc;
}
