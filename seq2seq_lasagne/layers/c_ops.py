"""What the package's own C ops share: input checks and C helpers.

The fused ops (:mod:`.fused_attention`, :mod:`.fused_gru`) are Theano ops
with C code of their own.  Each returns its C helpers as a list:
:data:`C_COMMON` first, then its own kernels, so that Theano, which
includes each distinct string once per module, never defines a helper
twice in a module of several of them.
"""

import theano
import theano.tensor as T

__all__ = ['C_COMMON', 'FusedOp', 'as_float_tensor', 'same_dtype']

#: C helpers of every fused op: checks that name the op and the array, the
#: outputs, and the vectorized nonlinearities.
C_COMMON = """
static int s2s_check(PyArrayObject* a, int ndim, const char* op,
                     const char* what)
{
    if (PyArray_NDIM(a) != ndim) {
        PyErr_Format(PyExc_ValueError, "%s: %s has %d dimensions, not %d",
                     op, what, PyArray_NDIM(a), ndim);
        return 1;
    }
    return 0;
}

static int s2s_output(PyArrayObject** out, int ndim, npy_intp* dims,
                      int type_num)
{
    int i, same = *out != NULL && PyArray_NDIM(*out) == ndim
        && PyArray_IS_C_CONTIGUOUS(*out) && PyArray_TYPE(*out) == type_num;
    for (i = 0; same && i < ndim; ++i)
        same = PyArray_DIMS(*out)[i] == dims[i];
    if (same)
        return 0;
    Py_XDECREF(*out);
    *out = (PyArrayObject*)PyArray_EMPTY(ndim, dims, type_num, 0);
    return *out == NULL;
}

/* The kernels' arrays never overlap: __restrict__ says so, or GCC keeps
   their loops scalar.  Kept out of line: inlined into an op's code, the
   tanh loop was not vectorized (one scalar tanh call per value). */
template <typename T>
__attribute__((noinline)) static void s2s_tanh(T* __restrict__ x,
                                               npy_intp n)
{
    npy_intp i;
    for (i = 0; i < n; ++i)
        x[i] = tanh(x[i]);
}

template <typename T>
__attribute__((noinline)) static void s2s_sigmoid(T* __restrict__ x,
                                                  npy_intp n)
{
    npy_intp i;
    for (i = 0; i < n; ++i)
        x[i] = (T)1 / ((T)1 + exp(-x[i]));
}
"""


def as_float_tensor(x, ndim, name, op):
    """``x`` as a tensor variable, or a TypeError naming ``op`` and ``x``."""
    x = T.as_tensor_variable(x)
    if x.ndim != ndim or x.dtype not in ('float32', 'float64'):
        raise TypeError(
            '%s: %s must be a %d-dimensional float tensor, got %s'
            % (op, name, ndim, x.type)
        )
    return x


def same_dtype(*xs, op):
    """A TypeError naming ``op`` unless all of ``xs`` share one dtype."""
    dtypes = {x.dtype for x in xs}
    if len(dtypes) != 1:
        raise TypeError(
            '%s: inputs of one dtype expected, got %s'
            % (op, ', '.join(sorted(dtypes)))
        )


class FusedOp(theano.Op):
    """A fused op: :data:`C_COMMON` and its own C helpers, one version.

    Subclasses set ``c_kernels`` (their C helpers) and ``c_version`` (a
    tuple in Theano's cache key: Theano reuses a compiled module of the same
    version, so any change to the C code bumps it).
    """

    c_kernels = ''
    c_version = None

    def c_support_code(self):
        return [C_COMMON, self.c_kernels]

    def c_code_cache_version(self):
        return self.c_version
