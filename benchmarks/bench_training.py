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

Every configuration runs in a subprocess of this script (``worker`` mode,
which prints one JSON line); this driver collects them, prints tables and
writes everything to ``benchmarks/results/bench-<date>.json`` (or
``--out``).

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
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, 'results')
MARK = 'BENCH_RESULT '

MODELS = ('baseline', 'attention')
#: Environment variables that change thread behaviour, recorded per worker.
ENV_RECORDED = (
    'OMP_NUM_THREADS',
    'OMP_WAIT_POLICY',
    'OPENBLAS_NUM_THREADS',
    'MKL_NUM_THREADS',
    'GOMP_SPINCOUNT',
    'KMP_BLOCKTIME',
)
#: The notebook's samples_to_process for each model.
FULL_SAMPLES = {'baseline': 300000, 'attention': 150000}
BATCH = 100
DIGITS = 20
VAL_SIZE = 5000
VAL_INTERVAL = 5000

#: Theano levers: name -> (extra THEANO_FLAGS, extra environment, worker
#: options, models, description).  The default is the package's own choice
#: of flags, in the environment the driver was started in.
LEVERS = {
    'unroll_scan': (
        '',
        {},
        ['--unroll'],
        ('attention',),
        'decoder unroll_scan=True (vs theano.scan)',
    ),
    'no_fast_math': (
        'gcc.cxxflags=',
        {},
        [],
        MODELS,
        'gcc.cxxflags empty (vs -D__FAST_MATH__)',
    ),
    'float64': (
        'floatX=float64',
        {},
        [],
        MODELS,
        'floatX=float64 (vs float32)',
    ),
    'blas_numpy': (
        'blas.ldflags=',
        {},
        [],
        MODELS,
        'blas.ldflags empty: NumPy C-API (vs SciPy OpenBLAS)',
    ),
    'openblas_2threads': (
        '',
        {'OPENBLAS_NUM_THREADS': '2'},
        [],
        MODELS,
        "OPENBLAS_NUM_THREADS=2 (vs compat's 1 thread)",
    ),
    'scan_frees_buffers': (
        'allow_gc=True',
        {},
        [],
        MODELS,
        'allow_gc=True set: scans free their inner '
        'arrays after each call (vs kept by Trainer)',
    ),
    'keep_buffers': (
        'allow_gc=False',
        {},
        [],
        MODELS,
        'allow_gc=False: the outer arrays kept as well '
        '(vs freed); leaks in Theano 1.0.5',
    ),
    'openmp': (
        'openmp=True,openmp_elemwise_minsize=20000',
        {},
        [],
        MODELS,
        "Theano's OpenMP elementwise loops, arrays >= 20000 (vs one thread)",
    ),
    'notebook_crossentropy': (
        '',
        {},
        ['--notebook-crossentropy'],
        MODELS,
        'T.nnet.categorical_crossentropy (vs '
        'objectives.sequence_cost, indexed)',
    ),
    'scan_memoryview_check': (
        '',
        {},
        ['--original-scan-check'],
        MODELS,
        "Theano 1.0.5's scan output check, memoryview "
        "contents (vs compat's pointer check)",
    ),
}

#: PyTorch variants after the main one (``--threads`` threads, the
#: environment as it is): name -> (threads or None for ``--threads``,
#: extra environment, worker options).  OpenMP's default spin-waiting is
#: what a loaded machine punishes; ``native_optim`` runs single-threaded
#: and is compared with ``threads=1``.
TORCH_VARIANTS = {
    'omp_passive': (None, {'OMP_WAIT_POLICY': 'PASSIVE'}, []),
    'threads=1': (1, {}, []),
    'native_optim': (1, {}, ['--native-optim']),
}


# --------------------------------------------------------------------------
# Worker side: one configuration, one JSON line.
# --------------------------------------------------------------------------


def _model_config(model, unroll=False):
    config = dict(num_units_enc=10, num_units_dec=10, max_digits=DIGITS)
    if model == 'attention':
        config.update(aln_num_units=20, unroll_scan=unroll)
    return config


def _draw(n, seed):
    """``n`` training batches and the drawing time per batch."""
    import numpy as np

    from seq2seq_lasagne.data_generator import get_batch

    rng = np.random.RandomState(seed)
    start = time.perf_counter()
    batches = [get_batch(BATCH, DIGITS, DIGITS, rng=rng)[:3] for _ in range(n)]
    return batches, (time.perf_counter() - start) / max(n, 1)


def _validation_set(seed):
    import numpy as np

    from seq2seq_lasagne.data_generator import get_batch

    return get_batch(
        VAL_SIZE, DIGITS, DIGITS, rng=np.random.RandomState(seed)
    )[:4]


def _time_training(trainer, args):
    """Warm-up, then ``repeats`` timed runs of ``steps`` steps."""
    batches, draw_s = _draw(
        args.warmup + args.steps * args.repeats, args.seed + 1
    )
    costs = []
    for x, xmask, y in batches[: args.warmup]:
        costs.append(trainer.train_step(x, y, xmask)[0])
    rates = []
    for r in range(args.repeats):
        chunk = batches[
            args.warmup + r * args.steps : args.warmup + (r + 1) * args.steps
        ]
        start = time.perf_counter()
        for x, xmask, y in chunk:
            costs.append(trainer.train_step(x, y, xmask)[0])
        rates.append(len(chunk) * BATCH / (time.perf_counter() - start))
    k = max(1, min(5, len(costs) // 4))
    return {
        'samples_per_s': statistics.median(rates),
        'samples_per_s_repeats': rates,
        'batch_draw_s': draw_s,
        'cost_first': float(sum(costs[:k]) / k),
        'cost_last': float(sum(costs[-k:]) / k),
        'n_steps_total': len(costs),
    }


def _time_validation(trainer, args):
    x, xmask, y, ymask = _validation_set(args.seed + 2)
    times = []
    for _ in range(args.val_repeats):
        start = time.perf_counter()
        result = trainer.evaluate(x, y, xmask, ymask)
        times.append(time.perf_counter() - start)
    return {
        'val_s': statistics.median(times),
        'val_s_repeats': times,
        'val_input_width': int(x.shape[1]),
        'val_accuracy_untrained': result['accuracy'],
    }


def _projection(model, samples_per_s, val_s):
    samples = FULL_SAMPLES[model]
    n_val = samples // VAL_INTERVAL
    train_s = samples / samples_per_s
    total = train_s + n_val * val_s
    return {
        'full_samples': samples,
        'n_validations': n_val,
        'projected_train_s': train_s,
        'projected_validation_s': n_val * val_s,
        'projected_total_s': total,
        'validation_share': n_val * val_s / total,
    }


def _blas_name(ldflags):
    if not ldflags:
        return 'NumPy C-API (blas.ldflags empty)'
    if 'openblas' in ldflags:
        return "SciPy's OpenBLAS"
    return ldflags


def _notebook_cost(output, targets, target_mask=None):
    """The notebook's cost expression (Theano's Python-loop op)."""
    import theano.tensor as T

    assert target_mask is None
    return T.mean(
        T.nnet.categorical_crossentropy(
            T.reshape(output, (-1, output.shape[-1])), targets.flatten()
        )
    )


def worker_theano(args):
    start = time.perf_counter()
    import theano

    import seq2seq_lasagne  # noqa: F401  (before theano)
    from seq2seq_lasagne import compat
    from seq2seq_lasagne.objectives import sequence_cost
    from seq2seq_lasagne.settings import RunSettings
    from seq2seq_lasagne.training import build_trainer

    if args.original_scan_check:
        from theano.scan_module.scan_op import Scan

        Scan.execute = Scan.execute.__wrapped__
    out = {'engine': 'theano', 'import_s': time.perf_counter() - start}
    config = theano.config
    out['theano'] = {
        'version': theano.__version__,
        'floatX': config.floatX,
        'gcc.cxxflags': config.gcc.cxxflags,
        'blas': _blas_name(config.blas.ldflags),
        'compiledir': config.compiledir,
        'compat_changes': compat.changes(),
    }
    settings = RunSettings(
        model=args.model, seed=args.seed, unroll_scan=args.unroll
    )
    cost = _notebook_cost if args.notebook_crossentropy else sequence_cost
    trainer = build_trainer(settings, cost=cost)
    out['compile_train_s'] = trainer.compile(test=False)
    out['compile_test_s'] = trainer.compile(train=False)
    out['compile_s'] = out['compile_train_s'] + out['compile_test_s']
    if args.compile_only:
        return out
    out.update(_time_training(trainer, args))
    out.update(_time_validation(trainer, args))
    out.update(_projection(args.model, out['samples_per_s'], out['val_s']))
    return out


def worker_torch(args):
    start = time.perf_counter()
    import torch

    sys.path.insert(0, HERE)
    from torch_models import TorchTrainer, build_torch_model

    out = {'engine': 'torch', 'import_s': time.perf_counter() - start}
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = _model_config(args.model)
    config.pop('unroll_scan', None)
    trainer = TorchTrainer(
        build_torch_model(args.model, **config), native_optim=args.native_optim
    )
    out['torch'] = {
        'version': torch.__version__,
        'num_threads': torch.get_num_threads(),
        'num_interop_threads': torch.get_num_interop_threads(),
        'optimizer': (
            'torch.optim.Adam + clip_grad_norm_'
            if args.native_optim
            else 'Lasagne-form Adam + clipping'
        ),
    }
    out.update(_time_training(trainer, args))
    out.update(_time_validation(trainer, args))
    out.update(_projection(args.model, out['samples_per_s'], out['val_s']))
    return out


def worker_full(args):
    """The real full reproduction of one model into a temporary directory."""
    import seq2seq_lasagne  # noqa: F401
    from seq2seq_lasagne.experiment import train_run
    from seq2seq_lasagne.settings import RunSettings

    settings = RunSettings(
        model=args.model, seed=args.seed, unroll_scan=args.unroll
    )
    run_dir = tempfile.mkdtemp(prefix='bench-full-')
    try:
        start = time.perf_counter()
        metrics = train_run(
            run_dir,
            settings,
            resume=False,
            progress=False,
            log=lambda *a: None,
        )
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    keys = (
        'samples_processed',
        'val_accuracy',
        'best_val_accuracy',
        'compile_seconds',
        'train_seconds',
        'validation_seconds',
        'wall_seconds',
        'train_samples_per_second',
    )
    out = {k: metrics[k] for k in keys}
    out['engine'] = 'theano-full'
    out['measured_wall_s'] = wall
    return out


def worker_main(argv):
    parser = argparse.ArgumentParser(prog='bench_training.py worker')
    parser.add_argument(
        '--engine', choices=('theano', 'torch', 'full'), default='theano'
    )
    parser.add_argument('--model', choices=MODELS, required=True)
    parser.add_argument('--steps', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--val-repeats', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--unroll', action='store_true')
    parser.add_argument('--compile-only', action='store_true')
    parser.add_argument('--native-optim', action='store_true')
    parser.add_argument('--original-scan-check', action='store_true')
    parser.add_argument('--notebook-crossentropy', action='store_true')
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args(argv)
    run = {
        'theano': worker_theano,
        'torch': worker_torch,
        'full': worker_full,
    }[args.engine]
    out = run(args)
    out.update(
        model=args.model,
        unroll=args.unroll,
        env={k: os.environ.get(k) for k in ENV_RECORDED if k in os.environ},
    )
    print(MARK + json.dumps(out), flush=True)
    return 0


# --------------------------------------------------------------------------
# Driver side.
# --------------------------------------------------------------------------


def _loadavg():
    try:
        with open('/proc/loadavg') as f:
            return ' '.join(f.read().split()[:3])
    except OSError:
        return None


def _uptime():
    try:
        return subprocess.run(
            ['uptime'], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return _loadavg()


class Driver(object):
    def __init__(self, args):
        self.args = args
        self.results = []
        self.python = sys.executable
        self.round = None
        self.torch_status = None

    def log(self, msg):
        print(msg, flush=True)

    def run_worker(
        self, label, options, flags='', compiledir=None, extra_env=None
    ):
        """Run one worker; returns its JSON dict (or an error dict)."""
        compiledir = compiledir or self.args.compiledir
        theano_flags = 'base_compiledir=' + compiledir
        if flags:
            theano_flags += ',' + flags
        env = dict(os.environ, THEANO_FLAGS=theano_flags)
        env.update(extra_env or {})
        env.setdefault('PYTHONWARNINGS', 'ignore')
        cmd = [self.python, os.path.abspath(__file__), 'worker'] + options
        self.log('  %s ...' % label)
        start = time.perf_counter()
        load_before = _loadavg()
        try:
            proc = subprocess.run(
                cmd,
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=self.args.timeout,
            )
        except subprocess.TimeoutExpired:
            result = {'error': 'timed out after %d s' % self.args.timeout}
        else:
            lines = [
                line
                for line in proc.stdout.splitlines()
                if line.startswith(MARK)
            ]
            if proc.returncode == 0 and lines:
                result = json.loads(lines[-1][len(MARK) :])
            else:
                result = {
                    'error': 'exit %d: %s'
                    % (proc.returncode, proc.stderr.strip()[-2000:])
                }
        result.update(
            label=label,
            theano_flags=flags,
            round=self.round,
            extra_env=extra_env or {},
            worker_s=time.perf_counter() - start,
            load_before=load_before,
            load_after=_loadavg(),
        )
        self.results.append(result)
        self.log('    -> %s' % self._short(result))
        return result

    @staticmethod
    def _short(r):
        if 'error' in r:
            return (
                'ERROR ' + r['error'].splitlines()[-1][:200]
                if r['error']
                else 'ERROR'
            )
        if r.get('engine') == 'theano-full':
            return 'wall %.0f s, val acc %.3f' % (
                r['measured_wall_s'],
                r['val_accuracy'],
            )
        if 'samples_per_s' not in r:
            return 'compile %.1f s (%.1f s in total)' % (
                r['compile_s'],
                r['worker_s'],
            )
        return '%.0f samples/s, validation %.2f s (load %s)' % (
            r['samples_per_s'],
            r['val_s'],
            r['load_after'],
        )

    def timing_options(self, model):
        a = self.args
        return [
            '--model',
            model,
            '--steps',
            str(a.steps),
            '--warmup',
            str(a.warmup),
            '--repeats',
            str(a.repeats),
            '--val-repeats',
            str(a.val_repeats),
            '--seed',
            str(a.seed),
        ]

    def run(self):
        a = self.args
        self.log('uptime: %s' % _uptime())
        self.log('Theano cache for the timings: %s' % a.compiledir)
        if os.environ.get('THEANO_FLAGS'):
            self.log(
                'note: THEANO_FLAGS=%r from the environment is not '
                'passed to the workers' % os.environ['THEANO_FLAGS']
            )
        self.torch_status = None
        torch_ok = not a.skip_torch and self._torch_importable()
        if not a.skip_torch and not torch_ok:
            self.torch_status = (
                'torch is not installed; install it with: '
                '.venv/bin/pip install torch==2.13.0'
            )
        for rnd in range(a.rounds):
            self.round = rnd
            if a.rounds > 1:
                self.log('\n===== round %d of %d' % (rnd + 1, a.rounds))
            self.run_timings(torch_ok)
        self.round = None
        self.run_compile_and_full()
        self.log('\nuptime: %s' % _uptime())

    def run_timings(self, torch_ok):
        """Phases 1-3: default, levers, PyTorch (one round)."""
        a = self.args
        models = a.models
        self.log("\n[1] default flags (the package's)")
        for model in models:
            self.run_worker(
                'theano %s default' % model, self.timing_options(model)
            )
        if a.levers:
            self.log('\n[2] levers, each in its own process')
            for name, (flags, env, opts, lever_models, _) in LEVERS.items():
                if name not in a.levers:
                    continue
                for model in models:
                    if model in lever_models:
                        self.run_worker(
                            'theano %s %s' % (model, name),
                            self.timing_options(model) + opts,
                            flags,
                            extra_env=env,
                        )
        if not a.skip_torch:
            self.log(
                '\n[3] PyTorch (eager, torch.set_num_threads(%d))' % a.threads
            )
            if torch_ok:
                for model in models:
                    self.run_worker(
                        'torch %s' % model,
                        self.timing_options(model)
                        + ['--engine', 'torch', '--threads', str(a.threads)],
                    )
                    for name, (n, env, opts) in TORCH_VARIANTS.items():
                        if name not in a.torch_variants:
                            continue
                        self.run_worker(
                            'torch %s %s' % (model, name),
                            self.timing_options(model)
                            + [
                                '--engine',
                                'torch',
                                '--threads',
                                str(n or a.threads),
                            ]
                            + opts,
                            extra_env=env,
                        )
            else:
                self.log('  ' + self.torch_status)

    def run_compile_and_full(self):
        """Phases 4 and 5: cold/warm compile time, the full run."""
        a = self.args
        models = a.models
        if not a.skip_cold:
            self.log(
                '\n[4] compile time: cold (fresh base_compiledir), then '
                'warm (same directory)'
            )
            for model in models:
                fresh = tempfile.mkdtemp(prefix='bench-compiledir-')
                try:
                    for kind in ('cold', 'warm'):
                        self.run_worker(
                            'theano %s compile %s' % (model, kind),
                            ['--model', model, '--compile-only'],
                            compiledir=fresh,
                        )
                finally:
                    shutil.rmtree(fresh, ignore_errors=True)
        if a.full:
            self.log(
                '\n[5] full attention reproduction (1.5e5 samples, train_run)'
            )
            self.run_worker(
                'theano attention full run',
                [
                    '--engine',
                    'full',
                    '--model',
                    'attention',
                    '--seed',
                    str(a.seed),
                ],
            )

    def _torch_importable(self):
        proc = subprocess.run(
            [self.python, '-c', 'import torch'], capture_output=True
        )
        return proc.returncode == 0

    # ---------------------------------------------------------------- report

    def find(self, label):
        """The result of ``label``; over several rounds, their medians."""
        found = [
            r for r in self.results if r['label'] == label and 'error' not in r
        ]
        if len(found) <= 1:
            return found[0] if found else None
        merged = dict(found[-1])
        for key in ('samples_per_s', 'val_s', 'compile_s'):
            if key in merged:
                values = [r[key] for r in found]
                merged[key] = statistics.median(values)
                merged[key + '_rounds'] = values
        if 'samples_per_s' in merged:
            merged.update(
                _projection(
                    merged['model'], merged['samples_per_s'], merged['val_s']
                )
            )
        return merged

    def summary(self):
        """Ratios and tables, as a dict (also written to the JSON)."""
        out = {'models': {}}
        for model in self.args.models:
            base = self.find('theano %s default' % model)
            m = {'default': base, 'levers': {}, 'torch': None}
            if base:
                for name, (_, _, _, lever_models, desc) in LEVERS.items():
                    r = self.find('theano %s %s' % (model, name))
                    if r:
                        m['levers'][name] = {
                            'description': desc,
                            'samples_per_s': r['samples_per_s'],
                            'speed_ratio_vs_default': r['samples_per_s']
                            / base['samples_per_s'],
                            'val_s': r['val_s'],
                            'val_ratio_vs_default': r['val_s'] / base['val_s'],
                            'projected_total_s': r['projected_total_s'],
                        }
            t = self.find('torch %s' % model)
            if t and base:
                m['torch'] = {
                    'samples_per_s': t['samples_per_s'],
                    'val_s': t['val_s'],
                    'theano_over_torch_samples_per_s': base['samples_per_s']
                    / t['samples_per_s'],
                    'theano_over_torch_val_s': base['val_s'] / t['val_s'],
                    'projected_total_s': t['projected_total_s'],
                }
                m['torch']['num_threads'] = t['torch']['num_threads']
                # Sanity: the PyTorch model learns over the measured steps.
                m['torch']['cost_first'] = t['cost_first']
                m['torch']['cost_last'] = t['cost_last']
                m['torch']['learns'] = t['cost_last'] < t['cost_first']
                m['torch']['variants'] = {}
                for name in TORCH_VARIANTS:
                    tv = self.find('torch %s %s' % (model, name))
                    if tv:
                        m['torch']['variants'][name] = {
                            'samples_per_s': tv['samples_per_s'],
                            'val_s': tv['val_s'],
                            'num_threads': tv['torch']['num_threads'],
                            'extra_env': tv.get('extra_env', {}),
                            'optimizer': tv['torch']['optimizer'],
                            'theano_over_torch_samples_per_s': base[
                                'samples_per_s'
                            ]
                            / tv['samples_per_s'],
                        }
            cold = self.find('theano %s compile cold' % model)
            warm = self.find('theano %s compile warm' % model)
            m['compile'] = {
                'cold_s': cold and cold['compile_s'],
                'warm_s': warm and warm['compile_s'],
                'cold_worker_s': cold and cold['worker_s'],
                'warm_worker_s': warm and warm['worker_s'],
            }
            out['models'][model] = m
        full = self.find('theano attention full run')
        if full:
            base = self.find('theano attention default')
            full = dict(full)
            if base:
                full['projected_total_s'] = base['projected_total_s']
            out['full_run'] = full
        return out

    def print_tables(self, summary):
        p = self.log
        p('\n' + '=' * 78)
        p(
            'Training speed, batch %d, %d digits (median of %d x %d steps%s)'
            % (
                BATCH,
                DIGITS,
                self.args.repeats,
                self.args.steps,
                ', median over %d rounds' % self.args.rounds
                if self.args.rounds > 1
                else '',
            )
        )
        p(
            '%-30s %9s %7s %8s %7s %9s %6s'
            % (
                'configuration',
                'samples/s',
                'ratio',
                'val (s)',
                'ratio',
                'full (min)',
                'val %',
            )
        )
        for model, m in summary['models'].items():
            base = m['default']
            if not base:
                p('%-30s (failed)' % ('theano ' + model))
                continue
            p(
                '%-30s %9.0f %7s %8.2f %7s %9.1f %5.0f%%'
                % (
                    'theano %s default' % model,
                    base['samples_per_s'],
                    '1.00',
                    base['val_s'],
                    '1.00',
                    base['projected_total_s'] / 60,
                    100 * base['validation_share'],
                )
            )
            for name, lv in m['levers'].items():
                r = self.find('theano %s %s' % (model, name))
                p(
                    '%-30s %9.0f %7.2f %8.2f %7.2f %9.1f %5.0f%%'
                    % (
                        '  ' + name,
                        lv['samples_per_s'],
                        lv['speed_ratio_vs_default'],
                        lv['val_s'],
                        lv['val_ratio_vs_default'],
                        lv['projected_total_s'] / 60,
                        100 * r['validation_share'],
                    )
                )
            t = self.find('torch %s' % model)
            if t:
                p(
                    '%-30s %9.0f %7.2f %8.2f %7.2f %9.1f %5.0f%%'
                    % (
                        'torch %s (%d thr)'
                        % (model, t['torch']['num_threads']),
                        t['samples_per_s'],
                        t['samples_per_s'] / base['samples_per_s'],
                        t['val_s'],
                        t['val_s'] / base['val_s'],
                        t['projected_total_s'] / 60,
                        100 * t['validation_share'],
                    )
                )
            for name in TORCH_VARIANTS:
                tv = self.find('torch %s %s' % (model, name))
                if tv:
                    p(
                        '%-30s %9.0f %7.2f %8.2f %7.2f %9.1f %5.0f%%'
                        % (
                            '  ' + name,
                            tv['samples_per_s'],
                            tv['samples_per_s'] / base['samples_per_s'],
                            tv['val_s'],
                            tv['val_s'] / base['val_s'],
                            tv['projected_total_s'] / 60,
                            100 * tv['validation_share'],
                        )
                    )
        p(
            '(ratio: samples/s, or validation time, relative to the Theano '
            'default of the model)'
        )
        if any(m['torch'] for m in summary['models'].values()):
            p('\nTheano / PyTorch samples/s (Theano default flags):')
            for model, m in summary['models'].items():
                if not m['torch']:
                    continue
                parts = [
                    '%d threads %.2f'
                    % (
                        m['torch']['num_threads'],
                        m['torch']['theano_over_torch_samples_per_s'],
                    )
                ]
                parts += [
                    '%s %.2f' % (name, v['theano_over_torch_samples_per_s'])
                    for name, v in m['torch']['variants'].items()
                ]
                p('  %-10s %s' % (model, ', '.join(parts)))
                faster = [
                    (lv['samples_per_s'], name)
                    for name, lv in m['levers'].items()
                    if lv['speed_ratio_vs_default'] > 1.05
                ]
                if faster:
                    rate, name = max(faster)
                    p(
                        '  %-10s with lever %s: %d threads %.2f'
                        % (
                            '',
                            name,
                            m['torch']['num_threads'],
                            rate / m['torch']['samples_per_s'],
                        )
                    )
            p(
                'PyTorch sanity (cost over the measured steps): '
                + ', '.join(
                    '%s %.3f -> %.3f %s'
                    % (
                        model,
                        m['torch']['cost_first'],
                        m['torch']['cost_last'],
                        'learns' if m['torch']['learns'] else 'DOES NOT LEARN',
                    )
                    for model, m in summary['models'].items()
                    if m['torch']
                )
            )
        elif self.torch_status:
            p('\n' + self.torch_status)
        if any(m['compile']['cold_s'] for m in summary['models'].values()):
            p('\nCompile time of train_fn + test_fn (s): cold / warm')
            for model, m in summary['models'].items():
                c = m['compile']
                if c['cold_s'] is not None:
                    p(
                        '  %-10s %7.1f / %6.1f   (whole worker process: '
                        '%.1f / %.1f)'
                        % (
                            model,
                            c['cold_s'],
                            c['warm_s'] or 0,
                            c['cold_worker_s'],
                            c['warm_worker_s'] or 0,
                        )
                    )
        full = summary.get('full_run')
        if full:
            p(
                '\nFull attention run: %.0f s wall (%.0f s training, %.0f s '
                'validation, %.0f s compile), projected %.0f s; final '
                'validation accuracy %.3f'
                % (
                    full['measured_wall_s'],
                    full['train_seconds'],
                    full['validation_seconds'],
                    full['compile_seconds'],
                    full.get('projected_total_s', float('nan')),
                    full['val_accuracy'],
                )
            )
        errors = [r for r in self.results if 'error' in r]
        for r in errors:
            p('\nERROR in %s:\n%s' % (r['label'], r['error']))


def _machine():
    info = {
        'platform': platform.platform(),
        'python': platform.python_version(),
        'cpus': os.cpu_count(),
    }
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    info['cpu'] = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ['worker']:
        return worker_main(argv[1:])
    parser = argparse.ArgumentParser(
        description='Training speed of the lab models (Theano levers and '
        'PyTorch); see benchmarks/README.md.'
    )
    parser.add_argument(
        '--quick',
        action='store_true',
        help='few steps (10 x 2 after 2 warm-up), one '
        'validation pass: a check that it all runs',
    )
    parser.add_argument(
        '--steps',
        type=int,
        default=None,
        help='timed steps per repeat (default 50)',
    )
    parser.add_argument(
        '--warmup',
        type=int,
        default=None,
        help='untimed steps first (default 5)',
    )
    parser.add_argument(
        '--repeats',
        type=int,
        default=None,
        help='timed repeats, median taken (default 3)',
    )
    parser.add_argument(
        '--val-repeats',
        type=int,
        default=None,
        help='validation passes, median taken (default 2)',
    )
    parser.add_argument(
        '--models',
        default='baseline,attention',
        help='comma-separated (default baseline,attention)',
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--rounds',
        type=int,
        default=1,
        help='run the timing phases (default, levers, '
        'PyTorch) this many times, interleaved, and '
        'take medians over rounds (default 1)',
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=2,
        help='torch.set_num_threads of the main PyTorch run (default 2)',
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
        '(default all: %s)' % ', '.join(TORCH_VARIANTS),
    )
    parser.add_argument('--skip-torch', action='store_true')
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
    args = parser.parse_args(argv)
    if args.report:
        with open(args.report) as f:
            record = json.load(f)
        saved = argparse.Namespace(**record['settings'])
        saved.rounds = getattr(saved, 'rounds', 1)
        driver = Driver(saved)
        driver.results = record['workers']
        print(
            '%s, %s (%d CPUs)\n%s'
            % (
                record['date'],
                record['machine'].get('cpu', '?'),
                record['machine'].get('cpus', 0),
                record['command'],
            )
        )
        driver.print_tables(driver.summary())
        return 0
    quick = dict(steps=10, warmup=2, repeats=2, val_repeats=1)
    normal = dict(steps=50, warmup=5, repeats=3, val_repeats=2)
    for key, value in (quick if args.quick else normal).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.models = [m for m in args.models.split(',') if m]
    for name, known in (
        ('levers', LEVERS),
        ('torch_variants', TORCH_VARIANTS),
    ):
        value = getattr(args, name)
        chosen = (
            list(known)
            if value is None
            else [v for v in value.split(',') if v]
        )
        if args.skip_levers:
            chosen = []
        for v in chosen:
            if v not in known:
                parser.error(
                    'unknown %s %r (known: %s)'
                    % (name.replace('_', ' ')[:-1], v, ', '.join(known))
                )
        setattr(args, name, chosen)
    for m in args.models:
        if m not in MODELS:
            parser.error('unknown model %r' % m)
    if ',' in args.compiledir:
        parser.error('--compiledir must not contain a comma')
    args.compiledir = os.path.abspath(args.compiledir)
    os.makedirs(args.compiledir, exist_ok=True)

    started = datetime.datetime.now()
    driver = Driver(args)
    driver.log('bench_training: %s' % ' '.join(sys.argv))
    driver.run()
    summary = driver.summary()
    driver.print_tables(summary)
    out = args.out or os.path.join(
        RESULTS, 'bench-%s.json' % started.strftime('%Y%m%d-%H%M%S')
    )
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    record = {
        'date': started.isoformat(timespec='seconds'),
        'command': ' '.join(
            [
                os.path.relpath(sys.executable, ROOT)
                if sys.executable.startswith(ROOT)
                else sys.executable
            ]
            + sys.argv
        ),
        'machine': _machine(),
        'settings': {k: v for k, v in vars(args).items()},
        'summary': summary,
        'workers': driver.results,
    }
    with open(out, 'w') as f:
        json.dump(record, f, indent=1, default=str)
    driver.log('\nwrote %s' % out)
    return 1 if any('error' in r for r in driver.results) else 0


if __name__ == '__main__':
    sys.exit(main())
