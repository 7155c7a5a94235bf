"""`ictc export` into a folder again: an earlier export of the run is replaced (its cluster folders had stayed
beside the new ones, images counted twice), files ictc did not write stay, and a folder holding other files is
refused in one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ictc.cli.main import main
from ictc.core.errors import UsageError
from ictc.evaluation.export import export_clusters
from ictc.graph.run import start_run
from ictc.prompts import make_criterion

from fakes import fake_context


@pytest.fixture
def run(colour_images, tmp_path) -> Path:
    paths, _ = colour_images
    ctx = fake_context()
    return start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx).run_dir


def _files(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and not p.name.startswith("."))


def test_a_re_export_replaces_the_earlier_cluster_folders_and_keeps_other_files(run, tmp_path):
    out = tmp_path / "export"
    first = export_clusters(run, out)
    blue = next(folder for name, folder in first.items() if len(list(folder.iterdir())) == 2)
    (out / "notes.txt").write_text("mine")
    (blue / "mine.txt").write_text("mine too")
    assert main(["refine", str(run), "--merge", *[name for name in first if first[name] != blue][:2],
                 "--into", "All"]) == 0
    again = export_clusters(run, out)
    assert sorted(f.name for f in again.values()) == sorted(["All", blue.name])
    assert sum(1 for f in _files(out) if not f.endswith((".txt", ".json"))) == 8  # not 16: the old folders are gone
    assert (out / "notes.txt").read_text() == "mine" and (blue / "mine.txt").read_text() == "mine too"


def test_an_export_made_before_the_written_list_is_refused_not_guessed_at(run, tmp_path, capsys):
    """Which files of such an export are ictc's cannot be told from images a user put in its folders since:
    nothing is deleted; the folder is refused in one line."""
    out = tmp_path / "export"
    export_clusters(run, out)
    (out / ".ictc-export.json").unlink()
    blue = next(p for p in out.iterdir() if p.is_dir())
    (blue / "my_own.png").write_bytes(b"mine")
    before = sorted(_files(out))
    with pytest.raises(UsageError, match="holds an export made before ictc listed the files it writes"):
        export_clusters(run, out)
    assert main(["export", str(run), str(out)]) == 1
    assert capsys.readouterr().err.count("\n") == 1 and sorted(_files(out)) == before


def test_a_folder_holding_other_files_is_refused_and_left_as_it_was(run, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("do not touch")
    with pytest.raises(UsageError, match=f"{out} is not empty and holds no earlier ictc export"):
        export_clusters(run, out)
    assert main(["export", str(run), str(out)]) == 1
    assert capsys.readouterr().err.count("\n") == 1 and [p.name for p in out.iterdir()] == ["thesis.docx"]
    (tmp_path / "empty").mkdir()
    assert export_clusters(run, tmp_path / "empty") and export_clusters(run, tmp_path / "new" / "deeper")


def test_a_re_export_says_which_folders_of_the_earlier_export_it_removed(run, tmp_path, capsys):
    """The old cluster folders had gone without a word; one line names them, and those kept for a user's files."""
    out = tmp_path / "export"
    first = export_clusters(run, out)
    gone = sorted(name for name, folder in first.items() if len(list(folder.iterdir())) == 3)  # the two of 3 images
    assert main(["refine", str(run), "--merge", *gone, "--into", "All"]) == 0
    (first[gone[1]] / "mine.txt").write_text("mine")
    capsys.readouterr()
    assert main(["export", str(run), str(out)]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if "earlier export" in line]
    assert said == [f"The earlier export's folders: removed {first[gone[0]].name}; kept {first[gone[1]].name} "
                    "(they hold files ictc did not write)"]
    assert not first[gone[0]].exists() and (first[gone[1]] / "mine.txt").is_file()
    assert main(["export", str(run), str(out)]) == 0  # the same clusters again: nothing of the earlier one is gone
    assert "earlier export" not in capsys.readouterr().out


def test_a_re_export_says_removed_only_the_folders_it_removed(run, tmp_path, capsys):
    """The sentence came from the earlier clusters.json, not from the clearing's own work: a cluster folder the user
    had deleted since was said "removed" by ictc."""
    out = tmp_path / "export"
    first = export_clusters(run, out)
    gone = sorted(name for name, folder in first.items() if len(list(folder.iterdir())) == 3)  # the two of 3 images
    assert main(["refine", str(run), "--merge", *gone, "--into", "All"]) == 0
    for image in first[gone[1]].iterdir():  # the user took this folder away themselves
        image.unlink()
    first[gone[1]].rmdir()
    capsys.readouterr()
    assert main(["export", str(run), str(out)]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if "earlier export" in line]
    assert said == [f"The earlier export's folders: removed {first[gone[0]].name}"], said


def test_a_folder_that_is_no_run_or_a_run_without_results_is_said_so_in_one_line(run, tmp_path, capsys):
    """`ictc export` of a mistyped run folder said "No such file or directory: .../results.json", and so did the
    export of a run stopped before its results, where resume is the way on."""
    assert main(["export", str(tmp_path / "nowhere"), str(tmp_path / "out")]) == 1
    assert f"{tmp_path / 'nowhere'} is not a run folder (no run.json)" in capsys.readouterr().err
    (run / "results.json").unlink()
    assert main(["export", str(run), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"has no results yet (its run stopped before them): `ictc resume {run}`" in err, err
