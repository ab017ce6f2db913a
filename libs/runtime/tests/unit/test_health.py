"""A worker's loop check: ready while its loop goes round, not ready once it has not for
longer than the stall limit (a clock of the test's own: no waiting)."""

from __future__ import annotations

import pytest

from huikuan_runtime.health import Heartbeat, Stalled, loop_check


async def test_a_loop_that_stops_going_round_turns_not_ready() -> None:
    now = [100.0]
    heartbeat = Heartbeat(clock=lambda: now[0])
    check = loop_check(heartbeat, stall_seconds=30)
    now[0] += 29
    await check()  # within the limit
    now[0] += 2
    with pytest.raises(Stalled, match="has not gone round for 31 s"):
        await check()
    heartbeat.beat()
    await check()  # going round again: ready again
