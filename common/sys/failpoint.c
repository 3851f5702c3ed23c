/* Named failpoints: the armed table, spec parsing (API and FLT_FAILPOINTS) and the
 * actions. Process-wide on purpose: a test arms a name once and every component
 * in the process (or an agent subprocess, through the environment) sees it. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FLT_LOG_MODULE "failpoint"
#include "flt/failpoint.h"
#include "flt/log.h"

#include "fio_track.h"

#define FP_MAX      64
#define FP_NAME_MAX 128

enum fp_action { FP_OFF = 0, FP_ERROR, FP_ENOSPC, FP_CRASH, FP_POWERCUT };

struct fp {
	char name[FP_NAME_MAX];
	enum fp_action action;
	unsigned long nth; /* 0: every hit */
	bool and_later;
	unsigned long hits;
};

static pthread_mutex_t fp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fp fps[FP_MAX];
static size_t nfps;
/* Read without the lock on every call so an unarmed process pays one load. */
static atomic_int narmed;
static atomic_bool tracking;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static const char *const action_names[] = {"off", "error", "enospc", "crash", "powercut"};

__attribute__((format(printf, 3, 4))) static void seterr(char *err, size_t errlen, const char *fmt,
                                                         ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool name_ok(const char *name, size_t len)
{
	if (len == 0 || len >= FP_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '*' && i == len - 1 && len > 1)
			continue;
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

/* Parses SPEC[0..len) into *out (name not touched). */
static bool spec_parse(const char *spec, size_t len, struct fp *out)
{
	size_t alen = 0;
	while (alen < len && spec[alen] != '@')
		alen++;
	bool found = false;
	for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (strlen(action_names[i]) == alen && memcmp(spec, action_names[i], alen) == 0) {
			out->action = (enum fp_action)i;
			found = true;
		}
	}
	if (!found)
		return false;
	out->nth = 0;
	out->and_later = false;
	if (alen == len)
		return true;
	/* "@N" or "@N+": N is 1..1e9, digits only. */
	size_t i = alen + 1;
	unsigned long n = 0;
	size_t digits = 0;
	while (i < len && spec[i] >= '0' && spec[i] <= '9') {
		if (digits++ >= 9)
			return false;
		n = n * 10 + (unsigned long)(spec[i] - '0');
		i++;
	}
	if (digits == 0 || n == 0)
		return false;
	if (i < len && spec[i] == '+') {
		out->and_later = true;
		i++;
	}
	if (i != len)
		return false;
	out->nth = n;
	return true;
}

static struct fp *find_locked(const char *name)
{
	for (size_t i = 0; i < nfps; i++)
		if (strcmp(fps[i].name, name) == 0)
			return &fps[i];
	return NULL;
}

/* Applies one parsed entry under the lock. */
static flt_err apply_locked(const char *name, const struct fp *spec)
{
	struct fp *f = find_locked(name);
	if (spec->action == FP_OFF) {
		if (f) {
			*f = fps[--nfps];
			atomic_store(&narmed, (int)nfps);
		}
		return FLT_OK;
	}
	if (!f) {
		if (nfps == FP_MAX)
			return FLT_ELIMIT;
		f = &fps[nfps++];
		snprintf(f->name, sizeof(f->name), "%s", name);
	}
	f->action = spec->action;
	f->nth = spec->nth;
	f->and_later = spec->and_later;
	f->hits = 0;
	atomic_store(&narmed, (int)nfps);
	return FLT_OK;
}

flt_err flt_fp_set(const char *name, const char *spec)
{
	struct fp parsed;
	flt_err e;

	fp_ensure_init();
	if (!name || !spec || !name_ok(name, strlen(name)) ||
	    !spec_parse(spec, strlen(spec), &parsed))
		return FLT_EINVAL;
	pthread_mutex_lock(&fp_lock);
	e = apply_locked(name, &parsed);
	pthread_mutex_unlock(&fp_lock);
	if (e == FLT_OK && parsed.action != FP_OFF)
		atomic_store(&tracking, true);
	return e;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct item {
	const char *name, *spec;
	size_t nlen, slen;
};

/* Splits LIST into items; checks each. Returns count or -1 with ERR set. */
static long split_items(const char *list, struct item *items, size_t max, char *err, size_t errlen)
{
	long n = 0;
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		const char *a = p, *b = end;
		while (a < b && is_space(*a))
			a++;
		while (b > a && is_space(b[-1]))
			b--;
		char shown[FP_NAME_MAX + 32];
		size_t slen =
		    (size_t)(b - a) < sizeof(shown) - 1 ? (size_t)(b - a) : sizeof(shown) - 1;
		memcpy(shown, a, slen);
		shown[slen] = '\0';
		if (a < b) {
			const char *eq = memchr(a, '=', (size_t)(b - a));
			if (!eq) {
				seterr(err, errlen, "'%s': expected name=action", shown);
				return -1;
			}
			const char *ne = eq, *sa = eq + 1;
			while (ne > a && is_space(ne[-1]))
				ne--;
			while (sa < b && is_space(*sa))
				sa++;
			if (!name_ok(a, (size_t)(ne - a))) {
				seterr(err, errlen,
				       "'%s': bad failpoint name (use [A-Za-z0-9._-], optional "
				       "trailing *)%s",
				       shown, "");
				return -1;
			}
			struct fp tmp;
			if (!spec_parse(sa, (size_t)(b - sa), &tmp)) {
				seterr(
				    err, errlen,
				    "'%s': bad action (expected off|error|enospc|crash|powercut, "
				    "optionally @N or @N+ with N >= 1)%s",
				    shown, "");
				return -1;
			}
			if ((size_t)n == max) {
				seterr(err, errlen, "'%s': more than 64 failpoints", shown);
				return -1;
			}
			items[n].name = a;
			items[n].nlen = (size_t)(ne - a);
			items[n].spec = sa;
			items[n].slen = (size_t)(b - sa);
			n++;
		}
		p = *end ? end + 1 : end;
	}
	return n;
}

/* flt_fp_configure without the first-use hook (which itself calls this). */
static flt_err configure(const char *list, char *err, size_t errlen)
{
	struct item items[FP_MAX];
	flt_err e = FLT_OK;

	if (!list) {
		seterr(err, errlen, "no failpoint list");
		return FLT_EINVAL;
	}
	long n = split_items(list, items, FP_MAX, err, errlen);
	if (n < 0)
		return FLT_EINVAL;
	pthread_mutex_lock(&fp_lock);
	/* Check capacity first so a full table changes nothing. */
	size_t need = nfps;
	for (long i = 0; i < n; i++) {
		char name[FP_NAME_MAX];
		memcpy(name, items[i].name, items[i].nlen);
		name[items[i].nlen] = '\0';
		if (!find_locked(name))
			need++;
	}
	if (need > FP_MAX) {
		pthread_mutex_unlock(&fp_lock);
		seterr(err, errlen, "more than 64 failpoints armed");
		return FLT_ELIMIT;
	}
	bool any = false;
	for (long i = 0; i < n && e == FLT_OK; i++) {
		char name[FP_NAME_MAX];
		struct fp spec;
		memcpy(name, items[i].name, items[i].nlen);
		name[items[i].nlen] = '\0';
		(void)spec_parse(items[i].spec, items[i].slen, &spec);
		e = apply_locked(name, &spec);
		any |= spec.action != FP_OFF;
	}
	pthread_mutex_unlock(&fp_lock);
	if (any)
		atomic_store(&tracking, true);
	return e;
}

flt_err flt_fp_configure(const char *list, char *err, size_t errlen)
{
	fp_ensure_init();
	return configure(list, err, errlen);
}

static flt_err load_env(char *err, size_t errlen)
{
	const char *v = getenv(FLT_FP_ENV);
	if (!v)
		return FLT_OK;
	atomic_store(&tracking, true);
	return configure(v, err, errlen);
}

flt_err flt_fp_load_env(char *err, size_t errlen)
{
	fp_ensure_init();
	return load_env(err, errlen);
}

static void env_init(void)
{
	char err[256];
	flt_err e = load_env(err, sizeof(err));
	if (e != FLT_OK)
		flt_log_err("%s is not valid, no failpoint armed from it: %s", FLT_FP_ENV, err);
}

void fp_ensure_init(void)
{
	pthread_once(&env_once, env_init);
}

bool fp_tracking_on(void)
{
	return atomic_load_explicit(&tracking, memory_order_relaxed);
}

void flt_fp_clear_all(void)
{
	fp_ensure_init();
	pthread_mutex_lock(&fp_lock);
	nfps = 0;
	atomic_store(&narmed, 0);
	pthread_mutex_unlock(&fp_lock);
}

void flt_fp_track(bool on)
{
	fp_ensure_init();
	atomic_store(&tracking, on);
	if (!on)
		fio_track_reset();
}

bool flt_fp_tracking(void)
{
	fp_ensure_init();
	return fp_tracking_on();
}

unsigned long flt_fp_hits(const char *name)
{
	unsigned long h = 0;
	pthread_mutex_lock(&fp_lock);
	struct fp *f = name ? find_locked(name) : NULL;
	if (f)
		h = f->hits;
	pthread_mutex_unlock(&fp_lock);
	return h;
}

void flt_fp_tracking_stats(size_t *files, size_t *ops, size_t *bytes)
{
	fio_track_stats(files, ops, bytes);
}

/* Dies like kill -9: no atexit handlers, no stdio flush. One raw write says why,
 * so a test log shows which failpoint ended the process. */
static void die_now(const char *name, const char *what)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "failpoint %s: %s, process killed\n", name, what);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg,
		             (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
	kill(getpid(), SIGKILL);
	_exit(137);
}

flt_err flt_fp_check(const char *name)
{
	enum fp_action act = FP_OFF;

	fp_ensure_init();
	if (!name || atomic_load_explicit(&narmed, memory_order_relaxed) == 0)
		return FLT_OK;
	pthread_mutex_lock(&fp_lock);
	struct fp *f = find_locked(name), *best_prefix = NULL;
	if (!f) {
		/* Longest armed prefix pattern wins. */
		size_t best = 0;
		for (size_t i = 0; i < nfps; i++) {
			size_t l = strlen(fps[i].name);
			if (fps[i].name[l - 1] != '*')
				continue;
			if ((!best_prefix || l - 1 > best) &&
			    strncmp(fps[i].name, name, l - 1) == 0) {
				best_prefix = &fps[i];
				best = l - 1;
			}
		}
		f = best_prefix;
	}
	if (f) {
		f->hits++;
		if (f->nth == 0 || f->hits == f->nth || (f->and_later && f->hits > f->nth))
			act = f->action;
	}
	pthread_mutex_unlock(&fp_lock);

	if (act != FP_OFF)
		flt_log_dbg("failpoint %s fires: %s", name, action_names[act]);
	switch (act) {
	case FP_OFF: return FLT_OK;
	case FP_ERROR: errno = EIO; return FLT_EIO;
	case FP_ENOSPC: errno = ENOSPC; return FLT_ELIMIT;
	case FP_CRASH: die_now(name, "crash"); break;
	case FP_POWERCUT:
		fio_track_powercut();
		die_now(name, "power cut");
		break;
	}
	return FLT_EINTERNAL;
}
