"""Which network addresses a harvest may connect to: the server-side request forgery (SSRF) guard.

A source URL typed into the admin API makes the server send requests; pointed at ``127.0.0.1:9200``,
``10.0.0.5`` or the cloud metadata service ``169.254.169.254``, it would read what only the server can
reach, and a dry run would show it back. So the addresses of sources that came through the admin API are
checked against a ``NetworkPolicy``:

- when the definition arrives (``check_url``: a 400 naming the address and why), and
- at every connection their harvest opens (``guard``), on the addresses the host name resolves to at
  that moment: a redirect to a refused address, or a name that resolves to a public address when checked
  and to a private one later (DNS rebinding), is refused as well. The vetted address is the one
  connected to: there is no second lookup an attacker could answer differently.

Refused unless the policy allows them: loopback, private (RFC 1918), shared (100.64/10), link-local
(169.254/16, fe80::/10), unique-local IPv6 (fc00::/7), unspecified (0.0.0.0, ::), multicast, reserved and
documentation ranges: every address that is not globally routable, and multicast. IPv4-mapped IPv6
addresses are judged as the IPv4 address they carry.

Sources in the operator's own config files are trusted as written (the operator sets the policy too),
so local test servers and intranet catalogues configured there work without an exception; a pole
administrator with an admin token gets the policy: ``harvest.allow_private_networks`` and
``harvest.allowed_networks`` in ``terracat.yaml`` (``api.settings``). Behind an HTTP proxy from the
environment the host is checked before the request goes to the proxy, which resolves it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

if TYPE_CHECKING:
    from harvester.source import Source

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RefusedAddress(ValueError):
    """A URL's host is, or resolves to, an address the policy refuses; the message says which and why."""


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """``allow_private``: every address allowed. ``allowed``: networks allowed although not public (an
    intranet catalogue: ``10.20.0.0/16``)."""

    allow_private: bool = False
    allowed: tuple[Network, ...] = ()

    @classmethod
    def of(cls, allow_private: bool, allowed: Iterable[str]) -> NetworkPolicy:
        """From the config's values; ``ValueError`` for a network that is not one."""
        return cls(allow_private, tuple(ipaddress.ip_network(text, strict=False) for text in allowed))

    def refusal(self, address: Address) -> str | None:
        """Why ``address`` is refused (``"169.254.169.254 is link-local (cloud metadata service)"``), or
        None when it may be connected to."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if self.allow_private or any(address in network for network in self.allowed):
            return None
        kind = _kind(address)
        return None if kind is None else f"{address} is {kind}"


def _kind(address: Address) -> str | None:
    """What makes ``address`` no public Internet host, in words; None for a public unicast address."""
    if address.is_unspecified:
        return "unspecified (0.0.0.0 or ::)"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "link-local" + (" (cloud metadata service)" if str(address) == "169.254.169.254" else "")
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
        return "a unique-local IPv6 address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address (shared, reserved or documentation range)"
    return None


_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


def check_url(url: str, policy: NetworkPolicy) -> None:
    """Refuse (``RefusedAddress``) an http(s) URL whose host is, or now resolves to, a refused address.

    A name that does not resolve passes: the harvest's connections are checked again (``guard``)."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = _resolve(host, 80)
    except OSError:
        return
    for address in addresses:
        reason = policy.refusal(address)
        if reason is not None:
            raise RefusedAddress(f"{host} is refused: {reason} (harvest.allow_private_networks)")


def _resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to, in the resolver's order (an IP literal is itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[Address] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


# --- the sources the policy applies to ----------------------------------------------------------------

_restricted: dict[tuple[str, str | None], NetworkPolicy] = {}
_restricted_lock = threading.Lock()


def restrict(source: Source, policy: NetworkPolicy) -> None:
    """Apply ``policy`` to the harvests of ``source`` (one the admin API supplied), in this process."""
    with _restricted_lock:
        _restricted[(source.id, source.url)] = policy


def policy_for(source: Source) -> NetworkPolicy | None:
    """The policy the connections of ``source``'s harvest obey; None for a source of the operator's."""
    return _restricted.get((source.id, source.url))


# --- enforcement at connection time -------------------------------------------------------------------


def _vetted_connection(base: type[HTTPConnection], policy: NetworkPolicy) -> type[HTTPConnection]:
    """``base`` connecting only to addresses ``policy`` allows: the name is resolved here, each address
    vetted, and an allowed one connected to (TLS still checks the certificate against the host name)."""

    class Vetted(base):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            host = self._dns_host
            try:
                addresses = _resolve(host, self.port)
            except OSError:
                return super()._new_conn()  # urllib3 names the resolution failure
            refusals = [reason for reason in map(policy.refusal, addresses) if reason]
            allowed = [address for address in addresses if policy.refusal(address) is None]
            if not allowed:
                raise RefusedAddress(
                    f"connection to {host} refused: {refusals[0]} (harvest.allow_private_networks)"
                )
            try:
                self._dns_host = str(allowed[0])
                return super()._new_conn()
            finally:
                self._dns_host = host

    Vetted.__name__ = Vetted.__qualname__ = base.__name__  # urllib3's messages name the connection class
    return Vetted


class _GuardedAdapter(HTTPAdapter):
    """An adapter whose connection pools open vetted connections only."""

    def __init__(self, policy: NetworkPolicy, **options: Any):
        self._policy = policy
        super().__init__(**options)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        http_pool = type(
            "GuardedHTTPPool",
            (HTTPConnectionPool,),
            {"ConnectionCls": _vetted_connection(HTTPConnection, self._policy)},
        )
        https_pool = type(
            "GuardedHTTPSPool",
            (HTTPSConnectionPool,),
            {"ConnectionCls": _vetted_connection(HTTPSConnection, self._policy)},
        )
        self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    def send(self, request: Any, *args: Any, proxies: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
        """Through a proxy (``HTTPS_PROXY``...) the connection goes to the proxy, which resolves the host:
        the host is then checked here, before the request leaves."""
        if proxies and select_proxy(request.url, proxies):
            check_url(request.url, self._policy)
        return super().send(request, *args, proxies=proxies, **kwargs)


def adapter(policy: NetworkPolicy | None, **options: Any) -> HTTPAdapter:
    """A requests adapter with ``options`` (retries, pool size), guarded by ``policy`` when there is one."""
    return HTTPAdapter(**options) if policy is None else _GuardedAdapter(policy, **options)
