"""Print the pip requirements of the GPU image, read from pyproject.toml.

pyproject.toml is the single source of truth for the pins; the image (and
tests/test_image_scripts.py) install exactly what this prints::

    python3 docker/requirements.py pyproject.toml --exclude numpy lab hub cuda

prints ``[project] dependencies`` plus the named extras, one requirement a
line (environment markers kept: pip takes the image's Python's pins), with
extras that name the project itself (``seq2seq-lasagne[lab]``) expanded,
duplicates dropped, and the ``--exclude``d names left out.  The image
leaves out numpy on purpose: it uses Debian's numpy, which Debian's
pygpu is built against (see docs/CONTAINER.md).
"""

import argparse
import re
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10 (tests/test_pins.py runs this)
    import tomli as tomllib

_NAME = re.compile(r'^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[([^\]]*)\])?')


def canonical(name):
    """PEP 503 normalised project name."""
    return re.sub(r'[-_.]+', '-', name).lower()


def split(requirement):
    """``(canonical name, extras, requirement)`` of one requirement string."""
    match = _NAME.match(requirement)
    if not match:
        raise ValueError('cannot parse requirement %r' % requirement)
    extras = [
        e.strip() for e in (match.group(3) or '').split(',') if e.strip()
    ]
    return canonical(match.group(1)), extras, requirement.strip()


def requirements(pyproject, extras=(), exclude=()):
    """The requirement strings, in order, for the dependencies + extras."""
    project = pyproject['project']
    own = canonical(project['name'])
    optional = project.get('optional-dependencies', {})
    excluded = {canonical(n) for n in exclude}
    out, seen_reqs, seen_extras = [], set(), set()

    def add(reqs):
        for req in reqs:
            name, req_extras, text = split(req)
            if name == own:
                walk(req_extras)
            elif name not in excluded and text not in seen_reqs:
                seen_reqs.add(text)
                out.append(text)

    def walk(names):
        for extra in names:
            if extra in seen_extras:
                continue
            if extra not in optional:
                raise KeyError('pyproject.toml has no extra %r' % extra)
            seen_extras.add(extra)
            add(optional[extra])

    add(project.get('dependencies', []))
    walk(extras)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('pyproject')
    parser.add_argument('extras', nargs='*')
    parser.add_argument(
        '--exclude',
        action='append',
        default=[],
        help='leave this project name out (repeatable)',
    )
    args = parser.parse_intermixed_args(argv)
    with open(args.pyproject, 'rb') as f:
        data = tomllib.load(f)
    for req in requirements(data, args.extras, args.exclude):
        print(req)
    return 0


if __name__ == '__main__':
    sys.exit(main())
