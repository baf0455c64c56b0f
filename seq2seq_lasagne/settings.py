"""The one source of settings: the notebook's recipe as a typed dataclass.

Every entry point reads its defaults from here: the ``train`` and
``reproduce`` commands, the benchmarks, and the notebooks' parameters cells
(through :func:`notebook_settings`).  Nothing else writes the defaults out.
"""

import dataclasses
import os

__all__ = [
    'RunSettings',
    'MODELS',
    'ENCODERS',
    'MERGES',
    'DEFAULT_SAMPLES',
    'REPRODUCE_SEEDS',
    'PLATEAU_LEVEL',
    'PLATEAU_SAMPLES',
    'QUICK',
    'QUICK_ENV',
    'GRADING_ENV',
    'RECORD_ENV',
    'RECORD_COMMAND_ENV',
    'quick_mode',
    'notebook_settings',
]

MODELS = ('baseline', 'attention')
ENCODERS = ('gru', 'bidirectional')
MERGES = ('concat', 'sum', 'mul')

#: The notebook's ``samples_to_process`` for each model.
DEFAULT_SAMPLES = {'baseline': 300000, 'attention': 150000}

#: The seeds ``seq2seq-lasagne reproduce`` trains by default.
REPRODUCE_SEEDS = (0, 1, 2, 3, 4)

#: An attention run has left its plateau (the baseline's level, about
#: 0.26) once a validation reaches this accuracy: between the plateau and
#: where the runs that learn go, and crossed within a few validations
#: (docs/PLATEAU.md).
PLATEAU_LEVEL = 0.4

#: Samples by which most attention runs at the notebook's settings have
#: left the plateau; a run still on it then is told so, and what to do.
#: Set by ``plateau.threshold`` from the 20 seeds of
#: docs/results/plateau/summary.json (docs/PLATEAU.md);
#: tests/test_plateau.py checks that it still follows from that file.
PLATEAU_SAMPLES = 85000

#: ``SEQ2SEQ_QUICK=1``: the notebooks' quick mode.
QUICK_ENV = 'SEQ2SEQ_QUICK'

#: Set by nbgrader while it runs a notebook (``autograde``, ``validate``):
#: the notebooks then default to quick mode, since grading checks the
#: exercises, not a full training run (docs/TEACHING.md).
GRADING_ENV = 'NBGRADER_EXECUTION'

#: Where a full run of the solutions notebooks writes the figures of its
#: variants (``seq2seq-lasagne notebooks`` sets it; see
#: :class:`seq2seq_lasagne.variants.VariantRunner`).
RECORD_ENV = 'SEQ2SEQ_RECORD_DIR'
#: The command line recorded with those figures.
RECORD_COMMAND_ENV = 'SEQ2SEQ_RECORD_COMMAND'

#: What quick mode changes: a run that only shows that every step works.
QUICK = {'samples': 2000, 'val_size': 500, 'val_interval': 1000}

#: Upper bounds on the sizes a user or a file may ask for.  They are far
#: above anything the lab uses and keep a typo (``--val-size 1e9``) from
#: allocating until the machine runs out of memory.
LIMITS = {
    'samples': 10**9,
    'seed': 2**32 - 1,
    'min_digits': 1000,
    'max_digits': 1000,
    'batch_size': 100000,
    'val_size': 1000000,
    'val_interval': 10**9,
    'num_units_enc': 4096,
    'num_units_dec': 4096,
    'aln_num_units': 4096,
    'plateau_restarts': 10,
}


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Settings of one training run; the defaults are the notebook's.

    Attributes
    ----------
    model : {'baseline', 'attention'}
    samples : int or None
        Training samples; ``None`` means the notebook's (3e5 for the
        baseline, 1.5e5 for the attention model).
    seed : int
        Seeds the initial weights, the validation set and the batches.
    min_digits, max_digits : int
        Target lengths (20 and 20 in the notebook).
    batch_size, val_size, val_interval : int
        100 per Adam step, 5000 validation samples every 5000 samples.
    encoder : {'gru', 'bidirectional'}
        The notebook's GRU, or exercise 3's bidirectional encoder.
    merge : {'concat', 'sum', 'mul'}
        How a bidirectional encoder merges its two GRUs.
    target_mask : bool or None
        Mask padded targets in cost and accuracy (exercise 4); ``None``
        means on exactly when targets have different lengths.
    num_units_enc, num_units_dec, aln_num_units : int
        10, 10 and 20 in the notebook.
    learning_rate, grad_clip, max_norm : float
        Adam's rate 0.005; gradients clipped element-wise to
        [-3, 3], then to total norm 3.
    unroll_scan : bool
        Attention decoder unrolled instead of ``theano.scan``.
    fused_attention : bool
        Attention decoder: scores and context from the fused ops of
        :mod:`seq2seq_lasagne.layers.fused_attention` (the same up to float
        rounding; issue 14's speed lever, off in the notebook's recipe).
    decoder_mask : bool
        Attention decoder ignores padded input positions (the notebook's
        does not).
    fused_gru : bool
        Every GRU's recurrence as one op,
        :class:`~seq2seq_lasagne.layers.FusedGRULayer` (the same up to
        float rounding; issue 14's speed lever, off in the notebook's
        recipe).
    plateau_restarts : int
        Attention model: how many times a run still on the plateau after
        :data:`PLATEAU_SAMPLES` samples starts again from new weights and
        batches (drawn from a seed derived from ``seed``, see
        :func:`~seq2seq_lasagne.seeding.restart_seed`), each attempt
        running the unchanged recipe for ``samples`` samples.  0 (the
        notebook): never.  docs/PLATEAU.md measures what it changes.
    """

    model: str = 'baseline'
    samples: int = None
    seed: int = 0
    min_digits: int = 20
    max_digits: int = 20
    batch_size: int = 100
    val_size: int = 5000
    val_interval: int = 5000
    encoder: str = 'gru'
    merge: str = 'concat'
    target_mask: bool = None
    num_units_enc: int = 10
    num_units_dec: int = 10
    aln_num_units: int = 20
    learning_rate: float = 0.005
    grad_clip: float = 3.0
    max_norm: float = 3.0
    unroll_scan: bool = False
    fused_attention: bool = False
    decoder_mask: bool = False
    fused_gru: bool = False
    plateau_restarts: int = 0

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(
                'unknown model %r (choose from %s)'
                % (self.model, ', '.join(MODELS))
            )
        if self.samples is None:
            object.__setattr__(self, 'samples', DEFAULT_SAMPLES[self.model])
        if self.target_mask is None:
            # Targets of different lengths need the mask (exercise 4).
            object.__setattr__(
                self, 'target_mask', self.min_digits < self.max_digits
            )
        self.validate()

    def validate(self):
        """Raise ValueError naming the first bad setting."""
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(
                    '%s must be a whole number, got %r' % (_flag(name), value)
                )
            low = 0 if name in ('samples', 'seed', 'plateau_restarts') else 1
            if not low <= value <= limit:
                raise ValueError(
                    '%s must be between %d and %d, got %d'
                    % (_flag(name), low, limit, value)
                )
        if self.encoder not in ENCODERS:
            raise ValueError(
                'unknown encoder %r (choose from %s)'
                % (self.encoder, ', '.join(ENCODERS))
            )
        if self.merge not in MERGES:
            raise ValueError(
                'unknown merge %r (choose from %s)'
                % (self.merge, ', '.join(MERGES))
            )
        if self.plateau_restarts and self.model != 'attention':
            raise ValueError(
                'plateau-restarts is for the attention model (the '
                'baseline has no plateau to leave)'
            )
        if self.fused_attention and self.model != 'attention':
            raise ValueError(
                'fused-attention is for the attention model (the baseline '
                'has no alignment)'
            )
        if self.min_digits > self.max_digits:
            raise ValueError(
                'min-digits (%d) must not exceed max-digits (%d)'
                % (self.min_digits, self.max_digits)
            )
        if self.val_interval % self.batch_size:
            raise ValueError(
                'val-interval (%d) must be a multiple of batch-size (%d)'
                % (self.val_interval, self.batch_size)
            )
        for name in ('learning_rate', 'grad_clip', 'max_norm'):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < 1e6):
                raise ValueError(
                    '%s must be a positive number below 1e6, got %r'
                    % (_flag(name), value)
                )

    def replace(self, **changes):
        """A copy with ``changes`` applied (and checked)."""
        return dataclasses.replace(self, **changes)

    def model_config(self):
        """Keyword arguments of :func:`seq2seq_lasagne.models.build_model`."""
        config = dict(
            num_units_enc=self.num_units_enc,
            num_units_dec=self.num_units_dec,
            max_digits=self.max_digits,
            encoder=self.encoder,
            merge=self.merge,
            fused_gru=self.fused_gru,
        )
        if self.model == 'attention':
            config.update(
                aln_num_units=self.aln_num_units,
                unroll_scan=self.unroll_scan,
                fused_attention=self.fused_attention,
                decoder_mask=self.decoder_mask,
            )
        return config

    def as_dict(self):
        """Every field by name (what ``metrics.json`` records)."""
        return dataclasses.asdict(self)


def _flag(name):
    return name.replace('_', '-')


def quick_mode(environ=None):
    """``SEQ2SEQ_QUICK`` as an on/off switch.

    When it is unset (or empty), quick mode is on only while nbgrader runs
    the notebook (``NBGRADER_EXECUTION`` set, :data:`GRADING_ENV`).

    Raises
    ------
    ValueError
        If it is set to anything but ``0`` or ``1``.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(QUICK_ENV, '').strip()
    if value not in ('0', '1', ''):
        raise ValueError(
            '%s must be 0 or 1, got %r' % (QUICK_ENV, environ[QUICK_ENV])
        )
    if not value:
        return bool(environ.get(GRADING_ENV, '').strip())
    return value == '1'


def notebook_settings(model, quick=None, **changes):
    """The settings a lab notebook runs with.

    Parameters
    ----------
    model : {'baseline', 'attention'}
    quick : bool, optional
        Quick mode (:data:`QUICK`); default from ``SEQ2SEQ_QUICK``.
    **changes
        Further fields to override.

    Returns
    -------
    RunSettings
    """
    if quick is None:
        quick = quick_mode()
    if quick:
        changes = dict(QUICK, **changes)
    return RunSettings(model=model, **changes)
