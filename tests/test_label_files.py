"""Labels files as people write them (issue 17, case 7): BOM, `;` and tab separators, header case,
Windows paths, paths relative to the image folder, bare names; the metrics say how many were scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from ictc.cli import main
from ictc.core.errors import UsageError
from ictc.evaluation.labels import match_labels, read_labels, several_said
from ictc.evaluation.results import evaluate_run
from ictc.graph.run import start_run
from ictc.prompts import make_criterion

from fakes import COLOURS, fake_context

CLASSES = {"red": 7, "green": 6, "blue": 7}  # 20 images


@pytest.fixture
def class_folders(tmp_path) -> Path:
    """One folder per class, the same file names in each (0001.png ...), as in ImageNet-style sets; two
    names occur once only (red/unique_a.png, blue/unique_b.png)."""
    root = tmp_path / "shapes"
    for colour, n in CLASSES.items():
        (root / colour).mkdir(parents=True)
        for i in range(n):
            name = {("red", 6): "unique_a.png", ("blue", 6): "unique_b.png"}.get((colour, i), f"{i + 1:04d}.png")
            Image.new("RGB", (40 + i, 30), COLOURS[colour]).save(root / colour / name)
    return root


def _rows(root: Path) -> list[tuple[str, str]]:
    """(path relative to the image folder, class) for every image."""
    return [(p.relative_to(root).as_posix(), p.parent.name) for p in sorted(root.rglob("*.png"))]


@pytest.fixture
def finished_run(class_folders, tmp_path) -> Path:
    ctx = fake_context()
    start_run(str(class_folders), make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    return tmp_path / "run"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("variant", ["bom-comma-relative", "semicolon-windows", "tab-utf16", "windows-absolute",
                                     "upper-header-dot-slash", "cp1252-spreadsheet",
                                     # a break-it helper's: Excel's "sep=;" line, ids without the extension,
                                     # headers as data sets name them
                                     "excel-sep-line", "ids-without-extension", "spaced-header",
                                     # a sixth break-it round's (k38): a column of the images' URLs, as a cloud
                                     # bucket's export writes it, some signed with a query string
                                     "url-column"])
def test_labels_as_people_write_them_score_every_image(finished_run, class_folders, tmp_path, variant):
    rows = _rows(class_folders)
    lines = {
        "bom-comma-relative": ["image,label", *(f"{p},{c}" for p, c in rows)],
        "semicolon-windows": ["image;label", *(f"{p.replace('/', chr(92))};{c}" for p, c in rows)],
        "tab-utf16": ["Image\tLabel", *(f"{p}\t{c}" for p, c in rows)],
        "windows-absolute": ["image,label", *(f"C:\\Users\\ann\\shapes\\{p.replace('/', chr(92))},{c}" for p, c in rows)],
        "upper-header-dot-slash": ["IMAGE , Class", *(f"./{p} , {c}" for p, c in rows)],
        "cp1252-spreadsheet": ["image;label", *(f"{p};{c}é" for p, c in rows)],
        "excel-sep-line": ["sep=;", "image;label", *(f"{p};{c}" for p, c in rows)],
        "ids-without-extension": ["id,labels", *(f"{p[:-4]},{c}" for p, c in rows)],
        "spaced-header": ["Image Name,Class Label", *(f"{p},{c}" for p, c in rows)],
        "url-column": ["image_url,label", *(f"https://storage.example.com/shapes/{p}{'?X-Goog-Signature=ab12' * (i % 2)},{c}"
                                            for i, (p, c) in enumerate(rows))],
    }[variant]
    text = "\r\n".join(lines) + "\r\n"
    encoding = {"bom-comma-relative": "utf-8-sig", "tab-utf16": "utf-16", "cp1252-spreadsheet": "cp1252"}.get(variant, "utf-8")
    scores = evaluate_run(finished_run, str(_write(tmp_path / "labels.csv", text, encoding)))
    guessed = ("the labels file is not UTF-8 and was read as Windows-1252: if a class name looks garbled, save it "
               "as CSV UTF-8" if variant == "cp1252-spreadsheet" else "")  # a guess is said: UTF-8 and UTF-16 are sure
    assert (scores.acc, scores.n, scores.images, scores.warning) == (1.0, 20, 20, guessed)
    if variant == "cp1252-spreadsheet":
        assert set(scores.classes) == {"redé", "greené", "blueé"}


def test_a_mac_csv_is_read_as_mac_roman_and_the_guess_said(finished_run, class_folders, tmp_path):
    # Excel for Mac's "CSV (Macintosh)": CR-only lines, Mac Roman; read as cp1252 its names came out red_ŽÑ, unsaid
    text = "\r".join(["Filename,Class", *(f"{p},{c}_é—" for p, c in _rows(class_folders))]) + "\r"
    scores = evaluate_run(finished_run, str(_write(tmp_path / "labels.csv", text, "mac_roman")))
    assert scores.acc == 1.0 and set(scores.classes) == {"red_é—", "green_é—", "blue_é—"}
    assert scores.warning == ("the labels file is not UTF-8 and was read as Mac Roman (its lines end in CR alone, as "
                              "Excel for Mac's 'CSV (Macintosh)'): if a class name looks garbled, save it as CSV UTF-8")


def test_bare_names_match_only_where_unambiguous_and_the_metrics_say_so(finished_run, class_folders, tmp_path):
    # the case: bare names repeated across class folders; on main 2 of 20 were scored, silently
    labels = _write(tmp_path / "labels.csv", "image,label\n" + "".join(
        f"{Path(p).name},{c}\n" for p, c in _rows(class_folders)))
    scores = evaluate_run(finished_run, str(labels))
    assert (scores.n, scores.images) == (2, 20)
    assert scores.warning == ("scored 2 of 20 images (18 not named in the labels file); 6 name(s) given two labels "
                              "and left out, e.g. '0001.png'")
    saved = json.loads((finished_run / "results.json").read_text("utf-8"))["metrics"]
    assert (saved["n"], saved["images"], len(saved["unlabelled"])) == (2, 20, 18)


def test_cli_prints_how_many_were_scored_and_warns(finished_run, class_folders, tmp_path, capsys):
    rows = _rows(class_folders)
    labels = _write(tmp_path / "labels.csv", "image,label\n" + "".join(f"{p},{c}\n" for p, c in rows[:17]))
    assert main(["eval", str(finished_run), str(labels)]) == 0
    out = capsys.readouterr().out
    assert "(scored 17 of 20 images)" in out
    assert "Warning: scored 17 of 20 images (3 not named in the labels file)" in out


def test_labels_naming_no_image_is_refused_with_the_file_named(class_folders, tmp_path, capsys):
    labels = _write(tmp_path / "truth.csv", "image,label\nelsewhere/zebra.png,cat\n")
    code = main(["run", str(class_folders), "-c", "colour", "-k", "3", "--labels", str(labels),
                 "--out", str(tmp_path / "run"), "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
                 "--vlm", "v", "--llm", "l"])
    assert code == 1 and f"labels file {labels} names none of the 20 images" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything was started


@pytest.mark.parametrize(("text", "error"), [
    ("", "needs a header row with an image column (image, file, filename"),
    ("image,label\na.png,cat\na.png,dog\n", "gives every image two labels (e.g. 'a.png')"),
    ("photo,kind\na.png,cat\n", "(its first line: 'photo,kind')"),
    ("image,label\na.png,\n", "has a header but no row with both an image and a label"),
])
def test_unreadable_labels_files_are_one_line_naming_the_file(tmp_path, text, error):
    path = _write(tmp_path / "l.csv", text)
    with pytest.raises(UsageError, match=str(path)) as caught:
        read_labels(path)
    assert error in str(caught.value) and "\n" not in str(caught.value)


def test_matching_takes_the_most_specific_unambiguous_rule():
    images = ["/d/cat/1.png", "/d/dog/1.png", "/d/cat/2.png", "/d/Cat/3.png", "/d/x/caf\u00e9.png"]
    labels = {"cat/1.png": "cat", "1.png": "dog?", "DOG\\1.PNG": "dog", "2.png": "cat", "cat/3.png": "cat",
              "x/cafe\u0301.png": "nfd"}  # the last written in NFD, as macOS file names are
    matched = match_labels(images, labels)
    assert matched == {"/d/cat/1.png": "cat", "/d/dog/1.png": "dog", "/d/cat/2.png": "cat",
                       "/d/Cat/3.png": "cat", "/d/x/caf\u00e9.png": "nfd"}
    # the bare name fits two images equally: it names neither, and is said to name both (not "no image")
    assert (matched.unused, matched.ambiguous) == ([], {"1.png": ["/d/cat/1.png", "/d/dog/1.png"]})


def test_an_image_given_two_labels_is_left_out_and_said(finished_run, class_folders, tmp_path):
    """A break-it helper's file gave one image a second row with another label: the last row had won, silently."""
    rows = _rows(class_folders)
    text = "image,label\n" + "".join(f"{p},{c}\n" for p, c in rows) + f"{rows[0][0]},green\n"
    scores = evaluate_run(finished_run, str(_write(tmp_path / "labels.csv", text)))
    assert (scores.n, scores.images) == (19, 20)
    assert scores.warning.endswith(f"1 name(s) given two labels and left out, e.g. {rows[0][0]!r}")



def test_a_class_spelt_in_two_cases_is_one_class_and_a_workbook_is_named(finished_run, class_folders, tmp_path):
    """A second break-it helper's: "Red" and "red" were scored as two classes (6 for 3), silently; an .xlsx was
    refused by quoting its first bytes as the header."""
    rows = _rows(class_folders)
    text = "image,label\n" + "".join(f"{p},{c.capitalize() if i % 2 else c}\n" for i, (p, c) in enumerate(rows))
    scores = evaluate_run(finished_run, str(_write(tmp_path / "labels.csv", text)))
    assert (scores.acc, len(scores.classes)) == (1.0, 3)
    # which spelling stands is said ("(red)" alone read as the class kept), and so are rows for no image
    first = {c: (c.capitalize() if i % 2 else c) for i, (_, c) in reversed(list(enumerate(rows)))}
    other = {c: (c if first[c] != c else c.capitalize()) for c in first}
    assert f"labels differing only in case read as one ({', '.join(sorted(f'{other[c]} as {first[c]}' for c in first))})" in scores.warning
    text += "elsewhere/zebra.png,red\n"
    scores = evaluate_run(finished_run, str(_write(tmp_path / "labels.csv", text)))
    assert scores.warning.endswith("1 row(s) of the labels file name no image of the run, e.g. 'elsewhere/zebra.png'")
    book = tmp_path / "labels.xlsx"
    book.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(UsageError, match="is a spreadsheet workbook .* save it as CSV"):
        read_labels(book)


def test_a_bare_name_of_several_images_is_said_with_their_folders(finished_run, class_folders, tmp_path, capsys):
    """k2_samename: 'IMG_0001.png' naming three cameras' images matched nothing, silently (scored 2 of 9)."""
    labels = _write(tmp_path / "labels.csv", "image,label\nunique_a.png,red\n0002.png,red\n0003.png,green\n")
    scores = evaluate_run(finished_run, str(labels))
    assert (scores.n, scores.images) == (1, 20)
    # the six images 0002.png and 0003.png name are named, ambiguously: they had been counted "not named"
    assert scores.warning == ("scored 1 of 20 images (13 not named in the labels file, 6 named ambiguously); 2 row(s) "
                              "name several images each, e.g. '0002.png' names 3 images (blue/, green/, red/): give paths")
    assert sorted(Path(image).name for image in scores.ambiguous) == ["0002.png"] * 3 + ["0003.png"] * 3
    assert main(["eval", str(finished_run), str(labels)]) == 0
    out = capsys.readouterr().out
    assert "(13 not named in the labels file, 6 named ambiguously)" in out
    assert f"  {class_folders / 'blue' / '0002.png'}: named ambiguously: its row names several images" in out
    only = _write(tmp_path / "only.csv", "image,label\n0001.png,red\n")  # nothing else: refused, and said why
    with pytest.raises(UsageError, match=r"names none of the 20 clustered images of the run \('0001.png' names 3 "
                                         r"images \(blue/, green/, red/\): give paths\)$"):
        evaluate_run(finished_run, str(only))


def test_several_images_named_by_relative_paths_are_said_not_a_crash():
    """`ictc run .` gives paths relative to the working folder ('red_0.png', 'copy/red_0.png'): they share no
    folder in their text, and saying the ambiguous row had stopped the run with "internal error: ValueError"."""
    assert several_said("red_0.png", ["red_0.png", "copy/red_0.png"]) == \
        "'red_0.png' names 2 images (red_0.png, copy/red_0.png)"
    assert several_said("red_0.png", ["./red_0.png", "./copy/red_0.png"]) == \
        "'red_0.png' names 2 images (red_0.png, copy/red_0.png)"
    assert several_said("x.png", ["../a/x.png", "b/x.png"]) == "'x.png' names 2 images (../a/, b/)"
    assert several_said("x.png", ["/abs/a/x.png", "b/x.png"]) == "'x.png' names 2 images (/abs/a/, b/)"


def test_a_file_listing_other_extensions_or_label_studio_uploads_matches_by_name(finished_run, class_folders, tmp_path):
    """k2_labels: a CSV of red/0001.jpg for a run of red/0001.png, and Label Studio's
    '/data/upload/1/0000000a-unique_a.png' names, had scored nothing."""
    rows = _rows(class_folders)
    labels = _write(tmp_path / "jpg.csv", "image,label\n" + "".join(f"{p[:-4]}.jpg,{c}\n" for p, c in rows))
    scores = evaluate_run(finished_run, str(labels))
    assert (scores.n, scores.images) == (20, 20)
    assert scores.warning == ("20 row(s) matched by file name alone (its extension or Label Studio's upload prefix "
                              "set aside), e.g. 'blue/0001.jpg'")
    images = ["/d/red_0.png", "/d/x.png", "/d/x.webp", "/d/up/a.png"]
    matched = match_labels(images, {"red_0.jpg": "red", "x.jpg": "?", "/data/upload/3/0000000a-a.png": "up",
                                    "/data/upload/3/zebra.png": "z"})
    assert matched == {"/d/red_0.png": "red", "/d/up/a.png": "up"}  # x.jpg is x.png or x.webp: neither
    assert (matched.by_stem, matched.unused) == (["red_0.jpg", "/data/upload/3/0000000a-a.png"], ["/data/upload/3/zebra.png"])
    assert matched.ambiguous == {"x.jpg": ["/d/x.png", "/d/x.webp"]}  # said, not dropped
    assert several_said("x.jpg", matched.ambiguous["x.jpg"]) == "'x.jpg' names 2 images (x.png, x.webp)"


def test_a_file_naming_none_of_the_images_shows_one_of_its_names_beside_one_of_the_run(class_folders, tmp_path, capsys):
    labels = _write(tmp_path / "truth.csv", "image,label\nelsewhere/zebra.jpg,cat\n")
    code = main(["run", str(class_folders), "-c", "colour", "-k", "3", "--labels", str(labels),
                 "--out", str(tmp_path / "run")])
    assert code == 1 and capsys.readouterr().err.strip() == (
        f"ictc: error: labels file {labels} names none of the 20 images "
        "(e.g. 'elsewhere/zebra.jpg' in the file, 'blue/0001.png' in the run)")


def test_label_studio_s_csv_export_is_read_and_matched(finished_run, class_folders, tmp_path):
    """k2_labels label_studio_prefix: Label Studio names the label column after its Choices control ('choice')."""
    labels = _write(tmp_path / "ls.csv", "image,id,choice,annotator,annotation_id\n"
                    "/data/upload/1/00000007-unique_a.png,7,red,1,7\n/data/upload/1/0000000a-unique_b.png,8,blue,1,8\n")
    assert read_labels(labels) == {"/data/upload/1/00000007-unique_a.png": "red",
                                   "/data/upload/1/0000000a-unique_b.png": "blue"}
    scores = evaluate_run(finished_run, str(labels))
    assert (scores.n, scores.acc) == (2, 1.0)


def test_roboflow_s_one_hot_classification_csv_is_read(finished_run, class_folders, tmp_path):
    """Roboflow exports classification labels one-hot (`filename, blue, green, red` with 0/1 cells): it was refused
    for want of a label column. A row marking no class or several is left out and said."""
    rows = _rows(class_folders)
    classes = sorted(CLASSES)
    marks = {p: [int(c == k) for k in classes] for p, c in rows}
    marks[rows[0][0]] = [0, 0, 0]  # no class marked
    marks[rows[1][0]] = [1, 0, 1]  # two
    text = "filename, " + ", ".join(classes) + "\n" + "".join(
        f"{p}, {', '.join(map(str, m))}\n" for p, m in marks.items())
    labels = _write(tmp_path / "_classes.csv", text)
    assert read_labels(labels)["red/0001.png"] == "red" and read_labels(labels).unmarked == [rows[0][0], rows[1][0]]
    scores = evaluate_run(finished_run, str(labels))
    assert (scores.acc, scores.n, scores.images) == (1.0, 18, 20)
    assert scores.warning.endswith(f"2 row(s) mark no class or several with 1 and were left out, e.g. {rows[0][0]!r}")
    none = _write(tmp_path / "none.csv", "filename,cat,dog\na.png,0,0\nb.png,1,1\n")
    with pytest.raises(UsageError, match=f"labels file {none} marks no row with exactly one class "
                                         r"\(e.g. 'a.png': each row needs one 1 among its class columns\)$"):
        read_labels(none)
    words = _write(tmp_path / "words.csv", "filename,colour,shade\na.png,red,dark\n")  # not one-hot: refused as before
    with pytest.raises(UsageError, match="needs a header row with an image column"):
        read_labels(words)


def test_a_header_with_an_image_column_and_one_other_takes_that_one_and_says_so(finished_run, class_folders, tmp_path,
                                                                                 capsys):
    rows = _rows(class_folders)  # a newcomer's 'filename,colour': the run had failed at its start
    labels = _write(tmp_path / "labels.csv", "filename,colour\n" + "".join(f"{p},{c}\n" for p, c in rows))
    assert read_labels(labels).label_column == "colour" and read_labels(labels)[rows[0][0]] == rows[0][1]
    assert main(["eval", str(finished_run), str(labels)]) == 0
    out = capsys.readouterr().out  # a note, not a warning: the file was read as meant
    assert "Note: labels read from the column 'colour' (the one beside the image column)" in out and "Warning" not in out
    for text in ("id,filename\n1,a.png\n", "filename,colour,size\na.png,red,3\n"):  # no single label column: refused
        with pytest.raises(UsageError, match="needs a header row"):
            read_labels(_write(tmp_path / "l.csv", text))


def test_a_file_name_with_spaces_around_it_matches_its_trimmed_cell():
    """A sixth break-it round's k16: ' blue lead.png' in the folder, its labels cell read trimmed ('blue lead.png'):
    scored 9 of 10, the one image said not named in the labels file."""
    from ictc.evaluation.labels import match_labels

    images = ["/data/shapes/ blue lead.png", "/data/shapes/red.png"]
    matched = match_labels(images, {"blue lead.png": "blue", "red.png": "red"})
    assert dict(matched) == {"/data/shapes/ blue lead.png": "blue", "/data/shapes/red.png": "red"}
    assert matched.unused == []


def test_rows_with_an_empty_label_cell_are_said_as_such(finished_run, class_folders, tmp_path):
    """A sixth break-it round's k18h: three rows with an empty label cell were said only as images "not named in
    the labels file"."""
    rows = _rows(class_folders)
    text = "image,label\n" + "".join(f"{p},{'' if i < 3 else c}\n" for i, (p, c) in enumerate(rows))
    scores = evaluate_run(finished_run, str(_write(tmp_path / "labels.csv", text, "utf-8")))
    assert (scores.n, scores.images) == (17, 20)
    assert f"3 row(s) leave the label cell empty and were left out, e.g. {rows[0][0]!r}" in scores.warning
