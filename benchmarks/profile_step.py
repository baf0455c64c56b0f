"""Where a Theano training step spends its time, scan by scan.

Builds the package's trainer for one model at the notebook's settings (as
the benchmark's ``theano ... default`` worker), compiles its training
function and times ``--steps`` steps on pre-drawn batches.  Scan's Python
loop (``Scan.execute``, as ``compat`` leaves it) measures for every call
the time of the whole call and of its inner function (it stores them as
``t_call`` and ``t_fn``); a thin wrapper, installed before compiling
because a compiled scan keeps the ``execute`` it found then, adds them up
per scan node.  A step splits into:

* the scans' inner functions: the recurrence's own ops, per scan step;
* the scans' Python loop (``t_call - t_fn``): per scan step, slicing the
  sequences, handing the buffers to the inner function, the checks and
  copies of its outputs; per call, allocating the outputs;
* everything else: the outer graph's ops (the products outside the
  recurrences, the cost, the gradient's sums, clipping, Adam) and the
  function call itself.

``--theano-profile FILE`` also runs Theano's profiler
(``THEANO_FLAGS=profile=True``, which slows every op down a little) and
writes its per-op tables of the training function and of every scan's
inner function to FILE.  ``--theano-flags`` adds flags (to profile a
lever).  The Theano cache is the training benchmark's
(``benchmarks/results/theano-cache``) unless ``THEANO_FLAGS`` names a
``base_compiledir``.

Usage::

    .venv/bin/python benchmarks/profile_step.py attention [--steps 100]
        [--json FILE] [--theano-profile FILE] [--theano-flags FLAGS]
"""

import argparse
import collections
import datetime
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _install_counter(stats, active):
    """Wrap ``Scan.execute`` to add up each call's times in ``stats``
    while ``active[0]`` is true."""
    from theano.scan_module.scan_op import Scan

    execute = Scan.execute
    # Several scans share a name (the encoder's and the decoder's are both
    # "scan_fn"): each node is told apart by its number of outputs and the
    # order of its first call.
    labels = {}

    def counted_execute(self, node, inputs, outputs):
        result = execute(self, node, inputs, outputs)
        if active[0]:
            if id(node) not in labels:
                labels[id(node)] = '%s #%d (%d outputs)' % (
                    self.name or 'scan',
                    len(labels) + 1,
                    len(node.outputs),
                )
            s = stats[labels[id(node)]]
            s['calls'] += 1
            s['steps'] += int(inputs[0])
            s['call_s'] += self.t_call
            s['fn_s'] += self.t_fn
        return result

    counted_execute.__wrapped__ = execute
    Scan.execute = counted_execute


def profile(
    model, steps, warmup, seed, fused_attention=False, fused_gru=False
):
    """Time ``steps`` training steps of ``model``, split by scan."""
    # compat sets Theano's flags, so the package comes first.
    import seq2seq_lasagne  # noqa: F401

    # isort: split
    import numpy as np
    import theano

    from seq2seq_lasagne.data_generator import get_batch
    from seq2seq_lasagne.settings import RunSettings
    from seq2seq_lasagne.training import build_trainer

    stats = collections.defaultdict(
        lambda: {'calls': 0, 'steps': 0, 'call_s': 0.0, 'fn_s': 0.0}
    )
    active = [False]
    _install_counter(stats, active)
    trainer = build_trainer(
        RunSettings(
            model=model,
            seed=seed,
            fused_attention=fused_attention,
            fused_gru=fused_gru,
        )
    )
    compile_s = trainer.compile(test=False)
    rng = np.random.RandomState(seed + 1)
    batches = [
        get_batch(100, 20, 20, rng=rng)[:3] for _ in range(warmup + steps)
    ]
    for x, xmask, y in batches[:warmup]:
        trainer.train_step(x, y, xmask)
    active[0] = True
    start = time.perf_counter()
    cpu = time.process_time()
    for x, xmask, y in batches[warmup:]:
        trainer.train_step(x, y, xmask)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    active[0] = False
    scans = {}
    for name, s in stats.items():
        scans[name] = {
            'calls_per_step': s['calls'] / steps,
            'scan_steps_per_step': s['steps'] / steps,
            'call_ms': 1e3 * s['call_s'] / steps,
            'inner_fn_ms': 1e3 * s['fn_s'] / steps,
            'python_loop_ms': 1e3 * (s['call_s'] - s['fn_s']) / steps,
            'python_loop_us_per_scan_step': 1e6
            * (s['call_s'] - s['fn_s'])
            / max(s['steps'], 1),
            'inner_fn_us_per_scan_step': 1e6 * s['fn_s'] / max(s['steps'], 1),
        }
    step_ms = 1e3 * wall / steps
    in_scans = sum(s['call_ms'] for s in scans.values())
    inner = sum(s['inner_fn_ms'] for s in scans.values())
    return {
        'model': model,
        'steps': steps,
        'theano': {
            'gcc.cxxflags': theano.config.gcc.cxxflags,
            'allow_gc': theano.config.allow_gc,
            'linker': theano.config.linker,
            'floatX': theano.config.floatX,
        },
        'compile_train_s': compile_s,
        'step_ms': step_ms,
        'samples_per_s': 100 * steps / wall,
        'cpu_per_wall': cpu / wall,
        'scans_inner_fn_ms': inner,
        'scans_python_loop_ms': in_scans - inner,
        'outside_scans_ms': step_ms - in_scans,
        'scans': scans,
    }


def print_profile(result):
    print(
        '%s: %.1f ms per training step (%.0f samples/s, CPU/wall %.2f)'
        % (
            result['model'],
            result['step_ms'],
            result['samples_per_s'],
            result['cpu_per_wall'],
        )
    )
    print(
        '  scans: inner functions %.1f ms, Python loop %.1f ms; outside the '
        'scans %.1f ms'
        % (
            result['scans_inner_fn_ms'],
            result['scans_python_loop_ms'],
            result['outside_scans_ms'],
        )
    )
    for name, s in result['scans'].items():
        print(
            '  %-40s %4.0f steps: inner %5.1f ms (%4.0f us/step), loop '
            '%5.1f ms (%3.0f us/step)'
            % (
                name[:40],
                s['scan_steps_per_step'],
                s['inner_fn_ms'],
                s['inner_fn_us_per_scan_step'],
                s['python_loop_ms'],
                s['python_loop_us_per_scan_step'],
            )
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('model', choices=('baseline', 'attention'))
    parser.add_argument('--steps', type=int, default=100)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', metavar='FILE')
    parser.add_argument('--theano-profile', metavar='FILE')
    parser.add_argument(
        '--fused-attention',
        action='store_true',
        help="the attention decoder's fused ops (the lever)",
    )
    parser.add_argument(
        '--fused-gru',
        action='store_true',
        help="every GRU's recurrence as one fused op (the lever)",
    )
    parser.add_argument(
        '--theano-flags', default='', help='flags added to THEANO_FLAGS'
    )
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error('--steps must be at least 1, --warmup at least 0')
    flags = [os.environ.get('THEANO_FLAGS', ''), args.theano_flags]
    if 'base_compiledir' not in flags[0]:
        # The training benchmark's cache (not ~/.theano, whose compile
        # lock other jobs may hold), unless the user chose one.
        flags.append(
            'base_compiledir=' + os.path.join(HERE, 'results', 'theano-cache')
        )
    if args.theano_profile:
        flags += [
            'profile=True',
            'profiling.destination=' + os.path.abspath(args.theano_profile),
        ]
    os.environ['THEANO_FLAGS'] = ','.join(filter(None, flags))
    started = datetime.datetime.now()
    with open('/proc/loadavg') as f:
        load_before = [float(v) for v in f.read().split()[:3]]
    if args.fused_attention and args.model != 'attention':
        parser.error('--fused-attention is for the attention model')
    result = profile(
        args.model,
        args.steps,
        args.warmup,
        args.seed,
        args.fused_attention,
        args.fused_gru,
    )
    with open('/proc/loadavg') as f:
        load_after = [float(v) for v in f.read().split()[:3]]
    print_profile(result)
    if args.json:
        sys.path.insert(0, HERE)
        from bench_driver import _relative, run_header

        result['_run'] = dict(
            run_header(started, load_before, load_after),
            extra_theano_flags=args.theano_flags,
            fused_attention=args.fused_attention,
            fused_gru=args.fused_gru,
        )
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(_relative(result), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
