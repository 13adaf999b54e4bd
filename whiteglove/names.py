"""Name folding for matching: accents, case and common Spanish short forms.

The nickname table maps hypocoristics to the given name they usually stand for, so "Paco"
and "Francisco" compare as the same first name. It is deliberately small and conservative:
a wrong entry links strangers, a missing one only costs a little recall.
"""

from __future__ import annotations

import polars as pl

NICKNAMES: dict[str, str] = {
    "paco": "francisco",
    "paquito": "francisco",
    "curro": "francisco",
    "fran": "francisco",
    "pepe": "jose",
    "pepito": "jose",
    "manolo": "manuel",
    "lola": "dolores",
    "loli": "dolores",
    "concha": "concepcion",
    "conchi": "concepcion",
    "nacho": "ignacio",
    "inaki": "ignacio",
    "chus": "jesus",
    "charo": "rosario",
    "merche": "mercedes",
    "quique": "enrique",
    "kike": "enrique",
    "tono": "antonio",
    "toni": "antonio",
    "lupe": "guadalupe",
    "alex": "alejandro",
    "pepelu": "jose luis",
    "maricarmen": "maria del carmen",
    "mari carmen": "maria del carmen",
    "rober": "roberto",
    "santi": "santiago",
    "paqui": "francisca",
    "pepa": "josefa",
    "bea": "beatriz",
    "cris": "cristina",
    "isa": "isabel",
    "tere": "teresa",
    "fer": "fernando",
    "chema": "jose maria",
    "josemi": "jose miguel",
    "juanma": "juan manuel",
    "juanjo": "juan jose",
    "javi": "javier",
    "dani": "daniel",
    "sergi": "sergio",
    "rafa": "rafael",
    "nando": "fernando",
    "moncho": "ramon",
    "pili": "pilar",
    "maite": "maria teresa",
    "marisa": "maria luisa",
    "marisol": "maria soledad",
    "encarni": "encarnacion",
    "inma": "inmaculada",
    "trini": "trinidad",
    "susi": "susana",
    "vero": "veronica",
    "patri": "patricia",
    "mayte": "maria teresa",
}


def fold(expr: pl.Expr) -> pl.Expr:
    """ASCII lower case, digits and single spaces: 'María GARCÍA-López' -> 'maria garcia lopez'."""
    return (
        expr.str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.to_lowercase()
        .str.replace_all(r"[^a-z0-9 ]", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .replace("", None)
    )


def canonical_first_name(folded: pl.Expr) -> pl.Expr:
    """The formal given name behind a nickname, else the folded name itself."""
    return folded.replace(NICKNAMES)
