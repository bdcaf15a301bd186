/*
 * main.c: the saksi command line: dispatches to one file per command group.
 * Only this program exits, with the documented codes 0 (ok), 1 (verification or policy
 * failure) and 2 (usage or system error), so a script can tell a forgery from a typo.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "simulate.h"

static const char help[] =
"usage: saksi COMMAND [OPTIONS]\n"
"\n"
"Keys:\n"
"  keygen --kind sign|box|sym -o FILE [--pub FILE.pub] [--passphrase-file F | --no-passphrase]\n"
"         [--comment C]              make a key (secret file 0600, never overwritten)\n"
"  pubkey -k FILE.key [-o FILE.pub]  print or write the public key file\n"
"  vkey --origin NAME -k log.key|log.pub   print the log's C2SP verifier key\n"
"  keyring add -r keyring.json --name N --pub FILE.pub --role R --branch B\n"
"  keyring revoke -r keyring.json --name N [--at MS]\n"
"  keyring list -r keyring.json [--json]\n"
"  init --dir STATE --origin NAME    create a ready state directory for saksid\n"
"\n"
"Producers:\n"
"  submit --url URL -k producer.key --box-pub box.pub (--vkey VKEY | --vkey-file F)\n"
"         --type T --seq N [--time MS] [--payload FILE|-] [--schemas DIR] [--json]\n"
"         [--outbox DIR]   queue it durably first (--seq may then be left out), send the\n"
"                          queue in order; exit 0 also when only queued\n"
"  outbox status|dead|receipts DIR              what the outbox holds (dead: refused)\n"
"  outbox flush DIR --url URL (--vkey VKEY | --vkey-file F) [--batch N] [--timeout MS]\n"
"         [--json]         deliver the queue in order, exactly once\n"
"\n"
"Ledger:\n"
"  checkpoint (--ledger DIR | --url URL) [--vkey VKEY | --vkey-file F]   the latest one,\n"
"         checked against the log's key when given; keep it for prove consistency\n"
"  get (--ledger DIR | --url URL [LOGKEY]) INDEX [--raw | --json]\n"
"  prove inclusion (--ledger DIR | --url URL [LOGKEY]) INDEX [--size N] [--tlog-proof]\n"
"  prove consistency (--ledger DIR | --url URL [LOGKEY]) M N\n"
"  prove consistency --url URL LOGKEY --old-checkpoint FILE\n"
"         does the log's latest checkpoint extend one you kept? prints OK or FAIL\n"
"  LOGKEY is --vkey VKEY or --vkey-file F: with --url, every answer is checked against\n"
"  the log's signed checkpoints before it is printed (exit 1 if it does not verify).\n"
"  --url takes --timeout MS; no key of your own is needed to read.\n"
"  backup --ledger DIR -o OUTDIR     a consistent, compacted copy, taken while saksid runs\n"
"  export-tiles --ledger DIR --out OUTDIR [--quiet]   publish the ledger as static\n"
"         C2SP tlog-tiles files any web server serves; incremental, safe while saksid runs\n"
"  backfill-links [--config FILE] [--batch N] [--steps N] [--no-compact]   saksid stopped:\n"
"         link an older ledger's claims and bookings to their participants' data keys,\n"
"         re-seal their store-key disclosures under them, compact the file (once)\n"
"\n"
"Operators:\n"
"  status --url URL [--json | --prometheus] [--timeout MS]\n"
"         saksid's counters: up since, ledger and disk headroom, refusals by reason,\n"
"         alerts; --prometheus for node_exporter's textfile collector\n"
"\n"
"Supervisors:\n"
"  forget --nik NIK|- --url URL -k supervisor.key --box-pub box.pub (--vkey VKEY | --vkey-file F)\n"
"         --branch B --officer ID [--seq N] [--reason R] [--case ID]   destroy a participant's\n"
"         data key: his personal data can never be opened again; the ledger still verifies\n"
"\n"
"Alerts (the detectors' findings: blind tokens and entry indices, no personal data):\n"
"  alerts follow (--url ALERTS_URL | --config FILE) [--json] [--count N] [--tz ZONE]\n"
"             print alerts as saksid publishes them\n"
"  alerts list (--ledger DIR | --config FILE) [--open] [--keyring F] [--json [--state]]\n"
"             [--tz ZONE]  the alert entries and the state of each (open, acked by whom)\n"
"  alerts show ID [--refusals] [--config FILE] [--json | --csv] [--tz ZONE]   one alert,\n"
"             its state and its evidence entries, masked (on the appliance; no key,\n"
"             nothing logged). ZONE: WIB, WITA, WIT or UTC (the default, ISO 8601 Z)\n"
"  alerts ack ID... --note TEXT --officer STAFF_ID -k officer.key --url URL --box-pub box.pub\n"
"             (--vkey VKEY | --vkey-file F) [--refusals] [--branch CODE] [--seq N]\n"
"             acknowledge an alert, or several in turn (each its own signed event)\n"
"\n"
"Supervisors (on the appliance, with saksid's keys; personal filters are blinded):\n"
"  query [--config FILE] [--nik N] [--kpj K] [--phone P] [--email E] [--account B:N]\n"
"        [--device D] [--ip A] [--officer O] [--branch B] [--type T] [--claim C]\n"
"        [--booking B] [--since T] [--until T] [--limit N] [--after INDEX] [--json|--csv]\n"
"        [-k supervisor.key [--reveal] [--case REF]]   entries by index, masked\n"
"  timeline [--config FILE] (--claim C | --booking B | --nik N | ...) [...as query]\n"
"        the whole story of one claim or participant, in time order\n"
"  A query by a personal field or with --reveal needs -k: it is first written to the\n"
"  ledger as a signed access entry (supervisor.access.logged), or nothing is shown.\n"
"  report [--config FILE] --since T --until T [--branch B] [--utc-offset +HH:MM]\n"
"        -o report.html   one self-contained HTML file of charts and their numbers:\n"
"        counts and shortened blind tokens, no personal value\n"
"  subject-report --nik NIK|- [--kpj KPJ] -k supervisor.key -o FILE [--lang id|en]\n"
"        [--format html|text] [--tz WIB|WITA|WIT|UTC] [--case REF] [--config FILE]\n"
"        a data subject's access request (UU PDP): their entries, who looked at them\n"
"        and the alerts they fed, in plain words, as one file; logged first like --reveal\n"
"\n"
"Reviewers:\n"
"  verify (--ledger DIR | --tiles DIR) (--vkey VKEY | --vkey-file F) --keyring FILE\n"
"         [--checkpoint FILE] [--json] [--progress] [--threads N]\n"
"         a ledger copy, or a tile export (saksi export-tiles) fetched with any tool\n"
"  tile-paths (--size N | --checkpoint FILE) [--from M | --from-checkpoint FILE]\n"
"         the files of a tile export to fetch (e.g. with wget -i), those new since M\n"
"  keyring-history --ledger DIR [--json]\n"
"        the keyring entries saksid recorded and what each one changed\n"
"  verify-receipt (--vkey VKEY | --vkey-file F) --receipt FILE --envelope FILE\n"
"\n"
"Evidence bundles (one case, for the police or a court; checked offline):\n"
"  bundle --case REF (--leaf I | --alert ID | [FILTERS as query])... [--since T] [--until T]\n"
"        (--recipient R.pub | --decrypted) -k supervisor.key -o FILE [--config FILE]\n"
"        one case's entries with proofs and only their disclosures (sealed to R, or in\n"
"        clear), signed; the export is logged as an access entry first\n"
"  verify-bundle FILE (--vkey VKEY | --vkey-file F) --keyring FILE [-k recipient.key]\n"
"        [--checkpoint NEWER.note --consistency PROOF] [--json]   signatures, proofs,\n"
"        disclosures against their digests, with public keys only\n"
"\n"
"Simulation:\n"
"  simulate --state DIR [--url URL] [--branches N] [--days N] [--seed S] [--brokers none|low|medium|high]\n"
"           [--start YYYY-MM-DD] [--truth FILE] [--batch N] [--window MS] [--register-only]\n"
"           [--dry-run --out FILE.jsonl|-]   realistic branch traffic, signed and submitted\n"
"           [--evaluate [--ledger DIR] [--json]]   then precision and recall per pattern\n"
"  simulate --evaluate-only --truth FILE (--state DIR | --ledger DIR) [--json]\n"
"\n"
"Rules (tune a candidate over history before deploying it):\n"
"  replay (--config saksid.conf | --ledger DIR --index-key F --store-key F) [--rules FILE]\n"
"         [--schemas DIR] [--passphrase-file F] [--from TIME] [--to TIME] [--from-index N]\n"
"         [--to-index N] [--check] [--json] [--quiet] [--tmpdir DIR]\n"
"         what a rule set would have raised over the ledger; writes nothing.\n"
"         --check: exit 1 unless it reproduces saksid's alert entries byte for byte\n"
"\n"
"A secret key protected by a passphrase is opened with --passphrase-file F, or by asking\n"
"on the terminal.\n"
"\n"
"Exit status:\n"
"  0  success (for verify: the ledger is intact)\n"
"  1  verification or policy failure: a bad signature or proof, a tampered or\n"
"     truncated ledger, a refused event\n"
"  2  usage or system error: bad arguments, a missing or unreadable file,\n"
"     a daemon that cannot be reached\n";

static const struct {
	const char *name;
	int (*fn)(int, char **);
} cmds[] = {
	{ "keygen", cmd_keygen },
	{ "pubkey", cmd_pubkey },
	{ "vkey", cmd_vkey },
	{ "keyring", cmd_keyring },
	{ "init", cmd_init },
	{ "submit", cmd_submit },
	{ "checkpoint", cmd_checkpoint },
	{ "backup", cmd_backup },
	{ "export-tiles", cmd_export_tiles },
	{ "tile-paths", cmd_tile_paths },
	{ "backfill-links", cmd_backfill_links },
	{ "forget", cmd_forget },
	{ "get", cmd_get },
	{ "prove", cmd_prove },
	{ "verify", cmd_verify },
	{ "keyring-history", cmd_keyring_history },
	{ "verify-receipt", cmd_verify_receipt },
	{ "bundle", cmd_bundle },
	{ "verify-bundle", cmd_verify_bundle },
	{ "simulate", saksi_cmd_simulate },
	{ "replay", cmd_replay },
	{ "alerts", cmd_alerts },
	{ "status", cmd_status },
	{ "outbox", cmd_outbox },
	{ "query", cmd_query },
	{ "timeline", cmd_timeline },
	{ "report", cmd_report },
	{ "subject-report", cmd_subject_report },
};

/*
 * `saksi COMMAND --help`: the help's entries of that command (a line "  COMMAND ..." and
 * its indented continuation lines) and the exit codes, on stdout, exit 0. 0 if the help
 * has no entry for it (the command then says what is wrong, as before).
 */
static int
command_help(const char *cmd)
{
	const char *line = help, *exits = strstr(help, "\nExit status:\n");
	size_t n = strlen(cmd);
	int in = 0, found = 0;

	while (*line != '\0' && line != exits) {
		const char *eol = strchr(line, '\n');
		size_t len = eol != NULL ? (size_t)(eol - line) + 1 : strlen(line);

		if (strncmp(line, "  ", 2) == 0 && line[2] != ' ')
			in = strncmp(line + 2, cmd, n) == 0 && (line[2 + n] == ' ' ||
			    line[2 + n] == '\n');
		else if (strncmp(line, "   ", 3) != 0)
			in = 0;
		if (in) {
			if (!found)
				printf("usage:\n");
			found = 1;
			fwrite(line, 1, len, stdout);
		}
		line += len;
	}
	if (found && exits != NULL)
		fputs(exits, stdout);
	return found;
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fputs(help, stderr);
		return SX_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(help, stdout);
		return SX_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("saksi %s\n", SAKSI_VERSION);
		return SX_OK;
	}
	/* COMMAND --help (or -h; no command takes -h otherwise) before any parsing, so that
	 * it is never "bad option". */
	for (int a = 2; a < argc && strcmp(argv[a], "--") != 0; a++)
		if ((strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) &&
		    command_help(argv[1]))
			return SX_OK;
	if (sodium_init() < 0)
		xdie("cannot initialise libsodium");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "saksi: unknown command \"%s\"; see saksi --help\n", argv[1]);
	return SX_USAGE;
}
