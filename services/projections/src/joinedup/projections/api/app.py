"""The audited query API for caseworkers and DPOs (FastAPI; OpenAPI at ``/docs``).

Every request that touches personal data states a purpose (``X-Purpose``, a purposes code), may carry a
break-glass justification (``X-Break-Glass``, 10-500 characters), and appends one ``AccessRecorded`` per
person it touched (a search that matched nobody: one without a person) to the access audit *before* the
response leaves; if the audit cannot record it, the request fails with 503 and discloses nothing.

Audit outcomes: ``disclosed`` (everything the caller asked about was shown), ``withheld`` (shown, but items
were withheld for lack of a basis, or a dependency failed), ``denied`` (no basis at all: a uniform 404, or a
record of another agency), ``not-found`` (nothing there).

Logs carry request ids, person ids, codes and counts only: never names, identifiers, dates of birth or
justifications (those are in the audit record, for the DPO). A read is logged at debug level only (the audit
topic is its record); break-glass and failures are logged always.

The request path is asynchronous, on the server's one event loop: the dependencies and routes are ``async``
(no thread hand-offs), the decision call and the audit append are awaited, and the person view read (SQLite,
read-only, well under a millisecond of CPU per person) runs inline. Only the DPO's slow paths (the audit
topic scan, the consent trail) go to the thread pool.
"""

import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime
from starlette.datastructures import MutableHeaders
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from joinedup.contract.models.audit import DisclosedItem
from joinedup.contract.vocabularies import vocabularies
from joinedup.projections.api.auth import Principal, Role, TokenBook
from joinedup.projections.api.consent_trail import ConsentTrailPort, ConsentTrailUnavailableError
from joinedup.projections.api.decisions import DecisionPort, ask_decisions
from joinedup.projections.api.enforcement import (
    OWN_RECORD,
    UNCATEGORISED,
    Ask,
    Disclosure,
    decision_questions,
    subject_records,
)
from joinedup.projections.api.enforcement import disclose as disclose_view
from joinedup.projections.api.validation import (
    AGENCY_PATTERN,
    LOCAL_ID_PATTERN,
    PERSON_ID_PATTERN,
    SearchParams,
    justification_problem,
)
from joinedup.projections.api.views import (
    AuditPageOut,
    ConsentTrailOut,
    NotFoundOut,
    PersonMatchOut,
    PersonViewOut,
    RecordOut,
    RecordPersonOut,
    SearchOut,
    TimelineOut,
)
from joinedup.projections.audit.chain import AccessDraft, Outcome
from joinedup.projections.audit.recorder import AuditQuery, AuditReader, AuditSink
from joinedup.projections.person_view.read_model import PersonView, PersonViewReader

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
REQUEST_ID_HEADER = "X-Request-Id"
SERVER_TIMING_HEADER = "Server-Timing"
NOT_FOUND = "not found"
_NOT_FOUND_RESPONSE: dict[int | str, dict[str, Any]] = {404: {"model": NotFoundOut}}


class QueryStringRedactor(logging.Filter):
    """Drops query strings (search values: names, NHS numbers...) from uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            path, _, _ = args[2].partition("?")
            record.args = (*args[:2], f"{path}?[redacted]", *args[3:])
        return True


def install_access_log_redaction(logger_name: str = "uvicorn.access") -> None:
    """Put :class:`QueryStringRedactor` on the server's access logger (once)."""
    access = logging.getLogger(logger_name)
    if not any(isinstance(f, QueryStringRedactor) for f in access.filters):
        access.addFilter(QueryStringRedactor())


def _new_request_id() -> str:
    return str(uuid.uuid4())


class RequestIds:
    """ASGI middleware: gives every HTTP request an id (``request.state.request_id``, the audit record's
    correlation id) and returns it in ``X-Request-Id``, errors included; and ``Server-Timing`` on a success
    whose route timed its stages (never on an error: a uniform 404 must not show how far the request got)."""

    def __init__(self, app: ASGIApp, new_request_id: Callable[[], str]) -> None:
        self.app = app
        self.new_request_id = new_request_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self.new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append(REQUEST_ID_HEADER, request_id)
                timing = scope["state"].get("server_timing")
                if timing and message["status"] < 300:  # never on a 404: it would tell the two kinds apart
                    headers.append(SERVER_TIMING_HEADER, timing)
            await send(message)

        await self.app(scope, receive, send_with_id)


class StageTimer:
    """Times the stages of a request for its ``Server-Timing`` header (diagnostics: nothing decides on it)."""

    def __init__(self, request: Request) -> None:
        self._state = request.state
        self._last = time.perf_counter()
        self._state.server_timing = ""

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        entry = f"{stage};dur={(now - self._last) * 1000:.2f}"
        self._state.server_timing = (
            f"{self._state.server_timing}, {entry}" if self._state.server_timing else entry
        )
        self._last = now


class AsyncResource(Protocol):
    """An adapter that holds connections on the serving event loop: opened at start-up, closed at shutdown."""

    async def open(self) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ApiDependencies:
    """Everything the API talks to. ``clock`` is the API's only wall clock (the decisions' ``at`` and the
    audit's time); the projection, the decision point and the audit log are ports (fakes in tests)."""

    reader: PersonViewReader
    decisions: DecisionPort
    audit: AuditSink
    audit_reader: AuditReader
    consent_trail: ConsentTrailPort
    tokens: TokenBook
    clock: Clock
    new_request_id: Callable[[], str] = _new_request_id
    purposes: frozenset[str] | None = None
    """Known purpose codes (default: the vocabulary's)."""
    search_limit: int = 20
    resources: Sequence[AsyncResource] = ()
    """Opened when the server starts (in order) and closed when it stops (in reverse order)."""


@dataclass(frozen=True)
class Caller:
    """Who asks, why, when, and the request's id (the audit record's correlation id)."""

    principal: Principal
    purpose: str
    justification: str | None
    request_id: str
    at: datetime

    def ask(self) -> Ask:
        return Ask(
            recipient=self.principal.agency,
            purpose=self.purpose,
            at=self.at,
            break_glass_justification=self.justification,
        )


def _problem(loc: Sequence[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": kind}


def _unprocessable(problems: list[dict[str, Any]]) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=problems)


def _not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=NOT_FOUND)


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    template = route.path if isinstance(route, Route) else "?"
    return f"{request.method} {template}"


def create_app(deps: ApiDependencies) -> FastAPI:
    """The query API over ``deps``."""
    purposes = deps.purposes if deps.purposes is not None else vocabularies().purposes.code_set()
    install_access_log_redaction()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for resource in deps.resources:
                await resource.open()
                stack.push_async_callback(resource.aclose)
            yield

    app = FastAPI(
        title="joinedup query API",
        summary="The joined-up person view for caseworkers, and the access audit for DPOs.",
        version="1",
        lifespan=lifespan,
    )
    bearer = HTTPBearer(auto_error=False)
    app.add_middleware(RequestIds, new_request_id=deps.new_request_id)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        # Locations, messages and types only: the input may be personal data.
        problems = [_problem(e["loc"], str(e["msg"]), str(e["type"])) for e in error.errors()]
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content=jsonable_encoder({"detail": problems})
        )

    # ------------------------------------------------------------------------------ who is calling
    def authenticated(credentials: HTTPAuthorizationCredentials | None, roles: Sequence[Role]) -> Principal:
        """The caller's principal: 401 without a known token, 403 for a role not in ``roles``."""
        principal = deps.tokens.principal(credentials.credentials) if credentials is not None else None
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="a valid bearer token is required",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"role {principal.role!r} may not do this")
        return principal

    def caller_of(*roles: Role) -> Callable[..., Awaitable[Caller]]:
        # One dependency (over the bearer scheme) rather than a chain: FastAPI solves each level per request.
        async def context(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
            x_purpose: Annotated[
                str | None, Header(alias="X-Purpose", description="Why you are asking (a purpose code).")
            ] = None,
            x_break_glass: Annotated[
                str | None,
                Header(
                    alias="X-Break-Glass", description="Emergency access: the justification (10-500 chars)."
                ),
            ] = None,
        ) -> Caller:
            principal = authenticated(credentials, roles)
            problems: list[dict[str, Any]] = []
            if x_purpose is None:
                problems.append(_problem(["header", "X-Purpose"], "a purpose is required", "missing"))
            elif x_purpose not in purposes:
                problems.append(
                    _problem(["header", "X-Purpose"], "not a known purpose code", "unknown-purpose")
                )
            justification: str | None = None
            if x_break_glass is not None:
                justification, problem = justification_problem(x_break_glass)
                if problem is not None:
                    problems.append(_problem(["header", "X-Break-Glass"], problem, "invalid-justification"))
            if problems or x_purpose is None:
                raise _unprocessable(problems)
            return Caller(
                principal=principal,
                purpose=x_purpose,
                justification=justification,
                request_id=str(request.state.request_id),
                at=deps.clock(),
            )

        return context

    reader_caller = Annotated[Caller, Depends(caller_of("caseworker", "dpo"))]
    dpo_caller = Annotated[Caller, Depends(caller_of("dpo"))]

    # ------------------------------------------------------------------------------ audit
    async def audit(
        caller: Caller,
        request: Request,
        entries: Sequence[tuple[str | None, Outcome, Sequence[DisclosedItem], int]],
    ) -> None:
        """One record per (person_id, outcome, disclosed, withheld); 503 if the log cannot take them."""
        route = _route_of(request)
        drafts = [
            AccessDraft(
                request_id=caller.request_id,
                at=caller.at,
                user_id=caller.principal.user,
                agency=caller.principal.agency,
                role=caller.principal.role,
                purpose=caller.purpose,
                request=route,
                person_id=person_id,
                outcome=outcome,
                disclosed=tuple(disclosed),
                withheld_count=withheld,
                break_glass=caller.justification is not None,
                break_glass_justification=caller.justification,
            )
            for person_id, outcome, disclosed, withheld in entries
        ]
        try:
            await deps.audit.append(drafts)
        except Exception as error:
            log.error(
                "request_id=%s route=%s audit append failed (%s): nothing disclosed",
                caller.request_id,
                route,
                type(error).__name__,
            )
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, detail="the access could not be audited; retry"
            ) from None
        if log.isEnabledFor(logging.DEBUG):
            for person_id, outcome, disclosed, withheld in entries:
                log.debug(
                    "request_id=%s route=%s agency=%s outcome=%s person_id=%s disclosed=%d withheld=%d",
                    caller.request_id,
                    route,
                    caller.principal.agency,
                    outcome,
                    person_id,
                    len(disclosed),
                    withheld,
                )
        if caller.justification is not None:
            log.warning(
                "break-glass access for DPO review: request_id=%s agency=%s user=%s persons=%d",
                caller.request_id,
                caller.principal.agency,
                caller.principal.user,
                sum(1 for person_id, *_ in entries if person_id is not None),
            )

    # ------------------------------------------------------------------------------ enforcement
    async def disclosures(views: Sequence[PersonView], caller: Caller) -> list[Disclosure]:
        ask = caller.ask()
        questions = decision_questions(views, ask)
        answers = await ask_decisions(deps.decisions, list(questions.values()))
        by_key = dict(zip(questions.keys(), answers, strict=True))
        return [disclose_view(view, ask, by_key) for view in views]

    async def person_disclosure(person_id: str, caller: Caller, request: Request) -> Disclosure:
        """The caller's disclosure of the person, audited; a uniform 404 (audited) when it has none. The time
        of each stage goes back in ``Server-Timing`` (view read, decision call, audit append, in ms)."""
        timing = StageTimer(request)
        view = deps.reader.person(person_id)
        timing.lap("view")
        if view is None:
            await audit(caller, request, [(person_id, "not-found", (), 0)])
            timing.lap("audit")
            raise _not_found()
        disclosure = (await disclosures([view], caller))[0]
        timing.lap("decide")
        if not disclosure.has_basis:
            await audit(caller, request, [(view.person_id, disclosure.outcome, (), 0)])
            timing.lap("audit")
            raise _not_found()
        await audit(
            caller,
            request,
            [(view.person_id, disclosure.outcome, disclosure.audit_items(), disclosure.withheld)],
        )
        timing.lap("audit")
        return disclosure

    person_id_path = Annotated[str, Path(pattern=PERSON_ID_PATTERN, description="A joinedup person id.")]

    # ------------------------------------------------------------------------------ routes
    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/persons", tags=["persons"])
    async def find_persons(
        params: Annotated[SearchParams, Query()], caller: reader_caller, request: Request
    ) -> SearchOut:
        """Persons matching the search that the caller has some basis to see (an own-agency record or a
        permitted item), with the records it may see."""
        seen: set[str] = set()
        views: list[PersonView] = []
        for view in deps.reader.find_views(params.search(), deps.search_limit):
            if view.person_id not in seen:
                seen.add(view.person_id)
                views.append(view)
        visible = [d for d in await disclosures(views, caller) if d.has_basis]
        visible_ids = {d.person_id for d in visible}
        entries: list[tuple[str | None, Outcome, Sequence[DisclosedItem], int]] = [
            (d.person_id, "disclosed", d.audit_records(), 0) for d in visible
        ]
        entries.extend((v.person_id, "denied", (), 0) for v in views if v.person_id not in visible_ids)
        if not entries:
            entries.append((None, "not-found", (), 0))
        await audit(caller, request, entries)
        return SearchOut(
            persons=[PersonMatchOut.of(d) for d in visible], break_glass=caller.justification is not None
        )

    @app.get("/v1/persons/{person_id}", tags=["persons"], responses=_NOT_FOUND_RESPONSE)
    async def person(person_id: person_id_path, caller: reader_caller, request: Request) -> PersonViewOut:
        """The person's records, the items the caller may see, open alerts addressed to its agency, and how
        many items were withheld. No basis at all (or no such person): 404."""
        disclosure = await person_disclosure(person_id, caller, request)
        return PersonViewOut.of(disclosure, caller.justification is not None)

    @app.get("/v1/persons/{person_id}/timeline", tags=["persons"], responses=_NOT_FOUND_RESPONSE)
    async def timeline(person_id: person_id_path, caller: reader_caller, request: Request) -> TimelineOut:
        """Every status change of every item the caller may see, oldest first, with its source event."""
        disclosure = await person_disclosure(person_id, caller, request)
        return TimelineOut.of(disclosure, caller.justification is not None)

    @app.get("/v1/records/{agency}/{local_person_id}", tags=["records"], responses=_NOT_FOUND_RESPONSE)
    async def record_person(
        agency: Annotated[str, Path(pattern=AGENCY_PATTERN)],
        local_person_id: Annotated[str, Path(pattern=LOCAL_ID_PATTERN)],
        caller: reader_caller,
        request: Request,
    ) -> RecordPersonOut:
        """The person one of the caller's own agency's records belongs to (another agency's record: 404)."""
        if agency != caller.principal.agency:
            await audit(caller, request, [(None, "denied", (), 0)])
            raise _not_found()
        found = deps.reader.person_of_record(agency, local_person_id)
        if found is None:
            await audit(caller, request, [(None, "not-found", (), 0)])
            raise _not_found()
        item = DisclosedItem(
            item_ref=f"record:{agency}/{local_person_id}",
            owner_agency=agency,
            data_category=UNCATEGORISED,
            basis=OWN_RECORD,
        )
        await audit(caller, request, [(found, "disclosed", (item,), 0)])
        return RecordPersonOut(
            person_id=found, record=RecordOut(agency=agency, local_person_id=local_person_id)
        )

    @app.get("/v1/audit/access", tags=["dpo"])
    async def audit_access(
        caller: dpo_caller,
        request: Request,
        person_id: Annotated[str | None, Query(pattern=PERSON_ID_PATTERN)] = None,
        agency: Annotated[str | None, Query(pattern=AGENCY_PATTERN)] = None,
        since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
        until: Annotated[AwareDatetime | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> AuditPageOut:
        """Access audit records (DPO only): by person, by reading agency, in [from, to)."""
        if since is not None and until is not None and until <= since:
            raise _unprocessable([_problem(["query", "to"], "'to' must be after 'from'", "invalid-range")])
        query = AuditQuery(person_id=person_id, agency=agency, since=since, until=until, limit=limit)
        found = await run_in_threadpool(deps.audit_reader.records, query)
        await audit(caller, request, [(person_id, "disclosed", (), 0)])
        return AuditPageOut(records=found)

    @app.get("/v1/persons/{person_id}/consent-trail", tags=["dpo"], responses=_NOT_FOUND_RESPONSE)
    async def consent_trail(
        person_id: person_id_path, caller: dpo_caller, request: Request
    ) -> ConsentTrailOut:
        """The consent trail of every record of the person (DPO only), from the consent service."""
        view = deps.reader.person(person_id)
        if view is None or not view.records:
            await audit(caller, request, [(person_id, "not-found", (), 0)])
            raise _not_found()
        try:
            trail = await run_in_threadpool(deps.consent_trail.trail, subject_records(view))
        except ConsentTrailUnavailableError:
            await audit(caller, request, [(view.person_id, "withheld", (), 0)])
            raise HTTPException(
                status.HTTP_502_BAD_GATEWAY, detail="the consent service did not answer; retry"
            ) from None
        await audit(caller, request, [(view.person_id, "disclosed", (), 0)])
        return ConsentTrailOut(person_id=view.person_id, trail=trail)

    return app
