"""An HTML error page brought to one readable line: a proxy in front of a model server (nginx, Cloudflare, a load
balancer) answers 502/503/504 with a web page, not the server's JSON, and its markup had become the image's
failure reason."""

from __future__ import annotations

from html.parser import HTMLParser

HEADINGS = frozenset({"h1", "h2", "h3"})
UNSEEN = frozenset({"script", "style", "head", "noscript", "template"})  # text there is no part of what a page says


class _PageWords(HTMLParser):
    """Collects a page's <title>, its first heading and its first visible text, each with spaces collapsed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = self.heading = self.text = ""
        self._open: list[str] = []  # the tags of interest open at this point

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in UNSEEN or tag in HEADINGS or tag == "title":
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:  # a page with unclosed tags still ends them: drop up to the one closed
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]

    def handle_data(self, data: str) -> None:
        words = " ".join(data.split())
        if not words:
            return
        if "title" in self._open:
            self.title = self.title or words
        elif any(tag in HEADINGS for tag in self._open):
            self.heading = self.heading or words
        elif not any(tag in UNSEEN for tag in self._open):
            self.text = self.text or words


def looks_like_html(text: str) -> bool:
    """True when `text` (a response body that is no JSON) is markup: it starts with a tag, doctype or comment."""
    start = text.lstrip()
    return start[:1] == "<" and (start[1:2].isalpha() or start[1:2] == "!")


def page_line(text: str) -> str:
    """One readable line for the HTML page `text`: its <title>, else its first heading (h1-h3), else its first
    visible text (e.g. "502 Bad Gateway" for nginx's page); "" when the page says nothing. Never raises: a
    broken page gives what could be read of it."""
    words = _PageWords()
    try:
        words.feed(text)
        words.close()
    except Exception:  # noqa: BLE001 (html.parser is lenient; whatever it read before a fault is kept)
        pass
    return words.title or words.heading or words.text


# the way out of an HTML page where the API's JSON was due, said by a step's stop (nodes/watch.py) and by the check
# at start (models/factory.py) alike
HTML_PAGE_FIX = ("open --base-url in a browser: give --base-url the model server's own address (past the sign-in or "
                 "proxy), or sign the calls in as that proxy asks (its API key or token)")


def html_page_said(text: str) -> str:
    """What an HTML page (`text`) answered where JSON was due says, in one line: "the server answered with an HTML
    page '<its title>' instead of JSON: a login or proxy in front of it"."""
    title = page_line(text)
    return f"the server answered with an HTML page{f' {title!r}' if title else ''} instead of JSON: a login or proxy in front of it"

