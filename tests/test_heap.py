"""Freed memory is reused inside a heavy step and given back after it (glibc only)."""

from __future__ import annotations

import inspect
import resource

import numpy as np
import pytest

from evaluering import heap
from evaluering.data.validate import load_dataset
from evaluering.evaluation import evaluate_district

MB = 2**20
glibc = pytest.mark.skipif(heap._glibc_library() is None, reason="glibc's malloc only")


def _faults_of_second_array(megabytes: int = 64) -> int:
    """Page faults of filling an array after one as large was filled and freed."""
    first = np.ones(megabytes * MB // 8)
    del first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    second = np.ones(megabytes * MB // 8)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del second
    return faults


@glibc
def test_freed_memory_is_reused_inside_a_step_and_not_outside(monkeypatch):
    monkeypatch.delenv(heap.VARIABLE, raising=False)
    outside = _faults_of_second_array()
    if outside < 100:  # huge pages throughout: too few faults to tell reuse from mapping
        pytest.skip(f"only {outside} page faults for a fresh 64 MB array")
    with heap.reused_memory():
        _faults_of_second_array()  # the heap grows once
        inside = _faults_of_second_array()
    assert inside < outside / 10
    assert _faults_of_second_array() > outside / 2  # defaults again once the step ended


@glibc
def test_nested_steps_keep_the_policy_until_the_outermost_ends(monkeypatch):
    monkeypatch.delenv(heap.VARIABLE, raising=False)
    calls = []
    monkeypatch.setattr(heap, "_set", lambda libc, *values: calls.append(values))
    with heap.reused_memory():
        with heap.reused_memory():
            pass
        assert calls == [(heap.KEPT, heap.TOP_PAD, heap.KEPT)]
    assert calls[-1] == (heap.GLIBC_DEFAULT,) * 3
    assert heap._depth == 0


def test_the_environment_can_leave_the_allocator_alone(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "_set", lambda libc, *values: calls.append(values))
    for name, value in ((heap.VARIABLE, "default"), ("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0"),
                        ("MALLOC_ARENA_MAX", "2")):
        with monkeypatch.context() as env:
            env.setenv(name, value)
            with heap.reused_memory():
                pass
    assert calls == []


def test_an_error_inside_a_step_restores_the_defaults(monkeypatch):
    calls = []
    monkeypatch.delenv(heap.VARIABLE, raising=False)
    monkeypatch.setattr(heap, "_set", lambda libc, *values: calls.append(values))
    monkeypatch.setattr(heap, "_glibc", lambda: type("C", (), {"malloc_trim": staticmethod(lambda pad: 1)})())
    with pytest.raises(ValueError), heap.reused_memory():
        raise ValueError("inside")
    assert calls[-1] == (heap.GLIBC_DEFAULT,) * 3 and heap._depth == 0


def test_decorated_steps_keep_their_signatures():
    assert list(inspect.signature(load_dataset).parameters) == ["directory", "params"]
    assert "details" in inspect.signature(evaluate_district).parameters
