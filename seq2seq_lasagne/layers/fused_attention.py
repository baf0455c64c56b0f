"""The attention decoder's step as fused ops: scores and context.

Per decoder step the layer scores every encoder position ``l`` of every
sequence ``b`` and sums the encoder states by their weights::

    e[b, l] = sum_a tanh(q[b, a] + K[b, l, a]) * v[a]
    ctx[b, :] = sum_l alpha[b, l] * H[b, l, :]

with ``q = hid_prev . W_a`` (batch, A), ``K = H . U_a`` (batch, L, A),
``v = v_a`` (A,) and ``alpha = softmax(e)``.  Written with Theano's ops the
scores are a broadcast addition, a ``tanh`` and a matrix-vector product
over (batch, L, A) arrays; the gradient scan recomputes all three, then
``tanh`` once more inside ``1 - tanh**2``, an outer product and a sum over
``L``, each a pass over (batch, L, A) values.  The context is Theano's
``BatchedDot``, one BLAS call per sequence, forward, recomputed in the
gradient scan, and once more for ``alpha``'s gradient.

:class:`AlignmentScores` computes ``e`` in one pass over ``K``; its
gradient :class:`AlignmentScoresGrad` computes ``tanh`` once and the three
gradients in one more, and the scores are no longer recomputed in the
gradient scan (it takes ``alpha`` from the forward scan).
:class:`BatchedMatVec` is the context and ``alpha``'s gradient, one loop
over the batch each.  Importing the module registers one graph rewrite
with Theano's ``specialize`` optimizations,
:func:`local_accumulate_scores_grad`: the gradient scan's running sum of
``K``'s gradient is added by :class:`AlignmentScoresGrad` as it writes
the gradient; graphs without that op are left alone.

The values are Theano's up to float rounding, not to the bit: the sums run
in a different order than BLAS's.  That is why the fused ops are an option
(``fused_attention``), off in the notebook's recipe; benchmarks/README.md
reports what they change in speed and in training.
"""

import numpy as np
import theano
import theano.tensor as T
from theano.gradient import grad_undefined

from .c_ops import FusedOp, as_float_tensor, same_dtype

__all__ = [
    'AlignmentScores',
    'AlignmentScoresGrad',
    'BatchedMatVec',
    'alignment_scores',
]

#: The C code's version, in every op's cache key (see :class:`.FusedOp`).
_C_VERSION = (16,)

#: C helpers of the ops here: the kernels.
_SUPPORT = """
/* The alignment kernels take the alignment width A at run time (NA = 0)
   or, for the notebook's A = 20, at compile time (NA = 20): their loops
   over A are then unrolled and vectorized without remainders. */
#define s2s_width(A, call) \
    do { \
        if ((A) == 20) call(20); \
        else call(0); \
    } while (0)

/* t = tanh(q_b + K_b) for one sequence: an (L, A) block, contiguous, so
   that tanh runs as one vectorized loop over L * A values. */
template <typename T, int NA>
static void s2s_tanh_block(T* __restrict__ t, const T* __restrict__ qb,
                           const T* __restrict__ kb, npy_intp L,
                           npy_intp A_)
{
    const npy_intp A = NA ? NA : A_;
    npy_intp l, a;
    for (l = 0; l < L; ++l)
        for (a = 0; a < A; ++a)
            t[l * A + a] = qb[a] + kb[l * A + a];
    s2s_tanh(t, L * A);
}

template <typename T, int NA>
__attribute__((noinline)) static void s2s_scores(
    const T* __restrict__ q, const T* __restrict__ k,
    const T* __restrict__ v, T* __restrict__ e, T* __restrict__ t,
    npy_intp B, npy_intp L, npy_intp A_)
{
    const npy_intp A = NA ? NA : A_;
    npy_intp b, l, a;
    for (b = 0; b < B; ++b) {
        s2s_tanh_block<T, NA>(t, q + b * A, k + b * L * A, L, A);
        for (l = 0; l < L; ++l) {
            T s = 0;
            for (a = 0; a < A; ++a)
                s += t[l * A + a] * v[a];
            e[b * L + l] = s;
        }
    }
}

/* t: L * A + 2 * A values, the tanh block and one sequence's sums over L
   (gq, and gv's part); gv_sum: A doubles, gv's sum over the batch.  With
   ACC, gk = acc + K's gradient (the gradient scan's running sum). */
template <typename T, int NA, bool ACC>
__attribute__((noinline)) static void s2s_scores_grad(
    const T* __restrict__ q, const T* __restrict__ k,
    const T* __restrict__ v, const T* __restrict__ ge,
    const T* __restrict__ acc, T* __restrict__ gq, T* __restrict__ gk,
    T* __restrict__ gv, T* __restrict__ t, double* __restrict__ gv_sum,
    npy_intp B, npy_intp L, npy_intp A_)
{
    const npy_intp A = NA ? NA : A_;
    T* __restrict__ accq = t + L * A;
    T* __restrict__ accv = accq + A;
    npy_intp b, l, a;
    for (a = 0; a < A; ++a)
        gv_sum[a] = 0;
    for (b = 0; b < B; ++b) {
        T* db = gk + b * L * A;
        s2s_tanh_block<T, NA>(t, q + b * A, k + b * L * A, L, A);
        for (a = 0; a < A; ++a)
            accq[a] = accv[a] = 0;
        for (l = 0; l < L; ++l) {
            const T g = ge[b * L + l];
            const T* tl = t + l * A;
            T* dl = db + l * A;
            const T* al = ACC ? acc + (b * L + l) * A : NULL;
            for (a = 0; a < A; ++a) {
                const T d = g * v[a] * (1 - tl[a] * tl[a]);
                dl[a] = ACC ? d + al[a] : d;
                accq[a] += d;
                accv[a] += g * tl[a];
            }
        }
        for (a = 0; a < A; ++a) {
            gq[b * A + a] = accq[a];
            gv_sum[a] += accv[a];
        }
    }
    for (a = 0; a < A; ++a)
        gv[a] = (T)gv_sum[a];
}

/* y[b] = H[b] . x[b], (L, E) . (E,); transposed, H[b].T . x[b],
   (E, L) . (L,).  Four rows of H per pass, and eight sums at a time: E is
   small (the encoder's width), so a loop over E alone would spend its
   time waiting on the previous addition. */
template <typename T>
__attribute__((noinline)) static void s2s_matvec(
    const T* __restrict__ h, const T* __restrict__ x, T* __restrict__ y,
    npy_intp B, npy_intp L, npy_intp E, int transpose)
{
    npy_intp b, l, e, j;
    for (b = 0; b < B; ++b) {
        const T* hb = h + b * L * E;
        if (transpose) {
            const T* xb = x + b * L;
            T* yb = y + b * E;
            for (e = 0; e < E; ++e)
                yb[e] = 0;
            for (l = 0; l + 4 <= L; l += 4) {
                const T* h0 = hb + l * E;
                for (e = 0; e < E; ++e)
                    yb[e] += xb[l] * h0[e] + xb[l + 1] * h0[E + e]
                        + xb[l + 2] * h0[2 * E + e]
                        + xb[l + 3] * h0[3 * E + e];
            }
            for (; l < L; ++l)
                for (e = 0; e < E; ++e)
                    yb[e] += xb[l] * hb[l * E + e];
        } else {
            const T* xb = x + b * E;
            for (l = 0; l + 8 <= L; l += 8) {
                T s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                for (e = 0; e < E; ++e)
                    for (j = 0; j < 8; ++j)
                        s[j] += hb[(l + j) * E + e] * xb[e];
                for (j = 0; j < 8; ++j)
                    y[b * L + l + j] = s[j];
            }
            for (; l < L; ++l) {
                T s = 0;
                for (e = 0; e < E; ++e)
                    s += hb[l * E + e] * xb[e];
                y[b * L + l] = s;
            }
        }
    }
}
"""

#: Both ops start the same way: contiguous views of q, K and v, their
#: shapes checked against each other.
_PROLOGUE = """
    PyArrayObject *q_c = NULL, *k_c = NULL, *v_c = NULL;
    npy_intp B, L, A;
    if (s2s_check(%(q)s, 2, "alignment scores", "q")
            || s2s_check(%(k)s, 3, "alignment scores", "K")
            || s2s_check(%(v)s, 1, "alignment scores", "v")) %(fail)s;
    B = PyArray_DIMS(%(k)s)[0];
    L = PyArray_DIMS(%(k)s)[1];
    A = PyArray_DIMS(%(k)s)[2];
    if (PyArray_DIMS(%(q)s)[0] != B || PyArray_DIMS(%(q)s)[1] != A
            || PyArray_DIMS(%(v)s)[0] != A) {
        PyErr_Format(PyExc_ValueError,
                     "alignment scores: q (%%ld, %%ld) and v (%%ld,) do not "
                     "fit K (%%ld, %%ld, %%ld)",
                     (long)PyArray_DIMS(%(q)s)[0],
                     (long)PyArray_DIMS(%(q)s)[1],
                     (long)PyArray_DIMS(%(v)s)[0],
                     (long)B, (long)L, (long)A);
        %(fail)s;
    }
    q_c = PyArray_GETCONTIGUOUS(%(q)s);
    k_c = PyArray_GETCONTIGUOUS(%(k)s);
    v_c = PyArray_GETCONTIGUOUS(%(v)s);
"""

_RELEASE = """
    Py_XDECREF(q_c);
    Py_XDECREF(k_c);
    Py_XDECREF(v_c);
"""


def _as_float_tensor(x, ndim, name, op='alignment scores'):
    return as_float_tensor(x, ndim, name, op)


def _same_dtype(*xs, op='alignment scores'):
    same_dtype(*xs, op=op)


class _FusedOp(FusedOp):
    c_kernels = _SUPPORT
    c_version = _C_VERSION


class AlignmentScores(_FusedOp):
    """``e = tanh(q[:, None, :] + K) . v``, the alignment scores.

    Inputs ``q`` (batch, A), ``K`` (batch, L, A), ``v`` (A,); output ``e``
    (batch, L).  Its gradient is :class:`AlignmentScoresGrad`.
    """

    __props__ = ()

    def make_node(self, q, keys, v):
        q = _as_float_tensor(q, 2, 'q')
        keys = _as_float_tensor(keys, 3, 'K')
        v = _as_float_tensor(v, 1, 'v')
        _same_dtype(q, keys, v)
        out = T.TensorType(q.dtype, (False, False))()
        return theano.Apply(self, [q, keys, v], [out])

    def infer_shape(self, node, shapes):
        return [shapes[1][:2]]

    def perform(self, node, inputs, outputs):
        q, keys, v = inputs
        t = np.tanh(q[:, None, :] + keys)
        outputs[0][0] = np.dot(t, v).astype(q.dtype, copy=False)

    def grad(self, inputs, output_grads):
        return list(AlignmentScoresGrad()(*inputs, output_grads[0]))

    def c_code(self, node, name, inputs, outputs, sub):
        q, k, v = inputs
        (e,) = outputs
        fail = sub['fail']
        dtype = 'npy_' + node.inputs[0].dtype
        return (
            '{\n'
            + _PROLOGUE % locals()
            + """
    npy_intp dims[2] = {B, L};
    if (q_c && k_c && v_c
            && !s2s_output(&%(e)s, 2, dims, PyArray_TYPE(k_c))) {
        %(dtype)s* t = (%(dtype)s*)malloc(sizeof(%(dtype)s) * (L * A + 1));
        if (t == NULL)
            PyErr_NoMemory();
        else
        {
#define S2S_CALL(NA) s2s_scores<%(dtype)s, NA>( \
                (const %(dtype)s*)PyArray_DATA(q_c), \
                (const %(dtype)s*)PyArray_DATA(k_c), \
                (const %(dtype)s*)PyArray_DATA(v_c), \
                (%(dtype)s*)PyArray_DATA(%(e)s), t, B, L, A)
            s2s_width(A, S2S_CALL);
#undef S2S_CALL
        }
        free(t);
    }
"""
            % locals()
            + _RELEASE
            + '    if (PyErr_Occurred()) %(fail)s;\n}\n' % locals()
        )


class AlignmentScoresGrad(_FusedOp):
    """Gradients of :class:`AlignmentScores` from the scores' gradient.

    Inputs ``q`` (batch, A), ``K`` (batch, L, A), ``v`` (A,), ``ge``
    (batch, L); outputs ``gq`` (batch, A), ``gK`` (batch, L, A), ``gv``
    (A,).  With ``t = tanh(q[:, None, :] + K)`` and ``d = ge[:, :, None] *
    v * (1 - t**2)``: ``gK = d``, ``gq = d.sum(1)``, ``gv = (ge[:, :, None]
    * t).sum((0, 1))``; ``gv``'s sum over the batch is accumulated in
    float64, the sums over ``L`` in the inputs' dtype.

    With ``accumulate``, a fifth input ``acc`` (batch, L, A) and ``gK = acc
    + d``: the gradient scan's running sum of ``K``'s gradient, added in
    the same pass (:func:`local_accumulate_scores_grad` puts it there).

    Parameters
    ----------
    accumulate : bool
    """

    __props__ = ('accumulate',)

    def __init__(self, accumulate=False):
        self.accumulate = bool(accumulate)

    def make_node(self, q, keys, v, ge, *acc):
        q = _as_float_tensor(q, 2, 'q')
        keys = _as_float_tensor(keys, 3, 'K')
        v = _as_float_tensor(v, 1, 'v')
        ge = _as_float_tensor(ge, 2, 'the scores gradient')
        inputs = [q, keys, v, ge]
        if len(acc) != self.accumulate:
            raise TypeError(
                'alignment scores gradient: %d inputs, not %d'
                % (4 + len(acc), 4 + self.accumulate)
            )
        if self.accumulate:
            inputs.append(_as_float_tensor(acc[0], 3, 'the running sum'))
        _same_dtype(*inputs)
        return theano.Apply(self, inputs, [q.type(), keys.type(), v.type()])

    def infer_shape(self, node, shapes):
        return list(shapes[:3])

    def perform(self, node, inputs, outputs):
        q, keys, v, ge = inputs[:4]
        t = np.tanh(q[:, None, :] + keys)
        d = ge[:, :, None] * v * (1 - t * t)
        outputs[0][0] = d.sum(axis=1).astype(q.dtype, copy=False)
        if self.accumulate:
            outputs[1][0] = (d + inputs[4]).astype(q.dtype, copy=False)
        else:
            outputs[1][0] = d.astype(q.dtype, copy=False)
        per_sequence = (ge[:, :, None] * t).sum(axis=1)
        outputs[2][0] = per_sequence.sum(axis=0, dtype='float64').astype(
            q.dtype
        )

    def grad(self, inputs, output_grads):
        return [
            grad_undefined(self, i, x, 'second derivative not implemented')
            for i, x in enumerate(inputs)
        ]

    def c_code(self, node, name, inputs, outputs, sub):
        q, k, v, ge = inputs[:4]
        gq, gk, gv = outputs
        fail = sub['fail']
        dtype = 'npy_' + node.inputs[0].dtype
        if self.accumulate:
            acc = inputs[4]
            acc_c = 'PyArray_GETCONTIGUOUS(%s)' % acc
            acc_check = (
                's2s_check(%s, 3, "alignment scores", "the running sum") '
                '|| !PyArray_SAMESHAPE(%s, %s)' % (acc, acc, k)
            )
            acc_flag = 'true'
        else:
            acc_c, acc_check, acc_flag = 'NULL', '0', 'false'
        return (
            '{\n'
            + _PROLOGUE % locals()
            + """
    PyArrayObject* acc_c = NULL;
    if (%(acc_check)s) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "alignment scores: the "
                            "running sum does not fit K");
    }
    else if (%(acc_flag)s)
        acc_c = %(acc_c)s; /* NULL, an error set, if it fails */
    PyArrayObject* ge_c = NULL;
    double* gv_sum = NULL;
    %(dtype)s* t = NULL;
    npy_intp dq[2] = {B, A}, dk[3] = {B, L, A}, dv[1] = {A};
    if (!s2s_check(%(ge)s, 2, "alignment scores", "the scores gradient")
            && (PyArray_DIMS(%(ge)s)[0] != B
                || PyArray_DIMS(%(ge)s)[1] != L))
        PyErr_SetString(PyExc_ValueError,
                        "alignment scores: the scores gradient does not "
                        "fit K");
    if (!PyErr_Occurred())
        ge_c = PyArray_GETCONTIGUOUS(%(ge)s);
    if (ge_c && q_c && k_c && v_c
            && !s2s_output(&%(gq)s, 2, dq, PyArray_TYPE(k_c))
            && !s2s_output(&%(gk)s, 3, dk, PyArray_TYPE(k_c))
            && !s2s_output(&%(gv)s, 1, dv, PyArray_TYPE(k_c))) {
        gv_sum = (double*)malloc(sizeof(double) * (A + 1));
        t = (%(dtype)s*)malloc(sizeof(%(dtype)s) * ((L + 2) * A + 1));
        if (gv_sum == NULL || t == NULL)
            PyErr_NoMemory();
        else
        {
#define S2S_CALL(NA) s2s_scores_grad<%(dtype)s, NA, %(acc_flag)s>( \
                (const %(dtype)s*)PyArray_DATA(q_c), \
                (const %(dtype)s*)PyArray_DATA(k_c), \
                (const %(dtype)s*)PyArray_DATA(v_c), \
                (const %(dtype)s*)PyArray_DATA(ge_c), \
                acc_c ? (const %(dtype)s*)PyArray_DATA(acc_c) : NULL, \
                (%(dtype)s*)PyArray_DATA(%(gq)s), \
                (%(dtype)s*)PyArray_DATA(%(gk)s), \
                (%(dtype)s*)PyArray_DATA(%(gv)s), t, gv_sum, B, L, A)
            s2s_width(A, S2S_CALL);
#undef S2S_CALL
        }
        free(gv_sum);
        free(t);
    }
    Py_XDECREF(ge_c);
    Py_XDECREF(acc_c);
"""
            % locals()
            + _RELEASE
            + '    if (PyErr_Occurred()) %(fail)s;\n}\n' % locals()
        )


def alignment_scores(q, keys, v):
    """The alignment scores (batch, L) with :class:`AlignmentScores`.

    Parameters
    ----------
    q : TensorVariable
        The previous decoder state projected, ``hid_prev . W_a``, (batch,
        A).
    keys : TensorVariable
        The encoder states projected, ``H . U_a``, (batch, L, A).
    v : TensorVariable
        The scoring vector ``v_a``, (A,).

    Returns
    -------
    TensorVariable
        ``e`` (batch, L).
    """
    return AlignmentScores()(q, keys, v)


class BatchedMatVec(_FusedOp):
    """A matrix-vector product per sequence of the batch.

    ``y[b] = H[b] . x[b]``: ``H`` (batch, L, E), ``x`` (batch, E), ``y``
    (batch, L); with ``transpose``, ``y[b] = H[b].T . x[b]``: ``x`` (batch,
    L), ``y`` (batch, E).  The context is the transposed product with
    ``alpha``; each product's gradient by ``x`` is the other one.

    Parameters
    ----------
    transpose : bool
    """

    __props__ = ('transpose',)

    def __init__(self, transpose):
        self.transpose = bool(transpose)

    def make_node(self, H, x):
        op = 'batched matrix-vector product'
        H = _as_float_tensor(H, 3, 'H', op)
        x = _as_float_tensor(x, 2, 'x', op)
        _same_dtype(H, x, op=op)
        out = T.TensorType(H.dtype, (False, False))()
        return theano.Apply(self, [H, x], [out])

    def infer_shape(self, node, shapes):
        batch, length, width = shapes[0]
        return [(batch, width if self.transpose else length)]

    def perform(self, node, inputs, outputs):
        H, x = inputs
        spec = 'ble,bl->be' if self.transpose else 'ble,be->bl'
        outputs[0][0] = np.einsum(spec, H, x).astype(H.dtype, copy=False)

    def grad(self, inputs, output_grads):
        H, x = inputs
        (gy,) = output_grads
        if self.transpose:
            gH = x.dimshuffle(0, 1, 'x') * gy.dimshuffle(0, 'x', 1)
        else:
            gH = gy.dimshuffle(0, 1, 'x') * x.dimshuffle(0, 'x', 1)
        return [gH, BatchedMatVec(not self.transpose)(H, gy)]

    def c_code(self, node, name, inputs, outputs, sub):
        H, x = inputs
        (y,) = outputs
        fail = sub['fail']
        dtype = 'npy_' + node.inputs[0].dtype
        transpose = int(self.transpose)
        return """
{
    const char* op = "batched matrix-vector product";
    PyArrayObject *h_c = NULL, *x_c = NULL;
    npy_intp B, L, E, dims[2];
    if (s2s_check(%(H)s, 3, op, "H") || s2s_check(%(x)s, 2, op, "x"))
        %(fail)s;
    B = PyArray_DIMS(%(H)s)[0];
    L = PyArray_DIMS(%(H)s)[1];
    E = PyArray_DIMS(%(H)s)[2];
    dims[0] = B;
    dims[1] = %(transpose)d ? E : L;
    if (PyArray_DIMS(%(x)s)[0] != B
            || PyArray_DIMS(%(x)s)[1] != (%(transpose)d ? L : E)) {
        PyErr_Format(PyExc_ValueError,
                     "%%s: x (%%ld, %%ld) does not fit H (%%ld, %%ld, %%ld)",
                     op, (long)PyArray_DIMS(%(x)s)[0],
                     (long)PyArray_DIMS(%(x)s)[1], (long)B, (long)L,
                     (long)E);
        %(fail)s;
    }
    h_c = PyArray_GETCONTIGUOUS(%(H)s);
    x_c = PyArray_GETCONTIGUOUS(%(x)s);
    if (h_c && x_c && !s2s_output(&%(y)s, 2, dims, PyArray_TYPE(h_c)))
        s2s_matvec((const %(dtype)s*)PyArray_DATA(h_c),
                   (const %(dtype)s*)PyArray_DATA(x_c),
                   (%(dtype)s*)PyArray_DATA(%(y)s), B, L, E, %(transpose)d);
    Py_XDECREF(h_c);
    Py_XDECREF(x_c);
    if (PyErr_Occurred()) %(fail)s;
}
""" % locals()


@theano.gof.local_optimizer([T.Elemwise])
def local_accumulate_scores_grad(node):
    """``AlignmentScoresGrad(...)[1] + acc`` in one pass.

    The gradient scan sums ``K``'s gradient over the decoder's steps: one
    more pass over (batch, L, A) values per step, which
    ``AlignmentScoresGrad(accumulate=True)`` makes while it writes the
    gradient: the same sum, up to rounding (g++ may fuse its last product
    and addition).
    """
    if not (
        isinstance(node.op, T.Elemwise)
        and isinstance(node.op.scalar_op, theano.scalar.Add)
        and len(node.inputs) == 2
    ):
        return False
    for i, grad_k in enumerate(node.inputs):
        owner = grad_k.owner
        if (
            owner is None
            or not isinstance(owner.op, AlignmentScoresGrad)
            or owner.op.accumulate
            or grad_k is not owner.outputs[1]
            or len(grad_k.clients) != 1
        ):
            continue
        acc = node.inputs[1 - i]
        if acc.type != grad_k.type or node.outputs[0].type != grad_k.type:
            continue
        fused = AlignmentScoresGrad(accumulate=True)(*owner.inputs, acc)
        return {
            node.outputs[0]: fused[1],
            owner.outputs[0]: fused[0],
            owner.outputs[2]: fused[2],
        }
    return False


T.opt.register_specialize(local_accumulate_scores_grad)
