//! Lagrangian lower bounds and reduced-cost column selection for one part.
//!
//! Relax the capacity and conflict rows with multipliers π, ρ ≥ 0. For any plan x,
//!   obj(x) ≥ obj(x) + Σ π (used − C) + Σ ρ (members − 1)
//!          = Σ_r g_r(x) − Σ π C − Σ ρ,
//! where g_r is the request's penalty if left out, else its booking's cost plus the
//! π- and ρ-weighted use of its rows (c̄). With m_r ≤ min(penalty, every c̄ of r),
//!   L = Σ m_r − Σ π C − Σ ρ
//! is a lower bound on every plan, and a plan using a booking j of r costs at least
//! L + δ_j with δ_j = c̄_j − m_r. Hence a model restricted to the bookings with δ ≤ Δ
//! proves min(its own bound, L + smallest δ left out) for the whole part. Bookings cut
//! from a request's list have c̄ ≥ their on-time cost ≥ the recorded floor, so the floor
//! enters m_r and the smallest δ left out in their place.

use crate::milp::{Col, in_conflict};
use crate::part::Part;

#[derive(Debug, Clone)]
pub(crate) struct Lagrangian {
    pub value: f64,
    /// m_r of each request.
    pub m: Vec<f64>,
}

pub(crate) fn reduced_cost(part: &Part, pi: &[f64], rho: &[f64], r: usize, p: usize, s: u32) -> f64 {
    let pair = &part.pairs[r][p];
    let mut c = part.col_cost(r, pair, s);
    for w in s..s + pair.span {
        let row = part.row(pair.lab, w);
        c += pi[row] * pair.usage;
        if rho[row] > 0.0 && in_conflict(pair.usage, part.cap[pair.lab as usize][w as usize]) {
            c += rho[row];
        }
    }
    c
}

pub(crate) fn lagrangian(part: &Part, pi: &[f64], rho: &[f64]) -> Lagrangian {
    let mut m = Vec::with_capacity(part.reqs.len());
    for r in 0..part.reqs.len() {
        let mut best = part.penalty[r].min(part.floor[r]);
        for (p, pair) in part.pairs[r].iter().enumerate() {
            // c̄ ≥ on-time cost: skip pairings that cannot beat the best so far.
            if pair.cost >= best {
                continue;
            }
            for &s in &pair.starts {
                best = best.min(reduced_cost(part, pi, rho, r, p, s));
            }
        }
        m.push(best);
    }
    let mut value: f64 = m.iter().sum();
    let weeks = part.weeks as usize;
    for (row, (&p, &q)) in pi.iter().zip(rho).enumerate() {
        value -= p * part.cap[row / weeks][row % weeks] + q;
    }
    Lagrangian { value, m }
}

/// Columns whose δ is at most the largest threshold keeping their number within
/// `max_cols` (all of them when they fit), plus `must` (the incumbent's bookings).
/// Returns the columns and the smallest δ left out (infinite when none was).
pub(crate) fn select_columns(
    part: &Part,
    pi: &[f64],
    rho: &[f64],
    lag: &Lagrangian,
    max_cols: usize,
    must: &[Col],
) -> (Vec<Col>, f64) {
    let mut all: Vec<(f64, Col)> = Vec::with_capacity(part.num_cols());
    for r in 0..part.reqs.len() {
        for (p, pair) in part.pairs[r].iter().enumerate() {
            for &s in &pair.starts {
                let d = reduced_cost(part, pi, rho, r, p, s) - lag.m[r];
                all.push((d.max(0.0), Col { r: r as u32, p: p as u32, s }));
            }
        }
    }
    let mut excluded_min =
        (0..part.reqs.len()).map(|r| part.floor[r] - lag.m[r]).fold(f64::INFINITY, f64::min).max(0.0);
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
