"""The servers the production topology's processes share: PostgreSQL for
conversations and tickets, Redis for Rasa's lock store and the fan-out
between processes, RabbitMQ for Rasa's events.

`SharedServers.from_environment()` reads the same variables the containers
get (docs/deployment.md), with this machine's servers as defaults; the
launcher passes them on to Rasa, which expands them in
endpoints.production.yml, and to the bridge as URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import quote

import aio_pika
import psycopg2
import redis
from psycopg2 import sql


@dataclass(frozen=True)
class SharedServers:
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 5432
    postgres_user: str = "postgres"
    postgres_password: str = ""
    # The database an account may always connect to, to create the others.
    postgres_login_db: str = "postgres"
    tracker_db: str = "cloudpick_tracker"
    handoff_db: str = "cloudpick_handoff"
    redis_host: str = "127.0.0.1"
    redis_port: int = 6379
    redis_password: str = ""
    redis_lock_db: int = 1
    # Every Redis key and pub/sub channel of one deployment starts with this
    # (pub/sub channels are shared by all of a server's databases). Letters
    # and digits only: Rasa's lock store ignores any other prefix, and
    # deployments would then share their conversation locks.
    redis_key_prefix: str = "cloudpick"
    rabbitmq_host: str = "127.0.0.1"
    rabbitmq_port: int = 5672
    rabbitmq_user: str = "guest"
    rabbitmq_password: str = "guest"
    rabbitmq_exchange: str = "cloudpick"
    rabbitmq_queue: str = "cloudpick.handoff"

    # Each setting's environment variable: the names endpoints.production.yml,
    # the compose file and the Kubernetes manifests use.
    VARIABLES = {
        "postgres_host": "POSTGRES_HOST",
        "postgres_port": "POSTGRES_PORT",
        "postgres_user": "POSTGRES_USER",
        "postgres_password": "POSTGRES_PASSWORD",
        "postgres_login_db": "POSTGRES_LOGIN_DB",
        "tracker_db": "TRACKER_DB",
        "handoff_db": "HANDOFF_DB",
        "redis_host": "REDIS_HOST",
        "redis_port": "REDIS_PORT",
        "redis_password": "REDIS_PASSWORD",
        "redis_lock_db": "REDIS_LOCK_DB",
        "redis_key_prefix": "REDIS_KEY_PREFIX",
        "rabbitmq_host": "RABBITMQ_HOST",
        "rabbitmq_port": "RABBITMQ_PORT",
        "rabbitmq_user": "RABBITMQ_USER",
        "rabbitmq_password": "RABBITMQ_PASSWORD",
        "rabbitmq_exchange": "RABBITMQ_EXCHANGE",
        "rabbitmq_queue": "RABBITMQ_QUEUE",
    }

    def __post_init__(self) -> None:
        if not self.redis_key_prefix.isalnum():
            raise ValueError(
                f"REDIS_KEY_PREFIX must be letters and digits, not {self.redis_key_prefix!r}: "
                "Rasa's lock store ignores any other prefix."
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> SharedServers:
        defaults = cls()
        values = {}
        for attribute, variable in cls.VARIABLES.items():
            default = getattr(defaults, attribute)
            raw = environ.get(variable)
            values[attribute] = default if raw in (None, "") else type(default)(raw)
        return cls(**values)

    def isolated(self, suffix: str) -> SharedServers:
        """The same servers, with databases, keys and queues of their own:
        a test's or a benchmark's stack beside `make run-prod`'s."""
        return replace(
            self,
            tracker_db=f"{self.tracker_db}_{suffix}",
            handoff_db=f"{self.handoff_db}_{suffix}",
            redis_key_prefix=f"{self.redis_key_prefix}{suffix}",
            rabbitmq_exchange=f"{self.rabbitmq_exchange}.{suffix}",
            rabbitmq_queue=f"{self.rabbitmq_queue}.{suffix}",
        )

    def environment(self) -> dict[str, str]:
        """What endpoints.production.yml expands."""
        return {
            variable: str(getattr(self, attribute))
            for attribute, variable in self.VARIABLES.items()
        }

    def postgres_url(self, database: str) -> str:
        credentials = quote(self.postgres_user, safe="")
        if self.postgres_password:
            credentials += ":" + quote(self.postgres_password, safe="")
        return f"postgresql://{credentials}@{self.postgres_host}:{self.postgres_port}/{database}"

    @property
    def handoff_database_url(self) -> str:
        return self.postgres_url(self.handoff_db)

    @property
    def redis_url(self) -> str:
        """Redis for what the processes tell each other (database 0; the
        lock store keeps to its own)."""
        password = f":{quote(self.redis_password, safe='')}@" if self.redis_password else ""
        return f"redis://{password}{self.redis_host}:{self.redis_port}/0"

    @property
    def rabbitmq_url(self) -> str:
        user = quote(self.rabbitmq_user, safe="")
        password = quote(self.rabbitmq_password, safe="")
        return f"amqp://{user}:{password}@{self.rabbitmq_host}:{self.rabbitmq_port}/"

    def create_databases(self) -> None:
        """Creates the tracker's and the bridge's databases if missing. Rasa
        would create its own, but its workers would race to."""
        with contextlib.closing(self._login()) as connection:
            for name in (self.tracker_db, self.handoff_db):
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                    if cursor.fetchone() is None:
                        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def discard(self) -> None:
        """Drops what `isolated()` servers held: their databases, Redis keys
        and RabbitMQ exchange and queue."""
        with contextlib.closing(self._login()) as connection, connection.cursor() as cursor:
            for name in (self.tracker_db, self.handoff_db):
                cursor.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        for database in (0, self.redis_lock_db):
            client = redis.Redis.from_url(self.redis_url, db=database)
            try:
                for key in client.scan_iter(match=f"{self.redis_key_prefix}*", count=1000):
                    client.delete(key)
            finally:
                client.close()
        # Callable from a test's or benchmark's event loop too: asyncio.run
        # refuses to nest, so the queue is deleted from a thread of its own.
        worker = threading.Thread(target=asyncio.run, args=(self._delete_queue(),))
        worker.start()
        worker.join()

    def _login(self) -> psycopg2.extensions.connection:
        connection = psycopg2.connect(
            host=self.postgres_host,
            port=self.postgres_port,
            user=self.postgres_user,
            password=self.postgres_password or None,
            dbname=self.postgres_login_db,
        )
        connection.autocommit = True  # CREATE/DROP DATABASE refuse transactions
        return connection

    async def _delete_queue(self) -> None:
        connection = await aio_pika.connect(self.rabbitmq_url)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.rabbitmq_queue)
            await channel.exchange_delete(self.rabbitmq_exchange)
