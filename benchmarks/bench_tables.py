"""Console tables of a benchmark run, from the driver's summary.

Used after a run and by ``bench_training.py --report FILE``, which prints
the tables of a saved result without running anything.
"""

from bench_config import BATCH, DIGITS, TORCH_VARIANTS


def _num(value, fmt):
    return '–' if value is None else fmt % value


def print_equivalence(driver, summary):
    """The check that each peer computes what Theano computes."""
    eq = summary.get('equivalence')
    if not eq:
        return
    p = driver.log
    if 'error' in eq:
        p('\nEquivalence check failed to run: %s' % eq['error'])
        return
    p(
        '\nEquivalence with Theano from the same weights (max abs diff; '
        'tolerance %g):' % eq['tol']
    )
    p(
        '%-10s %-8s %8s %8s %8s %8s %12s %8s  %s'
        % (
            'model',
            'peer',
            'output',
            'alpha',
            'cost',
            'grads',
            'step costs',
            'weights',
            'result',
        )
    )
    for r in eq['results']:
        p(
            '%-10s %-8s %8.1e %8s %8.1e %8.1e %12.1e %8.1e  %s'
            % (
                r['model'],
                r['peer'],
                r['output'],
                _num(r['alpha'], '%8.1e'),
                r['cost'],
                r['grads'],
                r['step_costs'],
                r['weights'],
                'pass' if r['ok'] else 'FAIL',
            )
        )
    p('(after %d Adam steps)' % eq['results'][0]['steps'])


def print_peers(driver, summary):
    """Theano and the peers: rates, compile times, per-round ratios."""
    rows = [m for m in summary['models'].values() if m.get('peers')]
    if not rows:
        return
    p = driver.log
    rounds = driver.args.rounds
    p(
        '\nTheano and the peers, %d thread%s each (median of %d round%s; '
        "samples/s of training; per CPU-s: per second of the process's CPU "
        'time)'
        % (
            summary.get('threads', 1),
            '' if summary.get('threads', 1) == 1 else 's',
            rounds,
            '' if rounds == 1 else 's',
        )
    )
    p(
        '%-10s %-22s %9s %9s %8s %9s %8s  %s'
        % (
            'model',
            'engine',
            'samples/s',
            'per CPU-s',
            'CPU/wall',
            'compile',
            'val (s)',
            'Theano / peer, per round: median (min-max); per CPU-s',
        )
    )
    for model, m in summary['models'].items():
        t = m.get('theano')
        if not t:
            continue
        p(
            '%-10s %-22s %9.0f %9s %8s %9s %8.2f'
            % (
                model,
                'Theano (package)',
                t['samples_per_s'],
                _num(t.get('samples_per_cpu_s'), '%.0f'),
                _num(t.get('cpu_per_wall'), '%.2f'),
                _num(t.get('compile_s'), '%.1f'),
                t['val_s'],
            )
        )
        for peer in m['peers'].values():
            p(
                '%-10s %-22s %9.0f %9s %8s %9s %8.2f  %s'
                % (
                    '',
                    peer['name'],
                    peer['samples_per_s'],
                    _num(peer.get('samples_per_cpu_s'), '%.0f'),
                    _num(peer.get('cpu_per_wall'), '%.2f'),
                    _num(peer.get('compile_s'), '%.1f'),
                    peer['val_s'],
                    '%s (%s-%s); %s  [%s]'
                    % (
                        _num(peer.get('theano_over_peer'), '%.2f'),
                        _num(peer.get('theano_over_peer_min'), '%.2f'),
                        _num(peer.get('theano_over_peer_max'), '%.2f'),
                        _num(peer.get('theano_over_peer_cpu'), '%.2f'),
                        ' '.join(
                            '%.2f' % r for r in peer['theano_over_peer_rounds']
                        ),
                    ),
                )
            )
        goals = m.get('goals') or {}
        if goals:
            parts = []
            if 'theano_over_eager' in goals:
                parts.append(
                    'vs eager %.2f (goal 1.5: %s)'
                    % (
                        goals['theano_over_eager'],
                        'met' if goals['at_least_1.5x_eager'] else 'NOT met',
                    )
                )
            if 'theano_over_fastest_compiled' in goals:
                parts.append(
                    'vs the fastest compiled peer (%s) %.2f (goal 1.0: %s)'
                    % (
                        goals['fastest_compiled_peer'],
                        goals['theano_over_fastest_compiled'],
                        'met'
                        if goals['at_least_fastest_compiled']
                        else 'NOT met',
                    )
                )
            p('%-10s goals: %s' % ('', '; '.join(parts)))
    p(
        '(compile: Theano compiles train_fn + test_fn once; a jit peer '
        'compiles on the first call of each input length: the steps on every '
        'length of the timed batches and the first validation pass)'
    )


def print_tables(driver, summary):
    """Print the summary of a run (or of a saved result) as tables."""
    print_equivalence(driver, summary)
    print_peers(driver, summary)
    p = driver.log
    p('\n' + '=' * 78)
    p(
        'Training speed, batch %d, %d digits (median of %d x %d steps%s)'
        % (
            BATCH,
            DIGITS,
            driver.args.repeats,
            driver.args.steps,
            ', median over %d rounds' % driver.args.rounds
            if driver.args.rounds > 1
            else '',
        )
    )
    p(
        '%-30s %9s %7s %8s %7s %9s %6s'
        % (
            'configuration',
            'samples/s',
            'ratio',
            'val (s)',
            'ratio',
            'full (min)',
            'val %',
        )
    )
    for model, m in summary['models'].items():
        base = m['default']
        if not base:
            p('%-30s (failed)' % ('theano ' + model))
            continue
        p(
            '%-30s %9.0f %7s %8.2f %7s %9.1f %5.0f%%'
            % (
                'theano %s default' % model,
                base['samples_per_s'],
                '1.00',
                base['val_s'],
                '1.00',
                base['projected_total_s'] / 60,
                100 * base['validation_share'],
            )
        )
        for name, lv in m['levers'].items():
            r = driver.find('theano %s %s' % (model, name))
            p(
                '%-30s %9.0f %7.2f %8.2f %7.2f %9.1f %5.0f%%'
                % (
                    '  ' + name,
                    lv['samples_per_s'],
                    lv['speed_ratio_vs_default'],
                    lv['val_s'],
                    lv['val_ratio_vs_default'],
                    lv['projected_total_s'] / 60,
                    100 * r['validation_share'],
                )
            )
        t = driver.find('torch %s' % model)
        if t:
            p(
                '%-30s %9.0f %7.2f %8.2f %7.2f %9.1f %5.0f%%'
                % (
                    'torch %s (%d thr)' % (model, t['torch']['num_threads']),
                    t['samples_per_s'],
                    t['samples_per_s'] / base['samples_per_s'],
                    t['val_s'],
                    t['val_s'] / base['val_s'],
                    t['projected_total_s'] / 60,
                    100 * t['validation_share'],
                )
            )
        for name in TORCH_VARIANTS:
            tv = driver.find('torch %s %s' % (model, name))
            if tv:
                p(
                    '%-30s %9.0f %7.2f %8.2f %7.2f %9.1f %5.0f%%'
                    % (
                        '  ' + name,
                        tv['samples_per_s'],
                        tv['samples_per_s'] / base['samples_per_s'],
                        tv['val_s'],
                        tv['val_s'] / base['val_s'],
                        tv['projected_total_s'] / 60,
                        100 * tv['validation_share'],
                    )
                )
    p(
        '(ratio: samples/s, or validation time, relative to the Theano '
        'default of the model)'
    )
    if any(m['torch'] for m in summary['models'].values()):
        p('\nTheano / PyTorch samples/s (Theano default flags):')
        for model, m in summary['models'].items():
            if not m['torch']:
                continue
            parts = [
                '%d threads %.2f'
                % (
                    m['torch']['num_threads'],
                    m['torch']['theano_over_torch_samples_per_s'],
                )
            ]
            parts += [
                '%s %.2f' % (name, v['theano_over_torch_samples_per_s'])
                for name, v in m['torch']['variants'].items()
            ]
            p('  %-10s %s' % (model, ', '.join(parts)))
            faster = [
                (lv['samples_per_s'], name)
                for name, lv in m['levers'].items()
                if lv['speed_ratio_vs_default'] > 1.05
            ]
            if faster:
                rate, name = max(faster)
                p(
                    '  %-10s with lever %s: %d threads %.2f'
                    % (
                        '',
                        name,
                        m['torch']['num_threads'],
                        rate / m['torch']['samples_per_s'],
                    )
                )
        p(
            'PyTorch sanity (cost over the measured steps): '
            + ', '.join(
                '%s %.3f -> %.3f %s'
                % (
                    model,
                    m['torch']['cost_first'],
                    m['torch']['cost_last'],
                    'learns' if m['torch']['learns'] else 'DOES NOT LEARN',
                )
                for model, m in summary['models'].items()
                if m['torch']
            )
        )
    elif driver.torch_status:
        p('\n' + driver.torch_status)
    if any(m['compile']['cold_s'] for m in summary['models'].values()):
        p('\nCompile time of train_fn + test_fn (s): cold / warm')
        for model, m in summary['models'].items():
            c = m['compile']
            if c['cold_s'] is not None:
                p(
                    '  %-10s %7.1f / %6.1f   (whole worker process: '
                    '%.1f / %.1f)'
                    % (
                        model,
                        c['cold_s'],
                        c['warm_s'] or 0,
                        c['cold_worker_s'],
                        c['warm_worker_s'] or 0,
                    )
                )
    full = summary.get('full_run')
    if full:
        p(
            '\nFull attention run: %.0f s wall (%.0f s training, %.0f s '
            'validation, %.0f s compile), projected %.0f s; final '
            'validation accuracy %.3f'
            % (
                full['measured_wall_s'],
                full['train_seconds'],
                full['validation_seconds'],
                full['compile_seconds'],
                full.get('projected_total_s', float('nan')),
                full['val_accuracy'],
            )
        )
    errors = [r for r in driver.results if 'error' in r]
    for r in errors:
        p('\nERROR in %s:\n%s' % (r['label'], r['error']))
