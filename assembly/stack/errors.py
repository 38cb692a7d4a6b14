"""The one error of the topology runner."""


class StackError(RuntimeError):
    """The stack cannot start or a process in it failed."""
