#!/usr/bin/env bash
# `npm run demo`: a 2-node svcnet cluster in network namespaces on this machine
# (root only; the root namespace's rules, routes and links are never touched).
#   redis-server in a pod on node1, exposed as a ClusterIP service; redis-cli on
#   node2 reaches it by name (svcnet-dns, itself the service kube-system/kube-dns)
#   and prints PONG through the ClusterIP; a NodePort web service answers the
#   "external" namespace; the iptables rules for redis-service and the
#   allocator's allocations (svcnet.v1.Allocator over gRPC) are shown.
# Options: --keep (leave the cluster up), --proxy-mode MODE, --iptables legacy|nft,
#          --nats-cluster N (default 3 servers), --nats-auth none (plain NATS, for a quick try),
#          --no-tls (plaintext gRPC and NATS, for a quick try),
#          --no-build (skip prereqs and build; for quick reruns).
set -euo pipefail
cd "$(dirname "$0")/../.."

KEEP=0 BUILD=1 MODE=iptables IPT=auto NATS_SERVERS=3 NATS_AUTH=creds TLS=
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --no-build) BUILD=0 ;;
    --proxy-mode) MODE="$2"; shift ;;
    --iptables) IPT="$2"; shift ;;
    --nats-cluster) NATS_SERVERS="$2"; shift ;;
    --nats-auth) NATS_AUTH="$2"; shift ;;
    --no-tls) TLS=--no-tls ;;
    *) echo "usage: $0 [--keep] [--no-build] [--proxy-mode MODE] [--iptables auto|legacy|nft] [--nats-cluster N] [--nats-auth creds|none] [--no-tls]" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces)" >&2; exit 1; }

# SVCNET_E2E_TAG keeps two checkouts' demos apart, as it does for the e2e clusters.
NAME=demo${SVCNET_E2E_TAG:-}
CLUSTER=(node tools/cluster/dist/main.cjs)
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
export SVCNET_CLUSTER=$NAME # svcnet-cluster's default --name
cl() { "${CLUSTER[@]}" "$@"; }

if [ "$BUILD" = 1 ]; then
  step "prerequisites and build"
  bash tools/setup/prereqs.sh
  export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
  npx nx run-many -t build --outputStyle=static >/dev/null
fi

teardown() {
  if [ "$KEEP" = 1 ]; then
    echo; echo "cluster kept: svcnet-cluster status --name $NAME; tear down with: node tools/cluster/dist/main.cjs down --name $NAME"
  else
    step "tear down"
    cl down
  fi
}
trap teardown EXIT

step "cluster: 2 nodes, proxy mode $MODE, $NATS_SERVERS NATS server(s), NATS credentials: $NATS_AUTH, ${TLS:-TLS}"
cl up --nodes 2 --proxy-mode "$MODE" --iptables "$IPT" --nats-cluster "$NATS_SERVERS" --nats-auth "$NATS_AUTH" $TLS
if [ ! -f apps/svcnetctl/dist/main.cjs ] || cl status | grep -q 'state(not started)\|dns(not started)\|agent-node1(not started)'; then
  echo "demo: the control plane, the agents or svcnetctl are not built yet; the cluster came up, the demo stops here." >&2
  exit 1
fi

json_field() { node -e '
  const o = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const path = process.argv[1].split(".");
  let v = o; for (const k of path) v = v?.[/^\d+$/.test(k) ? Number(k) : k];
  if (v === undefined || v === null || v === "") process.exit(1);
  console.log(v);' "$1"; }

step "redis-server in a pod on node1"
cl pod add redis --node 1 --labels app=redis --port redis:6379 -- \
  redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' --appendonly no
show "${CLUSTER[@]}" ctl -- expose pod redis --port 6379 --target-port 6379 --name redis-service --type ClusterIP
show "${CLUSTER[@]}" ctl -- get service redis-service
CLUSTER_IP=$(cl ctl -- get service redis-service -o json | json_field spec.clusterIP)

step "redis-cli on node2 -> redis-service:6379 (a name: svcnet-dns answers $CLUSTER_IP, the ClusterIP; no process listens there, the rules are the service)"
show "${CLUSTER[@]}" ctl -- get service kube-dns -n kube-system
cl pod add client --node 2 -- sleep infinity
show "${CLUSTER[@]}" exec client -- cat /etc/resolv.conf
pong=""
for _ in $(seq 1 50); do
  pong=$(cl exec client -- redis-cli -h redis-service -p 6379 ping 2>/dev/null || true)
  [ "$pong" = PONG ] && break
  sleep 0.2
done
printf '$ redis-cli -h redis-service ping   (from pod client on node2)\n%s\n' "${pong:-<no answer>}"
[ "$pong" = PONG ] || { echo "demo: no PONG from redis-service" >&2; cl logs dns | tail -20 >&2; cl logs agent-node2 | tail -20 >&2; exit 1; }
printf '$ getent hosts redis-service.default.svc.cluster.local   (from pod client on node2)\n'
hosts=$(cl exec client -- getent hosts redis-service.default.svc.cluster.local || true)
echo "${hosts:-<not found>}"
[ "$(echo "$hosts" | awk '{ print $1 }')" = "$CLUSTER_IP" ] || { echo "demo: redis-service.default.svc.cluster.local does not resolve to $CLUSTER_IP" >&2; exit 1; }

step "a NodePort web service, called from the external namespace"
cl pod add web --node 2 --labels app=web --port http:8080 -- python3 -c '
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = ("hello from pod %s, you are %s\n" % (os.environ["HOSTNAME"], self.client_address[0])).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()'
show "${CLUSTER[@]}" ctl -- expose pod web --port 80 --target-port 8080 --name web --type NodePort
NODE_PORT=$(cl ctl -- get service web -o json | json_field spec.ports.0.nodePort)
NODE1_IP=$(cl status | awk '$1 == "node1" { print $3 }')
answer=""
for _ in $(seq 1 50); do
  answer=$(cl exec ext -- curl -s --max-time 2 "http://$NODE1_IP:$NODE_PORT/" || true)
  [ -n "$answer" ] && break
  sleep 0.2
done
printf '$ curl http://%s:%s/   (from the external namespace to node1; the pod runs on node2)\n%s\n' "$NODE1_IP" "$NODE_PORT" "${answer:-<no answer>}"
[ -n "$answer" ] || { echo "demo: the NodePort did not answer" >&2; exit 1; }

case "$MODE" in
  iptables|userspace)
    step "the rules for redis-service on node2 (iptables -t nat -L -n -v)"
    for ipt in iptables-nft iptables-legacy; do
      lines=$(cl exec node2 -- "$ipt" -t nat -L -n -v 2>/dev/null | grep -E 'redis-service' || true)
      if [ -n "$lines" ]; then echo "($ipt)"; echo "$lines"; break; fi
    done ;;
  nftables)
    step "the rules for redis-service on node2 (nft list table ip svcnet)"
    cl exec node2 -- nft list table ip svcnet | grep -F -e redis-service -e "$CLUSTER_IP " || true ;;
esac

if [ -f "/tmp/svcnet-cluster-$NAME/pki/viewer.crt" ]; then
  step "who may do what: the viewer certificate (svcnet:viewers) may read, not write"
  show cl ctl -- --context viewer get services
  show cl ctl -- --context viewer delete service web || true
fi

step "what the allocator handed out (svcnet.v1.Allocator over gRPC, from the control-plane namespace)"
PKI=/tmp/svcnet-cluster-$NAME/pki
if [ -f "$PKI/viewer.crt" ]; then
  # Reading is all a viewer (Organization svcnet:viewers) may do: the demo uses that certificate.
  show "${CLUSTER[@]}" exec cp -- node tools/setup/allocations.mjs 127.0.0.1:9001 "$PKI/ca.crt" "$PKI/viewer.crt" "$PKI/viewer.key"
else
  show "${CLUSTER[@]}" exec cp -- node tools/setup/allocations.mjs 127.0.0.1:9001
fi

step "PONG from redis-service, by name through svcnet-dns and the ClusterIP: the demo worked"
