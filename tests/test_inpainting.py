"""Inpainting (NICE section 5.2): masks, and the projected noisy gradient ascent on log p."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from flowkit import ConfigurationError, DataError, dequantize
from flowkit.apps.inpainting import MASKS, image_shape, inpaint, make_mask, paper_step_size


# ---- masks ----------------------------------------------------------------------------------
def test_the_ten_masks_of_the_paper_are_known():
    assert set(MASKS) == {
        "top",
        "bottom",
        "left",
        "right",
        "odd",
        "even",
        "middle-h",
        "middle-v",
        "random75",
        "random90",
    }


@pytest.mark.parametrize("name", sorted(MASKS))
def test_every_mask_hides_part_of_the_image_only(name):
    masks = make_mask(name, (8, 6), count=3, seed=1)
    assert masks.shape == (3, 8, 6) and masks.dtype == bool
    assert 0 < masks[0].sum() < 48


def test_deterministic_masks_hide_the_named_region():
    top, bottom = make_mask("top", (8, 8))[0], make_mask("bottom", (8, 8))[0]
    assert top[:4].all() and not top[4:].any()
    assert bottom[4:].all() and not bottom[:4].any()
    left, right = make_mask("left", (8, 8))[0], make_mask("right", (8, 8))[0]
    assert left[:, :4].all() and not left[:, 4:].any()
    assert np.array_equal(right, ~left)
    odd, even = make_mask("odd", (3, 3))[0], make_mask("even", (3, 3))[0]
    assert np.array_equal(odd.ravel(), np.arange(9) % 2 == 1)
    assert np.array_equal(even, ~odd)
    band = make_mask("middle-h", (8, 8))[0]
    assert band[2:6].all() and not band[:2].any() and not band[6:].any()
    band = make_mask("middle-v", (8, 8))[0]
    assert band[:, 2:6].all() and not band[:, :2].any() and not band[:, 6:].any()


def test_random_masks_hide_the_stated_fraction_differ_per_example_and_are_seeded():
    masks = make_mask("random75", (10, 10), count=4, seed=3)
    assert (masks.reshape(4, -1).sum(axis=1) == 75).all()
    assert not np.array_equal(masks[0], masks[1])
    assert np.array_equal(masks, make_mask("random75", (10, 10), count=4, seed=3))
    assert not np.array_equal(masks, make_mask("random75", (10, 10), count=4, seed=4))
    assert (make_mask("random90", (10, 10), count=2).reshape(2, -1).sum(axis=1) == 90).all()


def test_image_shapes():
    assert image_shape((28, 28)) == (28, 28)
    assert image_shape((1, 8, 6)) == (8, 6)
    assert image_shape((8, 6, 1)) == (8, 6)
    assert image_shape((2,)) is None
    assert image_shape((784,)) is None
    assert image_shape((3, 8, 8)) is None


def test_masks_need_image_data_and_a_known_name():
    with pytest.raises(DataError, match="image data"):
        make_mask("top", (2,))
    with pytest.raises(ConfigurationError, match="unknown mask 'tpo'"):
        make_mask("tpo", (8, 8))


def test_paper_step_size():
    assert paper_step_size(0) == pytest.approx(0.1)
    assert paper_step_size(900) == pytest.approx(0.01)


# ---- the algorithm on a small NICE trained on 8x8 digits ------------------------------------
LEVELS = 17


@pytest.fixture(scope="module")
def digits_flow(registry):
    """A NICE (4 additive couplings, MLP 1 x 32) trained 150 Adam steps on the digits."""
    torch.manual_seed(0)
    splits = registry.get("dataset", "digits")(seed=0).load()
    train = splits.train.reshape(len(splits.train), -1)
    pipeline = registry.get("pipeline", "nice")()
    flow = pipeline.build(registry, 64, pipeline.resolve(hidden=32, depth=1, layers=4))
    flow.transform.initialize(dequantize(train, LEVELS))
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-4)
    for _ in range(150):
        batch = train[torch.randint(0, len(train), (128,))]
        loss = -flow.log_prob(dequantize(batch, LEVELS)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    flow.zero_grad(set_to_none=True)
    flow.eval()
    images = (splits.test[:12] + 0.5) / LEVELS  # bin centres, in [0, 1]
    return flow, images


@pytest.mark.parametrize("name", ["top", "odd", "random75"])
def test_inpainting_raises_the_log_likelihood_of_the_completed_images(digits_flow, name):
    flow, images = digits_flow
    masks = make_mask(name, (8, 8), count=len(images), seed=0)
    result = inpaint(flow, images, masks, steps=200, seed=0)
    trace = result.log_likelihood
    assert trace.shape == (201, len(images))
    # Every completed image ends far more likely than its random start, and the completion is
    # closer to the truth than the random start.
    assert (trace[-1] > trace[0] + 50).all()
    hidden = result.mask
    error_after = np.abs(result.inpainted - result.original)[hidden].mean()
    error_before = np.abs(result.initial - result.original)[hidden].mean()
    assert error_after < 0.6 * error_before


def test_observed_pixels_never_change_and_values_stay_in_range(digits_flow):
    flow, images = digits_flow
    masks = make_mask("random90", (8, 8), count=len(images), seed=2)
    result = inpaint(flow, images, masks, steps=50, seed=1)
    observed = ~result.mask
    assert np.array_equal(result.inpainted[observed], images.numpy()[observed])
    assert np.array_equal(result.initial[observed], images.numpy()[observed])
    assert result.inpainted.min() >= 0.0 and result.inpainted.max() <= 1.0
    assert result.initial.min() >= 0.0 and result.initial.max() <= 1.0
    assert result.inpainted.shape == result.original.shape == (len(images), 8, 8)
    # The hidden pixels did move.
    assert not np.array_equal(result.inpainted[result.mask], result.initial[result.mask])


def test_the_projection_holds_for_other_bounds_and_the_literal_update(digits_flow):
    flow, images = digits_flow
    mask = make_mask("left", (8, 8))[0]  # one mask broadcast to every image
    result = inpaint(flow, images, mask, steps=20, bounds=(0.2, 0.7), gradient_clip=None)
    assert result.mask.shape == images.shape and result.mask[:, :, :4].all()
    hidden_values = result.inpainted[result.mask]
    assert hidden_values.min() >= 0.2 and hidden_values.max() <= 0.7


def test_inpainting_is_reproducible_under_a_seed_and_leaves_the_flow_alone(digits_flow):
    flow, images = digits_flow
    state = {k: v.clone() for k, v in flow.state_dict().items()}
    first = inpaint(flow, images[:3], make_mask("top", (8, 8), 3), steps=10, seed=5)
    second = inpaint(flow, images[:3], make_mask("top", (8, 8), 3), steps=10, seed=5)
    third = inpaint(flow, images[:3], make_mask("top", (8, 8), 3), steps=10, seed=6)
    assert np.array_equal(first.inpainted, second.inpainted)
    assert not np.array_equal(first.inpainted, third.inpainted)
    assert all(torch.equal(v, flow.state_dict()[k]) for k, v in state.items())
    assert all(p.grad is None for p in flow.parameters())
    assert not flow.training


def test_zero_steps_return_the_initial_guess(digits_flow):
    flow, images = digits_flow
    result = inpaint(flow, images[:2], make_mask("even", (8, 8), 2), steps=0)
    assert np.array_equal(result.inpainted, result.initial)
    assert result.log_likelihood.shape == (1, 2)


def test_bad_arguments_are_clear_errors(digits_flow):
    flow, images = digits_flow
    with pytest.raises(DataError, match="does not fit"):
        inpaint(flow, images, np.ones((5, 5), dtype=bool), steps=1)
    with pytest.raises(ConfigurationError, match="steps"):
        inpaint(flow, images, make_mask("top", (8, 8))[0], steps=-1)
    with pytest.raises(ConfigurationError, match="gradient_clip"):
        inpaint(flow, images, make_mask("top", (8, 8))[0], steps=1, gradient_clip=0.0)
    with pytest.raises(ConfigurationError, match="bounds"):
        inpaint(flow, images, make_mask("top", (8, 8))[0], steps=1, bounds=(1.0, 0.0))
