import numpy as np
import pytest

from sabr.data.patches import fit_normaliser, lf_patches, point_features, targets, Normaliser


def test_patch_by_hand_centre_and_edges():
    lf = np.arange(2 * 4 * 5, dtype=float).reshape(2, 4, 5)     # theta 1 holds 20..39
    # centre point (theta 1, m 1, k 2): rows 0..2, cols 1..3
    p = lf_patches(lf, np.ravel_multi_index(([1], [1], [2]), lf.shape), (3, 3))[0]
    np.testing.assert_array_equal(p, [[21, 22, 23], [26, 27, 28], [31, 32, 33]])
    # corner (theta 0, m 0, k 0): edge padding repeats the first row and column
    c = lf_patches(lf, np.array([0]), (3, 5))[0]
    np.testing.assert_array_equal(c, [[0, 0, 0, 1, 2], [0, 0, 0, 1, 2], [5, 5, 5, 6, 7]])
    # last point (theta 1, m 3, k 4)
    e = lf_patches(lf, np.array([39]), (3, 3))[0]
    np.testing.assert_array_equal(e, [[33, 34, 34], [38, 39, 39], [38, 39, 39]])


def test_patch_centre_is_the_point_and_shape(small_dataset):
    pts = np.arange(0, small_dataset.lf.size, 7)
    p = lf_patches(small_dataset.lf, pts, (3, 3))
    assert p.shape == (pts.size, 3, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p[:, 1, 1], small_dataset.lf.ravel()[pts], rtol=1e-6)


def test_even_patch_is_rejected():
    with pytest.raises(ValueError, match="patch_size"):
        lf_patches(np.zeros((1, 3, 3)), np.array([0]), (2, 3))


def test_features_and_targets(small_dataset):
    d = small_dataset
    pt = np.ravel_multi_index(([4], [2], [3]), d.shape)
    f = point_features(d, pt)[0]
    np.testing.assert_allclose(f, [*d.thetas[4], d.strikes[4, 2, 3], d.maturities[2], d.lf[4, 2, 3]],
                               rtol=1e-6)
    assert point_features(d, pt, with_lf=False).shape == (1, 6)
    np.testing.assert_allclose(targets(d, pt), d.hf[4, 2, 3] - d.lf[4, 2, 3], rtol=1e-5)
    np.testing.assert_allclose(targets(d, pt, residual=False), d.hf[4, 2, 3], rtol=1e-6)


def test_normaliser_uses_training_points_only(small_dataset):
    d = small_dataset
    train = d.theta_points(d.train_thetas)
    x, y = point_features(d, train), targets(d, train)
    norm = fit_normaliser(x, lf_patches(d.lf, train, (3, 3)), y)
    z = norm.features(x)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(norm.inverse_target(norm.target(y)), y, atol=1e-7)
    test = norm.features(point_features(d, d.test_points()))
    assert abs(test.mean()) > 1e-4                  # test points are not re-centred
    assert Normaliser.from_dict(norm.to_dict()) == norm
