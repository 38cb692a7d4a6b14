"""The stack's ports: one plan never hands out a port twice, nor one it was told is taken."""

from __future__ import annotations

from assembly.stack.processes import PortPlan, free_port


def test_a_port_the_kernel_offers_twice_is_skipped() -> None:
    # What bind(0) may do: offer a port again that nobody has bound yet.
    offered = iter([5001, 5002, 5001, 5000, 5002, 5003])
    plan = PortPlan([5000], source=lambda: next(offered))
    assert [plan.take() for _ in range(3)] == [5001, 5002, 5003]


def test_real_ports_of_one_plan_are_distinct() -> None:
    nginx = free_port()
    plan = PortPlan([nginx])
    ports = [plan.take() for _ in range(12)]
    assert len(set(ports)) == len(ports)
    assert nginx not in ports
