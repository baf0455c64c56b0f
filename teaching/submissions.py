"""Student submissions made from a release, for testing and timing the
course: what a student hands in, without a student.

``answered(release, source)`` fills every answer and solution cell of the
released notebook with the source's (a student who gets everything
right); ``replace`` puts other text into chosen cells (a wrong answer).
The cells keep the release's metadata and checksums, as a student's
notebook does.
"""

import nbformat

__all__ = ['answered', 'answer_cells']


def _without_delimiters(text):
    """A solution as a student writes it: without nbgrader's markers."""
    return '\n'.join(
        line
        for line in text.split('\n')
        if 'BEGIN SOLUTION' not in line and 'END SOLUTION' not in line
    )


def answer_cells(nb):
    """The cells a student writes in, by nbgrader grade id."""
    return {
        cell.metadata['nbgrader']['grade_id']: cell
        for cell in nb.cells
        if cell.metadata.get('nbgrader', {}).get('solution')
    }


def answered(release_path, source_path, replace=None, keep=()):
    """A released notebook with its answers written in.

    Parameters
    ----------
    release_path, source_path : str or Path
        The released notebook and its source (with the solutions).
    replace : dict, optional
        Grade id -> the text to put into that cell instead.
    keep : sequence of str
        Grade ids whose cells stay as released (unanswered).

    Returns
    -------
    nbformat.NotebookNode
    """
    release = nbformat.read(str(release_path), as_version=4)
    source = answer_cells(nbformat.read(str(source_path), as_version=4))
    replace = dict(replace or {})
    for grade_id, cell in answer_cells(release).items():
        if grade_id in keep:
            continue
        if grade_id in replace:
            cell.source = replace.pop(grade_id)
        else:
            cell.source = _without_delimiters(source[grade_id].source)
    if replace:
        raise KeyError('no answer cells %s' % ', '.join(sorted(replace)))
    return release
