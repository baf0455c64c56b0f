#!/usr/bin/env bash
# Compile the lab's Theano graphs at image build time (the Dockerfile's warm
# and opencl stages), so that a fresh container does not compile for minutes
# before its first training step; see docs/CONTAINER.md.  Kept apart from
# docker/install.sh so that a change here does not rebuild the image's
# package layers.
#
#   docker/warm.sh
#
# Compiles on THEANO_FLAGS' device, into its base_compiledir:
#   notebooks  both lab notebooks in quick mode (the same graphs as the full
#              run), without quick mode's 15-minute limit per cell: a cell
#              compiling the training function cold may take longer on a
#              busy 2-core machine
#   train      a short "seq2seq-lasagne train" of each model (the package's
#              own graphs)
#   doctor     "seq2seq-lasagne doctor"
# Environment: S2S_WARM (default "notebooks train doctor"), S2S_VENV
# (default /opt/venv), S2S_WARM_NOTEBOOKS (the notebooks directory).
set -euo pipefail

venv="${S2S_VENV:-/opt/venv}"
py="$venv/bin/python"
say() { echo "warm.sh: $*"; }
die() { echo "warm.sh: error: $*" >&2; exit 1; }

[ -x "$py" ] || die "no venv at $venv"
notebooks="${S2S_WARM_NOTEBOOKS:-${SEQ2SEQ_NOTEBOOKS:-}}"
tmp="$(mktemp -d)"
cache="$(cd / && "$py" -c 'import seq2seq_lasagne, theano; print(theano.config.compiledir)' | tail -n 1)"
say "compiling the lab's graphs into $cache"
for what in ${S2S_WARM:-notebooks train doctor}; do
    start="$(date +%s)"
    case "$what" in
        notebooks)
            [ -d "$notebooks" ] || die "no notebooks directory (S2S_WARM_NOTEBOOKS)"
            (cd "$tmp" && "$py" - "$notebooks" "$tmp/notebooks" <<'PY')
import sys
from seq2seq_lasagne.notebooks import execute_notebooks
execute_notebooks(sys.argv[2], quick=True, timeout=4 * 3600,
                  directory=sys.argv[1],
                  notebooks=['01_encoder_decoder', '02_attention_decoder'])
PY
            ;;
        train)
            for model in baseline attention; do
                (cd "$tmp" && "$venv/bin/seq2seq-lasagne" train --model "$model" --samples 200 \
                    --val-size 100 --val-interval 100 --no-progress --out "$tmp/$model") > /dev/null
            done ;;
        doctor)
            (cd "$tmp" && "$venv/bin/seq2seq-lasagne" doctor) | tail -n 6 ;;
        *) die "unknown S2S_WARM item '$what' (notebooks, train, doctor)" ;;
    esac
    say "$what: $(( $(date +%s) - start )) s"
done
rm -rf "$tmp" "$cache/lock_dir"
# Theano makes its module directories private (mkdtemp); the image's copy
# must be readable by whichever user the container runs as.
chmod -R a+rX "$(dirname "$cache")"
say "$(find "$cache" -name '*.so' | wc -l) compiled modules, $(du -sh "$cache" | cut -f1)"
