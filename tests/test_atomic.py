"""Files and folders are replaced whole: a reader sees the old version or the new one."""

import pytest

from whiteglove.atomic import (
    remove_temporaries,
    replace_folder,
    scratch_folder,
    temporary_sibling,
    write_atomically,
    write_text_atomically,
)


def test_writing_leaves_no_temporary_file(tmp_path):
    write_text_atomically(tmp_path / "q.csv", "a\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.csv"]


def test_a_failed_write_leaves_the_previous_file_and_no_temporary_file(tmp_path):
    path = write_text_atomically(tmp_path / "q.csv", "old")

    def fail(tmp):
        tmp.write_text("half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.csv"]
    assert path.read_text() == "old"


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path):
    target = tmp_path / "state"
    replace_folder(target, lambda f: (f / "a.txt").write_text("1"))
    replace_folder(target, lambda f: (f / "b.txt").write_text("2"))
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]

    def fail(folder):
        (folder / "c.txt").write_text("3")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        replace_folder(target, fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]


def test_what_killed_writers_left_is_removed_and_nothing_else(tmp_path):
    keep = write_text_atomically(tmp_path / "kept.json", "{}")
    (tmp_path / "sub").mkdir()
    temporary_sibling(tmp_path / "sub" / "x.parquet").write_text("half")
    temporary_sibling(tmp_path / "folder").mkdir()
    (tmp_path / ".hidden-but-mine").write_text("not a temporary")
    remove_temporaries(tmp_path)
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert left == [".hidden-but-mine", "kept.json", "sub"]
    assert keep.read_text() == "{}"


def test_a_scratch_folder_is_removed_after_use_even_on_error(tmp_path):
    with pytest.raises(ValueError), scratch_folder(tmp_path) as folder:
        (folder / "x").write_text("1")
        raise ValueError
    assert list(tmp_path.iterdir()) == []
