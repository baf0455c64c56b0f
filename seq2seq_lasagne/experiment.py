"""One training run into a directory: what ``seq2seq-lasagne train`` does.

:func:`train_run` builds the model from a seed, trains it with the
notebook's recipe, and leaves in the run directory ``metrics.json``,
``params.npz`` + ``config.json``, the plots, and a ``checkpoint.npz`` to
resume from.  Ctrl-C, SIGTERM and SIGHUP stop training and still write
everything for the samples processed so far; a second run on the same
directory is refused while the first holds its lock; a non-finite cost or a
failed write stops the run with one line saying what was kept.
"""

import os
import time

import numpy as np
import theano

from . import plateau, plotting
from .atomic import WriteError
from .checkpoint import (
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    save_params,
    write_json,
)
from .data_generator import decode_prediction, get_batch
from .interrupts import StopSignals
from .metrics import accuracy_per_position, attention_diagonal
from .runlock import RunLock
from .seeding import restart_seed, seeded_rngs
from .training import NonFiniteCost, RunState, build_trainer, fit
from .validation import ParamsError, read_json

__all__ = ['train_run', 'load_metrics', 'RunError']

#: Attention heatmaps drawn for the first validation samples.
N_HEATMAPS = 3

#: What a run's metrics.json must give, and the type of each.
METRICS_KEYS = {
    'interrupted': bool,
    'samples_processed': int,
    'val_accuracy': (int, float),
    'best_val_accuracy': (int, float),
    'history': list,
    'accuracy_per_position': list,
    'wall_seconds': (int, float),
}


class RunError(RuntimeError):
    """A run stopped on a failure it reports in one line: a non-finite
    training cost, or a file that could not be written.  The message says
    what was kept."""


def load_metrics(run_dir):
    """``metrics.json`` of a run directory, or None if it has none.

    Raises
    ------
    ParamsError
        If the file is damaged or lacks what a run writes.
    """
    path = os.path.join(run_dir, 'metrics.json')
    if not os.path.lexists(path):
        return None
    metrics = read_json(path, allow_nan=True)
    if not isinstance(metrics, dict):
        raise ParamsError('%s is not a JSON object' % path)
    for key, kind in METRICS_KEYS.items():
        value = metrics.get(key)
        if not isinstance(value, kind) or (
            kind is int and isinstance(value, bool)
        ):
            raise ParamsError(
                "%s is not a run's metrics: %s is %.40r" % (path, key, value)
            )
    return metrics


def _theano_settings():
    config = theano.config
    return {
        'device': config.device,
        'floatX': config.floatX,
        'blas_ldflags': bool(config.blas.ldflags),
        'theano': theano.__version__,
    }


def _write_outputs(
    run_dir,
    settings,
    trainer,
    state,
    validation,
    compile_seconds,
    wall_seconds,
    measured_at,
    stopped_by,
):
    model = trainer.model
    save_params(model, run_dir)
    text_inputs = validation[4]
    result = state.last_validation
    per_position = []
    if result is not None:
        ymask = validation[3] if settings.target_mask else None
        per_position = accuracy_per_position(
            result['output'], validation[2], ymask
        )
        plotting.plot_accuracy_per_position(
            per_position,
            os.path.join(run_dir, 'accuracy_per_position.png'),
            title='%s, %d samples' % (settings.model, state.samples_processed),
        )
    plotting.plot_validation_curve(
        state.history,
        os.path.join(run_dir, 'validation_curve.png'),
        title='%s (seed %d)' % (settings.model, settings.seed),
    )
    if result is not None and result['alpha'] is not None:
        alpha = result['alpha']
        plotting.plot_alpha_weights(
            alpha, os.path.join(run_dir, 'alpha_weights.png')
        )
        predictions = np.argmax(result['output'], axis=-1)
        for i in range(min(N_HEATMAPS, len(text_inputs))):
            plotting.plot_attention_heatmap(
                alpha[i],
                text_inputs[i],
                decode_prediction(predictions[i]),
                os.path.join(run_dir, 'attention_heatmap_%d.png' % i),
                title='"%s"' % text_inputs[i],
            )
    train_samples = len(state.costs) * settings.batch_size
    metrics = {
        'model': settings.model,
        'settings': settings.as_dict(),
        'samples_processed': state.samples_processed,
        'interrupted': state.interrupted,
        'stopped_by': stopped_by,
        'val_accuracy': (
            result['accuracy'] if result is not None else float('nan')
        ),
        'val_accuracy_samples': measured_at,
        'best_val_accuracy': max(
            [h['val_accuracy'] for h in state.history], default=float('nan')
        ),
        'history': state.history,
        'accuracy_per_position': [float(a) for a in per_position],
        'compile_seconds': compile_seconds,
        'train_seconds': state.train_seconds,
        'validation_seconds': state.validation_seconds,
        'wall_seconds': wall_seconds,
        'train_samples_per_second': (
            train_samples / state.train_seconds
            if state.train_seconds
            else None
        ),
        'theano': _theano_settings(),
    }
    if result is not None and result['alpha'] is not None:
        metrics['attention_diagonal'] = attention_diagonal(result['alpha'])
    if settings.model == 'attention':
        metrics['plateau_exit_samples'] = plateau.exit_samples(state.history)
    if settings.plateau_restarts:
        metrics['attempts'] = _attempts(settings, state.history)
    write_json(os.path.join(run_dir, 'metrics.json'), metrics)
    return metrics


def _attempts(settings, history):
    """Each attempt of a run with restarts: its seed and first sample."""
    out = [{'attempt': 0, 'seed': settings.seed, 'start': 0}]
    previous = 0
    for point in history:
        attempt = point.get('attempt', 0)
        if attempt != out[-1]['attempt']:
            out.append(
                {
                    'attempt': attempt,
                    'seed': restart_seed(settings.seed, attempt),
                    'start': previous,
                }
            )
        previous = point['samples']
    return out


def _restart(settings, trainer, attempt, state, log):
    """Start a run still on the plateau again: new weights and batches
    from the attempt's seed; returns the new batch generator."""
    seed = restart_seed(settings.seed, attempt)
    log(
        'plateau: still on the plateau after %d samples: starting again '
        'from new weights and batches (seed %d, restart %d of %d)'
        % (
            plateau.current_attempt(state.history)[-1]['samples'],
            seed,
            attempt,
            settings.plateau_restarts,
        )
    )
    trainer.reset(seed)
    state.batch_rng_state = None
    return seeded_rngs(seed)['batches']


def _validate(trainer, validation):
    x, xmask, y, ymask = validation[:4]
    return trainer.evaluate(x, y, xmask, ymask)


def train_run(
    run_dir,
    settings,
    resume=True,
    progress=True,
    trainer=None,
    log=print,
    on_validation=None,
    plateau_after=None,
):
    """Train one model and write its run directory.

    The directory is locked for the run (:class:`~seq2seq_lasagne.runlock.
    RunLock`).  A checkpoint to resume from is checked before the model is
    built, and its values before anything is compiled.  Ctrl-C, SIGTERM and
    SIGHUP stop training at the next step and the outputs are written for
    the samples processed.

    Parameters
    ----------
    run_dir : str
        Created if missing.
    settings : RunSettings
    resume : bool
        Continue from ``run_dir/checkpoint.npz`` when it exists (its
        settings must match).
    progress : bool
        Show the progress bar.
    trainer : Trainer, optional
        A trainer of the same settings but for the seed, to reuse its
        compiled functions (its parameters are re-initialised from the
        seed).
    log : callable
        Where to print one-line messages.
    on_validation : callable, optional
        ``on_validation(state)`` after each validation, before the
        checkpoint is saved (e.g. to record diagnostics).
    plateau_after : int, optional
        Samples past which an attention run still on the plateau is told
        so (:func:`seq2seq_lasagne.plateau.check`; by default the measured
        threshold, at the notebook's settings only).

    Returns
    -------
    dict
        The metrics written to ``metrics.json``; ``val_accuracy_samples``
        says where ``val_accuracy`` was measured, ``stopped_by`` names the
        signal that ended an interrupted run.

    Raises
    ------
    seq2seq_lasagne.checkpoint.ParamsError
        The checkpoint is damaged, or was saved with other settings.
    seq2seq_lasagne.runlock.RunDirLocked
        Another process is writing ``run_dir``.
    RunError
        The cost became non-finite, or a file could not be written.
    """
    start = time.perf_counter()
    try:
        os.makedirs(run_dir, exist_ok=True)
    except OSError as exc:
        raise WriteError(run_dir, exc)
    with RunLock(run_dir):
        return _train_locked(
            run_dir,
            settings,
            resume,
            progress,
            trainer,
            log,
            start,
            on_validation,
            plateau_after,
        )


def _train_locked(
    run_dir,
    settings,
    resume,
    progress,
    trainer,
    log,
    start,
    on_validation,
    plateau_after,
):
    checkpoint = os.path.join(run_dir, 'checkpoint.npz')
    key = settings.as_dict()
    key.pop('samples')  # a run may be extended with more samples
    for option in ('plateau_restarts', 'fused_gru'):
        if not key[option]:
            key.pop(option)  # (checkpoints from before the option)
    saved = None
    if resume and os.path.lexists(checkpoint):
        saved = read_checkpoint(checkpoint, extra=key)
    rngs = seeded_rngs(settings.seed)
    if trainer is None:
        trainer = build_trainer(settings)
    else:
        trainer.reset(settings.seed)
    state = RunState()
    if saved is not None:
        load_checkpoint(checkpoint, trainer, state, extra=key)
    compile_seconds = trainer.compile()
    validation = get_batch(
        settings.val_size,
        settings.min_digits,
        settings.max_digits,
        rng=rngs['validation'],
    )
    if saved is not None:
        log('resuming %s from %d samples' % (run_dir, state.samples_processed))
    kept = {'samples': state.samples_processed if saved else None}

    attempt, begin = plateau.attempt_of(state.history)
    batches = rngs['batches']
    if attempt:  # resuming a restart: its generator state is the checkpoint's
        batches = seeded_rngs(restart_seed(settings.seed, attempt))['batches']

    told = []

    def tag(state):
        # The validations of a restart carry its number (fit calls the
        # note first, then on_validation).
        if attempt:
            state.history[-1]['attempt'] = attempt

    def plateau_note(state):
        tag(state)
        message = plateau.check(settings, state.history, plateau_after)
        if message and not told:
            told.append(message)
            log('plateau: ' + message)
        return plateau.PROGRESS_NOTE if message else None

    def after_validation(state):
        tag(state)
        if on_validation is not None:
            on_validation(state)
        save_checkpoint(checkpoint, trainer, state, extra=key)
        kept['samples'] = state.samples_processed
        # True stops fit here: the run starts again (see the loop below).
        return plateau.restart_due(settings, state.history)

    def last_good():
        if kept['samples'] is None:
            return 'this run saved no checkpoint'
        return (
            '%s (%d samples) is the last good state; the same command '
            'resumes from it' % (checkpoint, kept['samples'])
        )

    try:
        with StopSignals() as stop:
            while True:
                if plateau.restart_due(settings, state.history):
                    attempt, begin = attempt + 1, state.samples_processed
                    batches = _restart(settings, trainer, attempt, state, log)
                    del told[:]
                state = fit(
                    trainer,
                    begin + settings.samples,
                    validation,
                    batches,
                    batch_size=settings.batch_size,
                    min_digits=settings.min_digits,
                    max_digits=settings.max_digits,
                    val_interval=settings.val_interval,
                    state=state,
                    on_validation=after_validation,
                    progress=progress,
                    stop=stop,
                    note=plateau_note,
                )
                if state.interrupted or not plateau.restart_due(
                    settings, state.history
                ):
                    break
            measured_at = None
            if state.last_validation is not None:
                measured_at = state.history[-1]['samples']
            elif state.history or state.samples_processed:
                # after a resume, or before the first validation
                state.last_validation = _validate(trainer, validation)
                measured_at = state.samples_processed
            stopped_by = None
            if state.interrupted:
                stopped_by = stop.name or 'SIGINT'
                log(
                    'stopped by %s at %d samples: saving what was trained'
                    % (stopped_by, state.samples_processed)
                )
            return _write_outputs(
                run_dir,
                settings,
                trainer,
                state,
                validation,
                compile_seconds,
                time.perf_counter() - start,
                measured_at,
                stopped_by,
            )
    except NonFiniteCost as exc:
        raise RunError(
            '%s; stopped without writing parameters: %s' % (exc, last_good())
        )
    except WriteError as exc:
        raise RunError('%s; %s' % (exc, last_good()))
