"""compat.graph_cache: optimised graphs reused, never mistaken for another."""

import os
import pickle

import numpy as np
import pytest
import theano
import theano.tensor as T
from test_compat import run_python

from seq2seq_lasagne.compat import graph_cache


@pytest.fixture
def store(tmp_path, monkeypatch):
    """The cache in a folder of this test's own; its counters from zero."""
    folder = tmp_path / 'graphs'
    monkeypatch.setattr(graph_cache, '_folder', lambda: str(folder))
    monkeypatch.setattr(
        graph_cache, 'stats', dict.fromkeys(graph_cache.stats, 0)
    )
    monkeypatch.delenv(graph_cache.ENV, raising=False)
    return folder


def _files(folder):
    return sorted(folder.glob('*.pkl')) if folder.exists() else []


def _scaled(factor):
    x = T.matrix('x')
    return theano.function([x], T.tanh(x * factor).sum(axis=1))


X = np.arange(6, dtype='float32').reshape(2, 3) / 10


def test_installed_and_named_in_the_changes():
    from seq2seq_lasagne import compat

    assert any('optimised graphs kept' in c for c in compat.changes())
    init = theano.compile.function_module.FunctionMaker.__init__
    assert getattr(init, '_seq2seq_graph_cache', False)


def test_a_second_compile_is_a_hit_with_the_same_values(store):
    first = _scaled(2.0)
    assert graph_cache.stats['misses'] == 1 and len(_files(store)) == 1
    second = _scaled(2.0)
    assert graph_cache.stats['hits'] == 1
    np.testing.assert_array_equal(first(X), second(X))
    np.testing.assert_array_equal(second(X), np.tanh(X * 2).sum(axis=1))


def test_a_different_constant_is_another_graph(store):
    _scaled(2.0)
    three = _scaled(3.0)
    assert graph_cache.stats == dict(
        graph_cache.stats, hits=0, misses=2, stored=2
    )
    np.testing.assert_allclose(three(X), np.tanh(X * 3).sum(axis=1), 1e-6)


def test_a_stored_graph_under_the_wrong_name_is_not_used(store, monkeypatch):
    # Two graphs whose file names collide: the key, compared whole,
    # decides, and the second graph is optimised as its own.
    real = graph_cache.signature

    def colliding(*args):
        key, _ = real(*args)
        return key, 'same-name'

    monkeypatch.setattr(graph_cache, 'signature', colliding)
    _scaled(2.0)
    three = _scaled(3.0)
    assert graph_cache.stats['hits'] == 0
    np.testing.assert_allclose(three(X), np.tanh(X * 3).sum(axis=1), 1e-6)


def test_a_damaged_file_is_a_miss_and_is_replaced(store):
    _scaled(2.0)
    (path,) = _files(store)
    path.write_bytes(b'not a pickle')
    again = _scaled(2.0)
    assert graph_cache.stats['hits'] == 0
    np.testing.assert_allclose(again(X), np.tanh(X * 2).sum(axis=1), 1e-6)
    assert pickle.loads(path.read_bytes())[0][0][0] == graph_cache.FORMAT


def test_a_store_that_cannot_be_written_still_compiles(store):
    store.parent.mkdir(exist_ok=True)
    store.write_text('a file where the folder should be')
    f = _scaled(2.0)
    np.testing.assert_allclose(f(X), np.tanh(X * 2).sum(axis=1), 1e-6)
    assert graph_cache.stats['stored'] == 0


def test_turned_off_by_the_environment(store, monkeypatch):
    monkeypatch.setenv(graph_cache.ENV, '0')
    _scaled(2.0)
    assert not _files(store) and graph_cache.stats['misses'] == 0


def test_a_flag_that_changes_graphs_changes_the_key(store):
    _scaled(2.0)
    with theano.configparser.change_flags(
        **{'tensor.local_elemwise_fusion': False}
    ):
        f = _scaled(2.0)
    assert graph_cache.stats['hits'] == 0 and graph_cache.stats['misses'] == 2
    np.testing.assert_allclose(f(X), np.tanh(X * 2).sum(axis=1), 1e-6)


def test_the_compile_directorys_place_is_not_in_the_key():
    names = {name for name, _ in graph_cache._flags()}
    assert 'floatX' in names and 'optimizer_excluding' in names
    assert not names & set(graph_cache.PLACE_FLAGS)


def _train(settings, steps):
    from seq2seq_lasagne.data_generator import get_batch
    from seq2seq_lasagne.training import build_trainer

    trainer = build_trainer(settings)
    trainer.compile()
    rng = np.random.RandomState(0)
    costs = []
    for _ in range(steps):
        x, xmask, y, _, _, _ = get_batch(
            100, settings.min_digits, settings.max_digits, rng=rng
        )
        costs.append(trainer.train_step(x, y, xmask))
    params = [p.get_value() for p in trainer.model.trainable_params()]
    return costs, params


@pytest.mark.slow
def test_the_attention_model_trains_bit_for_bit_as_when_freshly_optimised(
    store,
):
    from seq2seq_lasagne.settings import RunSettings

    settings = RunSettings(model='attention', min_digits=3, max_digits=3)
    fresh = _train(settings, 4)
    # (The training and the test function share some scans' inner graphs:
    # the second of them is already a hit.)
    assert graph_cache.stats['stored'] >= 2
    misses, hits = graph_cache.stats['misses'], graph_cache.stats['hits']
    cached = _train(settings, 4)
    assert graph_cache.stats['misses'] == misses
    assert graph_cache.stats['hits'] >= hits + 2
    assert fresh[0] == cached[0]
    for a, b in zip(fresh[1], cached[1]):
        np.testing.assert_array_equal(a, b)


HIT_IN_A_NEW_PROCESS = """
import numpy as np
import seq2seq_lasagne, theano, theano.tensor as T
from seq2seq_lasagne.compat import graph_cache
x = T.matrix('x')
f = theano.function([x], T.nnet.sigmoid(x * {factor}).sum())
print(graph_cache.stats['hits'], graph_cache.stats['misses'],
      float(f(np.ones((2, 2), 'float32'))))
"""


def test_a_later_process_takes_the_graph_from_the_store():
    # A factor of its own, so that an earlier run's file does not count.
    factor = 1 + int.from_bytes(os.urandom(3), 'big') / 2**24
    code = HIT_IN_A_NEW_PROCESS.format(factor=repr(factor))
    first = run_python(code)[-1].split()
    later = run_python(code)[-1].split()
    assert first[:2] == ['0', '1'], first
    assert later[:2] == ['1', '0'], later
    assert first[2] == later[2]
    assert float(later[2]) == pytest.approx(
        4 / (1 + np.exp(-factor)), rel=1e-6
    )


def test_a_graph_deeper_than_the_recursion_limit_is_stored(store):
    # An unrolled decoder's training graph is thousands of levels deep:
    # pickling it on the main thread would overflow the C stack.
    from seq2seq_lasagne.compilation import deep_graph_recursion

    w = theano.shared(np.eye(2, dtype='float32') * 0.5, name='w')
    x = T.matrix('x')
    y = x
    for _ in range(1500):
        y = T.dot(y, w)
    with deep_graph_recursion():
        theano.function([x], y)
        assert graph_cache.stats['stored'] == 1, graph_cache.stats
        again = theano.function([x], y)
    assert graph_cache.stats['hits'] == 1
    np.testing.assert_array_equal(again(np.ones((1, 2), 'float32')), 0)


def test_eval_orders_its_inputs_as_the_graph_does(store):
    # Theano orders them by id(): a different function in each process.
    # With both graphs, one of the two orders is not the id() order.
    x, m = T.matrix('x'), T.matrix('m')
    for out, order in (
        ((x * 2 - m).sum(), [x, m]),
        ((m - x * 2).sum(), [m, x]),
    ):
        value = float(out.eval({m: X, x: X}))
        assert abs(value) == pytest.approx(float(X.sum()))
        (fn,) = out._fn_cache.values()
        assert [i.variable for i in fn.maker.inputs] == order
