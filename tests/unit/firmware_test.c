/* Firmware OTA on the device: the dir slot backend with simulated reboots (the
 * test closes and reopens the update flow as a boot would, slot state in
 * files), power cuts through the failpoint wrapper at several points of the
 * write, a self-test that always fails (fallback, marked bad, not retried),
 * the uboot backend against fake fw_printenv/fw_setenv, the command backend,
 * and agent self-update through the supervisor. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flt/agentd.h"
#include "flt/agentslot.h"
#include "flt/alloc.h"
#include "flt/crypto.h"
#include "flt/failpoint.h"
#include "flt/manifest.h"
#include "flt/firmware.h"
#include "flt/slot.h"

#include "sys_testutil.h"

#define IMG_LEN (200 * 1024 + 17)

struct fx {
	char dir[256], slots[300], state[300];
	uint8_t img[IMG_LEN];
	char sha[FLT_SHA256_HEX_LEN + 1];
	struct flt_fw_cfg cfg;
};

static bool emulated(void)
{
	/* The self-update test execs the target-arch supervisor from a host shell
	 * script, which needs binfmt; under qemu-user here there is none. */
	const char *e = getenv("FLT_EMULATOR");
	return e && *e;
}

static int setup(void **state)
{
	static struct fx f;
	memset(&f, 0, sizeof(f));
	if (tu_mkdtemp(f.dir, sizeof(f.dir), "fw") != 0)
		return -1;
	snprintf(f.slots, sizeof(f.slots), "%s/slots", f.dir);
	snprintf(f.state, sizeof(f.state), "%s/state", f.dir);
	for (size_t i = 0; i < IMG_LEN; i++)
		f.img[i] = (uint8_t)(i * 131u + (i >> 9));
	if (flt_sha256_hex(f.img, IMG_LEN, f.sha) != FLT_OK)
		return -1;
	f.cfg.state_dir = f.state;
	f.cfg.slot.backend = "dir";
	f.cfg.slot.dir = f.slots;
	f.cfg.tries = 3;
	f.cfg.reboot_cmd = NULL;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	flt_fp_clear_all();
	flt_fp_track(false);
	tu_rmtree(f->dir);
	return 0;
}

static bool yes(void *arg)
{
	(void)arg;
	return true;
}

static bool no(void *arg)
{
	(void)arg;
	return false;
}

static const struct flt_fw_confirm healthy = {yes, yes, NULL};
static const struct flt_fw_confirm sick = {yes, no, NULL};

/* Opens the flow as the agent does at start and returns what the boot meant. */
static struct flt_fw *start(struct fx *f, const struct flt_fw_confirm *cb,
                            struct flt_fw_report *rep)
{
	struct flt_fw *fw = NULL;
	assert_int_equal(flt_fw_open(&f->cfg, &fw), FLT_OK);
	assert_int_equal(flt_fw_boot(fw, cb, rep), FLT_OK);
	return fw;
}

static void reboot(struct fx *f, int expect_slot)
{
	int slot = -1;
	assert_int_equal(flt_slot_dir_simulate_boot(f->slots, &slot), FLT_OK);
	assert_int_equal(slot, expect_slot);
}

/* Streams the image in uneven chunks, as verified chunks arrive. */
static flt_err write_image(struct fx *f, struct flt_fw *fw, uint64_t version, const char *deploy,
                           enum flt_reason *reason)
{
	flt_err e = flt_fw_begin(fw, "rpi4-image", version, deploy, IMG_LEN, f->sha, reason);
	for (size_t off = 0; !e && off < IMG_LEN;) {
		size_t n = IMG_LEN - off < 30000 ? IMG_LEN - off : 30000;
		e = flt_fw_write(fw, f->img + off, n);
		off += n;
	}
	if (!e)
		e = flt_fw_finish(fw, reason);
	return e;
}

static void assert_slot_holds_image(struct fx *f, struct flt_fw *fw, int slot)
{
	uint8_t h[FLT_SHA256_LEN], want[FLT_SHA256_LEN];
	assert_int_equal(flt_slot_read_hash(flt_fw_slot(fw), slot, IMG_LEN, h), FLT_OK);
	assert_int_equal(flt_hex_decode(f->sha, 64, want, sizeof(want)), FLT_OK);
	assert_memory_equal(h, want, sizeof(h));
}

static void test_full_update_confirmed(void **state)
{
	struct fx *f = *state;
	struct flt_fw_report rep;
	enum flt_reason why;
	reboot(f, FLT_SLOT_A);
	struct flt_fw *fw = start(f, &healthy, &rep);
	assert_int_equal(rep.outcome, FLT_FW_NOTHING);
	assert_int_equal(write_image(f, fw, 5, "d1", &why), FLT_OK);
	assert_int_equal(flt_fw_slot_version(fw, FLT_SLOT_B), 5);
	assert_int_equal(flt_fw_committed_version(fw), 0);
	struct flt_slot_boot b;
	assert_int_equal(flt_slot_get_boot(flt_fw_slot(fw), &b), FLT_OK);
	assert_int_equal(b.order[0], FLT_SLOT_B);
	assert_int_equal(b.tries[FLT_SLOT_B], 3);
	/* No reboot command configured: the flow says so, the caller reboots. */
	assert_int_equal(flt_fw_reboot(fw), FLT_EUNSUPPORTED);
	flt_fw_close(fw);

	reboot(f, FLT_SLOT_B);
	fw = start(f, &healthy, &rep);
	assert_int_equal(rep.outcome, FLT_FW_CONFIRMED);
	assert_int_equal(rep.version, 5);
	assert_string_equal(rep.deployment_id, "d1");
	assert_int_equal(flt_fw_committed_version(fw), 5);
	assert_slot_holds_image(f, fw, FLT_SLOT_B);
	assert_int_equal(flt_slot_get_boot(flt_fw_slot(fw), &b), FLT_OK);
	assert_int_equal(b.tries[FLT_SLOT_B], 3); /* marked good: full tries again */
	flt_fw_close(fw);

	/* Later boots stay on B and report nothing new. */
	for (int i = 0; i < 5; i++) {
		reboot(f, FLT_SLOT_B);
		fw = start(f, &healthy, &rep);
		assert_int_equal(rep.outcome, FLT_FW_NOTHING);
		assert_int_equal(rep.version, 5);
		flt_fw_close(fw);
	}
}

static void test_refuses_wrong_hash_and_running_slot(void **state)
{
	struct fx *f = *state;
	struct flt_fw_report rep;
	enum flt_reason why;
	reboot(f, FLT_SLOT_A);
	struct flt_fw *fw = start(f, &healthy, &rep);
	f->img[1000] ^= 1; /* the bytes no longer match the manifest hash */
	assert_int_equal(write_image(f, fw, 5, "d1", &why), FLT_EVERIFY);
	f->img[1000] ^= 1;
	assert_int_equal(why, FLT_REASON_FILE_HASH_MISMATCH);
	assert_int_equal(flt_fw_slot_version(fw, FLT_SLOT_B), 0);
	struct flt_slot_boot b;
	assert_int_equal(flt_slot_get_boot(flt_fw_slot(fw), &b), FLT_OK);
	assert_int_equal(b.order[0], FLT_SLOT_A); /* never armed */
	struct flt_slot_writer *w = NULL;
	assert_int_equal(flt_slot_write_open(flt_fw_slot(fw), FLT_SLOT_A, 10, &w), FLT_EBUSY);
	flt_fw_close(fw);
}

/* A power cut at POINT (a failpoint name and spec) during an update of v5. */
static void cut_during_update(struct fx *f, const char *point, const char *spec)
{
	pid_t pid = tu_fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flt_fw *fw = NULL;
		struct flt_fw_report rep;
		enum flt_reason why;
		if (flt_fp_set(point, spec) != FLT_OK || flt_fw_open(&f->cfg, &fw) != FLT_OK ||
		    flt_fw_boot(fw, &healthy, &rep) != FLT_OK)
			_exit(2);
		flt_err e = write_image(f, fw, 5, "d1", &why);
		_exit(e == FLT_OK ? 0 : 3);
	}
	assert_int_equal(tu_wait(pid), SIGKILL);
}

static void test_powercut_mid_write_then_same_version(void **state)
{
	struct fx *f = *state;
	static const char *const points[][2] = {
	    {"fw.state.rename", "powercut@2"},      /* begin: clearing the slot version */
	    {"slot.dir.image.write", "powercut@2"}, /* first chunks written */
	    {"slot.dir.image.write", "powercut@7"}, /* last chunk */
	    {"slot.dir.image.fsync", "powercut"},   /* whole image written, not synced */
	    {"slot.readback.read", "powercut@3"},   /* re-reading the slot */
	    {"fw.state.rename", "powercut@3"},      /* recording the version */
	};
	if (emulated()) {
		skip();
		return;
	}
	reboot(f, FLT_SLOT_A);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		struct flt_fw_report rep;
		enum flt_reason why;
		cut_during_update(f, points[i][0], points[i][1]);
		reboot(f, FLT_SLOT_A); /* power back: the bootloader still boots A */
		struct flt_fw *fw = start(f, &healthy, &rep);
		assert_int_equal(rep.outcome, FLT_FW_NOTHING);
		/* The slot never claims a version it does not hold. */
		assert_int_equal(flt_fw_slot_version(fw, FLT_SLOT_B), 0);
		struct flt_slot_boot b;
		assert_int_equal(flt_slot_get_boot(flt_fw_slot(fw), &b), FLT_OK);
		assert_int_equal(b.order[0], FLT_SLOT_A);
		/* The same version again is written again (counted), then verified. */
		assert_int_equal(flt_fp_set("slot.dir.image.write", "error@1000000"), FLT_OK);
		assert_int_equal(write_image(f, fw, 5, "d1", &why), FLT_OK);
		assert_int_equal(flt_fp_hits("slot.dir.image.write"), 7);
		flt_fp_clear_all();
		flt_fp_track(false);
		assert_int_equal(flt_fw_slot_version(fw, FLT_SLOT_B), 5);
		assert_slot_holds_image(f, fw, FLT_SLOT_B);
		/* Back to a clean "A, nothing pending" for the next point: the
		 * armed update is dropped by a newer flow state on disk. */
		flt_fw_close(fw);
		char p[400];
		snprintf(p, sizeof(p), "%s/fwstate", f->state);
		unlink(p);
		snprintf(p, sizeof(p), "%s/bootstate", f->slots);
		unlink(p);
		reboot(f, FLT_SLOT_A);
	}
}

static void test_powercut_while_arming_then_boots_new(void **state)
{
	struct fx *f = *state;
	struct flt_fw_report rep;
	if (emulated()) {
		skip();
		return;
	}
	reboot(f, FLT_SLOT_A);
	/* Version recorded, the bootloader never told: the next start re-arms. */
	cut_during_update(f, "slot.dir.state.rename", "powercut@2");
	reboot(f, FLT_SLOT_A);
	struct flt_fw *fw = start(f, &healthy, &rep);
	assert_int_equal(rep.outcome, FLT_FW_REBOOT_PENDING);
	assert_int_equal(flt_fw_slot_version(fw, FLT_SLOT_B), 5);
	flt_fw_close(fw);
	reboot(f, FLT_SLOT_B);
	fw = start(f, &healthy, &rep);
	assert_int_equal(rep.outcome, FLT_FW_CONFIRMED);
	assert_int_equal(flt_fw_committed_version(fw), 5);
	flt_fw_close(fw);
}

static void test_selftest_fails_falls_back_not_retried(void **state)
{
	struct fx *f = *state;
	struct flt_fw_report rep;
	enum flt_reason why;
	reboot(f, FLT_SLOT_A);
	struct flt_fw *fw = start(f, &healthy, &rep);
	assert_int_equal(write_image(f, fw, 6, "d1", &why), FLT_OK);
	assert_int_equal(flt_fw_reboot(fw), FLT_EUNSUPPORTED);
	flt_fw_close(fw);
	/* Three tries on B, each failing its self-test. */
	for (int i = 0; i < 3; i++) {
		reboot(f, FLT_SLOT_B);
		fw = start(f, &sick, &rep);
		assert_int_equal(rep.outcome, FLT_FW_CONFIRM_FAILED);
		assert_int_equal(rep.reason, FLT_REASON_BOOT_FAILED);
		assert_int_equal(rep.version, 6);
		flt_fw_close(fw);
	}
	/* Out of tries: the bootloader falls back, the agent reports it. */
	reboot(f, FLT_SLOT_A);
	fw = start(f, &sick, &rep);
	assert_int_equal(rep.outcome, FLT_FW_ROLLED_BACK);
	assert_int_equal(rep.reason, FLT_REASON_BOOT_FAILED);
	assert_int_equal(rep.version, 6);
	assert_string_equal(rep.deployment_id, "d1");
	assert_true(flt_fw_is_bad(fw, 6, "d1"));
	assert_int_equal(flt_fw_committed_version(fw), 0);
	flt_fw_close(fw);
	/* Ten more boots with the same desired state: stays on A, never retried. */
	for (int i = 0; i < 10; i++) {
		reboot(f, FLT_SLOT_A);
		fw = start(f, &healthy, &rep);
		assert_int_equal(rep.outcome, FLT_FW_NOTHING);
		assert_int_equal(flt_fw_begin(fw, "rpi4-image", 6, "d1", IMG_LEN, f->sha, &why),
		                 FLT_EINCOMPAT);
		assert_int_equal(why, FLT_REASON_MARKED_BAD);
		flt_fw_close(fw);
	}
	/* A new deployment may ask for it again. */
	fw = start(f, &healthy, &rep);
	assert_int_equal(write_image(f, fw, 6, "d2", &why), FLT_OK);
	flt_fw_close(fw);
}

/* ---- uboot backend against fake fw_printenv / fw_setenv --------------------- */

struct ub {
	char env[300], cmdline[300], dev_a[300], dev_b[300], printenv[400], setenv_[400];
};

static void ub_setup(struct fx *f, struct ub *u)
{
	const char *src = getenv("FLT_SOURCE_DIR");
	assert_non_null(src);
	snprintf(u->env, sizeof(u->env), "%s/uboot.env", f->dir);
	snprintf(u->cmdline, sizeof(u->cmdline), "%s/cmdline", f->dir);
	snprintf(u->dev_a, sizeof(u->dev_a), "%s/mmcblk0p2", f->dir);
	snprintf(u->dev_b, sizeof(u->dev_b), "%s/mmcblk0p3", f->dir);
	snprintf(u->printenv, sizeof(u->printenv), "%s/tests/tools/fake_fw_printenv", src);
	snprintf(u->setenv_, sizeof(u->setenv_), "%s/tests/tools/fake_fw_setenv", src);
	const char *env0 = "BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n";
	assert_int_equal(tu_write(u->env, env0, strlen(env0)), 0);
	assert_int_equal(tu_write(u->dev_a, "", 0), 0);
	assert_int_equal(tu_write(u->dev_b, "", 0), 0);
	setenv("FW_ENV_FILE", u->env, 1);
	f->cfg.slot.backend = "uboot";
	f->cfg.slot.fw_printenv = u->printenv;
	f->cfg.slot.fw_setenv = u->setenv_;
	f->cfg.slot.uboot_dev_a = u->dev_a;
	f->cfg.slot.uboot_dev_b = u->dev_b;
	f->cfg.slot.booted_file = u->cmdline;
}

static bool env_has(struct ub *u, const char *line)
{
	char buf[512];
	long n = tu_read(u->env, buf, sizeof(buf) - 1);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, line) != NULL;
}

/* What the U-Boot A/B script does, through the same fake tools. */
static int ub_boot(struct fx *f, struct ub *u)
{
	struct flt_slot *s = NULL;
	struct flt_slot_boot b;
	assert_int_equal(flt_slot_open(&f->cfg.slot, &s), FLT_OK);
	assert_int_equal(flt_slot_get_boot(s, &b), FLT_OK);
	flt_slot_close(s);
	int pick = -1;
	for (int i = 0; i < 2 && pick < 0; i++)
		if (b.order[i] >= 0 && b.tries[b.order[i]] > 0)
			pick = b.order[i];
	assert_true(pick >= 0);
	char name[16], val[16], cmd[600];
	snprintf(name, sizeof(name), "BOOT_%c_LEFT", flt_slot_letter(pick));
	snprintf(val, sizeof(val), "%d", b.tries[pick] - 1);
	int st = 0;
	snprintf(cmd, sizeof(cmd), "%s", u->setenv_);
	assert_int_equal(flt_slot_run_line(cmd, name, val, NULL, 0, &st), FLT_OK);
	assert_int_equal(st, 0);
	char line[64];
	int n =
	    snprintf(line, sizeof(line), "console=ttyS0 root=/dev/mmcblk0p%d flotilla.slot=%c\n",
	             pick + 2, flt_slot_letter(pick));
	assert_int_equal(tu_write(u->cmdline, line, (size_t)n), 0);
	return pick;
}

static void test_uboot_backend(void **state)
{
	struct fx *f = *state;
	struct ub u;
	struct flt_fw_report rep;
	enum flt_reason why;
	if (emulated()) {
		skip();
		return;
	}
	ub_setup(f, &u);
	assert_int_equal(ub_boot(f, &u), FLT_SLOT_A);
	struct flt_fw *fw = start(f, &healthy, &rep);
	assert_int_equal(rep.outcome, FLT_FW_NOTHING);
	assert_true(env_has(&u, "BOOT_A_LEFT=3")); /* marked good again */
	assert_int_equal(write_image(f, fw, 9, "r1", &why), FLT_OK);
	assert_true(env_has(&u, "BOOT_ORDER=B A"));
	assert_true(env_has(&u, "BOOT_B_LEFT=3"));
	flt_fw_close(fw);
	/* A healthy image confirms on its first boot. */
	assert_int_equal(ub_boot(f, &u), FLT_SLOT_B);
	assert_true(env_has(&u, "BOOT_B_LEFT=2"));
	fw = start(f, &healthy, &rep);
	assert_int_equal(rep.outcome, FLT_FW_CONFIRMED);
	assert_true(env_has(&u, "BOOT_B_LEFT=3"));
	assert_slot_holds_image(f, fw, FLT_SLOT_B);
	/* The next one (into A) never confirms: fallback to B after 3 tries. */
	f->img[5] ^= 0x55;
	assert_int_equal(flt_sha256_hex(f->img, IMG_LEN, f->sha), FLT_OK);
	assert_int_equal(write_image(f, fw, 10, "r2", &why), FLT_OK);
	assert_true(env_has(&u, "BOOT_ORDER=A B"));
	flt_fw_close(fw);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ub_boot(f, &u), FLT_SLOT_A);
		fw = start(f, &sick, &rep);
		assert_int_equal(rep.outcome, FLT_FW_CONFIRM_FAILED);
		flt_fw_close(fw);
	}
	assert_int_equal(ub_boot(f, &u), FLT_SLOT_B);
	fw = start(f, &healthy, &rep);
	assert_int_equal(rep.outcome, FLT_FW_ROLLED_BACK);
	assert_int_equal(rep.version, 10);
	assert_true(env_has(&u, "BOOT_ORDER=B A"));
	assert_true(env_has(&u, "BOOT_A_LEFT=0"));
	assert_int_equal(flt_fw_committed_version(fw), 9);
	flt_fw_close(fw);
	unsetenv("FW_ENV_FILE");
}

/* ---- command backend ---------------------------------------------------------- */

static void test_command_backend(void **state)
{
	struct fx *f = *state;
	char staging[300], inst[700], booted[400];
	struct flt_fw_report rep;
	enum flt_reason why;
	if (emulated()) {
		skip();
		return;
	}
	snprintf(staging, sizeof(staging), "%s/staged.img", f->dir);
	/* The "installer" copies the staged image; its exit code is the result. */
	snprintf(inst, sizeof(inst), "cp");
	snprintf(booted, sizeof(booted), "echo A");
	f->cfg.slot.backend = "command";
	f->cfg.slot.install_cmd = inst;
	f->cfg.slot.booted_cmd = booted;
	f->cfg.slot.staging = staging;
	struct flt_fw *fw = start(f, &healthy, &rep);
	/* cp STAGED with no destination fails: the installer's failure is ours. */
	assert_int_equal(write_image(f, fw, 3, "c1", &why), FLT_EIO);
	assert_int_equal(flt_fw_slot_version(fw, FLT_SLOT_B), 0);
	flt_fw_close(fw);
	f->cfg.slot.install_cmd = "true";
	f->cfg.reboot_cmd = "true";
	fw = start(f, &healthy, &rep);
	assert_int_equal(write_image(f, fw, 3, "c1", &why), FLT_OK);
	assert_int_equal(flt_fw_slot_version(fw, FLT_SLOT_B), 3);
	/* It cannot see tries: after a reboot command, still on A means fallback. */
	assert_int_equal(flt_fw_reboot(fw), FLT_OK);
	flt_fw_close(fw);
	fw = start(f, &healthy, &rep);
	assert_int_equal(rep.outcome, FLT_FW_ROLLED_BACK);
	assert_true(flt_fw_is_bad(fw, 3, "c1"));
	flt_fw_close(fw);
}

/* ---- agent self-update through the supervisor --------------------------------- */

static void write_script(const char *path, const char *body)
{
	assert_int_equal(tu_write(path, body, strlen(body)), 0);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_agent_selfupdate_crash_goes_back(void **state)
{
	struct fx *f = *state;
	char adir[300], old[400], newbin[400], runlog[400], body[1200], sha[65];
	if (emulated()) {
		skip();
		return;
	}
	snprintf(adir, sizeof(adir), "%s/agent", f->dir);
	snprintf(runlog, sizeof(runlog), "%s/runs.log", f->dir);
	snprintf(old, sizeof(old), "%s/slot-a", adir);
	assert_int_equal(mkdir(adir, 0755), 0);
	assert_int_equal(mkdir(old, 0755), 0);
	snprintf(old, sizeof(old), "%s/slot-a/flotilla-agent", adir);
	snprintf(body, sizeof(body), "#!/bin/sh\necho \"old $FLT_AGENT_SLOT\" >> %s\nexit 0\n",
	         runlog);
	write_script(old, body);
	/* The new agent crashes on start, every time. */
	snprintf(newbin, sizeof(newbin), "%s/new-agent", f->dir);
	snprintf(body, sizeof(body), "#!/bin/sh\necho \"new $FLT_AGENT_SLOT\" >> %s\nexit 1\n",
	         runlog);
	write_script(newbin, body);
	uint8_t buf[2048];
	long n = tu_read(newbin, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(flt_sha256_hex(buf, (size_t)n, sha), FLT_OK);
	/* A wrong hash installs nothing. */
	assert_int_equal(flt_agentslot_install(adir, newbin, 8, f->sha, 3), FLT_EVERIFY);
	struct flt_agentslot_state st;
	assert_int_equal(flt_agentslot_load(adir, &st), FLT_OK);
	assert_int_equal(st.pending, FLT_SLOT_NONE);
	assert_int_equal(flt_agentslot_install(adir, newbin, 8, sha, 3), FLT_OK);
	assert_int_equal(flt_agentslot_load(adir, &st), FLT_OK);
	assert_int_equal(st.active, FLT_SLOT_A);
	assert_int_equal(st.pending, FLT_SLOT_B);
	/* The running binary (slot A) was not touched. */
	char got[512];
	n = tu_read(old, got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	assert_non_null(strstr(got, "old"));

	char *argv[] = {"flotilla-supervisor", "run", "--dir", adir, "--runs", "5",
	                "--backoff",           "0",   NULL};
	assert_int_equal(flt_supervisor_main(8, argv), 0);
	n = tu_read(runlog, got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, "new B\nnew B\nnew B\nold A\nold A\n");
	assert_int_equal(flt_agentslot_load(adir, &st), FLT_OK);
	assert_int_equal(st.active, FLT_SLOT_A);
	assert_int_equal(st.pending, FLT_SLOT_NONE);
	assert_int_equal(st.rolled_back, 8);
}

static void test_agent_selfupdate_confirms(void **state)
{
	struct fx *f = *state;
	char adir[300], old[400], newbin[400], runlog[400], body[1600], sha[65], sup[600];
	const char *bin = getenv("FLT_BINARY_DIR");
	if (emulated() || !bin) {
		skip();
		return;
	}
	snprintf(sup, sizeof(sup), "%s/firmware/flotilla-supervisor", bin);
	snprintf(adir, sizeof(adir), "%s/agent", f->dir);
	snprintf(runlog, sizeof(runlog), "%s/runs.log", f->dir);
	snprintf(old, sizeof(old), "%s/slot-a", adir);
	assert_int_equal(mkdir(adir, 0755), 0);
	assert_int_equal(mkdir(old, 0755), 0);
	snprintf(old, sizeof(old), "%s/slot-a/flotilla-agent", adir);
	snprintf(body, sizeof(body), "#!/bin/sh\necho \"old $FLT_AGENT_SLOT\" >> %s\n", runlog);
	write_script(old, body);
	/* A healthy new agent confirms itself (after connecting and its self-test). */
	snprintf(newbin, sizeof(newbin), "%s/new-agent", f->dir);
	snprintf(body, sizeof(body),
	         "#!/bin/sh\necho \"new $FLT_AGENT_SLOT\" >> %s\nexec %s confirm\n", runlog, sup);
	write_script(newbin, body);
	uint8_t buf[2048];
	long n = tu_read(newbin, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(flt_sha256_hex(buf, (size_t)n, sha), FLT_OK);
	assert_int_equal(flt_agentslot_install(adir, newbin, 9, sha, 2), FLT_OK);
	char *argv[] = {"flotilla-supervisor", "run", "--dir", adir, "--runs", "4",
	                "--backoff",           "0",   NULL};
	assert_int_equal(flt_supervisor_main(8, argv), 0);
	char got[512];
	n = tu_read(runlog, got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	assert_string_equal(got, "new B\nnew B\nnew B\nnew B\n");
	struct flt_agentslot_state st;
	assert_int_equal(flt_agentslot_load(adir, &st), FLT_OK);
	assert_int_equal(st.active, FLT_SLOT_B);
	assert_int_equal(st.pending, FLT_SLOT_NONE);
	assert_int_equal(st.version[FLT_SLOT_B], 9);
	assert_int_equal(st.rolled_back, 0);
	/* The next update goes to A, the slot not running. */
	assert_int_equal(flt_agentslot_install(adir, newbin, 10, sha, 2), FLT_OK);
	assert_int_equal(flt_agentslot_load(adir, &st), FLT_OK);
	assert_int_equal(st.pending, FLT_SLOT_A);
	assert_int_equal(flt_agentslot_confirm(adir, FLT_SLOT_A), FLT_OK);
	assert_int_equal(flt_agentslot_load(adir, &st), FLT_OK);
	assert_int_equal(st.active, FLT_SLOT_A);
}

/* ---- flotilla-supervisor firmware-boot with firmware.conf ----------------------- */

static int fw_boot_cmd(const char *conf)
{
	char *argv[] = {"flotilla-supervisor", "firmware-boot", "-c", (char *)conf, NULL};
	return flt_supervisor_main(4, argv);
}

static void read_report(struct fx *f, char *buf, size_t cap)
{
	char p[400];
	snprintf(p, sizeof(p), "%s/boot-report", f->state);
	long n = tu_read(p, buf, cap - 1);
	assert_true(n > 0);
	buf[n] = '\0';
}

static void test_firmware_boot_command(void **state)
{
	struct fx *f = *state;
	char conf[400], body[1200], rep[512];
	struct flt_fw_report r;
	enum flt_reason why;
	if (emulated()) {
		skip();
		return;
	}
	snprintf(conf, sizeof(conf), "%s/firmware.conf", f->dir);
	snprintf(body, sizeof(body), "no_such_key = 1\n");
	assert_int_equal(tu_write(conf, body, strlen(body)), 0);
	assert_int_equal(fw_boot_cmd(conf), 2);
	snprintf(body, sizeof(body),
	         "state_dir = %s\nreboot_cmd = true\nbroker_check = true\nself_test = false\n"
	         "[slot]\nbackend = dir\ndir = %s\n",
	         f->state, f->slots);
	assert_int_equal(tu_write(conf, body, strlen(body)), 0);
	reboot(f, FLT_SLOT_A);
	assert_int_equal(fw_boot_cmd(conf), 0);
	read_report(f, rep, sizeof(rep));
	assert_non_null(strstr(rep, "\"outcome\":\"nothing\""));
	struct flt_fw *fw = start(f, &healthy, &r);
	assert_int_equal(write_image(f, fw, 4, "dep-4", &why), FLT_OK);
	flt_fw_close(fw);
	for (int i = 0; i < 3; i++) {
		reboot(f, FLT_SLOT_B);
		assert_int_equal(fw_boot_cmd(conf), 3); /* self-test fails: reboot */
		read_report(f, rep, sizeof(rep));
		assert_non_null(strstr(rep, "\"outcome\":\"confirm_failed\""));
	}
	reboot(f, FLT_SLOT_A);
	assert_int_equal(fw_boot_cmd(conf), 0);
	read_report(f, rep, sizeof(rep));
	assert_string_equal(
	    rep, "{\"outcome\":\"rolled_back\",\"name\":\"rpi4-image\",\"version\":4,"
	         "\"deployment_id\":\"dep-4\",\"reason\":\"BOOT_FAILED\",\"slot\":\"A\"}\n");
}

/* ---- shipped configs and the rootfs provisioning script ---------------------- */

static void test_shipped_configs_parse(void **state)
{
	(void)state;
	const char *src = getenv("FLT_SOURCE_DIR");
	char p[600], err[256] = "";
	assert_non_null(src);
	snprintf(p, sizeof(p), "%s/firmware/agent.conf", src);
	struct flt_agentd_conf ac;
	assert_int_equal(flt_agentd_conf_load(p, NULL, 0, &ac, err, sizeof(err)), FLT_OK);
	flt_agentd_conf_free(&ac);
	snprintf(p, sizeof(p), "%s/firmware/firmware.conf", src);
	struct flt_fw_conf fc;
	assert_int_equal(flt_fw_conf_load(p, NULL, 0, &fc, err, sizeof(err)), FLT_OK);
	struct flt_fw_cfg cfg;
	flt_fw_conf_to_cfg(&fc, &cfg);
	assert_string_equal(cfg.slot.backend, "dir");
	assert_int_equal(cfg.tries, 3);
	flt_fw_conf_free(&fc);
}

static int mode_of(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

static void test_provision_rootfs(void **state)
{
	struct fx *f = *state;
	const char *src = getenv("FLT_SOURCE_DIR");
	char bundle[300], root[300], p[700], cmd[1600];
	if (emulated() || !src) {
		skip();
		return;
	}
	snprintf(bundle, sizeof(bundle), "%s/bundle", f->dir);
	snprintf(root, sizeof(root), "%s/rootfs", f->dir);
	assert_int_equal(mkdir(bundle, 0700), 0);
	assert_int_equal(mkdir(root, 0755), 0);
	static const char *const files[] = {"ca.pem", "device.pem", "device.key", "root-keys.pem"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s/%s", bundle, files[i]);
		assert_int_equal(tu_write(p, "-----PEM-----\n", 14), 0);
	}
	snprintf(cmd, sizeof(cmd), "%s/firmware/provision-rootfs.sh %s %s >/dev/null 2>&1", src,
	         bundle, root);
	/* No agent.conf in the bundle: refused, nothing half-laid. */
	assert_int_not_equal(system(cmd), 0);
	snprintf(p, sizeof(p), "%s/agent.conf", bundle);
	const char *conf = "[device]\nid = cam-7\n";
	assert_int_equal(tu_write(p, conf, strlen(conf)), 0);
	snprintf(p, sizeof(p), "%s/device.key", bundle);
	assert_int_equal(chmod(p, 0644), 0); /* a sloppy copy: the script must fix it */
	assert_int_equal(system(cmd), 0);
	snprintf(p, sizeof(p), "%s/etc/flotilla/device.key", root);
	assert_int_equal(mode_of(p), 0600);
	snprintf(p, sizeof(p), "%s/etc/flotilla/agent.conf", root);
	assert_int_equal(mode_of(p), 0644);
	char got[64];
	long n = tu_read(p, got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	assert_non_null(strstr(got, "cam-7"));
	snprintf(p, sizeof(p), "%s/etc/flotilla/firmware.conf", root);
	assert_int_equal(mode_of(p), 0644);
	snprintf(p, sizeof(p), "%s/var/lib/flotilla/agent", root);
	assert_int_equal(mode_of(p), 0750);
	snprintf(p, sizeof(p),
	         "%s/etc/systemd/system/multi-user.target.wants/flotilla-agent.service", root);
	assert_true(tu_exists(p));
	/* Idempotent: a second run succeeds and changes nothing that matters. */
	assert_int_equal(system(cmd), 0);
	snprintf(p, sizeof(p), "%s/etc/flotilla/device.key", root);
	assert_int_equal(mode_of(p), 0600);
}

/* ---- admission of agent and firmware releases ------------------------------------ */

static void test_admission(void **state)
{
	(void)state;
	struct flt_manifest m;
	enum flt_reason r;
	char msg[160];
	memset(&m, 0, sizeof(m));
	m.kind = FLT_KIND_FIRMWARE;
	snprintf(m.name, sizeof(m.name), "rpi4-image");
	m.version = 7;
	m.n_boards = 2;
	snprintf(m.boards[0], sizeof(m.boards[0]), "rpi4");
	snprintf(m.boards[1], sizeof(m.boards[1]), "rpi4-64");
	assert_int_equal(flt_fw_admit(&m, "rpi4-64", "aarch64", 1, 0, &r, msg, sizeof(msg)),
	                 FLT_OK);
	assert_int_equal(flt_fw_admit(&m, "imx8", "aarch64", 1, 0, &r, msg, sizeof(msg)),
	                 FLT_EINCOMPAT);
	assert_int_equal(r, FLT_REASON_INCOMPATIBLE_BOARD);
	assert_non_null(strstr(msg, "imx8"));
	m.min_agent_version = 3;
	assert_int_equal(flt_fw_admit(&m, "rpi4", "aarch64", 2, 0, &r, msg, sizeof(msg)),
	                 FLT_EINCOMPAT);
	assert_int_equal(r, FLT_REASON_AGENT_TOO_OLD);
	m.min_agent_version = 0;
	m.n_boards = 0; /* none listed: any board */
	assert_int_equal(flt_fw_admit(&m, "imx8", "armhf", 1, 0, &r, msg, sizeof(msg)), FLT_OK);

	memset(&m, 0, sizeof(m));
	m.kind = FLT_KIND_AGENT;
	snprintf(m.name, sizeof(m.name), "flotilla-agent-armhf");
	snprintf(m.arch, sizeof(m.arch), "armhf");
	m.version = 5;
	assert_int_equal(flt_fw_admit(&m, "rpi4", "armhf", 4, 0, &r, msg, sizeof(msg)), FLT_OK);
	assert_int_equal(flt_fw_admit(&m, "rpi4", "aarch64", 4, 0, &r, msg, sizeof(msg)),
	                 FLT_EINCOMPAT);
	assert_int_equal(r, FLT_REASON_WRONG_ARCH);
	assert_int_equal(flt_fw_admit(&m, "rpi4", "armhf", 5, 0, &r, msg, sizeof(msg)),
	                 FLT_EINCOMPAT);
	assert_int_equal(r, FLT_REASON_VERSION_LOWER);
	m.kind = FLT_KIND_MODEL;
	assert_int_equal(flt_fw_admit(&m, "rpi4", "armhf", 4, 0, &r, msg, sizeof(msg)),
	                 FLT_EINCOMPAT);
	assert_int_equal(r, FLT_REASON_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_full_update_confirmed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_wrong_hash_and_running_slot, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_powercut_mid_write_then_same_version, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_powercut_while_arming_then_boots_new, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_selftest_fails_falls_back_not_retried, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_uboot_backend, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_backend, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_selfupdate_crash_goes_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_selfupdate_confirms, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_firmware_boot_command, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shipped_configs_parse, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_admission, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_provision_rootfs, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
