"""The web dashboard: static HTML, CSS and JavaScript modules (no build step, nothing loaded
from elsewhere, works offline) that read the JSON API and redraw on the server's change
events."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def static_dir() -> Path:
    return Path(str(resources.files("qgjob.web").joinpath("static")))


def install_dashboard(app: FastAPI) -> None:
    """`GET /` is the dashboard; `/static/NAME.js` and `/static/app.css` its code (JavaScript
    modules) and style, `/static/favicon.svg` (also at `/favicon.ico`, where browsers look) its
    icon. Only those files are served."""
    directory = static_dir()
    assets = {path.name: MEDIA_TYPES[path.suffix] for path in directory.iterdir()
              if path.suffix in MEDIA_TYPES}
    fresh = {"Cache-Control": "no-cache"}  # an upgraded server serves its own dashboard

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(directory / "index.html", media_type="text/html", headers=fresh)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(directory / "favicon.svg", media_type=MEDIA_TYPES[".svg"],
                            headers=fresh)

    @app.get("/static/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        if name not in assets:
            raise HTTPException(404, f"no dashboard file {name!r}")
        return FileResponse(directory / name, media_type=assets[name], headers=fresh)
