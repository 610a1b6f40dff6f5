"""lake.synthetic.options: bad options name the flag to fix, and a day's random stream is keyed
by its date, or by its distance from ``origin`` (a lake written relative to today)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from lakewatch.lake.synthetic.options import DAY_MS, GenerateOptions, day_ms


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 0}, "--days must be at least 1"),
        ({"rows_per_day": 99}, "--rows-per-day must be at least 100"),
        ({"source_version": "3.0"}, "--source-version must be 1.0 or 2.0, not '3.0'"),
    ],
)
def test_bad_options_name_the_flag(kwargs, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        GenerateOptions(**kwargs)


def test_streams_by_date_or_by_distance_from_the_origin():
    by_date = GenerateOptions(start=date(2026, 11, 1))
    assert by_date.stream(date(2026, 11, 2)) == date(2026, 11, 2).toordinal()
    a = GenerateOptions(origin=date(2026, 11, 1))
    b = GenerateOptions(origin=date(2027, 3, 1))
    assert a.stream(date(2026, 11, 3)) == b.stream(date(2027, 3, 3)) == 1_000_002


def test_days_default_to_the_ones_before_today_and_midnight_is_utc():
    options = GenerateOptions(days=4)
    assert options.first_day == datetime.now(UTC).date() - timedelta(days=4)
    assert day_ms(date(1970, 1, 2)) == DAY_MS
