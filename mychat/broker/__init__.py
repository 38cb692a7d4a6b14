"""Event brokers: in-memory for one process, Redis pub/sub across processes."""

from mychat.broker.base import Broker, BrokerSubscription
from mychat.broker.memory import MemoryBroker

__all__ = ["Broker", "BrokerSubscription", "MemoryBroker"]
