"""Check that each benchmark peer computes what the Lasagne models compute.

For each model this builds the Lasagne model of the package from a seed,
gives its weights (by name) to each peer, and on the same batches compares
with Theano:

1. the forward pass: softmax outputs and (attention) ``alpha`` of
   ``Trainer.evaluate``, on a batch of mixed input lengths;
2. the cost and the clipped gradients (element-wise clip to 3, then total
   norm 3) of that batch;
3. ``--steps`` training steps with the notebook's recipe (Adam 0.005) on
   20-digit batches: the cost of every step and the weights at the end.

Every difference is a maximum absolute difference and must be at most
``--tol`` (default 1e-6) for the peer to pass.  Peers:

* ``eager``: eager PyTorch (``torch_models.TorchTrainer``);
* ``compile``: the same under ``torch.compile``
  (``torch_models.CompiledTorchTrainer``);
* ``jax``: JAX, ``lax.scan`` under ``jax.jit`` (``jax_models.JaxTrainer``).

Usage::

    .venv/bin/python benchmarks/check_equivalence.py \\
        [--peers eager,compile,jax] [--models attention,baseline] \\
        [--steps 5] [--json FILE]

The Theano cache is ``benchmarks/results/theano-cache`` (as for
``bench_training.py``) unless ``THEANO_FLAGS`` names a ``base_compiledir``.
Exit status 0 when every peer passes, 1 when one fails, 2 when a peer's
library is missing.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_args import name_list  # noqa: E402
from bench_config import MODELS  # noqa: E402

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

PEERS = ('eager', 'compile', 'jax')
#: The library each peer needs, and how to install it.
REQUIRES = {
    'eager': 'torch',
    'compile': 'torch',
    'jax': 'jax',
}
INSTALL = ".venv/bin/pip install -c constraints.txt -e '.[bench]'"


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


class TorchPeer(object):
    """Eager or compiled PyTorch, seen through Lasagne's parameter names."""

    def __init__(self, kind, config, values, compiled):
        import torch_models

        model = torch_models.build_torch_model(kind, **config)
        torch_models.load_lasagne_params(model, values)
        cls = (
            torch_models.CompiledTorchTrainer
            if compiled
            else torch_models.TorchTrainer
        )
        if compiled:
            # One model per compiled cache, as in a benchmark worker: the
            # trainer's step is the same code for both models, and
            # torch.compile would otherwise recompile it for the second
            # with the weights' shapes made symbolic, where torch 2.13
            # fails to build its guards (IndexError in
            # produce_guards_verbose) unless its on-disk cache already
            # knows the function.
            import torch

            torch._dynamo.reset()
        self.model = model
        self.trainer = cls(model)
        self.export = torch_models.export_lasagne_params

    def evaluate(self, x, y, xmask):
        return self.trainer.evaluate(x, y, xmask)

    def clipped_gradients(self, x, y, xmask):
        cost, _ = self.trainer.compute_gradients(x, xmask, y)
        return float(cost), self.export(self.model, grads=True)

    def train_step(self, x, y, xmask):
        return self.trainer.train_step(x, y, xmask)

    def param_values(self):
        return self.export(self.model)


class JaxPeer(object):
    """The JAX trainer (it keeps Lasagne's parameter names itself)."""

    def __init__(self, kind, config, values):
        from jax_models import JaxTrainer, param_names

        params = {k: values[k] for k in param_names(kind)}
        self.trainer = JaxTrainer(
            kind, params, max_digits=config['max_digits']
        )

    def evaluate(self, x, y, xmask):
        return self.trainer.evaluate(x, y, xmask)

    def clipped_gradients(self, x, y, xmask):
        return self.trainer.clipped_gradients(x, y, xmask)

    def train_step(self, x, y, xmask):
        return self.trainer.train_step(x, y, xmask)

    def param_values(self):
        return self.trainer.param_values()


def make_peer(name, kind, config, values):
    if name == 'jax':
        return JaxPeer(kind, config, values)
    return TorchPeer(kind, config, values, compiled=name == 'compile')


def theano_reference(kind, steps, seed, log):
    """What Theano computes, and the initial weights, for one model."""
    config = dict(max_digits=20)
    if kind == 'attention':
        config['aln_num_units'] = 20
    lmodel = build_seeded(kind, seed, **config)
    trainer = Trainer(lmodel)
    start = time.perf_counter()
    trainer.compile()
    grad_fn, names = theano_clipped_grads_fn(lmodel)
    log('[%s] Theano compile: %.1f s' % (kind, time.perf_counter() - start))
    values = {p.name: p.get_value() for p in lmodel.all_params()}
    rng = np.random.RandomState(seed + 1)
    # Mixed lengths, so the encoder masks really differ between samples.
    x, xmask, y = get_batch(100, 1, 20, rng=rng)[:3]
    batches = [get_batch(100, 20, 20, rng=rng)[:3] for _ in range(steps)]
    log(
        '[%s] batch %s, input lengths %d..%d; %d training steps'
        % (kind, x.shape, xmask.sum(1).min(), xmask.sum(1).max(), steps)
    )
    ref = {'config': config, 'values': values, 'names': names}
    ref['batch'] = (x, y, xmask)
    ref['batches'] = batches
    ref['eval'] = trainer.evaluate(x, y, xmask)
    results = grad_fn(x, y, xmask)
    ref['cost'] = float(results[0])
    ref['grads'] = dict(zip(names, results[1:]))
    ref['step_costs'] = [
        trainer.train_step(bx, by, bm)[0] for bx, bm, by in batches
    ]
    ref['final'] = {p.name: p.get_value() for p in lmodel.trainable_params()}
    return ref


def compare(peer_name, kind, ref, tol, log):
    """Run one peer on the reference's weights and batches; the figures."""
    start = time.perf_counter()
    peer = make_peer(peer_name, kind, ref['config'], ref['values'])
    x, y, xmask = ref['batch']
    names = ref['names']
    res = peer.evaluate(x, y, xmask)
    out = {'peer': peer_name, 'model': kind, 'tol': tol}
    out['output'] = max_abs_diff(ref['eval']['output'], res['output'])
    out['alpha'] = (
        max_abs_diff(ref['eval']['alpha'], res['alpha'])
        if kind == 'attention'
        else None
    )
    cost, grads = peer.clipped_gradients(x, y, xmask)
    if set(grads) != set(names):
        raise AssertionError(
            'parameter names differ: %s' % sorted(set(grads) ^ set(names))
        )
    out['cost'] = abs(cost - ref['cost'])
    out['grads'] = max(max_abs_diff(ref['grads'][n], grads[n]) for n in names)
    out['grads_scale'] = max(
        float(np.max(np.abs(ref['grads'][n]))) for n in names
    )
    costs = [peer.train_step(bx, by, bm)[0] for bx, bm, by in ref['batches']]
    final = peer.param_values()
    out['steps'] = len(costs)
    out['step_costs'] = max_abs_diff(ref['step_costs'], costs)
    out['weights'] = max(
        max_abs_diff(ref['final'][n], final[n]) for n in names
    )
    out['seconds'] = time.perf_counter() - start
    figures = ('output', 'alpha', 'cost', 'grads', 'step_costs', 'weights')
    out['ok'] = all(out[k] is None or out[k] <= tol for k in figures)
    log(
        '[%s] %-7s output %.2g, alpha %s, cost %.2g, clipped grads %.2g '
        '(max |grad| %.2g), %d Adam steps: costs %.2g, weights %.2g '
        '(tol %g): %s'
        % (
            kind,
            peer_name,
            out['output'],
            '–' if out['alpha'] is None else '%.2g' % out['alpha'],
            out['cost'],
            out['grads'],
            out['grads_scale'],
            out['steps'],
            out['step_costs'],
            out['weights'],
            tol,
            'PASS' if out['ok'] else 'FAIL',
        )
    )
    return out


def versions(peers):
    info = {
        'theano': theano.__version__,
        'floatX': theano.config.floatX,
    }
    if {'eager', 'compile'} & set(peers):
        import torch

        info['torch'] = torch.__version__
    if 'jax' in peers:
        import jax

        info['jax'] = jax.__version__
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--peers',
        default=','.join(PEERS),
        help='comma-separated, of %s (default all)' % ', '.join(PEERS),
    )
    parser.add_argument('--models', default='attention,baseline')
    parser.add_argument(
        '--steps',
        type=int,
        default=5,
        help='Adam steps to compare (default 5)',
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--tol', type=float, default=1e-6)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--json', metavar='FILE', help='write the figures')
    args = parser.parse_args(argv)
    peers = name_list(parser.error, args.peers, PEERS, 'peer')
    models = name_list(parser.error, args.models, MODELS, 'model')
    for p in peers:
        try:
            __import__(REQUIRES[p])
        except ImportError:
            print(
                'check_equivalence: error: peer %s needs %s: %s'
                % (p, REQUIRES[p], INSTALL),
                file=sys.stderr,
            )
            return 2
    if {'eager', 'compile'} & set(peers):
        import torch

        torch.set_num_threads(args.threads)
    if theano.config.floatX != 'float32':
        print('note: floatX=%s (the peers are float32)' % theano.config.floatX)
    results = []
    for kind in models:
        ref = theano_reference(kind, args.steps, args.seed, print)
        for p in peers:
            results.append(compare(p, kind, ref, args.tol, print))
    ok = all(r['ok'] for r in results)
    print('equivalence:', 'PASS' if ok else 'FAIL')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(
                {
                    'results': results,
                    'versions': versions(peers),
                    'seed': args.seed,
                    'tol': args.tol,
                },
                f,
                indent=1,
            )
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
