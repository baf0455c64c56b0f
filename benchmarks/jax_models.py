"""The lab's two networks and its training recipe in JAX, for the benchmark.

A compiled peer for :mod:`seq2seq_lasagne`: the same equations as the
Lasagne models, the recurrences as :func:`jax.lax.scan`, and the whole
training step -- forward pass, gradients, element-wise clipping, Lasagne's
total-norm constraint and Lasagne 0.1's Adam -- one function under
:func:`jax.jit`.  ``benchmarks/check_equivalence.py`` loads the weights of
a Lasagne model into it and compares outputs, gradients and Adam steps.

The parameters are a dict keyed by the Lasagne parameter names of the
package's models (``'GRUEncoder.W_in_to_resetgate'``,
``'LSTMDecoder.AlignSeqOutputLayer: v_a'``, ...), with Lasagne's shapes, so
``{p.name: p.get_value() for p in model.trainable_params()}`` is a valid
parameter dict.

Choices, and how they relate to Lasagne 0.1 / the lab
-----------------------------------------------------
Input
    One-hot codes (the notebook's fixed identity embedding) multiplied by
    the encoder's input weights, as the Lasagne graph does.
GRU
    Lasagne's ``GRULayer`` (gates stacked resetgate, updategate,
    hidden_update; the reset gate multiplies ``h W_hid`` after the
    product; ``h = (1 - u) h_prev + u c``), input products computed for
    every step at once (``precompute_input``), ``h_0 = 0``.  Masked steps
    keep the previous state: ``h = h_new m + h_prev (1 - m)``.
Attention decoder
    The package's ``LSTMAttentionDecodeFeedbackLayer`` with the notebook's
    settings: 21 steps, ``tanh(h W_a + H U_a) . v_a``, softmax over the
    encoder positions (no decoder mask), context ``sum_L alpha H``, gates
    ``h W_hid + b + ctx W_ctx`` (ingate, forgetgate, cell, outgate),
    peepholes on ingate/forgetgate before the sigmoid and on the outgate
    after it, ``h_0 = c_0 = 0``.
Output and cost
    Dense softmax on every step; the cost is the mean of ``-log`` of the
    target's probability (the package's ``sequence_cost``), the accuracy
    the mean of ``argmax == target``.
Clipping and Adam
    Element-wise clip to ``[-3, 3]``, then ``total_norm_constraint``
    (``min(norm, 3) / (norm + 1e-7)``, the squared sums added in the
    parameters' order); Adam in Lasagne 0.1's form, its step counter and
    bias correction in float32 as Theano computes them.
Shapes
    ``jax.jit`` compiles once per distinct input length; the lab's batches
    come in a few dozen lengths, each compiled on its first use.  Padding
    to a common length would change the attention model (it attends over
    every position, padding included), so it is not done.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = [
    'NUM_INPUTS',
    'NUM_OUTPUTS',
    'param_names',
    'init_params',
    'forward',
    'JaxTrainer',
]

NUM_INPUTS = 27
NUM_OUTPUTS = 11
GATES = ('ingate', 'forgetgate', 'cell', 'outgate')
GRU_GATES = ('resetgate', 'updategate', 'hidden_update')
_ALIGN = {
    'W_a': 'LSTMDecoder.AlignSeqOutputLayer: (aln) W_a',
    'U_a': 'LSTMDecoder.AlignSeqOutputLayer: (aln) U_a',
    'v_a': 'LSTMDecoder.AlignSeqOutputLayer: v_a',
}


def _gru_names(prefix):
    names = []
    for gate in ('updategate', 'resetgate', 'hidden_update'):
        names += [
            '%s.W_in_to_%s' % (prefix, gate),
            '%s.W_hid_to_%s' % (prefix, gate),
            '%s.b_%s' % (prefix, gate),
        ]
    return names


def param_names(model):
    """Trainable parameter names, in the Lasagne model's order."""
    names = _gru_names('GRUEncoder')
    if model == 'baseline':
        names += _gru_names('GRUDecoder')
    else:
        for gate in GATES:
            names += ['LSTMDecoder.W_hid_to_' + gate, 'LSTMDecoder.b_' + gate]
        names += ['LSTMDecoder.W_weightedhid_to_' + g for g in GATES]
        names += [
            'LSTMDecoder.W_cell_to_' + g
            for g in ('ingate', 'forgetgate', 'outgate')
        ]
        names += [_ALIGN['W_a'], _ALIGN['U_a'], _ALIGN['v_a']]
    return names + ['SoftmaxOutput.W', 'SoftmaxOutput.b']


def init_params(
    model,
    seed=0,
    num_units_enc=10,
    num_units_dec=10,
    aln_num_units=20,
    max_digits=20,
):
    """Lasagne's initialisation (statistics only): Normal(0.1) weights,
    zero biases, a Glorot-uniform output layer."""
    del max_digits  # the step count is not a parameter
    rng = np.random.RandomState(seed)
    E, U, A = num_units_enc, num_units_dec, aln_num_units
    out = {}

    def normal(shape):
        return rng.normal(0.0, 0.1, shape).astype(np.float32)

    def gru(prefix, n_in, n_units):
        for gate in GRU_GATES:
            out['%s.W_in_to_%s' % (prefix, gate)] = normal((n_in, n_units))
            out['%s.W_hid_to_%s' % (prefix, gate)] = normal((n_units, n_units))
            out['%s.b_%s' % (prefix, gate)] = np.zeros(n_units, np.float32)

    gru('GRUEncoder', NUM_INPUTS, E)
    width = U if model == 'baseline' else E
    if model == 'baseline':
        gru('GRUDecoder', E, U)
    else:
        for gate in GATES:
            out['LSTMDecoder.W_hid_to_' + gate] = normal((U, U))
            out['LSTMDecoder.b_' + gate] = np.zeros(U, np.float32)
            out['LSTMDecoder.W_weightedhid_to_' + gate] = normal((E, U))
        for gate in ('ingate', 'forgetgate', 'outgate'):
            out['LSTMDecoder.W_cell_to_' + gate] = normal((U,))
        out[_ALIGN['W_a']] = normal((U, A))
        out[_ALIGN['U_a']] = normal((E, A))
        out[_ALIGN['v_a']] = normal((A, 1))
    bound = np.sqrt(6.0 / (width + NUM_OUTPUTS))
    out['SoftmaxOutput.W'] = rng.uniform(
        -bound, bound, (width, NUM_OUTPUTS)
    ).astype(np.float32)
    out['SoftmaxOutput.b'] = np.zeros(NUM_OUTPUTS, np.float32)
    return {k: out[k] for k in param_names(model)}


def _gru(p, prefix, inputs, mask=None):
    """Lasagne's GRU over ``inputs`` (batch, T, F): states (batch, T, U)."""
    W_in = jnp.concatenate(
        [p['%s.W_in_to_%s' % (prefix, g)] for g in GRU_GATES], axis=1
    )
    W_hid = jnp.concatenate(
        [p['%s.W_hid_to_%s' % (prefix, g)] for g in GRU_GATES], axis=1
    )
    b = jnp.concatenate([p['%s.b_%s' % (prefix, g)] for g in GRU_GATES])
    U = W_hid.shape[0]
    x = jnp.dot(jnp.swapaxes(inputs, 0, 1), W_in) + b  # (T, batch, 3U)

    def step(h_prev, xs):
        x_n, m_n = xs
        hid_input = jnp.dot(h_prev, W_hid)
        reset = jax.nn.sigmoid(hid_input[:, :U] + x_n[:, :U])
        update = jax.nn.sigmoid(hid_input[:, U : 2 * U] + x_n[:, U : 2 * U])
        cand = jnp.tanh(x_n[:, 2 * U :] + reset * hid_input[:, 2 * U :])
        h = (1 - update) * h_prev + update * cand
        if m_n is not None:
            h = h * m_n + h_prev * (1 - m_n)
        return h, h

    h0 = jnp.zeros((inputs.shape[0], U), inputs.dtype)
    masks = None if mask is None else jnp.swapaxes(mask, 0, 1)[:, :, None]
    _, hs = lax.scan(step, h0, (x, masks))
    return jnp.swapaxes(hs, 0, 1)


def _attention_decoder(p, H, n_steps):
    """Contexts (batch, n_steps, E) and alpha (batch, n_steps, L)."""
    d = 'LSTMDecoder.'
    W_hid = jnp.concatenate([p[d + 'W_hid_to_' + g] for g in GATES], axis=1)
    W_ctx = jnp.concatenate(
        [p[d + 'W_weightedhid_to_' + g] for g in GATES], axis=1
    )
    b = jnp.concatenate([p[d + 'b_' + g] for g in GATES])
    W_ci, W_cf, W_co = (
        p[d + 'W_cell_to_' + g] for g in ('ingate', 'forgetgate', 'outgate')
    )
    W_a, v_a = p[_ALIGN['W_a']], p[_ALIGN['v_a']][:, 0]
    U = W_hid.shape[0]
    hUa = jnp.dot(H, p[_ALIGN['U_a']])  # (batch, L, A), once

    def step(carry, _):
        h_prev, c_prev = carry
        aligned = jnp.dot(h_prev, W_a)[:, None, :] + hUa
        e = jnp.dot(jnp.tanh(aligned), v_a)  # (batch, L)
        alpha = jax.nn.softmax(e, axis=-1)
        ctx = jnp.einsum('bl,ble->be', alpha, H)
        gates = jnp.dot(h_prev, W_hid) + b + jnp.dot(ctx, W_ctx)
        i = jax.nn.sigmoid(gates[:, :U] + c_prev * W_ci)
        f = jax.nn.sigmoid(gates[:, U : 2 * U] + c_prev * W_cf)
        g = jnp.tanh(gates[:, 2 * U : 3 * U])
        o = jax.nn.sigmoid(gates[:, 3 * U :])
        c = f * c_prev + i * g
        o = o + c * W_co  # the original's quirk: after the sigmoid
        h = o * jnp.tanh(c)
        return (h, c), (ctx, alpha)

    zeros = jnp.zeros((H.shape[0], U), H.dtype)
    _, (ctxs, alphas) = lax.scan(step, (zeros, zeros), None, length=n_steps)
    return jnp.swapaxes(ctxs, 0, 1), jnp.swapaxes(alphas, 0, 1)


def forward(p, x, xmask, kind, n_steps):
    """Softmax outputs (batch, n_steps, 11) and alpha (or None)."""
    emb = jax.nn.one_hot(x, NUM_INPUTS, dtype=jnp.float32)
    enc = _gru(p, 'GRUEncoder', emb, xmask)
    alpha = None
    if kind == 'baseline':
        rep = jnp.repeat(enc[:, -1:, :], n_steps, axis=1)
        dec = _gru(p, 'GRUDecoder', rep)
    else:
        dec, alpha = _attention_decoder(p, enc, n_steps)
    flat = dec.reshape(-1, dec.shape[-1])
    probs = jax.nn.softmax(
        jnp.dot(flat, p['SoftmaxOutput.W']) + p['SoftmaxOutput.b'], axis=-1
    )
    return probs.reshape(x.shape[0], n_steps, NUM_OUTPUTS), alpha


def _cost_and_accuracy(p, x, xmask, y, kind, n_steps):
    out, _ = forward(p, x, xmask, kind, n_steps)
    probs = out.reshape(-1, NUM_OUTPUTS)
    flat = y.reshape(-1)
    cost = jnp.mean(-jnp.log(probs[jnp.arange(flat.shape[0]), flat]))
    acc = jnp.mean((jnp.argmax(out, axis=-1) == y).astype(jnp.float32))
    return cost, acc


def _clipped_grads(p, x, xmask, y, kind, n_steps, names, clip, max_norm):
    (cost, acc), grads = jax.value_and_grad(_cost_and_accuracy, has_aux=True)(
        p, x, xmask, y, kind, n_steps
    )
    grads = {k: jnp.clip(g, -clip, clip) for k, g in grads.items()}
    total = jnp.float32(0)
    for k in names:  # Lasagne's order of the sum
        total = total + jnp.sum(grads[k] ** 2)
    norm = jnp.sqrt(total)
    multiplier = jnp.clip(norm, 0, max_norm) / (jnp.float32(1e-7) + norm)
    return cost, acc, {k: g * multiplier for k, g in grads.items()}


def _train_step(
    p, m, v, t, x, xmask, y, kind, n_steps, names, lr, clip, max_norm
):
    cost, acc, grads = _clipped_grads(
        p, x, xmask, y, kind, n_steps, names, clip, max_norm
    )
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8
    t = t + 1
    a_t = lr * jnp.sqrt(1 - beta2**t) / (1 - beta1**t)
    new_p, new_m, new_v = {}, {}, {}
    for k, g in grads.items():
        new_m[k] = beta1 * m[k] + (1 - beta1) * g
        new_v[k] = beta2 * v[k] + (1 - beta2) * g**2
        new_p[k] = p[k] - a_t * new_m[k] / (jnp.sqrt(new_v[k]) + epsilon)
    return new_p, new_m, new_v, t, cost, acc


class JaxTrainer(object):
    """The notebook's training recipe, one jitted function per step.

    ``train_step(x, y, xmask)`` and ``evaluate(x, y, xmask)`` take the
    NumPy arrays of :func:`seq2seq_lasagne.data_generator.get_batch`, as
    :class:`seq2seq_lasagne.training.Trainer` does.

    Parameters
    ----------
    kind : {'baseline', 'attention'}
    params : dict
        Lasagne name -> array (see :func:`init_params`).
    max_digits : int
        The decoder runs ``max_digits + 1`` steps.
    learning_rate, grad_clip, max_norm : float
    """

    def __init__(
        self,
        kind,
        params,
        max_digits=20,
        learning_rate=0.005,
        grad_clip=3.0,
        max_norm=3.0,
    ):
        self.kind = kind
        self.n_steps = max_digits + 1
        self.names = param_names(kind)
        if set(params) != set(self.names):
            raise ValueError(
                'parameters differ from the %s model: %s'
                % (kind, sorted(set(params) ^ set(self.names)))
            )
        f32 = jnp.float32
        self.params = {k: jnp.asarray(params[k], f32) for k in self.names}
        self.m = {k: jnp.zeros_like(a) for k, a in self.params.items()}
        self.v = {k: jnp.zeros_like(a) for k, a in self.params.items()}
        self.t = jnp.zeros((), f32)
        static = dict(
            kind=kind,
            n_steps=self.n_steps,
            names=tuple(self.names),
            lr=f32(learning_rate),
            clip=f32(grad_clip),
            max_norm=f32(max_norm),
        )
        # The weights and Adam's moments are updated in place.
        self._step = jax.jit(
            functools.partial(_train_step, **static),
            donate_argnums=(0, 1, 2, 3),
        )
        self._grads = jax.jit(
            functools.partial(
                _clipped_grads,
                kind=kind,
                n_steps=self.n_steps,
                names=tuple(self.names),
                clip=f32(grad_clip),
                max_norm=f32(max_norm),
            )
        )
        self._forward = jax.jit(
            functools.partial(forward, kind=kind, n_steps=self.n_steps)
        )

    @staticmethod
    def _arrays(x, xmask, y=None):
        out = [jnp.asarray(x, jnp.int32), jnp.asarray(xmask, jnp.float32)]
        if y is not None:
            out.append(jnp.asarray(y, jnp.int32))
        return out

    def train_step(self, x, y, xmask, ymask=None):
        """One Adam step on a batch; returns ``(cost, accuracy)``."""
        x, xmask, y = self._arrays(x, xmask, y)
        self.params, self.m, self.v, self.t, cost, acc = self._step(
            self.params, self.m, self.v, self.t, x, xmask, y
        )
        return float(cost), float(acc)

    def clipped_gradients(self, x, y, xmask):
        """Cost and clipped gradients (dict of NumPy arrays) of a batch."""
        cost, _, grads = self._grads(self.params, *self._arrays(x, xmask, y))
        return float(cost), {k: np.asarray(g) for k, g in grads.items()}

    def evaluate(self, x, y, xmask, ymask=None):
        """Accuracy, softmax output and alpha, as ``Trainer.evaluate``."""
        out, alpha = self._forward(self.params, *self._arrays(x, xmask))
        out = np.asarray(out)
        acc = float('nan')
        if y is not None:
            acc = float(np.mean(np.argmax(out, axis=-1) == y))
        return {
            'accuracy': acc,
            'output': out,
            'alpha': None if alpha is None else np.asarray(alpha),
        }

    def param_values(self):
        """The current weights, Lasagne name -> NumPy array."""
        return {k: np.asarray(a) for k, a in self.params.items()}
