"""The Kundencenter API as the pages use it: through the gateway, with the session's token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class ApiProblem(Exception):
    """An answer other than 2xx: the API's machine-readable code, its sentence and details."""

    status: int
    code: str
    message: str = ""
    details: Any = field(default=None)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    @property
    def signs_out(self) -> bool:
        """The token no longer identifies an active user: the session ends."""
        return self.status == 401 or (self.status == 403 and self.code == "user_inactive")


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        client_ip: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if client_ip:
            sent["X-Forwarded-For"] = client_ip
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            response = await self.client.request(method, path, json=json, params=clean, headers=sent)
        except httpx.HTTPError as exc:
            raise ApiProblem(503, "api_unreachable", f"the API is not reachable ({type(exc).__name__})") from exc
        if response.status_code >= 400:
            try:
                error = response.json().get("error") or {}
            except ValueError:
                error = {}
            if not isinstance(error, dict):
                error = {}
            raise ApiProblem(
                response.status_code,
                str(error.get("code") or f"http_{response.status_code}"),
                str(error.get("message") or ""),
                error.get("details"),
            )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
