"""``gridgis serve``, ``gridgis demo`` and ``gridgis user ...``."""

from __future__ import annotations

import typer

from gis.cli.app import JsonOpt, app, console, emit
from gis.settings import Settings

user_app = typer.Typer(help="Accounts and API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")


def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    """Run the service. The app is named by its import string (``api`` sits beside the CLI,
    above ``gis``: gis never imports it); ``create_app()`` reads its Settings from the
    environment, so the host and port chosen here are put there first."""
    import os

    import uvicorn

    host = host or settings.host
    port = port or settings.port
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]listening on {host}: reachable from other machines[/]")
    console.print(f"gridgis on http://{host}:{port}  (API docs: /docs, map: /map)")
    os.environ["GRIDGIS_HOST"], os.environ["GRIDGIS_PORT"] = host, str(port)
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, log_level="info")


@app.command("serve")
def serve(host: str = typer.Option(None, help="Address to listen on (default 127.0.0.1)."),
          port: int = typer.Option(None, help="Port (default 8000).")) -> None:
    """Run the HTTP service (starting the embedded PostGIS if that is the database)."""
    _serve(Settings(), host, port)


@app.command("demo")
def demo(households: int = typer.Option(30_000, help="Size of the generated district."),
         seed: int = typer.Option(1, help="Generator seed (same seed, same district)."),
         host: str = typer.Option(None), port: int = typer.Option(None),
         load_only: bool = typer.Option(False, "--load-only", help="Load, print, do not serve."),
         now: str = typer.Option(None, help="Where the generated timeline ends (ISO time, "
                                            "e.g. 2026-12-02T17:00+08:00; default: now)."),
         json: bool = JsonOpt) -> None:
    """Generate and load a demo district (first run only) whose incidents, patrols and
    visits end now, create one account per role, and serve it on http://127.0.0.1:8000."""
    from gis.services import imports
    from gis.services.demo import ensure_demo

    settings = Settings()
    engine = imports.open_database(settings)
    summary = ensure_demo(engine, settings, households=households, seed=seed,
                          now=_instant(now, settings.timezone))
    engine.dispose()
    accounts = summary.pop("accounts", [])
    emit(summary, json, "demo district")
    if accounts and not json:
        print_accounts(accounts)
    if not load_only:
        _serve(settings, host, port)


def _instant(text: str | None, tz: str):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not an ISO time: {text!r}", param_hint="--now") from None
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(tz))


def print_accounts(accounts: list[dict]) -> None:
    """One line per account and its token on a line of its own, never wrapped: a token
    broken across lines cannot be copied (soft_wrap: rich neither wraps nor crops)."""
    console.print("Demo accounts (log in at /login, the grid worker's app at /m; or send "
                  "'Authorization: Bearer TOKEN'):", soft_wrap=True)
    for acc in accounts:
        console.print(f"  {acc['role']:<11} user [bold]{acc['username']}[/] password "
                      f"[bold]{acc['password']}[/] scope {acc['scope'] or 'all'}",
                      soft_wrap=True)
        console.print(f"    token {acc['token']}", soft_wrap=True, highlight=False)


@user_app.command("add")
def user_add(username: str, role: str = typer.Option(..., help="admin, planner, dispatcher, "
                                                          "analyst, grid_worker, viewer or "
                                                          "department or integration (an "
                                                          "Open311 client: its token is the "
                                                          "api_key)"),
             scope: str = typer.Option(None, help="Admin code of the area the account may see."),
             department: str = typer.Option(None, help="The department of a 'department' "
                                                       "account (its code)."),
             password: str = typer.Option(None, help="Password for the web pages."),
             days: float = typer.Option(90, help="API token lifetime in days (0: no expiry)."),
             json: bool = JsonOpt) -> None:
    """Create an account and print a new API token for it (shown once)."""
    from gis.services import accounts, imports

    engine = imports.open_database(Settings())
    emit(accounts.add_user(engine, username, role, scope_code=scope, password=password,
                           days=days or None, department_code=department), json)


@user_app.command("list")
def user_list(json: bool = JsonOpt) -> None:
    """List accounts."""
    from gis.services import accounts, imports

    users = accounts.list_users(imports.open_database(Settings()))
    if json:
        emit({"users": users}, True)
        return
    for u in users:
        console.print(f"{u['username']:<20} {u['role']:<11} {u['scope'] or 'all':<13} "
                      f"{'active' if u['active'] else 'revoked'}")


@user_app.command("revoke")
def user_revoke(username: str, json: bool = JsonOpt) -> None:
    """Deactivate an account and revoke all its tokens."""
    from gis.services import accounts, imports

    n = accounts.revoke(imports.open_database(Settings()), username)
    emit({"username": username, "tokens_revoked": n}, json)
