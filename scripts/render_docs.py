"""Render the measured figures in the docs from the files that measured them.

No figure in the docs is typed by hand: each table or line of figures sits
in a block ::

    <!-- render: NAME ARG... -->
    (generated text)
    <!-- end render -->

whose text this script regenerates from the JSON file a command wrote
(``seq2seq-lasagne reproduce``'s ``summary.json``, a benchmark's result,
``.ci/run``'s timings), all committed under ``docs/results/`` or
``benchmarks/results/reference/``.  ``tests/test_docs.py`` fails when a
block is out of date.

    python scripts/render_docs.py           # rewrite the blocks in place
    python scripts/render_docs.py --check   # exit 1 if any block is stale
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BLOCK = re.compile(
    r'(<!-- render: (?P<spec>[^>]*?) -->\n)(?P<body>.*?)(<!-- end render -->)',
    re.S,
)
DEFAULT_FILES = [
    'README.md',
    'CONTRIBUTING.md',
    'docs/*.md',
    'benchmarks/README.md',
]


class RenderError(Exception):
    """A block names an unknown renderer or a missing or bad file."""


def _load(path):
    full = ROOT / path
    try:
        return json.loads(full.read_text())
    except (OSError, ValueError) as exc:
        raise RenderError('%s: %s' % (path, exc))


def _fmt(value, digits=3):
    return '–' if value is None else '%.*f' % (digits, value)


def _made_by(run):
    run = run or {}
    parts = ['`%s`' % run['command']] if run.get('command') else []
    for key in ('date', 'machine', 'python', 'shared'):
        if run.get(key):
            parts.append(str(run[key]))
    return '; '.join(parts)


def reproduction_table(path):
    """The full table of a reproduction summary (one row per model)."""
    from seq2seq_lasagne.reporting import summary_table

    summary = _load(path)
    return '%s\n\nMade by %s; file: `%s`.\n' % (
        summary_table(summary),
        _made_by(summary.get('_run')),
        path,
    )


def reproduction_brief(path):
    """One line per model: median (range) of the final accuracies."""
    summary = _load(path)
    lines = [
        '| model | final validation accuracy, median (min–max) | seeds |',
        '|---|---|---|',
    ]
    for model, entry in summary.items():
        if model.startswith('_'):
            continue
        note = ''
        if 'left_plateau' in entry:
            note = '; %d of %d left the plateau' % (
                sum(entry['left_plateau']),
                len(entry['left_plateau']),
            )
        lines.append(
            '| %s | %s (%s–%s)%s | %s |'
            % (
                model,
                _fmt(entry['median']),
                _fmt(entry['min']),
                _fmt(entry['max']),
                note,
                ', '.join(str(s) for s in entry['seeds']),
            )
        )
    return '\n'.join(lines) + '\n\nFrom `%s` (%s).\n' % (
        path,
        _made_by(summary.get('_run')),
    )


def model_seeds(model, *paths):
    """A model's final validation accuracy seed by seed, one column per
    reproduction (``reproduce --models MODEL``), with what each ran: the
    notebook's recipe or its options.  The attention model's table counts
    the runs that left the plateau."""
    summaries = [_load(p) for p in paths]
    heads, finals = [], []
    for path, summary in zip(paths, summaries):
        entry = summary.get(model)
        if not entry:
            raise RenderError('%s: no %s runs' % (path, model))
        run = summary.get('_run') or {}
        options = ', '.join(
            '`%s`' % k for k in sorted(run.get('options') or {})
        )
        date = (run.get('date') or '')[:10]
        heads.append(
            (options or "the notebook's recipe")
            + (' (%s)' % date if date else '')
        )
        finals.append(
            {
                seed: (final, left)
                for seed, final, left in zip(
                    entry['seeds'],
                    entry['final'],
                    entry.get('left_plateau') or [True] * len(entry['seeds']),
                )
            }
        )
    seeds = sorted(set().union(*finals))
    lines = [
        '| seed | %s |' % ' | '.join(heads),
        '|---|%s' % ('---:|' * len(heads)),
    ]
    for seed in seeds:
        cells = []
        for runs in finals:
            final, left = runs.get(seed, (None, True))
            cells.append(_fmt(final) + ('' if left else ' (on the plateau)'))
        lines.append('| %d | %s |' % (seed, ' | '.join(cells)))
    for name, key in (('median', 'median'), ('min', 'min'), ('max', 'max')):
        lines.append(
            '| **%s** | %s |'
            % (
                name,
                ' | '.join('**%s**' % _fmt(s[model][key]) for s in summaries),
            )
        )
    if model == 'attention':
        lines.append(
            '| left the plateau | %s |'
            % ' | '.join(
                '%d of %d'
                % (
                    sum(s[model]['left_plateau']),
                    len(s[model]['seeds']),
                )
                for s in summaries
            )
        )
    made = '; '.join(
        '`%s`: %s' % (p, _made_by(s.get('_run')))
        for p, s in zip(paths, summaries)
    )
    return (
        '\n'.join(lines)
        + '\n\nFinal validation accuracy. Made by %s.\n' % made
    )


def attention_seeds(*paths):
    """:func:`model_seeds` of the attention model."""
    return model_seeds('attention', *paths)


def baseline_seeds(*paths):
    """:func:`model_seeds` of the baseline."""
    return model_seeds('baseline', *paths)


def ci_time(path):
    """How long ``.ci/run`` took, per part, from its timings file."""
    timings = _load(path)
    lines = ['| part of `.ci/run` | minutes |', '|---|---|']
    for part in timings['parts']:
        lines.append('| %s | %.1f |' % (part['name'], part['seconds'] / 60))
    lines.append('| **all** | **%.1f** |' % (timings['total_seconds'] / 60))
    caches = (timings.get('_run') or {}).get('caches')
    return '\n'.join(lines) + '\n\n%s%s; file: `%s`.\n' % (
        _made_by(timings.get('_run')),
        '; caches: %s' % caches if caches else '',
        path,
    )


def container_facts(path):
    """What the container tests measured (tests/test_container*.py record
    them in test-artifacts/container_facts.json; the committed copy adds
    ``images``, the build times, and ``_run``)."""
    facts = _load(path)
    lines = ['| measured | value |', '|---|---|']
    for image in facts.get('images', []):
        lines.append(
            '| build of the %s image | %d s |'
            % (image['target'], image['seconds'])
        )
    size = facts.get('image_size_bytes')
    if size:
        lines.append('| student image size | %.2f GB |' % (size / 1e9))
    step = facts.get('first_attention_step')
    if step:
        lines.append(
            '| first attention step of the lab in a fresh container, from '
            '`podman run` (in the kernel) | %.1f s (%.1f s) |'
            % (step['podman_run_seconds'], step['kernel_seconds'])
        )
        lines.append(
            '| Theano modules compiled for it | %d |' % step['compiled']
        )
        graphs = step.get('graph_cache')
        if graphs:
            lines.append(
                '| graphs for it found optimised in the image / optimised '
                'anew | %d / %d |' % (graphs['hits'], graphs['misses'])
            )
    for key in sorted(facts):
        if key.startswith('opencl_vs_cpu_'):
            value = facts[key]
            lines.append(
                '| %s on `opencl0:0` against the CPU: largest relative '
                'difference of the logged costs (bound) | %.1e (%.0e) |'
                % (
                    key[len('opencl_vs_cpu_') :],
                    value['max_rel_diff'],
                    value['rtol'],
                )
            )
    return '\n'.join(lines) + '\n\n%s; file: `%s`.\n' % (
        _made_by(facts.get('_run')),
        path,
    )


def probe_table(path):
    """Outcomes of scripts/probe_inputs.py, per class of input."""
    probe = _load(path)
    kinds = ['handled', 'traceback', 'silent', 'unbounded', 'unclear']
    lines = [
        '| class | tried | %s |' % ' | '.join(kinds),
        '|---|---|%s' % ('---|' * len(kinds)),
    ]
    for cls, counts in probe['by_class'].items():
        lines.append(
            '| %s | %d | %s |'
            % (
                cls,
                sum(counts.values()),
                ' | '.join(str(counts.get(k, 0)) for k in kinds),
            )
        )
    total = probe['counts']
    lines.append(
        '| **all** | **%d** | %s |'
        % (
            probe['tried'],
            ' | '.join('**%d**' % total.get(k, 0) for k in kinds),
        )
    )
    run = dict(probe.get('_run') or {})
    note = ''
    if run.get('source'):
        note = ' Probed tree: %s.' % run['source']
    return '\n'.join(lines) + '\n\n%s; file: `%s`.%s\n' % (
        _made_by(run),
        path,
        note,
    )


def nbgrader_steps(path):
    """The time of each nbgrader step, per assignment, from
    ``scripts/time_course.py``'s file."""
    timings = _load(path)
    assignments = timings['assignments']
    names = list(assignments)
    header = '| step | by | %s |' % ' | '.join(
        '`%s`: wall s (CPU s)' % name for name in names
    )
    lines = [header, '|---|---|%s' % ('---|' * len(names))]
    rows = {}
    for name in names:
        for step in assignments[name]['steps']:
            rows.setdefault((step['step'], step['by']), {})[name] = step
    for (step, by), cells in rows.items():
        lines.append(
            '| %s | %s | %s |'
            % (
                step,
                by,
                ' | '.join(
                    '%.1f (%.1f)'
                    % (cells[n]['wall_seconds'], cells[n]['cpu_seconds'])
                    if n in cells
                    else '–'
                    for n in names
                ),
            )
        )
    grades = ', '.join(
        '`%s` %g of %g automatically'
        % (
            n,
            assignments[n]['grade']['score'],
            assignments[n]['grade']['max_score'],
        )
        for n in names
    )
    run = timings.get('_run', {})
    return '\n'.join(lines) + (
        '\n\nScores: %s (the written answers wait for the instructor). '
        'Made by %s; nbgrader %s; load average %s before, %s after; '
        'file: `%s`.\n'
        % (
            grades,
            _made_by(run),
            run.get('nbgrader', '?'),
            _fmt_load(run.get('load_average_before')),
            _fmt_load(run.get('load_average_after')),
            path,
        )
    )


def reference_weights(path):
    """The reference weights of the package, from their record.json."""
    lines = [
        '| model | seed | samples | validation accuracy | validation set '
        '| trained until | copied from run | what trained it |',
        '|---|---|---|---|---|---|---|---|',
    ]
    made = []
    for folder in sorted((ROOT / path).iterdir()):
        if not (folder / 'record.json').is_file():
            continue
        record = _load('%s/%s/record.json' % (path, folder.name))
        validation = record['validation']
        lines.append(
            '| %s | %d | %d | %s | seed %d, %d samples of %d-%d digits '
            '| %s | `%s` | `%s` (or the same seed of `reproduce`) |'
            % (
                record['model'],
                record['seed'],
                record['samples'],
                _fmt(validation['accuracy'], 4),
                validation['seed'],
                validation['size'],
                validation['min_digits'],
                validation['max_digits'],
                record['trained_until'],
                record['_run'].get('run_dir', '?'),
                record['command'],
            )
        )
        made.append(record['_run'])
    if not made:
        raise RenderError('%s: no record.json' % path)
    return '\n'.join(lines) + (
        '\n\nRecorded by %s; files: `%s/*/record.json`.\n'
        % (_made_by(made[0]), path)
    )


def _fmt_load(values):
    return '/'.join('%.1f' % v for v in values) if values else '?'


def _mb(value):
    return '–' if value is None else '%.0f MB' % (value / 1e6)


def hub_measure(path):
    """The class hub's figures (``benchmarks/bench_hub.py``): login to a
    running server, a server's memory, and the load test's curve."""
    m = _load(path)
    login, rest = m['login'], m['memory']['at_rest']
    lines = [
        '- login to a running server (the lab answering): %.1f s at a '
        "student's first login (a new home volume), %.1f s after a stop "
        '(load average %s)'
        % (
            login['first_seconds'],
            login['again_seconds'],
            ', '.join('%.1f' % x for x in login['loadavg']),
        ),
        '- a server at rest (no kernel): %s resident, %s in its cgroup '
        '(page cache included)'
        % (_mb(rest['rss_bytes']), _mb(rest['usage_bytes'])),
        '- limits per server: %s of memory, %.1f CPU'
        % (_mb(m['limits']['memory_bytes']), m['limits']['cpus']),
        '',
        '| students training at once | samples/s per student | samples/s '
        'in all | a server while training: resident (cgroup peak) | all '
        'servers, resident | least free memory of the machine | failed '
        'runs | wall time | load average before → after |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for row in m['load']:
        lines.append(
            '| %d | %s | %s | %s (%s) | %s | %s | %d of %d | %.0f s '
            '| %s → %s |'
            % (
                row['students'],
                _fmt(row['samples_per_second_per_student'], 0),
                _fmt(row['samples_per_second_total'], 0),
                _mb(row['rss_bytes']),
                _mb(row['peak_bytes']),
                _mb(row['rss_bytes_total']),
                _mb(row['min_available_bytes']),
                row['failed'],
                row['students'],
                row['wall_seconds'],
                '%.1f' % row['loadavg_before'][0],
                '%.1f' % row['loadavg_after'][0],
            )
        )
    lines += ['', _hub_reading(m['load'])]
    return '\n'.join(lines) + '\n\nMade by %s; file: `%s`.\n' % (
        _made_by(m.get('_run')),
        path,
    )


def _hub_reading(load):
    """What the load test's curve says: whether every run finished, how a
    student's rate falls with more students, and how many training servers
    the machine's memory would hold at the measured peak."""
    one = next((r for r in load if r['students'] == 1), None)
    most = max(load, key=lambda r: r['students'])
    failed = sum(r['failed'] for r in load)
    words = [
        'Read from the table: %s of the runs failed with up to %d students '
        'training at once.' % (failed or 'none', most['students'])
    ]
    if one and one['samples_per_second_per_student']:
        words.append(
            "A student's rate with %d at once is %.0f%% of a lone "
            "student's; all of them together train at %.0f%% of a lone "
            "student's rate."
            % (
                most['students'],
                100.0
                * most['samples_per_second_per_student']
                / one['samples_per_second_per_student'],
                100.0
                * most['samples_per_second_total']
                / one['samples_per_second_per_student'],
            )
        )
    peak = max(r['peak_bytes'] for r in load)
    free = max(r['min_available_bytes'] for r in load)
    words.append(
        'Memory is not the limit: at the highest peak of a training server '
        "(%s), the machine's free memory during the one-student run "
        'would hold %d such servers.' % (_mb(peak), free // peak)
    )
    return ' '.join(words)


def _recipe(summary):
    """How a reproduce summary's runs differ from the notebook's recipe."""
    options = (summary.get('_run') or {}).get('options') or {}
    if not options:
        return "the notebook's"
    return ', '.join(
        '`--%s %s`' % (k.replace('_', '-'), v) for k, v in options.items()
    )


def plateau_table(*paths):
    """Leaving the plateau, one row per reproduce summary (a recipe)."""
    from seq2seq_lasagne.reporting import plateau_table as table

    rows, made = [], []
    for path in paths:
        summary = _load(path)
        entry = summary.get('attention') or {}
        if 'plateau' not in entry:
            raise RenderError('%s: no plateau statistics' % path)
        rows.append((_recipe(summary), entry['plateau']))
        made.append('`%s`: %s' % (path, _made_by(summary.get('_run'))))
    return '%s\n\nMade by %s.\n' % (table(rows), '; '.join(made))


def plateau_runs(path):
    """Per seed: when its run left the plateau, and its final accuracy."""
    from seq2seq_lasagne.reporting import plateau_runs_table

    summary = _load(path)
    table = plateau_runs_table(summary.get('attention') or {})
    if not table:
        raise RenderError('%s: no attention runs with plateau data' % path)
    return '%s\n\nFrom `%s`.\n' % (table, path)


def plateau_restarted(path):
    """The runs a restart option changed (scripts/plateau_restarts.py)."""
    result = _load(path)
    runs = [
        r
        for r in (result.get('attention') or {}).get('runs', [])
        if r['source'] != 'recipe'
    ]
    lines = [
        "| seed | the recipe's run | with the option: samples in all "
        '| final accuracy |',
        '|---|---|---|---|',
    ]
    for r in runs:
        lines.append(
            '| %d | %s | %d | %.3f |'
            % (r['seed'], r['source'], r['samples'], r['final'])
        )
    if not runs:
        lines.append('| – | no run was due a restart | – | – |')
    return '%s\n\nFrom `%s`: %s.\n' % (
        '\n'.join(lines),
        path,
        _made_by(result.get('_run')),
    )


#: The diagnostics of scripts/plateau_study.py the docs show, in order.
STUDY_ROWS = (
    ('attention_entropy', 'attention entropy (1 = uniform)'),
    ('attention_pad_mass', 'attention on padded positions'),
    ('pad_share', 'share of padded positions'),
    ('attention_end_mass', 'attention on the final encoder state'),
    ('attention_word_mass', "attention on the digit's own word"),
    ('attention_step_change', 'attention change from step to step'),
    ('attention_score_spread', 'spread of the attention scores'),
    ('attention_peak_slope', 'slope of the attention peak (chars/digit)'),
    ('decoder_hidden_step_std', "decoder state's change over the steps"),
    ('encoder_position_std', "encoder state's change over the input"),
    ('grad_norm', 'gradient norm, raw'),
    ('grad_norm_alignment', 'gradient norm, alignment network'),
    ('grad_norm_encoder', 'gradient norm, encoder'),
    ('grad_norm_decoder', 'gradient norm, decoder LSTM'),
    ('grad_norm_output', 'gradient norm, output layer'),
    ('grad_elements_clipped', 'gradient elements beyond ±3'),
    ('grad_total_norm_scaled', 'batches scaled down to norm 3'),
    ('step_alignment', 'alignment weights moved per step'),
    ('step_encoder', 'encoder weights moved per step'),
    ('step_decoder', 'decoder weights moved per step'),
    ('cost', 'training cost'),
)


def _ranks(values):
    import numpy as np

    order = np.argsort(values, kind='mergesort')
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    # ties share their mean rank
    values = np.asarray(values)
    for v in np.unique(values):
        tied = values == v
        ranks[tied] = ranks[tied].mean()
    return ranks


def _spearman(x, y):
    import numpy as np

    if len(x) < 3:
        return None
    a, b = _ranks(x), _ranks(y)
    if a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def plateau_study(path, *points):
    """Diagnostics of the runs that left the plateau by the threshold and
    of those that had not, at the given sample counts."""
    import numpy as np

    study = _load(path)
    after = study['after']
    runs = study['runs']
    points = [int(p) for p in points] or [0]
    late = sorted(
        int(s)
        for s, r in runs.items()
        if r['exit_samples'] is None or r['exit_samples'] > after
    )
    early = sorted(int(s) for s in runs if int(s) not in late)
    horizon = max(r['curve'][-1][0] for r in runs.values())
    header = ['| diagnostic |']
    rule = ['|---|']
    for p in points:
        header.append(' at %d: left by %d / not / ρ |' % (p, after))
        rule.append('---|')
    lines = [''.join(header), ''.join(rule)]
    for key, label in STUDY_ROWS:
        cells = []
        for p in points:
            values, exits, group = [], [], []
            for seed, run in runs.items():
                record = {r['samples']: r for r in run['records']}.get(p)
                if record is None or record.get(key) is None:
                    continue
                values.append(record[key])
                exit_ = run['exit_samples']
                exits.append(horizon + 1 if exit_ is None else exit_)
                group.append(int(seed) in late)
            if not values:
                cells.append('–')
                continue
            values, group = np.array(values), np.array(group)
            a = (
                _fmt(float(np.median(values[~group])))
                if (~group).any()
                else '–'
            )
            b = _fmt(float(np.median(values[group]))) if group.any() else '–'
            rho = _spearman(list(values), exits)
            cells.append(
                '%s / %s / %s' % (a, b, '–' if rho is None else '%+.2f' % rho)
            )
        lines.append('| %s | %s |' % (label, ' | '.join(cells)))
    return (
        '%s\n\nMedians over the runs that left the plateau by %d samples '
        '(seeds %s) and over those that had not (seeds %s); ρ: Spearman '
        'rank correlation with the samples at which a run left the plateau '
        '(never counts as last). From `%s` (%s).\n'
        % (
            '\n'.join(lines),
            after,
            ', '.join(map(str, early)) or 'none',
            ', '.join(map(str, late)) or 'none',
            path,
            _made_by(study.get('_run')),
        )
    )


_SCAN_LOOPS = {
    'python': 'Python (fixed)',
    'cython': 'Cython core',
    'mixed': 'Cython core; Python (fixed) for 3-D states',
}


def python_speed(path):
    """Training speed per Python (``benchmarks/python_matrix_speed.py``):
    samples/s and the median per-round ratio to Python 3.11, against the
    goal of staying within 15% of it."""
    m = _load(path)
    lines = [
        '| model | venv | Python | NumPy | BLAS | scan loop '
        '| samples/s (median) | vs 3.11 (median of rounds) | within 15% |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for model, venvs in m['summary'].items():
        for name, row in venvs.items():
            if name.endswith('+cython'):
                # A peer (--scan-cython-peer), not a combination users get.
                goal = 'peer'
            else:
                goal = 'yes' if row['ratio_to_reference'] >= 0.85 else '**no**'
            lines.append(
                '| %s | %s | %s | %s | %s | %s | %.0f | %.2f | %s |'
                % (
                    model,
                    name,
                    row['python'],
                    row['numpy'],
                    row['blas'],
                    _SCAN_LOOPS.get(row.get('scan_loop'), 'not recorded'),
                    row['samples_per_s'],
                    row['ratio_to_reference'],
                    goal,
                )
            )
    return (
        '%s\n\n%d rounds of %d steps, interleaved. Made by %s; file: `%s`.\n'
        % (
            '\n'.join(lines),
            m['rounds'],
            m['steps'],
            _made_by(m.get('_run')),
            path,
        )
    )


def _rounds_text(values, fmt='%.0f'):
    return ' / '.join(fmt % v for v in values)


def _bench_note(record, path):
    run = record.get('_run') or {}
    return (
        'Made by %s; load average %s at the start, %s at the end; '
        'file: `%s`.'
        % (
            _made_by(run),
            _fmt_load(run.get('load_average_before')),
            _fmt_load(run.get('load_average_after')),
            path,
        )
    )


def _rounds_done(record):
    """'N', or 'N (of M asked: stopped early)'."""
    asked = record['settings'].get('rounds', 1)
    done = record.get('rounds_done', asked)
    if done < asked:
        return '%d (of %d asked: the run was stopped early)' % (done, asked)
    return str(done)


def bench_peers(path):
    """Theano and its peers (``bench_training.py --peers``): steady
    training rate per round, compile time apart, and Theano / peer."""
    record = _load(path)
    summary = record['summary']
    lines = [
        '| model | engine | training samples/s: median (per round) '
        '| compile (s) | validation (s) | Theano / peer: median '
        '(min–max) |',
        '|---|---|---|---:|---:|---|',
    ]
    for model, m in summary['models'].items():
        t = m.get('theano')
        if not t:
            continue
        lines.append(
            '| %s | **Theano** (the package) | **%.0f** (%s) | %s | %.2f | |'
            % (
                model,
                t['samples_per_s'],
                _rounds_text(
                    t.get('samples_per_s_rounds') or [t['samples_per_s']]
                ),
                _fmt(t.get('compile_s'), 1),
                t['val_s'],
            )
        )
        for peer in m.get('peers', {}).values():
            lines.append(
                '| | %s | %.0f (%s) | %s | %.2f | **%.2f** (%.2f–%.2f) |'
                % (
                    peer['name'],
                    peer['samples_per_s'],
                    _rounds_text(
                        peer.get('samples_per_s_rounds')
                        or [peer['samples_per_s']]
                    ),
                    _fmt(peer.get('compile_s'), 1),
                    peer['val_s'],
                    peer['theano_over_peer'],
                    peer['theano_over_peer_min'],
                    peer['theano_over_peer_max'],
                )
            )
    threads = summary.get('threads', 1)
    return '\n'.join(lines) + (
        '\n\n%s interleaved rounds, %d thread%s for every engine; compile: '
        "Theano's `train_fn` + `test_fn` (warm cache), the peers' first "
        'call on every input length and the first validation pass, the '
        'median over the rounds. %s\n'
        % (
            _rounds_done(record),
            threads,
            '' if threads == 1 else 's',
            _bench_note(record, path),
        )
    )


def bench_goals(path):
    """Issue 14's goals for Theano, met or not, from a peers run."""
    record = _load(path)
    lines = [
        '| model | Theano / eager PyTorch (goal ≥ 1.5) | Theano / the '
        'fastest compiled peer (goal ≥ 1.0) |',
        '|---|---|---|',
    ]
    rows = []
    for model, m in record['summary']['models'].items():
        rows.append((model, m.get('goals')))
        for name, lever in sorted(m.get('levers', {}).items()):
            if lever.get('goals'):
                rows.append(
                    (
                        '%s, with `%s` (%.2f× the default)'
                        % (model, name, lever['over_default']),
                        lever['goals'],
                    )
                )
    for model, g in rows:
        if not g:
            continue
        eager = (
            '%.2f: %s'
            % (
                g['theano_over_eager'],
                'met' if g['at_least_1.5x_eager'] else '**not met**',
            )
            if 'theano_over_eager' in g
            else '–'
        )
        compiled = (
            '%.2f (%s): %s'
            % (
                g['theano_over_fastest_compiled'],
                g['fastest_compiled_peer'],
                'met' if g['at_least_fastest_compiled'] else '**not met**',
            )
            if 'theano_over_fastest_compiled' in g
            else '–'
        )
        lines.append('| %s | %s | %s |' % (model, eager, compiled))
    return '\n'.join(lines) + (
        '\n\nMedians of the per-round ratios; from `%s`.\n' % path
    )


def bench_equivalence(path):
    """The check that each peer computes what Theano computes, before it
    is timed."""
    record = _load(path)
    eq = record['summary'].get('equivalence') or {}
    if 'results' not in eq:
        raise RenderError('%s: no equivalence check' % path)
    lines = [
        '| model | peer | outputs | alpha | cost | clipped gradients '
        '| step costs | weights | |',
        '|---|---|---:|---:|---:|---:|---:|---:|---|',
    ]
    for r in eq['results']:
        lines.append(
            '| %s | %s | %.1e | %s | %.1e | %.1e | %.1e | %.1e | %s |'
            % (
                r['model'],
                r['peer'],
                r['output'],
                '–' if r['alpha'] is None else '%.1e' % r['alpha'],
                r['cost'],
                r['grads'],
                r['step_costs'],
                r['weights'],
                'pass' if r['ok'] else '**FAIL**',
            )
        )
    versions = ', '.join(
        '%s %s' % kv for kv in sorted((eq.get('versions') or {}).items())
    )
    return '\n'.join(lines) + (
        '\n\nLargest absolute differences from Theano from the same weights '
        '(seed %d), float32, after %d training steps; tolerance %g; %s. '
        'From `%s`.\n'
        % (
            eq['seed'],
            eq['results'][0]['steps'],
            eq['tol'],
            versions,
            path,
        )
    )


#: The peers' short names (by the benchmark worker's engine).
SHORT_PEER = {
    'torch': 'eager PyTorch',
    'torch-compile': 'torch.compile',
    'jax': 'JAX',
}


def speed_brief(path):
    """The README's speed table: Theano's rate and its ratio to each
    peer."""
    record = _load(path)
    models = record['summary']['models']
    names = []
    for m in models.values():
        for peer in m.get('peers', {}).values():
            name = SHORT_PEER.get(peer['engine'], peer['name'])
            if name not in names:
                names.append(name)
    lines = [
        '| model | Theano, samples/s | %s |'
        % ' | '.join('Theano / %s' % n for n in names),
        '|---|---:|%s' % ('---:|' * len(names)),
    ]
    rows = []
    for model, m in models.items():
        if m.get('theano'):
            rows.append((model, m['theano'], m.get('peers', {})))
        for name, lever in sorted(m.get('levers', {}).items()):
            if lever.get('peers'):
                rows.append(
                    ('%s, `%s`' % (model, name), lever, lever['peers'])
                )
    for label, rate, peers in rows:
        by_name = {
            SHORT_PEER.get(p['engine'], p['name']): p for p in peers.values()
        }
        lines.append(
            '| %s | %.0f | %s |'
            % (
                label,
                rate['samples_per_s'],
                ' | '.join(
                    '%.2f' % by_name[n]['theano_over_peer']
                    if n in by_name
                    else '–'
                    for n in names
                ),
            )
        )
    run = record.get('_run') or {}
    return '\n'.join(lines) + (
        '\n\nMedian of %d rounds; above 1: Theano is faster. %s, %s; '
        '`%s`.\n'
        % (
            record.get('rounds_done') or record['settings'].get('rounds', 1),
            run.get('date', '?'),
            run.get('machine', '?'),
            path,
        )
    )


def compare_trees(path):
    """Two trees' training speed (``benchmarks/compare_trees.py``)."""
    record = _load(path)
    trees = record['trees']
    lines = [
        '| model | measure | this tree, per round | `%s`, per round '
        '| this / before: median (per round) | spread | within noise |'
        % (trees['before']['commit'] or '?')[:7],
        '|---|---|---|---|---|---:|---|',
    ]
    for model, m in record['models'].items():
        for key, ratio, label, fmt in (
            (
                'samples_per_s',
                'samples_per_s_ratio',
                'training samples/s',
                '%.0f',
            ),
            ('val_s', 'val_s_ratio', 'validation pass (s)', '%.2f'),
        ):
            r = m[ratio]
            lines.append(
                '| %s | %s | %s | %s | %.3f (%s) | %.3f | %s |'
                % (
                    model,
                    label,
                    _rounds_text(m['current'][key + '_rounds'], fmt),
                    _rounds_text(m['before'][key + '_rounds'], fmt),
                    r['median'],
                    _rounds_text(r['rounds'], '%.3f'),
                    r['spread'],
                    'yes' if r['within_noise'] else '**no**',
                )
            )
    return '\n'.join(lines) + (
        '\n\nThis tree: `%s`; before: `%s` (%s). %d interleaved rounds; '
        "spread: the largest distance of a round's ratio from the median; "
        "within noise: the median's distance from 1 is at most the "
        'spread. Made by %s; load average %s at the start, %s at the end; '
        'file: `%s`.\n'
        % (
            (trees['current']['commit'] or '?')[:7]
            + (' with changes' if trees['current'].get('modified') else ''),
            (trees['before']['commit'] or '?')[:7],
            trees['before'].get('subject', ''),
            record['settings']['rounds'],
            _made_by(record.get('_run')),
            _fmt_load(record['_run'].get('load_average_before')),
            _fmt_load(record['_run'].get('load_average_after')),
            path,
        )
    )


#: What each target of benchmarks/cold_start.py is, for the docs.
COLD_TARGETS = {
    'attention': '`seq2seq-lasagne train --model attention`',
    'attention-fused': (
        '`seq2seq-lasagne train --model attention --fused-attention`'
    ),
    'attention-fused-both': (
        '`seq2seq-lasagne train --model attention --fused-gru '
        '--fused-attention`'
    ),
    'baseline-fused': '`seq2seq-lasagne train --model baseline --fused-gru`',
    'baseline': '`seq2seq-lasagne train --model baseline`',
    'notebook-baseline': "the lab's first notebook "
    '(`01_encoder_decoder.ipynb`) up to its training cell',
    'notebook-attention': 'the attention notebook '
    '(`02_attention_decoder.ipynb`) up to its training cell',
}


def _cold_target(name):
    """A summary entry's name for the docs: ``attention (warm, graph cache
    on)`` keeps its parenthesis."""
    target, _, rest = name.partition(' (')
    label = COLD_TARGETS.get(target, target)
    return label + (' (' + rest if rest else '')


def cold_start(path):
    """Seconds to the first training step with an empty compile cache, or
    with a warm one and the graph cache on and off
    (``benchmarks/cold_start.py``)."""
    record = _load(path)
    cache = record.get('cache', 'empty')
    lines = [
        '| from %s compile cache | first training step (s), per '
        'round | of it, compiling (s) | of it, no g++ running (s) '
        '| CPU (s) | C modules compiled | load average before → after |'
        % ('an empty' if cache == 'empty' else 'a warm'),
        '|---|---|---:|---:|---:|---:|---|',
    ]
    ratios = []
    for target, s in record['summary'].items():
        if 'ratio' in s:
            # 'attention (warm: without / with the graph cache)'
            name, _, peer = target.partition(' (')
            ratios.append(
                '%s, %s: %.2f (rounds: %s)'
                % (
                    _cold_target(name),
                    peer.rstrip(')'),
                    s['ratio'],
                    ', '.join('%.2f' % r for r in s['ratio_rounds']),
                )
            )
            continue
        lines.append(
            '| %s | %s | %s | %s | %.0f | %d | %s |'
            % (
                _cold_target(target),
                _rounds_text(s['first_step_s_rounds']),
                _fmt(s.get('compile_s'), 0),
                _fmt(s.get('no_gxx_s'), 0),
                s['cpu_s'],
                s['modules_compiled'],
                '; '.join('%.1f → %.1f' % tuple(x) for x in s['load']),
            )
        )
    if ratios:
        lines.append('')
        lines.append(
            'Median of the per-round ratios of the times to the first '
            'step: ' + '; '.join(ratios) + '.'
        )
    flags = record.get('theano_flags')
    return '\n'.join(lines) + (
        '\n\n%sMade by %s; file: `%s`.\n'
        % (
            'Extra Theano flags: `%s`. ' % flags if flags else '',
            _made_by(record.get('_run')),
            path,
        )
    )


#: Issue 14's goal: the attention model's first training step from an
#: empty compile cache within this many seconds on a 2-core machine.
COLD_GOAL_S = 60
#: The summary entry of that measurement: every lever of compat on.
COLD_GOAL_ENTRY = 'attention (cold, parallel compile on)'


def cold_start_goal(*paths):
    """Issue 14's cold-start goal, met or not, per machine measured
    (``cold_start.py --parallel-peer`` files)."""
    lines = [
        '| machine | %s, cold: first training step (s), median (rounds) '
        '| goal: at most %d s |' % (COLD_TARGETS['attention'], COLD_GOAL_S),
        '|---|---|---|',
    ]
    for path in paths:
        record = _load(path)
        s = record['summary'][COLD_GOAL_ENTRY]
        run = record.get('_run') or {}
        lines.append(
            '| %s (%s) | %.0f (%s) | %s |'
            % (
                run.get('machine', '?'),
                run.get('date', '?')[:10],
                s['first_step_s'],
                _rounds_text(s['first_step_s_rounds']),
                'met' if s['first_step_s'] <= COLD_GOAL_S else '**not met**',
            )
        )
    return '\n'.join(lines) + (
        '\n\nFrom %s.\n' % ', '.join('`%s`' % p for p in paths)
    )


def compile_flags(path):
    """g++'s seconds per C module of the lab, Theano's command beside its
    variants (``benchmarks/compile_flags.py``)."""
    record = _load(path)
    lines = [
        "| g++ command | seconds per module (mean) | / Theano's "
        '(median of the modules) | header built once (s) |',
        '|---|---:|---:|---:|',
    ]
    for name, v in record['variants'].items():
        lines.append(
            '| %s | %.2f | %.2f | %s |'
            % (
                "Theano's own" if name == 'theano' else name,
                v['seconds_mean'],
                v['ratio_to_theano_median'],
                _fmt(v.get('pch_build_seconds'), 1),
            )
        )
    return '\n'.join(lines) + (
        '\n\n%d modules, each compiled once per command, interleaved. '
        'Made by %s; file: `%s`.\n'
        % (record['modules'], _made_by(record.get('_run')), path)
    )


def python_matrix(path):
    """What ``scripts/ci_python_matrix.sh`` said, one line per step."""
    record = _load(path)
    lines = ['- %s' % line for line in record['lines']]
    verdict = (
        'all passed'
        if not record['failed']
        else '%d failed' % record['failed']
    )
    return '\n'.join(lines) + (
        '\n\n%s. Made by `%s`; %s; %s; file: `%s`.\n'
        % (
            verdict.capitalize(),
            record['_run']['command'],
            record['_run']['date'],
            record['_run']['machine'],
            path,
        )
    )


def step_profile(*paths):
    """Where a training step's time goes (``benchmarks/profile_step.py``),
    one column per result file."""
    results = [_load(p) for p in paths]
    heads = []
    for r in results:
        run = r.get('_run') or {}
        extra = (
            [run['extra_theano_flags']]
            if run.get('extra_theano_flags')
            else []
        )
        for option in ('fused_gru', 'fused_attention'):
            if run.get(option):
                extra.append('--' + option.replace('_', '-'))
        heads.append(''.join([r['model']] + [', `%s`' % e for e in extra]))
    lines = [
        '| ms per training step | %s |' % ' | '.join(heads),
        '|---|%s' % ('---:|' * len(results)),
        '| **all** | %s |'
        % ' | '.join('**%.1f**' % r['step_ms'] for r in results),
        "| scans' inner functions | %s |"
        % ' | '.join('%.1f' % r['scans_inner_fn_ms'] for r in results),
        "| scans' Python loop | %s |"
        % ' | '.join('%.1f' % r['scans_python_loop_ms'] for r in results),
        '| outside the scans (outer graph, call) | %s |'
        % ' | '.join('%.1f' % r['outside_scans_ms'] for r in results),
        '| samples/s while profiled | %s |'
        % ' | '.join('%.0f' % r['samples_per_s'] for r in results),
    ]
    names = []
    for r in results:
        for name in r['scans']:
            if name not in names:
                names.append(name)
    for name in names:
        cells = []
        for r in results:
            s = r['scans'].get(name)
            cells.append(
                '%.0f steps: inner %.0f µs, loop %.0f µs'
                % (
                    s['scan_steps_per_step'],
                    s['inner_fn_us_per_scan_step'],
                    s['python_loop_us_per_scan_step'],
                )
                if s
                else '–'
            )
        lines.append(
            '| `%s`, per scan step | %s |' % (name, ' | '.join(cells))
        )
    made = '; '.join(
        '`%s`: %s, load average %s → %s'
        % (
            p,
            _made_by(r.get('_run')),
            _fmt_load((r.get('_run') or {}).get('load_average_before')),
            _fmt_load((r.get('_run') or {}).get('load_average_after')),
        )
        for p, r in zip(paths, results)
    )
    return '\n'.join(lines) + '\n\nMade by %s.\n' % made


RENDERERS = {
    'reproduction-table': reproduction_table,
    'reproduction-brief': reproduction_brief,
    'attention-seeds': attention_seeds,
    'baseline-seeds': baseline_seeds,
    'ci-time': ci_time,
    'container-facts': container_facts,
    'probe-table': probe_table,
    'nbgrader-steps': nbgrader_steps,
    'reference-weights': reference_weights,
    'hub-measure': hub_measure,
    'python-speed': python_speed,
    'plateau-table': plateau_table,
    'plateau-runs': plateau_runs,
    'plateau-restarted': plateau_restarted,
    'plateau-study': plateau_study,
    'bench-peers': bench_peers,
    'bench-goals': bench_goals,
    'bench-equivalence': bench_equivalence,
    'speed-brief': speed_brief,
    'compare-trees': compare_trees,
    'cold-start': cold_start,
    'cold-start-goal': cold_start_goal,
    'python-matrix': python_matrix,
    'compile-flags': compile_flags,
    'step-profile': step_profile,
}


def render_text(text, origin='<text>'):
    """``text`` with every block regenerated."""

    def replace(match):
        words = match.group('spec').split()
        if not words or words[0] not in RENDERERS:
            raise RenderError(
                '%s: unknown renderer in "%s"' % (origin, match.group('spec'))
            )
        if len(words) > 1 and not (ROOT / words[1]).exists():
            # Said in the document, not rendered from nothing: the block
            # fills in once the command that measures it has written it.
            body = (
                '*Not measured yet: `%s` has not been written.*\n' % (words[1])
            )
        else:
            body = RENDERERS[words[0]](*words[1:])
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(replace, text)


def files(patterns):
    out = []
    for pattern in patterns:
        out += sorted(ROOT.glob(pattern))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--check',
        action='store_true',
        help='only report stale blocks (exit 1)',
    )
    parser.add_argument(
        'files',
        nargs='*',
        help='Markdown files (default: %s)' % ' '.join(DEFAULT_FILES),
    )
    args = parser.parse_args(argv)
    paths = [Path(f) for f in args.files] or files(DEFAULT_FILES)
    stale = []
    for path in paths:
        text = path.read_text()
        try:
            new = render_text(text, str(path))
        except RenderError as exc:
            print('render_docs: error: %s' % exc, file=sys.stderr)
            return 2
        if new != text:
            stale.append(str(path))
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print(
            'render_docs: out of date: %s (run python scripts/'
            'render_docs.py)' % ', '.join(stale),
            file=sys.stderr,
        )
        return 1
    for path in stale:
        print('rendered %s' % path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
