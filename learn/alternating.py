"""Alternating optimisation of the camera against a recogniser and a detector (paper, eq. (1)).

    min_C  CE(D(C(x)), t)  -  alpha * H(R(C(x)))          (step 2: the camera C learns)
    min_R  CE(R(C(x)), identity),  min_D  CE(D(C(x)), t)   (step 1: R and D learn, C frozen)

``H`` is the Shannon entropy of R's softmax in nats; as in the authors' released code the
encoder loss is ``CE(D) + alpha * mean(sum p log p) / 100`` (alpha counts per 100 nats).

Defaults follow the authors' released code (references.md), kept as our defaults:

* each alternation ``a = 0, 1, ...`` runs the encoder step first and then R and D (so the first
  encoder step faces random R and D: no pretraining); ``order="networks_first"`` swaps them;
* the quantiser's hardness grows linearly, ``T = hardness_slope * (a + 1)`` with slope 5;
* thresholds start at k + 0.5 and stay sorted (``analog.FlashADC`` also keeps a minimum
  spacing, our addition); Conv(1) starts as a Gaussian (sigma 8 px), Conv(4) as four half-plane
  bars (``sensor.Camera`` does both);
* batch 32; the detector and the encoder see balanced batches (16 faces + 16 no-faces);
* R and D: Adam, lr 1e-2, weight decay 1e-4; R up to ``recogniser_epochs`` (100) with the lr
  divided by 10 after ``recogniser_patience`` (10) epochs without a better validation accuracy,
  stopping after another ``recogniser_patience`` epochs without one, best weights restored;
  D ``detector_epochs`` (10), best weights restored. The encoder: SGD, lr 1e-2, momentum 0.9,
  ``encoder_epochs`` (10). Optimisers are fresh at every step.

Our decisions (documented here, reported with the run):

* **What the networks see.** R and D are trained on the camera's *soft* output at the current
  hardness T (the authors' choice: the same relaxation the encoder step differentiates
  through, so R and D judge the codes the encoder is optimised against). As T grows the soft
  ADC approaches the hard one; ``network_input="hard"`` trains them on hard codes instead.
  The metrics log also scores both networks on *hard* codes of the validation data.
* **Encoding once per network step.** The camera is frozen during step 1, so the training
  images are encoded once per step (with the camera's noise, if any, sampled then).
* R learns the encoder identities only (``Splits.encoder_train``; ``encoder_val`` selects its
  best epoch); D learns encoder faces vs ``nonfaces_encoder`` (85 % train, 15 % validation).
  The evaluation identities are never touched here.
* Networks work on the code grid (see ``learn.networks``); ``upsample`` restores the authors'
  bilinear x8.
* Distributed: when ``torch.distributed`` is initialised (torchrun sets ``WORLD_SIZE``), every
  rank trains on its shard of the training images (``rank::world_size``, what a
  ``DistributedSampler`` without padding gives) and gradients are averaged across ranks before
  every optimiser step; validation data are not sharded, so every rank takes the same decisions.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import time
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from learn import datasets
from learn.networks import entropy, make_detector, make_recogniser

ORDERS = ("encoder_first", "networks_first")
NETWORK_INPUTS = ("soft", "hard")


@dataclasses.dataclass
class AlternatingSettings:
    """Hyper-parameters of the alternating optimisation (defaults: the authors' released code).

    Attributes
    ----------
    alpha : float
        Weight of the entropy term, per 100 nats (>= 0).
    alternations : int
        Number of alternations.
    order : {"encoder_first", "networks_first"}
        Which step opens each alternation.
    encoder_epochs, recogniser_epochs, detector_epochs : int
        Epochs per step (the recogniser's is a maximum).
    recogniser_patience : int
        Epochs without a better validation accuracy before the lr drops /10 (and, after the drop,
        before R stops).
    steps_per_epoch : int or None
        Cap on optimiser steps per epoch (quick profiles); None = whole epochs.
    batch_size : int
        Images per batch (even; half faces, half no-faces where balanced).
    network_lr, network_weight_decay : float
        Adam settings of R and D.
    encoder_lr, encoder_momentum : float
        SGD settings of the camera's parameters.
    hardness_slope : float
        Quantiser hardness of alternation a is ``hardness_slope * (a + 1)``.
    network_input : {"soft", "hard"}
        Which camera output R and D learn from (see the module docstring).
    recogniser_width, detector_width, upsample : int
        Network sizes (see ``learn.networks``).
    """

    alpha: float = 1.0
    alternations: int = 20
    order: str = "encoder_first"
    encoder_epochs: int = 10
    recogniser_epochs: int = 100
    recogniser_patience: int = 10
    detector_epochs: int = 10
    steps_per_epoch: Optional[int] = None
    batch_size: int = 32
    network_lr: float = 1e-2
    network_weight_decay: float = 1e-4
    encoder_lr: float = 1e-2
    encoder_momentum: float = 0.9
    hardness_slope: float = 5.0
    network_input: str = "soft"
    recogniser_width: int = 32
    detector_width: int = 16
    upsample: int = 1

    def __post_init__(self) -> None:
        def need(name: str, ok: bool, allowed: str) -> None:
            if not ok:
                raise ValueError(f"{name}: {getattr(self, name)!r} is not allowed; need {allowed}")

        def is_int(value) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        def is_num(value) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        need("alpha", is_num(self.alpha) and self.alpha >= 0, "a finite number >= 0")
        need("alternations", is_int(self.alternations) and self.alternations >= 1, "an integer >= 1")
        need("order", self.order in ORDERS, f"one of {ORDERS}")
        for name in ("encoder_epochs", "recogniser_epochs", "detector_epochs"):
            need(name, is_int(getattr(self, name)) and getattr(self, name) >= 0, "an integer >= 0")
        need("recogniser_patience", is_int(self.recogniser_patience) and self.recogniser_patience >= 1,
             "an integer >= 1")
        need("steps_per_epoch", self.steps_per_epoch is None or (
            is_int(self.steps_per_epoch) and self.steps_per_epoch >= 1), "None or an integer >= 1")
        need("batch_size", is_int(self.batch_size) and self.batch_size >= 2 and self.batch_size % 2 == 0,
             "an even integer >= 2")
        for name in ("network_lr", "encoder_lr", "hardness_slope"):
            need(name, is_num(getattr(self, name)) and getattr(self, name) > 0, "a finite number > 0")
        need("network_weight_decay", is_num(self.network_weight_decay) and self.network_weight_decay >= 0,
             "a finite number >= 0")
        need("encoder_momentum", is_num(self.encoder_momentum) and 0 <= self.encoder_momentum < 1,
             "a number in [0, 1)")
        need("network_input", self.network_input in NETWORK_INPUTS, f"one of {NETWORK_INPUTS}")
        for name in ("recogniser_width", "detector_width", "upsample"):
            need(name, is_int(getattr(self, name)) and getattr(self, name) >= 1, "an integer >= 1")

    def hardness(self, alternation: int) -> float:
        """Quantiser hardness T of ``alternation`` (0-based): ``hardness_slope * (a + 1)``."""
        return float(self.hardness_slope * (alternation + 1))


@dataclasses.dataclass
class TrainingData:
    """Linear-RGB tensors [N, 3, H, W] for one run (one rank's shard of the training parts).

    Attributes
    ----------
    faces, face_labels : torch.Tensor
        Encoder-identity training faces and their identity labels (int64 [N]).
    faces_val, face_labels_val : torch.Tensor
        Encoder-identity validation faces (model selection of R and D).
    nonfaces, nonfaces_val : torch.Tensor
        No-face images for training and validating D (and the encoder's detection term).
    num_identities : int
        Classes of R.
    """

    faces: torch.Tensor
    face_labels: torch.Tensor
    faces_val: torch.Tensor
    face_labels_val: torch.Tensor
    nonfaces: torch.Tensor
    nonfaces_val: torch.Tensor
    num_identities: int

    @classmethod
    def from_splits(cls, splits: "datasets.Splits", device="cpu", nonface_val_fraction: float = 0.15,
                    rank: int = 0, world_size: int = 1) -> "TrainingData":
        """The encoder parts of ``splits`` as tensors; training parts sharded by rank."""
        nonfaces = splits.nonfaces_encoder
        count_val = max(1, int(round(len(nonfaces) * nonface_val_fraction)))
        if len(nonfaces) - count_val < 1 or len(splits.encoder_train) < 1 or len(splits.encoder_val) < 1:
            raise ValueError(f"splits: the encoder parts are too small to train on (encoder_train "
                             f"{len(splits.encoder_train)}, encoder_val {len(splits.encoder_val)}, "
                             f"nonfaces_encoder {len(nonfaces)}); need >= 1 image each and >= 2 "
                             f"no-faces")
        face_shard = datasets.shard_indices(len(splits.encoder_train), rank, world_size)
        nonface_shard = datasets.shard_indices(len(nonfaces) - count_val, rank, world_size)
        train_nonfaces = nonfaces.images[count_val:][nonface_shard]
        return cls(
            faces=datasets.to_tensor(splits.encoder_train.images[face_shard], device),
            face_labels=torch.tensor(splits.encoder_train.labels[face_shard], device=device),
            faces_val=datasets.to_tensor(splits.encoder_val.images, device),
            face_labels_val=torch.tensor(splits.encoder_val.labels, device=device),
            nonfaces=datasets.to_tensor(train_nonfaces, device),
            nonfaces_val=datasets.to_tensor(nonfaces.images[:count_val], device),
            num_identities=splits.encoder_train.num_classes)


# --------------------------------------------------------------------------- distributed
def world() -> "tuple[int, int]":
    """(rank, world_size) of the initialised process group, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def average_gradients(parameters) -> None:
    """All-reduce and average the gradients of ``parameters`` across ranks (no-op on one rank)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    _, size = world()
    for parameter in parameters:
        if parameter.grad is not None:
            torch.distributed.all_reduce(parameter.grad)
            parameter.grad /= size


def broadcast_buffers(module: nn.Module) -> None:
    """Copy rank 0's buffers (BatchNorm running statistics) to every rank (no-op on one rank).

    What ``DistributedDataParallel(broadcast_buffers=True)`` does: parameters stay equal through
    averaged gradients, but running statistics come from each rank's own shard; without this the
    ranks would score validation differently and could take different decisions (best epoch,
    learning-rate drop, early stop).
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return
    for buffer in module.buffers():
        torch.distributed.broadcast(buffer, src=0)


# --------------------------------------------------------------------------- the trainer
def _check_state_matches(module: nn.Module, state: dict, name: str) -> None:
    """ValueError unless ``state`` has exactly ``module``'s entries with the same shapes."""
    own = module.state_dict()
    if not isinstance(state, dict) or set(state) != set(own):
        keys = set(state) if isinstance(state, dict) else set()
        raise ValueError(f"checkpoint: its {name} does not match this run's config (missing "
                         f"{sorted(set(own) - keys)[:5]}, unexpected {sorted(keys - set(own))[:5]})")
    for key, value in own.items():
        if not isinstance(state[key], torch.Tensor) or state[key].shape != value.shape:
            got = getattr(state[key], "shape", type(state[key]).__name__)
            raise ValueError(f"checkpoint: its {name} does not match this run's config ({key}: "
                             f"shape {tuple(got)} in the checkpoint, {tuple(value.shape)} here)")


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(dim=-1) == labels).float().mean()) if len(labels) else float("nan")


class AlternatingTrainer:
    """Runs alternations of eq. (1) on one camera; holds R, D and the data-order generator.

    Parameters
    ----------
    camera : sensor.Camera
        The camera to learn (its trainable parameters: PSF module and ADC thresholds).
    data : TrainingData
    settings : AlternatingSettings
    seed : int
        Seeds the networks' initialisation and the generator of batch order and camera noise.
    device : str or torch.device
    """

    def __init__(self, camera: nn.Module, data: TrainingData, settings: AlternatingSettings,
                 seed: int = 0, device="cpu"):
        self.camera = camera.to(device)
        self.data, self.settings, self.device = data, settings, torch.device(device)
        torch.manual_seed(seed)
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        with torch.no_grad():
            probe = self._encode(data.faces[:2], mode="hard", hardness=None)
        if probe.ndim != 4 or probe.shape[-1] != probe.shape[-2]:
            raise ValueError(f"camera: output shape {tuple(probe.shape)} is not allowed; need "
                             f"[N, C, S, S]")
        channels, size = int(probe.shape[1]), int(probe.shape[-1])
        self.recogniser = make_recogniser(channels, data.num_identities, size,
                                          width=settings.recogniser_width,
                                          upsample=settings.upsample).to(device)
        self.detector = make_detector(channels, size, width=settings.detector_width,
                                      upsample=settings.upsample).to(device)

    # ---------------------------------------------------------------- helpers
    def camera_parameters(self) -> list:
        """The camera's trainable parameters (PSF module and ADC thresholds)."""
        return [p for p in self.camera.parameters() if p.requires_grad]

    def _noise_generator(self) -> Optional[torch.Generator]:
        return self.generator if self.device.type == "cpu" else None

    def _encode(self, images: torch.Tensor, mode: str, hardness: Optional[float]) -> torch.Tensor:
        quantises = getattr(self.camera, "adc", None) is not None
        return self.camera(images, mode=mode, hardness=hardness if quantises else None,
                           generator=self._noise_generator())

    def _encode_all(self, images: torch.Tensor, mode: str, hardness: Optional[float],
                    chunk: int = 512) -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([self._encode(images[i:i + chunk], mode, hardness)
                              for i in range(0, len(images), chunk)])

    def _network_input_mode(self) -> str:
        return self.settings.network_input

    def _limit(self, batches):
        cap = self.settings.steps_per_epoch
        for step, batch in enumerate(batches):
            if cap is not None and step >= cap:
                return
            yield batch

    def _adam(self, module: nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam(module.parameters(), lr=self.settings.network_lr,
                                weight_decay=self.settings.network_weight_decay)

    @staticmethod
    def _set_frozen(module: nn.Module, frozen: bool) -> None:
        module.train(not frozen)
        for parameter in module.parameters():
            parameter.requires_grad_(not frozen)

    # ---------------------------------------------------------------- step 2: the camera
    def encoder_loss(self, faces: torch.Tensor, nonfaces: torch.Tensor,
                     hardness: float) -> "tuple[torch.Tensor, dict]":
        """``CE(D(C(x)), t) + alpha * mean(sum p log p) / 100`` on one balanced batch.

        Returns the loss (differentiable w.r.t. the camera) and its parts as floats.
        """
        codes = self._encode(torch.cat([faces, nonfaces]), mode="soft", hardness=hardness)
        targets = torch.cat([torch.ones(len(faces)), torch.zeros(len(nonfaces))]).long().to(codes.device)
        detection = F.cross_entropy(self.detector(codes), targets)
        face_entropy = entropy(self.recogniser(codes[:len(faces)])).mean()
        loss = detection - self.settings.alpha * face_entropy / 100.0
        return loss, {"detection_ce": float(detection.detach()),
                      "identity_entropy": float(face_entropy.detach())}

    def encoder_step(self, alternation: int, progress=None) -> dict:
        """Train the camera's parameters with R and D frozen; returns mean losses per epoch."""
        settings, hardness = self.settings, self.settings.hardness(alternation)
        parameters = self.camera_parameters()
        if not parameters or settings.encoder_epochs == 0:
            return {"encoder_loss_first": float("nan"), "encoder_loss_last": float("nan")}
        self._set_frozen(self.recogniser, True)
        self._set_frozen(self.detector, True)
        self.camera.train()
        optimiser = torch.optim.SGD(parameters, lr=settings.encoder_lr,
                                    momentum=settings.encoder_momentum)
        epoch_means = []
        last_parts = {"detection_ce": float("nan"), "identity_entropy": float("nan")}
        for _ in range(settings.encoder_epochs):
            total, count = 0.0, 0
            for face_index, nonface_index in self._limit(datasets.balanced_batches(
                    len(self.data.faces), len(self.data.nonfaces), settings.batch_size,
                    generator=self.generator)):
                optimiser.zero_grad(set_to_none=True)
                loss, parts = self.encoder_loss(self.data.faces[face_index],
                                                self.data.nonfaces[nonface_index], hardness)
                loss.backward()
                average_gradients(parameters)
                optimiser.step()
                total, count = total + float(loss.detach()), count + 1
                last_parts = parts
                if progress is not None:
                    progress.update(len(face_index) + len(nonface_index))
            epoch_means.append(total / max(count, 1))
        self._set_frozen(self.recogniser, False)
        self._set_frozen(self.detector, False)
        return {"encoder_loss_first": epoch_means[0], "encoder_loss_last": epoch_means[-1],
                "detection_ce_last": last_parts["detection_ce"],
                "identity_entropy_last": last_parts["identity_entropy"]}

    # ---------------------------------------------------------------- step 1: R and D
    def recogniser_step(self, alternation: int, progress=None) -> dict:
        """Train R (identity CE) on encoded encoder-identity faces; best val epoch restored."""
        settings, hardness = self.settings, self.settings.hardness(alternation)
        mode = self._network_input_mode()
        codes = self._encode_all(self.data.faces, mode, hardness)
        codes_val = self._encode_all(self.data.faces_val, mode, hardness)
        labels, labels_val = self.data.face_labels, self.data.face_labels_val
        net = self.recogniser
        optimiser = self._adam(net)
        best_acc, best_state, since_best, lowered, epochs = -1.0, None, 0, False, 0
        train_acc = float("nan")
        for _ in range(settings.recogniser_epochs):
            net.train()
            hits, seen = 0, 0
            for index in self._limit(datasets.iterate_batches(len(codes), settings.batch_size,
                                                              generator=self.generator)):
                if len(index) < 2:  # BatchNorm needs two samples
                    continue
                optimiser.zero_grad(set_to_none=True)
                logits = net(codes[index])
                F.cross_entropy(logits, labels[index]).backward()
                average_gradients(net.parameters())
                optimiser.step()
                hits += int((logits.argmax(-1) == labels[index]).sum())
                seen += len(index)
                if progress is not None:
                    progress.update(len(index))
            epochs += 1
            train_acc = hits / max(seen, 1)
            val_acc = self._evaluate(net, codes_val, labels_val)
            if val_acc > best_acc:
                best_acc, best_state, since_best = val_acc, copy.deepcopy(net.state_dict()), 0
                continue
            since_best += 1
            if since_best >= settings.recogniser_patience:
                if lowered:
                    break
                for group in optimiser.param_groups:
                    group["lr"] /= 10.0
                lowered, since_best = True, 0
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        return {"recogniser_epochs": epochs, "recogniser_train_acc": train_acc,
                "recogniser_val_acc": best_acc}

    def detector_step(self, alternation: int, progress=None) -> dict:
        """Train D (face vs no-face CE, balanced batches); best val epoch restored."""
        settings, hardness = self.settings, self.settings.hardness(alternation)
        mode = self._network_input_mode()
        faces = self._encode_all(self.data.faces, mode, hardness)
        nonfaces = self._encode_all(self.data.nonfaces, mode, hardness)
        val_codes, val_targets = self._detection_val(mode, hardness)
        net = self.detector
        optimiser = self._adam(net)
        best_acc, best_state = -1.0, None
        for _ in range(settings.detector_epochs):
            net.train()
            for face_index, nonface_index in self._limit(datasets.balanced_batches(
                    len(faces), len(nonfaces), settings.batch_size, generator=self.generator)):
                optimiser.zero_grad(set_to_none=True)
                batch = torch.cat([faces[face_index], nonfaces[nonface_index]])
                targets = torch.cat([torch.ones(len(face_index)),
                                     torch.zeros(len(nonface_index))]).long().to(batch.device)
                F.cross_entropy(net(batch), targets).backward()
                average_gradients(net.parameters())
                optimiser.step()
                if progress is not None:
                    progress.update(len(batch))
            val_acc = self._evaluate(net, val_codes, val_targets)
            if val_acc > best_acc:
                best_acc, best_state = val_acc, copy.deepcopy(net.state_dict())
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        return {"detector_val_acc": best_acc}

    def _detection_val(self, mode: str, hardness: Optional[float]) -> "tuple[torch.Tensor, torch.Tensor]":
        faces = self._encode_all(self.data.faces_val, mode, hardness)
        nonfaces = self._encode_all(self.data.nonfaces_val, mode, hardness)
        targets = torch.cat([torch.ones(len(faces)), torch.zeros(len(nonfaces))]).long()
        return torch.cat([faces, nonfaces]), targets.to(faces.device)

    @staticmethod
    def _evaluate(net: nn.Module, codes: torch.Tensor, labels: torch.Tensor) -> float:
        broadcast_buffers(net)
        net.eval()
        with torch.no_grad():
            logits = torch.cat([net(codes[i:i + 1024]) for i in range(0, len(codes), 1024)])
        return _accuracy(logits, labels)

    def hard_metrics(self) -> dict:
        """R and D validation accuracy on hard (hardware) codes of the current camera."""
        codes = self._encode_all(self.data.faces_val, "hard", None)
        det_codes, det_targets = self._detection_val("hard", None)
        return {"recogniser_val_acc_hard": self._evaluate(self.recogniser, codes,
                                                          self.data.face_labels_val),
                "detector_val_acc_hard": self._evaluate(self.detector, det_codes, det_targets)}

    # ---------------------------------------------------------------- one alternation
    def images_per_alternation(self) -> int:
        """Upper bound of images processed by one alternation (sizes the progress bar)."""
        s, half = self.settings, self.settings.batch_size // 2
        balanced = 2 * half * -(-max(len(self.data.faces), len(self.data.nonfaces)) // half)
        per_r = len(self.data.faces)
        if s.steps_per_epoch is not None:
            balanced = min(balanced, s.steps_per_epoch * 2 * half)
            per_r = min(per_r, s.steps_per_epoch * s.batch_size)
        encoder = balanced * s.encoder_epochs if self.camera_parameters() else 0
        return encoder + per_r * s.recogniser_epochs + balanced * s.detector_epochs

    def run_alternation(self, alternation: int, progress=None) -> dict:
        """One alternation (encoder step and network steps in ``settings.order``); metrics."""
        start = time.perf_counter()
        metrics = {"alternation": alternation, "hardness": self.settings.hardness(alternation)}
        steps = [self.encoder_step, self.recogniser_step, self.detector_step]
        if self.settings.order == "networks_first":
            steps = steps[1:] + steps[:1]
        for step in steps:
            metrics.update(step(alternation, progress))
        metrics.update(self.hard_metrics())
        thresholds = getattr(self.camera, "thresholds", None)
        if thresholds is not None:
            metrics["thresholds"] = [round(float(t), 5) for t in thresholds]
        metrics["seconds"] = round(time.perf_counter() - start, 3)
        return metrics

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """Everything a resumed run needs (tensors only, loadable with weights_only=True)."""
        return {"camera": self.camera.state_dict(), "recogniser": self.recogniser.state_dict(),
                "detector": self.detector.state_dict(),
                "generator": self.generator.get_state(), "torch_rng": torch.get_rng_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` (strict: a mismatched checkpoint raises ValueError)."""
        missing = {"camera", "recogniser", "detector", "generator", "torch_rng"} - set(state)
        if missing:
            raise ValueError(f"checkpoint: missing entries {sorted(missing)}")
        modules = {name: getattr(self, name) for name in ("camera", "recogniser", "detector")}
        for name, module in modules.items():  # check everything before changing anything
            _check_state_matches(module, state[name], name)
        for name, module in modules.items():
            module.load_state_dict(state[name])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
