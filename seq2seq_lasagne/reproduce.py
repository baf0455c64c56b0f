"""``seq2seq-lasagne reproduce``: both models at the notebook's settings,
over several seeds, and one report beside the original's results.

Each run lives in ``OUT/<model>/seed_<s>/`` (see
:func:`~seq2seq_lasagne.experiment.train_run`); a run that finished is
skipped and an interrupted one resumes from its checkpoint, so an
interrupted ``reproduce`` continues where it stopped.  The summary gives
the spread over seeds, not one lucky run.
"""

import os

import numpy as np

from . import plateau
from .checkpoint import write_json
from .experiment import load_metrics, train_run
from .reporting import provenance, write_report
from .runlock import RunLock
from .settings import REPRODUCE_SEEDS, RunSettings
from .training import build_trainer

__all__ = ['reproduce', 'summarise']


def _run_dir(out_dir, model, seed):
    return os.path.join(out_dir, model, 'seed_%d' % seed)


def _finished(metrics, samples):
    return (
        metrics is not None
        and not metrics['interrupted']
        and metrics['samples_processed'] >= samples
    )


def summarise(out_dir, models, seeds, command=None, options=None):
    """Collect the runs' metrics into one summary (also ``summary.json``).

    Parameters
    ----------
    out_dir : str
    models, seeds : sequence
    command : str, optional
        The command line that made the runs.
    options : dict, optional
        Settings that differ from the notebook's recipe, by field name.

    Returns
    -------
    summary : dict
        Per model: seeds, final and best accuracies and their statistics,
        accuracy per position, samples, timings; for the attention model
        also whether each run left the plateau (reached
        :data:`~seq2seq_lasagne.settings.PLATEAU_LEVEL`), when, and the
        other :func:`seq2seq_lasagne.plateau.statistics`, and its attention
        diagonal.
        Under ``'_run'``: when, how and on what it was made.
    histories : dict
        Per model, the validation history of each seed.
    """
    summary, histories = {}, {}
    for model in models:
        runs = [(s, load_metrics(_run_dir(out_dir, model, s))) for s in seeds]
        runs = [(s, m) for s, m in runs if m is not None]
        if not runs:
            continue
        finals = [m['val_accuracy'] for _, m in runs]
        bests = [m['best_val_accuracy'] for _, m in runs]
        entry = {
            'seeds': [s for s, _ in runs],
            'final': finals,
            'best': bests,
            'median': float(np.median(finals)),
            'mean': float(np.mean(finals)),
            'min': float(np.min(finals)),
            'max': float(np.max(finals)),
            'best_point': float(np.max(bests)),
            'accuracy_per_position': [
                m['accuracy_per_position'] for _, m in runs
            ],
            'samples': [m['samples_processed'] for _, m in runs],
            'wall_seconds': [m['wall_seconds'] for _, m in runs],
            'train_samples_per_second': [
                m['train_samples_per_second'] for _, m in runs
            ],
        }
        if model == 'attention':
            stats = plateau.statistics([m['history'] for _, m in runs])
            entry['left_plateau'] = [
                e is not None for e in stats['exit_samples']
            ]
            entry['plateau'] = stats
            entry['diagonal'] = [m.get('attention_diagonal') for _, m in runs]
        summary[model] = entry
        histories[model] = [m['history'] for _, m in runs]
    summary['_run'] = dict(provenance(command), options=dict(options or {}))
    write_json(os.path.join(out_dir, 'summary.json'), summary)
    return summary, histories


def reproduce(
    out_dir,
    seeds=REPRODUCE_SEEDS,
    models=('baseline', 'attention'),
    samples=None,
    progress=True,
    log=print,
    command=None,
    plateau_restarts=0,
    fused_attention=False,
    fused_gru=False,
):
    """Train every model and seed not yet finished, then write the report.

    Parameters
    ----------
    out_dir : str
    seeds : sequence of int
    models : sequence of str
    samples : int, optional
        Override the notebook's sample counts (for quick checks).
    progress : bool
    log : callable
    command : str, optional
        The command line, recorded in ``summary.json``.
    plateau_restarts : int
        The attention model's
        :attr:`~seq2seq_lasagne.settings.RunSettings.plateau_restarts`
        (0: the notebook's recipe).
    fused_attention : bool
        The attention model's
        :attr:`~seq2seq_lasagne.settings.RunSettings.fused_attention`.
    fused_gru : bool
        Both models'
        :attr:`~seq2seq_lasagne.settings.RunSettings.fused_gru`.

    Returns
    -------
    str
        Path of ``report.md``.

    Raises
    ------
    seq2seq_lasagne.runlock.RunDirLocked
        Another process is writing ``out_dir``.
    """
    os.makedirs(out_dir, exist_ok=True)
    options = {}
    if plateau_restarts:
        options['plateau_restarts'] = plateau_restarts
    if fused_attention:
        options['fused_attention'] = True
    if fused_gru:
        options['fused_gru'] = True
    with RunLock(out_dir):
        for model in models:
            trainer = None
            for seed in seeds:
                settings = RunSettings(
                    model=model,
                    samples=samples,
                    seed=seed,
                    plateau_restarts=(
                        plateau_restarts if model == 'attention' else 0
                    ),
                    fused_attention=fused_attention and model == 'attention',
                    fused_gru=fused_gru,
                )
                run_dir = _run_dir(out_dir, model, seed)
                if _finished(load_metrics(run_dir), settings.samples):
                    log('%s seed %d: done already' % (model, seed))
                    continue
                log(
                    '%s seed %d: training %d samples'
                    % (model, seed, settings.samples)
                )
                if trainer is None:
                    trainer = build_trainer(settings)
                metrics = train_run(
                    run_dir,
                    settings,
                    resume=True,
                    progress=progress,
                    trainer=trainer,
                    log=log,
                )
                if metrics['interrupted']:
                    raise KeyboardInterrupt
        summary, histories = summarise(
            out_dir, models, seeds, command, options
        )
        return write_report(out_dir, summary, histories)
