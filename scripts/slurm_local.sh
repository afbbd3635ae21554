#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, from Debian's packages, to try graphduel's cluster sweeps
# (hydra/launcher=submitit_slurm) without a cluster.  docs/cluster.md tells the whole story.
#
#   scripts/slurm_local.sh install          apt-get the packages (root, Debian); start does it when missing
#   scripts/slurm_local.sh start            start the cluster; it stops when `stop` is run, or when the
#                                           process that started it (your shell) exits
#   scripts/slurm_local.sh stop             cancel its jobs and stop every process it started
#   scripts/slurm_local.sh status           sinfo and squeue, or "not running"
#   scripts/slurm_local.sh run CMD [ARG...] start, run CMD with SLURM_CONF set, stop; exits with CMD's code
#
# Daemons: munged (authentication), mariadbd + slurmdbd (accounting: sacct, which submitit watches
# jobs with), slurmctld (the controller) and slurmd (the node: every CPU and ~90% of the memory here).
# Their configuration, state, spool and logs live in one scratch directory, not in /etc or /var:
#   GRAPHDUEL_SLURM_DIR   the directory (default ${TMPDIR:-/tmp}/graphduel-slurm); wiped at each start
#   GRAPHDUEL_SLURM_PORT  first of four TCP ports on 127.0.0.1 (default 16817): slurmctld, slurmd,
#                         slurmdbd, mariadbd
# Clients (sbatch, squeue, sacct, submitit) find the cluster through SLURM_CONF=<dir>/slurm.conf.
#
# Exit codes: 0 done; 1 a daemon did not come up (the message names its log); 2 usage;
# 3 Slurm cannot run here (not root, not installed and not installable, ports taken): the message says why.
set -euo pipefail

DIR=${GRAPHDUEL_SLURM_DIR:-${TMPDIR:-/tmp}/graphduel-slurm}
PORT=${GRAPHDUEL_SLURM_PORT:-16817}
SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
BINARIES=(munged slurmctld slurmd slurmdbd sbatch squeue sacct scontrol mariadbd mariadb-install-db mariadb)
MARK=.graphduel-slurm  # in DIR: this directory is ours to wipe
KILL_WAIT=10           # seconds between Slurm's SIGTERM and SIGKILL to a job (Slurm's default: 30)
REQUEUE_DELAY=10       # seconds a requeued job waits before it may start again (Slurm's default: 120)

die() { echo "slurm_local: $2" >&2; exit "$1"; }
say() { echo "slurm_local: $*"; }

missing_binaries() {
  local b missing=()
  for b in "${BINARIES[@]}"; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || missing+=("$b")
  done
  echo "${missing[*]}"
}

need_root() {
  [ "$(id -u)" = 0 ] || die 3 "$1 needs root (the daemons run as root, like on a cluster's nodes): run it as root."
}

install_packages() {
  need_root "installing Slurm"
  command -v apt-get >/dev/null || die 3 "no apt-get here: install ${PACKAGES[*]} with this system's package manager."
  mkdir -p "$DIR"
  local log=$DIR/install.log policy=/usr/sbin/policy-rc.d added=""
  # Debian's maintainer scripts start each service they install: keep them from starting daemons
  # that would outlive us (the usual policy-rc.d of containers; left alone where one exists).
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added=1
  fi
  say "installing ${PACKAGES[*]} with apt-get (log: $log)"
  local rc=0
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      "${PACKAGES[@]}"; } >"$log" 2>&1 || rc=$?
  [ -z "$added" ] || rm -f "$policy"
  [ "$rc" = 0 ] || die 3 "apt-get could not install ${PACKAGES[*]} ($(grep -E '^(E|W):' "$log" | tail -n 1 || true)); see $log."
  local missing; missing=$(missing_binaries)
  [ -z "$missing" ] || die 3 "installed ${PACKAGES[*]}, but still no $missing on PATH."
}

pid_of() { [ -s "$DIR/$1.pid" ] && cat "$DIR/$1.pid" 2>/dev/null; }
running_pid() {  # a live process (a zombie, exited but not yet reaped, is not)
  local state
  state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]
}
alive() { local p; p=$(pid_of "$1") && [ -n "$p" ] && running_pid "$p"; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # wait_for SECONDS WHAT LOG COMMAND...: poll COMMAND until it succeeds
  local seconds=$1 what=$2 log=$3 i
  shift 3
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die 1 "$what did not come up within ${seconds}s: see $log (last line: $(tail -n 1 "$log" 2>/dev/null))"
}

write_configs() {
  local host=$1 dbpass=$2 node mem
  # The node as slurmd sees this machine (CPUs, sockets, cores), with ~90% of its memory to give out.
  node=$(slurmd -C | head -n 1)
  mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node")
  node=$(sed "s/RealMemory=[0-9]*/RealMemory=$((mem * 9 / 10))/; s/^NodeName=[^ ]*/NodeName=$host/" <<<"$node")
  cat >"$DIR/slurm.conf" <<CONF
# A one-node cluster for graphduel (scripts/slurm_local.sh): everything in $DIR.
ClusterName=graphduel
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire also holds a requeued job back before it may start again (Slurm's default: 120 s).
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=$REQUEUE_DELAY
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/pgid
# Each job step is bound to the CPUs it was given (cpus_per_task): a job sees only those.
TaskPlugin=task/affinity
# Look at pending jobs every 5 s (Slurm: 60, backfill 30), so a requeued job starts soon after its delay.
SchedulerParameters=sched_interval=5,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
ReturnToService=2
KillWait=$KILL_WAIT
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((PORT + 2))
AccountingStoragePass=$DIR/munge/munge.socket
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  cat >"$DIR/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
SlurmUser=root
LogFile=$DIR/log/slurmdbd.log
PidFile=$DIR/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((PORT + 3))
StorageUser=slurm
StoragePass=$dbpass
StorageLoc=slurm_acct_db
CONF
  chmod 600 "$DIR/slurmdbd.conf"  # slurmdbd refuses a readable one: it holds the password
}

start() {
  local owner=$PPID install=1
  while [ $# -gt 0 ]; do
    case $1 in
      --owner) owner=${2:?--owner needs a process id}; shift 2 ;;
      --no-install) install=""; shift ;;
      *) die 2 "start: unknown option $1 (use --owner PID, --no-install)" ;;
    esac
  done
  need_root "the local Slurm cluster"
  local missing; missing=$(missing_binaries)
  if [ -n "$missing" ]; then
    [ -n "$install" ] || die 3 "Slurm is not installed (no $missing): run $SELF install (root, Debian)."
    install_packages
  fi
  [ ! -e "$DIR/running" ] || ! alive slurmctld ||
    die 3 "a cluster is already running in $DIR: stop it with: $SELF stop"
  local p
  for p in "$PORT" $((PORT + 1)) $((PORT + 2)) $((PORT + 3)); do
    ! port_taken "$p" || die 3 "port $p on 127.0.0.1 is taken (another cluster?): pick four free ports with GRAPHDUEL_SLURM_PORT=N."
  done
  if [ -e "$DIR" ] && [ ! -e "$DIR/$MARK" ] && [ -n "$(ls -A "$DIR" | grep -vx install.log || true)" ]; then
    die 3 "$DIR is not empty and not a local cluster's directory: choose another with GRAPHDUEL_SLURM_DIR."
  fi
  local up=$DIR
  while up=$(dirname "$up") && [ "$up" != / ]; do  # munged refuses a socket others cannot reach
    [ ! -d "$up" ] || [ -n "$(find "$up" -maxdepth 0 -perm -o=x)" ] ||
      die 3 "$up is closed to other users, and munged needs its socket reachable by all: choose another GRAPHDUEL_SLURM_DIR (e.g. under /tmp)."
  done
  rm -rf "$DIR"
  # munged wants its socket's directory open to all (the key stays private).
  mkdir -p -m 755 "$DIR" "$DIR/munge" "$DIR/log"
  mkdir -p -m 700 "$DIR/state" "$DIR/spool" "$DIR/db"
  touch "$DIR/$MARK"
  trap 'stop_daemons >/dev/null 2>&1' EXIT  # a failed start leaves nothing running
  export SLURM_CONF=$DIR/slurm.conf
  export GRAPHDUEL_SLURM_CLUSTER=$DIR  # marks every process started here, so stop finds them all
  local host; host=$(hostname -s)

  head -c 1024 /dev/urandom >"$DIR/munge/munge.key"
  chmod 600 "$DIR/munge/munge.key"
  munged --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" --pid-file="$DIR/munged.pid" \
    --seed-file="$DIR/munge/munged.seed" --log-file="$DIR/log/munged.log" </dev/null >>"$DIR/log/munged.log" 2>&1 ||
    die 1 "munged did not start: see $DIR/log/munged.log (last line: $(tail -n 1 "$DIR/log/munged.log"))"
  wait_for 10 munged "$DIR/log/munged.log" test -S "$DIR/munge/munge.socket"

  mariadb-install-db --no-defaults --datadir="$DIR/db" --user=root --auth-root-authentication-method=socket \
    --skip-test-db >"$DIR/log/mariadb-install.log" 2>&1 ||
    die 1 "mariadb-install-db failed: see $DIR/log/mariadb-install.log"
  setsid mariadbd --no-defaults --datadir="$DIR/db" --user=root --socket="$DIR/mariadb.sock" \
    --pid-file="$DIR/mariadbd.pid" --bind-address=127.0.0.1 --port=$((PORT + 3)) --log-error="$DIR/log/mariadb.log" \
    --innodb-buffer-pool-size=128M --innodb-log-file-size=64M --innodb-lock-wait-timeout=900 \
    </dev/null >>"$DIR/log/mariadb.log" 2>&1 &
  wait_for 60 mariadbd "$DIR/log/mariadb.log" mariadb --no-defaults -S "$DIR/mariadb.sock" -u root -e "SELECT 1"
  local dbpass; dbpass=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  mariadb --no-defaults -S "$DIR/mariadb.sock" -u root -e "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$dbpass';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" ||
    die 1 "could not create the accounting database's user: see $DIR/log/mariadb.log"

  write_configs "$host" "$dbpass"
  slurmdbd </dev/null >>"$DIR/log/slurmdbd.log" 2>&1 || die 1 "slurmdbd did not start: see $DIR/log/slurmdbd.log"
  wait_for 60 slurmdbd "$DIR/log/slurmdbd.log" port_taken $((PORT + 2))
  slurmctld -f "$SLURM_CONF" </dev/null >>"$DIR/log/slurmctld.log" 2>&1 ||
    die 1 "slurmctld did not start: see $DIR/log/slurmctld.log (last line: $(tail -n 1 "$DIR/log/slurmctld.log"))"
  wait_for 60 slurmctld "$DIR/log/slurmctld.log" scontrol ping
  slurmd -f "$SLURM_CONF" -N "$host" </dev/null >>"$DIR/log/slurmd.log" 2>&1 ||
    die 1 "slurmd did not start: see $DIR/log/slurmd.log (last line: $(tail -n 1 "$DIR/log/slurmd.log"))"
  wait_for 60 "the node ($host)" "$DIR/log/slurmd.log" node_idle
  wait_for 60 "accounting (sacct)" "$DIR/log/slurmdbd.log" sacct -n -X

  touch "$DIR/running"
  setsid "$SELF" _watch "$owner" </dev/null >>"$DIR/log/watch.log" 2>&1 &
  echo $! >"$DIR/watch.pid"
  trap - EXIT
  say "a one-node Slurm cluster is up: partition 'local', $(sinfo -h -o '%c CPUs, %m MB' | head -n 1); state and logs in $DIR"
  say "use it from a shell with:  export SLURM_CONF=$SLURM_CONF"
  say "stop it with:  $SELF stop   (it also stops when process $owner, which started it, exits)"
}

node_idle() { [ "$(sinfo -h -o %t 2>/dev/null)" = idle ]; }

watch() {  # the watchdog: stop the cluster once the process that started it is gone
  local owner=$1
  while [ -e "$DIR/running" ] && running_pid "$owner"; do sleep 1; done
  if [ -e "$DIR/running" ]; then
    echo "$(date '+%F %T') process $owner, which started the cluster, is gone: stopping it"
    stop
  fi
}

stop_daemons() {
  local name pid i
  for name in slurmd slurmctld slurmdbd mariadbd munged; do
    pid=$(pid_of "$name") || continue
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || continue
    for ((i = 0; i < 100; i++)); do running_pid "$pid" || break; sleep 0.1; done
    ! running_pid "$pid" || kill -9 "$pid" 2>/dev/null || true
  done
  # Anything else it started (slurmstepd, a job's processes): the daemons' marker is in their
  # environment, a job's is its SLURM_CONF.  Never this script (the watchdog, when it runs this).
  local environ
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
    if grep -qzxF "GRAPHDUEL_SLURM_CLUSTER=$DIR" "$environ" 2>/dev/null ||
       { grep -qzxF "SLURM_CONF=$DIR/slurm.conf" "$environ" 2>/dev/null &&
         grep -qz '^SLURM_JOB_ID=' "$environ" 2>/dev/null; }; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
}

stop() {
  if [ ! -e "$DIR/$MARK" ]; then
    say "no local cluster in $DIR"
    return 0
  fi
  export SLURM_CONF=$DIR/slurm.conf
  if alive slurmctld; then  # let Slurm end the jobs first (SIGTERM, then SIGKILL after KillWait)
    local jobs i
    jobs=$(squeue -h -o %i 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null || true
      for ((i = 0; i < (KILL_WAIT + 10) * 5; i++)); do
        [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
        sleep 0.2
      done
    fi
  fi
  rm -f "$DIR/running"
  local watcher; watcher=$(pid_of watch || true)
  if [ -n "$watcher" ] && [ "$watcher" != "$$" ]; then  # the watchdog, unless it is the one stopping
    kill "$watcher" 2>/dev/null || true
  fi
  rm -f "$DIR/watch.pid"
  stop_daemons
  say "the local cluster in $DIR is stopped (its logs stay there until the next start)"
}

status() {
  if [ -e "$DIR/running" ] && alive slurmctld; then
    export SLURM_CONF=$DIR/slurm.conf
    echo "SLURM_CONF=$SLURM_CONF"
    sinfo
    squeue
  else
    say "not running (state directory: $DIR)"
    return 3
  fi
}

run_cmd() {
  [ $# -gt 0 ] || die 2 "run: give a command, e.g. $SELF run sinfo"
  start --owner $$
  trap 'stop' EXIT
  export SLURM_CONF=$DIR/slurm.conf
  local rc=0
  "$@" || rc=$?
  exit "$rc"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
  install) missing=$(missing_binaries); if [ -n "$missing" ]; then install_packages; fi; say "installed: ${PACKAGES[*]}" ;;
  start) start "$@" ;;
  stop) stop ;;
  status) status ;;
  run) run_cmd "$@" ;;
  _watch) watch "$@" ;;
  *) die 2 "usage: $0 install | start [--owner PID] [--no-install] | stop | status | run CMD [ARG...]" ;;
esac
