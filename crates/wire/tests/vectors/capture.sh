#!/usr/bin/env bash
# Regenerate the packet vectors in this directory from Debian's keepalived, on the wire.
#
# Two throw-away network namespaces joined by a veth pair: keepalived runs in one with a tiny
# config per case, tcpdump listens in the other. From each capture the script keeps the first
# advertisement (and, where the case says so, the priority-0 advert keepalived sends when it
# stops, its first gratuitous ARP and its first unsolicited Neighbor Advertisement) as raw bytes:
#   *.ip   one IP datagram (IPv4 or IPv6 header + VRRP message), as it crossed the veth
#   *.eth  one whole Ethernet frame (GARP, NA), as keepalived handed it to AF_PACKET
# plus the raw captures (*.pcap). Needs root, keepalived, tcpdump, iproute2 and python3.
# Nothing leaves the two namespaces; both are removed on exit, even on failure.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tag=$$
ns_ka=bwcap-ka-$tag
ns_tap=bwcap-tap-$tag
tmp=$(mktemp -d /tmp/bwcap.XXXXXX)
ka_pid=""
dump_pid=""

cleanup() {
    set +e
    [ -n "$ka_pid" ] && kill "$ka_pid" 2>/dev/null && wait "$ka_pid" 2>/dev/null
    [ -n "$dump_pid" ] && kill "$dump_pid" 2>/dev/null && wait "$dump_pid" 2>/dev/null
    ip netns del "$ns_ka" 2>/dev/null
    ip netns del "$ns_tap" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# Fixed MACs and addresses so that a rerun gives the same bytes (except where keepalived
# itself varies, which it does not for these cases).
MAC_KA=02:00:5e:10:00:0b
MAC_TAP=02:00:5e:10:00:0c

ip netns add "$ns_ka"
ip netns add "$ns_tap"
for ns in "$ns_ka" "$ns_tap"; do
    # No duplicate address detection: addresses are usable at once and no DAD probes muddy
    # the capture.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
done
ip link add veth-ka netns "$ns_ka" address "$MAC_KA" type veth \
    peer name veth-tap netns "$ns_tap" address "$MAC_TAP"
ip -n "$ns_ka" addr add 192.168.5.11/24 dev veth-ka
ip -n "$ns_tap" addr add 192.168.5.12/24 dev veth-tap
ip -n "$ns_ka" addr add fd00:5::11/64 dev veth-ka nodad
ip -n "$ns_tap" addr add fd00:5::12/64 dev veth-tap nodad
ip -n "$ns_ka" link set veth-ka up
ip -n "$ns_tap" link set veth-tap up

# capture NAME CONFIG_BODY: run keepalived with the instance block, capture until it has sent
# a few adverts, stop it with SIGTERM (priority-0 advert) and save the pcap.
capture() {
    local name=$1 body=$2
    local conf=$tmp/$name.conf pcap=$here/$name.pcap
    printf 'global_defs {\n    router_id baton-capture\n%s}\n%s\n' "${GLOBALS:-}" "$body" >"$conf"
    rm -f "$pcap"
    ip netns exec "$ns_tap" tcpdump -q -n -U -s 0 -i veth-tap -w "$pcap" \
        'ip proto 112 or ip6 proto 112 or arp or icmp6' 2>/dev/null &
    dump_pid=$!
    sleep 1
    ip netns exec "$ns_ka" keepalived -n -l -D -P -f "$conf" \
        -p "$tmp/$name.pid" -r "$tmp/$name.vrrp.pid" >"$tmp/$name.log" 2>&1 &
    ka_pid=$!
    # Backup → master takes 3 × advert_int plus skew; then GARP/NA and adverts follow.
    sleep "${WAIT:-6}"
    kill -TERM "$ka_pid"
    wait "$ka_pid" || true
    ka_pid=""
    sleep 1
    kill -INT "$dump_pid"
    wait "$dump_pid" || true
    dump_pid=""
    echo "captured $name: $(tcpdump -r "$pcap" 2>/dev/null | wc -l) frames"
}

# The seed's master: VRRPv2, PASS "1111", vrid 51, priority 200, one VIP.
capture v2_pass '
vrrp_instance VI_1 {
    state MASTER
    interface veth-ka
    virtual_router_id 51
    priority 200
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        192.168.5.10
    }
}'

# VRRPv2 without authentication, three VIPs, a 3 s interval.
WAIT=11 capture v2_noauth '
vrrp_instance VI_2 {
    state BACKUP
    interface veth-ka
    virtual_router_id 52
    priority 150
    advert_int 3
    virtual_ipaddress {
        192.168.5.20
        192.168.5.21
        10.0.0.1/8
    }
}'

# VRRPv3 over IPv4, keepalived's default checksum (with the IPv4 pseudo-header), 0.5 s.
GLOBALS='    vrrp_version 3
' capture v3_ipv4 '
vrrp_instance VI_3 {
    state BACKUP
    interface veth-ka
    virtual_router_id 53
    priority 100
    advert_int 0.5
    virtual_ipaddress {
        192.168.5.30
        192.168.5.31
    }
}'

# No capture of the plain (RFC 9568, `v3_checksum_as_v2`) form: keepalived 2.2.7 does not know
# that keyword yet ("Unknown keyword 'v3_checksum_as_v2'") and always adds the pseudo-header.

# VRRPv3 over IPv6, link-local first VIP plus a global one, 1 s.
capture v3_ipv6 '
vrrp_instance VI_6 {
    state BACKUP
    interface veth-ka
    virtual_router_id 56
    priority 100
    advert_int 1
    virtual_ipaddress {
        fe80::56
        fd00:5::56/64
    }
}'

python3 - "$here" <<'PY'
import struct, sys, pathlib

here = pathlib.Path(sys.argv[1])

def frames(path):
    data = path.read_bytes()
    magic = struct.unpack('<I', data[:4])[0]
    endian = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    linktype = struct.unpack(endian + 'I', data[20:24])[0]
    assert linktype == 1, f'{path}: link type {linktype} is not Ethernet'
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
        yield data[off + 16:off + 16 + incl]
        off += 16 + incl

def save(name, data):
    (here / name).write_bytes(data)
    print(f'{name}: {len(data)} bytes')

MAC_KA = bytes.fromhex('02005e10000b')
for case in ['v2_pass', 'v2_noauth', 'v3_ipv4', 'v3_ipv6']:
    adverts, zero, garp, na = [], [], [], []
    for f in frames(here / f'{case}.pcap'):
        if f[6:12] != MAC_KA:
            continue
        etype = struct.unpack('>H', f[12:14])[0]
        if etype == 0x0800 and f[23] == 112:
            ip = f[14:14 + struct.unpack('>H', f[16:18])[0]]
            vrrp = ip[(ip[0] & 0xf) * 4:]
            (zero if vrrp[2] == 0 else adverts).append(ip)
        elif etype == 0x86dd and f[20] == 112:
            ip = f[14:14 + 40 + struct.unpack('>H', f[18:20])[0]]
            (zero if ip[40 + 2] == 0 else adverts).append(ip)
        elif etype == 0x0806:
            garp.append(f)
        elif etype == 0x86dd and f[20] == 58 and f[54] == 136:
            na.append(f)
    assert adverts, f'{case}: no advertisement captured'
    save(f'{case}.ip', adverts[0])
    if case == 'v2_pass':
        assert zero, f'{case}: no priority-0 advert captured'
        save(f'{case}_prio0.ip', zero[0])
        assert garp, f'{case}: no gratuitous ARP captured'
        save('garp.eth', garp[0])
    if case == 'v3_ipv6':
        assert na, f'{case}: no neighbor advertisement captured'
        save('unsolicited_na.eth', na[0])
PY
