/*
 * rules_mem_test.c: every test of rules_test.c again with the window state in memory
 * (RULES.md 4.4), a snapshot every 7 events and each restart evaluating the tail again
 * from the fixture's log, plus memory mode's own tests (lost transactions and
 * snapshots, a tail that does not match the alert log, switching modes).
 */
#define RULES_TEST_MEMORY 7
#include "rules_test.c"
