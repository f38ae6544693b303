"""The noxfile's own logic: per-session temporary folders and the leftovers check."""

import pytest

nox = pytest.importorskip("nox")
noxfile = pytest.importorskip("noxfile")


class FakeSession:
    def __init__(self, root):
        self.env, self.root = {}, root

    def create_tmp(self) -> str:  # what nox does: <envdir>/tmp, and TMPDIR pointing at it
        tmp = self.root / "tmp"
        tmp.mkdir(exist_ok=True)
        self.env["TMPDIR"] = str(tmp)
        return str(tmp)


def test_scratch_is_fresh_points_temp_and_gradio_into_it_and_is_removed(tmp_path):
    session = FakeSession(tmp_path)
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "stale").write_text("from an earlier run")
    with pytest.raises(RuntimeError), noxfile.scratch(session) as tmp:
        assert list(tmp.iterdir()) == []
        assert session.env["TMPDIR"] == session.env["TMP"] == session.env["TEMP"] == str(tmp)
        assert session.env["GRADIO_TEMP_DIR"] == str(tmp / "gradio")
        (tmp / "pytest").mkdir()
        raise RuntimeError("a failing session still cleans up")
    assert not (tmp_path / "tmp").exists()


@pytest.mark.parametrize("by_content", [True, False])
def test_machine_state_sees_new_changed_and_removed(tmp_path, by_content):
    import os

    for name in ("keep", "edit", "gone", "same"):
        (tmp_path / name).write_text("a")
    state = lambda: noxfile.machine_state((str(tmp_path),), by_content=(str(tmp_path),) if by_content else ())  # noqa: E731
    before = state()
    (tmp_path / "edit").write_text("ab")
    (tmp_path / "gone").unlink()
    (tmp_path / "new-dir").mkdir()
    (tmp_path / "new-dir" / "inside").write_text("x")
    (tmp_path / "same").write_text("a")  # rewritten with the same bytes, at a later time
    os.utime(tmp_path / "same", ns=(1, 1))
    after = state()
    assert set(after) - set(before) == {str(tmp_path / "new-dir"), str(tmp_path / "new-dir" / "inside")}
    assert set(before) - set(after) == {str(tmp_path / "gone")}
    assert after[str(tmp_path / "edit")] != before[str(tmp_path / "edit")]
    assert after[str(tmp_path / "keep")] == before[str(tmp_path / "keep")]
    assert (after[str(tmp_path / "same")] == before[str(tmp_path / "same")]) is by_content


def test_machine_state_skips_the_checkout(tmp_path):
    """A clone under /tmp writes its own .nox, .venv and caches: those are not leftovers."""
    repo = tmp_path / "clone"
    (repo / ".nox").mkdir(parents=True)
    (tmp_path / "stray").write_text("x")
    state = noxfile.machine_state((str(tmp_path),), by_content=(), skip=(str(repo),))
    assert set(state) == {str(tmp_path / "stray")}
    assert str(noxfile.Path(noxfile.__file__).resolve().parent) in noxfile.machine_state.__defaults__[2]


def test_compare_state_rules():
    before = {"/tmp/old": (1, "1"), "/etc/hosts": (1, "a"), "/usr/local/bin/sacct": (1, "a"), "/etc/gone": (1, "a")}
    after = {"/tmp/new": (0, "dir"), "/tmp/new/deep": (3, "3"), "/etc/hosts": (2, "b"), "/usr/local/bin/sacct": (2, "b"),
             "/etc/slurm": (0, "dir")}
    report = noxfile.compare_state(before, after)
    assert report.bad == ["removed: /etc/gone", "changed: /etc/hosts", "new: /etc/slurm", "new: /tmp/new",
                          "changed: /usr/local/bin/sacct"]
    assert report.info == ["removed: /tmp/old"]  # someone else's cleanup is not a leftover
    with_apt = noxfile.compare_state(before, after, dpkg_ran=True)
    assert with_apt.bad == ["new: /tmp/new", "changed: /usr/local/bin/sacct"]
    assert "changed: /etc/hosts (apt)" in with_apt.info
    assert noxfile.compare_state(before, before).lines == ["/tmp, /etc, /usr/local/bin: as nox found them"]
