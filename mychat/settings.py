"""The one settings object, read from the environment once by each app factory or the CLI."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import quote_plus

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_JWT_SECRET_BYTES = 32


class ConfigurationError(RuntimeError):
    """The configuration cannot work; the process refuses to start."""


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Everything configurable, with the environment variable names documented in README.md."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    host: str = Field("127.0.0.1", validation_alias=_env("MYCHAT_HOST", "host"))
    port: int = Field(8080, ge=0, le=65535, validation_alias=_env("MYCHAT_PORT", "port"))
    data_dir: Path = Field(Path("data"), validation_alias=_env("MYCHAT_DATA_DIR", "data_dir"))

    database_url: str | None = Field(None, validation_alias=_env("DATABASE_URL", "database_url"))
    mysql_host: str | None = Field(None, validation_alias=_env("MYSQL_HOST", "mysql_host"))
    mysql_port: int = Field(3306, validation_alias=_env("MYSQL_PORT", "mysql_port"))
    mysql_user: str = Field("root", validation_alias=_env("MYSQL_USER", "mysql_user"))
    mysql_password: str = Field("", validation_alias=_env("MYSQL_PASSWORD", "mysql_password"))
    mysql_database: str = Field("mychat", validation_alias=_env("MYSQL_DATABASE", "mysql_database"))
    # Connections kept open per pool and process (no overflow: see mychat/db.py).
    db_pool_size: int = Field(
        40, ge=1, validation_alias=_env("MYCHAT_DB_POOL_SIZE", "db_pool_size")
    )

    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL", "redis_url"))

    jwt_secret: str | None = Field(None, validation_alias=_env("JWT_SECRET", "jwt_secret"))
    jwt_ttl_seconds: int = Field(
        3600, ge=60, validation_alias=_env("MYCHAT_JWT_TTL_SECONDS", "jwt_ttl_seconds")
    )

    # Where the gateway finds the services in the topology; unset means in-process (embedded).
    auth_url: str | None = Field(None, validation_alias=_env("MYCHAT_AUTH_URL", "auth_url"))
    chat_url: str | None = Field(None, validation_alias=_env("MYCHAT_CHAT_URL", "chat_url"))

    # Extra allowed WebSocket/browser origins; same-origin and localhost are always allowed.
    allowed_origins_csv: str = Field(
        "", validation_alias=_env("MYCHAT_ALLOWED_ORIGINS", "allowed_origins")
    )
    web_dist: Path | None = Field(None, validation_alias=_env("MYCHAT_WEB_DIST", "web_dist"))
    log_level: str = Field("info", validation_alias=_env("MYCHAT_LOG_LEVEL", "log_level"))
    # `json`: one JSON object a line, with the request id nginx passes on.
    log_format: Literal["text", "json"] = Field(
        "text", validation_alias=_env("MYCHAT_LOG_FORMAT", "log_format")
    )
    # Prometheus metrics on a port of their own, never routed by nginx; unset means off.
    metrics_port: int | None = Field(
        None, ge=0, le=65535, validation_alias=_env("MYCHAT_METRICS_PORT", "metrics_port")
    )
    metrics_host: str = Field(
        "127.0.0.1", validation_alias=_env("MYCHAT_METRICS_HOST", "metrics_host")
    )

    # `mychat stack`: the repository files it renders and loads (relative to the current folder).
    nginx_conf: Path = Field(
        Path("nginx.conf"), validation_alias=_env("MYCHAT_NGINX_CONF", "nginx_conf")
    )
    init_sql: Path = Field(
        Path("db/init.sql"), validation_alias=_env("MYCHAT_INIT_SQL", "init_sql")
    )

    # Abuse limits.
    login_rate_per_minute: int = Field(
        20, ge=1, validation_alias=_env("MYCHAT_LOGIN_RATE_PER_MINUTE", "login_rate_per_minute")
    )
    # A user stays "online" this long after their gateway's last heartbeat (a killed gateway's
    # users go offline within about this plus a third of it).
    presence_ttl_seconds: float = Field(
        15.0,
        ge=1.0,
        le=300.0,
        validation_alias=_env("MYCHAT_PRESENCE_TTL_SECONDS", "presence_ttl_seconds"),
    )
    send_rate_per_minute: int = Field(
        600, ge=1, validation_alias=_env("MYCHAT_SEND_RATE_PER_MINUTE", "send_rate_per_minute")
    )
    chat_create_rate_per_minute: int = Field(
        10,
        ge=1,
        validation_alias=_env("MYCHAT_CHAT_CREATE_RATE_PER_MINUTE", "chat_create_rate_per_minute"),
    )
    member_add_rate_per_minute: int = Field(
        100,
        ge=1,
        validation_alias=_env("MYCHAT_MEMBER_ADD_RATE_PER_MINUTE", "member_add_rate_per_minute"),
    )
    # `mychat serve` facing clients directly (mychat/serve_guard.py; nginx in the topology).
    serve_max_header_bytes: int = Field(
        16 * 1024,
        ge=1024,
        validation_alias=_env("MYCHAT_SERVE_MAX_HEADER_BYTES", "serve_max_header_bytes"),
    )
    serve_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        validation_alias=_env(
            "MYCHAT_SERVE_HEADER_TIMEOUT_SECONDS", "serve_header_timeout_seconds"
        ),
    )
    serve_max_connections: int = Field(
        10_000,
        ge=1,
        validation_alias=_env("MYCHAT_SERVE_MAX_CONNECTIONS", "serve_max_connections"),
    )
    serve_connections_per_address: int = Field(
        128,
        ge=1,
        validation_alias=_env(
            "MYCHAT_SERVE_CONNECTIONS_PER_ADDRESS", "serve_connections_per_address"
        ),
    )
    # Gateway limits (see gateway/limits.py and gateway/cost.py).
    ws_per_user: int = Field(20, ge=1, validation_alias=_env("MYCHAT_WS_PER_USER", "ws_per_user"))
    ws_unauthenticated_per_address: int = Field(
        20,
        ge=1,
        validation_alias=_env(
            "MYCHAT_WS_UNAUTHENTICATED_PER_ADDRESS", "ws_unauthenticated_per_address"
        ),
    )
    subscriptions_per_user: int = Field(
        40, ge=1, validation_alias=_env("MYCHAT_SUBSCRIPTIONS_PER_USER", "subscriptions_per_user")
    )
    graphql_max_service_calls: int = Field(
        50,
        ge=1,
        validation_alias=_env("MYCHAT_GRAPHQL_MAX_SERVICE_CALLS", "graphql_max_service_calls"),
    )
    graphql_max_nodes: int = Field(
        10_000, ge=1, validation_alias=_env("MYCHAT_GRAPHQL_MAX_NODES", "graphql_max_nodes")
    )
    graphql_cost_per_minute: int = Field(
        3_000,
        ge=1,
        validation_alias=_env("MYCHAT_GRAPHQL_COST_PER_MINUTE", "graphql_cost_per_minute"),
    )
    service_calls_per_user: int = Field(
        8, ge=1, validation_alias=_env("MYCHAT_SERVICE_CALLS_PER_USER", "service_calls_per_user")
    )

    @property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL wins, then the seed's MYSQL_* variables, then SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        if self.mysql_host:
            user = quote_plus(self.mysql_user)
            password = quote_plus(self.mysql_password)
            return (
                f"mysql+asyncmy://{user}:{password}@{self.mysql_host}:{self.mysql_port}"
                f"/{self.mysql_database}?charset=utf8mb4"
            )
        return f"sqlite+aiosqlite:///{self.data_dir / 'mychat.sqlite3'}"

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        return tuple(o.strip() for o in self.allowed_origins_csv.split(",") if o.strip())

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    def resolved_jwt_secret(self, *, embedded: bool) -> str:
        """The signing secret; embedded mode may generate one and keep it in the data folder."""
        if self.jwt_secret is not None:
            if len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
                raise ConfigurationError(
                    f"JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes long"
                )
            return self.jwt_secret
        if not embedded:
            raise ConfigurationError("JWT_SECRET is required when a service runs on its own")
        secret_file = self.data_dir / "jwt_secret"
        if secret_file.exists():
            return secret_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        secret_file.touch(mode=0o600)
        secret_file.write_text(secret)
        return secret
