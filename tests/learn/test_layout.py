"""Channels-last on the CPU changes where values sit in memory, not the numbers the networks give.

Reference: the same network in torch's default NCHW layout (float round-off apart, the two
layouts compute the same sums in a different order).
"""
from __future__ import annotations

import copy

import pytest
import torch

from learn import layout
from learn.attack_networks import CodeDecoder, InceptionClassifier
from learn.attacks import predict_logits, train_classifier, train_decoder


def test_preferred_format_per_device():
    assert layout.preferred_format("cpu") == torch.channels_last
    assert layout.preferred_format(torch.device("cuda")) == torch.contiguous_format


def test_in_layout_reorders_4d_tensors_only():
    x = torch.rand(2, 3, 5, 5)
    moved = layout.in_layout(x)
    assert moved.is_contiguous(memory_format=torch.channels_last)
    assert not x.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(moved, x)
    flat = torch.rand(4, 7)
    assert layout.in_layout(flat) is flat


@pytest.mark.parametrize("factory, shape", [
    (lambda: InceptionClassifier(12, 7, 8, width=8), (6, 12, 8, 8)),
    (lambda: InceptionClassifier(3, 7, 32, width=8), (6, 3, 32, 32)),
    (lambda: CodeDecoder(12, 8, 32, width=16), (6, 12, 8, 8)),
    (lambda: CodeDecoder(3, 32, 32, width=16, cells=8), (6, 3, 32, 32)),
], ids=["inception-code", "inception-image", "decoder", "decoder-folded"])
def test_outputs_and_gradients_match_nchw(factory, shape):
    torch.manual_seed(0)
    reference = factory().train()
    fast = layout.adopt_layout(copy.deepcopy(reference), "cpu")
    x = torch.rand(shape) * 15.0
    torch.manual_seed(1)  # the same dropout draws for both
    out_ref = reference(x)
    torch.manual_seed(1)
    out_fast = fast(layout.in_layout(x))
    torch.testing.assert_close(out_fast, out_ref, rtol=1e-4, atol=1e-5)
    out_ref.square().mean().backward()
    out_fast.square().mean().backward()
    for (name, p_ref), p_fast in zip(reference.named_parameters(), fast.parameters()):
        torch.testing.assert_close(p_fast.grad, p_ref.grad, rtol=1e-3, atol=1e-6, msg=name)


def _with_layout(monkeypatch, channels_last: bool) -> None:
    chosen = torch.channels_last if channels_last else torch.contiguous_format
    monkeypatch.setattr(layout, "preferred_format", lambda device: chosen)


def test_training_is_the_same_in_both_layouts(monkeypatch):
    """Two epochs of the adversary and of the decoder end computing the same function."""
    generator = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 16, (48, 12, 8, 8), generator=generator).float()
    labels = torch.arange(48) % 4
    images = torch.rand(48, 3, 16, 16, generator=generator)
    trained = {}
    for channels_last in (False, True):
        _with_layout(monkeypatch, channels_last)
        torch.manual_seed(0)
        classifier = InceptionClassifier(12, 4, 8, width=8)
        train_classifier(classifier, codes, labels, codes[:16], labels[:16], epochs=2,
                         patience=5, batch_size=16, seed=0)
        torch.manual_seed(0)
        decoder = CodeDecoder(12, 8, 16, width=16)
        train_decoder(decoder, codes, images, codes[:16], images[:16], epochs=2, patience=5,
                      batch_size=16, seed=0)
        trained[channels_last] = (classifier, decoder)
    # compare what the networks compute: a weight whose gradient is ~0 can move by up to
    # Adam's step (lr) either way on round-off alone, without changing any output
    classifier, decoder = trained[True]
    torch.testing.assert_close(predict_logits(classifier, codes),
                               predict_logits(trained[False][0], codes), rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(predict_logits(decoder, codes),
                               predict_logits(trained[False][1], codes), rtol=1e-3, atol=1e-4)
    conv = classifier.stem[0][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)  # the layout was used
