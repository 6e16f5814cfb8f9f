"""Clean-image recognisers of the reconstruction attack, kept on disk between runs.

The reconstruction attack classifies its decoded images with a recogniser trained on clean
images (``learn.attacks.ReconstructionAttack``). That network depends only on the clean training
images, the attack budget and the seed -- not on the encoder -- so every row of Table 1, every
worker process and every later ``canopic table1`` run on the same settings can share it. It is
also the most expensive single network of a code row's evaluation (a 64x64 Inception-style CNN,
about 130 s per seed on one CPU core of the development machine at the 30-epoch budget).

:class:`RecogniserStore` behaves as the ``{seed: network}`` dict the attack takes, backed by one
file per seed, ``FOLDER/clean-recogniser-seed<N>.pt``, a record of the project's fingerprint
cache (:class:`canopic.core.cache.FingerprintCache`, torch codec, read with
``weights_only=True``) whose payload is ``{"config", "state_dict"}``. A file whose fingerprint
(sha256 of the settings that decide the network) differs, or that cannot be read, is ignored and
overwritten by the next training.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from canopic.core.cache import FingerprintCache
from learn.attack_networks import InceptionClassifier


class RecogniserStore:
    """``{seed: trained clean recogniser}`` in memory, mirrored to ``folder``.

    Parameters
    ----------
    folder : str or Path
        Where the files go (created on the first save).
    fingerprint : str
        Identifies the settings the recognisers were trained with (data, budget); files with
        another fingerprint are not used.
    """

    def __init__(self, folder, fingerprint: str):
        self.folder = Path(folder)
        self.fingerprint = str(fingerprint)
        self._records = FingerprintCache(self.folder, codec="torch")
        self._loaded: "dict[int, nn.Module]" = {}

    @staticmethod
    def _name(seed: int) -> str:
        return f"clean-recogniser-seed{int(seed)}"

    def path(self, seed: int) -> Path:
        """The file of ``seed``'s recogniser."""
        return self._records.path(self._name(seed))

    def _read(self, seed: int) -> "nn.Module | None":
        saved = self._records.load(self._name(seed), self.fingerprint)
        try:
            model = InceptionClassifier(**saved["config"])
            model.load_state_dict(saved["state_dict"])
        except (RuntimeError, KeyError, TypeError, ValueError):  # missing or another network
            return None
        return model.eval()

    def __contains__(self, seed: object) -> bool:
        if not isinstance(seed, int):
            return False
        if seed not in self._loaded:
            model = self._read(seed)
            if model is None:
                return False
            self._loaded[seed] = model
        return True

    def __getitem__(self, seed: int) -> nn.Module:
        if seed not in self:
            raise KeyError(seed)
        return self._loaded[seed]

    def __setitem__(self, seed: int, model: nn.Module) -> None:
        """Keep ``model`` for ``seed`` and write it (atomically) to :meth:`path`."""
        config = getattr(model, "config", None)
        if not isinstance(model, InceptionClassifier) or config is None:
            raise TypeError(f"recogniser store: keeps InceptionClassifier networks, not "
                            f"{type(model).__name__}")
        self._loaded[int(seed)] = model
        state = {name: value.detach().cpu().contiguous()
                 for name, value in model.state_dict().items()}
        self._records.save(self._name(seed), self.fingerprint,
                           {"config": dict(config), "state_dict": state})


__all__ = ["RecogniserStore"]
