"""Errors about one line of a user's file, located from its document's ``file:line`` origin."""

from __future__ import annotations

from haechi.errors import InputError
from haechi.tasks.documents import Document


def document_error(doc: Document, message: str, field: str) -> InputError:
    """An ``InputError`` naming the file, line and field of ``doc``."""
    file, _, line = doc.origin.rpartition(":")
    return InputError(message, file=file, line=int(line), field=field)
