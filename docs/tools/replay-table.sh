#!/bin/sh
# Regenerates the comparison table of docs/REPLAY.md (between its replay-table markers) from the
# replay test (tests/unit/view/test_report.c, test_replay): builds the tests, runs that case alone with
# VIGIE_REPLAY_TABLE pointing at a temporary file, and splices the table in.
#   docs/tools/replay-table.sh            (BUILD=build-x to use another build directory)
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
make -s BUILD="$BUILD" "$BUILD/vigie" "$BUILD/testsrv" "$BUILD/tests/runner"
table=$(mktemp)
out=$(mktemp)
trap 'rm -f "$table" "$out"' EXIT
VIGIE_BIN="$BUILD/vigie" VIGIE_TESTSRV="$BUILD/testsrv" VIGIE_SRCDIR="$PWD" \
    CK_RUN_SUITE=report CK_RUN_CASE=replay VIGIE_REPLAY_TABLE="$table" "$BUILD/tests/runner"
[ -s "$table" ] || { echo "replay-table: the test wrote no table" >&2; exit 1; }
awk -v table="$table" '
    /<!-- replay-table:begin -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
    /<!-- replay-table:end -->/ { skip = 0 }
    !skip { print }
' docs/REPLAY.md > "$out"
cat "$out" > docs/REPLAY.md
echo "docs/REPLAY.md: table updated"
