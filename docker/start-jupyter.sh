#!/usr/bin/env bash
# Start JupyterLab with token authentication (the image's CMD).
#
#   JUPYTER_TOKEN   the token; when unset or empty one is generated and
#                   printed (an empty token is never used)
#   JUPYTER_IP      address to listen on (default 0.0.0.0; tests: 127.0.0.1)
#   JUPYTER_PORT    port (default 8888)
#   S2S_NOTEBOOK_DIR  the server's root directory (default $HOME)
# Further arguments go to "jupyter lab".  The Theano device has already been
# chosen by docker/entrypoint.sh (the image's ENTRYPOINT).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${JUPYTER_TOKEN:-}" ]; then
    JUPYTER_TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
    echo "seq2seq-lasagne: generated JupyterLab token: $JUPYTER_TOKEN" >&2
fi
export JUPYTER_TOKEN
extra=()
if [ "$(id -u)" -eq 0 ]; then
    # The image runs as its notebook user; root only when started so
    # (docker run --user root, CI machines).  The token stays on.
    extra+=(--allow-root)
fi
exec jupyter lab "${extra[@]}" \
    --config="$here/jupyter_server_config.py" \
    --ServerApp.ip="${JUPYTER_IP:-0.0.0.0}" \
    --ServerApp.port="${JUPYTER_PORT:-8888}" \
    --ServerApp.root_dir="${S2S_NOTEBOOK_DIR:-$HOME}" \
    "$@"
