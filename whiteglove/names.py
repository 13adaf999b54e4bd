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


# Tokens that continue a Spanish given name rather than start the surnames: "Francisco
# Javier García", "María del Carmen López". Splitting those after the first token would give
# every Francisco Javier the surname "Javier" and chain strangers together.
GIVEN_NAME_CONTINUATIONS = frozenset(
    "javier luis antonio manuel jose maria carlos angel jesus carmen pilar dolores teresa "
    "isabel angeles luisa francisco ignacio miguel ramon alberto andres enrique rafael "
    "fernando pablo elena victoria eugenia mercedes rosario concepcion soledad lourdes "
    "montserrat cristina belen gracia inmaculada asuncion nieves rocio josefa".split()
)
NAME_CONNECTORS = frozenset({"de", "del", "la", "las", "los", "y"})


def given_name_length(folded_tokens: pl.Expr, max_tokens: int = 4) -> pl.Expr:
    """How many leading tokens of a first-last full name form the given name (at least 1).

    After the first token, a run of connectors and usual second given names joins the given
    name, as long as one token is left for the surnames, except that a two-token name whose
    second token is a usual second given name is all given name; connectors that would end
    the given name go back to the surname ("María de la Fuente").
    """
    joins = list(GIVEN_NAME_CONTINUATIONS | NAME_CONNECTORS)
    n = folded_tokens.list.len().cast(pl.Int64)
    middle = folded_tokens.list.slice(1, (n - 2).clip(lower_bound=0))
    leading = middle.list.eval(pl.element().is_in(joins).cast(pl.Int32).cum_min()).list.sum()
    given = (1 + leading.fill_null(0)).clip(upper_bound=max_tokens)
    # "José María" or "Juan Antonio" alone is a compound given name with no surname: those
    # second names are almost never surnames.
    second = folded_tokens.list.get(1, null_on_oob=True)
    only_given = (n == 2) & second.is_in(list(GIVEN_NAME_CONTINUATIONS)).fill_null(False)
    given = pl.when(only_given).then(2).otherwise(given).cast(pl.Int64)
    trailing = (
        folded_tokens.list.slice(0, given)
        .list.reverse()
        .list.eval(pl.element().is_in(list(NAME_CONNECTORS)).cast(pl.Int32).cum_min())
        .list.sum()
    )
    return (given - trailing.fill_null(0)).clip(lower_bound=1)


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
