#!/usr/bin/env bash
# Build the folder that a GPU machine without package registries needs to
# run scripts/gpu_check.sh: Theano's GPU backend (libgpuarray + pygpu 0.7.6)
# and the project, for that machine's Python 3.12 and NumPy 2.
#
#   scripts/gpu_bundle.sh [OUTDIR]          (default: .gpu in the checkout)
#
# OUTDIR, rebuilt from nothing on each call (about 8 MB):
#   wheels/          pygpu (cp312, built here), Theano 1.0.5, Lasagne 0.1,
#                    Mako (pygpu's templates), setuptools 80.9.0
#                    (pkg_resources for Lasagne 0.1) and this project
#   libgpuarray/     libgpuarray.so.3 and its headers (gpuarray/*.h), which
#                    pygpu loads and Theano's GPU ops compile and link against
#   python-include/  Python 3.12's headers, used there only if that machine
#                    has no Python.h (Theano compiles C at run time)
#   scripts/, docker/  gpu_device_run.sh (what that machine runs),
#                    gpu_check.sh and gpu_probe.py, so that a run does not
#                    depend on which checkout carries the folder
#   MANIFEST.txt     what is in it: versions, sizes, sha256
#
# Where libgpuarray and pygpu come from: Debian 12's binary packages
# libgpuarray3, libgpuarray-dev and python3-pygpu 0.7.6 (the same release
# the Dockerfile installs).  Debian's source package could not be fetched
# from the Debian mirror this was written on (its orig tarball is missing
# there), so the C library is Debian's build, and pygpu's four extension
# modules are compiled here for Python 3.12 and NumPy 2 from the C files
# that Cython 0.29.32 generated for Debian and that python3-pygpu ships.
# That C predates Python 3.12 and NumPy 2; the changes made to it here,
# in a scratch copy, are listed in patch_pygpu() below.  Nothing of
# pygpu's source is kept in this repository.
#
# Environment:
#   S2S_GPU_PYTHON  a Python 3.12 interpreter (default: python3.12 on PATH);
#                   the GPU machine's python3 is 3.12
#   S2S_GPU_NUMPY   the NumPy to build against (default 2.5.2, the GPU
#                   machine's)
#   S2S_GPU_BUILD   scratch directory, kept between calls (default
#                   $XDG_CACHE_HOME/seq2seq-lasagne/gpu-build)
#   S2S_GPU_MAX_MB  fail when OUTDIR is larger (default 40)
# Needs: apt-get and dpkg-deb (Debian), gcc, network to PyPI and Debian.
# On failure: one line on stderr naming the step, and the log's path.
set -Eeuo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="${1:-$root/.gpu}"
build="${S2S_GPU_BUILD:-${XDG_CACHE_HOME:-$HOME/.cache}/seq2seq-lasagne/gpu-build}"
numpy_version="${S2S_GPU_NUMPY:-2.5.2}"
max_mb="${S2S_GPU_MAX_MB:-40}"
debian_version=0.7.6
setuptools_version=80.9.0

die() { echo "gpu_bundle.sh: error: $*" >&2; exit 1; }
say() { echo "gpu_bundle.sh: $*"; }

mkdir -p "$build" || die "cannot create the scratch directory $build"
build="$(cd "$build" && pwd)"
log="$build/build.log"
: > "$log"
step=setup
# One line for a failing step (errtrace: in functions too; subshells stay
# quiet and let this shell say it).
trap '[ "$BASH_SUBSHELL" -gt 0 ] || echo "gpu_bundle.sh: error: step \"$step\" failed; its output is in $log" >&2' ERR

for tool in apt-get dpkg-deb gcc; do
    command -v "$tool" > /dev/null || die "$tool not found (Debian with gcc needed)"
done
python="${S2S_GPU_PYTHON:-$(command -v python3.12 || true)}"
[ -n "$python" ] && [ -x "$python" ] \
    || die "no Python 3.12 (set S2S_GPU_PYTHON to one)"
[ "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" = 3.12 ] \
    || die "$python is not Python 3.12 (the GPU machine's version)"

# Each step's output goes to the log; a failing step names itself.
run() { "$@" >> "$log" 2>&1; }

# --- Debian's packages, through a private list directory -----------------
step="Debian packages"
debs="$build/debs"
have_debs() {
    local pkg f
    for pkg in libgpuarray3 libgpuarray-dev python3-pygpu; do
        f="$(find "$debs" -maxdepth 1 -name "${pkg}_${debian_version}-*_amd64.deb" 2>/dev/null | head -n 1)"
        [ -n "$f" ] || return 1
    done
}
if ! have_debs; then
    # The machine's own sources (/etc/apt), a list directory of our own:
    # the system's package lists are neither read nor changed.
    mkdir -p "$build/apt/lists/partial" "$build/apt/cache/archives/partial" "$debs"
    apt_opts=(-o "Dir::State::Lists=$build/apt/lists" -o "Dir::Cache=$build/apt/cache")
    say "apt-get update (private lists in $build/apt)"
    run apt-get "${apt_opts[@]}" update
    say "apt-get download libgpuarray3 libgpuarray-dev python3-pygpu"
    (cd "$debs" && run apt-get "${apt_opts[@]}" download \
        libgpuarray3 libgpuarray-dev python3-pygpu)
    have_debs || die "Debian has no libgpuarray $debian_version packages here"
fi
rm -rf "$build/debroot"
for f in "$debs"/*.deb; do
    run dpkg-deb -x "$f" "$build/debroot"
done
deb_lib="$build/debroot/usr/lib"
deb_pygpu="$build/debroot/usr/lib/python3/dist-packages/pygpu"
[ -f "$deb_lib/libgpuarray.so.3.0" ] && [ -f "$deb_pygpu/gpuarray.c" ] \
    || die "Debian's packages do not hold libgpuarray.so.3.0 and pygpu's C files"

# --- the build venv: Python 3.12, NumPy 2 --------------------------------
step="build venv"
venv="$build/venv-$numpy_version"
# markupsafe and six: what pygpu's imports need beside the wheels, which
# the GPU machine has; only the import check below uses them.
if ! "$venv/bin/python" -c "import numpy, setuptools, wheel, markupsafe, six, sys; \
sys.exit(numpy.__version__ != '$numpy_version')" 2> /dev/null; then
    say "venv $venv (numpy $numpy_version)"
    rm -rf "$venv"
    run "$python" -m venv "$venv"
    run "$venv/bin/pip" install --disable-pip-version-check \
        "numpy==$numpy_version" "setuptools==$setuptools_version" wheel \
        markupsafe six
fi
vpy="$venv/bin/python"

stage="$build/stage"
rm -rf "$stage"
mkdir -p "$stage/wheels" "$stage/libgpuarray/lib" "$stage/libgpuarray/include"

# --- libgpuarray: Debian's library and headers ---------------------------
step="libgpuarray"
cp "$deb_lib/libgpuarray.so.3.0" "$stage/libgpuarray/lib/libgpuarray.so.3"
cp -r "$build/debroot/usr/include/gpuarray" "$stage/libgpuarray/include/"

# --- pygpu: Debian's generated C, compiled for Python 3.12 and NumPy 2 ----
# Each change below is an exact text replacement whose number of matches is
# checked, so that a different input fails here instead of building wrong.
patch_pygpu() {  # directory with gpuarray.c, blas.c, _elemwise.c, collectives.c
    "$vpy" - "$1" <<'PY'
import pathlib
import sys

src = pathlib.Path(sys.argv[1])
ALL = ('gpuarray.c', 'blas.c', '_elemwise.c', 'collectives.c')
CHANGES = [
    # 1. Python 3.12 keeps the raised exception in one field
    #    (tstate->current_exception); "raise E from C" with a traceback
    #    wrote curexc_traceback.  Set it through the C API instead, as
    #    Cython's own PyPy branch does.
    (ALL, 1,
     '        PyThreadState *tstate = __Pyx_PyThreadState_Current;\n'
     '        PyObject* tmp_tb = tstate->curexc_traceback;\n'
     '        if (tb != tmp_tb) {\n'
     '            Py_INCREF(tb);\n'
     '            tstate->curexc_traceback = tb;\n'
     '            Py_XDECREF(tmp_tb);\n'
     '        }\n',
     '        PyObject *tmp_type, *tmp_value, *tmp_tb;\n'
     '        PyErr_Fetch(&tmp_type, &tmp_value, &tmp_tb);\n'
     '        Py_INCREF(tb);\n'
     '        PyErr_Restore(tmp_type, tmp_value, tb);\n'
     '        Py_XDECREF(tmp_tb);\n'),
    # 2. Python 3.12 removed _PyUnicode_Ready (every str is "ready").
    (ALL, 1,
     '(likely(PyUnicode_IS_READY(op)) ?\\\n'
     '                                              0 : '
     '_PyUnicode_Ready((PyObject *)(op)))',
     '(0)'),
    # 3. NumPy 2 moved a dtype's subarray out of the public PyArray_Descr;
    #    NumPy's own accessor reads it (numpy/__init__.pxd's
    #    PyDataType_SHAPE, inlined into every module).
    (ALL, 2, '__pyx_v_d->subarray->shape',
     'PyDataType_SUBARRAY(__pyx_v_d)->shape'),
    # 4. Python 3.12 ints are no longer var-sized objects: Py_SIZE(x) < 0
    #    does not tell a negative int (and asserts in a debug build).  Use
    #    Cython's portable comparison, its branch for other Pythons.
    (ALL, None,
     '#if CYTHON_COMPILING_IN_CPYTHON\n'
     '            if (unlikely(Py_SIZE(x) < 0)) {',
     '#if CYTHON_COMPILING_IN_CPYTHON && PY_VERSION_HEX < 0x030C0000\n'
     '            if (unlikely(Py_SIZE(x) < 0)) {'),
    # 5. Python 3.12's bool objects are smaller than sizeof(PyBoolObject)
    #    (which counts one digit): the import-time size check refuses
    #    "builtins.bool".  pygpu never reads bool's fields; check nothing.
    (('gpuarray.c', 'collectives.c'), 1,
     '"bool", sizeof(PyBoolObject), __Pyx_ImportType_CheckSize_Warn',
     '"bool", sizeof(PyObject), __Pyx_ImportType_CheckSize_Ignore'),
]
for files, count, old, new in CHANGES:
    for name in files:
        path = src / name
        text = path.read_text()
        found = text.count(old)
        if found == 0 or (count is not None and found != count):
            sys.exit('%s: %d matches of %r (expected %s)'
                     % (name, found, old[:60], count or 'some'))
        path.write_text(text.replace(old, new))
PY
}
# Also, by macros (setup.py below): CYTHON_USE_PYLONG_INTERNALS=0 and
# CYTHON_FAST_THREAD_STATE=0 (Python 3.12 changed the int and thread-state
# structs that those fast paths read), and
# NPY_TARGET_VERSION=NPY_2_0_API_VERSION, which gives PyArray_Descr the
# NumPy 2 layout with the elsize and alignment fields pygpu reads (the
# module then needs NumPy >= 2 at run time, which the GPU machine has).
step="pygpu"
# The wheel is kept by what it is made of: Debian's packages, this script
# (its patches), the Python and the NumPy.
key="$( (sha256sum "$debs"/*.deb "${BASH_SOURCE[0]}" | cut -d' ' -f1; \
    "$python" -c 'import sys; print(sys.version)'; echo "$numpy_version") \
    | sha256sum | cut -c1-16)"
pycache="$build/pygpu-wheel-$key"
pysrc="$build/pygpu-src"
rm -rf "$pysrc"
mkdir -p "$pysrc/pygpu"
cp "$deb_pygpu"/*.py "$deb_pygpu"/*.c "$deb_pygpu"/*.h "$pysrc/pygpu/"
patch_pygpu "$pysrc/pygpu" >> "$log" 2>&1
cat > "$pysrc/setup.py" <<'PY'
# Written by scripts/gpu_bundle.sh: pygpu 0.7.6 from Debian's generated C.
import os

import numpy
from setuptools import Extension, setup

lib = os.environ['S2S_GPUARRAY_LIB']
inc = os.environ['S2S_GPUARRAY_INCLUDE']
macros = [('GPUARRAY_SHARED', None), ('CYTHON_USE_PYLONG_INTERNALS', '0'),
          ('CYTHON_FAST_THREAD_STATE', '0'),
          ('NPY_TARGET_VERSION', 'NPY_2_0_API_VERSION')]
modules = [
    Extension('pygpu.' + name, ['pygpu/%s.c' % name],
              include_dirs=[numpy.get_include(), inc, 'pygpu'],
              library_dirs=[lib], libraries=['gpuarray'],
              define_macros=macros,
              extra_compile_args=['-Wno-unused-variable',
                                  '-Wno-unused-function',
                                  '-Wno-deprecated-declarations'])
    for name in ('gpuarray', 'blas', '_elemwise', 'collectives')]
setup(name='pygpu', version='0.7.6', packages=['pygpu'],
      package_data={'pygpu': ['*.h']}, ext_modules=modules,
      install_requires=['mako>=0.7', 'six'], zip_safe=False)
PY
# pygpu's link wants libgpuarray.so; Debian's -dev package has it as a link.
mkdir -p "$build/gpuarray-link"
ln -sf "$deb_lib/libgpuarray.so.3.0" "$build/gpuarray-link/libgpuarray.so"
if ! ls "$pycache"/pygpu-*.whl > /dev/null 2>&1; then
    say "pygpu wheel (cp312, numpy $numpy_version)"
    rm -rf "$build"/pygpu-wheel-*
    (cd "$pysrc" && S2S_GPUARRAY_LIB="$build/gpuarray-link" \
        S2S_GPUARRAY_INCLUDE="$build/debroot/usr/include" \
        run "$venv/bin/pip" wheel --disable-pip-version-check --no-deps \
            --no-build-isolation --no-cache-dir -w "$pycache" .)
fi
cp "$pycache"/pygpu-*.whl "$stage/wheels/"

# --- Theano, Lasagne, Mako, setuptools -----------------------------------
step="Theano and Lasagne wheels"
say "Theano 1.0.5 and Lasagne 0.1 wheels (from their sdists)"
# build-support/ lets Theano's setup.py run on Python 3.12 (its README).
PYTHONPATH="$root/build-support" run "$venv/bin/pip" wheel \
    --disable-pip-version-check --no-deps --no-build-isolation \
    -w "$stage/wheels" theano==1.0.5 lasagne==0.1
step="Mako and setuptools wheels"
run "$venv/bin/pip" download --disable-pip-version-check --no-deps \
    --only-binary=:all: -d "$stage/wheels" mako==1.4.3 \
    "setuptools==$setuptools_version"

# --- this project ---------------------------------------------------------
step="project wheel"
say "seq2seq-lasagne wheel from $root"
proj="$build/project"
rm -rf "$proj"
mkdir -p "$proj"
# A copy: pip builds a local directory in place.
(cd "$root" && git ls-files -co --exclude-standard -z \
    | xargs -0 tar -cf - --ignore-failed-read 2> /dev/null) | tar -C "$proj" -xf -
run "$venv/bin/pip" wheel --disable-pip-version-check --no-deps \
    --no-build-isolation --ignore-requires-python -w "$stage/wheels" "$proj"

# --- Python headers, scripts, manifest -----------------------------------
step="headers and scripts"
pyinc="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
[ -f "$pyinc/Python.h" ] || die "no Python.h in $pyinc (Python 3.12 headers needed)"
mkdir -p "$stage/python-include" "$stage/scripts" "$stage/docker"
cp -r "$pyinc" "$stage/python-include/python3.12"
cp "$root/scripts/gpu_device_run.sh" "$root/scripts/gpu_check.sh" "$stage/scripts/"
cp "$root/docker/gpu_probe.py" "$stage/docker/"

step="check"
# The wheels must import together, on this Python, against the library
# as it will be found there (LD_LIBRARY_PATH).
check="$build/check-site"
rm -rf "$check"
run "$venv/bin/pip" install --disable-pip-version-check --no-index \
    --no-deps --ignore-requires-python --target "$check" "$stage"/wheels/*.whl
(cd / && LD_LIBRARY_PATH="$build/gpuarray-link:$deb_lib" PYTHONPATH="$check" \
    run "$vpy" -c 'import pygpu.gpuarray, pygpu.blas, pygpu.elemwise, pygpu.reduction')

{
    echo "Built by scripts/gpu_bundle.sh on $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "for Python $("$python" -c 'import platform; print(platform.python_version())') and NumPy $numpy_version;"
    echo "libgpuarray and pygpu from Debian's $(cd "$debs" && ls *.deb | tr '\n' ' ')"
    echo "project: $(git -C "$root" describe --always --dirty 2> /dev/null || echo unknown)"
    echo
    (cd "$stage" && find . -type f ! -path './python-include/*' \
        ! -name MANIFEST.txt | sort \
        | while read -r f; do
            printf '%10d  %s  %s\n' "$(stat -c %s "$f")" \
                "$(sha256sum "$f" | cut -c1-16)" "${f#./}"
        done)
} > "$stage/MANIFEST.txt"

size_kb="$(du -sk "$stage" | cut -f1)"
[ "$size_kb" -le $((max_mb * 1024)) ] \
    || die "the folder is $((size_kb / 1024)) MB, over S2S_GPU_MAX_MB=$max_mb"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
mv "$stage" "$out"
trap - ERR
say "wrote $out ($((size_kb / 1024)).$(( (size_kb % 1024) * 10 / 1024 )) MB):" \
    "$(cd "$out/wheels" && ls | tr '\n' ' ')"
if git -C "$root" rev-parse --git-dir > /dev/null 2>&1 \
        && ! git -C "$root" check-ignore -q "$out" 2> /dev/null; then
    say "note: $out is not ignored by git; add it to .git/info/exclude"
fi
