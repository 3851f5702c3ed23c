/* Log sink and level. Level and sink are process-wide by nature (one stderr). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "flt/log.h"

static atomic_int level = FLT_LOG_INFO;
static flt_log_sink sink_fn;
static void *sink_arg;

static const char *const names[] = {"error", "warn", "info", "debug"};

void flt_log_set_level(enum flt_log_level lvl)
{
	atomic_store(&level, (int)lvl);
}

enum flt_log_level flt_log_get_level(void)
{
	return (enum flt_log_level)atomic_load(&level);
}

int flt_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

void flt_log_set_sink(flt_log_sink sink, void *arg)
{
	sink_fn = sink;
	sink_arg = arg;
}

void flt_vlog(enum flt_log_level lvl, const char *module, const char *fmt, va_list ap)
{
	char msg[1024];

	if ((int)lvl > atomic_load(&level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (sink_fn) {
		sink_fn(sink_arg, lvl, module, msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char tbuf[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per line so concurrent threads do not interleave mid-line. */
	fprintf(stderr, "%s.%03ldZ %-5s %s: %s\n", tbuf, ts.tv_nsec / 1000000L,
	        names[lvl <= FLT_LOG_DEBUG ? lvl : 0], module, msg);
}

void flt_log(enum flt_log_level lvl, const char *module, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	flt_vlog(lvl, module, fmt, ap);
	va_end(ap);
}
