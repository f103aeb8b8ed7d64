#!/usr/bin/env python3
"""Runs the independent checkers on every tests/vectors/*.json and tests/vectors/v*/*.json file.

Usage: run_vectors.py [VECTOR_DIR]   (default: tests/vectors next to this folder)

* A scenario file (with `public_bundle` and `full_bundle`): verify_public on the public bundle
  and check_full on the full bundle must both accept, and both recomputed result digests must
  equal the file's `result_digest` (the Rust reference's); the bundles' `commitment_hash` and
  `result.seed` must equal the file's `commitment_hash` and `seed`.
* rfc6962.json: our leaf hashes, tree roots and inclusion-proof verification against the
  RFC 6962 values.
* drand-beacons.json: drand chain hashes and beacon randomness (SHA-256 of the signature).

Output: one line per vector, `PASS <file> ...` or `FAIL <file> ...` (with the first mismatch),
then a last line exactly `N passed, M failed`. Exit status 0 iff M = 0 and N > 0.
"""

import glob
import json
import os
import sys
import traceback

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


def scenario(case):
    """Returns (ok, detail)."""
    want = case["result_digest"]
    pub = run(v.verify, case["public_bundle"])
    full = run(check_full.check, case["full_bundle"])
    problems = []
    bad = case.get("expect_invalid")
    if bad is not None:
        # A forged bundle: both checkers must reject it, on the fields the reference names.
        for who, out in (("public", pub), ("full", full)):
            m = out["first_mismatch"]
            if out["valid"] or m["field"] != bad[who]:
                problems.append(f"{who} checker: expected a rejection on {bad[who]}, got {json.dumps(m, ensure_ascii=False)}")
        if problems:
            return False, "; ".join(problems)
        return True, f"rejected as the reference does ({bad['public']}, {bad['full']})"
    if not pub["valid"]:
        problems.append(f"public bundle rejected: {json.dumps(pub['first_mismatch'], ensure_ascii=False)}")
    if not full["valid"]:
        problems.append(f"full bundle rejected: {json.dumps(full['first_mismatch'], ensure_ascii=False)}")
    if pub["result_digest"] != want:
        problems.append(f"public digest {pub['result_digest']} != expected {want}")
    if full["result_digest"] != want:
        problems.append(f"full digest {full['result_digest']} != expected {want}")
    for name in ("public_bundle", "full_bundle"):
        b = case[name]
        if b.get("commitment_hash") != case["commitment_hash"]:
            problems.append(f"{name}.commitment_hash != expected {case['commitment_hash']}")
        if b.get("result", {}).get("seed") != case["seed"]:
            problems.append(f"{name}.result.seed != expected {case['seed']}")
    if problems:
        return False, "; ".join(problems)
    return True, f"result_digest {want} (public and full agree with the reference)"


def rfc6962(case):
    leaves = [v.leaf_hash(bytes.fromhex(x)) for x in case["leaves_hex"]]
    problems = []
    for i, (got, want) in enumerate(zip(leaves, case.get("leaf_hashes_hex", []))):
        if got.hex() != want:
            problems.append(f"leaf {i} hash")
    for r in case["roots"]:
        if v.mth(leaves[:r["size"]]).hex() != r["root_hex"]:
            problems.append(f"root of size {r['size']}")
    for p in case["inclusion_proofs"]:
        i, n = p["leaf_index"], p["tree_size"]
        root = v.mth(leaves[:n])
        path = [bytes.fromhex(x) for x in p["path_hex"]]
        if not v.verify_inclusion(i, n, leaves[i], path, root):
            problems.append(f"inclusion proof of leaf {i} in {n}")
        elif path and v.verify_inclusion(i, n, leaves[i], path[:-1], root):
            problems.append(f"truncated proof of leaf {i} in {n} accepted")
    if problems:
        return False, "; ".join(problems)
    return True, f"{len(case['roots'])} roots, {len(case['inclusion_proofs'])} inclusion proofs"


def drand(case):
    """drand-beacons.json: each chain's hash from its info, each beacon's randomness from its
    signature (the BLS signatures are checked by the Rust tests: pairings are beyond the
    standard library)."""
    problems = []
    for name, c in case["chains"].items():
        info = {"period": c["period"], "genesis_time": c["genesis_time"], "public_key": c["public_key"],
                "group_hash": c["groupHash"], "beacon_id": c["metadata"]["beaconID"]}
        if v.drand_chain_hash(info).hex() != c["hash"]:
            problems.append(f"chain hash of {name}")
    for b in case["beacons"]:
        if v.sha256(bytes.fromhex(b["signature"])).hex() != b["randomness"]:
            problems.append(f"randomness of {b['chain']} round {b['round']}")
    if problems:
        return False, "; ".join(problems)
    return True, f"{len(case['chains'])} chain hashes, {len(case['beacons'])} beacon randomness values"


def main(argv):
    folder = argv[1] if len(argv) > 1 else os.path.join(here, "..", "vectors")
    passed = failed = 0
    # Shared files at the top, then each protocol's frozen scenarios (v1/, v2/), each checked
    # by the rules of its own commitment's protocol.
    paths = sorted(glob.glob(os.path.join(folder, "*.json"))) + sorted(glob.glob(os.path.join(folder, "v*", "*.json")))
    for path in paths:
        name = os.path.relpath(path, folder)
        try:
            with open(path, encoding="utf-8") as fh:
                case = json.load(fh)
            if "public_bundle" in case and "full_bundle" in case:
                ok, detail = scenario(case)
            elif "roots" in case and "inclusion_proofs" in case:
                ok, detail = rfc6962(case)
            elif "chains" in case and "beacons" in case:
                ok, detail = drand(case)
            else:
                ok, detail = False, "not a vector file this runner knows"
        except Exception as e:  # a broken vector is a failure, not a crash
            ok, detail = False, f"{type(e).__name__}: {e} | " + traceback.format_exc(limit=1).strip().replace("\n", " | ")
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
        if ok:
            passed += 1
        else:
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
