"""The data: character table, get_batch, encoding (docs/original/FACTS.md
sections 1 and 2)."""

import numpy as np
import pytest
from original import CHARACTER_TABLE

from seq2seq_lasagne import data_generator as dg

ORIGINAL_TABLE = CHARACTER_TABLE  # docs/original/FACTS.md section 1


def test_character_table_printed_byte_for_byte(capsys):
    dg.print_valid_characters()
    assert capsys.readouterr().out == ORIGINAL_TABLE


@pytest.mark.slow
def test_character_table_same_in_a_fresh_process():
    # Python 3 randomises string hashing per process: the table must not.
    import subprocess
    import sys

    code = (
        'from seq2seq_lasagne.data_generator import '
        'print_valid_characters as p; p()'
    )
    outs = {
        subprocess.run(
            [sys.executable, '-c', code],
            env={'PYTHONHASHSEED': str(seed), 'PATH': ''},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in (1, 2)
    }
    assert outs == {ORIGINAL_TABLE}


def test_original_sample_encoding():
    # SAMPLE 0 and 1 of the original's saved get_batch output.
    x, m = dg.encode_batch(['six', 'zero'])
    assert x.tolist() == [[19, 15, 25, 0], [26, 12, 20, 17]]
    assert m.tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert dg.encode_text('6#').tolist() == [6, 10]


def test_get_batch_shapes_dtypes_masks_padding(rng):
    x, xm, y, ym, tin, tout = dg.get_batch(50, 1, 4, rng=rng)
    assert (x.dtype, xm.dtype, y.dtype, ym.dtype) == (
        np.int32,
        np.float32,
        np.int32,
        np.float32,
    )
    assert x.shape == xm.shape == (50, max(len(t) for t in tin))
    assert y.shape == ym.shape == (50, 5)
    assert len(tin) == len(tout) == 50
    for i in range(50):
        n_in, n_out = len(tin[i]), len(tout[i])
        assert xm[i].tolist() == [1] * n_in + [0] * (x.shape[1] - n_in)
        assert ym[i].tolist() == [1] * n_out + [0] * (5 - n_out)
        assert not x[i, n_in:].any() and not y[i, n_out:].any()
        # text and codes agree
        assert ''.join(dg.valid_characters[c] for c in x[i, :n_in]) == tin[i]
        assert ''.join(dg.valid_characters[c] for c in y[i, :n_out]) == tout[i]
        assert tout[i].endswith('#')
        assert dg.spell_digits(tout[i][:-1]) == tin[i]
        assert 1 <= n_out - 1 <= 4


def test_get_batch_lengths_cover_the_range(rng):
    _, _, _, ym, _, _ = dg.get_batch(400, 2, 5, rng=rng)
    lengths = set((ym.sum(axis=1) - 1).astype(int).tolist())
    assert lengths == {2, 3, 4, 5}


def test_get_batch_fixed_length_has_no_target_padding(rng):
    _, _, y, ym, _, tout = dg.get_batch(20, 20, 20, rng=rng)
    assert y.shape == (20, 21) and ym.all()
    assert all(len(t) == 21 for t in tout)


def test_seeding_global_and_explicit_generators():
    np.random.seed(3)
    a = dg.get_batch(10, 1, 5)
    np.random.seed(3)
    b = dg.get_batch(10, 1, 5)
    c = dg.get_batch(10, 1, 5, rng=np.random.RandomState(3))
    d = dg.get_batch(10, 1, 5, rng=np.random.default_rng(3))
    e = dg.get_batch(10, 1, 5, rng=np.random.default_rng(3))
    for u, v in zip(a[:4], b[:4]):
        np.testing.assert_array_equal(u, v)
    # an explicit RandomState with the same seed draws what np.random does
    assert c[4] == a[4]
    assert d[4] == e[4]
    np.random.seed(4)
    assert dg.get_batch(10, 1, 5)[4] != a[4]


def test_explicit_generator_leaves_global_state_alone():
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    dg.get_batch(10, rng=np.random.RandomState(0))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize(
    'kwargs, name',
    [
        (dict(min_digits=5, max_digits=3), 'min_digits'),
        (dict(batch_size=0), 'batch_size'),
        (dict(batch_size=-3), 'batch_size'),
        (dict(min_digits=0), 'min_digits'),
        (dict(max_digits=2.5), 'max_digits'),
        (dict(batch_size='10'), 'batch_size'),
        (dict(batch_size=True), 'batch_size'),
    ],
)
def test_get_batch_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        dg.get_batch(**kwargs)


def test_decode_prediction_stops_at_stop_character():
    assert dg.decode_prediction([1, 2, 5, 10, 3, 10]) == '125#'
    assert dg.decode_prediction([4, 4]) == '44'


def test_parse_spelled():
    assert dg.parse_spelled('  One two\tFIVE ') == ('one two five', '125')
    with pytest.raises(ValueError, match='empty'):
        dg.parse_spelled('   ')
    with pytest.raises(ValueError, match="'eleven'"):
        dg.parse_spelled('one eleven')


def test_encode_text_rejects_unknown_characters():
    with pytest.raises(ValueError, match="'A'"):
        dg.encode_text('one A')
