#!/usr/bin/env python3
"""Turns ghsystem's English statement file into a TSV of GHS statements.

ghsystem (LaTeX package by Clemens Niederberger, LPPL 1.3, shipped by Debian in
texlive-science) holds the English texts of the GHS hazard (H) and
precautionary (P) statements, as in UN GHS Annexes 3 and EU CLP, in LaTeX3
syntax:

    \\ghsystem_add_statement:nnn {P} { 301 + 310 }
      { If~ swallowed:~ Immediately~ call~ a~ POISON~ CENTER\\ghsystem_slash: doctor. }

This script writes one line per H and P statement: "P301+P310<TAB>text".
In LaTeX3 code plain spaces are ignored and `~` is a space. Fill-in places
(`\\l_ghsystem_dots_tl`, `\\ghsystem_text:`, the temperature and mass fill-ins)
become "…", which is how a label leaves them for the supplier to complete;
optional notes that ghsystem prints only on request (`\\ghsystem_exposure:`
and the like) are left out. EU-only EUH statements are skipped.

Usage: ghsystem_statements.py ghsystem_english.def > statements.tsv
Exits non-zero, naming the line, on anything it does not understand.
"""

import re
import sys

FILL_INS = {
    r"\l_ghsystem_dots_tl": "…",
    r"\ghsystem_text:": "…",
    r"\l_ghsystem_celsius_temperature_tl": "…",
    r"\l_ghsystem_fahrenheit_temperature_tl": "…",
    r"\l_ghsystem_kg_mass_tl": "…",
    r"\l_ghsystem_lbs_mass_tl": "…",
    r"\ghsystem_exposure:": "",
    r"\ghsystem_effect:": "",
    r"\ghsystem_organs:": "",
    r"\ghsystem_substance:": "",
    r"\exp_args:No": "",
    r"\ghsystem_slash:": "/",
    r"\textemdash": "—",
    r"\,": "",
}
UNITS = {r"\GHScelsius": "°C", r"\GHSfahrenheit": "°F", r"\GHSkilogram": "kg", r"\GHSpounds": "lbs"}


def braced(text, i):
    """Returns (content, end) of the {...} group starting at or after i."""
    while text[i].isspace():
        i += 1
    if text[i] != "{":
        raise ValueError("expected '{' at offset %d" % i)
    depth, j = 0, i
    while True:
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
        j += 1


def plain(tex):
    tex = re.sub(r"\\SI\s*\{([^{}]*)\}\s*\{\s*(\\[A-Za-z]+)\s*\}",
                 lambda m: m.group(1).strip() + "~" + UNITS[m.group(2)], tex)
    # "Causes damage to organs" unless the organs are named: named here.
    tex = re.sub(r"\\bool_if:NF\s*\\l_ghsystem_organs_bool\s*\{([^{}]*)\}", r"\1", tex)
    tex = tex.replace("\\c_space_tl", "~")
    tex = re.sub(r"\\iupac\s*\{([^{}]*)\}", lambda m: m.group(1).replace("|", ""), tex)
    for macro, text in sorted(FILL_INS.items(), key=lambda kv: -len(kv[0])):
        tex = tex.replace(macro, text.replace(" ", "~"))
    tex = tex.replace("\\ ", "~")
    if "\\" in tex or "{" in tex or "}" in tex:
        raise ValueError("unexpected TeX left in: " + tex)
    text = re.sub(r"\s+", "", tex).replace("~", " ")
    text = re.sub(r" +([.,;:])", r"\1", re.sub(r" +", " ", text))
    return text.strip()


def main():
    source = open(sys.argv[1], encoding="utf-8").read()
    # Comment lines emptied, not removed, so line numbers stay the file's.
    source = "\n".join("" if l.lstrip().startswith("%") else l for l in source.split("\n"))
    out = []
    for m in re.finditer(r"\\ghsystem_add_statement:nnn\s*\{(\w+)\}", source):
        kind = m.group(1)
        number, end = braced(source, m.end())
        body, _ = braced(source, end)
        if kind not in ("H", "P"):
            continue
        line = source.count("\n", 0, m.start()) + 1
        parts = [p.strip() for p in number.split("+")]
        if not all(re.fullmatch(r"\d{3}[A-Za-z]*", p) for p in parts):
            sys.exit("ghsystem_statements: line %d: statement number '%s'" % (line, number))
        try:
            text = plain(body)
        except (ValueError, KeyError) as e:
            sys.exit("ghsystem_statements: line %d: %s" % (line, e))
        out.append("+".join(kind + p for p in parts) + "\t" + text)
    if len(out) < 150:
        sys.exit("ghsystem_statements: only %d statements found" % len(out))
    sys.stdout.write("# code\ttext (English), from ghsystem_english.def (texlive-science)\n")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
