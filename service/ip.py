"""IP addresses are personal data: we keep only the network they belong to."""

from __future__ import annotations

import functools
import ipaddress

DEFAULT_V4_PREFIX = 24
DEFAULT_V6_PREFIX = 48


@functools.lru_cache(maxsize=4096)
def truncate_ip(
    address: str, *, v4_prefix: int = DEFAULT_V4_PREFIX, v6_prefix: int = DEFAULT_V6_PREFIX
) -> str:
    """``203.0.113.77`` → ``203.0.113.0/24``; ``2001:db8:1:2::1`` → ``2001:db8:1::/48``.

    Raises ValueError for anything that is not an IP address. An IPv4-mapped
    IPv6 address is treated as the IPv4 address it carries.
    """
    ip = ipaddress.ip_address(address.strip())
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = v4_prefix if ip.version == 4 else v6_prefix
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
