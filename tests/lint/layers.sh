#!/usr/bin/env bash
# The layers check of `make lint`: every #include "dir/file.h" in src/ must go down the table of
# docs/DESIGN.md (section "Layers"), and the libraries named in its second table may be included
# only by the files it names. The tables are read from DESIGN.md itself, so the document and the
# check cannot disagree.
#
#   tests/lint/layers.sh [ROOT]      exit 0 when every include is allowed, 1 otherwise
#
# Rules:
#   - a project include names its directory ("base/log.h"), never a bare "log.h";
#   - a file may include its own directory and the directories its row lists;
#   - <lib.h> of the library table only from the files (or directories, with a trailing /) listed.
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
design=$root/docs/DESIGN.md
[ -r "$design" ] || { echo "layers: $design: not readable" >&2; exit 1; }

# | `dir` | `a`, `b` | ...  rows between the "<!-- layers -->" and "<!-- /layers -->" marks.
table() {
    sed -n "/<!-- $1 -->/,/<!-- \/$1 -->/p" "$design" | grep '^| `' |
        awk -F'|' '{ gsub(/[` ]/, "", $2); gsub(/[` ]/, "", $3); print $2, $3 }'
}

declare -A allowed libs
while read -r dir deps; do
    allowed[$dir]=",${deps//—/},"
done < <(table layers)
while read -r lib who; do
    libs[$lib]=",$who,"
done < <(table libraries)
[ ${#allowed[@]} -gt 0 ] || { echo "layers: no layer table in $design" >&2; exit 1; }

bad=0
while IFS= read -r f; do
    rel=${f#"$root"/}
    dir=${rel#src/}
    dir=${dir%%/*}
    if [ -z "${allowed[$dir]+x}" ]; then
        echo "$rel: directory src/$dir is not in the layer table of docs/DESIGN.md" >&2
        bad=1
        continue
    fi
    while IFS=: read -r line inc; do
        if [[ $inc != */* ]]; then
            echo "$rel:$line: #include \"$inc\": name the directory (\"dir/$inc\")" >&2
            bad=1
        elif [[ ${inc%%/*} != "$dir" && ${allowed[$dir]} != *",${inc%%/*},"* ]]; then
            echo "$rel:$line: #include \"$inc\": $dir may not include ${inc%%/*} (docs/DESIGN.md, Layers)" >&2
            bad=1
        fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
                 sed 's/^\([0-9]*\):.*"\([^"]*\)".*/\1:\2/' || true)
    for lib in "${!libs[@]}"; do
        n=$(grep -n "^[[:space:]]*#[[:space:]]*include[[:space:]]*<$lib>" "$f" | head -1 | cut -d: -f1 || true)
        [ -n "$n" ] || continue
        ok=0
        IFS=, read -ra who <<<"${libs[$lib]}"
        for w in "${who[@]}"; do
            [ -n "$w" ] || continue
            if [[ $w == */ ]]; then [[ $rel == src/$w* ]] && ok=1; else [[ $rel == src/$w ]] && ok=1; fi
        done
        if [ $ok = 0 ]; then
            echo "$rel:$n: #include <$lib>: only ${who[*]:1} may (docs/DESIGN.md, Libraries)" >&2
            bad=1
        fi
    done
done < <(find "$root/src" -name '*.[ch]' | sort)
exit $bad
