#!/usr/bin/env bash
# Builds the seed corpus for the `readers` target from small files in the repo.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus/readers"
mkdir -p "$out"
find "$here/../crates" -path '*/fixtures/*' \( -name '*.dcm' -o -name '*.png' -o -name '*.pgm' \) -size -256k \
    -exec cp {} "$out/" \;
printf 'P2\n3 2\n255\n0 128 255\n1 2 3\n' > "$out/ascii.pgm"
printf 'P5 2 2 65535\n\x00\x01\x02\x03\x04\x05\x06\x07' > "$out/wide.pgm"
ls "$out" | wc -l
