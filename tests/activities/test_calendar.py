"""The working-day calendar: the package's 2026 schedule, operator files, the Monday–Friday fallback."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from activities.calendar import CALENDAR_DIR, PolicyFileError, WorkingDayCalendar

# Made-up test data in the official format; NOT the real 2027 schedule.
SCHEDULE_2027 = {
    "year": 2027,
    "source": "test data",
    "holidays": ["2027-01-01", "2027-01-02", "2027-01-03"],
    "workdays": ["2027-01-09"],
}


def write_year(directory: Path, content: object, name: str = "2027.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(content, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


@pytest.fixture
def empty_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "calendar"
    directory.mkdir()
    return directory


@pytest.fixture
def calendar(empty_dir: Path) -> WorkingDayCalendar:
    return WorkingDayCalendar(empty_dir)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_spring_festival_2026_holidays_are_not_working_days(calendar: WorkingDayCalendar) -> None:
    for day in days(date(2026, 2, 15), date(2026, 2, 23)):
        assert calendar.is_working_day(day) == (False, False), day


def test_spring_festival_2026_make_up_saturdays_are_working_days(calendar: WorkingDayCalendar) -> None:
    assert date(2026, 2, 14).weekday() == 5
    assert date(2026, 2, 28).weekday() == 5
    assert calendar.is_working_day(date(2026, 2, 14)) == (True, False)
    assert calendar.is_working_day(date(2026, 2, 28)) == (True, False)


def test_ordinary_days_of_2026(calendar: WorkingDayCalendar) -> None:
    assert calendar.is_working_day(date(2026, 2, 13)) == (True, False)  # Friday
    assert calendar.is_working_day(date(2026, 2, 24)) == (True, False)  # Tuesday after the festival
    assert calendar.is_working_day(date(2026, 3, 1)) == (False, False)  # Sunday


def test_add_working_days_across_spring_festival(calendar: WorkingDayCalendar) -> None:
    start = date(2026, 2, 11)  # Wednesday
    assert calendar.add_working_days(start, 1) == (date(2026, 2, 12), False)
    assert calendar.add_working_days(start, 3) == (date(2026, 2, 14), False)  # make-up Saturday
    assert calendar.add_working_days(start, 4) == (date(2026, 2, 24), False)  # the whole festival skipped
    assert calendar.add_working_days(start, 8) == (date(2026, 2, 28), False)
    assert calendar.add_working_days(start, 10) == (date(2026, 3, 3), False)


def test_add_zero_working_days_is_the_start(calendar: WorkingDayCalendar) -> None:
    assert calendar.add_working_days(date(2026, 2, 15), 0) == (date(2026, 2, 15), False)


def test_add_working_days_refuses_negative_counts_and_datetimes(calendar: WorkingDayCalendar) -> None:
    with pytest.raises(ValueError, match="-1"):
        calendar.add_working_days(date(2026, 2, 11), -1)
    with pytest.raises(TypeError, match="local date"):
        calendar.add_working_days(datetime(2026, 2, 11, 9), 1)


def test_unknown_year_falls_back_to_monday_to_friday_provisionally(calendar: WorkingDayCalendar) -> None:
    assert calendar.is_working_day(date(2027, 1, 1)) == (True, True)  # Friday
    assert calendar.is_working_day(date(2027, 1, 2)) == (False, True)  # Saturday


def test_provisional_only_once_a_day_of_an_unknown_year_is_examined(calendar: WorkingDayCalendar) -> None:
    assert calendar.add_working_days(date(2026, 12, 30), 1) == (date(2026, 12, 31), False)
    assert calendar.add_working_days(date(2026, 12, 31), 1) == (date(2027, 1, 1), True)
    assert calendar.add_working_days(date(2026, 12, 25), 6) == (date(2027, 1, 4), True)


def test_a_loaded_year_file_is_used_and_not_provisional(empty_dir: Path) -> None:
    write_year(empty_dir, SCHEDULE_2027)
    calendar = WorkingDayCalendar(empty_dir)
    assert calendar.file_years == (2027,)
    assert calendar.is_working_day(date(2027, 1, 1)) == (False, False)  # holiday on a Friday
    assert calendar.is_working_day(date(2027, 1, 9)) == (True, False)  # make-up Saturday
    assert calendar.is_working_day(date(2027, 1, 10)) == (False, False)  # plain Sunday
    assert calendar.is_working_day(date(2027, 1, 4)) == (True, False)  # plain Monday
    assert calendar.add_working_days(date(2026, 12, 31), 1) == (date(2027, 1, 4), False)
    assert calendar.is_working_day(date(2028, 1, 3)) == (True, True)  # still unknown


def test_version_names_the_package_and_changes_with_the_loaded_files(empty_dir: Path) -> None:
    bare = WorkingDayCalendar(empty_dir).version
    assert bare.startswith("chinese-calendar ")
    assert "files" not in bare

    path = write_year(empty_dir, SCHEDULE_2027)
    loaded = WorkingDayCalendar(empty_dir).version
    assert loaded.startswith(bare + " + files 2027 sha256:")

    # Another layout or source text of the same dates is the same calendar.
    path.write_text(json.dumps({**SCHEDULE_2027, "source": "again"}), encoding="utf-8")
    assert WorkingDayCalendar(empty_dir).version == loaded

    # Different dates are a different calendar.
    write_year(empty_dir, {**SCHEDULE_2027, "workdays": []})
    assert WorkingDayCalendar(empty_dir).version not in (bare, loaded)


def test_a_file_takes_precedence_over_the_package_for_its_year(empty_dir: Path) -> None:
    write_year(empty_dir, {"year": 2026, "holidays": ["2026-02-13"], "workdays": []}, name="2026.json")
    calendar = WorkingDayCalendar(empty_dir)
    assert calendar.is_working_day(date(2026, 2, 13)) == (False, False)
    assert calendar.is_working_day(date(2026, 2, 16)) == (True, False)  # not a holiday in this file


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({"year": 2028, "holidays": ["2028-01-01"], "workdays": []}, "year is 2028 but the file name says 2027"),
        ({**SCHEDULE_2027, "holidays": ["2026-12-31"]}, "outside 2027: 2026-12-31"),
        ({**SCHEDULE_2027, "holidays": ["2027-01-01", "2027-01-01"]}, "more than once: 2027-01-01"),
        ({**SCHEDULE_2027, "workdays": ["2027-01-01"]}, "both as holidays and as workdays: 2027-01-01"),
        ({**SCHEDULE_2027, "workdays": ["2027-01-08"]}, "Saturday or Sunday.*2027-01-08"),
        ({**SCHEDULE_2027, "holidays": []}, "holidays"),
        ({**SCHEDULE_2027, "holidays": ["2027-02-30"]}, r"holidays\.0"),
        ({**SCHEDULE_2027, "holidays": [1798761600]}, r"holidays\.0"),  # a timestamp is not a date
        ({**SCHEDULE_2027, "extra": 1}, "extra"),
        ({"year": 2027, "holidays": ["2027-01-01"]}, "workdays: Field required"),
    ],
)
def test_a_malformed_year_file_is_refused(empty_dir: Path, content: object, problem: str) -> None:
    path = write_year(empty_dir, content)
    with pytest.raises(PolicyFileError, match=problem) as raised:
        WorkingDayCalendar(empty_dir)
    assert str(raised.value).startswith(f"{path}: ")


def test_a_year_file_that_is_not_json_is_refused(empty_dir: Path) -> None:
    path = empty_dir / "2027.json"
    path.write_text('{"year": 2027, "holidays": ["2027-01-01"],', encoding="utf-8")
    with pytest.raises(PolicyFileError, match="Invalid JSON") as raised:
        WorkingDayCalendar(empty_dir)
    assert str(path) in str(raised.value)


def test_a_wrongly_named_file_is_refused_not_ignored(empty_dir: Path) -> None:
    write_year(empty_dir, SCHEDULE_2027, name="2027-official.json")
    with pytest.raises(PolicyFileError, match=r"2027-official\.json: calendar files must be named <year>\.json"):
        WorkingDayCalendar(empty_dir)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="does not exist"):
        WorkingDayCalendar(tmp_path / "nowhere")


def test_the_repository_calendar_folder_loads() -> None:
    assert (CALENDAR_DIR / "README.md").is_file()
    assert WorkingDayCalendar().version.startswith("chinese-calendar ")
