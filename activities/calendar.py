"""The Chinese statutory working-day calendar: holidays and make-up working days (调休).

Where a year's schedule comes from, first match wins:
1. an operator-loaded official schedule file `policy/calendar/<year>.json` (format in the README there);
2. the maintained `chinese-calendar` package (it raises NotImplementedError for years it does not know);
3. Monday–Friday, and the answer is marked provisional (DESIGN.md, "Deadlines and escalation").
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Self, TypeVar

import chinese_calendar  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

POLICY_DIR = Path(__file__).resolve().parents[1] / "policy"
CALENDAR_DIR = POLICY_DIR / "calendar"

_YEAR_FILE = re.compile(r"^(?P<year>\d{4})\.json$")
_SATURDAY = 5


class PolicyFileError(ValueError):
    """A file under policy/ that cannot be used; the message names the file and what is wrong with it."""


M = TypeVar("M", bound=BaseModel)


def read_policy_file(path: Path, model: type[M]) -> M:
    """Read one JSON file under policy/ (SLA policy or calendar year) as a validated model."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PolicyFileError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise PolicyFileError(f"{path}: {describe_validation_error(exc)}") from exc


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: where in the file, what is wrong, and the offending value."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(whole file)"
        value = error.get("input")
        shown = "" if isinstance(value, dict | list) or error["type"] == "json_invalid" else f" (got {value!r})"
        # A check of ours says everything itself; drop pydantic's "Value error, " prefix and the dump.
        if error["type"] == "value_error" and "error" in error.get("ctx", {}):
            problems.append(f"{where}: {error['ctx']['error']}")
        else:
            problems.append(f"{where}: {error['msg']}{shown}")
    return "; ".join(problems)


def _statutory_working_day(d: date, holidays: frozenset[date], workdays: frozenset[date]) -> bool:
    # The same rule as chinese_calendar.is_workday, applied to an operator-loaded year.
    return d in workdays or (d.weekday() < _SATURDAY and d not in holidays)


class OfficialSchedule(BaseModel):
    """One year's official holiday schedule as loaded from `policy/calendar/<year>.json`."""

    # strict: dates only as "YYYY-MM-DD" strings, never a number read as a timestamp
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    year: int = Field(ge=1949, le=9998)
    source: str = ""
    holidays: tuple[date, ...]
    workdays: tuple[date, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.holidays:
            raise ValueError("holidays is empty; an official schedule always has holidays")
        for field, dates in (("holidays", self.holidays), ("workdays", self.workdays)):
            outside = sorted(d.isoformat() for d in dates if d.year != self.year)
            if outside:
                raise ValueError(f"{field} lists dates outside {self.year}: {', '.join(outside)}")
            repeated = sorted({d.isoformat() for d in dates if dates.count(d) > 1})
            if repeated:
                raise ValueError(f"{field} lists a date more than once: {', '.join(repeated)}")
        both = sorted(d.isoformat() for d in set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(f"dates listed both as holidays and as workdays: {', '.join(both)}")
        weekdays = sorted(d.isoformat() for d in self.workdays if d.weekday() < _SATURDAY)
        if weekdays:
            raise ValueError(
                f"workdays are make-up working days and must fall on a Saturday or Sunday; "
                f"these are Monday–Friday: {', '.join(weekdays)}"
            )
        return self

    def fingerprint(self) -> dict[str, object]:
        """What decides working days (not the source text), in a canonical order for hashing."""
        return {
            "year": self.year,
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "workdays": sorted(d.isoformat() for d in self.workdays),
        }


def load_schedules(directory: Path) -> dict[int, OfficialSchedule]:
    """Every `<year>.json` in the directory, checked; any other `*.json` there is an error, not ignored."""
    schedules: dict[int, OfficialSchedule] = {}
    for path in sorted(directory.glob("*.json")):
        match = _YEAR_FILE.match(path.name)
        if match is None:
            raise PolicyFileError(f"{path}: calendar files must be named <year>.json, like 2027.json")
        schedule = read_policy_file(path, OfficialSchedule)
        if schedule.year != int(match["year"]):
            raise PolicyFileError(f"{path}: year is {schedule.year} but the file name says {match['year']}")
        schedules[schedule.year] = schedule
    return schedules


class WorkingDayCalendar:
    """Working days of the Chinese statutory calendar, saying when an answer is only provisional."""

    def __init__(self, directory: Path | None = None) -> None:
        """Load the official schedule files of `directory` (default: policy/calendar in the repository)."""
        if directory is None:
            directory = CALENDAR_DIR
        elif not directory.is_dir():
            raise PolicyFileError(f"{directory}: calendar directory does not exist")
        self._schedules = load_schedules(directory) if directory.is_dir() else {}
        self._days = {year: (frozenset(s.holidays), frozenset(s.workdays)) for year, s in self._schedules.items()}
        self.version = self._describe_version()
        # The answers never change for an instance (its files are read once), and chinese_calendar's
        # own look-up validates every date it is given: a plan examines ~100 days per step.
        self._answers: dict[date, tuple[bool, bool]] = {}

    @property
    def file_years(self) -> tuple[int, ...]:
        """The years whose schedule was loaded from a file."""
        return tuple(sorted(self._schedules))

    def is_working_day(self, d: date) -> tuple[bool, bool]:
        """(working?, provisional?): provisional means the year is unknown and Monday–Friday was assumed."""
        _reject_datetime(d)
        answer = self._answers.get(d)
        if answer is None:
            answer = self._answers[d] = self._look_up(d)
        return answer

    def _look_up(self, d: date) -> tuple[bool, bool]:
        days = self._days.get(d.year)
        if days is not None:
            return _statutory_working_day(d, *days), False
        try:
            return bool(chinese_calendar.is_workday(d)), False
        except NotImplementedError:
            return d.weekday() < _SATURDAY, True

    def add_working_days(self, start: date, n: int) -> tuple[date, bool]:
        """The date n working days after start (start itself not counted); provisional if any day examined was."""
        _reject_datetime(start)
        if n < 0:
            raise ValueError(f"n must be zero or more working days, got {n}")
        day, provisional, counted = start, False, 0
        while counted < n:
            day += timedelta(days=1)
            working, unknown = self.is_working_day(day)
            provisional = provisional or unknown
            counted += working
        return day, provisional

    def _describe_version(self) -> str:
        version = f"chinese-calendar {chinese_calendar.__version__}"
        if not self._schedules:
            return version
        content = json.dumps(
            [self._schedules[year].fingerprint() for year in self.file_years], sort_keys=True, separators=(",", ":")
        )
        digest = hashlib.sha256(content.encode()).hexdigest()[:12]
        years = ",".join(str(year) for year in self.file_years)
        return f"{version} + files {years} sha256:{digest}"


def _reject_datetime(d: date) -> None:
    # datetime is a date subclass: accepting one would count days in whatever zone it happens to carry.
    if isinstance(d, datetime):
        raise TypeError(f"expected a local date, got the datetime {d.isoformat()}; convert it to the policy zone first")
