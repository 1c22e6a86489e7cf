"""Settings of carbonpark, read from the environment (prefix ``CARBONPARK_``).

Nothing is read at import: call :func:`get_settings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_db_url", "get_settings"]


class Settings(BaseSettings):
    """Runtime settings.

    Attributes
    ----------
    db
        SQLAlchemy URL or SQLite file path (``CARBONPARK_DB``); empty means ``./carbonpark.db``.
    timezone
        IANA zone of the park; naive timestamps are read in it (``CARBONPARK_TIMEZONE``).
    handle_prefix
        The park's Handle prefix without ``88.`` (``CARBONPARK_HANDLE_PREFIX``), e.g. ``1234``
        gives identifiers ``88.1234/meter.17``.
    output_dir
        Where reports and demo outputs go (``CARBONPARK_OUTPUT_DIR``).
    """

    model_config = SettingsConfigDict(env_prefix="CARBONPARK_", extra="ignore")

    db: str = ""
    timezone: str = "Asia/Shanghai"
    handle_prefix: str = Field(default="1234", pattern=r"^[0-9A-Za-z.]+$")
    output_dir: Path = Path("carbonpark-output")
    actor: str = "cli"


def get_settings() -> Settings:
    """Build the settings from the environment now."""
    return Settings()


def default_db_url(settings: Settings | None = None) -> str:
    """The database URL in force: ``CARBONPARK_DB`` or the SQLite file ``./carbonpark.db``."""
    s = settings or get_settings()
    return s.db or "sqlite:///carbonpark.db"
