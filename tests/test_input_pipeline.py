"""The training batches: augmentation, and the same batches for a resumed
run and for a run on two replicas."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from train import input_pipeline

IMAGES = np.random.default_rng(0).integers(0, 256, (40, 6, 7, 3)).astype(
    np.uint8)


def _candidates(image, pad):
    """Every flip and edge-repeating shift by up to `pad` pixels."""
    h, w = image.shape[:2]
    for flip, dy, dx in itertools.product((False, True), range(-pad, pad + 1),
                                          range(-pad, pad + 1)):
        x = image[:, ::-1] if flip else image
        rows = np.clip(np.arange(h) - dy, 0, h - 1)
        cols = np.clip(np.arange(w) - dx, 0, w - 1)
        yield (flip, dy, dx), x[rows][:, cols]


def test_flip_translate_is_a_flip_and_an_edge_repeating_shift():
    keys = tf.range(200, dtype=tf.int64)
    image = np.random.default_rng(1).integers(0, 256, (6, 32, 3))
    images = np.repeat(image[None].astype(np.uint8), 200, 0)
    out = input_pipeline.augment(tf.constant(images), keys, 3,
                                 'flip_translate').numpy()
    seen = set()
    for augmented in out:
        found = [c for c, x in _candidates(images[0], 1)
                 if np.array_equal(x, augmented)]
        assert found, 'not a flip and shift of the image'
        seen.update(found)
    # Both flips and every shift the reference draws: along the 32 pixels
    # t = 1.44, so -1, 0 and 1; along the 6, t = 0.04 * 8 = 0.32, so none.
    assert {c[0] for c in seen} == {False, True}
    assert {c[1] for c in seen} == {0} and {c[2] for c in seen} == {-1, 0, 1}
    flips = input_pipeline.augment(tf.constant(images), keys, 3, 'flip')
    assert {tuple(c[:1]) for x in flips.numpy() for c, y in
            _candidates(images[0], 0) if np.array_equal(x, y)} == {
                (False,), (True,)}
    np.testing.assert_array_equal(
        input_pipeline.augment(tf.constant(images), keys, 3, 'none'), images)


def test_the_translation_limit_is_the_references():
    # 32 pixels: padding ceil(1.28) = 2, t = 0.04 * 36 = 1.44.
    assert input_pipeline._translation_limit(32) == (  # pylint: disable=protected-access
        pytest.approx(1.44), 2)


def _batches(start, count, replicas=1):
    context = (tf.distribute.InputContext(1, 0, replicas) if replicas > 1
               else None)
    ds = input_pipeline.training_batches(
        (IMAGES,), 8, 5, start, 'uniform', context, 'flip_translate')
    out = [tuple(t.numpy() for t in b) for b in ds.take(count * replicas)]
    # A step's replica batches, in replica order, make its global batch.
    return [tuple(np.concatenate([out[s * replicas + r][i]
                                  for r in range(replicas)])
                  for i in range(2)) for s in range(count)]


def test_resumed_and_two_replica_runs_see_the_same_augmented_batches():
    straight = _batches(0, 7)
    for a, b in zip(straight[4:], _batches(4, 3)):  # resumed at step 4
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    for a, b in zip(straight, _batches(0, 7, replicas=2)):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    # Augmented: not the plain gathered images of an epoch.
    assert not all(any(np.array_equal(x, y) for y in IMAGES)
                   for x in straight[0][0])
