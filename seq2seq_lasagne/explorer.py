"""The attention explorer: type spelled digits, see the translation and where
the decoder looked, at once.

What the attention notebook offers after its lab cells: a text box
(ipywidgets) whose translation and attention heatmap are redrawn whenever
the text changes.  Without ipywidgets, :meth:`AttentionExplorer.explore`
prints and draws the same for one text.  The parsing, the translation and
the heatmap are those of ``seq2seq-lasagne translate --heatmap``
(:class:`~seq2seq_lasagne.translator.Translator`,
:func:`~seq2seq_lasagne.plotting.attention_figure`).
"""

from .plotting import attention_figure, figure_png
from .translator import Translator

__all__ = ['AttentionExplorer', 'EXAMPLE']

#: The text the explorer starts with: 20 digits, as the lab trains on.
EXAMPLE = (
    'three one four one five nine two six five three '
    'five eight nine seven nine three two three eight four'
)


def _widgets():
    """ipywidgets, or None where it is not installed."""
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


class AttentionExplorer:
    """A text box, the translation of its text and the attention heatmap.

    Parameters
    ----------
    translator : Translator
        An attention model's.
    value : str
        The text shown first.

    Attributes
    ----------
    translator : Translator
    text : ipywidgets.Text or None
        The input box (None without ipywidgets).
    output : ipywidgets.Output or None
        Where the translation and the heatmap are drawn: one stdout text
        (``"<input>" -> <translation>`` and a line on the model) and one
        ``image/png``, or one ``error: ...`` line for a bad input.
    widget : ipywidgets.VBox or None
        The whole explorer, as displayed.
    """

    def __init__(self, translator, value=EXAMPLE):
        if translator.kind != 'attention':
            raise ValueError(
                'the explorer needs an attention model; %s holds a %s model'
                % (translator.source, translator.kind)
            )
        self.translator = translator
        widgets = _widgets()
        self.text = self.output = self.widget = None
        self._value = value
        if widgets is None:
            return
        self.text = widgets.Text(
            value=value,
            description='Spelled digits:',
            continuous_update=False,
            layout=widgets.Layout(width='95%'),
            style={'description_width': 'initial'},
        )
        self.output = widgets.Output()
        self.widget = widgets.VBox([self.text, self.output])
        self.text.observe(self._on_change, names='value')
        self._draw(value)

    @classmethod
    def reference(cls, value=EXAMPLE):
        """An explorer of the reference attention model of the package."""
        return cls(Translator.reference('attention'), value)

    @classmethod
    def from_layers(
        cls, l_in, l_mask_enc, l_dec, l_out, x_sym, xmask_sym, value=EXAMPLE
    ):
        """An explorer of the attention network built in a notebook.

        Parameters are the notebook's layers and symbolic inputs (see
        :meth:`~seq2seq_lasagne.translator.Translator.from_layers`); the
        network is used as it is, with its current weights.
        """
        translator = Translator.from_layers(
            l_in,
            l_mask_enc,
            l_out,
            l_dec,
            x_sym,
            xmask_sym,
            source='the network of this notebook',
        )
        return cls(translator, value)

    def explain(self, text):
        """Translate one text.

        Returns
        -------
        result : dict or None
            See :meth:`~seq2seq_lasagne.translator.Translator.translate`;
            None for a bad input.
        message : str
            What to print: the translation and the model, or the error.
        """
        try:
            result = self.translator.translate_texts([text])[0]
        except ValueError as exc:
            return None, 'error: %s' % exc
        digits = result['output'].rstrip('#')
        message = '"%s" -> %s\n%d digits in, %d out; model: %s\n' % (
            result['input'],
            result['output'],
            len(result['input'].split()),
            len(digits),
            self.translator.source,
        )
        return result, message

    def _draw(self, text):
        from IPython.display import Image

        self._value = text
        result, message = self.explain(text)
        self.output.outputs = ()
        self.output.append_stdout(message + ('' if result else '\n'))
        if result is not None:
            image = Image(data=figure_png(attention_figure(result)))
            self.output.append_display_data(image)

    def _on_change(self, change):
        self._draw(change['new'])

    def explore(self, text=None):
        """Print the translation of ``text`` and show its heatmap.

        The fallback without widgets, and a way to keep one result in the
        notebook: the same as typing ``text`` into the box.
        """
        from IPython.display import Image, display

        result, message = self.explain(self._value if text is None else text)
        print(message.rstrip('\n'))
        if result is not None:
            display(Image(data=figure_png(attention_figure(result))))
        return result

    def _ipython_display_(self):
        from IPython.display import display

        if self.widget is None:
            print(
                'ipywidgets is not installed: call explorer.explore("one '
                'two three") to translate a text.'
            )
            self.explore()
        else:
            display(self.widget)
