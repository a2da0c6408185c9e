"""The shared version gate of the aiortc/aioice seams."""

from __future__ import annotations

import pytest

from actr_py.errors import ConfigError
from actr_py.wire.webrtc.versions import major_minor, require_tested


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.16.0", (1, 16)), ("0.13", (0, 13)), ("2.0.0rc1", (2, 0)),
        ("?", (-1, -1)), ("1", (-1, -1)),
    ],
)
def test_major_minor(text: str, expected: tuple[int, int]) -> None:
    assert major_minor(text) == expected


def test_tested_version_passes_and_others_name_what_to_review() -> None:
    require_tested("media", "aiortc", "1.16.3", frozenset({(1, 16)}), "media_seam.py")
    with pytest.raises(ConfigError, match=r"media: aiortc 1\.17\.0 is untested \(tested: 1\.16\)"
                       r"; check media_seam\.py against it and extend TESTED_AIORTC"):
        require_tested("media", "aiortc", "1.17.0", frozenset({(1, 16)}), "media_seam.py")
