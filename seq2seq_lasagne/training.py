"""Training and evaluation with the notebook's recipe.

Recipe: cross-entropy, gradients clipped element-wise to [-3, 3], then
``total_norm_constraint(grads, 3)``, Adam at 0.005, a fresh random batch of
100 per step, a fixed validation set evaluated every 5000 samples.

:class:`Trainer` compiles the Theano functions of one model once;
:func:`fit` runs the notebook's loop on it and can stop cleanly on Ctrl-C
and resume from a :class:`RunState`.
"""
import contextlib
import sys
import time

import lasagne
import numpy as np
import theano
import theano.tensor as T

from .compat import user_flags
from .data_generator import get_batch
from .models import build_model
from .objectives import sequence_accuracy, sequence_cost

__all__ = ['Trainer', 'RunState', 'fit', 'seeded_rngs', 'build_seeded',
           'accuracy_per_position', 'attention_diagonal', 'DEFAULT_SAMPLES',
           'GRAPH_RECURSION_LIMIT']

#: The notebook's ``samples_to_process`` for each model.
DEFAULT_SAMPLES = {'baseline': 300000, 'attention': 150000}


def seeded_rngs(seed):
    """Independent generators for weights, validation set and batches.

    Parameters
    ----------
    seed : int

    Returns
    -------
    dict of numpy.random.RandomState
        Keys ``'init'``, ``'validation'``, ``'batches'``.
    """
    children = np.random.SeedSequence(seed).spawn(3)
    return {name: np.random.RandomState(child.generate_state(4))
            for name, child in zip(('init', 'validation', 'batches'),
                                   children)}


def build_seeded(model, seed, **config):
    """Build a model whose initial weights depend only on ``seed``."""
    lasagne.random.set_rng(seeded_rngs(seed)['init'])
    return build_model(model, **config)


def accuracy_per_position(output, targets, target_mask=None):
    """Validation accuracy at each target position.

    Parameters
    ----------
    output : ndarray, (batch, steps, classes)
    targets : ndarray, int, (batch, steps)
    target_mask : ndarray, (batch, steps), optional
        Padded positions are left out (a position nobody reaches is NaN).

    Returns
    -------
    ndarray, float, (steps,)
    """
    correct = (np.argmax(output, axis=-1) == targets).astype('float64')
    if target_mask is None:
        return correct.mean(axis=0)
    counted = target_mask.sum(axis=0)
    with np.errstate(invalid='ignore', divide='ignore'):
        return (correct * target_mask).sum(axis=0) / counted


def attention_diagonal(alpha):
    """How well the mean attention follows the original's diagonal band.

    Parameters
    ----------
    alpha : ndarray, (batch, n_decodesteps, input length)

    Returns
    -------
    dict
        ``peaks``: the input position of the largest mean weight for each
        target; ``slope`` and ``intercept`` of a least-squares line through
        the digit targets' peaks (the original: about 5 input characters
        per digit); ``monotonic``: fraction of consecutive digit targets
        whose peak moves right.
    """
    mean = np.mean(alpha, axis=0)
    peaks = np.argmax(mean, axis=1)
    digits = peaks[:-1]  # the last target is '#'
    k = np.arange(len(digits))
    slope, intercept = np.polyfit(k, digits, 1)
    return {'peaks': [int(p) for p in peaks], 'slope': float(slope),
            'intercept': float(intercept),
            'monotonic': float(np.mean(np.diff(digits) > 0))}


#: Python's recursion limit while building and compiling the training
#: graph.  ``T.grad`` and Theano's optimizer recurse once per graph level,
#: and the decoder unrolled with ``unroll_scan=True`` is ~21 steps deep in
#: thousands of nodes: the default 1000 gives a RecursionError.
GRAPH_RECURSION_LIMIT = 50000


@contextlib.contextmanager
def _deep_graph_recursion():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, GRAPH_RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@contextlib.contextmanager
def _scan_keeps_buffers():
    """Compile so that scans keep their inner arrays between calls.

    Yields the mode to compile with, or ``None`` (Theano's default mode)
    when the user chose ``allow_gc`` themselves: in their flags, or by
    setting ``theano.config.allow_gc = False`` in the program.

    With Theano's default ``allow_gc=True`` every scan frees its inner
    function's arrays after each call, so each training step reallocates
    them all; keeping them makes training 1.22x faster on the attention
    model and 1.12x on the baseline (``benchmarks/``, lever
    ``scan_frees_buffers``).  A scan decides this from ``config.allow_gc``
    when it is compiled, so the flag is ``False`` only while compiling,
    and the function's own linker keeps ``allow_gc=True``: the outer
    graph's arrays are still freed after each call.  Keeping those too
    (``allow_gc=False`` everywhere) leaks in Theano 1.0.5 whenever the
    input length changes (``benchmarks/memory_growth.py``); the scans'
    arrays do not.
    """
    if 'allow_gc' in user_flags() or not theano.config.allow_gc:
        yield None
        return
    mode = theano.compile.mode.get_default_mode().clone(
        link_kwargs=dict(allow_gc=True))
    with theano.configparser.change_flags(allow_gc=False):
        yield mode


class Trainer(object):
    """The compiled training and test functions of one model.

    Each function is compiled on first use and only once.

    Parameters
    ----------
    model : Seq2SeqModel
    learning_rate : float
        Adam's learning rate.
    grad_clip : float
        Element-wise gradient clipping bound.
    max_norm : float
        Bound on the total gradient norm.
    target_mask : bool
        Use the target mask in cost and accuracy (exercise 4).  Without it
        every target position counts, as in the notebook.
    """

    def __init__(self, model, learning_rate=0.005, grad_clip=3.0,
                 max_norm=3.0, target_mask=False):
        self.model = model
        self.learning_rate = learning_rate
        self.grad_clip = grad_clip
        self.max_norm = max_norm
        self.target_mask = target_mask
        self.ymask_sym = T.matrix('ymask')
        self._train_fn = None
        self._test_fn = None
        self._updates = None

    def _objectives(self, output):
        ymask = self.ymask_sym if self.target_mask else None
        y = self.model.y_sym
        return sequence_cost(output, y, ymask), sequence_accuracy(
            output, y, ymask)

    def _inputs(self):
        m = self.model
        inputs = [m.x_sym, m.y_sym, m.xmask_sym]
        return inputs + [self.ymask_sym] if self.target_mask else inputs

    @property
    def updates(self):
        """Adam's updates: every shared variable training changes."""
        if self._updates is None:
            output = self.model.get_output(deterministic=False)
            self._train_outputs = (output,) + self._objectives(output)
            params = self.model.trainable_params()
            with _deep_graph_recursion():
                grads = T.grad(self._train_outputs[1], params)
            grads = [T.clip(g, -self.grad_clip, self.grad_clip)
                     for g in grads]
            grads = lasagne.updates.total_norm_constraint(grads,
                                                          self.max_norm)
            self._updates = lasagne.updates.adam(
                grads, params, learning_rate=self.learning_rate)
        return self._updates

    @property
    def train_fn(self):
        """``f(x, y, xmask[, ymask]) -> [mean_cost, acc]`` with updates."""
        if self._train_fn is None:
            updates = self.updates
            _, cost, acc = self._train_outputs
            with _deep_graph_recursion(), _scan_keeps_buffers() as mode:
                self._train_fn = theano.function(
                    self._inputs(), [cost, acc], updates=updates,
                    name='train_fn', mode=mode)
        return self._train_fn

    @property
    def test_fn(self):
        """``f(x, y, xmask[, ymask]) -> [acc, output(, alpha)]``."""
        if self._test_fn is None:
            output = self.model.get_output(deterministic=True)
            _, acc = self._objectives(output)
            outputs = [acc, output]
            alpha = getattr(self.model.l_dec, 'alpha', None)
            if alpha is not None:
                outputs.append(alpha)
            # Validation batches are 5000 wide: here the scans free their
            # arrays after each call, as Theano does by default.
            with _deep_graph_recursion():
                self._test_fn = theano.function(
                    self._inputs(), outputs, name='test_fn',
                    on_unused_input='ignore')
        return self._test_fn

    def _args(self, x, xmask, y, ymask):
        args = [x, y, xmask]
        return args + [ymask] if self.target_mask else args

    def train_step(self, x, xmask, y, ymask=None):
        """One Adam step on a batch; returns ``(cost, accuracy)``."""
        cost, acc = self.train_fn(*self._args(x, xmask, y, ymask))
        return float(cost), float(acc)

    def evaluate(self, x, xmask, y=None, ymask=None):
        """Accuracy, output and (attention models) alpha on a batch.

        Parameters
        ----------
        x : ndarray, int32, (batch, input length)
        xmask : ndarray, float32, (batch, input length)
        y, ymask : ndarray, (batch, n_decodesteps), optional
            Without targets the returned accuracy is meaningless.

        Returns
        -------
        dict
            ``accuracy`` (float), ``output`` (batch, n_decodesteps, 11),
            ``alpha`` ((batch, n_decodesteps, input length) or None).
        """
        steps = self.model.config['max_digits'] + 1
        if y is None:
            y = np.zeros((x.shape[0], steps), dtype='int32')
        if ymask is None:
            ymask = np.ones(y.shape, dtype='float32')
        result = self.test_fn(*self._args(x, xmask, y, ymask))
        return {'accuracy': float(result[0]), 'output': result[1],
                'alpha': result[2] if len(result) > 2 else None}

    def reset(self, seed):
        """Fresh seeded weights and zero Adam state, keeping the compiled
        functions (the weights equal those of ``build_seeded(model, seed,
        **config)``)."""
        config = dict(self.model.config)
        fresh = build_seeded(config.pop('model'), seed, **config)
        for old, new in zip(self.model.all_params(), fresh.all_params()):
            old.set_value(new.get_value())
        params = set(self.model.all_params())
        for var in self.updates:
            if var not in params:  # Adam's moments and step counter
                var.set_value(np.zeros_like(var.get_value()))

    def shared_state(self):
        """Values of every shared variable training updates, in order."""
        return [v.get_value() for v in self.updates]

    def set_shared_state(self, values):
        """Restore values from :meth:`shared_state`."""
        variables = list(self.updates)
        if len(values) != len(variables):
            raise ValueError('checkpoint holds %d training variables, the '
                             'model has %d' % (len(values), len(variables)))
        for var, value in zip(variables, values):
            if var.get_value().shape != np.shape(value):
                raise ValueError('checkpoint variable %s has shape %s, '
                                 'expected %s' % (var, np.shape(value),
                                                  var.get_value().shape))
            var.set_value(value)


class RunState(object):
    """Where a training run stands: what :func:`fit` returns and resumes.

    Attributes
    ----------
    samples_processed : int
    history : list of dict
        One ``{'samples', 'val_accuracy', 'cost'}`` per validation, where
        ``cost`` is the mean training cost since the previous validation.
    costs : list of float
        Training cost of every step.
    interrupted : bool
        True when Ctrl-C ended the run early.
    train_seconds, validation_seconds : float
        Time spent in training steps and in validation.
    last_validation : dict or None
        :meth:`Trainer.evaluate` result of the latest validation.
    batch_rng_state : tuple or None
        State of the batch generator, for resuming.
    """

    def __init__(self):
        self.samples_processed = 0
        self.history = []
        self.costs = []
        self.interrupted = False
        self.train_seconds = 0.0
        self.validation_seconds = 0.0
        self.last_validation = None
        self.batch_rng_state = None

    @property
    def val_accuracy(self):
        """Latest validation accuracy (NaN before the first)."""
        return self.history[-1]['val_accuracy'] if self.history else \
            float('nan')


def fit(trainer, samples_to_process, validation, rng, batch_size=100,
        min_digits=20, max_digits=20, val_interval=5000, state=None,
        on_validation=None, progress=True):
    """The notebook's training loop.

    Parameters
    ----------
    trainer : Trainer
    samples_to_process : int
        Stop once this many samples were processed (in total, counting a
        resumed ``state``).
    validation : tuple
        ``get_batch`` output for the fixed validation set.
    rng : numpy.random.RandomState
        Draws the training batches.
    batch_size, min_digits, max_digits : int
        Passed to ``get_batch``.
    val_interval : int
        Validate whenever ``samples_processed`` is a multiple of it.
    state : RunState, optional
        Resume from this state (its batch generator state is restored).
    on_validation : callable, optional
        ``on_validation(state)`` after each validation (e.g. to save a
        checkpoint or redraw a plot).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    RunState
        Also when Ctrl-C stopped the loop: ``interrupted`` is then True and
        everything done so far is kept.
    """
    if progress:  # tqdm.auto picks the notebook widget when there is one
        from tqdm.auto import tqdm
    else:
        from tqdm import tqdm
    state = RunState() if state is None else state
    if state.batch_rng_state is not None:
        rng.set_state(state.batch_rng_state)
    x_val, xmask_val, y_val, ymask_val = validation[:4]
    since_val = []
    bar = tqdm(total=int(samples_to_process), initial=state.samples_processed,
               unit='samples', disable=not progress, dynamic_ncols=True)
    state.interrupted = False
    try:
        while state.samples_processed < samples_to_process:
            x, xmask, y, ymask, _, _ = get_batch(batch_size, min_digits,
                                                 max_digits, rng=rng)
            start = time.perf_counter()
            cost, _ = trainer.train_step(x, xmask, y, ymask)
            state.train_seconds += time.perf_counter() - start
            state.costs.append(cost)
            since_val.append(cost)
            state.samples_processed += batch_size
            bar.update(batch_size)
            if state.samples_processed % val_interval == 0:
                start = time.perf_counter()
                result = trainer.evaluate(x_val, xmask_val, y_val, ymask_val)
                state.validation_seconds += time.perf_counter() - start
                state.last_validation = result
                state.history.append({
                    'samples': state.samples_processed,
                    'val_accuracy': result['accuracy'],
                    'cost': float(np.mean(since_val))})
                since_val = []
                state.batch_rng_state = rng.get_state()
                bar.set_postfix(cost='%.3f' % cost,
                                val_acc='%.3f' % result['accuracy'])
                if on_validation is not None:
                    on_validation(state)
    except KeyboardInterrupt:
        state.interrupted = True
    finally:
        state.batch_rng_state = rng.get_state()
        bar.close()
    return state
