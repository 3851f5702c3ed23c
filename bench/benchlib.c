/* JSON-lines writer for benchmark figures. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "benchlib.h"

int bench_full(void)
{
	const char *b = getenv("BENCH");
	return b && strcmp(b, "full") == 0;
}

double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void put_num(FILE *f, double v)
{
	if (!isfinite(v))
		fputs("null", f);
	else
		fprintf(f, "%.6g", v);
}

static void write_line(FILE *f, const char *bench, const struct bench_fig *x)
{
	fputs("{\"bench\":", f);
	put_str(f, bench);
	fputs(",\"figure\":", f);
	put_str(f, x->figure);
	fputs(",\"value\":", f);
	put_num(f, x->value);
	fputs(",\"unit\":", f);
	put_str(f, x->unit);
	fputs(",\"peer\":", f);
	if (x->peer) {
		put_str(f, x->peer);
		fputs(",\"peer_value\":", f);
		put_num(f, x->peer_value);
	} else {
		fputs("null,\"peer_value\":null", f);
	}
	fputs(",\"target\":", f);
	if (x->target_of) {
		fputs("{\"of\":", f);
		put_str(f, x->target_of);
		fputs(",\"op\":", f);
		put_str(f, x->target_op);
		fputs(",\"value\":", f);
		put_num(f, x->target_value);
		fputs("}", f);
	} else {
		fputs("null", f);
	}
	fputs(",\"notes\":", f);
	put_str(f, x->notes ? x->notes : "");
	fprintf(f, ",\"mode\":\"%s\"}\n", bench_full() ? "full" : "quick");
}

int bench_emit(const char *bench, const struct bench_fig *x)
{
	const char *dir = getenv("BENCH_OUT_DIR");
	char path[4096];
	FILE *f;

	if (!dir)
		dir = "bench/out";
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -1;
	snprintf(path, sizeof(path), "%s/%s.jsonl", dir, bench);
	f = fopen(path, "a");
	if (!f)
		return -1;
	write_line(f, bench, x);
	write_line(stdout, bench, x);
	return fclose(f) == 0 ? 0 : -1;
}
