"""The estimator keeps scikit-learn's contract (parameters, clone, fit, labels_ as an array) and has one
verb per edit, as BERTopic does."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from ictc.api import ICTC
from ictc.core.errors import UsageError

from fakes import fake_context


def _truth(paths):
    return [p.rsplit("/", 1)[1].split("_")[0].capitalize() for p in paths]


def test_parameters_are_explicit_and_clone_works():
    model = ICTC(criterion="colour", n_clusters=3, backend="openai", concurrency=4)
    params = model.get_params()
    assert params["criterion"] == "colour" and params["n_clusters"] == 3 and params["concurrency"] == 4
    assert "settings" not in params  # no **kwargs bag
    with pytest.raises(TypeError):
        ICTC(criterion="colour", no_such_setting=1)  # type: ignore[call-arg]
    twin = clone(model.set_params(n_clusters=5))
    assert twin is not model and twin.get_params() == model.get_params() and twin.n_clusters == 5


def test_clone_keeps_a_context_shared_not_copied():
    ctx = fake_context()
    assert clone(ICTC(criterion="colour", context=ctx)).context is ctx


def test_fit_on_paths_gives_an_integer_array_and_fit_predict(colour_images, tmp_path):
    paths, _ = colour_images
    model = ICTC(criterion="colour", n_clusters=3, out_dir=tmp_path / "run", context=fake_context())
    assert model.fit(paths) is model
    assert isinstance(model.labels_, np.ndarray) and model.labels_.dtype.kind == "i"
    assert sorted(model.cluster_names_) == ["Blue", "Green", "Red"] and model.n_clusters_ == 3
    assert [model.cluster_names_[i] for i in model.labels_] == _truth(paths)
    assert model.descriptions_[0].startswith("A plain square") and model.raw_labels_[0] == "red"
    assert model.image_paths_ == paths
    again = ICTC(criterion="colour", n_clusters=3, out_dir=tmp_path / "run2", context=fake_context())
    assert list(again.fit_predict(paths)) == list(model.labels_)


def test_fit_takes_pil_images_and_a_failed_image_is_minus_one(tmp_path):
    from PIL import Image

    images = [Image.new("RGB", (32, 32), colour) for colour in ((230, 20, 20), (20, 200, 20), (20, 20, 230))] * 2
    model = ICTC(criterion="colour", n_clusters=3, out_dir=tmp_path / "run", context=fake_context())
    model.fit(images)
    assert len(model.labels_) == 6 and set(model.labels_) == {0, 1, 2}
    assert all(path.startswith(str(tmp_path / "run" / "inputs")) for path in model.image_paths_)

    broken = tmp_path / "broken"
    broken.mkdir()
    for number, image in enumerate(images):
        image.save(broken / f"{number}.png")
    (broken / "9.png").write_bytes(b"not an image")
    model = ICTC(criterion="colour", n_clusters=3, out_dir=tmp_path / "run2", context=fake_context()).fit(broken)
    failed = [i for i, p in enumerate(model.image_paths_) if p.endswith("9.png")]
    assert model.labels_[failed[0]] == -1 and (model.labels_ >= 0).sum() == 6


def test_fit_does_not_read_a_dotenv_unless_asked(colour_images, tmp_path, monkeypatch):
    paths, _ = colour_images
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ICTC_IMAGE_MAX_SIDE", raising=False)
    (tmp_path / ".env").write_text("ICTC_IMAGE_MAX_SIDE=77\n")
    assert ICTC(criterion="colour")._settings().image_max_side == 512  # the default: .env ignored
    model = ICTC.from_env(tmp_path / ".env", criterion="colour")
    assert model._settings().image_max_side == 77
    with pytest.raises(UsageError, match="settings file not found"):
        ICTC.from_env(tmp_path / "missing.env")


def test_edit_verbs_make_versions_and_undo(colour_images, tmp_path):
    paths, labels = colour_images
    model = ICTC(criterion="colour", n_clusters=3, out_dir=tmp_path / "run", context=fake_context()).fit(paths)
    model.rename_cluster("Red", "Warm")
    assert "Warm" in model.cluster_names_ and model.version_ == 2 and model.changes_["renamed"] == {"Red": "Warm"}
    model.merge_clusters(model.cluster_names_.index("Warm"), "Green", into="Warm or green")
    assert model.n_clusters_ == 2 and "Warm or green" in model.cluster_names_
    model.undo()
    assert model.n_clusters_ == 3 and "Warm" in model.cluster_names_
    model.set_n_clusters(2)
    assert model.n_clusters_ == 2 and model.version_ == 5
    model.add_instruction("Name colours in lower case.", step="3")
    assert model.results_["criterion"]["instructions"] == {"assign": ["Name colours in lower case."]}
    hits = model.search("a blue square", n=2)
    assert len(hits) == 2 and all("blue" in h["description"] for h in hits)
    scores = model.evaluate(labels)
    assert scores["n"] == 8 and model.metrics_ == scores
    assert model.evaluate(_truth(paths))["n"] == 8
    with pytest.raises(UsageError, match="no cluster 7"):
        model.rename_cluster(7, "x")
    with pytest.raises(UsageError, match="unknown step"):
        model.add_instruction("x", step="5")
    model.remove_instructions("lower case")
    assert model.results_["criterion"]["instructions"] == {} and model.version_ == 7
    model.set_n_clusters(3).remove_cluster(2)  # by index, as the other verbs: its images go to the two left
    assert model.n_clusters_ == 2 and model.version_ == 9 and (model.labels_ >= 0).all()
    with pytest.raises(UsageError, match="no cluster is empty"):
        model.remove_cluster()


def test_an_unfitted_model_says_so():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ICTC(criterion="colour").rename_cluster("a", "b")


@pytest.mark.parametrize("bad", [2.7, True, "2.5", None])
def test_a_count_or_an_index_that_is_no_whole_number_is_refused_naming_it(colour_images, tmp_path, bad):
    """split_cluster(0, 2.7) had split into 2, set_n_clusters(True) asked for K=1, rename_cluster(True, ...) looked
    for a cluster named 'True': each is refused in one line naming the value, and nothing is changed."""
    paths, _ = colour_images
    model = ICTC(criterion="colour", n_clusters=3, out_dir=tmp_path / "run", context=fake_context()).fit(paths)
    for edit in (lambda: model.split_cluster(0, bad), lambda: model.set_n_clusters(bad), lambda: model.coarsen(bad)):
        with pytest.raises(UsageError, match=f"must be a whole number.*not {bad!r}$"):
            edit()
    if not isinstance(bad, str | None):
        with pytest.raises(UsageError, match=f"by its index .* or its name, not {bad!r}$"):
            model.rename_cluster(bad, "x")
    with pytest.raises(UsageError, match=f"K must be a whole number or 'auto', not {bad!r}$"):
        ICTC(criterion="colour", n_clusters=bad, out_dir=tmp_path / "other", context=fake_context()).fit(paths)
    assert model.version_ == 1 and model.set_n_clusters(2.0).version_ == 2  # 2.0 is a whole number
