"""Actor lifecycle on a real node and a real SQLite file: hooks, sleep, wake, get/create,
destroy, isolation, errors, saving."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actr_py import ActrConfig, ActrSystem
from actr_py.actors import (
    ActionNotFound,
    Actor,
    ActorClient,
    ActorExists,
    ActorInternalError,
    ActorNotFound,
    ActorOptions,
    ActorTimeout,
    BadArguments,
    UserError,
    action,
)
from tests.actors._actors import Counter
from tests.actors.conftest import stored_state


class Traced(Actor):
    """Records every hook, in order, in a class-level log."""

    options = ActorOptions(idle_timeout=10.0)
    log: list[str] = []

    def create_state(self, input: Any) -> dict[str, Any]:
        type(self).log.append(f"create_state:{input}")
        return {"wakes": 0, "input": input}

    def create_vars(self) -> dict[str, Any]:
        type(self).log.append("create_vars")
        return {"cache": []}

    async def on_create(self, input: Any) -> None:
        type(self).log.append("on_create")

    async def on_wake(self) -> None:
        self.state["wakes"] += 1
        type(self).log.append("on_wake")

    async def run(self) -> None:
        type(self).log.append("run")
        await asyncio.Event().wait()  # busy forever... until sleep cancels it

    async def on_sleep(self) -> None:
        type(self).log.append("on_sleep")

    async def on_destroy(self) -> None:
        type(self).log.append("on_destroy")

    @action(readonly=True)
    def peek(self) -> list[Any]:
        self.vars["cache"].append(1)
        return [self.state["wakes"], self.state["input"], len(self.vars["cache"])]


@pytest.fixture(autouse=True)
def _reset_trace() -> None:
    Traced.log = []


async def test_hooks_run_in_order_on_create_wake_sleep_and_destroy(make_host) -> None:
    host = await make_host([Traced])
    h = host.client().get_or_create(Traced, "t", input="hi")
    assert await h.peek() == [1, "hi", 1]
    await asyncio.sleep(0)  # let run() start (it runs beside actions, in its own task)
    hooks = [e for e in Traced.log if e != "create_vars"]
    assert hooks == ["create_state:hi", "on_create", "on_wake", "run"]
    assert Traced.log.count("create_vars") == 1  # lazily, on first use
    Traced.log.clear()
    await host.sleep_all()
    assert Traced.log == ["on_sleep"]
    Traced.log.clear()
    # Vars are rebuilt per wake; state (including what on_wake did) persisted.
    assert await h.peek() == [2, "hi", 1]
    await asyncio.sleep(0)
    assert [e for e in Traced.log if e != "create_vars"] == ["on_wake", "run"]
    Traced.log.clear()
    await h.destroy()
    assert Traced.log == ["on_destroy"]


async def test_idle_actor_sleeps_after_its_timeout_and_wakes_on_the_next_call(
    make_host, clock
) -> None:
    host = await make_host([Counter], mono=clock, timers=False)
    h = host.client().get_or_create(Counter, "idle")
    assert await h.increment(5) == 5
    clock.advance(59.0)
    assert await host.sleep_idle() == 0
    assert host.is_awake("Counter", "idle")
    assert await h.get() == 5  # activity restarts the idle period
    clock.advance(59.0)
    assert await host.sleep_idle() == 0
    clock.advance(1.0)
    assert await host.sleep_idle() == 1
    assert not host.is_awake("Counter", "idle")
    assert host.awake_count() == 0
    assert await h.increment(1) == 6  # woken transparently, state intact
    assert host.stats.woken == 1


async def test_idle_timer_really_fires(make_host) -> None:
    class Quick(Counter):
        name = "Quick"
        options = ActorOptions(idle_timeout=0.2)

    host = await make_host([Quick])
    h = host.client().get_or_create(Quick, "q")
    await h.increment(3)
    for _ in range(100):
        if not host.is_awake("Quick", "q"):
            break
        await asyncio.sleep(0.05)
    assert not host.is_awake("Quick", "q")
    assert await h.get() == 3


async def test_keep_awake_connections_and_run_work_hold_off_sleep(make_host, clock) -> None:
    class Sleepy(Actor):
        options = ActorOptions(idle_timeout=1.0)
        release = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()

        @action
        async def hold(self) -> None:
            async def background() -> None:
                with self.keep_awake():
                    await type(self).release.wait()

            type(self).tasks.add(asyncio.ensure_future(background()))
            await asyncio.sleep(0)

    host = await make_host([Sleepy, Counter], mono=clock, timers=False)
    client = host.client()
    await client.get_or_create(Sleepy, "s").hold()
    clock.advance(100)
    assert await host.sleep_idle() == 0
    Sleepy.release.set()
    await asyncio.sleep(0.01)
    clock.advance(100)
    assert await host.sleep_idle() == 1
    # A connection holds the actor too, until it closes.
    conn = await client.get_or_create(Counter, "c").connect()
    clock.advance(1000)
    assert await host.sleep_idle() == 0
    await conn.close()
    clock.advance(1000)
    assert await host.sleep_idle() == 1


async def test_state_persists_across_sleep_and_vars_do_not(make_host) -> None:
    host = await make_host([Traced])
    h = host.client().get_or_create(Traced, "v", input=1)
    assert await h.peek() == [1, 1, 1]
    assert await h.peek() == [1, 1, 2]  # vars live while awake
    await host.sleep_all()
    assert await h.peek() == [2, 1, 1]


async def test_get_create_and_get_or_create(make_host) -> None:
    host = await make_host([Counter])
    client = host.client()
    with pytest.raises(ActorNotFound) as info:
        await client.get(Counter, "nobody").get()
    assert info.value.code == 404
    created = await client.create(Counter, "c1", input={"start": 10})
    assert await created.get() == 10
    with pytest.raises(ActorExists) as conflict:
        await client.create(Counter, "c1")
    assert conflict.value.code == 409
    # get_or_create of an existing key ignores its input; of a new key it creates.
    assert await client.get_or_create(Counter, "c1", input={"start": 99}).get() == 10
    assert await client.get_or_create(Counter, "c2", input={"start": 7}).get() == 7
    assert await client.get(Counter, "c2").get() == 7
    # create is refused for a sleeping actor too.
    await host.sleep_all()
    with pytest.raises(ActorExists):
        await client.create(Counter, "c2")


async def test_keys_are_isolated(make_host) -> None:
    host = await make_host([Counter])
    client = host.client()
    keys = ["a", ("a",), ("a", "b"), ("a/b",), "b"]
    # "a" and ("a",) are the same key; the others are all distinct.
    await asyncio.gather(*(client.get_or_create(Counter, k).increment(i + 1)
                           for i, k in enumerate(keys)))
    assert await client.get(Counter, "a").get() == 1 + 2
    assert await client.get(Counter, ("a", "b")).get() == 3
    assert await client.get(Counter, ("a/b",)).get() == 4
    assert await client.get(Counter, "b").get() == 5
    await host.sleep_all()
    assert stored_state(host.store.path, "Counter", ("a", "b")) == {"count": 3}
    assert stored_state(host.store.path, "Counter", "a/b") == {"count": 4}


async def test_get_for_id_destroy_and_recreate(make_host) -> None:
    host = await make_host([Counter])
    client = host.client()
    first = await client.create(Counter, "d", input={"start": 1})
    old_id = await first.resolve()
    assert await client.get_for_id(old_id).get() == 1
    await client.get(Counter, "d").destroy()
    assert stored_state(host.store.path, "Counter", "d") is None
    with pytest.raises(ActorNotFound):
        await client.get(Counter, "d").get()
    with pytest.raises(ActorNotFound):
        await client.get_for_id(old_id).get()
    again = await client.create(Counter, "d", input={"start": 50})
    new_id = await again.resolve()
    assert new_id != old_id
    assert await again.get() == 50  # fresh state, nothing from before
    with pytest.raises(ActorNotFound):  # the old incarnation stays gone
        await client.get_for_id(old_id).get()
    assert await client.get_for_id(new_id).get() == 50


class Faulty(Actor):
    options = ActorOptions(idle_timeout=None, wake_timeout=0.2, action_timeout=0.2)
    slow_wake = False

    async def on_wake(self) -> None:
        if type(self).slow_wake:
            await asyncio.sleep(5)

    @action
    def fail(self) -> None:
        raise KeyError("/etc/secret-path and a password=hunter2")

    @action
    def refuse(self) -> None:
        raise UserError("insufficient_funds", "balance too low", {"balance": 3, "need": [5]},
                        code=402)

    @action
    async def hang(self) -> None:
        await asyncio.sleep(5)

    @action
    def takes_two(self, a: int, b: int) -> int:
        return a + b

    @action
    def odd_result(self) -> set[int]:
        return {1, 2}  # not msgpack-able

    @action
    def bad_state(self) -> None:
        self.state = {"x": {1, 2}}  # a set: not msgpack-able

    @action
    async def bad_state_now(self) -> None:
        self.state = {"x": {1, 2}}
        await self.save_state(immediate=True)


async def _errors_contract(handle) -> None:
    with pytest.raises(UserError) as info:
        await handle.refuse()
    err = info.value
    assert (err.kind, err.message, err.metadata, err.code) == (
        "insufficient_funds", "balance too low", {"balance": 3, "need": [5]}, 402)
    with pytest.raises(ActorInternalError) as internal:
        await handle.fail()
    text = str(internal.value) + repr(internal.value)
    assert internal.value.code == 500
    assert "secret" not in text and "hunter2" not in text and "KeyError" not in text
    assert "Traceback" not in text
    with pytest.raises(ActorTimeout) as late:
        await handle.hang()
    assert late.value.code == 504
    with pytest.raises(BadArguments):
        await handle.takes_two(1)
    assert await handle.takes_two(1, 2) == 3
    with pytest.raises(ActionNotFound):
        await handle.call("no_such_action")
    with pytest.raises(ActorInternalError):
        await handle.bad_state_now()
    with pytest.raises(ActorInternalError):
        await handle.odd_result()


async def test_errors_locally_and_across_nodes(make_host, hub, caplog) -> None:
    host = await make_host([Faulty])
    await _errors_contract(host.client().get_or_create(Faulty, "e"))
    # The same contract from another node, over actr RPC.
    other = ActrSystem(ActrConfig(actr_type="acme+client"), hub=hub)
    from actr_py import Workload

    async with other.attach(Workload()) as ref:
        remote = ActorClient(ref.context, via=host.node.actor_id)
        await _errors_contract(remote.get_or_create(Faulty, "e2"))
    # The host's log has the details, under the reference the client saw.
    assert "hunter2" in caplog.text


async def test_a_hook_over_its_timeout_fails_the_call_and_the_actor_stays_asleep(
    make_host
) -> None:
    host = await make_host([Faulty])
    h = host.client().get_or_create(Faulty, "w")
    assert await h.takes_two(2, 2) == 4
    await host.sleep_all()
    Faulty.slow_wake = True
    try:
        with pytest.raises(ActorTimeout):
            await h.takes_two(1, 1)
        assert not host.is_awake("Faulty", "w")
    finally:
        Faulty.slow_wake = False
    assert await h.takes_two(1, 1) == 2


async def test_changes_are_saved_within_the_interval_or_at_once_when_asked(make_host) -> None:
    host = await make_host([Counter], save_interval=3600.0)
    client = host.client()
    db = host.store.path
    await client.get_or_create(Counter, "s").increment(1)
    # Created durably (initial state), the change waits for the throttle...
    assert stored_state(db, "Counter", "s") == {"count": 0}
    await host.flush()
    assert stored_state(db, "Counter", "s") == {"count": 1}
    # ...unless the actor asks for an immediate save, which is durable on return.
    assert await client.get(Counter, "s").increment_durably(10) == 11
    assert stored_state(db, "Counter", "s") == {"count": 11}
    # Read-only actions do not mark the actor dirty.
    await host.flush()
    flushes = host.stats.saved_rows
    await client.get(Counter, "s").get()
    await host.flush()
    assert host.stats.saved_rows == flushes


async def test_a_clean_shutdown_saves_everything(make_host, tmp_path) -> None:
    db = tmp_path / "shutdown.db"
    host = await make_host([Counter, Traced], storage=db, save_interval=3600.0)
    client = host.client()
    await asyncio.gather(*(client.get_or_create(Counter, f"c{i}").increment(i) for i in range(50)))
    await client.get_or_create(Traced, "t").peek()  # one with hooks and a run loop
    await asyncio.sleep(0)
    Traced.log.clear()
    await host.node.shutdown()
    assert Traced.log == ["on_sleep"]
    assert [stored_state(db, "Counter", f"c{i}") for i in range(50)] == [
        {"count": i} for i in range(50)
    ]
    again = await make_host([Counter, Traced], storage=db, actr_type="acme+again")
    assert await again.client().get(Counter, "c49").get() == 49


async def test_the_throttle_really_saves(make_host) -> None:
    host = await make_host([Counter], save_interval=0.05)
    await host.client().get_or_create(Counter, "t").increment(4)
    for _ in range(100):
        if stored_state(host.store.path, "Counter", "t") == {"count": 4}:
            break
        await asyncio.sleep(0.02)
    assert stored_state(host.store.path, "Counter", "t") == {"count": 4}


async def test_unserialisable_state_is_refused_and_the_saved_state_stays(
    make_host, caplog
) -> None:
    host = await make_host([Faulty])
    h = host.client().get_or_create(Faulty, "u")
    assert await h.takes_two(0, 0) == 0
    await h.bad_state()
    await host.flush()
    assert "not saved" in caplog.text
    assert stored_state(host.store.path, "Faulty", "u") == {}


async def test_storage_is_one_process_only(make_host, tmp_path) -> None:
    from actr_py.errors import StateError

    db = tmp_path / "shared.db"
    await make_host([Counter], storage=db)
    with pytest.raises(StateError):
        await make_host([Counter], storage=db, actr_type="acme+second")


async def test_unknown_actor_type_is_not_found(make_host, hub) -> None:
    host = await make_host([Counter])
    with pytest.raises(ActorNotFound):
        await host.client().get_or_create("Nope", "x").call("get")
    with pytest.raises(ActorNotFound):
        await host.client().get_or_create("Nope", "x").resolve()
    # Via a node that hosts no actors at all: the same errors.
    from actr_py import Workload

    async with ActrSystem(ActrConfig(actr_type="acme+plain"), hub=hub).attach(Workload()) as p:
        async with ActrSystem(ActrConfig(actr_type="acme+client"), hub=hub).attach(
            Workload()
        ) as ref:
            client = ActorClient(ref.context, via=p.actor_id)
            with pytest.raises(ActionNotFound):
                await client.get_or_create(Counter, "x").get()
            with pytest.raises(ActorNotFound):
                await client.get_or_create(Counter, "x").resolve()


def test_actor_classes_get_slots_and_refuse_init() -> None:
    from actr_py.errors import ConfigError

    class Plain(Actor):
        @action
        def x(self) -> None: ...

    assert Plain.__slots__ == () and not hasattr(Plain.__new__(Plain), "__dict__")
    assert set(Plain._actions) == {"x"} and Plain.name == "Plain"
    with pytest.raises(ConfigError):

        class WithInit(Actor):
            def __init__(self) -> None: ...

    with pytest.raises(ConfigError):

        class Reserved(Actor):
            @action
            def state(self) -> None: ...
