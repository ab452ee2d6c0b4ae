#!/usr/bin/env bash
# A single-node Slurm on this machine, bound to 127.0.0.1, for the Slurm test (and by hand).
#
#   tests/cluster/slurm_single_node.sh start DIR [CTLD_PORT SLURMD_PORT]   # prints DIR/slurm.conf
#   SLURM_CONF=DIR/slurm.conf squeue ...                                     # use it
#   tests/cluster/slurm_single_node.sh stop DIR                             # cancel every job, stop
#
# start: installs Debian's slurm-wlm and munge if slurmctld is absent (needs root, as CI
# runs), creates a munge key if there is none and starts munged if no munged answers,
# writes DIR/slurm.conf (one node, "localhost", with this machine's CPUs and memory; one
# default partition "debug"; select/cons_tres with CR_Core_Memory, so two 1-core jobs run
# at once; no cgroups; state, spool, logs and pid files under DIR), starts slurmctld and
# slurmd bound to 127.0.0.1 and waits until the node is idle. Any failure exits non-zero
# with the reason on stderr. stop: cancels every job, waits until squeue is empty, stops
# the daemons (and munged if start started it).
set -euo pipefail

cmd=${1:?usage: $0 start|stop DIR [CTLD_PORT SLURMD_PORT]}
dir=$(realpath -m "${2:?usage: $0 start|stop DIR [CTLD_PORT SLURMD_PORT]}")
ctld_port=${3:-6817}
slurmd_port=${4:-6818}
export SLURM_CONF=$dir/slurm.conf

die() { echo "slurm_single_node: $*" >&2; exit 1; }

wait_for() {    # wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
    local limit=$1 what=$2; shift 2
    for _ in $(seq $((limit * 2))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    die "$what: not within ${limit} s"
}

node_idle() { [ "$(sinfo -h -N -n localhost -o %t 2>/dev/null)" = "idle" ]; }
queue_empty() { [ -z "$(squeue -h -o %i 2>/dev/null)" ] && squeue -h >/dev/null 2>&1; }
munge_answers() { munge -n </dev/null | unmunge >/dev/null; }

start() {
    [ "$(id -u)" = 0 ] || die "needs root (to install packages and run slurmd)"
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        echo "slurm_single_node: installing slurm-wlm and munge" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >"$dir.apt.log" 2>&1 \
            && apt-get install -y -q --no-install-recommends slurm-wlm munge >>"$dir.apt.log" 2>&1 \
            || die "apt-get install slurm-wlm munge failed: $(tail -n 3 "$dir.apt.log" | tr '\n' ' ')"
    fi
    mkdir -p "$dir/state" "$dir/spool"
    if ! munge_answers 2>/dev/null; then
        if [ ! -s /etc/munge/munge.key ]; then
            mkdir -p /etc/munge
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
            chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
        fi
        mkdir -p /run/munge /var/log/munge /var/lib/munge
        chown munge:munge /run/munge /var/log/munge /var/lib/munge
        runuser -u munge -- /usr/sbin/munged || die "munged did not start"
        touch "$dir/munged.started"
        wait_for 10 "munged answering" munge_answers
    fi
    local node
    node=$(slurmd -C | head -n 1) || die "slurmd -C failed"
    # NodeName=<host> CPUs=2 Boards=1 ... RealMemory=24152 -> our node, less 1 GiB of memory
    local cpus mem
    cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
    mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
    [ -n "$cpus" ] && [ -n "$mem" ] || die "cannot read CPUs and RealMemory from: $node"
    cat >"$SLURM_CONF" <<CONF
# Written by tests/cluster/slurm_single_node.sh: one node, 127.0.0.1 only.
ClusterName=hfbudget
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
InactiveLimit=0
KillWait=5
MinJobAge=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$((mem > 2048 ? mem - 1024 : mem)) State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    slurmctld -c -f "$SLURM_CONF" || die "slurmctld did not start: $(tail -n 3 "$dir/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
    slurmd -N localhost -f "$SLURM_CONF" || die "slurmd did not start: $(tail -n 3 "$dir/slurmd.log" 2>/dev/null | tr '\n' ' ')"
    if ! wait_for 60 "node localhost idle" node_idle 2>/dev/null; then
        die "node localhost not idle within 60 s (sinfo: $(sinfo -h -N -o '%N %t %E' 2>&1 | tr '\n' ' ')); slurmctld.log: $(tail -n 3 "$dir/slurmctld.log" 2>/dev/null | tr '\n' ' ') slurmd.log: $(tail -n 3 "$dir/slurmd.log" 2>/dev/null | tr '\n' ' ')"
    fi
    echo "$SLURM_CONF"
}

stop() {
    [ -f "$SLURM_CONF" ] || return 0
    scancel --full $(squeue -h -o %i 2>/dev/null) 2>/dev/null || true
    wait_for 30 "every job gone" queue_empty || true
    scontrol shutdown >/dev/null 2>&1 || true
    for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do
        [ -f "$pidfile" ] || continue
        local pid; pid=$(cat "$pidfile")
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -f "$dir/munged.started" ] && [ -f /run/munge/munged.pid ]; then
        kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
        rm -f "$dir/munged.started"
    fi
}

case $cmd in
    start) mkdir -p "$dir"; start ;;
    stop) stop ;;
    *) die "usage: $0 start|stop DIR [CTLD_PORT SLURMD_PORT]" ;;
esac
