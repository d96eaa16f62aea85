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

use rayon::prelude::*;

use crate::budget::Stop;
use crate::model::{Col, Mult, Part, in_conflict, triple_coef};

/// Subgradient steps at most: by then the step factor has shrunk past use.
const SUBGRADIENT_STEPS: usize = 2000;

#[derive(Debug, Clone)]
pub(crate) struct Lagrangian {
    pub value: f64,
    /// m_r of each request.
    pub m: Vec<f64>,
}

/// What a booking using `usage` hours of a row pays in week `w` of its lab under `mult`.
fn week_price(part: &Part, mult: &Mult, lab: u32, w: u32, usage: f64) -> f64 {
    let row = part.row(lab, w);
    let cap = part.cap[lab as usize][w as usize];
    let mut c = mult.pi[row] * usage;
    if mult.rho[row] > 0.0 && in_conflict(usage, cap) {
        c += mult.rho[row];
    }
    if mult.tau[row] > 0.0 {
        c += mult.tau[row] * triple_coef(usage, cap);
    }
    for &k in part.cuts.by_row.get(row).map_or(&[][..], |v| v.as_slice()) {
        let kappa = mult.kappa.get(k as usize).copied().unwrap_or(0.0);
        if kappa > 0.0 {
            c += kappa * part.cuts.cuts[part.cuts.inst[k as usize].1 as usize].a(usage);
        }
    }
    c
}

pub(crate) fn reduced_cost(part: &Part, mult: &Mult, r: usize, p: usize, s: u32) -> f64 {
    let pair = &part.pairs[r][p];
    let mut c = part.col_cost(r, pair, s);
    for w in s..s + pair.span {
        c += week_price(part, mult, pair.lab, w, pair.usage);
    }
    c
}

/// The reduced cost of every start of pairing `p` of request `r`, in the order of its
/// `starts`, into `out`. Each week's price is computed once and slid over the span, so a
/// pairing costs its window of weeks rather than starts × span: pricing every column
/// is what the subgradient, column generation and column selection spend their time on.
pub(crate) fn start_costs(part: &Part, mult: &Mult, r: usize, p: usize, prefix: &mut Vec<f64>, out: &mut Vec<f64>) {
    let pair = &part.pairs[r][p];
    out.clear();
    let (Some(&first), Some(&last)) = (pair.starts.first(), pair.starts.last()) else { return };
    prefix.clear();
    prefix.push(0.0);
    let mut acc = 0.0;
    for w in first..last + pair.span {
        acc += week_price(part, mult, pair.lab, w, pair.usage);
        prefix.push(acc);
    }
    for &s in &pair.starts {
        let (a, b) = ((s - first) as usize, (s - first + pair.span) as usize);
        out.push(part.col_cost(r, pair, s) + prefix[b] - prefix[a]);
    }
}

/// The request's term m_r of the Lagrangian and its minimiser: the booking of least
/// reduced cost, or `None` when leaving it out (or a booking cut from its list, whose
/// cost is at least the floor) is no dearer.
fn request_min(part: &Part, mult: &Mult, r: usize) -> (f64, Option<(usize, u32)>) {
    let mut best = part.penalty[r].min(part.floor[r]);
    let mut arg = None;
    let (mut prefix, mut costs) = (Vec::new(), Vec::new());
    for (p, pair) in part.pairs[r].iter().enumerate() {
        // c̄ ≥ on-time cost, and pairings come cheapest first: none from here on can
        // beat the best so far.
        if pair.cost >= best {
            break;
        }
        start_costs(part, mult, r, p, &mut prefix, &mut costs);
        for (&s, &c) in pair.starts.iter().zip(&costs) {
            if c < best {
                best = c;
                arg = Some((p, s));
            }
        }
    }
    (best, arg)
}

fn value_of(part: &Part, mult: &Mult, m: &[f64]) -> f64 {
    let mut value: f64 = m.iter().sum();
    let weeks = part.weeks as usize;
    for (row, ((&p, &q), &t)) in mult.pi.iter().zip(&mult.rho).zip(&mult.tau).enumerate() {
        value -= p * part.cap[row / weeks][row % weeks] + q + 2.0 * t;
    }
    for (&k, &(_, c)) in mult.kappa.iter().zip(&part.cuts.inst) {
        value -= k * part.cuts.cuts[c as usize].rhs;
    }
    value
}

pub(crate) fn lagrangian(part: &Part, mult: &Mult) -> Lagrangian {
    let m: Vec<f64> = (0..part.reqs.len()).map(|r| request_min(part, mult, r).0).collect();
    Lagrangian { value: value_of(part, mult, &m), m }
}

/// Subgradient ascent on the capacity and conflict multipliers π and ρ, from `start`,
/// until `stop` (each step is one pass over the part's columns).
///
/// This replaces the LP relaxation on parts too large for one: each step costs one
/// pass over the columns (the Lagrangian decomposes per request), needs no model in
/// memory, and every π, ρ ≥ 0 it visits gives a valid bound, so stopping at any time is
/// safe. Its limit is the bound of the LP relaxation of the capacity and conflict rows,
/// and π then approaches that LP's duals, which also makes it the part's shadow prices.
/// The conflict rows (with `conflicts`) matter where chambers hold one test a week: a
/// capacity row lets 1.25 tests of 80 h share a 100 h week, the conflict row only one.
/// Steps
/// follow Polyak's rule towards the part's incumbent `ub`. That incumbent can be far
/// above the optimum (on the generated 100,000-request instance, five times the bound),
/// so that full steps overshoot and the bound never leaves zero multipliers: the step
/// factor starts small, halves after three steps without a better bound, and grows
/// after each better one. Returns the best multipliers seen and their Lagrangian.
pub(crate) fn subgradient(part: &Part, start: &Mult, ub: f64, conflicts: bool, stop: &Stop) -> (Mult, Lagrangian) {
    let weeks = part.weeks as usize;
    let rows = part.labs.len() * weeks;
    let mut mult = start.clone();
    let mut best: Option<(Mult, Lagrangian)> = None;
    let mut theta = 0.25;
    let mut stall = 0;
    let mut g = vec![0.0; rows];
    let mut gc = vec![0.0; rows];
    let pass = part.num_cols() as u64 + 1;
    for _ in 0..SUBGRADIENT_STEPS {
        if stop.spend(pass) {
            break;
        }
        let mins: Vec<(f64, Option<(usize, u32)>)> =
            (0..part.reqs.len()).into_par_iter().map(|r| request_min(part, &mult, r)).collect();
        let m: Vec<f64> = mins.iter().map(|x| x.0).collect();
        let value = value_of(part, &mult, &m);
        if best.as_ref().is_none_or(|b| value > b.1.value + 1e-9 * value.abs().max(1.0)) {
            best = Some((mult.clone(), Lagrangian { value, m }));
            stall = 0;
            theta = (theta * 1.2f64).min(2.0);
        } else {
            stall += 1;
            if stall >= 3 {
                theta *= 0.5;
                stall = 0;
            }
        }
        let target = ub - value;
        if theta < 1e-5 || target <= 1e-9 * ub.abs().max(1.0) {
            break;
        }
        // g = hours the minimiser books on each row − capacity; and for the conflict
        // rows, the bookings of more than half the capacity it puts there − 1, scaled
        // by the capacity so that ρ moves in roubles per hour like π (ρ = C·ρ').
        for (row, gv) in g.iter_mut().enumerate() {
            *gv = -part.cap[row / weeks][row % weeks];
        }
        gc.iter_mut().for_each(|x| *x = -1.0);
        for (r, &(_, arg)) in mins.iter().enumerate() {
            if let Some((p, s)) = arg {
                let pair = &part.pairs[r][p];
                for w in s..s + pair.span {
                    let row = part.row(pair.lab, w);
                    g[row] += pair.usage;
                    if in_conflict(pair.usage, part.cap[pair.lab as usize][w as usize]) {
                        gc[row] += 1.0;
                    }
                }
            }
        }
        // A row already at π = 0 with slack cannot move: leave it out of the direction,
        // which otherwise shrinks every useful step.
        let mut norm = 0.0;
        for (gv, &p) in g.iter_mut().zip(&mult.pi) {
            if p <= 0.0 && *gv < 0.0 {
                *gv = 0.0;
            }
            norm += *gv * *gv;
        }
        for (row, (gv, &q)) in gc.iter_mut().zip(&mult.rho).enumerate() {
            if !conflicts || (q <= 0.0 && *gv < 0.0) {
                *gv = 0.0;
            }
            *gv *= part.cap[row / weeks][row % weeks];
            norm += *gv * *gv;
        }
        if norm <= 1e-12 {
            // The minimiser fits every row with complementary slackness: optimal.
            break;
        }
        let step = theta * target / norm;
        for (p, &gv) in mult.pi.iter_mut().zip(&g) {
            *p = (*p + step * gv).max(0.0);
        }
        for (row, (q, &gv)) in mult.rho.iter_mut().zip(&gc).enumerate() {
            let c = part.cap[row / weeks][row % weeks];
            *q = (*q + step * gv * c).max(0.0);
        }
    }
    best.unwrap_or_else(|| {
        let lag = lagrangian(part, start);
        (start.clone(), lag)
    })
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
    let (mut prefix, mut costs) = (Vec::new(), Vec::new());
    for r in 0..part.reqs.len() {
        for (p, pair) in part.pairs[r].iter().enumerate() {
            start_costs(part, mult, r, p, &mut prefix, &mut costs);
            for (&s, &c) in pair.starts.iter().zip(&costs) {
                let d = (c - lag.m[r]).max(0.0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cuts::part_cuts;
    use crate::model::Pair;
    use proptest::prelude::*;

    proptest! {
        /// The sliding-window pricing gives every start the reduced cost that pricing it
        /// alone gives, whatever the multipliers.
        #[test]
        fn start_costs_match_reduced_cost(
            caps in prop::collection::vec(prop::collection::vec(20.0f64..300.0, 12), 2),
            prices in prop::collection::vec(0.0f64..1000.0, 24 * 4),
            pairs in prop::collection::vec((0u32..2, 1u32..5, 5.0f64..200.0, 0u32..8), 1..5),
        ) {
            let weeks = 12;
            let pairs: Vec<Pair> = pairs
                .into_iter()
                .map(|(lab, span, usage, first)| Pair {
                    lab,
                    span,
                    usage,
                    cost: 1000.0,
                    starts: (first..=weeks - span).step_by(2).collect(),
                    home: (lab == 0).then_some(first + 1),
                })
                .collect();
            let mut part = Part {
                eq: 0,
                reqs: vec![0],
                labs: vec![0, 1],
                cap: caps,
                pairs: vec![pairs],
                floor: vec![f64::INFINITY],
                penalty: vec![1e6],
                due: vec![5],
                tard_rate: vec![300.0],
                move_week: 70.0,
                weeks,
                cuts: crate::model::Cuts::default(),
            };
            part.cuts = part_cuts(&part);
            let rows = 2 * weeks as usize;
            let mult = Mult {
                pi: prices[..rows].to_vec(),
                rho: prices[rows..2 * rows].to_vec(),
                tau: prices[2 * rows..3 * rows].to_vec(),
                kappa: (0..part.cuts.inst.len()).map(|k| prices[3 * rows + k % rows]).collect(),
            };
            let (mut prefix, mut costs) = (Vec::new(), Vec::new());
            for p in 0..part.pairs[0].len() {
                start_costs(&part, &mult, 0, p, &mut prefix, &mut costs);
                prop_assert_eq!(costs.len(), part.pairs[0][p].starts.len());
                for (&s, &c) in part.pairs[0][p].starts.iter().zip(&costs) {
                    let one = reduced_cost(&part, &mult, 0, p, s);
                    prop_assert!((c - one).abs() <= 1e-6 * one.abs().max(1.0), "start {}: {} against {}", s, c, one);
                }
            }
        }
    }
}
