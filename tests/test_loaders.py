"""The loaders on arbitrary input (hypothesis): a ParamsError or a checked
value, never another exception, never a non-finite parameter accepted.

Nothing here compiles: the model is built (Lasagne layers) but its
functions are not, and the checkpoint loader is given an uncompiled
trainer.
"""

import io
import json
import math
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from seq2seq_lasagne.checkpoint import (
    ParamsError,
    load_checkpoint,
    load_params,
    read_checkpoint,
    read_config,
)
from seq2seq_lasagne.models import build_model
from seq2seq_lasagne.validation import NpzReader, read_json

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

dtypes = st.sampled_from(
    ['<f4', '<f8', '<f2', '<i4', '<i8', '|u1', '<u4', '|b1', '<c8', '<U3']
)


@st.composite
def arrays(draw, shape=None):
    dtype = np.dtype(draw(dtypes))
    if shape is None:
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    return draw(hnp.arrays(dtype, shape))


@pytest.fixture(scope='module')
def model():
    return build_model(
        'baseline', num_units_enc=3, num_units_dec=2, max_digits=3
    )


@pytest.fixture(scope='module')
def trainer(model):
    from seq2seq_lasagne.training import Trainer

    return Trainer(model)


def values_of(model):
    return {p.name: p.get_value().copy() for p in model.all_params()}


def npz_bytes(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def assert_unchanged(model, before):
    for p in model.all_params():
        np.testing.assert_array_equal(p.get_value(), before[p.name])


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_params_from_arbitrary_bytes(model, tmp_path, data):
    before = values_of(model)
    (tmp_path / 'params.npz').write_bytes(data)
    with pytest.raises(ParamsError):
        load_params(model, str(tmp_path))
    assert_unchanged(model, before)


@SETTINGS
@given(
    members=st.dictionaries(
        st.sampled_from(['W', 'b', 'W_in_to_updategate', 'x', 'meta']),
        arrays(),
        max_size=4,
    )
)
def test_params_from_arbitrary_npz(model, tmp_path, members):
    before = values_of(model)
    (tmp_path / 'params.npz').write_bytes(npz_bytes(members))
    with pytest.raises(ParamsError):
        load_params(model, str(tmp_path))
    assert_unchanged(model, before)


@pytest.mark.slow  # 150 draws of every parameter array of a model
@SETTINGS
@given(data=st.data())
def test_params_of_the_right_names_and_shapes(model, tmp_path, data):
    """Any dtype and value: accepted only as finite floats, exactly."""
    names = {p.name: p.get_value().shape for p in model.all_params()}
    members = {
        name: data.draw(arrays(shape=shape), label=name)
        for name, shape in names.items()
    }
    (tmp_path / 'params.npz').write_bytes(npz_bytes(members))
    good = all(
        a.dtype.kind == 'f'
        and np.all(np.isfinite(a.astype('float32', casting='unsafe')))
        for a in members.values()
    )
    before = values_of(model)
    if good:
        load_params(model, str(tmp_path))
        for p in model.all_params():
            np.testing.assert_array_equal(
                p.get_value(), members[p.name].astype(p.dtype)
            )
        for p in model.all_params():
            p.set_value(before[p.name])
    else:
        with pytest.raises(ParamsError):
            load_params(model, str(tmp_path))
        assert_unchanged(model, before)


@SETTINGS
@given(data=st.binary(max_size=600))
def test_config_from_arbitrary_bytes(tmp_path, data):
    (tmp_path / 'config.json').write_bytes(data)
    try:
        config = read_config(str(tmp_path))
    except ParamsError:
        return
    build_model(**config)


@SETTINGS
@given(
    value=json_values
    | st.fixed_dictionaries(
        {
            'model': st.sampled_from(['baseline', 'attention', 'rnn']),
            'num_units_enc': json_values,
            'num_units_dec': st.integers(-2, 10**13),
            'max_digits': st.integers(-2, 10**13),
        },
        optional={
            'encoder': st.sampled_from(['gru', 'bidirectional', 'cnn']),
            'merge': json_values,
            'aln_num_units': st.integers(-2, 5),
            'unroll_scan': json_values,
            'fused_attention': json_values,
            'fused_gru': json_values,
        },
    )
)
def test_config_from_arbitrary_json(tmp_path, value):
    try:
        text = json.dumps(value)
    except ValueError:
        return
    (tmp_path / 'config.json').write_text(text)
    try:
        config = read_config(str(tmp_path))
    except ParamsError:
        return
    # accepted: every size within the limits, and the model builds
    for key in ('num_units_enc', 'num_units_dec', 'max_digits'):
        assert type(config[key]) is int and 1 <= config[key] <= 4096
    if config['num_units_enc'] * config['num_units_dec'] <= 10**4:
        build_model(**config)


@SETTINGS
@given(data=st.binary(max_size=3000))
def test_checkpoint_from_arbitrary_bytes(tmp_path, data):
    path = tmp_path / 'checkpoint.npz'
    path.write_bytes(data)
    with pytest.raises(ParamsError):
        read_checkpoint(str(path))


def good_meta(samples=200, batch=100):
    return {
        'samples_processed': samples,
        'history': [{'samples': 100, 'val_accuracy': 0.5, 'cost': 2.0}],
        'costs': [2.0] * (samples // batch),
        'train_seconds': 1.0,
        'validation_seconds': 0.5,
        'extra': {'batch_size': batch},
        'rng': ['MT19937', 624, 0, 0.0],
    }


def checkpoint_arrays(trainer, meta):
    arrays = {
        'shared_%04d' % i: np.asarray(v)
        for i, v in enumerate(trainer.shared_state())
    }
    arrays['rng_keys'] = np.random.RandomState(0).get_state()[1]
    arrays['meta'] = np.frombuffer(json.dumps(meta).encode(), 'uint8')
    return arrays


@SETTINGS
@given(
    changes=st.dictionaries(
        st.sampled_from(sorted(good_meta())), json_values, max_size=3
    )
)
def test_checkpoint_meta_arbitrary(trainer, tmp_path, changes):
    """Arbitrary metadata: refused, or accepted only when well-formed."""
    from seq2seq_lasagne.training import RunState

    meta = dict(good_meta(), **changes)
    try:
        data = npz_bytes(checkpoint_arrays(trainer, meta))
    except ValueError:  # json.dumps of NaN is fine; others not
        return
    path = tmp_path / 'checkpoint.npz'
    path.write_bytes(data)
    try:
        checkpoint = read_checkpoint(str(path))
    except ParamsError:
        return
    m = checkpoint.meta
    assert type(m['samples_processed']) is int
    assert all(math.isfinite(c) for c in m['costs'])
    state = load_checkpoint(str(path), trainer, RunState())
    assert state.samples_processed == m['samples_processed']


@SETTINGS
@given(data=st.data())
def test_checkpoint_arbitrary_training_variables(trainer, tmp_path, data):
    from seq2seq_lasagne.training import RunState

    members = checkpoint_arrays(trainer, good_meta())
    name = data.draw(
        st.sampled_from(sorted(k for k in members if k.startswith('shared')))
    )
    shape = members[name].shape
    value = data.draw(arrays(shape=shape) | arrays(), label='value')
    members[name] = value
    path = tmp_path / 'checkpoint.npz'
    path.write_bytes(npz_bytes(members))
    good = (
        value.dtype.kind == 'f'
        and value.shape == shape
        and np.all(np.isfinite(value.astype('float32', casting='unsafe')))
    )
    before = trainer.shared_state()
    if good:
        load_checkpoint(str(path), trainer, RunState())
        trainer.set_shared_state(before)
    else:
        with pytest.raises(ParamsError):
            load_checkpoint(str(path), trainer, RunState())
        for a, b in zip(trainer.shared_state(), before):
            np.testing.assert_array_equal(a, b)


@SETTINGS
@given(value=json_values, pad=st.integers(0, 3))
def test_read_json_arbitrary(tmp_path, value, pad):
    path = tmp_path / 'x.json'
    path.write_text(' ' * pad + json.dumps(value))
    try:
        got = read_json(str(path))
    except ParamsError as exc:
        assert 'NaN' in str(exc) or 'Infinity' in str(exc)
        return
    assert got == value


def test_json_nested_deeply_is_one_error(tmp_path):
    path = tmp_path / 'x.json'
    path.write_text('[' * 100000 + ']' * 100000)
    with pytest.raises(ParamsError, match='nested too deeply'):
        read_json(str(path))


def test_npz_header_claiming_more_than_it_holds(tmp_path):
    header = (
        "{'descr': '<f4', 'fortran_order': False, "
        "'shape': (1000000, 1000000), }"
    ).encode()
    header += b' ' * (63 - (10 + len(header)) % 64) + b'\n'
    npy = b'\x93NUMPY\x01\x00' + len(header).to_bytes(2, 'little') + header
    path = tmp_path / 'x.npz'
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('W.npy', npy + b'\0' * 16)
    with pytest.raises(ParamsError, match='claims shape'):
        NpzReader(str(path))


def test_npz_refuses_pickles_without_running_them(tmp_path):
    path = tmp_path / 'x.npz'
    ran = tmp_path / 'ran'
    with open(path, 'wb') as f:
        np.savez(f, W=np.array([_Payload(str(ran))], dtype=object))
    with pytest.raises(ParamsError, match='never pickles'):
        NpzReader(str(path))
    assert not ran.exists()


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))
