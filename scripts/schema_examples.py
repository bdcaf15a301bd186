#!/usr/bin/env python3
# schema_examples.py: derives the signed examples (schemas/examples/<type>.json) and their
# disclosures (schemas/examples/disclosures/<type>.json) from the clear examples
# (schemas/examples/clear/<type>.json), as FORMATS.md 2.1 describes. The salts are derived
# from the type and field name so that the files are reproducible: a real producer must
# use 16 random bytes instead. Run it after editing a clear example or a schema;
# lib/schema_test.c checks that the three files agree.
import base64, hashlib, json, os, sys

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")

def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schemas")
    ex = os.path.join(root, "examples")
    os.makedirs(os.path.join(ex, "disclosures"), exist_ok=True)
    for fn in sorted(os.listdir(os.path.join(ex, "clear"))):
        if not fn.endswith(".json"):
            continue
        t = fn[:-5]
        with open(os.path.join(root, "events", fn)) as f:
            schema = json.load(f)
        with open(os.path.join(ex, "clear", fn)) as f:
            clear = json.load(f)
        signed, disclosures = {}, []
        for name, value in clear.items():
            if not schema["properties"].get(name, {}).get("x-personal"):
                signed[name] = value
                continue
            salt = b64url(hashlib.sha256(("saksi example salt\n%s\n%s" % (t, name)).encode()).digest()[:16])
            arr = json.dumps([salt, name, value], separators=(",", ":"), ensure_ascii=False)
            d = b64url(arr.encode("utf-8"))
            disclosures.append(d)
            signed[name] = {"_sd": b64url(hashlib.sha256(d.encode("ascii")).digest())}
        for path, obj in ((os.path.join(ex, fn), signed),
                          (os.path.join(ex, "disclosures", fn), disclosures)):
            with open(path, "w") as f:
                json.dump(obj, f, indent=2, ensure_ascii=False)
                f.write("\n")
    return 0

if __name__ == "__main__":
    sys.exit(main())
