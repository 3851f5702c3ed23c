/* flotilla-supervisor: starts the agent from its active agent slot (or the
 * pending one while it has starts left), restarts it when it exits, and
 * brings the previous agent back when a new one never confirms. Signal
 * handlers only set a flag; the loop forwards SIGTERM to the agent. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FLT_LOG_MODULE "supervisor"
#include "flt/agentslot.h"
#include "flt/firmware.h"
#include "flt/log.h"

#define DEFAULT_DIR "/var/lib/flotilla/agent"

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: flotilla-supervisor run [--dir DIR] [--runs N] [--backoff S] [-- "
	        "AGENT-ARGS...]\n"
	        "       flotilla-supervisor confirm [--dir DIR] [--slot A|B]\n"
	        "       flotilla-supervisor firmware-boot [-c FIRMWARE.CONF]\n"
	        "  run      start the agent from its slot under DIR (default %s), restart it\n"
	        "           when it exits; a new agent that does not confirm within its starts\n"
	        "           is replaced by the previous one. --runs stops after N starts (tests).\n"
	        "  confirm  mark the agent in SLOT (default $%s) healthy.\n"
	        "  firmware-boot  once per boot: confirm a new firmware slot (broker_check and\n"
	        "           self_test commands) and mark it good, or notice the fallback; writes\n"
	        "           <state_dir>/boot-report; exit 3 when it rebooted (or must) to retry.\n",
	        DEFAULT_DIR, FLT_AGENTSLOT_ENV_SLOT);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(s, &end, 10);
	if (!*s || *end || errno || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

static void pause_s(long s)
{
	struct timespec ts = {s, 0};
	while (s > 0 && !stop_sig && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int start_once(const char *dir, char **agent_args, int nargs)
{
	char bin[FLT_SLOT_PATH_MAX + 64], letter[2] = {0, 0};
	uint64_t rb = 0;
	int slot = FLT_SLOT_NONE;
	flt_err e = flt_agentslot_next_start(dir, &slot, &rb);
	if (e) {
		flt_log_err("cannot read the agent slots in '%s': %s", dir, flt_strerror(e));
		return -1;
	}
	if (rb)
		flt_log_warn("agent %llu did not confirm; rolled back", (unsigned long long)rb);
	if ((e = flt_agentslot_binary(dir, slot, bin, sizeof(bin))) != FLT_OK)
		return -1;
	letter[0] = flt_slot_letter(slot);
	char *argv[66];
	int n = 0;
	argv[n++] = bin;
	for (int i = 0; i < nargs && n < 65; i++)
		argv[n++] = agent_args[i];
	argv[n] = NULL;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		flt_log_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		setenv(FLT_AGENTSLOT_ENV_SLOT, letter, 1);
		setenv(FLT_AGENTSLOT_ENV_DIR, dir, 1);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		execv(bin, argv);
		_exit(127);
	}
	int st = 0;
	bool forwarded = false;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
		if (stop_sig && !forwarded) {
			kill(pid, SIGTERM);
			forwarded = true;
		}
	}
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	if (code != 0)
		flt_log_warn("agent in slot %c exited with status %d", letter[0], code);
	return code;
}

static int run(const char *dir, long runs, long backoff, char **agent_args, int nargs)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: waitpid must see EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	long delay = 0;
	for (long i = 0; (runs == 0 || i < runs) && !stop_sig; i++) {
		if (delay)
			pause_s(delay);
		if (stop_sig)
			break;
		int code = start_once(dir, agent_args, nargs);
		if (code < 0)
			return 1;
		/* Back off on crash loops, up to 32 times the base. */
		delay =
		    code == 0 ? 0 : (delay ? (delay < backoff * 32 ? delay * 2 : delay) : backoff);
	}
	return 0;
}

static bool run_check(const char *cmd)
{
	int st = 0;
	if (!cmd || !*cmd)
		return true; /* not configured: nothing to check */
	return flt_slot_run_line(cmd, NULL, NULL, NULL, 0, &st) == FLT_OK && st == 0;
}

static bool check_broker(void *arg)
{
	return run_check(((const struct flt_fw_conf *)arg)->broker_check);
}

static bool check_self_test(void *arg)
{
	return run_check(((const struct flt_fw_conf *)arg)->self_test);
}

static int firmware_boot(const char *conf_path)
{
	struct flt_fw_conf conf;
	struct flt_fw_cfg cfg;
	struct flt_fw *fw = NULL;
	struct flt_fw_report rep;
	char err[256] = "";
	int code = 1;
	flt_err e = flt_fw_conf_load(conf_path, NULL, 0, &conf, err, sizeof(err));
	if (e) {
		fprintf(stderr, "flotilla-supervisor: %s\n", err[0] ? err : flt_strerror(e));
		return 2;
	}
	flt_fw_conf_to_cfg(&conf, &cfg);
	struct flt_fw_confirm cb = {check_broker, check_self_test, &conf};
	if ((e = flt_fw_open(&cfg, &fw)) != FLT_OK || (e = flt_fw_boot(fw, &cb, &rep)) != FLT_OK) {
		fprintf(stderr, "flotilla-supervisor: firmware boot check failed: %s\n",
		        flt_strerror(e));
		goto out;
	}
	if ((e = flt_fw_write_report(conf.state_dir, &rep)) != FLT_OK)
		flt_log_warn("cannot write the boot report: %s", flt_strerror(e));
	printf("%s version=%llu slot=%c\n", flt_fw_outcome_name(rep.outcome),
	       (unsigned long long)rep.version, flt_slot_letter(rep.slot));
	code = 0;
	if (rep.outcome == FLT_FW_CONFIRM_FAILED || rep.outcome == FLT_FW_REBOOT_PENDING) {
		/* Reboot to spend a try; the bootloader falls back when they run out. */
		e = flt_fw_reboot(fw);
		if (e && e != FLT_EUNSUPPORTED)
			flt_log_err("reboot failed: %s", flt_strerror(e));
		code = 3;
	}
out:
	flt_fw_close(fw);
	flt_fw_conf_free(&conf);
	return code;
}

int flt_supervisor_main(int argc, char **argv)
{
	const char *dir = getenv(FLT_AGENTSLOT_ENV_DIR), *slot_s = getenv(FLT_AGENTSLOT_ENV_SLOT);
	const char *conf = "/etc/flotilla/firmware.conf";
	long runs = 0, backoff = 1;
	int i = 2;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!dir)
		dir = DEFAULT_DIR;
	while (i < argc) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			fprintf(stderr, "flotilla-supervisor: %s needs a value\n", a);
			return 2;
		}
		if (!strcmp(a, "--dir"))
			dir = v;
		else if (!strcmp(a, "-c") || !strcmp(a, "--config"))
			conf = v;
		else if (!strcmp(a, "--slot"))
			slot_s = v;
		else if (!strcmp(a, "--runs") && parse_long(v, 0, 1000000, &runs) == 0)
			;
		else if (!strcmp(a, "--backoff") && parse_long(v, 0, 3600, &backoff) == 0)
			;
		else {
			fprintf(stderr, "flotilla-supervisor: bad option '%s'; see --help\n", a);
			return 2;
		}
		i += 2;
	}
	if (!strcmp(argv[1], "run"))
		return run(dir, runs, backoff, argv + i, argc - i);
	if (!strcmp(argv[1], "firmware-boot"))
		return firmware_boot(conf);
	if (!strcmp(argv[1], "confirm")) {
		int slot = flt_slot_parse(slot_s);
		if (slot == FLT_SLOT_NONE) {
			fprintf(stderr, "flotilla-supervisor: confirm needs --slot A|B or $%s\n",
			        FLT_AGENTSLOT_ENV_SLOT);
			return 2;
		}
		flt_err e = flt_agentslot_confirm(dir, slot);
		if (e) {
			fprintf(stderr, "flotilla-supervisor: cannot confirm slot %c in '%s': %s\n",
			        flt_slot_letter(slot), dir, flt_strerror(e));
			return 1;
		}
		return 0;
	}
	fprintf(stderr, "flotilla-supervisor: unknown command '%s'; see --help\n", argv[1]);
	return 2;
}
