"""Real labelled photos for the quality benchmark, all offline: the foolbox CIFAR-10 and ImageNet samples,
and a stratified Fashion-MNIST subset from Debian's dataset-fashion-mnist. Each set is a folder of
images with a labels.csv (image,label)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


@dataclass
class LabelledSet:
    """A labelled image set for the quality bench: its images, labels.csv, the criterion and K to run it with."""

    name: str
    paths: list[str]
    labels: Path  # labels.csv
    criterion: str
    k: int  # the number of classes present


def foolbox_sets(folder: Path) -> list[LabelledSet]:
    """The bundled CIFAR-10 and ImageNet sample photos (core/samples.py), exported under `folder`, as labelled sets."""
    from ictc.core.folders import list_images
    from ictc.core.samples import export_samples
    from ictc.evaluation.labels import read_labels

    sets = []
    for name, (path, _) in export_samples(folder).items():
        labels = path / "labels.csv"
        sets.append(LabelledSet(f"foolbox-{name}", list_images(path), labels, "object", len(set(read_labels(labels).values()))))
    return sets


def fashion_mnist(folder: Path, per_class: int = 50, seed: int = 0) -> LabelledSet:
    """`per_class` test-split photos of each of the 10 classes, chosen with a fixed seed, saved as PNG."""
    import numpy as np
    from PIL import Image

    images_file, labels_file = FASHION_DIR / "t10k-images-idx3-ubyte.gz", FASHION_DIR / "t10k-labels-idx1-ubyte.gz"
    if not images_file.is_file():
        raise ValueError(f"Fashion-MNIST not found at {FASHION_DIR}: "
                         "apt-get install -y --no-install-recommends dataset-fashion-mnist")
    with gzip.open(images_file) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(labels_file) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    rng = np.random.default_rng(seed)
    out = folder / f"fashion-mnist-{per_class}-{seed}"
    out.mkdir(parents=True, exist_ok=True)
    lines, paths = ["image,label"], []
    for class_id, name in enumerate(FASHION_CLASSES):
        chosen = rng.choice(np.flatnonzero(labels == class_id), size=per_class, replace=False)
        for index in sorted(chosen):
            path = out / f"{index:05d}.png"
            if not path.exists():
                Image.fromarray(images[index]).save(path)
            paths.append(str(path))
            lines.append(f"{path},{name}")
    (out / "labels.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return LabelledSet(f"fashion-mnist-{per_class}", paths, out / "labels.csv", "type of clothing", 10)
