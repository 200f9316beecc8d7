"""The gateway's ceiling for `make bench`: requests per second nginx passes through to an upstream that costs
nothing (``/_bench/echo``, proxied like every API route), next to what it answers itself (``/healthz``, no
upstream). A raw HTTP/1.1 keep-alive client on asyncio streams (an HTTP library would be the bottleneck long
before nginx): ``connections`` connections, one request in flight on each, for ``seconds``.

The client runs on the same machine, so the figure is a floor for nginx and a ceiling for anything routed
through it here (when pass-through and direct come out equal, the client is the limit); `python -m
bench.gateway_rate` prints it alone.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

GATEWAY = "http://127.0.0.1:8080"


async def _connection(host: str, port: int, path: str, until: float, counts: list[int]) -> None:
    """One client connection; reconnects when nginx closes it (after ``keepalive_requests``, 1,000 by default)."""
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    done = 0
    try:
        while time.monotonic() < until:
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
                writer.close()  # nginx closed it (keepalive_requests) before or while this request went out
                reader, writer = await asyncio.open_connection(host, port)
                continue
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
            done += 1
    finally:
        counts.append(done)
        writer.close()


async def rate(path: str, seconds: float = 3.0, connections: int = 32, gateway: str = GATEWAY) -> float:
    """Requests per second answered 200 on ``path``."""
    url = urlsplit(gateway)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    counts: list[int] = []
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(_connection(host, port, path, until, counts) for _ in range(connections)))
    return sum(counts) / (time.monotonic() - started)


async def gateway_rates(seconds: float = 3.0, connections: int = 32) -> dict[str, float]:
    """{"nginx_pass_through_per_s": …, "nginx_direct_per_s": …} measured one after the other."""
    return {
        "nginx_pass_through_per_s": await rate("/_bench/echo", seconds, connections),
        "nginx_direct_per_s": await rate("/healthz", seconds, connections),
    }


if __name__ == "__main__":
    figures = asyncio.run(gateway_rates())
    print(
        f"nginx: {figures['nginx_pass_through_per_s']:,.0f} requests/s passed through to an upstream, "
        f"{figures['nginx_direct_per_s']:,.0f}/s answered by itself"
    )
