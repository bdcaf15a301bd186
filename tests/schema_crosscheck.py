#!/usr/bin/env python3
# schema_crosscheck.py: an independent second opinion on schemas/ from python3-jsonschema.
# Checks every schema against the 2020-12 meta-schema, validates every example, and
# compares its verdict on each case that schema_crosscheck_test.c wrote with ours. It must
# never share code or rules with lib/schema.c: only the README's mapping of x-personal.
#   usage: schema_crosscheck.py SCHEMAS_DIR CASES_JSONL
import json
import os
import re
import sys

from jsonschema import Draft202012Validator, FormatChecker

# README.md, "Personal fields": what a personal field must be, per side.
SIGNED_PERSONAL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["_sd"],
    "properties": {"_sd": {"type": "string", "pattern": "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"}},
}


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate member")
    return dict(pairs)


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f, object_pairs_hook=no_duplicates)


def side(schema, mode):
    s = json.loads(json.dumps(schema))
    for name, prop in s["properties"].items():
        if prop.get("x-personal") is True:
            s["properties"][name] = SIGNED_PERSONAL if mode == "signed" else prop["x-clear"]
    return s


def format_checker():
    fc = FormatChecker()
    if "date-time" not in fc.checkers:
        # Debian's jsonschema checks date-time only with rfc3339-validator installed; this is
        # that package's rule (RFC 3339 section 5.6), so the cases stay meaningful without it.
        import datetime
        rx = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?"
                        r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$")

        @fc.checks("date-time", raises=ValueError)
        def _datetime(instance):
            if not isinstance(instance, str):
                return True
            m = rx.match(instance.upper())
            return bool(m and datetime.date(int(m[1]), int(m[2]), int(m[3])))
        print("note: rfc3339-validator is absent; date-time checked by the RFC 3339 rule here")
    return fc


def main(schemas_dir, cases_path):
    fc = format_checker()
    validators = {}
    events = os.path.join(schemas_dir, "events")
    for fn in sorted(os.listdir(events)):
        if not fn.endswith(".json"):
            continue
        t = fn[:-5]
        schema = load(os.path.join(events, fn))
        Draft202012Validator.check_schema(schema)
        for mode in ("signed", "clear"):
            s = side(schema, mode)
            Draft202012Validator.check_schema(s)
            validators[(t, mode)] = Draft202012Validator(s, format_checker=fc)
        for mode, path in (("signed", os.path.join(schemas_dir, "examples", fn)),
                           ("clear", os.path.join(schemas_dir, "examples", "clear", fn))):
            errs = list(validators[(t, mode)].iter_errors(load(path)))
            if errs:
                print("example %s (%s) is invalid: %s" % (t, mode, errs[0].message))
                return 1
    bad = n = nvalid = 0
    with open(cases_path, encoding="utf-8") as f:
        for line in f:
            c = json.loads(line, object_pairs_hook=no_duplicates)
            ok = validators[(c["type"], c["mode"])].is_valid(c["payload"])
            n += 1
            nvalid += ok
            if ok != c["valid"]:
                bad += 1
                if bad <= 20:
                    print("disagree: %s %s saksi=%s jsonschema=%s payload=%s" % (
                        c["type"], c["mode"], c["valid"], ok, json.dumps(c["payload"])))
    print("%d schemas, %d cases (%d valid), %d disagreements" % (len(validators) // 2, n, nvalid, bad))
    return 1 if bad or n == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
