"""The timeline an agent would see: contacts at /, one contact's activities newest first.

Everything from a request is escaped (activity names are attacker-controlled text), links
are only rendered for http(s) URLs, and the page needs no external assets.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from aiohttp import web

from consumer_devtools.sandbox.state import STATE

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 color:#1f2a37;background:#f3f5f8}
header{background:#183247;color:#fff;padding:14px 32px}
header a{color:#fff;text-decoration:none}
header h1{margin:0;font-size:18px;font-weight:600}
header p{margin:2px 0 0;color:#b7c4d1;font-size:12px}
main{max-width:920px;margin:24px auto;padding:0 24px}
h2{font-size:16px;margin:0 0 14px}
a{color:#2c5cc5}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #dde3ea;
 border-radius:6px;overflow:hidden}
th,td{text-align:left;padding:9px 14px;border-bottom:1px solid #edf0f4}
th{background:#f7f9fb;font-weight:600;color:#475867;font-size:12px;text-transform:uppercase}
.num{text-align:right}
.muted{color:#6b7c8c;font-size:12px}
ol.timeline{list-style:none;margin:0;padding:0 0 0 18px;border-left:2px solid #cfd7e0}
ol.timeline>li{position:relative;margin:0 0 16px}
ol.timeline>li:before{content:"";position:absolute;left:-25px;top:16px;width:10px;height:10px;
 border-radius:50%;background:#2c5cc5;border:2px solid #f3f5f8}
.card{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:12px 16px}
.card .top{display:flex;justify-content:space-between;gap:12px;align-items:baseline}
.card strong{font-size:15px}
.card p{margin:4px 0}
.chip{display:inline-block;background:#eef2f7;border-radius:10px;padding:0 8px;font-size:12px}
details{margin-top:8px}
summary{cursor:pointer;color:#2c5cc5;font-size:13px}
dl{margin:6px 0 0;display:grid;grid-template-columns:max-content 1fr;gap:3px 14px}
dl dl{margin:0;padding:4px 10px;border-left:2px solid #e3e8ee}
dt{font-weight:600;color:#475867}
dd{margin:0;word-break:break-word}
dd ol{margin:0;padding-left:18px}
"""


def _layout(title: str, body: str) -> web.Response:
    html = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
            f'<header><h1><a href="/">Freshdesk sandbox</a></h1>'
            f"<p>Contact timelines as Freshdesk would show them</p></header>"
            f"<main>{body}</main></body></html>")
    return web.Response(text=html, content_type="text/html")


def _link(url: Any, text: str) -> str:
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(text)}</a>'
    return escape(text)


def _count(n: int, noun: str) -> str:
    """1 activity, 2 activities; 1 contact, 0 contacts."""
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


def _when(iso: str) -> str:
    """2020-10-01T14:00:00.000Z -> 1 Oct 2020, 14:00:00 UTC"""
    moment = datetime.fromisoformat(iso)
    return f"{moment.day} {moment:%b %Y, %H:%M:%S} UTC"


def render_value(value: Any) -> str:
    """Context shown readably: objects as nested definition lists, lists as lists."""
    if isinstance(value, dict):
        if not value:
            return '<span class="muted">(empty)</span>'
        rows = "".join(f"<dt>{escape(str(k))}</dt><dd>{render_value(v)}</dd>"
                       for k, v in value.items())
        return f"<dl>{rows}</dl>"
    if isinstance(value, list):
        return "<ol>" + "".join(f"<li>{render_value(v)}</li>" for v in value) + "</ol>"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return escape(str(value))


def _part(obj: Any, key: str) -> str:
    return str(obj.get(key, "")) if isinstance(obj, dict) else ""


def render_activity(entry: dict[str, Any]) -> str:
    activity = entry["activity"]
    actor, source, target = (activity.get(k) or {} for k in ("actor", "source", "object"))
    when = _when(entry["happened_at"])
    if "timestamp" not in activity:
        when += " (time received)"
    meta = (f"by <b>{escape(_part(actor, 'name'))}</b> "
            f'<span class="chip">{escape(_part(actor, "type"))}</span> '
            f"via <b>{escape(_part(source, 'name'))}</b>")
    if target:
        label = f"{_part(target, 'type')} {_part(target, 'id')}".strip()
        meta += f" · on {_link(target.get('link'), label)}"
    name = f"<strong>{escape(str(activity.get('name', '')))}</strong>"
    if activity.get("link"):
        name += " " + _link(activity["link"], "↗")
    parts = [f'<div class="top"><div>{name}</div>'
             f'<time class="muted" datetime="{escape(entry["happened_at"])}">{when}</time></div>']
    if activity.get("description"):
        parts.append(f"<p>{escape(str(activity['description']))}</p>")
    parts.append(f'<p class="muted">{meta}</p>')
    if "context" in activity:
        parts.append(f"<details><summary>Details</summary>"
                     f"{render_value(activity['context'])}</details>")
    parts.append(f'<p class="muted">#{entry["id"]} · received {_when(entry["received_at"])}</p>')
    return f'<li><div class="card">{"".join(parts)}</div></li>'


async def contacts_page(request: web.Request) -> web.Response:
    contacts = request.app[STATE].store.contacts()
    rows = "".join(
        f'<tr><td><a href="/contacts/{c["id"]}">{escape(c["value"])}</a></td>'
        f'<td>{escape(c["identifier_type"])}</td><td class="num">{c["activities"]}</td>'
        f'<td class="muted">{escape(_when(c["created_at"]))}</td></tr>' for c in contacts)
    total = sum(c["activities"] for c in contacts)
    body = (f"<h2>Contacts <span class=\"muted\">{_count(len(contacts), 'contact')}, "
            f"{_count(total, 'activity')}</span></h2><table><thead><tr><th>Contact</th>"
            f'<th>Identifier</th><th class="num">Activities</th><th>Created</th></tr></thead><tbody>'
            f"{rows or '<tr><td colspan=4 class=muted>No activities received yet.</td></tr>'}"
            f"</tbody></table>")
    return _layout("Freshdesk sandbox: contacts", body)


async def timeline_page(request: web.Request) -> web.Response:
    try:
        contact_id = int(request.match_info["contact_id"])
    except ValueError:
        raise web.HTTPNotFound(text="no such contact") from None
    found = request.app[STATE].store.timeline(contact_id)
    if found is None:
        raise web.HTTPNotFound(text=f"no contact with id {contact_id}")
    contact, entries = found
    items = "".join(render_activity(entry) for entry in entries)
    body = (f'<p><a href="/">← All contacts</a></p><h2>{escape(contact["value"])} '
            f'<span class="muted">{escape(contact["identifier_type"])} · '
            f"{_count(len(entries), 'activity')}, newest first</span></h2>"
            f'<ol class="timeline">{items}</ol>')
    return _layout(f"Timeline: {contact['value']}", body)


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/", contacts_page)
    app.router.add_get("/contacts/{contact_id}", timeline_page)
