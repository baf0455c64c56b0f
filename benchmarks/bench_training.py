"""Training speed of the lab's two models, with Theano's levers and PyTorch.

Measured at the notebook's settings (batch 100, MIN_DIGITS = MAX_DIGITS = 20,
10 units, alignment 20, Adam 0.005, clip 3 + total norm 3, validation on
5000 samples every 5000):

* training samples/s: ``Trainer.train_step`` on fresh pre-drawn batches,
  timed over ``--steps`` steps after ``--warmup`` steps, median of
  ``--repeats`` repeats (batch drawing is timed separately, not included);
* validation pass: one ``Trainer.evaluate`` of a 5000-sample set (median of
  ``--val-repeats``);
* projected wall time of the full run: ``samples / samples_per_s +
  n_validations * validation_s`` (3e5 samples and 60 validations for the
  baseline, 1.5e5 and 30 for the attention model), and the validation share
  of it;
* compile time, cold (a fresh ``base_compiledir``) and warm (the same
  directory again), for ``train_fn`` + ``test_fn``;
* levers, each in its own process (Theano reads its flags at import), as a
  ratio to the default: attention decoder ``unroll_scan=True`` vs scan;
  ``gcc.cxxflags=`` empty vs the package's ``-D__FAST_MATH__``;
  ``floatX=float64`` vs float32; ``blas.ldflags=`` empty (NumPy C-API BLAS)
  vs SciPy's OpenBLAS; ``OPENBLAS_NUM_THREADS=2`` vs the one thread
  ``compat`` sets; ``allow_gc=True`` set by the user (scans free their
  inner arrays after each call) vs the ``Trainer``'s scans keeping them;
  ``allow_gc=False`` (the outer graph's arrays kept too; Theano 1.0.5 then
  leaks memory); Theano's OpenMP elementwise loops; Theano 1.0.5's own
  scan output check (``memoryview`` contents) vs ``compat``'s; the
  notebook's ``T.nnet.categorical_crossentropy`` vs ``sequence_cost``;
* the same models in eager PyTorch (``torch_models.py``), samples/s and
  validation time, and Theano/PyTorch ratios (when torch is installed):
  ``torch.set_num_threads(--threads)`` (default 2), and as variants the
  same with ``OMP_WAIT_POLICY=PASSIVE``, one thread, and one thread with
  ``torch.optim.Adam`` + ``clip_grad_norm_`` (``native_optim``);
* ``--full``: the real full attention reproduction (1.5e5 samples with
  validation, ``seq2seq_lasagne.experiment.train_run`` into a temporary
  directory) and its wall time, next to the projection.

This is the command line.  Every configuration runs in its own process of
``bench_worker.py`` (one JSON line each); ``bench_driver.py`` runs them,
interleaved over ``--rounds``, collects them, takes medians and ratios and
writes everything to ``benchmarks/results/bench-<date>-<time>.json`` (or
``--out``); ``bench_tables.py`` prints the tables.

Usage::

    .venv/bin/python benchmarks/bench_training.py            # everything
    .venv/bin/python benchmarks/bench_training.py --quick    # a short check
    .venv/bin/python benchmarks/bench_training.py --steps 100 --repeats 5
    .venv/bin/python benchmarks/bench_training.py --full     # + full run

The workers' Theano cache is ``benchmarks/results/theano-cache`` (the
``--compiledir`` option), not the user's ``~/.theano``, so other jobs'
compile locks do not stall the timings; its first use compiles every flag
set cold (several minutes).  ``THEANO_FLAGS`` from the environment is not
passed on: each worker gets exactly the flags of its configuration.
"""

import argparse
import datetime
import json
import os
import sys

from bench_args import add_timing_options, at_least, name_list
from bench_config import (
    LEVERS,
    MODELS,
    NORMAL,
    PEERS,
    QUICK,
    RESULTS,
    TORCH_VARIANTS,
)
from bench_driver import Driver
from bench_tables import print_tables


def make_parser():
    parser = argparse.ArgumentParser(
        description='Training speed of the lab models: Theano, its '
        'levers, and the peers (eager PyTorch, torch.compile, JAX); see '
        'benchmarks/README.md.'
    )
    parser.add_argument(
        '--quick',
        action='store_true',
        help='few steps (10 x 2 after 2 warm-up), one '
        'validation pass: a check that it all runs',
    )
    # None: NORMAL's figures, or --quick's.
    add_timing_options(
        parser, steps=None, warmup=None, repeats=None, val_repeats=None
    )
    parser.add_argument(
        '--models',
        default='baseline,attention',
        help='comma-separated (default baseline,attention)',
    )
    add_timing_options(parser, seed=0)
    parser.add_argument(
        '--rounds',
        type=int,
        default=1,
        help='run the timing phases (Theano and the peers, levers, '
        'PyTorch variants) this many times, interleaved, and '
        'take medians over rounds (default 1)',
    )
    parser.add_argument(
        '--peers',
        default='eager',
        help='comma-separated peers to compare Theano with, of %s; '
        "'all' or 'none' (default eager)" % ', '.join(PEERS),
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help="the peers' threads: torch.set_num_threads, and XLA on one "
        "thread when 1 (default 1, as Theano's default configuration)",
    )
    parser.add_argument(
        '--skip-check',
        action='store_true',
        help='time the peers without checking them against Theano first',
    )
    parser.add_argument(
        '--skip-levers',
        action='store_true',
        help='no Theano levers and no PyTorch variants',
    )
    parser.add_argument(
        '--levers',
        default=None,
        help='comma-separated Theano levers to run '
        '(default all: %s)' % ', '.join(LEVERS),
    )
    parser.add_argument(
        '--torch-variants',
        default=None,
        help='comma-separated PyTorch variants to run '
        '(default all: %s; empty: none)' % ', '.join(TORCH_VARIANTS),
    )
    parser.add_argument(
        '--skip-torch', action='store_true', help='the same as --peers none'
    )
    parser.add_argument(
        '--skip-cold',
        action='store_true',
        help='skip the cold/warm compile measurement',
    )
    parser.add_argument(
        '--full',
        action='store_true',
        help='also run the full attention reproduction',
    )
    parser.add_argument(
        '--compiledir',
        default=os.path.join(RESULTS, 'theano-cache'),
        help='base_compiledir of the timing workers',
    )
    parser.add_argument(
        '--timeout',
        type=int,
        default=1800,
        help='seconds allowed to one worker (default 1800)',
    )
    parser.add_argument(
        '--report',
        metavar='JSON',
        default=None,
        help='print the tables of a saved result file and stop (runs nothing)',
    )
    parser.add_argument(
        '--out',
        default=None,
        help='JSON file (default benchmarks/results/bench-<date>-<time>.json)',
    )
    return parser


def check_args(parser, args):
    """Turn the comma-separated options into lists; reject unknown names."""
    args.models = name_list(parser.error, args.models, MODELS, 'model')
    for name, known in (
        ('levers', LEVERS),
        ('torch_variants', TORCH_VARIANTS),
    ):
        value = getattr(args, name)
        if args.skip_levers:
            chosen = []
        elif value is None:
            chosen = list(known)
        else:
            what = name.replace('_', ' ')[:-1]
            chosen = name_list(parser.error, value, known, what)
        setattr(args, name, chosen)
    if args.skip_torch or args.peers == 'none':
        args.peers = []
    elif args.peers == 'all':
        args.peers = list(PEERS)
    else:
        args.peers = name_list(parser.error, args.peers, PEERS, 'peer')
    at_least(parser.error, args, threads=1)
    if ',' in args.compiledir:
        parser.error('--compiledir must not contain a comma')
    args.compiledir = os.path.abspath(args.compiledir)
    os.makedirs(args.compiledir, exist_ok=True)


def report(path):
    """Print the tables of a saved result file; runs nothing."""
    with open(path) as f:
        record = json.load(f)
    saved = argparse.Namespace(**record['settings'])
    saved.rounds = getattr(saved, 'rounds', 1)
    saved.threads = getattr(saved, 'threads', 2)
    driver = Driver(saved)
    driver.results = record['workers']
    driver.equivalence = record['summary'].get('equivalence')
    print(
        '%s, %s (%d CPUs)\n%s'
        % (
            record['date'],
            record['machine'].get('cpu', '?'),
            record['machine'].get('cpus', 0),
            record['command'],
        )
    )
    print_tables(driver, driver.summary())
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['worker']:  # the single-file script's worker mode
        import bench_worker

        return bench_worker.main(argv[1:])
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.report:
        return report(args.report)
    for key, value in (QUICK if args.quick else NORMAL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    check_args(parser, args)

    started = datetime.datetime.now()
    driver = Driver(args)
    out = args.out or os.path.join(
        RESULTS, 'bench-%s.json' % started.strftime('%Y%m%d-%H%M%S')
    )
    if args.rounds > 1:
        # The file is rewritten after every round, so a run stopped
        # early keeps the rounds it completed (``rounds_done``).
        driver.on_round = lambda: driver.write(out, started, sys.argv)
    driver.log('bench_training: %s' % ' '.join(sys.argv))
    driver.run()
    print_tables(driver, driver.summary())
    driver.write(out, started, sys.argv)
    driver.log('\nwrote %s' % out)
    return 1 if any('error' in r for r in driver.results) else 0


if __name__ == '__main__':
    sys.exit(main())
