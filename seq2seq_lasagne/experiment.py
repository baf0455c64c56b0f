"""One training run into a directory: what ``seq2seq-lasagne train`` does.

:func:`train_run` builds the model from a seed, trains it with the
notebook's recipe, and leaves in the run directory ``metrics.json``,
``params.npz`` + ``config.json``, the plots, and a ``checkpoint.npz`` to
resume from.  Ctrl-C stops training and still writes everything for the
samples processed so far.
"""

import json
import os
import time

import numpy as np
import theano

from . import plotting
from .checkpoint import (
    load_checkpoint,
    save_checkpoint,
    save_params,
    write_json,
)
from .data_generator import decode_prediction, get_batch
from .metrics import accuracy_per_position, attention_diagonal
from .seeding import seeded_rngs
from .training import RunState, build_trainer, fit

__all__ = ['train_run', 'load_metrics']

#: Attention heatmaps drawn for the first validation samples.
N_HEATMAPS = 3


def load_metrics(run_dir):
    """``metrics.json`` of a run directory, or None if it has none."""
    path = os.path.join(run_dir, 'metrics.json')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


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
):
    model = trainer.model
    save_params(model, run_dir)
    text_inputs = validation[4]
    result = state.last_validation
    if result is None and state.samples_processed:
        # Interrupted before the first validation: validate once now.
        result = _validate(trainer, validation)
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
        'val_accuracy': (
            result['accuracy'] if result is not None else float('nan')
        ),
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
    write_json(os.path.join(run_dir, 'metrics.json'), metrics)
    return metrics


def _validate(trainer, validation):
    x, xmask, y, ymask = validation[:4]
    return trainer.evaluate(x, y, xmask, ymask)


def train_run(
    run_dir, settings, resume=True, progress=True, trainer=None, log=print
):
    """Train one model and write its run directory.

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

    Returns
    -------
    dict
        The metrics written to ``metrics.json``.
    """
    start = time.perf_counter()
    os.makedirs(run_dir, exist_ok=True)
    rngs = seeded_rngs(settings.seed)
    if trainer is None:
        trainer = build_trainer(settings)
    else:
        trainer.reset(settings.seed)
    compile_seconds = trainer.compile()
    validation = get_batch(
        settings.val_size,
        settings.min_digits,
        settings.max_digits,
        rng=rngs['validation'],
    )

    state = RunState()
    checkpoint = os.path.join(run_dir, 'checkpoint.npz')
    key = settings.as_dict()
    key.pop('samples')  # a run may be extended with more samples
    if resume and os.path.exists(checkpoint):
        load_checkpoint(checkpoint, trainer, state, extra=key)
        log('resuming %s from %d samples' % (run_dir, state.samples_processed))
        if state.history:
            state.last_validation = None  # recomputed below when needed

    def on_validation(state):
        save_checkpoint(checkpoint, trainer, state, extra=key)

    state = fit(
        trainer,
        settings.samples,
        validation,
        rngs['batches'],
        batch_size=settings.batch_size,
        min_digits=settings.min_digits,
        max_digits=settings.max_digits,
        val_interval=settings.val_interval,
        state=state,
        on_validation=on_validation,
        progress=progress,
    )
    if state.last_validation is None and state.history:
        state.last_validation = _validate(trainer, validation)
    if state.interrupted:
        log(
            'interrupted at %d samples: saving what was trained'
            % state.samples_processed
        )
    return _write_outputs(
        run_dir,
        settings,
        trainer,
        state,
        validation,
        compile_seconds,
        time.perf_counter() - start,
    )
