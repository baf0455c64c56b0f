"""Training several variants of the lab's models side by side.

What the solutions notebooks use to answer the exercises:
:class:`VariantRunner` trains each variant with the notebook's recipe from
the same seed, and :func:`history_table` puts their results in one table.
"""

import os
import time
import warnings

from .checkpoint import write_json
from .data_generator import get_batch
from .metrics import accuracy_per_position, sequence_metrics
from .reporting import fmt, provenance
from .seeding import seeded_rngs
from .settings import RECORD_COMMAND_ENV, RECORD_ENV, RunSettings
from .training import build_trainer, fit

__all__ = ['VariantRunner', 'history_table', 'variant_record']


def history_table(runs, columns=('val_accuracy',)):
    """Markdown table of the last validation of each run.

    Parameters
    ----------
    runs : dict
        Name -> :class:`~seq2seq_lasagne.training.RunState`.
    columns : sequence of str
        Keys of the history rows to show.
    """
    lines = [
        '| variant | samples | %s | best val_accuracy |' % ' | '.join(columns),
        '|---|---|%s---|' % ('---|' * len(columns)),
    ]
    for name, state in runs.items():
        last = state.history[-1] if state.history else {}
        best = max(
            [h['val_accuracy'] for h in state.history], default=float('nan')
        )
        lines.append(
            '| %s | %d | %s | %s |'
            % (
                name,
                state.samples_processed,
                ' | '.join(fmt(last.get(c, float('nan'))) for c in columns),
                fmt(best),
            )
        )
    return '\n'.join(lines)


def variant_record(state, validation, target_mask=None):
    """What a trained variant's last validation measured, as plain data.

    Parameters
    ----------
    state : RunState
        With ``last_validation`` set.
    validation : tuple
        The ``get_batch`` output it was validated on.
    target_mask : bool, optional
        Count only real target positions per position (exercise 4).

    Returns
    -------
    dict
        ``samples``, ``final``, ``best``, ``per_position``, ``wall_seconds``
        and the :func:`~seq2seq_lasagne.metrics.sequence_metrics` keys.
    """
    if state.last_validation is None:
        return {'samples': state.samples_processed}
    output = state.last_validation['output']
    ymask = validation[3] if target_mask else None
    record = {
        'samples': state.samples_processed,
        'final': state.val_accuracy,
        'best': max(h['val_accuracy'] for h in state.history),
        'per_position': [
            float(a)
            for a in accuracy_per_position(output, validation[2], ymask)
        ],
        'wall_seconds': getattr(state, 'wall_seconds', None),
    }
    record.update(sequence_metrics(output, validation[2], validation[3]))
    return record


class VariantRunner:
    """Train model variants with the notebook's recipe, for the solutions.

    Every variant gets the same seed: the same initial-weight generator,
    the same validation set and the same sequence of training batches, so
    differences between variants come from the variants.  Each distinct
    graph (model configuration and masking) is compiled once; training
    the same graph again starts from fresh seeded weights and a fresh Adam
    state.

    Parameters
    ----------
    seed : int
    batch_size, val_interval : int
        The notebook's 100 and 5000 by default.
    progress : bool
        Show tqdm progress bars.
    log : callable or None
        Receives one line per trained variant.
    record : str, optional
        When ``$SEQ2SEQ_RECORD_DIR`` is set, every trained variant's
        :func:`variant_record` is written to ``<that dir>/<record>.json``.
    """

    def __init__(
        self,
        seed=0,
        batch_size=RunSettings.batch_size,
        val_interval=RunSettings.val_interval,
        progress=False,
        log=print,
        record=None,
    ):
        self.seed = seed
        self.record = record
        self.records = {}
        self.batch_size = batch_size
        self.val_interval = val_interval
        self.progress = progress
        self.log = log
        self.trainers = {}
        self.runs = {}
        self.compile_seconds = 0.0

    def validation_set(self, size, min_digits=20, max_digits=20):
        """The seeded validation set (``get_batch`` output)."""
        rng = seeded_rngs(self.seed)['validation']
        return get_batch(size, min_digits, max_digits, rng=rng)

    @staticmethod
    def graph_key(settings):
        """What makes two settings' compiled graphs differ (a dict key)."""
        return (
            settings.model,
            settings.target_mask,
            tuple(sorted(settings.model_config().items())),
            settings.learning_rate,
            settings.grad_clip,
            settings.max_norm,
        )

    def trainer(self, settings):
        """The compiled trainer of ``settings``' graph, freshly seeded."""
        key = self.graph_key(settings)
        trainer = self.trainers.get(key)
        if trainer is None:
            trainer = build_trainer(settings)
            self.compile_seconds += trainer.compile()
            self.trainers[key] = trainer
        else:
            trainer.reset(settings.seed)
        return trainer

    def run(
        self,
        name,
        samples,
        validation,
        model='baseline',
        min_digits=20,
        max_digits=20,
        target_mask=False,
        metrics=True,
        **config,
    ):
        """Train one variant; returns its RunState (also in ``runs``).

        Parameters
        ----------
        name : str
            Label of the variant (key of :attr:`runs`).
        samples : int
            Training samples.
        validation : tuple
            ``get_batch`` output of the fixed validation set.
        model : {'baseline', 'attention'}
        min_digits, max_digits : int
            Lengths of the training targets.
        target_mask : bool
            Masked cost and accuracy (exercise 4).
        metrics : bool
            Add :func:`~seq2seq_lasagne.metrics.sequence_metrics` of every
            validation to the history rows (keys ``masked``,
            ``unmasked``, ...).
        **config
            More :class:`~seq2seq_lasagne.settings.RunSettings` fields
            (``encoder``, ``merge``, ...).
        """
        settings = RunSettings(
            model=model,
            samples=int(samples),
            seed=self.seed,
            min_digits=min_digits,
            max_digits=max_digits,
            batch_size=self.batch_size,
            val_interval=self.val_interval,
            target_mask=target_mask,
            **config,
        )
        trainer = self.trainer(settings)

        def on_validation(state):
            if metrics:
                state.history[-1].update(
                    sequence_metrics(
                        state.last_validation['output'],
                        validation[2],
                        validation[3],
                    )
                )

        if self.progress:
            with warnings.catch_warnings():
                # fit() draws its bar with tqdm.auto, which can warn on
                # import (no ipywidgets in the kernel); import it quietly
                # once, the bar then falls back to text.
                warnings.simplefilter('ignore')
                import tqdm.auto  # noqa: F401
        start = time.perf_counter()
        state = fit(
            trainer,
            settings.samples,
            validation,
            seeded_rngs(self.seed)['batches'],
            batch_size=settings.batch_size,
            min_digits=min_digits,
            max_digits=max_digits,
            val_interval=settings.val_interval,
            on_validation=on_validation,
            progress=self.progress,
        )
        state.wall_seconds = time.perf_counter() - start
        state.trainer = trainer
        self.runs[name] = state
        self.records[name] = variant_record(
            state, validation, settings.target_mask
        )
        record_dir = os.environ.get(RECORD_ENV)
        if self.record and record_dir:
            os.makedirs(record_dir, exist_ok=True)
            write_json(
                os.path.join(record_dir, self.record + '.json'),
                {
                    'seed': self.seed,
                    'variants': self.records,
                    '_run': provenance(os.environ.get(RECORD_COMMAND_ENV)),
                },
            )
        if self.log is not None:
            self.log(
                '%s: %d samples in %.0f s, final validation accuracy %.3f'
                % (
                    name,
                    state.samples_processed,
                    state.wall_seconds,
                    state.val_accuracy,
                )
            )
        return state
