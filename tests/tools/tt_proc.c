/* Test helpers: deadlines, temp folders and subprocesses for integration tests.
 * A process-wide registry (test code only) kills children and removes folders
 * at exit, so a failing assertion leaves nothing behind. */
#include "tt_proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct tt_proc {
	pid_t pid;
	bool reaped;
	int status;
	char *out_path;
	char *err_path;
};

#define REG_MAX 256

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t reg_pids[REG_MAX];
static char *reg_dirs[REG_MAX];
static bool reg_installed;

static void reg_cleanup(void)
{
	pthread_mutex_lock(&reg_mu);
	for (int i = 0; i < REG_MAX; i++) {
		if (reg_pids[i] > 0) {
			kill(reg_pids[i], SIGKILL);
			waitpid(reg_pids[i], NULL, 0);
			reg_pids[i] = 0;
		}
	}
	for (int i = 0; i < REG_MAX; i++) {
		if (reg_dirs[i]) {
			if (!getenv("TT_KEEP_TMP"))
				tt_rm_rf(reg_dirs[i]);
			free(reg_dirs[i]);
			reg_dirs[i] = NULL;
		}
	}
	pthread_mutex_unlock(&reg_mu);
}

static void reg_install_locked(void)
{
	if (!reg_installed) {
		atexit(reg_cleanup);
		reg_installed = true;
	}
}

static void reg_pid(pid_t pid, bool add)
{
	pthread_mutex_lock(&reg_mu);
	reg_install_locked();
	for (int i = 0; i < REG_MAX; i++) {
		if (add && reg_pids[i] == 0) {
			reg_pids[i] = pid;
			break;
		}
		if (!add && reg_pids[i] == pid) {
			reg_pids[i] = 0;
			break;
		}
	}
	pthread_mutex_unlock(&reg_mu);
}

static void reg_dir(const char *path)
{
	pthread_mutex_lock(&reg_mu);
	reg_install_locked();
	for (int i = 0; i < REG_MAX; i++) {
		if (!reg_dirs[i]) {
			reg_dirs[i] = strdup(path);
			break;
		}
	}
	pthread_mutex_unlock(&reg_mu);
}

int64_t tt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool tt_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
	int64_t deadline = tt_now_ms() + timeout_ms;
	int step = 1;
	for (;;) {
		if (cond(arg))
			return true;
		if (tt_now_ms() >= deadline)
			return false;
		nap_ms(step);
		if (step < 20)
			step *= 2;
	}
}

char *tt_tempdir(const char *tag)
{
	char buf[256];
	snprintf(buf, sizeof buf, "/tmp/flt-%s-XXXXXX", tag ? tag : "test");
	if (!mkdtemp(buf))
		return NULL;
	reg_dir(buf);
	return strdup(buf);
}

int tt_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d)
			return -1;
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char sub[4096];
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			tt_rm_rf(sub);
		}
		closedir(d);
		return rmdir(path);
	}
	return unlink(path);
}

char *tt_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		cap *= 2;
		char *nb = realloc(buf, cap + 1);
		if (!nb) {
			free(buf);
			buf = NULL;
		}
		buf = nb;
	}
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int tt_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(data, 1, len, f);
	int rc = fclose(f);
	return (w == len && rc == 0) ? 0 : -1;
}

bool tt_file_contains(const char *path, const char *needle)
{
	char *s = tt_read_file(path, NULL);
	bool found = s && strstr(s, needle) != NULL;
	free(s);
	return found;
}

int tt_proc_spawn(const char *path, const char *const argv[], const char *const env[],
                  const char *out_dir, struct tt_proc **out)
{
	static unsigned seq;
	char *dir = NULL;
	char **envp = NULL;
	int fd_out = -1, fd_err = -1, rc = -1;
	struct tt_proc *p = calloc(1, sizeof *p);
	if (!p)
		goto out;
	if (!out_dir) {
		dir = tt_tempdir("proc");
		if (!dir)
			goto out;
		out_dir = dir;
	}
	pthread_mutex_lock(&reg_mu);
	unsigned n = seq++;
	pthread_mutex_unlock(&reg_mu);
	char buf[4096];
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	snprintf(buf, sizeof buf, "%s/%s-%u.out", out_dir, base, n);
	p->out_path = strdup(buf);
	snprintf(buf, sizeof buf, "%s/%s-%u.err", out_dir, base, n);
	p->err_path = strdup(buf);
	if (!p->out_path || !p->err_path)
		goto out;
	fd_out = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	fd_err = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd_out < 0 || fd_err < 0)
		goto out;

	/* Build everything before fork: between fork and exec only async-signal-safe calls. */
	size_t ne = 0, nx = 0;
	while (environ[ne])
		ne++;
	while (env && env[nx])
		nx++;
	envp = calloc(ne + nx + 1, sizeof *envp);
	if (!envp)
		goto out;
	for (size_t i = 0; i < ne; i++)
		envp[i] = environ[i];
	for (size_t i = 0; i < nx; i++)
		envp[ne + i] = (char *)env[i];

	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (dup2(fd_out, 1) < 0 || dup2(fd_err, 2) < 0)
			_exit(127);
		execve(path, (char *const *)argv, envp);
		_exit(127);
	}
	p->pid = pid;
	reg_pid(pid, true);
	*out = p;
	p = NULL;
	rc = 0;
out:
	if (fd_out >= 0)
		close(fd_out);
	if (fd_err >= 0)
		close(fd_err);
	free(envp);
	free(dir);
	if (p) {
		free(p->out_path);
		free(p->err_path);
		free(p);
	}
	return rc;
}

pid_t tt_proc_pid(const struct tt_proc *p)
{
	return p->pid;
}

const char *tt_proc_stdout_path(const struct tt_proc *p)
{
	return p->out_path;
}

const char *tt_proc_stderr_path(const struct tt_proc *p)
{
	return p->err_path;
}

static bool try_reap(struct tt_proc *p)
{
	if (p->reaped)
		return true;
	int st;
	pid_t r = waitpid(p->pid, &st, WNOHANG);
	if (r == p->pid || (r < 0 && errno == ECHILD)) {
		p->reaped = true;
		p->status = r == p->pid ? st : 0;
		reg_pid(p->pid, false);
	}
	return p->reaped;
}

static bool reaped_cond(void *arg)
{
	return try_reap(arg);
}

int tt_proc_wait(struct tt_proc *p, int timeout_ms, int *status)
{
	if (timeout_ms < 0) {
		while (!p->reaped) {
			int st;
			pid_t r = waitpid(p->pid, &st, 0);
			if (r == p->pid) {
				p->reaped = true;
				p->status = st;
				reg_pid(p->pid, false);
			} else if (r < 0 && errno != EINTR) {
				return -1;
			}
		}
	} else if (!tt_wait_until(reaped_cond, p, timeout_ms)) {
		return -1;
	}
	if (status)
		*status = p->status;
	return 0;
}

int tt_proc_kill(struct tt_proc *p, int sig)
{
	if (try_reap(p))
		return -1;
	return kill(p->pid, sig);
}

bool tt_proc_running(struct tt_proc *p)
{
	return !try_reap(p);
}

struct out_wait {
	struct tt_proc *p;
	const char *needle;
};

static bool out_cond(void *arg)
{
	struct out_wait *w = arg;
	return tt_file_contains(w->p->out_path, w->needle) || try_reap(w->p);
}

bool tt_proc_wait_output(struct tt_proc *p, const char *needle, int timeout_ms)
{
	struct out_wait w = {p, needle};
	if (!tt_wait_until(out_cond, &w, timeout_ms))
		return false;
	return tt_file_contains(p->out_path, needle);
}

void tt_proc_free(struct tt_proc *p)
{
	if (!p)
		return;
	if (!try_reap(p)) {
		kill(p->pid, SIGKILL);
		(void)tt_proc_wait(p, -1, NULL);
	}
	free(p->out_path);
	free(p->err_path);
	free(p);
}

int tt_cli_run(const char *bin, const char *data_dir, const char *err_path, const char *const *args,
               char *out, size_t outsz, char *err, size_t errsz)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(p[1], 1);
		dup2(fd, 2);
		close(p[0]);
		setenv("FLOTILLA_DATA_DIR", data_dir, 1);
		char *argv[64];
		int n = 0;
		argv[n++] = (char *)bin;
		for (; args[n - 1] && n < 63; n++)
			argv[n] = (char *)args[n - 1];
		argv[n] = NULL;
		execv(bin, argv);
		_exit(127);
	}
	close(p[1]);
	size_t got = 0;
	ssize_t k;
	while (got < outsz - 1 && (k = read(p[0], out + got, outsz - 1 - got)) > 0)
		got += (size_t)k;
	out[got] = '\0';
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	FILE *f = fopen(err_path, "r");
	size_t e = f ? fread(err, 1, errsz - 1, f) : 0;
	err[e] = '\0';
	if (f)
		fclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}
