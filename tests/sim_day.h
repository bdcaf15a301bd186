/*
 * sim_day.h: a simulated day as the CLI tests read it back: the JSON lines of `saksi
 * simulate --dry-run` (one event a line: type, time_ms, clear payload), to check what
 * saksid, a query, a report or a bundle made of the same day. Header-only (static
 * functions, cmocka asserts): include it after <cmocka.h> and testutil.h. Never used
 * outside the tests.
 */
#ifndef SAKSI_SIM_DAY_H
#define SAKSI_SIM_DAY_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* One submitted event of the day. */
struct sim_ev {
	char type[64];
	uint64_t time_ms;
	json_t *payload;   /* clear */
};

/*
 * Appends the events of the dry run's JSON lines at path to ev[*n..max), *n counting:
 * all of them, or, with leaves (a JSON array, one element a line), those whose element
 * is not null (a truth file's leaves: null where saksid refused the event). Returns the
 * number of lines read. Fails the test on a line that is not a JSON object or on more
 * than max events.
 */
__attribute__((unused)) static size_t
sim_day_load(const char *path, const json_t *leaves, struct sim_ev *ev, size_t max,
             size_t *n)
{
	char *text = slurp(path, NULL), *line = text;
	size_t i = 0;

	while (*line != '\0') {
		char *nl = strchr(line, '\n');
		json_t *o;

		assert_non_null(nl);
		*nl = '\0';
		o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
		assert_non_null(o);
		if (leaves == NULL || !json_is_null(json_array_get(leaves, i))) {
			struct sim_ev *e;

			assert_true(*n < max);
			e = &ev[(*n)++];
			snprintf(e->type, sizeof(e->type), "%s",
			    json_string_value(json_object_get(o, "type")));
			e->time_ms = (uint64_t)json_integer_value(json_object_get(o, "time_ms"));
			e->payload = json_incref(json_object_get(o, "payload"));
		}
		json_decref(o);
		line = nl + 1;
		i++;
	}
	free(text);
	return i;
}

/* Drops the payloads of ev[0..n). */
__attribute__((unused)) static void
sim_day_free(struct sim_ev *ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(ev[i].payload);
}

#endif
