#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/ (the others are copied from demo output and
tests/vectors, see docs/fuzzing.md). Needs Python's `cryptography` for the Ed25519 notes of the
checkpoint target, signed with double_random::fuzz::CHECKPOINT_KEY ([0x5a; 32])."""

import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(ROOT)
KEY = Ed25519PrivateKey.from_private_bytes(bytes([0x5A] * 32))
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def put(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def sha(b):
    return hashlib.sha256(b).digest()


def leaf(data):
    return sha(b"\x00" + data)


def node(l, r):
    return sha(b"\x01" + l + r)


def note(origin, size, root):
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    key_id = sha(origin.encode() + b"\n\x01" + PUBLIC)[:4]
    sig = base64.b64encode(key_id + KEY.sign(body.encode())).decode()
    return f"{body}\n\u2014 {origin} {sig}\n"


def entry(event, run, **extra):
    e = {
        "format": "double-random/v1 log entry",
        "event": event,
        "run": run,
        "task": run.split(".")[0],
        "at": "2026-12-01T02:00:00Z",
        "commitment_hash": "ab" * 32,
    }
    if "result_digest" in extra:
        e["result_digest"] = extra["result_digest"]
    e["replacements"] = 0
    if "results_digest" in extra:
        e["results_digest"] = extra["results_digest"]
    return json.dumps(e, separators=(",", ":"), ensure_ascii=False)


def checkpoint_seeds():
    origin = "double-random.example/log"
    results = {"results": {"91420703A63ULP800T": {"finding": "no_problem", "note": ""}}}
    digest = hashlib.sha256(
        json.dumps(results["results"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    entries = [
        entry("commit", "t1.20261201T100000"),
        entry("draw", "t1.20261201T100000", result_digest="cd" * 32),
        entry("publish", "t1.20261201T100000", results_digest=digest),
    ]
    leaves = [leaf(e.encode()) for e in entries]
    root = node(node(leaves[0], leaves[1]), leaves[2])
    signed = note(origin, 3, root)
    put("checkpoint", "note", "n" + signed)
    put("checkpoint", "note-empty", "n" + note(origin, 0, sha(b"")))
    proof = {
        "checkpoint": signed,
        "index": 1,
        "size": 3,
        "entry": entries[1],
        "proof": [leaves[0].hex(), leaves[2].hex()],
    }
    put("checkpoint", "inclusion", "i" + json.dumps(proof, ensure_ascii=False))
    listed = [{"index": i, "entry": e} for i, e in enumerate(entries)]
    put("checkpoint", "entries", "e" + signed + "\0" + json.dumps(listed, ensure_ascii=False))
    put("checkpoint", "consistency", "c" + signed + "\0" + json.dumps({"first": 3, "second": 3, "proof": []}))
    put("checkpoint", "results", "r" + entries[2] + "\0" + json.dumps(results, ensure_ascii=False))


def beacon_seeds():
    v = json.load(open(os.path.join(REPO, "tests/vectors/drand-beacons.json")))
    chains = {}
    for name, c in v["chains"].items():
        chains[name] = {
            "public_key": c["public_key"],
            "period": c["period"],
            "genesis_time": c["genesis_time"],
            "group_hash": c["groupHash"],
            "beacon_id": c["metadata"]["beaconID"],
            "scheme": c["schemeID"],
        }
    records = []
    for b in v["beacons"]:
        beacon = {"round": b["round"], "signature": b["signature"]}
        if "previous_signature" in b:
            beacon["previous_signature"] = b["previous_signature"]
        records.append({"chain": chains[b["chain"]], "beacon": beacon})
    # One beacon of each chain (BLS verification is slow; more would only slow the search).
    put("beacon", "mainnet-1337", "b" + json.dumps(records[2]))
    put("beacon", "quicknet-123", "b" + json.dumps(records[6]))
    r = records[6]
    line = (
        f"drand: chain {v['chains']['quicknet']['hash']} round {r['beacon']['round']} "
        "at 2023-08-23T15:15:33Z"
    )
    put("beacon", "source", "s" + "12 34 56\n" + line + "\0" + json.dumps([r]))


def http_seeds():
    bodies = {
        "plan": 'p{"id":"2026","year":2026,"name":"2026年度抽查计划"}',
        "trigger": 't{"witness_event":"中国体育彩票 第26001期","witnesses":2}',
        "trigger-empty": "t{}",
        "entropy": 'e{"values":"9 18 26 34 41 45\\n2, 5, 12, 8, 10\\n# comment\\n17.3 0.05"}',
        "replace-object": 'r{"kind":"object","object":"91420703A63ULP800T","reason":"已注销"}',
        "replace-inspector": 'r{"kind":"inspector","object":"91420703A63ULP800T","inspector":"ZF000001","reason":"回避"}',
        "results": 's{"results":[{"object":"91420703A63ULP800T","finding":"corrected_on_order","follow_up":["order_correction","notify_department"],"note":"已整改"}]}',
        "token": 'k{"name":"张三","role":"officer"}',
    }
    for name, body in bodies.items():
        put("http_bodies", name, body)


if __name__ == "__main__":
    checkpoint_seeds()
    beacon_seeds()
    http_seeds()
    sys.exit(0)
