#!/usr/bin/env python3
"""Checks Channel Ledger evidence with standard libraries only (docs/verification.md).

    python3 chl_verify.py bundle BUNDLE.json VKEY
    python3 chl_verify.py consistency OLD_CHECKPOINT NEW_CHECKPOINT PROOF.json VKEY

VKEY is the verifier key as `chl key` prints it. Needs `pip install blake3 cryptography`.
Exit status 0 when every check holds, 1 when one fails (it names the step), 2 for bad usage.
"""

import base64
import datetime
import hashlib
import json
import sys

import blake3
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

RECORD_HASH_CONTEXT = "channel-ledger 2026 record v1"
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class Refused(Exception):
    pass


def b64(text):
    return base64.b64decode(text, validate=True)


# Step 1: a verifier key, name+keyid+base64(0x01 || public key).
def parse_vkey(vkey):
    name, key_id, material = vkey.strip().split("+", 2)
    material = b64(material)
    if len(material) != 33 or material[0] != 0x01:
        raise Refused("step 1: not an Ed25519 verifier key")
    digest = hashlib.sha256(name.encode() + b"\n" + material).digest()
    if digest[:4].hex() != key_id:
        raise Refused("step 1: the key id does not match the name and key")
    return name, digest[:4], material[1:]


# Step 2: a signed note; returns its text (ending with a newline) if `key` signed it.
def open_note(note, key):
    name, key_id, public_key = key
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise Refused("step 2: the note has no signature block")
    text, signatures = note[: split + 1], note[split + 2 :]
    for line in signatures.splitlines():
        if not line.startswith("\u2014 "):
            raise Refused("step 2: a signature line does not start with an em dash")
        signer, blob = line[2:].split(" ", 1)
        blob = b64(blob)
        if signer != name or len(blob) != 4 + 64 or blob[:4] != key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(blob[4:], text.encode())
        except InvalidSignature:
            raise Refused("step 2: the signature does not verify") from None
        return text
    raise Refused("step 2: the note has no signature by this key")


# Step 2, continued: a checkpoint body, origin / size / base64 root.
def open_checkpoint(note, key):
    lines = open_note(note, key).split("\n")
    if len(lines) < 4:
        raise Refused("step 2: the checkpoint body has fewer than three lines")
    origin, size, root = lines[0], lines[1], b64(lines[2])
    if origin != key[0]:
        raise Refused("step 2: the checkpoint is of another origin than the key's")
    if not (size.isascii() and size.isdigit()) or (len(size) > 1 and size[0] == "0"):
        raise Refused("step 2: the size is not a decimal number")
    if len(root) != 32:
        raise Refused("step 2: the root is not 32 bytes")
    return int(size), root


# Step 3: the record hash, and the head of the canonical bytes against the export form.
def record_hash(data):
    return blake3.blake3(data, derive_key_context=RECORD_HASH_CONTEXT).digest()


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if self.at + n > len(self.data):
            raise Refused("step 3: the bytes end early")
        self.at += n
        return self.data[self.at - n : self.at]

    def varint(self):
        tag = self.take(1)[0]
        if tag < 0xFB:
            return tag
        if tag > 0xFD:
            raise Refused("step 3: a varint tag wider than 8 bytes")
        return int.from_bytes(self.take({0xFB: 2, 0xFC: 4, 0xFD: 8}[tag]), "little")

    def time(self):
        z = self.varint()
        t = EPOCH + datetime.timedelta(microseconds=(z >> 1) ^ -(z & 1))
        return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t:%H:%M:%S}.{t.microsecond:06d}Z"

    def text(self):
        return self.take(self.varint()).decode("utf-8")


def check_record(bundled):
    data = b64(bundled["bytes"])
    record = bundled["record"]
    r = Reader(data)
    if r.take(1) != b"\x01":
        raise Refused("step 3: not a record of format 1")
    head = {"prev": r.take(32).hex(), "seq": r.varint(), "recorded_at": r.time()}
    head["ends_batch"] = {b"\x00": False, b"\x01": True}.get(r.take(1))
    head["actor"], head["effective_at"] = r.text(), r.time()
    head["type"], head["version"] = r.text(), r.varint()
    # `data` follows, laid out per type (docs/format.md section 5); chl verify-bundle
    # decodes and compares it too, this script stops at the head.
    for field, value in head.items():
        if record.get(field) != value or value is None:
            raise Refused(f"step 3: the record's {field} is not what its bytes hold")
    if bundled["seq"] != head["seq"]:
        raise Refused("step 3: the bundle's seq is not the one the bytes hold")
    if record.get("hash") != record_hash(data).hex():
        raise Refused("step 3: the record's hash is not the BLAKE3 record hash of its bytes")
    return data


# Step 4: leaf hash and inclusion proof (RFC 9162, 2.1.3.2).
def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf, proof, root):
    if index >= size:
        raise Refused("step 4: the leaf index is not below the tree size")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0 or len(p) != 32:
            raise Refused("step 4: the proof has the wrong length")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Refused("step 4: the proof has the wrong length")
    if r != root:
        raise Refused("step 4: the proof does not lead to the checkpoint's root")


# Step 5: consistency proof (RFC 9162, 2.1.4.2).
def verify_consistency(old, new, old_root, new_root, proof):
    if old == 0 or old > new:
        raise Refused("step 5: a consistency proof needs 0 < old size <= new size")
    if old == new:
        if proof or old_root != new_root:
            raise Refused("step 5: equal sizes need an empty proof and equal roots")
        return
    if not proof or any(len(p) != 32 for p in proof):
        raise Refused("step 5: the proof has the wrong length")
    if old & (old - 1) == 0:
        proof = [old_root] + proof
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise Refused("step 5: the proof has the wrong length")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Refused("step 5: the proof has the wrong length")
    if fr != old_root or sr != new_root:
        raise Refused("step 5: the proof does not lead to both roots")


# Step 6: a bundle, as chl prove prints it.
def check_bundle(bundle, key):
    size, root = open_checkpoint(bundle["checkpoint"], key)
    proven = []
    for bundled in bundle["records"]:
        data = check_record(bundled)
        proof = [b64(h) for h in bundled["inclusion"]]
        verify_inclusion(bundled["seq"], size, leaf_hash(data), proof, root)
        proven.append(bundled["seq"])
    verdict = bundle.get("verdict")
    if verdict is not None:
        if "verdict_note" not in bundle:
            raise Refused("step 6: the verdict is not signed")
        if json.loads(open_note(bundle["verdict_note"], key)) != verdict:
            raise Refused("step 6: the verdict is not the one the ledger signed")
        if verdict.get("known_at_seq") != size - 1:
            raise Refused("step 6: the verdict is not of the checkpoint's tree")
        for seq in verdict["evidence"]:
            if seq not in proven:
                raise Refused(f"step 6: evidence seq {seq} is not proven in the bundle")
    return size, root, proven, verdict


def read(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def main(argv):
    try:
        if len(argv) == 4 and argv[1] == "bundle":
            key = parse_vkey(argv[3])
            size, root, proven, verdict = check_bundle(json.loads(read(argv[2])), key)
            print(f"OK: checkpoint of {size} records, root {root.hex()}, signed by {key[0]}")
            print(f"OK: records {proven} are in that tree")
            if verdict is not None:
                print(f"OK: the ledger signed the verdict {verdict['verdict']}; its evidence is proven")
        elif len(argv) == 6 and argv[1] == "consistency":
            key = parse_vkey(argv[5])
            old_size, old_root = open_checkpoint(read(argv[2]), key)
            new_size, new_root = open_checkpoint(read(argv[3]), key)
            proof = json.loads(read(argv[4]))
            if (proof["old_size"], proof["new_size"]) != (old_size, new_size):
                raise Refused("step 5: the proof is not between the checkpoints' sizes")
            hashes = [b64(h) for h in proof["hashes"]]
            verify_consistency(old_size, new_size, old_root, new_root, hashes)
            print(f"OK: the tree of {new_size} records extends the tree of {old_size}")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except (Refused, ValueError, KeyError, IndexError, TypeError) as e:
        print(f"REFUSED: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
