#!/usr/bin/env bash
# What a lent GPU machine runs: Theano's GPU backend, from the folder that
# scripts/gpu_bundle.sh built, then scripts/gpu_check.sh, all within a time
# budget so that partial results always come back.
#
#   bash .gpu/scripts/gpu_device_run.sh [BUNDLE]
#
# BUNDLE is that folder (default: the parent of this script's directory,
# so the copy inside the folder finds it).  The machine needs a Python 3.12
# ("python3") with NumPy 2, SciPy, Matplotlib, tqdm, six and MarkupSafe,
# an NVIDIA driver, and NVRTC and cuBLAS (NVIDIA's pip wheels or the CUDA
# toolkit); no package registry.  Steps, each a line in run.txt:
#   1. install the wheels into a folder of their own (pip --target), set
#      PYTHONPATH, PATH, and LD_LIBRARY_PATH / LIBRARY_PATH / CPATH for
#      libgpuarray and the unversioned CUDA names it loads (libnvrtc.so,
#      libcublas.so; libcuda.so through docker/gpu_probe.py);
#   2. check for g++ and Python.h (Theano compiles C at run time; without
#      Python.h the carried Python 3.12 headers are used);
#   3. pygpu alone on the GPU: a context, an elementwise kernel, a GEMM, a
#      sum, each against NumPy (needs no g++);
#   4. scripts/gpu_check.sh (doctor, the attention model on cuda and on
#      the CPU in parallel, costs compared); without a GPU instead the
#      one-line reason device=cuda gives, and the CPU training alone;
#   5. with the time left, samples/s on cuda and on the CPU, warm caches.
# Results (at most 8 files, for the device tool) go to $OUT, else
# ./gpu-device-out: run.txt, env.txt, pygpu.txt, summary.txt, doctor.txt,
# compare.txt, speed.txt, details.tar.gz (logs and metrics.json files).
#
# Environment: S2S_DEVICE_BUDGET (seconds for everything, default 420),
# S2S_DEVICE_PYTHON (default python3), S2S_DEVICE_WORK (scratch, default
# $TMPDIR/s2s-gpu, emptied first), S2S_CHECK_* (passed to gpu_check.sh;
# samples default to 1000 here), S2S_SPEED_SAMPLES (2000).
# Exit status 0 only when every step ran and passed.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bundle="${1:-$(dirname "$here")}"
if [ ! -d "$bundle/wheels" ] || [ ! -d "$bundle/libgpuarray" ]; then
    echo "gpu_device_run.sh: error: $bundle holds no wheels/ and libgpuarray/ (build it with scripts/gpu_bundle.sh)" >&2
    exit 2
fi
bundle="$(cd "$bundle" && pwd)"
out="${OUT:-$PWD/gpu-device-out}"
mkdir -p "$out" && out="$(cd "$out" && pwd)"
work="${S2S_DEVICE_WORK:-${TMPDIR:-/tmp}/s2s-gpu}"
budget="${S2S_DEVICE_BUDGET:-420}"
py="${S2S_DEVICE_PYTHON:-python3}"
t0="$(date +%s)"
status=0

# A fresh start, except for Theano's compile caches of an earlier run on
# this machine (a second call while it is still warm compiles nothing).
kept=
if [ -d "$work/check" ]; then
    kept="$(mktemp -d)"
    find "$work/check" -maxdepth 1 -name 'theano-cache*' -exec mv {} "$kept/" \;
fi
rm -rf "$work"
mkdir -p "$work/details" "$work/bin" "$work/lib" "$work/links" "$work/check"
if [ -n "$kept" ]; then
    find "$kept" -mindepth 1 -maxdepth 1 -exec mv {} "$work/check/" \;
    rmdir "$kept"
fi
details="$work/details"
report="$out/run.txt"
: > "$report"
say() { printf '[%3ds] %s\n' "$(($(date +%s) - t0))" "$*" | tee -a "$report"; }
left() { echo $((budget - ($(date +%s) - t0))); }
# A timeout for a step: the time left less a reserve, at most a cap, at
# least 1 (timeout 0 would mean none).
within() {  # reserve [cap]
    local t=$(($(left) - $1))
    [ -n "${2:-}" ] && [ "$t" -gt "$2" ] && t="$2"
    [ "$t" -ge 1 ] || t=1
    echo "$t"
}
fail() { say "FAIL $*"; status=1; }

# Whatever happens, the logs go back as one archive, the rest as files.
finish() {
    local f
    for f in summary.txt doctor.txt compare.txt; do
        [ -f "$work/check/$f" ] && cp "$work/check/$f" "$out/$f"
    done
    # gpu_check.sh's folder without its compile caches, plots, parameters.
    mkdir -p "$details/check"
    [ -d "$work/check" ] && (cd "$work/check" && find . \
        \( -name theano-cache -o -name 'theano-cache-*' \) -prune -o -type f \
        ! -name '*.npz' ! -name '*.png' -print \
        | tar -cf - -T - 2> /dev/null) | tar -C "$details/check" -xf - 2> /dev/null
    tar -C "$work" -czf "$out/details.tar.gz" details 2> /dev/null
    say "$([ "$status" -eq 0 ] && echo PASS || echo FAIL) ($(($(date +%s) - t0)) s of $budget)"
    exit "$status"
}
trap finish TERM INT

# --- 1. install ------------------------------------------------------------
pyversion="$("$py" -c 'import sys, numpy; print("%d.%d.%d numpy %s" % (sys.version_info[:3] + (numpy.__version__,)))' 2>&1)" \
    || { fail "python: $py does not run with NumPy: $(tail -n 1 <<< "$pyversion")"; finish; }
say "python: $(command -v "$py") $pyversion; bundle $bundle"
[ -n "$kept" ] && say "compile caches kept from an earlier run: $(ls "$work/check" | tr '\n' ' ')"
if ! "$py" -m pip install --disable-pip-version-check --no-index --no-deps \
        --ignore-requires-python --target "$work/site" \
        "$bundle"/wheels/*.whl > "$details/pip-install.txt" 2>&1; then
    fail "pip install of the wheels: $(tail -n 1 "$details/pip-install.txt")"
    finish
fi
export PYTHONPATH="$work/site${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$work/bin:$PATH"
# Theano imports distutils, gone in Python 3.12; setuptools' .pth file
# puts it back, but only in a site directory, which PYTHONPATH is not.
# Where the machine's own setuptools does not, make the folder one.
if ! (cd / && "$py" -c 'import distutils.sysconfig') > /dev/null 2>&1; then
    mkdir -p "$work/sitedir"
    printf 'import site\nsite.addsitedir(%s)\n' "'$work/site'" > "$work/sitedir/sitecustomize.py"
    export PYTHONPATH="$work/sitedir:$PYTHONPATH"
    say "python: no distutils; $work/site made a site directory (sitecustomize)"
fi
# The console scripts, written here: pip --target puts them in site/bin,
# which Theano's wheel already fills with a package of its own named "bin"
# (so pip skips them).
"$py" - "$work/site" "$work/bin" "$(command -v "$py")" <<'PY' >> "$details/pip-install.txt" 2>&1
import configparser, glob, os, sys
site, bindir, python = sys.argv[1:]
for path in glob.glob(os.path.join(site, '*.dist-info', 'entry_points.txt')):
    parser = configparser.ConfigParser()
    parser.read(path)
    if not parser.has_section('console_scripts'):
        continue
    for name, target in parser.items('console_scripts'):
        module, func = target.split(':')
        script = os.path.join(bindir, name)
        with open(script, 'w') as f:
            f.write('#!%s\nimport sys\nfrom %s import %s\nsys.exit(%s())\n'
                    % (python, module.strip(), func.strip(), func.strip()))
        os.chmod(script, 0o755)
        print('launcher', script, '->', target)
PY
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
cp "$bundle/libgpuarray/lib/libgpuarray.so.3" "$work/lib/"
ln -s libgpuarray.so.3 "$work/lib/libgpuarray.so"
export LIBRARY_PATH="$work/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
export CPATH="$bundle/libgpuarray/include${CPATH:+:$CPATH}"

# libgpuarray dlopen()s libnvrtc.so and libcublas.so by those names; NVIDIA's
# wheels ship only versioned files.  Take the newest of each from the
# wheels of this Python, else from the CUDA toolkit, and link the plain
# names to it; its directory goes on LD_LIBRARY_PATH for what they load.
cuda_dirs=()
while IFS= read -r d; do cuda_dirs+=("$d"); done < <("$py" - <<'PY'
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()]
seen = []
for root in roots:
    for pattern in ('nvidia/*/lib', 'nvidia/*/*/lib'):
        for d in sorted(glob.glob(os.path.join(root, pattern))):
            if d not in seen:
                seen.append(d)
for d in ('/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib'):
    if os.path.isdir(d):
        seen.append(d)
print('\n'.join(seen))
PY
)
lib_dirs=()
for base in libnvrtc libcublas libcublasLt; do
    found=
    for d in "${cuda_dirs[@]}"; do
        found="$(find "$d" -maxdepth 1 -name "$base.so.[0-9]*" 2> /dev/null | sort -V | tail -n 1)"
        [ -n "$found" ] && break
    done
    if [ -z "$found" ]; then
        say "cuda: no $base.so.N in: ${cuda_dirs[*]:-(no NVIDIA wheel or toolkit directory)}"
        continue
    fi
    ln -sf "$found" "$work/links/$base.so"
    case " ${lib_dirs[*]:-} " in *" $(dirname "$found") "*) ;; *) lib_dirs+=("$(dirname "$found")") ;; esac
    say "cuda: $base.so -> $found"
done
ld="$work/links:$work/lib"
for d in "${lib_dirs[@]}"; do ld="$ld:$d"; done
export LD_LIBRARY_PATH="$ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# The driver, as gpu_check.sh's first step sees it (libcuda.so link too).
probe="$(cd / && "$py" "$bundle/docker/gpu_probe.py" 2>&1)"
IFS=$'\t' read -r pstatus preason pextra <<< "$probe"
[ -n "${pextra:-}" ] && export LD_LIBRARY_PATH="$pextra:$LD_LIBRARY_PATH"
say "probe: $pstatus: $preason"

# --- 2. compiler and headers -----------------------------------------------
cxx="$(command -v g++ || true)"
if [ -z "$cxx" ] && command -v c++ > /dev/null; then
    # Theano calls "g++" by name; c++ is the same compiler family.
    ln -s "$(command -v c++)" "$work/bin/g++"
    cxx="$work/bin/g++"
fi
pyinc="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
if [ -f "$pyinc/Python.h" ]; then
    headers="Python.h in $pyinc"
else
    export CPATH="$CPATH:$bundle/python-include/python3.12"
    headers="no Python.h in $pyinc: using the carried Python 3.12 headers"
fi
# Theano links every module with -l<Python's LDLIBRARY> -L<its LIBDIR>
# (python3.12); without the -dev package only the versioned file is there.
# Then link the plain name to it, or, for a Python without a shared
# library, to an empty stub (the interpreter itself provides the symbols).
read -r pylibname pylibdir <<< "$("$py" -c 'import sysconfig as s
name = s.get_config_var("LDLIBRARY") or "libpython3.12.so"
name = name[3:] if name.startswith("lib") else name
for ext in (".so", ".a"):
    if name.endswith(ext):
        name = name[:-len(ext)]
print(name, s.get_config_var("LIBDIR") or "/")')"
if [ -z "$cxx" ]; then
    toolchain=no
    fail "toolchain: no g++ or c++ on PATH: Theano cannot compile its C code here; only pygpu's own checks run"
else
    npinc="$("$py" -c 'import numpy; print(numpy.get_include())')"
    links() {  # does a module like Theano's link?
        printf '#include <Python.h>\n#include <numpy/arrayobject.h>\n#include <gpuarray/types.h>\nint s2s_check(void) { return GA_FLOAT; }\n' \
            | g++ -x c++ -shared -fPIC -I"$pyinc" -I"$npinc" - -o "$work/check.so" \
                -L"$pylibdir" -l"$pylibname" -lgpuarray >> "$details/cxx-check.txt" 2>&1
    }
    libpython=
    if ! links; then
        found="$(find "$pylibdir" -maxdepth 1 -name "lib$pylibname.so.*" 2> /dev/null | sort | head -n 1)"
        if [ -n "$found" ]; then
            ln -sf "$found" "$work/lib/lib$pylibname.so"
            libpython="; lib$pylibname.so linked to $found"
        else
            echo '' | g++ -x c++ -shared -fPIC - -o "$work/lib/lib$pylibname.so"
            libpython="; lib$pylibname.so: an empty stub (no shared libpython)"
        fi
    fi
    if [ -n "$libpython" ] && ! links; then
        toolchain=no
        fail "toolchain: g++ cannot build a module against Python.h, NumPy and libgpuarray: $(grep -m1 -E 'error|cannot' "$details/cxx-check.txt")"
    else
        toolchain=yes
        say "toolchain: g++ $(g++ -dumpfullversion 2> /dev/null) ($cxx); $headers$libpython"
    fi
fi
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "uname: $(uname -a)"
    echo "python: $(command -v "$py") $pyversion"
    (cd / && "$py" -c 'import scipy, matplotlib; print("scipy", scipy.__version__, "matplotlib", matplotlib.__version__)' 2>&1)
    echo "g++: ${cxx:-none} $(g++ --version 2> /dev/null | head -n 1)"
    echo "headers: $headers"
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
    echo "CPATH=$CPATH"
    echo "LIBRARY_PATH=$LIBRARY_PATH"
    echo "probe: $probe"
    echo "cuda library directories searched: ${cuda_dirs[*]:-none}"
    ls -l "$work/links"
    echo "--- nvidia-smi"
    timeout 20 nvidia-smi 2>&1 | head -n 20
    echo "--- bundle manifest"
    cat "$bundle/MANIFEST.txt" 2> /dev/null
} > "$out/env.txt" 2>&1

# --- 3. pygpu alone -----------------------------------------------------------
(cd / && timeout "$(within 0 60)" "$py" - > "$out/pygpu.txt" 2>&1 <<'PY'
import time

import numpy as np

import pygpu
import pygpu.blas
from pygpu import gpuarray
from pygpu._array import ndgpuarray  # GpuArray with NumPy's operators


def step(name, fn):
    start = time.perf_counter()
    try:
        detail = fn()
    except Exception as exc:
        text = exc.args[0] if exc.args else exc
        if isinstance(text, bytes):  # libgpuarray's messages come as bytes
            text = text.decode(errors='replace')
        lines = str(text).strip().splitlines() or ['']
        print('FAIL %s: %s: %s' % (name, type(exc).__name__, lines[-1]))
        return False
    print('ok   %s (%.2f s) %s' % (name, time.perf_counter() - start, detail))
    return True


print('pygpu', pygpu.__version__, 'from', pygpu.__file__)
with open('/proc/self/maps') as maps:
    print('libgpuarray', sorted({line.split()[-1] for line in maps
                                 if 'libgpuarray' in line}))
ctx = []
if not step('context cuda0', lambda: ctx.append(pygpu.init('cuda0'))
            or '%s, %s, %.1f GiB' % (
                getattr(ctx[0], 'devname', '?'), getattr(ctx[0], 'bin_id', '?'),
                getattr(ctx[0], 'total_gmem', 0) / 2.0 ** 30)):
    raise SystemExit(1)
ctx = ctx[0]
rng = np.random.RandomState(0)
a = rng.rand(300, 200).astype('float32')
b = rng.rand(200, 100).astype('float32')
ga = gpuarray.array(a, context=ctx, cls=ndgpuarray)
gb = gpuarray.array(b, context=ctx, cls=ndgpuarray)
ok = step('transfer', lambda: 'max |diff| %g' % abs(np.asarray(ga) - a).max())
ok &= step('elementwise a*2+1', lambda: 'max |diff| %g' % abs(
    np.asarray(ga * 2 + 1) - (a * 2 + 1)).max())
ok &= step('gemm (cuBLAS) 300x200 . 200x100', lambda: 'max rel diff %g' % (
    abs(np.asarray(pygpu.blas.gemm(1.0, ga, gb, 0.0)) - a.dot(b)).max()
    / abs(a.dot(b)).max()))
ok &= step('sum (reduction kernel)', lambda: 'rel diff %g' % (
    abs(float(np.asarray(ga.sum())) - float(a.sum(dtype='float64')))
    / float(a.sum(dtype='float64'))))
raise SystemExit(0 if ok else 1)
PY
) || fail "pygpu on cuda0: $(grep -m1 FAIL "$out/pygpu.txt" || tail -n 1 "$out/pygpu.txt")"
while IFS= read -r line; do say "pygpu: $line"; done < <(grep -E '^(ok|FAIL)' "$out/pygpu.txt")

# --- 4. gpu_check.sh, or what can be shown without a GPU ----------------------
export S2S_CHECK_SAMPLES="${S2S_CHECK_SAMPLES:-1000}"
export S2S_CHECK_VAL_INTERVAL="${S2S_CHECK_VAL_INTERVAL:-500}"
export S2S_CHECK_VAL_SIZE="${S2S_CHECK_VAL_SIZE:-200}"
export S2S_CHECK_PARALLEL="${S2S_CHECK_PARALLEL:-1}"
# Leave 25 s for the speed step's start, the archive and the last line.
export S2S_CHECK_DEADLINE="$((t0 + budget - 25))"
check="$work/check"
if [ "$toolchain" = yes ]; then
    say "gpu_check.sh: samples=$S2S_CHECK_SAMPLES parallel=$S2S_CHECK_PARALLEL, $(left) s left"
    (cd / && bash "$bundle/scripts/gpu_check.sh" "$check") >> "$details/gpu_check.out" 2>&1
    rc=$?
    while IFS= read -r line; do say "$line"; done < "$check/summary.txt"
    [ "$rc" -eq 0 ] || status=1
    for f in summary.txt doctor.txt compare.txt; do
        [ -f "$check/$f" ] && cp "$check/$f" "$out/$f"
    done
fi
if [ "$pstatus" != ok ] && [ "$toolchain" = yes ]; then
    # No GPU: what a user sees on device=cuda, then the CPU run alone.
    mkdir -p "$check/cpu"
    (cd / && THEANO_FLAGS="device=cuda,base_compiledir=$check/theano-cache" \
        timeout "$(within 60)" seq2seq-lasagne doctor) > "$check/doctor-cuda.txt" 2>&1
    say "device=cuda without a GPU (exit $?): $(tail -n 1 "$check/doctor-cuda.txt")"
    (cd / && THEANO_FLAGS="device=cpu,base_compiledir=$check/theano-cache" \
        timeout "$(within 25)" seq2seq-lasagne train --model attention \
        --samples "$S2S_CHECK_SAMPLES" --seed 1234 --val-size "$S2S_CHECK_VAL_SIZE" \
        --val-interval "$S2S_CHECK_VAL_INTERVAL" --no-progress --out "$check/cpu") \
        > "$check/cpu/train.log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        say "train on cpu: $(tail -n 1 "$check/cpu/train.log")"
    elif [ "$rc" -eq 124 ]; then
        fail "train on cpu: timed out (budget)"
    else
        fail "train on cpu (exit $rc): $(tail -n 1 "$check/cpu/train.log")"
    fi
fi

# --- 5. speed, warm caches -----------------------------------------------------
speed_samples="${S2S_SPEED_SAMPLES:-2000}"
if [ "$pstatus" = ok ] && [ "$toolchain" = yes ] && [ -f "$check/cuda/metrics.json" ]; then
    : > "$out/speed.txt"
    for batch in 100 1000; do
        for dev in cuda cpu; do
            if [ "$(left)" -lt 40 ]; then
                say "speed: no time left for $dev batch $batch"
                continue
            fi
            cache="$check/theano-cache"
            [ "$dev" = cpu ] && [ -d "$check/theano-cache-cpu" ] && cache="$check/theano-cache-cpu"
            flags="device=$dev,floatX=float32,dnn.enabled=False,base_compiledir=$cache"
            [ "$dev" = cuda ] && flags="$flags,gpuarray.preallocate=512"
            run="$check/speed-$dev-$batch"
            mkdir -p "$run"
            n=$((batch == 100 ? speed_samples : speed_samples * 5))
            (cd / && THEANO_FLAGS="$flags" timeout "$(within 25)" seq2seq-lasagne train \
                --model attention --samples "$n" --batch-size "$batch" --seed 1234 \
                --val-size 100 --val-interval "$n" --no-progress --out "$run") \
                > "$run/train.log" 2>&1
            line="$("$py" - "$run/metrics.json" "$dev" "$batch" <<'PY' 2>&1
import json, sys
try:
    with open(sys.argv[1]) as f:
        m = json.load(f)
    print('%s batch %s: %.1f samples/s training (%d samples, compile %.1f s)'
          % (sys.argv[2], sys.argv[3], m['train_samples_per_second'],
             m['history'][-1]['samples'], m['compile_seconds']))
except Exception as exc:
    print('%s batch %s: no result (%s)' % (sys.argv[2], sys.argv[3], exc))
PY
)"
            echo "$line" >> "$out/speed.txt"
            say "speed: $line"
        done
    done
fi
finish
