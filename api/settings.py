"""Reading ``terracat.yaml``: a bad config stops start-up naming the file, line, key and what to fix.

YAML is composed into nodes first so every value keeps its line; the plain data is then converted to
typed settings with msgspec (unknown keys refused, types checked, ``Source.__post_init__`` rules run) and
any error is traced back to the line of the offending key. Relative paths in the file are relative to
the file's own folder, so a config works whatever directory the command is run from.

``sources_from`` lists files (glob patterns, relative to the config) that hold more sources, one file
per pole in production (``config/sources/*.yaml``): each pole's sources can then be reviewed and changed
on their own. An included file holds only a ``sources:`` list, is validated like the main file (errors
name the included file and its line), and its relative paths are relative to its own folder. A source id
defined twice, in one file or across files, is refused naming both places.

Changes made through the admin API are kept in an overrides file beside the config
(``sources.overrides.yaml``, or the path ``admin.overrides`` gives), applied last: its ``sources`` replace
the configured source of the same id (at its place) or are added after them, its ``deleted`` ids are
dropped. It is validated like the config (errors name it and its line), so a restart keeps every change
and a bad hand edit stops start-up as a bad config would. ``write_overrides`` writes it atomically.

The sources of the overrides file came from the admin API, not from the operator: their harvests may
only reach the network addresses ``harvest.allow_private_networks`` / ``harvest.allowed_networks`` allow
(``harvester.url_safety``; by default public addresses only, not 127.0.0.1, 10.x, 169.254.169.254...).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import yaml

from catalogue import store as store_registry
from harvester import ledger as ledger_registry
from harvester import url_safety
from harvester.partition import Partition
from harvester.source import POLES, Source

DEFAULT_CONFIG = "config/terracat.yaml"
DEFAULT_OVERRIDES = "sources.overrides.yaml"  # beside the config


class ConfigError(Exception):
    """A config problem: ``str()`` is ``FILE:LINE: key.path: what is wrong``."""

    def __init__(self, file: Path, line: int | None, key: str, message: str):
        self.file, self.line, self.key, self.message = file, line, key, message
        where = f"{file}:{line}" if line else str(file)
        super().__init__(f"{where}: {key + ': ' if key else ''}{message}")


class UnknownSource(LookupError):
    """A command named a source the config does not define."""


class ServerSettings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 5000
    url: str | None = None  # public base URL when behind a proxy; default http://host:port

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port: must be between 1 and 65535, got {self.port}")


class HarvestSettings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    # raw records, run history, per-record statuses: an SQLite file, or {backend: elasticsearch, ...}
    ledger: str | dict[str, Any] = "var/harvest.db"
    batch_size: int = 500  # records indexed per transaction
    workers: int | None = None  # crosswalk processes; None: per core for folders, none over the network
    parallel: int = 4  # sources harvested at the same time (runs of one source never overlap)
    reload_interval: float = 5.0  # seconds between the scheduler's checks of the config files for changes
    # The sources this process's scheduler harvests ({poles: [...], sources: [...]}: those of these poles
    # and these ids); empty: all. ``terracat scheduler --pole/--sources`` replaces it (harvester.partition).
    partition: Partition = msgspec.field(default_factory=Partition)
    # Sources supplied through the admin API (and its dry runs) may not reach loopback, private,
    # link-local (169.254.169.254, cloud metadata), unique-local, unspecified or multicast addresses,
    # checked at each connection (harvester.url_safety): unless this is true, or the address is in one
    # of ``allowed_networks`` (CIDR, e.g. "10.20.0.0/16" for an intranet catalogue). The operator's own
    # config files are trusted as written.
    allow_private_networks: bool = False
    allowed_networks: list[str] = []

    def __post_init__(self) -> None:
        if not 0.1 <= self.reload_interval <= 3600:
            raise ValueError(f"reload_interval: must be between 0.1 and 3600 s, got {self.reload_interval}")
        if not 1 <= self.parallel <= 64:
            raise ValueError(f"parallel: must be between 1 and 64, got {self.parallel}")
        if not 1 <= self.batch_size <= 50_000:
            raise ValueError(f"batch_size: must be between 1 and 50000, got {self.batch_size}")
        if self.workers is not None and not 0 <= self.workers <= 64:
            raise ValueError(f"workers: must be between 0 and 64, got {self.workers}")
        for network in self.allowed_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"allowed_networks: {network!r} is not a CIDR network") from None


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class AdminSettings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The admin API (``api.admin``). Its bearer tokens are never written in the config: it names the
    environment variables that hold them (several, so that a token can be rotated without a gap)."""

    tokens_env: list[str] = msgspec.field(default_factory=lambda: ["TERRACAT_ADMIN_TOKEN"])
    overrides: str | None = None  # where API changes to sources are kept; the loader makes it absolute

    def __post_init__(self) -> None:
        for name in self.tokens_env:
            if not _ENV_NAME.match(name):
                raise ValueError(f"tokens_env: {name!r} is not an environment variable name")


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    store: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"backend": "sqlite", "path": "var/catalogue.db"}
    )
    server: ServerSettings = ServerSettings()
    harvest: HarvestSettings = HarvestSettings()
    admin: AdminSettings = AdminSettings()
    thesauri: list[str] = []  # SKOS vocabulary files that keywords are matched against
    sources_from: list[str] = []  # glob patterns of files holding more sources (relative to the config)
    sources: list[Source] = []

    def source(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(s.id for s in self.sources) or "none"
        raise UnknownSource(f"no source {source_id!r} in the config (configured: {known})")


def load(path: str | Path) -> Settings:
    """Read and validate a config file and the source files it includes; raises ``ConfigError``."""
    file = Path(path)
    data, lines = _read(file, "config")
    if not isinstance(data, dict):
        raise ConfigError(file, lines.get(()), "", "the config must be a mapping of sections")
    try:
        settings = msgspec.convert(data, Settings)
    except msgspec.ValidationError as exc:
        raise _located(file, lines, str(exc)) from None
    _check(settings, file, lines)
    settings = _resolve_paths(settings, file.parent.resolve())
    for i, thesaurus in enumerate(settings.thesauri):
        if not Path(thesaurus).is_file():
            key = ("thesauri", i)
            raise ConfigError(file, _line(lines, key), _dotted(key), f"no such file: {thesaurus}")
    origins = [_Origin(file, lines, i) for i in range(len(settings.sources))]
    sources = list(settings.sources)
    for included in _included(settings, file, lines):
        source_file = _read_sources(included)
        origins += [_Origin(included, source_file.lines, i) for i in range(len(source_file.sources))]
        sources += source_file.sources
    _check_unique(sources, origins)
    overrides = Path(settings.admin.overrides or "")
    if overrides.is_file():
        changes = read_overrides(overrides)
        sources = _apply(sources, changes)
        for source in changes.sources:  # the admin API's: their harvests obey the network policy
            url_safety.restrict(source, network_policy(settings))
    _check_partition(settings.harvest.partition, sources, file, lines)
    return msgspec.structs.replace(settings, sources=sources)


def _check_partition(
    partition: Partition, sources: list[Source], file: Path, lines: dict[tuple[Any, ...], int]
) -> None:
    """A partition naming a source the config (with its includes and overrides) does not define: a typo
    that would leave the source harvested by no scheduler. Checked on every read, so the admin API
    refuses to delete a source a partition names, and a scheduler following the config keeps its jobs
    and reports the error."""
    for source_id in partition.unknown(sources):
        key = ("harvest", "partition", "sources", partition.sources.index(source_id))
        known = ", ".join(s.id for s in sources) or "none"
        message = f"no source {source_id!r} in the config (configured: {known})"
        raise ConfigError(file, _line(lines, key), _dotted(key), message)


def network_policy(settings: Settings) -> url_safety.NetworkPolicy:
    """The addresses that sources supplied through the admin API may reach (``harvest.allow_*``)."""
    harvest = settings.harvest
    return url_safety.NetworkPolicy.of(harvest.allow_private_networks, harvest.allowed_networks)


class ConfigSources:
    """The sources of the config at ``path`` for a scheduler that follows them while it runs
    (``harvester.scheduler.SourceConfig``): the files ``load`` reads, and the sources read again.
    ``settings``: as last read (the config's include patterns and overrides file come from them)."""

    def __init__(self, path: str | Path, settings: Settings):
        self.path = Path(path)
        self.settings = settings

    def files(self) -> list[Path]:
        """The config, the files its ``sources_from`` patterns match now (one added later included),
        and the overrides file, which may not exist yet."""
        base = self.path.parent.resolve()
        files = [self.path]
        for pattern in self.settings.sources_from:
            files += sorted(path for path in base.glob(pattern) if path.is_file())
        return [*files, Path(self.settings.admin.overrides or base / DEFAULT_OVERRIDES)]

    def sources(self) -> list[Source]:
        """``load`` again; ``ConfigError`` (file, line, what to fix) when it fails."""
        self.settings = load(self.path)
        return self.settings.sources


class Overrides(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The admin API's changes to the configured sources."""

    sources: list[Source] = []  # replace the source of the same id, or are added
    deleted: list[str] = []  # ids of configured sources dropped


def read_overrides(file: Path) -> Overrides:
    """The overrides file, validated like the config (``ConfigError`` with its line)."""
    data, lines = _read(file, "overrides")
    if not isinstance(data, dict):
        raise ConfigError(file, lines.get(()), "", "the overrides file must be a mapping")
    try:
        overrides = msgspec.convert(data, Overrides)
    except msgspec.ValidationError as exc:
        raise _located(file, lines, str(exc)) from None
    _check_unique(overrides.sources, [_Origin(file, lines, i) for i in range(len(overrides.sources))])
    ids = {source.id for source in overrides.sources}
    for i, source_id in enumerate(overrides.deleted):
        if source_id in ids:
            key = ("deleted", i)
            raise ConfigError(file, _line(lines, key), _dotted(key), f"{source_id!r} is also in sources")
    base = file.parent.resolve()
    sources = [
        msgspec.structs.replace(s, path=_absolute(s.path, base)) if s.path is not None else s
        for s in overrides.sources
    ]
    return msgspec.structs.replace(overrides, sources=sources)


def write_overrides(file: Path, overrides: Overrides) -> None:
    """Write ``overrides`` atomically (a temporary file renamed over it): a reader never sees half."""
    header = "# Changes made through the admin API (api/admin.py); applied after the config.\n"
    text = header + yaml.safe_dump(msgspec.to_builtins(overrides), sort_keys=False, allow_unicode=True)
    write_atomically(file, text.encode())


def write_atomically(file: Path, data: bytes) -> None:
    """Write ``data`` to ``file`` through a temporary file renamed over it."""
    file.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, file)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _apply(sources: list[Source], overrides: Overrides) -> list[Source]:
    deleted = set(overrides.deleted)
    replacing = {source.id: source for source in overrides.sources}
    out = [replacing.pop(s.id, s) for s in sources if s.id not in deleted]
    return out + list(replacing.values())


class _Origin(NamedTuple):
    """Where a source is defined: its file, that file's key lines and its index in the file's list."""

    file: Path
    lines: dict[tuple[Any, ...], int]
    index: int

    def line(self, key: str) -> int | None:
        return _line(self.lines, ("sources", self.index, key))


class _SourceFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An included file: nothing but sources, so settings cannot be scattered across files."""

    sources: list[Source]


class _ReadSources(NamedTuple):
    sources: list[Source]
    lines: dict[tuple[Any, ...], int]


def _read(file: Path, what: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """A YAML file's plain data and the line of every key path in it."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, None, "", f"cannot read the {what} file: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(file, line, "", f"invalid YAML: {exc.problem}") from None
    if node is None:
        raise ConfigError(file, None, "", f"the {what} file is empty")
    lines: dict[tuple[Any, ...], int] = {}
    return _plain(node, (), lines, yaml.SafeLoader("")), lines


def _included(settings: Settings, file: Path, lines: dict[tuple[Any, ...], int]) -> list[Path]:
    """The files ``sources_from`` names, pattern by pattern, each pattern's matches sorted; a pattern
    matching nothing is an error (a renamed folder must not silently drop a pole)."""
    base = file.parent.resolve()
    itself = file.resolve()
    out: list[Path] = []
    for i, pattern in enumerate(settings.sources_from):
        key = ("sources_from", i)
        if Path(pattern).expanduser().is_absolute():
            raise ConfigError(
                file, _line(lines, key), _dotted(key), f"{pattern!r}: give a path relative to {base}"
            )
        matches = sorted(path.resolve() for path in base.glob(pattern) if path.is_file())
        if not matches:
            raise ConfigError(
                file, _line(lines, key), _dotted(key), f"no file matches {pattern!r} (relative to {base})"
            )
        if itself in matches:
            raise ConfigError(
                file, _line(lines, key), _dotted(key), f"{pattern!r} matches the config file itself"
            )
        out += [path for path in matches if path not in out]
    return out


def _read_sources(file: Path) -> _ReadSources:
    data, lines = _read(file, "sources")
    if not isinstance(data, dict):
        message = "an included file must be a mapping with a 'sources:' list"
        raise ConfigError(file, lines.get(()), "", message)
    try:
        included = msgspec.convert(data, _SourceFile)
    except msgspec.ValidationError as exc:
        raise _located(file, lines, str(exc)) from None
    base = file.parent.resolve()
    sources = [
        msgspec.structs.replace(s, path=_absolute(s.path, base)) if s.path is not None else s
        for s in included.sources
    ]
    return _ReadSources(sources, lines)


def _check_unique(sources: list[Source], origins: list[_Origin]) -> None:
    """Source ids are unique across the config and every included file: they are part of record ids."""
    seen: dict[str, _Origin] = {}
    for source, origin in zip(sources, origins, strict=True):
        first = seen.get(source.id)
        if first is not None:
            where = f"line {first.line('id')}"
            if first.file != origin.file:
                where = f"{first.file}:{first.line('id')}"
            key = ("sources", origin.index, "id")
            msg = f"duplicate source id {source.id!r} (first defined on {where})"
            raise ConfigError(origin.file, origin.line("id"), _dotted(key), msg)
        seen[source.id] = origin


def _plain(
    node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int], loader: yaml.SafeLoader
) -> Any:
    """Python data for a YAML node, recording the line of every key path on the way (a key's own line,
    not its value's, so an error points at the key)."""
    if isinstance(node, yaml.MappingNode):
        lines[path] = node.start_mark.line + 1
        out = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            out[key] = _plain(value_node, (*path, key), lines, loader)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node)


_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN_FIELD = re.compile(r"unknown field `(?P<field>[^`]+)`")
_NAMED_KEY = re.compile(r"^(?P<key>[a-z_]+): ")
_ALLOWED = {"pole": ", ".join(POLES)}


def _located(file: Path, lines: dict[tuple[Any, ...], int], message: str) -> ConfigError:
    """Turn msgspec's ``... - at `$.sources[0].page_size``` into file, line and key path."""
    match = _MSGSPEC_PATH.search(message)
    path: tuple[Any, ...] = ()
    if match:
        message = message[: match.start()]
        for name, index in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", match.group("path")):
            path = (*path, name if name else int(index))
    unknown = _UNKNOWN_FIELD.search(message)
    if unknown:
        path = (*path, unknown.group("field"))
        message = f"unknown key {unknown.group('field')!r} (check its spelling)"
    named = _NAMED_KEY.match(message)
    if named and (*path, named.group("key")) in lines:
        # A rule in __post_init__ that names its key ("url: ..."): point at that key's line.
        path = (*path, named.group("key"))
        message = message[named.end() :]
    if path and path[-1] in _ALLOWED:
        message = f"{message} (allowed: {_ALLOWED[path[-1]]})"
    return ConfigError(file, _line(lines, path), _dotted(path), message)


def _line(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int | None:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _check(settings: Settings, file: Path, lines: dict[tuple[Any, ...], int]) -> None:
    """Rules that span several keys."""
    problem = store_registry.check_settings(settings.store)
    if problem is not None:
        key = ("store", problem[0])
        raise ConfigError(file, _line(lines, key), _dotted(key), problem[1])
    problem = ledger_registry.check_settings(settings.harvest.ledger)
    if problem is not None:
        options = isinstance(settings.harvest.ledger, dict)  # else a path: the key is the ledger itself
        key = ("harvest", "ledger", problem[0]) if options else ("harvest", "ledger")
        raise ConfigError(file, _line(lines, key), _dotted(key), problem[1])


def _absolute(value: str, base: Path) -> str:
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    store = dict(settings.store)
    if "path" in store:
        store["path"] = _absolute(store["path"], base)
    ledger = settings.harvest.ledger
    if isinstance(ledger, str):
        ledger = _absolute(ledger, base)
    else:  # a backend's options: those naming files or folders on this machine
        ledger = {k: _absolute(v, base) if k in ("path", "cache_dir") else v for k, v in ledger.items()}
    harvest = msgspec.structs.replace(settings.harvest, ledger=ledger)
    sources = [
        msgspec.structs.replace(s, path=_absolute(s.path, base)) if s.path is not None else s
        for s in settings.sources
    ]
    thesauri = [_absolute(path, base) for path in settings.thesauri]
    admin = msgspec.structs.replace(
        settings.admin, overrides=_absolute(settings.admin.overrides or DEFAULT_OVERRIDES, base)
    )
    return msgspec.structs.replace(
        settings, store=store, harvest=harvest, admin=admin, thesauri=thesauri, sources=sources
    )
