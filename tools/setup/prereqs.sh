#!/usr/bin/env bash
# Installs what svcnet needs on a Debian 12 machine (as root): the kernel tools
# every proxy mode drives, nats-server, redis for the demo, and npm packages.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/../.."

APT_PACKAGES=(iptables nftables ipvsadm ipset conntrack iproute2 socat nats-server redis-server redis-tools curl netcat-openbsd procps iputils-ping)
# --bench-dns: what tools/bench/dns compares svcnet-dns with (knot: the C server; dnsperf: the
# load; dig for looking around). Not installed by default: Debian's knot package enables a
# knot.service on systemd machines, which the benchmark does not use (it runs knotd itself).
if [ "${1:-}" = --bench-dns ]; then
  APT_PACKAGES+=(knot dnsperf bind9-dnsutils)
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "svcnet setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian redis-server package starts a system redis; svcnet starts its own.
if [ -f package-lock.json ] && { [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  echo "svcnet setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
elif [ ! -d node_modules ]; then
  npm install --no-audit --no-fund --loglevel=error
fi
