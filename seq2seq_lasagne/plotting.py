"""The lab's plots, drawn on matplotlib's Agg canvas.

Every function builds its own ``Figure`` and renders it with
``FigureCanvasAgg``, so nothing here touches pyplot's global state or needs
a display; each writes an image when given ``path`` (atomically, in the
format its extension names: :func:`image_format`) and returns the figure.
"""

import io
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .atomic import atomic_write

__all__ = [
    'plot_validation_curve',
    'plot_accuracy_per_position',
    'plot_alpha_weights',
    'plot_attention_heatmap',
    'attention_text_heatmap',
    'image_format',
    'IMAGE_FORMATS',
    'attention_figure',
    'figure_png',
]

#: Formats the plots are written in (by the path's extension); those of
#: matplotlib's that need nothing beyond matplotlib and Pillow.
IMAGE_FORMATS = ('jpeg', 'jpg', 'pdf', 'png', 'svg')


def image_format(path):
    """The image format ``path``'s extension names (``'png'``, ``'svg'``...).

    Raises
    ------
    ValueError
        If matplotlib cannot write that format, naming those it can.
    """
    ext = os.path.splitext(path)[1][1:].lower()
    formats = IMAGE_FORMATS
    if ext not in formats:
        raise ValueError(
            '%s: %s; use one of .%s'
            % (
                path,
                'unsupported image type .%s' % ext
                if ext
                else 'no image type (extension)',
                ', .'.join(sorted(formats)),
            )
        )
    return ext


def _finish(fig, path):
    if path is not None:
        FigureCanvasAgg(fig)
        fmt = image_format(path)
        with atomic_write(path) as f:
            fig.savefig(f, format=fmt, dpi=100, bbox_inches='tight')
    return fig


def plot_validation_curve(
    histories, path=None, labels=None, title=None, reference=None
):
    """Validation accuracy against processed samples.

    Parameters
    ----------
    histories : list of dict, or list of such lists
        ``{'samples', 'val_accuracy', ...}`` rows (one run or several).
    path : str, optional
        PNG to write.
    labels : list of str, optional
        Legend entry per run.
    title : str, optional
    reference : list of (samples, accuracy), optional
        Points read off the original's curve, drawn as markers.
    """
    if histories and isinstance(histories[0], dict):
        histories = [histories]
    fig = Figure(figsize=(7, 5))
    ax = fig.add_subplot(111)
    for i, history in enumerate(histories):
        label = labels[i] if labels else None
        ax.plot(
            [h['samples'] for h in history],
            [h['val_accuracy'] for h in history],
            label=label,
        )
    if reference:
        ax.plot(*zip(*reference), 'ko', label='original (read off)')
    ax.set_ylabel('Validation Accuracy', fontsize=15)
    ax.set_xlabel('Processed samples', fontsize=15)
    ax.set_title(title or '', fontsize=16)
    ax.grid(True)
    if labels or reference:
        ax.legend(fontsize=9)
    return _finish(fig, path)


def plot_accuracy_per_position(accuracy, path=None, labels=None, title=None):
    """Validation accuracy for each target position (one or more runs).

    Parameters
    ----------
    accuracy : array_like, (steps,) or (runs, steps)
    """
    accuracy = np.atleast_2d(np.asarray(accuracy, dtype=float))
    fig = Figure(figsize=(7, 7))
    ax = fig.add_subplot(111)
    for i, row in enumerate(accuracy):
        ax.plot(row, label=labels[i] if labels else None)
    ax.set_ylabel('Accuracy', fontsize=15)
    ax.set_xlabel('Target position', fontsize=15)
    ax.set_title(title or '', fontsize=16)
    ax.set_ylim(0, 1.02)
    ax.grid(True)
    if labels:
        ax.legend(fontsize=9)
    return _finish(fig, path)


def plot_alpha_weights(alpha, path=None):
    """Mean attention weight over input positions, a line per target.

    Parameters
    ----------
    alpha : ndarray, (batch, n_decodesteps, input length)
    """
    mean = np.mean(alpha, axis=0)
    fig = Figure(figsize=(8, 5))
    ax = fig.add_subplot(111)
    ax.plot(mean.T)
    ax.set_ylabel('alpha', fontsize=15)
    ax.set_xlabel('Input Sequence position', fontsize=15)
    ax.set_title('Alpha weights', fontsize=20)
    ax.legend(
        [str(k) for k in range(1, mean.shape[0] + 1)],
        bbox_to_anchor=(1.125, 1.0),
        fontsize=8,
    )
    return _finish(fig, path)


def plot_attention_heatmap(
    alpha, input_text, output_text, path=None, title=None
):
    """Attention of one sample: output digits against input characters.

    Parameters
    ----------
    alpha : ndarray, (n_decodesteps, input length)
        One sample's weights.
    input_text : str
        The input characters (the width of the plot is cut to its length).
    output_text : str
        The predicted characters, one per decoding step shown.
    """
    rows = max(len(output_text), 1)
    weights = np.asarray(alpha)[:rows, : len(input_text)]
    fig = Figure(
        figsize=(max(6, 0.22 * len(input_text) + 2), max(3, 0.3 * rows + 1.5))
    )
    ax = fig.add_subplot(111)
    image = ax.imshow(
        weights,
        aspect='auto',
        cmap='viridis',
        vmin=0,
        vmax=max(float(weights.max()), 1e-6),
        interpolation='nearest',
    )
    ax.set_xticks(range(len(input_text)))
    ax.set_xticklabels(
        ['_' if c == ' ' else c for c in input_text], fontsize=8
    )
    ax.set_yticks(range(rows))
    ax.set_yticklabels(list(output_text[:rows]), fontsize=9)
    ax.set_xlabel('input character')
    ax.set_ylabel('output digit')
    ax.set_title(title or 'Attention weights', fontsize=12)
    fig.colorbar(image, ax=ax, fraction=0.03)
    return _finish(fig, path)


def attention_text_heatmap(alpha, input_text, output_text):
    """A terminal rendering of :func:`plot_attention_heatmap`.

    Returns
    -------
    str
        One line per output character; darker glyphs mean more weight.
    """
    shades = ' .:-=+*#%@'
    weights = np.asarray(alpha)[: len(output_text), : len(input_text)]
    lines = ['  ' + input_text]
    for char, row in zip(output_text, weights):
        top = max(float(row.max()), 1e-12)
        lines.append(
            char
            + ' '
            + ''.join(
                shades[
                    min(
                        int(w / top * (len(shades) - 1) + 0.5), len(shades) - 1
                    )
                ]
                for w in row
            )
        )
    return '\n'.join(lines)


def attention_figure(result, path=None):
    """The heatmap of one translation, titled with its input.

    Parameters
    ----------
    result : dict
        One item of :meth:`seq2seq_lasagne.translator.Translator.translate`
        (``input``, ``output``, ``alpha``).
    path : str, optional
        PNG to write.
    """
    return plot_attention_heatmap(
        result['alpha'],
        result['input'],
        result['output'],
        path,
        title='"%s"' % result['input'],
    )


def figure_png(fig):
    """The figure as PNG bytes (for a notebook's display)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format='png', dpi=100, bbox_inches='tight')
    return buffer.getvalue()
