"""A tiny synthetic identity task with a known answer, and a linear "camera" for it (tests only).

Every image is [3, 4, 4] (48 numbers). Channel 0 carries identity (the person's mean vector plus
noise; for no-faces a draw of the same spread), channel 1 carries face vs no-face (+/- a fixed
pattern plus noise), channel 2 is noise. A camera that keeps channel 1 and drops channel 0 keeps
detection and removes identity for every attacker; one that mixes them keeps both.
"""
from __future__ import annotations

import torch
from torch import nn

from learn.alternating import TrainingData


class LinearCamera(nn.Module):
    """codes [N, 1, 4, 4] = W x for images x [N, 3, 4, 4]; hard and soft modes are the same."""

    def __init__(self, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(16, 48, generator=generator) / 48 ** 0.5)

    def forward(self, images, mode="hard", hardness=None, generator=None):
        return (images.flatten(1) @ self.weight.T).view(-1, 1, 4, 4)


def _people(count: int, per_person: int, generator) -> "tuple[torch.Tensor, torch.Tensor]":
    means = 1.5 * torch.randn(count, 16, generator=generator)
    labels = torch.arange(count).repeat_interleave(per_person)
    return means, labels


def _faces(means, labels, pattern, generator) -> torch.Tensor:
    n = len(labels)
    identity = means[labels] + 0.5 * torch.randn(n, 16, generator=generator)
    face = pattern + torch.randn(n, 16, generator=generator)
    return torch.stack([identity, face, torch.randn(n, 16, generator=generator)], 1).view(n, 3, 4, 4)


def _nonfaces(n: int, pattern, generator) -> torch.Tensor:
    identity = (1.5 ** 2 + 0.5 ** 2) ** 0.5 * torch.randn(n, 16, generator=generator)
    face = -pattern + torch.randn(n, 16, generator=generator)
    return torch.stack([identity, face, torch.randn(n, 16, generator=generator)], 1).view(n, 3, 4, 4)


def make_data(seed: int = 0, people: int = 12, per_person: int = 8, eval_people: int = 8
              ) -> TrainingData:
    """Encoder people (train: per_person - 2 images each, val: 2) and evaluation people
    (``select_*``: train per_person - 3, val 3), with no-faces; deterministic in ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    pattern = 0.6 * torch.randn(16, generator=generator)

    def split(count: int, held_out: int):
        means, labels = _people(count, per_person, generator)
        images = _faces(means, labels, pattern, generator)
        val = (torch.arange(len(labels)) % per_person) < held_out
        return images[~val], labels[~val], images[val], labels[val]

    faces, labels, faces_val, labels_val = split(people, 2)
    select, select_labels, select_val, select_labels_val = split(eval_people, 3)
    return TrainingData(faces=faces, face_labels=labels, faces_val=faces_val,
                        face_labels_val=labels_val,
                        nonfaces=_nonfaces(len(faces), pattern, generator),
                        nonfaces_val=_nonfaces(len(faces_val), pattern, generator),
                        num_identities=people, select_faces=select, select_labels=select_labels,
                        select_faces_val=select_val, select_labels_val=select_labels_val,
                        select_num_identities=eval_people)
