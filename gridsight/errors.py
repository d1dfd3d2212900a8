"""Errors a user can act on. The CLI prints them as one line, never a traceback."""


class UserError(Exception):
    """Bad input or configuration; the message says what to do."""
