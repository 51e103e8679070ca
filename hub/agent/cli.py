"""``omnihub agents``: create, list, disable and enable agents, set a password.

omnihub agents create EMAIL --name NAME [--admin] [--password-stdin]
omnihub agents list
omnihub agents disable EMAIL | enable EMAIL
omnihub agents password EMAIL [--password-stdin]

Without ``--password-stdin`` the password is asked for twice on the terminal.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from hub.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from hub.timeline.store import TimelineStore

__all__ = ["add_parser", "run"]

WithStore = Callable[[Callable[["TimelineStore"], Awaitable[int]]], Awaitable[int]]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``agents`` on the ``omnihub`` parser."""
    agents = sub.add_parser("agents", help="people who sign in to the agent view (/agent/)")
    asub = agents.add_subparsers(dest="action", required=True)
    create = asub.add_parser("create", help="add an agent (or an admin)")
    create.add_argument("email")
    create.add_argument("--name", required=True)
    create.add_argument("--admin", action="store_true", help="may manage agents and act anywhere")
    create.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    asub.add_parser("list", help="list agents")
    toggles = (("disable", "end and refuse the agent's sessions"), ("enable", "undo disable"))
    for name, text in toggles:
        p = asub.add_parser(name, help=text)
        p.add_argument("email")
    password = asub.add_parser("password", help="set a new password (ends the agent's sessions)")
    password.add_argument("email")
    password.add_argument("--password-stdin", action="store_true")
    return agents


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise InvalidInput("password", "the two passwords differ")
    return first


async def run(args: argparse.Namespace, with_store: WithStore) -> int:
    """Carry out ``omnihub agents …`` against the configured store."""
    from hub.agent.auth import create_agent
    from hub.agent.passwords import MIN_PASSWORD_LENGTH, hash_password_async
    from hub.timeline.model import AgentRole
    from hub.timeline.store import AgentUpdate

    secret = _password(args) if args.action in ("create", "password") else ""

    async def action(store: TimelineStore) -> int:
        if args.action == "create":
            role = AgentRole.ADMIN if args.admin else AgentRole.AGENT
            agent = await create_agent(
                store, email=args.email, name=args.name, password=secret, role=role
            )
            print(f"created {agent.role.value} {agent.id} <{agent.email}>; sign in at /agent/")
            return 0
        if args.action == "list":
            for a in await store.list_agents():
                state = "disabled" if a.disabled else "active"
                print(f"{a.id}\t{a.email}\t{a.name}\t{a.role.value}\t{state}")
            return 0
        found = await store.find_agent(args.email)
        if found is None:
            raise NotFound(f"no agent {args.email}")
        if args.action == "password":
            if len(secret) < MIN_PASSWORD_LENGTH:
                raise InvalidInput("password", f"use at least {MIN_PASSWORD_LENGTH} characters")
            hashed = await hash_password_async(secret)
            await store.update_agent(found.id, AgentUpdate(password_hash=hashed))
        else:
            await store.update_agent(found.id, AgentUpdate(disabled=args.action == "disable"))
        print(f"{args.action}: {found.email}")
        return 0

    return await with_store(action)
