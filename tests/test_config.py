"""A bad sources file is refused before any work starts, naming every problem."""

from pathlib import Path

import pytest
import yaml

from whiteglove.config import SourcesConfigError, load_sources

CRM_CSV = "IdCliente;Nombre;Email\nC1;Ana;ana@example.com\n"


def write(tmp_path: Path, config: dict) -> Path:
    (tmp_path / "exports").mkdir(exist_ok=True)
    (tmp_path / "exports" / "crm.csv").write_text(CRM_CSV, encoding="utf-8")
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def crm(**overrides) -> dict:
    source = {
        "name": "crm",
        "path": "exports/crm.csv",
        "format": "csv",
        "csv": {"delimiter": ";"},
        "id": "IdCliente",
        "trust": 1,
        "fields": {"first_name": "Nombre", "email": "Email"},
    }
    source.update(overrides)
    return source


def problems(path: Path) -> list[str]:
    with pytest.raises(SourcesConfigError) as info:
        load_sources(path)
    return info.value.problems


def test_valid_file_loads_with_paths_relative_to_it(tmp_path):
    config = load_sources(write(tmp_path, {"sources": [crm()]}))
    source = config.source("crm")
    assert config.files(source) == [tmp_path.resolve() / "exports" / "crm.csv"]
    assert source.fields["email"].column == "Email"
    assert config.defaults.country == "ES"


def test_unknown_keys_are_named_with_their_source(tmp_path):
    found = problems(write(tmp_path, {"sources": [crm(colour="red")], "extra": 1}))
    assert any("sources[0] (crm).colour: unknown key" in p for p in found)
    assert any(p.startswith("extra: unknown key") for p in found)


def test_unknown_canonical_field_is_refused(tmp_path):
    found = problems(write(tmp_path, {"sources": [crm(fields={"shoe_size": "Nombre"})]}))
    assert any("shoe_size" in p for p in found)


def test_missing_export_is_named(tmp_path):
    path = write(tmp_path, {"sources": [crm(path="exports/nothing.csv")]})
    found = problems(path)
    assert found == [
        f"source 'crm': export not found: {tmp_path.resolve() / 'exports/nothing.csv'}"
    ]


def test_missing_column_names_source_file_and_column(tmp_path):
    path = write(tmp_path, {"sources": [crm(fields={"first_name": "Nombre", "email": "Correo"})]})
    (found,) = problems(path)
    assert "source 'crm'" in found and "'Correo'" in found and "crm.csv" in found
    assert "field email" in found


def test_every_problem_is_reported_at_once(tmp_path):
    config = {
        "sources": [
            crm(fields={"first_name": "Nombre", "email": "Correo"}, id="Id"),
            crm(name="billing", path="exports/billing.parquet", format="parquet", csv=None),
        ]
    }
    del config["sources"][1]["csv"]
    found = problems(write(tmp_path, config))
    assert any("'Correo'" in p for p in found)
    assert any("'Id'" in p for p in found)
    assert any("source 'billing': export not found" in p for p in found)


def test_bad_names_and_duplicates_are_refused(tmp_path):
    found = problems(write(tmp_path, {"sources": [crm(name="CRM-1"), crm(name="crm"), crm()]}))
    assert any("CRM-1" in p for p in found)
    assert any("unique" in p and "crm" in p for p in found)
    # two assets would share the name standardized_crm_validation
    found = problems(write(tmp_path, {"sources": [crm(name="crm_validation")]}))
    assert any("crm_validation" in p and "must not end in _validation" in p for p in found)
    hostile = problems(write(tmp_path, {"sources": [crm(name="<script>alert(1)</script>")]}))
    assert any("must match [a-z][a-z0-9_]*" in p for p in hostile)


def test_glob_path_collects_every_matching_file(tmp_path):
    path = write(tmp_path, {"sources": [crm(path="exports/*.csv")]})
    (tmp_path / "exports" / "crm_2.csv").write_text(CRM_CSV, encoding="utf-8")
    config = load_sources(path)
    assert [p.name for p in config.files(config.source("crm"))] == ["crm.csv", "crm_2.csv"]


def test_error_message_lists_the_file_and_each_problem(tmp_path):
    path = write(tmp_path, {"sources": [crm(fields={"email": "Correo"})]})
    with pytest.raises(SourcesConfigError) as info:
        load_sources(path)
    assert str(path) in str(info.value)
    assert "'Correo'" in str(info.value)


def test_unknown_key_does_not_hide_a_missing_column(tmp_path):
    path = write(tmp_path, {"sources": [crm(colour="red", fields={"email": "Correo"})]})
    found = problems(path)
    assert "sources[0] (crm).colour: unknown key" in found
    assert any("'Correo'" in p and "crm.csv" in p for p in found)


def test_one_record_per_customer_must_name_a_source(tmp_path):
    found = problems(
        write(tmp_path, {"sources": [crm()], "linkage": {"one_record_per_customer": ["bling"]}})
    )
    assert any("one_record_per_customer" in p and "bling" in p for p in found)


def test_a_sources_file_that_is_not_text_or_too_large_is_refused_as_such(tmp_path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SourcesConfigError, match="not valid YAML"):
        load_sources(binary)
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"# padding\n" * (1_100_000))  # 11 MB
    with pytest.raises(SourcesConfigError, match="larger than 10 MB"):
        load_sources(huge)


def test_names_are_whole_identifiers_not_a_prefix(tmp_path):
    # `$` matches before a final newline: "billing\n" passed a plain re.match and failed later
    found = problems(write(tmp_path, {"sources": [crm(name="crm\n")]}))
    assert any("must match [a-z][a-z0-9_]*" in p for p in found)
    found = problems(write(tmp_path, {"sources": [crm(attributes={"signup\n": "FechaAlta"})]}))
    assert any("must match [a-z][a-z0-9_]*" in p for p in found)
