"""Check that the PyTorch models compute what the Lasagne models compute.

For each model (attention first, then baseline) this builds the Lasagne
model of the package from a seed, copies its weights by name into the
eager PyTorch model of ``benchmarks/torch_models.py``, and on the same
batches compares

1. the forward pass: softmax outputs and (attention) the weights ``alpha``
   of ``Trainer.evaluate`` -- max abs diff;
2. the cost and the clipped gradients (element-wise clip to 3, then total
   norm 3) of one batch -- max abs diff, and relative to the largest
   gradient;
3. a few training steps with the notebook's recipe (Adam 0.005): the cost
   of every step and the weights at the end -- max abs diff.

Usage::

    .venv/bin/python benchmarks/check_torch_equivalence.py [--steps 10]
        [--models attention,baseline]

The Theano cache is ``benchmarks/results/theano-cache`` (as for
``bench_training.py``) unless ``THEANO_FLAGS`` names a ``base_compiledir``.
Exit status 0 when every forward/gradient difference is within float32
tolerance (the training-step numbers are printed for information: float32
rounding differences grow with every step).
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# The benchmark's own Theano cache (not ~/.theano, whose compile lock other
# jobs may hold), unless the user chose a base_compiledir.
if 'base_compiledir' not in os.environ.get('THEANO_FLAGS', ''):
    os.environ['THEANO_FLAGS'] = ','.join(
        filter(
            None,
            [
                os.environ.get('THEANO_FLAGS', ''),
                'base_compiledir='
                + os.path.join(HERE, 'results', 'theano-cache'),
            ],
        )
    )

# compat sets Theano's flags, so the package comes before Theano.
import seq2seq_lasagne  # noqa: E402,F401

# isort: split
import lasagne  # noqa: E402
import numpy as np  # noqa: E402
import theano  # noqa: E402
import theano.tensor as T  # noqa: E402

from seq2seq_lasagne.data_generator import get_batch  # noqa: E402
from seq2seq_lasagne.models import build_seeded  # noqa: E402
from seq2seq_lasagne.objectives import sequence_cost  # noqa: E402
from seq2seq_lasagne.training import Trainer  # noqa: E402

#: Bounds for the checks that must pass (float32 arithmetic, different
#: summation orders).
TOL_FORWARD = 1e-5
TOL_GRAD_REL = 1e-4


def theano_clipped_grads_fn(model, grad_clip=3.0, max_norm=3.0):
    """Theano function ``f(x, y, xmask) -> [cost] + clipped grads``."""
    output = model.get_output(deterministic=False)
    cost = sequence_cost(output, model.y_sym)
    params = model.trainable_params()
    grads = [T.clip(g, -grad_clip, grad_clip) for g in T.grad(cost, params)]
    grads = lasagne.updates.total_norm_constraint(grads, max_norm)
    fn = theano.function(
        [model.x_sym, model.y_sym, model.xmask_sym],
        [cost] + grads,
        name='clipped_grads',
    )
    return fn, [p.name for p in params]


def max_abs_diff(a, b):
    return float(
        np.max(
            np.abs(
                np.asarray(a, dtype=np.float64)
                - np.asarray(b, dtype=np.float64)
            )
        )
    )


def check_model(kind, steps, seed=0, log=print):
    import torch
    from torch_models import (
        TorchTrainer,
        build_torch_model,
        export_lasagne_params,
        load_lasagne_params,
    )

    config = dict(max_digits=20)
    if kind == 'attention':
        config['aln_num_units'] = 20
    lmodel = build_seeded(kind, seed, **config)
    trainer = Trainer(lmodel)
    trainer.compile()
    values = {p.name: p.get_value() for p in lmodel.all_params()}
    tmodel = build_torch_model(kind, **config)
    load_lasagne_params(tmodel, values)
    ttrainer = TorchTrainer(tmodel)

    rng = np.random.RandomState(seed + 1)
    # Mixed lengths, so the encoder masks really differ between samples.
    x, xmask, y = get_batch(100, 1, 20, rng=rng)[:3]
    log(
        '[%s] batch %s, input lengths %d..%d'
        % (kind, x.shape, xmask.sum(1).min(), xmask.sum(1).max())
    )

    start = time.perf_counter()
    lres = trainer.evaluate(x, y, xmask)
    grad_fn, names = theano_clipped_grads_fn(lmodel)
    log(
        '[%s] Theano compile (test + gradients): %.1f s'
        % (kind, time.perf_counter() - start)
    )
    tres = ttrainer.evaluate(x, y, xmask)
    ok = True
    d_out = max_abs_diff(lres['output'], tres['output'])
    log(
        '[%s] forward: max abs diff of softmax outputs %.3g (tol %g)'
        % (kind, d_out, TOL_FORWARD)
    )
    ok &= d_out <= TOL_FORWARD
    if kind == 'attention':
        d_alpha = max_abs_diff(lres['alpha'], tres['alpha'])
        log(
            '[%s] forward: max abs diff of alpha           %.3g (tol %g)'
            % (kind, d_alpha, TOL_FORWARD)
        )
        ok &= d_alpha <= TOL_FORWARD
    log(
        '[%s] accuracy: Theano %.4f, PyTorch %.4f'
        % (kind, lres['accuracy'], tres['accuracy'])
    )

    results = grad_fn(x, y, xmask)
    lcost, lgrads = float(results[0]), dict(zip(names, results[1:]))
    tcost, _ = ttrainer.compute_gradients(x, xmask, y)
    tgrads = export_lasagne_params(tmodel, grads=True)
    if set(tgrads) != set(lgrads):
        raise AssertionError(
            'parameter names differ: %s' % sorted(set(tgrads) ^ set(lgrads))
        )
    d_cost = abs(lcost - float(tcost))
    d_grad = max(max_abs_diff(lgrads[n], tgrads[n]) for n in names)
    scale = max(float(np.max(np.abs(lgrads[n]))) for n in names)
    worst = max(names, key=lambda n: max_abs_diff(lgrads[n], tgrads[n]))
    log(
        '[%s] cost: Theano %.6f, PyTorch %.6f, diff %.3g'
        % (kind, lcost, float(tcost), d_cost)
    )
    log(
        '[%s] clipped gradients (%d tensors): max abs diff %.3g, relative '
        'to max |grad| %.3g: %.3g (tol %g; worst %s)'
        % (
            kind,
            len(names),
            d_grad,
            scale,
            d_grad / scale,
            TOL_GRAD_REL,
            worst,
        )
    )
    ok &= d_cost <= TOL_FORWARD and d_grad / scale <= TOL_GRAD_REL

    # Training steps from the same weights on the same batches.
    batches = [get_batch(100, 20, 20, rng=rng)[:3] for _ in range(steps)]
    lcosts = [trainer.train_step(bx, by, bm)[0] for bx, bm, by in batches]
    tcosts = [ttrainer.train_step(bx, by, bm)[0] for bx, bm, by in batches]
    lvalues = {p.name: p.get_value() for p in lmodel.trainable_params()}
    tvalues = export_lasagne_params(tmodel)
    d_costs = max_abs_diff(lcosts, tcosts)
    d_params = max(max_abs_diff(lvalues[n], tvalues[n]) for n in names)
    log(
        '[%s] %d training steps: costs %.4f -> %.4f (Theano), %.4f -> '
        '%.4f (PyTorch); max abs diff of step costs %.3g, of final '
        'weights %.3g (information only)'
        % (
            kind,
            steps,
            lcosts[0],
            lcosts[-1],
            tcosts[0],
            tcosts[-1],
            d_costs,
            d_params,
        )
    )
    log('[%s] %s' % (kind, 'PASS' if ok else 'FAIL'))
    return {
        'model': kind,
        'ok': bool(ok),
        'forward_max_abs_diff': d_out,
        'alpha_max_abs_diff': d_alpha if kind == 'attention' else None,
        'cost_diff': d_cost,
        'grad_max_abs_diff': d_grad,
        'grad_rel_diff': d_grad / scale,
        'train_steps': steps,
        'train_cost_max_abs_diff': d_costs,
        'train_param_max_abs_diff': d_params,
        'torch': torch.__version__,
        'floatX': theano.config.floatX,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--steps',
        type=int,
        default=10,
        help='training steps to compare (default 10)',
    )
    parser.add_argument('--models', default='attention,baseline')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print('torch is not installed: .venv/bin/pip install torch==2.13.0')
        return 2
    torch.set_num_threads(2)
    if theano.config.floatX != 'float32':
        print(
            'note: floatX=%s (the PyTorch models are float32)'
            % theano.config.floatX
        )
    results = [
        check_model(kind, args.steps, args.seed)
        for kind in args.models.split(',')
    ]
    ok = all(r['ok'] for r in results)
    print('equivalence:', 'PASS' if ok else 'FAIL')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
