"""A trained model, loaded from its run directory, translating text.

What ``seq2seq-lasagne translate`` uses: the model is rebuilt from the
run's ``config.json``, its weights come from ``params.npz``, and only the
test function is compiled.
"""

import numpy as np

from .checkpoint import ParamsError, load_params, read_config
from .data_generator import decode_prediction, encode_batch
from .models import build_model
from .training import Trainer

__all__ = ['Translator']


class Translator:
    """A trained model loaded from a run directory, ready to translate.

    Parameters
    ----------
    run_dir : str
        Directory with ``config.json`` and ``params.npz``.

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

    @property
    def kind(self):
        """``'baseline'`` or ``'attention'``."""
        return self.model.kind

    @property
    def max_digits(self):
        """The longest number the model decodes."""
        return self.model.config['max_digits']

    def translate(self, texts):
        """Translate spelled-digit texts.

        Parameters
        ----------
        texts : list of str
            Already checked with ``parse_spelled``.

        Returns
        -------
        list of dict
            ``input`` (the text), ``output`` (decoded, up to ``'#'``) and
            ``alpha`` ((n_decodesteps, len(input)) or None) per text.
        """
        x, xmask = encode_batch(texts)
        result = self.trainer.evaluate(x, None, xmask)
        predictions = np.argmax(result['output'], axis=-1)
        alpha = result['alpha']
        return [
            {
                'input': text,
                'output': decode_prediction(predictions[i]),
                'alpha': None if alpha is None else alpha[i, :, : len(text)],
            }
            for i, text in enumerate(texts)
        ]
