"""MAC addresses: the three textual forms, bytes and ints, classification, vendors, ordering and the allocator."""

import pytest

from vswitch.core.errors import AddressError, VSwitchError
from vswitch.core.mac import BROADCAST, VENDOR_PREFIXES, MACAddress, MACAllocator, mac_str, prefix_bytes

QEMU1 = bytes.fromhex("525400abcdef")


# -- parsing ------------------------------------------------------------------------------------------

def test_colon_form_parses():
    assert MACAddress("52:54:00:ab:cd:ef").packed == QEMU1


def test_uppercase_hyphen_form_parses():
    assert MACAddress("52-54-00-AB-CD-EF").packed == QEMU1


def test_dotted_cisco_form_parses():
    assert MACAddress("5254.00ab.cdef").packed == QEMU1


def test_unseparated_twelve_hex_digits_parse():
    assert MACAddress("525400ABCDEF").packed == QEMU1


def test_single_digit_octets_in_colon_form_are_zero_extended():
    assert MACAddress("2:54:0:ab:cd:e").packed == bytes.fromhex("025400abcd0e")


def test_surrounding_whitespace_is_ignored():
    assert MACAddress("  52:54:00:ab:cd:ef\n").packed == QEMU1


def test_six_bytes_are_taken_as_is():
    assert MACAddress(QEMU1).packed == QEMU1


def test_bytearray_is_accepted_and_stored_as_bytes():
    mac = MACAddress(bytearray(QEMU1))
    assert mac.packed == QEMU1
    assert type(mac.packed) is bytes


def test_integer_is_read_big_endian():
    assert MACAddress(0x525400ABCDEF).packed == QEMU1


def test_integer_limits_are_accepted():
    assert MACAddress(0).packed == bytes(6)
    assert MACAddress((1 << 48) - 1).packed == b"\xff" * 6


def test_mac_address_copies_another_mac_address():
    original = MACAddress("52:54:00:ab:cd:ef")
    assert MACAddress(original) == original


def test_str_is_lowercase_colon_form_and_repr_names_the_type():
    mac = MACAddress("5254.00AB.CDEF")
    assert str(mac) == "52:54:00:ab:cd:ef"
    assert repr(mac) == "MACAddress('52:54:00:ab:cd:ef')"


def test_int_conversion_round_trips():
    assert int(MACAddress("52:54:00:ab:cd:ef")) == 0x525400ABCDEF
    assert MACAddress(int(MACAddress("52:54:00:ab:cd:ef"))) == MACAddress("52:54:00:ab:cd:ef")


def test_mac_address_is_immutable():
    mac = MACAddress("52:54:00:ab:cd:ef")
    with pytest.raises(AttributeError):
        mac.packed = bytes(6)
    assert mac.packed == QEMU1


def test_mac_str_formats_raw_bytes():
    assert mac_str(QEMU1) == "52:54:00:ab:cd:ef"


def test_broadcast_constant_is_all_ones():
    assert BROADCAST.packed == b"\xff" * 6


# -- invalid inputs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "",
    "52:54:00:ab:cd",              # five octets
    "52:54:00:ab:cd:ef:01",        # seven octets
    "52:54:00-ab:cd:ef",           # mixed separators
    "52:54:00:ab:cd:eg",           # not hex
    "525:54:00:ab:cd:ef",          # three digits in an octet
    "52::54:00:ab:cd",             # empty octet
    "5254.00ab.cde",               # short dotted group
    "5254:00ab:cdef",              # dotted form with colons
    "525400abcdef0",               # thirteen digits
    "525400abcde",                 # eleven digits
    "52 54 00 ab cd ef",           # spaces are not separators
    "hello",
])
def test_malformed_text_raises_address_error_naming_the_value(text):
    with pytest.raises(AddressError) as caught:
        MACAddress(text)
    assert str(caught.value) == (
        f"invalid MAC address {text!r}: write six hex octets, e.g. 52:54:00:ab:cd:ef, "
        "52-54-00-AB-CD-EF or 5254.00ab.cdef"
    )


@pytest.mark.parametrize("raw", [b"", bytes(5), bytes(7)])
def test_bytes_of_the_wrong_length_raise_naming_length_and_value(raw):
    with pytest.raises(AddressError) as caught:
        MACAddress(raw)
    assert str(caught.value) == f"a MAC address is 6 bytes, got {len(raw)}: {raw.hex()}"


@pytest.mark.parametrize("number", [-1, 1 << 48])
def test_out_of_range_integer_raises_naming_the_value(number):
    with pytest.raises(AddressError) as caught:
        MACAddress(number)
    assert str(caught.value) == f"MAC address integer out of range: {number}"


@pytest.mark.parametrize("value, shown", [
    (None, "NoneType None"),
    (True, "bool True"),
    (1.5, "float 1.5"),
    ([0x52, 0x54, 0, 0, 0, 1], "list [82, 84, 0, 0, 0, 1]"),
])
def test_unsupported_types_raise_naming_type_and_value(value, shown):
    with pytest.raises(AddressError) as caught:
        MACAddress(value)
    assert str(caught.value) == f"cannot make a MAC address from {shown}"


def test_address_error_is_a_vswitch_error_and_a_value_error():
    with pytest.raises(VSwitchError):
        MACAddress("nonsense")
    with pytest.raises(ValueError):
        MACAddress("nonsense")


# -- classification -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, unicast, multicast, broadcast, local", [
    ("00:16:3e:00:00:01", True, False, False, False),    # Xen guest: universally administered unicast
    ("52:54:00:00:00:01", True, False, False, True),     # QEMU's OUI has the U/L bit set
    ("02:00:00:00:00:01", True, False, False, True),
    ("00:00:00:00:00:00", True, False, False, False),
    ("01:00:5e:00:00:01", False, True, False, False),    # IPv4 multicast
    ("33:33:00:00:00:01", False, True, False, True),     # IPv6 multicast
    ("01:80:c2:00:00:00", False, True, False, False),    # STP link-local group
    ("ff:ff:ff:ff:ff:ff", False, True, True, True),
])
def test_classification(text, unicast, multicast, broadcast, local):
    mac = MACAddress(text)
    assert (mac.is_unicast, mac.is_multicast, mac.is_broadcast, mac.is_locally_administered) == (
        unicast, multicast, broadcast, local)


def test_oui_is_the_first_three_bytes():
    assert MACAddress("00:16:3e:12:34:56").oui == bytes.fromhex("00163e")


@pytest.mark.parametrize("text, vendor", [
    ("00:16:3e:12:34:56", "Xen"),
    ("52:54:00:12:34:56", "QEMU/KVM"),
    ("00:50:56:12:34:56", "VMware"),
    ("00:15:5d:12:34:56", "Hyper-V"),
    ("08:00:27:12:34:56", "VirtualBox"),
    ("00:1b:21:12:34:56", "other"),
    ("02:00:00:12:34:56", "locally administered"),
    ("fe:ff:ff:ff:ff:ff", "locally administered"),     # Xen backend vif
    ("01:00:5e:00:00:01", "multicast"),
    ("ff:ff:ff:ff:ff:ff", "broadcast"),
])
def test_vendor_names_each_hypervisor_prefix_and_address_kind(text, vendor):
    assert MACAddress(text).vendor == vendor


def test_vendor_prefix_table_covers_every_hypervisor():
    assert VENDOR_PREFIXES == {
        "xen": "00:16:3e", "qemu": "52:54:00", "kvm": "52:54:00", "vmware": "00:50:56",
        "hyperv": "00:15:5d", "virtualbox": "08:00:27",
    }


# -- equality, hashing, ordering ----------------------------------------------------------------------

def test_equal_addresses_from_different_forms_are_equal_and_hash_alike():
    forms = [MACAddress("52:54:00:ab:cd:ef"), MACAddress("5254.00ab.cdef"), MACAddress(QEMU1),
             MACAddress(0x525400ABCDEF)]
    assert len(set(forms)) == 1
    assert all(mac == forms[0] for mac in forms)
    assert {forms[0]: "vm1"}[forms[3]] == "vm1"


def test_mac_is_not_equal_to_text_so_that_equality_and_hashing_agree():
    mac = MACAddress("52:54:00:ab:cd:ef")
    assert mac != "52:54:00:ab:cd:ef"
    assert str(mac) == "52:54:00:ab:cd:ef"
    assert mac == MACAddress("5254.00ab.cdef")


def test_mac_differs_from_other_addresses_and_from_unparsable_values():
    mac = MACAddress("52:54:00:ab:cd:ef")
    assert mac != MACAddress("52:54:00:ab:cd:ee")
    assert mac != "52:54:00:ab:cd:ee"
    assert mac != "not a mac"
    assert mac != b"short"
    assert mac != None  # noqa: E711


def test_text_is_not_found_in_a_set_of_macs_and_the_mac_is():
    macs = {MACAddress("52:54:00:ab:cd:ef")}
    assert "52:54:00:ab:cd:ef" not in macs
    assert MACAddress("52-54-00-AB-CD-EF") in macs


def test_ordering_follows_the_48_bit_value():
    macs = [MACAddress("ff:ff:ff:ff:ff:ff"), MACAddress("52:54:00:00:00:02"), MACAddress("00:16:3e:00:00:01"),
            MACAddress("52:54:00:00:00:01")]
    assert [str(m) for m in sorted(macs)] == [
        "00:16:3e:00:00:01", "52:54:00:00:00:01", "52:54:00:00:00:02", "ff:ff:ff:ff:ff:ff"]


def test_ordering_against_text_is_refused_rather_than_guessed():
    with pytest.raises(TypeError):
        MACAddress("52:54:00:00:00:02") < "52:54:00:00:00:03"


# -- prefixes -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix, octets", [
    ("xen", "00163e"), ("qemu", "525400"), ("KVM", "525400"), ("vmware", "005056"), ("HyperV", "00155d"),
    ("virtualbox", "080027"), ("02:00:00", "020000"), ("02-AB-cd", "02abcd"), ("2:0:1", "020001"),
])
def test_prefix_resolves_vendor_names_and_three_octets(prefix, octets):
    assert prefix_bytes(prefix) == bytes.fromhex(octets)


@pytest.mark.parametrize("prefix", ["", "52:54", "52:54:00:01", "zz:00:00", "100:00:00", "nonsense", "525400"])
def test_invalid_prefix_raises_naming_it_and_the_vendors(prefix):
    with pytest.raises(AddressError) as caught:
        prefix_bytes(prefix)
    assert str(caught.value) == (
        f"invalid MAC prefix {prefix!r}: use a vendor (hyperv, kvm, qemu, virtualbox, vmware, xen) "
        "or three octets like 52:54:00"
    )


@pytest.mark.parametrize("prefix", ["01:00:5e", "33:33:00", "ff:ff:ff"])
def test_multicast_prefix_raises(prefix):
    with pytest.raises(AddressError) as caught:
        prefix_bytes(prefix)
    assert str(caught.value) == (
        f"MAC prefix {prefix!r} is multicast (lowest bit of the first octet is set)")


# -- allocator ----------------------------------------------------------------------------------------

def test_allocator_counts_up_from_one_within_a_prefix():
    allocator = MACAllocator()
    assert [str(allocator.allocate("qemu")) for _ in range(3)] == [
        "52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"]


def test_allocator_default_prefix_is_qemu():
    assert MACAllocator().allocate() == MACAddress("52:54:00:00:00:01")


def test_allocator_keeps_an_independent_counter_per_prefix():
    allocator = MACAllocator()
    got = [str(allocator.allocate(p)) for p in ("xen", "qemu", "xen", "vmware", "02:aa:00", "qemu")]
    assert got == ["00:16:3e:00:00:01", "52:54:00:00:00:01", "00:16:3e:00:00:02", "00:50:56:00:00:01",
                   "02:aa:00:00:00:01", "52:54:00:00:00:02"]


def test_allocator_vendor_aliases_of_one_oui_share_a_counter():
    allocator = MACAllocator()
    got = [str(allocator.allocate(p)) for p in ("qemu", "kvm", "52:54:00", "KVM")]
    assert got == ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03", "52:54:00:00:00:04"]


def test_allocator_sequences_are_deterministic():
    def run():
        allocator = MACAllocator()
        allocator.reserve("52:54:00:00:00:02")
        return [str(allocator.allocate(p)) for p in ("qemu", "xen", "qemu", "qemu", "xen")]

    assert run() == run() == ["52:54:00:00:00:01", "00:16:3e:00:00:01", "52:54:00:00:00:03",
                              "52:54:00:00:00:04", "00:16:3e:00:00:02"]


def test_allocator_skips_reserved_addresses():
    allocator = MACAllocator()
    allocator.reserve("52:54:00:00:00:01")
    allocator.reserve("5254.0000.0003")
    assert [str(allocator.allocate("qemu")) for _ in range(3)] == [
        "52:54:00:00:00:02", "52:54:00:00:00:04", "52:54:00:00:00:05"]


def test_allocator_never_duplicates_with_reservations_interleaved():
    allocator = MACAllocator()
    seen = []
    for i in range(1, 400):
        if i % 3 == 0:
            seen.append(allocator.reserve(MACAddress(bytes.fromhex("525400") + (i * 2).to_bytes(3, "big"))))
        seen.append(allocator.allocate("qemu"))
    assert len(seen) == len(set(seen)) == 399 + 133
    assert sorted(seen) == list(allocator)


def test_reserve_returns_the_address_and_marks_it_used():
    allocator = MACAllocator()
    assert allocator.reserve("00-16-3E-00-00-09") == MACAddress("00:16:3e:00:00:09")
    assert allocator.is_used("00:16:3e:00:00:09")
    assert allocator.is_used(bytes.fromhex("00163e000009"))
    assert not allocator.is_used("00:16:3e:00:00:08")


def test_reserving_an_address_twice_raises_naming_it():
    allocator = MACAllocator()
    allocator.reserve("52:54:00:00:00:07")
    with pytest.raises(AddressError) as caught:
        allocator.reserve("5254.0000.0007")
    assert str(caught.value) == "duplicate MAC 52:54:00:00:00:07"


def test_reserving_an_allocated_address_raises():
    allocator = MACAllocator()
    allocated = allocator.allocate("xen")
    with pytest.raises(AddressError) as caught:
        allocator.reserve(allocated)
    assert str(caught.value) == "duplicate MAC 00:16:3e:00:00:01"


def test_reserve_rejects_an_invalid_address():
    with pytest.raises(AddressError):
        MACAllocator().reserve("52:54:00")


def test_allocate_with_invalid_prefix_raises_and_allocates_nothing():
    allocator = MACAllocator()
    with pytest.raises(AddressError):
        allocator.allocate("nonsense")
    with pytest.raises(AddressError):
        allocator.allocate("01:00:5e")
    assert list(allocator) == []


def test_allocator_iterates_used_addresses_in_order():
    allocator = MACAllocator()
    allocator.allocate("qemu")
    allocator.reserve("00:16:3e:00:00:05")
    allocator.allocate("xen")
    assert [str(m) for m in allocator] == ["00:16:3e:00:00:01", "00:16:3e:00:00:05", "52:54:00:00:00:01"]


def test_exhausted_prefix_raises():
    allocator = MACAllocator()
    allocator._next[bytes.fromhex("020000")] = (1 << 24) - 1  # white-box: jump to the last address
    assert allocator.allocate("02:00:00") == MACAddress("02:00:00:ff:ff:ff")
    with pytest.raises(AddressError) as caught:
        allocator.allocate("02:00:00")
    assert str(caught.value) == "MAC prefix 02:00:00 is exhausted"
