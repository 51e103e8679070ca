"""The WhatsApp template catalogue: read from the Graph API, kept in checkpoints.

``GET /{waba-id}/message_templates`` (paged by ``paging.next``) lists each
template's name, language, status, category and components; the catalogue keeps
the body text and how many ``{{n}}`` parameters it takes, per WhatsApp Business
Account (``Template.fill`` renders a body with the parameters an agent typed).
"""

from __future__ import annotations

import re
from typing import Any

from hub.connectors.base import Template

__all__ = ["parse_page", "template_from_doc", "template_to_doc"]

PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
MAX_PAGES = 50


def template_to_doc(template: Template) -> dict[str, Any]:
    return {
        "name": template.name,
        "language": template.language,
        "status": template.status,
        "category": template.category,
        "text": template.text,
        "parameters": template.parameters,
    }


def template_from_doc(doc: dict[str, Any]) -> Template:
    return Template(
        name=str(doc["name"]),
        language=str(doc["language"]),
        status=str(doc.get("status") or ""),
        text=str(doc.get("text") or ""),
        parameters=int(doc.get("parameters") or 0),
        category=doc.get("category"),
    )


def parse_page(page: dict[str, Any]) -> tuple[list[Template], str | None]:
    """The templates on one page of ``message_templates`` and the next page's URL."""
    found: list[Template] = []
    for item in page.get("data") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        body = ""
        for component in item.get("components") or []:
            if isinstance(component, dict) and str(component.get("type")).upper() == "BODY":
                body = str(component.get("text") or "")
        numbers = {int(n) for n in PLACEHOLDER.findall(body)}
        found.append(
            Template(
                name=item["name"][:512],
                language=str(item.get("language") or "")[:16],
                status=str(item.get("status") or "")[:32],
                text=body[:1024],
                parameters=max(numbers, default=0),
                category=str(item["category"])[:32] if item.get("category") else None,
            )
        )
    paging = page.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    return found, following if isinstance(following, str) and following else None
