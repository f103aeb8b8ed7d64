#!/usr/bin/env python3
"""Runs the independent checkers on every tests/vectors/*.json scenario file.

Usage: run_vectors.py [VECTOR_DIR]   (default: tests/vectors next to this folder)
For each file with `public_bundle` and `full_bundle`: verify_public on the public bundle,
check_full on the full bundle, and compare both recomputed digests (and the seed and commitment
hash) with the file's expected values. Exit 0 iff every file agrees.
"""

import glob
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, here)
import check_full  # noqa: E402
import verify_public as v  # noqa: E402


def run(fn, bundle):
    out = {"valid": False, "result_digest": None, "first_mismatch": None}
    try:
        fn(bundle, out)
        out["valid"] = True
    except v.Mismatch as m:
        out["first_mismatch"] = {"field": m.field, "expected": v.plain(m.expected), "found": v.plain(m.found)}
    return out


def main(argv):
    folder = argv[1] if len(argv) > 1 else os.path.join(here, "..", "vectors")
    ok = True
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        case = json.load(open(path, encoding="utf-8"))
        if "public_bundle" not in case:
            continue
        pub = run(v.verify, case["public_bundle"])
        full = run(check_full.check, case["full_bundle"])
        agree = (pub["valid"] and full["valid"]
                 and pub["result_digest"] == full["result_digest"] == case["result_digest"]
                 and case["public_bundle"]["commitment_hash"] == case["commitment_hash"]
                 and case["public_bundle"]["result"]["seed"] == case["seed"])
        ok &= agree
        print(json.dumps({"vector": os.path.basename(path), "agrees": agree, "public": pub["first_mismatch"],
                          "full": full["first_mismatch"], "result_digest": pub["result_digest"]}, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
