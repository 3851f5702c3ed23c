/* Agent and firmware releases over MQTT: a desired-state entry of kind
 * firmware or agent is downloaded like a model (chunk index, missing chunks
 * via up/fetch, resume after a restart, whole-file hash), then written to the
 * firmware slots (dir backend, simulated reboot, confirmation reported) or to
 * the inactive agent slot. The publisher is the test stand-in for serve. */
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
	char set[7][700];
	const char *sets[8];
};

/* A (re)start of the device's agent: a new process as far as state goes. */
static int agent_boot(struct fx *f)
{
	struct flt_agentd_conf c;
	char err[256] = "";
	flt_agentd_free(f->a);
	f->a = NULL;
	if (flt_agentd_conf_load(NULL, f->sets, 8, &c, err, sizeof(err))) {
		fprintf(stderr, "conf: %s\n", err);
		return -1;
	}
	flt_err e = flt_agentd_new(&c, &f->a);
	flt_agentd_conf_free(&c);
	return e ? -1 : 0;
}

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
	snprintf(s[0], sizeof(s[0]), "device.id=ota-1");
	snprintf(s[1], sizeof(s[1]), "mqtt.broker=%s", tt_mosq_uri(f.mosq));
	snprintf(s[2], sizeof(s[2]), "storage.data_dir=%s/data", f.dir);
	snprintf(s[3], sizeof(s[3]), "trust.root_keys=%s", f.roots);
	snprintf(s[4], sizeof(s[4]), "ota.firmware_conf=%s", f.fwconf);
	snprintf(s[5], sizeof(s[5]), "ota.agent_slots=%s", f.agent);
	snprintf(s[6], sizeof(s[6]), "serving.socket=%s/agent.sock", f.dir);
	f.sets[7] = "device.board=rpi4";
	for (int i = 0; i < 7; i++)
		memcpy(f.set[i], s[i], sizeof(s[i]));
	for (int i = 0; i < 7; i++)
		f.sets[i] = f.set[i];
	if (agent_boot(&f))
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

static bool step_until(struct fx *f, const char *name, const char *step, const char *reason)
{
	for (int i = 0; i < 800; i++) {
		assert_int_equal(flt_agentd_step(f->a, 25), FLT_OK);
		if (tt_pub_events(f->pub, "ota-1", name, step, reason))
			return true;
	}
	tt_pub_dump_events(f->pub);
	return false;
}

static bool healthy(void *arg)
{
	(void)arg;
	return true;
}

/* Firmware over MQTT: the download stops half way, the agent restarts and
 * resumes (only the missing chunks), the image lands in slot B, a simulated
 * reboot confirms it and the restarted agent reports committed, without
 * downloading it again. */
static void test_firmware_over_mqtt(void **state)
{
	struct fx *f = *state;
	char sha[65];
	struct tt_release r = {.name = "rpi4-image",
	                       .version = 3,
	                       .bytes = f->img,
	                       .nbytes = sizeof(f->img),
	                       .kind = FLT_KIND_FIRMWARE,
	                       .board = "rpi4",
	                       .chunk_size = 512};
	char *env = tt_pub_release(f->pub, &r, sha);
	assert_non_null(env);
	uint32_t count = tt_pub_chunk_count(f->pub, sha);
	assert_true(count > 50);
	struct tt_keylist_opts ko = {.serial = 1};
	free(tt_pub_keylist(f->pub, "ota-1", &ko));
	struct tt_entry e = {.name = "rpi4-image", .deployment_id = "r7", .envelope = env};
	const int kind = FLT_KIND_FIRMWARE;
	assert_int_equal(
	    tt_pub_desired_kinds(f->pub, "ota-1", "ota-1", 1, &e, &kind, 1, TT_SIGN_DIRECTOR), 0);
	/* the chunk index, then over 32 chunks of the image: the resume map is
	 * saved every 16 */
	tt_pub_serve_limit(f->pub, 40);
	assert_int_equal(flt_agentd_start(f->a), FLT_OK);
	assert_true(step_until(f, "rpi4-image", "downloading", NULL));
	for (int i = 0; i < 200 && tt_pub_chunks_sent(f->pub, sha) < 34; i++)
		assert_int_equal(flt_agentd_step(f->a, 25), FLT_OK);
	for (int i = 0; i < 40; i++) /* let the answered chunks land */
		assert_int_equal(flt_agentd_step(f->a, 25), FLT_OK);
	uint64_t before = tt_pub_chunks_sent(f->pub, sha);
	assert_true(before >= 34 && before < count);

	/* power cut: a new agent on the same state resumes */
	assert_int_equal(agent_boot(f), 0);
	tt_pub_serve_limit(f->pub, -1);
	assert_int_equal(flt_agentd_start(f->a), FLT_OK);
	assert_true(step_until(f, "rpi4-image", "activating", NULL));
	uint64_t sent = tt_pub_chunks_sent(f->pub, sha);
	/* the chunk index is fetched again; the artifact's saved chunks are not */
	assert_true(sent <= before + count - 32);

	struct flt_fw_conf fc;
	struct flt_fw_cfg cfg;
	struct flt_fw *fw = NULL;
	struct flt_fw_report rep;
	char err[200], p[700];
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

	/* reboot: the bootloader picks slot B, confirm-on-boot passes */
	int slot = -1;
	assert_int_equal(flt_slot_dir_simulate_boot(f->slots, &slot), FLT_OK);
	assert_int_equal(slot, FLT_SLOT_B);
	struct flt_fw_confirm cb = {.broker_reachable = healthy, .self_test = healthy};
	assert_int_equal(flt_fw_open(&cfg, &fw), FLT_OK);
	assert_int_equal(flt_fw_boot(fw, &cb, &rep), FLT_OK);
	assert_int_equal(rep.outcome, FLT_FW_CONFIRMED);
	assert_int_equal(flt_fw_write_report(fc.state_dir, &rep), FLT_OK);
	assert_int_equal(flt_fw_committed_version(fw), 3);
	flt_fw_close(fw);
	flt_fw_conf_free(&fc);

	assert_int_equal(agent_boot(f), 0);
	assert_int_equal(flt_agentd_start(f->a), FLT_OK);
	assert_true(step_until(f, "rpi4-image", "committed", NULL));
	for (int i = 0; i < 40; i++)
		assert_int_equal(flt_agentd_step(f->a, 25), FLT_OK);
	assert_int_equal(tt_pub_chunks_sent(f->pub, sha), sent); /* not fetched again */
	assert_int_equal(tt_pub_events(f->pub, "ota-1", "rpi4-image", "failed", NULL), 0);
	free(env);
}

/* Agent self-update over MQTT: the new binary lands in the inactive agent
 * slot, pending its first start by the supervisor; started from that slot
 * it confirms itself and reports committed under the rollout's deployment. */
static void test_agent_over_mqtt(void **state)
{
	struct fx *f = *state;
	char sha[65], name[64];
	snprintf(name, sizeof(name), "%s%s", FLT_AGENT_RELEASE_PREFIX, FLT_ARCH);
	struct tt_release r = {.name = name,
	                       .version = (uint64_t)FLT_AGENT_VERSION + 1,
	                       .bytes = f->img,
	                       .nbytes = sizeof(f->img),
	                       .kind = FLT_KIND_AGENT,
	                       .chunk_size = 2048};
	char *env = tt_pub_release(f->pub, &r, sha);
	assert_non_null(env);
	struct tt_keylist_opts ko = {.serial = 1};
	free(tt_pub_keylist(f->pub, "ota-1", &ko));
	struct tt_entry e = {.name = name, .deployment_id = "r8", .envelope = env};
	const int kind = FLT_KIND_AGENT;
	assert_int_equal(
	    tt_pub_desired_kinds(f->pub, "ota-1", "ota-1", 1, &e, &kind, 1, TT_SIGN_DIRECTOR), 0);
	assert_int_equal(flt_agentd_start(f->a), FLT_OK);
	assert_true(step_until(f, name, "activating", NULL));
	assert_int_equal(tt_pub_events(f->pub, "ota-1", name, "checking", NULL), 1);
	struct flt_agentslot_state st;
	assert_int_equal(flt_agentslot_load(f->agent, &st), FLT_OK);
	assert_int_equal(st.pending, FLT_SLOT_B);
	assert_int_equal(st.version[FLT_SLOT_B], (uint64_t)FLT_AGENT_VERSION + 1);
	char bin[700];
	assert_int_equal(flt_agentslot_binary(f->agent, FLT_SLOT_B, bin, sizeof(bin)), FLT_OK);
	size_t len = 0;
	char *got = tt_read_file(bin, &len);
	assert_non_null(got);
	assert_int_equal(len, sizeof(f->img));
	assert_memory_equal(got, f->img, len);
	free(got);

	/* The supervisor starts the new agent from slot B (a restart here): on
	 * reaching the broker it confirms the slot and reports committed. */
	assert_int_equal(tt_pub_events(f->pub, "ota-1", name, "committed", NULL), 0);
	assert_int_equal(setenv(FLT_AGENTSLOT_ENV_SLOT, "B", 1), 0);
	assert_int_equal(setenv(FLT_AGENTSLOT_ENV_DIR, f->agent, 1), 0);
	assert_int_equal(agent_boot(f), 0);
	assert_int_equal(flt_agentd_start(f->a), FLT_OK);
	bool ok = step_until(f, name, "committed", NULL);
	unsetenv(FLT_AGENTSLOT_ENV_SLOT);
	unsetenv(FLT_AGENTSLOT_ENV_DIR);
	assert_true(ok);
	assert_int_equal(flt_agentslot_load(f->agent, &st), FLT_OK);
	assert_int_equal(st.active, FLT_SLOT_B);
	assert_int_equal(st.pending, FLT_SLOT_NONE);
	free(env);
}

/* A firmware image whose chunks match the index but not the manifest's hash
 * is refused at the whole-file check; no slot is written. */
static void test_firmware_hash_lie(void **state)
{
	struct fx *f = *state;
	struct tt_release r = {.name = "rpi4-image",
	                       .version = 4,
	                       .bytes = f->img,
	                       .nbytes = sizeof(f->img),
	                       .kind = FLT_KIND_FIRMWARE,
	                       .board = "rpi4",
	                       .file_hash_lie = true};
	char *env = tt_pub_release(f->pub, &r, NULL);
	assert_non_null(env);
	struct tt_keylist_opts ko = {.serial = 1};
	free(tt_pub_keylist(f->pub, "ota-1", &ko));
	struct tt_entry e = {.name = "rpi4-image", .deployment_id = "r9", .envelope = env};
	const int kind = FLT_KIND_FIRMWARE;
	assert_int_equal(
	    tt_pub_desired_kinds(f->pub, "ota-1", "ota-1", 1, &e, &kind, 1, TT_SIGN_DIRECTOR), 0);
	assert_int_equal(flt_agentd_start(f->a), FLT_OK);
	assert_true(step_until(f, "rpi4-image", "failed", "FILE_HASH_MISMATCH"));
	char p[700];
	snprintf(p, sizeof(p), "%s/slot-b/image", f->slots);
	size_t len = 0;
	char *got = tt_read_file(p, &len);
	assert_null(got);
	free(env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_firmware_over_mqtt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_agent_over_mqtt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_firmware_hash_lie, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
