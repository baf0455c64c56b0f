#!/usr/bin/env bash
# Everything a GPU run needs, short of the GPU: scripts/gpu_device_run.sh
# run here, from the folder scripts/gpu_bundle.sh builds, with a Python
# that stands in for the GPU machine's (Python 3.12, NumPy 2.5.2, SciPy,
# Matplotlib, tqdm, six, MarkupSafe, a setuptools without pkg_resources),
# then its results checked:
#   - the wheels install into an empty folder (pip --target, no index);
#   - pygpu imports, with the bundle's libgpuarray, and pygpu.init("cuda0")
#     stops only at the missing driver (libcuda.so);
#   - gpu_check.sh stops at its first step with its one-line reason;
#   - seq2seq_lasagne imports from the installed wheel, and
#     THEANO_FLAGS=device=cuda gives doctor's one-line reason;
#   - device=cpu trains the attention model (1000 samples, two validation
#     points with finite costs);
#   - what comes back is at most 8 files, no more than 2 folders down.
#
#   scripts/gpu_dry_run.sh [BUNDLE]     (default .gpu; built when missing)
#
# Environment: S2S_GPU_PYTHON, S2S_GPU_NUMPY, S2S_GPU_BUILD as for
# gpu_bundle.sh (the stand-in venv is kept in S2S_GPU_BUILD);
# S2S_DRY_BUDGET (seconds for gpu_device_run.sh, default 1500: Theano
# compiles the model cold), S2S_DRY_COLD=1 (start without the Theano
# compile cache that earlier dry runs left in S2S_GPU_BUILD/dry-work),
# S2S_DRY_NVIDIA=1 (also give the stand-in NVIDIA's CUDA 13 NVRTC and
# cuBLAS wheels, about 500 MB, as the GPU machine's torch has them, and
# check that the unversioned names libgpuarray loads are linked to them).
# Takes 3 minutes warm, 10-20 cold on a 2-core machine.  Last line: "dry
# run: N passed, M failed"; exit status 0 only when none failed.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bundle="${1:-$root/.gpu}"
build="${S2S_GPU_BUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/seq2seq-lasagne/gpu-build}"
numpy_version="${S2S_GPU_NUMPY:-2.5.2}"

die() { echo "gpu_dry_run.sh: error: $*" >&2; exit 2; }

if [ ! -d "$bundle/wheels" ]; then
    bash "$here/gpu_bundle.sh" "$bundle" || die "could not build $bundle"
fi
bundle="$(cd "$bundle" && pwd)"
python="${S2S_GPU_PYTHON:-$(command -v python3.12 || true)}"
[ -n "$python" ] && [ -x "$python" ] || die "no Python 3.12 (set S2S_GPU_PYTHON to one)"

# The stand-in for the GPU machine's python3: its own packages, no pygpu,
# Theano, Lasagne or Mako (those come from the bundle).
standin="$build/device-standin"
if ! "$standin/bin/python" -c "import numpy, scipy, matplotlib, tqdm, six, markupsafe, sys; \
sys.exit(numpy.__version__ != '$numpy_version')" 2> /dev/null; then
    echo "gpu_dry_run.sh: stand-in Python $standin"
    rm -rf "$standin"
    mkdir -p "$build"
    "$python" -m venv "$standin" || die "cannot make a venv with $python"
    "$standin/bin/pip" install -q --disable-pip-version-check "numpy==$numpy_version" \
        scipy matplotlib tqdm six markupsafe setuptools \
        || die "cannot install the stand-in's packages"
fi

nvidia="${S2S_DRY_NVIDIA:-0}"
if [ "$nvidia" = 1 ] && ! "$standin/bin/python" -c 'import nvidia.cu13' 2> /dev/null; then
    "$standin/bin/pip" install -q --disable-pip-version-check \
        nvidia-cuda-nvrtc==13.0.88 nvidia-cublas==13.1.0.3 \
        || die "cannot install NVIDIA's wheels into the stand-in"
fi

tmp="$(mktemp -d)"
out="$tmp/out"
mkdir -p "$out"
# gpu_device_run.sh empties its work folder but keeps the compile caches.
work="$build/dry-work"
[ "${S2S_DRY_COLD:-0}" = 1 ] && rm -rf "$work"
echo "gpu_dry_run.sh: running $bundle/scripts/gpu_device_run.sh (output in $tmp)"
(cd "$root" && OUT="$out" S2S_DEVICE_WORK="$work" \
    S2S_DEVICE_BUDGET="${S2S_DRY_BUDGET:-1500}" \
    S2S_DEVICE_PYTHON="$standin/bin/python3" \
    bash "$bundle/scripts/gpu_device_run.sh")
rc=$?
mkdir -p "$tmp/details"
tar -C "$tmp/details" -xzf "$out/details.tar.gz" 2> /dev/null

passed=0
failed=0
check() {  # description, then a command that must succeed
    local what="$1"
    shift
    if "$@" > /dev/null 2>&1; then
        echo "ok   $what"
        passed=$((passed + 1))
    else
        echo "FAIL $what"
        failed=$((failed + 1))
    fi
}
has() { grep -qF -- "$2" "$1"; }
d="$tmp/details/details"
check "gpu_device_run.sh exits 1 (no GPU here), not on an error of its own" \
    test "$rc" -eq 1
check "the wheels install into an empty folder" \
    has "$d/pip-install.txt" "Successfully installed"
check "pygpu imports from that folder" \
    has "$out/pygpu.txt" "pygpu 0.7.6 from $work/site/pygpu/__init__.py"
check "pygpu loads the bundle's libgpuarray" \
    has "$out/pygpu.txt" "libgpuarray ['$work/lib/libgpuarray.so.3']"
check "pygpu.init('cuda0') stops only at the driver" \
    has "$out/pygpu.txt" 'FAIL context cuda0: GpuArrayException: Could not load "libcuda.so"'
check "gpu_check.sh stops at its first step, with its reason" \
    has "$out/summary.txt" "gpu_check: FAIL no usable NVIDIA GPU: libcuda.so not loadable"
check "device=cuda: doctor's one-line reason" \
    has "$out/run.txt" '(exit 1): doctor: device cuda cannot be used (GPU backend): Could not load "libcuda.so"'
check "doctor runs on Python 3.12" \
    grep -qE "^python +3\.12\." "$d/check/doctor-cuda.txt"
check "doctor runs on NumPy $numpy_version" \
    grep -qE "^numpy +$numpy_version\$" "$d/check/doctor-cuda.txt"
check "Theano imports with device=cuda (theano.gpuarray's stand-ins)" \
    has "$d/check/doctor-cuda.txt" "backend              gpuarray"
check "device=cpu trains the attention model: two validation points, finite costs" \
    "$standin/bin/python" - "$d/check/cpu/metrics.json" <<'PY'
import json, math, sys
with open(sys.argv[1]) as f:
    history = json.load(f)['history']
assert [p['samples'] for p in history] == [500, 1000], history
assert all(math.isfinite(p['cost']) for p in history), history
PY
count="$(find "$out" -type f | wc -l)"
if [ "$nvidia" = 1 ]; then
    for base in libnvrtc libcublas libcublasLt; do
        check "$base.so is linked to NVIDIA's wheel" \
            grep -qE "cuda: $base\.so -> .*/nvidia/cu13/lib/$base\.so\.13\$" "$out/run.txt"
    done
fi
check "at most 8 files come back ($count)" test "$count" -le 8
check "none more than 2 folders down" \
    test -z "$(cd "$out" && find . -mindepth 4 -type f)"
check "names of letters, digits, '.', '_', '-'" \
    test -z "$(cd "$out" && find . -mindepth 1 | sed 's|^\./||' | grep -v '^[A-Za-z0-9._/-]*$')"
echo "gpu_dry_run.sh: output kept in $tmp"
echo "dry run: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
