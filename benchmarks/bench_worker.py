"""One benchmark configuration in its own process; prints one JSON line.

Theano reads its flags when it is imported, so every configuration of
``bench_training.py`` runs in a fresh process of this script, started by
the driver (:mod:`bench_driver`) with the flags and environment of that
configuration.  The worker builds the trainer, compiles it, times training
steps on pre-drawn batches and a validation pass, and prints its result as
one line ``BENCH_RESULT {json}`` on stdout.

Engines:

* ``theano``: the package's ``Trainer`` (``--unroll``, ``--fused-attention``,
  ``--fused-gru``,
  ``--notebook-crossentropy``, ``--original-scan-check`` select levers;
  ``--compile-only`` stops after compiling);
* ``torch``: the eager PyTorch models of ``torch_models.py``
  (``--threads``, ``--native-optim``);
* ``torch-compile``: their training step under ``torch.compile``;
* ``jax``: the JAX models of ``jax_models.py`` (threads: ``XLA_FLAGS``,
  set by the driver);
* ``full``: the real full reproduction of one model
  (``seq2seq_lasagne.experiment.train_run`` into a temporary directory).

Usage (normally run by the driver)::

    .venv/bin/python benchmarks/bench_worker.py --engine theano \\
        --model attention --steps 50
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

from bench_args import add_timing_options
from bench_config import (
    BATCH,
    DIGITS,
    ENV_RECORDED,
    HERE,
    MARK,
    MODELS,
    NORMAL,
    VAL_SIZE,
    projection,
)


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


def _widths(batches):
    """One batch of each distinct input length, in order of appearance."""
    first = {}
    for batch in batches:
        first.setdefault(batch[0].shape[1], batch)
    return list(first.values())


def _time_training(trainer, args, compiles=False):
    """Warm-up, then ``repeats`` timed runs of ``steps`` steps.

    With ``compiles`` (the jit-compiled peers, which compile once per input
    length) one step on each distinct input length of the batches comes
    first; its time is ``first_calls_s``, kept apart from the rates.
    Besides the wall-clock rate, ``samples_per_cpu_s`` counts the
    process's CPU time (all its threads): on a loaded machine it moves
    less than the wall-clock rate, and ``cpu_per_wall`` tells how many
    cores the timed steps used.
    """
    batches, draw_s = _draw(
        args.warmup + args.steps * args.repeats, args.seed + 1
    )
    out = {}
    costs = []
    if compiles:
        shapes = _widths(batches)
        start = time.perf_counter()
        for x, xmask, y in shapes:
            costs.append(trainer.train_step(x, y, xmask)[0])
        out['first_calls_s'] = time.perf_counter() - start
        out['n_input_lengths'] = len(shapes)
    for x, xmask, y in batches[: args.warmup]:
        costs.append(trainer.train_step(x, y, xmask)[0])
    rates, cpu_rates, cpu_per_wall = [], [], []
    for r in range(args.repeats):
        chunk = batches[
            args.warmup + r * args.steps : args.warmup + (r + 1) * args.steps
        ]
        cpu = time.process_time()
        start = time.perf_counter()
        for x, xmask, y in chunk:
            costs.append(trainer.train_step(x, y, xmask)[0])
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        rates.append(len(chunk) * BATCH / wall)
        cpu_rates.append(len(chunk) * BATCH / cpu)
        cpu_per_wall.append(cpu / wall)
    k = max(1, min(5, len(costs) // 4))
    out.update(
        {
            'samples_per_s': statistics.median(rates),
            'samples_per_s_repeats': rates,
            'samples_per_cpu_s': statistics.median(cpu_rates),
            'cpu_per_wall': statistics.median(cpu_per_wall),
            'batch_draw_s': draw_s,
            'cost_first': float(sum(costs[:k]) / k),
            'cost_last': float(sum(costs[-k:]) / k),
            'n_steps_total': len(costs),
        }
    )
    return out


def _time_validation(trainer, args, compiles=False):
    """Median of ``val_repeats`` validation passes (after a first,
    compiling one for the jit-compiled peers: ``val_first_call_s``)."""
    x, xmask, y, ymask = _validation_set(args.seed + 2)
    out = {}
    if compiles:
        start = time.perf_counter()
        trainer.evaluate(x, y, xmask, ymask)
        out['val_first_call_s'] = time.perf_counter() - start
    times = []
    for _ in range(args.val_repeats):
        start = time.perf_counter()
        result = trainer.evaluate(x, y, xmask, ymask)
        times.append(time.perf_counter() - start)
    out.update(
        {
            'val_s': statistics.median(times),
            'val_s_repeats': times,
            'val_input_width': int(x.shape[1]),
            'val_accuracy_untrained': result['accuracy'],
        }
    )
    return out


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
    # compat sets Theano's flags, so the package comes first.
    import seq2seq_lasagne  # noqa: F401

    # isort: split
    import theano

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
        'openmp': config.openmp,
        'allow_gc': config.allow_gc,
        'linker': config.linker,
        'compat_changes': compat.changes(),
    }
    settings = RunSettings(
        model=args.model,
        seed=args.seed,
        unroll_scan=args.unroll,
        fused_attention=args.fused_attention,
        fused_gru=args.fused_gru,
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
    out.update(projection(args.model, out['samples_per_s'], out['val_s']))
    return out


def worker_torch(args):
    """Eager PyTorch, or (``--engine torch-compile``) its training step
    under ``torch.compile``."""
    start = time.perf_counter()
    import torch

    sys.path.insert(0, HERE)
    from torch_models import (
        CompiledTorchTrainer,
        TorchTrainer,
        build_torch_model,
    )

    compiled = args.engine == 'torch-compile'
    out = {'engine': args.engine, 'import_s': time.perf_counter() - start}
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = _model_config(args.model)
    config.pop('unroll_scan', None)
    model = build_torch_model(args.model, **config)
    if compiled:
        trainer = CompiledTorchTrainer(model)
    else:
        trainer = TorchTrainer(model, native_optim=args.native_optim)
    out['torch'] = {
        'version': torch.__version__,
        'num_threads': torch.get_num_threads(),
        'num_interop_threads': torch.get_num_interop_threads(),
        'optimizer': (
            'torch.optim.Adam + clip_grad_norm_'
            if args.native_optim
            else 'Lasagne-form Adam + clipping'
        ),
        'compiled': compiled,
    }
    out.update(_time_training(trainer, args, compiles=compiled))
    out.update(_time_validation(trainer, args, compiles=compiled))
    if compiled:
        out['compile_s'] = out['first_calls_s'] + out['val_first_call_s']
    out.update(projection(args.model, out['samples_per_s'], out['val_s']))
    return out


def worker_jax(args):
    """JAX: the recurrences as ``lax.scan``, the training step jitted."""
    start = time.perf_counter()
    import jax

    sys.path.insert(0, HERE)
    from jax_models import JaxTrainer, init_params

    out = {'engine': 'jax', 'import_s': time.perf_counter() - start}
    config = _model_config(args.model)
    config.pop('unroll_scan', None)
    trainer = JaxTrainer(
        args.model,
        init_params(args.model, args.seed, **config),
        max_digits=config['max_digits'],
    )
    out['jax'] = {
        'version': jax.__version__,
        'jaxlib': __import__('jaxlib').__version__,
        'devices': [str(d) for d in jax.devices()],
        'XLA_FLAGS': os.environ.get('XLA_FLAGS', ''),
    }
    out.update(_time_training(trainer, args, compiles=True))
    out.update(_time_validation(trainer, args, compiles=True))
    out['compile_s'] = out['first_calls_s'] + out['val_first_call_s']
    out.update(projection(args.model, out['samples_per_s'], out['val_s']))
    return out


def worker_full(args):
    """The real full reproduction of one model into a temporary directory."""
    import seq2seq_lasagne  # noqa: F401
    from seq2seq_lasagne.experiment import train_run
    from seq2seq_lasagne.settings import RunSettings

    settings = RunSettings(
        model=args.model,
        seed=args.seed,
        unroll_scan=args.unroll,
        fused_attention=args.fused_attention,
        fused_gru=args.fused_gru,
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


ENGINES = {
    'theano': worker_theano,
    'torch': worker_torch,
    'torch-compile': worker_torch,
    'jax': worker_jax,
    'full': worker_full,
}


def make_parser():
    parser = argparse.ArgumentParser(
        prog='bench_worker.py', description=__doc__.splitlines()[0]
    )
    parser.add_argument('--engine', choices=tuple(ENGINES), default='theano')
    parser.add_argument('--model', choices=MODELS, required=True)
    add_timing_options(parser, **NORMAL, seed=0)
    parser.add_argument('--unroll', action='store_true')
    parser.add_argument('--fused-attention', action='store_true')
    parser.add_argument('--fused-gru', action='store_true')
    parser.add_argument('--compile-only', action='store_true')
    parser.add_argument('--native-optim', action='store_true')
    parser.add_argument('--original-scan-check', action='store_true')
    parser.add_argument('--notebook-crossentropy', action='store_true')
    parser.add_argument('--threads', type=int, default=1)
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    out = ENGINES[args.engine](args)
    out.update(
        model=args.model,
        unroll=args.unroll,
        env={k: os.environ.get(k) for k in ENV_RECORDED if k in os.environ},
    )
    print(MARK + json.dumps(out), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
