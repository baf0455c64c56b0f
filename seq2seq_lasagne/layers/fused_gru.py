"""A GRU's whole recurrence as one op, forward and backpropagation.

Lasagne's ``GRULayer`` runs its recurrence with ``theano.scan``: per time
step scan's loop calls a compiled inner function of a dozen small ops
(a matrix product, slices, the gates' nonlinearities, the mask), and its
gradient is a second scan of twice as many.  At the lab's sizes (batch
100, 10 units, about 100 characters) a step's arithmetic is small beside
what the loop and the ops cost per step (benchmarks/README.md, the
baseline's step profile).

:class:`GRURecurrence` runs every step in one C call.  With ``x`` the
input already projected, ``x_t = input_t . W_in + b`` (Lasagne's
``precompute_input``), ``a = h_{t-1} . W_hid`` and each gate's block of
``x_t`` and ``a`` written ``[r]``, ``[u]``, ``[c]``::

    r = sigmoid(x_t[r] + a[r])
    u = sigmoid(x_t[u] + a[u])
    c = tanh(x_t[c] + r * a[c])
    h_t = (1 - u) * h_{t-1} + u * c
    h_t = m_t * h_t + (1 - m_t) * h_{t-1}        (with a mask)

which is Lasagne's ``GRULayer`` step.  Besides the states the op keeps
``r``, ``u``, ``c`` and ``a[c]`` of every step, and its gradient
:class:`GRURecurrenceGrad` walks the steps backwards from them in one more
C call: the gradients of ``x``, of the initial state and of ``W_hid``.

The values are Theano's up to float rounding, not to the bit: the products
sum in another order than BLAS's.  That is why the fused recurrence is an
option (``fused_gru``), off in the notebook's recipe.
"""

import numpy as np
import theano
import theano.tensor as T
from theano.gradient import DisconnectedType, grad_undefined

from .c_ops import FusedOp, as_float_tensor, same_dtype

__all__ = ['GRURecurrence', 'GRURecurrenceGrad', 'gru_recurrence']

_OP = 'GRU recurrence'

#: The C code's version, in every op's cache key (see :class:`.FusedOp`).
_C_VERSION = (5,)

#: The kernels.  A step's saved values lie in one block of 4 * B * U:
#: r and u interleaved per sequence (B, 2U), then c (B, U) and a[c] (B, U),
#: each contiguous so that the nonlinearities run as one vectorized loop.
_KERNELS = """
/* The notebook's GRUs have 10 units: for U = 10 the width is a
   compile-time constant, and the loops over 3U unroll and vectorize. */
#define s2s_units(U, call) \\
    do { \\
        if ((U) == 10) call(10); \\
        else call(0); \\
    } while (0)

/* a = hp . w: (B, U) . (U, 3U), hp's rows hs apart. */
template <typename T, int NU>
static void s2s_gru_project(const T* __restrict__ hp, npy_intp hs,
                            const T* __restrict__ w, T* __restrict__ a,
                            npy_intp B, npy_intp U_)
{
    const npy_intp U = NU ? NU : U_, G = 3 * U;
    npy_intp b, k, j;
    for (b = 0; b < B; ++b) {
        T* ab = a + b * G;
        const T* pb = hp + b * hs;
        for (j = 0; j < G; ++j)
            ab[j] = 0;
        for (k = 0; k < U; ++k) {
            const T hk = pb[k];
            const T* wk = w + k * G;
            for (j = 0; j < G; ++j)
                ab[j] += hk * wk[j];
        }
    }
}

/* Batch-major, as the layer's input and output: x (B, T, 3U); h0 (B, U);
   w (U, 3U); mask (B, T) or NULL; h (B, T, U); s (T, 4 B U) the saved
   values; a (B, 3U) work space.  Step t starts from the state of step
   prev, whose rows lie hs apart (h0's U, h's T U). */
#define S2S_PREVIOUS(step, t) \\
    const npy_intp prev = (step) == 0 ? -1 \\
        : (backwards ? (t) + 1 : (t) - 1); \\
    const T* hp = prev < 0 ? h0 : h + prev * U; \\
    const npy_intp hs = prev < 0 ? U : Tn * U

template <typename T, int NU, bool MASK>
__attribute__((noinline)) static void s2s_gru_forward(
    const T* __restrict__ x, const T* __restrict__ h0,
    const T* __restrict__ w, const T* __restrict__ mask, T* __restrict__ h,
    T* __restrict__ s, T* __restrict__ a, npy_intp Tn, npy_intp B,
    npy_intp U_, int backwards)
{
    const npy_intp U = NU ? NU : U_, G = 3 * U, BU = B * U;
    npy_intp step, b, j;
    for (step = 0; step < Tn; ++step) {
        const npy_intp t = backwards ? Tn - 1 - step : step;
        S2S_PREVIOUS(step, t);
        T* ru = s + t * 4 * BU;
        T* c = ru + 2 * BU;
        T* ac = c + BU;
        s2s_gru_project<T, NU>(hp, hs, w, a, B, U);
        for (b = 0; b < B; ++b) {
            const T* xb = x + (b * Tn + t) * G;
            for (j = 0; j < 2 * U; ++j)
                ru[b * 2 * U + j] = xb[j] + a[b * G + j];
        }
        s2s_sigmoid(ru, 2 * BU);
        for (b = 0; b < B; ++b) {
            const T* xb = x + (b * Tn + t) * G + 2 * U;
            for (j = 0; j < U; ++j) {
                const T acj = a[b * G + 2 * U + j];
                ac[b * U + j] = acj;
                c[b * U + j] = xb[j] + ru[b * 2 * U + j] * acj;
            }
        }
        s2s_tanh(c, BU);
        for (b = 0; b < B; ++b) {
            const T m = MASK ? mask[b * Tn + t] : 1;
            const T* pb = hp + b * hs;
            T* hb = h + (b * Tn + t) * U;
            for (j = 0; j < U; ++j) {
                const T u = ru[b * 2 * U + U + j], p = pb[j];
                const T hn = (1 - u) * p + u * c[b * U + j];
                hb[j] = MASK ? hn * m + p * (1 - m) : hn;
            }
        }
    }
}

/* dhb += dab . wt, (3U,) . (3U, U): two running sums, each kept in
   registers, so that the additions of one do not wait on the other. */
template <typename T, int NU>
static inline void s2s_gru_dh(const T* __restrict__ dab,
                              const T* __restrict__ wt, T* __restrict__ dhb,
                              npy_intp U_)
{
    const npy_intp U = NU ? NU : U_, G = 3 * U;
    npy_intp j, k;
    if (NU) {
        T s0[NU ? NU : 1], s1[NU ? NU : 1];
        for (k = 0; k < U; ++k)
            s0[k] = s1[k] = 0;
        for (j = 0; j + 1 < G; j += 2)
            for (k = 0; k < U; ++k) {
                s0[k] += dab[j] * wt[j * U + k];
                s1[k] += dab[j + 1] * wt[(j + 1) * U + k];
            }
        for (; j < G; ++j)
            for (k = 0; k < U; ++k)
                s0[k] += dab[j] * wt[j * U + k];
        for (k = 0; k < U; ++k)
            dhb[k] += s0[k] + s1[k];
    }
    else
        for (j = 0; j < G; ++j)
            for (k = 0; k < U; ++k)
                dhb[k] += dab[j] * wt[j * U + k];
}

/* gh (B, T, U) the states' gradient; gx (B, T, 3U); gh0 (B, U); gw (U,
   3U), summed over the steps in gw_sum (U * 3U doubles); work: 4 B U +
   6 U U values (dh, da, w transposed, one step's part of gw). */
template <typename T, int NU, bool MASK>
__attribute__((noinline)) static void s2s_gru_backward(
    const T* __restrict__ h0, const T* __restrict__ w,
    const T* __restrict__ h, const T* __restrict__ s,
    const T* __restrict__ mask, const T* __restrict__ gh,
    T* __restrict__ gx, T* __restrict__ gh0, T* __restrict__ gw,
    double* __restrict__ gw_sum, T* __restrict__ work, npy_intp Tn,
    npy_intp B, npy_intp U_, int backwards)
{
    const npy_intp U = NU ? NU : U_, G = 3 * U, BU = B * U;
    T* __restrict__ dh = work;
    T* __restrict__ da = dh + BU;
    T* __restrict__ wt = da + B * G;
    T* __restrict__ gws = wt + G * U;
    npy_intp step, b, j, k;
    for (j = 0; j < BU; ++j)
        dh[j] = 0;
    for (j = 0; j < U * G; ++j)
        gw_sum[j] = 0;
    for (k = 0; k < U; ++k)
        for (j = 0; j < G; ++j)
            wt[j * U + k] = w[k * G + j];
    for (step = Tn - 1; step >= 0; --step) {
        const npy_intp t = backwards ? Tn - 1 - step : step;
        S2S_PREVIOUS(step, t);
        const T* ru = s + t * 4 * BU;
        const T* c = ru + 2 * BU;
        const T* ac = c + BU;
        for (b = 0; b < B; ++b) {
            const T m = MASK ? mask[b * Tn + t] : 1;
            const T* ghb = gh + (b * Tn + t) * U;
            const T* pb = hp + b * hs;
            T* gxb = gx + (b * Tn + t) * G;
            T* dab = da + b * G;
            for (j = 0; j < U; ++j) {
                const npy_intp i = b * U + j;
                const T d = dh[i] + ghb[j];
                const T dn = MASK ? d * m : d;
                const T r = ru[b * 2 * U + j], u = ru[b * 2 * U + U + j];
                const T cj = c[i];
                const T dzc = dn * u * (1 - cj * cj);
                const T dzu = dn * (cj - pb[j]) * u * (1 - u);
                const T dzr = dzc * ac[i] * r * (1 - r);
                gxb[j] = dzr;
                gxb[U + j] = dzu;
                gxb[2 * U + j] = dzc;
                dab[j] = dzr;
                dab[U + j] = dzu;
                dab[2 * U + j] = dzc * r;
                dh[i] = dn * (1 - u) + (MASK ? d * (1 - m) : 0);
            }
        }
        for (j = 0; j < U * G; ++j)
            gws[j] = 0;
        for (b = 0; b < B; ++b) {
            const T* dab = da + b * G;
            const T* pb = hp + b * hs;
            T* dhb = dh + b * U;
            s2s_gru_dh<T, NU>(dab, wt, dhb, U);
            for (k = 0; k < U; ++k) {
                const T pk = pb[k];
                T* gk = gws + k * G;
                for (j = 0; j < G; ++j)
                    gk[j] += pk * dab[j];
            }
        }
        for (j = 0; j < U * G; ++j)
            gw_sum[j] += gws[j];
    }
    for (j = 0; j < BU; ++j)
        gh0[j] = dh[j];
    for (j = 0; j < U * G; ++j)
        gw[j] = (T)gw_sum[j];
}
#undef S2S_PREVIOUS
"""

#: Both ops start the same way: the shapes of h0, w and the mask checked,
#: and contiguous views of them.  T, B and U come from h0 and the op's
#: third input (x forward, H backward), whose last dimension is ``width``.
_PROLOGUE = """
    PyArrayObject *h0_c = NULL, *w_c = NULL, *m_c = NULL, *seq_c = NULL;
    npy_intp Tn, B, U;
    if (s2s_check(%(seq)s, 3, "%(op)s", "%(seq_name)s")
            || s2s_check(%(h0)s, 2, "%(op)s", "the initial state")
            || s2s_check(%(w)s, 2, "%(op)s", "W_hid")) %(fail)s;
    B = PyArray_DIMS(%(seq)s)[0];
    Tn = PyArray_DIMS(%(seq)s)[1];
    U = PyArray_DIMS(%(h0)s)[1];
    if (PyArray_DIMS(%(seq)s)[2] != %(width)s * U
            || PyArray_DIMS(%(h0)s)[0] != B
            || PyArray_DIMS(%(w)s)[0] != U
            || PyArray_DIMS(%(w)s)[1] != 3 * U) {
        PyErr_Format(PyExc_ValueError,
                     "%(op)s: %(seq_name)s (%%ld, %%ld, %%ld), the initial "
                     "state (%%ld, %%ld) and W_hid (%%ld, %%ld) do not fit",
                     (long)B, (long)Tn, (long)PyArray_DIMS(%(seq)s)[2],
                     (long)PyArray_DIMS(%(h0)s)[0], (long)U,
                     (long)PyArray_DIMS(%(w)s)[0],
                     (long)PyArray_DIMS(%(w)s)[1]);
        %(fail)s;
    }
%(mask_check)s    seq_c = PyArray_GETCONTIGUOUS(%(seq)s);
    h0_c = PyArray_GETCONTIGUOUS(%(h0)s);
    w_c = PyArray_GETCONTIGUOUS(%(w)s);
    const %(dtype)s* mask_data = m_c ? (const %(dtype)s*)PyArray_DATA(m_c)
                                     : NULL;
    int ready = seq_c && h0_c && w_c && (m_c || !%(masked)d);
"""

#: With a mask: its shape checked, and a contiguous view of it.
_MASK_CHECK = """
    if (s2s_check(%(mask)s, 2, "%(op)s", "the mask")) %(fail)s;
    if (PyArray_DIMS(%(mask)s)[0] != B
            || PyArray_DIMS(%(mask)s)[1] != Tn) {
        PyErr_Format(PyExc_ValueError,
                     "%(op)s: the mask (%%ld, %%ld) does not fit %%ld "
                     "sequences of %%ld steps",
                     (long)PyArray_DIMS(%(mask)s)[0],
                     (long)PyArray_DIMS(%(mask)s)[1], (long)B,
                     (long)Tn);
        %(fail)s;
    }
    m_c = PyArray_GETCONTIGUOUS(%(mask)s);
"""

_RELEASE = """
    Py_XDECREF(seq_c);
    Py_XDECREF(h0_c);
    Py_XDECREF(w_c);
    Py_XDECREF(m_c);
    if (PyErr_Occurred()) %(fail)s;
}
"""


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _steps(n_steps, backwards):
    return range(n_steps - 1, -1, -1) if backwards else range(n_steps)


def _previous(t, n_steps, backwards):
    """The step whose state step ``t`` starts from, or None (h0)."""
    first = n_steps - 1 if backwards else 0
    return None if t == first else (t + 1 if backwards else t - 1)


def numpy_forward(x, h0, w, mask=None, backwards=False):
    """:class:`GRURecurrence` in NumPy: the states and the saved values.

    Arguments are batch-major as the op's: ``x`` (B, T, 3U), ``mask`` (B,
    T).

    Returns
    -------
    h : ndarray
        (B, T, U).
    saved : tuple of ndarray
        ``r``, ``u``, ``c``, ``a[c]``, each (T, B, U).
    """
    x = x.transpose(1, 0, 2)
    mask = None if mask is None else mask.T
    n_steps, _, width = x.shape
    units = width // 3
    h = np.zeros(x.shape[:2] + (units,), x.dtype)
    saved = [np.zeros_like(h) for _ in range(4)]
    for t in _steps(n_steps, backwards):
        prev = _previous(t, n_steps, backwards)
        hp = h0 if prev is None else h[prev]
        a = np.dot(hp, w)
        r = _sigmoid(x[t, :, :units] + a[:, :units])
        u = _sigmoid(x[t, :, units : 2 * units] + a[:, units : 2 * units])
        ac = a[:, 2 * units :]
        c = np.tanh(x[t, :, 2 * units :] + r * ac)
        hn = (1 - u) * hp + u * c
        if mask is not None:
            m = mask[t][:, None]
            hn = hn * m + hp * (1 - m)
        h[t] = hn
        for out, value in zip(saved, (r, u, c, ac)):
            out[t] = value
    return h.transpose(1, 0, 2), saved


def numpy_backward(h0, w, h, saved, gh, mask=None, backwards=False):
    """:class:`GRURecurrenceGrad` in NumPy: ``gx``, ``gh0``, ``gw``.

    ``h``, ``gh`` (B, T, U) and ``mask`` (B, T) batch-major, ``saved`` as
    :func:`numpy_forward` returns it.
    """
    r, u, c, ac = saved
    h, gh = h.transpose(1, 0, 2), gh.transpose(1, 0, 2)
    mask = None if mask is None else mask.T
    n_steps, batch, units = h.shape
    gx = np.zeros((n_steps, batch, 3 * units), h.dtype)
    gw = np.zeros(w.shape, 'float64')
    dh = np.zeros_like(h0)
    for t in reversed(list(_steps(n_steps, backwards))):
        prev = _previous(t, n_steps, backwards)
        hp = h0 if prev is None else h[prev]
        d = dh + gh[t]
        dn = d if mask is None else d * mask[t][:, None]
        dzc = dn * u[t] * (1 - c[t] * c[t])
        dzu = dn * (c[t] - hp) * u[t] * (1 - u[t])
        dzr = dzc * ac[t] * r[t] * (1 - r[t])
        gx[t] = np.concatenate([dzr, dzu, dzc], axis=1)
        da = np.concatenate([dzr, dzu, dzc * r[t]], axis=1)
        dh = dn * (1 - u[t]) + np.dot(da, w.T)
        if mask is not None:
            dh = dh + d * (1 - mask[t][:, None])
        gw += np.dot(hp.T.astype('float64'), da)
    return (
        gx.transpose(1, 0, 2).copy(),
        dh.astype(h.dtype),
        gw.astype(h.dtype),
    )


def _pack(saved):
    """The saved values (each (T, B, U)) in the C code's layout, (T, 4 B
    U)."""
    r, u, c, ac = saved
    n_steps = r.shape[0]
    ru = np.concatenate([r, u], axis=2).reshape(n_steps, -1)
    return np.concatenate(
        [ru, c.reshape(n_steps, -1), ac.reshape(n_steps, -1)], axis=1
    )


def _unpack(s, batch, units):
    n_steps = s.shape[0]
    blocks = s.reshape(n_steps, 4, batch, units)
    ru = s[:, : 2 * batch * units].reshape(n_steps, batch, 2 * units)
    return (ru[:, :, :units], ru[:, :, units:], blocks[:, 2], blocks[:, 3])


class _GRUOp(FusedOp):
    """What both GRU ops share: their options, kernels and C prologue."""

    __props__ = ('backwards', 'masked')
    c_kernels = _KERNELS
    c_version = _C_VERSION

    def __init__(self, backwards=False, masked=False):
        self.backwards = bool(backwards)
        self.masked = bool(masked)

    def _mask_input(self, mask, n_inputs, op):
        """The mask as a list of inputs (empty unless ``masked``)."""
        if len(mask) != self.masked:
            raise TypeError(
                '%s: %d inputs, not %d'
                % (op, n_inputs + len(mask), n_inputs + self.masked)
            )
        return [as_float_tensor(m, 2, 'the mask', _OP) for m in mask]

    def _prologue(self, node, sub, names):
        """The C code's opening, and the names its body is formatted with:
        ``names`` (the arrays, ``seq`` the sequence whose shape gives T
        and B) and the op's own."""
        names = dict(
            names,
            masked=int(self.masked),
            backwards=int(self.backwards),
            fail=sub['fail'],
            dtype='npy_' + node.inputs[0].dtype,
        )
        names['mask_check'] = _MASK_CHECK % names if self.masked else ''
        return '{\n' + _PROLOGUE % names, names


class GRURecurrence(_GRUOp):
    """The recurrence of Lasagne's ``GRULayer`` in one op.

    Batch-major, as the layer's input and output, so that no transposed
    copy is made on the way in or out.  Inputs ``x`` (batch, T, 3U), the
    input projected with the gates' biases added, in Lasagne's order of
    gates (reset, update, hidden update); ``h0`` (batch, U); ``W_hid`` (U,
    3U), the gates' hidden weights side by side; with ``masked``, ``mask``
    (batch, T), 1 where a step is part of its sequence.  Outputs the states
    ``h`` (batch, T, U), in the input's order of time also when
    ``backwards``, and the saved values (T, 4 batch U) that
    :class:`GRURecurrenceGrad` reads (laid out for the C code; not for use
    elsewhere).

    Parameters
    ----------
    backwards : bool
        Run from the last step to the first, as Lasagne's ``backwards``.
    masked : bool
        Take a fourth input, the mask.
    """

    def make_node(self, x, h0, w, *mask):
        inputs = [
            as_float_tensor(x, 3, 'x', _OP),
            as_float_tensor(h0, 2, 'the initial state', _OP),
            as_float_tensor(w, 2, 'W_hid', _OP),
        ]
        inputs += self._mask_input(mask, 3, _OP)
        same_dtype(*inputs, op=_OP)
        dtype = inputs[0].dtype
        outputs = [T.tensor3(dtype=dtype), T.matrix(dtype=dtype)]
        return theano.Apply(self, inputs, outputs)

    def infer_shape(self, node, shapes):
        batch, n_steps, _ = shapes[0]
        units = shapes[1][1]
        return [(batch, n_steps, units), (n_steps, 4 * batch * units)]

    def connection_pattern(self, node):
        return [[True, True]] * 3 + [[False, False]] * self.masked

    def perform(self, node, inputs, outputs):
        mask = inputs[3] if self.masked else None
        h, saved = numpy_forward(*inputs[:3], mask, self.backwards)
        outputs[0][0] = h
        outputs[1][0] = _pack(saved)

    def grad(self, inputs, output_grads):
        h, saved = self(*inputs)
        gh = output_grads[0]
        if isinstance(gh.type, DisconnectedType):
            gh = T.zeros_like(h)
        grads = GRURecurrenceGrad(self.backwards, self.masked)(
            inputs[1], inputs[2], h, saved, gh, *inputs[3:]
        )
        grads = [
            T.patternbroadcast(g, x.broadcastable)
            for g, x in zip(grads, inputs)
        ]
        return grads + [DisconnectedType()()] * self.masked

    def c_code(self, node, name, inputs, outputs, sub):
        head, names = self._prologue(
            node,
            sub,
            dict(
                zip(('seq', 'h0', 'w', 'mask'), inputs),
                h=outputs[0],
                s=outputs[1],
                seq_name='x',
                width=3,
                op=_OP,
            ),
        )
        return (
            head
            + """
    npy_intp dh[3] = {B, Tn, U}, ds[2] = {Tn, 4 * B * U};
    if (ready && !s2s_output(&%(h)s, 3, dh, PyArray_TYPE(seq_c))
            && !s2s_output(&%(s)s, 2, ds, PyArray_TYPE(seq_c))) {
        %(dtype)s* a = (%(dtype)s*)malloc(sizeof(%(dtype)s) * (3 * B * U + 1));
        if (a == NULL)
            PyErr_NoMemory();
        else
        {
#define S2S_CALL(NU) \\
            if (%(masked)d) s2s_gru_forward<%(dtype)s, NU, true>( \\
                (const %(dtype)s*)PyArray_DATA(seq_c), \\
                (const %(dtype)s*)PyArray_DATA(h0_c), \\
                (const %(dtype)s*)PyArray_DATA(w_c), mask_data, \\
                (%(dtype)s*)PyArray_DATA(%(h)s), \\
                (%(dtype)s*)PyArray_DATA(%(s)s), a, Tn, B, U, \\
                %(backwards)d); \\
            else s2s_gru_forward<%(dtype)s, NU, false>( \\
                (const %(dtype)s*)PyArray_DATA(seq_c), \\
                (const %(dtype)s*)PyArray_DATA(h0_c), \\
                (const %(dtype)s*)PyArray_DATA(w_c), NULL, \\
                (%(dtype)s*)PyArray_DATA(%(h)s), \\
                (%(dtype)s*)PyArray_DATA(%(s)s), a, Tn, B, U, %(backwards)d)
            s2s_units(U, S2S_CALL);
#undef S2S_CALL
        }
        free(a);
    }
"""
            % names
            + _RELEASE % names
        )


class GRURecurrenceGrad(_GRUOp):
    """The gradients of :class:`GRURecurrence`, backpropagation through time.

    Inputs ``h0`` (batch, U), ``W_hid`` (U, 3U), the forward op's outputs
    ``h`` (batch, T, U) and saved values, the states' gradient ``gh``
    (batch, T, U) and, with ``masked``, the mask (batch, T).  Outputs the
    gradients of ``x`` (batch, T, 3U), ``h0`` and ``W_hid``.  ``W_hid``'s
    gradient sums each step's part over the batch in the inputs' dtype, as
    Theano's product does, and the steps' parts in float64.

    Parameters
    ----------
    backwards, masked : bool
        The forward op's.
    """

    def make_node(self, h0, w, h, saved, gh, *mask):
        names = ('the initial state', 'W_hid', 'h', 'the saved values', 'gh')
        ndims = (2, 2, 3, 2, 3)
        inputs = [
            as_float_tensor(v, n, name, _OP)
            for v, n, name in zip((h0, w, h, saved, gh), ndims, names)
        ]
        inputs += self._mask_input(mask, 5, _OP + ' gradient')
        same_dtype(*inputs, op=_OP)
        dtype = inputs[0].dtype
        outputs = [T.tensor3(dtype=dtype), T.matrix(dtype=dtype)]
        outputs.append(T.matrix(dtype=dtype))
        return theano.Apply(self, inputs, outputs)

    def infer_shape(self, node, shapes):
        batch, n_steps, units = shapes[2]
        return [(batch, n_steps, 3 * units), shapes[0], shapes[1]]

    def perform(self, node, inputs, outputs):
        h0, w, h, s, gh = inputs[:5]
        mask = inputs[5] if self.masked else None
        saved = _unpack(s, h.shape[0], h.shape[2])
        grads = numpy_backward(h0, w, h, saved, gh, mask, self.backwards)
        for out, value in zip(outputs, grads):
            out[0] = value

    def grad(self, inputs, output_grads):
        return [
            grad_undefined(self, i, x, 'second derivative not implemented')
            for i, x in enumerate(inputs)
        ]

    def c_code(self, node, name, inputs, outputs, sub):
        head, names = self._prologue(
            node,
            sub,
            dict(
                zip(('h0', 'w', 'seq', 's', 'gh', 'mask'), inputs),
                h=inputs[2],
                gx=outputs[0],
                gh0=outputs[1],
                gw=outputs[2],
                seq_name='h',
                width=1,
                op=_OP + ' gradient',
            ),
        )
        return (
            head
            + """
    PyArrayObject *s_c = NULL, *gh_c = NULL;
    double* gw_sum = NULL;
    %(dtype)s* work = NULL;
    if (ready && (s2s_check(%(s)s, 2, "%(op)s", "the saved values")
                  || s2s_check(%(gh)s, 3, "%(op)s", "gh")))
        ready = 0;
    else if (ready && (PyArray_DIMS(%(s)s)[0] != Tn
                       || PyArray_DIMS(%(s)s)[1] != 4 * B * U
                       || !PyArray_SAMESHAPE(%(gh)s, %(h)s))) {
        PyErr_SetString(PyExc_ValueError,
                        "%(op)s: the saved values or gh do not fit h");
        ready = 0;
    }
    if (ready) {
        s_c = PyArray_GETCONTIGUOUS(%(s)s);
        gh_c = PyArray_GETCONTIGUOUS(%(gh)s);
    }
    npy_intp dx[3] = {B, Tn, 3 * U}, d0[2] = {B, U}, dw[2] = {U, 3 * U};
    if (ready && s_c && gh_c
            && !s2s_output(&%(gx)s, 3, dx, PyArray_TYPE(seq_c))
            && !s2s_output(&%(gh0)s, 2, d0, PyArray_TYPE(seq_c))
            && !s2s_output(&%(gw)s, 2, dw, PyArray_TYPE(seq_c))) {
        gw_sum = (double*)malloc(sizeof(double) * (3 * U * U + 1));
        work = (%(dtype)s*)malloc(sizeof(%(dtype)s)
                                  * (4 * B * U + 6 * U * U + 1));
        if (gw_sum == NULL || work == NULL)
            PyErr_NoMemory();
        else
        {
#define S2S_ARGS \\
                (const %(dtype)s*)PyArray_DATA(h0_c), \\
                (const %(dtype)s*)PyArray_DATA(w_c), \\
                (const %(dtype)s*)PyArray_DATA(seq_c), \\
                (const %(dtype)s*)PyArray_DATA(s_c)
#define S2S_OUTS \\
                (const %(dtype)s*)PyArray_DATA(gh_c), \\
                (%(dtype)s*)PyArray_DATA(%(gx)s), \\
                (%(dtype)s*)PyArray_DATA(%(gh0)s), \\
                (%(dtype)s*)PyArray_DATA(%(gw)s), gw_sum, work, \\
                Tn, B, U, %(backwards)d
#define S2S_CALL(NU) \\
            if (%(masked)d) s2s_gru_backward<%(dtype)s, NU, true>( \\
                S2S_ARGS, mask_data, S2S_OUTS); \\
            else s2s_gru_backward<%(dtype)s, NU, false>( \\
                S2S_ARGS, NULL, S2S_OUTS)
            s2s_units(U, S2S_CALL);
#undef S2S_CALL
#undef S2S_ARGS
#undef S2S_OUTS
        }
        free(gw_sum);
        free(work);
    }
    Py_XDECREF(s_c);
    Py_XDECREF(gh_c);
"""
            % names
            + _RELEASE % names
        )


def gru_recurrence(x, h0, w_hid, mask=None, backwards=False):
    """The GRU's states (batch, T, U) with :class:`GRURecurrence`.

    Parameters
    ----------
    x : TensorVariable
        The input projected with the biases added, (batch, T, 3U).
    h0 : TensorVariable
        The initial state, (batch, U).
    w_hid : TensorVariable
        The hidden weights of the reset gate, the update gate and the
        hidden update side by side, (U, 3U).
    mask : TensorVariable or None
        (batch, T), 1 where a step is part of its sequence.
    backwards : bool
        Run from the last step to the first.

    Returns
    -------
    TensorVariable
        The states, (batch, T, U), in the input's order of time.
    """
    op = GRURecurrence(backwards=backwards, masked=mask is not None)
    extra = [] if mask is None else [mask]
    return op(x, h0, w_hid, *extra)[0]
