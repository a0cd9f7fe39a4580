"""What a pack says about its training data: the config's description, else one made from the manifest's summary.

The summary (``<manifest>.summary.json``, written by ``python -m training manifest``) names the
dataset, its size, the split, the label mapping and the uncertainty policy; the model card shows
the description, and the pack manifest's ``training_data`` keeps the facts.
"""
from __future__ import annotations

from engine.reports.labels import LABEL_NAMES
from training.runs import read_json


def describe_data(config: dict, counts: dict, image_only: bool, with_report: int) -> dict:
    """The pack's ``training_data``: the config's, else one made from the manifest's summary (dataset, size, mapping)."""
    from training.manifest.common import summary_path
    from training.train import manifest_path

    data = dict(config.get("training_data") or {})
    summary_file = summary_path(manifest_path(config))
    summary = read_json(summary_file) if summary_file.is_file() else {}
    if "description" not in data:
        name = summary.get("dataset", manifest_path(config).name)
        mapped = {label: m["sources"] + [f"{s} (negative only)" for s in m["negative_only"]]
                  for label, m in summary.get("label_mapping", {}).items()}
        missing = [label for label in LABEL_NAMES if label not in mapped] if mapped else []
        data["description"] = (
            f"{name}: {sum(counts.values())} frontal images ({', '.join(f'{k} {v}' for k, v in counts.items())})"
            + (f" of {summary['patients']} patients, split by {summary['split_by']}" if summary else "")
            + f"; {with_report} training images with a report. Label mapping (pack label <- dataset labels): "
            + ("; ".join(f"{label} <- {', '.join(src)}" for label, src in mapped.items()) or "as in the manifest")
            + (f"; not in the dataset (missing, not negative): {', '.join(missing)}" if missing else "")
            + (f"; uncertain labels: {summary['uncertain']}" if summary else "") + ".")
        if summary:
            data.update(dataset=name, images=summary["images"], patients=summary["patients"],
                        label_mapping=mapped, uncertain=summary["uncertain"])
    data.setdefault("pretrained", ", ".join(f"{k}: {v}" for k, v in (config.get("pretrained") or {}).items() if v)
                    or "none (random initialisation)")
    if image_only:
        data["image_only"] = True
        data["description"] = data["description"].rstrip() + (
            " Image-only: the data had no reports, so the text encoder and the image+text fusion were not "
            "trained; give this pack images without report text.")
    return data
