#!/usr/bin/env python3
"""Captures real renders of the cockpit for the README.

Runs the release binary on the demo cluster inside tmux (isolated XDG dirs),
drives it with keys, captures each scene with colours (`capture-pane -e`) and
writes it as an SVG. Usage: python3 screenshots/capture.py  (after cargo build --release)
"""
import html
import os
import re
import subprocess
import tempfile
import time
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "tighten")
OUT = os.path.join(ROOT, "screenshots")
SESSION = "tighten-shots"

BASE16 = ["#15161e", "#f7768e", "#9ece6a", "#e0af68", "#7aa2f7", "#bb9af7", "#7dcfff", "#a9b1d6",
          "#414868", "#ff899d", "#9fe044", "#faba4a", "#8db0ff", "#c7a9ff", "#a4daff", "#c0caf5"]
FG, BG = "#c0caf5", "#1a1b26"


def xterm256(n):
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        levels = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (levels[n // 36], levels[(n // 6) % 6], levels[n % 6])
    v = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (v, v, v)


def parse(text):
    """Turns ANSI text into rows of (char, fg, bg, bold)."""
    rows = []
    fg, bg, bold, reverse = None, None, False, False
    for line in text.split("\n"):
        cells = []
        for token in re.split(r"(\x1b\[[0-9;]*m)", line):
            if token.startswith("\x1b["):
                params = [int(p) if p else 0 for p in token[2:-1].split(";")] or [0]
                i = 0
                while i < len(params):
                    p = params[i]
                    if p == 0:
                        fg, bg, bold, reverse = None, None, False, False
                    elif p == 1:
                        bold = True
                    elif p == 22:
                        bold = False
                    elif p == 7:
                        reverse = True
                    elif p == 27:
                        reverse = False
                    elif p in (38, 48) and i + 1 < len(params):
                        if params[i + 1] == 2 and i + 4 < len(params):
                            colour = "#%02x%02x%02x" % tuple(params[i + 2:i + 5])
                            i += 4
                        elif params[i + 1] == 5 and i + 2 < len(params):
                            colour = xterm256(params[i + 2])
                            i += 2
                        else:
                            colour = None
                        if p == 38:
                            fg = colour
                        else:
                            bg = colour
                        i += 1
                    elif p == 39:
                        fg = None
                    elif p == 49:
                        bg = None
                    elif 30 <= p <= 37:
                        fg = BASE16[p - 30]
                    elif 90 <= p <= 97:
                        fg = BASE16[p - 90 + 8]
                    elif 40 <= p <= 47:
                        bg = BASE16[p - 40]
                    elif 100 <= p <= 107:
                        bg = BASE16[p - 100 + 8]
                    i += 1
                continue
            for ch in token:
                f, b = (fg or FG), (bg or BG)
                if reverse:
                    f, b = b, f
                cells.append((ch, f, b, bold))
                if unicodedata.east_asian_width(ch) in ("W", "F"):
                    cells.append(("", f, b, bold))
        rows.append(cells)
    return rows


def svg(rows, cols, lines, title):
    cw, ch = 8.4, 17
    w, h = cols * cw + 20, lines * ch + 44
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}">',
           f'<rect width="100%" height="100%" rx="8" fill="{BG}"/>',
           '<circle cx="18" cy="14" r="5" fill="#f7768e"/><circle cx="34" cy="14" r="5" fill="#e0af68"/>'
           '<circle cx="50" cy="14" r="5" fill="#9ece6a"/>',
           f'<text x="{w / 2:.0f}" y="18" fill="#565f89" font-family="sans-serif" font-size="12" '
           f'text-anchor="middle">{html.escape(title)}</text>',
           '<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14">']
    for y, cells in enumerate(rows[:lines]):
        top = 30 + y * ch
        x = 0
        while x < len(cells):
            start = x
            _, f, b, bold = cells[x]
            while x < len(cells) and cells[x][1:] == (f, b, bold):
                x += 1
            run = "".join(c[0] for c in cells[start:x])
            if b != BG:
                out.append(f'<rect x="{10 + start * cw:.1f}" y="{top:.0f}" width="{(x - start) * cw:.1f}" '
                           f'height="{ch}" fill="{b}"/>')
            if run.strip():
                weight = ' font-weight="bold"' if bold else ""
                out.append(f'<text x="{10 + start * cw:.1f}" y="{top + 13:.0f}" fill="{f}"{weight} '
                           f'textLength="{(x - start) * cw:.1f}" lengthAdjust="spacingAndGlyphs" '
                           f'xml:space="preserve">{html.escape(run)}</text>')
    out.append("</g></svg>")
    return "\n".join(out)


def tmux(*args):
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def scene(name, title, keys, cols, lines, wait=0.8):
    for key in keys:
        if key.startswith("lit:"):
            tmux("send-keys", "-t", SESSION, "-l", key[4:])
        else:
            tmux("send-keys", "-t", SESSION, key)
        time.sleep(0.25)
    time.sleep(wait)
    text = tmux("capture-pane", "-e", "-p", "-t", SESSION)
    with open(os.path.join(OUT, name + ".svg"), "w") as f:
        f.write(svg(parse(text), cols, lines, title))
    print("wrote", name)


def run(cols, lines, scenes, extra_args=()):
    home = tempfile.mkdtemp(prefix="tighten-shots-")
    env = " ".join(f"XDG_{k}_HOME={home}/{k.lower()}" for k in ("CONFIG", "DATA", "STATE"))
    command = f"env {env} TERM=xterm-256color {BINARY} --demo {' '.join(extra_args)}"
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    tmux("new-session", "-d", "-s", SESSION, "-x", str(cols), "-y", str(lines), command)
    time.sleep(2.5)  # a few flow batches, so the tails are moving
    try:
        for args in scenes:
            scene(*args, cols=cols, lines=lines)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


if __name__ == "__main__":
    run(120, 40, [
        ("main", "tighten --demo · namespaces, drops and the selected namespace", []),
        ("policies", "Policies tab: roles, selection, a policy Cilium rejected", [":", "lit:ns stage", "Enter", "2"]),
        ("enforce-confirm", "Enforce: the confirm dialog with dry run, gate and diff",
         ["Escape", ":", "lit:ns databases", "Enter", "Escape", "E"]),
        ("rollback-typed", "Partial rollback: the namespace name must be typed",
         ["Escape", ":", "lit:ns cert-manager", "Enter", "Escape", "r", "lit:cert-"]),
        ("rollback-gitops", "Namespace rollback of Flux-owned policies: the Kustomization is suspended first",
         ["Escape", "Escape", ":", "lit:ns auth", "Enter", "Escape", "R"]),
        ("help", "Help: every binding as loaded", ["Escape", "Escape", "?"]),
    ])
    run(80, 24, [("main-80x24", "80x24", [])])
    run(120, 40, [("production-readonly", "--theme production --readonly", [":", "lit:ns payments", "Enter", "3"])],
        extra_args=("--theme", "production", "--readonly"))
