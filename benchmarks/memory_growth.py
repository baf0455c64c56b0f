"""Resident memory of a training process, every N steps.

Shows why the package keeps only the scans' arrays between calls: with
``allow_gc=False`` everywhere, Theano 1.0.5's memory grows as long as the
input length changes between calls; with the package's default (scans keep
their inner arrays, the outer graph frees its own, see
``seq2seq_lasagne.training``), with ``allow_gc=True`` set by the user, or
with one fixed batch, it stays flat.

Usage::

    .venv/bin/python benchmarks/memory_growth.py attention    # default
    export THEANO_FLAGS=allow_gc=False
    .venv/bin/python benchmarks/memory_growth.py attention
    .venv/bin/python benchmarks/memory_growth.py attention --same-batch
"""

import argparse
import os

import numpy as np


def resident_mb():
    """Current resident set size of this process, in MB (Linux)."""
    with open('/proc/self/statm') as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf('SC_PAGE_SIZE') / 2**20


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('model', choices=('baseline', 'attention'))
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument(
        '--same-batch',
        action='store_true',
        help='train on one fixed batch (one input length)',
    )
    args = parser.parse_args()
    # compat sets Theano's flags, so the package comes first.
    import seq2seq_lasagne  # noqa: F401

    # isort: split
    import theano

    from seq2seq_lasagne.compat import user_flags
    from seq2seq_lasagne.data_generator import get_batch
    from seq2seq_lasagne.settings import RunSettings
    from seq2seq_lasagne.training import build_trainer

    trainer = build_trainer(RunSettings(model=args.model))
    trainer.compile(test=False)
    rng = np.random.RandomState(0)
    fixed = get_batch(100, 20, 20, rng=rng)
    print(
        '%s, %s'
        % (
            'allow_gc=%s (set by the user)' % theano.config.allow_gc
            if 'allow_gc' in user_flags()
            else 'package default (scans keep their arrays)',
            'one fixed batch' if args.same_batch else 'fresh batches',
        )
    )
    for r in range(args.rounds):
        for _ in range(args.steps):
            x, xmask, y = (
                fixed if args.same_batch else get_batch(100, 20, 20, rng=rng)
            )[:3]
            trainer.train_step(x, y, xmask)
        print(
            'after %5d steps: %6.0f MB resident'
            % ((r + 1) * args.steps, resident_mb()),
            flush=True,
        )


if __name__ == '__main__':
    main()
