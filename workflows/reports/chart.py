"""A small PNG bar chart, written with nothing but ``zlib`` (no plotting dependency).

``deploys_per_day_png`` draws the DORA report's deploys per day: for each day slot a grey
bar (the previous period) beside a blue one (this period), the count above each bar and
the weekday below, in a built-in 3x5 pixel font. Same figures, same bytes: a retried
upload sends exactly what the first attempt would have.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
INK: Color = (60, 64, 67)
GRID: Color = (225, 228, 232)
CURRENT: Color = (29, 120, 214)
PREVIOUS: Color = (176, 184, 191)

# 3x5 glyphs, rows top to bottom, "1" = ink. Text is drawn upper-case.
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111", "A": "010101111101101", "B": "110101110101110",
    "C": "011100100100011", "D": "110101101101110", "E": "111100110100111",
    "F": "111100110100100", "G": "011100101101011", "H": "101101111101101",
    "I": "111010010010111", "J": "001001001101010", "K": "101101110101101",
    "L": "100100100100111", "M": "101111111101101", "N": "110101101101101",
    "O": "010101101101010", "P": "110101110100100", "Q": "010101101110011",
    "R": "110101110101101", "S": "011100010001110", "T": "111010010010010",
    "U": "101101101101111", "V": "101101101101010", "W": "101101111111101",
    "X": "101101010101101", "Y": "101101010010010", "Z": "111001010100111",
    "-": "000000111000000", ".": "000000000000010", "/": "001001010100100",
    ":": "000010000010000", "%": "101001010100101", " ": "000000000000000",
}  # fmt: skip


class Canvas:
    """An RGB pixel buffer that can fill rectangles, draw text and encode itself as PNG."""

    def __init__(self, width: int, height: int, background: Color = WHITE) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def fill(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill ``[x0, x1) x [y0, y1)``, clipped to the canvas."""
        x0, x1 = max(0, min(x0, x1)), min(self.width, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.height, max(y0, y1))
        if x0 >= x1:
            return
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            start = (y * self.width + x0) * 3
            self.pixels[start : start + len(row)] = row

    def text(self, x: int, y: int, text: str, *, scale: int = 2, color: Color = INK) -> None:
        """Draw ``text`` with its top-left corner at ``(x, y)``."""
        for index, char in enumerate(text.upper()):
            glyph = _GLYPHS.get(char, _GLYPHS[" "])
            left = x + index * 4 * scale
            for bit, ink in enumerate(glyph):
                if ink == "1":
                    gx, gy = left + (bit % 3) * scale, y + (bit // 3) * scale
                    self.fill(gx, gy, gx + scale, gy + scale, color)

    @staticmethod
    def text_width(text: str, *, scale: int = 2) -> int:
        return max(len(text) * 4 * scale - scale, 0)

    def png(self) -> bytes:
        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b"")
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def deploys_per_day_png(
    *,
    labels: Sequence[str],
    current: Sequence[int],
    previous: Sequence[int],
    title: str = "Production deploys per day",
    width: int = 720,
    height: int = 320,
) -> bytes:
    """A grouped bar chart: per label, ``previous`` (grey) then ``current`` (blue)."""
    canvas = Canvas(width, height)
    left, right, top, bottom = 24, width - 24, 64, height - 36
    canvas.text(left, 14, title, scale=3)
    legend_x = right - 260
    for offset, (color, name) in enumerate(
        ((PREVIOUS, "previous 7 days"), (CURRENT, "last 7 days"))
    ):
        y = 14 + offset * 18
        canvas.fill(legend_x, y, legend_x + 12, y + 12, color)
        canvas.text(legend_x + 18, y + 1, name)
    peak = max([*current, *previous, 1])
    plot_height = bottom - top - 20  # room for the count above the tallest bar
    for step in (0.5, 1.0):
        y = bottom - round(plot_height * step)
        canvas.fill(left, y, right, y + 1, GRID)
    canvas.fill(left, bottom, right, bottom + 2, INK)
    groups = max(len(labels), 1)
    group_width = (right - left) // groups
    bar_width = max(group_width // 3, 2)
    for index, label in enumerate(labels):
        x = left + index * group_width + (group_width - 2 * bar_width - 4) // 2
        values = (
            (previous[index] if index < len(previous) else 0, PREVIOUS),
            (current[index] if index < len(current) else 0, CURRENT),
        )
        for position, (value, color) in enumerate(values):
            bar_x = x + position * (bar_width + 4)
            bar_top = bottom - round(plot_height * value / peak)
            canvas.fill(bar_x, bar_top, bar_x + bar_width, bottom, color)
            number = str(value)
            number_x = bar_x + (bar_width - canvas.text_width(number)) // 2
            canvas.text(number_x, bar_top - 14, number)
        label_x = left + index * group_width + (group_width - canvas.text_width(label)) // 2
        canvas.text(label_x, bottom + 10, label)
    return canvas.png()
