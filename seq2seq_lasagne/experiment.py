"""One training run into a directory, and the lab's full reproduction.

``train_run`` is what ``seq2seq-lasagne train`` does: build the model from a
seed, train with the notebook's recipe, and leave in the run directory
``metrics.json``, ``params.npz`` + ``config.json``, the plots, and a
``checkpoint.npz`` to resume from.  Ctrl-C stops training and still writes
everything for the samples processed so far.
"""
import json
import os
import time

import numpy as np
import theano

from . import plotting
from .checkpoint import (load_checkpoint, save_checkpoint,
                         save_params, write_json)
from .data_generator import decode_prediction, get_batch
from .training import (DEFAULT_SAMPLES, RunState, Trainer,
                       accuracy_per_position, attention_diagonal,
                       build_seeded, fit, seeded_rngs)

__all__ = ['RunSettings', 'train_run', 'load_metrics', 'Translator']

#: Attention heatmaps drawn for the first validation samples.
N_HEATMAPS = 3


class RunSettings(object):
    """Settings of one training run (the CLI's ``train`` options).

    Defaults are the notebook's.  ``samples`` defaults to 3e5 for the
    baseline and 1.5e5 for the attention model.
    """

    def __init__(self, model='baseline', samples=None, seed=0,
                 min_digits=20, max_digits=20, batch_size=100,
                 val_size=5000, val_interval=5000, encoder='gru',
                 merge='concat', target_mask=None, num_units_enc=10,
                 num_units_dec=10, aln_num_units=20, learning_rate=0.005,
                 unroll_scan=False, decoder_mask=False):
        self.model = model
        self.samples = DEFAULT_SAMPLES.get(model, 0) if samples is None \
            else int(samples)
        self.seed = int(seed)
        self.min_digits, self.max_digits = int(min_digits), int(max_digits)
        self.batch_size = int(batch_size)
        self.val_size, self.val_interval = int(val_size), int(val_interval)
        self.encoder, self.merge = encoder, merge
        # Targets of different lengths need the mask (exercise 4).
        self.target_mask = (min_digits < max_digits) if target_mask is None \
            else bool(target_mask)
        self.num_units_enc, self.num_units_dec = num_units_enc, num_units_dec
        self.aln_num_units = aln_num_units
        self.learning_rate = learning_rate
        self.unroll_scan = unroll_scan
        self.decoder_mask = decoder_mask
        self.validate()

    def validate(self):
        """Raise ValueError naming the first bad setting."""
        positive = ['batch_size', 'val_size', 'val_interval', 'min_digits',
                    'max_digits', 'num_units_enc', 'num_units_dec',
                    'aln_num_units']
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError('%s must be at least 1, got %d'
                                 % (name.replace('_', '-'),
                                    getattr(self, name)))
        if self.samples < 0:
            raise ValueError('samples must not be negative, got %d'
                             % self.samples)
        if self.min_digits > self.max_digits:
            raise ValueError('min-digits (%d) must not exceed max-digits '
                             '(%d)' % (self.min_digits, self.max_digits))
        if self.val_interval % self.batch_size:
            raise ValueError('val-interval (%d) must be a multiple of '
                             'batch-size (%d)' % (self.val_interval,
                                                  self.batch_size))
        if self.learning_rate <= 0:
            raise ValueError('learning-rate must be positive')

    def model_config(self):
        """Keyword arguments for :func:`seq2seq_lasagne.models.build_model`."""
        config = dict(num_units_enc=self.num_units_enc,
                      num_units_dec=self.num_units_dec,
                      max_digits=self.max_digits, encoder=self.encoder,
                      merge=self.merge)
        if self.model == 'attention':
            config.update(aln_num_units=self.aln_num_units,
                          unroll_scan=self.unroll_scan,
                          decoder_mask=self.decoder_mask)
        return config

    def as_dict(self):
        return dict(vars(self))


def load_metrics(run_dir):
    """``metrics.json`` of a run directory, or None if it has none."""
    path = os.path.join(run_dir, 'metrics.json')
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _theano_settings():
    config = theano.config
    return {'device': config.device, 'floatX': config.floatX,
            'blas_ldflags': bool(config.blas.ldflags),
            'theano': theano.__version__}


def _write_outputs(run_dir, settings, trainer, state, validation,
                   compile_seconds, wall_seconds):
    model = trainer.model
    save_params(model, run_dir)
    text_inputs = validation[4]
    result = state.last_validation
    if result is None and state.samples_processed:
        # Interrupted before the first validation: validate once now.
        result = trainer.evaluate(*validation[:4])
    per_position = []
    if result is not None:
        ymask = validation[3] if settings.target_mask else None
        per_position = accuracy_per_position(result['output'], validation[2],
                                             ymask)
        plotting.plot_accuracy_per_position(
            per_position, os.path.join(run_dir, 'accuracy_per_position.png'),
            title='%s, %d samples' % (settings.model,
                                      state.samples_processed))
    plotting.plot_validation_curve(
        state.history, os.path.join(run_dir, 'validation_curve.png'),
        title='%s (seed %d)' % (settings.model, settings.seed))
    if result is not None and result['alpha'] is not None:
        alpha = result['alpha']
        plotting.plot_alpha_weights(alpha, os.path.join(
            run_dir, 'alpha_weights.png'))
        predictions = np.argmax(result['output'], axis=-1)
        for i in range(min(N_HEATMAPS, len(text_inputs))):
            plotting.plot_attention_heatmap(
                alpha[i], text_inputs[i], decode_prediction(predictions[i]),
                os.path.join(run_dir, 'attention_heatmap_%d.png' % i),
                title='"%s"' % text_inputs[i])
    train_samples = len(state.costs) * settings.batch_size
    metrics = {
        'model': settings.model,
        'settings': settings.as_dict(),
        'samples_processed': state.samples_processed,
        'interrupted': state.interrupted,
        'val_accuracy': (result['accuracy'] if result is not None
                         else float('nan')),
        'best_val_accuracy': max([h['val_accuracy'] for h in state.history],
                                 default=float('nan')),
        'history': state.history,
        'accuracy_per_position': [float(a) for a in per_position],
        'compile_seconds': compile_seconds,
        'train_seconds': state.train_seconds,
        'validation_seconds': state.validation_seconds,
        'wall_seconds': wall_seconds,
        'train_samples_per_second': (train_samples / state.train_seconds
                                     if state.train_seconds else None),
        'theano': _theano_settings(),
    }
    if result is not None and result['alpha'] is not None:
        metrics['attention_diagonal'] = attention_diagonal(result['alpha'])
    write_json(os.path.join(run_dir, 'metrics.json'), metrics)
    return metrics


def train_run(run_dir, settings, resume=True, progress=True,
              trainer=None, log=print):
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
        A compiled trainer to reuse for the same model configuration (its
        parameters are re-initialised from the seed).
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
        model = build_seeded(settings.model, settings.seed,
                             **settings.model_config())
        trainer = Trainer(model, learning_rate=settings.learning_rate,
                          target_mask=settings.target_mask)
    else:
        trainer.reset(settings.seed)
    compile_start = time.perf_counter()
    trainer.train_fn, trainer.test_fn  # compile both before timing steps
    compile_seconds = time.perf_counter() - compile_start
    validation = get_batch(settings.val_size, settings.min_digits,
                           settings.max_digits, rng=rngs['validation'])

    state = RunState()
    checkpoint = os.path.join(run_dir, 'checkpoint.npz')
    key = settings.as_dict()
    key.pop('samples')  # a run may be extended with more samples
    if resume and os.path.exists(checkpoint):
        load_checkpoint(checkpoint, trainer, state, extra=key)
        log('resuming %s from %d samples' % (run_dir,
                                             state.samples_processed))
        if state.history:
            state.last_validation = None  # recomputed below when needed

    def on_validation(state):
        save_checkpoint(checkpoint, trainer, state, extra=key)

    state = fit(trainer, settings.samples, validation, rngs['batches'],
                batch_size=settings.batch_size,
                min_digits=settings.min_digits,
                max_digits=settings.max_digits,
                val_interval=settings.val_interval, state=state,
                on_validation=on_validation, progress=progress)
    if state.last_validation is None and state.history:
        state.last_validation = trainer.evaluate(*validation[:4])
    if state.interrupted:
        log('interrupted at %d samples: saving what was trained'
            % state.samples_processed)
    return _write_outputs(run_dir, settings, trainer, state, validation,
                          compile_seconds, time.perf_counter() - start)


class Translator(object):
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
        from .checkpoint import ParamsError, load_params, read_config
        from .models import build_model
        config = read_config(run_dir)
        try:
            model = build_model(**config)
        except (TypeError, ValueError) as exc:
            raise ParamsError('%s/config.json does not describe a model '
                              'this version can build: %s' % (run_dir, exc))
        load_params(model, run_dir)
        self.model = model
        self.trainer = Trainer(model)

    @property
    def max_digits(self):
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
        from .data_generator import encode_batch
        x, xmask = encode_batch(texts)
        result = self.trainer.evaluate(x, xmask)
        predictions = np.argmax(result['output'], axis=-1)
        out = []
        for i, text in enumerate(texts):
            alpha = result['alpha']
            out.append({'input': text,
                        'output': decode_prediction(predictions[i]),
                        'alpha': None if alpha is None
                        else alpha[i, :, :len(text)]})
        return out
