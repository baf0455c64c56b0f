"""What the training benchmark measures: settings, levers and variants.

Shared by the worker (:mod:`bench_worker`), the driver
(:mod:`bench_driver`) and the command line (``bench_training.py``).  The
measured settings are the notebook's: batch 100, ``MIN_DIGITS = MAX_DIGITS
= 20``, 10 units, alignment 20, Adam 0.005, clip 3 + total norm 3,
validation on 5000 samples every 5000.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, 'results')
#: A worker's result line starts with this.
MARK = 'BENCH_RESULT '

MODELS = ('baseline', 'attention')
#: Environment variables that change thread behaviour, recorded per worker.
ENV_RECORDED = (
    'OMP_NUM_THREADS',
    'OMP_WAIT_POLICY',
    'OPENBLAS_NUM_THREADS',
    'MKL_NUM_THREADS',
    'GOMP_SPINCOUNT',
    'KMP_BLOCKTIME',
    'XLA_FLAGS',
)
#: The notebook's samples_to_process for each model.
FULL_SAMPLES = {'baseline': 300000, 'attention': 150000}
BATCH = 100
DIGITS = 20
VAL_SIZE = 5000
VAL_INTERVAL = 5000

#: Step counts of a normal and of a ``--quick`` run.
NORMAL = dict(steps=50, warmup=5, repeats=3, val_repeats=2)
QUICK = dict(steps=10, warmup=2, repeats=2, val_repeats=1)

#: Theano levers: name -> (extra THEANO_FLAGS, extra environment, worker
#: options, models, description).  The default is the package's own choice
#: of flags, in the environment the driver was started in.
LEVERS = {
    'unroll_scan': (
        '',
        {},
        ['--unroll'],
        ('attention',),
        'decoder unroll_scan=True (vs theano.scan)',
    ),
    'no_fast_math': (
        'gcc.cxxflags=',
        {},
        [],
        MODELS,
        'gcc.cxxflags empty (vs -D__FAST_MATH__)',
    ),
    'float64': (
        'floatX=float64',
        {},
        [],
        MODELS,
        'floatX=float64 (vs float32)',
    ),
    'blas_numpy': (
        'blas.ldflags=',
        {},
        [],
        MODELS,
        'blas.ldflags empty: NumPy C-API (vs SciPy OpenBLAS)',
    ),
    'openblas_2threads': (
        '',
        {'OPENBLAS_NUM_THREADS': '2'},
        [],
        MODELS,
        "OPENBLAS_NUM_THREADS=2 (vs compat's 1 thread)",
    ),
    'scan_frees_buffers': (
        'allow_gc=True',
        {},
        [],
        MODELS,
        'allow_gc=True set: scans free their inner '
        'arrays after each call (vs kept by Trainer)',
    ),
    'keep_buffers': (
        'allow_gc=False',
        {},
        [],
        MODELS,
        'allow_gc=False: the outer arrays kept as well '
        '(vs freed); leaks in Theano 1.0.5',
    ),
    'openmp': (
        'openmp=True,openmp_elemwise_minsize=20000',
        {},
        [],
        MODELS,
        "Theano's OpenMP elementwise loops, arrays >= 20000 (vs one thread)",
    ),
    'notebook_crossentropy': (
        '',
        {},
        ['--notebook-crossentropy'],
        MODELS,
        'T.nnet.categorical_crossentropy (vs '
        'objectives.sequence_cost, indexed)',
    ),
    'no_fusion': (
        'tensor.local_elemwise_fusion=False',
        {},
        [],
        MODELS,
        'elementwise ops not fused into loops of several ops (vs fused)',
    ),
    'no_reshape_lift': (
        'optimizer_excluding=local_reshape_lift',
        {},
        [],
        MODELS,
        "reshapes not lifted above elementwise ops (vs Theano's default)",
    ),
    'fused_attention': (
        '',
        {},
        ['--fused-attention'],
        ('attention',),
        "decoder's scores and context from the package's fused ops "
        "(vs Theano's elementwise ops and BLAS)",
    ),
    'fused_gru': (
        '',
        {},
        ['--fused-gru'],
        MODELS,
        "every GRU's recurrence as one of the package's fused ops "
        "(vs Lasagne's GRULayer on theano.scan)",
    ),
    'fused_both': (
        '',
        {},
        ['--fused-gru', '--fused-attention'],
        ('attention',),
        'fused_gru and fused_attention together (vs neither)',
    ),
    'scan_memoryview_check': (
        '',
        {},
        ['--original-scan-check'],
        MODELS,
        "Theano 1.0.5's scan output check, memoryview "
        "contents (vs compat's pointer check)",
    ),
}

#: The peers Theano is compared with: name -> (worker engine, label,
#: the Python package it needs).  Each is checked against Theano by
#: ``check_equivalence.py`` before it is timed.
PEERS = {
    'eager': ('torch', 'eager PyTorch', 'torch'),
    'compile': ('torch-compile', 'torch.compile', 'torch'),
    'jax': ('jax', 'JAX (lax.scan, jit)', 'jax'),
}
#: How to install the peers.
PEERS_INSTALL = ".venv/bin/pip install -c constraints.txt -e '.[bench]'"

#: The ``XLA_FLAGS`` that keep XLA's CPU backend on one thread.
XLA_ONE_THREAD = (
    '--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1'
)

#: Eager PyTorch variants after the main one (``--threads`` threads, the
#: environment as it is): name -> (threads or None for ``--threads``,
#: extra environment, worker options).  OpenMP's default spin-waiting is
#: what a loaded machine punishes (``omp_passive``, with two threads);
#: ``native_optim`` runs single-threaded.
TORCH_VARIANTS = {
    'omp_passive': (2, {'OMP_WAIT_POLICY': 'PASSIVE'}, []),
    'threads=2': (2, {}, []),
    'native_optim': (1, {}, ['--native-optim']),
}


def projection(model, samples_per_s, val_s):
    """Projected wall time of the notebook's full run of ``model``."""
    samples = FULL_SAMPLES[model]
    n_val = samples // VAL_INTERVAL
    train_s = samples / samples_per_s
    total = train_s + n_val * val_s
    return {
        'full_samples': samples,
        'n_validations': n_val,
        'projected_train_s': train_s,
        'projected_validation_s': n_val * val_s,
        'projected_total_s': total,
        'validation_share': n_val * val_s / total,
    }
