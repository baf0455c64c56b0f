"""Eager PyTorch versions of the lab's two networks, for the speed benchmark.

The point of these models is an honest yardstick for the Theano/Lasagne
implementation in :mod:`seq2seq_lasagne`: the same sizes, the same equations,
the same training recipe, written the way one would write them in eager
PyTorch today.  ``benchmarks/check_torch_equivalence.py`` loads the weights of
a Lasagne model into these modules and compares outputs, gradients and a few
training steps.

Shapes and settings (the notebook's): one-hot input of 27 codes (a fixed
identity embedding), encoder GRU of 10 units, 21 decoding steps, 11 output
codes, batch 100.

Choices, and how they relate to Lasagne 0.1 / the lab
-----------------------------------------------------
GRU (encoder and baseline decoder)
    ``torch.nn.GRU``.  Its equations are Lasagne's ``GRULayer`` ones (the
    reset gate multiplies ``W_hc h`` *after* the matmul), with two changes
    of parameterisation that do not change the model:

    * torch's update gate ``z`` is Lasagne's ``1 - u`` (torch:
      ``h = (1 - z) n + z h_prev``; Lasagne: ``h = (1 - u) h_prev + u c``).
      Since ``1 - sigmoid(a) = sigmoid(-a)``, torch's update-gate weights
      and bias are Lasagne's negated (:func:`load_lasagne_params` does it).
    * torch has a second bias (``bias_hh``) inside the reset-gate product;
      Lasagne has none.  It is kept at zero and frozen (``requires_grad =
      False``), so the trainable parameters are exactly Lasagne's.

    ``h_0`` is zero and not trained (``learn_init=False`` in the package).
Masked encoder steps
    Lasagne's masked GRU copies the previous state where the mask is 0, so
    with right-padded inputs every padded position holds the sample's last
    real state.  Here the padded batch goes through ``nn.GRU`` as a
    ``PackedSequence`` (lengths = mask sums; the data's masks are always a
    prefix of ones), and the padded positions of the output are then filled
    with the final state ``h_n``.  The baseline's "last step" (position
    ``L - 1``) is therefore ``h_n`` for every sample, and the attention
    decoder sees the same encoder sequence as in Lasagne.
Attention decoder
    Written step by step in eager PyTorch from ORIGINAL.md section 4: 21
    steps, alignment ``tanh(h W_a + H U_a) . v_a``, softmax over the
    encoder positions, context, LSTM gates stacked (ingate, forgetgate,
    cell, outgate), peepholes on ingate/forgetgate before the sigmoid and on
    the outgate *after* it (the original's quirk).  No input mask, as in the
    notebook.  ``h_0 = c_0 = 0`` (not trained).
Output and cost
    ``Linear`` (Lasagne's ``DenseLayer``) on every step, cross-entropy over
    all 21 positions (no target mask), as the notebook.  ``F.cross_entropy``
    works on logits (log-softmax); Theano takes ``-log`` of the softmax
    output.  Same function, float32 rounding aside.
Gradient clipping
    Element-wise clamp to ``[-3, 3]``, then Lasagne's
    ``total_norm_constraint``: every gradient is multiplied by
    ``min(norm, 3) / (norm + 1e-7)``.  (``torch.nn.utils.clip_grad_norm_``
    multiplies by ``min(3 / (norm + 1e-6), 1)``: a different epsilon, and it
    leaves the gradients alone below the bound where Lasagne scales them by
    ``norm / (norm + 1e-7)``.  Both differences are far below float32 noise
    on these gradients; ``native_optim=True`` uses torch's own functions.)
Adam
    Lasagne 0.1's form, defaults ``beta1=0.9, beta2=0.999, epsilon=1e-8``:
    ``a_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)``,
    ``p -= a_t m_t / (sqrt(v_t) + epsilon)``.  ``torch.optim.Adam`` puts
    epsilon inside the bias correction (``sqrt(v_t / (1 - beta2^t)) + eps``),
    i.e. an effective epsilon ``eps sqrt(1 - beta2^t)``; used only with
    ``native_optim=True``.
Initialisation
    As Lasagne: every recurrent / attention weight Normal(std 0.1), biases
    zero, the output layer's weight Glorot-uniform.  (Only the statistics
    match; use :func:`load_lasagne_params` for the very same weights.)
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = [
    'NUM_INPUTS',
    'NUM_OUTPUTS',
    'LasagneGRU',
    'TorchBaseline',
    'TorchAttention',
    'build_torch_model',
    'LasagneAdam',
    'TensorStepAdam',
    'clip_gradients',
    'TorchTrainer',
    'CompiledTorchTrainer',
    'load_lasagne_params',
    'export_lasagne_params',
]

NUM_INPUTS = 27
NUM_OUTPUTS = 11
GATES = ('ingate', 'forgetgate', 'cell', 'outgate')


def _normal_(tensor, std=0.1):
    with torch.no_grad():
        return tensor.normal_(0.0, std)


class LasagneGRU(nn.Module):
    """``nn.GRU`` (one layer, batch first) set up as Lasagne's ``GRULayer``.

    Parameters
    ----------
    input_size, num_units : int

    Notes
    -----
    ``forward(x, lengths=None)`` returns the states of every step
    ``(batch, T, num_units)``.  With ``lengths`` (int tensor, (batch,)) the
    steps past a sample's length hold its last real state, as a masked
    Lasagne GRU does.
    """

    def __init__(self, input_size, num_units):
        super().__init__()
        self.num_units = num_units
        self.gru = nn.GRU(input_size, num_units, batch_first=True)
        _normal_(self.gru.weight_ih_l0)
        _normal_(self.gru.weight_hh_l0)
        with torch.no_grad():
            self.gru.bias_ih_l0.zero_()
            self.gru.bias_hh_l0.zero_()
        # Lasagne has no bias inside the reset-gate product.
        self.gru.bias_hh_l0.requires_grad_(False)

    def forward(self, x, lengths=None):
        if lengths is None:
            out, _ = self.gru(x)
            return out
        packed = pack_padded_sequence(
            x, lengths, batch_first=True, enforce_sorted=False
        )
        out, h_n = self.gru(packed)
        out, _ = pad_packed_sequence(
            out, batch_first=True, total_length=x.shape[1]
        )
        steps = torch.arange(x.shape[1], device=x.device)
        padded = steps[None, :] >= lengths[:, None].to(x.device)
        return torch.where(padded[:, :, None], h_n[0][:, None, :], out)


class _Seq2Seq(nn.Module):
    """Shared input handling: one-hot codes and masked GRU encoder."""

    def __init__(self, num_units_enc):
        super().__init__()
        # The fixed identity embedding of the notebook.
        self.register_buffer('embedding', torch.eye(NUM_INPUTS))
        self.encoder = LasagneGRU(NUM_INPUTS, num_units_enc)

    def encode(self, x, xmask):
        """Encoder states (batch, L, E) for codes ``x`` and mask ``xmask``."""
        emb = self.embedding[x]  # (batch, L, 27)
        lengths = xmask.sum(dim=1).round().to(torch.int64).cpu()
        return self.encoder(emb, lengths)


class TorchBaseline(_Seq2Seq):
    """GRU encoder -> last state repeated -> GRU decoder -> softmax.

    ``forward`` returns the logits ``(batch, max_digits + 1, 11)``.
    """

    kind = 'baseline'

    def __init__(self, num_units_enc=10, num_units_dec=10, max_digits=20):
        super().__init__(num_units_enc)
        self.n_steps = max_digits + 1
        self.decoder = LasagneGRU(num_units_enc, num_units_dec)
        self.out = nn.Linear(num_units_dec, NUM_OUTPUTS)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x, xmask):
        enc = self.encode(x, xmask)
        last = enc[:, -1, :]  # (batch, E)
        rep = last[:, None, :].expand(-1, self.n_steps, -1)
        dec = self.decoder(rep)  # (batch, D, U)
        return self.out(dec)


class TorchAttention(_Seq2Seq):
    """GRU encoder -> LSTM decoder attending over it -> softmax.

    ``forward`` returns the logits ``(batch, max_digits + 1, 11)`` and sets
    ``self.alpha`` (batch, max_digits + 1, L).
    """

    kind = 'attention'

    def __init__(
        self,
        num_units_enc=10,
        num_units_dec=10,
        aln_num_units=20,
        max_digits=20,
    ):
        super().__init__(num_units_enc)
        U, E, A = num_units_dec, num_units_enc, aln_num_units
        self.num_units = U
        self.n_steps = max_digits + 1
        p = nn.Parameter
        for gate in GATES:
            setattr(self, 'W_hid_to_' + gate, p(_normal_(torch.empty(U, U))))
            setattr(self, 'b_' + gate, p(torch.zeros(U)))
        for gate in GATES:
            setattr(
                self,
                'W_weightedhid_to_' + gate,
                p(_normal_(torch.empty(E, U))),
            )
        for gate in ('ingate', 'forgetgate', 'outgate'):
            setattr(self, 'W_cell_to_' + gate, p(_normal_(torch.empty(U))))
        self.W_a = p(_normal_(torch.empty(U, A)))
        self.U_a = p(_normal_(torch.empty(E, A)))
        self.v_a = p(_normal_(torch.empty(A, 1)))
        self.out = nn.Linear(E, NUM_OUTPUTS)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.alpha = None

    def decode(self, H):
        """Contexts (batch, D, E) for encoder states H; sets ``alpha``."""
        batch = H.shape[0]
        U = self.num_units
        W_hid = torch.cat([getattr(self, 'W_hid_to_' + g) for g in GATES], 1)
        W_ctx = torch.cat(
            [getattr(self, 'W_weightedhid_to_' + g) for g in GATES], 1
        )
        b = torch.cat([getattr(self, 'b_' + g) for g in GATES])
        hUa = H @ self.U_a  # (batch, L, A), once
        h = H.new_zeros(batch, U)
        c = H.new_zeros(batch, U)
        ctxs, alphas = [], []
        for _ in range(self.n_steps):
            aligned = torch.tanh((h @ self.W_a)[:, None, :] + hUa)
            e = (aligned @ self.v_a)[:, :, 0]  # (batch, L)
            alpha = torch.softmax(e, dim=1)
            ctx = torch.bmm(alpha[:, None, :], H)[:, 0, :]  # (batch, E)
            gates = h @ W_hid + b + ctx @ W_ctx
            i, f, g, o = gates.split(U, dim=1)
            i = torch.sigmoid(i + c * self.W_cell_to_ingate)
            f = torch.sigmoid(f + c * self.W_cell_to_forgetgate)
            g = torch.tanh(g)
            o = torch.sigmoid(o)
            c = f * c + i * g
            o = o + c * self.W_cell_to_outgate  # after the sigmoid
            h = o * torch.tanh(c)
            ctxs.append(ctx)
            alphas.append(alpha)
        self.alpha = torch.stack(alphas, dim=1)
        return torch.stack(ctxs, dim=1)

    def forward(self, x, xmask):
        return self.out(self.decode(self.encode(x, xmask)))


def build_torch_model(model='baseline', **config):
    """``TorchBaseline`` or ``TorchAttention`` by name."""
    builders = {'baseline': TorchBaseline, 'attention': TorchAttention}
    return builders[model](**config)


def clip_gradients(params, grad_clip=3.0, max_norm=3.0, epsilon=1e-7):
    """Element-wise clamp, then Lasagne's ``total_norm_constraint``.

    Returns the total norm after the element-wise clamp (a 0-d tensor).
    """
    grads = [p.grad for p in params]
    for g in grads:
        g.clamp_(-grad_clip, grad_clip)
    norm = torch.sqrt(sum((g * g).sum() for g in grads))
    multiplier = torch.clamp(norm, max=max_norm) / (norm + epsilon)
    for g in grads:
        g.mul_(multiplier)
    return norm


class LasagneAdam(object):
    """Adam exactly in Lasagne 0.1's form (see the module notes)."""

    def __init__(
        self, params, learning_rate=0.005, beta1=0.9, beta2=0.999, epsilon=1e-8
    ):
        self.params = list(params)
        self.lr, self.beta1, self.beta2 = learning_rate, beta1, beta2
        self.epsilon = epsilon
        self.t = 0
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        a_t = self.lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.addcdiv_(m, v.sqrt().add_(self.epsilon), value=-a_t)


class TensorStepAdam(LasagneAdam):
    """:class:`LasagneAdam` with its step counter a tensor, for
    ``torch.compile``.

    A Python counter is a constant to ``torch.compile``: every step would
    be a new graph.  Here ``t`` and the bias correction ``a_t`` are float32
    tensors, and the step is ``p -= a_t m / (sqrt(v) + epsilon)``, the
    very expression of Lasagne 0.1 (Theano computes ``a_t`` in float32
    too).
    """

    def __init__(self, params, learning_rate=0.005, **kwargs):
        super().__init__(params, learning_rate, **kwargs)
        self.t = torch.zeros(())

    @torch.no_grad()
    def step(self):
        self.t.add_(1)
        b1, b2 = self.beta1, self.beta2
        a_t = self.lr * torch.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.sub_(a_t * m / (v.sqrt() + self.epsilon))


class TorchTrainer(object):
    """The notebook's training recipe for a torch model.

    ``train_step(x, y, xmask)`` and ``evaluate(x, y, xmask)`` take the
    NumPy arrays of :func:`seq2seq_lasagne.data_generator.get_batch`, as
    :class:`seq2seq_lasagne.training.Trainer` does.

    Parameters
    ----------
    model : TorchBaseline or TorchAttention
    learning_rate, grad_clip, max_norm : float
    native_optim : bool
        Use ``torch.nn.utils.clip_grad_norm_`` and ``torch.optim.Adam``
        (foreach) instead of the Lasagne-exact forms.
    """

    def __init__(
        self,
        model,
        learning_rate=0.005,
        grad_clip=3.0,
        max_norm=3.0,
        native_optim=False,
    ):
        self.model = model
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.grad_clip, self.max_norm = grad_clip, max_norm
        self.native_optim = native_optim
        if native_optim:
            self.optimizer = torch.optim.Adam(
                self.params, lr=learning_rate, betas=(0.9, 0.999), eps=1e-8
            )
        else:
            self.optimizer = LasagneAdam(self.params, learning_rate)

    @staticmethod
    def _tensors(x, xmask, y=None):
        out = [
            torch.from_numpy(np.asarray(x, dtype=np.int64)),
            torch.from_numpy(np.asarray(xmask, dtype=np.float32)),
        ]
        if y is not None:
            out.append(torch.from_numpy(np.asarray(y, dtype=np.int64)))
        return out

    def loss(self, x, xmask, y):
        """Cost, accuracy and logits (tensors) of a batch."""
        logits = self.model(x, xmask)
        cost = F.cross_entropy(logits.reshape(-1, NUM_OUTPUTS), y.reshape(-1))
        acc = (logits.argmax(dim=-1) == y).float().mean()
        return cost, acc, logits

    def compute_gradients(self, x, xmask, y):
        """Fill ``p.grad`` with the clipped gradients; returns the cost."""
        x, xmask, y = self._tensors(x, xmask, y)
        for p in self.params:
            p.grad = None
        cost, acc, _ = self.loss(x, xmask, y)
        cost.backward()
        if self.native_optim:
            for p in self.params:
                p.grad.clamp_(-self.grad_clip, self.grad_clip)
            torch.nn.utils.clip_grad_norm_(self.params, self.max_norm)
        else:
            clip_gradients(self.params, self.grad_clip, self.max_norm)
        return cost.detach(), acc

    def train_step(self, x, y, xmask, ymask=None):
        """One Adam step on a batch; returns ``(cost, accuracy)``."""
        cost, acc = self.compute_gradients(x, xmask, y)
        self.optimizer.step()
        return float(cost), float(acc)

    @torch.no_grad()
    def evaluate(self, x, y, xmask, ymask=None):
        """Accuracy, softmax output and alpha, as ``Trainer.evaluate``."""
        x, xmask = self._tensors(x, xmask)
        logits = self.model(x, xmask)
        output = torch.softmax(logits, dim=-1)
        acc = float('nan')
        if y is not None:
            yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
            acc = float((logits.argmax(dim=-1) == yt).float().mean())
        alpha = getattr(self.model, 'alpha', None)
        return {
            'accuracy': acc,
            'output': output.numpy(),
            'alpha': None if alpha is None else alpha.numpy(),
        }


def _gru_from_lasagne(gru, prefix, values):
    """Copy Lasagne ``GRULayer`` weights (by name) into a LasagneGRU."""

    def get(name):
        return np.asarray(values[prefix + '.' + name], dtype=np.float32)

    # torch gate order r, z, n; z is Lasagne's update gate negated.
    w_ih = np.concatenate(
        [
            get('W_in_to_resetgate'),
            -get('W_in_to_updategate'),
            get('W_in_to_hidden_update'),
        ],
        axis=1,
    ).T
    w_hh = np.concatenate(
        [
            get('W_hid_to_resetgate'),
            -get('W_hid_to_updategate'),
            get('W_hid_to_hidden_update'),
        ],
        axis=1,
    ).T
    b_ih = np.concatenate(
        [get('b_resetgate'), -get('b_updategate'), get('b_hidden_update')]
    )
    hid_init = values.get(prefix + '.hid_init')
    if hid_init is not None and np.any(hid_init):
        raise ValueError(
            '%s.hid_init is not zero: LasagneGRU starts from zero' % prefix
        )
    with torch.no_grad():
        g = gru.gru
        g.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(w_ih)))
        g.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(w_hh)))
        g.bias_ih_l0.copy_(torch.from_numpy(b_ih))
        g.bias_hh_l0.zero_()


def load_lasagne_params(model, values):
    """Give a torch model the weights of a Lasagne model of the package.

    Parameters
    ----------
    model : TorchBaseline or TorchAttention
    values : dict
        Lasagne parameter name -> ndarray, e.g. ``{p.name: p.get_value()
        for p in lasagne_model.all_params()}``.
    """
    _gru_from_lasagne(model.encoder, 'GRUEncoder', values)
    if model.kind == 'baseline':
        _gru_from_lasagne(model.decoder, 'GRUDecoder', values)
    else:
        names = ['W_hid_to_' + g for g in GATES] + ['b_' + g for g in GATES]
        names += ['W_weightedhid_to_' + g for g in GATES]
        names += [
            'W_cell_to_' + g for g in ('ingate', 'forgetgate', 'outgate')
        ]
        renamed = {
            'W_a': 'AlignSeqOutputLayer: (aln) W_a',
            'U_a': 'AlignSeqOutputLayer: (aln) U_a',
            'v_a': 'AlignSeqOutputLayer: v_a',
        }
        for state in ('hid_init', 'cell_init'):
            value = values.get('LSTMDecoder.' + state)
            if value is not None and np.any(value):
                raise ValueError('LSTMDecoder.%s is not zero' % state)
        with torch.no_grad():
            for name in names + list(renamed):
                value = values['LSTMDecoder.' + renamed.get(name, name)]
                getattr(model, name).copy_(
                    torch.from_numpy(np.asarray(value, dtype=np.float32))
                )
    with torch.no_grad():
        model.out.weight.copy_(
            torch.from_numpy(
                np.ascontiguousarray(
                    np.asarray(values['SoftmaxOutput.W'], dtype=np.float32).T
                )
            )
        )
        model.out.bias.copy_(
            torch.from_numpy(
                np.asarray(values['SoftmaxOutput.b'], dtype=np.float32)
            )
        )


def _tensor_value(t, grads):
    t = t.grad if grads else t
    return None if t is None else t.detach().cpu().numpy().copy()


def _gru_to_lasagne(gru, prefix, grads, out):
    g = gru.gru
    U = gru.num_units
    w_ih = _tensor_value(g.weight_ih_l0, grads).T
    w_hh = _tensor_value(g.weight_hh_l0, grads).T
    b_ih = _tensor_value(g.bias_ih_l0, grads)
    for k, (gate, sign) in enumerate(
        (('resetgate', 1), ('updategate', -1), ('hidden_update', 1))
    ):
        cols = slice(k * U, (k + 1) * U)
        out[prefix + '.W_in_to_' + gate] = sign * w_ih[:, cols]
        out[prefix + '.W_hid_to_' + gate] = sign * w_hh[:, cols]
        out[prefix + '.b_' + gate] = sign * b_ih[cols]


def export_lasagne_params(model, grads=False):
    """The trainable weights (or their ``.grad``) under Lasagne's names.

    The inverse of :func:`load_lasagne_params`, for comparisons.
    """
    out = {}
    _gru_to_lasagne(model.encoder, 'GRUEncoder', grads, out)
    if model.kind == 'baseline':
        _gru_to_lasagne(model.decoder, 'GRUDecoder', grads, out)
    else:
        for name in (
            ['W_hid_to_' + g for g in GATES]
            + ['b_' + g for g in GATES]
            + ['W_weightedhid_to_' + g for g in GATES]
            + ['W_cell_to_' + g for g in ('ingate', 'forgetgate', 'outgate')]
        ):
            out['LSTMDecoder.' + name] = _tensor_value(
                getattr(model, name), grads
            )
        out['LSTMDecoder.AlignSeqOutputLayer: (aln) W_a'] = _tensor_value(
            model.W_a, grads
        )
        out['LSTMDecoder.AlignSeqOutputLayer: (aln) U_a'] = _tensor_value(
            model.U_a, grads
        )
        out['LSTMDecoder.AlignSeqOutputLayer: v_a'] = _tensor_value(
            model.v_a, grads
        )
    out['SoftmaxOutput.W'] = _tensor_value(model.out.weight, grads).T
    out['SoftmaxOutput.b'] = _tensor_value(model.out.bias, grads)
    return out


class CompiledTorchTrainer(TorchTrainer):
    """:class:`TorchTrainer` whose training step runs under
    ``torch.compile``.

    The whole step -- forward pass, cost, ``backward()``, the clipping and
    Adam -- is one compiled function (``torch.compile`` splits it where
    autograd's ``backward()`` runs: the forward graph with its compiled
    backward, then clipping and Adam); the validation pass compiles the
    model's forward.  Adam is :class:`TensorStepAdam`, so that the step
    counter does not recompile the graph.

    Parameters
    ----------
    model : TorchBaseline or TorchAttention
    learning_rate, grad_clip, max_norm : float
    mode : str or None
        ``torch.compile``'s mode (None: its default).
    dynamic : bool or None
        ``torch.compile``'s ``dynamic`` (None: recompile once, then treat
        the input length as symbolic).
    """

    def __init__(
        self,
        model,
        learning_rate=0.005,
        grad_clip=3.0,
        max_norm=3.0,
        mode=None,
        dynamic=None,
    ):
        super().__init__(model, learning_rate, grad_clip, max_norm)
        self.optimizer = TensorStepAdam(self.params, learning_rate)
        self.mode, self.dynamic = mode, dynamic
        self._step = torch.compile(
            self._eager_step, mode=mode, dynamic=dynamic
        )
        self._grads = torch.compile(
            self._eager_grads, mode=mode, dynamic=dynamic
        )
        self._forward = torch.compile(model, mode=mode, dynamic=dynamic)

    def _eager_grads(self, x, xmask, y):
        for p in self.params:
            p.grad = None
        cost, acc, _ = self.loss(x, xmask, y)
        cost.backward()
        clip_gradients(self.params, self.grad_clip, self.max_norm)
        return cost.detach(), acc

    def _eager_step(self, x, xmask, y):
        cost, acc = self._eager_grads(x, xmask, y)
        self.optimizer.step()
        return cost, acc

    def compute_gradients(self, x, xmask, y):
        """Fill ``p.grad`` with the clipped gradients (compiled)."""
        return self._grads(*self._tensors(x, xmask, y))

    def train_step(self, x, y, xmask, ymask=None):
        """One compiled Adam step; returns ``(cost, accuracy)``."""
        cost, acc = self._step(*self._tensors(x, xmask, y))
        return float(cost), float(acc)

    @torch.no_grad()
    def evaluate(self, x, y, xmask, ymask=None):
        """As :meth:`TorchTrainer.evaluate`, with the compiled forward."""
        x, xmask = self._tensors(x, xmask)
        logits = self._forward(x, xmask)
        output = torch.softmax(logits, dim=-1)
        acc = float('nan')
        if y is not None:
            yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
            acc = float((logits.argmax(dim=-1) == yt).float().mean())
        alpha = getattr(self.model, 'alpha', None)
        return {
            'accuracy': acc,
            'output': output.numpy(),
            'alpha': None if alpha is None else alpha.numpy(),
        }
