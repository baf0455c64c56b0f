"""Cold start: how long a student waits for the first training step.

Each target runs in a fresh process with an empty Theano compile cache
(``THEANO_FLAGS=base_compiledir=<new temporary directory>``); measured is
the time from the process's start to its first training step:

* ``attention``, ``baseline``: ``seq2seq-lasagne train --model M`` (the
  command's own ``main``, in a child process that times each
  ``Trainer.compile`` call and stops right after the first
  ``Trainer.train_step`` has returned); ``attention-fused`` the same with
  ``--fused-attention``, ``attention-fused-both`` with ``--fused-gru
  --fused-attention``, ``baseline-fused`` the baseline with
  ``--fused-gru``;
* ``notebook-baseline``, ``notebook-attention``: the lab's notebooks
  (``notebooks/01_encoder_decoder.ipynb``, ``02_attention_decoder.ipynb``)
  executed with nbclient in quick mode (``SEQ2SEQ_QUICK=1``) up to and
  including their first training cell; measured is the time from the
  start to that cell's start (everything the lab compiles before training:
  the ``.eval()`` checks of the model cells, then ``train_func`` and
  ``test_func``; the cell's first statement draws a batch, its second is
  the first training step), and the cell's own time in quick mode.

With ``--warm`` the targets start instead with Theano's default compile
cache as the user's later runs find it (each target runs once untimed
first, to fill it), each round once with the cache of optimised graphs
(``seq2seq_lasagne.compat.graph_cache``) and once without it
(``SEQ2SEQ_GRAPH_CACHE=0``), and the summary adds the median of the
per-round ratios of the two times.

Besides the wall time it records the CPU time of the process and its
children (``g++`` included), the load average before and after, and the
number of C modules compiled into the cache; for the ``train`` targets
also when each g++ run began and ended, from which the summary takes the
seconds between the import and the first step when no g++ ran
(``no_gxx_s``: Python alone, Theano optimising or linking a graph).

Usage::

    .venv/bin/python benchmarks/cold_start.py [--targets attention,...]
        [--rounds 1] [--warm | --pch-peer | --parallel-peer]
        [--theano-flags FLAGS]
        [--out FILE]

With ``--pch-peer`` (cold only) each round runs each target once with
the precompiled header of ``seq2seq_lasagne.compat.precompiled`` and once
without it (``SEQ2SEQ_PCH=0``), and the summary adds the median of the
per-round ratios, as for ``--warm``.  ``--parallel-peer`` does the same
with ``seq2seq_lasagne.compat.parallel_compile`` on and off
(``SEQ2SEQ_PARALLEL_COMPILE=0``: Theano's one module at a time).

``--theano-flags`` adds flags after ``base_compiledir`` (to measure a
lever); the environment's ``THEANO_FLAGS`` is not passed on.
"""

import argparse
import datetime
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_args import at_least, name_list  # noqa: E402
from bench_driver import _relative, load_average, run_header  # noqa: E402

ROOT = os.path.dirname(HERE)
NOTEBOOKS = {
    'notebook-baseline': '01_encoder_decoder.ipynb',
    'notebook-attention': '02_attention_decoder.ipynb',
}
#: The ``train`` targets: their options of ``seq2seq-lasagne train``.
TRAIN_TARGETS = {
    'attention': ['--model', 'attention'],
    'baseline': ['--model', 'baseline'],
    'attention-fused': ['--model', 'attention', '--fused-attention'],
    'attention-fused-both': [
        '--model',
        'attention',
        '--fused-gru',
        '--fused-attention',
    ],
    'baseline-fused': ['--model', 'baseline', '--fused-gru'],
}
TARGETS = tuple(TRAIN_TARGETS) + tuple(NOTEBOOKS)
MARK = 'COLD_START '
#: Turns the cache of optimised graphs off (seq2seq_lasagne.compat).
GRAPH_CACHE_ENV = 'SEQ2SEQ_GRAPH_CACHE'
PCH_ENV = 'SEQ2SEQ_PCH'
PARALLEL_ENV = 'SEQ2SEQ_PARALLEL_COMPILE'

#: The child of a ``train`` target: ``seq2seq-lasagne train`` that stops
#: after its first training step.
TRAIN_CHILD = r"""
import json, os, sys, time
start = float(os.environ['COLD_START_T0'])
from seq2seq_lasagne import training
from seq2seq_lasagne.cli import main

marks = {'import_s': time.time() - start, 'compile_calls': []}
compile_ = training.Trainer.compile
train_step = training.Trainer.train_step

def timed_compile(self, train=True, test=True):
    began = time.time()
    result = compile_(self, train=train, test=test)
    marks['compile_calls'].append(
        {'train': bool(train), 'test': bool(test), 's': time.time() - began}
    )
    return result

def first_step(self, *args, **kwargs):
    marks['first_step_begins_s'] = time.time() - start
    train_step(self, *args, **kwargs)
    marks['first_step_s'] = time.time() - start
    sys.stdout.write('COLD_START ' + json.dumps(marks) + '\n')
    sys.stdout.flush()
    os._exit(0)

training.Trainer.compile = timed_compile
training.Trainer.train_step = first_step

# Every g++ run Theano starts for a module, from any thread: when the
# cores compiled, and when only Python ran (graph optimisation, linking).
from theano.gof import cmodule
gxx_runs = marks['gxx_runs'] = []
popen = cmodule.output_subprocess_Popen

def timed_popen(command, *args, **kwargs):
    began = time.time() - start
    try:
        return popen(command, *args, **kwargs)
    finally:
        gxx_runs.append([began, time.time() - start])

cmodule.output_subprocess_Popen = timed_popen
sys.exit(main(sys.argv[1:]))
"""

#: The child of a notebook target: the notebook up to its first training
#: cell, in a kernel of this Python.
NOTEBOOK_CHILD = r"""
import json, os, sys, time
start = float(os.environ['COLD_START_T0'])
import nbformat
from nbclient import NotebookClient

path, cwd = sys.argv[1:3]
nb = nbformat.read(path, as_version=4)
train_cell = next(
    i for i, c in enumerate(nb.cells)
    if c.cell_type == 'code' and 'train_func(' in c.source
    and 'while ' in c.source
)
nb.cells = nb.cells[:train_cell + 1]
marks = {'train_cell': train_cell, 'cell_starts_s': {}}

def began(cell, cell_index):
    marks['cell_starts_s'][cell_index] = time.time() - start

def ended(cell, cell_index, execute_reply):
    if cell_index == train_cell:
        marks['train_cell_ends_s'] = time.time() - start

client = NotebookClient(
    nb, timeout=3600, kernel_name='python3',
    resources={'metadata': {'path': cwd}},
    on_cell_execute=began, on_cell_executed=ended,
)
client.execute()
marks['first_step_s'] = marks['cell_starts_s'][train_cell]
sys.stdout.write('COLD_START ' + json.dumps(marks) + '\n')
"""


def _count_modules(compiledir):
    """C modules (a ``mod.cpp`` each) compiled into a cache."""
    return sum('mod.cpp' in files for _, _, files in os.walk(compiledir))


def run_target(
    target, flags, warm=False, graph_cache=True, pch=None, parallel=None
):
    """One start of ``target``; a dict of figures.

    Cold (the default): in an empty compile cache, deleted afterwards.
    ``warm``: in Theano's default compile cache, as the user's later runs
    find it; ``graph_cache=False`` then turns off the cache of optimised
    graphs (``SEQ2SEQ_GRAPH_CACHE=0``), the peer of a warm start.
    ``pch=False`` turns off the precompiled header (``SEQ2SEQ_PCH=0``);
    ``pch`` True or False is recorded, None (the default: on) is not;
    likewise ``parallel`` (``SEQ2SEQ_PARALLEL_COMPILE``)."""
    work = tempfile.mkdtemp(prefix='cold-run-')
    env = dict(os.environ)
    env.pop('THEANO_FLAGS', None)
    if warm:
        cache = None
    else:
        cache = tempfile.mkdtemp(prefix='cold-cache-')
        flags = ','.join(filter(None, ['base_compiledir=' + cache, flags]))
    if flags:
        env['THEANO_FLAGS'] = flags
    env[GRAPH_CACHE_ENV] = '1' if graph_cache else '0'
    env[PCH_ENV] = '0' if pch is False else '1'
    env[PARALLEL_ENV] = '0' if parallel is False else '1'
    env.setdefault('PYTHONWARNINGS', 'ignore')
    if target in NOTEBOOKS:
        env['SEQ2SEQ_QUICK'] = '1'
        notebook = os.path.join(ROOT, 'notebooks', NOTEBOOKS[target])
        cmd = [sys.executable, '-c', NOTEBOOK_CHILD, notebook, work]
    else:
        cmd = [sys.executable, '-c', TRAIN_CHILD, 'train']
        cmd += TRAIN_TARGETS[target]
        cmd += ['--out', os.path.join(work, 'run'), '--no-progress']
    out = {'target': target, 'theano_flags': flags}
    if pch is not None:
        out['pch'] = pch
    if parallel is not None:
        out['parallel'] = parallel
    if warm:
        out['graph_cache'] = graph_cache
        modules_before = _count_modules(_compiledir(flags))
    out['load_before'] = load_average()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    env['COLD_START_T0'] = repr(start)
    try:
        proc = subprocess.run(
            cmd, env=env, cwd=work, capture_output=True, text=True
        )
        end = time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        lines = [
            line for line in proc.stdout.splitlines() if line.startswith(MARK)
        ]
        if lines:
            out.update(json.loads(lines[-1][len(MARK) :]))
        else:
            out['error'] = 'exit %d: %s' % (
                proc.returncode,
                (proc.stderr or proc.stdout).strip()[-2000:],
            )
        out['process_s'] = end - start
        out['cpu_s'] = (after.ru_utime - before.ru_utime) + (
            after.ru_stime - before.ru_stime
        )
        if warm:
            out['modules_compiled'] = (
                _count_modules(_compiledir(flags)) - modules_before
            )
        else:
            out['modules_compiled'] = _count_modules(cache)
    finally:
        out['load_after'] = load_average()
        if cache:
            shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return out


@functools.lru_cache(maxsize=None)
def _compiledir(flags):
    """Theano's compile directory under ``THEANO_FLAGS=flags`` (asked once
    per flags: a child Python each time)."""
    env = dict(os.environ)
    env.pop('THEANO_FLAGS', None)
    if flags:
        env['THEANO_FLAGS'] = flags
    proc = subprocess.run(
        [
            sys.executable,
            '-c',
            'import seq2seq_lasagne, theano; print(theano.config.compiledir)',
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip().splitlines()[-1]


def _variant(result):
    """A run's name in the summary: its target, and for a warm start
    whether the graph cache was on (for a --pch-peer run, the header)."""
    if 'parallel' in result:
        return '%s (cold, parallel compile %s)' % (
            result['target'],
            'on' if result['parallel'] else 'off',
        )
    if 'pch' in result:
        return '%s (cold, precompiled header %s)' % (
            result['target'],
            'on' if result['pch'] else 'off',
        )
    if 'graph_cache' not in result:
        return result['target']
    return '%s (warm, graph cache %s)' % (
        result['target'],
        'on' if result['graph_cache'] else 'off',
    )


def no_gxx_s(result):
    """Seconds between the package's import and the first training step
    during which no module's g++ ran: Python alone (graph optimisation,
    linking), a core idle.  The precompiled header's one build
    (``compat.precompiled``, not a module) counts as such a second."""
    begin, end = result['import_s'], result['first_step_begins_s']
    covered, reach = 0.0, begin
    for a, b in sorted(result['gxx_runs']):
        a, b = max(a, reach), min(b, end)
        if b > a:
            covered += b - a
            reach = b
    return (end - begin) - covered


def summarise(results, targets):
    """Per target (and warm variant): median and rounds of the first-step
    time, CPU time, modules compiled, load; for warm starts, the median of
    the per-round ratios of the time without the graph cache to the time
    with it."""
    summary = {}
    variants = []
    for r in results:
        if r['target'] in targets and _variant(r) not in variants:
            variants.append(_variant(r))
    for variant in variants:
        ok = [
            r for r in results if _variant(r) == variant and 'error' not in r
        ]
        if not ok:
            continue
        target = ok[0]['target']
        summary[variant] = {
            'first_step_s': statistics.median(r['first_step_s'] for r in ok),
            'first_step_s_rounds': [r['first_step_s'] for r in ok],
            'cpu_s': statistics.median(r['cpu_s'] for r in ok),
            'modules_compiled': statistics.median(
                r['modules_compiled'] for r in ok
            ),
            'compile_s': statistics.median(
                sum(c['s'] for c in r.get('compile_calls', [])) for r in ok
            )
            if target not in NOTEBOOKS
            else None,
            'load': [[r['load_before'][0], r['load_after'][0]] for r in ok],
        }
        if all('gxx_runs' in r for r in ok):
            summary[variant]['no_gxx_s'] = statistics.median(
                no_gxx_s(r) for r in ok
            )
    peers = (
        ('graph_cache', 'warm: without / with the graph cache'),
        ('pch', 'cold: without / with the precompiled header'),
        ('parallel', 'cold: one module at a time / several at a time'),
    )
    for target in targets:
        for key, name in peers:
            on, off = (
                {
                    r['round']: r['first_step_s']
                    for r in results
                    if r['target'] == target
                    and r.get(key) is flag
                    and 'error' not in r
                }
                for flag in (True, False)
            )
            ratios = [off[k] / on[k] for k in sorted(on) if k in off]
            if ratios:
                summary['%s (%s)' % (target, name)] = {
                    'ratio': statistics.median(ratios),
                    'ratio_rounds': ratios,
                }
    return summary


def write(args, started, load_start, results, targets):
    """Write the results so far to ``args.out`` (when given)."""
    if not args.out:
        return

    record = {
        '_run': run_header(started, load_start, load_average()),
        'cache': 'warm' if args.warm else 'empty',
        'theano_flags': args.theano_flags,
        'summary': summarise(results, targets),
        'runs': results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(_relative(record), f, indent=1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--targets',
        default=','.join(TARGETS),
        help='comma-separated, of %s (default all)' % ', '.join(TARGETS),
    )
    parser.add_argument('--rounds', type=int, default=1)
    parser.add_argument(
        '--theano-flags',
        default='',
        help='extra Theano flags for every target (a lever)',
    )
    parser.add_argument(
        '--warm',
        action='store_true',
        help="start with Theano's default (warm) compile cache instead of "
        'an empty one, each target once untimed first, then each round '
        'with the graph cache on and off',
    )
    parser.add_argument(
        '--pch-peer',
        action='store_true',
        help='cold: each round with the precompiled header and without it '
        '(SEQ2SEQ_PCH=0)',
    )
    parser.add_argument(
        '--parallel-peer',
        action='store_true',
        help='cold: each round with the parallel compilation and without '
        'it (SEQ2SEQ_PARALLEL_COMPILE=0)',
    )
    parser.add_argument('--out', help='JSON file to write')
    args = parser.parse_args(argv)
    if sum([args.warm, args.pch_peer, args.parallel_peer]) > 1:
        parser.error('one of --warm, --pch-peer and --parallel-peer at a time')
    targets = name_list(parser.error, args.targets, TARGETS, 'target')
    at_least(parser.error, args, rounds=1)
    started = datetime.datetime.now()
    load_start = load_average()
    print('cold_start: load average %s' % load_start, flush=True)
    results = []
    if args.warm:
        for target in targets:
            r = run_target(target, args.theano_flags, warm=True)
            print(
                '  %-18s filled the caches in %.1f s'
                % (target, r.get('first_step_s', float('nan'))),
                flush=True,
            )
    variants = [(False, True, None, None)]
    if args.warm:
        variants = [(True, True, None, None), (True, False, None, None)]
    if args.pch_peer:
        variants = [(False, True, True, None), (False, True, False, None)]
    if args.parallel_peer:
        variants = [(False, True, None, True), (False, True, None, False)]
    for rnd in range(args.rounds):
        for target, (warm, graphs, pch, parallel) in (
            (t, v) for t in targets for v in variants
        ):
            r = run_target(
                target, args.theano_flags, warm, graphs, pch, parallel
            )
            r['round'] = rnd
            results.append(r)
            # Rewritten after every target: a stopped run keeps the rest.
            write(args, started, load_start, results, targets)
            print(
                '  %-18s %s'
                % (
                    _variant(r),
                    'ERROR ' + r['error'].splitlines()[-1]
                    if 'error' in r
                    else 'first step after %.1f s (CPU %.1f s, %d modules; '
                    'load %.2f -> %.2f)'
                    % (
                        r['first_step_s'],
                        r['cpu_s'],
                        r['modules_compiled'],
                        r['load_before'][0],
                        r['load_after'][0],
                    ),
                ),
                flush=True,
            )
    write(args, started, load_start, results, targets)
    return 1 if any('error' in r for r in results) else 0


if __name__ == '__main__':
    sys.exit(main())
