"""Event brokers: in-memory for one process, Redis pub/sub across processes."""

from mychat.broker.base import RESYNC, Broker, BrokerSubscription, Resync
from mychat.broker.memory import LocalSubscription, MemoryBroker

__all__ = [
    "RESYNC",
    "Broker",
    "BrokerSubscription",
    "LocalSubscription",
    "MemoryBroker",
    "Resync",
]
