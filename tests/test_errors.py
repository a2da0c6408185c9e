from __future__ import annotations

import pytest

from actr_py import errors


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (400, errors.BadRequest),
        (401, errors.Unauthorized),
        (403, errors.Forbidden),
        (404, errors.NotFound),
        (409, errors.Conflict),
        (413, errors.PayloadTooLarge),
        (429, errors.RateLimited),
        (500, errors.InternalError),
        (503, errors.Unavailable),
        (504, errors.DeadlineExceeded),
    ],
)
def test_error_for_code_picks_the_class(code: int, cls: type) -> None:
    err = errors.error_for_code(code, "why")
    assert type(err) is cls and err.code == code and err.message == "why"
    assert isinstance(err, errors.RemoteError)


def test_unknown_code_keeps_the_code() -> None:
    err = errors.error_for_code(418, "teapot")
    assert type(err) is errors.RemoteError and err.code == 418


def test_retryable_codes() -> None:
    assert errors.Unavailable("x").retryable
    assert errors.DeadlineExceeded("x").retryable
    assert errors.RateLimited("x").retryable
    assert not errors.NotFound("x").retryable


def test_local_and_remote_branches_are_disjoint() -> None:
    assert issubclass(errors.ConfigError, errors.LocalError)
    assert not issubclass(errors.ConfigError, errors.RemoteError)
    assert issubclass(errors.ProtocolError, errors.RemoteError)
