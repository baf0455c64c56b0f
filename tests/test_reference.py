"""The reference weights shipped in seq2seq_lasagne/reference/.

Each model's directory must load (names and shapes), say how it was made,
and still give the validation accuracy its record gives, measured again
here on the same seed's validation set.  The wheel must ship them.
"""

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from seq2seq_lasagne import reference
from seq2seq_lasagne.checkpoint import ParamsError, load_params, read_config
from seq2seq_lasagne.data_generator import get_batch
from seq2seq_lasagne.models import build_model
from seq2seq_lasagne.seeding import seeded_rngs
from seq2seq_lasagne.settings import MODELS, RunSettings, notebook_settings
from seq2seq_lasagne.translator import Translator

ROOT = Path(__file__).resolve().parents[1]
#: The accuracy may move by float rounding only: a few of the 105 000
#: validated positions.
TOLERANCE = 5 / (5000 * 21)


@pytest.mark.parametrize('model', MODELS)
def test_reference_loads_and_says_how_it_was_made(model):
    folder = reference.reference_dir(model)
    config = read_config(str(folder))
    assert config['model'] == model
    net = build_model(**config)
    load_params(net, str(folder))
    record = reference.record(model)
    settings = RunSettings(**record['settings'])
    # Trained at the notebook's settings, to the end.
    assert settings == notebook_settings(
        model, quick=False, seed=record['seed']
    )
    assert record['samples'] == settings.samples
    assert record['command'].startswith(
        'seq2seq-lasagne train --model %s --seed %d' % (model, record['seed'])
    )
    assert record['_run']['command'].startswith(
        'python scripts/make_reference'
    )
    params = (folder / 'params.npz').read_bytes()
    assert hashlib.sha256(params).hexdigest() == record['params_sha256']
    numbers = sum(p.get_value().size for p in net.trainable_params())
    assert numbers == record['trainable_numbers']
    assert len(params) < 100_000  # small enough to commit


def test_unknown_reference_is_a_clear_error():
    with pytest.raises(
        ParamsError, match="no reference weights for model 'rnn'"
    ):
        reference.reference_dir('rnn')


def recorded_and_measured(translator, model):
    record = reference.record(model)
    validation = record['validation']
    x, xmask, y = get_batch(
        validation['size'],
        validation['min_digits'],
        validation['max_digits'],
        rng=seeded_rngs(validation['seed'])['validation'],
    )[:3]
    measured = translator.trainer.evaluate(x, y, xmask)['accuracy']
    return validation['accuracy'], measured


@pytest.mark.slow
def test_attention_reference_gives_its_recorded_accuracy(reference_attention):
    recorded, measured = recorded_and_measured(
        reference_attention, 'attention'
    )
    assert measured == pytest.approx(recorded, abs=TOLERANCE)


@pytest.mark.slow
def test_baseline_reference_gives_its_recorded_accuracy():
    translator = Translator.reference('baseline')
    recorded, measured = recorded_and_measured(translator, 'baseline')
    assert measured == pytest.approx(recorded, abs=TOLERANCE)


@pytest.mark.slow
def test_the_wheel_ships_the_reference_weights(tmp_path):
    # Built from a copy, so that the build leaves nothing in the checkout.
    src = tmp_path / 'src'
    shutil.copytree(
        str(ROOT / 'seq2seq_lasagne'),
        str(src / 'seq2seq_lasagne'),
        ignore=shutil.ignore_patterns('__pycache__'),
    )
    for name in ('pyproject.toml', 'README.md'):
        shutil.copy(str(ROOT / name), str(src / name))
    subprocess.run(
        [
            sys.executable,
            '-m',
            'pip',
            'wheel',
            '--no-deps',
            '--no-build-isolation',
            '-q',
            '-w',
            str(tmp_path),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob('seq2seq_lasagne-*.whl')
    names = set(zipfile.ZipFile(str(wheel)).namelist())
    for model in MODELS:
        for name in reference.REFERENCE_FILES:
            assert 'seq2seq_lasagne/reference/%s/%s' % (model, name) in names
