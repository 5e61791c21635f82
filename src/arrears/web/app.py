"""The FastAPI application: pages, the REST API under /api/v1, errors, security headers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arrears.bootstrap import App
from arrears.domain.errors import (
    AuthenticationError,
    Conflict,
    Forbidden,
    NotFound,
    ValidationError,
)
from arrears.web.context import CsrfError, LoginRequired, WebContext, render

__all__ = ["create_app", "from_env", "web_app"]

STATIC = Path(__file__).parent / "static"
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """Adds ``_HEADERS`` to every response that does not set them itself (plain ASGI: the
    decorator-style HTTP middleware costs an extra task and body stream per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in _HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in self.raw if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _problem(
    status: int, title: str, detail: str, issues: list[dict[str, object]] | None = None
) -> JSONResponse:
    body: dict[str, object] = {"title": title, "status": status, "detail": detail}
    if issues is not None:
        body["issues"] = issues
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _page_error(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html", status_code=status, status=status, message=message)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if _is_api(request):
            response = _problem(401, "unauthorized", str(exc))
            response.headers["WWW-Authenticate"] = 'Bearer realm="arrears"'
            return response
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(AuthenticationError)
    async def unauthenticated(request: Request, exc: AuthenticationError) -> Response:
        response = _problem(401, "unauthorized", str(exc))
        response.headers["WWW-Authenticate"] = 'Bearer realm="arrears"'
        return response

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if _is_api(request):
            return _problem(403, "forbidden", str(exc))
        return _page_error(request, 403, "forbidden")

    @app.exception_handler(CsrfError)
    async def csrf(request: Request, exc: CsrfError) -> Response:
        return _page_error(request, 403, "csrf")

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if _is_api(request):
            return _problem(404, "not found", str(exc))
        return _page_error(request, 404, "not_found")

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> Response:
        if _is_api(request):
            return _problem(409, "conflict", str(exc))
        return _page_error(request, 409, "conflict")

    @app.exception_handler(ValidationError)
    async def invalid(request: Request, exc: ValidationError) -> Response:
        issues: list[dict[str, object]] = [
            {"file": i.file, "line": i.line, "field": i.column, "reason": i.reason}
            for i in exc.issues
        ]
        if _is_api(request):
            return _problem(422, "invalid request", str(exc).splitlines()[0], issues)
        return _page_error(request, 422, "; ".join(str(i) for i in exc.issues))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        issues: list[dict[str, object]] = [
            {
                "file": "request",
                "line": None,
                "field": ".".join(str(p) for p in e.get("loc", ())),
                "reason": str(e.get("msg", "invalid")),
            }
            for e in exc.errors()
        ]
        if _is_api(request):
            return _problem(422, "invalid request", "the request does not match the schema", issues)
        return _page_error(request, 422, "; ".join(f"{i['field']}: {i['reason']}" for i in issues))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            return _problem(exc.status_code, "error", str(exc.detail))
        return _page_error(
            request, exc.status_code, "not_found" if exc.status_code == 404 else "error"
        )


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    ctx: WebContext = app.state.web
    anyio.to_thread.current_default_thread_limiter().total_tokens = ctx.threads
    # What start-up made (modules, templates, statements) lives as long as the process: out
    # of the collector's way, so that full collections under load scan only request garbage.
    gc.collect()
    gc.freeze()
    yield


def create_app(ctx: WebContext) -> FastAPI:
    from arrears.web.api.v1 import router as api_router
    from arrears.web.pages import routers

    app = FastAPI(
        title="arrears",
        version="1",
        summary="Debt collection and recovery: the REST API for systems",
        docs_url=None,  # the explorer pages load scripts from a CDN; the schema is enough
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        lifespan=_lifespan,
    )
    app.state.web = ctx

    app.add_middleware(SecurityHeaders)

    _install_errors(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in routers():
        app.include_router(router)
    app.include_router(api_router, prefix="/api/v1")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def web_app(app: App) -> FastAPI:
    """The web application over the composition root's store, clock and settings."""
    s = app.settings
    return create_app(
        WebContext(
            engine=app.db(),
            clock=app.clock,
            default_locale=s.default_locale,
            lender_timezone=s.lender_timezone,
            cookie_secure=s.cookie_secure,
            products=app.products(),
            compliance_pack=s.compliance_pack,
            sms_secret=s.sms_secret,
            visit_checkin_radius_m=s.visit_checkin_radius_m,
            evidence_dir=s.resolved_evidence_dir(),
            visit_plan_seconds=s.visit_plan_seconds,
            lender_name=s.lender_name,
            object_how=s.object_how,
        )
    )


def from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (several worker processes): settings from the env."""
    from arrears.bootstrap import build_app

    return web_app(build_app())
