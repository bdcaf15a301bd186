#!/usr/bin/env bash
# Builds the generated part of the seed corpora, tests/fuzz/corpus/<target>/gen-*, from the
# external vectors (../shared/vectors, read in place, never copied into the repo), the
# schemas (schemas/events, schemas/examples) and schemas/vectors. The hand-written seeds
# beside them are in git; gen-* files are not (see corpus/.gitignore). Safe to rerun.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
vectors=${SAKSI_VECTORS_DIR:-$root/../shared/vectors}
exec python3 - "$root" "$vectors" "$here/corpus" <<'PY'
import base64, glob, hashlib, json, os, struct, sys

root, vectors, corpus = sys.argv[1:4]
count = {}

def put(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    with open(os.path.join(d, "gen-" + safe), "wb") as f:
        f.write(data)
    count[target] = count.get(target, 0) + 1

for target in ("note", "keys", "envelope", "schema", "ledger", "config", "submit", "client", "blind", "rules",
               "alert", "datakey"):
    d = os.path.join(corpus, target)
    if os.path.isdir(d):
        for f in glob.glob(os.path.join(d, "gen-*")):
            os.unlink(f)

b64 = lambda b: base64.b64encode(b).decode()
b64url = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
sha = lambda b: hashlib.sha256(b).digest()

# ---- note: signed-note vectors, checkpoints and tlog-proofs from the RFC 9162 vectors
def sigline(name, fill=0x42):
    keyid = sha(name.encode() + b"\n\x01" + bytes(32))[:4]
    return "\u2014 %s %s\n" % (name, b64(keyid + bytes([fill]) * 64))

def vkey(name, pk):
    keyid = sha(name.encode() + b"\n\x01" + pk)[:4]
    return "%s+%s+%s" % (name, keyid.hex(), b64(b"\x01" + pk))

sn = os.path.join(vectors, "signed-note.md")
if os.path.exists(sn):
    text = open(sn, encoding="utf-8").read()
    for n, line in enumerate(text.splitlines()):
        line = line.strip()
        if line.startswith("vkey: "):
            put("note", "vkey-%d" % n, line[6:])
        elif line.startswith('"') and line.endswith('"'):
            body = line[1:-1].replace("\\n", "\n")
            put("note", "note-%d" % n, body)
        elif line.startswith("\u2014 "):
            msg = ("If you think cryptography is the answer to your problem,\n"
                   "then you don't know what your problem is.\n")
            put("note", "note-%d" % n, msg + "\n" + line + "\n")
        elif line.endswith("=") and len(line) == 44:
            put("note", "ckpt-empty", "example.com/log\n0\n%s\n" % line)
else:
    print("seed: %s is absent: no signed-note seeds" % sn, file=sys.stderr)

def tlog_proof(idx, size, root_b64, proof, extra=None):
    body = "example.com/log\n%d\n%s\n" % (size, root_b64)
    t = "c2sp.org/tlog-proof@v1\n"
    if extra is not None:
        t += "extra %s\n" % b64(extra)
    t += "index %d\n" % idx
    t += "".join(h + "\n" for h in proof or [])
    return t + "\n" + body + "\n" + sigline("example.com/log")

for path in sorted(glob.glob(os.path.join(vectors, "rfc9162", "inclusion", "*", "*.json"))):
    v = json.load(open(path))
    if v.get("wantErr") or not isinstance(v.get("root"), str):
        continue
    name = "incl-" + os.path.relpath(path, os.path.join(vectors, "rfc9162")).replace("/", "-")
    put("note", name, tlog_proof(v["leafIdx"], v["treeSize"], v["root"], v["proof"],
                                 extra=bytes(42) if v["leafIdx"] % 2 else None))
    put("note", name + "-ckpt", "log.example/x\n%d\n%s\n" % (v["treeSize"], v["root"]))

# ---- keys: public key blobs, keyrings and key files (ids computed as FORMATS.md 1.1)
def pubblob(kind, pk):
    return b"SP\x01" + bytes([kind]) + sha(b"saksi/keyid/v1\n" + pk)[:8] + pk

keys = []
for i, role in enumerate(("queue", "claim", "staff")):
    pk = sha(b"fuzz-seed-key-%d" % i)
    blob = pubblob(1, pk)
    keys.append({"name": "kiosk-%d" % i, "key_id": blob[4:12].hex(),
                 "public_key": b64(blob), "role": role,
                 "branch": "KC-MAKASSAR" if i else "*",
                 "revoked_ms": None if i != 2 else 1700000000000})
    put("keys", "pub-%d" % i, b64(blob))
    put("keys", "pubfile-%d" % i, "untrusted comment: fuzz seed\n%s\n" % b64(blob))
put("keys", "pub-box", b64(pubblob(2, sha(b"box"))))
kr = {"saksi_keyring": 1,
      "roles": {"queue": ["queue.*"], "claim": ["claim.*", "staff.login"], "staff": ["staff.*"]},
      "keys": keys}
put("keys", "keyring", json.dumps(kr, indent=2))
put("keys", "keyring-compact", json.dumps(kr, separators=(",", ":")))
put("keys", "keyring-empty", '{"saksi_keyring":1,"roles":{},"keys":[]}')
# An unprotected secret key file: kdf 0, zero salt; the tag will not match (that is fine).
sb = b"SS\x01\x01" + bytes(8) + b"\x00" + bytes(16) + bytes(16) + bytes(24) + bytes(48) + bytes(21)
put("keys", "secfile", "untrusted comment: fuzz seed\n%s\n" % b64(sb))
sb = b"SS\x01\x01" + bytes(8) + b"\x01" + struct.pack(">QQ", 2, 1 << 16) + bytes(16) + bytes(24) + bytes(48) + bytes(21)
put("keys", "secfile-kdf", "untrusted comment: fuzz seed\n%s\n" % b64(sb))

# ---- schema: first byte picks the type (index in the sorted list), then the payload
types = sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(root, "schemas", "events", "*.json")))
ex = os.path.join(root, "schemas", "examples")
for i, t in enumerate(types):
    for sub in ("", "clear"):
        p = os.path.join(ex, sub, t + ".json")
        if os.path.exists(p):
            raw = open(p, "rb").read()
            put("schema", "%s%s" % ((sub + "-") if sub else "", t), bytes([i]) + raw)
            compact = json.dumps(json.loads(raw), separators=(",", ":")).encode()
            put("schema", "%scompact-%s" % ((sub + "-") if sub else "", t), bytes([i]) + compact)

# ---- envelope: envelopes (from schemas/vectors and built here, unsigned), disclosures,
# and payload 0x00 disclosures pairs for saksi_disclosures_check
def envelope(type_, payload, seq=1, t=1741564800000, keyid=bytes(8)):
    b = bytes([1, 1]) + keyid + struct.pack(">QQ", seq, t) + bytes([len(type_)]) + type_.encode()
    b += struct.pack(">I", len(payload)) + payload
    return b + bytes(64)

envs = []
for t in types:
    p = os.path.join(ex, t + ".json")
    if os.path.exists(p):
        payload = json.dumps(json.loads(open(p, "rb").read()), separators=(",", ":")).encode()
        envs.append((t, envelope(t, payload)))
        put("envelope", "env-" + t, envs[-1][1])
        d = os.path.join(ex, "disclosures", t + ".json")
        if os.path.exists(d):
            discs = json.loads(open(d, "rb").read())
            put("envelope", "check-" + t, open(p, "rb").read() + b"\x00" + open(d, "rb").read())
            for j, s in enumerate(discs):
                put("envelope", "disc-%s-%d" % (t, j), s)
vf = os.path.join(root, "schemas", "vectors", "envelope-v1.json")
if os.path.exists(vf):
    def walk(o, path):
        if isinstance(o, dict):
            for k, v in o.items():
                walk(v, path + [k])
        elif isinstance(o, list):
            for i, v in enumerate(o):
                walk(v, path + [str(i)])
        elif isinstance(o, str) and len(o) >= 8:
            name = "vec-" + "-".join(path)
            try:
                raw = bytes.fromhex(o)
                if raw:
                    put("envelope", name, raw)
                    return
            except ValueError:
                pass
            try:
                raw = base64.b64decode(o, validate=True)
                if len(raw) >= 27:
                    put("envelope", name, raw)
                    return
            except Exception:
                pass
            if o.startswith("Wy"):
                put("envelope", name, o)
    walk(json.load(open(vf)), [])

# ---- ledger: byte 0 is fuzz_ledger.c's mode (even: leaf 3's stored record, odd: the
# checkpoint note), then the bytes, which are also parsed as a leaf and a refusal summary.
empty_root = sha(b"")
for t, env in envs[:6]:
    put("ledger", "event-" + t, b"\x00" + bytes([1, 1]) + struct.pack(">Q", 1741564800123) + empty_root + env)
summary = struct.pack(">H", 2) + (bytes(8) + bytes([6]) + struct.pack(">IQQ", 3, 1, 2)) * 2
put("ledger", "refusals", b"\x00" + bytes([1, 2]) + struct.pack(">Q", 1741564800123) + empty_root + summary)
put("ledger", "refusals-body", b"\x00" + summary)
# Every kind FORMATS.md 4 allows (3 alert, 4 keyring), so the harness's kind check is
# exercised from the first run, not only when the fuzzer happens on them.
put("ledger", "alert-kind", b"\x00" + bytes([1, 3]) + struct.pack(">Q", 1741564800123) + empty_root + bytes(40))
put("ledger", "keyring-kind", b"\x00" + bytes([1, 4]) + struct.pack(">Q", 1741564800123) + empty_root
    + b'{"keys":[]}')
# Stored records (FORMATS.md 7): codec 0 raw, 1 zstd (when the zstd tool is there).
import shutil, subprocess
for t, env in envs[:4]:
    lf = bytes([1, 1]) + struct.pack(">Q", 1741564800123) + empty_root + env
    put("ledger", "rec-raw-" + t, b"\x00\x00" + bytes(4) + struct.pack(">I", len(lf)) + lf)
    if shutil.which("zstd"):
        z = subprocess.run(["zstd", "-q", "-c", "--no-check", "-19"], input=lf,
                           stdout=subprocess.PIPE, check=True).stdout
        put("ledger", "rec-zstd-" + t, b"\x00\x01" + bytes(4) + struct.pack(">I", len(lf)) + z)
put("ledger", "ckpt-note", b"\x01" + ("fuzz.example/ledger\n20\n%s\n\n" % b64(empty_root)).encode()
    + sigline("fuzz.example/ledger").encode())

# ---- submit: request bodies (count || items), envelopes with an empty or a dummy sealed box
def item(env, sealed=b""):
    return struct.pack(">I", len(env)) + env + struct.pack(">I", len(sealed)) + sealed

# The submit target re-signs each envelope with its own producer key, and seals a sealed
# part that starts with '[' as the disclosures: so the seeds carry them in clear.
for k, (t, env) in enumerate(envs):
    d = os.path.join(ex, "disclosures", t + ".json")
    discs = open(d, "rb").read() if os.path.exists(d) else b""
    put("submit", "one-" + t, struct.pack(">H", 1) + item(env, discs))
    if k < 4:
        put("submit", "sealed-" + t, struct.pack(">H", 1) + item(env, b"\x01" + bytes(24) + bytes(16 + 40)))
if envs:
    put("submit", "batch", struct.pack(">H", len(envs)) + b"".join(item(e) for _, e in envs))

# ---- config: the documented example, with and without its comments
conf = os.path.join(root, "docs", "saksid.conf.example")
if os.path.exists(conf):
    text = open(conf, "rb").read()
    put("config", "example", text)
    put("config", "example-bare", b"\n".join(l for l in text.split(b"\n")
                                             if l and not l.startswith(b"#")) + b"\n")

# ---- client: daemon replies. Byte 0 is fuzz_client.c's mode (bits 0-2 op, 3 raw reply,
# 4 no log key, 5-6 items - 1 or index, 7 size 0 / n = m + 3), then status || body.
extra = b"\x01\x01" + struct.pack(">Q", 1741564800123) + empty_root
h = b64(sha(b"leaf"))
receipt = tlog_proof(0, 1, h, [], extra=extra).encode()
receipt3 = tlog_proof(2, 3, h, [h, h], extra=extra).encode()
def result(code, text):
    return bytes([code]) + struct.pack(">I", len(text)) + text
put("client", "submit-receipt-nolog", b"\x10\x00" + struct.pack(">H", 1) + result(0, receipt))
put("client", "submit-receipt-log", b"\x00\x00" + struct.pack(">H", 1) + result(0, receipt))
put("client", "submit-two", b"\x30\x00" + struct.pack(">H", 2) + result(1, receipt3) +
    result(9, b"queue.called: /slot_hour: 25 is above the maximum 23"))
put("client", "submit-refused", b"\x00\x0e" + b"ledger full")
put("client", "submit-raw", b"\x08\x01\x01\x00" + struct.pack(">H", 1) + result(11, b"replay"))
put("client", "checkpoint-nolog", b"\x11\x00" + ("example.com/log\n1\n%s\n\n" % h).encode()
    + sigline("example.com/log").encode())
put("client", "checkpoint-log", b"\x01\x00" + ("fuzz.example/log\n1\n%s\n\n" % h).encode()
    + sigline("fuzz.example/log").encode())
if envs:
    put("client", "get", b"\x12\x00" + extra + envs[0][1])
put("client", "get-refusals", b"\x12\x00" + b"\x01\x02" + extra[2:] + summary)
put("client", "get-not-found", b"\x12\x02" + b"index 0 is past the end")
# inclusion of index 2 in a tree of 4: two hashes; size 0 (bit 7): the latest, here 3
put("client", "inclusion", b"\x53\x00" + tlog_proof(2, 4, h, [h, h], extra=extra).encode())
put("client", "inclusion-latest", b"\xd3\x00" + tlog_proof(2, 3, h, [h, h], extra=extra).encode())
put("client", "consistency", b"\xd4\x00" + bytes([2]) + sha(b"a") + sha(b"b"))
put("client", "consistency-same", b"\x54\x00" + bytes([0]))

# client: status replies (op 5, FORMATS.md 3.3) and busy refusals carrying a retry hint
status = {"saksi_status": 1, "version": "0.1.0", "origin": "fuzz.example/log",
          "now_ms": 1741564800123, "up_since_ms": 1741564000000,
          "ledger": {"entries": 20, "events": 18, "used_bytes": 98304, "map_bytes": 1 << 30},
          "checkpoint": {"size": 20, "time_ms": 1741564800000, "witnesses": []},
          "disk": None, "accepted": 18, "duplicates": 0,
          "refused": {n: 0 for n in ("parse", "size", "version", "unknown_key", "revoked_key",
                                     "signature", "role", "branch", "schema", "disclosure",
                                     "replay", "equivocation", "clock_skew", "unavailable", "busy")},
          "alerts": {"detection": True, "raised": 2, "acknowledged": None, "open": 2},
          "queue": {"requests": 0, "bytes": 0, "max_requests": 256, "max_bytes": 1 << 26,
                    "producer_keys": 0, "max_per_key": 64}}
put("client", "status", b"\x15\x00" + json.dumps(status, sort_keys=True, separators=(",", ":")).encode())
put("client", "status-dup", b"\x15\x00" + b'{"saksi_status":1,"saksi_status":1}')
put("client", "status-v2", b"\x15\x00" + b'{"saksi_status":2}')
put("client", "submit-busy", b"\x00\x0f" + b"busy: over this key's share; retry after 250 ms")
put("client", "status-busy", b"\x15\x0f" + b"busy: retry after 999999999 ms")
put("client", "get-busy-long", b"\x12\x0f" + b"retry after 1234567890 ms retry after 5 ms")

# ---- alert: bodies of FORMATS.md 4 kind 3 (byte 0 even), and field-wise structs (odd)
def alert(aid, kind, sev, rule, group, first, last, value, thr, extra, trig, total, ev):
    b = struct.pack(">QBBB", aid, kind, sev, len(rule)) + rule.encode()
    b += struct.pack(">H", len(group)) + group.encode()
    b += struct.pack(">QQQQQQIB", first, last, value, thr, extra, trig, total, len(ev))
    return b + b"".join(struct.pack(">Q", e) for e in ev)
tok = b64url(sha(b"nik")).rstrip("=")
put("alert", "rule", b"\x00" + alert(1, 1, 3, "same-nik-many-branches", "nik=" + tok,
                                     1741564800000, 1741568400000, 4, 3, 0, 19, 4, [3, 7, 12, 19]))
put("alert", "cap", b"\x00" + alert(2, 2, 2, "join:claim_paid", "*", 1, 1, 1000, 1000, 0, 30, 1000, []))
put("alert", "late", b"\x00" + alert(3, 3, 1, "late", "*", 5, 9, 2, 1, 0, 40, 2, [38, 40]))
put("alert", "reraise", b"\x00" + alert(1, 4, 4, "same-nik-many-branches", "nik=" + tok,
                                        1741564800000, 1741568400000, 4, 3, 1, 20, 4, [20]))
put("alert", "refusals", b"\x00" + alert(1, 5, 3, "refusals:signature", "reason=signature",
                                         1741564800000, 1741564860000, 50, 40, 0, 55, 50, [55]))
put("alert", "max", b"\x00" + alert(9, 1, 1, "r" * 53, "g" * 1536, 0, 2**64 - 1, 2**64 - 1, 1, 0,
                                    99, 2**32 - 1, list(range(64))))
put("alert", "struct", b"\x01" + struct.pack("<Q", 1) + b"\x01\x03\x04rule" + b"\x00\x01*" + bytes(60))

# ---- datakey: plaintexts (byte 0 = 3, byte 1 = the key: bit 0 store, bits 1-2 slot) of
# disclosures at rest v2, FORMATS.md 7.1: codec 0 list, 1 zstd list, 2 JSON text. The
# files and sealed blobs are hand seeds made by fuzz_datakey itself (docs/fuzzing.md).
import shutil, subprocess
for p in sorted(glob.glob(os.path.join(ex, "disclosures", "*.json")))[:6]:
    discs = json.load(open(p))
    if not discs:
        continue
    lst = bytes([len(discs)])
    for d in discs:
        raw = base64.urlsafe_b64decode(d + "=" * (-len(d) % 4))
        lst += struct.pack(">H", len(raw)) + raw
    name = os.path.basename(p)[:-5]
    for k in (0, 1, 4):
        put("datakey", "list-%d-%s" % (k, name), bytes([3, k, 0]) + lst)
    put("datakey", "json-" + name, bytes([3, 1, 2]) + json.dumps(discs, separators=(",", ":")).encode())
    if shutil.which("zstd"):
        z = subprocess.run(["zstd", "-q", "-c", "-19", "--stream-size=%d" % len(lst)], input=lst, capture_output=True).stdout
        if z:
            put("datakey", "zstd-" + name, bytes([3, 1, 1]) + z)
            put("datakey", "zstd-trail-" + name, bytes([3, 1, 1]) + z + b"\x50\x2a\x4d\x18" + bytes(4))

# ---- blind: byte 0 picks the kind (fuzz_blind.c: 1 + byte % 10), then a clear value
kinds = {"nik": 0, "kpj": 1, "phone": 2, "email": 3, "bank_account": 4, "device_id": 5,
         "ip": 6, "npwp": 7, "name": 8, "account_holder": 8, "scan_sha256": 9}
for p in sorted(glob.glob(os.path.join(ex, "clear", "*.json"))):
    o = json.load(open(p))
    for k, v in o.items():
        if k in kinds and isinstance(v, str):
            if k == "bank_account":
                v = "%s:%s" % (o.get("bank_code", "014"), v)
            put("blind", "%s-%s" % (k, os.path.basename(p)[:-5]), bytes([kinds[k]]) + v.encode())
for n, v in enumerate((" 7371 0545 0788 0003 ", "0812-3456-7890", "+62 812 3456 7890",
                       " Siti.Rahmawati@Example.CO.ID ", "::ffff:192.168.1.10", "2001:db8::1",
                       "siti   rahmawati", "014:123-456.7890", "01.234.567.8-901.000")):
    put("blind", "hand-%d" % n, bytes([(0, 2, 2, 3, 6, 6, 8, 4, 7)[n]]) + v.encode())

# ---- rules: the shipped rule sets, whole and without comments
for p in sorted(glob.glob(os.path.join(root, "schemas", "rules", "*.rules"))):
    text = open(p, "rb").read()
    put("rules", os.path.basename(p), text)
    put("rules", os.path.basename(p) + "-bare",
        b"\n".join(l for l in text.split(b"\n") if l.strip() and not l.lstrip().startswith(b"#")) + b"\n")

# value_sum (RULES.md 3.4a) with a cap small enough that the examples' rounds evict
put("rules", "value-sum", b"saksi-rules 1\nlateness 1m\nselect look\n"
    b"  match supervisor.access.logged\n  where revealed is true\nrule s\n"
    b"  type value_sum\n  severity high\n  events look\n  group-by key_id\n"
    b"  field participants\n  timespan 1h\n  condition gte 2\n  suppress 0s\n"
    b"  reraise 1\n  max_values 2\n")

for target, n in sorted(count.items()):
    print("seed: %-9s %d generated seeds" % (target, n))
PY
