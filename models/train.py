"""Fine-tune the issue detector (``gridsight train``).

Starts from the fine-tunable COCO checkpoint (``weights/coco-yolo11n-rebuilt.pt``). Ultralytics
copies the COCO classification rows by class *name* into the new head (``DetectionModel.load``
-> ``_remap_cls_by_names``), so person/car/... start from what the COCO model knew instead of a
random layer. Checkpoints are saved every epoch (``RUN/weights/last.pt``, ``best.pt``) and a
stopped run continues with ``--resume``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from gridsight.errors import UserError

log = logging.getLogger("gridsight.train")


def cpu_threads() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def use_all_cores(_owner=None) -> None:
    """Ultralytics callback: give torch every core again.

    ``select_device`` sets torch to ``os.cpu_count() - 1`` threads for CPU work (ultralytics keeps one
    core for its dataloader workers), which on a 2-core machine is one thread; GridSight trains and
    evaluates with ``workers=0`` (loading happens between steps, in the same thread), so the spare
    core would sit idle. Registered on ``on_pretrain_routine_start`` and ``on_val_start``, which run
    right after ``select_device``."""
    import torch

    torch.set_num_threads(cpu_threads())


@dataclass
class Recipe:
    data: Path
    base: Path
    run_dir: Path  # RUN: weights/ and results.csv go here
    epochs: int = 12
    imgsz: int = 416
    batch: int = 16
    freeze: int = 0  # first N layers frozen (10 = the whole YOLO11n backbone)
    close_mosaic: int = 0  # last N epochs without mosaic; >= epochs means never mosaic
    lr0: float = 0.01  # used with optimizer SGD/AdamW; "auto" picks its own (AdamW, lr 0.0005 for 16 classes)
    optimizer: str = "auto"
    warmup_epochs: float = 3.0  # 0 when training on from a trained model (no bias-LR spike)
    patience: int = 100
    device: str = "cpu"
    seed: int = 0
    val: bool = True
    fraction: float = 1.0
    save_period: int = -1  # > 0: also keep RUN/weights/epochN.pt every N epochs (for ship-weights averaging)


def last_checkpoint(run_dir: Path) -> Path:
    return Path(run_dir) / "weights" / "last.pt"


def replan(checkpoint: Path, epochs: int | None, data: Path | None = None) -> None:
    """Check that a stopped run can be resumed and, when ``epochs`` is given, change its planned
    epoch count (its LR schedule follows); ``data``: train on from here with this dataset yaml
    (e.g. other ``--repeat`` counts)."""
    import torch

    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if ckpt.get("optimizer") is None:  # ultralytics strips the last checkpoint of a finished run
        run_dir = checkpoint.parent.parent
        raise UserError(f"{run_dir} holds a finished run: nothing to resume; train on from its best weights "
                        f"with --base {run_dir / 'weights' / 'best.pt'} --run-dir NEW_DIR")
    done = int(ckpt.get("epoch", -1)) + 1
    if epochs and epochs <= done:
        raise UserError(f"{checkpoint} has finished {done} epochs; plan more than that")
    if epochs or data:
        if epochs:
            ckpt["train_args"]["epochs"] = epochs
        if data:
            ckpt["train_args"]["data"] = str(Path(data).resolve())
        tmp = checkpoint.with_name(checkpoint.name + ".partial")
        torch.save(ckpt, tmp)
        tmp.replace(checkpoint)  # the old checkpoint stays until the new one is complete


def train(recipe: Recipe, resume: bool = False, callbacks: dict | None = None, resume_epochs: int | None = None,
          resume_data: Path | None = None):
    """Run (or resume) a training run; returns the ultralytics trainer's metrics object.

    ``callbacks``: ultralytics event name -> function(trainer), e.g. ``on_fit_epoch_end``.
    ``resume_epochs``: on resume, the new total number of epochs (e.g. fewer, when the machine is
    slower than planned); the learning-rate schedule is recomputed for it. ``resume_data``: on
    resume, the dataset yaml for the remaining epochs.
    """
    from ultralytics import YOLO

    def with_callbacks(model):
        if recipe.device == "cpu":
            model.add_callback("on_pretrain_routine_start", use_all_cores)
        for event, fn in (callbacks or {}).items():
            model.add_callback(event, fn)
        return model

    run_dir = Path(recipe.run_dir).expanduser().resolve()
    if resume:
        last = last_checkpoint(run_dir)
        if not last.is_file():
            raise UserError(f"nothing to resume: {last} does not exist")
        replan(last, resume_epochs, resume_data)  # refuses a finished run; re-plans when asked
        log.info("resuming %s", last)
        return with_callbacks(YOLO(str(last))).train(resume=True)
    if not Path(recipe.data).is_file():
        raise UserError(f"dataset yaml not found: {recipe.data} (run `gridsight dataset prepare` first)")
    if not Path(recipe.base).exists():
        raise UserError(f"base weights not found: {recipe.base}")
    if last_checkpoint(run_dir).exists():
        raise UserError(f"{run_dir} already holds a run; use --resume or another --run-dir")
    model = with_callbacks(YOLO(str(recipe.base)))
    return model.train(
        data=str(Path(recipe.data).resolve()), epochs=recipe.epochs, imgsz=recipe.imgsz, batch=recipe.batch,
        freeze=recipe.freeze or None, close_mosaic=recipe.close_mosaic, lr0=recipe.lr0, patience=recipe.patience,
        optimizer=recipe.optimizer, warmup_epochs=recipe.warmup_epochs,
        device=recipe.device, seed=recipe.seed, deterministic=True, val=recipe.val,
        workers=0 if recipe.device == "cpu" else min(8, cpu_threads()),  # GPU: loaders keep it fed
        fraction=recipe.fraction, save_period=recipe.save_period, project=str(run_dir.parent), name=run_dir.name,
        exist_ok=True, plots=False,
        amp=recipe.device != "cpu", verbose=True,
    )


def _parse_layers(spec: str) -> set[int]:
    """``"0-10"`` / ``"0-4,9,11-22"`` -> layer indices (the N of ``model.N.*``)."""
    out: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        lo, sep, hi = part.partition("-")
        if not lo.strip().isdigit() or (sep and not hi.strip().isdigit()) or (sep and int(hi) < int(lo)):
            raise UserError(f"--layers {spec!r}: expected layer numbers and ranges, e.g. 0-10 or 0-4,9")
        out.update(range(int(lo), int(hi if sep else lo) + 1))
    return out


def ship(checkpoint: Path | list[Path], dest: Path, blend: Path | None = None, alpha: float = 1.0,
         layers: str | None = None) -> Path:
    """Copy a checkpoint without optimizer state (a small inference file) to ``dest``.

    ``checkpoint``: one checkpoint, or several of the same run (e.g. its last epochs' ``epochN.pt``),
    whose weights are averaged parameter by parameter (a uniform "model soup": steadier than any
    one epoch when per-epoch scores swing).
    ``blend``: weights to interpolate with, parameter by parameter: ``alpha * checkpoint + (1 - alpha)
    * blend`` (weight-space interpolation: part of the fine-tune's gain, less of its forgetting).
    ``layers``: only these layers (``model.N``; e.g. ``"0-10"`` or ``"0-4,9"``) are interpolated,
    the rest is the checkpoint's. Then ``blend`` may be a model with other classes (e.g. the COCO
    model a run started from: its backbone and neck have the same shapes), as long as the layers
    named match in shape; without ``layers`` it must be the same architecture with the same classes."""
    import torch
    from ultralytics.utils.torch_utils import strip_optimizer

    checkpoints = [Path(c) for c in (checkpoint if isinstance(checkpoint, (list, tuple)) else [checkpoint])]
    dest = Path(dest)
    for c in checkpoints:
        if not c.is_file():
            raise UserError(f"checkpoint not found: {c}")
    if blend is not None and not Path(blend).is_file():
        raise UserError(f"--blend weights not found: {blend}")
    if not 0.0 < alpha <= 1.0:
        raise UserError(f"--alpha {alpha}: expected a number in (0, 1]")
    chosen = _parse_layers(layers) if layers else None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    if not strip_optimizer(str(checkpoints[-1]), s=str(tmp)):
        raise UserError(f"{checkpoints[-1]} is not an ultralytics checkpoint")
    if len(checkpoints) == 1 and blend is None:
        tmp.replace(dest)
        return dest
    ckpt = torch.load(tmp, map_location="cpu", weights_only=False)
    model = ckpt["model"].float()
    mine = model.state_dict()
    head = len(model.model) - 1  # the Detect layer: its class rows only mean the same with the same names

    def layer(key: str) -> int:
        return int(key.split(".")[1])

    def weights_of(path: Path, what: str, keys) -> dict:
        try:
            other = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # not a torch file at all (pickle, zip or EOF errors)
            raise UserError(f"{what} {path}: not an ultralytics checkpoint ({exc})") from None
        net = (other.get("ema") or other.get("model")) if isinstance(other, dict) else None
        if net is None or not hasattr(net, "state_dict"):
            raise UserError(f"{what} {path}: not an ultralytics checkpoint")
        sd = net.float().state_dict()
        same_names = getattr(net, "names", None) == ckpt["model"].names or all(layer(k) != head for k in keys)
        if not keys or any(k not in sd or sd[k].shape != mine[k].shape for k in keys) or not same_names:
            scope = f"in layers {layers}" if layers and what == "--blend" else "and classes"
            raise UserError(f"{what} {path}: not the same architecture {scope} as {checkpoints[-1]}")
        return sd

    try:
        soup = [weights_of(c, "checkpoint", list(mine)) for c in checkpoints[:-1]] + [mine]
        mixed = {k: sum(sd[k] for sd in soup) / len(soup) if v.dtype.is_floating_point else v for k, v in mine.items()}
        if blend is not None:
            keys = [k for k, v in mine.items() if v.dtype.is_floating_point and (chosen is None or layer(k) in chosen)]
            if not keys:
                raise UserError(f"--layers {layers}: {checkpoints[-1]} has layers 0-{head}")
            base = weights_of(Path(blend), "--blend", keys)
            mixed |= {k: alpha * mixed[k] + (1 - alpha) * base[k] for k in keys}
    except UserError:
        tmp.unlink()
        raise
    model.load_state_dict(mixed)
    ckpt["model"] = model.half()
    extra = {"averaged": [str(c) for c in checkpoints]} if len(checkpoints) > 1 else {}
    if blend is not None:
        extra |= {"blend": str(blend), "blend_alpha": alpha} | ({"blend_layers": layers} if layers else {})
    ckpt["train_args"] = {**(ckpt.get("train_args") or {}), **extra}
    torch.save(ckpt, tmp)
    tmp.replace(dest)  # the previous file stays until the new one is complete
    return dest

