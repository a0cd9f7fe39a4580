"""Where training runs: CPU or CUDA, one process or data-parallel under ``torchrun``, mixed precision on GPUs.

``torchrun --nproc_per_node N -m training train …`` sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``;
:func:`start_runtime` then joins the process group (``nccl`` on GPUs, ``gloo`` on CPUs) and each
process takes one slice of every global batch. Config keys (``train:``): ``device``
(``auto`` | ``cpu`` | ``cuda``; auto picks CUDA when present), ``amp`` (``auto`` | ``bf16`` | ``fp16``
| ``off``; auto is bf16 where the GPU supports it, else fp16 with a gradient scaler; never on CPU).
"""
from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from engine.errors import EngineError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Runtime:
    """This process's place in the run: ``rank`` of ``world`` processes, its device and autocast dtype (None: full precision)."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    amp_dtype: torch.dtype | None

    @property
    def main(self) -> bool:
        """True in the process that logs, validates and writes checkpoints."""
        return self.rank == 0


def start_runtime(settings: dict) -> Runtime:
    """Pick the device and precision from ``settings`` (the config's ``train`` section); join DDP under torchrun."""
    want = str(settings.get("device", "auto"))
    if want not in ("auto", "cpu", "cuda"):
        raise EngineError(f"train.device is {want!r}", hint="use auto, cpu or cuda")
    if want == "cuda" and not torch.cuda.is_available():
        raise EngineError("train.device is cuda but this machine has no usable CUDA device",
                          hint="set train.device to auto or cpu")
    cuda = want != "cpu" and torch.cuda.is_available()
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    amp = str(settings.get("amp", "auto"))
    if amp not in ("auto", "bf16", "fp16", "off"):
        raise EngineError(f"train.amp is {amp!r}", hint="use auto, bf16, fp16 or off")
    dtype = None
    if cuda and amp != "off":
        bf16 = amp == "bf16" or (amp == "auto" and torch.cuda.is_bf16_supported())
        dtype = torch.bfloat16 if bf16 else torch.float16
    runtime = Runtime(rank, world, local_rank, device, dtype)
    if runtime.main:
        log.info("training on %s, %d process(es), precision %s", device, world, dtype or "float32")
    return runtime


def autocast(runtime: Runtime):
    """Mixed-precision context for the forward pass (a no-op in full precision)."""
    if runtime.amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=runtime.device.type, dtype=runtime.amp_dtype)


def grad_scaler(runtime: Runtime):
    """A gradient scaler, enabled only for float16 autocast (bfloat16 needs none)."""
    return torch.amp.GradScaler(runtime.device.type, enabled=runtime.amp_dtype == torch.float16)


def wrap(module, runtime: Runtime):
    """``module`` under DistributedDataParallel when there are several processes, else itself.

    ``find_unused_parameters`` is on: image-only runs leave the text encoder out of the graph.
    """
    if runtime.world == 1:
        return module
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, device_ids=[runtime.local_rank] if runtime.device.type == "cuda" else None,
                                   find_unused_parameters=True)


def mean_over_processes(value: float, runtime: Runtime) -> float:
    """The mean of ``value`` over all processes (``value`` itself with one)."""
    if runtime.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=runtime.device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / runtime.world


def share_from_main(value, runtime: Runtime):
    """The first process's ``value`` (any picklable object), in every process."""
    if runtime.world == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier(runtime: Runtime) -> None:
    """Wait for every process (no-op with one)."""
    if runtime.world > 1:
        dist.barrier()


def stop_runtime(runtime: Runtime) -> None:
    """Leave the process group."""
    if runtime.world > 1 and dist.is_initialized():
        dist.destroy_process_group()
