#!/bin/sh
# `make valgrind`: the test suite with every process we own under valgrind memcheck.
#
#   tests/harness/valgrind.sh BUILD_DIR [SUITE...]      (default: every suite of tests/harness/suites.h)
#
# The runner runs under valgrind with --trace-children=yes, so three kinds of process are checked,
# each writing its own log (DIR/<suite>/vg.<pid>.log):
#   - the runner and Check's forked test processes (valgrind follows fork(); a memcheck error or a
#     definite/indirect leak in a test process makes it exit VG_EXIT, which Check reports as
#     "Early exit with return value 99" — the test fails);
#   - every `vigie` a test execs (test_vigie, test_spawn_vigie) and the graph renderer the daemon
#     spawns (`vigie graph --render-plan`), and the test HTTP server (testsrv);
#   - not the programs we do not own: anything under /usr, /bin, /sbin (rrdtool, rrdcached, sh,
#     make, chromium, alertmanager, …) and the tests' shell scripts (*.sh: the exec receivers,
#     whose /bin/sh would otherwise run under memcheck, too slow for their 300 ms timeouts) run
#     natively (--trace-children-skip).
# Then every log is scanned: a log with "ERROR SUMMARY: [1-9]" (an error, or a definite or indirect
# leak: --errors-for-leak-kinds) or with an error report (a process killed before its summary)
# fails the run, whatever Check said. A log without a summary is a
# forked process that exec'd an untraced program (rrdtool, sh, …) or one killed by SIGKILL (a
# test's cleanup, a timeout): counted, not an error.
#
# Suites run one at a time (CK_RUN_SUITE). Everything is 20-50x slower: VIGIE_TIMEOUT_SCALE (the
# tests' own waits and Check timeouts) defaults to 20; tests that assert timing may fail for
# slowness, which the per-suite summary shows as Check failures with no memcheck error.
# tests/harness/valgrind.supp suppresses only what is inside third-party libraries (each entry says why).
set -u

build=${1:?usage: tests/harness/valgrind.sh BUILD_DIR [SUITE...]}
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$build" && pwd)
out=${VG_DIR:-$build/valgrind}
VG_EXIT=99
if [ $# -eq 0 ]; then
    set -- $(sed -n 's/^SUITE(\([a-z_]*\))$/\1/p' "$src/tests/harness/suites.h")
fi

export VIGIE_BIN="$build/vigie" VIGIE_TESTSRV="$build/testsrv" VIGIE_SRCDIR="$src"
export VIGIE_TIMEOUT_SCALE="${VIGIE_TIMEOUT_SCALE:-20}"
# Test cases without tcase_set_timeout use Check's default (4 s).
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-120}"
# glib's slice allocator keeps freed blocks: plain malloc lets memcheck see them.
export G_SLICE=always-malloc G_DEBUG=gc-friendly

rm -rf "$out"
mkdir -p "$out"
bad=0
: >"$out/summary.txt"
for s in "$@"; do
    d="$out/$s"
    mkdir -p "$d"
    t0=$(date +%s)
    CK_RUN_SUITE=$s valgrind --tool=memcheck --trace-children=yes \
        --trace-children-skip='/usr/*,/bin/*,/sbin/*,*.sh' \
        --error-exitcode=$VG_EXIT --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --track-fds=yes --num-callers=30 \
        --suppressions="$src/tests/harness/valgrind.supp" --gen-suppressions=all \
        --log-file="$d/vg.%p.log" "$build/tests/runner" >"$d/runner.out" 2>&1
    rc=$?
    t1=$(date +%s)
    logs=$(ls "$d"/vg.*.log 2>/dev/null | wc -l)
    # An error is printed when it happens: also in the log of a process killed before its summary.
    errs=$(grep -lE '^==[0-9]+== (ERROR SUMMARY: [1-9]|Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap|Argument .* of function .* has a fishy)' \
        "$d"/vg.*.log 2>/dev/null)
    nerr=$(printf '%s' "$errs" | grep -c . || true)
    nosum=$(grep -L 'ERROR SUMMARY:' "$d"/vg.*.log 2>/dev/null | wc -l)
    checks=$(grep -E '^[0-9]+%: Checks:' "$d/runner.out" | tail -1)
    line=$(printf '%-10s %5ss  %s  processes=%s memcheck-errors=%s no-summary=%s' \
        "$s" $((t1 - t0)) "${checks:-runner rc=$rc}" "$logs" "$nerr" "$nosum")
    echo "$line" | tee -a "$out/summary.txt"
    # The failing tests, and why (a timing failure has no memcheck error behind it).
    grep -E ':[EF]:' "$d/runner.out" | sed 's/^/    /' | tee -a "$out/summary.txt"
    for f in $errs; do
        echo "    memcheck: $f: $(sed -n 's/^==[0-9]*== Command: //p' "$f" | head -1)" |
            tee -a "$out/summary.txt"
        grep -E '^==[0-9]+== (Invalid|Conditional|Syscall|Mismatched|Source and|Use of|[0-9,]+ bytes in)' "$f" |
            head -5 | sed 's/^/        /' | tee -a "$out/summary.txt"
    done
    # --track-fds: descriptors a vigie process opened and left open at exit (informational:
    # libsystemd keeps its journal socket, for one).
    for f in $(grep -l 'Command: [^ ]*/vigie ' "$d"/vg.*.log 2>/dev/null); do
        awk '/FILE DESCRIPTORS:/ { on = 1 }
             on && /Open (file descriptor|AF_[A-Z0-9]* socket) [0-9]+/ { h = $0; n = 0; next }
             on && h != "" && /inherited from parent/ { h = "" }
             on && h != "" && ++n == 2 { print h " |" $0; h = "" }' "$f"
    done | sed -e 's/==[0-9]*== *//g' -e 's/ 0x[0-9A-F]*:/ /' | sort | uniq -c |
        sed 's/^/    fd left open at exit: /' | tee -a "$out/summary.txt"
    [ "$nerr" -eq 0 ] || bad=1
done
echo "valgrind: logs in $out, summary in $out/summary.txt"
[ $bad -eq 0 ] || { echo "valgrind: memcheck errors (see above)" >&2; exit 1; }
