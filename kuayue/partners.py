"""The partner directory: each partner's kind, endpoint and callback secret, from a JSON file outside the repository.

`KUAYUE_PARTNERS_FILE` names the file; without it `<data dir>/partners.json` is used when it exists (the
quickstart writes one for the simulator, with secrets it generates). The file is a list of objects with
`partner_id`, `name`, `kind` (bank | guarantee | fund | registration_office), `url` and `secret`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from activities.calendar import POLICY_DIR, PolicyFileError, read_policy_file
from domain.partners import PartnerEndpoint, PartnerKind, RegistrationRules
from kuayue.settings import ConfigurationError

PARTNERS_FILE_ENV = "KUAYUE_PARTNERS_FILE"
PARTNERS_FILE = "partners.json"

PartnerDirectory = dict[str, PartnerEndpoint]
_LIST = TypeAdapter(list[PartnerEndpoint])


def partners_file(data_dir: Path, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    named = env.get(PARTNERS_FILE_ENV, "").strip()
    return Path(named).expanduser() if named else data_dir / PARTNERS_FILE


def load_partner_directory(path: Path) -> PartnerDirectory:
    """The partners in `path`, by id; an empty directory when the file does not exist."""
    if not path.exists():
        return {}
    try:
        endpoints = _LIST.validate_json(path.read_bytes())
    except ValidationError as exc:
        raise ConfigurationError(f"{path}: not a valid partner list: {exc}") from exc
    directory: PartnerDirectory = {}
    for endpoint in endpoints:
        if endpoint.partner_id in directory:
            raise ConfigurationError(f"{path}: partner {endpoint.partner_id!r} is listed twice; each id once")
        directory[endpoint.partner_id] = endpoint
    return directory


# The partners the simulator plays in the quickstart and the tests (names from the seed article's province).
SIMULATED_PARTNERS: tuple[tuple[str, str, PartnerKind], ...] = (
    ("jxbank", "九江银行（模拟）", PartnerKind.BANK),
    ("jxguarantee", "江西省信用融资担保集团（模拟）", PartnerKind.GUARANTEE),
    ("jxfund", "江西省科技成果转化子基金（模拟）", PartnerKind.FUND),
    ("jxregistry", "江西省技术合同认定登记机构（模拟）", PartnerKind.REGISTRATION_OFFICE),
)


def simulated_directory(simulator_url: str) -> PartnerDirectory:
    """The simulator's partners at `simulator_url`, each with a fresh random secret."""
    base = simulator_url.rstrip("/")
    return {
        pid: PartnerEndpoint(partner_id=pid, name=name, kind=kind, url=f"{base}/partners/{pid}", secret=secrets.token_urlsafe(32))
        for pid, name, kind in SIMULATED_PARTNERS
    }


def write_partner_directory(path: Path, directory: PartnerDirectory) -> None:
    """Write the directory (mode 0600: it holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [e.model_dump(mode="json") for e in directory.values()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)


RULES_ENV = "KUAYUE_REGISTRATION_RULES"
_RULES_FILE = re.compile(r"^registration-(?P<version>\d+(?:\.\d+)*)\.json$")


def load_registration_rules(path: Path | None = None) -> RegistrationRules:
    """`path`, else $KUAYUE_REGISTRATION_RULES, else the newest policy/registration-*.json."""
    if path is None:
        named = os.environ.get(RULES_ENV, "").strip()
        path = (POLICY_DIR.parent / named) if named else POLICY_DIR
    if path.is_dir():
        found = []
        for candidate in path.glob("registration-*.json"):
            match = _RULES_FILE.match(candidate.name)
            if match is None:
                raise PolicyFileError(f"{candidate}: name it registration-<version>.json, like registration-2026.json")
            found.append((tuple(int(p) for p in match["version"].split(".")), candidate))
        if not found:
            raise PolicyFileError(f"{path}: no registration rules file (registration-<version>.json)")
        path = max(found)[1]
    rules = read_policy_file(path, RegistrationRules)
    match = _RULES_FILE.match(path.name)
    if match is not None and match["version"] != rules.version:
        raise PolicyFileError(f"{path}: version is {rules.version!r} but the file name says {match['version']!r}")
    missing = [k.value for k in PartnerKind if k != PartnerKind.REGISTRATION_OFFICE and k not in rules.answer_working_days]
    if missing:
        raise PolicyFileError(f"{path}: answer_working_days has no entry for {', '.join(missing)}")
    return rules
