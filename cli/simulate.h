/*
 * simulate.h: `saksi simulate`, the traffic simulator's command (cli/simulate.c).
 * Declared apart from cli.h so that main.c only needs one line to wire it in.
 */
#ifndef SAKSI_CLI_SIMULATE_H
#define SAKSI_CLI_SIMULATE_H

#include <stdio.h>

/* argv[0] is the command name; returns an exit code (SX_OK, SX_FAIL, SX_USAGE). */
int saksi_cmd_simulate(int argc, char **argv);

/*
 * saksi simulate --evaluate (cli/evaluate.c): precision and recall per pattern of the
 * rule alerts in the ledger at ledger_dir against the ground truth `truth` (with the
 * ledger index of every event, "leaves"), printed to out as a table or one JSON line.
 * Returns SX_OK; exits on failure as the CLI does.
 */
struct json_t;
int saksi_sim_evaluate(const struct json_t *truth, const char *ledger_dir, int json,
                       FILE *out);

#endif
