"""One error hierarchy for haechi: bad input and missing extras exit 2, everything else 1."""

from __future__ import annotations


class HaechiError(Exception):
    """A failure haechi knows how to explain (exit code 1 at the CLI)."""

    exit_code = 1


class InputError(HaechiError):
    """Bad user input (exit code 2): names where it is and what was expected.

    ``file``, ``line`` and ``field`` locate the problem; ``hint`` says what to do.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        self.hint = hint
        super().__init__(self.describe())

    def describe(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line is not None else "")
        if self.field:
            where = f"{where} field '{self.field}'" if where else f"field '{self.field}'"
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class BackendError(HaechiError):
    """A model backend failed at run time (server error, out of memory, missing extra)."""


class MissingExtraError(HaechiError):
    """An optional dependency is not installed; the message names the extra to install
    (exit code 2: the user fixes it, as with bad input)."""

    exit_code = 2

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this needs the '{package}' package, which is not installed: "
            f"pip install 'haechi[{extra}]'"
        )
        self.package = package
        self.extra = extra
