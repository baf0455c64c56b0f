"""Training speed of the lab on each supported Python, beside Python 3.11's.

Runs a fixed number of training steps of the attention and the baseline
model (the notebook's settings: batch 100, 20-digit targets) in each
Python's venv, each in its own process, the venvs interleaved round by
round so that a change in the machine's load falls on all of them, and
prints samples/s and the ratio to the Python 3.11 venv measured in the
same run (the median of the per-round ratios).

The venvs are those of ``scripts/ci_python_matrix.sh`` (``venv-<name>-*``
in its cache, ``S2S_MATRIX_CACHE``) and the README's ``.venv`` (3.11), or
any given with ``--venv NAME=PATH``::

    .venv/bin/python benchmarks/python_matrix_speed.py
    .venv/bin/python benchmarks/python_matrix_speed.py --steps 50 --rounds 5
    .venv/bin/python benchmarks/python_matrix_speed.py \\
        --venv 3.11=.venv --venv 3.13=/path/to/venv

Each worker compiles the model first (not timed).  By default it uses the
Theano cache the CI matrix keeps for that venv (``home-<name>-*`` beside
the venv; for 3.11 the newest ``home-3.11-*``), which already holds the
lab's modules and optimised graphs when the matrix has run; with
``--compiledir DIR`` each venv gets ``DIR/<name>`` instead, and a first run
there compiles cold, several minutes per venv.  Results go to
``benchmarks/results/python-matrix-<date>.json`` (or ``--out``).
"""

import argparse
import datetime
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from bench_args import (  # noqa: E402
    add_timing_options,
    at_least,
    default_out,
    timing_arguments,
)

MARK = 'PYTHON_MATRIX_RESULT '
REFERENCE = '3.11'
BATCH = 100
DIGITS = 20
MODELS = ('attention', 'baseline')
#: Suffix of a venv's peer run with scan's Cython core (--scan-cython-peer).
CYTHON = '+cython'


def fail(message):
    print('python_matrix_speed.py: error: ' + message, file=sys.stderr)
    sys.exit(2)


# --- worker: runs inside one venv -------------------------------------------


def worker(argv):
    parser = argparse.ArgumentParser(prog='python_matrix_speed.py worker')
    parser.add_argument('--model', choices=MODELS, required=True)
    add_timing_options(parser, steps=30, warmup=3, seed=0)
    parser.add_argument('--scan-cython', action='store_true')
    args = parser.parse_args(argv)
    import platform

    import numpy as np
    import scipy

    import seq2seq_lasagne
    from seq2seq_lasagne.compat import scan as compat_scan
    from seq2seq_lasagne.data_generator import get_batch
    from seq2seq_lasagne.training import Trainer, build_seeded

    trainer = Trainer(build_seeded(args.model, args.seed))
    # After the package: its compat fixes must be in place before Theano
    # is imported (bare, Theano 1.0.5 cannot even find its BLAS default).
    import theano
    from theano.scan_module import scan_op

    if args.scan_cython:
        # compat marked scan's Cython core absent (3.11+) or routed scans
        # with large states to the Python loop (3.10): undo both, so that
        # every scan runs the core.  Scan looks for it when it is compiled.
        sys.modules.pop(compat_scan.SCAN_EXT, None)
        shipped = scan_op.Scan.make_thunk
        scan_op.Scan.make_thunk = getattr(shipped, '__wrapped__', shipped)
    start = time.perf_counter()
    trainer.compile(test=False)
    compile_s = time.perf_counter() - start
    rng = np.random.RandomState(args.seed + 1)
    # get_batch gives (x, xmask, y, ...); train_step takes (x, y, xmask).
    batches = [
        (x, y, xmask)
        for x, xmask, y in (
            get_batch(BATCH, DIGITS, DIGITS, rng=rng)[:3]
            for _ in range(args.warmup + args.steps)
        )
    ]
    costs = [trainer.train_step(*b)[0] for b in batches[: args.warmup]]
    start = time.perf_counter()
    costs += [trainer.train_step(*b)[0] for b in batches[args.warmup :]]
    elapsed = time.perf_counter() - start
    ldflags = theano.config.blas.ldflags
    out = {
        'python': platform.python_version(),
        'numpy': np.__version__,
        'scipy': scipy.__version__,
        'blas': (
            os.path.basename(ldflags.split()[1][3:])
            if '-l:' in ldflags
            else ldflags or 'NumPy C-API'
        ),
        'blas_renames': ldflags.count(' -D'),
        'compat': seq2seq_lasagne.compat.changes(),
        'scan_loop': scan_loop(scan_op),
        'compile_s': compile_s,
        'steps': args.steps,
        'samples_per_s': args.steps * BATCH / elapsed,
        'cost_last': float(costs[-1]),
    }
    print(MARK + json.dumps(out), flush=True)
    return 0


def scan_loop(scan_op):
    """Which loop the worker's scans ran: 'python' (all), 'cython' (all),
    or 'mixed' (compat's routing: the Python loop for large states)."""
    from seq2seq_lasagne.compat.scan import SCAN_EXT

    if sys.modules.get(SCAN_EXT) is None:
        return 'python'
    if hasattr(scan_op.Scan.make_thunk, '__wrapped__'):
        return 'mixed'
    return 'cython'


# --- driver -----------------------------------------------------------------


def matrix_cache():
    return os.environ.get('S2S_MATRIX_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
        'seq2seq-lasagne-matrix',
    )


def matrix_home(name, venv):
    """The HOME whose ~/.theano the CI matrix compiled NAME's lab into.

    The matrix names a combination's venv and home by the same key; the
    3.11 reference's home is keyed apart from .venv, so the newest one is
    taken.  None when the matrix has not run for NAME.
    """
    cache = matrix_cache()
    base = os.path.basename(os.path.normpath(venv))
    if base.startswith('venv-%s-' % name):
        home = os.path.join(cache, 'home-' + base[len('venv-') :])
        return home if os.path.isdir(home) else None
    homes = glob.glob(os.path.join(cache, 'home-%s-*' % name))
    return max(homes, key=os.path.getmtime) if homes else None


def matrix_venvs():
    """``{name: venv}``: .venv as 3.11 and ci_python_matrix.sh's venvs."""
    cache = matrix_cache()
    venvs = {}
    if os.path.isdir(os.path.join(ROOT, '.venv')):
        venvs[REFERENCE] = os.path.join(ROOT, '.venv')
    for path in sorted(glob.glob(os.path.join(cache, 'venv-*-*'))):
        name = os.path.basename(path).split('-')[1]
        venvs[name] = path
    return venvs


def run_worker(name, venv, model, args):
    base = name[: -len(CYTHON)] if name.endswith(CYTHON) else name
    python = os.path.join(venv, 'bin', 'python')
    env = dict(os.environ)
    env.pop('THEANORC', None)
    env.pop('THEANO_FLAGS', None)
    # This checkout's package, whatever checkout the venv was installed
    # from (the CI matrix installs its own clone's).
    env['PYTHONPATH'] = ROOT
    home = None if args.compiledir else matrix_home(base, venv)
    if home:
        env['HOME'] = home
    else:
        compiledir = args.compiledir or os.path.join(
            HERE, 'results', 'theano-cache-pythons'
        )
        env['THEANO_FLAGS'] = 'base_compiledir=' + os.path.join(
            os.path.abspath(compiledir), base
        )
    proc = subprocess.run(
        [
            python,
            os.path.abspath(__file__),
            'worker',
            '--model',
            model,
        ]
        + timing_arguments(args, 'steps', 'warmup')
        + (['--scan-cython'] if base != name else []),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    tail = (proc.stderr.strip().splitlines() or ['no output'])[-1]
    fail('worker %s/%s failed: %s' % (name, model, tail[:300]))


def python_version(venv):
    out = subprocess.run(
        [
            os.path.join(venv, 'bin', 'python'),
            '-c',
            'import sys; print(*sys.version_info[:2])',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return tuple(int(x) for x in out)


def order(names):
    """3.11 first, then the others by name."""
    return [REFERENCE] + sorted(n for n in names if n != REFERENCE)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['worker']:
        return worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--venv',
        action='append',
        default=[],
        metavar='NAME=PATH',
        help='a venv to measure (repeatable); default: '
        '.venv as 3.11 and the CI matrix venvs',
    )
    parser.add_argument(
        '--models', nargs='+', choices=MODELS, default=list(MODELS)
    )
    add_timing_options(parser, steps=30, warmup=3)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument(
        '--compiledir',
        default=None,
        help='a Theano cache per venv under this folder (default: the '
        "CI matrix's cache of each venv, else "
        'benchmarks/results/theano-cache-pythons)',
    )
    parser.add_argument(
        '--scan-cython-peer',
        action='store_true',
        help="also run each venv whose Python builds scan's Cython core "
        '(before 3.11) with that core, as NAME+cython: the peer of the '
        "Python loop the package's compat uses",
    )
    parser.add_argument('--out', default=None)
    args = parser.parse_args(argv)
    at_least(fail, args, steps=1, rounds=1, warmup=0)
    venvs = {}
    for item in args.venv:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            fail('--venv takes NAME=PATH, not %r' % item)
        venvs[name] = path
    venvs = venvs or matrix_venvs()
    if REFERENCE not in venvs:
        fail(
            'no %s venv to compare with (give --venv %s=PATH)'
            % (REFERENCE, REFERENCE)
        )
    for name, path in venvs.items():
        if not os.path.isfile(os.path.join(path, 'bin', 'python')):
            fail('%s: no venv at %s' % (name, path))
    if args.scan_cython_peer:
        for name, path in list(venvs.items()):
            if python_version(path) < (3, 11):
                venvs[name + CYTHON] = path
    names = order(venvs)

    results = {m: {n: [] for n in names} for m in args.models}
    started = datetime.datetime.now()
    load_before = os.getloadavg()
    for r in range(args.rounds):
        for model in args.models:
            for name in names:
                res = run_worker(name, venvs[name], model, args)
                results[model][name].append(res)
                print(
                    'round %d %-9s %-12s %7.0f samples/s  (Python %s, '
                    'NumPy %s, %s)'
                    % (
                        r + 1,
                        model,
                        name,
                        res['samples_per_s'],
                        res['python'],
                        res['numpy'],
                        res['blas'],
                    ),
                    flush=True,
                )

    print(
        '\nmedian of %d rounds of %d steps (batch %d, %d digits); ratio: '
        'median of the per-round ratios to %s'
        % (args.rounds, args.steps, BATCH, DIGITS, REFERENCE)
    )
    print(
        '%-9s %-12s %-8s %-8s %-32s %10s %8s'
        % (
            'model',
            'venv',
            'Python',
            'NumPy',
            'BLAS',
            'samples/s',
            'vs ' + REFERENCE,
        )
    )
    summary = {}
    for model in args.models:
        ref = [x['samples_per_s'] for x in results[model][REFERENCE]]
        for name in names:
            runs = results[model][name]
            rates = [x['samples_per_s'] for x in runs]
            ratio = statistics.median(a / b for a, b in zip(rates, ref))
            summary.setdefault(model, {})[name] = {
                'samples_per_s': statistics.median(rates),
                'ratio_to_reference': ratio,
                'rounds': rates,
                'python': runs[0]['python'],
                'numpy': runs[0]['numpy'],
                'scipy': runs[0]['scipy'],
                'blas': runs[0]['blas'],
                'blas_renames': runs[0]['blas_renames'],
                'scan_loop': runs[0].get('scan_loop'),
            }
            print(
                '%-9s %-12s %-8s %-8s %-32s %10.0f %8.2f'
                % (
                    model,
                    name,
                    runs[0]['python'],
                    runs[0]['numpy'],
                    runs[0]['blas'][:32],
                    statistics.median(rates),
                    ratio,
                )
            )
    out = args.out or default_out('python-matrix', started)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(
            {
                '_run': {
                    # The home folder as ~: no machine's paths in results.
                    'command': ' '.join(
                        ['python', 'benchmarks/python_matrix_speed.py']
                        + sys.argv[1:]
                    ).replace(os.path.expanduser('~') + '/', '~/'),
                    'date': started.isoformat(timespec='minutes'),
                    'machine': '%s, %d CPUs, load average %s before, %s '
                    'after'
                    % (
                        platform.machine(),
                        os.cpu_count(),
                        ' '.join('%.2f' % x for x in load_before),
                        ' '.join('%.2f' % x for x in os.getloadavg()),
                    ),
                },
                'steps': args.steps,
                'warmup': args.warmup,
                'rounds': args.rounds,
                # Names only: the paths are this machine's.
                'venvs': {n: os.path.basename(p) for n, p in venvs.items()},
                'summary': summary,
                'runs': results,
            },
            f,
            indent=1,
        )
    print('wrote %s' % out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
