"""Domain errors of the service layer; the app turns them into HTTP answers."""

from __future__ import annotations


class ServiceError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(ServiceError):
    status_code = 404


class Forbidden(ServiceError):
    status_code = 403


class Conflict(ServiceError):
    """A transition that the ticket's status does not allow (409), with the allowed ones."""

    status_code = 409

    def __init__(self, detail: str, status: str | None = None, allowed: list[str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.allowed = allowed or []


class Invalid(ServiceError):
    """Bad input found by the service (422), in FastAPI's field-error shape."""

    status_code = 422

    def __init__(self, loc: tuple | list, msg: str) -> None:
        super().__init__(msg)
        self.errors = [{"loc": list(loc), "msg": msg, "type": "value_error"}]


class TooLarge(ServiceError):
    status_code = 413


class Unavailable(ServiceError):
    status_code = 503
