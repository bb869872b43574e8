"""The one error the domain raises: a machine code plus a message a person can act on."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused. `code` is for machines; `message` (Chinese) says what was wrong and what is allowed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
