"""Rendering what ``seq2seq-lasagne reproduce`` measured.

One renderer for the reproduction's ``summary.json``: the Markdown report a
``reproduce`` run writes (:func:`write_report`), the table the solutions
notebooks show (:func:`show_reference_results`) and the tables in the docs
(``scripts/render_docs.py``) all come from :func:`summary_table`.  Every
figure in them is read from the summary, none is typed in.

The reference summary (:data:`REFERENCE_SUMMARY`) is the committed result
of the reproduction, in ``docs/results/`` of a source checkout.
"""

import datetime
import json
import math
import os
import platform
import shutil
import warnings
from pathlib import Path

import numpy as np

from . import plotting

__all__ = [
    'ORIGINAL',
    'RESULTS_ENV',
    'REFERENCE_SUMMARY',
    'load_summary',
    'summary_table',
    'show_reference_results',
    'RECORDED',
    'recorded_table',
    'show_recorded',
    'write_report',
    'plateau_table',
    'plateau_runs_table',
    'fmt',
    'provenance',
]

#: A ``seq2seq-lasagne reproduce`` output directory (with ``summary.json``)
#: whose figures the solutions notebooks show instead of the reference.
RESULTS_ENV = 'SEQ2SEQ_RESULTS'

_ROOT = Path(__file__).resolve().parent.parent
#: The committed reproduction summary of a source checkout.
REFERENCE_SUMMARY = _ROOT / 'docs' / 'results' / 'reproduce' / 'summary.json'
_ORIGINAL_PLOTS = _ROOT / 'docs' / 'original'
#: Where the figures of the solutions notebooks' full runs are committed.
RECORDED = _ROOT / 'docs' / 'results' / 'solutions'

#: The original lab's results (docs/original/ORIGINAL.md), for the report.
ORIGINAL = {
    'baseline': {
        'curve': [(5000, 0.127), (20000, 0.171)],
        'text': '0.127 -> 0.171 over the first 20 000 samples (the saved '
        'curve stops there); about 0.26 after 3e5 samples measured '
        'on Lasagne 0.1; per position about 0.16-0.19 for positions '
        '0-17, then 0.32, 0.95, 0.98',
    },
    'attention': {
        'curve': [
            (5000, 0.15),
            (40000, 0.40),
            (80000, 0.70),
            (140000, 0.89),
            (150000, 0.90),
        ],
        'text': 'one run: about 0.15 at 5 000 samples, 0.40 at 40 000, '
        '0.70 at 80 000, 0.89-0.90 at 140 000-150 000 (saw-tooth); '
        'per position near 1.0 early, falling to about 0.8',
    },
}


def provenance(command=None):
    """What a result file records about how it was made (its ``_run``).

    Parameters
    ----------
    command : str, optional
        The command line that made it (relative paths only: it is
        committed with the result).
    """
    import theano

    from . import __version__

    return {
        'command': command,
        'date': datetime.datetime.now().isoformat(timespec='minutes'),
        'package': __version__,
        'theano': theano.__version__,
        'python': platform.python_version(),
        'machine': '%s, %d CPUs' % (platform.machine(), os.cpu_count()),
    }


def fmt(value, digits=3):
    """A number with ``digits`` decimals; a dash for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return '–'
    return '%.*f' % (digits, value)


def load_summary(results=None):
    """The ``summary.json`` of a reproduce run, or None.

    Parameters
    ----------
    results : str or Path, optional
        The reproduce output directory, or the ``summary.json`` itself;
        default ``$SEQ2SEQ_RESULTS``.

    Returns
    -------
    dict or None
        None when no directory is given, or it holds no readable
        ``summary.json`` holding a JSON object.
    """
    if results is None:
        results = os.environ.get(RESULTS_ENV)
    if not results:
        return None
    path = Path(results)
    if path.is_dir():
        path = path / 'summary.json'
    try:
        with open(str(path)) as f:
            summary = json.load(f)
    except (OSError, ValueError, RecursionError):
        return None
    return summary if isinstance(summary, dict) else None


def _number(value):
    """A float from a number (NaN for anything else)."""
    if isinstance(value, bool):
        return float('nan')
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return float('nan')


def _numbers(value):
    """A list of floats from a number or a list of numbers."""
    if isinstance(value, (list, tuple)):
        return [_number(v) for v in value]
    return [] if value is None else [_number(value)]


def _mean_rows(rows):
    """Column means (NaN ignored) of per-run rows of any lengths."""
    rows = [r for r in rows if isinstance(r, (list, tuple)) and r]
    width = max([len(r) for r in rows], default=0)
    if not width:
        return None
    table = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        table[i, : len(row)] = _numbers(list(row))
    if np.all(np.isnan(table)):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # all-NaN columns
        return np.nanmean(table, axis=0)


def _per_position(entry):
    value = entry.get('accuracy_per_position')
    if not isinstance(value, (list, tuple)) or not value:
        return None
    if all(not isinstance(v, (list, tuple)) for v in value):
        return np.array(_numbers(list(value)))  # one run
    return _mean_rows(list(value))


def _spread(values):
    values = [v for v in _numbers(values) if not math.isnan(v)]
    if not values:
        return '–'
    return '%s (%s–%s)' % (
        fmt(float(np.median(values))),
        fmt(min(values)),
        fmt(max(values)),
    )


def plateau_table(rows):
    """A Markdown table of plateau statistics, one row per recipe.

    Parameters
    ----------
    rows : list of (str, dict)
        A label and :func:`seq2seq_lasagne.plateau.statistics` (the
        ``'plateau'`` entry of a reproduce summary's attention model).

    Returns
    -------
    str
        Empty when no row holds statistics.
    """
    lines = [
        '| recipe | runs | left the plateau (reached %s) | samples when '
        'they left: median / 75%% / 90%% / latest | still on it at %s '
        'samples | final accuracy of the runs that left: median (min–max) '
        '| final accuracy of the others |'
        % (
            fmt(_number(rows[0][1].get('level')), 2) if rows else '–',
            fmt(_number(rows[0][1].get('after')), 0) if rows else '–',
        ),
        '|---|---|---|---|---|---|---|',
    ]
    for label, stats in rows:
        if not isinstance(stats, dict):
            continue
        exits = ' / '.join(
            fmt(_number(stats.get(k)), 0)
            for k in ('exit_median', 'exit_p75', 'exit_p90', 'exit_max')
        )
        lines.append(
            '| %s | %s | %s | %s | %s | %s | %s |'
            % (
                label,
                stats.get('runs', '–'),
                stats.get('left', '–'),
                exits,
                stats.get('stuck_at_after', '–'),
                _spread(stats.get('final_left')),
                ', '.join(fmt(f) for f in _numbers(stats.get('final_stuck')))
                or 'none',
            )
        )
    return '\n'.join(lines) if len(lines) > 2 else ''


def plateau_runs_table(entry):
    """Per seed: when the run left the plateau and where it ended.

    Parameters
    ----------
    entry : dict
        The attention model's entry of a reproduce summary.
    """
    stats = entry.get('plateau') or {}
    seeds = entry.get('seeds') or []
    exits = stats.get('exit_samples') or []
    finals = _numbers(entry.get('final'))
    if not seeds or len(exits) != len(seeds) or len(finals) != len(seeds):
        return ''
    order = sorted(
        range(len(seeds)),
        key=lambda i: (exits[i] is None, exits[i] or 0, seeds[i]),
    )
    lines = [
        '| seed | left the plateau at (samples) | final accuracy |',
        '|---|---|---|',
    ]
    for i in order:
        lines.append(
            '| %s | %s | %s |'
            % (
                seeds[i],
                'never' if exits[i] is None else fmt(_number(exits[i]), 0),
                fmt(finals[i]),
            )
        )
    return '\n'.join(lines)


def _plateau_note(entry):
    plateau = entry.get('left_plateau')
    if not isinstance(plateau, (list, tuple)) or not plateau:
        return ''
    return '%d of %d runs left the plateau' % (
        sum(1 for p in plateau if p is True),
        len(plateau),
    )


def summary_table(summary):
    """A Markdown table of a reproduce summary, one row per model.

    Defensive about the format, since the file may come from anywhere:
    each model's entry may give ``final`` (a number or one per seed),
    ``median``, ``best`` (a number or one per seed), ``seeds``,
    ``samples``, ``accuracy_per_position`` (one list, or one per seed) and
    ``left_plateau`` (one bool per seed); missing fields show as a dash,
    entries that are not objects are skipped.

    Returns
    -------
    str
        Empty when there is nothing to show.
    """
    if not isinstance(summary, dict):
        return ''
    lines = [
        '| model | runs | final validation accuracy per run | median '
        '| best | samples | mean accuracy per position | notes |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for model, entry in summary.items():
        if not isinstance(entry, dict) or str(model).startswith('_'):
            continue
        finals = _numbers(entry.get('final'))
        if 'median' in entry:
            median = _number(entry.get('median'))
        else:
            median = float(np.median(finals)) if finals else float('nan')
        bests = [b for b in _numbers(entry.get('best')) if not math.isnan(b)]
        samples = entry.get('samples')
        if isinstance(samples, (list, tuple)):
            values = sorted(set(_numbers(samples)))
            samples = ', '.join(fmt(s, 0) for s in values if not math.isnan(s))
        elif samples is not None:
            samples = fmt(_number(samples), 0)
        per_position = _per_position(entry)
        if per_position is not None:
            per_position = ' '.join(fmt(v, 2) for v in per_position)
        runs = entry.get('seeds')
        runs = len(runs) if isinstance(runs, (list, tuple)) else len(finals)
        lines.append(
            '| %s | %s | %s | %s | %s | %s | %s | %s |'
            % (
                model,
                runs or '–',
                ', '.join(fmt(f) for f in finals) or '–',
                fmt(median),
                fmt(max(bests) if bests else None),
                samples or '–',
                per_position or '–',
                _plateau_note(entry),
            )
        )
    return '\n'.join(lines) if len(lines) > 2 else ''


def show_reference_results(results=None):
    """In a notebook: show a reproduction's figures as a table.

    Parameters
    ----------
    results : str or Path, optional
        A reproduce output directory or ``summary.json``; default
        ``$SEQ2SEQ_RESULTS``, else the committed reference summary.

    Returns
    -------
    dict or None
        The summary shown (see :func:`load_summary`).
    """
    from IPython.display import Markdown, display

    where = results or os.environ.get(RESULTS_ENV)
    if not where and REFERENCE_SUMMARY.is_file():
        where = REFERENCE_SUMMARY
    summary = load_summary(where) if where else None
    table = summary_table(summary)
    if table:
        command = (summary.get('_run') or {}).get('command', '')
        made = ' (made by `%s`)' % command if command else ''
        display(Markdown('Figures from `%s`%s:\n\n%s' % (where, made, table)))
    elif where:
        display(Markdown('No usable `summary.json` in `%s`.' % where))
    else:
        display(
            Markdown(
                'No reproduction to show: set `%s` to the output directory '
                'of `seq2seq-lasagne reproduce --out DIR` (it holds '
                '`summary.json`) before starting Jupyter.' % RESULTS_ENV
            )
        )
    return summary


def _column(record, column):
    """One cell of :func:`recorded_table`: a key, ``position N`` or
    ``positions A-B`` (the range over those positions)."""
    words = column.split()
    per_position = record.get('per_position') or []
    if words[0] == 'position':
        i = int(words[1])
        return fmt(per_position[i], 2) if i < len(per_position) else '–'
    if words[0] == 'positions':
        a, b = (int(v) for v in words[1].split('-'))
        values = per_position[a : b + 1]
        if not values:
            return '–'
        return '%s–%s' % (fmt(min(values), 2), fmt(max(values), 2))
    return fmt(_number(record.get(column)))


def recorded_table(recorded, names=None, columns=('final', 'best')):
    """A Markdown table of recorded variants (``VariantRunner`` records).

    Parameters
    ----------
    recorded : dict
        ``{'variants': {name: record}}``, as a full run writes it.
    names : list of str, optional
        The variants to show, in order (default: all).
    columns : sequence of str
        Record keys (``final``, ``best``, ``masked``, ``unmasked``,
        ``padding``, ``sequence``), ``position N`` or ``positions A-B``.
    """
    variants = (
        recorded.get('variants', {}) if isinstance(recorded, dict) else {}
    )
    names = list(variants) if names is None else names
    lines = [
        '| variant | %s |' % ' | '.join(columns),
        '|---|%s' % ('---|' * len(columns)),
    ]
    for name in names:
        record = variants.get(name)
        if isinstance(record, dict):
            lines.append(
                '| %s | %s |'
                % (name, ' | '.join(_column(record, c) for c in columns))
            )
    return '\n'.join(lines) if len(lines) > 2 else ''


def show_recorded(record, names=None, columns=('final', 'best')):
    """In a notebook: the figures of a full run of it, from their file.

    Parameters
    ----------
    record : str
        The ``VariantRunner(record=...)`` name; the file is
        ``docs/results/solutions/<record>.json``.
    names, columns
        See :func:`recorded_table`.
    """
    from IPython.display import Markdown, display

    path = RECORDED / (record + '.json')
    recorded = load_summary(path) if path.is_file() else None
    table = recorded_table(recorded, names, columns) if recorded else ''
    if not table:
        display(
            Markdown(
                'No full run of this notebook is recorded in `%s`.' % path.name
            )
        )
        return None
    display(
        Markdown(
            'Measured in a full run of this notebook (seed %s; `%s`, written '
            'by `seq2seq-lasagne notebooks --out DIR`):\n\n%s'
            % (recorded.get('seed', '?'), path.name, table)
        )
    )
    return recorded


def _copy_original_plots(out_dir):
    """Copy the original's saved plots next to the report, if available."""
    if not _ORIGINAL_PLOTS.is_dir():
        return False
    target = os.path.join(out_dir, 'original')
    os.makedirs(target, exist_ok=True)
    for path in _ORIGINAL_PLOTS.glob('*.png'):
        shutil.copy(str(path), target)
    return True


def write_report(out_dir, summary, histories):
    """Plots over seeds and ``report.md``; returns the report's path.

    Parameters
    ----------
    out_dir : str
        The reproduce output directory.
    summary : dict
        What :func:`seq2seq_lasagne.reproduce.summarise` returned.
    histories : dict
        Model -> one validation history per seed of the summary.
    """
    have_original = _copy_original_plots(out_dir)
    models = {m: e for m, e in summary.items() if not m.startswith('_')}
    lines = [
        '# Reproduction of the lab',
        '',
        summary_table(models),
        '',
    ]
    for model, entry in models.items():
        labels = ['seed %d' % s for s in entry['seeds']]
        plotting.plot_validation_curve(
            histories[model],
            os.path.join(out_dir, '%s_validation_curves.png' % model),
            labels=labels,
            title=model,
            reference=ORIGINAL[model]['curve'],
        )
        plotting.plot_accuracy_per_position(
            entry['accuracy_per_position'],
            os.path.join(out_dir, '%s_accuracy_per_position.png' % model),
            labels=labels,
            title=model,
        )
        lines += [
            '## %s' % model,
            '',
            '| | ours | original |',
            '|---|---|---|',
            '| final validation accuracy per seed | %s | %s |'
            % (
                ', '.join(fmt(f) for f in entry['final']),
                ORIGINAL[model]['text'],
            ),
            '| median / mean / min / max | %s | |'
            % ' / '.join(
                fmt(entry[k]) for k in ('median', 'mean', 'min', 'max')
            ),
            '| best point of any run | %s | |' % fmt(entry['best_point']),
            '| samples | %s | |' % ', '.join(map(str, entry['samples'])),
            '| wall time per run (s) | %s | |'
            % ', '.join(fmt(w, 0) for w in entry['wall_seconds']),
            '',
        ]
        if model == 'attention':
            lines += _attention_lines(entry)
        lines += [
            'Ours (all seeds, original points as dots):',
            '',
            '![](%s_validation_curves.png) '
            '![](%s_accuracy_per_position.png)' % (model, model),
            '',
        ]
        if have_original:
            lines += [
                'The original:',
                '',
                '![](original/original_%s_validation_curve.png) '
                '![](original/original_%s_accuracy_per_position.png)'
                % (model, model),
            ]
            if model == 'attention':
                lines.append(
                    '![](original/original_attention_alpha_weights.png)'
                )
            lines.append('')
    path = os.path.join(out_dir, 'report.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines))
    return path


def _attention_lines(entry):
    lines = [_plateau_note(entry) + '.', '']
    if isinstance(entry.get('plateau'), dict):
        lines += [
            '### The plateau',
            '',
            'A run has left the plateau once a validation reaches the '
            'level below; `seq2seq-lasagne train` tells a run still on it '
            'past the samples below (docs/PLATEAU.md).',
            '',
            plateau_table([("the notebook's", entry['plateau'])]),
            '',
            plateau_runs_table(entry),
            '',
        ]
    diagonal = [d for d in entry.get('diagonal', []) if d]
    if diagonal:
        lines += [
            'Mean attention peak per target: slope %s input characters per '
            'digit (the original: about 5), monotonic fraction %s.'
            % (
                ', '.join(fmt(d['slope']) for d in diagonal),
                ', '.join(fmt(d['monotonic']) for d in diagonal),
            ),
            '',
        ]
    best = entry['seeds'][int(np.argmax(entry['final']))]
    lines += [
        'Mean attention weights of the best seed (%d):' % best,
        '',
        '![](attention/seed_%d/alpha_weights.png) '
        '![](attention/seed_%d/attention_heatmap_0.png)' % (best, best),
        '',
    ]
    return lines
