"""The base of every app's domain error.

A service raises its app's error with a message written for the person who
asked; the API turns it into a response with `http_status` and that message,
pages show it as a form or page error. Messages never carry internal details.
"""


class DomainError(Exception):
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConflictError(DomainError):
    """The action cannot be taken in the object's current state."""

    http_status = 409
