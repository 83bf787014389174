"""Client sessions: who owns which instances, and the leases that reclaim them.

A session is named by the ``session`` key of a request header, or, for clients that send
none, by the connection's routing id. Every request renews its session's lease; the
reference clients also ping on their own while idle. A session silent for longer than the
lease loses its instances (see ``Server._reap``). Used on the socket loop's thread only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Session", "Sessions"]


@dataclass(eq=False)
class Session:
    name: str
    last_seen: float
    instances: set[str] = field(default_factory=set)
    datasets: set[str] = field(default_factory=set)
    # Requests of this session waiting or running.
    queued: int = 0


class Sessions:
    def __init__(self, lease_seconds: float) -> None:
        self.lease_seconds = lease_seconds
        self._sessions: dict[str, Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def touch(self, name: str, now: float) -> Session:
        session = self.renew(name, now)
        if session is None:
            session = self._sessions[name] = Session(name, now)
        return session

    def renew(self, name: str, now: float) -> Session | None:
        """The session ``name`` marked as seen at ``now``, or None if there is none."""
        session = self._sessions.get(name)
        if session is not None:
            session.last_seen = now
        return session

    def get(self, name: str) -> Session | None:
        return self._sessions.get(name)

    def expires_at(self, session: Session) -> float | None:
        """Wall-clock expiry of the session's lease, or None when leases are off."""
        if not self.lease_seconds:
            return None
        return time.time() + (session.last_seen + self.lease_seconds - time.monotonic())

    def expired(self, now: float) -> list[Session]:
        """Sessions whose lease ran out, removed from the table.

        Sessions that own nothing and have nothing queued are forgotten as soon as they
        go quiet for a lease, whatever the setting, so the table stays small.
        """
        lease = self.lease_seconds
        gone = [
            session
            for session in self._sessions.values()
            if (lease and now - session.last_seen > lease)
            or (
                not session.instances
                and not session.datasets
                and not session.queued
                and now - session.last_seen > 60
            )
        ]
        for session in gone:
            del self._sessions[session.name]
        return gone
