"""``mvtrack review OUT_DIR``: a local web app to check and correct the tracked points.

Starlette serves the package's static pages (no CDN, no build step) and a small JSON API over a
:class:`~mvtrack.review.store.ReviewStore`; the server keeps no review state: the page sends the
reader's anchors with every request, so undo is the page's own, and two apps on one OUT_DIR only
ever race on saves, which the store serialises.

API (all JSON; errors are ``{"error": one line}``):
    GET  /api/studies                        the worklist
    GET  /api/studies/{study}                {result, anchors (saved), kept}
    GET  /api/studies/{study}/frames/{view}  {width, height, frames: [base64 PNG]}
    POST /api/studies/{study}/review         {anchors} -> {result} (re-tracked, not saved)
    POST /api/studies/{study}/save           {anchors} -> {result, kept}
    POST /api/studies/{study}/restore        {file} -> {result, kept} (a kept results.json made current)
    GET  /files/{study}/{path}               a file of the study's folder (report.html, curves.png, ...)
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mvtrack.errors import MvtrackError
from mvtrack.results import anchors_from_result
from mvtrack.review.store import ReviewError, ReviewStore

STATIC_DIR = Path(str(files("mvtrack.review") / "static"))
#: Host names the app answers to (it listens on 127.0.0.1 only; this also stops DNS rebinding).
LOCAL_HOSTS = ["127.0.0.1", "localhost"]
#: Largest request body accepted (anchors of three views on every frame fit easily).
MAX_BODY_BYTES = 2_000_000


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def _handled(handler):
    """Requests answer errors as one line of JSON, never a traceback."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ReviewError as error:
            return _error(str(error), error.status)
        except MvtrackError as error:
            return _error(str(error), 400)
        except Exception as error:  # noqa: BLE001 - a bug answers one line; the server goes on
            return _error(f"unexpected error: {error.__class__.__name__}: {error}", 500)

    return wrapped


async def _body(request: Request) -> dict:
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != f"{request.url.scheme}://{request.headers.get('host', '')}":
        raise ReviewError(f"requests from {origin} are refused (only this app's own pages may change files)", 403)
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise ReviewError("request too large", 413)
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ReviewError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise ReviewError("the request body must be a JSON object")
    return body


def _anchors_json(result: dict) -> dict:
    return {view: {str(f): p.tolist() for f, p in frames.items()} for view, frames in anchors_from_result(result).items()}


def create_app(out_dir: Path | str) -> Starlette:
    """The review app over ``out_dir`` (a ReviewError if it is not a folder)."""
    import mvtrack.pipeline.anchors  # noqa: F401 - imported now, so that the first correction answers at once

    store = ReviewStore(out_dir)

    def page(name: str):
        async def serve(request: Request) -> Response:
            return FileResponse(STATIC_DIR / name, headers={"Cache-Control": "no-store"})
        return serve

    @_handled
    async def studies(request: Request) -> Response:
        return JSONResponse({"root": store.root.name, "studies": store.worklist()})

    @_handled
    async def study(request: Request) -> Response:
        study_id = request.path_params["study"]
        result = store.result(study_id)
        return JSONResponse({"result": result, "anchors": _anchors_json(result), "kept": store.kept(study_id)})

    @_handled
    async def frames(request: Request) -> Response:
        return JSONResponse(store.frames(request.path_params["study"], request.path_params["view"]))

    @_handled
    async def review(request: Request) -> Response:
        body = await _body(request)
        return JSONResponse({"result": store.reviewed(request.path_params["study"], body.get("anchors") or {})})

    @_handled
    async def save(request: Request) -> Response:
        body = await _body(request)
        return JSONResponse(store.save(request.path_params["study"], body.get("anchors") or {}))

    @_handled
    async def restore(request: Request) -> Response:
        body = await _body(request)
        return JSONResponse(store.restore(request.path_params["study"], str(body.get("file", ""))))

    @_handled
    async def study_file(request: Request) -> Response:
        path = store.study_file(request.path_params["study"], request.path_params["path"])
        return FileResponse(path, headers={"Cache-Control": "no-store"})

    routes = [
        Route("/", page("index.html")),
        Route("/study", page("study.html")),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/api/studies", studies),
        Route("/api/studies/{study}", study),
        Route("/api/studies/{study}/frames/{view}", frames),
        Route("/api/studies/{study}/review", review, methods=["POST"]),
        Route("/api/studies/{study}/save", save, methods=["POST"]),
        Route("/api/studies/{study}/restore", restore, methods=["POST"]),
        Route("/files/{study}/{path:path}", study_file),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=LOCAL_HOSTS)])
    app.state.store = store
    return app


def serve(out_dir: Path | str, port: int = 0, open_browser: bool = True, echo=print) -> None:
    """Serve the review app on 127.0.0.1 (``port`` 0: a free one) until interrupted."""
    import socket
    import threading
    import webbrowser

    import uvicorn

    app = create_app(out_dir)
    root = app.state.store.root
    if (root / "results.json").is_file():
        raise ReviewError(f"{out_dir}: one study's folder; give the folder that holds it: mvtrack review {root.parent}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as error:
        sock.close()
        raise ReviewError(f"port {port}: cannot listen on 127.0.0.1 ({error.strerror or error}); try another --port") from None
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    n = len(app.state.store.study_ids())
    echo(f"reviewing {n} analysed stud{'y' if n == 1 else 'ies'} of {app.state.store.root}")
    echo(f"open {url}  (Ctrl-C to stop)")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
