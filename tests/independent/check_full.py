#!/usr/bin/env python3
"""Independent check of a double-random/v1 FULL (auditor) bundle, from docs/draw-spec.md only.

Usage: check_full.py FULL_BUNDLE.json
Recomputes placement (§7.1), every tree (§4) and the commitment (§7.4), the seed, the sample
sizes, the selection by smallest tickets (§8.2), replacement objects (§10), the matching (§9)
and result_digest (§11). Prints {"valid", "result_digest", "first_mismatch"}; exit 0 iff valid.
Shares the primitives of verify_public.py (same folder).
"""

import datetime
import json
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_public as v  # noqa: E402


def encode_private(o) -> bytes:
    e = v.Enc()
    e.str(o["tier"])
    e.opt_str(o.get("last_inspected"))
    attrs = o.get("attributes") or {}
    e.u32(len(attrs))
    for k in sorted(attrs, key=lambda k: k.encode()):
        e.str(k).str(attrs[k])
    return bytes(e.b)


def salt(salt_key: bytes, oid: str) -> bytes:
    b = oid.encode()
    return v.sha256(v.sha256(b"double-random/v1 salt") + salt_key + len(b).to_bytes(4, "big") + b)


def check(b, out):
    c = v.Checker()
    c.eq("format", "format", "double-random/full-bundle/v1", b["format"])
    pol = v.parse_policy(b["policy"])
    com = v.parse_commitment(b["commitment"])
    com_enc = v.encode_commitment(com)
    secret = bytes.fromhex(b["secret"])
    entropy = [bytes.fromhex(x) for x in b["entropy"]]
    salt_key = v.hx32(b["salt_key"], "salt_key")
    result = v.parse_result(b["result"])
    commitment_hash = v.hx32(b["commitment_hash"], "commitment_hash")
    out["result_digest"] = v.sha256(v.encode_result(result, commitment_hash)).hex()
    c.eq("commitment hash", "commitment_hash", v.sha256(com_enc), commitment_hash)
    c.eq("secret", "secret", com["secret_hash"], v.sha256(secret))
    seed = v.derive_seed(com, com_enc, secret, entropy)
    c.eq("seed", "result.seed", seed, result["seed"])

    # §3.4 canonical snapshot
    objs = []
    for i, o in enumerate(b["snapshot"]["objects"]):
        p = v.norm_public_object(o, f"snapshot.objects[{i}]")
        p["tier"] = o["tier"]
        p["last_inspected"] = o.get("last_inspected")
        p["attributes"] = o.get("attributes") or {}
        objs.append(p)
    objs.sort(key=lambda o: o["id"].encode())
    inspectors = sorted((v.norm_inspector(x, f"snapshot.inspectors[{i}]") for i, x in enumerate(b["snapshot"]["inspectors"])),
                        key=lambda i: i["id"].encode())

    # §7.1 placement
    tiers = {t["name"]: k for k, t in enumerate(pol["tiers"])}
    cd, sc = pol["cooldown"], pol["scope"]
    strata = [[] for _ in range(2 * len(pol["tiers"]))]
    excluded = []
    for o in objs:
        if o["tier"] not in tiers:
            raise v.Mismatch(f"object {o['id']}.tier", "a policy tier", o["tier"])
        cooled = False
        if cd is not None and o["last_inspected"]:
            days = (pol["draw_date"] - datetime.date.fromisoformat(o["last_inspected"])).days
            cooled = days < cd["days"]
        reason = None
        if o["status"] != "active":
            reason = "status:" + o["status"]
        elif sc["kinds"] and o["kind"] not in sc["kinds"]:
            reason = "scope:kind"
        elif sc["regions"] and o["region"] not in sc["regions"]:
            reason = "scope:region"
        elif sc["industries"] and o["industry"] not in sc["industries"]:
            reason = "scope:industry"
        elif cooled and cd["action"] == "exclude":
            reason = "cooldown"
        o["salt"] = salt(salt_key, o["id"])
        o["pub"] = v.sha256(v.encode_public(o, "last_inspectors"))
        o["priv"] = v.sha256(encode_private(o))
        if reason is None:
            strata[2 * tiers[o["tier"]] + (1 if cooled else 0)].append(o)
        else:
            excluded.append((o, reason))

    # §4.2 trees, §7.3 commitment
    heads = [{"tier": pol["tiers"][k // 2]["name"], "cooled": k % 2 == 1, "count": len(m),
              "root": v.mth([v.leaf_hash(o["salt"] + o["pub"] + o["priv"]) for o in m])} for k, m in enumerate(strata)]
    c.eq("stratum heads", "commitment.strata", heads, com["strata"])
    ex = [v.leaf_hash(o["salt"] + o["pub"] + o["priv"] + v.Enc().str(r).b) for o, r in excluded]
    c.eq("excluded tree", "commitment.excluded", {"count": len(ex), "root": v.mth(ex)}, com["excluded"])
    ids = [v.leaf_hash(bytes(v.Enc().str(o["id"]).b)) for o in objs]
    c.eq("ids tree", "commitment.ids", {"count": len(ids), "root": v.mth(ids)}, com["ids"])
    ins = [v.leaf_hash(v.encode_inspector(i)) for i in inspectors]
    c.eq("inspector tree", "commitment.inspectors", {"count": len(ins), "root": v.mth(ins)}, com["inspectors"])
    c.eq("policy hash", "commitment.policy_hash", v.sha256(v.encode_policy(pol)), com["policy_hash"])

    # §8 sizes and selection
    sizes = v.sample_sizes(pol, [(k // 2, k % 2 == 1, len(m)) for k, m in enumerate(strata)], seed)
    ranked = [sorted(((v.ticket(seed, o["id"]), o["id"].encode(), o["id"]) for o in m)) for m in strata]
    got = []
    for k, m in enumerate(strata):
        sel = ranked[k][:sizes[k]]
        got.append({"tier": heads[k]["tier"], "cooled": heads[k]["cooled"], "population": len(m), "sample": sizes[k],
                    "cutoff": sel[-1][0] if sel else None, "extended_cutoff": None, "selected": [x[2] for x in sel]})
    # §10 replacement objects: next ticket of the stratum
    where = {o["id"]: k for k, m in enumerate(strata) for o in m}
    taken = list(sizes)
    repl = {}
    for k, x in enumerate(result["replacements"]):
        if x["request"]["kind"] != "object":
            continue
        s = where[x["request"]["object"]]
        if taken[s] >= len(strata[s]):
            raise v.Mismatch(f"result.replacements[{k}]", "an object left in the stratum", "none")
        t, _, oid = ranked[s][taken[s]]
        taken[s] += 1
        got[s]["extended_cutoff"] = t
        repl[k] = oid
    c.eq("selection, cutoffs, extended cutoffs", "result.strata", got, result["strata"])
    order = sorted(x for k, s in enumerate(ranked) for x in s[:sizes[k]])
    by_id = {o["id"]: o for o in objs}
    a, r, f = v.replay_teams(pol, inspectors, by_id, seed, [x[2] for x in order],
                             [x["request"] for x in result["replacements"]], repl)
    c.eq("assignments", "result.assignments", a, result["assignments"])
    c.eq("replacements", "result.replacements", r, [{"request": x["request"], "replacement": x["replacement"],
                                                    "inspectors": x["inspectors"]} for x in result["replacements"]])
    c.eq("final teams", "result.final_assignments", f, result["final_assignments"])
    c.eq("result digest", "result_digest", out["result_digest"], b["result_digest"])


def main(argv):
    out = {"valid": False, "result_digest": None, "first_mismatch": None}
    try:
        check(json.load(open(argv[1], encoding="utf-8")), out)
        out["valid"] = True
    except v.Mismatch as m:
        out["first_mismatch"] = {"field": m.field, "expected": v.plain(m.expected), "found": v.plain(m.found)}
    print(json.dumps(out, ensure_ascii=False))
    return 0 if out["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
