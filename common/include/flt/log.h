/* Logging with levels and a module tag, printf-format checked. A file sets
 * FLT_LOG_MODULE before including this header; messages go to stderr (or a
 * sink set with flt_log_set_sink). Never log key material. */
#ifndef FLT_LOG_H
#define FLT_LOG_H

#include <stdarg.h>

enum flt_log_level { FLT_LOG_ERROR = 0, FLT_LOG_WARN, FLT_LOG_INFO, FLT_LOG_DEBUG };

typedef void (*flt_log_sink)(void *arg, enum flt_log_level lvl, const char *module,
                             const char *msg);

void flt_log_set_level(enum flt_log_level lvl);
enum flt_log_level flt_log_get_level(void);
/* Parses "error|warn|info|debug"; returns -1 if unknown. */
int flt_log_level_parse(const char *s);
/* Replaces the sink (NULL restores stderr). `arg` is borrowed. */
void flt_log_set_sink(flt_log_sink sink, void *arg);

void flt_log(enum flt_log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void flt_vlog(enum flt_log_level lvl, const char *module, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

#ifndef FLT_LOG_MODULE
#define FLT_LOG_MODULE "flt"
#endif

#define flt_log_err(...)  flt_log(FLT_LOG_ERROR, FLT_LOG_MODULE, __VA_ARGS__)
#define flt_log_warn(...) flt_log(FLT_LOG_WARN, FLT_LOG_MODULE, __VA_ARGS__)
#define flt_log_info(...) flt_log(FLT_LOG_INFO, FLT_LOG_MODULE, __VA_ARGS__)
#define flt_log_dbg(...)                                                                           \
	do {                                                                                       \
		if (flt_log_get_level() >= FLT_LOG_DEBUG)                                          \
			flt_log(FLT_LOG_DEBUG, FLT_LOG_MODULE, __VA_ARGS__);                       \
	} while (0)

#endif
