#!/usr/bin/env bash
# Start JupyterLab with token authentication (the image's CMD).
#
#   JUPYTER_TOKEN   the token, at least 32 characters; when unset or empty
#                   one is generated and printed (an empty token is never
#                   used).  Kernels and terminals do not see it.
#   JUPYTER_IP      address to listen on (default: 0.0.0.0 in a container,
#                   where the port is published; 127.0.0.1 elsewhere)
#   S2S_CONTAINER   1 or 0: whether this is a container (default: found
#                   from /.dockerenv or /run/.containerenv)
#   JUPYTER_PORT    port (default 8888)
#   S2S_NOTEBOOK_DIR  the server's root directory (default $HOME)
# Further arguments go to "jupyter lab".  The Theano device has already been
# chosen by docker/entrypoint.sh (the image's ENTRYPOINT).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The shortest token accepted (docker/jupyter_server_config.py checks it too).
min_token=32
if [ -z "${JUPYTER_TOKEN:-}" ]; then
    JUPYTER_TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
    echo "seq2seq-lasagne: generated JupyterLab token: $JUPYTER_TOKEN" >&2
elif [ "${#JUPYTER_TOKEN}" -lt "$min_token" ]; then
    echo "seq2seq-lasagne: error: JUPYTER_TOKEN has ${#JUPYTER_TOKEN} characters; use at least $min_token (or leave it unset to get one)" >&2
    exit 2
fi
export JUPYTER_TOKEN

# Listen on every address only in a container (its port is what is
# published); on a host, loopback unless JUPYTER_IP says otherwise.
in_container="${S2S_CONTAINER:-}"
if [ -z "$in_container" ]; then
    in_container=0
    if [ -e /.dockerenv ] || [ -e /run/.containerenv ]; then
        in_container=1
    fi
fi
case "$in_container" in
    1) default_ip=0.0.0.0 ;;
    0) default_ip=127.0.0.1 ;;
    *)
        echo "seq2seq-lasagne: error: S2S_CONTAINER must be 0 or 1, got '$in_container'" >&2
        exit 2
        ;;
esac
ip="${JUPYTER_IP:-$default_ip}"
case "$ip" in
    127.*|localhost|::1) remote=False ;;
    *) remote=True ;;
esac
extra=()
if [ "$(id -u)" -eq 0 ]; then
    # The image runs as its notebook user; root only when started so
    # (docker run --user root, CI machines).  The token stays on.
    extra+=(--allow-root)
fi
exec jupyter lab "${extra[@]}" \
    --config="$here/jupyter_server_config.py" \
    --ServerApp.ip="$ip" \
    --ServerApp.allow_remote_access="$remote" \
    --ServerApp.port="${JUPYTER_PORT:-8888}" \
    --ServerApp.root_dir="${S2S_NOTEBOOK_DIR:-$HOME}" \
    "$@"
