"""The exit status of a command stopped by an error of digest.errors follows its type."""

from __future__ import annotations

import pytest

from digest import errors
from digest.cli.app import exit_status


def _error_types() -> list[type[errors.DigestError]]:
    found = [errors.DigestError]
    for kind in found:
        found.extend(kind.__subclasses__())
    return found


@pytest.mark.parametrize("kind", _error_types(), ids=lambda k: k.__name__)
def test_every_error_of_the_tree_ends_a_command_with_status_1(
    kind: type[errors.DigestError],
) -> None:
    exc = kind.__new__(kind)  # the status depends on the type alone, never on the message
    assert exit_status(exc) == 1
