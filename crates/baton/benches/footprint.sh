#!/usr/bin/env bash
# Resident memory of baton against keepalived for the seed configuration (one IPv4 VRRP
# instance, PASS auth, one VIP), each run in a network namespace of its own that has the
# seed's interface (ens33, 192.168.5.11/24). Root only. Prints one line per measurement.
#
#   crates/baton/benches/footprint.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
[ "$(id -u)" -eq 0 ] || { echo "footprint.sh: needs root (network namespaces)" >&2; exit 1; }

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

cat > "$dir/keepalived.conf" <<'CONF'
! Configuration File for keepalived

global_defs {
router_id 192.168.5.11 # keepalived的唯一标识
}

vrrp_instance VI_1 {
state MASTER # 初始状态,MASTER 和 BACKUP
interface ens33 # 系统使用的网卡接口名称,可以使用ip addr查看
virtual_router_id 51
priority 200
advert_int 1
authentication {
auth_type PASS
auth_pass 1111
}
virtual_ipaddress {
192.168.5.10 # 虚拟ip
}
}
CONF

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

ip netns exec "$ns" "$target/baton" -n -l -f "$dir/keepalived.conf" -p "$dir/baton.pid" 2>/dev/null &
sleep 1
echo "baton daemon (lifecycle, control socket; protocol core not wired yet): $(rss "$(cat "$dir/baton.pid")") kB"

ip netns exec "$ns" "$target/examples/io_footprint" ens33 "$dir/io.sock"

if command -v keepalived >/dev/null; then
    ip netns exec "$ns" keepalived -n -l -P -f "$dir/keepalived.conf" \
        -p "$dir/keepalived.pid" -r "$dir/keepalived_vrrp.pid" >/dev/null 2>&1 &
    sleep 2
    parent=$(rss "$(cat "$dir/keepalived.pid")")
    child=$(rss "$(cat "$dir/keepalived_vrrp.pid")")
    echo "keepalived $(keepalived --version 2>&1 | head -1 | awk '{print $2}'): parent $parent kB + vrrp child $child kB = $((parent + child)) kB"
fi
