"""benchmarks/bench_driver.py's ratios: every round's workers against the
same round's, the median and spread over rounds, for the peers and for a
lever held to issue 14's goals; and how the docs render them."""

import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def bench_driver():
    sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
    try:
        import bench_driver
    finally:
        sys.path.pop(0)
    return bench_driver


def rows(rates):
    return {r: {'samples_per_s': rate} for r, rate in enumerate(rates)}


def test_ratios_pair_the_rounds_both_ran(bench_driver):
    out = bench_driver.round_ratios(
        rows([30, 40, 99]),
        {0: {'samples_per_s': 20}, 1: {}},
        'samples_per_s',
        'r',
    )
    # round 1 has no rate to divide by and round 2 no peer: one ratio
    assert out == {'r_rounds': [1.5], 'r': 1.5, 'r_min': 1.5, 'r_max': 1.5}
    out = bench_driver.round_ratios(
        rows([30, 40, 10]), rows([20, 10, 20]), 'samples_per_s', 'r'
    )
    assert out['r_rounds'] == [1.5, 4.0, 0.5]
    assert (out['r'], out['r_min'], out['r_max']) == (1.5, 0.5, 4.0)
    assert bench_driver.round_ratios({}, rows([1]), 'samples_per_s', 'r') == {
        'r_rounds': []
    }


def test_a_lever_is_held_to_the_goals_round_by_round(bench_driver):
    driver = bench_driver.Driver.__new__(bench_driver.Driver)
    driver.results = []
    for label, rates in (
        ('theano attention default', [100, 120, 90]),
        ('theano attention fused_attention', [130, 150, 120]),
        ('torch attention', [80, 100, 90]),
        ('jax attention', [125, 140, 130]),
    ):
        for rnd, rate in enumerate(rates):
            driver.results.append(
                {'label': label, 'round': rnd, 'samples_per_s': rate}
            )
    peers = {'eager': {'name': 'eager'}, 'jax': {'name': 'JAX'}}
    out = driver.lever_goals('attention', 'fused_attention', peers)
    assert out['over_default_rounds'] == [1.3, 1.25, 120 / 90]
    assert out['over_default'] == 1.3
    g = out['goals']
    # per round 130/80, 150/100, 120/90: median 1.5, the goal exactly
    assert g['theano_over_eager'] == pytest.approx(1.5)
    assert g['at_least_1.5x_eager']
    # per round 130/125, 150/140, 120/130: median 1.04
    assert g['fastest_compiled_peer'] == 'JAX'
    assert g['theano_over_fastest_compiled'] == pytest.approx(1.04)
    assert g['at_least_fastest_compiled']


def test_the_goals_table_has_a_row_per_lever(tmp_path, monkeypatch):
    sys.path.insert(0, os.path.join(ROOT, 'scripts'))
    try:
        import render_docs
    finally:
        sys.path.pop(0)
    monkeypatch.setattr(render_docs, 'ROOT', tmp_path)
    goals = {
        'theano_over_eager': 1.2,
        'at_least_1.5x_eager': False,
        'fastest_compiled_peer': 'JAX',
        'theano_over_fastest_compiled': 0.9,
        'at_least_fastest_compiled': False,
    }
    lever = dict(
        goals,
        theano_over_eager=1.6,
        **{'at_least_1.5x_eager': True},
    )
    record = {
        '_run': {'command': 'bench_training.py', 'date': '2026-12-01'},
        'summary': {
            'models': {
                'attention': {
                    'goals': goals,
                    'levers': {
                        'fused_attention': {
                            'over_default': 1.08,
                            'goals': lever,
                        },
                        'no_fusion': {'over_default': 1.0},
                    },
                }
            }
        },
    }
    (tmp_path / 'peers.json').write_text(json.dumps(record))
    text = render_docs.bench_goals('peers.json')
    lines = [line for line in text.splitlines() if line.startswith('| att')]
    assert lines == [
        '| attention | 1.20: **not met** | 0.90 (JAX): **not met** |',
        '| attention, with `fused_attention` (1.08× the default) '
        '| 1.60: met | 0.90 (JAX): **not met** |',
    ]
