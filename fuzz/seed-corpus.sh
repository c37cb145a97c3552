#!/usr/bin/env bash
# Regenerates the seed corpora of the fuzz targets from real data: a ledger built by the chl
# binary from replay/samples/acme-channel.jsonl. Needs cargo, jq, base64 (coreutils) and python3.
#
#   fuzz/seed-corpus.sh
#
# Writes fuzz/corpus/<target>/seed-* (files libFuzzer adds to the corpus keep their hash names
# and are left alone) and fuzz/seeds/verifier-key.txt, the key of that ledger, which the
# checkpoint_parser and bundle_parser targets compile in as their fixed key: regenerate both
# together, then rebuild the targets.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --bin chl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chl() { target/debug/chl --data "$tmp/ledger" "$@"; }

chl init --origin fuzz.example/acme-channel >/dev/null
chl import replay/samples/acme-channel.jsonl >/dev/null

corpus=fuzz/corpus
for target in record_decoder submission_parser checkpoint_parser bundle_parser; do
    mkdir -p "$corpus/$target"
    rm -f "$corpus/$target"/seed-*
done

# The fixed key of checkpoint_parser and bundle_parser.
chl key >fuzz/seeds/verifier-key.txt

# record_decoder: the canonical bytes of every record of the ledger, as the log holds them
# (each taken from a one-record proof bundle, which carries them in base64).
records=$(chl export | wc -l)
for ((seq = 0; seq < records; seq++)); do
    chl prove --seq "$seq" | jq -r '.records[0].bytes' | base64 -d \
        >"$corpus/record_decoder/seed-record-$(printf '%02d' "$seq").bin"
done

# submission_parser: every line of the sample, plus the one event type it lacks and a few
# near misses (submissions the form check refuses) from the schema samples.
n=0
while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "$line" >"$corpus/submission_parser/seed-sample-$(printf '%02d' "$n").json"
done <replay/samples/acme-channel.jsonl
jq -c 'select(.expect == "valid" and .submission.type == "supplier_expelled") | .submission' \
    crates/model/tests/schema_samples.jsonl | head -n 1 | tr -d '\n' \
    >"$corpus/submission_parser/seed-supplier-expelled.json"
n=0
jq -c 'select(.expect == "invalid" and (.submission | type) == "object") | .submission' \
    crates/model/tests/schema_samples.jsonl | awk 'NR % 20 == 1' | while IFS= read -r line; do
    n=$((n + 1))
    printf '%s' "$line" >"$corpus/submission_parser/seed-refused-$(printf '%02d' "$n").json"
done

# checkpoint_parser: the latest signed checkpoint, its body alone, the verifier key, and the
# signed verdict note of a bundle (a signed note with another text).
chl checkpoint >"$corpus/checkpoint_parser/seed-checkpoint.note"
sed '/^$/,$d' "$corpus/checkpoint_parser/seed-checkpoint.note" >"$corpus/checkpoint_parser/seed-body.txt"
cp fuzz/seeds/verifier-key.txt "$corpus/checkpoint_parser/seed-verifier-key.txt"

# bundle_parser: the bundle of an order's verdict (as chl prove prints it, and compact), and
# a one-record bundle.
chl prove --order TB-20130602-0003 >"$corpus/bundle_parser/seed-order-TB-20130602-0003.json"
jq -j '.verdict_note' "$corpus/bundle_parser/seed-order-TB-20130602-0003.json" \
    >"$corpus/checkpoint_parser/seed-verdict.note"
jq -c . "$corpus/bundle_parser/seed-order-TB-20130602-0003.json" | tr -d '\n' \
    >"$corpus/bundle_parser/seed-order-compact.json"
chl prove --seq 5 >"$corpus/bundle_parser/seed-record-5.json"

# The bundle reproducer of the open BUG (fuzz/README.md, Findings), as bundle_parser found it:
# the one-record bundle with its record's actor length (byte 44) one less, so that a
# timestamp's bytes are read as a length. It reaches the decoder only under this ledger's key.
mkdir -p fuzz/regressions/bundle_parser
python3 - "$corpus/bundle_parser/seed-record-5.json" \
    fuzz/regressions/bundle_parser/bug-huge-length-in-record-bytes.json <<'PY'
import base64, json, sys
bundle = json.load(open(sys.argv[1]))
raw = bytearray(base64.b64decode(bundle["records"][0]["bytes"]))
assert raw[44] == len("platform"), "record 5's actor length is at byte 44"
raw[44] -= 1
bundle["records"][0]["bytes"] = base64.b64encode(raw).decode()
with open(sys.argv[2], "w") as out:
    json.dump(bundle, out, indent=2, ensure_ascii=False)
    out.write("\n")
PY

du -sh "$corpus" fuzz/seeds
for target in record_decoder submission_parser checkpoint_parser bundle_parser; do
    echo "$target: $(ls "$corpus/$target" | wc -l) files"
done
