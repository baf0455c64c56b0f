#!/usr/bin/env bash
# ENTRYPOINT of the GPU image: pick the Theano device, then run the command.
#
# When THEANO_FLAGS asks for a GPU (device=cuda...) and none is usable, print
# one line saying why and switch THEANO_FLAGS to device=cpu, so that
# JupyterLab, jupyterhub-singleuser (JupyterHub replaces the CMD, not this
# ENTRYPOINT), Binder's command and their kernels all run on the CPU instead
# of failing.  S2S_REQUIRE_GPU=1 makes a missing GPU an error instead.
#
#   docker/entrypoint.sh [command ...]   (default: docker/start-jupyter.sh)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# The device= value of THEANO_FLAGS (the last one wins, as in Theano).
theano_device() {
    local item dev=''
    IFS=',' read -r -a items <<< "${THEANO_FLAGS:-}"
    for item in "${items[@]}"; do
        item="${item#"${item%%[![:space:]]*}"}"
        case "$item" in device=*) dev="${item#device=}" ;; esac
    done
    echo "$dev"
}

# THEANO_FLAGS with every device=... replaced by device=cpu.
flags_on_cpu() {
    local item out=()
    IFS=',' read -r -a items <<< "${THEANO_FLAGS:-}"
    for item in "${items[@]}"; do
        case "${item#"${item%%[![:space:]]*}"}" in
            device=*) out+=("device=cpu") ;;
            '') ;;
            *) out+=("$item") ;;
        esac
    done
    (IFS=','; echo "${out[*]}")
}

select_device() {
    local dev line status reason extra
    dev="$(theano_device)"
    case "$dev" in
        cuda*|gpu*) ;;
        *) return 0 ;;
    esac
    line="$(python3 "$here/gpu_probe.py" || true)"
    IFS=$'\t' read -r status reason extra <<< "$line"
    if [ -n "${extra:-}" ]; then
        export LD_LIBRARY_PATH="$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
    if [ "$status" = ok ]; then
        echo "seq2seq-lasagne: NVIDIA GPU found ($reason); Theano device=$dev" >&2
        return 0
    fi
    if [ "${S2S_REQUIRE_GPU:-0}" = 1 ]; then
        echo "seq2seq-lasagne: no NVIDIA GPU found (${reason:-probe failed}); S2S_REQUIRE_GPU=1, stopping" >&2
        return 1
    fi
    echo "seq2seq-lasagne: no NVIDIA GPU found (${reason:-probe failed}); running on the CPU" >&2
    THEANO_FLAGS="$(flags_on_cpu)"
    export THEANO_FLAGS
}

select_device
if [ "$#" -eq 0 ]; then
    set -- "$here/start-jupyter.sh"
fi
exec "$@"
