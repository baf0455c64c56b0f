"""The docs' figures are rendered from the committed result files."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'scripts'))

import render_docs  # noqa: E402


def test_every_rendered_block_is_current(capsys):
    code = render_docs.main(['--check'])
    assert code == 0, capsys.readouterr().err


def test_a_stale_block_is_found_and_rewritten(tmp_path, monkeypatch):
    summary = {
        'attention': {
            'seeds': [0, 1],
            'final': [0.5, 0.9],
            'median': 0.7,
            'min': 0.5,
            'max': 0.9,
            'best': [0.6, 0.9],
            'left_plateau': [False, True],
        },
        '_run': {'command': 'seq2seq-lasagne reproduce --out x'},
    }
    (tmp_path / 'summary.json').write_text(json.dumps(summary))
    doc = tmp_path / 'doc.md'
    doc.write_text(
        'before\n<!-- render: reproduction-brief summary.json -->'
        '\nold figures\n<!-- end render -->\nafter\n'
    )
    monkeypatch.setattr(render_docs, 'ROOT', tmp_path)
    assert render_docs.main(['--check', str(doc)]) == 1
    assert render_docs.main([str(doc)]) == 0
    text = doc.read_text()
    assert 'old figures' not in text
    assert (
        '| attention | 0.700 (0.500–0.900); 1 of 2 left the plateau |' in text
    )
    assert text.startswith('before\n') and text.endswith('after\n')
    assert render_docs.main(['--check', str(doc)]) == 0


def test_unknown_renderer_or_damaged_file_is_one_line(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(render_docs, 'ROOT', tmp_path)
    (tmp_path / 'damaged.json').write_text('{"parts": [')
    doc = tmp_path / 'doc.md'
    for spec in ('no-such-renderer x', 'ci-time damaged.json'):
        doc.write_text('<!-- render: %s -->\n<!-- end render -->\n' % spec)
        assert render_docs.main(['--check', str(doc)]) == 2
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and err.startswith('render_docs: error:')


def test_a_file_not_yet_written_is_said_not_invented(tmp_path, monkeypatch):
    monkeypatch.setattr(render_docs, 'ROOT', tmp_path)
    doc = tmp_path / 'doc.md'
    doc.write_text(
        '<!-- render: ci-time later.json -->\n<!-- end render -->\n'
    )
    assert render_docs.main([str(doc)]) == 0
    text = doc.read_text()
    assert 'Not measured yet: `later.json`' in text
    (tmp_path / 'later.json').write_text(
        '{"parts": [{"name": "suite", "seconds": 120}], "total_seconds": 120}'
    )
    assert render_docs.main(['--check', str(doc)]) == 1
    assert render_docs.main([str(doc)]) == 0
    assert '| suite | 2.0 |' in doc.read_text()


@pytest.mark.parametrize(
    'path',
    sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / 'docs' / 'results').rglob('*.json')
    ),
)
def test_result_files_say_what_made_them(path):
    data = json.loads((ROOT / path).read_text())
    run = data.get('_run') if isinstance(data, dict) else None
    assert run and run.get('command'), '%s has no _run.command' % path


def test_tree_comparison_says_within_noise_only_when_it_is(
    tmp_path, monkeypatch
):
    """compare-trees: the verdict follows the rounds' ratios (a median
    farther from 1 than the rounds spread is not noise)."""
    monkeypatch.setattr(render_docs, 'ROOT', tmp_path)

    def record(ratios):
        before = [1000.0] * len(ratios)
        return {
            '_run': {'command': 'compare_trees.py --before b'},
            'trees': {
                'current': {'commit': 'a' * 40},
                'before': {'commit': 'b' * 40, 'subject': 'old'},
            },
            'settings': {'rounds': len(ratios)},
            'models': {
                'attention': {
                    'current': {
                        'samples_per_s_rounds': [1000 * r for r in ratios],
                        'val_s_rounds': [1.0] * len(ratios),
                    },
                    'before': {
                        'samples_per_s_rounds': before,
                        'val_s_rounds': [1.0] * len(ratios),
                    },
                    'samples_per_s_ratio': summarise(ratios),
                    'val_s_ratio': summarise([1.0] * len(ratios)),
                }
            },
        }

    sys.path.insert(0, str(ROOT / 'benchmarks'))
    from compare_trees import _spread as summarise

    (tmp_path / 'noise.json').write_text(json.dumps(record([0.97, 1.02, 1.0])))
    (tmp_path / 'slower.json').write_text(
        json.dumps(record([0.8, 0.82, 0.81]))
    )
    noise = render_docs.compare_trees('noise.json')
    slower = render_docs.compare_trees('slower.json')
    assert '| attention | training samples/s | 970 / 1020 / 1000 |' in noise
    assert '1.000 (0.970 / 1.020 / 1.000) | 0.030 | yes |' in noise
    assert '0.810 (0.800 / 0.820 / 0.810) | 0.010 | **no** |' in slower


def test_cold_start_goal_follows_the_measured_time(tmp_path, monkeypatch):
    """cold-start-goal: met only at or below the goal's seconds, per
    machine, from the file's own figures."""
    monkeypatch.setattr(render_docs, 'ROOT', tmp_path)

    def record(machine, rounds):
        entry = {
            'first_step_s': sorted(rounds)[len(rounds) // 2],
            'first_step_s_rounds': rounds,
        }
        return {
            '_run': {
                'command': 'cold_start.py --parallel-peer',
                'machine': machine,
                'date': '2026-12-01T02:00',
            },
            'summary': {render_docs.COLD_GOAL_ENTRY: entry},
        }

    goal = render_docs.COLD_GOAL_S
    (tmp_path / 'fast.json').write_text(
        json.dumps(record('fast CPU', [goal - 3, goal - 2, goal + 9]))
    )
    (tmp_path / 'slow.json').write_text(
        json.dumps(record('slow CPU', [goal + 1]))
    )
    text = render_docs.cold_start_goal('fast.json', 'slow.json')
    assert '| fast CPU (2026-12-01) | %d (' % (goal - 2) in text
    rows = [line for line in text.splitlines() if 'CPU (' in line]
    assert rows[0].endswith('| met |')
    assert rows[1].endswith('| **not met** |')


def test_attention_seeds_side_by_side(tmp_path, monkeypatch):
    """attention-seeds: a column per reproduction, named by its options,
    each seed's final accuracy and whether it left the plateau."""
    monkeypatch.setattr(render_docs, 'ROOT', tmp_path)

    def summary(options, finals, left):
        return {
            '_run': {'command': 'reproduce', 'options': options},
            'attention': {
                'seeds': [0, 1],
                'final': finals,
                'left_plateau': left,
                'median': sum(finals) / 2,
                'min': min(finals),
                'max': max(finals),
            },
        }

    (tmp_path / 'a.json').write_text(
        json.dumps(summary({}, [0.8, 0.9], [True, True]))
    )
    (tmp_path / 'b.json').write_text(
        json.dumps(
            summary({'fused_attention': True}, [0.3, 0.7], [False, True])
        )
    )
    lines = render_docs.attention_seeds('a.json', 'b.json').splitlines()
    assert lines[0] == "| seed | the notebook's recipe | `fused_attention` |"
    assert lines[2] == '| 0 | 0.800 | 0.300 (on the plateau) |'
    assert lines[3] == '| 1 | 0.900 | 0.700 |'
    assert '| **median** | **0.850** | **0.500** |' in lines
    assert '| left the plateau | 2 of 2 | 1 of 2 |' in lines
    # the baseline has no plateau: no such row
    for name in ('a.json', 'b.json'):
        data = json.loads((tmp_path / name).read_text())
        data['baseline'] = dict(data.pop('attention'))
        del data['baseline']['left_plateau']
        (tmp_path / name).write_text(json.dumps(data))
    lines = render_docs.baseline_seeds('a.json', 'b.json').splitlines()
    assert lines[2] == '| 0 | 0.800 | 0.300 |'
    assert not any('plateau' in line for line in lines)
