"""Shared pytest fixtures. Reusable launchers for real servers live in tests/support/."""

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from actr_py import ActrConfig, ActrRef, ActrSystem, Workload
from actr_py.wire.inproc import InprocHub

StartFn = Callable[..., Awaitable[ActrRef]]


@pytest.fixture
def hub() -> InprocHub:
    """A private hub per test, so nodes of different tests never meet."""
    return InprocHub()


@pytest.fixture
async def start(hub: InprocHub) -> AsyncIterator[StartFn]:
    """start(workload, actr_type="acme+x", **config) -> a running ActrRef, stopped after."""
    refs: list[ActrRef] = []

    async def _start(workload: Workload, actr_type: str = "acme+test", **cfg: object) -> ActrRef:
        config = ActrConfig(actr_type=actr_type, **cfg)  # type: ignore[arg-type]
        ref = await ActrSystem(config, hub=hub).attach(workload).start()
        refs.append(ref)
        return ref

    yield _start
    for ref in reversed(refs):
        if ref.node.state.value == "running":
            await ref.shutdown(grace=1.0)
