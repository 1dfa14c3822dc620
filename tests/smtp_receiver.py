"""A minimal SMTP server for the tests (Python 3.12 dropped ``smtpd``): asyncio on a free
loopback port in a thread of its own; it speaks enough of RFC 5321 for ``smtplib``
(EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) and keeps every message
it receives, with its envelope, in ``messages``. It also counts connections, so a test can
show that nothing was even attempted."""

from __future__ import annotations

import asyncio
import email
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: email.message.Message


@dataclass
class Mailbox:
    port: int = 0
    connections: int = 0
    messages: list[Received] = field(default_factory=list)


async def _session(box: Mailbox, reader, writer) -> None:
    box.connections += 1

    async def say(line: str) -> None:
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    sender, recipients = None, []
    await say("220 test SMTP ready")
    while line := (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n"):
        verb = line[:4].upper()
        if verb in ("EHLO", "HELO"):
            await say("250 test")
        elif verb == "MAIL":
            sender, recipients = line.split(":", 1)[1].strip().strip("<>"), []
            await say("250 OK")
        elif verb == "RCPT":
            recipients.append(line.split(":", 1)[1].strip().strip("<>"))
            await say("250 OK")
        elif verb == "DATA":
            await say("354 end with <CRLF>.<CRLF>")
            lines = []
            while (data := await reader.readline()) not in (b".\r\n", b".\n", b""):
                lines.append(data[1:] if data.startswith(b"..") else data)
            box.messages.append(Received(sender, recipients,
                                         email.message_from_bytes(b"".join(lines))))
            await say("250 queued")
        elif verb == "QUIT":
            await say("221 bye")
            break
        else:  # RSET, NOOP, anything else
            await say("250 OK")
    writer.close()


@contextmanager
def smtp_receiver():
    """Run the server; yields its :class:`Mailbox` (``port`` set)."""
    box, loop, ready = Mailbox(), asyncio.new_event_loop(), threading.Event()

    async def main():
        server = await asyncio.start_server(lambda r, w: _session(box, r, w), "127.0.0.1", 0)
        box.port = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await server.serve_forever()

    task = loop.create_task(main())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield box
    finally:
        async def stop():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
