"""The background steps' time rule and per-partition write pacing, on a modelled clock."""

from __future__ import annotations

from chalicelib.services.platform import pacing, steps


class Clock:
    def __init__(self, left_ms: int) -> None:
        self.left_ms = left_ms

    def __call__(self) -> int:
        return self.left_ms


def test_pacer_is_exhausted_when_one_key_reaches_its_budget_within_one_second():
    clock = Clock(60_000)
    pacer = pacing.Pacer(lambda: 60_000 - clock(), budget=3)
    pacer.charge(["hot", "cold"])
    pacer.charge(["hot"])
    assert not pacer.exhausted()
    pacer.charge(["hot"])
    assert pacer.exhausted()
    clock.left_ms -= 1_000  # the next second: its own budget
    assert not pacer.exhausted()


def test_charge_counts_on_the_running_steps_pacer_only():
    pacing.charge(["outside"])  # no step: nothing to count, no error
    with pacing.pacing(pacing.Pacer(lambda: 0, budget=2)) as pacer:
        pacing.charge(["k", "k"])
    pacing.charge(["k"])
    assert pacer.counts == {"k": 2} and pacer.exhausted()


def test_budget_leaves_a_page_of_room_below_half_the_partition_limit():
    assert pacing.BUDGET + pacing.PAGE_ROOM <= pacing.PARTITION_LIMIT * pacing.SHARE


def test_deadline_stops_before_a_unit_that_would_end_past_its_share():
    clock = Clock(60_000)
    deadline = steps.Deadline(clock, share=0.5, reserve_ms=10_000)
    clock.left_ms = 35_000  # 25 s used of 30
    assert not deadline.expired()
    assert deadline.expired(next_ms=5_000), "a unit as long as 5 s would end at half the time"
    short = steps.Deadline(Clock(15_000), share=0.5, reserve_ms=10_000)
    assert short.budget_s == 5, "the reserve wins over half of a short invocation"
    assert not steps.Deadline(None).expired(next_ms=10**9)
