#!/usr/bin/env python3
"""Functions over a number of lines, counted from the signature to the closing brace.

Clippy's `too_many_lines` (see clippy.toml) counts only the lines of a body that hold code; this
counts every line, blank lines and comments included. Usage:

    .ci/function_lengths.py [--max N] [PATH ...]

PATH defaults to the workspace's crates, examples, benches and tests. Prints `lines path:line
name` for every function over N (default 80) lines, longest first, and exits with 1 if there is
one.
"""
import argparse
import os
import re
import sys

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
RAW_STRING = re.compile(r'b?r(#*)"')


def tokens(text):
    """Yields (kind, value, line) for identifiers and the punctuation `{ } ( ) ;`, skipping
    comments, strings and character literals."""
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    line += text[i] == "\n"
                    i += 1
        elif RAW_STRING.match(text, i) and (i == 0 or not IDENT.match(text[i - 1])):
            m = RAW_STRING.match(text, i)
            end = '"' + m.group(1)
            j = text.find(end, m.end())
            j = n if j < 0 else j + len(end)
            line += text.count("\n", i, j)
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            line += text.count("\n", i, j)
            i = j + 1
        elif c == "'":
            # A character literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            m = re.compile(r"'(\\u\{[0-9A-Fa-f]+\}|\\.|[^\\'\n])'").match(text, i)
            i = m.end() if m else i + 1
        elif IDENT.match(text, i):
            m = IDENT.match(text, i)
            yield ("ident", m.group(0), line)
            i = m.end()
        else:
            if c in "{}();":
                yield ("punct", c, line)
            i += 1


def functions(text):
    """Yields (name, first line, last line) for every function with a body."""
    toks = list(tokens(text))
    for k, (kind, value, line) in enumerate(toks):
        if kind != "ident" or value != "fn" or k + 1 >= len(toks) or toks[k + 1][0] != "ident":
            continue
        name = toks[k + 1][1]
        parens, j = 0, k + 2
        while j < len(toks):
            v = toks[j][1]
            if v == "(":
                parens += 1
            elif v == ")":
                parens -= 1
            elif parens == 0 and v in ";{":
                break
            j += 1
        if j >= len(toks) or toks[j][1] != "{":
            continue
        depth = 0
        for m in range(j, len(toks)):
            v = toks[m][1]
            if v == "{":
                depth += 1
            elif v == "}":
                depth -= 1
                if depth == 0:
                    yield (name, line, toks[m][2])
                    break


def rust_files(paths):
    for path in paths:
        if os.path.isfile(path):
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in ("target", ".git"))
            for f in sorted(files):
                if f.endswith(".rs"):
                    yield os.path.join(root, f)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=80)
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    paths = args.paths or [
        "lifespan-core", "lifespan-macros", "lifespan-postgres", "test-support",
        "examples", "benches", "tests", "src", "build.rs",
    ]
    long = []
    for path in rust_files(paths):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for name, first, last in functions(text):
            lines = last - first + 1
            if lines > args.max:
                long.append((lines, path, first, name))
    for lines, path, first, name in sorted(long, key=lambda f: (-f[0], f[1], f[2])):
        print(f"{lines:4} {path}:{first} {name}")
    return 1 if long else 0


if __name__ == "__main__":
    sys.exit(main())
