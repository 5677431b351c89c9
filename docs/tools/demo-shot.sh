#!/bin/sh
# Produces docs/demo.png: a headless Chromium screenshot of the demo page (graphs/demo.html) of a
# finished `make demo` (or `vigie demo --out DIR`).
#
#   make demo && docs/tools/demo-shot.sh build/demo [docs/demo.png]
set -eu
dir=${1:?usage: demo-shot.sh DEMO_DIR [OUT.png]}
out=${2:-docs/demo.png}
page=$(realpath "$dir/graphs/demo.html")
profile=$(mktemp -d /tmp/vigie-demo-shot-XXXXXX)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --no-default-browser-check \
    --disable-extensions --hide-scrollbars --window-size=1180,1500 \
    --user-data-dir="$profile" --screenshot="$profile/shot.png" "file://$page" 2>/dev/null
cp "$profile/shot.png" "$out"
echo "$out"
