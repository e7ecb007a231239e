"""Text a submission controls (exception messages and class names, what it printed, file
names), made safe for where it is shown: one function per destination, used by every
report format, the gradebook and the terminal, so that none keeps its own copy.

Every function first makes the text valid Unicode: a lone surrogate (from a JSON "\\ud800"
escape, or an undecodable file-name byte kept by surrogateescape) becomes a visible escape,
`\\ud800`, or `\\xff` for the byte 0xff.
"""
import functools
import html
import json
import re

SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls but tab and newline, DEL, C1 controls, the line and paragraph separators, and
# the bidirectional overrides and isolates that reorder what a terminal or a browser shows
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]!#|~])")     # what starts emphasis, code, links, images, cells
BLOCK_MARKER = re.compile(r"^(\s*\d*)([-+=.)])")     # a list item or a heading underline, at the start
SPREADSHEET_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@functools.cache
def not_xml() -> re.Pattern:
    """The characters XML 1.0 cannot hold, even escaped: compiled when first needed (a few
    ms, which a report in any other format need not pay)."""
    return re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(character: str) -> str:
    code = ord(character)
    if 0xdc80 <= code <= 0xdcff:                # surrogateescape's stand-in for the byte code − 0xdc00
        return f"\\x{code - 0xdc00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def valid_unicode(text: str) -> str:
    """`text` with each lone surrogate shown as its escape: encodable as UTF-8."""
    return SURROGATE.sub(lambda m: _escape(m.group()), text)


def printable(text: str, newlines: bool = True) -> str:
    """For a terminal or a plain-text field: valid Unicode, and every control character but
    tab and newline (ESC sequences, OSC 52 clipboard writes, \\r overprinting, bidi
    overrides) shown as its escape, e.g. `\\x1b`; without `newlines`, newline too (for text
    shown within a line, where a newline could start a line of its own, a fake score)."""
    shown = CONTROL.sub(lambda m: _escape(m.group()), valid_unicode(text))
    return shown if newlines else shown.replace("\n", "\\n")


def markdown_inline(text: str) -> str:
    """For running Markdown text: printable, on one line, with HTML and the Markdown
    punctuation that could start something escaped, so that nothing in it renders (no
    heading, list, emphasis, link, image, table cell or tag)."""
    one_line = printable(text).replace("\n", " ")
    escaped = MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(one_line, quote=False))
    return BLOCK_MARKER.sub(r"\1\\\2", escaped)


def markdown_block(text: str, info: str = "text") -> str:
    """`text` in a fenced code block whose fence is longer than any run of backticks inside."""
    text = printable(text)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}{info}\n{text}\n{fence}"


def html_text(text: str) -> str:
    """For HTML text or an attribute value in a template that is itself rendered by mustache
    (PrairieLearn's question.html): printable, HTML escaped, and braces as entities."""
    return html.escape(printable(text), quote=True).replace("{", "&#123;").replace("}", "&#125;")


def xml_text(text: str) -> str:
    """For XML 1.0 text or an attribute value: printable, and what XML cannot hold even
    escaped (U+FFFE, U+FFFF) as U+FFFD."""
    return not_xml().sub("\ufffd", printable(text))


def spreadsheet_cell(text: str) -> str:
    """For a CSV cell: printable, and prefixed with ' when a spreadsheet would read it as a
    formula (it starts with = + - @, a tab or a carriage return)."""
    shown = printable(text)
    return "'" + shown if shown.startswith(SPREADSHEET_FORMULA) else shown


def json_text(value, **dumps) -> str:
    """`json.dumps(value, ensure_ascii=False, allow_nan=False, **dumps)` made valid UTF-8:
    a lone surrogate in any string becomes its visible escape (a backslash in the string)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, **dumps)
    return SURROGATE.sub(lambda m: _escape(m.group()).replace("\\", "\\\\"), text)
