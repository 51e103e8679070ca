"""``omnihub connectors new NAME``: a connector package that passes the kit as generated.

The templates under ``templates/`` are filled with :class:`string.Template`
(``${name}``, ``${package}``, ``${cls}``…). The generated package is a
loopback connector: a signed JSON webhook in (HMAC-SHA256 of the body) and a
JSON POST out to ``api_url``; the author replaces both ends with the
provider's, keeping the kit green.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

__all__ = ["Names", "names_for", "scaffold"]

TEMPLATES = Path(__file__).parent / "templates"
_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


@dataclass(frozen=True)
class Names:
    """How one connector name is spelled in each place it appears."""

    name: str
    """The connector and channel name (``acme-sms``), also its URL segment."""
    kind: str
    """The identity kind its customers have (``acme_sms``)."""
    dist: str
    """The distribution (``omnihub-acme-sms``)."""
    package: str
    """The import package (``omnihub_acme_sms``)."""
    cls: str
    """The connector class (``AcmeSmsConnector``)."""
    header: str
    """The signature header (``X-Acme-Sms-Signature``)."""


def names_for(name: str) -> Names:
    """The spellings for ``name``; ``ValueError`` unless it is lower-case words joined by -."""
    if len(name) > 40 or not _NAME.fullmatch(name):
        raise ValueError(f"{name!r}: use lower-case letters and digits, words joined by -")
    words = name.split("-")
    return Names(
        name=name,
        kind="_".join(words),
        dist=f"omnihub-{name}",
        package="omnihub_" + "_".join(words),
        cls="".join(w.capitalize() for w in words) + "Connector",
        header="X-" + "-".join(w.capitalize() for w in words) + "-Signature",
    )


def scaffold(name: str, into: Path) -> Path:
    """Write the package for connector ``name`` to ``into/omnihub-<name>``; its path.

    Refuses (``FileExistsError``) to write over an existing directory.
    """
    names = names_for(name)
    root = into / names.dist
    if root.exists():
        raise FileExistsError(f"{root} already exists")
    values = {k: getattr(names, k) for k in Names.__dataclass_fields__}
    for template in sorted(TEMPLATES.rglob("*.tmpl")):
        relative = template.relative_to(TEMPLATES).with_suffix("")
        parts = [names.package if p == "package" else p for p in relative.parts]
        target = root.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(Template(template.read_text()).substitute(values))
    return root
