"""Conversation text as the CRM keeps it: HTML turned into Markdown, then cleaned like any free
text (control characters out, PII masked, bounded length)."""

from bs4 import BeautifulSoup
from markdownify import MarkdownConverter

from cdc_sync.mapping.pii import clean_text

MAX_TRANSCRIPT = 20_000
_UNSEEN = ("script", "style", "head", "template")  # never text a reader of the mail saw
_CONVERTER = MarkdownConverter(heading_style="ATX", bullets="-", escape_misc=False)


def transcript(body: str | None) -> str | None:
    """A comment's body (HTML or plain text) as masked Markdown; None when it says nothing."""
    if not body:
        return None
    if "<" in body and ">" in body:
        soup = BeautifulSoup(body, "html.parser")
        for hidden in soup(_UNSEEN):
            hidden.decompose()
        body = _CONVERTER.convert_soup(soup).strip()
    return clean_text(body, MAX_TRANSCRIPT) or None
