"""skbridge server side: ZeroMQ transport, instance registry and dispatch.

``bridge.client`` holds the Python reference client; ``bridge.launcher`` starts a server
process. The wire format is specified in ``docs/PROTOCOL.md``.
"""

__version__ = "0.1.0"
