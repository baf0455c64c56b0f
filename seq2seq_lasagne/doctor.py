"""``seq2seq-lasagne doctor``: what the Theano stack is, and does it work.

Prints versions, the compatibility fixes applied, the Theano flags that
matter (device, floatX, BLAS, compile dir), the GPU backend's libraries,
then compiles and runs a tiny function and one attention training step on
the configured device; on a GPU device it also names the op classes of that
training function which ran on the device and those left on the host.
Returns non-zero with a one-line reason when the configured device cannot
be used.
"""

import ctypes.util
import importlib
import platform
import sys
import time

__all__ = [
    'run_doctor',
    'stack_report',
    'cuda_libraries',
    'blas_summary',
    'op_placement',
]

CUDA_LIBRARIES = ('cuda', 'nvrtc', 'cublas', 'cudnn')


def _version(module_name):
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # pygpu raises more than ImportError
        return 'not available (%s)' % str(exc).splitlines()[0][:80]
    return getattr(module, '__version__', 'installed')


def cuda_libraries():
    """Which CUDA libraries the dynamic loader finds, by short name.

    Returns
    -------
    dict
        ``{'cuda': 'libcuda.so.1' or None, 'nvrtc': ..., ...}``.
    """
    return {name: ctypes.util.find_library(name) for name in CUDA_LIBRARIES}


def blas_summary(ldflags):
    """``blas.ldflags`` for one line: ``-D`` symbol renames counted."""
    if not ldflags:
        return '(empty: BLAS through NumPy)'
    tokens = ldflags.split()
    renames = [t for t in tokens if t.startswith('-D')]
    text = ' '.join(t for t in tokens if not t.startswith('-D'))
    if renames:
        text += ' (+ %d -D symbol renames, e.g. %s)' % (
            len(renames),
            renames[0],
        )
    return text


def stack_report():
    """The stack as ``(label, value)`` rows (imports Theano)."""
    import theano

    import seq2seq_lasagne

    config = theano.config
    rows = [
        ('python', platform.python_version()),
        ('seq2seq_lasagne', seq2seq_lasagne.__version__),
        ('theano', theano.__version__),
        ('lasagne', _version('lasagne')),
        ('numpy', _version('numpy')),
        ('scipy', _version('scipy')),
        ('pygpu (libgpuarray)', _version('pygpu')),
        (
            'compat fixes',
            '; '.join(seq2seq_lasagne.compat.changes())
            or 'none (all flags set by the user)',
        ),
        (
            'backend',
            'gpuarray (libgpuarray through pygpu)'
            if config.device.startswith(('cuda', 'opencl'))
            else 'cpu (C code compiled with %s)'
            % (config.cxx or 'no compiler'),
        ),
        ('device', config.device),
        ('floatX', config.floatX),
        ('blas.ldflags', blas_summary(config.blas.ldflags)),
        ('compiledir', config.compiledir),
        ('cxx', config.cxx or '(none: Python implementations only)'),
    ]
    found = cuda_libraries()
    rows.append(
        (
            'CUDA libraries',
            ', '.join('%s=%s' % (k, v or 'missing') for k, v in found.items()),
        )
    )
    return rows


def _tiny_function():
    import numpy as np
    import theano
    import theano.tensor as T

    x = T.matrix('x')
    f = theano.function([x], T.dot(x, x.T).sum() + 1)
    value = f(np.ones((3, 4), dtype=theano.config.floatX))
    if abs(float(value) - 37.0) > 1e-4:
        raise RuntimeError('tiny function returned %r instead of 37' % value)
    return f


def _attention_step():
    import numpy as np

    from .data_generator import get_batch
    from .settings import RunSettings
    from .training import build_trainer

    settings = RunSettings(model='attention', min_digits=3, max_digits=3)
    trainer = build_trainer(settings)
    trainer.compile()
    x, xmask, y, _, _, _ = get_batch(8, 3, 3, rng=np.random.RandomState(0))
    cost, _ = trainer.train_step(x, y, xmask)
    if not np.isfinite(cost):
        raise RuntimeError('attention training step gave cost %r' % cost)
    return cost, trainer.train_fn


#: Theano's transfer ops between host and GPU memory.
TRANSFERS = ('GpuFromHost', 'HostFromGpu')


def op_placement(function):
    """Where the ops of a compiled Theano function run.

    The inner functions of ``Scan`` nodes (compiled when the function first
    ran) are walked too; a ``Scan`` itself counts as on the device when its
    loop was moved to the GPU backend.

    Parameters
    ----------
    function : theano.compile.function_module.Function

    Returns
    -------
    dict
        ``{'device': [...], 'host': [...], 'transfer': [...]}``: sorted op
        class names.
    """
    found = {'device': set(), 'host': set(), 'transfer': set()}

    def walk(fgraph):
        for node in fgraph.toposort():
            op = node.op
            name = type(op).__name__
            if name in TRANSFERS:
                found['transfer'].add(name)
            elif name.startswith('Gpu') or getattr(op, 'info', {}).get('gpua'):
                found['device'].add(name)
            else:
                found['host'].add(name)
            inner = getattr(op, 'fn', None)
            if inner is not None and hasattr(inner, 'maker'):
                walk(inner.maker.fgraph)

    walk(function.maker.fgraph)
    return {k: sorted(v) for k, v in found.items()}


def gpu_backend_problem(device):
    """Why the configured GPU device is not in use, or None.

    Theano 1.0 logs a failed GPU start and goes on with the CPU; the doctor
    must say that the configured device cannot be used instead.
    """
    if not device.startswith(('cuda', 'opencl')):
        return None
    import theano.gpuarray

    if theano.gpuarray.pygpu_activated:
        return None
    try:
        import pygpu
    except Exception as exc:
        return 'pygpu (libgpuarray) is not importable: %s' % exc
    try:
        pygpu.init(device)
    except Exception as exc:  # the driver's own reason
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):  # libgpuarray's messages, as pygpu
            reason = reason.decode(errors='replace')  # gives them
        return str(reason).strip().splitlines()[-1]
    return 'Theano did not activate the GPU backend'


def run_doctor(out=sys.stdout):
    """Print the report and run the checks; returns the exit code."""
    try:
        rows = stack_report()
    except Exception as exc:
        print(
            'doctor: Theano could not start: %s'
            % str(exc).strip().splitlines()[-1][:300],
            file=out,
        )
        return 1
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print('%-*s  %s' % (width, label, value), file=out)
    import theano

    device = theano.config.device
    problem = gpu_backend_problem(device)
    if problem is not None:
        print(
            'doctor: device %s cannot be used (GPU backend): %s'
            % (device, problem[:300]),
            file=out,
        )
        return 1
    start = time.perf_counter()
    try:
        _tiny_function()
        print(
            '%-*s  ok (%.1f s)'
            % (width, 'tiny function', time.perf_counter() - start),
            file=out,
        )
        start = time.perf_counter()
        cost, train_fn = _attention_step()
        print(
            '%-*s  ok, cost %.4f (%.1f s incl. compile)'
            % (width, 'attention step', cost, time.perf_counter() - start),
            file=out,
        )
        if device.startswith(('cuda', 'opencl')):
            ops = op_placement(train_fn)
            for where, label in (
                ('device', 'ops on ' + device),
                ('host', 'ops on the host'),
                ('transfer', 'transfers'),
            ):
                print(
                    '%-*s  %s'
                    % (width, label, ', '.join(ops[where]) or 'none'),
                    file=out,
                )
    except Exception as exc:
        print(
            'doctor: device %s cannot be used: %s'
            % (device, str(exc).strip().splitlines()[-1][:300]),
            file=out,
        )
        return 1
    print('doctor: all checks passed on %s' % device, file=out)
    return 0
