//! Lagrangian lower bounds and reduced-cost column selection for one part.
//!
//! Relax the capacity, conflict and k = 2 rows with multipliers π, ρ, τ ≥ 0. For any plan x,
//!   obj(x) ≥ obj(x) + Σ π (used − C) + Σ ρ (members − 1) + Σ τ (Σ a·x − 2)
//!          = Σ_r g_r(x) − Σ π C − Σ ρ − 2 Σ τ,
//! where g_r is the request's penalty if left out, else its booking's cost plus the
//! π-, ρ- and τ-weighted use of its rows (c̄). With m_r ≤ min(penalty, every c̄ of r),
//!   L = Σ m_r − Σ π C − Σ ρ − 2 Σ τ
//! is a lower bound on every plan, and a plan using a booking j of r costs at least
//! L + δ_j with δ_j = c̄_j − m_r. Hence a model restricted to the bookings with δ ≤ Δ
//! proves min(its own bound, L + smallest δ left out) for the whole part. Bookings cut
//! from a request's list have c̄ ≥ their on-time cost ≥ the recorded floor, so the floor
//! enters m_r and the smallest δ left out in their place.

use crate::milp::{Col, in_conflict, triple_coef};
use crate::part::Part;

/// Multipliers of a part's rows, each indexed by (local lab, week): π of the capacity
/// rows, ρ of the conflict rows and τ of the k = 2 rows, all ≥ 0.
#[derive(Debug, Clone)]
pub(crate) struct Mult {
    pub pi: Vec<f64>,
    pub rho: Vec<f64>,
    pub tau: Vec<f64>,
}

impl Mult {
    pub fn zero(rows: usize) -> Self {
        Mult { pi: vec![0.0; rows], rho: vec![0.0; rows], tau: vec![0.0; rows] }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Lagrangian {
    pub value: f64,
    /// m_r of each request.
    pub m: Vec<f64>,
}

pub(crate) fn reduced_cost(part: &Part, mult: &Mult, r: usize, p: usize, s: u32) -> f64 {
    let pair = &part.pairs[r][p];
    let mut c = part.col_cost(r, pair, s);
    for w in s..s + pair.span {
        let row = part.row(pair.lab, w);
        let cap = part.cap[pair.lab as usize][w as usize];
        c += mult.pi[row] * pair.usage;
        if mult.rho[row] > 0.0 && in_conflict(pair.usage, cap) {
            c += mult.rho[row];
        }
        if mult.tau[row] > 0.0 {
            c += mult.tau[row] * triple_coef(pair.usage, cap);
        }
    }
    c
}

pub(crate) fn lagrangian(part: &Part, mult: &Mult) -> Lagrangian {
    let mut m = Vec::with_capacity(part.reqs.len());
    for r in 0..part.reqs.len() {
        let mut best = part.penalty[r].min(part.floor[r]);
        for (p, pair) in part.pairs[r].iter().enumerate() {
            // c̄ ≥ on-time cost: skip pairings that cannot beat the best so far.
            if pair.cost >= best {
                continue;
            }
            for &s in &pair.starts {
                best = best.min(reduced_cost(part, mult, r, p, s));
            }
        }
        m.push(best);
    }
    let mut value: f64 = m.iter().sum();
    let weeks = part.weeks as usize;
    for (row, ((&p, &q), &t)) in mult.pi.iter().zip(&mult.rho).zip(&mult.tau).enumerate() {
        value -= p * part.cap[row / weeks][row % weeks] + q + 2.0 * t;
    }
    Lagrangian { value, m }
}

/// Columns whose δ is at most `limit` and at most the largest threshold keeping their
/// number within `max_cols`, plus `must` (the incumbent's bookings). Returns the
/// columns and the smallest δ left out (infinite when none was).
///
/// With `limit` the part's gap (incumbent − L), this is reduced-cost fixing: a plan
/// using a column left out costs at least L + δ > incumbent, so the restricted model
/// still proves min(its bound, incumbent) for the whole part.
pub(crate) fn select_columns(
    part: &Part,
    mult: &Mult,
    lag: &Lagrangian,
    limit: f64,
    max_cols: usize,
    must: &[Col],
) -> (Vec<Col>, f64) {
    let mut all: Vec<(f64, Col)> = Vec::with_capacity(part.num_cols());
    let mut excluded_min =
        (0..part.reqs.len()).map(|r| part.floor[r] - lag.m[r]).fold(f64::INFINITY, f64::min).max(0.0);
    for r in 0..part.reqs.len() {
        for (p, pair) in part.pairs[r].iter().enumerate() {
            for &s in &pair.starts {
                let d = (reduced_cost(part, mult, r, p, s) - lag.m[r]).max(0.0);
                if d > limit {
                    excluded_min = excluded_min.min(d);
                } else {
                    all.push((d, Col { r: r as u32, p: p as u32, s }));
                }
            }
        }
    }
    if all.len() > max_cols {
        all.select_nth_unstable_by(max_cols, |a, b| a.0.total_cmp(&b.0));
        let cut = all[max_cols..].iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
        excluded_min = excluded_min.min(cut);
        all.truncate(max_cols);
    }
    let mut cols: Vec<Col> = all.into_iter().map(|x| x.1).collect();
    let have: std::collections::HashSet<Col> = cols.iter().copied().collect();
    cols.extend(must.iter().filter(|c| !have.contains(c)));
    cols.sort_unstable_by_key(|c| (c.r, c.p, c.s));
    (cols, excluded_min)
}

pub(crate) fn all_columns(part: &Part) -> Vec<Col> {
    let mut cols = Vec::with_capacity(part.num_cols());
    for (r, ps) in part.pairs.iter().enumerate() {
        for (p, pair) in ps.iter().enumerate() {
            for &s in &pair.starts {
                cols.push(Col { r: r as u32, p: p as u32, s });
            }
        }
    }
    cols
}
