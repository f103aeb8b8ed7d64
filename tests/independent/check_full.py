#!/usr/bin/env python3
"""Independent check of a double-random/v1 or v2 FULL (auditor) bundle, from docs/draw-spec.md only.

Usage: check_full.py FULL_BUNDLE.json
Recomputes placement (§7.1), private digests and every tree (§3.2, §4) and the commitment
(§7.4), the seed, the sample sizes, the selection by smallest tickets (§8.2), replacement
objects (§10), the matching (§9) and result_digest (§11), in the order of the reference
`verify_full` (§12). Prints {"valid", "result_digest", "first_mismatch"}; exit 0 iff valid.
Shares the primitives of verify_public.py (same folder).
"""

import json
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_public as v  # noqa: E402


def encode_private(o) -> bytes:
    """§3.2 private(o)."""
    e = v.Enc()
    e.str(o["tier"])
    if o["last_inspected"] is None:
        e.u8(0)
    else:
        e.u8(1).date(o["last_inspected"])
    attrs = o["attributes"]
    e.u32(len(attrs))
    for k in sorted(attrs, key=v.u8key):
        e.str(k).str(attrs[k])
    return bytes(e.b)


def private_digest(salt_key: bytes, o, proto) -> bytes:
    """§3.2: SHA-256(SHA-256("double-random/vN private") ‖ salt_key ‖ lp(id) ‖ private(o))."""
    prefix = v.sha256(f"{proto} private".encode())
    return v.sha256(prefix + salt_key + bytes(v.Enc().str(o["id"]).b) + encode_private(o))


def inspector_leaf(salt_key: bytes, pol, i, proto) -> bytes:
    """§3.3: v1 the whole record; v2 the public part ‖ the keyed private digest."""
    if proto == v.V2:
        valid = not i["certificate_expiry"] < pol["draw_date"]
        return v.leaf_hash(v.encode_inspector_public(i, valid) + v.inspector_private_digest(salt_key, i))
    return v.leaf_hash(v.encode_inspector(i))


def tree_order(proto, pairs):
    """§4.2: (leaf, item) pairs in id order; v2 sorts them by leaf hash."""
    return sorted(pairs, key=lambda p: p[0]) if proto == v.V2 else pairs


def read_snapshot(s):
    """§3.4: read and normalise the snapshot; duplicate ids fail."""
    if not isinstance(s, dict):
        raise v.Mismatch("snapshot", "an object", repr(s))
    objs = []
    for i, o in enumerate(v.need(s, "objects", "snapshot", list)):
        f = f"snapshot.objects[{i}]"
        p = v.norm_public_object(o, f)
        p["tier"] = v.need(o, "tier", f, str)
        li = v.opt(o, "last_inspected", f)
        p["last_inspected"] = None if li is None else v.four_digit_year(v.parse_date(li, f"{f}.last_inspected"), f"{f}.last_inspected")
        attrs = v.dflt(o, "attributes", f, {}, dict)
        if not all(isinstance(x, str) for x in attrs.values()):
            raise v.Mismatch(f"{f}.attributes", "a map of strings", repr(attrs))
        p["attributes"] = attrs
        objs.append(p)
    inspectors = [v.norm_inspector(x, f"snapshot.inspectors[{i}]")
                  for i, x in enumerate(v.need(s, "inspectors", "snapshot", list))]
    objs.sort(key=lambda o: v.u8key(o["id"]))
    inspectors.sort(key=lambda i: v.u8key(i["id"]))
    for kind, lst in (("object", objs), ("inspector", inspectors)):
        for a, z in zip(lst, lst[1:]):
            if a["id"] == z["id"]:
                raise v.Mismatch("snapshot", "unique ids", f"duplicate {kind} id {a['id']}")
    return objs, inspectors


def cooled(pol, o) -> bool:
    """§7.1: age = max(0, draw_date − last_inspected) in days; cooled iff age < days."""
    cd = pol["cooldown"]
    if cd is None or o["last_inspected"] is None:
        return False
    age = max(0, pol["draw_date"].ordinal() - o["last_inspected"].ordinal())
    return age < cd["days"]


def check(b, out):
    c = v.Checker()
    h = v.read_bundle_head(b)
    pol, com, result = h["policy"], h["commitment"], h["result"]
    salt_key = v.hx32(v.need(b, "salt_key", ""), "salt_key")
    objs, inspectors = read_snapshot(v.need(b, "snapshot", ""))
    proto = com["protocol"]
    out["result_digest"] = v.sha256(v.encode_result(result, h["commitment_hash"], proto)).hex()

    c.eq("format", "format", v.fmt("full-bundle", com["protocol"]), h["format"])
    seed = v.check_seed(c, h["task_id"], com, h["commitment_enc"], h["commitment_hash"], h["secret"], h["entropy"], h["beacons"])
    v.check_caps_field(pol, proto)

    # §7.1 placement (an undefined tier fails the whole draw, for every object)
    tiers = {t["name"]: k for k, t in enumerate(pol["tiers"])}
    strata = [[] for _ in range(2 * len(pol["tiers"]))]
    excluded = []
    for o in objs:
        if o["tier"] not in tiers:
            raise v.Mismatch("snapshot", "a snapshot the policy accepts", f"object {o['id']} has tier {o['tier']!r}")
    downweight = pol["cooldown"] is not None and pol["cooldown"]["action"] == "downweight"
    for o in objs:
        reason = v.public_exclusion(pol, o)
        cool = cooled(pol, o)
        if reason is None and cool and not downweight:
            reason = "cooldown"
        o["digest"] = private_digest(salt_key, o, proto)
        o["pub"] = v.encode_public(o, "last_inspectors")
        if reason is None:
            strata[2 * tiers[o["tier"]] + (1 if cool else 0)].append(o)
        else:
            excluded.append((o, reason))

    # §4.2 trees (v2: stratum and excluded leaves by leaf hash), §7.3 commitment, compared whole
    for m in strata:
        for o in m:
            o["leaf"] = v.object_leaf(o["digest"], o["pub"])
        m[:] = [o for _, o in tree_order(proto, [(o["leaf"], o) for o in m])]
    heads = [{"tier": pol["tiers"][k // 2]["name"], "cooled": k % 2 == 1, "count": len(m),
              "root": v.mth([o["leaf"] for o in m])} for k, m in enumerate(strata)]
    ex = [leaf for leaf, _ in tree_order(proto, [(v.object_leaf(o["digest"], o["pub"], r), o) for o, r in excluded])]
    ids = [v.leaf_hash(bytes(v.Enc().str(o["id"]).b)) for o in objs]
    ins = [inspector_leaf(salt_key, pol, i, proto) for i in inspectors]
    expected = {
        "protocol": proto, "task_id": h["task_id"], "policy_hash": v.sha256(v.encode_policy(pol, proto)),
        "strata": heads, "excluded": {"count": len(ex), "root": v.mth(ex)},
        "ids": {"count": len(ids), "root": v.mth(ids)}, "inspectors": {"count": len(ins), "root": v.mth(ins)},
        "secret_hash": v.sha256(h["secret"]), "entropy_source": com["entropy_source"],
        # the announcement is the bundle's own, like entropy_source (§12 step 4)
        "entropy_sources": com["entropy_sources"], "allow_weak_entropy": com["allow_weak_entropy"],
    }
    c.eq("commitment recomputed from snapshot, policy, salt key and secret", "commitment", expected, com)
    c.eq("seed", "result.seed", seed, result["seed"])

    # §8 sizes and selection
    sizes = v.sample_sizes(pol, [(k // 2, k % 2 == 1, len(m)) for k, m in enumerate(strata)], seed, proto)
    ranked = [sorted((v.ticket(seed, o["id"], proto, o["leaf"]), v.u8key(o["id"]), o["id"]) for o in m) for m in strata]
    got = []
    for k, m in enumerate(strata):
        sel = ranked[k][:sizes[k]]
        got.append({"tier": heads[k]["tier"], "cooled": heads[k]["cooled"], "population": len(m), "sample": sizes[k],
                    "cutoff": sel[-1][0] if sel else None, "extended_cutoff": None, "selected": [x[2] for x in sel]})
    order = sorted(x for k, s in enumerate(ranked) for x in s[:sizes[k]])

    # §10 replacement objects: the next ticket of the replaced object's stratum
    where = {o["id"]: k for k, m in enumerate(strata) for o in m}
    taken = list(sizes)

    def next_object(k, x):
        s = where[x]
        if taken[s] >= len(strata[s]):
            raise v.MatchFailure(f"replacement {k}: stratum {got[s]['tier']} has no object left to replace {x}")
        t, _, oid = ranked[s][taken[s]]
        taken[s] += 1
        got[s]["extended_cutoff"] = t
        return oid

    by_id = {o["id"]: o for o in objs}
    try:
        a, r, f = v.replay_teams(pol, inspectors, by_id, seed, [x[2] for x in order],
                                 [x["request"] for x in result["replacements"]], next_object, proto)
    except v.MatchFailure as e:
        raise v.Mismatch("result", "a draw", str(e))
    c.eq("selection, cutoffs, extended cutoffs", "result.strata", got, result["strata"])
    c.eq("assignments", "result.assignments", a, result["assignments"])
    c.eq("replacements", "result.replacements", r, v.published_replacements(result))
    c.eq("final teams", "result.final_assignments", f, result["final_assignments"])
    c.eq("result digest", "result_digest", out["result_digest"], h["result_digest"].hex())


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = {"valid": False, "result_digest": None, "first_mismatch": None}
    try:
        with open(argv[1], "rb") as fh:
            check(v.load_json(fh.read()), out)
        out["valid"] = True
    except v.Mismatch as m:
        out["first_mismatch"] = {"field": m.field, "expected": v.plain(m.expected), "found": v.plain(m.found)}
    except (ValueError, OSError, KeyError, TypeError, AttributeError, RecursionError) as e:
        out["first_mismatch"] = {"field": "(file)", "expected": "a well-formed full bundle", "found": f"{type(e).__name__}: {e}"}
    print(json.dumps(out, ensure_ascii=False))
    return 0 if out["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
