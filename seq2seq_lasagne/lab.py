"""The lab's notebooks: finding and executing them, and their helpers.

The lab is the repository's ``notebooks/`` directory: the two notebooks
students get (``01_encoder_decoder.ipynb``, ``02_attention_decoder.ipynb``)
and, in ``notebooks/solutions/``, the worked exercises.  Every notebook has a
cell tagged ``parameters`` that reads ``SEQ2SEQ_QUICK`` from the environment:
``SEQ2SEQ_QUICK=1`` runs a short version of it (what CI executes), anything
else the original lab's settings.

:func:`execute_notebooks` runs them in real Jupyter kernels and writes the
executed copies, plots included, for an instructor to publish.  The other
functions are used by the solutions notebooks: :class:`VariantRunner` trains
model variants with the notebook's recipe (compiling each distinct graph only
once), :func:`sequence_metrics` measures masked and unmasked accuracy, and
:func:`show_reference_results` shows the figures of a
``seq2seq-lasagne reproduce`` run (``SEQ2SEQ_RESULTS``).
"""
import json
import math
import os
import shutil
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ['QUICK_ENV', 'RESULTS_ENV', 'NOTEBOOKS_ENV', 'QUICK_TIMEOUT',
           'NotebookExecutionError', 'notebooks_dir', 'notebook_paths',
           'quick_mode', 'execute_notebook', 'execute_notebooks',
           'load_summary', 'summary_markdown', 'show_reference_results',
           'sequence_metrics', 'VariantRunner', 'history_table']

#: ``SEQ2SEQ_QUICK=1``: the notebooks' quick mode.
QUICK_ENV = 'SEQ2SEQ_QUICK'
#: A ``seq2seq-lasagne reproduce`` output directory (with ``summary.json``)
#: whose figures the solutions notebooks show.
RESULTS_ENV = 'SEQ2SEQ_RESULTS'
#: Another notebooks directory than the repository's ``notebooks/``.
NOTEBOOKS_ENV = 'SEQ2SEQ_NOTEBOOKS'
#: Seconds one cell may run in quick mode (full mode: no limit).
QUICK_TIMEOUT = 900
#: Files copied next to the executed notebooks (their images, the index).
_ASSETS = ('*.svg', '*.png', 'README.md')


class NotebookExecutionError(RuntimeError):
    """One or more notebooks failed; ``failures`` maps path to message."""

    def __init__(self, failures):
        self.failures = dict(failures)
        super(NotebookExecutionError, self).__init__(
            '%d notebook(s) failed:\n%s' % (len(self.failures), '\n'.join(
                '%s: %s' % (p, m) for p, m in self.failures.items())))


def notebooks_dir(directory=None):
    """The notebooks directory.

    Parameters
    ----------
    directory : str or Path, optional
        Use this one.  Otherwise ``$SEQ2SEQ_NOTEBOOKS``, otherwise the
        ``notebooks/`` directory next to the package (a source checkout).

    Raises
    ------
    FileNotFoundError
        If the directory does not exist (e.g. an installed wheel, which
        does not ship the notebooks).
    """
    if directory is None:
        directory = os.environ.get(NOTEBOOKS_ENV) or (
            Path(__file__).resolve().parent.parent / 'notebooks')
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(
            'no notebooks directory at %s (the notebooks are in the source '
            'repository; set %s or pass the directory)'
            % (directory, NOTEBOOKS_ENV))
    return directory


def notebook_paths(directory=None, solutions=True):
    """The lab notebooks, then the solutions notebooks, each sorted.

    Parameters
    ----------
    directory : str or Path, optional
        See :func:`notebooks_dir`.
    solutions : bool
        Include ``solutions/*.ipynb``.

    Returns
    -------
    list of Path
    """
    root = notebooks_dir(directory)
    paths = sorted(root.glob('*.ipynb'))
    if solutions:
        paths += sorted((root / 'solutions').glob('*.ipynb'))
    return paths


def quick_mode(environ=None):
    """``SEQ2SEQ_QUICK`` read as the notebooks read it: an integer, 0 if unset.

    Raises
    ------
    ValueError
        If it is set to something else than an integer (the notebooks'
        parameters cell would fail the same way).
    """
    value = (os.environ if environ is None else environ).get(QUICK_ENV, '0')
    try:
        return bool(int(value))
    except ValueError:
        raise ValueError('%s must be 0 or 1, got %r' % (QUICK_ENV, value))


def _cell_error(exc):
    """A short description of a failed cell from nbclient's exception."""
    name = getattr(exc, 'ename', None) or type(exc).__name__
    value = getattr(exc, 'evalue', None) or str(exc)
    return '%s: %s' % (name, value)


def execute_notebook(path, quick=False, timeout=None, kernel_name='python3',
                     env=None):
    """Run a notebook top to bottom in a fresh kernel.

    The kernel runs in the notebook's directory with ``SEQ2SEQ_QUICK`` set
    to ``'1'`` or ``'0'`` (on top of ``env``, default ``os.environ``).

    Parameters
    ----------
    path : str or Path
    quick : bool
        Quick mode.
    timeout : float, optional
        Seconds one cell may run; default :data:`QUICK_TIMEOUT` in quick
        mode and no limit otherwise.
    kernel_name : str
    env : mapping, optional

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        If a cell raised; its ``ename``/``evalue`` say what, and the
        partly executed notebook is in the exception's ``notebook``
        attribute.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    path = Path(path)
    nb = nbformat.read(str(path), as_version=4)
    if timeout is None and quick:
        timeout = QUICK_TIMEOUT
    kernel_env = dict(os.environ if env is None else env)
    kernel_env[QUICK_ENV] = '1' if quick else '0'
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            allow_errors=False)
    try:
        client.execute(cwd=str(path.parent), env=kernel_env)
    except CellExecutionError as exc:
        exc.notebook = nb
        raise
    return nb


def _resolve(names, root):
    """Paths for ``notebooks=`` entries: paths, file names or stems."""
    everything = notebook_paths(root)
    out = []
    for name in names:
        candidate = Path(name)
        if candidate.is_file():
            out.append(candidate)
            continue
        matches = [p for p in everything
                   if name in (p.name, p.stem, str(p.relative_to(root)))]
        if not matches:
            raise FileNotFoundError(
                'no notebook %r in %s (have: %s)' % (name, root, ', '.join(
                    str(p.relative_to(root)) for p in everything)))
        out.extend(matches)
    return out


def execute_notebooks(out_dir, quick=False, notebooks=None, timeout=None,
                      directory=None, log=print):
    """Execute the lab's notebooks and write the executed copies.

    Each notebook runs in its own kernel; its executed copy, outputs and
    plots included, is written under ``out_dir`` at the same relative path
    (``solutions/...`` for the solutions), with the images the notebooks
    show.  A failing notebook is still written (up to the failing cell,
    which shows the error) and the others still run.

    Parameters
    ----------
    out_dir : str or Path
        Created if missing.
    quick : bool
        Quick mode (``SEQ2SEQ_QUICK=1``): minutes instead of hours.
    notebooks : list of str, optional
        Only these: paths, or names such as ``'01_encoder_decoder'``,
        ``'01_encoder_decoder.ipynb'``,
        ``'solutions/01_encoder_decoder_solutions.ipynb'``.
        Default: all of :func:`notebook_paths`.
    timeout : float, optional
        Seconds per cell (see :func:`execute_notebook`).
    directory : str or Path, optional
        The notebooks directory (see :func:`notebooks_dir`).
    log : callable
        Receives one line per notebook.

    Returns
    -------
    list of Path
        The executed copies, in execution order.

    Raises
    ------
    NotebookExecutionError
        After all notebooks ran, if any failed.
    ValueError
        If ``out_dir`` is the notebooks directory itself.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError
    root = notebooks_dir(directory)
    paths = notebook_paths(root) if notebooks is None else _resolve(
        notebooks, root)
    out_dir = Path(out_dir)
    if out_dir.resolve() in (root.resolve(), (root / 'solutions').resolve()):
        raise ValueError('out_dir %s would overwrite the notebooks '
                         'themselves; choose another directory (e.g. %s)'
                         % (out_dir, root / 'executed'))
    out_dir.mkdir(parents=True, exist_ok=True)
    for pattern in _ASSETS:
        for asset in root.glob(pattern):
            shutil.copy2(str(asset), str(out_dir / asset.name))
    written, failures = [], {}
    for path in paths:
        try:
            relative = path.resolve().relative_to(root.resolve())
        except ValueError:
            relative = Path(path.name)
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        try:
            nb = execute_notebook(path, quick=quick, timeout=timeout)
            status = 'ok'
        except CellExecutionError as exc:
            nb = exc.notebook
            failures[str(relative)] = _cell_error(exc)
            status = 'FAILED (%s)' % failures[str(relative)]
        except Exception as exc:  # kernel died, timeout, ...
            nb = nbformat.read(str(path), as_version=4)
            failures[str(relative)] = _cell_error(exc)
            status = 'FAILED (%s)' % failures[str(relative)]
        nbformat.write(nb, str(target))
        written.append(target)
        log('%s: %s in %.0f s -> %s' % (relative, status,
                                         time.perf_counter() - start, target))
    if failures:
        raise NotebookExecutionError(failures)
    return written


# --------------------------------------------------------------------------
# Reference figures from ``seq2seq-lasagne reproduce``

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
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def _number(value):
    """A float from a number or None (NaN for anything else)."""
    if isinstance(value, bool):
        return float('nan')
    try:
        return float(value)
    except (TypeError, ValueError):
        return float('nan')


def _numbers(value):
    """A list of floats from a number or a list of numbers."""
    if isinstance(value, (list, tuple)):
        return [_number(v) for v in value]
    return [] if value is None else [_number(value)]


def _fmt(value, digits=3):
    return '–' if value is None or (isinstance(value, float) and
                                     math.isnan(value)) else \
        '%.*f' % (digits, value)


def _mean_rows(rows):
    """Column means (NaN ignored) of per-run rows of any lengths."""
    rows = [r for r in rows if isinstance(r, (list, tuple)) and r]
    width = max([len(r) for r in rows], default=0)
    if not width:
        return None
    table = np.full((len(rows), width), np.nan)
    for i, row in enumerate(rows):
        table[i, :len(row)] = _numbers(list(row))
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


def summary_markdown(summary):
    """A Markdown table of a reproduce summary, one row per model.

    Defensive about the format: each model's entry may give ``final`` (a
    number or one per seed), ``median``, ``best`` (a number or one per
    seed), ``seeds``, ``samples``, ``accuracy_per_position`` (one list,
    or one per seed) and ``left_plateau`` (one bool per seed); missing
    fields show as a dash, entries that are not objects are skipped.

    Returns
    -------
    str
        Empty when there is nothing to show.
    """
    if not isinstance(summary, dict):
        return ''
    lines = ['| model | runs | final validation accuracy per run | median '
             '| best | samples | mean accuracy per position | notes |',
             '|---|---|---|---|---|---|---|---|']
    rows = 0
    for model, entry in summary.items():
        if not isinstance(entry, dict):
            continue
        finals = _numbers(entry.get('final'))
        median = _number(entry.get('median')) if 'median' in entry else (
            float(np.median(finals)) if finals else float('nan'))
        bests = _numbers(entry.get('best', entry.get('best_point')))
        best = max(bests) if bests and not all(
            math.isnan(b) for b in bests) else float('nan')
        samples = entry.get('samples')
        if isinstance(samples, (list, tuple)) and samples:
            samples = sorted(set(_number(s) for s in samples))
            samples = ', '.join('%d' % s for s in samples
                                if not math.isnan(s))
        elif samples is not None:
            samples = _fmt(_number(samples), 0)
        per_position = _per_position(entry)
        per_position = ('–' if per_position is None else ' '.join(
            _fmt(v, 2) for v in per_position))
        runs = entry.get('seeds')
        runs = len(runs) if isinstance(runs, (list, tuple)) else len(finals)
        notes = ''
        plateau = entry.get('left_plateau')
        if isinstance(plateau, (list, tuple)) and plateau:
            notes = '%d of %d runs left the plateau' % (
                sum(1 for p in plateau if p is True), len(plateau))
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            model, runs or '–',
            ', '.join(_fmt(f) for f in finals) or '–', _fmt(median),
            _fmt(best), samples or '–', per_position, notes))
        rows += 1
    return '\n'.join(lines) if rows else ''


def show_reference_results(results=None):
    """In a notebook: show the reproduce run's figures, or say how to.

    Returns
    -------
    dict or None
        The summary (see :func:`load_summary`).
    """
    from IPython.display import Markdown, display
    summary = load_summary(results)
    where = results or os.environ.get(RESULTS_ENV)
    table = summary_markdown(summary)
    if table:
        display(Markdown('Reference figures from `%s`:\n\n%s'
                         % (where, table)))
    elif where:
        display(Markdown('No usable `summary.json` in `%s`.' % where))
    else:
        display(Markdown(
            'No reference run given: set `%s` to the output directory of '
            '`seq2seq-lasagne reproduce --out DIR` (it holds `summary.json`)'
            ' before starting Jupyter to see its figures here.'
            % RESULTS_ENV))
    return summary


# --------------------------------------------------------------------------
# Measuring

def sequence_metrics(output, targets, target_mask):
    """Accuracies of a batch of decoded sequences, masked and unmasked.

    Parameters
    ----------
    output : ndarray, (batch, steps, classes)
    targets : ndarray, int, (batch, steps)
    target_mask : ndarray, (batch, steps)
        1 on real target symbols (digits and '#'), 0 on padding.

    Returns
    -------
    dict
        ``unmasked``: accuracy over every position (what the notebook's
        ``acc`` computes); ``masked``: over real positions only;
        ``padding``: over padded positions only (NaN without padding);
        ``padding_share``: fraction of positions that are padding;
        ``sequence``: fraction of samples whose every real position is
        right.
    """
    mask = np.asarray(target_mask, dtype=bool)
    correct = np.argmax(output, axis=-1) == np.asarray(targets)
    with np.errstate(invalid='ignore', divide='ignore'):
        padding = correct[~mask].mean() if (~mask).any() else float('nan')
    return {
        'unmasked': float(correct.mean()),
        'masked': float(correct[mask].mean()),
        'padding': float(padding),
        'padding_share': float(1 - mask.mean()),
        'sequence': float(np.mean(np.all(correct | ~mask, axis=1))),
    }


def history_table(runs, columns=('val_accuracy',)):
    """Markdown table of the last validation of each run.

    Parameters
    ----------
    runs : dict
        Name -> :class:`~seq2seq_lasagne.training.RunState`.
    columns : sequence of str
        Keys of the history rows to show.
    """
    lines = ['| variant | samples | %s | best val_accuracy |'
             % ' | '.join(columns),
             '|---|---|%s---|' % ('---|' * len(columns))]
    for name, state in runs.items():
        last = state.history[-1] if state.history else {}
        best = max([h['val_accuracy'] for h in state.history],
                   default=float('nan'))
        lines.append('| %s | %d | %s | %s |' % (
            name, state.samples_processed, ' | '.join(
                _fmt(last.get(c, float('nan'))) for c in columns),
            _fmt(best)))
    return '\n'.join(lines)


class VariantRunner(object):
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
    """

    def __init__(self, seed=0, batch_size=100, val_interval=5000,
                 progress=False, log=print):
        self.seed = seed
        self.batch_size = batch_size
        self.val_interval = val_interval
        self.progress = progress
        self.log = log
        self.trainers = {}
        self.runs = {}
        self.compile_seconds = 0.0

    def validation_set(self, size, min_digits=20, max_digits=20):
        """The seeded validation set (``get_batch`` output)."""
        from .data_generator import get_batch
        from .training import seeded_rngs
        rng = seeded_rngs(self.seed)['validation']
        return get_batch(size, min_digits, max_digits, rng=rng)

    def trainer(self, model='baseline', target_mask=False, **config):
        """The compiled :class:`~seq2seq_lasagne.training.Trainer` of a
        configuration, with freshly seeded weights and Adam state."""
        from .training import Trainer, build_seeded
        key = (model, bool(target_mask), tuple(sorted(config.items())))
        trainer = self.trainers.get(key)
        if trainer is None:
            trainer = Trainer(build_seeded(model, self.seed, **config),
                              target_mask=target_mask)
            start = time.perf_counter()
            trainer.train_fn, trainer.test_fn  # compile both now
            self.compile_seconds += time.perf_counter() - start
            self.trainers[key] = trainer
        else:
            trainer.reset(self.seed)
        return trainer

    def run(self, name, samples, validation, model='baseline',
            min_digits=20, max_digits=20, target_mask=False, metrics=True,
            **config):
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
            Add :func:`sequence_metrics` of every validation to the
            history rows (keys ``masked``, ``unmasked``, ...).
        config
            More :func:`~seq2seq_lasagne.models.build_model` arguments
            (``encoder``, ``merge``, ...).
        """
        from .training import fit, seeded_rngs
        trainer = self.trainer(model, target_mask=target_mask,
                               max_digits=max_digits, **config)

        def on_validation(state):
            if metrics:
                state.history[-1].update(sequence_metrics(
                    state.last_validation['output'], validation[2],
                    validation[3]))

        if self.progress:
            with warnings.catch_warnings():
                # fit() draws its bar with tqdm.auto, which can warn on
                # import (no ipywidgets in the kernel); import it quietly
                # once, the bar then falls back to text.
                warnings.simplefilter('ignore')
                import tqdm.auto  # noqa: F401
        start = time.perf_counter()
        state = fit(trainer, int(samples), validation,
                    seeded_rngs(self.seed)['batches'],
                    batch_size=self.batch_size, min_digits=min_digits,
                    max_digits=max_digits, val_interval=self.val_interval,
                    on_validation=on_validation, progress=self.progress)
        state.wall_seconds = time.perf_counter() - start
        state.trainer = trainer
        self.runs[name] = state
        if self.log is not None:
            self.log('%s: %d samples in %.0f s, final validation accuracy '
                     '%.3f' % (name, state.samples_processed,
                               state.wall_seconds, state.val_accuracy))
        return state
