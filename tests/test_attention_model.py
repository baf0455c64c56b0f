"""The attention model as the notebook builds it (docs/original/FACTS.md
section 4)."""

import numpy as np
import pytest
from original import printed_shapes, trainable_parameters
from trains_alike import assert_trains_alike

from seq2seq_lasagne.cli import main
from seq2seq_lasagne.data_generator import get_batch
from seq2seq_lasagne.models import build_attention


def test_attention_trainable_parameters_match_original():
    model = build_attention()
    got = [(p.name, p.get_value().shape) for p in model.trainable_params()]
    assert got == trainable_parameters('attention')


@pytest.mark.slow
def test_attention_layer_shapes_match_notebook_print():
    shapes = build_attention().output_shapes(batch_size=100, input_length=20)
    assert shapes == printed_shapes('attention')


def test_test_func_returns_alpha_like_the_notebook(short_attention):
    x, xmask, y, ymask, texts, _ = get_batch(
        7, 1, 3, rng=np.random.RandomState(2)
    )
    result = short_attention.evaluate(x, y, xmask, ymask)
    alpha, output = result['alpha'], result['output']
    assert output.shape == (7, 4, 11)
    assert alpha.shape == (7, 4, x.shape[1])
    np.testing.assert_allclose(alpha.sum(axis=-1), 1, rtol=1e-5)
    np.testing.assert_allclose(output.sum(axis=-1), 1, rtol=1e-5)
    assert 0 <= result['accuracy'] <= 1


@pytest.mark.slow
def test_attention_learns_short_sequences(short_attention, tmp_path):
    from seq2seq_lasagne.experiment import train_run
    from seq2seq_lasagne.settings import RunSettings

    settings = RunSettings(
        model='attention',
        samples=20000,
        seed=0,
        min_digits=3,
        max_digits=3,
        val_size=500,
        val_interval=5000,
    )
    metrics = train_run(
        str(tmp_path), settings, trainer=short_attention, progress=False
    )
    assert np.mean(metrics['accuracy_per_position'][:3]) > 0.3  # chance 0.1
    for name in (
        'alpha_weights.png',
        'attention_heatmap_0.png',
        'validation_curve.png',
        'accuracy_per_position.png',
    ):
        assert (tmp_path / name).stat().st_size > 5000, name
    assert len(metrics['attention_diagonal']['peaks']) == 4

    # translate with attention: decoded digits and both heatmaps
    heatmap = tmp_path / 'heat.png'
    code = main(
        [
            'translate',
            '--params',
            str(tmp_path),
            '--heatmap',
            str(heatmap),
            '--show-attention',
            'one two five',
        ]
    )
    assert code == 0
    assert heatmap.stat().st_size > 5000


def test_translate_show_attention_output(short_attention, tmp_path, capsys):
    from seq2seq_lasagne.checkpoint import save_params

    save_params(short_attention.model, str(tmp_path))
    assert (
        main(
            [
                'translate',
                '--params',
                str(tmp_path),
                '--show-attention',
                'seven one',
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    decoded = lines[0]
    assert set(decoded) <= set('0123456789#')
    assert lines[1] == '  seven one'
    assert len(lines) == 2 + len(decoded)
    for line, char in zip(lines[2:], decoded):
        assert line[0] == char and len(line) == 2 + len('seven one')


@pytest.mark.parametrize('bad', ['0', 'x'])
def test_reproduce_rejects_bad_seeds(capsys, bad):
    code = main(
        ['reproduce', '--out', 'x', '--seeds', bad, '--samples', '-1']
        if bad == '0'
        else ['reproduce', '--out', 'x', '--seeds', bad]
    )
    assert code == 2
    assert capsys.readouterr().err.count('\n') == 1


def test_fused_attention_trains_as_theanos_ops(short_attention):
    """Ten Adam steps from the same weights: the fused alignment op (issue
    14's lever) and Theano's own ops give the same costs and weights up to
    float32 rounding."""
    from seq2seq_lasagne.settings import RunSettings

    assert_trains_alike(
        short_attention,
        RunSettings(
            model='attention', min_digits=3, max_digits=3, fused_attention=True
        ),
    )
