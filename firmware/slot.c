/* The slot backend table and the dispatch over it, plus the small process
 * runner the backends (fw_printenv, rauc, reboot) share. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLT_LOG_MODULE "slot"
#include "flt/alloc.h"
#include "flt/log.h"
#include "flt/slot.h"
#include "slot_backends.h"

struct flt_slot {
	const struct flt_slot_ops *ops;
	void *priv;
};

struct flt_slot_writer {
	const struct flt_slot_ops *ops;
	void *w;
};

/* Explicit: a static link keeps every backend listed here. */
static const struct flt_slot_ops *const backends[] = {
    &slot_dir_ops,
    &slot_uboot_ops,
    &slot_command_ops,
};

char flt_slot_letter(int slot)
{
	return slot == FLT_SLOT_A ? 'A' : slot == FLT_SLOT_B ? 'B' : '?';
}

int flt_slot_parse(const char *s)
{
	if (!s)
		return FLT_SLOT_NONE;
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	int slot = (*s == 'A' || *s == 'a')   ? FLT_SLOT_A
	           : (*s == 'B' || *s == 'b') ? FLT_SLOT_B
	                                      : FLT_SLOT_NONE;
	if (slot == FLT_SLOT_NONE)
		return slot;
	s++;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return *s ? FLT_SLOT_NONE : slot;
}

const struct flt_slot_ops *flt_slot_backend(const char *name)
{
	for (size_t i = 0; name && i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

flt_err flt_slot_open(const struct flt_slot_cfg *cfg, struct flt_slot **out)
{
	if (!cfg || !out)
		return FLT_EINVAL;
	const struct flt_slot_ops *ops = flt_slot_backend(cfg->backend);
	if (!ops) {
		flt_log_err("unknown slot backend '%s' (dir, uboot, command)",
		            cfg->backend ? cfg->backend : "(none)");
		return FLT_EINVAL;
	}
	struct flt_slot *s = flt_calloc(1, sizeof(*s));
	if (!s)
		return FLT_ENOMEM;
	s->ops = ops;
	flt_err e = ops->open(cfg, &s->priv);
	if (e) {
		flt_free(s);
		return e;
	}
	*out = s;
	return FLT_OK;
}

void flt_slot_close(struct flt_slot *s)
{
	if (!s)
		return;
	s->ops->close(s->priv);
	flt_free(s);
}

static bool slot_ok(int slot)
{
	return slot == FLT_SLOT_A || slot == FLT_SLOT_B;
}

flt_err flt_slot_booted(struct flt_slot *s, int *slot)
{
	int b = FLT_SLOT_NONE;
	flt_err e = s->ops->booted(s->priv, &b);
	if (!e && !slot_ok(b))
		e = FLT_EIO;
	if (!e)
		*slot = b;
	return e;
}

flt_err flt_slot_get_boot(struct flt_slot *s, struct flt_slot_boot *out)
{
	return s->ops->get_boot(s->priv, out);
}

flt_err flt_slot_write_open(struct flt_slot *s, int slot, uint64_t size, struct flt_slot_writer **w)
{
	int booted;
	flt_err e;
	if (!slot_ok(slot) || !w)
		return FLT_EINVAL;
	if ((e = flt_slot_booted(s, &booted)) != FLT_OK)
		return e;
	if (booted == slot) {
		flt_log_err("refusing to write slot %c: it is the running system",
		            flt_slot_letter(slot));
		return FLT_EBUSY;
	}
	struct flt_slot_writer *sw = flt_calloc(1, sizeof(*sw));
	if (!sw)
		return FLT_ENOMEM;
	sw->ops = s->ops;
	if ((e = s->ops->write_open(s->priv, slot, size, &sw->w)) != FLT_OK) {
		flt_free(sw);
		return e;
	}
	*w = sw;
	return FLT_OK;
}

flt_err flt_slot_write(struct flt_slot_writer *w, const void *buf, size_t len)
{
	return w->ops->write(w->w, buf, len);
}

flt_err flt_slot_write_finish(struct flt_slot_writer *w)
{
	flt_err e = w->ops->write_finish(w->w);
	flt_free(w);
	return e;
}

void flt_slot_write_abort(struct flt_slot_writer *w)
{
	if (!w)
		return;
	w->ops->write_abort(w->w);
	flt_free(w);
}

flt_err flt_slot_read_hash(struct flt_slot *s, int slot, uint64_t size, uint8_t out[FLT_SHA256_LEN])
{
	if (!slot_ok(slot))
		return FLT_EINVAL;
	return s->ops->read_hash(s->priv, slot, size, out);
}

flt_err flt_slot_mark_good(struct flt_slot *s, int slot)
{
	return slot_ok(slot) ? s->ops->mark_good(s->priv, slot) : FLT_EINVAL;
}

flt_err flt_slot_mark_bad(struct flt_slot *s, int slot)
{
	return slot_ok(slot) ? s->ops->mark_bad(s->priv, slot) : FLT_EINVAL;
}

flt_err flt_slot_set_next(struct flt_slot *s, int slot, int tries)
{
	if (!slot_ok(slot) || tries < 1 || tries > 100)
		return FLT_EINVAL;
	return s->ops->set_next(s->priv, slot, tries);
}

/* ---- shared helpers ---------------------------------------------------------- */

flt_err slot_hash_fd(int fd, uint64_t size, uint8_t out[FLT_SHA256_LEN], const char *fp)
{
	uint8_t buf[16384];
	flt_sha256_ctx ctx;
	uint64_t off = 0;
	flt_err e = FLT_OK;
	flt_sha256_init(&ctx);
	while (off < size) {
		size_t want = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf),
		       got = 0;
		if ((e = flt_fio_pread(fd, buf, want, (off_t)off, &got, fp)) != FLT_OK)
			break;
		if (got < want) {
			e = FLT_EVERIFY; /* the slot is shorter than the image */
			break;
		}
		flt_sha256_update(&ctx, buf, got);
		off += got;
	}
	uint8_t d[FLT_SHA256_LEN];
	flt_err fe = flt_sha256_final(&ctx, d);
	if (!e && fe)
		e = fe;
	if (!e)
		memcpy(out, d, sizeof(d));
	return e;
}

flt_err flt_slot_run(const char *const *argv, char *out, size_t outlen, int *status)
{
	int pfd[2] = {-1, -1};
	if (!argv || !argv[0] || !status)
		return FLT_EINVAL;
	if (pipe(pfd) != 0)
		return FLT_EIO;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return FLT_EIO;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	size_t used = 0;
	char sink[512];
	for (;;) {
		char *dst = sink;
		size_t room = sizeof(sink);
		if (out && used + 1 < outlen) {
			dst = out + used;
			room = outlen - 1 - used;
		}
		ssize_t n = read(pfd[0], dst, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != sink)
			used += (size_t)n;
	}
	close(pfd[0]);
	if (out && outlen)
		out[used] = '\0';
	int st = 0;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return FLT_EIO;
	}
	if (WIFEXITED(st))
		*status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		*status = 128 + WTERMSIG(st);
	else
		*status = 255;
	if (*status == 127) {
		flt_log_err("cannot run '%s' (not found?)", argv[0]);
		return FLT_EIO;
	}
	return FLT_OK;
}

flt_err flt_slot_run_line(const char *cmd, const char *arg1, const char *arg2, char *out,
                          size_t outlen, int *status)
{
	char buf[FLT_SLOT_PATH_MAX];
	const char *argv[34];
	size_t n = 0, len = cmd ? strlen(cmd) : 0;
	if (!cmd || len == 0 || len >= sizeof(buf))
		return FLT_EINVAL;
	memcpy(buf, cmd, len + 1);
	for (char *p = buf; *p && n < 31;) {
		while (*p == ' ')
			*p++ = '\0';
		if (!*p)
			break;
		argv[n++] = p;
		while (*p && *p != ' ')
			p++;
	}
	if (n == 0)
		return FLT_EINVAL;
	if (arg1)
		argv[n++] = arg1;
	if (arg2)
		argv[n++] = arg2;
	argv[n] = NULL;
	return flt_slot_run(argv, out, outlen, status);
}
