from __future__ import annotations

from pathlib import Path

import pytest

from mychat.settings import ConfigurationError, Settings


def test_database_url_wins_over_mysql_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql+asyncmy://u:p@db:3306/x")
    monkeypatch.setenv("MYSQL_HOST", "other")
    assert Settings().sqlalchemy_url == "mysql+asyncmy://u:p@db:3306/x"


def test_seed_mysql_variables_build_the_url_with_their_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("MYSQL_HOST", "db")
    monkeypatch.setenv("MYSQL_PORT", "3307")
    monkeypatch.setenv("MYSQL_USER", "chat")
    monkeypatch.setenv("MYSQL_PASSWORD", "p@ss word")
    monkeypatch.setenv("MYSQL_DATABASE", "mychat")
    url = Settings().sqlalchemy_url
    assert url == "mysql+asyncmy://chat:p%40ss+word@db:3307/mychat?charset=utf8mb4"


def test_default_is_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.is_sqlite
    assert settings.sqlalchemy_url.endswith(str(tmp_path / "mychat.sqlite3"))


def test_short_jwt_secret_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        Settings(data_dir=tmp_path, jwt_secret="short").resolved_jwt_secret(embedded=True)


def test_a_service_alone_requires_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="required"):
        Settings(data_dir=tmp_path).resolved_jwt_secret(embedded=False)


def test_embedded_mode_generates_and_keeps_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JWT_SECRET", raising=False)
    first = Settings(data_dir=tmp_path).resolved_jwt_secret(embedded=True)
    second = Settings(data_dir=tmp_path).resolved_jwt_secret(embedded=True)
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0


def test_allowed_origins_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYCHAT_ALLOWED_ORIGINS", "https://a.example, https://b.example,")
    assert Settings().allowed_origins == ("https://a.example", "https://b.example")


def test_bad_port_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYCHAT_PORT", "70000")
    with pytest.raises(ValueError, match="MYCHAT_PORT"):
        Settings()
