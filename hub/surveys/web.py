"""``/s/{token}``: where a survey is answered.

* ``GET /s/{token}?score=N`` — the link in the email: a page with that score chosen,
  an optional comment and a Send button. Opening it records nothing, so a mail
  scanner that follows links never answers for the customer.
* ``POST /s/{token}`` — the answer: a form from that page (a thank-you page), or JSON
  ``{"score", "comment"?}`` from the chat widget (201, 200 if answered already;
  any origin may post: the signed token is the credential, no cookies are read).

A token is signed for one conversation, question and channel, and accepted for
``answer_days``; the first answer stands (``survey-answer:<conv>:<kind>`` is unique),
a second is thanked and ignored. Tampered or expired: 403/410 with no data; a score
off the scale or a comment over 1000 characters: 422 naming the field.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hub.errors import BadToken, ExpiredToken, NotFound
from hub.surveys.records import QUESTIONS, SCALES
from hub.surveys.service import PURPOSE

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.surveys.service import Surveys

__all__ = ["routes"]

MAX_COMMENT = 1000
_CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST",
    "access-control-allow-headers": "content-type",
    "cache-control": "no-store",
}
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem}}
fieldset{{border:0;padding:0}} label{{display:inline-block;margin:.2rem .5rem .2rem 0}}
textarea{{width:100%;min-height:5rem}} button{{font:inherit;padding:.4rem 1.2rem}}</style>
</head><body><h1>{title}</h1>{body}</body></html>
"""


class _Refused(Exception):
    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        self.status, self.reason, self.field = status, reason, field


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _PAGE.format(title=html.escape(title), body=body),
        status_code=status,
        headers={"cache-control": "no-store"},
    )


def _surveys(request: Request) -> Surveys:
    surveys: Surveys | None = request.app.state.hub.surveys
    if surveys is None or not surveys.settings.enabled:
        raise _Refused(404, "Surveys are off.")
    return surveys


def _claims(surveys: Surveys, token: str) -> tuple[str, str, str]:
    max_age = surveys.settings.answer_days * 86400
    try:
        payload = surveys.signer.loads(PURPOSE, token, max_age=max_age)
    except ExpiredToken:
        raise _Refused(410, "This survey has closed. Thank you all the same.") from None
    except BadToken:
        raise _Refused(403, "This link is not valid.") from None
    kind, conv, channel = payload.get("k"), payload.get("c"), payload.get("ch")
    if kind not in SCALES or not isinstance(conv, str) or not isinstance(channel, str):
        raise _Refused(403, "This link is not valid.")
    return conv, kind, channel


def _score(kind: str, raw: Any) -> int:
    low, high = SCALES[kind]
    try:
        score = int(raw)
    except (TypeError, ValueError):
        raise _Refused(422, f"score must be a whole number from {low} to {high}", "score") from None
    if not low <= score <= high or isinstance(raw, bool):
        raise _Refused(422, f"score must be a whole number from {low} to {high}", "score")
    return score


def _comment(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise _Refused(422, "comment must be text", "comment")
    text = raw.strip()
    if len(text) > MAX_COMMENT:
        raise _Refused(422, f"comment is longer than {MAX_COMMENT} characters", "comment")
    return text or None


def _form(token: str, kind: str, chosen: int | None) -> str:
    low, high = SCALES[kind]
    choices = "".join(
        f'<label><input type="radio" name="score" value="{n}" required'
        f"{' checked' if n == chosen else ''}> {n}</label>"
        for n in range(low, high + 1)
    )
    return (
        f'<form method="post" action="/s/{html.escape(token)}">'
        f"<fieldset><legend>{html.escape(QUESTIONS[kind])}</legend>{choices}</fieldset>"
        '<p><label for="comment">Anything you want to add? (optional)</label>'
        f'<textarea id="comment" name="comment" maxlength="{MAX_COMMENT}"></textarea></p>'
        '<p><button type="submit">Send</button></p></form>'
    )


async def answer_page(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        surveys = _surveys(request)
        conv, kind, _ = _claims(surveys, token)
        if await surveys.answered(conv, kind):
            return _page("Thank you", "<p>We have your answer.</p>")
        raw = request.query_params.get("score")
        chosen = _score(kind, raw) if raw is not None else None
    except _Refused as exc:
        return _page("Survey", f"<p>{html.escape(exc.reason)}</p>", exc.status)
    return _page("How did we do?", _form(token, kind, chosen))


async def answer(request: Request) -> Response:
    token = request.path_params["token"]
    wants_json = request.headers.get("content-type", "").startswith("application/json")
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=_CORS)
    try:
        surveys = _surveys(request)
        conv, kind, channel = _claims(surveys, token)
        if wants_json:
            try:
                body = json.loads(await request.body())
            except ValueError:
                raise _Refused(400, "the body is not JSON", "body") from None
            if not isinstance(body, dict):
                raise _Refused(422, "a JSON object", "body")
        else:
            body = dict(await request.form())
        score = _score(kind, body.get("score"))
        comment = _comment(body.get("comment"))
        try:
            _, created = await surveys.answer(conv, kind, score, channel, comment)
        except NotFound:
            raise _Refused(404, "This conversation is gone.") from None
    except _Refused as exc:
        if wants_json:
            out = {"error": exc.reason, **({"field": exc.field} if exc.field else {})}
            return JSONResponse(out, status_code=exc.status, headers=_CORS)
        return _page("Survey", f"<p>{html.escape(exc.reason)}</p>", exc.status)
    if wants_json:
        return JSONResponse(
            {"ok": True, "duplicate": not created},
            status_code=201 if created else 200,
            headers=_CORS,
        )
    return _page("Thank you", "<p>Thank you for telling us.</p>")


routes = [
    Route("/s/{token}", answer_page, methods=["GET"]),
    Route("/s/{token}", answer, methods=["POST", "OPTIONS"]),
]
