"""Model packs: a folder of data (JSON manifest, safetensors, tokenizer.json), never code.

Layout (GUIDE §5)::

    manifest.json         schema_version, labels + thresholds, preprocessing, model, metrics, files…
    weights.safetensors   the FusionModel state dict
    selftest.safetensors  a stored input and the logits it must give
    tokenizer/tokenizer.json
    gate.safetensors      training-set statistics of the OOD features (engine.gate.ood_features)
    index/                similar-case index (optional; described by the ``index`` section)
    README.md             model card

:func:`load_pack` checks the schema, the size and sha256 of every listed file, builds the model and
runs the selftest; any failure raises :class:`PackError` saying what is wrong and what to do.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.checksums import sha256_file
from engine.errors import ModelError, PackError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
SELFTEST = "selftest.safetensors"
TOKENIZER = "tokenizer/tokenizer.json"
GATE_STATS = "gate.safetensors"
REQUIRED_FILES = (WEIGHTS, SELFTEST, TOKENIZER, GATE_STATS)
REQUIRED_KEYS = ("schema_version", "name", "version", "labels", "preprocessing", "model",
                 "calibration", "gate", "files")
SELFTEST_ATOL = 2e-3  # logits; float32 on any CPU agrees far better than this


@dataclass
class Pack:
    """A loaded, verified model pack.

    Attributes
    ----------
    path
        The pack folder.
    manifest
        The parsed manifest.json.
    model
        The FusionModel in eval mode (float32, CPU).
    tokenizer
        A ``tokenizers.Tokenizer`` set up for the model's text limit.
    gate_stats
        ``{"mean": (F,), "precision": (F, F)}`` float64 arrays for the OOD score.
    """

    path: Path
    manifest: dict
    model: object
    tokenizer: object
    gate_stats: dict

    @property
    def ood_features(self) -> str:
        """What the OOD score reads (one of ``engine.gate.KNOWN_OOD_FEATURES``); packs before 0.4.0
        name none and use the image embedding."""
        return self.manifest["gate"].get("ood", {}).get("features", "image_embedding")

    @property
    def label_names(self) -> tuple[str, ...]:
        """Label names in output order."""
        return tuple(entry["name"] for entry in self.manifest["labels"])


def file_table(pack_dir: str | Path) -> dict[str, dict]:
    """Return ``{relative path: {sha256, bytes}}`` for every file in the pack except the manifest."""
    root = Path(pack_dir)
    table = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel != MANIFEST:
            table[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return table


def read_manifest(pack_dir: str | Path) -> dict:
    """Read and schema-check manifest.json (no checksums, no model)."""
    root = Path(pack_dir)
    if not root.is_dir():
        raise PackError("model pack folder not found", path=root,
                        hint="give the folder that holds manifest.json (or rebuild with `python -m training all`)")
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise PackError("manifest.json is missing; this is not a model pack", path=root)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PackError(f"manifest.json is not valid JSON ({error})", path=manifest_path,
                        hint="the pack is damaged; restore or rebuild it") from error
    if not isinstance(manifest, dict):
        raise PackError("manifest.json is not a JSON object", path=manifest_path)
    version = manifest.get("schema_version")
    if not isinstance(version, int) or version < 1:
        raise PackError(f"manifest schema_version {version!r} is not a positive integer", path=manifest_path)
    if version > SCHEMA_VERSION:
        raise PackError(f"pack schema_version {version} is newer than this program reads ({SCHEMA_VERSION})",
                        path=manifest_path, hint="update CXR Lens to use this pack")
    missing = [key for key in REQUIRED_KEYS if key not in manifest]
    if missing:
        raise PackError(f"manifest.json lacks required sections {missing}", path=manifest_path,
                        hint="the pack is incomplete; rebuild it with `python -m training export`")
    return manifest


def verify_files(pack_dir: str | Path, manifest: dict) -> list[str]:
    """Check that every listed file exists with its size and sha256; return the checked paths."""
    root = Path(pack_dir)
    files = manifest["files"]
    for required in REQUIRED_FILES:
        if required not in files:
            raise PackError(f"manifest does not list the required file {required}", path=root / MANIFEST)
    for rel, entry in files.items():
        path = root / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise PackError(f"manifest lists a path outside the pack: {rel!r}", path=root / MANIFEST)
        if not path.is_file():
            raise PackError(f"file {rel} listed in the manifest is missing", path=root,
                            hint="the pack is incomplete; restore or rebuild it")
        size = path.stat().st_size
        if size != entry.get("bytes"):
            raise PackError(f"file {rel} has {size} bytes, the manifest says {entry.get('bytes')} "
                            "(truncated or replaced)", path=path, hint="restore or rebuild the pack")
        if sha256_file(path) != entry.get("sha256"):
            raise PackError(f"file {rel} does not match its sha256 in the manifest (modified)",
                            path=path, hint="the pack was altered; restore or rebuild it")
    return sorted(files)


def check_gate_stats(pack: Pack) -> None:
    """Raise PackError unless the gate statistics fit the OOD features the manifest names."""
    from engine.gate import ood_feature_width

    kind = pack.ood_features
    try:
        width = ood_feature_width(kind, pack.model)
    except ValueError:
        raise PackError(f"the pack's OOD gate reads {kind!r} features, which this program does not know",
                        path=pack.path / MANIFEST,
                        hint="update CXR Lens, or use a pack made for this version") from None
    if pack.gate_stats.get("mean") is None or pack.gate_stats["mean"].shape != (width,):
        raise PackError(f"{GATE_STATS} does not hold {width}-wide statistics for the {kind} OOD features",
                        path=pack.path / GATE_STATS, hint="rebuild the pack (python -m training export)")


def load_pack(pack_dir: str | Path, run_selftest: bool = True) -> Pack:
    """Load a model pack: schema, checksums, weights, tokenizer, gate statistics, selftest.

    Raises
    ------
    PackError
        When anything is missing, altered, of a newer schema, or the selftest fails.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from engine.model.fusion import FusionModel, ModelConfig, load_tokenizer

    root = Path(pack_dir)
    manifest = read_manifest(root)
    verify_files(root, manifest)
    try:
        config = ModelConfig.from_dict(manifest["model"])
        model = FusionModel(config)
        state = {k: v.float() for k, v in load_file(str(root / WEIGHTS)).items()}
        model.load_state_dict(state, strict=True)
        tokenizer = load_tokenizer(root / TOKENIZER, config.max_text_tokens)
        gate = {k: v.double().numpy() for k, v in load_file(str(root / GATE_STATS)).items()}
    except (ModelError, SafetensorError, RuntimeError, KeyError, TypeError) as error:
        raise PackError(f"the pack's model cannot be built: {error}", path=root,
                        hint="the weights do not match the manifest; rebuild the pack") from error
    model.eval()
    pack = Pack(root, manifest, model, tokenizer, gate)
    check_gate_stats(pack)
    if run_selftest:
        selftest(pack)
    return pack


def selftest(pack: Pack) -> float:
    """Run the stored selftest input; raise PackError if the logits differ; return the max error."""
    import torch
    from safetensors.torch import load_file

    data = load_file(str(pack.path / SELFTEST))
    worst = 0.0
    with torch.inference_mode():
        image = data["image"].float()
        for mode, kwargs in (("image", dict(image=image)),
                             ("joint", dict(image=image, input_ids=data["input_ids"],
                                            attention_mask=data["attention_mask"]))):
            logits = pack.model(**kwargs).logits
            error = float((logits - data[f"logits_{mode}"].float()).abs().max())
            worst = max(worst, error)
            if not np.isfinite(error) or error > SELFTEST_ATOL:
                raise PackError(f"selftest failed in {mode} mode: logits differ by {error:.3g} "
                                f"(tolerance {SELFTEST_ATOL})", path=pack.path / SELFTEST,
                                hint="the weights or this installation's torch/timm differ from the pack's")
    log.info("pack selftest passed (max logit difference %.2e)", worst)
    return worst


def make_selftest(model, tokenizer, size: int) -> dict:
    """Return the selftest tensors: a fixed synthetic image and text, and the model's logits on them."""
    import torch

    from engine.model.fusion import encode_texts

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rng = np.random.default_rng(20240601)
    image01 = 0.5 + 0.3 * np.sin(6.0 * xx) * np.cos(4.0 * yy) + 0.05 * rng.standard_normal((size, size))
    image = torch.from_numpy(((np.clip(image01, 0, 1) - 0.5) / 0.25).astype(np.float32))[None, None]
    ids, mask = encode_texts(tokenizer, ["Heart size is enlarged. Small left pleural effusion. No pneumothorax."])
    model.eval()
    with torch.inference_mode():
        logits_image = model(image=image).logits
        logits_joint = model(image=image, input_ids=ids, attention_mask=mask).logits
    return {"image": image, "input_ids": ids, "attention_mask": mask,
            "logits_image": logits_image, "logits_joint": logits_joint}


def write_manifest(pack_dir: str | Path, manifest: dict) -> Path:
    """Refresh the ``files`` table from the folder's contents and write manifest.json.

    Use this after adding files (e.g. ``index/``) and a manifest section that describes them.
    """
    root = Path(pack_dir)
    manifest = dict(manifest, files=file_table(root))
    path = root / MANIFEST
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def write_pack(pack_dir: str | Path, model, tokenizer_json: str | Path, manifest: dict,
               gate_stats: dict[str, np.ndarray], readme: str, weights_dtype: str = "float16") -> Path:
    """Write a complete pack folder and return its path.

    Parameters
    ----------
    pack_dir
        Output folder (created; existing pack files are overwritten).
    model
        A trained :class:`engine.model.fusion.FusionModel`. Its weights are stored as ``weights_dtype``
        and reloaded before the selftest is computed, so the selftest matches what loads.
    tokenizer_json
        Path of the tokenizer.json to copy into ``tokenizer/``.
    manifest
        Every section except ``schema_version``, ``model`` and ``files``, which are filled in here.
    gate_stats
        ``{"mean": (E,), "precision": (E, E)}`` of training image embeddings.
    readme
        Model card markdown.
    """
    import torch
    from safetensors.torch import save_file

    from engine.model.fusion import load_tokenizer

    root = Path(pack_dir)
    (root / "tokenizer").mkdir(parents=True, exist_ok=True)
    dtype = {"float16": torch.float16, "float32": torch.float32}[weights_dtype]
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(root / WEIGHTS), metadata={"format": "pt"})
    model.load_state_dict({k: v.float() for k, v in state.items()})
    model.eval()
    (root / TOKENIZER).write_bytes(Path(tokenizer_json).read_bytes())
    tokenizer = load_tokenizer(root / TOKENIZER, model.config.max_text_tokens)
    size = int(manifest["preprocessing"]["size"])
    save_file({k: v.contiguous() for k, v in make_selftest(model, tokenizer, size).items()}, str(root / SELFTEST))
    save_file({k: torch.as_tensor(np.asarray(v), dtype=torch.float32) for k, v in gate_stats.items()},
              str(root / GATE_STATS))
    (root / "README.md").write_text(readme, encoding="utf-8")
    full = {"schema_version": SCHEMA_VERSION, **manifest, "model": model.config.to_dict(),
            "weights_dtype": weights_dtype}
    full.setdefault("index", None)
    write_manifest(root, full)
    return root


def describe_pack(pack_dir: str | Path) -> dict:
    """Return a JSON-safe summary of a pack's manifest (no checksums, no model)."""
    manifest = read_manifest(pack_dir)
    total = sum(entry.get("bytes", 0) for entry in manifest["files"].values())
    return {
        "path": str(Path(pack_dir)), "name": manifest["name"], "version": manifest["version"],
        "schema_version": manifest["schema_version"], "created": manifest.get("created"),
        "intended_use": manifest.get("intended_use"), "image_encoder": manifest["model"].get("image_encoder"),
        "labels": [{k: e.get(k) for k in ("name", "threshold", "prevalence")} for e in manifest["labels"]],
        "preprocessing": manifest["preprocessing"], "metrics": manifest.get("metrics", {}),
        "index": manifest.get("index"), "files": len(manifest["files"]), "bytes": total,
    }
