"""The worker's garbage collector: off during a stage, collected at each second's frame."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from loadlens.engine import collector


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    yield
    gc.enable()
    gc.unfreeze()


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_a_stage_turns_automatic_collection_off_and_the_frame_collects_cycles() -> None:
    collector.stage_begins()
    assert not gc.isenabled()
    lost = _cycle()
    assert lost() is not None  # unreachable, but nobody collects it by itself
    collector.second_ends(0)
    assert lost() is None
    collector.stage_ends()
    assert gc.isenabled()


def test_old_cycles_wait_for_the_full_collection_of_each_minute() -> None:
    collector.stage_begins()
    holder = [_Node()]
    holder[0].other = _Node()
    holder[0].other.other = holder[0]
    lost = weakref.ref(holder[0])
    gc.collect(1)  # reachable still: promoted to the oldest generation, like a cycle made
    gc.collect(1)  # early in a long stage
    holder.clear()  # now garbage, in the oldest generation
    collector.second_ends(0)
    assert lost() is not None  # a young collection does not look there
    collector.second_ends(59)
    assert lost() is None
