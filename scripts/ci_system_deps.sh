#!/usr/bin/env bash
# System packages (Debian 12) that the container tests need on a bare machine:
#   tests/test_image_scripts.py  - python3-pygpu/libgpuarray3 (Debian's pygpu
#                                  0.7.6 for /usr/bin/python3), python3-venv,
#                                  python3-dev and g++ (Theano compiles C).
#   tests/test_jupyter_server.py - chromium (headless screenshot).
# The same package list the Dockerfile installs (see docker/apt-packages.txt),
# plus chromium. Idempotent and quiet: apt is only touched when a package is
# missing. Needs root (CI runs as root); otherwise it says what is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# "name" or "name=version" per line; a pinned one must be installed at that
# version.
mapfile -t wanted < <(grep -v '^[[:space:]]*#' "$here/../docker/apt-packages.txt" | awk 'NF {print $1}')
wanted+=(chromium)

missing=()
for spec in "${wanted[@]}"; do
    name="${spec%%=*}"
    have="$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)"
    case "$have" in
        "install ok installed "*) ;;
        *) missing+=("$spec"); continue ;;
    esac
    if [ "$spec" != "$name" ] && [ "${have##* }" != "${spec#*=}" ]; then
        missing+=("$spec")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "ci_system_deps: all present (${#wanted[@]} packages)"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ci_system_deps: missing ${missing[*]}; run as root to install them" >&2
    exit 1
fi

echo "ci_system_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "ci_system_deps: done"
