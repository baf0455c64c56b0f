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
    for key in ('date', 'machine', 'python'):
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


def ci_time(path):
    """How long ``.ci/run`` took, per part, from its timings file."""
    timings = _load(path)
    lines = ['| part of `.ci/run` | minutes |', '|---|---|']
    for part in timings['parts']:
        lines.append('| %s | %.1f |' % (part['name'], part['seconds'] / 60))
    lines.append('| **all** | **%.1f** |' % (timings['total_seconds'] / 60))
    return '\n'.join(lines) + '\n\n%s; file: `%s`.\n' % (
        _made_by(timings.get('_run')),
        path,
    )


RENDERERS = {
    'reproduction-table': reproduction_table,
    'reproduction-brief': reproduction_brief,
    'ci-time': ci_time,
}


def render_text(text, origin='<text>'):
    """``text`` with every block regenerated."""

    def replace(match):
        words = match.group('spec').split()
        if not words or words[0] not in RENDERERS:
            raise RenderError(
                '%s: unknown renderer in "%s"' % (origin, match.group('spec'))
            )
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
