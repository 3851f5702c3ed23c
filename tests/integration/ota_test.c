/* Agent and firmware releases through the agent's offline install path
 * (`flotilla-agent install`): signed by the test publisher's release key,
 * admitted by board / arch / agent version, checked by hash, then written to
 * the firmware slots (dir backend, then a simulated reboot and confirmation)
 * or to the inactive agent slot. One test per refusal reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flt/agentd.h"
#include "flt/agentslot.h"
#include "flt/atomicfile.h"
#include "flt/config.h"
#include "flt/firmware.h"
#include "flt/manifest.h"
#include "flt/reason.h"
#include "flt/slot.h"
#include "tt_mosq.h"
#include "tt_proc.h"
#include "tt_pub.h"

struct fx {
	struct tt_mosq *mosq;
	struct tt_pub *pub;
	char *dir;
	char roots[512], keylist[512], fwconf[512], slots[512], fwstate[512], agent[512];
	struct flt_agentd *a;
	uint8_t img[30000];
};

static int setup(void **state)
{
	static struct fx f;
	struct tt_mosq_opts o;
	memset(&f, 0, sizeof(f));
	tt_mosq_opts_init(&o);
	if (tt_mosq_start(&o, &f.mosq) || tt_pub_new(tt_mosq_uri(f.mosq), &f.pub))
		return -1;
	if (!(f.dir = tt_tempdir("ota")))
		return -1;
	snprintf(f.roots, sizeof(f.roots), "%s/roots.pem", f.dir);
	snprintf(f.keylist, sizeof(f.keylist), "%s/keylist.json", f.dir);
	snprintf(f.fwconf, sizeof(f.fwconf), "%s/firmware.conf", f.dir);
	snprintf(f.slots, sizeof(f.slots), "%s/slots", f.dir);
	snprintf(f.fwstate, sizeof(f.fwstate), "%s/fwstate", f.dir);
	snprintf(f.agent, sizeof(f.agent), "%s/agent", f.dir);
	if (tt_pub_write_roots(f.pub, f.roots))
		return -1;
	struct tt_keylist_opts ko = {.serial = 1};
	char *kl = tt_pub_keylist(f.pub, NULL, &ko);
	if (!kl || tt_write_file(f.keylist, kl, strlen(kl)))
		return -1;
	free(kl);
	char conf[2048];
	int n = snprintf(conf, sizeof(conf),
	                 "state_dir = %s\nreboot_cmd = \"\"\n[slot]\nbackend = dir\ndir = %s\n",
	                 f.fwstate, f.slots);
	if (tt_write_file(f.fwconf, conf, (size_t)n))
		return -1;
	for (size_t i = 0; i < sizeof(f.img); i++)
		f.img[i] = (uint8_t)(i * 13u + 5u);
	char s[7][700];
	const char *sets[7];
	snprintf(s[0], sizeof(s[0]), "device.id=ota-1");
	snprintf(s[1], sizeof(s[1]), "mqtt.broker=%s", tt_mosq_uri(f.mosq));
	snprintf(s[2], sizeof(s[2]), "storage.data_dir=%s/data", f.dir);
	snprintf(s[3], sizeof(s[3]), "trust.root_keys=%s", f.roots);
	snprintf(s[4], sizeof(s[4]), "ota.firmware_conf=%s", f.fwconf);
	snprintf(s[5], sizeof(s[5]), "ota.agent_slots=%s", f.agent);
	snprintf(s[6], sizeof(s[6]), "serving.socket=%s/agent.sock", f.dir);
	for (int i = 0; i < 7; i++)
		sets[i] = s[i];
	struct flt_agentd_conf c;
	char err[256] = "";
	const char *board = "device.board=rpi4";
	const char *all[8] = {sets[0], sets[1], sets[2], sets[3], sets[4], sets[5], sets[6], board};
	if (flt_agentd_conf_load(NULL, all, 8, &c, err, sizeof(err))) {
		fprintf(stderr, "conf: %s\n", err);
		return -1;
	}
	flt_err e = flt_agentd_new(&c, &f.a);
	flt_agentd_conf_free(&c);
	if (e)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	flt_agentd_free(f->a);
	tt_pub_free(f->pub);
	tt_mosq_free(f->mosq);
	free(f->dir);
	return 0;
}

/* Writes a signed release for the artifact bytes and returns the envelope path. */
static void release(struct fx *f, const char *file, const struct tt_release *r)
{
	char *env = tt_pub_release(f->pub, r, NULL);
	assert_non_null(env);
	assert_int_equal(tt_write_file(file, env, strlen(env)), 0);
	free(env);
}

static int install(struct fx *f, const char *env, const char *artifact)
{
	int reason = -1;
	flt_err e = flt_agentd_install_local(f->a, env, artifact, NULL, f->keylist, &reason);
	if (e == FLT_OK)
		assert_int_equal(reason, FLT_REASON_NONE);
	else
		assert_int_not_equal(reason, FLT_REASON_NONE);
	return e == FLT_OK ? FLT_REASON_NONE : reason;
}

static void test_firmware_installed_and_confirmed(void **state)
{
	struct fx *f = *state;
	char env[600], art[600];
	snprintf(env, sizeof(env), "%s/fw.env", f->dir);
	snprintf(art, sizeof(art), "%s/fw.img", f->dir);
	assert_int_equal(tt_write_file(art, f->img, sizeof(f->img)), 0);
	struct tt_release r = {.name = "rpi4-image",
	                       .version = 3,
	                       .bytes = f->img,
	                       .nbytes = sizeof(f->img),
	                       .kind = FLT_KIND_FIRMWARE,
	                       .board = "imx8"};
	release(f, env, &r);
	assert_int_equal(install(f, env, art), FLT_REASON_INCOMPATIBLE_BOARD);
	r.board = "rpi4";
	r.min_agent_version = (uint64_t)FLT_AGENT_VERSION + 1;
	release(f, env, &r);
	assert_int_equal(install(f, env, art), FLT_REASON_AGENT_TOO_OLD);
	r.min_agent_version = 0;
	release(f, env, &r);
	/* Another file than the release's: refused before any slot is touched. */
	f->img[7] ^= 1;
	assert_int_equal(tt_write_file(art, f->img, sizeof(f->img)), 0);
	assert_int_equal(install(f, env, art), FLT_REASON_FILE_HASH_MISMATCH);
	f->img[7] ^= 1;
	assert_int_equal(tt_write_file(art, f->img, sizeof(f->img)), 0);
	assert_int_equal(install(f, env, art), FLT_REASON_NONE);

	/* Slot B holds it and boots next; a reboot into it confirms. */
	char p[700];
	struct flt_fw_conf fc;
	struct flt_fw_cfg cfg;
	struct flt_fw *fw = NULL;
	struct flt_fw_report rep;
	char err[200];
	assert_int_equal(flt_fw_conf_load(f->fwconf, NULL, 0, &fc, err, sizeof(err)), FLT_OK);
	flt_fw_conf_to_cfg(&fc, &cfg);
	assert_int_equal(flt_fw_open(&cfg, &fw), FLT_OK);
	assert_int_equal(flt_fw_slot_version(fw, FLT_SLOT_B), 3);
	flt_fw_close(fw);
	snprintf(p, sizeof(p), "%s/slot-b/image", f->slots);
	size_t len = 0;
	char *got = tt_read_file(p, &len);
	assert_non_null(got);
	assert_int_equal(len, sizeof(f->img));
	assert_memory_equal(got, f->img, len);
	free(got);
	int slot = -1;
	assert_int_equal(flt_slot_dir_simulate_boot(f->slots, &slot), FLT_OK);
	assert_int_equal(slot, FLT_SLOT_B);
	assert_int_equal(flt_fw_open(&cfg, &fw), FLT_OK);
	assert_int_equal(flt_fw_boot(fw, NULL, &rep), FLT_OK);
	assert_int_equal(rep.outcome, FLT_FW_CONFIRM_FAILED); /* no self-test given: not healthy */
	flt_fw_close(fw);
	flt_fw_conf_free(&fc);
}

static void test_agent_release_to_inactive_slot(void **state)
{
	struct fx *f = *state;
	char env[600], art[600], name[64];
	const char *other = strcmp(FLT_ARCH, "x86_64") ? "x86_64" : "armhf";
	snprintf(env, sizeof(env), "%s/agent.env", f->dir);
	snprintf(art, sizeof(art), "%s/flotilla-agent", f->dir);
	assert_int_equal(tt_write_file(art, f->img, sizeof(f->img)), 0);
	snprintf(name, sizeof(name), "%s%s", FLT_AGENT_RELEASE_PREFIX, other);
	struct tt_release r = {.name = name,
	                       .version = (uint64_t)FLT_AGENT_VERSION + 1,
	                       .bytes = f->img,
	                       .nbytes = sizeof(f->img),
	                       .kind = FLT_KIND_AGENT};
	release(f, env, &r);
	assert_int_equal(install(f, env, art), FLT_REASON_WRONG_ARCH);
	snprintf(name, sizeof(name), "%s%s", FLT_AGENT_RELEASE_PREFIX, FLT_ARCH);
	r.version = (uint64_t)FLT_AGENT_VERSION;
	release(f, env, &r);
	assert_int_equal(install(f, env, art), FLT_REASON_VERSION_LOWER);
	r.version = (uint64_t)FLT_AGENT_VERSION + 1;
	release(f, env, &r);
	assert_int_equal(install(f, env, art), FLT_REASON_NONE);
	struct flt_agentslot_state st;
	assert_int_equal(flt_agentslot_load(f->agent, &st), FLT_OK);
	assert_int_equal(st.active, FLT_SLOT_A);
	assert_int_equal(st.pending, FLT_SLOT_B);
	assert_int_equal(st.version[FLT_SLOT_B], (uint64_t)FLT_AGENT_VERSION + 1);
	char bin[700];
	assert_int_equal(flt_agentslot_binary(f->agent, FLT_SLOT_B, bin, sizeof(bin)), FLT_OK);
	size_t len = 0;
	char *got = tt_read_file(bin, &len);
	assert_non_null(got);
	assert_int_equal(len, sizeof(f->img));
	free(got);
}

/* Over MQTT: a firmware entry for another board and an agent entry for
 * another arch in the desired state are refused with their reasons, once. */
static void test_desired_state_refusals(void **state)
{
	struct fx *f = *state;
	char name[64];
	const char *other = strcmp(FLT_ARCH, "x86_64") ? "x86_64" : "armhf";
	snprintf(name, sizeof(name), "%s%s", FLT_AGENT_RELEASE_PREFIX, other);
	struct tt_release fr = {.name = "imx8-image",
	                        .version = 2,
	                        .bytes = f->img,
	                        .nbytes = sizeof(f->img),
	                        .kind = FLT_KIND_FIRMWARE,
	                        .board = "imx8"};
	struct tt_release ar = {.name = name,
	                        .version = 50,
	                        .bytes = f->img,
	                        .nbytes = sizeof(f->img),
	                        .kind = FLT_KIND_AGENT};
	char *fenv = tt_pub_release(f->pub, &fr, NULL), *aenv = tt_pub_release(f->pub, &ar, NULL);
	assert_non_null(fenv);
	assert_non_null(aenv);
	struct tt_keylist_opts ko = {.serial = 1};
	free(tt_pub_keylist(f->pub, "ota-1", &ko));
	struct tt_entry e[2] = {
	    {.name = "imx8-image", .deployment_id = "r1", .envelope = fenv},
	    {.name = name, .deployment_id = "r1", .envelope = aenv},
	};
	const int kinds[2] = {FLT_KIND_FIRMWARE, FLT_KIND_AGENT};
	/* What flotilla-supervisor firmware-boot left after a fallback. */
	struct flt_fw_report rep = {.outcome = FLT_FW_ROLLED_BACK,
	                            .name = "rpi4-image",
	                            .version = 3,
	                            .deployment_id = "r0",
	                            .reason = FLT_REASON_BOOT_FAILED,
	                            .slot = FLT_SLOT_A};
	assert_int_equal(flt_file_mkdirs(f->fwstate, 0755, NULL), FLT_OK);
	assert_int_equal(flt_fw_write_report(f->fwstate, &rep), FLT_OK);
	assert_int_equal(
	    tt_pub_desired_kinds(f->pub, "ota-1", "ota-1", 1, e, kinds, 2, TT_SIGN_DIRECTOR), 0);
	assert_int_equal(flt_agentd_start(f->a), FLT_OK);
	/* Step the agent until both refusals reached the publisher (bounded). */
	for (int i = 0; i < 600; i++) {
		assert_int_equal(flt_agentd_step(f->a, 50), FLT_OK);
		if (tt_pub_events(f->pub, "ota-1", "imx8-image", "failed", "INCOMPATIBLE_BOARD") &&
		    tt_pub_events(f->pub, "ota-1", name, "failed", "WRONG_ARCH") &&
		    tt_pub_events(f->pub, "ota-1", "rpi4-image", "rolled_back", "BOOT_FAILED"))
			break;
	}
	assert_int_equal(
	    tt_pub_events(f->pub, "ota-1", "imx8-image", "failed", "INCOMPATIBLE_BOARD"), 1);
	assert_int_equal(tt_pub_events(f->pub, "ota-1", name, "failed", "WRONG_ARCH"), 1);
	assert_int_equal(tt_pub_events(f->pub, "ota-1", "rpi4-image", "rolled_back", "BOOT_FAILED"),
	                 1);
	char p[700];
	snprintf(p, sizeof(p), "%s/boot-report.sent", f->fwstate);
	size_t len = 0;
	char *sentrep = tt_read_file(p, &len);
	assert_non_null(sentrep); /* reported once: not sent again after a restart */
	free(sentrep);
	free(fenv);
	free(aenv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_firmware_installed_and_confirmed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_release_to_inactive_slot, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_desired_state_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
