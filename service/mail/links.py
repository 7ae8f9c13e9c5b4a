"""The links a click can be tracked for: those an author wrote out in full in
an HTML body, numbered in a fixed order, and replaced per message by each
recipient's redirect URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from service.mail.content import Content

# A link the author wrote out in full: http(s), no template expression in it.
_LITERAL_HREF = re.compile(r"""href\s*=\s*["'](https?://[^"'{}<>\s]+)["']""", re.IGNORECASE)


def trackable_links(default: Content, translations: Mapping[str, Content]) -> tuple[str, ...]:
    """The links a click redirect may lead to, numbered in a fixed order.

    Only links written literally in an HTML body count: a redirect then goes
    to a URL the campaign itself contains, never to one a request names.
    """
    bodies = [default.body_html] + [translations[lang].body_html for lang in sorted(translations)]
    found: dict[str, None] = {}
    for body in bodies:
        for match in _LITERAL_HREF.finditer(body):
            found.setdefault(match.group(1))
    return tuple(found)


def rewrite_links(html: str, links: tuple[str, ...], click_url: Callable[[int], str]) -> str:
    for index, url in enumerate(links):
        tracked = click_url(index)
        html = html.replace(f'href="{url}"', f'href="{tracked}"').replace(
            f"href='{url}'", f"href='{tracked}'"
        )
    return html
