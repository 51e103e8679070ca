"""Keeping the WhatsApp template catalogue: the Meta connector's sync, as a mixin.

Accounts are ``whatsapp_business_accounts`` and the ones WhatsApp webhooks came
from (``entry.id``, remembered in a checkpoint); the catalogue is read at start,
every ``template_sync_minutes`` and on first use, and kept in a checkpoint so a
restart shows it at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from hub.connectors.base import ConnectorContext, Template
from hub.connectors.meta import templates
from hub.connectors.meta.graph import graph_error, json_object
from hub.connectors.meta.settings import MetaSettings
from hub.connectors.meta.templates import template_from_doc, template_to_doc
from hub.errors import PermanentError, TransientError

__all__ = ["TemplateSync"]


class TemplateSync:
    """The template half of :class:`~hub.connectors.meta.MetaConnector`."""

    config: MetaSettings
    context: ConnectorContext
    log: logging.Logger
    _catalogue: tuple[Template, ...] | None
    _wabas: set[str]

    def _started(self) -> httpx.AsyncClient:
        raise NotImplementedError

    async def templates(self, channel: str) -> Sequence[Template]:
        """WhatsApp's template catalogue (read from the Graph API on first use)."""
        if channel != "whatsapp":
            return ()
        if self._catalogue is None:
            saved = await self.context.checkpoints.get("templates")
            if saved is not None:
                self._catalogue = tuple(template_from_doc(d) for d in saved.get("items") or [])
            else:
                await self.sync_templates()
        return self._catalogue or ()

    async def sync_templates(self) -> int:
        """Read every known WhatsApp Business Account's templates; how many were found.

        Accounts are ``whatsapp_business_accounts`` and those WhatsApp webhooks came from.
        """
        saved = await self.context.checkpoints.get("wabas")
        self._wabas |= {str(w) for w in (saved or {}).get("ids") or []}
        if not self._wabas or not self.config.whatsapp:
            return 0
        token = next(iter(self.config.whatsapp.values())).get_secret_value()
        found: list[Template] = []
        for waba in sorted(self._wabas):
            url: str | None = (
                f"{self.config.graph_url}/{self.config.graph_version}/{waba}/message_templates"
                "?fields=name,language,status,category,components&limit=100"
            )
            for _ in range(templates.MAX_PAGES):
                if url is None:
                    break
                if not url.startswith(self.config.graph_url + "/"):
                    raise PermanentError("the Graph API paged to another host")
                page = await self._get(url, token)
                items, url = templates.parse_page(page)
                found.extend(items)
        self._catalogue = tuple(found)
        await self.context.checkpoints.set(
            "templates", {"items": [template_to_doc(t) for t in found]}
        )
        return len(found)

    async def _get(self, url: str, token: str) -> dict[str, Any]:
        try:
            response = await self._started().get(url, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise TransientError(f"Graph API unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            raise graph_error(response)
        return json_object(response)

    async def _sync_forever(self) -> None:
        while True:
            try:
                count = await self.sync_templates()
                if count:
                    self.log.info("meta: %d WhatsApp templates synced", count)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.warning("meta: WhatsApp templates not synced: %s", exc)
            await asyncio.sleep(self.config.template_sync_minutes * 60)

    async def _learn_waba(self, entries: list[Any]) -> None:
        new = {str(e["id"]) for e in entries if isinstance(e, dict) and e.get("id")} - self._wabas
        if new and all(w.isdigit() and len(w) <= 32 for w in new):
            self._wabas |= new
            await self.context.checkpoints.set("wabas", {"ids": sorted(self._wabas)})
