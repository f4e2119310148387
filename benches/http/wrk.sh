#!/usr/bin/env bash
# Load a running segmint server with wrk from this (second) process.
#   benches/http/wrk.sh estimate SEGMENT URL [CONNECTIONS] [SECONDS]
#       POST /estimate with the conditions, websites and apply_to of benches/segments/SEGMENT.json
#   benches/http/wrk.sh lookup URL [CONNECTIONS] [SECONDS] [CUSTOMERS]
#       GET /customers/{random id in 1..CUSTOMERS}/segments
# Needs wrk (Debian: apt-get install wrk). The first request of an estimate builds the
# indexes its conditions need; one warm-up request is sent before timing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
script="$(mktemp --suffix .lua)"
trap 'rm -f "$script"' EXIT
case "${1:-}" in
estimate)
    segment="$here/../segments/$2.json"
    url="$3"
    body="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"conditions": d.get("conditions", {"all": []}), "websites": d["websites"], "apply_to": d.get("apply_to", "both")}))' "$segment")"
    python3 -c 'import json,sys; print("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = " + json.dumps(sys.argv[1]))' "$body" > "$script"
    curl -sf -X POST "$url/estimate" -H 'Content-Type: application/json' -d "$body" > /dev/null
    wrk -t2 -c"${4:-8}" -d"${5:-20}s" --latency -s "$script" "$url/estimate"
    ;;
lookup)
    url="$2"
    printf 'math.randomseed(7)\nrequest = function()\n  return wrk.format("GET", "/customers/" .. math.random(1, %s) .. "/segments")\nend\n' "${5:-1000000}" > "$script"
    wrk -t2 -c"${3:-8}" -d"${4:-20}s" --latency -s "$script" "$url"
    ;;
*)
    sed -n '2,8p' "$0" >&2
    exit 2
    ;;
esac
