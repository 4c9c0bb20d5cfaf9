#!/usr/bin/env bash
# Starts every node of a config on this machine, each with its own data
# directory under ${DATA:-./data}, and waits until each answers /status.
# Usage: examples/local.sh CONFIG    (stop them with: kill $(cat ./data/*.pid))
set -euo pipefail
config=${1:?usage: local.sh CONFIG}
data=${DATA:-./data}
bin=${NODE_BIN:-rusts-cluster-node}
mkdir -p "$data"
# The node ids and addresses, read from the file's [[nodes]] tables.
awk '/^\[\[nodes\]\]/{n=1} n&&/^id *=/{gsub(/[" ]/,"",$0); split($0,a,"="); id=a[2]}
     n&&/^address *=/{gsub(/[" ]/,"",$0); split($0,a,"="); print id, a[2]; n=0}' "$config" |
while read -r id address; do
    "$bin" --config "$config" --node-id "$id" --data-dir "$data/$id" \
        >"$data/$id.log" 2>&1 &
    echo $! >"$data/$id.pid"
    for _ in $(seq 100); do
        curl -sf "http://$address/status" >/dev/null && break
        sleep 0.1
    done
    echo "$id: $(curl -sf "http://$address/status" || echo 'not answering; see '"$data/$id.log")"
done
