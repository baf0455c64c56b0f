#!/usr/bin/env bash
# The lab on every supported Python, beside the main suite's 3.11 (.ci/run
# calls this after it).  For each combination:
#   3.10, 3.12, 3.13  the README's set-up, run as written (python3 and
#                     .venv replaced by that Python and a cached venv);
#   colab             Python 3.12 holding Colab's preinstalled packages
#                     (scripts/colab_preinstalled.txt), then the notebooks'
#                     first cell from docs/PYTHONS.md run by IPython as on
#                     Colab (google.colab importable);
# then the layer and model tests, and a short seeded training of both
# models whose logged costs must equal those of the same training on
# Python 3.11 (the README's .venv) to within 1e-6.  Python 3.9 checks that
# an unsupported Python fails at once, with one line naming the supported
# versions.
#
#   scripts/ci_python_matrix.sh [COMBINATION...]   (default: all four)
#
# Environment:
#   S2S_MATRIX_CACHE    venvs and Theano compile caches kept between runs,
#                       one per combination, keyed by a hash of what changes
#                       them (default ${XDG_CACHE_HOME:-~/.cache}/
#                       seq2seq-lasagne-matrix); a warm run reuses them
#   S2S_REFERENCE_VENV  the Python 3.11 venv of the README's set-up
#                       (default .venv)
#   S2S_PYTHON_3_9 ... S2S_PYTHON_3_13
#                       interpreters (default: pyenv's newest 3.X, then
#                       python3.X on PATH)
# Logs and runs go to test-artifacts/python-matrix/ in the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

die() { echo "ci_python_matrix.sh: error: $*" >&2; exit 2; }
say() { echo "python-matrix: $*"; [ -z "${out:-}" ] || echo "$*" >> "$out/said.txt"; }

combos=("$@")
[ "${#combos[@]}" -gt 0 ] || combos=(3.10 3.12 3.13 colab)
for c in "${combos[@]}"; do
    case "$c" in 3.10|3.12|3.13|colab) ;; *) die "unknown combination '$c' (3.10, 3.12, 3.13, colab)" ;; esac
done

cache="${S2S_MATRIX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seq2seq-lasagne-matrix}"
reference_venv="${S2S_REFERENCE_VENV:-.venv}"
out="$root/test-artifacts/python-matrix"
rm -rf "$out"
mkdir -p "$cache" "$out"
# Each run of the lab below sets its own Theano cache (HOME); the caller's
# flags (.ci/run's cold base_compiledir) are not for these runs.
unset THEANO_FLAGS THEANORC
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
export PIP_CACHE_DIR="$cache/pip"

# --- the commands under test, checked against the documents -------------
readme_setup=(
    'python3 -m venv .venv && .venv/bin/pip install -c constraints.txt setuptools'
    'PYTHONPATH=$PWD/build-support .venv/bin/pip install --no-build-isolation -c constraints.txt -e ".[test]"'
)
for line in "${readme_setup[@]}"; do
    grep -qxF "$line" README.md \
        || die "README.md's set-up no longer has this line (update this script): $line"
done
colab_cell="$out/colab_cell.py"
# The notebooks' first cell: the python block after the colab-cell marker.
awk '/<!-- colab-cell -->/ {on=1; next} on && /^```python/ {grab=1; next}
     grab && /^```/ {exit} grab {print}' docs/PYTHONS.md > "$colab_cell"
[ -s "$colab_cell" ] || die "docs/PYTHONS.md has no colab-cell block"

tests=(tests/test_attention_layer.py tests/test_baseline.py
       tests/test_attention_model.py tests/test_compat.py tests/test_pins.py
       tests/test_precompiled.py tests/test_parallel_compile.py)
# 3-digit targets: the graphs of the tests' fixtures, already compiled.
train_args=(--samples 3000 --val-interval 1000 --val-size 500 --seed 0
            --min-digits 3 --max-digits 3 --no-progress --fresh)

find_python() {  # find_python 3.12 -> an interpreter path
    local v="$1" var="S2S_PYTHON_${1/./_}" p
    if [ -n "${!var:-}" ]; then echo "${!var}"; return; fi
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    p="$(ls -d "$pyenv_root"/versions/"$v".*/bin/python"$v" 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$p" ]; then p="$(command -v "python$v" || true)"; fi
    [ -n "$p" ] && "$p" -c 'import sys' 2>/dev/null \
        || die "no Python $v found (set $var)"
    echo "$p"
}

key_of() {  # key_of PYTHON FILE... -> a hash of the interpreter and files
    { "$1" -c 'import sys; print(sys.version)'; shift; cat "$@"; } \
        | sha256sum | cut -c1-12
}

elapsed() { echo $(( $(date +%s) - $1 ))s; }

# The README's set-up, its lines run as written with python3 and .venv
# replaced; a venv made afresh builds Theano from its sdist (pip's cache of
# built wheels is emptied first).
readme_setup() {  # readme_setup PYTHON VENV
    local py="$1" venv="$2" line cmd
    [ -d "$venv" ] || rm -rf "$PIP_CACHE_DIR/wheels"
    for line in "${readme_setup[@]}"; do
        cmd="${line//python3 -m venv .venv/\"\$py\" -m venv \"\$venv\"}"
        cmd="${cmd//.venv\//\"\$venv\"/}"
        (cd "$root" && eval "$cmd") || return
    done
}

failures=()
fail() { failures+=("$*"); echo "python-matrix: FAIL: $*" >&2; echo "FAIL: $*" >> "$out/said.txt"; }

# Run the lab in VENV with its own Theano cache under HOME (test_compat's
# child processes use Theano's default ~/.theano).
lab() {  # lab VENV HOME CMD...
    local venv="$1" home="$2"; shift 2
    mkdir -p "$home"
    env HOME="$home" PATH="$venv/bin:$PATH" "$@"
}

train_both() {  # train_both VENV HOME NAME -> runs in $out/runs/NAME-MODEL
    local venv="$1" home="$2" name="$3" model
    for model in attention baseline; do
        lab "$venv" "$home" "$venv/bin/seq2seq-lasagne" train --model "$model" \
            "${train_args[@]}" --out "$out/runs/$name-$model" \
            > "$out/$name-train-$model.log" 2>&1 || return 1
    done
}

compare_costs() {  # compare_costs NAME -> 0 when both models match 3.11's
    "$reference_venv/bin/python" - "$out/runs" "$1" "$out/said.txt" <<'PY'
import json, os, sys
runs, name, said = sys.argv[1:]
ok = True
for model in ('attention', 'baseline'):
    def history(run):
        with open(os.path.join(runs, '%s-%s' % (run, model),
                               'metrics.json')) as f:
            return json.load(f)['history']
    ref, got = history('3.11'), history(name)
    same = [r['samples'] for r in ref] == [g['samples'] for g in got]
    diff = max((abs(r[k] - g[k]) for r, g in zip(ref, got)
                for k in ('cost', 'val_accuracy')), default=float('inf'))
    good = same and diff <= 1e-6
    ok &= good
    line = ('%s %s: %d logged points, max |cost or accuracy - 3.11| = '
            '%.2g%s' % (name, model, len(got), diff,
                        '' if good else '  (> 1e-6: FAIL)'))
    print('python-matrix: ' + line)
    with open(said, 'a') as f:
        f.write(line + '\n')
sys.exit(0 if ok else 1)
PY
}

# --- unsupported Python: the install stops at once --------------------------
start=$(date +%s)
tmp39="$(mktemp -d)"
log="$out/3.9-install.log"
rc=0
readme_setup "$(find_python 3.9)" "$tmp39/venv" > "$log" 2>&1 || rc=$?
rm -rf "$tmp39"
refusal="$(tail -n 1 "$log")"
if [ "$rc" = 2 ] && [ "$(grep -ci 'error' "$log")" = 1 ] \
        && [[ "$refusal" == "seq2seq-lasagne: error: Python 3.9 is not supported; use Python 3.10, 3.11, 3.12 or 3.13 "* ]]; then
    say "3.9: refused in $(elapsed "$start"): $refusal"
else
    fail "3.9: the install did not stop with one line naming the supported Pythons (exit $rc, $log)"
fi

# --- the reference: Python 3.11, the README's .venv -------------------------
start=$(date +%s)
[ -x "$reference_venv/bin/seq2seq-lasagne" ] \
    || die "no Python 3.11 venv at $reference_venv (run the README's set-up first)"
ref_home="$cache/home-3.11-$(key_of "$reference_venv/bin/python" constraints.txt pyproject.toml)"
train_both "$reference_venv" "$ref_home" 3.11 || die "the Python 3.11 reference training failed ($out/3.11-train-*.log)"
say "3.11: reference training in $(elapsed "$start")"

# --- each combination -------------------------------------------------------
matrix_start=$(date +%s)
for combo in "${combos[@]}"; do
    version="$combo"; [ "$combo" = colab ] && version=3.12
    py="$(find_python "$version")"
    files=(constraints.txt pyproject.toml build-support/sitecustomize.py)
    [ "$combo" = colab ] && files+=(scripts/colab_preinstalled.txt)
    key="$(key_of "$py" "${files[@]}")"
    venv="$cache/venv-$combo-$key"
    home="$cache/home-$combo-$key"
    # Keep only this key's venv and compile cache for the combination.
    for stale in "$cache/venv-$combo-"* "$cache/home-$combo-"*; do
        [ -e "$stale" ] && [ "$stale" != "$venv" ] && [ "$stale" != "$home" ] && rm -rf "$stale"
    done
    warm=cold; [ -d "$venv" ] && warm=warm
    say "$combo: $("$py" -c 'import platform; print(platform.python_version())') ($warm venv $(basename "$venv"))"

    start=$(date +%s)
    log="$out/$combo-install.log"
    if [ "$combo" = colab ]; then
        # Colab's runtime as it starts: its preinstalled versions (put back
        # on a warm venv, where the previous run's cell changed some).
        [ -d "$venv" ] || rm -rf "$PIP_CACHE_DIR/wheels"
        if ! { [ -d "$venv" ] || "$py" -m venv "$venv"; } > "$log" 2>&1 \
            || ! "$venv/bin/python" -m pip install -q -r scripts/colab_preinstalled.txt >> "$log" 2>&1; then
            fail "$combo: making the Colab-like venv failed ($log)"; continue
        fi
        # The first cell, as Colab runs it: in /content, where the lab's
        # clone already sits (the git clone itself needs the network).
        content="$(mktemp -d)"
        ln -s "$root" "$content/seq2seq-lasagne"
        if ! (cd "$content" && PATH="$venv/bin:$PATH" "$venv/bin/python" - "$colab_cell" <<'PY'
import sys, types
from IPython.core.interactiveshell import InteractiveShell
sys.modules['google.colab'] = types.ModuleType('google.colab')
shell = InteractiveShell.instance()
shell.user_ns['_exit_code'] = 0
result = shell.run_cell(open(sys.argv[1]).read())
code = shell.user_ns.get('_exit_code', 0)
if not result.success or code:
    sys.exit('the first cell failed (exit code %s)' % code)
result = shell.run_cell('import seq2seq_lasagne, lasagne, theano')
if not result.success:
    sys.exit('the package does not import in the same kernel')
PY
        ) >> "$log" 2>&1; then
            rm -rf "$content"; fail "$combo: the notebooks' first cell failed ($log)"; continue
        fi
        rm -rf "$content"
    else
        readme_setup "$py" "$venv" > "$log" 2>&1 \
            || { fail "$combo: the README's set-up failed ($log)"; continue; }
    fi
    say "$combo: install in $(elapsed "$start")"

    start=$(date +%s)
    if lab "$venv" "$home" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
            "${tests[@]}" > "$out/$combo-tests.log" 2>&1; then
        say "$combo: $(tail -n 1 "$out/$combo-tests.log") in $(elapsed "$start")"
    else
        fail "$combo: tests: $(tail -n 1 "$out/$combo-tests.log") ($out/$combo-tests.log)"
    fi

    start=$(date +%s)
    if train_both "$venv" "$home" "$combo"; then
        compare_costs "$combo" || fail "$combo: the training's costs differ from 3.11's"
        say "$combo: training in $(elapsed "$start")"
    else
        fail "$combo: the training failed ($out/$combo-train-*.log)"
    fi
done

say "matrix (${combos[*]}) in $(elapsed "$matrix_start")"
# What was said, as a record (docs/PYTHONS.md renders a committed copy).
"$reference_venv/bin/python" - "$out/said.txt" "$out/summary.json" "${#failures[@]}" "${combos[@]}" <<'PY'
import datetime, json, os, platform, sys
said, path, failed, combos = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
with open(said) as f:
    lines = [line.rstrip('\n') for line in f]
home = os.path.expanduser('~')
lines = [line.replace(os.getcwd() + '/', '').replace(home, '~')
         for line in lines]
record = {
    'combinations': combos,
    'lines': lines,
    'failed': failed,
    '_run': {
        'command': 'scripts/ci_python_matrix.sh' + ''.join(' ' + c for c in combos),
        'date': datetime.datetime.now().isoformat(timespec='minutes'),
        'machine': '%s, %d CPUs' % (platform.machine(), os.cpu_count()),
    },
}
with open(path, 'w') as f:
    json.dump(record, f, indent=1)
    f.write('\n')
PY
if [ "${#failures[@]}" -gt 0 ]; then
    printf 'python-matrix: failed: %s\n' "${failures[@]}" >&2
    exit 1
fi
say "all passed"
