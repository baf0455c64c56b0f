#!/usr/bin/env bash
# CI for the class hub (docs/HUB.md): install what tests/test_hub.py needs
# and run it against a student image.
#
#   scripts/ci_hub.sh IMAGE      (IMAGE: the tag scripts/build_image.sh prints)
#
# - the hubtest extra (JupyterHub, DockerSpawner, jupyterhub-idle-culler)
#   into .venv, made as the README says (pip, constraints.txt; pip's cache
#   is kept between runs);
# - configurable-http-proxy, pinned by docker/hub/package-lock.json, with
#   "npm ci" into ${XDG_CACHE_HOME:-$HOME/.cache}/seq2seq-lasagne-hub/proxy
#   (skipped when that lock is installed there already; npm's cache is
#   kept).  Needs Node.js 20 or newer;
# - pytest -m hub with S2S_IMAGE=IMAGE.
# Its timings go to test-artifacts/hub/ci-time.json (scripts/render_docs.py's
# ci-time renderer reads that format; docs/HUB.md quotes a committed copy).
# Errors: one line on stderr ("ci_hub.sh: error: ..."), exit 2 for bad
# arguments, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "ci_hub.sh: error: $1" >&2; exit "${2:-1}"; }
since() { echo "$(( $(date +%s) - $1 )) s"; }

[ "$#" -eq 1 ] && [ -n "$1" ] \
    || die "one argument: the student image's tag (scripts/build_image.sh prints it)" 2
image="$1"
[ -x .venv/bin/python ] || die "no .venv here; make it as the README says first"
command -v npm > /dev/null && command -v node > /dev/null \
    || die "node and npm not found (Node.js 20 or newer)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] \
    || die "Node.js $(node --version) is too old for configurable-http-proxy (20 or newer)"

start="$(date +%s)"
# .ci/run installs them before the Python matrix starts beside this script
# (no pip install may change .venv while the matrix uses it).
if ! .venv/bin/python -c 'import dockerspawner, jupyterhub_idle_culler' 2> /dev/null; then
    .venv/bin/pip install -q -c constraints.txt -e ".[test,hubtest]"
fi

proxy="${XDG_CACHE_HOME:-$HOME/.cache}/seq2seq-lasagne-hub/proxy"
chp="$proxy/node_modules/.bin/configurable-http-proxy"
mkdir -p "$proxy"
if ! cmp -s docker/hub/package-lock.json "$proxy/package-lock.json" || [ ! -x "$chp" ]; then
    cp docker/hub/package.json docker/hub/package-lock.json "$proxy/"
    (cd "$proxy" && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error) \
        || die "npm ci of configurable-http-proxy failed (no network to the npm registry?)"
fi
setup_s=$(( $(date +%s) - start ))
echo "ci_hub: set-up: ${setup_s} s; configurable-http-proxy $("$chp" --version)"

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
t="$(date +%s)"
rc=0
S2S_IMAGE="$image" S2S_CHP="$chp" .venv/bin/python -m pytest -m hub \
    tests/test_hub.py || rc=$?
tests_s=$(( $(date +%s) - t ))
echo "ci_hub: hub tests: ${tests_s} s (exit $rc); all: $(since "$start")"
mkdir -p test-artifacts/hub
.venv/bin/python - "$setup_s" "$tests_s" "$rc" "$load_before" \
    > test-artifacts/hub/ci-time.json <<'PY'
import datetime, json, os, sys
setup, tests, rc, load = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
now = datetime.datetime.now(datetime.timezone.utc)
print(json.dumps({
    'parts': [
        {'name': 'hub: set-up (pip hubtest extra, npm ci of the proxy)',
         'seconds': setup},
        {'name': 'hub: tests/test_hub.py (exit %s)' % rc, 'seconds': tests},
    ],
    'total_seconds': setup + tests,
    '_run': {
        'command': 'bash scripts/ci_hub.sh IMAGE',
        'date': now.strftime('%Y-%m-%d %H:%M UTC'),
        'machine': '%d CPUs, load average %s before the tests, %s after'
        % (os.cpu_count(), load, ' '.join(
            open('/proc/loadavg').read().split()[:3])),
    },
}, indent=1))
PY
exit "$rc"
