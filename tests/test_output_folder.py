"""Whatever already sits in an output folder is untrusted, and a run never leaves it.

A run follows whiteglove's own entries by name (locks, snapshots, the working folder,
`latest`, the marker). A symbolic link planted among them, pointing outside the folder,
would make the run truncate, write or delete files there, or read them as its own. Such a
folder is refused before anything is read or written, with a message naming the entry.
"""

import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance

from pipelines.runner import run_pipeline
from tests.conftest import make_sample
from whiteglove.publish import OutputFolderError, claim_output_folder, output_lock


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> tuple[Path, Path]:
    """A small sample, published once: a folder that is whiteglove's."""
    root = tmp_path_factory.mktemp("published")
    sources = make_sample(root, people=40, seed=97)
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, root / "out", instance=instance, log_level="ERROR")
    assert outcome.success, outcome.failures
    return sources, root / "out"


def files_in(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def elsewhere(tmp_path: Path) -> Path:
    """A folder outside the output folder, with a file and a sub-folder of someone's."""
    folder = tmp_path / "elsewhere"
    (folder / "keep").mkdir(parents=True)
    (folder / "notes.txt").write_text("someone's notes")
    (folder / "keep" / "data.txt").write_text("someone's data")
    return folder


def plant(out: Path, entry: str, target: Path) -> None:
    path = out / entry
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    path.symlink_to(target)


@pytest.mark.parametrize("entry", ["snapshots", ".work", "latest"])
def test_a_folder_entry_planted_as_a_link_is_refused_and_nothing_outside_changes(
    published, tmp_path, entry
):
    sources, original = published
    out = tmp_path / "out"
    shutil.copytree(original, out, symlinks=True)
    outside = elsewhere(tmp_path)
    before = files_in(outside)
    plant(out, entry, outside)

    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, out, instance=instance, log_level="ERROR")

    assert not outcome.success
    (message,) = outcome.failures
    assert str(out / entry) in message and "link" in message
    assert files_in(outside) == before  # nothing deleted, written or added there


@pytest.mark.parametrize("entry", [".lock", ".publish.lock"])
def test_a_lock_planted_as_a_link_is_never_opened(published, tmp_path, entry):
    _, original = published
    out = tmp_path / "out"
    shutil.copytree(original, out, symlinks=True)
    victim = tmp_path / "victim.txt"
    victim.write_text("must stay as it is")
    plant(out, entry, victim)

    with pytest.raises(OutputFolderError, match="symbolic link"):
        claim_output_folder(out)
    with pytest.raises(OutputFolderError, match=entry.replace(".", r"\.")):
        with output_lock(out, entry):
            pass
    assert victim.read_text() == "must stay as it is"


def test_a_dangling_marker_link_does_not_create_its_target(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "created-by-whiteglove.txt"
    (out / ".whiteglove").symlink_to(target)
    with pytest.raises(OutputFolderError, match="symbolic link"):
        claim_output_folder(out)
    assert not target.exists()


def test_a_link_inside_the_working_folder_is_refused(published, tmp_path):
    sources, original = published
    out = tmp_path / "out"
    shutil.copytree(original, out, symlinks=True)
    outside = elsewhere(tmp_path)
    # a stored value an incremental run would read as its own
    plant(out, ".work/raw_crm_validation.json", outside / "notes.txt")
    with pytest.raises(OutputFolderError, match="raw_crm_validation.json is a symbolic link"):
        claim_output_folder(out)


def test_an_output_folder_that_cannot_be_created_is_refused_with_a_message(published, tmp_path):
    sources, _ = published
    (tmp_path / "a-file").write_text("not a folder")
    with DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(sources, tmp_path / "a-file" / "out", instance=instance)
    assert not outcome.success
    (message,) = outcome.failures
    assert "cannot create output folder" in message and "Traceback" not in message


def test_a_dagster_home_that_is_not_a_directory_is_refused_with_a_message(
    published, tmp_path, monkeypatch
):
    sources, _ = published
    home = tmp_path / "no-such-home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    outcome = run_pipeline(sources, tmp_path / "out")
    assert not outcome.success
    (message,) = outcome.failures
    assert f"DAGSTER_HOME={home} is not a directory" in message and "mkdir -p" in message
    assert not home.exists() and not (tmp_path / "out").exists()
