#!/usr/bin/env bash
# ENTRYPOINT of the GPU image: seed the Theano compile cache, pick the Theano
# device, then run the command.
#
# The image carries the lab's compiled Theano graphs in
# $S2S_THEANO_SEED (/opt/seq2seq-lasagne/theano-cache, outside $HOME, which a
# volume may hide).  Each compile directory there that is missing under the
# user's base_compiledir (THEANO_FLAGS, else ~/.theano) is copied there
# first, so that the first training step does not compile for minutes.  A
# directory that exists is left alone (the user's own cache); the copy goes
# to a temporary name and is renamed into place, so two containers sharing
# a home cannot leave a half copy.  Nothing is written when the home is not
# writable: Theano then compiles as usual.
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

# The value of one THEANO_FLAGS setting (the last one wins, as in Theano).
theano_flag() {
    local item value=''
    IFS=',' read -r -a items <<< "${THEANO_FLAGS:-}"
    for item in "${items[@]}"; do
        item="${item#"${item%%[![:space:]]*}"}"
        case "$item" in "$1"=*) value="${item#"$1"=}" ;; esac
    done
    echo "$value"
}
theano_device() { theano_flag device; }

seed_compile_cache() {
    local seed="${S2S_THEANO_SEED:-/opt/seq2seq-lasagne/theano-cache}" base dir name tmp
    [ -d "$seed" ] || return 0
    base="$(theano_flag base_compiledir)"
    base="${base:-${HOME:-/nonexistent}/.theano}"
    for dir in "$seed"/*/; do
        [ -d "$dir" ] || continue
        name="$(basename "$dir")"
        [ -e "$base/$name" ] && continue
        mkdir -p "$base" 2> /dev/null || return 0
        tmp="$(mktemp -d "$base/.seed-$name.XXXXXX" 2> /dev/null)" || return 0
        if cp -R -p "$dir." "$tmp/" 2> /dev/null && mv -T "$tmp" "$base/$name" 2> /dev/null; then
            continue
        fi
        rm -rf "$tmp"
    done
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

seed_compile_cache
select_device
if [ "$#" -eq 0 ]; then
    set -- "$here/start-jupyter.sh"
fi
exec "$@"
