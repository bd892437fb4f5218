"""SimClock: virtual time over simpy; socket waits decided by peers, never by real time."""

from __future__ import annotations

import math
import random
import socket
from collections.abc import Generator, Iterator
from typing import Any

import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st

import cleanup
import faultdns
from sim._clock import (
    PeerError,
    ScaledClock,
    SimClock,
    SimDeadlock,
    SocketlessClock,
    WorldClock,
    exact_delay,
)


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
    assert isinstance(clock, faultdns.ListenerClock)
    assert isinstance(clock, WorldClock)
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


def test_the_scaled_clock_runs_speed_times_real_time_from_its_start() -> None:
    real = [100.0]
    clock = ScaledClock(40.0, 10.0, monotonic=lambda: real[0])
    assert isinstance(clock, WorldClock)
    assert isinstance(clock, faultdns.Clock)
    assert not isinstance(clock, faultdns.ListenerClock)  # delays then use loop timers
    assert clock.now() == 40.0
    real[0] = 102.5
    assert clock.now() == 65.0
    with pytest.raises(ValueError, match="speed"):
        ScaledClock(0.0, 0.0)


def test_the_socketless_clock_moves_by_sleeps_and_unanswered_waits_only() -> None:
    clock = SocketlessClock(1000.0)
    assert isinstance(clock, cleanup.Clock)
    assert isinstance(clock, WorldClock)
    clock.sleep(2.5)
    clock.sleep(-1.0)  # a negative sleep returns at once, as time.sleep's callers expect
    clock.wait(30.0)
    assert clock.now() == 1032.5
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for wait in (
            lambda: clock.wait_readable(sock, 1.0),
            lambda: clock.wait_writable(sock, 1.0),
            lambda: clock.wait_any([(sock, True)], 1.0),
        ):
            with pytest.raises(AssertionError, match="no sockets"):
                wait()
    assert clock.now() == 1032.5


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


# -- packets the kernel has not delivered yet ------------------------------------------


class KernelBacklog:
    """Stands in for the kernel's loopback backlog under load: a packet queued here was
    sent (``send()`` returned) but reaches its receiver only when the backlog is
    drained, as ``ksoftirqd`` delivers it some time later on a busy machine.  The clock
    drains it through its barrier, as it drains the real one."""

    def __init__(self) -> None:
        self.held: list[tuple[socket.socket, bytes]] = []
        self.drains = 0

    def send(self, sock: socket.socket, data: bytes) -> None:
        self.held.append((sock, data))

    def drain(self) -> None:
        self.drains += 1
        for sock, data in self.held:
            sock.send(data)
        self.held.clear()

    def close(self) -> None:
        self.held.clear()


class Echo:
    """A server peer: answers every datagram that has reached ``sock``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.answered = 0

    def settle(self) -> bool:
        busy = False
        while True:
            try:
                data = self.sock.recv(100)
            except BlockingIOError:
                return busy
            self.sock.send(b"re: " + data)
            self.answered += 1
            busy = True

    def next_due(self) -> float | None:
        return None

    def in_flight(self, sock: socket.socket) -> bool:
        return False

    def wait_ended(self, sock: socket.socket, ready: bool) -> None:
        return None


def test_a_query_still_in_the_kernel_is_answered_not_timed_out(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The determinism bug under CPU load: the query had been sent but the kernel had not
    delivered it when the wait looked, so the wait charged its full 5 s timeout in
    virtual time and the server answered later.  The wait must prove that nothing is
    left in the kernel before it decides that no answer is coming."""
    client, server = pair
    backlog = KernelBacklog()
    clock = SimClock(barrier=backlog)
    echo = Echo(server)
    clock.add_peer(echo)
    backlog.send(client, b"query")  # sent, not delivered yet
    assert clock.wait_readable(client, 5.0) is True
    assert clock.now() == 0.0 and clock.waited == 0.0
    assert client.recv(100) == b"re: query" and echo.answered == 1
    assert backlog.drains >= 1


def test_silence_is_concluded_only_after_the_kernel_was_drained(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    backlog = KernelBacklog()
    clock = SimClock(barrier=backlog)
    clock.add_peer(Echo(server))
    assert clock.wait_readable(client, 5.0) is False
    assert clock.now() == 5.0
    # twice in a row: the second covers what the kernel sends while delivering (a
    # reset answering data for a closed socket queues behind the first marker)
    assert backlog.drains >= 2


def test_what_the_world_made_a_peer_send_has_landed_when_a_sleep_returns(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """The repo resets its connections when the Service loses its endpoints, in the
    middle of the cleanup's sleep; httpcore then asks a pooled connection "did the server
    close you?" without waiting.  The reset must have landed by the time the sleep
    returns, however late the kernel would deliver it."""
    client, server = pair
    backlog = KernelBacklog()
    clock = SimClock(barrier=backlog)
    clock.add_peer(Echo(server))

    def world(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1.0)
        backlog.send(server, b"reset")

    clock.env.process(world(clock.env))
    clock.sleep(2.0)
    assert client.recv(100) == b"reset"


def test_the_loopback_barrier_returns_once_earlier_sends_arrived(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    from sim._loopback import LoopbackBarrier, one_cpu

    client, server = pair
    barrier = LoopbackBarrier()
    try:
        with one_cpu():
            for i in range(50):
                client.send(b"%d" % i)
            barrier.drain()
            got = []
            while True:
                try:
                    got.append(server.recv(100))
                except BlockingIOError:
                    break
        assert got == [b"%d" % i for i in range(50)]
        barrier.drain()  # and again: markers of earlier barriers never confuse it
        assert barrier.count == 2
    finally:
        barrier.close()


def test_one_cpu_restores_the_threads_affinity() -> None:
    import os

    from sim._loopback import one_cpu

    getter = getattr(os, "sched_getaffinity", None)
    if getter is None:
        pytest.skip("no CPU affinity on this platform")
    before = getter(0)
    with one_cpu():
        inside = getter(0)
        assert len(inside) == 1 and inside <= before
    assert getter(0) == before


# -- timers that wake late (a busy node) -------------------------------------------------


class _Latest(random.Random):
    """Draws every lateness at its most."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_timers_wake_late_by_seeded_draws_that_replay_exactly(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Each sleep and each timed-out wait ends up to ``wake_late`` after its due time,
    drawn from the rng in the order the timers are set: the same seed, the same times."""
    client, _server = pair

    def play(seed: int) -> list[float]:
        clock = SimClock()
        clock.set_wake_late(0.005, random.Random(seed))
        times = []
        for _ in range(20):
            before = clock.now()
            clock.sleep(1.0)
            assert 1.0 <= clock.now() - before <= 1.005 + 1e-9
            before = clock.now()
            assert clock.wait_readable(client, 2.0) is False
            assert 2.0 <= clock.now() - before <= 2.005 + 1e-9
            times.append(clock.now())
        return times

    first = play(7)
    assert play(7) == first
    assert play(8) != first
    assert first[-1] > 20 * 3.0  # some timer was late: not every draw is 0


def test_a_reply_while_a_timer_is_late_ends_the_wait_ready(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    """Only the timer is late: a reply landing after the due time but before the late
    timer fires wakes the wait at once, ready (a poller is woken by readiness)."""
    client, server = pair
    clock = SimClock()
    clock.set_wake_late(0.005, _Latest())
    peer = ScriptedPeer(clock, server, at=5.002)
    clock.add_peer(peer)
    assert clock.wait_readable(client, 5.0) is True
    assert clock.now() == 5.002
    client.recv(100)
    assert clock.wait_readable(client, 1.0) is False
    assert clock.now() == pytest.approx(6.007)


def test_reset_puts_timers_back_on_time_and_bad_lateness_is_refused() -> None:
    clock = SimClock()
    clock.set_wake_late(0.005, _Latest())
    clock.sleep(1.0)
    assert clock.now() == pytest.approx(1.005)
    clock.reset()
    clock.sleep(1.0)
    assert clock.now() == 1.0 and clock.wake_late == 0.0
    for bad in (-0.001, math.inf, math.nan):
        with pytest.raises(ValueError, match="wake_late"):
            clock.set_wake_late(bad, random.Random(0))
    with pytest.raises(ValueError, match="rng"):
        clock.set_wake_late(0.001)
