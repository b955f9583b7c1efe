# Local stub: passlib (the libpass fork) ships no types; this covers only what voice_app.auth.security uses.
from typing import Any

class CryptContext:
    def __init__(self, schemes: str | list[str] | None = None, **kwds: Any) -> None: ...
    def hash(
        self, secret: str | bytes, scheme: str | None = None, category: str | None = None, **kwds: Any
    ) -> str: ...
    def verify(
        self,
        secret: str | bytes,
        hash: str | bytes | None,
        scheme: str | None = None,
        category: str | None = None,
        **kwds: Any,
    ) -> bool: ...
    def verify_and_update(
        self,
        secret: str | bytes,
        hash: str | bytes | None,
        scheme: str | None = None,
        category: str | None = None,
        **kwds: Any,
    ) -> tuple[bool, str | None]: ...
