"""Mask personal data before it reaches metadata, logs or reports: `m***@gmail.com`."""

from __future__ import annotations

import polars as pl

MASKED_FIELDS = {"email", "phone", "date_of_birth", "national_id", "address_line"}


def mask_email(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace(r"^(.)[^@]*@", "${1}***@")


def mask_tail(expr: pl.Expr, keep: int = 3) -> pl.Expr:
    """Hide all but the last `keep` characters, and the length: '+34612345678' -> '****678'."""
    return pl.lit("****") + expr.cast(pl.String).str.slice(-keep)


def mask_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The same frame with personal values masked, for previews a person will see."""
    exprs = []
    for name in frame.columns:
        if name == "email" or name.endswith("email"):
            exprs.append(mask_email(pl.col(name).cast(pl.String)).alias(name))
        elif name == "date_of_birth":
            exprs.append(pl.col(name).cast(pl.String).str.slice(0, 4).add("-**-**").alias(name))
        elif name in MASKED_FIELDS:
            exprs.append(mask_tail(pl.col(name)).alias(name))
    return frame.with_columns(exprs) if exprs else frame
