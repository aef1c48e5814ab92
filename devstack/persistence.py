"""The devstack's state across restarts: a snapshot of the emulators taken at a clean stop and
restored at the next start.

A snapshot is one folder, `<data dir>/snapshot/`:
- `moto.pickle`: every moto service backend in use (tables with their items, buckets with their
  objects, user pools with their users and keys, queues with their messages, state machines, ...)
  and the `Deployment` (what the resource creator found: names, functions, routes, mappings), in
  one pickle so that objects shared between them stay shared;
- `search/`: each search index (`<index>.index.json` with its settings, mappings and aliases;
  `<index>.ndjson` with its documents as bulk actions, the layout osmem-server's `--seed` reads);
- `snapshot.json`, written last: the template fingerprint and the endpoints the stack had.

A snapshot is written beside the old one and renamed into place, so a crash while saving leaves
the previous snapshot (or none), never a half one. A snapshot that fails to load is moved aside
and the stack starts clean; one taken from another template (or another resource creator) is
discarded: its resources are not what the template now declares.
"""

from __future__ import annotations

import copyreg
import fcntl
import gc
import hashlib
import json
import os
import pickle
import re
import shutil
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, BinaryIO

from devstack.search_snapshot import dump_search

SNAPSHOT_FORMAT = 1
SNAPSHOT = "snapshot"
MOTO_FILE = "moto.pickle"
SEARCH_DIR = "search"
META_FILE = "snapshot.json"
LOCK_FILE = "lock"

# What decides the resources a stack has: the template and the code that creates them.
FINGERPRINTED = ("template.yaml", "devstack/resources.py", "devstack/resources", "devstack/template.py")


def template_fingerprint(root: Path) -> str:
    digest = hashlib.sha256(f"format {SNAPSHOT_FORMAT}".encode())
    for name in FINGERPRINTED:
        path = root / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.is_file() else []
        for file in files:
            digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:16]


class DataDirInUse(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------- pickling
def _rebuild_rsa_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


def _reduce_rsa_key(key: Any) -> tuple[Callable[[bytes], Any], tuple[bytes]]:
    from cryptography.hazmat.primitives import serialization

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return _rebuild_rsa_key, (pem,)


def _rebuild_weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


def _rebuild_defaultdict(kind: type, items: dict[Any, Any]) -> defaultdict[Any, Any]:
    return defaultdict(kind, items)


def _reduce_defaultdict(value: defaultdict[Any, Any]) -> tuple[Any, tuple[Any, ...]]:
    """moto builds some defaultdicts with `lambda: {}`, which pickle cannot name: such a factory is
    replaced by the type of what it makes (dict, list, set)."""
    factory: Any = value.default_factory
    if getattr(factory, "__name__", "") == "<lambda>":
        made = factory()
        if type(made) in (dict, list, set) and not made:
            factory = type(made)
    return _rebuild_defaultdict, (factory, dict(value))


def _rebuild_item_attributes(items: dict[str, Any]) -> Any:
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    attributes = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(attributes, items)  # the items were checked when first written
    return attributes


def _reduce_item_attributes(attributes: dict[str, Any]) -> tuple[Any, tuple[dict[str, Any]]]:
    """moto's item attributes check the item's whole size on every assignment (quadratic in the
    attributes); unpickling assigns each one, so a restored table is rebuilt without the checks."""
    return _rebuild_item_attributes, (dict(attributes),)


def _dispatch_table() -> dict[Any, Any]:
    """What the standard pickler cannot handle in moto's objects: locks (a fresh, unlocked one is
    restored), the weak-value index of moto's Lambda storage, and cryptography's RSA and EC keys
    (Cognito user pools sign tokens with RSA keys, KMS asymmetric keys hold either; restored from PEM)."""
    from cryptography.hazmat.bindings._rust import openssl
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    table: dict[Any, Any] = dict(copyreg.dispatch_table)
    table[type(threading.Lock())] = lambda _lock: (threading.Lock, ())
    table[type(threading.RLock())] = lambda _lock: (threading.RLock, ())
    table[threading.Condition] = lambda _condition: (threading.Condition, ())
    table[threading.Event] = lambda _event: (threading.Event, ())
    table[weakref.WeakValueDictionary] = lambda weak: (_rebuild_weak_values, (dict(weak.items()),))
    table[openssl.rsa.RSAPrivateKey] = _reduce_rsa_key
    table[openssl.ec.ECPrivateKey] = _reduce_rsa_key  # PKCS#8 PEM holds either kind
    table[defaultdict] = _reduce_defaultdict
    table[LimitedSizeDict] = _reduce_item_attributes
    return table


def dump(payload: Any, stream: BinaryIO) -> None:
    pickler = pickle.Pickler(stream, protocol=5)
    pickler.dispatch_table = _dispatch_table()  # type: ignore[misc]
    pickler.dump(payload)


def _registered() -> list[Any]:
    """The BackendDicts moto has registered (one per service, on first use)."""
    from moto.core.base_backend import BackendDict

    registry: list[Any] = BackendDict._instances  # type: ignore[misc]
    return registry


def moto_backends() -> list[Any]:
    """Every moto service backend the stack has touched."""
    return [backends for backends in _registered() if len(backends)]


def _trim_streams(backends: list[Any]) -> None:
    """Drop DynamoDB stream records already written: a restored stack reads its streams from LATEST,
    and the seeded catalog alone leaves ~90k records that would only make the snapshot bigger. The
    shard's sequence numbers keep counting from where they were."""
    for backend_dict in backends:
        if backend_dict.service_name != "dynamodb":
            continue
        for _account, _region, backend in backend_dict.iter_backends():
            for table in getattr(backend, "tables", {}).values():
                shard = getattr(table, "stream_shard", None)
                if shard is not None and shard.items:
                    shard.starting_sequence_number += len(shard.items)
                    shard.items = []


def _live_backend_dict(backend_class: type, service_name: str) -> Any:
    """The BackendDict of this process's moto that holds `backend_class` backends."""
    import importlib

    from moto.core.base_backend import BackendDict

    module = importlib.import_module(backend_class.__module__)
    for candidate in [*_registered(), *vars(module).values()]:
        if isinstance(candidate, BackendDict) and (candidate.backend, candidate.service_name) == (
            backend_class,
            service_name,
        ):
            return candidate
    raise LookupError(f"moto has no backend registry for {service_name} ({backend_class.__qualname__})")


def install(saved: list[Any]) -> None:
    for restored in saved:
        live = _live_backend_dict(restored.backend, restored.service_name)
        dict.clear(live)
        for account_id, account_backends in dict.items(restored):
            dict.__setitem__(live, account_id, account_backends)
        if live not in _registered():
            _registered().append(live)


# ---------------------------------------------------------------------------------------- endpoints
def rebase(value: Any, replacements: dict[str, str]) -> Any:
    """`value` with each old endpoint in its strings replaced by the new one (a restored stack runs
    on new ports: the search engine's, moto's and, with `--port 0`, the gateway's). Walks
    dataclasses, plain objects, dicts, lists, tuples and sets; replaces in place where it can."""
    patterns = [
        (re.compile(re.escape(old) + r"(?!\d)"), new) for old, new in replacements.items() if old and old != new
    ]
    if not patterns:
        return value
    seen: dict[int, Any] = {}

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            for pattern, new in patterns:
                item = pattern.sub(new, item)
            return item
        if isinstance(item, (int, float, bool, bytes, Path)) or item is None:
            return item
        if id(item) in seen:
            return seen[id(item)]
        if isinstance(item, dict):
            seen[id(item)] = item
            for key in list(item):
                item[walk(key)] = walk(item.pop(key))
            return item
        if isinstance(item, list):
            seen[id(item)] = item
            item[:] = [walk(element) for element in item]
            return item
        if isinstance(item, (tuple, set, frozenset)):
            rebuilt = type(item)(walk(element) for element in item)
            seen[id(item)] = rebuilt
            return rebuilt
        seen[id(item)] = item
        names = [f.name for f in fields(item)] if is_dataclass(item) else list(getattr(item, "__dict__", {}))
        for name in names:
            object.__setattr__(item, name, walk(getattr(item, name)))
        return item

    return walk(value)


# ---------------------------------------------------------------------------------------- the data dir
@dataclass
class Restored:
    """A loaded snapshot: moto's backends are installed; the deployment still names the endpoints
    the stack had when it was saved (`rebase` it onto the new ones)."""

    deployment: Any
    endpoints: dict[str, str]
    search_dump: Path | None
    saved_at: str
    seconds: float
    search_generation: str = ""  # the search engine kept warm since this snapshot (`devstack.warm_engine`)


class DataDir:
    """One stack's state folder. Held with an exclusive lock while a stack runs on it, so two stacks
    never share one (tests give each stack its own)."""

    def __init__(self, path: Path, fingerprint: str, log: Callable[[str], None] = lambda message: None) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.log = log
        self._lock: Any = None

    @property
    def snapshot(self) -> Path:
        return self.path / SNAPSHOT

    def acquire(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        handle = (self.path / LOCK_FILE).open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise DataDirInUse(
                f"{self.path} is in use by a running devstack ({owner}); give this one another --data-dir"
            ) from None
        handle.truncate(0)
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._lock = handle

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def reset(self) -> None:
        if self.snapshot.exists():
            self._remove(self.snapshot)
            self.log(f"state: reset, {self.snapshot} deleted")

    # -- loading ---------------------------------------------------------------------------------
    def load(self) -> Restored | None:
        """Install the snapshot's moto backends and return what else it holds; None (start clean)
        when there is no snapshot, when it comes from another template, or when it cannot be read."""
        meta_path = self.snapshot / META_FILE
        if not meta_path.is_file():
            if self.snapshot.exists():
                self._set_aside("it is incomplete (no snapshot.json)")
            return None
        started = time.perf_counter()
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("fingerprint") != self.fingerprint:
                self.log(
                    f"state: the snapshot in {self.snapshot} was taken with another template.yaml or resource "
                    "creator; its resources no longer match the template, so it is discarded and the stack starts "
                    "clean (your users, playlists and ingested songs from before are gone)"
                )
                self._remove(self.snapshot)
                return None
            with (self.snapshot / MOTO_FILE).open("rb") as stream:
                gc.disable()  # millions of new objects, no garbage: collecting meanwhile only costs time
                try:
                    payload = pickle.load(stream)  # noqa: S301 - our own file, written by save()
                finally:
                    gc.freeze()
                    gc.enable()
            backends, deployment = payload["backends"], payload["deployment"]
        except Exception as error:  # anything unreadable: report it and start clean
            self._set_aside(f"it could not be loaded ({type(error).__name__}: {error})")
            return None
        install(backends)
        search = self.snapshot / SEARCH_DIR
        return Restored(
            deployment=deployment,
            endpoints=dict(meta.get("endpoints", {})),
            search_dump=search if any(search.glob("*.index.json")) else None,
            saved_at=str(meta.get("saved_at", "")),
            seconds=time.perf_counter() - started,
            search_generation=str(meta.get("search_generation", "")),
        )

    def abandon(self, reason: str) -> None:
        """A snapshot that loaded but could not be brought up (its search indices, say): empty moto
        again, so the stack starts clean rather than half-restored, and set the snapshot aside."""
        from moto.core.base_backend import BackendDict

        BackendDict.reset()
        self._set_aside(reason)

    def _set_aside(self, reason: str) -> None:
        aside = self.path / f"snapshot.unreadable-{time.strftime('%Y%m%dT%H%M%S')}"
        try:
            self.snapshot.rename(aside)
            where = f"moved to {aside}"
        except OSError:
            where = "left in place"
        self.log(f"state: the snapshot in {self.snapshot} is not used because {reason}; {where}; starting clean")

    # -- saving ----------------------------------------------------------------------------------
    def save(
        self, deployment: Any, endpoints: dict[str, str], search_endpoint: str | None, search_generation: str = ""
    ) -> dict[str, float]:
        """Write a new snapshot beside the current one and swap it in; returns the seconds each
        part took. Call it with the stack quiet (gateway and pollers stopped). `search_generation`
        names the search engine that is kept warm with exactly the dumped indices, if one is."""
        timings: dict[str, float] = {}
        staging = self.path / f".snapshot-{os.getpid()}-{time.monotonic_ns()}"
        staging.mkdir(parents=True)
        try:
            started = time.perf_counter()
            backends = moto_backends()
            _trim_streams(backends)
            with (staging / MOTO_FILE).open("wb", buffering=1 << 20) as stream:
                dump({"backends": backends, "deployment": deployment}, stream)
                stream.flush()
                os.fsync(stream.fileno())
            timings["moto"] = time.perf_counter() - started
            if search_endpoint:
                started = time.perf_counter()
                dump_search(search_endpoint, staging / SEARCH_DIR)
                timings["search"] = time.perf_counter() - started
            meta = {
                "format": SNAPSHOT_FORMAT,
                "fingerprint": self.fingerprint,
                "endpoints": endpoints,
                "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "search_generation": search_generation,
            }
            (staging / META_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
            old = self.path / f".old-{os.getpid()}-{time.monotonic_ns()}"
            if self.snapshot.exists():
                self.snapshot.rename(old)
            staging.rename(self.snapshot)
            self._remove(old)
        finally:
            self._remove(staging)
        return timings

    @staticmethod
    def _remove(path: Path) -> None:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
