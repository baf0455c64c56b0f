#!/usr/bin/env bash
# The build steps of the GPU image (Dockerfile), kept here so that they run
# natively on Debian 12 too (tests/test_image_scripts.py does that).
#
#   docker/install.sh apt      apt packages of docker/apt-packages.txt (root)
#   docker/install.sh deps     venv from /usr/bin/python3 with Debian's numpy
#                              and pygpu + the pinned pip packages
#   docker/install.sh project  the package itself (--no-deps), a theanorc
#                              with the BLAS flags, and an import check
#   docker/install.sh links    unversioned CUDA library names for libgpuarray
#   docker/install.sh opencl   apt packages of docker/apt-packages-opencl.txt
#                              (PoCL, CLBlast: the OpenCL variant; root)
#
# Environment:
#   S2S_VENV       the venv to make (default /opt/venv)
#   S2S_EXTRAS     pyproject extras to install (default "lab hub cuda")
#   S2S_PROJECT    the project checkout (default: this script's parent)
#   S2S_PIP_OPTS   extra pip options (the image uses --no-cache-dir)
#
# The pins come from pyproject.toml (docker/requirements.py prints them).
# One documented exception: numpy is NOT installed from pip.  The venv uses
# Debian's python3-numpy (1.24.2), which Debian's python3-pygpu is built
# against; pip gets a constraint "numpy==<that version>" so that nothing can
# replace it, and the package is installed with --no-deps because its own pin
# (numpy==1.23.5) is for the pip-only route.  seq2seq_lasagne.compat restores
# the NumPy aliases Theano needs on numpy >= 1.24.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="${S2S_PROJECT:-$(dirname "$here")}"
venv="${S2S_VENV:-/opt/venv}"
extras="${S2S_EXTRAS-lab hub cuda}"
sys_python=/usr/bin/python3
py="$venv/bin/python"
read -r -a pip_opts <<< "${S2S_PIP_OPTS:-}"

say() { echo "install.sh: $*"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

# Theano flags for the checks run here: CPU, a throwaway compile dir.
check_env() {
    local tmp rc=0
    tmp="$(mktemp -d)"
    env THEANO_FLAGS="device=cpu,base_compiledir=$tmp" "$@" || rc=$?
    rm -rf "$tmp"
    return "$rc"
}

step_apt() {  # [package list]
    [ "$(id -u)" -eq 0 ] || die "the apt step needs root"
    local pkgs
    mapfile -t pkgs < <(grep -v '^[[:space:]]*#' "${1:-$here/apt-packages.txt}" | awk 'NF {print $1}')
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
    rm -rf /var/lib/apt/lists/*
}

step_deps() {
    [ -x "$sys_python" ] || die "$sys_python not found (Debian's python3)"
    "$sys_python" -c 'import pygpu, numpy' 2>/dev/null \
        || die "Debian's python3-pygpu/python3-numpy are missing (apt step)"
    say "venv $venv from $sys_python --system-site-packages"
    "$sys_python" -m venv --system-site-packages "$venv"
    local numpy_version
    numpy_version="$("$py" -c 'import numpy; print(numpy.__version__)')"
    "$py" - <<'PY' || die "the venv's numpy is not Debian's"
import numpy, sys
sys.exit(0 if numpy.__file__.startswith('/usr/lib/python3/') else 1)
PY
    echo "numpy==$numpy_version" > "$venv/s2s-constraints.txt"
    # shellcheck disable=SC2086  # extras is a word list on purpose
    "$sys_python" "$here/requirements.py" "$project/pyproject.toml" \
        --exclude numpy $extras > "$venv/s2s-requirements.txt"
    say "pip install $(paste -sd' ' "$venv/s2s-requirements.txt") (numpy $numpy_version from Debian)"
    "$py" -m pip install -q "${pip_opts[@]}" --disable-pip-version-check \
        --constraint "$venv/s2s-constraints.txt" \
        --requirement "$venv/s2s-requirements.txt"
    [ "$("$py" -c 'import numpy; print(numpy.__version__)')" = "$numpy_version" ] \
        || die "pip replaced Debian's numpy"
}

step_project() {
    [ -x "$py" ] || die "no venv at $venv (run the deps step first)"
    # Build from a copy: pip builds a local directory in place, and the
    # checkout (the user's $HOME in the image) must stay clean.
    local src
    src="$(mktemp -d)"
    tar -C "$project" --exclude=./.git --exclude=./.venv --exclude=./notebooks \
        --exclude=./build --exclude='*.egg-info' --exclude=./test-artifacts \
        --exclude=./runs --exclude=./out -cf - . | tar -C "$src" -xf -
    if [ ! -f "$src/README.md" ]; then
        # pyproject.toml names README.md as the long description; the
        # image's warm stage copies only the package, so that README edits
        # do not invalidate its compile cache.
        echo '# seq2seq-lasagne' > "$src/README.md"
    fi
    say "pip install --no-deps $project"
    "$py" -m pip install -q "${pip_opts[@]}" --disable-pip-version-check \
        --no-deps "$src"
    rm -rf "$src"
    # The BLAS flags as a theanorc (THEANORC points here in the image): the
    # rpath in them holds commas, which THEANO_FLAGS cannot carry.  With it,
    # a plain "import theano" works too, not only "import seq2seq_lasagne".
    # The library is SciPy's OpenBLAS (seq2seq_lasagne.compat finds it);
    # it is linked through a plain "libopenblas.so" name in $venv/lib/blas so
    # that Theano's own check of the flags understands them (no warning).
    mkdir -p "$venv/etc" "$venv/lib/blas"
    local ldflags
    ldflags="$(cd / && check_env S2S_BLAS_DIR="$venv/lib/blas" "$py" - <<'PY' | tail -n 1
import os, re
from seq2seq_lasagne.compat import scipy_openblas_ldflags
flags = scipy_openblas_ldflags()
m = re.match(r'-L(\S+) -l:(\S+)', flags)
if m:
    link = os.path.join(os.environ['S2S_BLAS_DIR'], 'libopenblas.so')
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(os.path.join(m.group(1), m.group(2)), link)
    blas_dir = os.path.dirname(link)
    flags = '-L%s -lopenblas -Wl,-rpath,%s -Wl,-rpath,%s' % (
        blas_dir, blas_dir, m.group(1))
print(flags)
PY
)"
    # Two more settings make a compile cache built on one machine valid on
    # another (the image ships one; see docs/CONTAINER.md):
    # - compiledir_format without Theano's default platform string, which
    #   holds the kernel's release;
    # - a fixed -march: without one, Theano adds the build machine's
    #   -march=native flags to every module's key (and code).  x86-64-v2
    #   (SSE4.2, POPCNT) runs on every x86-64 CPU of the last 15 years and
    #   under Rosetta 2.  -D__FAST_MATH__ is seq2seq_lasagne.compat's
    #   (libmvec), which keeps a cxxflags set here as the user's.
    cat > "$venv/etc/theanorc" <<EOF
# Written by docker/install.sh.
[global]
compiledir_format = compiledir_py%(python_version)s-%(python_bitwidth)s

[gcc]
cxxflags = -march=x86-64-v2 -D__FAST_MATH__

# BLAS of the SciPy wheel.
[blas]
ldflags = $ldflags
EOF
    say "theanorc: blas.ldflags = ${ldflags:-(empty: BLAS through NumPy)}"
    (cd / && check_env THEANORC="$venv/etc/theanorc" "$py" - <<'PY')
import numpy, pygpu, seq2seq_lasagne, theano, lasagne
import theano.tensor as T
x = T.vector()
f = theano.function([x], T.dot(x, x))
assert abs(float(f(numpy.ones(3, dtype=theano.config.floatX))) - 3.0) < 1e-6
print('install.sh: ok: theano %s, lasagne %s, numpy %s, pygpu %s, floatX %s'
      % (theano.__version__, lasagne.__version__, numpy.__version__,
         pygpu.__version__, theano.config.floatX))
PY
}

step_links() {
    [ -x "$py" ] || die "no venv at $venv (run the deps step first)"
    # libgpuarray 0.7.6 dlopen()s "libcuda.so", "libnvrtc.so" and
    # "libcublas.so" by those unversioned names.  NVIDIA's wheels ship only
    # versioned files (libnvrtc.so.12, ...): link every library of theirs
    # into one directory (LD_LIBRARY_PATH in the image), plus the
    # unversioned names.  libcuda.so points at the driver's libcuda.so.1
    # where the NVIDIA container toolkit mounts it on Debian (dangling until
    # then; docker/gpu_probe.py also handles other places at run time).
    local site links lib base
    site="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    links="$venv/lib/cuda-links"
    rm -rf "$links"
    mkdir -p "$links"
    for lib in "$site"/nvidia/*/lib/*.so*; do
        [ -e "$lib" ] || continue
        ln -s "$lib" "$links/$(basename "$lib")"
    done
    for base in libnvrtc libcublas libcublasLt; do
        lib="$(find "$links" -maxdepth 1 -name "$base.so.[0-9]*" | sort | head -n 1)"
        [ -n "$lib" ] && ln -sf "$(basename "$lib")" "$links/$base.so"
    done
    ln -sf "/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)/libcuda.so.1" \
        "$links/libcuda.so"
    say "links in $links: $(cd "$links" && find . -maxdepth 1 -name '*.so' -printf '%f ' )"
}

[ "$#" -gt 0 ] || { sed -n '2,/^set -e/p' "$0" | sed '$d'; exit 2; }
for step in "$@"; do
    case "$step" in
        apt) step_apt ;;
        deps) step_deps ;;
        project) step_project ;;
        links) step_links ;;
        opencl) step_apt "$here/apt-packages-opencl.txt" ;;
        all) step_apt; step_deps; step_project; step_links ;;
        *) die "unknown step '$step' (apt, deps, project, links, opencl, all)" ;;
    esac
done
