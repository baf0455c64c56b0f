"""The attention model's plateau: when a run has left it, and telling the
student when it has not.

With the notebook's recipe the attention model first sits at the baseline's
accuracy (about 0.26) until its attention finds the alignment, then climbs
towards 0.9.  Most runs leave the plateau early, a few late or never
(``docs/PLATEAU.md`` measures how many and when).  This module defines
leaving (:func:`exit_samples`), summarises it over seeds
(:func:`statistics`) and words the message a run that is still on the
plateau past :data:`~seq2seq_lasagne.settings.PLATEAU_SAMPLES` gets: in the
``train`` command's progress line (:func:`check`) and under the notebook's
live plot (:func:`show_hint`).
"""

import dataclasses
import math

import numpy as np

from . import settings as _settings

__all__ = [
    'exit_samples',
    'left_plateau',
    'attempt_of',
    'current_attempt',
    'restart_due',
    'applies',
    'stuck',
    'advice',
    'check',
    'PROGRESS_NOTE',
    'PlateauWatch',
    'show_hint',
    'statistics',
    'threshold',
    'begins_as',
]

#: What the progress bar shows while a run is past the threshold and still
#: on the plateau (the full message is logged once).
PROGRESS_NOTE = 'still on the plateau'

#: The fields of :class:`~seq2seq_lasagne.settings.RunSettings` that may
#: differ from the notebook's for the measured threshold to apply: they do
#: not change what one training step computes (beyond float rounding).
_FREE_FIELDS = (
    'samples',
    'seed',
    'val_size',
    'val_interval',
    'unroll_scan',
    'fused_attention',
    'fused_gru',
    'plateau_restarts',
)


def _accuracies(history):
    """``(samples, accuracy)`` pairs of a history (dicts or pairs)."""
    out = []
    for point in history:
        if isinstance(point, dict):
            out.append((point['samples'], point['val_accuracy']))
        else:
            out.append((point[0], point[1]))
    return out


def exit_samples(history, level=None):
    """Samples of the first validation at or above the plateau level.

    Parameters
    ----------
    history : list
        ``{'samples', 'val_accuracy'}`` dicts (a run's history) or
        ``(samples, accuracy)`` pairs.
    level : float, optional
        Default :data:`~seq2seq_lasagne.settings.PLATEAU_LEVEL`.

    Returns
    -------
    int or None
        None while the run has never reached ``level``.
    """
    level = _settings.PLATEAU_LEVEL if level is None else level
    for samples, accuracy in _accuracies(history):
        if accuracy >= level:
            return int(samples)
    return None


def left_plateau(history, level=None):
    """Whether any validation of ``history`` reached the plateau level."""
    return exit_samples(history, level) is not None


def attempt_of(history):
    """Which attempt a run's history is at, and where it started.

    A run with :attr:`~seq2seq_lasagne.settings.RunSettings.plateau_restarts`
    tags the validations of its restarts with ``'attempt'`` (1, 2, ...);
    untagged ones are the first attempt (0).

    Returns
    -------
    attempt : int
    start : int
        Samples processed when the attempt started.
    """
    attempt = history[-1].get('attempt', 0) if history else 0
    start = 0
    for point in history:
        if point.get('attempt', 0) < attempt:
            start = point['samples']
    return attempt, start


def current_attempt(history):
    """The current attempt's validations, counted from its start."""
    attempt, start = attempt_of(history)
    return [
        dict(point, samples=point['samples'] - start)
        for point in history
        if point.get('attempt', 0) == attempt
    ]


def restart_due(settings, history):
    """Whether a run of ``settings`` starts again now (after the
    validation that ends ``history``): it may restart once more and its
    current attempt is :func:`stuck`."""
    if not history or settings.model != 'attention':
        return False
    attempt, _ = attempt_of(history)
    return attempt < settings.plateau_restarts and stuck(
        current_attempt(history)
    )


def applies(settings):
    """Whether the measured threshold applies to a run of ``settings``.

    It was measured for the attention model at the notebook's settings;
    other target lengths, sizes or optimiser settings have other plateaus.
    """
    if settings.model != 'attention':
        return False
    recipe = _settings.RunSettings(model='attention')
    return all(
        getattr(settings, f.name) == getattr(recipe, f.name)
        for f in dataclasses.fields(recipe)
        if f.name not in _FREE_FIELDS
    )


def stuck(history, after=None, level=None):
    """Whether a run is past ``after`` samples and still on the plateau.

    Parameters
    ----------
    history : list
        See :func:`exit_samples`.
    after : int, optional
        Default :data:`~seq2seq_lasagne.settings.PLATEAU_SAMPLES`.
    level : float, optional
        Default :data:`~seq2seq_lasagne.settings.PLATEAU_LEVEL`.
    """
    after = _settings.PLATEAU_SAMPLES if after is None else after
    points = _accuracies(history)
    return bool(
        points and points[-1][0] >= after and not left_plateau(points, level)
    )


#: What a student can do, worded for the command line and the notebook.
_REMEDIES = {
    'cli': 'train longer (the same command with a larger --samples '
    'resumes this run) or start again with another --seed',
    'notebook': 'train longer (a larger SAMPLES_TO_PROCESS) or set another '
    'SEED in the parameters cell and run the notebook again',
}


def advice(history, after=None, level=None, where='cli'):
    """The message for a run that is :func:`stuck`, else None.

    Parameters
    ----------
    history, after, level
        See :func:`stuck`.
    where : {'cli', 'notebook'}
        Whose remedies to name.

    Returns
    -------
    str or None
    """
    after = _settings.PLATEAU_SAMPLES if after is None else after
    level = _settings.PLATEAU_LEVEL if level is None else level
    if not stuck(history, after, level):
        return None
    points = _accuracies(history)
    best = max(accuracy for _, accuracy in points)
    return (
        'this attention run is still on the plateau: after %d samples its '
        'validation accuracy has not reached %.2f (best %.3f), while most '
        'runs leave the plateau by %d samples (docs/PLATEAU.md). Nothing '
        'is wrong with the code: some runs leave late, a few never. You '
        'can %s.' % (points[-1][0], level, best, after, _REMEDIES[where])
    )


def check(settings, history, after=None):
    """The plateau message of a ``train`` run, or None.

    Parameters
    ----------
    settings : RunSettings
    history : list of dict
        The run's history so far (only its current attempt counts).
    after : int, optional
        Samples past which to speak; default
        :data:`~seq2seq_lasagne.settings.PLATEAU_SAMPLES` where the
        measured threshold :func:`applies`, no message otherwise.
    """
    if settings.model != 'attention':
        return None
    if after is None:
        if not applies(settings):
            return None
        after = _settings.PLATEAU_SAMPLES
    if restart_due(settings, history):
        return None  # it starts again instead
    return advice(current_attempt(history), after=after)


class PlateauWatch:
    """Under the notebook's live plot: the plateau note and, if asked,
    restarts.

    Called after each validation with the notebook's ``val_samples`` and
    ``accs``.  While the run is :func:`stuck` it prints what the student
    can do; with ``restarts`` it first starts the run again that many
    times, as ``plateau_restarts`` does for ``train``: new weights drawn
    as Lasagne draws the lab's (from a seed derived from ``seed``), Adam's
    state zeroed, the loop going on.

    Parameters
    ----------
    restarts : int
        The parameters cell's ``PLATEAU_RESTARTS`` (0: only the note).
    params : list of shared variables, optional
        The notebook's ``all_parameters``; needed with ``restarts``.
    updates : OrderedDict, optional
        The notebook's Adam ``updates``; needed with ``restarts``.
    seed : int
        The notebook's ``SEED``.
    after : int, optional
        Default :data:`~seq2seq_lasagne.settings.PLATEAU_SAMPLES`.

    Attributes
    ----------
    attempt : int
        Restarts done so far.
    start : int
        Samples processed when the current attempt started.
    """

    def __init__(
        self, restarts=0, params=None, updates=None, seed=0, after=None
    ):
        if restarts and (params is None or updates is None):
            raise ValueError('restarts need the params and the updates')
        self.restarts = int(restarts)
        self.params, self.updates = params, updates
        self.seed = seed
        self.after = after
        self.attempt = 0
        self.start = 0

    def __call__(self, val_samples, accs):
        """Print the note, or restart, when due; returns what was printed."""
        points = [
            (int(s) - self.start, float(a))
            for s, a in zip(val_samples, accs)
            if s > self.start
        ]
        if not stuck(points, self.after):
            return None
        if self.attempt < self.restarts:
            self.attempt += 1
            self.start = int(val_samples[-1])
            seed = self._restart()
            message = (
                'Note: still on the plateau after %d samples: starting again '
                'from new weights (seed %d, restart %d of %d; '
                'PLATEAU_RESTARTS in the parameters cell).'
                % (points[-1][0], seed, self.attempt, self.restarts)
            )
        else:
            message = 'Note: ' + advice(
                points, after=self.after, where='notebook'
            )
        print(message)
        return message

    def _restart(self):
        import numpy as np

        from .models import build_seeded
        from .seeding import restart_seed

        seed = restart_seed(self.seed, self.attempt)
        fresh = {
            p.name: p for p in build_seeded('attention', seed).all_params()
        }
        for param in self.params:
            value = fresh[param.name].get_value()
            if value.shape != param.get_value().shape:
                raise ValueError(
                    '%s has shape %s, a new one %s'
                    % (param.name, param.get_value().shape, value.shape)
                )
            param.set_value(value)
        chosen = set(self.params)
        for var in self.updates:
            if var not in chosen:  # Adam's moments and step counter
                var.set_value(np.zeros_like(var.get_value()))
        return seed


def show_hint(val_samples, accs, after=None):
    """Print the plateau note when due (a :class:`PlateauWatch` without
    restarts); returns the message printed, or None."""
    return PlateauWatch(after=after)(val_samples, accs)


def _quantile(values, q):
    return float(np.percentile(values, q)) if values else None


def begins_as(history, first):
    """Whether ``history``'s first validations are ``first``'s, point for
    point (samples, accuracy, cost): the same seed and recipe give the same
    curve, so a shorter run of a seed, or one with restarts before its
    first restart, must begin as the full run did.

    Parameters
    ----------
    history, first : list of dict
        Runs' histories (``samples``, ``val_accuracy``, ``cost``).
    """

    def points(h):
        return [(p['samples'], p['val_accuracy'], p['cost']) for p in h]

    return points(history[: len(first)]) == points(first)


def threshold(exits, val_interval):
    """The samples after which a run still on the plateau is told so.

    The first validation at or after the 90th percentile of the exit
    samples of the runs that left: by then nine in ten of the runs that
    learn have left, so the note speaks to the late and the stuck runs.

    Parameters
    ----------
    exits : list of int or None
        Exit samples of the measured runs (:func:`exit_samples`; None for a
        run that never left).
    val_interval : int
        Samples between validations: the note can only come at one.

    Returns
    -------
    int
    """
    left = [e for e in exits if e is not None]
    if not left:
        raise ValueError('no run left the plateau: no threshold to set')
    p90 = _quantile(left, 90)
    return int(math.ceil(p90 / val_interval) * val_interval)


def statistics(histories, level=None, after=None):
    """How a set of runs left the plateau.

    Parameters
    ----------
    histories : list of list of dict
        One history per run (the validations, in order).
    level : float, optional
        Default :data:`~seq2seq_lasagne.settings.PLATEAU_LEVEL`.
    after : int, optional
        Default :data:`~seq2seq_lasagne.settings.PLATEAU_SAMPLES`.

    Returns
    -------
    dict
        ``level`` and ``after``; ``runs``; ``left`` (how many reached the
        level at some validation); ``exit_samples`` (one per run, None for a
        run that never left); ``exit_median``, ``exit_p75``, ``exit_p90``,
        ``exit_max`` over the runs that left; ``left_by_after`` (runs that
        left by ``after`` samples) and ``stuck_at_after`` (runs still on the
        plateau there: the ones the message speaks to); ``final_left`` and
        ``final_stuck``: final accuracies of each group.
    """
    level = _settings.PLATEAU_LEVEL if level is None else level
    after = _settings.PLATEAU_SAMPLES if after is None else after
    exits = [exit_samples(h, level) for h in histories]
    finals = [h[-1]['val_accuracy'] if h else float('nan') for h in histories]
    left = [e for e in exits if e is not None]
    reached = [bool(h) and h[-1]['samples'] >= after for h in histories]
    return {
        'level': level,
        'after': after,
        'runs': len(histories),
        'left': len(left),
        'exit_samples': exits,
        'exit_median': _quantile(left, 50),
        'exit_p75': _quantile(left, 75),
        'exit_p90': _quantile(left, 90),
        'exit_max': max(left) if left else None,
        'left_by_after': sum(1 for e in left if e <= after),
        'stuck_at_after': sum(
            1 for e, r in zip(exits, reached) if r and (e is None or e > after)
        ),
        'final_left': [f for f, e in zip(finals, exits) if e is not None],
        'final_stuck': [
            f for f, e in zip(finals, exits) if e is None and not math.isnan(f)
        ],
    }
