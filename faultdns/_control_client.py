"""The client of faultdns's control API (:mod:`faultdns._control` is the server and
lists the endpoints): a typed wrapper over httpx for the CLI's ``fault``/``reset``/...
commands and for tests.  Errors: :class:`ControlError` (the API answered with an error
status), :class:`ControlUnreachable` (nothing answered), :class:`ControlTimeout` (no answer
in time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from faultdns._control import CLIENT_HEADER, DEFAULT_CONTROL_URL

__all__ = ["ControlClient", "ControlError", "ControlTimeout", "ControlUnreachable"]


class ControlError(Exception):
    """The control API answered with an error status; ``message`` is its explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class ControlUnreachable(Exception):
    """Nothing answered at the control URL (not running, wrong port, firewall...)."""


class ControlTimeout(ControlUnreachable):
    """The control API did not answer within the client's timeout (it may be running)."""


class ControlClient:
    """A typed client for the control API; the CLI's ``fault``/``reset``/... use it."""

    def __init__(
        self, url: str = DEFAULT_CONTROL_URL, *, token: str | None = None, timeout: float = 5.0
    ) -> None:
        if "://" not in url:
            url = f"http://{url}"
        self.url = url.rstrip("/")
        headers = {CLIENT_HEADER: "1"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ControlTimeout(
                f"the faultdns control API at {self.url} did not answer within"
                f" {self.timeout:g}s (timed out: {type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise ControlUnreachable(
                f"cannot reach the faultdns control API at {self.url}: {exc or type(exc).__name__}"
            ) from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.is_error:
            message = (
                payload["error"]
                if isinstance(payload, dict) and isinstance(payload.get("error"), str)
                else response.text.strip() or response.reason_phrase
            )
            raise ControlError(response.status_code, message)
        if payload is None:
            raise ControlError(
                response.status_code, f"not a faultdns control API (non-JSON reply from {self.url})"
            )
        return payload

    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/")
        return result

    def faults(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "/faults")["faults"]
        return result

    def add_fault(self, spec: str | Mapping[str, Any]) -> str:
        """Add a rule (spec string or mapping of spec keys); return its id."""
        body = spec if isinstance(spec, str) else dict(spec)
        return str(self._request("POST", "/faults", json=body)["id"])

    def remove_fault(self, fault_id: str) -> None:
        self._request("DELETE", f"/faults/{fault_id}")

    def reset(self) -> None:
        self._request("POST", "/reset")

    def queries(self, since: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
        params: dict[str, int] = {"since": since}
        if limit is not None:
            params["limit"] = limit
        result: list[dict[str, Any]] = self._request("GET", "/queries", params=params)["queries"]
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/stats")
        return result

    def records(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "/records")["records"]
        return result

    def add_record(self, spec: str) -> None:
        self._request("POST", "/records", json=spec)
