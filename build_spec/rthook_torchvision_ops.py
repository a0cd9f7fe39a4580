"""PyInstaller runtime hook: let torchvision's Python code import without its compiled operators.

The CPU build bundles torchvision 0.28.0 without ``_C.so`` (PyPI's is linked against CUDA torch).
On import, ``torchvision/_meta_registrations.py`` registers fake kernels for ``torchvision::nms``
and ``torchvision::qnms``, which fails unless the operators exist. Just before torchvision is first
imported (timm and transformers import it), this hook declares their schemas (as in torchvision's
``csrc/ops/nms.cpp``) with no kernel, so the import succeeds; calling either operator raises
torch's "could not run" error. CXR Lens calls no torchvision operator (the smoke test's ``pack
verify`` runs the pack's selftest through the frozen app). Commands that never import torch
(``--version``, ``info``, ``label``, the viewer's first image) do not pay for importing it here.
"""
import sys


class _DeclareTorchvisionOperators:
    """A ``sys.meta_path`` entry that declares the schemas when ``torchvision`` is first looked up."""

    library = None  # the torch.library.Library; the schemas live as long as it does

    def find_spec(self, name, path=None, target=None):
        if name == "torchvision":
            sys.meta_path.remove(self)
            import torch

            type(self).library = torch.library.Library("torchvision", "DEF")
            for operator in ("nms", "qnms"):
                self.library.define(f"{operator}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        return None  # the bundle's own importer finds the module


sys.meta_path.insert(0, _DeclareTorchvisionOperators())
