//! Initial weights (SPEC §3 and §3b `init`), and the one seeded generator a training draws
//! from: the initial weights first, then (with `order: shuffled`) one permutation per
//! iteration.

use ndarray::{Array1, Array3, ArrayView2, Axis};
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
pub const MAX_PCA_DIM: usize = 1024;

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
/// [`SomError::PcaNoConvergence`], [`SomError::Cancelled`] when `control` is cancelled
/// during PCA's covariance (a pass over the data).
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
    let covariance = covariance(data, &mean, control)?;
    let (values, vectors) = symmetric_eigen(&covariance)?;
    let mut order: Vec<usize> = (0..dim).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    let component = |rank: usize| -> (f64, Vec<f64>) {
        let Some(&index) = order.get(rank) else {
            return (0.0, vec![0.0; dim]);
        };
        let mut e: Vec<f64> = (0..dim).map(|k| vectors[(k, index)]).collect();
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

/// Rows of centred data multiplied at once into the covariance: the only copy of the data
/// PCA makes is this many rows (memory stays about the data's size however many rows it has).
const COVARIANCE_BLOCK: usize = 1024;

/// The lower triangle of the covariance `(dim, dim)` of `data` `(n, dim)` about `mean`,
/// divided by `n`: the products of centred blocks of rows, added up block after block, by
/// faer's kernel for a lower-triangular result (the eigendecomposition reads no more). On
/// 16,000 x 300 blobs this took about 40 ms of CPU where ndarray's full product took 60. Checks
/// `control` between blocks.
fn covariance(
    data: ArrayView2<f64>,
    mean: &Array1<f64>,
    control: &TrainControl,
) -> Result<faer::Mat<f64>, SomError> {
    use faer::linalg::matmul::triangular::{BlockStructure, matmul};
    let (n, dim) = data.dim();
    let mut covariance = faer::Mat::<f64>::zeros(dim, dim);
    let mut centred = faer::Mat::<f64>::zeros(COVARIANCE_BLOCK.min(n), dim);
    for block in data.axis_chunks_iter(Axis(0), COVARIANCE_BLOCK) {
        if control.is_cancelled() {
            return Err(SomError::Cancelled { iterations_done: 0 });
        }
        let rows = block.nrows();
        for (k, (column, &centre)) in block.columns().into_iter().zip(mean).enumerate() {
            for (i, &value) in column.iter().enumerate() {
                centred[(i, k)] = value - centre;
            }
        }
        let centred = centred.as_ref().subrows(0, rows);
        matmul(
            covariance.as_mut(),
            BlockStructure::TriangularLower,
            faer::Accum::Add,
            centred.transpose(),
            BlockStructure::Rectangular,
            centred,
            BlockStructure::Rectangular,
            1.0,
            faer::Par::Seq,
        );
    }
    for j in 0..dim {
        for i in j..dim {
            covariance[(i, j)] /= n as f64;
        }
    }
    Ok(covariance)
}

/// Eigenvalues and unit eigenvectors (columns) of a symmetric matrix, from its lower
/// triangle, by faer's self-adjoint eigendecomposition (tridiagonal reduction, then divide and
/// conquer): about 50 ms for 300 features where the cyclic Jacobi rotations used before took
/// over a second, and as accurate (the golden PCA cases hold to 1e-9, as they did).
fn symmetric_eigen(matrix: &faer::Mat<f64>) -> Result<(Vec<f64>, faer::Mat<f64>), SomError> {
    let eigen =
        (matrix.self_adjoint_eigen(faer::Side::Lower)).map_err(|_| SomError::PcaNoConvergence)?;
    let values = eigen.S().column_vector().iter().copied().collect();
    Ok((values, eigen.U().to_owned()))
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
