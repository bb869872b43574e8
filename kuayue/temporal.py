"""The Temporal connection: one way to build a client, the workflow sandbox, search-attribute registration, and
workers that skip the SDK's no-op payload passes."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from typing import Any

import temporalio.bridge.worker as bridge_worker
import temporalio.converter
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from kuayue.logging import LoggingInterceptor
from kuayue.settings import Settings


def client_options() -> dict[str, Any]:
    """Keyword arguments every Kuayue client needs, whoever builds it (`connect`, test environments)."""
    return {"data_converter": pydantic_data_converter, "interceptors": [LoggingInterceptor()]}


async def connect(settings: Settings | None = None, **overrides: Any) -> Client:
    """Connect to the Temporal cluster named by Temporal's environment configuration (default localhost:7233).

    `overrides` are keyword arguments of `Client.connect` and win over the environment (e.g. `target_host=`).
    """
    settings = settings or Settings.from_env()
    options: dict[str, Any] = {
        **settings.temporal.to_client_connect_config(),
        "target_host": settings.temporal_address,
        **client_options(),
        **overrides,
    }
    return await Client.connect(**options)


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The workflow runner for every Kuayue worker and replayer: the sandbox's runtime checks, no re-imports.

    Every module is passed through rather than re-imported for each workflow run. Re-importing is what makes
    module-level state safe in general, but Kuayue's workflow code has none (domain/ and workflows/ are pure by
    rule), and re-imports are slow here: this environment forbids bytecode caches, so each new deal would
    compile its modules again. Passing through also keeps one set of pydantic classes, one structlog
    configuration and one set of logging contextvars. The sandbox still refuses non-deterministic calls
    (clock, randomness, I/O) at run time.
    """
    restrictions = SandboxRestrictions.default.with_passthrough_all_modules()
    return SandboxedWorkflowRunner(restrictions=restrictions)


class SearchAttributeConflict(RuntimeError):
    """A search attribute is already registered in the namespace with another type."""


async def register_search_attributes(client: Client, keys: Iterable[SearchAttributeKey[Any]]) -> list[str]:
    """Register each key the client's namespace lacks and return the names added; existing keys are left alone.

    Needed even when the dev server was given `--search-attribute`: on a restart with an existing database file it
    ignores those flags, so attributes added to the code later would never be registered. Temporal Cloud refuses
    this call (attributes are managed in its own console); expect PERMISSION_DENIED there.
    """
    wanted = {key.name: IndexedValueType.ValueType(key.indexed_value_type) for key in keys}
    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=client.namespace))
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        # The Java time-skipping test server can add attributes but not list them.
        return await _add_one_by_one(client, wanted)
    existing = {**listed.system_attributes, **listed.custom_attributes}
    for name, value_type in wanted.items():
        if name in existing and existing[name] != value_type:
            raise SearchAttributeConflict(
                f"search attribute {name} is registered in namespace {client.namespace!r} as "
                f"{IndexedValueType.Name(existing[name])}, but Kuayue needs {IndexedValueType.Name(value_type)}; "
                "a namespace cannot change an attribute's type: use a fresh namespace or database file"
            )
    missing = {name: value_type for name, value_type in wanted.items() if name not in existing}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)


async def _add_one_by_one(client: Client, wanted: dict[str, IndexedValueType.ValueType]) -> list[str]:
    added: list[str] = []
    for name, value_type in wanted.items():
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes={name: value_type})
            )
        except RPCError as err:
            # Without a listing, ALREADY_EXISTS is how we learn it is there; its type cannot be checked.
            if err.status != RPCStatusCode.ALREADY_EXISTS:
                raise
        else:
            added.append(name)
    return added


# --------------------------------------------------------------------------- the SDK's no-op payload passes

# True within `skipping_noop_payload_passes`: a worker or replayer whose tasks start there inherits it (asyncio copies
# the context when the SDK creates its tasks), so only the workers and replayers that ask for it take the fast path.
_SKIPPING: contextvars.ContextVar[bool] = contextvars.ContextVar("kuayue_skip_noop_payload_passes", default=False)


def _without_noop_payload_passes() -> None:
    """Skip the SDK's payload passes over each activation and completion when they cannot change anything.

    For every workflow activation the SDK walks the activation and then the completion three times each (payload
    codec, external-storage references, external storage) in Python, and in the sandbox each payload it meets enters
    the sandbox to find its serialization context. With no payload codec and no external storage — Kuayue's converter
    has neither — each walk returns every payload as it was, yet they were ≈ 20 % of an unsandboxed replay and half of
    a sandboxed one (`bench/audit.py`), and ≈ 15 ms of a broker command's round trip on a worker (`bench/lifecycle.py`).
    Only workers and replayers started within `skipping_noop_payload_passes` skip them, and only with a converter
    that has neither; everything else goes through the SDK's passes. If a later SDK renames what this wraps, nothing
    is wrapped and workflows are only slower (tests/audit/test_replay.py checks that both paths replay alike).
    """
    decode, encode = getattr(bridge_worker, "decode_activation", None), getattr(bridge_worker, "encode_completion", None)
    # What the passes report: metrics of external-storage operations, none here.
    no_op = getattr(getattr(temporalio.converter, "_extstore", None), "StorageOperationMetrics", None)
    if decode is None or encode is None or no_op is None or getattr(decode, "kuayue_fast_path", False):
        return

    def can_skip(converter: DataConverter) -> bool:
        return (
            _SKIPPING.get()
            and getattr(converter, "payload_codec", True) is None
            and getattr(converter, "external_storage", True) is None
        )

    async def decode_activation(activation: Any, data_converter: DataConverter, *args: Any, **kwargs: Any) -> Any:
        if can_skip(data_converter):
            return no_op()
        return await decode(activation, data_converter, *args, **kwargs)

    async def encode_completion(completion: Any, data_converter: DataConverter, *args: Any, **kwargs: Any) -> Any:
        if can_skip(data_converter):
            return no_op()
        return await encode(completion, data_converter, *args, **kwargs)

    decode_activation.kuayue_fast_path = True  # type: ignore[attr-defined]
    bridge_worker.decode_activation = decode_activation
    bridge_worker.encode_completion = encode_completion


_without_noop_payload_passes()


@contextlib.contextmanager
def skipping_noop_payload_passes(enabled: bool = True) -> Iterator[None]:
    """Workers run and replayers entered within this block skip the SDK's payload passes that cannot change anything.

    The flag travels with the tasks the SDK creates when the worker starts (or the replayer's iterator is entered),
    so leaving the block right after starting is enough.
    """
    token = _SKIPPING.set(enabled)
    try:
        yield
    finally:
        _SKIPPING.reset(token)


class LeanWorker(Worker):
    """Temporal's Worker, with workflow activations that skip the SDK's no-op payload passes (see above)."""

    async def run(self) -> None:
        # Set in the task that runs the worker, so its pollers and activations inherit it and nothing else does.
        token = _SKIPPING.set(True)
        try:
            await super().run()
        finally:
            _SKIPPING.reset(token)
