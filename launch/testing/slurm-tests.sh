#!/usr/bin/env bash
# `nox -s slurm`: the launcher's tests against a real 2-node Slurm started and stopped here.
#
#   bash launch/testing/slurm-tests.sh PYTHON [pytest options]
#
# One folder per run (mktemp under /tmp; short, for Unix socket paths) holds everything: the
# cluster (LOCAL_SLURM_DIR: slurm.conf, munge, state, logs), pytest's temporary files and so every
# job's output. On any exit (tests failed, start failed, Ctrl-C, SIGTERM) the cluster is stopped
# and the folder removed. /etc/slurm, /usr/local/bin and /etc/hosts are compared with what they
# were before the cluster started: content, mode and owner must be identical, or the run fails.
set -uo pipefail
PY=${1:?usage: slurm-tests.sh PYTHON [pytest options]}
shift
HERE=$(cd "$(dirname "$0")" && pwd)
SCRIPT=$HERE/local-slurm.sh
cd "$HERE/../.."

RUN=$(mktemp -d /tmp/regae-slurm.XXXXXX)
chmod 755 "$RUN"  # munged serves its socket only on a path everyone may search
export LOCAL_SLURM_DIR=$RUN/cluster
WATCHED=(/etc/slurm /usr/local/bin /etc/hosts)
TESTS=""

snapshot() {  # path, type, mode, owner and sha256 of everything under the watched paths
  find "${WATCHED[@]}" -printf '%p %y %m %U:%G\n' 2>/dev/null | sort
  find "${WATCHED[@]}" -type f -print0 2>/dev/null | sort -z | xargs -0r sha256sum
}

finish() {
  local rc=$? log
  trap - EXIT INT TERM
  if [ -n "$TESTS" ] && kill -0 "$TESTS" 2>/dev/null; then kill -TERM "$TESTS"; wait "$TESTS"; fi
  if [ $rc != 0 ] && [ -d "$LOCAL_SLURM_DIR/log" ]; then
    for log in "$LOCAL_SLURM_DIR"/log/*.log; do echo "--- last lines of $log"; tail -15 "$log"; done
  fi
  bash "$SCRIPT" stop
  if [ -e "$RUN/system-files" ] && ! snapshot | diff "$RUN/system-files" - >&2; then
    echo "slurm-tests: this run changed the system files above" >&2; rc=1
  fi
  rm -rf "$RUN"
  exit $rc
}
trap finish EXIT
trap 'echo "slurm-tests: interrupted" >&2; exit 130' INT TERM

bash "$SCRIPT" install || exit 1
snapshot > "$RUN/system-files"
bash "$SCRIPT" start --nodes 2 || exit 1
eval "$(bash "$SCRIPT" env)"
# in the background so that a signal to this script is handled at once (trap above)
# --durations=0: the wall time of every test, for the record (issue #12 asks for it)
OMP_NUM_THREADS=1 "$PY" -m pytest -p no:cacheprovider -m slurm --durations=0 --basetemp "$RUN/pytest" "$@" &
TESTS=$!
wait "$TESTS"
rc=$?
TESTS=""
[ $rc = 5 ] && rc=0  # no test selected (a -k filter): not a failure
exit $rc
