"""CrashLoopBackOff arithmetic (client-go flowcontrol.Backoff semantics) and Go duration strings."""

from __future__ import annotations

from pyk8s.base.clock import FakeClock
from pyk8s.kubelet.backoff import Backoff, go_duration


def test_doubles_to_cap_and_resets_after_twice_max() -> None:
    clock = FakeClock()
    b = Backoff(10, 300, clock=clock)
    delays = []
    for _ in range(7):
        finished = clock.monotonic()
        delays.append(b.next("k", finished))
        clock.step(1)
    assert delays == [10, 20, 40, 80, 160, 300, 300]
    # Running fine for more than 2 x max (10 min) before the next exit starts over.
    clock.step(601)
    assert b.next("k", clock.monotonic()) == 10


def test_in_backoff_since_finish() -> None:
    clock = FakeClock()
    b = Backoff(10, 300, clock=clock)
    finished = clock.monotonic()
    assert not b.in_backoff_since("k", finished)  # never seen: restart at once
    b.next("k", finished)
    clock.step(9)
    assert b.in_backoff_since("k", finished)
    assert b.remaining("k", finished) == 1
    clock.step(1)
    assert not b.in_backoff_since("k", finished)


def test_in_backoff_since_update_for_pulls() -> None:
    clock = FakeClock()
    b = Backoff(10, 300, clock=clock)
    b.next("img", clock.monotonic())
    clock.step(5)
    assert b.in_backoff_since_update("img", clock.monotonic())
    assert b.remaining_since_update("img") == 5
    clock.step(5)
    assert not b.in_backoff_since_update("img", clock.monotonic())


def test_go_duration() -> None:
    assert [go_duration(s) for s in (0, 10, 20, 80, 160, 300, 1.5, 3600)] == \
        ["0s", "10s", "20s", "1m20s", "2m40s", "5m0s", "1.5s", "1h0m0s"]
    assert go_duration(0.25) == "250ms"
