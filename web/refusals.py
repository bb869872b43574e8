"""Refusals in the reader's language: an English sentence for each refusal code, next to the Chinese detail.

The domain refuses with `DomainError(code, 中文说明)`; the Chinese names the values (this deal, that amount, the
stages allowed) and is what the API answers and the CLI prints. An English page shows, for the refusal's code, what
was wrong and what is allowed, followed by the Chinese detail, which it does not translate: the detail is composed
with data inside, and translating it by pattern would break the first time a message changes. So every code the
domain and the web layer can refuse with has its sentence here (tests/web/test_refusals_english.py collects the codes
from the source and fails on one without a line).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.exceptions import HTTPException

from domain.errors import DomainError
from starter import CommandRejected


@dataclass(frozen=True)
class Refusal:
    """What a page shows of a refused action: the machine code (its English sentence) and the Chinese detail."""

    code: str
    message: str
    status: int = 422

    def __str__(self) -> str:
        return self.message

    @classmethod
    def of(cls, refused: CommandRejected | DomainError) -> Refusal:
        return cls(refused.code, refused.message)


class PageError(HTTPException):
    """An HTTP error of a page (404, 403) with a code, so an English page can say what happened."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code, message)
        self.code = code


# Every code domain/ raises (decider, open_call, roadshow, evolve), and those the workflows add: a command gone stale
# while it waited, and an open call's selection that its deal refused or could not take.
DOMAIN_EN: dict[str, str] = {
    "already_accepted": "This side has already accepted this achievement as the match; it accepts once.",
    "already_answered": "This request already has the partner's final answer; a request gets one conclusion only.",
    "already_awarded": "A winner has already been selected for this open call; a call has one winner.",
    "already_bid": "This achievement has already been bid with in this open call; each achievement may bid once.",
    "already_delivered": "The delivery of this request to the partner is already recorded.",
    "already_interested": "This investor has already registered interest in this deal at this roadshow; one interest "
    "per investor and deal.",
    "already_invited": "This investor is already invited to the roadshow.",
    "already_presented": "This deal is already presented at this roadshow.",
    "already_rejected": "This candidate achievement has already been rejected.",
    "already_shortlisted": "This candidate achievement is already on the shortlist.",
    "already_signed": "The contract is already signed; an amended contract may be signed only after the registration "
    "office asks for a correction or refuses registration.",
    "amount_not_positive": "The amount must be greater than zero.",
    "broker_not_in_centre": "The broker belongs to another centre; a deal's broker must be of the deal's centre (only "
    "the provincial hub may reassign a deal to another centre's broker).",
    "commitment_expired": "The commitment's expiry date has passed, so it cannot be recorded as a valid commitment.",
    "contract_not_signed": "No contract is signed yet; sign the technology contract first, then submit it for registration.",
    "contract_signed": "The contract is signed: the financing commitments are locked, and an expiry no longer affects the deal.",
    "correction_needed": "The registration office asked for a correction or refused registration: sign the amended "
    "contract first, then submit it again.",
    "deadline_past": "The deadline has already passed; choose a deadline in the future.",
    "deadline_too_far": "The deadline is too far away; an open call runs for at most the number of days named in the details.",
    "deal_closed": "The deal has ended (signed, withdrawn or lapsed) and accepts no more actions.",
    "deal_exists": "A deal with this id already exists; choose another id.",
    "deal_not_open": "The deal has not been opened yet; open it first.",
    "duplicate_answer": "This partner answer is already recorded; a repeated answer changes nothing.",
    "duplicate_candidate": "The same achievement is listed more than once; each candidate may appear only once.",
    "duplicate_request": "This number is already used by another application or registration of this deal; choose another.",
    "financing_closed": "The deal has left the financing stage, so financing answers are no longer recorded.",
    "forbidden": "Your role or centre does not allow this action: auditors only read, brokers act on the deals "
    "assigned to them, managers on their own centre's deals, and some steps are taken only by the system or a partner.",
    "no_accepted_match": "No achievement has been accepted by both sides yet; the enterprise and the achievement's "
    "owner must both accept a match first.",
    "no_commitment": "There is no valid commitment for this request.",
    "no_plan": "This stage has no deadline plan, so there is nothing to remind or escalate.",
    "no_terms": "The terms have not been agreed yet; agree the terms (on an accepted match) before signing the contract.",
    "not_an_investor": "Financing applications go only to banks, credit-guarantee firms and funds.",
    "not_closed": "Only an open call that has closed without a winner can lapse.",
    "not_due": "It is not time yet: the moment named in the details has not come.",
    "not_expired": "The commitment has not expired yet.",
    "not_inactive": "The deal has not been inactive long enough to lapse.",
    "not_invited": "This investor is not invited to the roadshow; invite them first (the details list the invited investors).",
    "not_presented": "This deal is not presented at the roadshow; present it first (the details list the presented deals).",
    "not_published": "The open call has not been published yet.",
    "not_qualified": "The bid does not meet the open call's qualifications (the details say which, and what the call asks for).",
    "not_shortlisted": "The achievement is not on the shortlist; only a shortlisted achievement can be accepted.",
    "nothing_to_forward": "This deal has no pending application to forward.",
    "open_call_closed": "The open call has closed and takes no more bids.",
    "open_call_exists": "This open call is already published, or its id is taken; choose another id.",
    "open_call_lapsed": "No winner was selected within the selection period after the close; the open call has ended.",
    "open_call_open": "The open call is still open; a winner can be selected only after its deadline.",
    "reason_required": "A reason is required for this action; write one and send again.",
    "request_not_waiting": "The request is no longer waiting for an answer, so no reminder is needed.",
    "roadshow_closed": "The roadshow is closed and accepts no more actions.",
    "roadshow_exists": "A roadshow with this id is already scheduled; choose another id.",
    "roadshow_not_scheduled": "The roadshow has not been scheduled yet.",
    "same_broker": "The deal is already assigned to this broker; choose another broker.",
    "seq_gap": "The record's events are not in sequence, so nothing was recorded.",
    "stale": "The deal changed while the action was waiting; reload the page and try again.",
    "step_already_fired": "This reminder or escalation step has already been sent.",
    "step_not_due": "This reminder or escalation step is not due yet.",
    "submission_pending": "A registration application is still waiting for the office's answer; it cannot be "
    "submitted again until then.",
    "too_late_to_withdraw": "The deal has left the financing stage; a commitment can no longer be withdrawn.",
    "unknown_bid": "There is no bid with this number (the details list the bids received).",
    "unknown_candidate": "The achievement is not among the deal's candidates (the details list them).",
    "unknown_request": "This deal has no financing application or registration with this number (the details list its requests).",
    "venue_required": "A roadshow at a venue needs the venue's address.",
    "wrong_decision": "A partner of this kind cannot give this answer to this request (the details list the answers allowed).",
    "wrong_partner": "The request was sent to another partner; only that partner may answer it.",
    "wrong_party": "Party A of the contract must be the deal's enterprise, with its unified social credit code.",
    "wrong_stage": "The deal is not in a stage where this is allowed (the details name its stage and the stages allowed).",
    "deal_refused": "The deal refused the selection; the details give the deal's own reason.",
    "deal_not_matching": "The deal is not in matching: a winner becomes the deal's match only while the deal is in "
    "matching. Select again once the deal is back in matching.",
    "deal_unavailable": "The deal could not be reached to record the selection; try again later.",
}

# Codes of the web layer, the clients it calls (starter, kuayue.open_calls, kuayue.roadshows) and the CLI.
WEB_EN: dict[str, str] = {
    # refused input on a form
    "invalid_input": "A value in the form is not valid (the details name the field and what is allowed).",
    "invalid_choice": "A choice in the form is not one of those offered.",
    "invalid_money": "An amount is not valid: write a number of 10,000 yuan, not negative, e.g. 300 or 12.5.",
    "invalid_command": "Fields of the action are missing or not valid (the details name each one).",
    "invalid_bid": "The bid's proposal must be 1 to 2,000 characters, saying how the achievement meets the demand's targets.",
    "invalid_close": "Closing an open call early needs a reason.",
    "invalid_qualifications": "The solver qualifications are not valid.",
    "invalid_deadline": "The deadline is not a date and time; write it like 2026-12-31T17:00.",
    "invalid_actor": "The identity must read ID:ROLE[:CENTRE], e.g. ja-broker-liu:broker:ja-centre.",
    "invalid_deal_file": "The deal file has missing or invalid fields (the details name each one).",
    "unknown_command": "There is no such action.",
    "unknown_action": "The roadshow has no such action.",
    "unknown_broker": "The broker is not an active broker you may give the deal to; choose one from the list.",
    "centre_unknown": "The centre's details are missing or not valid: give its name, level and 6-digit region code.",
    "no_deals": "Choose at least one deal in roadshow financing.",
    "unknown_achievement": "There is no registered achievement with this number; only registered achievements may bid.",
    # the deal, open call or roadshow asked for
    "unknown_deal": "There is no such deal, or it cannot be reached right now.",
    "deal_not_found": "There is no deal with this id, or you may not see it.",
    "unknown_open_call": "There is no open call with this id.",
    "open_call_ended": "The open call has ended and accepts no more actions.",
    "roadshow_not_running": "The roadshow has ended or does not exist, and accepts no more actions.",
    "roadshow_not_found": "There is no roadshow with this id, or you may not see it.",
    "registry_not_found": "There is no such registry; the registries are achievements and demands.",
    "record_not_found": "There is no record with this registration number in the registry.",
    "rejected": "The action was refused; the details say why.",
    # who may do what (403)
    "not_offered_to_you": "This action is offered on this page, but not to you: your role or centre does not allow it.",
    "dashboard_not_allowed": "The dashboard is for centre managers, the provincial hub and auditors; a manager sees "
    "only their own centre.",
    "import_not_allowed": "Only centre managers and the provincial hub's administrators may import into the registries.",
    "start_deal_not_allowed": "Only brokers, centre managers and the provincial hub may start a deal from a demand.",
    "declines_not_allowed": "Why a centre's achievements are declined is for that centre's managers, the provincial "
    "hub and auditors.",
    "bid_not_allowed": "Only the brokers and managers of the centre that owns the achievement may bid.",
    "audit_not_allowed": "The audit pages are for auditors, the provincial hub's administrators and centre managers.",
    "verify_archive_not_allowed": "Only auditors and the provincial hub's administrators may verify the whole archive.",
    "verify_other_centre": "A centre manager may verify only their own centre's deals.",
    "verify_not_allowed": "Verifying the hash chain is for auditors, the provincial hub and centre managers.",
    "csrf": "The form has expired or did not come from this site; reload the page and send it again.",
    # filters and lists (422)
    "bad_stage": "There is no such stage; choose one of the stages offered.",
    "bad_industry": "The industry code is not valid: give a GB/T 4754 code or its start, e.g. C, C34 or C3425.",
    "bad_region": "The region code is not valid: give a 2, 4 or 6-digit GB/T 2260 code, e.g. 3608 or 360802.",
    "bad_due_by": "The due date is not a date; write it like 2026-03-05.",
    "bad_sort": "There is no such sort order; choose one of those offered.",
    "bad_status": "There is no such status; choose one of those offered.",
    "bad_query": "The search or one of its filters is not valid (the details say which, and what is allowed).",
    "bad_notification_id": "Notification numbers must be whole numbers.",
    "unsupported_language": "There is no such language; the pages are in Chinese (zh-CN) and English (en).",
    # a registry file to import
    "no_file": "Choose a file to import (.csv, .xlsx or .json).",
    "file_type": "This kind of file cannot be imported; upload a .csv, .xlsx or .json file.",
    "file_too_large": "The file is too large (the details give the limit).",
    "import_kind": "There is no such registry to import into; choose achievements or demands, or leave it to be "
    "detected from the header.",
    "unreadable_file": "The file cannot be read as a registry table (the details say what is missing or wrong).",
    "bad_export_format": "A registry can be exported as xlsx (a spreadsheet) or json.",
    "preview_gone": "The previewed file is no longer kept (it was imported, or an hour has passed); upload it again.",
    "charts_missing": "The chart library is not installed on the server (run scripts/setup).",
}

# When a page error carries no code of the tables (an unknown route, a library's own error), its status speaks.
STATUS_EN: dict[int, str] = {
    400: "The request could not be read.",
    401: "You need to sign in.",
    403: "You may not do this.",
    404: "Not found, or you may not see it.",
    405: "This page does not take this kind of request.",
    413: "What was sent is too large.",
    422: "The action was not carried out: something in it is not allowed.",
}


def english(refusal: Refusal) -> str:
    """What an English page says of `refusal`: its code's sentence, else its status's."""
    return DOMAIN_EN.get(refusal.code) or WEB_EN.get(refusal.code) or STATUS_EN.get(refusal.status, "Something went wrong.")
