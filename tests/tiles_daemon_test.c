/*
 * tiles_daemon_test.c: saksi export-tiles on the ledger of a running saksid, while it
 * commits, then saksi verify --tiles on each export, as an ombudsman reviewer would with
 * files fetched from a web server; and the failures he must see when a file was changed.
 * The keyring is large enough to be recorded as a set of parts, so the reviewer's
 * keyring file is compared with the one the export's entries join to.
 */
#include <inttypes.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include <jansson.h>

#include "daemon_fixture.h"
#include "daemon_run.h"
#include "keylog.h"
#include "ledger.h"
#include "tiles.h"
#include "wire.h"

#define MORE_KEYS 400      /* more than one keyring entry holds: a set of parts */
#define EVENTS 120

static struct dr sd;

/* Runs saksi verify --tiles on dir; returns its exit code, its stdout in *text. */
static int
verify_tiles(const char *dir, const char *kr, char **text, const char *extra,
             const char *extra2)
{
	char out[300], err[300];
	const char *args[] = { "verify", "--tiles", dir, "--vkey", sd.fx.vkey, "--keyring", kr,
	    extra, extra2, NULL };
	int rc;

	snprintf(out, sizeof(out), "%s/verify.out", sd.fx.dir);
	snprintf(err, sizeof(err), "%s/verify.err", sd.fx.dir);
	rc = dr_saksi(0, out, err, args);
	*text = fx_read(rc == 0 ? out : err, NULL);
	printf("# verify --tiles: %d: %s", rc, *text);
	return rc;
}

/* mkdir -p of the directories above path. */
static void
make_parents(const char *path)
{
	char p[512];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
		*s = '/';
	}
}

static void
copy_file(const char *from, const char *to)
{
	size_t len;
	char *b = fx_read(from, &len);

	make_parents(to);
	fx_write(to, b, len, 0644);
	free(b);
}

/*
 * A reviewer's mirror, kept up to date as he would without an HTTP client in saksi:
 * saksi tile-paths lists what is new since the checkpoint he holds, he fetches those
 * files and then the checkpoint (here: copies them), and verifies the mirror against
 * the checkpoint he held before.
 */
static void
mirror_fetch(const char *tiles, const char *mirror, const char *kr)
{
	char ck[300], mck[300], old[300], list[300], err[300], from[300], to[300], *text;
	char *line, *save;
	int have_old;

	snprintf(ck, sizeof(ck), "%s/checkpoint", tiles);
	snprintf(mck, sizeof(mck), "%s/checkpoint", mirror);
	snprintf(old, sizeof(old), "%s/held.note", sd.fx.dir);
	snprintf(list, sizeof(list), "%s/paths.txt", sd.fx.dir);
	snprintf(err, sizeof(err), "%s/paths.err", sd.fx.dir);
	have_old = access(mck, F_OK) == 0;
	{
		const char *args[] = { "tile-paths", "--checkpoint", ck, have_old ?
		    "--from-checkpoint" : NULL, mck, NULL };
		assert_int_equal(dr_saksi(0, list, err, args), 0);
	}
	if (have_old)
		copy_file(mck, old);
	text = fx_read(list, NULL);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n",
	    &save)) {
		snprintf(from, sizeof(from), "%s/%s", tiles, line);
		snprintf(to, sizeof(to), "%s/%s", mirror, line);
		copy_file(from, to);
	}
	free(text);
	copy_file(ck, mck);
	assert_int_equal(verify_tiles(mirror, kr, &text, have_old ? "--checkpoint" : NULL,
	    old), 0);
	assert_non_null(strstr(text, "tile export intact: "));
	if (have_old)
		assert_non_null(strstr(text, "is a prefix of this ledger"));
	free(text);
}

static int
export_tiles(const char *dir, int background)
{
	char out[300], err[300];
	const char *args[] = { "export-tiles", "--ledger", sd.ledger_dir, "--out", dir, NULL };

	snprintf(out, sizeof(out), "%s/export.out", sd.fx.dir);
	snprintf(err, sizeof(err), "%s/export.err", sd.fx.dir);
	return dr_saksi(background, out, err, args);
}

static void
test_export_while_serving(void **state)
{
	char kr[256], tiles[256], mirror[256], reply[4096], p[512], *json, *text;
	struct fx_item fi;
	pid_t pid = -1;
	uint64_t i, size;
	int st, exports = 0;
	(void)state;

	snprintf(kr, sizeof(kr), "%s/keyring.json", sd.fx.dir);
	snprintf(tiles, sizeof(tiles), "%s/public", sd.fx.dir);
	snprintf(mirror, sizeof(mirror), "%s/mirror", sd.fx.dir);
	/* The fixture's keyring and MORE_KEYS more, national ones. */
	json = dr_keyring_more(&sd.fx, MORE_KEYS, "tiles", "queue", "*");
	fx_write(kr, json, strlen(json), 0644);
	free(json);

	dr_start(&sd);
	for (i = 1; i <= EVENTS; i++) {
		fx_booking(&sd.fx, FX_QUEUE, i, wall_ms(), &fi);
		assert_int_equal(dr_submit1(sd.url, &fi, reply, sizeof(reply)),
		    SAKSI_R_ACCEPTED);
		fx_item_free(&fi);
		/* An export started every 30 events runs while the next ones commit. */
		if (i % 30 == 0) {
			if (pid > 0) {
				assert_int_equal(waitpid(pid, &st, 0), pid);
				assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
				assert_int_equal(verify_tiles(tiles, kr, &text, NULL, NULL), 0);
				assert_non_null(strstr(text, "tile export intact: "));
				free(text);
				mirror_fetch(tiles, mirror, kr);
				exports++;
			}
			pid = export_tiles(tiles, 1);
		}
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	exports++;
	assert_int_equal(verify_tiles(tiles, kr, &text, NULL, NULL), 0);
	free(text);
	dr_stop(&sd, SIGTERM);
	assert_true(exports >= 4);

	/* After the last commit: the whole ledger, the keyring set joined from the bundles. */
	assert_int_equal(export_tiles(tiles, 0), 0);
	mirror_fetch(tiles, mirror, kr);
	size = dr_ledger_size(sd.ledger_dir);
	assert_true(size > EVENTS);
	assert_int_equal(verify_tiles(tiles, kr, &text, "--json", NULL), 0);
	{
		json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);

		assert_non_null(j);
		assert_true(json_is_true(json_object_get(j, "ok")));
		assert_int_equal(json_integer_value(json_object_get(j, "size")), size);
		assert_int_equal(json_integer_value(json_object_get(j, "events")), EVENTS);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "keyring"),
		    "entries")), 1);
		json_decref(j);
	}
	free(text);

	/* A keyring file other than the one the export recorded fails. */
	{
		char kr2[300];

		snprintf(kr2, sizeof(kr2), "%s/keyring-small.json", sd.fx.dir);
		fx_write(kr2, sd.fx.keyring_json, strlen(sd.fx.keyring_json), 0644);
		assert_int_equal(verify_tiles(tiles, kr2, &text, NULL, NULL), 1);
		assert_non_null(strstr(text, "differs from the keyring the ledger recorded"));
		free(text);
	}

	/* One byte of the last event changed: exit 1, and the entry named. */
	{
		char rel[SAKSI_TILES_PATH_MAX], want[64];
		uint64_t last = size - 1, n = last / 256;
		unsigned w = (unsigned)(size - n * 256);
		size_t len;
		uint8_t *b;

		assert_int_equal(saksi_tiles_path(rel, sizeof(rel), SAKSI_TILE_ENTRIES, n,
		    w == 256 ? 0 : w), SAKSI_OK);
		snprintf(p, sizeof(p), "%s/%s", tiles, rel);
		b = (uint8_t *)fx_read(p, &len);
		b[len - 70] ^= 1;
		fx_write(p, (const char *)b, len, 0644);
		assert_int_equal(verify_tiles(tiles, kr, &text, NULL, NULL), 1);
		snprintf(want, sizeof(want), "VERIFICATION FAILED: entry %" PRIu64 ": ", last);
		assert_non_null(strstr(text, want));
		free(text);
		b[len - 70] ^= 1;
		fx_write(p, (const char *)b, len, 0644);
		free(b);
	}
	assert_int_equal(verify_tiles(tiles, kr, &text, NULL, NULL), 0);
	free(text);

	/* Usage: one of --ledger and --tiles; a directory that is no export. */
	{
		char out[300], err[300];
		const char *both[] = { "verify", "--tiles", tiles, "--ledger", sd.ledger_dir,
		    "--vkey", sd.fx.vkey, "--keyring", kr, NULL };
		const char *none[] = { "verify", "--tiles", sd.fx.dir, "--vkey", sd.fx.vkey,
		    "--keyring", kr, NULL };
		const char *noparent[] = { "export-tiles", "--ledger", sd.ledger_dir, "--out",
		    "/nonexistent-saksi-dir/out", NULL };

		snprintf(out, sizeof(out), "%s/u.out", sd.fx.dir);
		snprintf(err, sizeof(err), "%s/u.err", sd.fx.dir);
		assert_int_equal(dr_saksi(0, out, err, both), 2);
		assert_int_equal(dr_saksi(0, out, err, none), 2);
		text = fx_read(err, NULL);
		assert_non_null(strstr(text, "no file named checkpoint"));
		free(text);
		assert_int_equal(dr_saksi(0, out, err, noparent), 2);
		text = fx_read(err, NULL);
		assert_non_null(strstr(text, "is not a directory"));
		free(text);
		{
			const char *file[] = { "export-tiles", "--ledger", sd.ledger_dir, "--out",
			    kr, NULL };
			const char *other[] = { "export-tiles", "--ledger", sd.ledger_dir, "--out",
			    sd.fx.dir, NULL };

			assert_int_equal(dr_saksi(0, out, err, file), 2);
			text = fx_read(err, NULL);
			assert_non_null(strstr(text, "it is not a directory"));
			free(text);
			/* A directory with a checkpoint of another tree in it. */
			snprintf(p, sizeof(p), "%s/checkpoint", sd.fx.dir);
			fx_write(p, "other.example/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
			    66, 0644);
			assert_int_equal(dr_saksi(0, out, err, other), 2);
			text = fx_read(err, NULL);
			assert_non_null(strstr(text, "holds the export of another tree"));
			free(text);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate_setup_teardown(test_export_while_serving,
		    dr_cmocka_setup_small, dr_cmocka_teardown, &sd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
