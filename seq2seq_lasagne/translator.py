"""A trained model translating text: what ``translate`` and the explorer use.

A :class:`Translator` is loaded from a run directory (the model is rebuilt
from its ``config.json``, its weights come from ``params.npz``), from the
reference weights that come with the package (:meth:`Translator.reference`),
or made from the layers of a network built in a notebook
(:meth:`Translator.from_layers`).  Only a forward function is compiled.
:meth:`Translator.translate_texts` checks its input and says in one line
what is wrong with it, for the command line and the explorer alike.
"""

import lasagne
import numpy as np
import theano
import theano.tensor as T

from .checkpoint import ParamsError, load_params, read_config
from .compilation import deep_graph_recursion
from .data_generator import decode_prediction, encode_batch, parse_spelled
from .layers import LSTMAttentionDecodeFeedbackLayer
from .models import build_model
from .reference import reference_dir
from .training import Trainer

__all__ = ['Translator']


class Translator:
    """A trained model loaded from a run directory, ready to translate.

    Parameters
    ----------
    run_dir : str
        Directory with ``config.json`` and ``params.npz``.

    Attributes
    ----------
    kind : {'baseline', 'attention'}
    max_digits : int
        The longest number the model decodes.
    source : str
        Where the weights came from (the run directory, or a description).

    Raises
    ------
    seq2seq_lasagne.checkpoint.ParamsError
        If the files are missing, corrupt or do not fit the model.
    """

    def __init__(self, run_dir):
        config = read_config(run_dir)
        try:
            model = build_model(**config)
        except (TypeError, ValueError) as exc:
            raise ParamsError(
                '%s/config.json does not describe a model this version can '
                'build: %s' % (run_dir, exc)
            )
        load_params(model, run_dir)
        self.model = model
        self.trainer = Trainer(model)
        self.trainer.compile(train=False)
        self.kind = model.kind
        self.max_digits = model.config['max_digits']
        self.source = str(run_dir)

    @classmethod
    def reference(cls, model='attention'):
        """The reference weights of ``model`` that come with the package.

        See :mod:`seq2seq_lasagne.reference`.
        """
        translator = cls(str(reference_dir(model)))
        translator.source = 'the reference %s model of the package' % model
        return translator

    @classmethod
    def from_layers(
        cls,
        l_in,
        l_mask_enc,
        l_out,
        l_dec=None,
        x_sym=None,
        xmask_sym=None,
        source=None,
    ):
        """A translator for a network built layer by layer (a notebook's).

        Parameters
        ----------
        l_in, l_mask_enc : InputLayer
            The character codes (batch, L) and the input mask (batch, L).
        l_out : Layer
            Softmax distributions, (batch, n_decodesteps, 11).
        l_dec : Layer, optional
            The decoder.  An ``LSTMAttentionDecodeFeedbackLayer`` makes an
            attention translator (its weights ``alpha`` are returned);
            without one the number of decoding steps is read from the
            first output.
        x_sym, xmask_sym : TensorVariable, optional
            The symbolic inputs the network was built with: the lab's
            output layer reshapes to ``x_sym.shape[0]``, so its graph
            needs that very variable.  Default: new ones.
        source : str, optional
            Where the weights came from (default: ``'layers'``).
        """
        self = cls.__new__(cls)
        self.model = None
        self.trainer = None
        x_sym = T.imatrix('x') if x_sym is None else x_sym
        xmask_sym = T.matrix('xmask') if xmask_sym is None else xmask_sym
        output = lasagne.layers.get_output(
            l_out,
            inputs={l_in: x_sym, l_mask_enc: xmask_sym},
            deterministic=True,
        )
        outputs = [output]
        attention = isinstance(l_dec, LSTMAttentionDecodeFeedbackLayer)
        if attention:
            outputs.append(l_dec.alpha)  # set by the get_output above
        with deep_graph_recursion():
            self._forward = theano.function(
                [x_sym, xmask_sym], outputs, on_unused_input='ignore'
            )
        self.kind = 'attention' if attention else 'baseline'
        if attention:
            self.max_digits = l_dec.n_decodesteps - 1
        else:
            x, xmask = encode_batch(['zero'])
            self.max_digits = self._forward(x, xmask)[0].shape[1] - 1
        self.source = source or 'layers'
        return self

    def _predict(self, x, xmask):
        """``(output, alpha or None)`` for encoded inputs."""
        if self.trainer is not None:
            result = self.trainer.evaluate(x, None, xmask)
            return result['output'], result['alpha']
        values = self._forward(x, xmask)
        return values[0], values[1] if len(values) > 1 else None

    def translate(self, texts):
        """Translate spelled-digit texts.

        Parameters
        ----------
        texts : list of str
            Already checked (see :meth:`translate_texts`).

        Returns
        -------
        list of dict
            ``input`` (the text), ``output`` (decoded, up to ``'#'``) and
            ``alpha`` ((n_decodesteps, len(input)) or None) per text.
        """
        x, xmask = encode_batch(texts)
        output, alpha = self._predict(x, xmask)
        predictions = np.argmax(output, axis=-1)
        return [
            {
                'input': text,
                'output': decode_prediction(predictions[i]),
                'alpha': None if alpha is None else alpha[i, :, : len(text)],
            }
            for i, text in enumerate(texts)
        ]

    def check(self, text):
        """Normalise one input; ValueError with a one-line reason if bad.

        Returns
        -------
        str
            The spelled digits, lower case, single spaces.
        """
        spelled, digits = parse_spelled(text)
        if len(digits) > self.max_digits:
            raise ValueError(
                'input has %d digits; this model decodes at most %d'
                % (len(digits), self.max_digits)
            )
        return spelled

    def translate_texts(self, texts):
        """Check and translate raw input texts (what a user typed).

        Raises
        ------
        ValueError
            Naming the first bad input: empty, a word that is not a digit's
            name, or more digits than the model decodes.
        """
        return self.translate([self.check(text) for text in texts])
