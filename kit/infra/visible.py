"""Text from outside (clip names, paths, ffmpeg's lines, exception messages) as people are shown it: every character
Python does not call printable written as an escape, a backslash left as it is; `shell_quote` quotes an argument alike
as bash's `$'...'` (docs/design/robustness.md, "Names as they are spelled").

It is applied where text is shown: report.terminal.Renderer.say, report.summary, report.markup.esc,
report.figures.label, cli.guard.report_error, steps.runner.StepLog; a traceback through `traceback_lines`, an
exception's reason inside a message through `reason_line`. So a line break, a terminal escape or a bidi override reads
as `\\n`, `\\x1b`, `\\u202e` and never starts a line.
"""

from __future__ import annotations

import shlex
import traceback

NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
SURROGATE_BYTES = range(0xDC80, 0xDD00)  # os.fsdecode's surrogateescape: byte 0xHH is U+DCHH


def escape(ch: str) -> str:
    """One character's escape, as bash's `$'...'` reads it back."""
    code = ord(ch)
    if ch in NAMED:
        return NAMED[ch]
    if code < 0x80:
        return f"\\x{code:02x}"
    if code in SURROGATE_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def utf8_text(text: str) -> str:
    """`text` as UTF-8 can hold it: each byte of a name that is not UTF-8 (os.fsdecode's surrogate U+DCHH) written
    `\\xHH`, as `visible` shows it (any other lone surrogate as `\\u` and its four hex digits); every other
    character as it is. What a name becomes where only UTF-8 is taken (a corpus's `src`: arrow strings;
    docs/reference/files.md, "Names")."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join(escape(ch) if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def utf8_document(value: object) -> object:
    """A JSON document (dicts, lists, texts, numbers) with each text, and key, as `utf8_text` writes it: what goes to
    a reader other than the kit (the --json events) holds no lone surrogate, which such a reader refuses or loses."""
    if isinstance(value, str):
        return utf8_text(value)
    if isinstance(value, dict):
        return {utf8_text(str(k)): utf8_document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [utf8_document(v) for v in value]
    return value


def visible(text: str) -> str:
    """`text` on one line, every character that is not printable written as its escape."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else escape(ch) for ch in text)


def ascii_spelling(text: str) -> str:
    """`text` in ASCII alone: each character that is not printable ASCII written as its escape (a Greek capital kappa
    as `\\u039a`), so two names that look alike read apart."""
    return "".join(ch if ch.isascii() and ch.isprintable() else escape(ch) for ch in text)


def visible_lines(text: str) -> list[str]:
    """The lines of a block (a traceback, a stderr tail), each made visible; only a line feed ends a line."""
    return [visible(line) for line in text.split("\n")]


def reason_line(exc: BaseException, typed: bool = False) -> str:
    """An exception's reason on one line: its message's first line, white space squeezed, cut to 200 characters;
    after its type's name when `typed`, and that name alone when it has no message."""
    lines = str(exc).strip().splitlines()
    line = " ".join(lines[0].split()) if lines else ""
    line = line if len(line) <= 200 else line[:197] + "..."
    return (f"{type(exc).__name__}: {line}" if typed else line) if line else type(exc).__name__


CAUSE = "The above exception was the direct cause of the following exception:"
CONTEXT = "During handling of the above exception, another exception occurred:"


def exception_chain(exc: BaseException) -> list[tuple[BaseException, str]]:
    """`exc` and the exceptions it was raised from or while handling, the first cause first as Python prints them,
    each with the line (CAUSE, CONTEXT or "" for `exc`) that leads from it to the next; an exception met twice (a
    cycle) ends the chain."""
    chain: list[tuple[BaseException, str]] = []
    current: BaseException | None = exc
    link = ""
    while current is not None and all(current is not seen for seen, _ in chain):
        chain.append((current, link))
        cause, context = current.__cause__, None if current.__suppress_context__ else current.__context__
        link, current = (CAUSE, cause) if cause is not None else (CONTEXT, context)
    return chain[::-1]


def traceback_lines(exc: BaseException) -> list[str]:
    """A traceback as Python prints it, but each exception's message on one line of its own, made visible."""
    lines: list[str] = []
    for current, link in exception_chain(exc):
        if current.__traceback__ is not None:
            lines.append("Traceback (most recent call last):")
            lines += [visible(line) for frame in traceback.format_tb(current.__traceback__)
                      for line in frame.rstrip("\n").split("\n")]
        name, module, message = type(current).__qualname__, type(current).__module__, str(current)
        name = name if module in ("__main__", "builtins") else f"{module}.{name}"
        lines.append(visible(f"{name}: {message}" if message else name))
        if link:
            lines += ["", link, ""]
    return lines


def shell_quote(arg: str) -> str:
    """One argument for a printed command: shlex.quote, or bash's `$'...'` when it holds a character not printable."""
    if arg.isprintable():
        return shlex.quote(arg)
    body = "".join("\\\\" if ch == "\\" else "\\'" if ch == "'" else ch if ch.isprintable() else escape(ch)
                   for ch in arg)
    return f"$'{body}'"
