"""The local stack's pumps: a quiet source is polled less and less often, work brings the
cadence back, and a wake (the API after a write) polls at once."""

from __future__ import annotations

import threading
import time

from local.pumps import Pump


class Counting(Pump):
    name = "counting"
    interval_s = 0.01
    idle_max_s = 60.0

    def __init__(self) -> None:
        super().__init__(log=lambda line: None)
        self.ticks = 0
        self.ticked = threading.Event()

    def tick(self) -> bool:
        self.ticks += 1
        self.ticked.set()
        return False


def test_an_idle_pump_backs_off_to_its_ceiling_and_work_resets_the_cadence():
    pump = Counting()
    intervals = [pump.interval_s]
    for _ in range(20):
        intervals.append(pump.next_interval(intervals[-1], busy=False))
    assert intervals[:4] == [0.01, 0.02, 0.04, 0.08]
    assert intervals[-1] == pump.idle_max_s and max(intervals) == pump.idle_max_s
    assert pump.next_interval(pump.idle_max_s, busy=True) == pump.interval_s


class Sleepy(Counting):
    def next_interval(self, interval: float, busy: bool) -> float:
        return self.idle_max_s  # backed off already: the next poll is a minute away


def test_a_wake_polls_an_idle_pump_at_once_and_stop_ends_it():
    pump = Sleepy()
    pump.start()
    try:
        assert pump.ticked.wait(10)
        pump.ticked.clear()
        before = pump.ticks
        pump.wake()
        assert pump.ticked.wait(10), "a woken pump did not poll"
        assert pump.ticks == before + 1
    finally:
        pump.stop()
        pump.join(10)
    assert not pump.is_alive()


class Paced(Counting):
    interval_s = 0.2


def test_a_burst_of_wakes_never_polls_faster_than_the_base_cadence():
    pump = Paced()
    pump.start()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:  # a write every 5 ms
            pump.wake()
            time.sleep(0.005)
    finally:
        pump.stop()
        pump.join(10)
    assert 2 <= pump.ticks <= 7  # one poll per 0.2 s over 1 s (about 200 without the floor)


def test_a_local_invocation_gets_its_functions_deployed_timeout_and_fails_past_it(monkeypatch):
    from local import pumps

    # the deployed values, as on the patched moto (on moto as shipped they are scaled:
    # tests/unit/test_time_scale.py)
    monkeypatch.setenv("MOTO_PATCHES", "on")
    seen = {}

    def handler(event, context):
        seen[context.function_name] = context.get_remaining_time_in_millis()
        return "ok"

    assert pumps.call_with_timeout(handler, {}, "job_worker") == "ok"
    assert pumps.call_with_timeout(handler, {}, "table_stream") == "ok"
    assert 59_000 < seen["job_worker"] <= 60_000 and 29_000 < seen["table_stream"] <= 30_000

    clock = {"now": 1000.0}
    monkeypatch.setattr(pumps.time, "monotonic", lambda: clock["now"])

    def slow(event, context):
        clock["now"] += 61  # ran past the job worker's 60 s
        return "too late"

    try:
        pumps.call_with_timeout(slow, {}, "job_worker")
    except pumps.TimedOut as exc:
        assert "60 seconds" in str(exc)
    else:
        raise AssertionError("an invocation past its timeout must fail, as on AWS")
