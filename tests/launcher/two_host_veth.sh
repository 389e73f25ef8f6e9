#!/bin/sh
# Two "hosts" on one machine: two network namespaces (each with its own hostname) joined by a veth
# pair; a 2-rank Open MPI job with one rank in each, its traffic forced over the veth (TCP only),
# checked with the interface's byte counters. ctest entry `launcher_two_host_veth`.
#
#   tests/launcher/two_host_veth.sh LOOM_COMM_TESTS [LOOM]
#
# 1. `mpirun -np 2 --host A,B LOOM_COMM_TESTS --gtest_filter='Mpi*-MpiFault*'` (the comm layer's
#    MPI tests across the link);
# 2. with LOOM: `LOOM launch -n 2 --hosts FILE` of a small synthetic MLP experiment (dist_sync), which
#    must send at least its gradients' bytes per update across the link in each direction.
# mpirun runs in the first namespace; Open MPI starts the second host's daemon through a launch
# agent (plm_rsh_agent, in place of ssh) that enters the second namespace. Needs root and
# `ip` (iproute2), `unshare` (util-linux) and mpirun; exits 77 (ctest: skipped) otherwise.
# Everything it creates is removed on exit.
set -u

skip() {
  echo "SKIPPED: $*"
  exit 77
}
fail() {
  echo "FAILED: $*"
  exit 1
}

[ $# -ge 1 ] || { echo "usage: $0 LOOM_COMM_TESTS [LOOM]"; exit 2; }
comm_tests=$1
loom=${2:-}
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
for tool in ip unshare mpirun; do
  command -v "$tool" > /dev/null || skip "'$tool' not found (install iproute2, util-linux, openmpi-bin)"
done

tag=$$
ns_a=loom_a_$tag
ns_b=loom_b_$tag
if_a=lma$tag  # interface names: at most 15 characters
if_b=lmb$tag
ip_a=10.231.7.1
ip_b=10.231.7.2
subnet=10.231.7.0/24
work=$(mktemp -d "${TMPDIR:-/tmp}/loom_two_host.XXXXXX") || fail "mktemp"

cleanup() {
  ip netns del "$ns_a" 2> /dev/null
  ip netns del "$ns_b" 2> /dev/null  # deleting a namespace deletes its veth end, and so the pair
  ip link del "$if_a" 2> /dev/null    # the pair when it was not moved into the namespaces yet
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns_a" 2> "$work/err" || skip "'ip netns add' not permitted: $(cat "$work/err")"
ip netns add "$ns_b" 2> "$work/err" || skip "'ip netns add' not permitted: $(cat "$work/err")"
ip link add "$if_a" type veth peer name "$if_b" 2> "$work/err" ||
  skip "cannot create a veth pair: $(cat "$work/err")"
ip netns exec "$ns_a" unshare --uts true 2> "$work/err" ||
  skip "'unshare --uts' not permitted: $(cat "$work/err")"
{
  ip link set "$if_a" netns "$ns_a" &&
    ip link set "$if_b" netns "$ns_b" &&
    ip -n "$ns_a" addr add "$ip_a/24" dev "$if_a" &&
    ip -n "$ns_b" addr add "$ip_b/24" dev "$if_b" &&
    ip -n "$ns_a" link set lo up &&
    ip -n "$ns_b" link set lo up &&
    ip -n "$ns_a" link set "$if_a" up &&
    ip -n "$ns_b" link set "$if_b" up
} || fail "configuring the veth pair"

# The launch agent: Open MPI runs `agent [options] HOST orted ...` (as it would run ssh); the
# daemon of host B starts inside namespace B under its own hostname.
cat > "$work/agent" << EOF
#!/bin/sh
while [ \$# -gt 0 ]; do case "\$1" in -*) shift ;; *) break ;; esac; done
host=\$1
shift
case "\$host" in
  $ip_a) ns=$ns_a name=loom-host-a ;;
  $ip_b) ns=$ns_b name=loom-host-b ;;
  *) echo "two_host_veth agent: unknown host '\$host'" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts sh -c "hostname \$name && \$*"
EOF
chmod +x "$work/agent"

# TCP over the veth only, for both MPI traffic (btl) and the daemons' (oob).
export OMPI_MCA_plm_rsh_agent="$work/agent"
export OMPI_MCA_btl=tcp,self
export OMPI_MCA_btl_tcp_if_include=$subnet
export OMPI_MCA_oob_tcp_if_include=$subnet
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export LOOM_COMM_TIMEOUT="${LOOM_COMM_TIMEOUT:-60}"

counter() {  # counter NAMESPACE INTERFACE rx_bytes|tx_bytes
  ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"
}

# run_job LABEL MIN_BYTES COMMAND...: runs COMMAND in namespace A (hostname loom-host-a); fails
# unless it exits 0 and each direction of the veth carried at least MIN_BYTES.
run_job() {
  label=$1
  min_bytes=$2
  shift 2
  tx0=$(counter "$ns_a" "$if_a" tx_bytes)
  rx0=$(counter "$ns_a" "$if_a" rx_bytes)
  start=$(date +%s)
  timeout 100 ip netns exec "$ns_a" unshare --uts sh -c 'hostname loom-host-a && exec "$@"' sh \
    "$@" > "$work/log" 2>&1
  status=$?
  tx=$(($(counter "$ns_a" "$if_a" tx_bytes) - tx0))
  rx=$(($(counter "$ns_a" "$if_a" rx_bytes) - rx0))
  echo "$label: exit $status in $(($(date +%s) - start)) s; $if_a sent $tx bytes, received $rx" \
    "(at least $min_bytes expected each way)"
  if [ "$status" != 0 ] || [ "$tx" -lt "$min_bytes" ] || [ "$rx" -lt "$min_bytes" ]; then
    echo "---- output of: $*"
    cat "$work/log"
    fail "$label"
  fi
}

# 1. The comm layer's MPI tests. MpiCommunicator.AllReduceOddSizes alone sums n float32 and n
# float64 for n in 1, 7, 1001, 65537, 1000003: 1066549 * 12 bytes that each rank must receive.
run_job "comm MPI tests" $((1066549 * 12)) \
  mpirun -np 2 --host "$ip_a,$ip_b" --bind-to none "$comm_tests" --gtest_filter='Mpi*-MpiFault*' \
  --gtest_color=no
[ "$(grep -c '^\[  PASSED  \]' "$work/log")" = 2 ] ||
  { cat "$work/log"; fail "comm MPI tests: expected a PASSED line from each rank"; }
grep '^\[  PASSED  \]' "$work/log" | sed 's/^/  /'

# 2. Training: 64-128-10 MLP, 9610 float32 parameters; 512 samples in batches of 32 over 2 ranks
# and 2 epochs is at least 16 updates, each summing every gradient across the link both ways.
if [ -n "$loom" ]; then
  printf '%s slots=1\n%s slots=1\n' "$ip_a" "$ip_b" > "$work/hosts"
  cat > "$work/experiment.yaml" << 'EOF'
name: two_host_veth
model: {builtin: mlp, hidden: [128], num_classes: 10}
data:
  train: {source: synthetic, num_samples: 512, shape: [64], num_classes: 10}
  batch_size: 32
optimizer: {name: sgd, lr: 0.1}
trainer: {epochs: 2}
logging: {progress: lines, log_every: 4, tensorboard: false}
EOF
  run_job "loom launch -n 2 --hosts" $((9610 * 4 * 16)) \
    "$loom" launch -n 2 --hosts "$work/hosts" "$work/experiment.yaml" \
    "logging.run_dir=$work/run"
  grep -q "epoch 2/2" "$work/log" || { cat "$work/log"; fail "training: no 'epoch 2/2' line"; }
fi
echo "PASSED"
