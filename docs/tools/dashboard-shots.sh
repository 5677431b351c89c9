#!/bin/bash
# Produces docs/dashboard.png and docs/probe.png: a real `vigie run` against loopback targets of
# the test server (tests/harness/testsrv/) with a realistic mix — some fast, some slow, one down, one
# timing out, a few flaky — then `vigie dashboard`, the graphs when `vigie graph` exists, and a
# headless Chromium screenshot of the index and of one probe page.
#
#   make BUILD=build build/vigie build/testsrv
#   docs/tools/dashboard-shots.sh [BUILD [WORKDIR]]
#
# Environment: DURATION (default 45m: long enough for a known 10-minute and 1-hour row, so the
# 7-day and 3-month columns have data too), INTERVAL (default 5s), OUT (default docs), LANG_UI
# (fr or en, default fr). A WORKDIR that already holds a run is continued: its RRD files get
# DURATION more, so a long run can be topped up by a short one (DURATION=40s) just before the
# pictures, while the states are fresh ("not checked" comes after 3 intervals + rrd_flush).
set -euo pipefail

build=${1:-build}
work=${2:-$(mktemp -d /tmp/vigie-shots-XXXXXX)}
duration=${DURATION:-45m}
interval=${INTERVAL:-5s}
out=${OUT:-docs}
lang=${LANG_UI:-fr}
vigie=$(realpath "$build/vigie")
testsrv=$(realpath "$build/testsrv")
mkdir -p "$work"
work=$(realpath "$work")

coproc SRV { exec "$testsrv" --dir "$work"; }
trap 'kill "$SRV_PID" 2>/dev/null || true' EXIT
read -r ports <&"${SRV[0]}"
http=$(sed -E 's/.*(^| )http=([0-9]+).*/\2/' <<<"$ports")
u="http://127.0.0.1:$http"

# status=N and delay=MS are steady; cycle=/cycle_delay= repeat a known sequence per URL.
flaky=$(printf '200,%.0s' $(seq 1 39))503           # 1 failure in 40: 97.5 %
rare=$(printf '200,%.0s' $(seq 1 299))500           # 1 in 300: 99.67 %
mkdir -p "$work/probes.d"
cat >"$work/probes.d/interieur.yaml" <<EOF
group: "Ministère de l'Intérieur"
defaults: {interval: $interval, timeout: 2s}
probes:
  - {id: ants-carte-grise, name: "ANTS — carte grise", url: "$u/cg?delay=80", jdma: [101]}
  - {id: ants-permis, name: "ANTS — suivi du permis de conduire", url: "$u/permis?cycle_delay=150,220,310,380", jdma: [102]}
  - {id: pre-plainte, name: "Pré-plainte en ligne", url: "$u/plainte?status=503", jdma: [103]}
  - {id: rdv-titres, name: "Titres sécurisés — prise de rendez-vous", url: "$u/rdv?delay=950", jdma: [104, 105]}
EOF
cat >"$work/probes.d/economie.yaml" <<EOF
group: "Ministère de l'Économie"
defaults: {interval: $interval, timeout: 2s}
probes:
  - {id: impots-particulier, name: "impots.gouv.fr — espace particulier", url: "$u/ep?cycle_delay=120,180,300,650", jdma: [201]}
  - {id: impots-declaration, name: "Déclaration des revenus en ligne", url: "$u/decl?delay=90&cycle=$flaky", jdma: [202]}
  - {id: amendes, name: "Paiement des amendes", url: "$u/amendes?delay=40", jdma: [203]}
EOF
cat >"$work/probes.d/caf.yaml" <<EOF
group: "Caisse d'allocations familiales"
defaults: {interval: $interval, timeout: 2s}
probes:
  - {id: caf-simulation, name: "Simulation des aides au logement", url: "$u/simu?delay=520", jdma: [301]}
  - {id: caf-rsa, name: "Déclaration trimestrielle RSA", url: "$u/rsa?delay=140&cycle=$rare", jdma: [302]}
EOF
cat >"$work/probes.d/ameli.yaml" <<EOF
group: "Assurance maladie"
defaults: {interval: $interval, timeout: 2s}
probes:
  - {id: ameli-compte, name: "ameli — compte assuré", url: "$u/compte?delay=60", jdma: [401]}
  - {id: ameli-attestation, name: "ameli — attestation de droits", url: "$u/attest?delay=3000", jdma: [402]}
EOF
cat >"$work/vigie.yaml" <<EOF
probes_dir: probes.d
rrd_dir: rrd
graphs_dir: graphs
rrd_flush: 5s
EOF

echo "vigie run for $duration in $work (interval $interval)" >&2
"$vigie" run -c "$work/vigie.yaml" --duration "$duration" --stats "$work/stats.json"

# A procedure added after the run: on the dashboard as "no data".
if ! grep -q franceconnect "$work/probes.d/ameli.yaml"; then
    echo "  - {id: franceconnect, name: \"Nouvelle démarche (ajoutée après la mesure)\", url: \"$u/new\"}" \
        >>"$work/probes.d/ameli.yaml"
fi

"$vigie" dashboard -c "$work/vigie.yaml" --lang "$lang"

# The graphs, when this vigie draws them (`vigie graph --all`: every graph into graphs_dir).
if "$vigie" help 2>/dev/null | grep -q "vigie graph"; then
    "$vigie" graph -c "$work/vigie.yaml" --all
fi

shoot() { # url file
    local prof
    prof=$(mktemp -d)
    timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
        --user-data-dir="$prof" --window-size=1280,1000 --screenshot="$2" "$1" 2>/dev/null
    rm -rf "$prof"
}
shoot "file://$work/graphs/index.html" "$out/dashboard.png"
shoot "file://$work/graphs/probe/impots-declaration.html" "$out/probe.png"
echo "wrote $out/dashboard.png and $out/probe.png (run kept in $work)" >&2
