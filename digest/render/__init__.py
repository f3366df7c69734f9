"""Rendering: an edition's HTML and text from Jinja2 templates (`edition`), the fixed
strings and dates in the list's language (`catalogue`). The templates installed with the
package are found here; an admin's folder overrides them file by file."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def default_templates_dir() -> Path:
    """The templates installed with the package (a wheel ships them as digest/templates),
    else the top-level templates/ folder of a source checkout or an editable install."""
    installed = _HERE.parent / "templates"
    return installed if installed.is_dir() else _HERE.parents[1] / "templates"
