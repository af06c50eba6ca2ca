"""IPv4 addresses are literals, never names (issue 12, item 4).

Every address field of a topology file is parsed by vswitch when the file is read, so ``validate`` refuses what
``run`` could not build, with one located line; the Python API refuses non-literals with ``AddressError``. No code
path asks the system's resolver: the tests below run every example and every hostile file with name resolution
made to fail, and check nothing asked.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from scapy.base_classes import Net
from scapy.layers.inet import IP

from vswitch import cli
from vswitch.core.errors import AddressError, VSwitchError
from vswitch.guests.stack import GuestStack
from vswitch.guests.inet import address_value
from vswitch.guests.sessions import ArpingSession, PingSession, UdpSession
from vswitch.guests.traffic import arp_frame, icmp_echo_frame, icmp_error_header, udp_frame

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "topologies").glob("*.yaml"))
HOSTILE = sorted(p for p in (ROOT / "tests" / "hostile").iterdir() if p.suffix != ".md")
NOT_LITERALS = ["no-such-host.invalid", "localhost", "192.0.2.0/30", "192.0.2.1-5", "..", "0", ""]
MAC = "02:00:00:00:00:01"


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple]]:
    """Name resolution made to fail, as on a machine without DNS: every attempt is recorded, then refused."""
    asked: list[tuple[str, tuple]] = []

    def trap(name: str):
        def lookup(*args, **kwargs):
            asked.append((name, args))
            raise socket.gaierror(socket.EAI_NONAME, f"{name} is not allowed in this test")
        return lookup

    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "getnameinfo"):
        monkeypatch.setattr(socket, name, trap(f"socket.{name}"))
    scapy_lookup = trap("scapy Net.name2addr")  # Scapy's resolver for IP(dst=NAME) and Net(NAME), Net6 included
    monkeypatch.setattr(Net, "name2addr", classmethod(lambda cls, name: scapy_lookup(name)))
    return asked


def test_the_trap_catches_scapy_resolving_a_name(lookups):
    """The trap works: a frame built by Scapy itself with a name would be recorded."""
    with pytest.raises(OSError):
        bytes(IP(src="192.0.2.1", dst="no-such-host.invalid"))
    assert lookups and lookups[0][0] == "scapy Net.name2addr"


@pytest.mark.parametrize("path", [*EXAMPLES, *HOSTILE], ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_file_makes_vswitch_look_up_a_name(lookups, tmp_path, capsys, path):
    status = cli.main(["validate", str(path)])
    assert cli.main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == status
    err = capsys.readouterr().err
    assert lookups == []
    runs = path in EXAMPLES or path.name in ("switch-loop.yaml", "replay-far-timestamps.yaml")  # valid, if odd
    assert status == (0 if runs else 2), err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", NOT_LITERALS)
@pytest.mark.parametrize("action, field", [("send", "src_ip"), ("send", "dst_ip"), ("stream", "src_ip"),
                                           ("stream", "dst_ip")])
def test_an_address_that_is_not_a_literal_is_one_located_line(lookups, tmp_path, capsys, value, action, field):
    udp = {"src_ip": "192.0.2.1", "dst_ip": "192.0.2.2", field: f'"{value}"'}
    path = tmp_path / "lab.yaml"
    path.write_text(f'name: lab\nhosts: [{{name: h1, mac: "{MAC}"}}, {{name: h2, mac: "02:00:00:00:00:02"}}]\n'
                    f"links: [[h1, h2]]\nscenario:\n  - {action}: {{from: h1, to: h2, count: 1, udp: "
                    f"{{src_ip: {udp['src_ip']}, dst_ip: {udp['dst_ip']}}}}}\n")
    column = path.read_text().splitlines()[4].index(f"{field}: ") + len(field) + 3
    assert cli.main(["validate", str(path)]) == 2
    assert capsys.readouterr().err == (f"vswitch: {path}:5:{column}: scenario[0].{action}.udp.{field}: invalid IPv4 "
                                       f"address {value!r}: {hint(value)}\n")
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--out", str(out)]) == 2
    assert not out.exists() and lookups == []


def hint(value: str) -> str:
    """The advice ``address_value`` gives for each of NOT_LITERALS."""
    if not value:
        return "it is empty: write four numbers from 0 to 255, e.g. 192.0.2.20"
    if "/" in value:
        return "a prefix is not one address: write a single address, e.g. 192.0.2.20"
    if value[0].isalpha():
        return "vswitch does not look up host names: write the address itself, e.g. 192.0.2.20"
    if "-" in value:
        return "ranges are not supported: write a single address, e.g. 192.0.2.20"
    return "write four decimal numbers from 0 to 255 separated by dots, e.g. 192.0.2.20"


def test_a_name_where_a_guest_action_takes_an_interface_or_an_address(lookups, tmp_path, capsys):
    path = tmp_path / "lab.yaml"
    path.write_text(f'name: lab\nhosts: [{{name: h1, mac: "{MAC}", ip: 192.0.2.1/24}}]\nscenario:\n'
                    "  - ping: {from: h1, to: localhost}\n  - ping: {from: h1, to: 192.0.2.0/30}\n"
                    '  - udp: {from: h1, to: "192.0.2.1-5"}\n')
    assert cli.main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"vswitch: {path}:4:26: scenario[0].ping.to: nothing named 'localhost'",
        f"vswitch: {path}:5:26: scenario[1].ping.to: invalid IPv4 address '192.0.2.0/30': a prefix is not one address: "
        "write a single address, e.g. 192.0.2.20 (or name an interface)",
        f"vswitch: {path}:6:25: scenario[2].udp.to: invalid IPv4 address '192.0.2.1-5': ranges are not supported: "
        "write a single address, e.g. 192.0.2.20 (or name an interface)"]
    assert lookups == []


# -- the Python API -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [*NOT_LITERALS, 3232235777, None])
def test_the_api_refuses_an_address_that_is_not_a_literal(lookups, value):
    for build in (
        lambda: PingSession("p", "h1.eth0", "x", value, count=1),
        lambda: ArpingSession("a", "h1.eth0", "x", value, count=1),
        lambda: UdpSession("u", "h1.eth0", "x", value, count=1),
        lambda: udp_frame(MAC, MAC, src_ip="192.0.2.1", dst_ip=value, sport=1, dport=2),
        lambda: udp_frame(MAC, MAC, src_ip=value, dst_ip="192.0.2.1", sport=1, dport=2),
        lambda: icmp_echo_frame(MAC, MAC, src_ip="192.0.2.1", dst_ip=value, ident=1, seq=1),
        lambda: icmp_error_header(MAC, MAC, src_ip=value, dst_ip="192.0.2.1", icmp_type=3, code=3),
        lambda: arp_frame(op=1, src=MAC, dst=MAC, sender_mac=MAC, sender_ip=value),
        lambda: arp_frame(op=1, src=MAC, dst=MAC, sender_mac=MAC, sender_ip="192.0.2.1", target_ip=value),
        *([lambda: GuestStack("g", MAC, value)] if value is not None else []),  # None: IPv6-only (test_ipv6_only)
        lambda: GuestStack("g", MAC, f"{value}/24"),
    ):
        with pytest.raises(AddressError):
            build()
    assert issubclass(AddressError, VSwitchError)
    assert lookups == []


def test_the_api_takes_literals_and_address_objects(lookups):
    assert PingSession("p", "h1.eth0", "x", "192.0.2.2", count=1).dst_ip == IPv4Address("192.0.2.2")
    assert UdpSession("u", "h1.eth0", "x", IPv4Address("192.0.2.2"), count=1).dst_ip == IPv4Address("192.0.2.2")
    assert udp_frame(MAC, MAC, src_ip=IPv4Address("192.0.2.1"), dst_ip="192.0.2.2", sport=1, dport=2)[26:34] == \
        bytes([192, 0, 2, 1, 192, 0, 2, 2])
    assert str(GuestStack("g", MAC, "192.0.2.1/24").interface) == "192.0.2.1/24"
    assert address_value(IPv4Address("192.0.2.9")) == IPv4Address("192.0.2.9")
    assert lookups == []
