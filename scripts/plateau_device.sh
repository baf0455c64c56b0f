#!/usr/bin/env bash
# The plateau study (docs/PLATEAU.md) on a lent machine with many cores and
# no package registry: 20 seeds of the attention model at the notebook's
# settings, one worker process per core, within a time budget.
#
#   bash scripts/plateau_device.sh OUTDIR
#
# Run from a checkout that carries .gpu/wheels/ (built by
# scripts/gpu_bundle.sh): Theano 1.0.5, Lasagne 0.1 and setuptools 80.9
# (pkg_resources, which Lasagne 0.1 imports) are installed from there into
# a folder of their own (pip --target, nothing fetched); this project runs
# from the tree (PYTHONPATH).  The machine needs python3 with NumPy, SciPy,
# Matplotlib and tqdm, and a C++ compiler (Theano compiles its C code at
# run time); without Python.h the Python 3.12 headers that the bundle
# carries (.gpu/python-include/) are used.
#
# Writes to OUTDIR:
#   plateau-study.json  scripts/plateau_study.py --json: every finished
#                       run's validation curve and diagnostics
#   summary.json        the finished runs' reproduce summary (plateau
#                       statistics), for docs/PLATEAU.md
#   plateau-device.log  this script's steps and the study's log
#   worker-logs.tar.gz  each seed's worker log
# The runs themselves stay in S2S_PLATEAU_WORK: a second call on the same
# machine resumes them (the seeds that finished are not trained again).
#
# Environment:
#   S2S_BUDGET          seconds for everything (default 480): the study
#                       stops its workers S2S_RESERVE seconds before (each
#                       saves its run) and writes the JSON of what finished
#   S2S_RESERVE         seconds kept for stopping and writing (default 60)
#   S2S_JOBS            worker processes (default 16)
#   S2S_SEEDS           the seeds (default "0 1 ... 19")
#   S2S_SAMPLES         samples per run (default: the notebook's; smaller
#                       only to check this script)
#   S2S_STUDY_ARGS      more arguments for plateau_study.py (checks only)
#   S2S_PLATEAU_PYTHON  the interpreter (default python3)
#   S2S_PLATEAU_WORK    scratch: installed wheels, runs, Theano caches
#                       (default ${TMPDIR:-/tmp}/s2s-plateau)
# Exit status: 0 when every seed finished, 1 when some did not (the JSON
# holds those that did), 2 when nothing could run.
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: plateau_device.sh OUTDIR" >&2
    exit 2
fi
t0="$(date +%s)"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$1"
mkdir -p "$out" || { echo "plateau_device.sh: error: cannot create $out" >&2; exit 2; }
out="$(cd "$out" && pwd)"
budget="${S2S_BUDGET:-480}"
reserve="${S2S_RESERVE:-60}"
jobs="${S2S_JOBS:-16}"
seeds="${S2S_SEEDS:-$(seq -s ' ' 0 19)}"
py="${S2S_PLATEAU_PYTHON:-python3}"
work="${S2S_PLATEAU_WORK:-${TMPDIR:-/tmp}/s2s-plateau}"
log="$out/plateau-device.log"
: > "$log"

say() { printf '[%3ds] %s\n' "$(($(date +%s) - t0))" "$*" | tee -a "$log"; }
die() { say "error: $*"; exit 2; }

# --- 1. Theano, Lasagne, setuptools from the carried wheels ----------------
wheels=()
for name in theano-1.0.5 lasagne-0.1 setuptools-80.9.0; do
    found="$(find "$root/.gpu/wheels" -maxdepth 1 -name "$name-*.whl" 2> /dev/null | head -n 1)"
    [ -n "$found" ] || die "no $name wheel in .gpu/wheels/ (build it with scripts/gpu_bundle.sh and carry .gpu)"
    wheels+=("$found")
done
version="$("$py" -c 'import sys, numpy; print("%d.%d.%d, numpy %s" % (sys.version_info[:3] + (numpy.__version__,)))' 2>&1)" \
    || die "$py does not run with NumPy: $(tail -n 1 <<< "$version")"
say "python: $(command -v "$py") $version; $(nproc) cores"
site="$work/site"
if [ ! -f "$site/.installed" ]; then
    rm -rf "$site"
    "$py" -m pip install --disable-pip-version-check --no-index --no-deps \
        --ignore-requires-python --target "$site" "${wheels[@]}" \
        >> "$log" 2>&1 || die "pip install of the wheels failed (see above)"
    touch "$site/.installed"
fi
say "installed: ${wheels[*]##*/} into $site"
export PYTHONPATH="$root:$site${PYTHONPATH:+:$PYTHONPATH}"
# Theano imports distutils, which Python 3.12 lacks; setuptools provides it
# through a .pth file, read only in a site directory (PYTHONPATH is not).
if ! (cd / && "$py" -c 'import distutils.sysconfig') > /dev/null 2>&1; then
    mkdir -p "$work/sitecustomize"
    printf 'import site\nsite.addsitedir(%r)\n' "$site" \
        > "$work/sitecustomize/sitecustomize.py"
    export PYTHONPATH="$work/sitecustomize:$PYTHONPATH"
    say "no distutils: $site made a site directory"
fi
export MPLBACKEND=Agg PYTHONUNBUFFERED=1

# --- 2. what Theano compiles with -------------------------------------------
mkdir -p "$work/bin" "$work/lib"
export PATH="$work/bin:$PATH"
if ! command -v g++ > /dev/null; then
    command -v c++ > /dev/null || die "no g++ or c++: Theano cannot compile its C code"
    ln -sf "$(command -v c++)" "$work/bin/g++"
fi
pyinc="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
if [ ! -f "$pyinc/Python.h" ]; then
    [ -f "$root/.gpu/python-include/python3.12/Python.h" ] \
        || die "no Python.h in $pyinc and none carried in .gpu/python-include"
    export CPATH="$root/.gpu/python-include/python3.12${CPATH:+:$CPATH}"
    say "no Python.h in $pyinc: the carried Python 3.12 headers"
fi
# Theano links its modules with -lpython3.X; where the machine has only a
# versioned libpython (or none: python3 built static), provide the name.
read -r pylib pylibdir <<< "$("$py" -c 'import sysconfig as s
print("python%s" % s.get_config_var("LDVERSION"), s.get_config_var("LIBDIR") or "/")')"
if ! echo 'int s2s_check(void) { return 0; }' | g++ -x c++ -shared -fPIC - \
        -o "$work/check.so" -L"$pylibdir" -l"$pylib" > /dev/null 2>&1; then
    found="$(find "$pylibdir" -maxdepth 1 -name "lib$pylib.so.*" 2> /dev/null | sort | head -n 1)"
    if [ -n "$found" ]; then
        ln -sf "$found" "$work/lib/lib$pylib.so"
    else
        echo '' | g++ -x c++ -shared -fPIC - -o "$work/lib/lib$pylib.so"
    fi
    export LIBRARY_PATH="$work/lib${LIBRARY_PATH:+:$LIBRARY_PATH}"
    say "no lib$pylib.so to link with: ${found:-an empty one} in $work/lib"
fi
say "g++: $(g++ -dumpfullversion 2> /dev/null)"
imported="$(cd / && "$py" -c 'import seq2seq_lasagne, theano, lasagne
print("theano", theano.__version__, "lasagne", lasagne.__version__, "BLAS:",
      (theano.config.blas.ldflags or "none").split(" -D")[0])' 2>&1)" \
    || die "the project does not import: $(tail -n 1 <<< "$imported")"
say "$imported"

# --- 3. the study -------------------------------------------------------------
left=$((budget - ($(date +%s) - t0) - reserve))
[ "$left" -ge 30 ] || die "only $left s left for the study (S2S_BUDGET=$budget)"
args=(--out "$work/runs" --seeds $seeds --jobs "$jobs" --budget "$left"
      --json "$out/plateau-study.json" --summary "$out/summary.json")
[ -n "${S2S_SAMPLES:-}" ] && args+=(--samples "$S2S_SAMPLES")
# What the JSON files record: this script and its settings, no local paths.
args+=(--command "S2S_BUDGET=$budget S2S_JOBS=$jobs S2S_SEEDS='$seeds'${S2S_SAMPLES:+ S2S_SAMPLES=$S2S_SAMPLES} bash scripts/plateau_device.sh OUTDIR")
# shellcheck disable=SC2206  # (words on purpose)
[ -n "${S2S_STUDY_ARGS:-}" ] && args+=(${S2S_STUDY_ARGS})
say "plateau_study.py ${args[*]}"
(cd / && "$py" "$root/scripts/plateau_study.py" "${args[@]}") 2>&1 | tee -a "$log"
status="${PIPESTATUS[0]}"
tar -C "$work/runs" -czf "$out/worker-logs.tar.gz" logs 2> /dev/null
say "study exit $status; $(($(date +%s) - t0)) s of $budget"
case "$status" in
    0) exit 0 ;;
    1 | 130) exit 1 ;;
    *) exit 2 ;;
esac
