"""``omnihub``: serve the hub and administer it.

omnihub serve [--host H] [--port P]
omnihub tokens create NAME | list | revoke ID
omnihub agents create EMAIL --name NAME [--admin] | list | disable | enable | password EMAIL
omnihub connectors list | setup NAME | new NAME [--dir DIR]
omnihub check
omnihub settings-table [--write README.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from hub.connectors.registry import Registry
from hub.errors import ConfigError, HubError
from hub.settings import Settings
from hub.timeline.store import TimelineStore

__all__ = ["main"]


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SystemExit(f"omnihub: invalid setting {where}: {first['msg']}") from None


def _prepare_local_store(settings: Settings) -> None:
    """Create the data directory (the SQLite file's and the blobs' folders) on first run."""
    folders: list[Path] = []
    if settings.secret_key is None:
        folders.append(Path(settings.secret_key_file).parent)
    if not settings.store.startswith(("mongodb://", "mongodb+srv://")):
        folders.append(Path(settings.store.removeprefix("sqlite:///")).parent)
    if settings.blobs != "gridfs":
        folders.append(Path(settings.blobs))
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create {folder} ({exc.strerror}): set OMNIHUB_DATA_DIR "
                "to a directory the hub's user can write"
            ) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from hub.app import build_app, secret_values
    from hub.logs import configure_logging
    from hub.serving import server_config

    settings = _settings()
    _prepare_local_store(settings)
    app = build_app(settings)
    hub = app.state.hub
    configure_logging(
        settings.log_level, settings.log_format, secret_values(settings, hub.connectors)
    )
    config = server_config(
        settings, app, host=args.host or settings.host, port=args.port or settings.port
    )
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0 if server.started else 3


async def _with_store(action: Callable[[TimelineStore], Awaitable[int]]) -> int:
    from hub.app import open_store

    settings = _settings()
    _prepare_local_store(settings)
    store = open_store(settings.store, timeout=settings.store_timeout)
    await store.open()
    try:
        return await action(store)
    finally:
        await store.close()


def cmd_tokens(args: argparse.Namespace) -> int:
    from hub.tokens import issue_token

    async def run(s: TimelineStore) -> int:
        if args.action == "create":
            record, token = await issue_token(s, args.name)
            print(f"created token {record.id} ({record.name}); shown once:")
            print(token)
        elif args.action == "list":
            for t in await s.list_api_tokens():
                state = f"revoked {t.revoked_at.isoformat()}" if t.revoked_at else "active"
                print(f"{t.id}\t{t.name}\t{t.created_at.isoformat()}\t{state}")
        else:
            await s.revoke_api_token(args.id)
            print(f"revoked {args.id}")
        return 0

    return asyncio.run(_with_store(run))


def cmd_agents(args: argparse.Namespace) -> int:
    from hub.agent import cli

    return asyncio.run(cli.run(args, _with_store))


def cmd_connectors(args: argparse.Namespace) -> int:
    if args.action == "new":
        return _new_connector(args.name, Path(args.dir))
    settings = _settings()
    registry = Registry.discover()
    if args.action == "setup":
        return _setup_connector(settings, registry, args.name)
    for name, cls in sorted(registry.available.items()):
        enabled = settings.connector_enabled(name, default=cls.enabled_by_default)
        state = "enabled" if enabled else "available"
        print(f"{name}\t{state}\tchannels={','.join(cls.channel_names())}")
    for name, reason in sorted(registry.disabled.items()):
        print(f"{name}\tdisabled\t{reason}")
    return 0


def _new_connector(name: str, into: Path) -> int:
    from hub.connectors.scaffold import names_for, scaffold

    try:
        root = scaffold(name, into)
    except (ValueError, FileExistsError) as exc:
        raise SystemExit(f"omnihub: {exc}") from None
    print(f"created {root} (connector {name!r}, package {names_for(name).package})")
    print(f"next: cd {root} && pip install -e '.[test]' && python -m pytest")
    return 0


def _setup_connector(settings: Settings, registry: Registry, name: str) -> int:
    cls = registry.available.get(name)
    if cls is None:
        reason = registry.disabled.get(name, "no such connector")
        raise SystemExit(f"omnihub: connector {name!r}: {reason}")
    try:
        conf = cls.settings_model.model_validate(settings.connectors.get(name, {}))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SystemExit(
            f"omnihub: invalid setting connectors.{name}.{where}: {first['msg']}"
        ) from None
    print(asyncio.run(cls.setup(conf, settings.public_url)))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from hub.app import build_app

    settings = _settings()
    _prepare_local_store(settings)
    app = build_app(settings)
    hub = app.state.hub

    async def run() -> int:
        await hub.store.open()
        try:
            health = await hub.store.health()
        finally:
            await hub.store.close()
        print(json.dumps({"store": health, "connectors": sorted(hub.connectors)}, default=str))
        return 0 if health.get("ok") else 1

    return asyncio.run(run())


def cmd_settings_table(args: argparse.Namespace) -> int:
    from hub.settings_table import render, write

    if args.write is None:
        print(render())
        return 0
    changed = write(Path(args.write))
    print(f"{args.write}: settings table {'updated' if changed else 'unchanged'}")
    return 0


def _add_settings_table(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    table = sub.add_parser("settings-table", help="the README's configuration table")
    table.add_argument("--write", metavar="FILE", help="replace the table in FILE (README.md)")
    table.set_defaults(func=cmd_settings_table)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="omnihub", description="Omnichannel conversation hub")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the hub (SQLite in ./var by default)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.set_defaults(func=cmd_serve)

    tokens = sub.add_parser("tokens", help="API bearer tokens")
    tsub = tokens.add_subparsers(dest="action", required=True)
    create = tsub.add_parser("create", help="create a token (printed once)")
    create.add_argument("name")
    tsub.add_parser("list", help="list tokens")
    revoke = tsub.add_parser("revoke", help="revoke a token")
    revoke.add_argument("id")
    tokens.set_defaults(func=cmd_tokens)

    from hub.agent.cli import add_parser as add_agents

    add_agents(sub).set_defaults(func=cmd_agents)

    connectors = sub.add_parser("connectors", help="connector plugins")
    csub = connectors.add_subparsers(dest="action", required=True)
    csub.add_parser("list", help="available, enabled and disabled connectors")
    setup = csub.add_parser("setup", help="register a connector with its provider (webhooks)")
    setup.add_argument("name")
    new = csub.add_parser("new", help="scaffold a connector package that passes the kit")
    new.add_argument("name", help="lower-case words joined by -, e.g. acme-sms")
    new.add_argument("--dir", default=".", help="where to create omnihub-NAME/ (default: .)")
    connectors.set_defaults(func=cmd_connectors)

    check = sub.add_parser("check", help="validate settings and reach the store")
    check.set_defaults(func=cmd_check)
    _add_settings_table(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except HubError as exc:
        print(f"omnihub: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
