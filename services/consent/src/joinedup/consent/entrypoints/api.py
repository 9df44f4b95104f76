"""The consent service's HTTP API: the policy decision point, the DPO's trail and agreement commands.

- ``POST /v1/decisions`` (role ``service`` or ``admin``): a batch of questions, one decision each, in order.
- ``GET /v1/subjects/trail?record=<agency>/<local id>&...[&at=<iso>]`` (``dpo`` / ``admin``): the trail,
  or with ``at`` what applied then.
- ``POST /v1/agreements`` and ``POST /v1/agreements/{id}/end`` (``dpo`` / ``admin``; a DPO only for
  agreements on its own agency's data): validated by the core, then published on
  ``joinedup.consent.events``. Decisions change once the service has consumed the events back.
- ``GET /healthz``.

Every handler that reads the state is ``async``: it runs on the event loop that also folds new events in,
so a read never sees a half-applied batch. Publishing (blocking) runs in a worker thread.
"""

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime

from joinedup.consent.app.handlers import ConsentService
from joinedup.consent.app.ports import AgreementPublisher, Issued, PublishFailedError
from joinedup.consent.domain.codes import KnownCodes
from joinedup.consent.domain.commands import EndSharingAgreement, RegisterSharingAgreement, parse_command
from joinedup.consent.domain.decision import Question
from joinedup.consent.domain.errors import CommandRejectedError, UnknownAgreementError, VersionConflictError
from joinedup.consent.domain.events import AgreementEvent, SharingAgreementRegistered
from joinedup.consent.domain.scope import RecordRef
from joinedup.consent.entrypoints.api_models import (
    AgreementAccepted,
    AgreementRequest,
    DecisionsRequest,
    DecisionsResponse,
    EndAgreementRequest,
    InForceView,
    QuestionIn,
    Rejected,
    TrailView,
)
from joinedup.consent.entrypoints.tokens import Principal, Role, TokenBook

RECORD_PARAM = re.compile(r"^(?P<agency>[a-z0-9][a-z0-9-]*)/(?P<local>\S.{0,199})$")
CORRELATION_HEADER = "X-Correlation-Id"
Clock = Callable[[], datetime]


def _problem(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def _unprocessable(problems: list[dict[str, Any]]) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=problems)


def _rejected(error: CommandRejectedError) -> HTTPException:
    code = status.HTTP_422_UNPROCESSABLE_CONTENT
    if isinstance(error, UnknownAgreementError):
        code = status.HTTP_404_NOT_FOUND
    elif isinstance(error, VersionConflictError):
        code = status.HTTP_409_CONFLICT
    body = Rejected(reason_code=error.reason_code, field=error.field, message=error.message)
    return HTTPException(code, detail=body.model_dump())


def _check_question_codes(index: int, question: QuestionIn, codes: KnownCodes) -> list[dict[str, Any]]:
    checks: list[tuple[str, str, frozenset[str], str]] = [
        ("owner", question.owner, codes.agencies, "unknown-agency"),
        ("recipient", question.recipient, codes.agencies, "unknown-agency"),
        ("purpose", question.purpose, codes.purposes, "unknown-purpose"),
        ("category", question.category, codes.data_categories, "unknown-data-category"),
    ]
    loc: list[str | int] = ["body", "questions", index]
    return [
        _problem([*loc, name], f"{value!r} is not a known code", kind)
        for name, value, known, kind in checks
        if value not in known
    ]


def _parse_records(values: list[str], codes: KnownCodes) -> list[RecordRef]:
    records: list[RecordRef] = []
    problems: list[dict[str, Any]] = []
    for index, value in enumerate(values):
        match = RECORD_PARAM.match(value)
        if match is None:
            problems.append(
                _problem(["query", "record", index], "must be '<agency>/<local person id>'", "invalid-record")
            )
        elif match["agency"] not in codes.agencies:
            problems.append(_problem(["query", "record", index], "names an unknown agency", "unknown-agency"))
        else:
            records.append(RecordRef(agency=match["agency"], local_person_id=match["local"]))
    if problems:
        raise _unprocessable(problems)
    return records


def create_app(
    service: ConsentService,
    codes: KnownCodes,
    tokens: TokenBook,
    publisher: AgreementPublisher,
    *,
    clock: Clock,
    max_questions: int = 1000,
) -> FastAPI:
    """The API over ``service``. ``clock`` stamps DPO commands (the envelope's occurred / recorded time)."""
    app = FastAPI(
        title="joinedup consent",
        summary="The sharing decision point; consent trails and sharing agreements for DPOs.",
        version="1",
    )
    bearer = HTTPBearer(auto_error=False)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        # Locations, messages and types only: the input may be personal data (ids, justifications).
        problems = [_problem(list(e["loc"]), str(e["msg"]), str(e["type"])) for e in error.errors()]
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content=jsonable_encoder({"detail": problems})
        )

    def caller(*roles: Role) -> Callable[..., Awaitable[Principal]]:
        # async: a plain dependency would cost each request a thread-pool round trip
        async def authorised(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Principal:
            principal = tokens.principal(credentials.credentials) if credentials is not None else None
            if principal is None:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    detail="a valid bearer token is required",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if principal.role not in roles:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN, detail=f"role {principal.role!r} may not do this"
                )
            return principal

        return authorised

    decision_asker = Annotated[Principal, Depends(caller("service", "admin"))]
    dpo = Annotated[Principal, Depends(caller("dpo", "admin"))]

    def issued(principal: Principal, request: Request) -> Issued:
        correlation = request.headers.get(CORRELATION_HEADER) or str(uuid.uuid4())
        return Issued(agency=principal.agency, user=principal.user, at=clock(), correlation_id=correlation)

    async def publish(events: tuple[AgreementEvent, ...], who: Issued) -> None:
        if not events:
            return
        try:
            await run_in_threadpool(publisher.publish, events, who)
        except PublishFailedError:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, detail="the events could not be published; retry"
            ) from None

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/decisions", tags=["decisions"])
    async def decisions(body: DecisionsRequest, _: decision_asker) -> DecisionsResponse:
        """Answer a batch of sharing questions in one round trip. A caller that gets no answer denies."""
        if len(body.questions) > max_questions:
            raise _unprocessable(
                [_problem(["body", "questions"], f"at most {max_questions} questions per call", "too-many")]
            )
        problems = [p for i, q in enumerate(body.questions) for p in _check_question_codes(i, q, codes)]
        if problems:
            raise _unprocessable(problems)
        questions = [
            Question(
                subject_records=tuple(q.subject_records),
                owner=q.owner,
                recipient=q.recipient,
                purpose=q.purpose,
                category=q.category,
                at=q.at,
                break_glass_justification=q.break_glass_justification,
            )
            for q in body.questions
        ]
        return DecisionsResponse(decisions=service.decide_many(questions))

    @app.get("/v1/subjects/trail", tags=["trail"], response_model=TrailView | InForceView)
    async def subject_trail(
        _: dpo,
        record: Annotated[list[str], Query(min_length=1, max_length=100)],
        at: AwareDatetime | None = None,
    ) -> TrailView | InForceView:
        """The consent trail of a person's records, or (with ``at``) what applied at that instant."""
        records = _parse_records(record, codes)
        if at is None:
            return TrailView.of(service.trail(records))
        return InForceView.of(service.in_force_at(records, at))

    @app.post("/v1/agreements", tags=["agreements"], status_code=status.HTTP_202_ACCEPTED)
    async def register_agreement(
        body: AgreementRequest, principal: dpo, request: Request
    ) -> AgreementAccepted:
        """Register or amend a sharing agreement (a DPO: only one whose owners include its agency)."""
        if principal.role == "dpo" and principal.agency not in body.owner_agencies:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail="a DPO may only share data its own agency holds"
            )
        try:
            command = parse_command(
                RegisterSharingAgreement, {**body.model_dump(), "registered_by": principal.user}
            )
            events = service.register_agreement(command)
        except CommandRejectedError as error:
            raise _rejected(error) from None
        await publish(events, issued(principal, request))
        return AgreementAccepted(
            agreement_id=command.agreement_id, version=command.version, event_ids=[e.event_id for e in events]
        )

    @app.post("/v1/agreements/{agreement_id}/end", tags=["agreements"], status_code=status.HTTP_202_ACCEPTED)
    async def end_agreement(
        agreement_id: str, body: EndAgreementRequest, principal: dpo, request: Request
    ) -> AgreementAccepted:
        """End a sharing agreement from ``ended_at`` (a DPO: only one whose owners include its agency)."""
        history = service.agreement_history(agreement_id)
        if principal.role == "dpo" and history:
            owners = {
                owner
                for event in history
                if isinstance(event, SharingAgreementRegistered)
                for owner in event.owner_agencies
            }
            if principal.agency not in owners:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN, detail="a DPO may only end agreements on its own agency's data"
                )
        version = body.version
        if version is None:
            version = max((e.version for e in history), default=0) + 1
        try:
            command = parse_command(
                EndSharingAgreement,
                {
                    "agreement_id": agreement_id,
                    "version": version,
                    "ended_at": body.ended_at,
                    "ended_by": principal.user,
                    "reason": body.reason,
                },
            )
            events = service.end_agreement(command)
        except CommandRejectedError as error:
            raise _rejected(error) from None
        await publish(events, issued(principal, request))
        return AgreementAccepted(
            agreement_id=agreement_id, version=version, event_ids=[e.event_id for e in events]
        )

    return app
