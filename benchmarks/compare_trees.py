"""Training speed of two source trees of the package, side by side.

A check that a change of the code (a redesign, a refactoring) left the
speed alone: the training benchmark's Theano worker of each tree, at the
same settings, in interleaved A/B rounds whose order alternates (A B, B A,
A B, ...), so a change of load hits both trees alike.  Each tree runs its
*own* worker -- ``benchmarks/bench_worker.py`` where it exists, else the
older single-file ``benchmarks/bench_training.py worker`` -- with its own
package first on ``PYTHONPATH``, under the same Python and libraries (this
interpreter, or ``--python-before``) and the same Theano flags: only the
package's code differs.  Both workers time the same pre-drawn batches
(same seeds) and the same 5000-sample validation set.

For each model it reports, per round, Theano's training samples/s and the
validation time of each tree and their ratio (this tree / the other), the
median ratio and its spread (the largest distance of a round's ratio from
the median).  The verdict "within noise" means that the median ratio's
distance from 1 is at most that spread.

Usage::

    .venv/bin/python benchmarks/compare_trees.py --before ../old-checkout \\
        [--rounds 3] [--models baseline,attention] [--out FILE]

``--before`` is a checkout of the older commit (``git worktree add
../old-checkout <commit>``); it is only read.  The workers share a Theano
cache (``--compiledir``, default ``benchmarks/results/theano-cache``, the
training benchmark's), so compilation is not part of the rates.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from bench_args import (  # noqa: E402
    TIMING_HELP,
    add_timing_options,
    at_least,
    marked_result,
    name_list,
    timing_arguments,
)
from bench_config import MARK, MODELS, NORMAL, RESULTS  # noqa: E402
from bench_driver import _relative, load_average, run_header  # noqa: E402


def _git(tree, *args):
    try:
        return subprocess.run(
            ['git', '-C', tree] + list(args),
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def describe(tree):
    """The commit of a checkout, and whether its files differ from it."""
    return {
        'commit': _git(tree, 'rev-parse', 'HEAD'),
        'subject': _git(tree, 'log', '-1', '--format=%s'),
        'modified': bool(_git(tree, 'status', '--porcelain', '-uno')),
    }


def worker_command(tree, python):
    """The training benchmark's worker of ``tree``, run by ``python``."""
    split = os.path.join(tree, 'benchmarks', 'bench_worker.py')
    if os.path.exists(split):
        return [python, split]
    return [python, os.path.join(tree, 'benchmarks', 'bench_training.py')] + [
        'worker'
    ]


def imported_from(tree, python):
    """Where ``python`` with ``tree`` first on its path finds the
    package: it must be that tree's."""
    proc = subprocess.run(
        [
            python,
            '-c',
            'import os, seq2seq_lasagne as p; '
            'print(os.path.dirname(os.path.dirname(p.__file__)))',
        ],
        cwd=tree,
        env=dict(os.environ, PYTHONPATH=tree),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.stdout.strip()


def run_worker(tree, python, model, args):
    """One Theano worker of ``tree``; its JSON dict or an error dict."""
    cmd = (
        worker_command(tree, python)
        + [
            '--engine',
            'theano',
            '--model',
            model,
        ]
        + timing_arguments(args, *TIMING_HELP)
    )
    env = dict(
        os.environ,
        PYTHONPATH=tree,
        THEANO_FLAGS='base_compiledir=' + args.compiledir,
        PYTHONWARNINGS='ignore',
    )
    load_before = load_average()
    start = time.perf_counter()
    proc = subprocess.run(
        cmd,
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=args.timeout,
    )
    out = marked_result(proc, MARK)
    out.update(
        worker_s=time.perf_counter() - start,
        load_before=load_before,
        load_after=load_average(),
    )
    return out


def _spread(ratios):
    """Median of ``ratios``, the largest distance of one from it, and
    whether 1 lies within that distance."""
    median = statistics.median(ratios)
    spread = max(abs(r - median) for r in ratios)
    return {
        'rounds': ratios,
        'median': median,
        'spread': spread,
        'min': min(ratios),
        'max': max(ratios),
        'within_noise': abs(median - 1) <= spread,
    }


def summarise(runs, models, names):
    """Per model: each tree's rates by round, the ratios and the verdict."""
    a, b = names
    out = {}
    for model in models:
        rows = {
            name: {
                r['round']: r
                for r in runs
                if r['tree'] == name
                and r['model'] == model
                and 'error' not in r
            }
            for name in names
        }
        rounds = sorted(set(rows[a]) & set(rows[b]))
        if not rounds:
            continue
        m = {'rounds': rounds}
        for name in names:
            m[name] = {
                'samples_per_s_rounds': [
                    rows[name][r]['samples_per_s'] for r in rounds
                ],
                'val_s_rounds': [rows[name][r]['val_s'] for r in rounds],
            }
            for key in ('samples_per_s', 'val_s'):
                m[name][key] = statistics.median(m[name][key + '_rounds'])
        m['samples_per_s_ratio'] = _spread(
            [
                rows[a][r]['samples_per_s'] / rows[b][r]['samples_per_s']
                for r in rounds
            ]
        )
        m['val_s_ratio'] = _spread(
            [rows[a][r]['val_s'] / rows[b][r]['val_s'] for r in rounds]
        )
        out[model] = m
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--before',
        required=True,
        help='a checkout of the older commit (only read)',
    )
    parser.add_argument(
        '--python-before',
        default=sys.executable,
        help="the older tree's Python (default: this one, so that only "
        'the code differs)',
    )
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--models', default=','.join(MODELS))
    add_timing_options(parser, **NORMAL, seed=0)
    parser.add_argument(
        '--compiledir', default=os.path.join(RESULTS, 'theano-cache')
    )
    parser.add_argument('--timeout', type=int, default=1800)
    parser.add_argument(
        '--out',
        default=os.path.join(RESULTS, 'compare-trees.json'),
        help='JSON file (default benchmarks/results/compare-trees.json)',
    )
    args = parser.parse_args(argv)
    models = name_list(parser.error, args.models, MODELS, 'model')
    at_least(parser.error, args, rounds=1)
    before = os.path.abspath(args.before)
    if not os.path.isdir(os.path.join(before, 'seq2seq_lasagne')):
        parser.error('%s is not a checkout of the package' % args.before)
    args.compiledir = os.path.abspath(args.compiledir)
    os.makedirs(args.compiledir, exist_ok=True)
    trees = {
        'current': (ROOT, sys.executable),
        'before': (before, args.python_before),
    }
    names = ('current', 'before')
    for name, (tree, python) in trees.items():
        found = imported_from(tree, python)
        if os.path.realpath(found or '-') != os.path.realpath(tree):
            parser.error(
                'the %s tree imports the package from %r, not from %s'
                % (name, found, tree)
            )
    started = datetime.datetime.now()
    load_start = load_average()
    print('compare_trees: load average %s' % load_start, flush=True)
    runs = []
    for rnd in range(args.rounds):
        order = names if rnd % 2 == 0 else names[::-1]
        for model in models:
            for name in order:
                tree, python = trees[name]
                r = run_worker(tree, python, model, args)
                r.update(tree=name, round=rnd, model=model)
                runs.append(r)
                print(
                    'round %d  %-9s %-7s %s'
                    % (
                        rnd + 1,
                        model,
                        name,
                        'ERROR ' + r['error'].splitlines()[-1][:200]
                        if 'error' in r
                        else '%.0f samples/s, validation %.2f s (load %.2f)'
                        % (r['samples_per_s'], r['val_s'], r['load_after'][0]),
                    ),
                    flush=True,
                )
    summary = summarise(runs, models, names)
    for model, m in summary.items():
        for key, label in (
            ('samples_per_s_ratio', 'training samples/s'),
            ('val_s_ratio', 'validation time'),
        ):
            s = m[key]
            print(
                '%-9s %s, current / before: median %.3f (rounds %s), '
                'spread %.3f: %s'
                % (
                    model,
                    label,
                    s['median'],
                    ', '.join('%.3f' % r for r in s['rounds']),
                    s['spread'],
                    'within noise'
                    if s['within_noise']
                    else 'NOT within noise',
                )
            )
    record = {
        '_run': run_header(started, load_start, load_average()),
        'trees': {
            'current': describe(ROOT),
            'before': dict(
                describe(before),
                same_python=args.python_before == sys.executable,
            ),
        },
        'settings': {
            k: getattr(args, k)
            for k in ('rounds', 'steps', 'warmup', 'repeats', 'val_repeats')
        },
        'models': summary,
        'runs': runs,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(_relative(record), f, indent=1, default=str)
    print('wrote %s' % args.out)
    return 1 if any('error' in r for r in runs) else 0


if __name__ == '__main__':
    sys.exit(main())
