"""CLI layer: tables that fit the terminal (or a pipe) without cutting a name or a number.

Rich shrinks every column of a table that is too wide, so ``shijiazhuang-2021`` became ``shijiazhuang-20…``
and ``CNY 227 million`` became ``CNY / 227 / mill…`` at 80 columns. Here the columns are measured first
and never shrunk: when they do not fit, the table is *split* into several narrower tables that each repeat
the key column (the first one), and a column marked ``cut`` (a description) is the only one ever
shortened, to one line. When stdout is not a terminal the same tables are written as plain text
(no box drawing, no colour) so that scripts can read them; ``--json`` is the form meant for scripts.

Imports Rich only; knows nothing of scenarios or runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

#: Spaces between two columns.
GAP = 2


def stdout() -> Console:
    """A console on stdout, made when needed so its width and terminal detection follow the current
    stdout and ``COLUMNS`` (a module-level console would keep what it saw at import)."""
    return Console(highlight=False)


@dataclass(frozen=True)
class Column:
    """One column: its header, ``"left"`` or ``"right"`` alignment, and whether it may be cut to fit."""

    header: str
    justify: str = "left"
    cut: bool = False


def _pad(text: str, width: int, justify: str) -> str:
    gap = " " * max(width - cell_len(text), 0)
    return gap + text if justify == "right" else text + gap


def _cut(text: str, width: int) -> str:
    """``text`` on one line, at most ``width`` cells, with ``…`` where it was cut."""
    text = " ".join(text.split())
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    out = ""
    for char in text:
        if cell_len(out + char) > width - 1:
            break
        out += char
    return out.rstrip() + "…"


def layout(columns: Sequence[Column], rows: Sequence[Sequence[str | None]], width: int,
           key_width: int | None = None) -> list[list[int]]:
    """Split the column indices into groups that each fit ``width`` (every group starts with the key column 0).

    A row whose cells after the first are all None is a heading (only its first cell is printed).
    Columns marked ``cut`` are given whatever width is left and so never cause a split. ``key_width``:
    the key column's width when longer keys go on a line of their own (default: the longest key).
    """
    widths = [max([cell_len(c.header)] + [cell_len(r[i]) for r in rows if r[i] is not None]) for i, c in
              enumerate(columns)]
    key = widths[0] if key_width is None else key_width
    groups: list[list[int]] = []
    current: list[int] = [0]
    used = key
    for i in range(1, len(columns)):
        need = GAP + (min(widths[i], 12) if columns[i].cut else widths[i])
        if len(current) > 1 and used + need > width:
            groups.append(current)
            current, used = [0], key
        current.append(i)
        used += need
    groups.append(current)
    return groups


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[str | None]]) -> list[int]:
    return [max([cell_len(c.header)] + [cell_len(r[i]) for r in rows if r[i] is not None]) for i, c in
            enumerate(columns)]


def key_room(columns: Sequence[Column], rows: Sequence[Sequence[str | None]], width: int) -> int:
    """Cells left for the key column when every other column is shown whole on one line."""
    widths = _widths(columns, rows)
    return width - sum(w + GAP for c, w in zip(columns[1:], widths[1:]) if not c.cut) \
        - sum(GAP + min(w, 12) for c, w in zip(columns[1:], widths[1:]) if c.cut)


def render(columns: Sequence[Column], rows: Sequence[Sequence[str | None]], width: int | None,
           rule: str = "─", min_key: int | None = None) -> list[list[str]]:
    """The table as blocks of text lines (one block per group of columns that fits ``width``).

    ``width`` None: one block, nothing cut (for a pipe that a script reads). Headings (rows with only a
    first cell) are printed on their own line in every block. With ``min_key``, a table that is too wide
    first tries a narrower key column (at least ``min_key`` cells): a longer key then goes on a line of
    its own above its values, so a few long names do not split the whole table.
    """
    key_width = None
    if width is None:
        groups = [list(range(len(columns)))]
    else:
        groups = layout(columns, rows, width)
        room = key_room(columns, rows, width)
        if len(groups) > 1 and min_key is not None:
            if room >= min_key:  # one table, a few long keys on lines of their own
                groups, key_width = [list(range(len(columns)))], room
            else:  # split all the same, but into fewer tables
                key_width = min(_widths(columns, rows)[0], max(min_key, cell_len(columns[0].header)))
                groups = layout(columns, rows, width, key_width)
    blocks = []
    for group in groups:
        widths = {i: max([cell_len(columns[i].header)] + [cell_len(r[i]) for r in rows if r[i] is not None])
                  for i in group}
        if key_width is not None:
            widths[0] = key_width
        if width is not None:
            fixed = sum(widths[i] + GAP for i in group if not columns[i].cut) - GAP
            for i in group:
                if columns[i].cut:
                    widths[i] = max(min(widths[i], width - fixed - GAP), 1)

        def line(cells: Sequence[str | None]) -> str:
            parts = []
            for i in group:
                text = cells[i] or ""
                if columns[i].cut and width is not None:
                    text = _cut(text, widths[i])
                parts.append(_pad(text, widths[i], columns[i].justify))
            return (" " * GAP).join(parts).rstrip()

        lines = [line([c.header for c in columns])]
        lines.append((" " * GAP).join(rule * (min(widths[i], max(cell_len(columns[i].header), 11))
                                              if columns[i].cut else widths[i]) for i in group).rstrip())
        for row in rows:
            if all(cell is None for cell in row[1:]):
                lines.append(row[0] or "")
            elif cell_len(row[0] or "") > widths[0]:
                lines.append(row[0] or "")
                lines.append(line([""] + list(row[1:])))
            else:
                lines.append(line(row))
        blocks.append(lines)
    return blocks


def print_table(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[str | None]],
                title: str | None = None, *, full_width_in_pipe: bool = False, min_key: int | None = None) -> None:
    """Print a table that fits the console: split into narrower tables rather than cut a value.

    In a terminal the header is bold; in a pipe the table is plain text (ASCII rule). With
    ``full_width_in_pipe`` a pipe gets one table with nothing cut, however wide; ``min_key``: see :func:`render`.
    """
    terminal = console.is_terminal
    width = None if (full_width_in_pipe and not terminal) else console.width
    blocks = render(columns, rows, width, rule="─" if terminal else "-", min_key=min_key)
    for number, lines in enumerate(blocks):
        if title:
            suffix = f" ({number + 1}/{len(blocks)})" if len(blocks) > 1 else ""
            console.print(Text(title + suffix, style="bold" if terminal else ""), soft_wrap=not terminal)
        for k, text in enumerate(lines):
            style = "bold" if terminal and k == 0 else ""
            console.print(Text(text, style=style), soft_wrap=True)
        if number < len(blocks) - 1:
            console.print()


def print_facts(console: Console, title: str, facts: Sequence[tuple[str, str]]) -> None:
    """A title and aligned ``name  value`` lines (a run's summary), plain in a pipe."""
    terminal = console.is_terminal
    console.print(Text(title, style="bold" if terminal else ""), soft_wrap=not terminal)
    width = max((cell_len(name) for name, _ in facts), default=0)
    for name, value in facts:
        console.print(Text(_pad(name, width, "left") + " " * GAP + value), soft_wrap=True)


def print_json(console: Console, value) -> None:
    """``value`` as indented JSON on stdout (no colour, no wrapping), for scripts."""
    console.file.write(json.dumps(value, indent=2, default=str) + "\n")
    console.file.flush()
