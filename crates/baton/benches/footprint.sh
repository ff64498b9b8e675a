#!/usr/bin/env bash
# Resident memory of baton against keepalived for the seed's master configuration (one IPv4
# VRRP instance, PASS auth, one VIP), each run in a network namespace of its own that has the
# seed's interface (ens33, 192.168.5.11/24), measured once it is MASTER and holds the VIP
# (steady state). Root only. Prints one line per measurement.
#
#   crates/baton/benches/footprint.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
[ "$(id -u)" -eq 0 ] || { echo "footprint.sh: needs root (network namespaces)" >&2; exit 1; }

# The workspace's release profile (built for size: see Cargo.toml).
cargo build -q -p baton --release --bin baton --example io_footprint
target=${CARGO_TARGET_DIR:-target}/release

ns=baton-fp-$$
dir=$(mktemp -d)
cleanup() {
    for f in "$dir"/*.pid; do [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
    sleep 0.5
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add ens33 type veth peer name ens33p
ip -n "$ns" link set ens33p up
ip -n "$ns" link set ens33 up
ip -n "$ns" addr add 192.168.5.11/24 dev ens33

# The seed's master configuration, verbatim.
cp crates/baton/tests/fixtures/seed/master.conf "$dir/keepalived.conf"

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
threads() { awk '/^Threads:/ {print $2}' "/proc/$1/status"; }
# The median of five samples a second apart: steady state, not a start-up peak.
median_rss() {
    local samples=()
    for _ in 1 2 3 4 5; do samples+=("$(rss "$1")"); sleep 1; done
    printf '%s\n' "${samples[@]}" | sort -n | sed -n 3p
}

# Run the seed master with baton binary $1 and print its steady-state footprint as $2.
measure_baton() {
    local bin=$1 label=$2
    ip netns exec "$ns" "$bin" -n -l -f "$dir/keepalived.conf" -p "$dir/baton.pid" >"$dir/baton.log" 2>&1 &
    # Steady state: the instance has become MASTER (after its Master_Down_Interval, ~3.2 s)
    # and holds the VIP.
    local state=""
    for _ in $(seq 100); do
        state=$("$bin" status --json -p "$dir/baton.pid" 2>/dev/null || true)
        case "$state" in *'"state": "Master"'*) break ;; esac
        sleep 0.1
    done
    case "$state" in
        *'"state": "Master"'*) ;;
        *) echo "footprint.sh: baton never became MASTER" >&2; cat "$dir/baton.log" >&2; exit 1 ;;
    esac
    sleep 2
    local pid
    pid=$(cat "$dir/baton.pid")
    echo "baton ($label), seed master config, MASTER: $(median_rss "$pid") kB RSS (median of 5; now anon $(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status") kB + file $(awk '/^RssFile:/ {print $2}' "/proc/$pid/status") kB), $(threads "$pid") thread(s), 1 process, binary text $(size -A "$bin" | awk '$1 == ".text" {printf "%d kB", $2 / 1024}')"
    kill "$pid"
    while [ -e "$dir/baton.pid" ]; do sleep 0.1; done
}

measure_baton "$target/baton" "release profile"

ip netns exec "$ns" "$target/examples/io_footprint" ens33 "$dir/io.sock"

if command -v keepalived >/dev/null; then
    ip netns exec "$ns" keepalived -n -l -P -f "$dir/keepalived.conf" \
        -p "$dir/keepalived.pid" -r "$dir/keepalived_vrrp.pid" >/dev/null 2>&1 &
    for _ in $(seq 100); do
        ip -n "$ns" -br addr show dev ens33 | grep -q 192.168.5.10 && break
        sleep 0.1
    done
    sleep 2
    parent=$(median_rss "$(cat "$dir/keepalived.pid")")
    child=$(median_rss "$(cat "$dir/keepalived_vrrp.pid")")
    echo "keepalived $(keepalived --version 2>&1 | head -1 | awk '{print $2}'), same config, MASTER: parent $parent kB + vrrp child $child kB = $((parent + child)) kB RSS"
fi
