"""The sample's sources file: the bundled `data/sources.yaml`, wherever the sample is written.

That file is the only copy. Its paths are relative to the file, and the exports and truth.csv
(the labels `linkage.labels` names, so every run of a sample measures its accuracy) sit beside
it in every generated folder, so the one value that can stop being right is `expectations`
(the suites folder, outside the sample); it alone is rewritten, every other byte is kept.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from whiteglove.layout import BUNDLED_SOURCES, PROJECT_ROOT

SOURCES_FILE = "sources.yaml"
_KEY = "expectations"
# The top-level key's line; a comment after the value is kept.
_LINE = re.compile(rf"^({_KEY}:[ \t]*)([^\r\n]*?)([ \t]+#[^\r\n]*)?(?=\r?$)", re.MULTILINE)


def write_sources(out_dir: Path, bundled: Path = BUNDLED_SOURCES) -> Path:
    """Write the bundled sources file into `out_dir` as it must read from there; its path.

    An identical file already there is left alone, so regenerating the bundled sample into
    its own folder does not even touch it.
    """
    path = Path(out_dir) / SOURCES_FILE
    content = sources_text(out_dir, bundled).encode("utf-8")
    if not (path.is_file() and path.read_bytes() == content):
        path.write_bytes(content)
    return path


def sources_text(out_dir: Path, bundled: Path = BUNDLED_SOURCES) -> str:
    """The bundled sources file's text, its suites folder named as seen from `out_dir`."""
    # Bytes, not read_text: newline translation would break the byte-for-byte copy.
    text = bundled.read_bytes().decode("utf-8")
    value = (yaml.safe_load(text) or {}).get(_KEY)
    if not isinstance(value, str):
        return text
    suites = (bundled.parent / value).resolve()
    here = Path(out_dir).resolve()
    # Already right from here: the bundled folder itself, or a copy with the suites beside it.
    if (here / value).resolve() == suites:
        return text
    return _with_value(text, _relative_or_absolute(suites, here), bundled)


def _relative_or_absolute(target: Path, start: Path) -> str:
    # Inside the checkout a relative path survives moving the checkout; from anywhere else it
    # would only encode where the checkout sits, and break once the file is copied elsewhere.
    if start.is_relative_to(PROJECT_ROOT) and target.is_relative_to(PROJECT_ROOT):
        return Path(os.path.relpath(target, start)).as_posix()
    return str(target)


def _with_value(text: str, value: str, bundled: Path) -> str:
    scalar = _scalar(value)
    new, count = _LINE.subn(lambda m: f"{m[1]}{scalar}{m[3] or ''}", text, count=1)
    expected = {**yaml.safe_load(text), _KEY: value}
    if count != 1 or yaml.safe_load(new) != expected:
        raise ValueError(f"{bundled}: `{_KEY}:` must be a one-line top-level value to re-point")
    return new


def _scalar(value: str) -> str:
    # Plain when YAML reads it back unchanged, as the bundled `../expectations` is; quoted else.
    try:
        if yaml.safe_load(f"k: {value}") == {"k": value}:
            return value
    except yaml.YAMLError:
        pass
    return json.dumps(value, ensure_ascii=False)
