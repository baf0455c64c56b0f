"""``seq2seq-lasagne reproduce``: both models at the notebook's settings,
over several seeds, and one Markdown report beside the original's results.

Each run lives in ``OUT/<model>/seed_<s>/`` (see :func:`train_run`); a run
that finished is skipped and an interrupted one resumes from its checkpoint,
so an interrupted ``reproduce`` continues where it stopped.  The report
gives the spread over seeds, not one lucky run.
"""
import os
import shutil

import numpy as np

from . import plotting
from .checkpoint import write_json
from .experiment import RunSettings, load_metrics, train_run
from .training import DEFAULT_SAMPLES

__all__ = ['reproduce', 'summarise', 'write_report', 'ORIGINAL']

#: Facts of the original lab (ORIGINAL.md), for the report.
ORIGINAL = {
    'baseline': {
        'curve': [(5000, 0.127), (20000, 0.171)],
        'text': '0.127 -> 0.171 over the first 20 000 samples (the saved '
                'curve stops there); about 0.26 after 3e5 samples measured '
                'on Lasagne 0.1; per position about 0.16-0.19 for positions '
                '0-17, then 0.32, 0.95, 0.98',
    },
    'attention': {
        'curve': [(5000, 0.15), (40000, 0.40), (80000, 0.70),
                  (140000, 0.89), (150000, 0.90)],
        'text': 'one run: about 0.15 at 5 000 samples, 0.40 at 40 000, '
                '0.70 at 80 000, 0.89-0.90 at 140 000-150 000 (saw-tooth); '
                'per position near 1.0 early, falling to about 0.8',
    },
}

#: A run has left the attention plateau (near 0.25) above this accuracy.
PLATEAU_EXIT = 0.6


def _run_dir(out_dir, model, seed):
    return os.path.join(out_dir, model, 'seed_%d' % seed)


def _finished(metrics, samples):
    return (metrics is not None and not metrics['interrupted'] and
            metrics['samples_processed'] >= samples)


def summarise(out_dir, models, seeds):
    """Collect the runs' metrics into one summary dict (and summary.json)."""
    summary = {}
    for model in models:
        runs = [(s, load_metrics(_run_dir(out_dir, model, s))) for s in seeds]
        runs = [(s, m) for s, m in runs if m is not None]
        if not runs:
            continue
        finals = [m['val_accuracy'] for _, m in runs]
        bests = [m['best_val_accuracy'] for _, m in runs]
        entry = {
            'seeds': [s for s, _ in runs],
            'final': finals, 'best': bests,
            'median': float(np.median(finals)),
            'mean': float(np.mean(finals)),
            'min': float(np.min(finals)), 'max': float(np.max(finals)),
            'best_point': float(np.max(bests)),
            'accuracy_per_position': [m['accuracy_per_position']
                                      for _, m in runs],
            'samples': [m['samples_processed'] for _, m in runs],
            'wall_seconds': [m['wall_seconds'] for _, m in runs],
            'train_samples_per_second': [m['train_samples_per_second']
                                         for _, m in runs],
        }
        if model == 'attention':
            entry['left_plateau'] = [f >= PLATEAU_EXIT for f in finals]
            entry['diagonal'] = [m.get('attention_diagonal') for _, m in runs]
        summary[model] = entry
    write_json(os.path.join(out_dir, 'summary.json'), summary)
    return summary


def _original_pngs(out_dir):
    """Copy the original's saved plots next to the report, if available."""
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.join(os.path.dirname(here), 'docs', 'original')
    if not os.path.isdir(source):
        return False
    target = os.path.join(out_dir, 'original')
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(source):
        if name.endswith('.png'):
            shutil.copy(os.path.join(source, name), target)
    return True


def _fmt(values):
    return ', '.join('%.3f' % v for v in values)


def write_report(out_dir, summary, seeds):
    """Plots over seeds and ``report.md``; returns the report's path."""
    have_original = _original_pngs(out_dir)
    lines = ['# Reproduction of the lab', '',
             'Seeds: %s. Settings: the notebook\'s (batch 100, 20 digits, '
             '10 units, Adam 0.005, clip 3 and total norm 3, validation on '
             '5000 samples every 5000).' % ', '.join(map(str, seeds)), '']
    for model, entry in summary.items():
        histories = [load_metrics(_run_dir(out_dir, model, s))['history']
                     for s in entry['seeds']]
        labels = ['seed %d' % s for s in entry['seeds']]
        plotting.plot_validation_curve(
            histories, os.path.join(out_dir, '%s_validation_curves.png'
                                    % model), labels=labels,
            title=model, reference=ORIGINAL[model]['curve'])
        plotting.plot_accuracy_per_position(
            entry['accuracy_per_position'],
            os.path.join(out_dir, '%s_accuracy_per_position.png' % model),
            labels=labels, title=model)
        lines += ['## %s' % model, '',
                  '| | ours | original |', '|---|---|---|',
                  '| final validation accuracy per seed | %s | %s |'
                  % (_fmt(entry['final']), ORIGINAL[model]['text']),
                  '| median / mean / min / max | %.3f / %.3f / %.3f / %.3f '
                  '| |' % (entry['median'], entry['mean'], entry['min'],
                           entry['max']),
                  '| best point of any run | %.3f | |' % entry['best_point'],
                  '| samples | %s | %d |' % (
                      ', '.join(map(str, entry['samples'])),
                      DEFAULT_SAMPLES[model]),
                  '| wall time per run (s) | %s | |' % ', '.join(
                      '%.0f' % w for w in entry['wall_seconds']), '']
        if model == 'attention':
            left = sum(entry['left_plateau'])
            lines += ['%d of %d seeds left the plateau (final >= %.1f).'
                      % (left, len(entry['final']), PLATEAU_EXIT), '']
            diag = [d for d in entry['diagonal'] if d]
            if diag:
                lines += ['Mean attention peak per target: slope %s input '
                          'characters per digit (the original: about 5), '
                          'monotonic fraction %s.' % (
                              _fmt([d['slope'] for d in diag]),
                              _fmt([d['monotonic'] for d in diag])), '']
        lines += ['Ours (all seeds, original points as dots):', '',
                  '![](%s_validation_curves.png) '
                  '![](%s_accuracy_per_position.png)' % (model, model), '']
        if model == 'attention':
            best = entry['seeds'][int(np.argmax(entry['final']))]
            lines += ['Mean attention weights of the best seed (%d):' % best,
                      '', '![](attention/seed_%d/alpha_weights.png) '
                      '![](attention/seed_%d/attention_heatmap_0.png)'
                      % (best, best), '']
        if have_original:
            lines += ['The original:', '',
                      '![](original/original_%s_validation_curve.png) '
                      '![](original/original_%s_accuracy_per_position.png)'
                      % (model, model)]
            if model == 'attention':
                lines.append('![](original/original_attention_alpha_'
                             'weights.png)')
            lines.append('')
    path = os.path.join(out_dir, 'report.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    return path


def reproduce(out_dir, seeds=(0, 1, 2, 3, 4), models=('baseline',
              'attention'), samples=None, progress=True, log=print):
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

    Returns
    -------
    str
        Path of ``report.md``.
    """
    os.makedirs(out_dir, exist_ok=True)
    for model in models:
        trainer = None
        for seed in seeds:
            settings = RunSettings(model=model, samples=samples, seed=seed)
            run_dir = _run_dir(out_dir, model, seed)
            if _finished(load_metrics(run_dir), settings.samples):
                log('%s seed %d: done already' % (model, seed))
                continue
            log('%s seed %d: training %d samples' % (model, seed,
                                                     settings.samples))
            if trainer is None:
                from .training import Trainer, build_seeded
                trainer = Trainer(build_seeded(model, seed,
                                               **settings.model_config()))
            metrics = train_run(run_dir, settings, resume=True,
                                progress=progress, trainer=trainer, log=log)
            if metrics['interrupted']:
                raise KeyboardInterrupt
    summary = summarise(out_dir, models, seeds)
    return write_report(out_dir, summary, seeds)
