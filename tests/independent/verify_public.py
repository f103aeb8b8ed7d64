#!/usr/bin/env python3
"""Independent verifier of double-random/v1 public bundles, written from docs/draw-spec.md only.

Usage: verify_public.py PUBLIC_BUNDLE.json
Prints {"valid": bool, "result_digest": hex, "first_mismatch": null | {...}, "checks": [...]}
and exits 0 iff the bundle is valid. Python 3.11+, standard library only.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import struct
import sys
import unicodedata

PROTOCOL = "double-random/v1"
PUBLIC_FORMAT = "double-random/public-bundle/v1"
MAX_WEIGHT = 1_000_000
U32 = 2**32
U64 = 2**64


class Mismatch(Exception):
    def __init__(self, field, expected, found):
        super().__init__(field)
        self.field, self.expected, self.found = field, expected, found


def sha256(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


# --------------------------------------------------------------------------------------------
# §2 canonical encoding


class Enc:
    def __init__(self, domain: str | None = None):
        self.b = bytearray()
        if domain is not None:
            self.str(domain)

    def u8(self, v):
        assert 0 <= v < 256
        self.b.append(v)
        return self

    def bool(self, v):
        return self.u8(1 if v else 0)

    def u32(self, v):
        if not 0 <= v < U32:
            raise ValueError(f"u32 out of range: {v}")
        self.b += struct.pack(">I", v)
        return self

    def u64(self, v):
        if not 0 <= v < U64:
            raise ValueError(f"u64 out of range: {v}")
        self.b += struct.pack(">Q", v)
        return self

    def bytes(self, v: bytes):
        self.u32(len(v))
        self.b += v
        return self

    def str(self, s: str):
        return self.bytes(s.encode("utf-8"))

    def hash(self, h: bytes):
        assert len(h) == 32
        self.b += h
        return self

    def opt_str(self, s):
        if s is None:
            return self.u8(0)
        return self.u8(1).str(s)

    def strs(self, items):
        self.u32(len(items))
        for s in items:
            self.str(s)
        return self

    def digest(self):
        return sha256(bytes(self.b))


# --------------------------------------------------------------------------------------------
# JSON helpers


def hx32(v, field) -> bytes:
    if not isinstance(v, str):
        raise Mismatch(field, "32-byte hex string", repr(v))
    try:
        b = bytes.fromhex(v)
    except ValueError:
        raise Mismatch(field, "32-byte hex string", v)
    if len(b) != 32:
        raise Mismatch(field, "32-byte hex string", v)
    return b


def hxbytes(v, field) -> bytes:
    if not isinstance(v, str):
        raise Mismatch(field, "hex string", repr(v))
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise Mismatch(field, "hex string", v)


def opt_hx32(obj, key, field):
    v = obj.get(key)
    return None if v is None else hx32(v, field)


def need(obj, key, field, typ=None):
    if not isinstance(obj, dict) or key not in obj:
        raise Mismatch(f"{field}.{key}" if field else key, "present", "(missing)")
    v = obj[key]
    if typ is not None and not isinstance(v, typ) or (typ is int and isinstance(v, bool)):
        raise Mismatch(f"{field}.{key}" if field else key, typ.__name__, repr(v))
    return v


def check_int(v, field, bits):
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**bits:
        raise Mismatch(field, f"u{bits}", repr(v))
    return v


def parse_date(v, field) -> datetime.date:
    """§2: "YYYY-MM-DD" (the reference reader also takes an unpadded month or day)."""
    parts = v.split("-") if isinstance(v, str) else []
    if len(parts) != 3 or len(parts[0]) != 4 or not all(1 <= len(x) <= 2 for x in parts[1:]) \
            or not all(x.isascii() and x.isdigit() for x in parts):
        raise Mismatch(field, "YYYY-MM-DD", repr(v))
    try:
        return datetime.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        raise Mismatch(field, "YYYY-MM-DD", v)


def fmt_date(d: datetime.date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def check_id(s, field):
    """§3.5: 1..128 bytes, no surrounding white space, no control characters."""
    if not isinstance(s, str):
        raise Mismatch(field, "an id string", repr(s))
    n = len(s.encode("utf-8"))
    if n == 0 or n > 128 or s.strip() != s or any(unicodedata.category(c) == "Cc" for c in s):
        raise Mismatch(field, "an id of 1 to 128 bytes, no surrounding spaces or control characters", repr(s))
    return s


def no_unknown(obj, allowed, field):
    if not isinstance(obj, dict):
        raise Mismatch(field, "an object", repr(obj))
    for k in obj:
        if k not in allowed:
            raise Mismatch(f"{field}.{k}", "(no such field)", "present")


# --------------------------------------------------------------------------------------------
# §3 records


STATUSES = ("active", "closed", "deregistered", "revoked")


def sorted_unique(items):
    return sorted(set(items))


def norm_public_object(o, field):
    r = {
        "id": check_id(need(o, "id", field, str), f"{field}.id"),
        "name": need(o, "name", field, str),
        "kind": need(o, "kind", field, str),
        "region": need(o, "region", field, str),
        "industry": need(o, "industry", field, str),
        "status": need(o, "status", field, str),
        "last_inspectors_raw": list(o.get("last_inspectors") or []),
    }
    if r["status"] not in STATUSES:
        raise Mismatch(f"{field}.status", "|".join(STATUSES), r["status"])
    for j, i in enumerate(r["last_inspectors_raw"]):
        check_id(i, f"{field}.last_inspectors[{j}]")
    r["last_inspectors"] = sorted_unique(r["last_inspectors_raw"])
    return r


def encode_public(o, key="last_inspectors_raw") -> bytes:
    """§3.1, over the record as published (the leaf is what was committed)."""
    e = Enc()
    e.str(o["id"]).str(o["name"]).str(o["kind"]).str(o["region"]).str(o["industry"]).str(o["status"])
    e.strs(o[key])
    return bytes(e.b)


def norm_inspector(i, field):
    deps = need(i, "departments", field, list)
    r = {
        "id": check_id(need(i, "id", field, str), f"{field}.id"),
        "name": need(i, "name", field, str),
        "departments": sorted_unique(deps),
        "region": need(i, "region", field, str),
        "specialties": sorted_unique(i.get("specialties") or []),
        "certificate_no": need(i, "certificate_no", field, str),
        "certificate_expiry": parse_date(need(i, "certificate_expiry", field), f"{field}.certificate_expiry"),
        "conflicts": sorted_unique(i.get("conflicts") or []),
        "max_load": i.get("max_load"),
    }
    for j, c in enumerate(r["conflicts"]):
        check_id(c, f"{field}.conflicts[{j}]")
    if r["max_load"] is not None:
        check_int(r["max_load"], f"{field}.max_load", 32)
    return r


def encode_inspector(i) -> bytes:
    e = Enc()
    e.str(i["id"]).str(i["name"]).strs(i["departments"]).str(i["region"]).strs(i["specialties"])
    e.str(i["certificate_no"]).str(fmt_date(i["certificate_expiry"])).strs(i["conflicts"])
    if i["max_load"] is None:
        e.u8(0)
    else:
        e.u8(1).u32(i["max_load"])
    return bytes(e.b)


# --------------------------------------------------------------------------------------------
# §4 Merkle


def leaf_hash(d: bytes) -> bytes:
    return sha256(b"\x00" + d)


def node_hash(l: bytes, r: bytes) -> bytes:
    return sha256(b"\x01" + l + r)


def mth(leaves):
    if not leaves:
        return sha256(b"")
    level = list(leaves)
    while len(level) > 1:
        level = [node_hash(level[k], level[k + 1]) if k + 1 < len(level) else level[k]
                 for k in range(0, len(level), 2)]
    return level[0]


def verify_inclusion(index, size, leaf, path, root) -> bool:
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


# --------------------------------------------------------------------------------------------
# §5 policy

DEFAULT_TIERS = {
    "penalty": [("good", 300, 1), ("notice", 500, 2), ("watch", 1000, 3), ("warning", 2000, 5), ("focus", 5000, 10)],
    "abcd": [("A", 500, 1), ("B", 2000, 4), ("C", 6000, 12), ("D", 10000, 20)],
}


def parse_ratio(s, field) -> int:
    if not isinstance(s, str):
        raise Mismatch(field, "a percentage string", repr(s))
    t = s.strip()
    if not t.endswith("%"):
        raise Mismatch(field, "a percentage like \"5%\"", s)
    num = t[:-1].strip()
    int_part, _, frac = num.partition(".")
    isdig = lambda d: d != "" and all("0" <= c <= "9" for c in d)
    # §5.1: a "." may be followed by 0, 1 or 2 digits ("5.%" is 5%).
    if not isdig(int_part) or (frac != "" and not isdig(frac)) or len(frac) > 2:
        raise Mismatch(field, "a percentage with at most two decimals", s)
    bp = int(int_part) * 100 + int((frac + "00")[:2])
    if bp > 10_000:
        raise Mismatch(field, "at most 100%", s)
    return bp


def parse_policy(p):
    f = "policy"
    # §5.1: unknown fields are an error everywhere in the policy (and only there).
    no_unknown(p, {"draw_date", "mode", "rounding", "total", "tier_scheme", "tiers", "scope", "cooldown", "inspectors"}, f)
    pol = {}
    pol["draw_date"] = parse_date(need(p, "draw_date", f), "policy.draw_date")
    mode = need(p, "mode", f, str)
    if mode not in ("ratio", "count", "weighted"):
        raise Mismatch("policy.mode", "ratio|count|weighted", mode)
    pol["mode"] = mode
    rounding = p.get("rounding", "up")
    if rounding not in ("up", "down", "nearest"):
        raise Mismatch("policy.rounding", "up|down|nearest", repr(rounding))
    pol["rounding"] = rounding
    scheme = p.get("tier_scheme", "penalty")
    if scheme not in DEFAULT_TIERS:
        raise Mismatch("policy.tier_scheme", "penalty|abcd", repr(scheme))
    pol["tier_scheme"] = scheme
    tiers_in = p.get("tiers") or []
    if not isinstance(tiers_in, list):
        raise Mismatch("policy.tiers", "a list", repr(tiers_in))
    tiers = []
    if not tiers_in:
        # §5.2: the scheme's tiers, ratio and weight given, no count, min 0, no max.
        for name, bp, w in DEFAULT_TIERS[scheme]:
            tiers.append({"name": name, "ratio_bp": bp, "count": 0, "weight": w, "min": 0, "max": None})
    for i, t in enumerate(tiers_in):
        tf = f"policy.tiers[{i}]"
        no_unknown(t, {"name", "ratio", "count", "weight", "min", "max"}, tf)
        name = need(t, "name", tf, str)
        if name.strip() == "" or name.strip() != name:
            raise Mismatch(f"{tf}.name", "non-empty, no surrounding spaces", repr(name))
        if any(o["name"] == name for o in tiers):
            raise Mismatch(f"{tf}.name", "unique tier names", name)
        if t.get("ratio") is not None:
            ratio_bp = parse_ratio(t["ratio"], f"{tf}.ratio")
        elif mode == "ratio":
            raise Mismatch(f"{tf}.ratio", "a ratio (ratio mode)", "(missing)")
        else:
            ratio_bp = 0
        if t.get("count") is not None:
            count = check_int(t["count"], f"{tf}.count", 64)
        elif mode == "count":
            raise Mismatch(f"{tf}.count", "a count (count mode)", "(missing)")
        else:
            count = 0
        if t.get("weight") is not None:
            weight = check_int(t["weight"], f"{tf}.weight", 64)
            if mode == "weighted" and not 1 <= weight <= MAX_WEIGHT:
                raise Mismatch(f"{tf}.weight", f"1..={MAX_WEIGHT}", str(weight))
        elif mode == "weighted":
            raise Mismatch(f"{tf}.weight", "a weight (weighted mode)", "(missing)")
        else:
            weight = 0
        mn = check_int(t.get("min", 0), f"{tf}.min", 64)
        mx = t.get("max")
        if mx is not None:
            check_int(mx, f"{tf}.max", 64)
            if mx < mn:
                raise Mismatch(f"{tf}.max", f">= min {mn}", str(mx))
        tiers.append({"name": name, "ratio_bp": ratio_bp, "count": count, "weight": weight, "min": mn, "max": mx})
    if not tiers:
        raise Mismatch("policy.tiers", "at least one tier", "none")
    pol["tiers"] = tiers
    total = p.get("total")
    if mode == "weighted":
        if total is None:
            raise Mismatch("policy.total", "a total (weighted mode)", "(missing)")
        check_int(total, "policy.total", 64)
    elif total is not None:
        raise Mismatch("policy.total", "absent (only weighted mode takes a total)", str(total))
    pol["total"] = total or 0
    scope = p.get("scope") or {}
    no_unknown(scope, {"kinds", "regions", "industries"}, "policy.scope")
    pol["scope"] = {k: list(scope.get(k) or []) for k in ("kinds", "regions", "industries")}
    cd = p.get("cooldown")
    if cd is not None:
        no_unknown(cd, {"days", "action", "percent"}, "policy.cooldown")
        days = check_int(need(cd, "days", "policy.cooldown"), "policy.cooldown.days", 32)
        action = need(cd, "action", "policy.cooldown", str)
        percent = cd.get("percent")
        if action == "downweight":
            if percent is None or not isinstance(percent, int) or not 1 <= percent <= 100:
                raise Mismatch("policy.cooldown.percent", "1..=100 with downweight", repr(percent))
            if mode == "count":
                raise Mismatch("policy.cooldown.action", "exclude (count mode cannot down-weight)", action)
        elif action == "exclude":
            if percent is not None:
                raise Mismatch("policy.cooldown.percent", "absent with exclude", repr(percent))
        else:
            raise Mismatch("policy.cooldown.action", "exclude|downweight", action)
        cd = {"days": days, "action": action, "percent": percent}
    pol["cooldown"] = cd
    ins = need(p, "inspectors", f, dict)
    no_unknown(ins, {"per_object", "departments", "region_rule", "specialty", "max_load", "exclude_previous"}, "policy.inspectors")
    per_object = check_int(ins.get("per_object", 2), "policy.inspectors.per_object", 32)
    deps = need(ins, "departments", "policy.inspectors", list)
    region_rule = ins.get("region_rule", "any")
    if region_rule not in ("any", "same", "cross"):
        raise Mismatch("policy.inspectors.region_rule", "any|same|cross", repr(region_rule))
    specialty = ins.get("specialty")
    max_load = ins.get("max_load")
    exclude_previous = ins.get("exclude_previous", True)
    if not isinstance(exclude_previous, bool):
        raise Mismatch("policy.inspectors.exclude_previous", "a bool", repr(exclude_previous))
    if per_object == 0:
        raise Mismatch("policy.inspectors.per_object", ">= 1", "0")
    if not deps:
        raise Mismatch("policy.inspectors.departments", "a lead department", "[]")
    for i, d in enumerate(deps):
        if d in deps[:i]:
            raise Mismatch(f"policy.inspectors.departments[{i}]", "no duplicates", d)
    if per_object < len(deps):
        raise Mismatch("policy.inspectors.per_object", f">= {len(deps)} departments", str(per_object))
    if max_load is not None:
        check_int(max_load, "policy.inspectors.max_load", 32)
        if max_load == 0:
            raise Mismatch("policy.inspectors.max_load", ">= 1", "0")
    pol["inspectors"] = {"per_object": per_object, "departments": deps, "region_rule": region_rule,
                         "specialty": specialty, "max_load": max_load, "exclude_previous": exclude_previous}
    return pol


def encode_policy(pol) -> bytes:
    e = Enc("double-random/v1 policy")
    e.str(fmt_date(pol["draw_date"]))
    e.u8({"ratio": 0, "count": 1, "weighted": 2}[pol["mode"]])
    e.u8({"up": 0, "down": 1, "nearest": 2}[pol["rounding"]])
    e.u64(pol["total"])
    e.u8({"penalty": 0, "abcd": 1}[pol["tier_scheme"]])
    e.u32(len(pol["tiers"]))
    for t in pol["tiers"]:
        e.str(t["name"]).u32(t["ratio_bp"]).u64(t["count"]).u64(t["weight"]).u64(t["min"])
        if t["max"] is None:
            e.u8(0)
        else:
            e.u8(1).u64(t["max"])
    for k in ("kinds", "regions", "industries"):
        e.strs(sorted_unique(pol["scope"][k]))
    cd = pol["cooldown"]
    if cd is None:
        e.u8(0)
    else:
        e.u8(1).u32(cd["days"]).u8({"exclude": 0, "downweight": 1}[cd["action"]]).u32(cd["percent"] or 0)
    ins = pol["inspectors"]
    e.u32(ins["per_object"]).strs(ins["departments"]).u8({"any": 0, "same": 1, "cross": 2}[ins["region_rule"]])
    e.opt_str(ins["specialty"]).u32(ins["max_load"] or 0).bool(ins["exclude_previous"])
    return bytes(e.b)


# --------------------------------------------------------------------------------------------
# §6 randomness


def _rotl(v, c):
    return ((v << c) & 0xFFFFFFFF) | (v >> (32 - c))


def _qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = _rotl(s[b] ^ s[c], 7)


def chacha20_block(key: bytes, counter: int, nonce: bytes = bytes(12)) -> bytes:
    """RFC 8439 §2.3."""
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574, *struct.unpack("<8I", key), counter,
             *struct.unpack("<3I", nonce)]
    w = list(state)
    for _ in range(10):
        _qr(w, 0, 4, 8, 12); _qr(w, 1, 5, 9, 13); _qr(w, 2, 6, 10, 14); _qr(w, 3, 7, 11, 15)
        _qr(w, 0, 5, 10, 15); _qr(w, 1, 6, 11, 12); _qr(w, 2, 7, 8, 13); _qr(w, 3, 4, 9, 14)
    return struct.pack("<16I", *[(a + b) & 0xFFFFFFFF for a, b in zip(w, state)])


class Stream:
    def __init__(self, key: bytes):
        self.key, self.counter, self.buf = key, 0, b""

    def next_u64(self) -> int:
        if len(self.buf) < 8:
            self.buf += chacha20_block(self.key, self.counter)
            self.counter += 1
        v = struct.unpack("<Q", self.buf[:8])[0]
        self.buf = self.buf[8:]
        return v

    def below(self, n: int) -> int:
        assert 0 < n < U64
        reject_under = U64 % n
        while True:
            x = self.next_u64()
            if x >= reject_under:
                return x % n


def stream(seed: bytes, purpose: str, index: int) -> Stream:
    return Stream(Enc("double-random/v1 stream").str(purpose).hash(seed).u32(index).digest())


_TICKET_PREFIX = sha256(b"double-random/v1 ticket")


def ticket(seed: bytes, oid: str) -> bytes:
    b = oid.encode("utf-8")
    return sha256(_TICKET_PREFIX + seed + struct.pack(">I", len(b)) + b)


# --------------------------------------------------------------------------------------------
# §7 commitment and seed


def parse_commitment(c):
    f = "commitment"
    head = lambda h, hf: {"count": check_int(need(h, "count", hf), f"{hf}.count", 64), "root": hx32(need(h, "root", hf), f"{hf}.root")}
    strata = []
    for i, s in enumerate(need(c, "strata", f, list)):
        sf = f"commitment.strata[{i}]"
        cooled = need(s, "cooled", sf, bool)
        strata.append({"tier": need(s, "tier", sf, str), "cooled": cooled,
                       "count": check_int(need(s, "count", sf), f"{sf}.count", 64), "root": hx32(need(s, "root", sf), f"{sf}.root")})
    return {
        "protocol": need(c, "protocol", f, str),
        "task_id": need(c, "task_id", f, str),
        "policy_hash": hx32(need(c, "policy_hash", f), "commitment.policy_hash"),
        "strata": strata,
        "excluded": head(need(c, "excluded", f, dict), "commitment.excluded"),
        "ids": head(need(c, "ids", f, dict), "commitment.ids"),
        "inspectors": head(need(c, "inspectors", f, dict), "commitment.inspectors"),
        "secret_hash": hx32(need(c, "secret_hash", f), "commitment.secret_hash"),
        "entropy_source": need(c, "entropy_source", f, str),
    }


def encode_commitment(c) -> bytes:
    e = Enc("double-random/v1 commitment")
    e.str(c["protocol"]).str(c["task_id"]).hash(c["policy_hash"]).u32(len(c["strata"]))
    for s in c["strata"]:
        e.str(s["tier"]).bool(s["cooled"]).u64(s["count"]).hash(s["root"])
    for k in ("excluded", "ids", "inspectors"):
        e.u64(c[k]["count"]).hash(c[k]["root"])
    e.hash(c["secret_hash"]).str(c["entropy_source"])
    return bytes(e.b)


def derive_seed(c, commitment_enc: bytes, secret: bytes, entropy) -> bytes:
    e = Enc("double-random/v1 seed")
    e.str(c["protocol"]).str(c["task_id"]).bytes(commitment_enc).bytes(secret).u32(len(entropy))
    for v in entropy:
        e.bytes(v)
    return e.digest()


# --------------------------------------------------------------------------------------------
# §8 sample sizes


def sample_sizes(pol, strata, seed):
    """strata: list of (tier index, cooled, population)."""
    cd = pol["cooldown"]
    percent = cd["percent"] if cd and cd["action"] == "downweight" else 100
    scale = lambda cooled: percent if cooled else 100
    tiers = pol["tiers"]
    if pol["mode"] == "ratio":
        out = []
        for ti, cooled, n_pop in strata:
            t = tiers[ti]
            num = n_pop * t["ratio_bp"] * scale(cooled)
            den = 1_000_000
            n = {"up": -(-num // den), "down": num // den, "nearest": (2 * num + den) // (2 * den)}[pol["rounding"]]
            n = max(n, min(t["min"], n_pop))
            if t["max"] is not None:
                n = min(n, t["max"])
            out.append(min(n, n_pop))
        return out
    if pol["mode"] == "count":
        return [min(tiers[ti]["count"], n_pop) for ti, _, n_pop in strata]
    weights = [tiers[ti]["weight"] * scale(cooled) for ti, cooled, _ in strata]
    remaining = [s[2] for s in strata]
    sizes = [0] * len(strata)
    total = min(pol["total"], sum(remaining))
    st = stream(seed, "strata", 0)
    for _ in range(total):
        mass = sum(w * r for w, r in zip(weights, remaining))
        if mass >= U64:
            raise Mismatch("policy", "total stratum mass below 2^64", str(mass))
        x = st.below(mass)
        for s in range(len(strata)):
            m = weights[s] * remaining[s]
            if x < m:
                break
            x -= m
        sizes[s] += 1
        remaining[s] -= 1
    return sizes


# --------------------------------------------------------------------------------------------
# §9–§10 matching and replacements


class MatchFailure(Exception):
    pass


class Matcher:
    def __init__(self, pol, inspectors, objects_by_id):
        self.pol, self.ins, self.objs = pol, inspectors, objects_by_id
        self.index = {i["id"]: k for k, i in enumerate(inspectors)}
        ml = pol["inspectors"]["max_load"]
        inf = float("inf")
        self.cap = [min(i["max_load"] if i["max_load"] is not None else inf, ml if ml is not None else inf)
                    for i in inspectors]
        self.load = [0] * len(inspectors)
        self.recused = {}
        self.conflicts = {}
        for k, i in enumerate(inspectors):
            for o in i["conflicts"]:
                self.conflicts.setdefault(o, set()).add(k)
        self.class_cache = {}

    def klass(self, slot, o):
        D = self.pol["inspectors"]["departments"]
        dept = D[slot] if slot < len(D) else None
        rule = self.pol["inspectors"]["region_rule"]
        key = (dept, None if rule == "any" else o["region"])
        if key in self.class_cache:
            return self.class_cache[key]
        spec = self.pol["inspectors"]["specialty"]
        out = []
        for k, i in enumerate(self.ins):
            if dept is None:
                if not any(d in i["departments"] for d in D):
                    continue
            elif dept not in i["departments"]:
                continue
            if rule == "same" and i["region"] != o["region"]:
                continue
            if rule == "cross" and i["region"] == o["region"]:
                continue
            if spec is not None and spec not in i["specialties"]:
                continue
            if i["certificate_expiry"] < self.pol["draw_date"]:
                continue
            out.append(k)
        self.class_cache[key] = out
        return out

    def excluded(self, o, team):
        ex = set(team)
        ex |= self.conflicts.get(o["id"], set())
        if self.pol["inspectors"]["exclude_previous"]:
            ex |= {self.index[i] for i in o["last_inspectors"] if i in self.index}
        ex |= set(self.recused.get(o["id"], []))
        return ex

    def fill_slot(self, o, slot, team, st):
        C = self.klass(slot, o)
        ex = self.excluded(o, team)
        E = [i for i in C if i not in ex and self.load[i] < self.cap[i]]
        if not E:
            raise MatchFailure(f"no eligible inspector for {o['id']} slot {slot}")
        L = min(self.load[i] for i in E)
        Eset = set(E)
        while True:
            i = C[st.below(len(C))]
            if i in Eset and self.load[i] == L:
                self.load[i] += 1
                return i

    def assign(self, o, st):
        team = []
        for slot in range(self.pol["inspectors"]["per_object"]):
            team.append(self.fill_slot(o, slot, team, st))
        return team

    def release(self, i):
        self.load[i] = max(self.load[i] - 1, 0)


def replay_teams(pol, inspectors, objects_by_id, seed, order, requests, replacement_ids):
    """§9 then §10. order: object ids in matching order. replacement_ids[k]: the object that
    request k (object kind) brings in, as published (the public cannot recompute it)."""
    m = Matcher(pol, inspectors, objects_by_id)
    ids = lambda team: [inspectors[i]["id"] for i in team]
    M = stream(seed, "match", 0)
    teams, sequence = {}, []
    for oid in order:
        teams[oid] = m.assign(objects_by_id[oid], M)
        sequence.append(oid)
    assignments = [{"object": o, "inspectors": ids(teams[o])} for o in sequence]
    records = []
    for k, req in enumerate(requests):
        R = stream(seed, "replacement", k)
        x = req["object"]
        if req["reason"].strip() == "":
            raise MatchFailure(f"replacement {k}: empty reason")
        if x not in teams:
            raise MatchFailure(f"replacement {k}: object {x} is not among the drawn objects")
        if req["kind"] == "object":
            y = replacement_ids[k]
            if y not in objects_by_id:
                raise MatchFailure(f"replacement {k}: replacement {y} not in drawn list")
            for i in teams.pop(x):
                m.release(i)
            teams[y] = m.assign(objects_by_id[y], R)
            sequence.append(y)
            records.append({"request": req, "replacement": y, "inspectors": ids(teams[y])})
        else:
            team = teams.pop(x)
            ii = m.index.get(req["inspector"])
            if ii is None or ii not in team:
                raise MatchFailure(f"replacement {k}: inspector {req['inspector']} is not on the team of {x}")
            j = team.index(ii)
            m.recused.setdefault(x, []).append(ii)
            m.release(ii)
            others = team[:j] + team[j + 1:]
            team[j] = m.fill_slot(objects_by_id[x], j, others, R)
            teams[x] = team
            records.append({"request": req, "replacement": inspectors[team[j]]["id"], "inspectors": ids(team)})
    final = [{"object": o, "inspectors": ids(teams[o])} for o in sequence if o in teams]
    return assignments, records, final


# --------------------------------------------------------------------------------------------
# §11 result


def parse_result(r):
    f = "result"
    strata = []
    for i, s in enumerate(need(r, "strata", f, list)):
        sf = f"result.strata[{i}]"
        strata.append({
            "tier": need(s, "tier", sf, str), "cooled": need(s, "cooled", sf, bool),
            "population": check_int(need(s, "population", sf), f"{sf}.population", 64),
            "sample": check_int(need(s, "sample", sf), f"{sf}.sample", 64),
            "cutoff": opt_hx32(s, "cutoff", f"{sf}.cutoff"),
            "extended_cutoff": opt_hx32(s, "extended_cutoff", f"{sf}.extended_cutoff"),
            "selected": [check_id(x, f"{sf}.selected") for x in need(s, "selected", sf, list)],
        })

    def teams(key):
        out = []
        for i, a in enumerate(need(r, key, f, list)):
            af = f"result.{key}[{i}]"
            out.append({"object": check_id(need(a, "object", af, str), f"{af}.object"),
                        "inspectors": [check_id(x, f"{af}.inspectors") for x in need(a, "inspectors", af, list)]})
        return out

    reps = []
    for i, x in enumerate(need(r, "replacements", f, list)):
        xf = f"result.replacements[{i}]"
        q = need(x, "request", xf, dict)
        kind = need(q, "kind", f"{xf}.request", str)
        if kind == "object":
            req = {"kind": "object", "object": check_id(need(q, "object", f"{xf}.request", str), f"{xf}.request.object"),
                   "reason": need(q, "reason", f"{xf}.request", str)}
        elif kind == "inspector":
            req = {"kind": "inspector", "object": check_id(need(q, "object", f"{xf}.request", str), f"{xf}.request.object"),
                   "inspector": check_id(need(q, "inspector", f"{xf}.request", str), f"{xf}.request.inspector"),
                   "reason": need(q, "reason", f"{xf}.request", str)}
        else:
            raise Mismatch(f"{xf}.request.kind", "object|inspector", kind)
        reps.append({"request": req, "replacement": need(x, "replacement", xf, str),
                     "inspectors": [check_id(y, f"{xf}.inspectors") for y in need(x, "inspectors", xf, list)]})
    return {"seed": hx32(need(r, "seed", f), "result.seed"), "strata": strata, "assignments": teams("assignments"),
            "replacements": reps, "final_assignments": teams("final_assignments")}


def encode_result(r, commitment_hash: bytes) -> bytes:
    e = Enc("double-random/v1 result")
    e.hash(commitment_hash).hash(r["seed"]).u32(len(r["strata"]))
    for s in r["strata"]:
        e.str(s["tier"]).bool(s["cooled"]).u64(s["population"]).u64(s["sample"])
        for c in (s["cutoff"], s["extended_cutoff"]):
            if c is None:
                e.u8(0)
            else:
                e.u8(1).hash(c)
        e.strs(s["selected"])

    def teams(lst):
        e.u32(len(lst))
        for a in lst:
            e.str(a["object"]).strs(a["inspectors"])

    teams(r["assignments"])
    e.u32(len(r["replacements"]))
    for x in r["replacements"]:
        q = x["request"]
        if q["kind"] == "object":
            e.u8(0).str(q["object"]).str("").str(q["reason"])
        else:
            e.u8(1).str(q["object"]).str(q["inspector"]).str(q["reason"])
        e.str(x["replacement"]).strs(x["inspectors"])
    teams(r["final_assignments"])
    return bytes(e.b)


# --------------------------------------------------------------------------------------------
# §13 verification


class Checker:
    def __init__(self):
        self.checks = []

    def eq(self, what, field, expected, found):
        if expected != found:
            raise first_difference(field, expected, found)
        if what:
            self.checks.append(what)


def plain(v):
    """A JSON-printable form of a value (hashes as hex)."""
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def first_difference(path, expected, found) -> Mismatch:
    """The path of the first place two values differ, and the two values there."""
    if isinstance(expected, dict) and isinstance(found, dict):
        for k in list(expected) + [k for k in found if k not in expected]:
            if expected.get(k) != found.get(k):
                return first_difference(f"{path}.{k}", expected.get(k), found.get(k))
    if isinstance(expected, (list, tuple)) and isinstance(found, (list, tuple)):
        for i, (a, b) in enumerate(zip(expected, found)):
            if a != b:
                return first_difference(f"{path}[{i}]", a, b)
        if len(expected) != len(found):
            return Mismatch(f"{path}.length", len(expected), len(found))
    return Mismatch(path, plain(expected), plain(found))


def verify(b, out):
    c = Checker()
    out["checks"] = c.checks
    # 1-2
    c.eq("format", "format", PUBLIC_FORMAT, need(b, "format", ""))
    task_id = check_id(need(b, "task_id", "", str), "task_id")
    com = parse_commitment(need(b, "commitment", "", dict))
    commitment_hash = hx32(need(b, "commitment_hash", ""), "commitment_hash")
    secret = hxbytes(need(b, "secret", ""), "secret")
    entropy = [hxbytes(v, f"entropy[{i}]") for i, v in enumerate(need(b, "entropy", "", list))]
    result = parse_result(need(b, "result", "", dict))
    published_digest = hx32(need(b, "result_digest", ""), "result_digest")
    # Computed first so that it is reported even when an earlier check fails.
    digest = sha256(encode_result(result, commitment_hash))
    out["result_digest"] = digest.hex()
    com_enc = encode_commitment(com)
    c.eq("protocol", "commitment.protocol", PROTOCOL, com["protocol"])
    c.eq("task id", "commitment.task_id", task_id, com["task_id"])
    c.eq("commitment hash", "commitment_hash", sha256(com_enc), commitment_hash)
    c.eq("secret hash", "secret", com["secret_hash"], sha256(secret))
    # 3
    pol = parse_policy(need(b, "policy", "", dict))
    c.eq("policy hash", "commitment.policy_hash", sha256(encode_policy(pol)), com["policy_hash"])
    # 4
    seed = derive_seed(com, com_enc, secret, entropy)
    c.eq("seed", "result.seed", seed, result["seed"])
    # 5
    c.eq("result digest", "result_digest", digest, published_digest)
    # 6
    drawn = []
    for i, d in enumerate(need(b, "drawn", "", list)):
        df = f"drawn[{i}]"
        drawn.append({"stratum": check_int(need(d, "stratum", df), f"{df}.stratum", 32),
                      "leaf_index": check_int(need(d, "leaf_index", df), f"{df}.leaf_index", 64),
                      "object": norm_public_object(need(d, "object", df, dict), f"{df}.object"),
                      "salt": hx32(need(d, "salt", df), f"{df}.salt"),
                      "private_digest": hx32(need(d, "private_digest", df), f"{df}.private_digest"),
                      "ticket": hx32(need(d, "ticket", df), f"{df}.ticket"),
                      "proof": [hx32(p, f"{df}.proof[{j}]") for j, p in enumerate(need(d, "proof", df, list))]})
    inspectors = [norm_inspector(x, f"inspectors[{i}]") for i, x in enumerate(need(b, "inspectors", "", list))]
    inspectors.sort(key=lambda i: i["id"].encode())
    for a, z in zip(inspectors, inspectors[1:]):
        if a["id"] == z["id"]:
            raise Mismatch("inspectors", "unique ids", a["id"])
    by_id = {}
    for d in drawn:
        if d["object"]["id"] in by_id:
            raise Mismatch("drawn", "unique ids", d["object"]["id"])
        by_id[d["object"]["id"]] = d
    leaves = [leaf_hash(encode_inspector(i)) for i in inspectors]
    c.eq("inspector list matches the committed inspector tree", "commitment.inspectors",
         {"count": len(leaves), "root": mth(leaves)}, com["inspectors"])
    # 7
    heads = [(s["tier"], s["cooled"], s["count"]) for s in com["strata"]]
    got = [(s["tier"], s["cooled"], s["population"]) for s in result["strata"]]
    c.eq("strata and populations match the commitment", "result.strata", heads, got)
    tier_index = {t["name"]: k for k, t in enumerate(pol["tiers"])}
    for k, s in enumerate(com["strata"]):
        if s["tier"] not in tier_index:
            raise Mismatch(f"commitment.strata[{k}].tier", "a policy tier", s["tier"])
    # 8
    pops = [(tier_index[s["tier"]], s["cooled"], s["count"]) for s in com["strata"]]
    sizes = sample_sizes(pol, pops, seed)
    c.eq("sample sizes recomputed", "result.strata[].sample", sizes, [s["sample"] for s in result["strata"]])
    # 9
    for i, d in enumerate(drawn):
        if d["stratum"] >= len(com["strata"]):
            raise Mismatch(f"drawn[{i}].stratum", "a committed stratum", str(d["stratum"]))
        head = com["strata"][d["stratum"]]
        o = d["object"]
        leaf = leaf_hash(d["salt"] + sha256(encode_public(o)) + d["private_digest"])
        if not verify_inclusion(d["leaf_index"], head["count"], leaf, d["proof"], head["root"]):
            raise Mismatch(f"drawn[{i}].proof", f"inclusion in stratum {d['stratum']} root {head['root'].hex()}",
                           f"{o['id']} does not verify")
        c.eq("", f"drawn[{i}].ticket", ticket(seed, o["id"]), d["ticket"])
    c.checks.append(f"{len(drawn)} drawn objects: inclusion proofs and tickets")
    # 10
    listed = 0
    for si, s in enumerate(result["strata"]):
        prev = None
        for oid in s["selected"]:
            d = by_id.get(oid)
            if d is None or d["stratum"] != si or (prev is not None and not prev < (d["ticket"], oid.encode())):
                raise Mismatch(f"result.strata[{si}].selected",
                               "drawn objects of this stratum in ticket order, each with a proof", oid)
            prev = (d["ticket"], oid.encode())
            listed += 1
        c.eq("", f"result.strata[{si}].cutoff", prev[0] if prev else None, s["cutoff"])
    # 11
    taken = {}
    replacement_ids = {}
    for k, x in enumerate(result["replacements"]):
        if x["request"]["kind"] != "object":
            continue
        old, new = by_id.get(x["request"]["object"]), by_id.get(x["replacement"])
        if old is None or new is None:
            raise Mismatch(f"result.replacements[{k}]", "replaced and replacement objects with proofs", x["replacement"])
        floor = taken.get(old["stratum"], result["strata"][old["stratum"]]["cutoff"])
        if new["stratum"] != old["stratum"] or (floor is not None and new["ticket"] <= floor):
            raise Mismatch(f"result.replacements[{k}].replacement", "the next ticket after the cutoff, in the same stratum",
                           x["replacement"])
        taken[old["stratum"]] = new["ticket"]
        replacement_ids[k] = x["replacement"]
        listed += 1
    for si, s in enumerate(result["strata"]):
        c.eq("", f"result.strata[{si}].extended_cutoff", taken.get(si), s["extended_cutoff"])
    c.eq("selection: ticket order, cutoffs, replacements beyond them", "drawn.length", listed, len(drawn))
    # 12
    order = sorted(((by_id[o]["ticket"], o.encode(), o) for s in result["strata"] for o in s["selected"]))
    objects_by_id = {o: d["object"] for o, d in by_id.items()}
    try:
        a, r, f = replay_teams(pol, inspectors, objects_by_id, seed, [o for _, _, o in order],
                               [x["request"] for x in result["replacements"]], replacement_ids)
    except MatchFailure as e:
        raise Mismatch("result.assignments", "a matching", str(e))
    c.eq("inspector matching replayed", "result.assignments", a, result["assignments"])
    pub = [{"request": x["request"], "replacement": x["replacement"], "inspectors": x["inspectors"]} for x in result["replacements"]]
    c.eq("replacements replayed", "result.replacements", r, pub)
    c.eq("final teams", "result.final_assignments", f, result["final_assignments"])
    # 13-16: checks beyond the reference verifier (spec §13)
    for si, s in enumerate(result["strata"]):
        c.eq("", f"result.strata[{si}].selected.length", s["sample"], len(s["selected"]))
    c.checks.append("every stratum lists exactly its sample size")
    expect = [(t["name"], cooled) for t in pol["tiers"] for cooled in (False, True)]
    c.eq("strata are the policy's tiers, uncooled then cooled", "commitment.strata",
         expect, [(s["tier"], s["cooled"]) for s in com["strata"]])
    downweight = pol["cooldown"] is not None and pol["cooldown"]["action"] == "downweight"
    for k, s in enumerate(com["strata"]):
        if s["cooled"] and not downweight and s["count"] != 0:
            raise Mismatch(f"commitment.strata[{k}].count", "0 (no down-weighted cooldown)", str(s["count"]))
    c.eq("ids tree counts every committed object once", "commitment.ids.count",
         com["excluded"]["count"] + sum(s["count"] for s in com["strata"]), com["ids"]["count"])
    sc = pol["scope"]
    for i, d in enumerate(drawn):
        o = d["object"]
        if o["status"] != "active":
            raise Mismatch(f"drawn[{i}].object.status", "active", o["status"])
        for key, field in (("kinds", "kind"), ("regions", "region"), ("industries", "industry")):
            if sc[key] and o[field] not in sc[key]:
                raise Mismatch(f"drawn[{i}].object.{field}", f"in scope.{key}", o[field])
    c.checks.append("drawn objects are active and in scope")


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = {"valid": False, "result_digest": None, "first_mismatch": None}
    try:
        with open(argv[1], "rb") as fh:
            bundle = json.loads(fh.read().decode("utf-8"))
        verify(bundle, out)
        out["valid"] = True
    except Mismatch as m:
        out["first_mismatch"] = {"field": m.field, "expected": plain(m.expected), "found": plain(m.found)}
    except (ValueError, OSError, KeyError, TypeError, AttributeError) as e:
        out["first_mismatch"] = {"field": "(file)", "expected": "a well-formed public bundle", "found": f"{type(e).__name__}: {e}"}
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0 if out["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
