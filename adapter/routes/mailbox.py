"""/admin/mailbox: the emails the demo sent, as a person would read them (demo only, loopback only).

Only mounted when THOTIS_MAILBOX_DIR is set (production refuses it). Email HTML is shown in a
sandboxed frame with a CSP that lets nothing run or load from outside.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath

from adapter.guards import services_of
from adapter.mailbox_view import body, message, parts, summaries
from core.errors import Forbidden, NotFound
from core.i18n import negotiate, normalise_locale, translate

PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'"
EMAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'self'; sandbox"
_LOOPBACK = {"127.0.0.1", "::1", "localhost", "testclient"}


def loopback_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The demo mailbox holds personal data: only the machine it runs on may read it."""
    if connection.client is None or connection.client.host not in _LOOPBACK:
        raise Forbidden("The demo mailbox is only shown on the machine that runs the demo.", code="LOOPBACK_ONLY")


def _locale(request: Request[Any, Any, Any]) -> str:
    asked = request.query_params.get("lang")
    return normalise_locale(asked) if asked else negotiate(request.headers.get("accept-language"), "en")


def _page(title: str, content: str, locale: str) -> Response[str]:
    document = (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:Montserrat,Inter,'Helvetica Neue',Arial,sans-serif;font-size:16px;margin:0;color:#1a1a1a}"
        "header{background:#004E89;color:#fff;padding:12px 20px}main{padding:16px 20px;max-width:1100px}"
        "a{color:#004E89}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:8px;"
        "border-bottom:1px solid #ddd;vertical-align:top}th{color:#FF6B35}pre{white-space:pre-wrap}"
        "iframe{width:100%;height:900px;border:1px solid #ddd}</style></head><body>"
        f"<header><strong>Thotis</strong> · {html.escape(title)}</header><main>{content}</main></body></html>"
    )
    return Response(document, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": PAGE_CSP})


def _directory(request: Request[Any, Any, Any]) -> Any:
    directory = services_of(request).settings.mailbox_dir
    if directory is None:
        raise NotFound("The demo mailbox is off.", code="MAILBOX_OFF")
    return directory


@get("/admin/mailbox", guards=[loopback_only], include_in_schema=False)
async def mailbox_list(request: Request[Any, Any, Any]) -> Response[str]:
    locale = _locale(request)

    def t(key: str) -> str:
        return translate(f"page.mailbox.{key}", locale)

    found = summaries(_directory(request))
    if not found:
        return _page(t("title"), f"<p>{html.escape(t('empty'))}</p>", locale)
    rows = "".join(
        f"<tr><td>{s.date:%Y-%m-%d %H:%M:%S} UTC</td><td>{html.escape(s.to)}</td>"
        f'<td><a href="/admin/mailbox/{quote(s.key)}?lang={locale}">{html.escape(s.subject)}</a></td>'
        f"<td>{html.escape(s.kind)}</td></tr>"
        for s in found
    )
    table = (
        f"<p>{len(found)}</p><table><thead><tr><th>{html.escape(t('date'))}</th><th>{html.escape(t('to'))}</th>"
        f"<th>{html.escape(t('subject'))}</th><th>{html.escape(t('kind'))}</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return _page(t("title"), table, locale)


def _message_or_404(request: Request[Any, Any, Any], key: str) -> Any:
    found = message(_directory(request), key)
    if found is None:
        raise NotFound("No such email in the demo mailbox.", code="EMAIL_NOT_FOUND")
    return found


@get("/admin/mailbox/{key:str}", guards=[loopback_only], include_in_schema=False)
async def mailbox_message(key: FromPath[str], request: Request[Any, Any, Any]) -> Response[str]:
    locale = _locale(request)
    email = _message_or_404(request, key)
    headers = "".join(
        f"<tr><th>{name}</th><td>{html.escape(str(email[name] or ''))}</td></tr>"
        for name in ("Date", "From", "To", "Subject", "Message-ID")
    )
    attachments = "".join(
        f'<li><a href="/admin/mailbox/{quote(key)}/parts/{p.index}">{html.escape(p.filename or p.content_type)}</a>'
        f" ({html.escape(p.content_type)}, {len(p.data)} B)</li>"
        for p in parts(email)
        if p.filename or p.content_id
    )
    text = body(email, "plain") or ""
    back = html.escape(translate("page.mailbox.back", locale))
    content = (
        f'<p><a href="/admin/mailbox?lang={locale}">← {back}</a></p><table>{headers}</table>'
        f'<h2>HTML</h2><iframe sandbox src="/admin/mailbox/{quote(key)}/html" title="HTML"></iframe>'
        f"<h2>{html.escape(translate('page.mailbox.attachments', locale))}</h2><ul>{attachments}</ul>"
        f"<h2>Text</h2><pre>{html.escape(text)}</pre>"
    )
    return _page(str(email["Subject"] or ""), content, locale)


@get("/admin/mailbox/{key:str}/html", guards=[loopback_only], include_in_schema=False)
async def mailbox_html(key: FromPath[str], request: Request[Any, Any, Any]) -> Response[str]:
    email = _message_or_404(request, key)
    document = body(email, "html") or ""
    for part in parts(email):  # inline images: from cid: to this mailbox's own URL
        if part.content_id:
            document = document.replace(f"cid:{part.content_id}", f"/admin/mailbox/{quote(key)}/parts/{part.index}")
    return Response(document, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": EMAIL_CSP})


@get("/admin/mailbox/{key:str}/parts/{index:int}", guards=[loopback_only], include_in_schema=False)
async def mailbox_part(key: FromPath[str], index: FromPath[int], request: Request[Any, Any, Any]) -> Response[bytes]:
    email = _message_or_404(request, key)
    for part in parts(email):
        if part.index == index:
            disposition = f'attachment; filename="{quote(part.filename)}"' if part.filename else "inline"
            return Response(
                part.data,
                media_type=part.content_type,
                headers={
                    "Content-Disposition": disposition,
                    "Content-Security-Policy": EMAIL_CSP,
                    "X-Content-Type-Options": "nosniff",
                },
            )
    raise NotFound("No such part.", code="EMAIL_NOT_FOUND")


ROUTES = [mailbox_list, mailbox_message, mailbox_html, mailbox_part]
