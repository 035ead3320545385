"""Subnet headroom before a rolling upgrade (a /28 holds 16 nodes: at most 15 may run)."""

from __future__ import annotations

import pytest
from scone_ops.upgrade import headroom_reminder, subnet_headroom


def test_a_slash_28_fits_15_nodes_plus_the_surge_but_not_16() -> None:
    assert subnet_headroom("10.250.0.0/28", 15).ok
    too_many = subnet_headroom("10.250.0.0/28", 16)
    assert not too_many.ok
    assert "scale down to at most 15 nodes" in too_many.message()


def test_host_bits_are_accepted_and_garbage_is_a_value_error() -> None:
    assert subnet_headroom("10.250.0.7/28", 3).cidr == "10.250.0.0/28"
    with pytest.raises(ValueError):
        subnet_headroom("not-a-cidr", 3)


def test_reminder_names_the_node_count_and_the_one_extra_node() -> None:
    text = headroom_reminder(5)
    assert "5 node(s) run now" in text and "allows 6 nodes" in text and "--subnet-cidr" in text
