"""Several hosts on one machine: Linux network namespaces joined by veth links to a bridge.

A test of the distributed shape needs machines that share nothing but a network. `Network`
builds them here: each host is a network namespace (`ip netns`) with its loopback up and
one interface, `eth0`, holding the host's address in the network's subnet; the other end
of each veth pair is a port of a bridge that lives in a namespace of its own, the switch.
Nothing is added to the machine's own network namespace — no interface, address or route —
so traffic goes only between the hosts, and the machine's firewall (which may drop bridged
packets) never sees it. Inside a host the well-known ports are free: nobody else is there.

A process runs on a host through `ip netns exec` (`Host.command`). The calling thread
itself moves onto a host for a while with `Host.entered()` — setns(2), the call `ip netns
exec` makes — so a test can be the client on one host; a socket keeps the namespace it was
made in, so a server socket opened there keeps serving that host from any thread.

Everything a `Network` makes is named `<prefix>-<host>`. `cleanup(prefix)` kills every
process inside those namespaces and deletes them: a run calls it first, to clear what an
earlier crashed or interrupted run of the same prefix left, and again at the end. Needs
root (CAP_SYS_ADMIN, CAP_NET_ADMIN).
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# 10.213.0.0/24: private, and far from the ranges container engines, VPNs and clouds hand
# out by default (172.17/16, 10.0/16, 192.168/16, 10.96/12 ...).
SUBNET = ipaddress.IPv4Network("10.213.0.0/24")
SWITCH = "switch"
BRIDGE = "br0"
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000


class NetnsError(RuntimeError):
    pass


def require_root() -> None:
    """Fail, saying why, unless we may make namespaces and links (root)."""
    if os.geteuid() != 0:
        raise NetnsError(
            "building hosts with network namespaces (ip netns, veth, a bridge) needs root; "
            "run this as root (CI does)"
        )


def _ip(*args: str) -> str:
    """Run `ip <args>`; its output, or a NetnsError with its message."""
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def namespaces() -> list[str]:
    """The names of this machine's named network namespaces."""
    return [entry["name"] for entry in json.loads(_ip("-json", "netns", "list") or "[]")]


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _pids(namespace: str) -> list[int]:
    return [int(p) for p in _ip("netns", "pids", namespace).split()]


def _kill_all(namespace: str, timeout: float = 30.0) -> int:
    """SIGKILL every process in the namespace and wait until none is left; how many."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while pids := _pids(namespace):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
        if time.monotonic() > deadline:
            raise NetnsError(f"processes still running in {namespace}: {pids}")
        time.sleep(0.05)
    return len(killed)


@dataclass(frozen=True, slots=True)
class Host:
    """One host: a network namespace and its address on the network."""

    name: str
    namespace: str
    address: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """`argv` run on this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def pids(self) -> list[int]:
        """Every process running on this host."""
        return _pids(self.namespace)

    def kill_all(self) -> int:
        """The host fails: kill -9 every process on it; how many there were."""
        return _kill_all(self.namespace)

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Run the calling thread on this host (its new sockets live here) for the block."""
        with contextlib.ExitStack() as opened:
            home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            opened.callback(os.close, home)
            target = os.open(NETNS_DIR / self.namespace, os.O_RDONLY)
            opened.callback(os.close, target)
            _setns(target)
            try:
                yield
            finally:
                _setns(home)


def cleanup(prefix: str) -> list[str]:
    """Kill every process in the namespaces named `<prefix>-*` and delete them (the veth
    links and the bridge go with them); the names deleted."""
    gone = [ns for ns in namespaces() if ns.startswith(f"{prefix}-")]
    for ns in gone:
        _kill_all(ns)
        _ip("netns", "delete", ns)
    return gone


def check_subnet_unused(subnet: ipaddress.IPv4Network) -> None:
    """Refuse a subnet this machine's own network already uses, so that an address in a log
    names one thing only."""
    for link in json.loads(_ip("-json", "address", "show") or "[]"):
        for info in link.get("addr_info", []):
            if info.get("family") != "inet":
                continue
            network = ipaddress.IPv4Interface(f"{info['local']}/{info['prefixlen']}").network
            if network.overlaps(subnet):
                raise NetnsError(
                    f"{subnet} overlaps {network} on this machine's {link['ifname']}; "
                    "choose another subnet"
                )


class Network:
    """Hosts named `<prefix>-<name>` on one bridge, addresses from `subnet` in the order
    given (.10, .11, ...). `up()` builds them, `down()` removes them and their processes."""

    def __init__(
        self, prefix: str, names: Sequence[str], subnet: ipaddress.IPv4Network = SUBNET
    ) -> None:
        if SWITCH in names:
            raise ValueError(f"{SWITCH!r} is the bridge's namespace, not a host name")
        addresses = list(subnet.hosts())[9:]
        self.prefix = prefix
        self.subnet = subnet
        self.switch = f"{prefix}-{SWITCH}"
        self.hosts = {
            name: Host(name, f"{prefix}-{name}", str(address))
            for name, address in zip(names, addresses, strict=False)
        }

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def up(self) -> None:
        """Build the hosts (after clearing what a run of the same prefix left); on failure,
        remove what was built."""
        require_root()
        cleanup(self.prefix)
        check_subnet_unused(self.subnet)
        try:
            self._build()
        except BaseException:
            cleanup(self.prefix)
            raise

    def _build(self) -> None:
        _ip("netns", "add", self.switch)
        _ip("-n", self.switch, "link", "add", "name", BRIDGE, "type", "bridge")
        _ip("-n", self.switch, "link", "set", "dev", BRIDGE, "up")
        for host in self.hosts.values():
            _ip("netns", "add", host.namespace)
            _ip("-n", host.namespace, "link", "set", "dev", "lo", "up")
            # Both ends made inside namespaces: nothing appears in the machine's own.
            peer = ("peer", "name", "eth0", "netns", host.namespace)
            _ip("-n", self.switch, "link", "add", "name", host.name, "type", "veth", *peer)
            _ip("-n", self.switch, "link", "set", "dev", host.name, "master", BRIDGE, "up")
            address = f"{host.address}/{self.subnet.prefixlen}"
            _ip("-n", host.namespace, "address", "add", address, "dev", "eth0")
            _ip("-n", host.namespace, "link", "set", "dev", "eth0", "up")

    def down(self) -> None:
        cleanup(self.prefix)
