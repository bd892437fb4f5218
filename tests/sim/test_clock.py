"""SimClock: virtual time over simpy; socket waits decided by peers, never by real time."""

from __future__ import annotations

import math
import socket
from collections.abc import Generator, Iterator
from typing import Any

import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st

import cleanup
from sim._clock import PeerError, SimClock, SimDeadlock, exact_delay


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    a.connect(b.getsockname())
    b.connect(a.getsockname())
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


class ScriptedPeer:
    """A peer that sends ``data`` to ``target`` once the clock reaches ``at``."""

    def __init__(self, clock: SimClock, sender: socket.socket, at: float | None) -> None:
        self.clock = clock
        self.sender = sender
        self.at = at
        self.sent = False
        self.settles = 0
        self.ended: list[bool] = []

    def settle(self) -> None:
        self.settles += 1
        if self.at is not None and not self.sent and self.clock.now() >= self.at:
            self.sender.send(b"reply")
            self.sent = True

    def next_due(self) -> float | None:
        return None if self.sent else self.at

    def in_flight(self, sock: socket.socket) -> bool:
        return False

    def wait_ended(self, sock: socket.socket, ready: bool) -> None:
        self.ended.append(ready)


def test_the_clock_is_a_cleanup_clock_and_a_faultdns_listener_clock() -> None:
    clock = SimClock()
    assert isinstance(clock, cleanup.Clock)
    moves: list[float] = []
    clock.add_listener(moves.append)
    clock.sleep(2.5)
    clock.advance(0.5)
    assert clock.now() == 3.0
    assert moves == [2.5, 3.0]
    clock.remove_listener(moves.append)
    clock.sleep(1)
    assert moves == [2.5, 3.0]
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_to(1.0)


def test_world_events_at_the_target_time_have_happened_when_the_clock_arrives() -> None:
    clock = SimClock()
    seen: list[float] = []

    def world(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(5.0)
        seen.append(env.now)
        yield env.timeout(5.0)
        seen.append(env.now)

    clock.env.process(world(clock.env))
    clock.advance_to(5.0)
    assert seen == [5.0]  # an event *at* t has happened when the clock reads t
    clock.sleep(4.5)
    assert seen == [5.0]
    clock.sleep(0.5)  # binary-exact: 5 + 4.5 + 0.5 == 10
    assert seen == [5.0, 10.0]


def test_reset_starts_a_new_world_at_zero() -> None:
    clock = SimClock()
    clock.sleep(100)
    clock.reset()
    assert clock.now() == 0.0
    assert clock.env.peek() == math.inf


def test_silence_costs_the_full_timeout_in_virtual_time(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, _server = pair
    clock = SimClock()
    clock.advance_to(10.0)
    assert clock.wait_readable(client, 5.0) is False
    assert clock.now() == 15.0
    assert clock.waited == 5.0
    assert clock.wait_readable(client, 0.0) is False
    assert clock.now() == 15.0


def test_a_peer_answer_ends_the_wait_without_moving_time(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    clock = SimClock()
    peer = ScriptedPeer(clock, server, at=0.0)
    clock.add_peer(peer)
    assert clock.wait_readable(client, 5.0) is True
    assert clock.now() == 0.0
    assert peer.ended == [True]


def test_a_peer_scheduled_reply_arrives_at_its_virtual_time(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    clock = SimClock()
    peer = ScriptedPeer(clock, server, at=3.25)
    clock.add_peer(peer)
    assert clock.wait_readable(client, 5.0) is True
    assert clock.now() == 3.25
    # too late for a shorter wait: a timeout at the wait's own deadline
    clock2 = SimClock()
    late = ScriptedPeer(clock2, server, at=7.0)
    clock2.add_peer(late)
    client.recv(100)
    assert clock2.wait_readable(client, 5.0) is False
    assert clock2.now() == 5.0
    assert late.ended == [False]


def test_a_world_process_can_answer_during_a_wait(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    clock = SimClock()

    def world(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1.5)
        server.send(b"late hello")

    clock.env.process(world(clock.env))
    assert clock.wait_readable(client, None) is True
    assert clock.now() == 1.5


def test_waiting_forever_on_silence_is_a_deadlock_not_a_hang(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, _server = pair
    clock = SimClock()
    with pytest.raises(SimDeadlock, match="nothing in the world"):
        clock.wait_readable(client, None)


def test_a_reply_known_to_be_in_flight_that_never_comes_is_a_harness_error(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    clock = SimClock(real_wait_limit=0.05)

    class Liar(ScriptedPeer):
        def in_flight(self, sock: socket.socket) -> bool:
            return True

    clock.add_peer(Liar(clock, server, at=None))
    with pytest.raises(PeerError, match="did not answer"):
        clock.wait_readable(client, 5.0)
    assert clock.now() == 0.0  # never charged as a virtual timeout


def test_writable_waits_complete_at_once_on_loopback() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.socket()
    client.setblocking(False)
    try:
        client.connect_ex(listener.getsockname())
        clock = SimClock()
        assert clock.wait_writable(client, 30.0) is True
        assert clock.now() == 0.0
    finally:
        client.close()
        listener.close()


@given(
    now=st.floats(min_value=0, max_value=1e6, allow_nan=False),
    gap=st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
def test_exact_delay_lands_on_the_boundary(now: float, gap: float) -> None:
    when = now + gap
    delay = exact_delay(now, when)
    assert delay >= 0
    assert now + delay == when
