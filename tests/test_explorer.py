"""The attention explorer: its widget, its plain fallback, and the code it
shares with ``seq2seq-lasagne translate``.

The widget is driven as a student drives it, by setting the text box's
value; what it shows is read from its Output widget: one text (the
translation) and one PNG (the heatmap), or one error line.  The notebook
test (tests/test_notebooks.py) does the same in a real kernel.
"""

import base64
import io

import matplotlib.image
import numpy as np
import pytest

from seq2seq_lasagne import explorer as explorer_module
from seq2seq_lasagne.cli import main
from seq2seq_lasagne.data_generator import decode_prediction, encode_batch
from seq2seq_lasagne.explorer import EXAMPLE, AttentionExplorer
from seq2seq_lasagne.translator import Translator

pytestmark = pytest.mark.slow


def png(data):
    """PNG bytes of an ``image/png`` output (base64 text in a kernel)."""
    return base64.b64decode(data) if isinstance(data, str) else data


def shown(explorer):
    """``(text, [PNG bytes])`` of what the explorer's Output shows."""
    outputs = explorer.output.outputs
    text = ''.join(
        o.get('text', '') for o in outputs if o['output_type'] == 'stream'
    )
    images = [
        png(o['data']['image/png'])
        for o in outputs
        if 'image/png' in o.get('data', {})
    ]
    return text, images


def pixels(data):
    return matplotlib.image.imread(io.BytesIO(data), format='png')


@pytest.fixture(scope='module')
def model_translator(short_attention):
    """A translator of the package's attention network (3 digits), as the
    notebook makes one of its own layers."""
    m = short_attention.model
    return Translator.from_layers(
        m.l_in, m.l_mask_enc, m.l_out, m.l_dec, m.x_sym, m.xmask_sym
    )


def predicted(trainer, text):
    x, xmask = encode_batch([text])
    output = trainer.evaluate(x, None, xmask)['output']
    return decode_prediction(np.argmax(output, axis=-1)[0])


def test_typing_shows_the_translation_and_the_heatmap(
    model_translator, short_attention
):
    assert model_translator.kind == 'attention'
    assert model_translator.max_digits == 3
    explorer = AttentionExplorer(model_translator, value='one two')
    text, images = shown(explorer)
    expected = predicted(short_attention, 'one two')
    assert text.startswith('"one two" -> %s\n' % expected), text
    assert len(images) == 1 and images[0].startswith(b'\x89PNG')

    explorer.text.value = 'Nine   EIGHT seven'
    text, images = shown(explorer)
    expected = predicted(short_attention, 'nine eight seven')
    assert text.startswith('"nine eight seven" -> %s\n' % expected), text
    assert '3 digits in' in text
    # One row per output character, one column per input character: the
    # heatmap is wider than high.
    assert len(images) == 1
    height, width = pixels(images[0]).shape[:2]
    assert width > height

    for bad, needle in [
        ('one twelve', "unknown word 'twelve'"),
        ('one two three four', 'decodes at most 3'),
        ('   ', 'empty'),
    ]:
        explorer.text.value = bad
        text, images = shown(explorer)
        assert text.startswith('error: ') and needle in text, text
        assert text.count('\n') == 1 and images == []


def test_it_needs_an_attention_model(short_baseline):
    m = short_baseline.model
    translator = Translator.from_layers(
        m.l_in, m.l_mask_enc, m.l_out, m.l_dec, m.x_sym, m.xmask_sym
    )
    assert translator.kind == 'baseline' and translator.max_digits == 3
    with pytest.raises(ValueError, match='attention model'):
        AttentionExplorer(translator)


def test_without_ipywidgets_it_prints_and_draws(
    model_translator, short_attention, monkeypatch, capsys
):
    monkeypatch.setattr(explorer_module, '_widgets', lambda: None)
    explorer = AttentionExplorer(model_translator, value='three')
    assert explorer.widget is None and explorer.text is None
    result = explorer.explore('four five')
    out = capsys.readouterr().out
    assert result['output'] == predicted(short_attention, 'four five')
    assert out.startswith('"four five" -> %s\n' % result['output'])
    assert result['alpha'].shape == (4, len('four five'))
    explorer._ipython_display_()
    out = capsys.readouterr().out
    assert 'explorer.explore(' in out and '"three" -> ' in out
    assert explorer.explore('zero ten') is None
    assert capsys.readouterr().out.startswith("error: unknown word 'ten'")


def test_reference_explorer_draws_what_translate_draws(
    reference_attention, tmp_path, capsys
):
    explorer = AttentionExplorer(reference_attention)
    text, images = shown(explorer)
    expected = reference_attention.translate([EXAMPLE])[0]['output']
    assert text.startswith('"%s" -> %s\n' % (EXAMPLE, expected))
    assert 'model: ' in text and 'reference' in text
    # The command line, without --params, uses the same model and draws
    # the same heatmap.
    heatmap = tmp_path / 'heatmap.png'
    code = main(['translate', '--heatmap', str(heatmap), EXAMPLE])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == expected
    np.testing.assert_array_equal(
        pixels(heatmap.read_bytes()), pixels(images[0])
    )
