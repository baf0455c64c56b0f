"""Executing the lab's notebooks in real Jupyter kernels.

The lab is the repository's ``notebooks/`` directory: the two notebooks
students get (``01_encoder_decoder.ipynb``, ``02_attention_decoder.ipynb``)
and, in ``notebooks/solutions/``, the worked exercises.  Every notebook has a
cell tagged ``parameters`` that reads its settings from
:func:`seq2seq_lasagne.settings.notebook_settings`: ``SEQ2SEQ_QUICK=1`` runs
a short version of it (what CI executes), anything else the original lab's
settings.

:func:`execute_notebooks` runs them and writes the executed copies, plots
included, for an instructor to publish.  Nothing here imports Theano: the
kernels do.
"""

import os
import shutil
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from .settings import QUICK_ENV, RECORD_COMMAND_ENV, RECORD_ENV

__all__ = [
    'NOTEBOOKS_ENV',
    'QUICK_TIMEOUT',
    'NotebookExecutionError',
    'notebooks_dir',
    'notebook_paths',
    'execute_notebook',
    'execute_notebooks',
]

#: Another notebooks directory than the repository's ``notebooks/``.
NOTEBOOKS_ENV = 'SEQ2SEQ_NOTEBOOKS'
#: Seconds one cell may run in quick mode (full mode: no limit).
QUICK_TIMEOUT = 900
#: Files copied next to the executed notebooks (their images, the index).
_ASSETS = ('*.svg', '*.png', '*.md')


class NotebookExecutionError(RuntimeError):
    """One or more notebooks failed; ``failures`` maps path to message."""

    def __init__(self, failures):
        self.failures = dict(failures)
        super(NotebookExecutionError, self).__init__(
            '%d notebook(s) failed:\n%s'
            % (
                len(self.failures),
                '\n'.join('%s: %s' % (p, m) for p, m in self.failures.items()),
            )
        )


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
            Path(__file__).resolve().parent.parent / 'notebooks'
        )
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(
            'no notebooks directory at %s (the notebooks are in the source '
            'repository; set %s or pass the directory)'
            % (directory, NOTEBOOKS_ENV)
        )
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


def _cell_error(exc):
    """A short description of a failed cell from nbclient's exception."""
    name = getattr(exc, 'ename', None) or type(exc).__name__
    value = getattr(exc, 'evalue', None) or str(exc)
    return '%s: %s' % (name, value)


def execute_notebook(
    path, quick=False, timeout=None, kernel_name='python3', env=None, nb=None
):
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
    nb : nbformat.NotebookNode, optional
        Run this notebook instead of the file's content (still in the
        file's directory).

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
    path = Path(path)
    if nb is None:
        nb = nbformat.read(str(path), as_version=4)
    if timeout is None and quick:
        timeout = QUICK_TIMEOUT
    kernel_env = dict(os.environ if env is None else env)
    kernel_env[QUICK_ENV] = '1' if quick else '0'
    client = NotebookClient(
        nb, timeout=timeout, kernel_name=kernel_name, allow_errors=False
    )
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
        matches = [
            p
            for p in everything
            if name in (p.name, p.stem, str(p.relative_to(root)))
        ]
        if not matches:
            raise FileNotFoundError(
                'no notebook %r in %s (have: %s)'
                % (
                    name,
                    root,
                    ', '.join(str(p.relative_to(root)) for p in everything),
                )
            )
        out.extend(matches)
    return out


def execute_notebooks(
    out_dir,
    quick=False,
    notebooks=None,
    timeout=None,
    directory=None,
    log=print,
    command=None,
):
    """Execute the lab's notebooks and write the executed copies.

    Each notebook runs in its own kernel; its executed copy, outputs and
    plots included, is written under ``out_dir`` at the same relative path
    (``solutions/...`` for the solutions), with the images the notebooks
    show.  A failing notebook is still written (up to the failing cell,
    which shows the error) and the others still run.  In full mode the
    solutions record their variants' figures in ``out_dir/results/``
    (unless ``$SEQ2SEQ_RECORD_DIR`` says elsewhere).

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
    command : str, optional
        The command line, recorded with the solutions' figures.

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
    root = notebooks_dir(directory)
    paths = (
        notebook_paths(root)
        if notebooks is None
        else _resolve(notebooks, root)
    )
    out_dir = Path(out_dir)
    if out_dir.resolve() in (root.resolve(), (root / 'solutions').resolve()):
        raise ValueError(
            'out_dir %s would overwrite the notebooks '
            'themselves; choose another directory (e.g. %s)'
            % (out_dir, root / 'executed')
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for pattern in _ASSETS:
        for asset in root.glob(pattern):
            shutil.copy2(str(asset), str(out_dir / asset.name))
    # A full run of the solutions records its variants' figures here
    # (docs/results/solutions/ holds the committed ones).
    env = dict(os.environ)
    if not quick:
        env.setdefault(RECORD_ENV, str((out_dir / 'results').resolve()))
        if command:
            env[RECORD_COMMAND_ENV] = command
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
            nb = execute_notebook(path, quick=quick, timeout=timeout, env=env)
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
        log(
            '%s: %s in %.0f s -> %s'
            % (relative, status, time.perf_counter() - start, target)
        )
    if failures:
        raise NotebookExecutionError(failures)
    return written
