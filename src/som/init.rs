//! Initial weights (SPEC §3 and §3b `init`), and the one seeded generator a training draws
//! from: the initial weights first, then (with `order: shuffled`) one permutation per
//! iteration.

use ndarray::{Array2, Array3, ArrayView2, Axis};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::options::InitMethod;
use super::params::SomError;
use super::train::TrainControl;

/// The generator of a training, pinned: `ChaCha8Rng::seed_from_u64(seed)`, each `u` one
/// standard `f64` draw.
pub type Generator = ChaCha8Rng;

/// The generator of a training with this seed.
pub fn generator(seed: u64) -> Generator {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Most features PCA initialisation takes: it holds a `dim x dim` covariance and
/// diagonalises it (about `dim^3` work).
pub const MAX_PCA_DIM: usize = 512;

/// Initial weights `(rows, cols, dim)`, uniform in `[0, 1)`, drawn in C order from
/// [`generator`]`(seed)` with rand's standard `f64` draw. Pinned by a test: the same seed gives
/// the same weights after any dependency upgrade.
pub fn random_weights(rows: usize, cols: usize, dim: usize, seed: u64) -> Array3<f64> {
    draw_random(rows, cols, dim, &mut generator(seed))
}

/// A fresh seed in `0..2^53`, for a request that gave none (it is recorded with the model).
pub fn random_seed() -> u64 {
    rand::random::<u64>() >> 11
}

/// Where a training's weights start.
#[derive(Debug, Clone)]
pub enum Initial {
    /// Computed by a method from the (scaled) data and the generator.
    Method(InitMethod),
    /// Given `(rows, cols, dim)`, in scaled units: no draws.
    Weights(Array3<f64>),
}

/// The initial weights of a `rows x cols` map for `data` `(n, dim)` (scaled), drawing from
/// `rng` as SPEC §3b says.
///
/// # Errors
/// [`SomError::InvalidOption`] for PCA on more than [`MAX_PCA_DIM`] features,
/// [`SomError::Cancelled`] when `control` is cancelled during PCA (seconds on hundreds of
/// features).
pub fn initial_weights(
    method: InitMethod,
    rows: usize,
    cols: usize,
    data: ArrayView2<f64>,
    rng: &mut Generator,
    control: &TrainControl,
) -> Result<Array3<f64>, SomError> {
    let dim = data.ncols();
    Ok(match method {
        InitMethod::Random => draw_random(rows, cols, dim, rng),
        InitMethod::Sample => {
            let n = data.nrows();
            let mut weights = Array3::zeros((rows, cols, dim));
            for mut node in weights.lanes_mut(Axis(2)) {
                let u: f64 = rng.random();
                let k = ((u * n as f64) as usize).min(n - 1);
                node.assign(&data.row(k));
            }
            weights
        }
        InitMethod::Pca => pca_weights(rows, cols, data, control)?,
    })
}

fn draw_random(rows: usize, cols: usize, dim: usize, rng: &mut Generator) -> Array3<f64> {
    Array3::from_shape_simple_fn((rows, cols, dim), || rng.random::<f64>())
}

/// Checks that PCA initialisation can take `dim` features.
pub fn check_pca_dim(dim: usize) -> Result<(), SomError> {
    if dim > MAX_PCA_DIM {
        return Err(SomError::InvalidOption {
            field: "init",
            message: format!(
                "\"pca\" initialisation takes at most {MAX_PCA_DIM} features (it diagonalises a features x features covariance), the data has {dim}: use \"random\" or \"sample\""
            ),
        });
    }
    Ok(())
}

/// The map spread over the plane of the data's two principal components (SPEC §3b).
fn pca_weights(
    rows: usize,
    cols: usize,
    data: ArrayView2<f64>,
    control: &TrainControl,
) -> Result<Array3<f64>, SomError> {
    let (n, dim) = data.dim();
    check_pca_dim(dim)?;
    let mean = data.sum_axis(Axis(0)) / n as f64;
    // Block by block: the data is never copied whole (a centred copy would double the memory
    // a training needs).
    let mut covariance = Array2::<f64>::zeros((dim, dim));
    for block in data.axis_chunks_iter(Axis(0), COVARIANCE_BLOCK_ROWS) {
        if control.is_cancelled() {
            return Err(SomError::Cancelled { iterations_done: 0 });
        }
        let centred = &block - &mean;
        ndarray::linalg::general_mat_mul(1.0, &centred.t(), &centred, 1.0, &mut covariance);
    }
    covariance /= n as f64;
    let (values, vectors) = symmetric_eigen(covariance, control)?;
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let component = |rank: usize| -> (f64, Vec<f64>) {
        let Some(&index) = order.get(rank) else {
            return (0.0, vec![0.0; dim]);
        };
        let mut e: Vec<f64> = vectors.column(index).to_vec();
        let largest = (0..dim).fold(
            0,
            |best, k| if e[k].abs() > e[best].abs() { k } else { best },
        );
        if e[largest] < 0.0 {
            e.iter_mut().for_each(|x| *x = -*x);
        }
        (values[index].max(0.0).sqrt(), e)
    };
    let (root1, e1) = component(0);
    let (root2, e2) = component(1);
    let u = |k: usize, len: usize| {
        if len == 1 {
            0.0
        } else {
            2.0 * k as f64 / (len - 1) as f64 - 1.0
        }
    };
    Ok(Array3::from_shape_fn((rows, cols, dim), |(r, c, k)| {
        let (along1, along2) = if rows >= cols {
            (u(r, rows), u(c, cols))
        } else {
            (u(c, cols), u(r, rows))
        };
        mean[k] + along1 * root1 * e1[k] + along2 * root2 * e2[k]
    }))
}

/// Rows of centred data multiplied at a time into the covariance.
const COVARIANCE_BLOCK_ROWS: usize = 1024;

/// Eigenvalues and unit eigenvectors (columns) of a symmetric matrix: Householder reduction to
/// a tridiagonal matrix, then the QL method with implicit shifts (EISPACK's `tred2` and `tql2`,
/// as JAMA writes them), about `10 d^3` operations where cyclic Jacobi took several times that
/// per sweep (seconds at 300 features). Eigenvectors are as accurate as numpy's `eigh`, which
/// made the golden cases of PCA initialisation (1e-9 on every weight). Checks `control` once
/// per row.
fn symmetric_eigen(
    a: Array2<f64>,
    control: &TrainControl,
) -> Result<(Vec<f64>, Array2<f64>), SomError> {
    let n = a.nrows();
    let cancelled = || SomError::Cancelled { iterations_done: 0 };
    if n == 0 {
        return Ok((Vec::new(), a));
    }
    let mut v = a.as_standard_layout().into_owned();
    let mut d: Vec<f64> = v.row(n - 1).to_vec();
    let mut e = vec![0.0; n];

    // Householder reduction to tridiagonal form.
    for i in (1..n).rev() {
        if control.is_cancelled() {
            return Err(cancelled());
        }
        let scale: f64 = d[..i].iter().map(|x| x.abs()).sum();
        let mut h = 0.0;
        if scale == 0.0 {
            e[i] = d[i - 1];
            for j in 0..i {
                d[j] = v[[i - 1, j]];
                v[[i, j]] = 0.0;
                v[[j, i]] = 0.0;
            }
        } else {
            for x in &mut d[..i] {
                *x /= scale;
                h += *x * *x;
            }
            let mut f = d[i - 1];
            let mut g = if f > 0.0 { -h.sqrt() } else { h.sqrt() };
            e[i] = scale * g;
            h -= f * g;
            d[i - 1] = f - g;
            e[..i].fill(0.0);
            for j in 0..i {
                f = d[j];
                v[[j, i]] = f;
                g = e[j] + v[[j, j]] * f;
                for k in j + 1..i {
                    g += v[[k, j]] * d[k];
                    e[k] += v[[k, j]] * f;
                }
                e[j] = g;
            }
            f = 0.0;
            for j in 0..i {
                e[j] /= h;
                f += e[j] * d[j];
            }
            let hh = f / (h + h);
            for j in 0..i {
                e[j] -= hh * d[j];
            }
            for j in 0..i {
                let (f, g) = (d[j], e[j]);
                for k in j..i {
                    v[[k, j]] -= f * e[k] + g * d[k];
                }
                d[j] = v[[i - 1, j]];
                v[[i, j]] = 0.0;
            }
        }
        d[i] = h;
    }
    // Accumulate the transformations.
    for i in 0..n - 1 {
        v[[n - 1, i]] = v[[i, i]];
        v[[i, i]] = 1.0;
        let h = d[i + 1];
        if h != 0.0 {
            for k in 0..=i {
                d[k] = v[[k, i + 1]] / h;
            }
            for j in 0..=i {
                let g: f64 = (0..=i).map(|k| v[[k, i + 1]] * v[[k, j]]).sum();
                for k in 0..=i {
                    v[[k, j]] -= g * d[k];
                }
            }
        }
        for k in 0..=i {
            v[[k, i + 1]] = 0.0;
        }
    }
    for j in 0..n {
        d[j] = v[[n - 1, j]];
        v[[n - 1, j]] = 0.0;
    }
    v[[n - 1, n - 1]] = 1.0;
    e.rotate_left(1);
    e[n - 1] = 0.0;

    // QL with implicit shifts on the tridiagonal matrix (diagonal d, off-diagonal e). The
    // rotations act on the eigenvectors' rows of `w` (the transpose of `v`), contiguous.
    let mut w = v.reversed_axes().as_standard_layout().into_owned();
    let (mut f, mut tst1) = (0.0_f64, 0.0_f64);
    let eps = f64::EPSILON;
    for l in 0..n {
        if control.is_cancelled() {
            return Err(cancelled());
        }
        tst1 = tst1.max(d[l].abs() + e[l].abs());
        let mut m = l;
        while m < n - 1 && e[m].abs() > eps * tst1 {
            m += 1;
        }
        if m > l {
            loop {
                let mut g = d[l];
                let mut p = (d[l + 1] - g) / (2.0 * e[l]);
                let mut r = p.hypot(1.0);
                if p < 0.0 {
                    r = -r;
                }
                d[l] = e[l] / (p + r);
                d[l + 1] = e[l] * (p + r);
                let dl1 = d[l + 1];
                let mut h = g - d[l];
                for x in &mut d[l + 2..] {
                    *x -= h;
                }
                f += h;
                p = d[m];
                let (mut c, mut c2, mut c3) = (1.0, 1.0, 1.0);
                let el1 = e[l + 1];
                let (mut s, mut s2) = (0.0, 0.0);
                for i in (l..m).rev() {
                    c3 = c2;
                    c2 = c;
                    s2 = s;
                    g = c * e[i];
                    h = c * p;
                    r = p.hypot(e[i]);
                    e[i + 1] = s * r;
                    s = e[i] / r;
                    c = p / r;
                    p = c * d[i] - s * g;
                    d[i + 1] = h + s * (c * g + s * d[i]);
                    let (low, high) = w.view_mut().split_at(Axis(0), i + 1);
                    let (mut wi, mut wi1) = (
                        low.index_axis_move(Axis(0), i),
                        high.index_axis_move(Axis(0), 0),
                    );
                    for (x, y) in wi.iter_mut().zip(wi1.iter_mut()) {
                        let (xi, yi) = (*x, *y);
                        *y = s * xi + c * yi;
                        *x = c * xi - s * yi;
                    }
                }
                p = -s * s2 * c3 * el1 * e[l] / dl1;
                e[l] = s * p;
                d[l] = c * p;
                if e[l].abs() <= eps * tst1 {
                    break;
                }
            }
        }
        d[l] += f;
        e[l] = 0.0;
    }
    Ok((d, w.reversed_axes()))
}

/// A permutation of `0..n` by Fisher-Yates from the end: for `i = n-1` down to 1,
/// `j = floor(u * (i + 1))`, swap `i` and `j` (SPEC §3b `order`).
pub fn shuffle(order: &mut Vec<usize>, n: usize, rng: &mut Generator) {
    order.clear();
    order.extend(0..n);
    for i in (1..n).rev() {
        let u: f64 = rng.random();
        let j = ((u * (i + 1) as f64) as usize).min(i);
        order.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use approx::assert_abs_diff_eq;

    use super::*;

    #[test]
    fn symmetric_eigen_gives_orthonormal_vectors_that_the_matrix_only_scales() {
        for d in [1, 2, 3, 17, 64] {
            let mut rng = generator(d as u64);
            let b = Array2::from_shape_simple_fn((d, d), || rng.random::<f64>() - 0.5);
            let a = &b + &b.t();
            let (values, vectors) = symmetric_eigen(a.clone(), &TrainControl::default()).unwrap();
            let scaled = a.dot(&vectors);
            for (j, value) in values.iter().enumerate() {
                let column = vectors.column(j);
                for k in 0..d {
                    assert_abs_diff_eq!(scaled[[k, j]], value * column[k], epsilon = 1e-12);
                }
            }
            let gram = vectors.t().dot(&vectors);
            for ((i, j), &dot) in gram.indexed_iter() {
                assert_abs_diff_eq!(dot, if i == j { 1.0 } else { 0.0 }, epsilon = 1e-12);
            }
        }
    }

    #[test]
    fn symmetric_eigen_of_a_diagonal_matrix_keeps_its_axes() {
        let a = Array2::from_diag(&ndarray::arr1(&[3.0, 0.0, -1.0, 3.0]));
        let (values, vectors) = symmetric_eigen(a.clone(), &TrainControl::default()).unwrap();
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(sorted, [-1.0, 0.0, 3.0, 3.0]);
        let (scaled, expected) = (a.dot(&vectors), &vectors * &ndarray::arr1(&values));
        for (got, want) in scaled.iter().zip(&expected) {
            assert_abs_diff_eq!(got, want, epsilon = 1e-15);
        }
    }
}
