import pytest

from vswitch.core.units import format_duration, format_rate, parse_duration, parse_rate, parse_size


def messages(parse, values):
    result = {}
    for value in values:
        with pytest.raises(ValueError) as error:
            parse(value)
        result[value if not isinstance(value, list) else "list"] = str(error.value)
    return result


def test_durations_convert_to_exact_integer_nanoseconds():
    written = ["300s", "50ms", "5us", "5µs", "5μs", "10ns", "1.5s", "2min", "1h", "0", 0, "0.1s", " 300 s ", ".5ms"]
    assert {str(value): parse_duration(value) for value in written} == {
        "300s": 300_000_000_000,
        "50ms": 50_000_000,
        "5us": 5_000,
        "5µs": 5_000,
        "5μs": 5_000,
        "10ns": 10,
        "1.5s": 1_500_000_000,
        "2min": 120_000_000_000,
        "1h": 3_600_000_000_000,
        "0": 0,
        "0.1s": 100_000_000,
        " 300 s ": 300_000_000_000,
        ".5ms": 500_000,
    }


def test_decimal_fractions_are_exact_where_float_would_round():
    assert parse_duration("0.000000001s") == 1
    assert parse_duration("1.000000001s") == 1_000_000_001
    assert parse_rate("0.3Gbps") == 300_000_000


def test_a_bare_duration_or_rate_must_say_its_unit():
    assert messages(parse_duration, [300, "300", 1.5]) == {
        300: "300 has no unit: write 300s, 300ms, 300us or 300ns",
        "300": "300 has no unit: write 300s, 300ms, 300us or 300ns",
        1.5: "1.5 has no unit: write 1.5s, 1.5ms, 1.5us or 1.5ns",
    }
    assert messages(parse_rate, [100]) == {100: "100 has no unit: write 100Gbps, 100Mbps, 100kbps or 100bps"}


def test_invalid_durations_say_what_is_wrong():
    assert messages(parse_duration, ["-5s", "0.5ns", "5sec", "5S", "fast", "1.5.3s", None, True, [1, 2]]) == {
        "-5s": "invalid duration '-5s': must not be negative",
        "0.5ns": "invalid duration '0.5ns': not a whole number of nanoseconds",
        "5sec": "invalid duration '5sec': unknown unit 'sec' (use ns, us, ms, s, min or h)",
        "5S": "invalid duration '5S': unknown unit 'S' (use ns, us, ms, s, min or h)",
        "fast": "invalid duration 'fast': write a number and a unit, e.g. 300s, 50ms or 5us",
        "1.5.3s": "invalid duration '1.5.3s': write a number and a unit, e.g. 300s, 50ms or 5us",
        None: "invalid duration null: write a number and a unit, e.g. 300s, 50ms or 5us",
        True: "invalid duration true: write a number and a unit, e.g. 300s, 50ms or 5us",
        "list": "invalid duration [1, 2]: write a number and a unit, e.g. 300s, 50ms or 5us",
    }


def test_a_number_too_long_to_be_meant_is_refused_in_short():
    with pytest.raises(ValueError) as error:
        parse_duration("1" * 5000 + "s")
    shortened = "'" + "1" * 36 + "..."
    assert str(error.value) == f"invalid duration {shortened}: write a number and a unit, e.g. 300s, 50ms or 5us"


def test_rates_are_si_bits_per_second_with_case_insensitive_units():
    written = ["1Gbps", "100Mbps", "10kbps", "1500bps", "2.5Gbps", "1gbps", "100MBPS", "10Kbps", "1Tbps", "0"]
    assert [parse_rate(value) for value in written] == [
        1_000_000_000, 100_000_000, 10_000, 1_500, 2_500_000_000, 1_000_000_000, 100_000_000, 10_000,
        1_000_000_000_000, 0,
    ]


def test_bytes_per_second_spelling_is_refused_with_the_rate_in_bits():
    assert messages(parse_rate, ["100MBps", "1.5GBps", "0.1bps", "1Gbit"]) == {
        "100MBps": "invalid rate '100MBps': 'MBps' means bytes per second; write bits per second, e.g. 800Mbps",
        "1.5GBps": "invalid rate '1.5GBps': 'GBps' means bytes per second; write bits per second, e.g. 12Gbps",
        "0.1bps": "invalid rate '0.1bps': not a whole number of bits per second",
        "1Gbit": "invalid rate '1Gbit': unknown unit 'Gbit' (use bps, kbps, Mbps, Gbps or Tbps)",
    }


def test_sizes_take_bare_bytes_and_si_or_binary_units():
    written = [1500, "1500", "64KiB", "1MB", "1mb", "2MiB", "1GiB", "1kB", "0.5KiB"]
    assert [parse_size(value) for value in written] == [
        1500, 1500, 65_536, 1_000_000, 1_000_000, 2_097_152, 1_073_741_824, 1000, 512,
    ]


def test_sizes_must_be_whole_bytes():
    assert messages(parse_size, [1.5, "0.1KiB", "-1", "1Mbps"]) == {
        1.5: "invalid size 1.5: not a whole number of bytes",
        "0.1KiB": "invalid size '0.1KiB': not a whole number of bytes",
        "-1": "invalid size '-1': must not be negative",
        "1Mbps": "invalid size '1Mbps': unknown unit 'Mbps' (use B, kB, MB, GB, KiB, MiB or GiB)",
    }


def test_format_duration_uses_the_largest_unit_and_stays_exact():
    values = [0, 300_000_000_000, 50_000_000, 1_250_000, 1_001, 7, 1_000_000_001, 3_600_000_000_000, -5_000]
    assert [format_duration(ns) for ns in values] == [
        "0s", "300s", "50ms", "1.25ms", "1.001us", "7ns", "1.000000001s", "3600s", "-5us",
    ]


def test_format_rate_uses_si_units():
    values = [0, 1_000_000_000, 2_500_000_000, 100_000_000, 10_000, 1_500, 999, 40_000_000_000_000]
    assert [format_rate(bps) for bps in values] == [
        "0bps", "1Gbps", "2.5Gbps", "100Mbps", "10kbps", "1.5kbps", "999bps", "40Tbps",
    ]


def test_formatted_values_parse_back_to_the_same_integer():
    samples = [0, 1, 999, 1_000, 1_234_567, 10**9, 10**9 + 1, 299_999_999_999, 7 * 10**12 + 3]
    assert [parse_duration(format_duration(value)) for value in samples] == samples
    assert [parse_rate(format_rate(value)) for value in samples] == samples
