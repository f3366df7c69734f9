"""A real SMTP server's handler for tests: records what arrives, and can refuse or stall
chosen recipients the way real servers do."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sink:
    """What the SMTP server received, and the replies it should give to some recipients."""

    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    # recipient -> list of replies to give, one per attempt; past the end, accept.
    replies: dict[str, list[str]] = field(default_factory=dict)
    # recipient -> seconds to sit on DATA before answering, to hold a message in flight.
    delays: dict[str, float] = field(default_factory=dict)
    in_flight: list[str] = field(default_factory=list)
    # recipient -> seconds to take over answering DATA after the message was accepted.
    late: dict[str, float] = field(default_factory=dict)
    servers: list[Any] = field(default_factory=list)  # one aiosmtpd SMTP per EHLO'd session
    arrived: list[float] = field(default_factory=list)  # time.monotonic() of each accepted
    bodies: list[str] = field(default_factory=list)  # the BODY= each MAIL FROM announced
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        # The controller's own start-up probe never says EHLO, so this counts real sessions.
        session.host_name = hostname
        with self.lock:
            self.servers.append(server)
        return responses

    @property
    def sessions(self) -> int:
        with self.lock:
            return len(self.servers)

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m["Subject"]) for m in self.messages]

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.lock:
            queue = self.replies.get(address.lower())
            if queue:
                return queue.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        delay = max((self.delays.get(r.lower(), 0.0) for r in envelope.rcpt_tos), default=0.0)
        if delay:
            self.in_flight.extend(envelope.rcpt_tos)
            await asyncio.sleep(delay)
            return "451 4.4.2 timed out"  # never accepted: its sender is gone by now
        with self.lock:
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.arrived.append(time.monotonic())
            self.bodies.append(
                next((o for o in envelope.mail_options if o.upper().startswith("BODY=")), "")
            )
            self.messages.append(message_from_bytes(envelope.original_content, policy=default))
        late = max((self.late.get(r.lower(), 0.0) for r in envelope.rcpt_tos), default=0.0)
        if late:
            await asyncio.sleep(late)  # taken, then answered slowly (a busy queue, a scan)
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 30) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        return list(self.messages)
