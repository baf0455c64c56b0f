"""The notebook's training loop: learning, Ctrl-C, resuming, seeding."""

import json
import os

import numpy as np
import pytest

from seq2seq_lasagne import compilation
from seq2seq_lasagne.checkpoint import ParamsError, load_params
from seq2seq_lasagne.data_generator import get_batch
from seq2seq_lasagne.experiment import train_run
from seq2seq_lasagne.metrics import accuracy_per_position
from seq2seq_lasagne.seeding import seeded_rngs
from seq2seq_lasagne.settings import RunSettings
from seq2seq_lasagne.training import RunState, fit


def small_settings(**kw):
    base = dict(
        model='baseline',
        samples=2000,
        seed=3,
        min_digits=3,
        max_digits=3,
        val_size=200,
        val_interval=1000,
    )
    base.update(kw)
    return RunSettings(**base)


def params_of(run_dir):
    with np.load(os.path.join(run_dir, 'params.npz')) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.slow
def test_short_training_learns(short_baseline, tmp_path):
    # 3-digit targets: chance is 0.1 on a digit.  30000 samples of the
    # notebook's recipe bring the last digits far above it.
    metrics = train_run(
        str(tmp_path),
        small_settings(samples=30000, seed=0, val_interval=5000, val_size=500),
        trainer=short_baseline,
        progress=False,
    )
    per_position = metrics['accuracy_per_position']
    assert len(per_position) == 4
    assert per_position[3] > 0.99  # '#' is always last
    assert np.mean(per_position[:3]) > 0.3  # digits: 3x chance
    assert metrics['history'][-1]['cost'] < metrics['history'][0]['cost']
    assert [h['samples'] for h in metrics['history']] == list(
        range(5000, 30001, 5000)
    )


def test_same_seed_same_result_and_resume_is_exact(short_baseline, tmp_path):
    full, part = str(tmp_path / 'full'), str(tmp_path / 'part')
    train_run(full, small_settings(), trainer=short_baseline, progress=False)
    train_run(
        part,
        small_settings(samples=1000),
        trainer=short_baseline,
        progress=False,
    )
    resumed = train_run(
        part,
        small_settings(),
        trainer=short_baseline,
        progress=False,
        log=lambda m: None,
    )
    a, b = params_of(full), params_of(part)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    with open(os.path.join(full, 'metrics.json')) as f:
        assert json.load(f)['history'] == resumed['history']
    # another seed gives other weights
    other = str(tmp_path / 'other')
    train_run(
        other, small_settings(seed=4), trainer=short_baseline, progress=False
    )
    assert not np.array_equal(
        params_of(other)['SoftmaxOutput.W'], a['SoftmaxOutput.W']
    )


def test_resume_refuses_other_settings(short_baseline, tmp_path):
    train_run(
        str(tmp_path),
        small_settings(samples=1000),
        trainer=short_baseline,
        progress=False,
    )
    with pytest.raises(ParamsError, match='other settings'):
        train_run(
            str(tmp_path),
            small_settings(seed=9),
            trainer=short_baseline,
            progress=False,
        )


class _InterruptingTrainer(object):
    """Stands in for a compiled Trainer: Ctrl-C on step ``stop_at``."""

    def __init__(self, stop_at):
        self.stop_at, self.steps = stop_at, 0

    def train_step(self, x, y, xmask, ymask=None):
        self.steps += 1
        if self.steps == self.stop_at:
            raise KeyboardInterrupt
        return 1.0 / self.steps, 0.5

    def evaluate(self, x, y, xmask, ymask=None):
        return {'accuracy': 0.1 * self.steps, 'output': None, 'alpha': None}


def test_ctrl_c_keeps_history_so_far():
    validation = get_batch(10, 2, 2, rng=np.random.RandomState(0))
    trainer = _InterruptingTrainer(stop_at=26)
    state = fit(
        trainer,
        100000,
        validation,
        np.random.RandomState(0),
        batch_size=10,
        min_digits=2,
        max_digits=2,
        val_interval=50,
        progress=False,
    )
    assert state.interrupted
    assert state.samples_processed == 250
    assert [h['samples'] for h in state.history] == [50, 100, 150, 200, 250]
    assert len(state.costs) == 25
    # resuming continues where it stopped
    trainer.stop_at = -1
    state = fit(
        trainer,
        400,
        validation,
        np.random.RandomState(0),
        batch_size=10,
        min_digits=2,
        max_digits=2,
        val_interval=50,
        state=state,
        progress=False,
    )
    assert not state.interrupted and state.samples_processed == 400
    assert len(state.history) == 8


def test_interrupted_run_writes_everything(
    short_baseline, tmp_path, monkeypatch
):
    calls = {'n': 0}
    step = type(short_baseline).train_step

    def interrupting_step(self, *args):
        calls['n'] += 1
        if calls['n'] == 15:
            raise KeyboardInterrupt
        return step(self, *args)

    monkeypatch.setattr(type(short_baseline), 'train_step', interrupting_step)
    metrics = train_run(
        str(tmp_path),
        small_settings(samples=5000),
        trainer=short_baseline,
        progress=False,
        log=lambda m: None,
    )
    assert metrics['interrupted'] and metrics['samples_processed'] == 1400
    for name in (
        'metrics.json',
        'params.npz',
        'config.json',
        'validation_curve.png',
        'accuracy_per_position.png',
    ):
        assert (tmp_path / name).stat().st_size > 0, name


def test_seeded_rngs_are_independent_and_repeatable():
    a, b = seeded_rngs(1), seeded_rngs(1)
    for key in a:
        assert a[key].randint(1 << 30) == b[key].randint(1 << 30)
    c = seeded_rngs(1)
    assert len({c[k].randint(1 << 30) for k in c}) == 3


def test_accuracy_per_position_with_and_without_mask():
    output = np.zeros((2, 3, 11))
    output[0, [0, 1, 2], [1, 10, 0]] = 1
    output[1, [0, 1, 2], [2, 2, 10]] = 1
    targets = np.array([[1, 10, 0], [2, 3, 10]])
    mask = np.array([[1, 1, 0], [1, 1, 1]], dtype='float32')
    np.testing.assert_allclose(
        accuracy_per_position(output, targets), [1, 0.5, 1]
    )
    np.testing.assert_allclose(
        accuracy_per_position(output, targets, mask), [1, 0.5, 1]
    )
    targets[0, 2] = 5  # a padded position never counts
    np.testing.assert_allclose(
        accuracy_per_position(output, targets, mask), [1, 0.5, 1]
    )


def test_load_params_rejects_mismatch(short_baseline, tmp_path):
    from seq2seq_lasagne.checkpoint import save_params
    from seq2seq_lasagne.models import build_baseline

    save_params(short_baseline.model, str(tmp_path))
    with pytest.raises(ParamsError, match='shape'):
        load_params(
            build_baseline(max_digits=3, num_units_dec=7), str(tmp_path)
        )
    with pytest.raises(ParamsError, match='missing'):
        load_params(
            build_baseline(max_digits=3, encoder='bidirectional'),
            str(tmp_path),
        )
    RunState()  # the state object needs no arguments


def test_graph_recursion_limit_is_raised_only_while_compiling():
    import sys

    before = sys.getrecursionlimit()
    with compilation.deep_graph_recursion():
        assert sys.getrecursionlimit() >= compilation.GRAPH_RECURSION_LIMIT
    assert sys.getrecursionlimit() == before


def test_scans_keep_their_buffers_and_the_outer_graph_frees(
    short_attention, rng
):
    # Between calls the training function's scans keep their inner arrays
    # (reallocating them every step costs ~1.1x); the outer graph's arrays
    # are freed as with Theano's default (keeping those leaks in 1.0.5).
    from theano.scan_module.scan_op import Scan

    from seq2seq_lasagne.data_generator import get_batch

    fn = short_attention.train_fn
    x, xmask, y = get_batch(8, 3, 3, rng=rng)[:3]
    short_attention.train_step(x, y, xmask)
    assert fn.fn.allow_gc
    scans = [
        node.op
        for node in fn.maker.fgraph.apply_nodes
        if isinstance(node.op, Scan)
    ]
    assert len(scans) >= 4  # encoder and decoder, forward and gradient
    for op in scans:
        kept = [
            key
            for key, cell in op.fn.fn.storage_map.items()
            if key.owner is not None and cell[0] is not None
        ]
        assert kept, op.name


def test_scan_buffers_follow_a_user_set_allow_gc(monkeypatch):
    import theano

    before = theano.config.allow_gc
    with compilation.scan_keeps_buffers() as mode:
        assert theano.config.allow_gc is False
        assert mode.linker.allow_gc is True
    assert theano.config.allow_gc == before
    with theano.configparser.change_flags(allow_gc=False):
        with compilation.scan_keeps_buffers() as mode:
            assert mode is None  # the program's own choice is kept
    monkeypatch.setattr(compilation, 'user_flags', lambda: {'allow_gc'})
    with compilation.scan_keeps_buffers() as mode:
        assert mode is None and theano.config.allow_gc == before
