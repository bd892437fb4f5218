"""sim: a simpy world model and a virtual-time harness for the real cleanup module."""

__all__: list[str] = []
