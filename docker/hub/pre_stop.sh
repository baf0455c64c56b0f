#!/usr/bin/env bash
# Before a student's server stops (the idle culler, "Stop My Server", the
# hub shutting down): ask the package's training runs in this container to
# stop, and wait for them to write their outputs.
#
#   /opt/seq2seq-lasagne/docker/hub/pre_stop.sh [SECONDS]   (default 25)
#
# Why: "docker stop" sends SIGTERM to the container's first process only.
# jupyterhub-singleuser then shuts down its kernels and terminals and
# exits, and every process still running (a "seq2seq-lasagne train" started
# in a terminal or from a notebook) is killed with SIGKILL when it does,
# before it could write anything.  Here each run gets one SIGTERM, which the
# package turns into "stop at the next step and write the outputs", and up
# to SECONDS to finish.  Run by the hub's spawner before it stops the
# container (docker/hub/jupyterhub_config.py), or as a Kubernetes preStop
# hook (docker/hub/config.yaml).  Prints one line per run it stopped.
set -uo pipefail

wait_s="${1:-25}"
case "$wait_s" in
    '' | *[!0-9]*)
        echo "pre_stop.sh: error: SECONDS must be a whole number, not '$wait_s'" >&2
        exit 2
        ;;
esac

# It signals processes by their command line, so it acts only where PID 1 is
# the student image's ENTRYPOINT (tini, then docker/entrypoint.sh): inside
# a student's container, never on a machine shared with other work.
if ! tr '\0' ' ' < /proc/1/cmdline 2> /dev/null \
    | grep -q '/opt/seq2seq-lasagne/docker/entrypoint.sh'; then
    echo "pre_stop.sh: error: not in a container of the student image (PID 1 is not its entrypoint); nothing done" >&2
    exit 2
fi

# The package's long runs: "seq2seq-lasagne train|reproduce|notebooks ..." or
# "python -m seq2seq_lasagne.cli ...".  Not this script, not the server.
runs() {
    local dir pid cmd
    for dir in /proc/[0-9]*; do
        pid="${dir#/proc/}"
        [ "$pid" = "$$" ] && continue
        [ -O "$dir" ] || continue
        cmd="$(tr '\0' ' ' < "$dir/cmdline" 2> /dev/null)" || continue
        case "$cmd" in
            *"seq2seq-lasagne train "* | *"seq2seq-lasagne reproduce "* | \
                *"seq2seq-lasagne notebooks "* | *"seq2seq_lasagne.cli "*)
                echo "$pid"
                ;;
        esac
    done
}

mapfile -t pids < <(runs)
[ "${#pids[@]}" -gt 0 ] || exit 0
for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2> /dev/null \
        && echo "pre_stop.sh: SIGTERM to $pid: $(tr '\0\n' '  ' < "/proc/$pid/cmdline" 2> /dev/null | cut -c1-300)"
done
deadline=$((SECONDS + wait_s))
while [ "$SECONDS" -lt "$deadline" ]; do
    alive=0
    for pid in "${pids[@]}"; do
        # An exited run that its parent has not reaped yet is a zombie (Z).
        stat="$(cat "/proc/$pid/stat" 2> /dev/null)" || continue
        state="${stat##*) }"
        [ "${state%% *}" != Z ] && alive=1
    done
    [ "$alive" -eq 0 ] && exit 0
    sleep 0.5
done
echo "pre_stop.sh: runs still going after ${wait_s} s: ${pids[*]}" >&2
exit 1
