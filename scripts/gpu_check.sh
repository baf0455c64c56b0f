#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU (inside the image, or wherever
# the GPU venv of docker/install.sh is on PATH).  In one call of at most
# 10 minutes it:
#   1. probes the driver and CUDA libraries (docker/gpu_probe.py),
#   2. runs "seq2seq-lasagne doctor" on device=cuda,
#   3. trains the attention model briefly on device=cuda and on device=cpu
#      from the same seed,
#   4. compares the costs of the first validation points (float32 tolerance)
#      and prints samples/s for both.
# Everything goes to files under the output directory ($1, else $OUT, else
# ./gpu-check-out): probe.txt, doctor.txt, cuda/, cpu/ (metrics.json and
# train.log each), compare.txt, summary.txt.  Exit status 0 only when every
# step passed.
#
#   scripts/gpu_check.sh [OUTDIR]
# Tunables (environment): S2S_CHECK_SAMPLES (2000), S2S_CHECK_SEED (1234),
# S2S_CHECK_VAL_SIZE (200), S2S_CHECK_VAL_INTERVAL (500),
# S2S_CHECK_POINTS (2: validation points compared), S2S_CHECK_RTOL (2e-3),
# S2S_CHECK_DOCTOR_TIMEOUT (180) and S2S_CHECK_TRAIN_TIMEOUT (200) seconds,
# S2S_CHECK_DEADLINE (a time in seconds since the epoch that no step may
# run past; unset: none), S2S_CHECK_PARALLEL (0; 1 trains on the CPU while
# step 2 and the GPU training run, with a compile cache of its own, so that
# a machine with idle cores compiles both graphs at once).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
out="${1:-${OUT:-gpu-check-out}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
samples="${S2S_CHECK_SAMPLES:-2000}"
seed="${S2S_CHECK_SEED:-1234}"
val_size="${S2S_CHECK_VAL_SIZE:-200}"
val_interval="${S2S_CHECK_VAL_INTERVAL:-500}"
points="${S2S_CHECK_POINTS:-2}"
rtol="${S2S_CHECK_RTOL:-2e-3}"
doctor_timeout="${S2S_CHECK_DOCTOR_TIMEOUT:-180}"
train_timeout="${S2S_CHECK_TRAIN_TIMEOUT:-200}"
deadline="${S2S_CHECK_DEADLINE:-}"
parallel="${S2S_CHECK_PARALLEL:-0}"
# A compile cache of its own, shared by the steps (warm for the 2nd run).
compiledir="$out/theano-cache"
common="floatX=float32,dnn.enabled=False,base_compiledir=$compiledir"
cuda_flags="device=cuda,gpuarray.preallocate=512,$common"
cpu_flags="device=cpu,$common"
if [ "$parallel" = 1 ]; then
    # Two processes on one cache would wait for each other's compile lock.
    cpu_flags="device=cpu,floatX=float32,dnn.enabled=False,base_compiledir=$compiledir-cpu"
fi
status=0

# A step's time limit: its own, or less when the deadline is nearer.
limit() {
    local t="$1" rest
    if [ -n "$deadline" ]; then
        rest=$((deadline - $(date +%s)))
        [ "$rest" -lt "$t" ] && t="$rest"
    fi
    [ "$t" -ge 1 ] || t=1
    echo "$t"
}

log() { echo "gpu_check: $*" | tee -a "$out/summary.txt"; }
: > "$out/summary.txt"
log "output in $out; samples=$samples seed=$seed val_size=$val_size val_interval=$val_interval"

# 1. Driver and libraries, by the names libgpuarray loads.
probe="$(python3 "$root/docker/gpu_probe.py")"
echo "$probe" > "$out/probe.txt"
IFS=$'\t' read -r pstatus preason pextra <<< "$probe"
[ -n "${pextra:-}" ] && export LD_LIBRARY_PATH="$pextra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ "$pstatus" != ok ]; then
    log "FAIL no usable NVIDIA GPU: $preason"
    exit 1
fi
log "probe: $preason"

# 3. The same short training on both devices (defined here, run below).
train() {  # device flags seconds
    local dev="$1" flags="$2" start end
    mkdir -p "$out/$dev"
    start="$(date +%s.%N)"
    THEANO_FLAGS="$flags" timeout "$(limit "$3")" seq2seq-lasagne train --model attention \
        --samples "$samples" --seed "$seed" --val-size "$val_size" \
        --val-interval "$val_interval" --no-progress --out "$out/$dev" > "$out/$dev/train.log" 2>&1
    local rc=$?
    end="$(date +%s.%N)"
    echo "$start $end" > "$out/$dev/wall.txt"
    if [ "$rc" -eq 124 ]; then
        log "FAIL train on $dev: timed out"
        status=1
    elif [ "$rc" -ne 0 ]; then
        log "FAIL train on $dev (exit $rc): $(tail -n 1 "$out/$dev/train.log")"
        status=1
    else
        log "train on $dev: done"
    fi
    return "$rc"
}
cpu_pid=
if [ "$parallel" = 1 ]; then
    # Its status comes back through wait (a background job's variables
    # do not); it may take as long as steps 2 and 3 together.
    train cpu "$cpu_flags" "$((doctor_timeout + train_timeout))" &
    cpu_pid=$!
fi

# 2. doctor on the GPU (its own one-line reason on failure).
if THEANO_FLAGS="$cuda_flags" timeout "$(limit "$doctor_timeout")" seq2seq-lasagne doctor > "$out/doctor.txt" 2>&1; then
    log "doctor (cuda): ok"
else
    rc=$?
    if [ "$rc" -eq 124 ]; then
        log "FAIL doctor (cuda): timed out"
    else
        log "FAIL doctor (cuda): $(tail -n 1 "$out/doctor.txt")"
    fi
    status=1
fi

train cuda "$cuda_flags" "$train_timeout"
if [ -n "$cpu_pid" ]; then
    wait "$cpu_pid" || status=1
else
    train cpu "$cpu_flags" "$train_timeout"
fi

# 4. Compare the costs, report samples/s.
python3 - "$out" "$samples" "$points" "$rtol" > "$out/compare.txt" 2>&1 <<'PY'
import json, os, sys
out, samples, points, rtol = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
runs = {}
for dev in ('cuda', 'cpu'):
    try:
        with open(os.path.join(out, dev, 'metrics.json')) as f:
            runs[dev] = json.load(f)
    except (OSError, ValueError) as exc:
        print('FAIL %s: no metrics.json (%s)' % (dev, exc))
        sys.exit(1)

def rate(dev):
    m = runs[dev]
    for key in ('train_samples_per_second', 'samples_per_s', 'samples_per_second'):
        if isinstance(m.get(key), (int, float)):
            return '%.1f samples/s (%s from metrics.json)' % (m[key], key)
    with open(os.path.join(out, dev, 'wall.txt')) as f:
        start, end = map(float, f.read().split())
    return ('%.1f samples/s (wall clock of the whole run, compile and '
            'validation included)' % (samples / (end - start)))

for dev in ('cuda', 'cpu'):
    print('%s: %s' % (dev, rate(dev)))
hist = {dev: runs[dev].get('history', []) for dev in runs}
n = min(points, len(hist['cuda']), len(hist['cpu']))
if n == 0:
    print('FAIL no history points to compare')
    sys.exit(1)
bad = 0
for i in range(n):
    a, b = hist['cuda'][i], hist['cpu'][i]
    diff = abs(a['cost'] - b['cost']) / max(abs(b['cost']), 1e-12)
    ok = a['samples'] == b['samples'] and diff <= rtol
    bad += not ok
    print('point %d: samples %s/%s cost cuda %.6g cpu %.6g rel diff %.2e '
          'val_accuracy cuda %s cpu %s %s' % (
              i, a['samples'], b['samples'], a['cost'], b['cost'], diff,
              a.get('val_accuracy'), b.get('val_accuracy'),
              'ok' if ok else 'FAIL (rtol %g)' % rtol))
sys.exit(1 if bad else 0)
PY
crc=$?
while IFS= read -r line; do log "$line"; done < "$out/compare.txt"
[ "$crc" -eq 0 ] || status=1
log "$([ "$status" -eq 0 ] && echo PASS || echo FAIL)"
exit "$status"
