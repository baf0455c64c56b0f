#!/usr/bin/env bash
# Build the image with podman, on a machine without Docker and without access
# to an image registry, and print its tag as the last line of stdout.
#
#   scripts/build_image.sh [student|instructor|opencl]   (default: student)
#
#   student     the lab without solutions (the Dockerfile's default target)
#   instructor  the student image plus notebooks/solutions/ and teaching/
#   opencl      the student image plus PoCL and CLBlast: Theano's GPU backend
#               on the CPU through OpenCL (THEANO_FLAGS device=opencl0:0)
#
# What it sets up (as root it installs what is missing; see docs/CONTAINER.md):
#   - Debian's podman, runc and debootstrap;
#   - podman through scripts/podman.sh: runc, and a containers.conf without
#     default ulimits (crun and runc cannot set rlimits in some sandboxes),
#     under the cache directory, not in the repository;
#   - the base image: when $S2S_BASE_IMAGE is not in podman's store yet, a
#     debootstrapped Debian bookworm (minbase) from the machine's own Debian
#     mirror, read from /etc/apt, imported into podman.  podman's store keeps
#     it, and the layer cache, for the next build on this machine;
#   - the machine's CA bundle, mounted read-only at a path of its own and
#     given to pip through the Dockerfile's PIP_CERT build argument (pip in
#     the build can then go through a TLS-inspecting proxy; without a bundle
#     pip uses its own).
# The build log goes to stderr and to $cache/build-<variant>.log.
#
# Environment:
#   S2S_IMAGE_NAME   repository of the tag (default localhost/seq2seq-lasagne)
#   S2S_BASE_IMAGE   base image tag (default localhost/seq2seq-lasagne-base:bookworm)
#   S2S_IMAGE_CACHE  directory for containers.conf and logs
#                    (default ${XDG_CACHE_HOME:-$HOME/.cache}/seq2seq-lasagne-image)
#   S2S_APT_ROOT     read DIR/etc/apt instead of /etc/apt (default /)
#   S2S_BUILD_CA     CA bundle for pip in the build (default: PIP_CERT,
#                    SSL_CERT_FILE, REQUESTS_CA_BUNDLE, pip's config, or
#                    /etc/ssl/certs/ca-certificates.crt, the first that exists)
# Errors: one line on stderr ("build_image.sh: error: ..."), exit 2 for bad
# arguments, 1 otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
name="${S2S_IMAGE_NAME:-localhost/seq2seq-lasagne}"
base="${S2S_BASE_IMAGE:-localhost/seq2seq-lasagne-base:bookworm}"
cache="${S2S_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seq2seq-lasagne-image}"
ca_inside=/run/s2s-build-ca.crt

die() { echo "build_image.sh: error: $*" >&2; exit "${2:-1}"; }
say() { echo "build_image.sh: $*" >&2; }

[ "$#" -le 1 ] || die "one argument at most: student, instructor or opencl" 2
variant="${1:-student}"
case "$variant" in
    student|instructor|opencl) ;;
    *) die "unknown variant '$variant' (student, instructor or opencl)" 2 ;;
esac
tag="$name:$variant"

# --- podman and friends -----------------------------------------------------
need=()
command -v podman > /dev/null || need+=(podman)
command -v runc > /dev/null || [ -x /usr/sbin/runc ] || need+=(runc)
command -v debootstrap > /dev/null || [ -x /usr/sbin/debootstrap ] || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get > /dev/null; then
        die "${need[*]} not found; install them (Debian: apt-get install podman runc debootstrap) or run as root"
    fi
    say "installing ${need[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
        > "$(mktemp)" 2>&1 || die "apt-get install ${need[*]} failed (no network or no Debian source?)"
fi
PATH="$PATH:/usr/sbin:/sbin"

mkdir -p "$cache"
cache="$(cd "$cache" && pwd)"
export S2S_IMAGE_CACHE="$cache"
pm() { "$here/podman.sh" "$@"; }

# --- the base image ----------------------------------------------------------
sources() { python3 "$here/debian_sources.py" --root "${S2S_APT_ROOT:-/}" "$@"; }

make_base() {
    local mirror dir rc=0
    mirror="$(sources mirror 2>&1)" || die "${mirror#debian_sources: error: }"
    local why
    why="$(sources check 2>&1)" || die "${why#debian_sources: error: }"
    dir="$(mktemp -d "$cache/rootfs.XXXXXX")"
    say "base image $base: debootstrap --variant=minbase bookworm from the mirror of /etc/apt"
    debootstrap --variant=minbase bookworm "$dir" "$mirror" > "$cache/debootstrap.log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        rm -rf "$dir"
        die "debootstrap failed (exit $rc); log: $cache/debootstrap.log: $(tail -n 1 "$cache/debootstrap.log")"
    fi
    # apt in the base: the machine's Debian suites (release, updates,
    # security), as the official image has them; no downloaded packages.
    rm -f "$dir/etc/apt/sources.list"
    sources sources > "$dir/etc/apt/sources.list.d/debian.sources"
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar -C "$dir" -c . | pm import --change 'CMD ["/bin/bash"]' - "$base" > /dev/null \
        || { rm -rf "$dir"; die "podman import of the base failed"; }
    rm -rf "$dir"
}

start="$(date +%s)"
if pm image exists "$base"; then
    say "base image $base: in podman's store"
else
    make_base
fi

# --- the build ---------------------------------------------------------------
ca="${S2S_BUILD_CA:-}"
if [ -z "$ca" ]; then
    pip_conf_cert="$(python3 - <<'PY'
import configparser, os
for path in ('/etc/pip.conf', '/etc/xdg/pip/pip.conf',
             os.path.expanduser('~/.config/pip/pip.conf')):
    cp = configparser.ConfigParser()
    try:
        cp.read(path)
    except configparser.Error:
        continue
    if cp.has_option('global', 'cert'):
        print(cp.get('global', 'cert'))
        break
PY
)"
    for candidate in "${PIP_CERT:-}" "${SSL_CERT_FILE:-}" "${REQUESTS_CA_BUNDLE:-}" \
            "$pip_conf_cert" /etc/ssl/certs/ca-certificates.crt; do
        if [ -n "$candidate" ] && [ -f "$candidate" ]; then
            ca="$candidate"
            break
        fi
    done
fi
ca_args=()
if [ -n "$ca" ]; then
    [ -f "$ca" ] || die "S2S_BUILD_CA=$ca is not a file"
    ca_args=(--volume "$(readlink -f "$ca"):$ca_inside:ro" --build-arg "PIP_CERT=$ca_inside")
fi

# The Debian mirror must answer for apt in the build; check it first so
# that a machine without network gets one line instead of a long log.
why="$(sources check 2>&1)" || die "${why#debian_sources: error: }"

log="$cache/build-$variant.log"
say "podman build --target $variant -> $tag (log: $log)"
rc=0
pm build --format docker --network host --pull=never --layers \
    --build-arg "BASE_IMAGE=$base" "${ca_args[@]}" \
    --target "$variant" --tag "$tag" --file "$root/Dockerfile" "$root" \
    2>&1 | tee "$log" >&2 || rc=$?
if [ "$rc" -ne 0 ]; then
    offline="$(grep -E -m 1 'Temporary failure in name resolution|Could not resolve|Network is unreachable|Failed to establish a new connection|Connection timed out|Failed to fetch' "$log" || true)"
    if [ -n "$offline" ]; then
        die "the build had no network: $(echo "$offline" | sed 's/^[[:space:]]*//' | cut -c1-200)"
    fi
    die "podman build failed (exit $rc); log: $log"
fi
# Layers of earlier builds that no image uses any more; recent ones stay
# (they are the layer cache of stages that are no image's parents).
pm image prune --force --filter until=72h > /dev/null 2>&1 || true

size="$(pm image inspect --format '{{.Size}}' "$tag")"
say "built $tag in $(( $(date +%s) - start )) s; size $(( size / 1000000 )) MB"
echo "$tag"
