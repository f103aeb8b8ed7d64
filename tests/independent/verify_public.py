#!/usr/bin/env python3
"""Independent verifier of double-random/v1 and /v2 public bundles, written from docs/draw-spec.md
only (each bundle checked by the rules of its commitment's protocol).

Usage: verify_public.py PUBLIC_BUNDLE.json [--key HEX] [--attestations FILE [--auditors FILE]]
Prints {"valid": bool, "result_digest": hex, "first_mismatch": null | {...}, "checks": [...]}
and exits 0 iff the bundle is valid. Python 3.11+, standard library only.
A v2 bundle's `commitment_log` is checked when present (§22; its signature and time with
--key, the publication key); attestations are checked when given (§21).

Performs every check of spec §13 in the order of the reference `verify_public`, so that the
first mismatch reported is the same field. Bundle fields the spec does not name are ignored
(except inside `policy`, where they are an error).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import sys
import unicodedata

PROTOCOLS = ("double-random/v1", "double-random/v2")
V1, V2 = PROTOCOLS
PROTOCOL = V1  # the default of helpers that take a protocol


def fmt(kind: str, protocol: str) -> str:
    """The format string of an artefact kind (`full-bundle`, `public-bundle`,
    `enterprise-proof`) under `protocol` (§12-§14)."""
    return f"double-random/{kind}/{protocol.rsplit('/', 1)[1]}"


def label(protocol: str, name: str) -> str:
    """A domain label of the protocol (§2), e.g. `double-random/v2 seed`."""
    return f"{protocol} {name}"


MIN_BITS, WARN_BITS = 64, 128
MAX_WEIGHT = 1_000_000
MAX_TOTAL = 100_000_000
MIN_SECRET = 16
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

    def date(self, d: "Date"):
        """§2 date(d): lp of the 10 ASCII bytes YYYY-MM-DD."""
        return self.bytes(d.ascii())

    def digest(self):
        return sha256(bytes(self.b))


# --------------------------------------------------------------------------------------------
# Dates (§2): proleptic Gregorian, any year the reference reader accepts.

# Unicode White_Space (what the reference's trim functions remove).
WHITE_SPACE = set("\u0009\u000a\u000b\u000c\u000d\u0020\u0085\u00a0\u1680\u2028\u2029\u202f\u205f\u3000"
                  + "".join(chr(c) for c in range(0x2000, 0x200B)))
MIN_YEAR, MAX_YEAR = -262143, 262142


def trim_start(s: str) -> str:
    i = 0
    while i < len(s) and s[i] in WHITE_SPACE:
        i += 1
    return s[i:]


def trim(s: str) -> str:
    s = trim_start(s)
    j = len(s)
    while j > 0 and s[j - 1] in WHITE_SPACE:
        j -= 1
    return s[:j]


def _days_in_month(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


class Date:
    __slots__ = ("y", "m", "d")

    def __init__(self, y, m, d):
        self.y, self.m, self.d = y, m, d

    def key(self):
        return (self.y, self.m, self.d)

    def __eq__(self, o):
        return isinstance(o, Date) and self.key() == o.key()

    def __lt__(self, o):
        return self.key() < o.key()

    def __le__(self, o):
        return self.key() <= o.key()

    def __ge__(self, o):
        return self.key() >= o.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return self.iso()

    def ordinal(self) -> int:
        """Days since 1970-01-01 (Howard Hinnant's days_from_civil; floor division throughout)."""
        y = self.y - (1 if self.m <= 2 else 0)
        era = y // 400
        yoe = y - era * 400
        mp = (self.m + 9) % 12
        doy = (153 * mp + 2) // 5 + self.d - 1
        doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
        return era * 146097 + doe - 719468

    def ascii(self) -> bytes:
        """§2: year clamped to 0000..9999, month and day zero-padded."""
        y = min(max(self.y, 0), 9999)
        return f"{y:04d}-{self.m:02d}-{self.d:02d}".encode()

    def iso(self) -> str:
        return f"{self.y:04d}-{self.m:02d}-{self.d:02d}" if 0 <= self.y <= 9999 else f"{self.y:+d}-{self.m:02d}-{self.d:02d}"


def _number(s, lo, hi):
    """Up to `hi` ASCII digits (at least `lo`); returns (value, rest) or None."""
    n = 0
    i = 0
    while i < len(s) and i < hi and "0" <= s[i] <= "9":
        n = n * 10 + ord(s[i]) - 48
        i += 1
    if i < lo:
        return None
    return n, s[i:]


def four_digit_year(d: "Date", field) -> "Date":
    """§3: record dates must lie in the years 1900..9999 (the 10-byte encoding needs four digits)."""
    if not 1900 <= d.y <= 9999:
        raise Mismatch(field, "a date in the years 1900 to 9999", d.iso())
    return d


def parse_date(v, field) -> Date:
    """A JSON date as the reference reads it (chrono's NaiveDate::from_str): optional white space
    before each number, before each "-" and at the end; a year of 1 to 4 digits or a sign and any
    number of digits; a month and a day of 1 or 2 digits; a valid calendar date."""
    bad = Mismatch(field, "YYYY-MM-DD", repr(v))
    if not isinstance(v, str):
        raise bad
    s = trim_start(v)
    if s[:1] in ("-", "+"):
        r = _number(s[1:], 1, 10**9)
        if r is None:
            raise bad
        y = -r[0] if s[0] == "-" else r[0]
        s = r[1]
    else:
        r = _number(s, 1, 4)
        if r is None:
            raise bad
        y, s = r
    parts = []
    for _ in range(2):
        s = trim_start(s)
        if not s.startswith("-"):
            raise bad
        s = trim_start(s[1:])
        r = _number(s, 1, 2)
        if r is None:
            raise bad
        parts.append(r[0])
        s = r[1]
    if trim_start(s) != "":
        raise bad
    m, d = parts
    if not MIN_YEAR <= y <= MAX_YEAR or not 1 <= m <= 12 or not 1 <= d <= _days_in_month(y, m):
        raise bad
    return Date(y, m, d)


# --------------------------------------------------------------------------------------------
# JSON helpers. A field the reference reads with a default (not an Option) may be absent but not
# null; an optional one may be absent or null.

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def hxbytes(v, field) -> bytes:
    if not isinstance(v, str) or not _HEX.fullmatch(v):
        raise Mismatch(field, "hex string", repr(v))
    return bytes.fromhex(v)


def hx32(v, field) -> bytes:
    b = hxbytes(v, field)
    if len(b) != 32:
        raise Mismatch(field, "32-byte hex string", v)
    return b


def sub(field, key):
    return f"{field}.{key}" if field else key


def need(obj, key, field, typ=None):
    if not isinstance(obj, dict) or key not in obj:
        raise Mismatch(sub(field, key), "present", "(missing)")
    v = obj[key]
    if typ is not None and (not isinstance(v, typ) or (typ is int and isinstance(v, bool))):
        raise Mismatch(sub(field, key), typ.__name__, repr(v))
    return v


def dflt(obj, key, field, default, typ=None):
    """A field with a default: absent → default; null is an error."""
    if key not in obj:
        return default
    return need(obj, key, field, typ)


def opt(obj, key, field, typ=None):
    """An optional field: absent or null → None."""
    if obj.get(key) is None:
        return None
    return need(obj, key, field, typ)


def check_int(v, field, bits):
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 2**bits:
        raise Mismatch(field, f"u{bits}", repr(v))
    return v


def str_list(v, field):
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise Mismatch(field, "a list of strings", repr(v))
    return list(v)


def check_id(s, field):
    """§3.5: 1..128 bytes, no surrounding white space, no control characters."""
    if not isinstance(s, str):
        raise Mismatch(field, "an id string", repr(s))
    n = len(s.encode("utf-8"))
    if n == 0 or n > 128 or trim(s) != s or any(unicodedata.category(c) == "Cc" for c in s):
        raise Mismatch(field, "an id of 1 to 128 bytes, no surrounding spaces or control characters", repr(s))
    return s


def id_list(v, field):
    if not isinstance(v, list):
        raise Mismatch(field, "a list of ids", repr(v))
    return [check_id(x, f"{field}[{j}]") for j, x in enumerate(v)]


def no_unknown(obj, allowed, field):
    if not isinstance(obj, dict):
        raise Mismatch(field, "an object", repr(obj))
    for k in obj:
        if k not in allowed:
            raise Mismatch(f"{field}.{k}", "(no such field)", "present")


def one_of(v, choices, field):
    if v not in choices:
        raise Mismatch(field, "|".join(choices), repr(v))
    return v


def u8key(s: str):
    return s.encode("utf-8")


def sorted_unique(items):
    return sorted(set(items), key=u8key)


# --------------------------------------------------------------------------------------------
# §3 records


STATUSES = ("active", "closed", "deregistered", "revoked")


def norm_public_object(o, field):
    """§3.1 public part. `last_inspectors_raw` keeps the list as given (the leaf is hashed over
    it, §13 step 9); `last_inspectors` is normalised (§3.4)."""
    if not isinstance(o, dict):
        raise Mismatch(field, "an object", repr(o))
    r = {
        "id": check_id(need(o, "id", field, str), f"{field}.id"),
        "name": need(o, "name", field, str),
        "kind": need(o, "kind", field, str),
        "region": need(o, "region", field, str),
        "industry": need(o, "industry", field, str),
        "status": one_of(need(o, "status", field), STATUSES, f"{field}.status"),
        "last_inspectors_raw": id_list(dflt(o, "last_inspectors", field, []), f"{field}.last_inspectors"),
    }
    r["last_inspectors"] = sorted_unique(r["last_inspectors_raw"])
    return r


def encode_public(o, key="last_inspectors_raw") -> bytes:
    """§3.1 public(o)."""
    e = Enc()
    e.str(o["id"]).str(o["name"]).str(o["kind"]).str(o["region"]).str(o["industry"]).str(o["status"])
    e.strs(o[key])
    return bytes(e.b)


def norm_inspector(i, field):
    if not isinstance(i, dict):
        raise Mismatch(field, "an object", repr(i))
    r = {
        "id": check_id(need(i, "id", field, str), f"{field}.id"),
        "name": need(i, "name", field, str),
        "departments": sorted_unique(str_list(need(i, "departments", field), f"{field}.departments")),
        "region": need(i, "region", field, str),
        "specialties": sorted_unique(str_list(dflt(i, "specialties", field, []), f"{field}.specialties")),
        "certificate_no": need(i, "certificate_no", field, str),
        "certificate_expiry": four_digit_year(parse_date(need(i, "certificate_expiry", field), f"{field}.certificate_expiry"), f"{field}.certificate_expiry"),
        "conflicts": sorted_unique(id_list(dflt(i, "conflicts", field, []), f"{field}.conflicts")),
        "max_load": opt(i, "max_load", field),
    }
    if r["max_load"] is not None:
        check_int(r["max_load"], f"{field}.max_load", 32)
    return r


def encode_inspector(i) -> bytes:
    """§3.3 inspector(i)."""
    e = Enc()
    e.str(i["id"]).str(i["name"]).strs(i["departments"]).str(i["region"]).strs(i["specialties"])
    e.str(i["certificate_no"]).date(i["certificate_expiry"]).strs(i["conflicts"])
    if i["max_load"] is None:
        e.u8(0)
    else:
        e.u8(1).u32(i["max_load"])
    return bytes(e.b)


def norm_public_inspector(i, field):
    """§3.3 (v2) a public inspector as a public bundle lists it."""
    if not isinstance(i, dict):
        raise Mismatch(field, "an object", repr(i))
    r = {
        "id": check_id(need(i, "id", field, str), f"{field}.id"),
        "name": need(i, "name", field, str),
        "departments": sorted_unique(str_list(need(i, "departments", field), f"{field}.departments")),
        "region": need(i, "region", field, str),
        "specialties": sorted_unique(str_list(dflt(i, "specialties", field, []), f"{field}.specialties")),
        "certificate_valid": need(i, "certificate_valid", field, bool),
        "max_load": opt(i, "max_load", field),
        "private_digest": hx32(need(i, "private_digest", field), f"{field}.private_digest"),
        "conflicts": sorted_unique(id_list(dflt(i, "conflicts", field, []), f"{field}.conflicts")),
    }
    if r["max_load"] is not None:
        check_int(r["max_load"], f"{field}.max_load", 32)
    return r


def encode_inspector_public(i, valid: bool) -> bytes:
    """§3.3 (v2) inspector_public(i)."""
    e = Enc()
    e.str(i["id"]).str(i["name"]).strs(i["departments"]).str(i["region"]).strs(i["specialties"]).bool(valid)
    if i["max_load"] is None:
        e.u8(0)
    else:
        e.u8(1).u32(i["max_load"])
    return bytes(e.b)


def inspector_private_digest(salt_key: bytes, i) -> bytes:
    """§3.3 (v2) the inspector's digest keyed by the salt key."""
    e = Enc().str(i["id"]).str(i["certificate_no"]).date(i["certificate_expiry"]).strs(i["conflicts"])
    return sha256(sha256(f"{V2} inspector private".encode()) + salt_key + bytes(e.b))


def object_leaf(private_digest: bytes, public: bytes, reason: str | None = None) -> bytes:
    """§4.2: leaf_hash(private_digest ‖ public(o) [‖ lp(reason)])."""
    d = private_digest + public
    if reason is not None:
        d += bytes(Enc().str(reason).b)
    return leaf_hash(d)


def public_exclusion(pol, o):
    """§7.1 exclusion by the public fields (status, scope); None if the object is eligible."""
    sc = pol["scope"]
    if o["status"] != "active":
        return "status:" + o["status"]
    for key, field, code in (("kinds", "kind", "scope:kind"), ("regions", "region", "scope:region"),
                             ("industries", "industry", "scope:industry")):
        if sc[key] and o[field] not in sc[key]:
            return code
    return None


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
    """§5.1: optional white space, digits, optionally "." and 1 or 2 digits, optional white
    space, "%", optional white space."""
    t = trim(s)
    if not t.endswith("%"):
        raise Mismatch(field, "a percentage like \"5%\"", s)
    num = trim(t[:-1])
    int_part, dot, frac = num.partition(".")
    isdig = lambda d: d != "" and all("0" <= c <= "9" for c in d)
    if not isdig(int_part) or (dot and not isdig(frac)) or len(frac) > 2:
        raise Mismatch(field, "a percentage with at most two decimals", s)
    if int(int_part) >= U64:
        raise Mismatch(field, "a percentage (integer part too large)", s)
    bp = int(int_part) * 100 + int((frac + "00")[:2])
    if bp > 10_000:
        raise Mismatch(field, "at most 100%", s)
    return bp


def parse_policy(p):
    """§5.1–§5.3: read (types, defaults, unknown fields) then validate, in the reference's order."""
    f = "policy"
    no_unknown(p, {"draw_date", "mode", "rounding", "total", "tier_scheme", "tiers", "scope", "cooldown", "inspectors",
                   "replacements"}, f)
    # Reading (what a JSON reader of the policy enforces).
    draw_date = parse_date(need(p, "draw_date", f), "policy.draw_date")
    mode = one_of(need(p, "mode", f), ("ratio", "count", "weighted"), "policy.mode")
    rounding = one_of(dflt(p, "rounding", f, "up"), ("up", "down", "nearest"), "policy.rounding")
    total = opt(p, "total", f)
    if total is not None:
        check_int(total, "policy.total", 64)
    scheme = one_of(dflt(p, "tier_scheme", f, "penalty"), ("penalty", "abcd"), "policy.tier_scheme")
    tiers_in = dflt(p, "tiers", f, [], list)
    raw_tiers = []
    for i, t in enumerate(tiers_in):
        tf = f"policy.tiers[{i}]"
        no_unknown(t, {"name", "ratio", "count", "weight", "min", "max"}, tf)
        rt = {"name": need(t, "name", tf, str), "ratio": opt(t, "ratio", tf, str),
              "count": opt(t, "count", tf), "weight": opt(t, "weight", tf),
              "min": check_int(dflt(t, "min", tf, 0), f"{tf}.min", 64), "max": opt(t, "max", tf)}
        for k in ("count", "weight", "max"):
            if rt[k] is not None:
                check_int(rt[k], f"{tf}.{k}", 64)
        raw_tiers.append(rt)
    scope = dflt(p, "scope", f, {})
    no_unknown(scope, {"kinds", "regions", "industries"}, "policy.scope")
    scope = {k: str_list(dflt(scope, k, "policy.scope", []), f"policy.scope.{k}") for k in ("kinds", "regions", "industries")}
    cd = opt(p, "cooldown", f)
    if cd is not None:
        no_unknown(cd, {"days", "action", "percent"}, "policy.cooldown")
        cd = {"days": check_int(need(cd, "days", "policy.cooldown"), "policy.cooldown.days", 32),
              "action": one_of(need(cd, "action", "policy.cooldown"), ("exclude", "downweight"), "policy.cooldown.action"),
              "percent": opt(cd, "percent", "policy.cooldown")}
        if cd["percent"] is not None:
            check_int(cd["percent"], "policy.cooldown.percent", 32)
    ins = need(p, "inspectors", f)
    no_unknown(ins, {"per_object", "departments", "region_rule", "specialty", "max_load", "exclude_previous"}, "policy.inspectors")
    per_object = check_int(dflt(ins, "per_object", "policy.inspectors", 2), "policy.inspectors.per_object", 32)
    deps = str_list(need(ins, "departments", "policy.inspectors"), "policy.inspectors.departments")
    region_rule = one_of(dflt(ins, "region_rule", "policy.inspectors", "any"), ("any", "same", "cross"), "policy.inspectors.region_rule")
    specialty = opt(ins, "specialty", "policy.inspectors", str)
    max_load = opt(ins, "max_load", "policy.inspectors")
    if max_load is not None:
        check_int(max_load, "policy.inspectors.max_load", 32)
    exclude_previous = dflt(ins, "exclude_previous", "policy.inspectors", True, bool)

    # Validation, §5.3, in order.
    if not raw_tiers:
        # §5.2: the scheme's tiers, with ratio and weight, no count, min 0, no max.
        raw_tiers = [{"name": n, "ratio": fmt_ratio(bp), "count": None, "weight": w, "min": 0, "max": None}
                     for n, bp, w in DEFAULT_TIERS[scheme]]
    tiers = []
    for i, t in enumerate(raw_tiers):
        tf = f"policy.tiers[{i}]"
        name = t["name"]
        if trim(name) == "" or trim(name) != name:
            raise Mismatch(f"{tf}.name", "non-empty, no surrounding spaces", repr(name))
        if any(o["name"] == name for o in raw_tiers[:i]):
            raise Mismatch(f"{tf}.name", "unique tier names", name)
        if t["ratio"] is not None:
            ratio_bp = parse_ratio(t["ratio"], f"{tf}.ratio")
        elif mode == "ratio":
            raise Mismatch(f"{tf}.ratio", "a ratio (ratio mode)", "(missing)")
        else:
            ratio_bp = 0
        if t["count"] is not None:
            count = t["count"]
        elif mode == "count":
            raise Mismatch(f"{tf}.count", "a count (count mode)", "(missing)")
        else:
            count = 0
        if t["weight"] is not None:
            weight = t["weight"]
            if mode == "weighted" and not 1 <= weight <= MAX_WEIGHT:
                raise Mismatch(f"{tf}.weight", f"1..={MAX_WEIGHT}", str(weight))
        elif mode == "weighted":
            raise Mismatch(f"{tf}.weight", "a weight (weighted mode)", "(missing)")
        else:
            weight = 0
        if mode != "ratio" and (t["min"] != 0 or t["max"] is not None):
            raise Mismatch(f"{tf}.min", "min and max only in ratio mode", mode)
        if t["max"] is not None and t["max"] < t["min"]:
            raise Mismatch(f"{tf}.max", f">= min {t['min']}", str(t["max"]))
        tiers.append({"name": name, "ratio_bp": ratio_bp, "count": count, "weight": weight, "min": t["min"], "max": t["max"]})
    if not tiers:
        raise Mismatch("policy.tiers", "at least one tier", "none")
    if mode == "weighted":
        if total is None:
            raise Mismatch("policy.total", "a total (weighted mode)", "(missing)")
        if total > MAX_TOTAL:
            raise Mismatch("policy.total", f"at most {MAX_TOTAL}", str(total))
    elif total is not None:
        raise Mismatch("policy.total", "absent (only weighted mode takes a total)", str(total))
    if cd is not None:
        if cd["action"] == "downweight":
            if cd["percent"] is None or not 1 <= cd["percent"] <= 100:
                raise Mismatch("policy.cooldown.percent", "1..=100 with downweight", repr(cd["percent"]))
            if mode == "count":
                raise Mismatch("policy.cooldown.action", "exclude (count mode cannot down-weight)", "downweight")
        elif cd["percent"] is not None:
            raise Mismatch("policy.cooldown.percent", "absent with exclude", repr(cd["percent"]))
    if not 1900 <= draw_date.y <= 9999:
        raise Mismatch("policy.draw_date", "a year from 1900 to 9999", draw_date.iso())
    if per_object == 0:
        raise Mismatch("policy.inspectors.per_object", ">= 1", "0")
    if not deps:
        raise Mismatch("policy.inspectors.departments", "a lead department", "[]")
    for i, d in enumerate(deps):
        if d in deps[:i]:
            raise Mismatch(f"policy.inspectors.departments[{i}]", "no duplicates", d)
    if per_object < len(deps):
        raise Mismatch("policy.inspectors.per_object", f">= {len(deps)} departments", str(per_object))
    if max_load == 0:
        raise Mismatch("policy.inspectors.max_load", ">= 1", "0")
    caps = read_caps(opt(p, "replacements", f))
    return {"replacements": caps,"draw_date": draw_date, "mode": mode, "rounding": rounding, "total": total or 0, "tier_scheme": scheme,
            "tiers": tiers, "scope": scope, "cooldown": cd,
            "inspectors": {"per_object": per_object, "departments": deps, "region_rule": region_rule,
                           "specialty": specialty, "max_load": max_load, "exclude_previous": exclude_previous}}


DEFAULT_CAPS = {"object_cap_bp": 500, "recusals_per_slot": 2}


def read_caps(r):
    """§5.1 `replacements` (v2): None when absent (the defaults apply)."""
    if r is None:
        return None
    f = "policy.replacements"
    if not isinstance(r, dict):
        raise Mismatch(f, "a table", repr(r))
    no_unknown(r, set(DEFAULT_CAPS), f)
    caps = {k: check_int(dflt(r, k, f, d), f"{f}.{k}", 32) for k, d in DEFAULT_CAPS.items()}
    if caps["object_cap_bp"] > 10000:
        raise Mismatch(f"{f}.object_cap_bp", "at most 10000 (100% of the sample)", str(caps["object_cap_bp"]))
    return caps


def caps_of(pol):
    return pol["replacements"] or DEFAULT_CAPS


def object_cap(pol, total_sample: int) -> int:
    """§10: max(1, floor(S · object_cap_bp / 10000))."""
    return max(1, total_sample * caps_of(pol)["object_cap_bp"] // 10000)


def fmt_ratio(bp: int) -> str:
    return f"{bp // 100}%" if bp % 100 == 0 else f"{bp // 100}.{bp % 100:02d}".rstrip("0") + "%"


def encode_policy(pol, proto=PROTOCOL) -> bytes:
    """§5.4 policy_enc under the commitment's protocol (v2 appends the replacement caps)."""
    e = Enc(f"{proto} policy")
    e.date(pol["draw_date"])
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
    if proto == V2:
        caps = caps_of(pol)
        e.u32(caps["object_cap_bp"]).u32(caps["recusals_per_slot"])
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


def stream(seed: bytes, purpose: str, index: int, proto=PROTOCOL) -> Stream:
    return Stream(Enc(f"{proto} stream").str(purpose).hash(seed).u32(index).digest())


def object_stream(seed: bytes, purpose: str, oid: str, slot: int, number: int) -> Stream:
    """§6.3 (v2): a stream fixed by the object, slot and recusal number it is for."""
    return Stream(Enc(f"{V2} stream").str(purpose).hash(seed).str(oid).u32(slot).u32(number).digest())


def ticket(seed: bytes, oid: str, proto=PROTOCOL, leaf: bytes | None = None) -> bytes:
    """§6.4: v1 from the id; v2 from the object's stratum leaf hash."""
    if proto == V2:
        return sha256(sha256(f"{V2} ticket".encode()) + seed + leaf)
    b = oid.encode("utf-8")
    return sha256(sha256(f"{PROTOCOL} ticket".encode()) + seed + struct.pack(">I", len(b)) + b)


# --------------------------------------------------------------------------------------------
# §7 commitment and seed


def parse_source(x, f):
    """An announced entropy source (§7.6)."""
    if not isinstance(x, dict):
        raise Mismatch(f, "an object", repr(x))
    kind = need(x, "kind", f, str)
    if kind == "drand":
        at = need(x, "at", f, str)
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", at):
            raise Mismatch(f"{f}.at", "YYYY-MM-DDTHH:MM:SSZ", at)
        return {"kind": kind, "chain": hx32(need(x, "chain", f), f"{f}.chain"),
                "round": check_int(need(x, "round", f), f"{f}.round", 64), "at": at}
    if kind == "lottery":
        groups = []
        for i, g in enumerate(need(x, "groups", f, list)):
            gf = f"{f}.groups[{i}]"
            groups.append({"count": check_int(need(g, "count", gf), f"{gf}.count", 32),
                           "min": check_int(need(g, "min", gf), f"{gf}.min", 32),
                           "max": check_int(need(g, "max", gf), f"{gf}.max", 32),
                           "ordered": need(g, "ordered", gf, bool), "distinct": need(g, "distinct", gf, bool)})
        return {"kind": kind, "name": need(x, "name", f, str), "issue": need(x, "issue", f, str),
                "draw_date": parse_date(need(x, "draw_date", f), f"{f}.draw_date"), "groups": groups}
    if kind == "witness":
        return {"kind": kind, "event": need(x, "event", f, str),
                "witnesses": check_int(need(x, "witnesses", f), f"{f}.witnesses", 32)}
    raise Mismatch(f"{f}.kind", "drand, lottery or witness", kind)


def parse_commitment(c):
    f = "commitment"
    if not isinstance(c, dict):
        raise Mismatch(f, "an object", repr(c))
    head = lambda h, hf: {"count": check_int(need(h, "count", hf), f"{hf}.count", 64), "root": hx32(need(h, "root", hf), f"{hf}.root")}
    strata = []
    for i, s in enumerate(need(c, "strata", f, list)):
        sf = f"commitment.strata[{i}]"
        strata.append({"tier": need(s, "tier", sf, str), "cooled": need(s, "cooled", sf, bool),
                       "count": check_int(need(s, "count", sf), f"{sf}.count", 64), "root": hx32(need(s, "root", sf), f"{sf}.root")})
    protocol = need(c, "protocol", f, str)
    if protocol not in PROTOCOLS:
        raise Mismatch("commitment.protocol", " or ".join(PROTOCOLS), protocol)
    return {
        "protocol": protocol,
        "task_id": need(c, "task_id", f, str),
        "policy_hash": hx32(need(c, "policy_hash", f), "commitment.policy_hash"),
        "strata": strata,
        "excluded": head(need(c, "excluded", f, dict), "commitment.excluded"),
        "ids": head(need(c, "ids", f, dict), "commitment.ids"),
        "inspectors": head(need(c, "inspectors", f, dict), "commitment.inspectors"),
        "secret_hash": hx32(need(c, "secret_hash", f), "commitment.secret_hash"),
        "entropy_source": need(c, "entropy_source", f, str),
        # omitted when empty / false (§7.3)
        "entropy_sources": [parse_source(x, f"commitment.entropy_sources[{i}]")
                            for i, x in enumerate(dflt(c, "entropy_sources", f, [], list))],
        "allow_weak_entropy": dflt(c, "allow_weak_entropy", f, False, bool),
    }


def encode_source(e, s):
    """source_enc (§7.4)."""
    e.str(s["kind"])
    if s["kind"] == "drand":
        e.hash(s["chain"]).u64(s["round"]).str(s["at"])
    elif s["kind"] == "lottery":
        e.str(s["name"]).str(s["issue"]).bytes(s["draw_date"].ascii()).u32(len(s["groups"]))
        for g in s["groups"]:
            e.u32(g["count"]).u32(g["min"]).u32(g["max"]).bool(g["ordered"]).bool(g["distinct"])
    else:
        e.str(s["event"]).u32(s["witnesses"])


def encode_commitment(c) -> bytes:
    e = Enc(label(c["protocol"], "commitment"))
    e.str(c["protocol"]).str(c["task_id"]).hash(c["policy_hash"]).u32(len(c["strata"]))
    for s in c["strata"]:
        e.str(s["tier"]).bool(s["cooled"]).u64(s["count"]).hash(s["root"])
    for k in ("excluded", "ids", "inspectors"):
        e.u64(c[k]["count"]).hash(c[k]["root"])
    e.hash(c["secret_hash"]).str(c["entropy_source"])
    if c["protocol"] == V2:
        e.u32(len(c["entropy_sources"]))
        for s in c["entropy_sources"]:
            encode_source(e, s)
        e.bool(c["allow_weak_entropy"])
    return bytes(e.b)


def derive_seed(c, commitment_enc: bytes, secret: bytes, entropy) -> bytes:
    e = Enc(label(c["protocol"], "seed"))
    e.str(c["protocol"]).str(c["task_id"]).bytes(commitment_enc).bytes(secret).u32(len(entropy))
    for v in entropy:
        e.bytes(v)
    return e.digest()


DRAND_LINE = re.compile(r"drand: chain ([0-9a-f]{64}) round ([1-9][0-9]*) at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\Z")


def drand_chain_hash(chain) -> bytes:
    """drand's chain hash (§20.1): period, genesis, public key, group hash [, beacon id]."""
    h = struct.pack(">I", chain["period"]) + struct.pack(">q", chain["genesis_time"])
    h += bytes.fromhex(chain["public_key"]) + bytes.fromhex(chain["group_hash"])
    if chain["beacon_id"] not in ("", "default"):
        h += chain["beacon_id"].encode()
    return sha256(h)


def utc(t: int) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_beacons(c, source: str, entropy, beacons):
    """§20.3 without the BLS pairing (beyond the standard library): each announced round has a
    beacon of the announced chain, produced at the announced time, whose SHA-256(signature) is
    the entropy value on the announcement's line; every beacon is announced."""
    lines = source.split("\n")
    duplicate_beacons(beacons, "beacons")
    used = [False] * len(beacons)
    for i, line in enumerate(lines):
        if not line.startswith("drand: chain "):
            if looks_like_drand(line):
                raise Mismatch("beacons", "a valid drand beacon for every announced round", f"entropy_source line {i + 1} looks like a drand announcement")
            continue
        m = DRAND_LINE.match(line)
        if not m:
            raise Mismatch("beacons", "a valid drand beacon for every announced round", f"entropy_source line {i + 1} is malformed")
        chain_hash, rnd, at = m.group(1), int(m.group(2)), m.group(3)
        if len(lines) != len(entropy):
            raise Mismatch("beacons", "one entropy value per entropy_source line", f"{len(lines)} lines, {len(entropy)} values")
        k = next((k for k, b in enumerate(beacons) if b["beacon"]["round"] == rnd and drand_chain_hash(b["chain"]).hex() == chain_hash), None)
        if k is None:
            raise Mismatch("beacons", "a valid drand beacon for every announced round", f"no beacon for round {rnd}")
        used[k] = True
        chain, beacon = beacons[k]["chain"], beacons[k]["beacon"]
        if utc(chain["genesis_time"] + (rnd - 1) * chain["period"]) != at:
            raise Mismatch("beacons", "a valid drand beacon for every announced round", f"round {rnd} is not produced at {at}")
        if sha256(bytes.fromhex(beacon["signature"])) != entropy[i]:
            raise Mismatch("beacons", "a valid drand beacon for every announced round", f"entropy value {i + 1} is not SHA-256 of round {rnd}'s signature")
        c.checks.append(f"drand round {rnd}: chain, time and randomness (the BLS signature is not checked here)")
    if not all(used):
        raise Mismatch("beacons", "every beacon announced", "a beacon no entropy_source line announces")


def looks_like_drand(line: str) -> bool:
    """§20.1: after leading white space, `drand` in any case (full-width letters folded), then
    anything but a letter or digit."""
    t = "".join(chr(ord(ch) - 0xFEE0) if 0xFF01 <= ord(ch) <= 0xFF5E else ch for ch in line.lstrip()[:6])
    return t[:5].lower() == "drand" and (len(t) == 5 or not t[5].isalnum())


def duplicate_beacons(beacons, field):
    for k in range(1, len(beacons)):
        if beacons[k] in beacons[:k]:
            raise Mismatch(field, "a valid drand beacon for every announced round", f"beacon record {k + 1} repeats an earlier one")


def drand_line(s) -> str:
    return f"drand: chain {s['chain'].hex()} round {s['round']} at {s['at']}"


def comb(n, k):
    import math
    return math.comb(n, k)


def min_entropy_bits(s) -> int:
    """§7.6: drand 256, witness 0, lottery floor(log2(outcomes))."""
    if s["kind"] == "drand":
        return 256
    if s["kind"] == "witness":
        return 0
    n = 1
    for g in s["groups"]:
        r, k = g["max"] - g["min"] + 1, g["count"]
        if g["ordered"] and g["distinct"]:
            o = 1
            for i in range(k):
                o *= r - i
        elif g["ordered"]:
            o = r ** k
        elif g["distinct"]:
            o = comb(r, k)
        else:
            o = comb(r + k - 1, k)
        n *= o
    return n.bit_length() - 1


def text_ok(s: str) -> bool:
    return 1 <= len(s.encode()) <= 128 and s.strip() == s and not any(unicodedata.category(ch) == "Cc" for ch in s)


def validate_source(s) -> str | None:
    """The announcement's own rules (§7.6); a reason when broken."""
    if s["kind"] == "drand":
        return "drand rounds start at 1" if s["round"] == 0 else None
    if s["kind"] == "witness":
        if not text_ok(s["event"]):
            return "bad witness event"
        return "a witness source has at least one witness" if s["witnesses"] == 0 else None
    if not text_ok(s["name"]) or not text_ok(s["issue"]):
        return "bad lottery name or issue"
    if not 1 <= len(s["groups"]) <= 8:
        return "a lottery has 1 to 8 groups"
    for g in s["groups"]:
        if not 1 <= g["count"] <= 64 or g["min"] > g["max"] or (g["distinct"] and g["count"] > g["max"] - g["min"] + 1):
            return "bad lottery group"
    return None


NUMBER = re.compile(r"0|[1-9][0-9]*")


def check_text_value(s, text: str) -> str | None:
    """A lottery's or witness's value in its one form (§7.6); a reason when not."""
    groups = [g.split(" ") for g in text.split(" + ")]
    if not all(NUMBER.fullmatch(t) for g in groups for t in g):
        return "not whole numbers in canonical decimal"
    nums = [[int(t) for t in g] for g in groups]
    if s["kind"] == "witness":
        specs = [{"count": len(nums[0]), "min": 0, "max": U32 - 1, "ordered": False, "distinct": False}]
    else:
        specs = s["groups"]
    if len(nums) != len(specs):
        return "wrong number of groups"
    for g, sp in zip(nums, specs):
        if len(g) != sp["count"]:
            return "wrong count"
        if s["kind"] == "lottery" and any(not sp["min"] <= n <= sp["max"] for n in g):
            return "out of range"
        if sp["distinct"] and len(set(g)) != len(g):
            return "a number repeats"
        if not sp["ordered"] and sorted(g) != g:
            return "not ascending"
    if any(n >= U64 for g in nums for n in g):
        return "too large"
    return None


def check_v2_entropy(c, com, entropy, beacons):
    """§7.6: sources valid, 64 bits unless allow_weak_entropy, description lines, then one value
    per source in its form (drand without the BLS pairing)."""
    sources = com["entropy_sources"]
    fs, exp = "commitment.entropy_sources", "at least one valid source, 64 bits unless allow_weak_entropy"
    if not sources:
        raise Mismatch(fs, exp, "no source")
    for s in sources:
        why = validate_source(s)
        if why:
            raise Mismatch(fs, exp, why)
    bits = sum(min_entropy_bits(s) for s in sources)
    if bits < MIN_BITS and not com["allow_weak_entropy"]:
        raise Mismatch(fs, exp, f"{bits} bits, under the 64 required")
    lines = {drand_line(s) for s in sources if s["kind"] == "drand"}
    for i, line in enumerate(com["entropy_source"].split("\n")):
        if line.startswith("drand: chain ") or looks_like_drand(line):
            if line not in lines:
                raise Mismatch(fs, exp, f"entropy_source line {i + 1} is not the line of an announced drand source")
    fe, exp = "entropy", "exactly one value per announced source, in its declared form"
    if len(entropy) != len(sources):
        raise Mismatch(fe, exp, f"{len(sources)} sources, {len(entropy)} values")
    duplicate_beacons(beacons, fe)
    used = [False] * len(beacons)
    for i, (s, val) in enumerate(zip(sources, entropy)):
        if s["kind"] == "drand":
            k = next((k for k, b in enumerate(beacons) if b["beacon"]["round"] == s["round"] and drand_chain_hash(b["chain"]) == s["chain"]), None)
            if k is None:
                raise Mismatch(fe, exp, f"no beacon for round {s['round']}")
            used[k] = True
            chain, beacon = beacons[k]["chain"], beacons[k]["beacon"]
            if utc(chain["genesis_time"] + (s["round"] - 1) * chain["period"]) != s["at"]:
                raise Mismatch(fe, exp, f"round {s['round']} is not produced at {s['at']}")
            if sha256(bytes.fromhex(beacon["signature"])) != val:
                raise Mismatch(fe, exp, f"entropy value {i + 1} is not SHA-256 of round {s['round']}'s signature")
            c.checks.append(f"entropy value {i + 1}: drand round {s['round']} (the BLS signature is not checked here)")
        else:
            try:
                why = check_text_value(s, val.decode("utf-8"))
            except UnicodeDecodeError:
                why = "not UTF-8"
            if why:
                raise Mismatch(fe, exp, f"entropy value {i + 1}: {why}")
            c.checks.append(f"entropy value {i + 1}: {s['kind']} value in its announced form")
    if not all(used):
        raise Mismatch(fe, exp, "a beacon record no drand source announces")
    c.checks.append(f"entropy: {len(sources)} source(s), {bits} bits of min-entropy")
    c.entropy_bits = bits
    if bits < WARN_BITS:
        c.warnings.append(f"the announced entropy has {bits} bits of min-entropy, under {WARN_BITS} (spec §1)")


def check_seed(c, task_id, com, com_enc, commitment_hash, secret, entropy, beacons=()) -> bytes:
    """§13 step 2 (shared by every artefact): protocol, task id, commitment hash, secret,
    drand beacons (§20)."""
    if com["protocol"] not in PROTOCOLS:
        raise Mismatch("commitment.protocol", " or ".join(PROTOCOLS), com["protocol"])
    c.checks.append(f"checked as {com['protocol']}")
    c.eq("task id", "commitment.task_id", task_id, com["task_id"])
    if not (1 <= len(task_id.encode()) <= 128) or task_id.strip() != task_id or any(
        unicodedata.category(ch) == "Cc" for ch in task_id
    ):
        raise Mismatch("task_id", "1 to 128 bytes without control characters or surrounding spaces", repr(task_id))
    c.eq("commitment hash", "commitment_hash", sha256(com_enc), commitment_hash)
    c.eq("secret hash", "secret", com["secret_hash"], sha256(secret))
    if len(secret) < MIN_SECRET:
        raise Mismatch("secret", f"at least {MIN_SECRET} bytes", f"{len(secret)} bytes")
    if com["protocol"] == V1:
        if com["entropy_sources"] or com["allow_weak_entropy"]:
            raise Mismatch("commitment.entropy_sources", "absent in a double-random/v1 commitment", "present")
        check_beacons(c, com["entropy_source"], entropy, list(beacons))
    else:
        check_v2_entropy(c, com, entropy, list(beacons))
    return derive_seed(com, com_enc, secret, entropy)


# --------------------------------------------------------------------------------------------
# §8 sample sizes


def sample_sizes(pol, strata, seed, proto=PROTOCOL):
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
    st = stream(seed, "strata", 0, proto)
    for _ in range(total):
        mass = sum(w * r for w, r in zip(weights, remaining))
        # Unreachable after the §13 bounds (≤ 2^32−1 eligible objects, weight·percent ≤ 10^8).
        assert 0 < mass < U64, mass
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


def valid_on_draw_date(i, pol) -> bool:
    """§9: expiry ≥ draw date; a v2 public inspector publishes the answer (§13 step 14)."""
    if "certificate_valid" in i:
        return i["certificate_valid"]
    return not i["certificate_expiry"] < pol["draw_date"]


class Matcher:
    """§9. Inspectors are indexed in id order; objects are dicts with id, region, last_inspectors."""

    def __init__(self, pol, inspectors):
        self.pol, self.ins = pol, inspectors
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
        """class(slot_department(slot), o): in id order."""
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
            if not valid_on_draw_date(i, self.pol):
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
        ex = self.excluded(o, team)
        cands = [i for i in self.klass(slot, o) if i not in ex and self.load[i] < self.cap[i]]
        if not cands:
            raise MatchFailure(f"cannot match inspectors to object {o['id']} (slot {slot}): no eligible inspector")
        least = min(self.load[i] for i in cands)
        at_least = [i for i in cands if self.load[i] == least]
        pick = at_least[st.below(len(at_least))]
        self.load[pick] += 1
        return pick

    def assign(self, o, st):
        team = []
        for slot in range(self.pol["inspectors"]["per_object"]):
            team.append(self.fill_slot(o, slot, team, st))
        return team

    def release(self, i):
        self.load[i] = max(self.load[i] - 1, 0)


OBJECT_CODES = ("deregistered", "revoked", "cancelled", "moved_out", "unreachable", "closed_or_liquidating",
                "inspected_in_joint_task", "other")
RECUSAL_CODES = ("declared_conflict", "kinship", "prior_involvement", "other")


def replay_teams(pol, inspectors, objects_by_id, seed, order, requests, next_object, proto=PROTOCOL):
    """§9 then §10. order: object ids in matching order. next_object(k, x): the id of the object
    that object request k brings in for x (the full checker ranks the stratum; the public
    verifier takes the published one). Raises MatchFailure as the reference fails the draw."""
    m = Matcher(pol, inspectors)
    ids = lambda team: [inspectors[i]["id"] for i in team]
    M = stream(seed, "match", 0, proto)
    teams, sequence = {}, []
    for oid in order:
        teams[oid] = m.assign(objects_by_id[oid], M)
        sequence.append(oid)
    assignments = [{"object": o, "inspectors": ids(teams[o])} for o in sequence]
    records = []
    cap = object_cap(pol, len(order))
    per_slot = caps_of(pol)["recusals_per_slot"]
    replaced, recusals = 0, {}
    for k, req in enumerate(requests):
        R = stream(seed, "replacement", k, proto)
        x = req["object"]
        if trim(req["reason"]) == "":
            raise MatchFailure(f"replacement {k}: a replacement needs a recorded reason")
        code = req.get("reason_code")
        if proto == V2 and code is None:
            raise MatchFailure(f"replacement {k}: a reason code is required")
        if proto == PROTOCOL and code is not None:
            raise MatchFailure(f"replacement {k}: reason code {code!r} is not part of {PROTOCOL}")
        if x not in teams:
            raise MatchFailure(f"replacement {k}: object {x} is not among the drawn objects")
        if req["kind"] == "object":
            if proto == V2 and replaced >= cap:
                raise MatchFailure(f"replacement {k}: over the cap on object replacements: {replaced} already made, "
                                   f"the policy allows {cap}")
            replaced += 1
            y = next_object(k, x)
            if proto == V2:
                R = object_stream(seed, "replacement", y, 0, 0)
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
            if proto == V2:
                n = recusals.get((x, j), 0)
                if n >= per_slot:
                    raise MatchFailure(f"replacement {k}: over the cap on recusals: slot {j} of {x} already had {n}, "
                                       f"the policy allows {per_slot}")
                recusals[(x, j)] = n + 1
                R = object_stream(seed, "recusal", x, j, n)
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
    if not isinstance(r, dict):
        raise Mismatch(f, "an object", repr(r))
    strata = []
    for i, s in enumerate(need(r, "strata", f, list)):
        sf = f"result.strata[{i}]"
        strata.append({
            "tier": need(s, "tier", sf, str), "cooled": need(s, "cooled", sf, bool),
            "population": check_int(need(s, "population", sf), f"{sf}.population", 64),
            "sample": check_int(need(s, "sample", sf), f"{sf}.sample", 64),
            "cutoff": None if s.get("cutoff") is None else hx32(s["cutoff"], f"{sf}.cutoff"),
            "extended_cutoff": None if s.get("extended_cutoff") is None else hx32(s["extended_cutoff"], f"{sf}.extended_cutoff"),
            "selected": id_list(need(s, "selected", sf), f"{sf}.selected"),
        })

    def teams(key):
        out = []
        for i, a in enumerate(need(r, key, f, list)):
            af = f"result.{key}[{i}]"
            out.append({"object": check_id(need(a, "object", af, str), f"{af}.object"),
                        "inspectors": id_list(need(a, "inspectors", af), f"{af}.inspectors")})
        return out

    reps = []
    for i, x in enumerate(need(r, "replacements", f, list)):
        xf = f"result.replacements[{i}]"
        q = need(x, "request", xf, dict)
        qf = f"{xf}.request"
        kind = one_of(need(q, "kind", qf), ("object", "inspector"), f"{qf}.kind")
        req = {"kind": kind, "object": check_id(need(q, "object", qf, str), f"{qf}.object")}
        if kind == "inspector":
            req["inspector"] = check_id(need(q, "inspector", qf, str), f"{qf}.inspector")
        code = q.get("reason_code")
        if code is not None:
            req["reason_code"] = one_of(code, OBJECT_CODES if kind == "object" else RECUSAL_CODES, f"{qf}.reason_code")
        req["reason"] = need(q, "reason", qf, str)
        reps.append({"request": req, "replacement": need(x, "replacement", xf, str),
                     "inspectors": id_list(need(x, "inspectors", xf), f"{xf}.inspectors")})
    return {"seed": hx32(need(r, "seed", f), "result.seed"), "strata": strata, "assignments": teams("assignments"),
            "replacements": reps, "final_assignments": teams("final_assignments")}


def encode_result(r, commitment_hash: bytes, proto=PROTOCOL) -> bytes:
    e = Enc(f"{proto} result")
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
            e.u8(0).str(q["object"]).str("")
        else:
            e.u8(1).str(q["object"]).str(q["inspector"])
        if proto == V2:
            e.str(q.get("reason_code", ""))
        e.str(q["reason"])
        e.str(x["replacement"]).strs(x["inspectors"])
    teams(r["final_assignments"])
    return bytes(e.b)


def published_replacements(result):
    return [{"request": x["request"], "replacement": x["replacement"], "inspectors": x["inspectors"]}
            for x in result["replacements"]]


# --------------------------------------------------------------------------------------------
# §13 verification


class Checker:
    def __init__(self):
        self.checks = []
        self.warnings = []
        self.entropy_bits = None

    def eq(self, what, field, expected, found):
        if expected != found:
            raise first_difference(field, expected, found)
        if what:
            self.checks.append(what)


def plain(v):
    """A JSON-printable form of a value (hashes as hex)."""
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, Date):
        return v.iso()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def first_difference(path, expected, found) -> Mismatch:
    """The path of the first place two values differ, and the two values there. Keys are
    visited in byte order, as the reference's JSON maps do, so both report the same field."""
    if isinstance(expected, dict) and isinstance(found, dict):
        for k in sorted(set(expected) | set(found), key=u8key):
            if expected.get(k) != found.get(k):
                return first_difference(f"{path}.{k}", expected.get(k), found.get(k))
    if isinstance(expected, (list, tuple)) and isinstance(found, (list, tuple)):
        for i, (a, b) in enumerate(zip(expected, found)):
            if a != b:
                return first_difference(f"{path}[{i}]", a, b)
        if len(expected) != len(found):
            return Mismatch(f"{path}.length", len(expected), len(found))
    return Mismatch(path, plain(expected), plain(found))


def check_caps_field(pol, proto):
    """§12 step 2, §13 step 3: a v1 policy has no `replacements` table."""
    if proto == PROTOCOL and pol["replacements"] is not None:
        raise Mismatch("policy.replacements", f"absent ({PROTOCOL} has no replacement caps)", "present")


def read_bundle_head(b):
    """Fields every bundle shares, read (not yet checked)."""
    if not isinstance(b, dict):
        raise Mismatch("(file)", "a JSON object", type(b).__name__)
    com = parse_commitment(need(b, "commitment", ""))
    return {
        "format": need(b, "format", "", str),
        "task_id": need(b, "task_id", "", str),
        "policy": parse_policy(need(b, "policy", "")),
        "commitment": com,
        "commitment_enc": encode_commitment(com),
        "commitment_hash": hx32(need(b, "commitment_hash", ""), "commitment_hash"),
        "secret": hxbytes(need(b, "secret", ""), "secret"),
        "entropy": [hxbytes(v, f"entropy[{i}]") for i, v in enumerate(need(b, "entropy", "", list))],
        "beacons": dflt(b, "beacons", "", [], list),
        "result": parse_result(need(b, "result", "")),
        "result_digest": hx32(need(b, "result_digest", ""), "result_digest"),
    }


def verify(b, out):
    c = Checker()
    out["checks"] = c.checks
    out["warnings"] = c.warnings
    # Reading the bundle (the reference rejects an unreadable bundle before any check).
    h = read_bundle_head(b)
    pol, com, result = h["policy"], h["commitment"], h["result"]
    drawn = []
    for i, d in enumerate(need(b, "drawn", "", list)):
        df = f"drawn[{i}]"
        drawn.append({"stratum": check_int(need(d, "stratum", df), f"{df}.stratum", 32),
                      "leaf_index": check_int(need(d, "leaf_index", df), f"{df}.leaf_index", 64),
                      "object": norm_public_object(need(d, "object", df), f"{df}.object"),
                      "private_digest": hx32(need(d, "private_digest", df), f"{df}.private_digest"),
                      "ticket": hx32(need(d, "ticket", df), f"{df}.ticket"),
                      "proof": [hx32(p, f"{df}.proof[{j}]") for j, p in enumerate(need(d, "proof", df, list))]})
    # v1 whole records, v2 public inspectors: read by shape (a v2 entry has private_digest).
    listed = need(b, "inspectors", "", list)
    public_shape = bool(listed) and isinstance(listed[0], dict) and "private_digest" in listed[0]
    norm = norm_public_inspector if public_shape else norm_inspector
    inspectors = [norm(x, f"inspectors[{i}]") for i, x in enumerate(listed)]
    proto = com["protocol"]
    # The recomputed digest is reported even when a check fails.
    digest = sha256(encode_result(result, h["commitment_hash"], proto))
    out["result_digest"] = digest.hex()

    # 1-2
    c.eq("format", "format", fmt("public-bundle", com["protocol"]), h["format"])
    seed = check_seed(c, h["task_id"], com, h["commitment_enc"], h["commitment_hash"], h["secret"], h["entropy"], h["beacons"])
    # 3-5
    check_caps_field(pol, proto)
    c.eq("policy hash", "commitment.policy_hash", sha256(encode_policy(pol, proto)), com["policy_hash"])
    c.eq("seed", "result.seed", seed, result["seed"])
    c.eq("result digest", "result_digest", digest, h["result_digest"])
    # 6: the protocol's shape of the inspector list (v2: conflicts with drawn objects only), then
    # normalise as a snapshot (objects, then inspectors: duplicate ids fail), inspector tree
    if listed and public_shape != (proto == V2):
        raise Mismatch("inspectors", f"the inspector list as {proto} publishes it", "the other version's shape")
    if public_shape:
        drawn_ids = {d["object"]["id"] for d in drawn}
        for k, i in enumerate(inspectors):
            for o in i["conflicts"]:
                if o not in drawn_ids:
                    raise Mismatch(f"inspectors[{k}].conflicts", "conflicts with drawn objects only", o)
    ids = sorted((d["object"]["id"] for d in drawn), key=u8key)
    for a, z in zip(ids, ids[1:]):
        if a == z:
            raise Mismatch("drawn/inspectors", "unique ids", f"duplicate object id {a}")
    inspectors.sort(key=lambda i: u8key(i["id"]))
    for a, z in zip(inspectors, inspectors[1:]):
        if a["id"] == z["id"]:
            raise Mismatch("drawn/inspectors", "unique ids", f"duplicate inspector id {a['id']}")
    if public_shape:
        leaves = [leaf_hash(encode_inspector_public(i, i["certificate_valid"]) + i["private_digest"]) for i in inspectors]
    else:
        leaves = [leaf_hash(encode_inspector(i)) for i in inspectors]
    c.eq("inspector list matches the committed inspector tree", "inspectors", com["inspectors"],
         {"count": len(leaves), "root": mth(leaves)})
    # 7-9: strata layout, cooled strata, id count, bound, populations
    expect = [(t["name"], cooled) for t in pol["tiers"] for cooled in (False, True)]
    c.eq("strata follow the policy's tiers", "commitment.strata", expect, [(s["tier"], s["cooled"]) for s in com["strata"]])
    downweight = pol["cooldown"] is not None and pol["cooldown"]["action"] == "downweight"
    for k, s in enumerate(com["strata"]):
        if s["cooled"] and not downweight and s["count"] > 0:
            raise Mismatch(f"commitment.strata[{k}].count", "0 (the policy does not down-weight)", str(s["count"]))
    eligible = sum(s["count"] for s in com["strata"])
    c.eq("every committed id is in exactly one stratum or the excluded tree", "commitment.ids.count",
         eligible + com["excluded"]["count"], com["ids"]["count"])
    if eligible > U32 - 1:
        raise Mismatch("commitment.strata", "at most 2^32 - 1 objects", str(eligible))
    c.eq("strata and populations match the commitment", "result.strata",
         [(s["tier"], s["cooled"], s["count"]) for s in com["strata"]],
         [(s["tier"], s["cooled"], s["population"]) for s in result["strata"]])
    # 10 (numbered as in spec §13)
    if pol["mode"] == "weighted":
        # The weighted sizes always sum to min(total, Σ N): reject a bundle that breaks this
        # before running up to 10^8 draws (a shortcut spec §13 step 10 allows).
        want = min(pol["total"], eligible)
        got = sum(s["sample"] for s in result["strata"])
        if got != want:
            raise Mismatch("result.strata[].sample", f"sample sizes summing to {want}", f"sum {got}")
    sizes = sample_sizes(pol, [(k // 2, s["cooled"], s["count"]) for k, s in enumerate(com["strata"])], seed, proto)
    c.eq("sample sizes recomputed", "result.strata[].sample", sizes, [s["sample"] for s in result["strata"]])
    c.eq("each stratum lists exactly its sample size", "result.strata[].selected.length", sizes,
         [len(s["selected"]) for s in result["strata"]])
    # v2: object replacements within the cap (recusals are counted in the replay, step 14)
    replaced = sum(1 for x in result["replacements"] if x["request"]["kind"] == "object")
    cap = object_cap(pol, sum(sizes))
    if proto == V2 and replaced > cap:
        raise Mismatch("result.replacements", f"at most {cap} object replacements", f"{replaced} object replacements")
    # 11
    by_id = {}
    for i, d in enumerate(drawn):
        if d["stratum"] >= len(com["strata"]):
            raise Mismatch(f"drawn[{i}].stratum", "a committed stratum", str(d["stratum"]))
        head = com["strata"][d["stratum"]]
        o = d["object"]
        leaf = object_leaf(d["private_digest"], encode_public(o))
        if not verify_inclusion(d["leaf_index"], head["count"], leaf, d["proof"], head["root"]):
            raise Mismatch(f"drawn[{i}].proof", f"inclusion in stratum {d['stratum']} root {head['root'].hex()}",
                           f"{o['id']} does not verify")
        c.eq("", f"drawn[{i}].ticket", ticket(seed, o["id"], proto, leaf), d["ticket"])
        why = public_exclusion(pol, o)
        if why is not None:
            raise Mismatch(f"drawn[{i}].object", "an active object within the policy's scope", f"{o['id']} is excluded: {why}")
        by_id[o["id"]] = d
    c.checks.append(f"{len(drawn)} drawn objects: inclusion proofs, tickets, active and in scope")
    # 12
    listed = 0
    for si, s in enumerate(result["strata"]):
        prev = None
        for oid in s["selected"]:
            d = by_id.get(oid)
            if d is None or d["stratum"] != si or (prev is not None and not prev < (d["ticket"], u8key(oid))):
                raise Mismatch(f"result.strata[{si}].selected",
                               "drawn objects of this stratum in ticket order, each with a proof", oid)
            prev = (d["ticket"], u8key(oid))
            listed += 1
        c.eq("", f"result.strata[{si}].cutoff", prev[0] if prev else None, s["cutoff"])
    # 13
    taken = {}
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
        listed += 1
    for si, s in enumerate(result["strata"]):
        c.eq("", f"result.strata[{si}].extended_cutoff", taken.get(si), s["extended_cutoff"])
    c.eq("selection: ticket order, cutoffs, replacements beyond them", "drawn.length", listed, len(drawn))
    # 14-15
    order = sorted(((by_id[o]["ticket"], u8key(o), o) for s in result["strata"] for o in s["selected"]))
    objects_by_id = {o: d["object"] for o, d in by_id.items()}
    try:
        a, r, f = replay_teams(pol, inspectors, objects_by_id, seed, [o for _, _, o in order],
                               [x["request"] for x in result["replacements"]],
                               lambda k, _x: result["replacements"][k]["replacement"], proto)
    except MatchFailure as e:
        raise Mismatch("result.assignments", "a matching", str(e))
    c.eq("inspector matching replayed", "result.assignments", a, result["assignments"])
    c.eq("replacements replayed", "result.replacements", r, published_replacements(result))
    c.eq("final teams", "result.final_assignments", f, result["final_assignments"])


def _unique(pairs):
    d = {}
    for k, val in pairs:
        if k in d:
            raise ValueError(f"repeated key {k!r}")
        d[k] = val
    return d


def _no_lone_surrogate(x):
    if isinstance(x, str):
        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in x):
            raise ValueError("a string holds a lone surrogate")
    elif isinstance(x, dict):
        for k, val in x.items():
            _no_lone_surrogate(k)
            _no_lone_surrogate(val)
    elif isinstance(x, list):
        for val in x:
            _no_lone_surrogate(val)


def load_json(data: bytes):
    """The reading rules of §16: UTF-8 without a byte-order mark, no repeated key, no lone
    surrogate (json.loads itself refuses the BOM)."""
    doc = json.loads(data.decode("utf-8"), object_pairs_hook=_unique)
    _no_lone_surrogate(doc)
    return doc
# --- Ed25519 verification (RFC 8032 §5.1.7), for §21 and §22 ---------------------------------

_EP = 2**255 - 19
_EL = 2**252 + 27742317777372353535851937790883648493
_ED = -121665 * pow(121666, _EP - 2, _EP) % _EP
_EI = pow(2, (_EP - 1) // 4, _EP)


def _ed_decode(b: bytes):
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= _EP:
        return None
    x2 = (y * y - 1) * pow(_ED * y * y + 1, _EP - 2, _EP) % _EP
    if x2 == 0:
        if sign:
            return None
        return (0, y, 1, 0)
    x = pow(x2, (_EP + 3) // 8, _EP)
    if (x * x - x2) % _EP:
        x = x * _EI % _EP
    if (x * x - x2) % _EP:
        return None
    if x & 1 != sign:
        x = _EP - x
    return (x, y, 1, x * y % _EP)


def _ed_add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % _EP
    b = (p[1] + p[0]) * (q[1] + q[0]) % _EP
    c = 2 * p[3] * q[3] * _ED % _EP
    d = 2 * p[2] * q[2] % _EP
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _EP, g * h % _EP, f * g % _EP, e * h % _EP)


def _ed_mul(s, p):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _ed_add(q, p)
        p, s = _ed_add(p, p), s >> 1
    return q


_EG = _ed_decode(((4 * pow(5, _EP - 2, _EP)) % _EP).to_bytes(32, "little"))


def ed25519_verify(public: bytes, msg: bytes, sig: bytes) -> bool:
    a, r = _ed_decode(public), _ed_decode(sig[:32]) if len(sig) == 64 else None
    if a is None or r is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= _EL:
        return False
    h = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % _EL
    lhs, rhs = _ed_mul(s, _EG), _ed_add(r, _ed_mul(h, a))
    return (lhs[0] * rhs[2] - rhs[0] * lhs[2]) % _EP == 0 and (lhs[1] * rhs[2] - rhs[1] * lhs[2]) % _EP == 0


def _utc(t: int) -> str:
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _drand_time(line: str):
    m = re.fullmatch(r"drand: chain [0-9a-f]{64} round [1-9][0-9]* at (\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z", line)
    if not m:
        return None
    import datetime
    y, mo, d, h, mi, se = map(int, m.groups())
    return int(datetime.datetime(y, mo, d, h, mi, se, tzinfo=datetime.timezone.utc).timestamp())


def _entropy_times(com):
    """§22: when each announced source is published (v2: drand `at`, a lottery's draw date at
    00:00 China time; v1: the `drand:` lines); witness values state no time."""
    import datetime
    if com["protocol"] == V1:
        return [t for t in map(_drand_time, com["entropy_source"].split("\n")) if t is not None]
    out = []
    for s in com.get("entropy_sources", []):
        if s["kind"] == "drand":
            out.append(_drand_time(f"drand: chain {'0' * 64} round 1 at {s['at']}"))
        elif s["kind"] == "lottery":
            y, mo, d = map(int, s["draw_date"].split("-"))
            china = datetime.timezone(datetime.timedelta(hours=8))
            out.append(int(datetime.datetime(y, mo, d, tzinfo=china).timestamp()))
    return out


def _note_key_id(origin: str, key: bytes, kind: bytes) -> bytes:
    return sha256(origin.encode() + b"\n" + kind + key)[:4]


def check_commitment_log(b, key, checks):
    """§22: the commit entry's inclusion in its checkpoint; with `key`, the note's signature,
    its time, and that time before the entropy's publication."""
    log = b.get("commitment_log")
    if log is None:
        return
    if b["commitment"]["protocol"] == "double-random/v1":
        raise Mismatch("commitment_log", "none in a double-random/v1 bundle", "a commitment_log")
    no_unknown(log, {"checkpoint", "index", "size", "entry", "proof"}, "commitment_log")
    note = need(log, "checkpoint", "commitment_log", str)
    if "\n\n" not in note:
        raise Mismatch("commitment_log.checkpoint", "a signed note", note)
    body, sigs = note.split("\n\n", 1)
    body += "\n"
    lines = body.split("\n")
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    when = None
    if key is not None:
        plain = timed = False
        for line in sigs.split("\n"):
            if not line.startswith("\u2014 "):
                continue
            name, _, sig = line[2:].partition(" ")
            raw = base64.b64decode(sig)
            if name != origin:
                continue
            if len(raw) == 68 and raw[:4] == _note_key_id(origin, key, b"\x01"):
                plain = ed25519_verify(key, body.encode(), raw[4:])
            elif len(raw) == 76 and raw[:4] == _note_key_id(origin, key, b"\x04"):
                t = int.from_bytes(raw[4:12], "big")
                timed = ed25519_verify(key, f"cosignature/v1\ntime {t}\n".encode() + body.encode(), raw[12:])
                when = t if timed else None
        if not (plain and timed):
            raise Mismatch("commitment_log.checkpoint", "a checkpoint and its time signed by the publication key",
                           "signatures that do not verify")
    entry_text = need(log, "entry", "commitment_log", str)
    entry = json.loads(entry_text)
    if (entry.get("event"), entry.get("run"), entry.get("commitment_hash")) != (
            "commit", b["task_id"], b["commitment_hash"].lower()):
        raise Mismatch("commitment_log.entry", "the commit entry of this run and commitment", entry_text)
    proof = [bytes.fromhex(h) for h in need(log, "proof", "commitment_log", list)]
    if log["size"] != size or not verify_inclusion(log["index"], size, leaf_hash(entry_text.encode()), proof, root):
        raise Mismatch("commitment_log.proof", f"leaf {log['index']} of the checkpoint of {size}", "does not verify")
    times = _entropy_times(b["commitment"])
    published = min(times) if times else None
    if when is not None and published is not None and when >= published:
        raise Mismatch("commitment_log.checkpoint", f"committed before the entropy was published at {_utc(published)}",
                       f"first logged at {_utc(when)}")
    if when is not None:
        checks.append(f"committed at {_utc(when)}, entropy published at "
                      f"{_utc(published) if published is not None else 'not stated (witness values carry no time)'}")
    else:
        checks.append(f"commitment logged as leaf {log['index']} (signature and time not checked: give --key)")


def check_attestations(b, attestations, auditors, checks):
    """§21: each attestation verifies, is of this bundle, and (with the registry) by a registered key."""
    registered = None if auditors is None else {
        a["key"].lower(): a["name"] for a in auditors if a.get("revoked_at") is None}
    counted = 0
    for i, a in enumerate(attestations):
        f = f"attestations[{i}]"
        no_unknown(a, {"format", "run", "commitment_hash", "result_digest", "auditor_key", "signature", "name"}, f)
        if a["format"] != "double-random/attestation/v2":
            raise Mismatch(f"{f}.format", "double-random/attestation/v2", a["format"])
        statement = (f"double-random/v2 attestation\nrun: {a['run']}\ncommitment: {a['commitment_hash'].lower()}\n"
                     f"result: {a['result_digest'].lower()}\n")
        if not ed25519_verify(bytes.fromhex(a["auditor_key"]), statement.encode(), bytes.fromhex(a["signature"])):
            raise Mismatch(f"{f}.signature", "the auditor key's signature of the statement", "does not verify")
        subject = (a["run"], a["commitment_hash"].lower(), a["result_digest"].lower())
        if subject != (b["task_id"], b["commitment_hash"].lower(), b["result_digest"].lower()):
            if subject[:2] == (b["task_id"], b["commitment_hash"].lower()):
                continue  # an earlier result of this run, before a replacement: not counted
            raise Mismatch(f, "an attestation of this bundle", str(subject))
        if registered is not None and a["auditor_key"].lower() not in registered:
            raise Mismatch(f"{f}.auditor_key", "a registered auditor's key", a["auditor_key"])
        counted += 1
        checks.append(f"attestation by key {a['auditor_key'].lower()}")
    if counted == 0:
        checks.append("no auditor attestation: nobody independent has checked that the drawn objects are the "
                      "smallest tickets and that tiers and exclusions are right")


def main(argv):
    opts = dict(zip(argv[2::2], argv[3::2]))
    if len(argv) < 2 or len(argv) % 2 != 0 or set(opts) - {"--key", "--attestations", "--auditors"}:
        print(__doc__, file=sys.stderr)
        return 2
    out = {"valid": False, "result_digest": None, "first_mismatch": None}
    try:
        with open(argv[1], "rb") as fh:
            bundle = load_json(fh.read())
        verify(bundle, out)
        extra = []
        key = bytes.fromhex(opts["--key"]) if "--key" in opts else None
        check_commitment_log(bundle, key, extra)
        if "--attestations" in opts:
            with open(opts["--attestations"], "rb") as fh:
                given = json.loads(fh.read().decode("utf-8"))
            given = given["attestations"] if isinstance(given, dict) and "attestations" in given else given
            given = [given] if isinstance(given, dict) else given
            auditors = None
            if "--auditors" in opts:
                with open(opts["--auditors"], "rb") as fh:
                    auditors = json.loads(fh.read().decode("utf-8"))
            check_attestations(bundle, given, auditors, extra)
        out.setdefault("checks", []).extend(extra)
        out["valid"] = True
    except Mismatch as m:
        out["first_mismatch"] = {"field": m.field, "expected": plain(m.expected), "found": plain(m.found)}
    except (ValueError, OSError, KeyError, TypeError, AttributeError, RecursionError) as e:
        out["first_mismatch"] = {"field": "(file)", "expected": "a well-formed public bundle", "found": f"{type(e).__name__}: {e}"}
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0 if out["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
