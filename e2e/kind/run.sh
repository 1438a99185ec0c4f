#!/usr/bin/env bash
# The whole netpolgen loop on a real Cilium cluster:
#   kind cluster (no default CNI) -> Cilium 1.20.2 with Hubble Relay (Helm)
#   -> demo app with a traffic generator -> netpolgen learn through a
#   port-forward to hubble-relay -> apply the policies -> every observed path
#   still works, an unobserved one is dropped by policy and Hubble says so
#   -> netpolgen drift --once reports that drop as uncovered.
#
# Needs docker, kind, helm, kubectl and go on PATH, and internet access for
# images and the Cilium chart. Environment:
#   FORMAT=cilium|kubernetes   policy format to learn and apply (cilium)
#   LEARN_DURATION=2m          learning window
#   KPR=1                      kube-proxy replacement instead of kube-proxy
#   KEEP_CLUSTER=1             keep the cluster afterwards
#   ARTIFACTS=DIR              where logs, flows and policies go
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

FORMAT=${FORMAT:-cilium}
LEARN_DURATION=${LEARN_DURATION:-2m}
KPR=${KPR:-0}
KEEP_CLUSTER=${KEEP_CLUSTER:-0}
CLUSTER=netpolgen-e2e
CILIUM_CHART_VERSION=1.20.2
ARTIFACTS=${ARTIFACTS:-$here/.artifacts/$FORMAT}
RELAY_PORT=${RELAY_PORT:-4245}
NS=demo

log() { printf '\n=== %s\n' "$*" >&2; }
die() {
  printf 'e2e: FAIL: %s\n' "$*" >&2
  exit 1
}

require_tools() {
  local tool
  for tool in docker kind helm kubectl go; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH; this suite needs docker, kind, helm, kubectl and go"
  done
  docker info >/dev/null 2>&1 || die "docker is installed but its engine does not answer (docker info failed)"
  case "$FORMAT" in cilium | kubernetes) ;; *) die "FORMAT must be cilium or kubernetes, not $FORMAT" ;; esac
}

port_forward_pid=""

cleanup() {
  local rc=$?
  if [ -n "$port_forward_pid" ]; then
    kill "$port_forward_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    collect_artifacts || true
  fi
  if [ "$KEEP_CLUSTER" = 1 ]; then
    log "keeping cluster $CLUSTER (KEEP_CLUSTER=1)"
  else
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}

collect_artifacts() {
  log "saving logs and flows to $ARTIFACTS"
  mkdir -p "$ARTIFACTS/logs"
  kind export logs "$ARTIFACTS/logs/kind" --name "$CLUSTER" >/dev/null 2>&1 || true
  kubectl get pods -A -o wide >"$ARTIFACTS/logs/pods.txt" 2>&1 || true
  kubectl -n "$NS" get events --sort-by=.lastTimestamp >"$ARTIFACTS/logs/demo-events.txt" 2>&1 || true
  if [ -n "$port_forward_pid" ]; then
    "$HUBBLE" observe --server "localhost:$RELAY_PORT" -o jsonpb --last 20000 >"$ARTIFACTS/hubble-flows.json" 2>&1 || true
  fi
}

build_tools() {
  log "building netpolgen and the hubble CLI"
  mkdir -p "$ARTIFACTS"
  BIN="$ARTIFACTS/bin"
  mkdir -p "$BIN"
  (cd "$root" && go build -o "$BIN/netpolgen" ./cmd/netpolgen)
  NETPOLGEN="$BIN/netpolgen"
  make -C "$root" hubble >/dev/null
  HUBBLE=$(make -s -C "$root" --no-print-directory print-hubble-bin)
}

create_cluster() {
  local config="$here/kind-config.yaml"
  [ "$KPR" = 1 ] && config="$here/kind-config-kpr.yaml"
  log "creating kind cluster $CLUSTER from $(basename "$config")"
  kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  kind create cluster --config "$config" --wait 0s
}

install_cilium() {
  log "installing Cilium $CILIUM_CHART_VERSION with Hubble Relay"
  helm repo add cilium https://helm.cilium.io >/dev/null 2>&1 || true
  helm repo update cilium >/dev/null
  local extra=()
  if [ "$KPR" = 1 ]; then
    extra=(--set kubeProxyReplacement=true --set k8sServiceHost="$CLUSTER-control-plane" --set k8sServicePort=6443)
  fi
  helm upgrade --install cilium cilium/cilium --version "$CILIUM_CHART_VERSION" \
    --namespace kube-system --values "$here/cilium-values.yaml" "${extra[@]}" --wait --timeout 10m
  kubectl -n kube-system rollout status ds/cilium --timeout=5m
  kubectl -n kube-system rollout status deploy/hubble-relay --timeout=5m
  kubectl wait --for=condition=Ready nodes --all --timeout=5m
}

deploy_demo() {
  log "deploying the demo app and its traffic generator"
  kubectl apply -k "$root/examples/demo-app"
  kubectl -n "$NS" rollout status deploy/frontend deploy/backend deploy/loadgen --timeout=5m
}

start_port_forward() {
  log "port-forwarding hubble-relay to localhost:$RELAY_PORT"
  kubectl -n kube-system port-forward svc/hubble-relay "$RELAY_PORT:80" >"$ARTIFACTS/port-forward.log" 2>&1 &
  port_forward_pid=$!
  local _
  for _ in $(seq 1 30); do
    if "$HUBBLE" status --server "localhost:$RELAY_PORT" >/dev/null 2>&1; then
      return 0
    fi
    sleep 2
  done
  die "hubble-relay did not answer on localhost:$RELAY_PORT after 60s (see $ARTIFACTS/port-forward.log)"
}

learn() {
  log "learning for $LEARN_DURATION ($FORMAT policies)"
  POLICIES="$ARTIFACTS/policies"
  rm -rf "$POLICIES"
  "$NETPOLGEN" learn --server "localhost:$RELAY_PORT" --duration "$LEARN_DURATION" \
    --namespace "$NS" --format "$FORMAT" --out "$POLICIES" --state "$ARTIFACTS/learn-state.json" --quiet
  [ -f "$POLICIES/REPORT.md" ] || die "learn wrote no REPORT.md in $POLICIES"
  find "$POLICIES" -name '*.yaml' | grep -q . || die "learn wrote no policies in $POLICIES"
}

apply_policies() {
  log "applying the generated policies"
  kubectl apply -k "$POLICIES/$NS"
  # Give the agents time to regenerate the endpoints' policy.
  sleep 15
}

# agnhost's /dial answers {"responses":[...]} when the call through frontend
# worked and {"errors":[...]} when it did not.
dial_ok() {
  local protocol=$1 port=$2 out
  out=$(kubectl -n "$NS" exec deploy/loadgen -- wget -q -O - -T 5 \
    "http://frontend/dial?request=hostname&protocol=$protocol&host=backend&port=$port&tries=3") || return 1
  printf '%s' "$out" | grep -q '"responses":\["' || return 1
}

assert_observed_paths_work() {
  log "asserting every observed path still works"
  kubectl -n "$NS" exec deploy/loadgen -- wget -q -O /dev/null -T 5 http://frontend/hostname ||
    die "loadgen -> frontend:80 (8080) was learned but is now blocked"
  dial_ok http 9090 || die "frontend -> backend 9090/TCP was learned but is now blocked"
  dial_ok udp 9125 || die "frontend -> backend 9125/UDP was learned but is now blocked"
}

assert_unobserved_path_blocked() {
  log "asserting a path never observed is blocked and Hubble reports it DROPPED"
  kubectl -n "$NS" delete pod intruder --ignore-not-found >/dev/null
  if kubectl -n "$NS" run intruder --image=busybox:1.36 --restart=Never --attach --rm --quiet \
    --labels=app.kubernetes.io/name=intruder -- wget -q -O /dev/null -T 5 http://backend:9090/hostname; then
    die "a fresh pod reached backend:9090, which the policies should not allow"
  fi
  sleep 5
  "$HUBBLE" observe --server "localhost:$RELAY_PORT" --namespace "$NS" --verdict DROPPED \
    -o jsonpb --since 5m >"$ARTIFACTS/dropped.json"
  grep -q '"intruder' "$ARTIFACTS/dropped.json" ||
    die "Hubble reported no DROPPED flow from the intruder pod (see $ARTIFACTS/dropped.json)"
}

assert_drift_reports_drop() {
  log "asserting drift --once reports the drop as uncovered"
  local rc=0
  "$NETPOLGEN" drift --once --policies "$POLICIES" --from-file "$ARTIFACTS/dropped.json" \
    --report-dir "$ARTIFACTS/drift" || rc=$?
  [ "$rc" -ne 0 ] || die "drift --once exited 0 although uncovered traffic was dropped"
  grep -q intruder "$ARTIFACTS/drift/"*.md || die "the drift report does not name the intruder (see $ARTIFACTS/drift)"
}

main() {
  require_tools
  trap cleanup EXIT
  build_tools
  create_cluster
  install_cilium
  deploy_demo
  start_port_forward
  learn
  apply_policies
  assert_observed_paths_work
  assert_unobserved_path_blocked
  assert_drift_reports_drop
  log "PASS ($FORMAT)"
}

main "$@"
