#!/usr/bin/env bash
# A real multi-node Slurm on this one machine, for `nox -s slurm` and for trying `python -m launch`.
#
#   bash launch/testing/local-slurm.sh install             apt-get install slurm-wlm munge, if missing
#   bash launch/testing/local-slurm.sh start [--nodes N]   N slurmd daemons (default 2) named
#                                          regae-n1..regae-nN, one slurmctld, a private munged
#   eval "$(bash launch/testing/local-slurm.sh env)"       point sbatch/squeue/... at this cluster
#   bash launch/testing/local-slurm.sh kill-node NAME      a lost node: SIGKILL its slurmd, slurmstepds, tasks
#   bash launch/testing/local-slurm.sh start-node NAME     bring that node back into service
#   bash launch/testing/local-slurm.sh stop                cancel jobs, stop what `start` started, undo
#                                                          every change, remove the cluster folder
#
# Everything lives in one folder, LOCAL_SLURM_DIR (default /tmp/regae-local-slurm): slurm.conf
# (used through SLURM_CONF, /etc/slurm is never written), the munge key and socket (a private
# munged; /etc/munge and /run/munge are not used), state, logs, pid files and a `sacct` shim in
# bin/ (put on PATH by `env`). The one system file `start` may change is /etc/hosts: a line that
# makes the node names resolve to 127.0.0.1 (Lightning takes MASTER_ADDR from the node list),
# added only if the names do not resolve already; `stop` removes exactly that line, so the file
# is byte-identical afterwards. A failed or interrupted `start` undoes itself (trap).
# `install` (also run by `start`) runs `apt-get install slurm-wlm munge` if the commands are
# missing, with a /usr/sbin/policy-rc.d that keeps the packages from starting their services if
# there is none (removed again, also when interrupted).
# Debian 12 / slurm-wlm 22.05, run as root; no systemd, no cgroups. Traffic stays on loopback.
#
# Env: LOCAL_SLURM_DIR   the cluster folder (created; removed by stop)
#      LOCAL_SLURM_PORT  slurmctld port (default 16817); node i listens on PORT+i
#      LOCAL_SLURM_NAME  node name prefix (default regae-n)
set -Eeuo pipefail

ACTION=${1:-}
[ $# -gt 0 ] && shift
DIR=${LOCAL_SLURM_DIR:-/tmp/regae-local-slurm}
PORT=${LOCAL_SLURM_PORT:-16817}
PREFIX=${LOCAL_SLURM_NAME:-regae-n}
CONF=$DIR/slurm.conf
MARK=$DIR/.regae-local-slurm          # only a folder holding this file is ever removed
HOSTS=/etc/hosts
TAG="# regae local-slurm $DIR"        # ends the /etc/hosts line this cluster added
export SLURM_CONF=$CONF

log() { echo "[local-slurm $ACTION] $*"; }
die() { echo "[local-slurm $ACTION] error: $*" >&2; exit 1; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
nodes() { sed -n 's/^NodeName=\([^ ]*\) .*/\1/p' "$CONF" 2>/dev/null; }

# -- /etc/hosts: add one tagged line, remove exactly that line ----------------------------------
write_hosts() {  # write_hosts <file with the new content>: atomic rename, in place if bind-mounted
  local new=$1
  chmod --reference="$HOSTS" "$new"; chown --reference="$HOSTS" "$new"
  mv -f "$new" "$HOSTS" 2>/dev/null || { cat "$new" > "$HOSTS"; rm -f "$new"; }
}

add_hosts() {  # add_hosts NAME...: one line for the names that do not resolve yet
  local missing=() name
  for name in "$@"; do getent hosts "$name" >/dev/null || missing+=("$name"); done
  [ ${#missing[@]} -gt 0 ] || { log "node names resolve already; $HOSTS untouched"; return 0; }
  cp -p "$HOSTS" "$DIR/hosts.before"
  local new; new=$(mktemp "$(dirname "$HOSTS")/.hosts.regae.XXXXXX")
  cat "$HOSTS" > "$new"
  [ -s "$new" ] && [ "$(tail -c1 "$new" | od -An -c | tr -d ' ')" != '\n' ] && echo >> "$new"
  echo "127.0.0.1 ${missing[*]} $TAG" >> "$new"
  cp "$new" "$DIR/hosts.after"
  write_hosts "$new"
  log "$HOSTS: added '127.0.0.1 ${missing[*]}'"
}

remove_hosts() {  # the file as it was before `start` if nobody else changed it since, else drop our line
  [ -e "$DIR/hosts.after" ] || return 0
  local new; new=$(mktemp "$(dirname "$HOSTS")/.hosts.regae.XXXXXX")
  if cmp -s "$HOSTS" "$DIR/hosts.after"; then
    cat "$DIR/hosts.before" > "$new"
  else
    grep -vF -- "$TAG" "$HOSTS" > "$new" || true
  fi
  write_hosts "$new"
  rm -f "$DIR/hosts.after"
  log "$HOSTS: removed the node names"
}

# -- processes of this cluster: everything whose environment names our SLURM_CONF ---------------
cluster_pids() {  # cluster_pids [NODE]: job processes (tasks, batch scripts) of this cluster [on NODE]
  local p env
  for p in /proc/[0-9]*; do
    env=$( { tr '\0' '\n' < "$p/environ"; } 2>/dev/null) || continue
    grep -qxF "SLURM_CONF=$CONF" <<< "$env" || continue
    grep -q "^SLURM_JOB_ID=" <<< "$env" || [ "$(cat "$p/comm" 2>/dev/null)" = slurmstepd ] || continue
    [ -z "${1:-}" ] || grep -qxF "SLURMD_NODENAME=$1" <<< "$env" || continue
    echo "${p#/proc/}"
  done
}

stepds_of() {  # the slurmstepd parents of the given pids
  local pid ppid
  for pid in "$@"; do
    ppid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null) || continue
    [ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = slurmstepd ] && echo "$ppid"
  done | sort -u
}

stop_daemons() {  # stop_daemons NAME:PIDFILE...: SIGTERM all at once, SIGKILL what is left after 10 s
  local item name f pid pids=()
  for item in "$@"; do
    name=${item%%:*}; f=${item#*:}
    [ -s "$f" ] || continue
    pid=$(cat "$f"); rm -f "$f"
    # only a live process of the expected name: a stale pid file may name someone else's process now
    kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || continue
    kill -TERM "$pid"; pids+=("$pid"); log "stopping $name (pid $pid)"
  done
  for _ in $(seq 100); do
    local left=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    pids=("${left[@]}")
    [ ${#pids[@]} = 0 ] && return 0
    sleep 0.1
  done
  log "SIGKILL ${pids[*]}"; kill -KILL "${pids[@]}" 2>/dev/null || true
}

wait_idle() {  # wait_idle NODE...: until each node is idle (or mixed/allocated), 60 s at most
  local node st
  for node in "$@"; do
    for i in $(seq 240); do
      st=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
      case "$st" in
        idle|mixed|allocated) break ;;
        down*|drain*|fail*|inval*) [ $((i % 20)) = 0 ] && scontrol update nodename="$node" state=resume 2>/dev/null || true ;;
      esac
      sleep 0.25
    done
    case "$st" in idle|mixed|allocated) ;; *)
      tail -20 "$DIR"/log/*.log >&2; die "node $node not ready (state '$st'); logs in $DIR/log" ;;
    esac
  done
}

# -- start ---------------------------------------------------------------------------------------
install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
     && command -v munged >/dev/null; then
    return 0
  fi
  log "installing slurm-wlm + munge (apt)"
  local policy=/usr/sbin/policy-rc.d
  if [ ! -e $policy ]; then  # keep the packages' scripts from starting services
    printf '#!/bin/sh\nexit 101\n' > $policy; chmod +x $policy
    trap "rm -f $policy" EXIT; trap 'exit 130' INT TERM
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null \
    || die "apt-get install slurm-wlm munge failed"
  if [ "$(trap -p EXIT)" ]; then rm -f $policy; trap - EXIT INT TERM; fi
  return 0
}

free_port() {  # fails if something on this machine already listens on the port
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null || die "port $1 is in use; set LOCAL_SLURM_PORT"
}

write_conf() {  # write_conf N
  local n=$1 host cpus i
  host=$(hostname -s)
  cpus=$(nproc); [ "$cpus" -ge 2 ] || cpus=2
  cat > "$CONF" <<EOF
# generated by launch/testing/local-slurm.sh: $n nodes on this machine, all on 127.0.0.1
ClusterName=regae-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# a private munged; requeued jobs wait cred_expire seconds before they restart (default 120)
AuthInfo=socket=$DIR/munge/munge.socket,cred_expire=5
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2,bf_interval=2
# a node whose slurmd stops answering is DOWN after SlurmdTimeout s; it returns when it registers
SlurmdTimeout=10
ReturnToService=2
KillWait=5
MinJobAge=3600
MailProg=/bin/true
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool-%n
SlurmctldPidFile=$DIR/pid/slurmctld.pid
SlurmdPidFile=$DIR/pid/slurmd-%n.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd-%n.log
# several slurmd on one host: each node may declare what it likes, listens on its own port
SlurmdParameters=config_overrides
EOF
  for i in $(seq "$n"); do
    echo "NodeName=$PREFIX$i NodeHostname=$host NodeAddr=127.0.0.1 Port=$((PORT + i)) CPUs=$cpus" \
         "Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=2000 State=UNKNOWN" >> "$CONF"
  done
  echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP" >> "$CONF"
}

write_sacct_shim() {
  # Without accounting, submitit's job.state is always UNKNOWN and job.result() of a cancelled or
  # killed job hangs. This answers submitit's one query from slurmctld's memory (MinJobAge=3600).
  mkdir -p "$DIR/bin"
  cat > "$DIR/bin/sacct" <<'EOF'
#!/bin/bash
# sacct shim (launch/testing/local-slurm.sh): answers `sacct -o JobID,State,NodeList --parsable2
# -j ID ...` (submitit's query) from `scontrol show job`; anything else goes to the real sacct.
orig=("$@"); ids=(); fmt=""; p2=0
while [ $# -gt 0 ]; do
  case "$1" in
    -j|--jobs) ids+=(${2//,/ }); shift 2 ;;
    --jobs=*) v=${1#--jobs=}; ids+=(${v//,/ }); shift ;;
    -o|--format) fmt=$2; shift 2 ;;
    --format=*) fmt=${1#--format=}; shift ;;
    -P|--parsable2) p2=1; shift ;;
    *) exec /usr/bin/sacct "${orig[@]}" ;;
  esac
done
[ "${fmt,,}" = "jobid,state,nodelist" ] && [ $p2 = 1 ] && [ ${#ids[@]} -gt 0 ] \
  || exec /usr/bin/sacct "${orig[@]}"
echo "JobID|State|NodeList"
for id in "${ids[@]}"; do scontrol show job -o "$id" 2>/dev/null; done | awk '{
  jid = ajid = atid = st = nl = ""
  for (i = 1; i <= NF; i++) {
    if ($i ~ /^JobId=/) jid = substr($i, 7)
    else if ($i ~ /^ArrayJobId=/) ajid = substr($i, 12)
    else if ($i ~ /^ArrayTaskId=/) atid = substr($i, 13)
    else if ($i ~ /^JobState=/) st = substr($i, 10)
    else if ($i ~ /^NodeList=/) nl = substr($i, 10)
  }
  if (jid == "") next
  if (nl == "" || nl == "(null)") nl = "None assigned"
  if (ajid != "") { sub(/%.*/, "", atid); jid = (atid ~ /[-,]/) ? ajid "_[" atid "]" : ajid "_" atid }
  print jid "|" st "|" nl
}'
EOF
  chmod 755 "$DIR/bin/sacct"
}

start_munged() {
  mkdir -p -m 755 "$DIR/munge"  # munged wants its socket's folder searchable by all
  dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$DIR/munge/munge.key"
  munged --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket" \
    --pid-file="$DIR/pid/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed"
  munge -S "$DIR/munge/munge.socket" -n | unmunge -S "$DIR/munge/munge.socket" >/dev/null
}

start_node() {  # start_node NAME
  alive "$DIR/pid/slurmd-$1.pid" || slurmd -f "$CONF" -N "$1"
}

start() {
  local n=2
  while [ $# -gt 0 ]; do
    case "$1" in
      --nodes) n=${2:-}; shift 2 ;;
      --nodes=*) n=${1#--nodes=}; shift ;;
      *) die "unknown option $1 (start [--nodes N])" ;;
    esac
  done
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "expected --nodes N >= 1, got '$n'"
  [ "$(id -u)" = 0 ] || die "must run as root (daemons, apt-get, $HOSTS)"
  if [ -e "$MARK" ] && alive "$DIR/pid/slurmctld.pid"; then
    log "already running in $DIR ($(nodes | wc -l) nodes)"; env_lines; return 0
  fi
  [ ! -e "$DIR" ] || [ -e "$MARK" ] || [ -z "$(ls -A "$DIR")" ] \
    || die "$DIR exists and was not made by this script; set LOCAL_SLURM_DIR"
  [ ! -e "$MARK" ] || stop  # what a crashed run left behind
  local up=$DIR
  while up=$(dirname "$up"); [ "$up" != / ]; do  # munged serves its socket only on such a path
    [ ! -d "$up" ] || [ "$(( 0$(stat -c %a "$up") & 1 ))" = 1 ] \
      || die "$up is not searchable by all (chmod o+x), which munged needs for its socket; set LOCAL_SLURM_DIR"
  done
  install_packages
  for i in $(seq 0 "$n"); do free_port $((PORT + i)); done

  READY=0
  trap '[ "$READY" = 1 ] || { echo "[local-slurm start] failed or interrupted: undoing" >&2; set +e; stop; }' EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$DIR"; chmod 755 "$DIR"; touch "$MARK"
  mkdir -p "$DIR/log" "$DIR/pid" "$DIR/state"
  write_conf "$n"
  write_sacct_shim
  mapfile -t names < <(nodes)
  add_hosts "${names[@]}"
  start_munged
  slurmctld -f "$CONF"
  for name in "${names[@]}"; do start_node "$name"; done
  wait_idle "${names[@]}"
  timeout 60 srun -N"$n" -n"$n" -t1 true
  READY=1
  log "ready: $n node(s) ${names[*]} in $DIR"
  env_lines
}

env_lines() {
  echo "export SLURM_CONF=$CONF"
  echo "export PATH=$DIR/bin:\$PATH"
}

# -- faults --------------------------------------------------------------------------------------
kill_node() {  # kill_node NAME: the node dies with its tasks; slurmctld notices after SlurmdTimeout
  local name=${1:?kill-node NAME}
  nodes | grep -qxF "$name" || die "no node $name in $CONF"
  local daemon tasks stepds
  daemon=$(cat "$DIR/pid/slurmd-$name.pid" 2>/dev/null || true)
  mapfile -t tasks < <(cluster_pids "$name")
  mapfile -t stepds < <(stepds_of "${tasks[@]}")
  [ -n "$daemon" ] && kill -KILL "$daemon" 2>/dev/null || true
  for pid in "${stepds[@]}" "${tasks[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  rm -f "$DIR/pid/slurmd-$name.pid"
  log "killed $name: slurmd ${daemon:-none}, slurmstepd ${stepds[*]:-none}, tasks ${tasks[*]:-none}"
}

revive_node() {  # revive_node NAME: restart its slurmd; ReturnToService=2 brings it back on registration
  local name=${1:?start-node NAME}
  nodes | grep -qxF "$name" || die "no node $name in $CONF"
  start_node "$name"
  wait_idle "$name"
  log "$name is back"
}

# -- stop ----------------------------------------------------------------------------------------
stop() {
  [ -e "$MARK" ] || { log "nothing to stop in $DIR"; return 0; }
  if alive "$DIR/pid/slurmctld.pid"; then  # cancel jobs first so no job outlives its slurmd
    local jobs
    jobs=$(squeue -h -o %A 2>/dev/null || true)
    if [ -n "$jobs" ]; then
      scancel $jobs 2>/dev/null || true
      for _ in $(seq 100); do [ -z "$(squeue -h -t R,CG -o %A 2>/dev/null)" ] && break; sleep 0.2; done
    fi
  fi
  local name daemons=()
  for name in $(nodes); do daemons+=("slurmd:$DIR/pid/slurmd-$name.pid"); done
  stop_daemons "${daemons[@]}" "slurmctld:$DIR/pid/slurmctld.pid"
  stop_daemons "munged:$DIR/pid/munged.pid"  # last: the others talk through it until they exit
  local left stepds
  mapfile -t left < <(cluster_pids)  # job processes of this cluster that outlived it
  if [ ${#left[@]} -gt 0 ]; then
    mapfile -t stepds < <(stepds_of "${left[@]}")
    kill -KILL "${stepds[@]}" "${left[@]}" 2>/dev/null || true
    log "killed leftover job processes ${stepds[*]} ${left[*]}"
  fi
  remove_hosts
  rm -rf "$DIR"
  log "removed $DIR"
}

case "$ACTION" in
  install) [ "$(id -u)" = 0 ] || die "must run as root"; install_packages ;;
  start) start "$@" ;;
  stop) set +e; stop ;;
  env) env_lines ;;
  kill-node) kill_node "$@" ;;
  start-node) revive_node "$@" ;;
  *) echo "usage: $0 install | start [--nodes N] | stop | env | kill-node NAME | start-node NAME" >&2; exit 2 ;;
esac
