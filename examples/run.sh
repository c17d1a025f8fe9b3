#!/usr/bin/env bash
# The main job on the bundled example (examples/images), as each kind of user runs it:
#   a generator operator signs its outputs, a verifier checks them (also after metadata
#   stripping), and a stock agency marks a catalog by concept and attributes images to concepts.
# Usage: bash examples/run.sh [OUT_DIR]   (default out/demo; everything is written there)
set -euo pipefail
cd "$(dirname "$0")/.."
PM=.venv/bin/provmark
PY=.venv/bin/python
OUT=${1:-out/demo}
rm -rf "$OUT" && mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*"; }
# recompress SRC_DIR DST_DIR QUALITY: pixels only, as JPEG (drops every metadata block, as platforms do)
# Down to SIZE px and back to 128 px: what a small generator trained at SIZE px sees and makes.
generator_view() {
  mkdir -p "$2"
  for f in "$1"/*; do
    $PY -c 'import sys; from PIL import Image; s = int(sys.argv[3]); Image.open(sys.argv[1]).convert("RGB").resize((s, s), Image.Resampling.BOX).resize((128, 128), Image.Resampling.BICUBIC).save(sys.argv[2])' \
      "$f" "$2/$(basename "${f%.*}").png" "$3"
  done
}

recompress() {
  mkdir -p "$2"
  for f in "$1"/*; do
    $PY -c 'import sys; from PIL import Image; Image.open(sys.argv[1]).convert("RGB").save(sys.argv[2], quality=int(sys.argv[3]))' \
      "$f" "$2/$(basename "${f%.*}").jpg" "$3"
  done
}

step "1. Keys: a local test PKI (CA, signing chain, key) and a secret watermark key"
$PM keys init --dir "$OUT/keys" --org "Example Generator Inc."

step "2. Generator operator: sign outputs (C2PA manifest + XMP/EXIF disclosure + invisible watermark)"
$PM sign examples/images/* --out "$OUT/signed" --keys "$OUT/keys" \
  --generator "ExampleDiffusion 1.0" --creator "Example Generator Inc." --training-mining notAllowed

step "3. Verifier: check the signed images against the CA"
$PM verify "$OUT/signed"/* --keys "$OUT/keys"

step "4. A platform strips all metadata and recompresses (JPEG 80): the watermark still leads to the manifest"
recompress "$OUT/signed" "$OUT/stripped" 80
# Exit code 3 means "not verified": a stripped image has no embedded manifest to validate.
$PM verify "$OUT/stripped"/* --keys "$OUT/keys" || [ $? -eq 3 ]

step "5. Stock agency: register concepts and mark the catalog, one concept per image"
$PM concepts import --registry "$OUT/catalog.db" examples/concepts.csv
$PM concepts list --registry "$OUT/catalog.db"
$PM mark examples/images "$OUT/marked" --registry "$OUT/catalog.db" --concept-map examples/concept-map.csv --verify

step "6. Attribution: which concepts does each marked image carry (also after JPEG 75)?"
recompress "$OUT/marked" "$OUT/recompressed" 75
$PM attribute "$OUT/marked"/* "$OUT/recompressed"/* --registry "$OUT/catalog.db"
# The unmarked originals carry no concept: exit code 3 is the expected answer here.
$PM attribute examples/images/* --registry "$OUT/catalog.db" || [ $? -eq 3 ]

step "7. Training copies for a model builder: add the concept channel, which a generator learns"
$PM mark examples/images "$OUT/training-copies" --registry "$OUT/catalog.db" --concept-map examples/concept-map.csv \
  --channel 8 --channel-grid 32 --verify
generator_view "$OUT/training-copies" "$OUT/at-32px" 32
# At 32 px only the concept channel is left; without --channel nothing is found (exit 3).
$PM attribute "$OUT/at-32px"/* --registry "$OUT/catalog.db" --channel --channel-grid 32
$PM attribute "$OUT/at-32px"/* --registry "$OUT/catalog.db" || [ $? -eq 3 ]

printf '\nDone: outputs in %s\n' "$OUT"
