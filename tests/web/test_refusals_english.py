"""Every refusal code the domain and the web layer can give has its English sentence (web.refusals).

The codes are collected from the source, so a new `DomainError("code", …)`, `CommandRejected`, `Refusal`, `PageError` or
`Forbidden(…, code=…)` without an English line fails here; and a line for a code nothing raises any more fails too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from activities.open_call import DEAL_NOT_MATCHING, DEAL_REFUSED
from web.refusals import DOMAIN_EN, STATUS_EN, WEB_EN, Refusal, english

ROOT = Path(__file__).resolve().parents[2]
CHINESE = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# The deal's, open call's and roadshow's rules, and the workflows that run them.
DOMAIN_SOURCES = [ROOT / "domain", ROOT / "workflows"]
# The web layer and the clients it calls (starter, kuayue.open_calls, kuayue.roadshows, and the CLI beside them).
WEB_SOURCES = [ROOT / "web", ROOT / "starter.py", ROOT / "kuayue"]
# Refusals of an open call's selection, made by its award activity and passed on by the open call's workflow.
AWARD_CODES = {DEAL_REFUSED, DEAL_NOT_MATCHING}


def _strings(node: ast.expr | None) -> set[str]:
    """The literal codes of an argument: "code", or the fallback of `cause.type or "rejected"`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.BoolOp):
        return set().union(*(_strings(v) for v in node.values))
    return set()


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def codes_in(sources: list[Path]) -> dict[str, str]:
    """code -> a place that refuses with it, for every refusal written in `sources`."""
    found: dict[str, str] = {}
    files = [p for s in sources for p in ([s] if s.is_file() else sorted(s.rglob("*.py")))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            codes: set[str] = set()
            if name in ("DomainError", "CommandRejected", "Refusal") and node.args:
                codes = _strings(node.args[0])
            elif name == "PageError" and len(node.args) > 1:
                codes = _strings(node.args[1])
            elif name == "Forbidden":
                codes = _strings(_keyword(node, "code")) or {"forbidden"}
            elif name == "ApplicationError":
                codes = _strings(_keyword(node, "type"))
            elif name == "_refusal":
                codes = _strings(_keyword(node, "page_code"))
            for code in codes:
                found.setdefault(code, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_collector_finds_the_domain_codes() -> None:
    """The collector reads what it should: about 60 domain codes, among them ones raised in each decider."""
    domain = codes_in(DOMAIN_SOURCES)
    assert {"wrong_stage", "already_bid", "not_invited", "seq_gap", "stale"} <= set(domain)
    assert len(domain) >= 60


def test_every_domain_code_has_an_english_sentence() -> None:
    raised = codes_in(DOMAIN_SOURCES) | dict.fromkeys(AWARD_CODES, "activities/open_call.py")
    missing = {code: where for code, where in raised.items() if code not in DOMAIN_EN}
    assert missing == {}


def test_every_web_code_has_an_english_sentence() -> None:
    raised = codes_in(WEB_SOURCES)
    missing = {code: where for code, where in raised.items() if code not in DOMAIN_EN and code not in WEB_EN}
    assert missing == {}


def test_no_sentence_for_a_code_nothing_raises() -> None:
    assert set(DOMAIN_EN) - set(codes_in(DOMAIN_SOURCES)) - AWARD_CODES == set()
    assert set(WEB_EN) - set(codes_in(WEB_SOURCES)) == set()


def test_the_sentences_are_english() -> None:
    for code, sentence in {**DOMAIN_EN, **WEB_EN, **{str(k): v for k, v in STATUS_EN.items()}}.items():
        assert not CHINESE.search(sentence), code
        assert sentence[0].isupper() and sentence.endswith("."), code


def test_an_unknown_code_falls_back_to_its_status() -> None:
    assert english(Refusal("wrong_stage", "…")) == DOMAIN_EN["wrong_stage"]
    assert english(Refusal("http_405", "Method Not Allowed", 405)) == STATUS_EN[405]
    assert english(Refusal("no_such_code", "…", 404)) == STATUS_EN[404]
