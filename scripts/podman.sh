#!/usr/bin/env bash
# podman as this project runs it: runc, and a containers.conf without default
# ulimits (crun and runc cannot set rlimits in some sandboxes).  Used by
# scripts/build_image.sh and the container tests (tests/test_container*.py);
# handy by hand too:
#
#   scripts/podman.sh run --rm -it localhost/seq2seq-lasagne:student bash
#
# The containers.conf is written under $S2S_IMAGE_CACHE
# (default ${XDG_CACHE_HOME:-$HOME/.cache}/seq2seq-lasagne-image), never in
# the repository.
set -euo pipefail

cache="${S2S_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seq2seq-lasagne-image}"
if ! command -v podman > /dev/null; then
    echo "podman.sh: error: podman not found (scripts/build_image.sh installs it as root)" >&2
    exit 1
fi
conf="$cache/containers.conf"
if [ ! -f "$conf" ]; then
    mkdir -p "$cache"
    printf '# Written by scripts/podman.sh.\n[containers]\ndefault_ulimits = []\n' > "$conf.$$"
    mv -f "$conf.$$" "$conf"
fi
export CONTAINERS_CONF="$conf"
exec podman --runtime runc "$@"
