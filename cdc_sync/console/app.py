"""The operator console (`/console` on `cdc-sync serve`, or `cdc-sync console` alone): server-
rendered pages over the same functions the CLI calls. Every page needs a session; every form
carries the session's CSRF token; every action is checked against the operator's role and
audited under the operator's name (by the operation itself, as from the CLI)."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from cdc_sync.admin.consumer_groups import OffsetsReport, require_idle
from cdc_sync.admin.kafka_admin import KafkaOffsets, apply_rewind, preview_rewind, read_offsets
from cdc_sync.admin.offsets import RewindPlan, RewindRequest, destinations_for, routed_topics, target_of
from cdc_sync.config import AppConfig
from cdc_sync.console import views
from cdc_sync.console.auth import (
    COOKIE,
    ROLES,
    CookieSettings,
    Refused,
    allows,
    behind_tls,
    check,
    check_csrf,
    proxy_role,
)
from cdc_sync.console.passwords import MIN_LENGTH, hash_password, verify_password
from cdc_sync.endpoints import HttpEndpoint
from cdc_sync.errors import CdcSyncError, ConfigError
from cdc_sync.outbound.pipeline import Route as OutboundRoute
from cdc_sync.outbound.pipeline import build_routes
from cdc_sync.repair import destinations as destination_ops
from cdc_sync.repair import inbox as inbox_ops
from cdc_sync.repair.conflicts import resolve_conflict
from cdc_sync.repair.dead_letters import (
    ReplayContext,
    ReplayRequest,
    discard,
    letter_details,
    replay,
    select_letters,
)
from cdc_sync.report import html_plots
from cdc_sync.store import audit, inbox, operators
from cdc_sync.store.conflicts import Keep, list_conflicts
from cdc_sync.store.dead_letters import StoredLetter
from cdc_sync.store.operators import Session

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True))


@dataclass(frozen=True)
class Console:
    engine: Engine
    config: AppConfig
    topic_prefix: str
    registry: HttpEndpoint
    kafka: dict[str, Any]  # the common Kafka client config (endpoints.kafka_client_config)

    def offsets(self, routes: Mapping[str, Sequence[OutboundRoute]] | None = None) -> OffsetsReport:
        """`offsets show` for the configured group."""
        routed = routed_topics(self.topic_prefix, routes or build_routes(self.config))
        return read_offsets(KafkaOffsets(self.kafka), self.config.consumer.group_id, routed)

    def lag(self) -> dict[str, int | None]:
        """Each destination's consumer lag; unknown (None) while Kafka does not answer."""
        routes = build_routes(self.config)
        try:
            return views.destination_lag(self.offsets(routes), routes, self.topic_prefix)
        except CdcSyncError:
            return {}


Page = Callable[[Request, Session], Awaitable[Response]]


def _render(request: Request, name: str, session: Session | None, status: int = 200, **data: Any) -> Response:
    context = {
        "session": session,
        "allows": allows,
        "shown": views.shown,
        "notice": request.query_params.get("done"),
    }
    response: Response = TEMPLATES.TemplateResponse(request, name, {**context, **data}, status_code=status)
    return response


def _back(path: str, notice: str) -> Response:
    return RedirectResponse(
        f"/console{path}{'&' if '?' in path else '?'}done={quote(notice)}", status_code=303
    )


class Pages:
    def __init__(self, console: Console) -> None:
        self.c = console

    def guarded(
        self, action: str, page: Page, form: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """A session (else the login page), the action's role, and for a form its CSRF token."""

        async def endpoint(request: Request) -> Response:
            if self.c.config.console.proxy_user_header:
                return await self._behind_proxy(request, action, page, form)
            token = request.cookies.get(COOKIE)
            session = await asyncio.to_thread(operators.session_of, self.c.engine, token)
            if session is None:
                if form:
                    return _render(request, "error.html", None, 403, message="log in first")
                target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
                return RedirectResponse(f"/console/login?next={target}", status_code=303)
            return await self._checked(request, session, action, page, form)

        return endpoint

    async def _checked(
        self, request: Request, session: Session, action: str, page: Page, form: bool
    ) -> Response:
        try:
            if form:
                check_csrf(session, (await request.form()).get("csrf"))
            check(session, action)
            return await page(request, session)
        except Refused as exc:
            return _render(request, "error.html", session, exc.status, message=str(exc))
        except CdcSyncError as exc:
            return _render(request, "error.html", session, 409, message=str(exc))

    async def _behind_proxy(self, request: Request, action: str, page: Page, form: bool) -> Response:
        """The proxy's user and groups decide; a session (for its CSRF token) opens on the first page."""
        settings = self.c.config.console
        name = request.headers.get(settings.proxy_user_header or "", "").strip()
        role = proxy_role(request.headers.get(settings.proxy_groups_header), settings.proxy_roles)
        if not name or role is None:
            why = "the proxy named no user" if not name else f"{name} is in no group that has a console role"
            return _render(request, "error.html", None, 401 if not name else 403, message=why)
        token = request.cookies.get(COOKIE)
        session = await asyncio.to_thread(operators.proxied_session, self.c.engine, token, name, role)
        if session is not None:
            return await self._checked(request, session, action, page, form)
        if form:
            return _render(request, "error.html", None, 403, message="no session yet: open a page first")
        token = await asyncio.to_thread(operators.open_session, self.c.engine, name)
        response = RedirectResponse(str(request.url), status_code=303)
        response.set_cookie(COOKIE, token, **CookieSettings(behind_tls(request)).as_kwargs())  # type: ignore[arg-type]
        return response

    # --- logging in and out
    async def login_form(self, request: Request) -> Response:
        return _render(request, "login.html", None, next=request.query_params.get("next", "/console/"))

    async def login(self, request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("name", "")), str(form.get("password", ""))
        found = await asyncio.to_thread(operators.operator, self.c.engine, name)
        if found is None or not await asyncio.to_thread(verify_password, password, found.password_hash):
            return _render(request, "login.html", None, 401, error="wrong name or password", next="/console/")
        token = await asyncio.to_thread(operators.open_session, self.c.engine, found.name)
        target = str(form.get("next") or "/console/")
        response = RedirectResponse(target if target.startswith("/console") else "/console/", status_code=303)
        response.set_cookie(COOKIE, token, **CookieSettings(behind_tls(request)).as_kwargs())  # type: ignore[arg-type]
        return response

    async def logout(self, request: Request, session: Session) -> Response:
        token = request.cookies.get(COOKIE)
        if token:
            await asyncio.to_thread(operators.close_session, self.c.engine, token)
        response = RedirectResponse("/console/login", status_code=303)
        response.delete_cookie(COOKIE, path="/console")
        return response

    # --- pages
    async def overview(self, request: Request, session: Session) -> Response:
        lag = await asyncio.to_thread(self.c.lag)
        found = await asyncio.to_thread(views.overview, self.c.engine, self.c.config, lag)
        return _render(request, "overview.html", session, overview=found)

    async def dead_letters(self, request: Request, session: Session) -> Response:
        q = request.query_params
        wanted = views.LetterFilter(
            q.get("object", ""),
            q.get("destination", ""),
            q.get("reason", ""),
            q.get("since", ""),
            q.get("status", "open"),
        )
        letters = await self._letters(wanted)
        return _render(request, "dead_letters.html", session, letters=letters, filters=wanted)

    async def _letters(self, wanted: views.LetterFilter) -> list[StoredLetter]:
        try:
            return await asyncio.to_thread(views.dead_letters, self.c.engine, wanted)
        except ValueError as exc:  # a `since` that is no time
            raise Refused(400, str(exc)) from None

    async def dead_letter(self, request: Request, session: Session) -> Response:
        pii = request.query_params.get("pii") == "1"
        if pii:
            check(session, "show_pii")
        details = await asyncio.to_thread(
            letter_details, self.c.engine, int(request.path_params["letter_id"])
        )
        if pii:
            await asyncio.to_thread(
                audit.audit, self.c.engine, session.operator, "console.show_pii", details.letter.audit_object
            )
        return _render(request, "dead_letter.html", session, details=details, pii=pii)

    async def retry(self, request: Request, session: Session) -> Response:
        """Retry one letter, the selected ones, or every open one of the filter: `dlq replay`."""
        form = await request.form()
        every = form.get("all") == "1"
        ids = () if every else tuple(int(str(v)) for v in form.getlist("letter") if str(v).isdigit())
        if not ids and not every:
            raise Refused(400, "select dead letters to retry, or retry all that match the filter")
        context = ReplayContext(
            self.c.engine, self.c.config, session.operator, self.c.topic_prefix, self.c.registry
        )
        wanted = views.LetterFilter(*(str(form.get(name) or "") for name in views.LetterFilter.FIELDS))
        request_ = ReplayRequest(ids, every, wanted.destination or None)
        letters = await asyncio.to_thread(select_letters, context, request_)
        if every:  # the open letters of the page's filter, in `dlq replay`'s order
            matching = {
                letter.id for letter in await asyncio.to_thread(views.dead_letters, self.c.engine, wanted)
            }
            letters = [letter for letter in letters if letter.id in matching]
        report = await replay(context, request_, letters) if letters else None
        counts = report.counts() if report else {}
        notice = ", ".join(f"{outcome} {n}" for outcome, n in counts.items()) or "nothing to retry"
        return _back(f"/dead-letters?{urlencode({'object': wanted.entity, 'status': 'all'})}", notice)

    async def discard_letter(self, request: Request, session: Session) -> Response:
        form = await request.form()
        reason = str(form.get("reason") or "").strip()
        if not reason:
            raise Refused(400, "say why the dead letter is discarded")
        letter_id = int(request.path_params["letter_id"])
        await asyncio.to_thread(discard, self.c.engine, letter_id, reason, session.operator)
        return _back("/dead-letters", f"dead letter {letter_id} discarded")

    async def conflicts(self, request: Request, session: Session) -> Response:
        status = None if request.query_params.get("all") == "1" else "open"
        rows = await asyncio.to_thread(list_conflicts, self.c.engine, status, 200)
        return _render(request, "conflicts.html", session, conflicts=rows)

    async def resolve(self, request: Request, session: Session) -> Response:
        form = await request.form()
        keep: Keep = "crm" if form.get("keep") == "crm" else "vendor"
        if form.get("keep") not in ("crm", "vendor"):
            raise Refused(400, "keep crm or vendor")
        conflict_id = int(request.path_params["conflict_id"])
        kept = await resolve_conflict(self.c.engine, self.c.config, conflict_id, keep, session.operator)
        return _back("/conflicts", f"conflict {conflict_id} resolved: kept {keep} value {kept!r}")

    async def pause(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        reason = str((await request.form()).get("reason") or "paused from the console")
        await asyncio.to_thread(
            destination_ops.pause, self.c.engine, self.c.config, name, session.operator, reason
        )
        return _back("/", f"{name} paused")

    async def resume(self, request: Request, session: Session) -> Response:
        name = request.path_params["name"]
        report = await destination_ops.resume(self.c.engine, self.c.config, name, session.operator)
        return _back("/", f"{name} resumed after replaying {report.replayed} held deliveries")

    async def destination(self, request: Request, session: Session) -> Response:
        """One destination: its row of the overview and the report's plots of the last 15 minutes."""
        name = request.path_params["name"]
        if name not in self.c.config.destinations:
            raise Refused(404, f"no destination {name}")
        lag = await asyncio.to_thread(self.c.lag)
        found = await asyncio.to_thread(views.overview, self.c.engine, self.c.config, lag)
        (row,) = [d for d in found.destinations if d.name == name]
        report = await asyncio.to_thread(views.delivery_summaries, self.c.engine, name)
        try:
            plots = Markup(await asyncio.to_thread(html_plots().report_body, report))
        except ConfigError as exc:  # installed without the `report` extra
            plots = Markup("<p>{}</p>").format(str(exc))
        return _render(request, "destination.html", session, d=row, plots=plots)

    async def inbox(self, request: Request, session: Session) -> Response:
        wanted = request.query_params.getlist("status") or list(inbox.REPLAYABLE)
        rows = await asyncio.to_thread(inbox.list_events, self.c.engine, wanted, None, 200)
        return _render(request, "inbox.html", session, events=rows, statuses=wanted)

    async def replay_inbox(self, request: Request, session: Session) -> Response:
        """`inbox replay`: the chosen events (or every replayable one) back to the writer."""
        form = await request.form()
        ids = [int(str(value)) for value in form.getlist("event") if str(value).isdigit()]
        if not ids and form.get("all") != "1":
            raise Refused(400, "select events to replay, or replay all")
        done = await asyncio.to_thread(inbox_ops.replay, self.c.engine, ids or None, None, session.operator)
        return _back("/inbox", f"{len(done)} events back to the writer")

    async def offsets(self, request: Request, session: Session) -> Response:
        report = await asyncio.to_thread(self.c.offsets)
        return _render(
            request, "offsets.html", session, report=report, topics=sorted({r.topic for r in report.rows})
        )

    async def rewind(self, request: Request, session: Session) -> Response:
        """`offsets rewind`: the impact first; applied only from the preview's own form."""
        form = await request.form()
        plan = await asyncio.to_thread(self._plan, form)
        if form.get("apply") != "1":
            return _render(request, "rewind.html", session, plan=plan, form=dict(form))
        require_idle(plan.group)
        await asyncio.to_thread(
            apply_rewind, KafkaOffsets(self.c.kafka), self.c.engine, plan, session.operator
        )
        return _back("/offsets", f"rewound {len(plan.moves)} partition(s) of {plan.topic} (audited)")

    def _plan(self, form: Any) -> RewindPlan:
        def number(name: str) -> int | None:
            raw = str(form.get(name) or "").strip()
            return int(raw) if raw.lstrip("-").isdigit() else None

        to = form.get("to")
        offset, shift = (
            (number("to_offset") if to == "offset" else None),
            (number("shift") if to == "shift" else None),
        )
        target = target_of(offset, None, to == "earliest", shift, datetime.now(UTC))
        topic = str(form.get("topic") or "")
        request = RewindRequest(self.c.config.consumer.group_id, topic, target, number("partition"))
        routes = build_routes(self.c.config)
        return preview_rewind(
            KafkaOffsets(self.c.kafka),
            request,
            destinations_for(topic, self.c.topic_prefix, routes),
        )

    async def operators(self, request: Request, session: Session) -> Response:
        rows = await asyncio.to_thread(operators.list_operators, self.c.engine)
        return _render(request, "operators.html", session, operators=rows, roles=ROLES)

    async def set_operator(self, request: Request, session: Session) -> Response:
        """`operators add`: a new operator, or a new password and role (their sessions end)."""
        form = await request.form()
        name, role, password = (str(form.get(key) or "").strip() for key in ("name", "role", "password"))
        if not name or role not in ROLES:
            raise Refused(400, f"give a name and one of the roles {', '.join(ROLES)}")
        if len(password) < MIN_LENGTH:
            raise Refused(400, f"the password needs at least {MIN_LENGTH} characters")
        hashed = await asyncio.to_thread(hash_password, password)
        new = await asyncio.to_thread(
            operators.add_operator, self.c.engine, name, hashed, role, session.operator
        )
        return _back("/operators", f"operator {name} ({role}) {'added' if new else 'updated'}")

    async def timeline(self, request: Request, session: Session) -> Response:
        query = request.query_params.get("q", "")
        obj = await asyncio.to_thread(views.timeline_object, self.c.engine, query) if query else None
        entries = await asyncio.to_thread(views.timeline, self.c.engine, obj) if obj else []
        return _render(request, "timeline.html", session, query=query, obj=obj, entries=entries)


def create_console(console: Console) -> Starlette:
    """The console's app, to be mounted at /console."""
    pages = Pages(console)
    g = pages.guarded
    routes = [
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", g("read", pages.logout, form=True), methods=["POST"]),
        Route("/", g("read", pages.overview), methods=["GET"]),
        Route("/dead-letters", g("read", pages.dead_letters), methods=["GET"]),
        Route("/dead-letters/retry", g("retry", pages.retry, form=True), methods=["POST"]),
        Route("/dead-letters/{letter_id:int}", g("read", pages.dead_letter), methods=["GET"]),
        Route(
            "/dead-letters/{letter_id:int}/discard",
            g("discard", pages.discard_letter, form=True),
            methods=["POST"],
        ),
        Route("/conflicts", g("read", pages.conflicts), methods=["GET"]),
        Route(
            "/conflicts/{conflict_id:int}/resolve", g("resolve", pages.resolve, form=True), methods=["POST"]
        ),
        Route("/destinations/{name}/pause", g("pause", pages.pause, form=True), methods=["POST"]),
        Route("/destinations/{name}/resume", g("resume", pages.resume, form=True), methods=["POST"]),
        Route("/timeline", g("read", pages.timeline), methods=["GET"]),
        Route("/destinations/{name}", g("read", pages.destination), methods=["GET"]),
        Route("/inbox", g("read", pages.inbox), methods=["GET"]),
        Route("/inbox/replay", g("replay", pages.replay_inbox, form=True), methods=["POST"]),
        Route("/offsets", g("read", pages.offsets), methods=["GET"]),
        Route("/operators", g("manage_operators", pages.operators), methods=["GET"]),
        Route("/operators", g("manage_operators", pages.set_operator, form=True), methods=["POST"]),
        Route("/offsets/rewind", g("rewind", pages.rewind, form=True), methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(routes=routes)
