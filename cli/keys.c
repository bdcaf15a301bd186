/*
 * keys.c: saksi keygen, pubkey, vkey and keyring. Secret files are written only by
 * saksi_seckey_save (0600, O_EXCL: never overwritten); the keyring is rewritten through a
 * temporary file and rename(), and only after the library has accepted the new text.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli.h"

/*
 * The roles a new keyring starts with (FORMATS.md 1.5). The ombudsman signs no event
 * (NULL: an empty pattern list): their key only proves who asks (FORMATS.md 3.4).
 */
static const char *const default_roles[][2] = {
	{ "queue", "queue.*" },
	{ "claim", "claim.*" },
	{ "staff", "staff.*" },
	{ "supervisor", "supervisor.*" },
	{ "security", "security.*" },
	{ "ombudsman", NULL },
};

static int
parse_kind(const char *s)
{
	if (strcmp(s, "sign") == 0)
		return SAKSI_KEY_SIGN;
	if (strcmp(s, "box") == 0)
		return SAKSI_KEY_BOX;
	if (strcmp(s, "sym") == 0)
		return SAKSI_KEY_SYM;
	return 0;
}

static const char *
kind_name(int kind)
{
	switch (kind) {
	case SAKSI_KEY_SIGN: return "Ed25519 signing";
	case SAKSI_KEY_BOX: return "X25519 box";
	case SAKSI_KEY_SYM: return "symmetric";
	}
	return "unknown";
}

/* FILE.key -> FILE.pub; anything else gets .pub appended. */
static char *
default_pub_path(const char *key)
{
	size_t n = strlen(key);
	char *p = xmalloc(n + 5);

	if (n > 4 && strcmp(key + n - 4, ".key") == 0) {
		memcpy(p, key, n - 4);
		memcpy(p + n - 4, ".pub", 5);
	} else
		snprintf(p, n + 5, "%s.pub", key);
	return p;
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/*
 * Generates a key of kind and writes it to path (and its public half to pub_path unless
 * NULL). Shared by keygen and init. Returns the public half in *pub (kind SIGN/BOX).
 */
static void
make_key(int kind, const char *path, const char *pub_path, const char *pass,
         const char *comment, saksi_pubkey *pub)
{
	saksi_seckey *k = NULL;
	char idhex[2 * SAKSI_KEYID_LEN + 1], cbuf[256];
	saksi_err e;

	if (pub_path != NULL && exists(pub_path))
		xdie("%s exists; refusing to overwrite it (remove it or choose another name)",
		    pub_path);
	if ((e = saksi_seckey_generate(kind, &k)) != SAKSI_OK)
		xdie_err(e, "cannot generate a %s key", kind_name(kind));
	keyid_to_hex(saksi_seckey_id(k), idhex);
	if (comment == NULL) {
		snprintf(cbuf, sizeof(cbuf), "saksi %s secret key %s", kind_name(kind), idhex);
		comment = cbuf;
	}
	e = saksi_seckey_save(k, path, pass, comment);
	if (e == SAKSI_ERR_EXISTS) {
		saksi_seckey_free(k);
		xdie("%s exists; refusing to overwrite a key (remove it or choose another name)",
		    path);
	}
	if (e != SAKSI_OK) {
		saksi_seckey_free(k);
		xdie_err(e, "cannot write %s", path);
	}
	if (kind != SAKSI_KEY_SYM) {
		if ((e = saksi_seckey_public(k, pub)) != SAKSI_OK) {
			saksi_seckey_free(k);
			xdie_err(e, "cannot derive the public key");
		}
	} else
		memset(pub, 0, sizeof(*pub));
	saksi_seckey_free(k);
	if (pub_path != NULL) {
		snprintf(cbuf, sizeof(cbuf), "saksi %s public key %s", kind_name(kind), idhex);
		if ((e = saksi_pubkey_save(pub, pub_path, cbuf)) != SAKSI_OK)
			xdie_err(e, "cannot write %s", pub_path);
	}
}

int
cmd_keygen(int argc, char **argv)
{
	static const char usage[] =
	    "saksi keygen --kind sign|box|sym -o FILE [--pub FILE.pub] "
	    "[--passphrase-file F | --no-passphrase] [--comment C]";
	static const struct option opts[] = {
		{ "kind", required_argument, NULL, 'K' },
		{ "output", required_argument, NULL, 'o' },
		{ "pub", required_argument, NULL, 'p' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ "no-passphrase", no_argument, NULL, 'N' },
		{ "comment", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	const char *kind_s = NULL, *out = NULL, *pub = NULL, *passfile = NULL, *comment = NULL;
	char *pub_alloc = NULL, *pass = NULL, idhex[2 * SAKSI_KEYID_LEN + 1];
	int c, kind, nopass = 0;
	saksi_pubkey pk;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'K': kind_s = optarg; break;
		case 'o': out = optarg; break;
		case 'p': pub = optarg; break;
		case 'P': passfile = optarg; break;
		case 'N': nopass = 1; break;
		case 'c': comment = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (kind_s == NULL || out == NULL)
		xusage(usage, "--kind and -o are required");
	if ((kind = parse_kind(kind_s)) == 0)
		xusage(usage, "--kind must be sign, box or sym, not \"%s\"", kind_s);
	if (passfile != NULL && nopass)
		xusage(usage, "give --passphrase-file or --no-passphrase, not both");
	if (comment != NULL && strpbrk(comment, "\r\n") != NULL)
		xusage(usage, "--comment must be one line");
	if (kind == SAKSI_KEY_SYM && pub != NULL)
		xusage(usage, "a symmetric key has no public half: drop --pub");
	if (kind != SAKSI_KEY_SYM && pub == NULL)
		pub = pub_alloc = default_pub_path(out);
	if (exists(out))
		xdie("%s exists; refusing to overwrite a key (remove it or choose another name)",
		    out);
	if (passfile != NULL)
		pass = xpass_from_file(passfile);
	else if (!nopass) {
		if (!isatty(STDIN_FILENO))
			xusage(usage, "no terminal to ask for a passphrase: use "
			    "--passphrase-file F or --no-passphrase");
		pass = xpass_prompt("Passphrase for the new key: ", 1);
	}
	make_key(kind, out, pub, pass, comment, &pk);
	xpass_free(pass);
	if (kind != SAKSI_KEY_SYM) {
		keyid_to_hex(pk.pk_id, idhex);
		fprintf(stderr, "saksi: %s key %s written to %s (secret) and %s (public)\n",
		    kind_name(kind), idhex, out, pub);
	} else
		fprintf(stderr, "saksi: symmetric key written to %s\n", out);
	free(pub_alloc);
	return SX_OK;
}

int
cmd_pubkey(int argc, char **argv)
{
	static const char usage[] =
	    "saksi pubkey -k FILE.key [-o FILE.pub] [--passphrase-file F]";
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *out = NULL, *passfile = NULL;
	char idhex[2 * SAKSI_KEYID_LEN + 1], comment[128], *text;
	saksi_pubkey pub;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'o': out = optarg; break;
		case 'P': passfile = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (key == NULL)
		xusage(usage, "-k is required");
	xpubkey_any(key, passfile, &pub);
	keyid_to_hex(pub.pk_id, idhex);
	snprintf(comment, sizeof(comment), "saksi %s public key %s", kind_name(pub.pk_kind),
	    idhex);
	text = pubkey_text(&pub, comment);
	if (out == NULL)
		fputs(text, stdout);
	else {
		saksi_err e;

		if (exists(out))
			xdie("%s exists; refusing to overwrite it", out);
		if ((e = saksi_pubkey_save(&pub, out, comment)) != SAKSI_OK)
			xdie_err(e, "cannot write %s", out);
	}
	free(text);
	return SX_OK;
}

int
cmd_vkey(int argc, char **argv)
{
	static const char usage[] =
	    "saksi vkey --origin NAME -k log.key|log.pub [--passphrase-file F]";
	static const struct option opts[] = {
		{ "origin", required_argument, NULL, 'O' },
		{ "key", required_argument, NULL, 'k' },
		{ "passphrase-file", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *origin = NULL, *key = NULL, *passfile = NULL;
	char vkey[SAKSI_VKEY_MAX + 1];
	saksi_pubkey pub;
	saksi_err e;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "k:", opts, NULL)) != -1) {
		switch (c) {
		case 'O': origin = optarg; break;
		case 'k': key = optarg; break;
		case 'P': passfile = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (origin == NULL || key == NULL)
		xusage(usage, "--origin and -k are required");
	xpubkey_any(key, passfile, &pub);
	if (pub.pk_kind != SAKSI_KEY_SIGN)
		xdie("%s is a %s key; the log key must be an Ed25519 signing key", key,
		    kind_name(pub.pk_kind));
	e = saksi_note_vkey_format(origin, pub.pk_key, vkey, sizeof(vkey));
	if (e == SAKSI_ERR_INVAL)
		xusage(usage, "invalid origin \"%s\": it must be non-empty, without spaces, "
		    "'+' or control characters", origin);
	if (e != SAKSI_OK)
		xdie_err(e, "cannot format the verifier key");
	printf("%s\n", vkey);
	return SX_OK;
}

/* ---- keyring ---- */

static json_t *
new_keyring_json(void)
{
	json_t *root = json_object(), *roles = json_object();
	size_t i;

	if (root == NULL || roles == NULL)
		xdie("out of memory");
	json_object_set_new(root, "saksi_keyring", json_integer(1));
	for (i = 0; i < sizeof(default_roles) / sizeof(default_roles[0]); i++)
		json_object_set_new(roles, default_roles[i][0],
		    default_roles[i][1] == NULL ? json_array() :
		    json_pack("[s]", default_roles[i][1]));
	json_object_set_new(root, "roles", roles);
	json_object_set_new(root, "keys", json_array());
	return root;
}

/* The keyring text for a new state directory (used by init). */
static char *
keyring_text(json_t *root)
{
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *out;
	size_t n;

	if (text == NULL)
		xdie("out of memory");
	n = strlen(text);
	out = xmalloc(n + 2);
	memcpy(out, text, n);
	out[n] = '\n';
	out[n + 1] = '\0';
	free(text);
	return out;
}

/* Loads path as JSON, or a new keyring if it does not exist (*created = 1). */
static json_t *
keyring_json_load(const char *path, int create, int *created)
{
	json_error_t jerr;
	json_t *root;
	char *text;
	size_t len;

	*created = 0;
	if (access(path, F_OK) != 0) {
		if (errno != ENOENT || !create)
			xdie("cannot open keyring %s: %s", path, strerror(errno));
		*created = 1;
		return new_keyring_json();
	}
	text = xread_file(path, CLI_FILE_MAX, &len);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (root == NULL)
		xdie("keyring %s, line %d: %s", path, jerr.line, jerr.text);
	if (!json_is_object(root) || !json_is_array(json_object_get(root, "keys")) ||
	    !json_is_object(json_object_get(root, "roles")))
		xdie("keyring %s: not a saksi keyring (needs \"roles\" and \"keys\")", path);
	return root;
}

/* Checks the new text with the library's own parser before anything reaches the disk. */
static void
keyring_json_save(const char *path, json_t *root)
{
	saksi_keyring *kr = NULL;
	char err[256] = "", *text = keyring_text(root);
	saksi_err e;

	e = saksi_keyring_parse(text, strlen(text), &kr, err, sizeof(err));
	if (e != SAKSI_OK) {
		free(text);
		if (err[0] != '\0')
			xdie("the keyring would be invalid: %s; nothing written", err);
		xdie_err(e, "the keyring would be invalid; nothing written");
	}
	saksi_keyring_free(kr);
	xwrite_file_atomic(path, text, strlen(text), 0644);
	free(text);
}

static json_t *
find_key(json_t *keys, const char *name, size_t *at)
{
	size_t i;
	json_t *k;

	json_array_foreach(keys, i, k) {
		const char *n = json_string_value(json_object_get(k, "name"));

		if (n != NULL && strcmp(n, name) == 0) {
			if (at != NULL)
				*at = i;
			return k;
		}
	}
	return NULL;
}

static int
keyring_add(int argc, char **argv)
{
	static const char usage[] =
	    "saksi keyring add -r keyring.json --name N --pub FILE.pub --role R --branch B";
	static const struct option opts[] = {
		{ "keyring", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "pub", required_argument, NULL, 'p' },
		{ "role", required_argument, NULL, 'R' },
		{ "branch", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *name = NULL, *pubf = NULL, *role = NULL, *branch = NULL;
	char b64[128], idhex[2 * SAKSI_KEYID_LEN + 1];
	json_t *root, *keys, *k;
	saksi_pubkey pub;
	size_t i;
	int c, created;
	saksi_err e;

	optind = 1;
	while ((c = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
		switch (c) {
		case 'r': path = optarg; break;
		case 'n': name = optarg; break;
		case 'p': pubf = optarg; break;
		case 'R': role = optarg; break;
		case 'b': branch = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (!path || !name || !pubf || !role || !branch)
		xusage(usage, "-r, --name, --pub, --role and --branch are required");
	if (*name == '\0' || *branch == '\0')
		xusage(usage, "--name and --branch must not be empty");
	if ((e = saksi_pubkey_load(pubf, &pub)) != SAKSI_OK) {
		if (access(pubf, R_OK) != 0)
			xdie("cannot open %s: %s", pubf, strerror(errno));
		xdie_err(e, "%s is not a saksi public key file", pubf);
	}
	if (pub.pk_kind != SAKSI_KEY_SIGN)
		xdie("%s is a %s key; producers sign with Ed25519 signing keys", pubf,
		    kind_name(pub.pk_kind));
	root = keyring_json_load(path, 1, &created);
	keys = json_object_get(root, "keys");
	if (json_object_get(json_object_get(root, "roles"), role) == NULL) {
		/* A keyring made before a default role existed lacks it: say how to add it. */
		for (i = 0; i < sizeof(default_roles) / sizeof(default_roles[0]); i++)
			if (strcmp(default_roles[i][0], role) == 0)
				xdie("role \"%s\" is not defined in %s (made before it was a "
				    "default role): add \"%s\": %s%s%s to its \"roles\" and "
				    "reload saksid (systemctl reload saksid)", role, path, role,
				    default_roles[i][1] ? "[\"" : "[]",
				    default_roles[i][1] ? default_roles[i][1] : "",
				    default_roles[i][1] ? "\"]" : "");
		xdie("role \"%s\" is not defined in %s", role, path);
	}
	if (find_key(keys, name, NULL) != NULL)
		xdie("%s already has a key named \"%s\"", path, name);
	keyid_to_hex(pub.pk_id, idhex);
	json_array_foreach(keys, i, k) {
		const char *id = json_string_value(json_object_get(k, "key_id"));

		if (id != NULL && strcmp(id, idhex) == 0)
			xdie("key %s is already in %s as \"%s\"", idhex, path,
			    json_string_value(json_object_get(k, "name")));
	}
	if ((e = saksi_pubkey_encode(&pub, b64, sizeof(b64))) != SAKSI_OK)
		xdie_err(e, "cannot encode %s", pubf);
	k = json_pack("{s:s, s:s, s:s, s:s, s:s, s:n}", "name", name, "key_id", idhex,
	    "public_key", b64, "role", role, "branch", branch, "revoked_ms");
	if (k == NULL || json_array_append_new(keys, k) != 0)
		xdie("out of memory");
	keyring_json_save(path, root);
	json_decref(root);
	fprintf(stderr, "saksi: %s key %s as \"%s\" (role %s, branch %s) to %s\n",
	    created ? "created keyring with" : "added", idhex, name, role, branch, path);
	return SX_OK;
}

static int
keyring_revoke(int argc, char **argv)
{
	static const char usage[] = "saksi keyring revoke -r keyring.json --name N [--at MS]";
	static const struct option opts[] = {
		{ "keyring", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "at", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *name = NULL;
	uint64_t at;
	int c, created, have_at = 0;
	json_t *root, *k, *old;

	optind = 1;
	at = now_ms();
	while ((c = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
		switch (c) {
		case 'r': path = optarg; break;
		case 'n': name = optarg; break;
		case 'a': at = xparse_u64(optarg, "--at"); have_at = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (!path || !name)
		xusage(usage, "-r and --name are required");
	if (have_at && at > (uint64_t)INT64_MAX)
		xusage(usage, "--at is out of range");
	root = keyring_json_load(path, 0, &created);
	if ((k = find_key(json_object_get(root, "keys"), name, NULL)) == NULL)
		xdie("%s has no key named \"%s\"; see saksi keyring list -r %s", path, name,
		    path);
	old = json_object_get(k, "revoked_ms");
	if (json_is_integer(old))
		xdie("key \"%s\" was already revoked at %" JSON_INTEGER_FORMAT
		    " ms; the earlier time stands", name, json_integer_value(old));
	json_object_set_new(k, "revoked_ms", json_integer((json_int_t)at));
	keyring_json_save(path, root);
	json_decref(root);
	fprintf(stderr, "saksi: revoked \"%s\" from %" PRIu64 " ms in %s\n", name, at, path);
	return SX_OK;
}

static int
keyring_list(int argc, char **argv)
{
	static const char usage[] = "saksi keyring list -r keyring.json [--json]";
	static const struct option opts[] = {
		{ "keyring", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	saksi_keyring *kr;
	json_t *arr = NULL;
	size_t i, n;
	int c, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "r:", opts, NULL)) != -1) {
		switch (c) {
		case 'r': path = optarg; break;
		case 'j': json = 1; break;
		default: xusage(usage, "bad option");
		}
	}
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (path == NULL)
		xusage(usage, "-r is required");
	/* Through the library's parser: list what the daemon would actually load. */
	kr = xkeyring_load(path);
	n = saksi_keyring_count(kr);
	if (json && (arr = json_array()) == NULL)
		xdie("out of memory");
	if (!json)
		printf("%-24s %-16s %-10s %-16s %s\n", "NAME", "KEY_ID", "ROLE", "BRANCH",
		    "REVOKED_MS");
	for (i = 0; i < n; i++) {
		const saksi_keyring_entry *ke = saksi_keyring_at(kr, i);
		char idhex[2 * SAKSI_KEYID_LEN + 1], rev[32];

		keyid_to_hex(ke->ke_pub.pk_id, idhex);
		if (json) {
			json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "name", ke->ke_name,
			    "key_id", idhex, "role", ke->ke_role, "branch", ke->ke_branch);

			if (o == NULL)
				xdie("out of memory");
			json_object_set_new(o, "revoked_ms", ke->ke_revoked_ms >= 0 ?
			    json_integer(ke->ke_revoked_ms) : json_null());
			json_array_append_new(arr, o);
			continue;
		}
		if (ke->ke_revoked_ms >= 0)
			snprintf(rev, sizeof(rev), "%" PRId64, ke->ke_revoked_ms);
		else
			snprintf(rev, sizeof(rev), "-");
		printf("%-24s %-16s %-10s %-16s %s\n", ke->ke_name, idhex, ke->ke_role,
		    ke->ke_branch, rev);
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(arr);
	}
	saksi_keyring_free(kr);
	return SX_OK;
}

int
cmd_keyring(int argc, char **argv)
{
	static const char usage[] = "saksi keyring add|revoke|list ...";

	if (argc < 2)
		xusage(usage, "which keyring command?");
	if (strcmp(argv[1], "add") == 0)
		return keyring_add(argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return keyring_revoke(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return keyring_list(argc - 1, argv + 1);
	xusage(usage, "unknown keyring command \"%s\"", argv[1]);
}

/* ---- init ---- */

static char *
join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = xmalloc(n);

	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/*
 * saksid.conf for a new state directory (daemon/config.c: `key = value` lines, relative
 * paths taken from the file's directory). The listen URL is absolute so that clients
 * started anywhere can use it as written.
 */
static char *
saksid_conf_text(const char *origin, const char *listen, const char *schemas,
                 const char *rules, const char *alerts)
{
	char *out;
	size_t n = strlen(origin) + strlen(listen) + strlen(schemas) + 1024 +
	    (rules != NULL ? strlen(rules) + strlen(alerts) : 0);

	out = xmalloc(n);
	snprintf(out, n,
	    "# saksid configuration, written by saksi init.\n"
	    "# Relative paths are relative to the directory of this file.\n"
	    "origin = %s\n"
	    "state_dir = .\n"
	    "listen = %s\n"
	    "keyring = keyring.json\n"
	    "log_key = log.key\n"
	    "box_key = box.key\n"
	    "store_key = store.key\n"
	    "index_key = index.key\n"
	    "schemas_dir = %s\n"
	    "%s%s%s%s%s%s",
	    origin, listen, schemas,
	    rules != NULL ? "# Detection (RULES.md): reloaded on SIGHUP.\nrules = " : "",
	    rules != NULL ? rules : "", rules != NULL ? "\nalerts_listen = " : "",
	    rules != NULL ? alerts : "", rules != NULL ? "\n" : "",
	    /* The keys here are root's: saksid would refuse a root start without this
	     * (saksid(8), SANDBOX); a production config names `user` instead. */
	    geteuid() == 0 ? "# saksi init ran as root: saksid may stay root (a test "
	    "setup). Set user = ACCOUNT instead\n# to drop root (saksid(8), SANDBOX).\n"
	    "allow_root = yes\n" : "");
	return out;
}

int
cmd_init(int argc, char **argv)
{
	static const char usage[] =
	    "saksi init --dir STATE --origin NAME [--listen URL] [--schemas DIR] "
	    "[--rules FILE | --no-rules] [--alerts-listen URL]";
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "origin", required_argument, NULL, 'O' },
		{ "listen", required_argument, NULL, 'L' },
		{ "schemas", required_argument, NULL, 'S' },
		{ "rules", required_argument, NULL, 'R' },
		{ "no-rules", no_argument, NULL, 'N' },
		{ "alerts-listen", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *origin = NULL, *listen = NULL, *rules = NULL;
	const char *alerts = NULL;
	const char *schemas = default_schemas_dir();
	char vkey[SAKSI_VKEY_MAX + 1], *logk, *logp, *boxk, *boxp, *storek, *idxk, *kr, *conf,
	    *vkf, *ktext, *ctext, *abs, *abs_schemas, *abs_rules = NULL, url[256],
	    aurl[256];
	int no_rules = 0;
	saksi_pubkey logpub, boxpub, sympub;
	json_t *root;
	uint8_t zero[32] = { 0 };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'O': origin = optarg; break;
		case 'L': listen = optarg; break;
		case 'S': schemas = optarg; break;
		case 'R': rules = optarg; break;
		case 'N': no_rules = 1; break;
		case 'A': alerts = optarg; break;
		default: xusage(usage, "bad option");
		}
	}
	if (rules != NULL && no_rules)
		xusage(usage, "--rules and --no-rules exclude each other");
	if (alerts != NULL && no_rules)
		xusage(usage, "--alerts-listen needs rules");
	if (alerts != NULL && strncmp(alerts, "ipc://", 6) != 0 &&
	    strncmp(alerts, "tcp://", 6) != 0)
		xusage(usage, "--alerts-listen must be an ipc:// or tcp:// URL");
	if (optind != argc)
		xusage(usage, "unexpected argument \"%s\"", argv[optind]);
	if (dir == NULL || origin == NULL)
		xusage(usage, "--dir and --origin are required");
	if (listen != NULL && strncmp(listen, "ipc://", 6) != 0 &&
	    strncmp(listen, "tcp://", 6) != 0)
		xusage(usage, "--listen must be an ipc:// or tcp:// URL");
	if ((abs_schemas = realpath(schemas, NULL)) == NULL)
		xdie("schemas directory %s: %s (give --schemas DIR)", schemas, strerror(errno));
	/* saksid refuses to start on a schemas_dir it cannot use: refuse it now, before
	 * anything is written, rather than leave a state directory that does not start. */
	{
		saksi_schemas *sc = NULL;
		char serr[512];
		saksi_err se = saksi_schemas_load(abs_schemas, &sc, serr, sizeof(serr));

		if (se != SAKSI_OK && se != SAKSI_ERR_NOT_FOUND)
			xdie("schemas directory %s: %s (give --schemas DIR, the events/ "
			    "directory of the schemas)", abs_schemas, serr);
		if (se == SAKSI_ERR_NOT_FOUND || saksi_schemas_count(sc) == 0) {
			saksi_schemas_free(sc);
			xdie("schemas directory %s holds no event schemas (<type>.json); give "
			    "--schemas DIR, the events/ directory of the schemas (e.g. "
			    "%s/events)", abs_schemas, abs_schemas);
		}
		saksi_schemas_free(sc);
	}
	/* The default rules sit next to the event schemas (schemas/rules/default.rules). */
	if (!no_rules) {
		char *def = NULL;

		if (rules == NULL) {
			def = join(abs_schemas, "../rules/default.rules");
			if ((abs_rules = realpath(def, NULL)) == NULL)
				fprintf(stderr, "saksi: warning: no default rules at %s: detection "
				    "stays off (give --rules FILE to turn it on)\n", def);
		} else if ((abs_rules = realpath(rules, NULL)) == NULL)
			xdie("rules file %s: %s (give --rules FILE or --no-rules)", rules,
			    strerror(errno));
		free(def);
		if (abs_rules == NULL && alerts != NULL)
			xusage(usage, "--alerts-listen needs rules");
	}
	/* Check the origin before anything is created. */
	if (saksi_note_vkey_format(origin, zero, vkey, sizeof(vkey)) != SAKSI_OK)
		xusage(usage, "invalid origin \"%s\": it must be non-empty, without spaces, "
		    "'+' or control characters", origin);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		xdie("cannot create %s: %s", dir, strerror(errno));
	logk = join(dir, "log.key");
	logp = join(dir, "log.pub");
	boxk = join(dir, "box.key");
	boxp = join(dir, "box.pub");
	storek = join(dir, "store.key");
	idxk = join(dir, "index.key");
	kr = join(dir, "keyring.json");
	conf = join(dir, "saksid.conf");
	vkf = join(dir, "log.vkey");
	if ((abs = realpath(dir, NULL)) == NULL)
		xdie("cannot resolve %s: %s", dir, strerror(errno));
	if (listen == NULL) {
		/* An ipc path must fit a sockaddr_un (107 bytes and a NUL); saksid will say so
		 * too, but only when it starts, so warn now. */
		if (strlen(abs) + strlen("/ingest.sock") > 107)
			fprintf(stderr, "saksi: warning: %s/ingest.sock is too long for an ipc "
			    "socket; edit listen in saksid.conf or run init with --listen\n",
			    abs);
		snprintf(url, sizeof(url), "ipc://%.200s/ingest.sock", abs);
		listen = url;
	}
	if (alerts == NULL) {
		snprintf(aurl, sizeof(aurl), "ipc://%.200s/alerts.sock", abs);
		alerts = aurl;
	}
	{
		const char *const all[] = { logk, logp, boxk, boxp, storek, idxk, kr, conf,
		    vkf };
		size_t i;

		for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			if (exists(all[i]))
				xdie("%s exists; refusing to overwrite a state directory", all[i]);
	}
	/* Unattended daemon keys: no passphrase, protected by 0600 and the state dir. */
	make_key(SAKSI_KEY_SIGN, logk, logp, NULL, NULL, &logpub);
	make_key(SAKSI_KEY_BOX, boxk, boxp, NULL, NULL, &boxpub);
	make_key(SAKSI_KEY_SYM, storek, NULL, NULL, NULL, &sympub);
	/* The key of the blind tokens the detectors group by (RULES.md 1). */
	make_key(SAKSI_KEY_SYM, idxk, NULL, NULL, NULL, &sympub);
	if (saksi_note_vkey_format(origin, logpub.pk_key, vkey, sizeof(vkey)) != SAKSI_OK)
		xdie("cannot format the verifier key");

	root = new_keyring_json();
	ktext = keyring_text(root);
	json_decref(root);
	xwrite_file_atomic(kr, ktext, strlen(ktext), 0644);
	free(ktext);

	ctext = saksid_conf_text(origin, listen, abs_schemas, abs_rules, alerts);
	xwrite_file_atomic(conf, ctext, strlen(ctext), 0600);
	free(ctext);
	{
		size_t n = strlen(vkey);

		vkey[n] = '\n';
		xwrite_file_atomic(vkf, vkey, n + 1, 0644);
		vkey[n] = '\0';
	}

	printf("%s\n", vkey);
	fprintf(stderr, "saksi: state directory %s is ready; the line above is the log's "
	    "verifier key: give it to reviewers and producers\n", dir);
	/* What a new operator does next, with this directory's own names. */
	fprintf(stderr, "saksi: next: add producer keys (saksi keyring add -r %s ...), a "
	    "security officer's (--role security) and a supervisor's (--role supervisor); "
	    "then start saksid -c %s%s\n", kr, conf, abs_rules != NULL ? "; follow its alerts "
	    "with saksi alerts follow --config, read them with saksi alerts list --config" :
	    "");
	free(logk); free(logp); free(boxk); free(boxp); free(storek); free(idxk); free(kr);
	free(conf); free(vkf); free(abs); free(abs_schemas); free(abs_rules);
	return SX_OK;
}
