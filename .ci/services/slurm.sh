#!/usr/bin/env bash
# One-node Slurm cluster on localhost from Debian's slurm-wlm and munge.
#   .ci/services/slurm.sh start STATE_DIR   -> installs if needed, starts, waits for idle
#   .ci/services/slurm.sh stop  STATE_DIR   -> stops the daemons it started, by pid
# No systemd here: daemons are started by hand and stopped by their pid files.
set -euo pipefail
action=${1:?start or stop}
state=${2:?state directory}
mkdir -p "$state"
state=$(cd "$state" && pwd)

stop() {
  for name in slurmd slurmctld munged; do
    if [[ -f "$state/$name.pid" ]]; then
      pid=$(cat "$state/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      rm -f "$state/$name.pid"
    fi
  done
}

if [[ $action == stop ]]; then stop; exit 0; fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: key, socket folder owned by munge, daemon as user munge.
install -d -o munge -g munge -m 0755 /run/munge "$state/munge"
[[ -s /etc/munge/munge.key ]] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null; }
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
su -s /bin/sh munge -c "munged --pid-file=$state/munge/munged.pid --log-file=$state/munge/munged.log"
for _ in $(seq 50); do [[ -s $state/munge/munged.pid ]] && break; sleep 0.1; done
cp "$state/munge/munged.pid" "$state/munged.pid"

mkdir -p "$state/spool/ctld" "$state/spool/d" "$state/log"
cpus=$(nproc)
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=belleflow-ci
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerType=sched/backfill
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -i
slurmd -N localhost
for _ in $(seq 120); do
  if sinfo -h -o %T 2>/dev/null | grep -q idle; then echo "slurm: idle"; exit 0; fi
  sleep 0.5
done
echo "slurm did not become idle; logs in $state/log" >&2
sinfo >&2 || true
exit 1
