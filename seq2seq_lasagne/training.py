"""Training with the notebook's recipe.

Recipe: cross-entropy, gradients clipped element-wise to [-3, 3], then
``total_norm_constraint(grads, 3)``, Adam at 0.005, a fresh random batch of
100 per step, a fixed validation set evaluated every 5000 samples (the
numbers are :class:`~seq2seq_lasagne.settings.RunSettings`' defaults).

:func:`build_trainer` makes a :class:`Trainer` from settings; its
:meth:`Trainer.compile` compiles the Theano functions once; :func:`fit` runs
the notebook's loop on it, stops cleanly on Ctrl-C and resumes from a
:class:`RunState`.
"""

import math
import time

import lasagne
import numpy as np
import theano
import theano.tensor as T

from .compilation import deep_graph_recursion, scan_keeps_buffers
from .data_generator import get_batch
from .models import build_seeded
from .objectives import sequence_accuracy, sequence_cost

__all__ = ['Trainer', 'RunState', 'fit', 'build_trainer', 'NonFiniteCost']


class NonFiniteCost(ArithmeticError):
    """The training cost became NaN or infinite; training stopped.

    Attributes
    ----------
    cost : float
    samples : int
        Samples processed when it happened (the step included).
    """

    def __init__(self, cost, samples):
        super().__init__(
            'the training cost became %s at %d samples' % (cost, samples)
        )
        self.cost, self.samples = cost, samples


class Trainer:
    """The training and test functions of one model.

    The symbolic graphs are built when the trainer is made; :meth:`compile`
    turns them into Theano functions, once.

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
    cost : callable
        ``cost(output, targets, target_mask) -> scalar``; default
        :func:`~seq2seq_lasagne.objectives.sequence_cost`.

    Attributes
    ----------
    inputs : list of TensorVariable
        ``[x, y, xmask]``, plus ``ymask`` with ``target_mask``: the
        arguments of both compiled functions, in this order.
    updates : OrderedDict
        Adam's updates: every shared variable training changes.
    train_fn : theano.compile.Function or None
        ``f(x, y, xmask[, ymask]) -> [mean_cost, accuracy]``, with the
        updates; set by :meth:`compile`.
    test_fn : theano.compile.Function or None
        ``f(x, y, xmask[, ymask]) -> [accuracy, output(, alpha)]``; set by
        :meth:`compile`.
    """

    def __init__(
        self,
        model,
        learning_rate=0.005,
        grad_clip=3.0,
        max_norm=3.0,
        target_mask=False,
        cost=sequence_cost,
    ):
        self.model = model
        self.learning_rate = learning_rate
        self.grad_clip = grad_clip
        self.max_norm = max_norm
        self.target_mask = target_mask
        self.ymask_sym = T.matrix('ymask')
        self.inputs = [model.x_sym, model.y_sym, model.xmask_sym]
        if target_mask:
            self.inputs.append(self.ymask_sym)
        ymask = self.ymask_sym if target_mask else None

        output = model.get_output(deterministic=False)
        self.train_outputs = [
            cost(output, model.y_sym, ymask),
            sequence_accuracy(output, model.y_sym, ymask),
        ]
        params = model.trainable_params()
        with deep_graph_recursion():
            grads = T.grad(self.train_outputs[0], params)
        grads = [T.clip(g, -grad_clip, grad_clip) for g in grads]
        grads = lasagne.updates.total_norm_constraint(grads, max_norm)
        self.updates = lasagne.updates.adam(
            grads, params, learning_rate=learning_rate
        )

        output = model.get_output(deterministic=True)
        self.test_outputs = [
            sequence_accuracy(output, model.y_sym, ymask),
            output,
        ]
        alpha = getattr(model.l_dec, 'alpha', None)
        if alpha is not None:
            self.test_outputs.append(alpha)
        self.train_fn = None
        self.test_fn = None

    def compile(self, train=True, test=True):
        """Compile the training and the test function (each only once).

        Parameters
        ----------
        train, test : bool
            Which of the two to compile now.

        Returns
        -------
        float
            Seconds spent compiling in this call.
        """
        start = time.perf_counter()
        if train and self.train_fn is None:
            with deep_graph_recursion(), scan_keeps_buffers() as mode:
                self.train_fn = theano.function(
                    self.inputs,
                    self.train_outputs,
                    updates=self.updates,
                    name='train_fn',
                    mode=mode,
                )
        if test and self.test_fn is None:
            # Validation batches are 5000 wide: here the scans free their
            # arrays after each call, as Theano does by default.
            with deep_graph_recursion():
                self.test_fn = theano.function(
                    self.inputs,
                    self.test_outputs,
                    name='test_fn',
                    on_unused_input='ignore',
                )
        return time.perf_counter() - start

    def _args(self, x, y, xmask, ymask):
        args = [x, y, xmask]
        return args + [ymask] if self.target_mask else args

    def train_step(self, x, y, xmask, ymask=None):
        """One Adam step on a batch; returns ``(cost, accuracy)``."""
        if self.train_fn is None:
            raise RuntimeError('Trainer.compile() has not been called')
        cost, acc = self.train_fn(*self._args(x, y, xmask, ymask))
        return float(cost), float(acc)

    def evaluate(self, x, y, xmask, ymask=None):
        """Accuracy, output and (attention models) alpha on a batch.

        Parameters
        ----------
        x : ndarray, int32, (batch, input length)
        y : ndarray, int32, (batch, n_decodesteps), or None
            Without targets the returned accuracy is meaningless.
        xmask : ndarray, float32, (batch, input length)
        ymask : ndarray, (batch, n_decodesteps), optional

        Returns
        -------
        dict
            ``accuracy`` (float), ``output`` (batch, n_decodesteps, 11),
            ``alpha`` ((batch, n_decodesteps, input length) or None).
        """
        if self.test_fn is None:
            raise RuntimeError('Trainer.compile() has not been called')
        steps = self.model.config['max_digits'] + 1
        if y is None:
            y = np.zeros((x.shape[0], steps), dtype='int32')
        if ymask is None:
            ymask = np.ones(y.shape, dtype='float32')
        result = self.test_fn(*self._args(x, y, xmask, ymask))
        return {
            'accuracy': float(result[0]),
            'output': result[1],
            'alpha': result[2] if len(result) > 2 else None,
        }

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
        """Restore values from :meth:`shared_state`.

        Raises
        ------
        ValueError
            If their number, shapes or dtypes do not fit.
        """
        variables = list(self.updates)
        if len(values) != len(variables):
            raise ValueError(
                'checkpoint holds %d training variables, the model has %d'
                % (len(values), len(variables))
            )
        for var, value in zip(variables, values):
            current = var.get_value()
            if current.shape != np.shape(value):
                raise ValueError(
                    'checkpoint variable %s has shape %s, expected %s'
                    % (var, np.shape(value), current.shape)
                )
        for var, value in zip(variables, values):
            var.set_value(value)


def build_trainer(settings, cost=sequence_cost):
    """The trainer of a run: its model, seeded, and the recipe.

    Parameters
    ----------
    settings : RunSettings
    cost : callable, optional
        See :class:`Trainer`.

    Returns
    -------
    Trainer
        Not yet compiled (see :meth:`Trainer.compile`).
    """
    model = build_seeded(
        settings.model, settings.seed, **settings.model_config()
    )
    return Trainer(
        model,
        learning_rate=settings.learning_rate,
        grad_clip=settings.grad_clip,
        max_norm=settings.max_norm,
        target_mask=settings.target_mask,
        cost=cost,
    )


class RunState:
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
        if not self.history:
            return float('nan')
        return self.history[-1]['val_accuracy']


def fit(
    trainer,
    samples_to_process,
    validation,
    rng,
    batch_size=100,
    min_digits=20,
    max_digits=20,
    val_interval=5000,
    state=None,
    on_validation=None,
    progress=True,
    stop=None,
    note=None,
):
    """The notebook's training loop.

    Parameters
    ----------
    trainer : Trainer
        Compiled (:meth:`Trainer.compile`).
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
        checkpoint or redraw a plot); when it returns True the loop stops
        there.
    progress : bool
        Show a tqdm progress bar.
    stop : callable, optional
        ``stop() -> bool``, asked before each step: True ends the loop
        there, as Ctrl-C does (see
        :class:`~seq2seq_lasagne.interrupts.StopSignals`).
    note : callable, optional
        ``note(state) -> str or None`` after each validation: a remark for
        the progress bar (e.g. that the run is still on the plateau).

    Returns
    -------
    RunState
        Also when Ctrl-C or ``stop`` ended the loop: ``interrupted`` is then
        True and everything done so far is kept.

    Raises
    ------
    NonFiniteCost
        At the first step whose cost is NaN or infinite: that step's update
        has spoilt the parameters, so the state of the last validation (and
        ``on_validation``'s checkpoint) is the last good one.
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
    bar = tqdm(
        total=int(samples_to_process),
        initial=state.samples_processed,
        unit='samples',
        disable=not progress,
        dynamic_ncols=True,
    )
    state.interrupted = False
    try:
        while state.samples_processed < samples_to_process:
            if stop is not None and stop():
                state.interrupted = True
                break
            x, xmask, y, ymask, _, _ = get_batch(
                batch_size, min_digits, max_digits, rng=rng
            )
            start = time.perf_counter()
            cost, _ = trainer.train_step(x, y, xmask, ymask)
            state.train_seconds += time.perf_counter() - start
            if not math.isfinite(cost):
                raise NonFiniteCost(cost, state.samples_processed + batch_size)
            state.costs.append(cost)
            since_val.append(cost)
            state.samples_processed += batch_size
            bar.update(batch_size)
            if state.samples_processed % val_interval == 0:
                start = time.perf_counter()
                result = trainer.evaluate(x_val, y_val, xmask_val, ymask_val)
                state.validation_seconds += time.perf_counter() - start
                state.last_validation = result
                state.history.append(
                    {
                        'samples': state.samples_processed,
                        'val_accuracy': result['accuracy'],
                        'cost': float(np.mean(since_val)),
                    }
                )
                since_val = []
                state.batch_rng_state = rng.get_state()
                postfix = {
                    'cost': '%.3f' % cost,
                    'val_acc': '%.3f' % result['accuracy'],
                }
                remark = note(state) if note is not None else None
                if remark:
                    postfix['note'] = remark
                bar.set_postfix(**postfix)
                if on_validation is not None and on_validation(state):
                    break
    except KeyboardInterrupt:
        state.interrupted = True
    finally:
        state.batch_rng_state = rng.get_state()
        bar.close()
    return state
