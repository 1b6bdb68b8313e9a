# Copyright 2026 The Loyal Authors. Licensed under the Apache License, Version 2.0.
"""Exceptions the CLI turns into a one-line message and exit code 2."""


class UsageError(Exception):
    """A user-facing problem with arguments, files or configuration."""


#: Exceptions that mean "bad input" anywhere in the stack; the CLI reports them without a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    UsageError,
    ValueError,
    TypeError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
    PermissionError,
)
