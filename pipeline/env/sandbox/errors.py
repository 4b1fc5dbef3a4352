"""The one error shape every sandbox API answers with, and shortcuts for the common cases.

Every spec declares the same ``Error`` schema: ``error`` is a stable machine code, ``message``
a sentence a model can act on (it names the argument at fault), ``param`` the argument when
there is one, ``status`` the HTTP status repeated for clients that only keep the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message, "status": self.status}
        if self.param is not None:
            body["param"] = self.param
        return body


def bad_request(message: str, *, param: str | None = None, code: str = "invalid_parameter") -> ApiError:
    return ApiError(400, code, message, param=param)


def not_found(kind: str, identifier: object, *, param: str | None = None, key: str = "id") -> ApiError:
    return ApiError(404, "not_found", f"No {kind} with {key} {identifier!r}.", param=param)


def conflict(message: str, *, param: str | None = None) -> ApiError:
    return ApiError(409, "conflict", message, param=param)
