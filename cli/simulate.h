/*
 * simulate.h: `saksi simulate`, the traffic simulator's command (cli/simulate.c).
 * Declared apart from cli.h so that main.c only needs one line to wire it in.
 */
#ifndef SAKSI_CLI_SIMULATE_H
#define SAKSI_CLI_SIMULATE_H

/* argv[0] is the command name; returns an exit code (SX_OK, SX_FAIL, SX_USAGE). */
int saksi_cmd_simulate(int argc, char **argv);

#endif
