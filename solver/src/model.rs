//! The model of one part, shared by every method that works on it: the part itself
//! (its requests, labs, capacities and candidate bookings), a booking as a column, a
//! plan of the part, the rows added to its relaxation and their multipliers.
//!
//! This module depends on nothing of the crate but `data`, so that the methods built on
//! it (decomposition, cuts, heuristics, MILP, bounds) depend on it and never on each
//! other's types.

use crate::data::HOURS_EPS;

/// A (request, lab) pairing inside a part, with the starts the rules allow.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    /// Local lab index within the part.
    pub lab: u32,
    pub span: u32,
    pub usage: f64,
    /// Cost when on time and, for a request with a current booking, at that booking's
    /// week: price × hours + transport (+ `move_lab` away from its current lab). No
    /// start of the pairing costs less.
    pub cost: f64,
    pub starts: Vec<u32>,
    /// The start week of the request's current booking, when this pairing is at its lab:
    /// each week away from it costs the part's `move_week`.
    pub home: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub eq: usize,
    /// Global request indices.
    pub reqs: Vec<usize>,
    /// Global lab indices.
    pub labs: Vec<usize>,
    /// Capacity left after pinned bookings, [local lab][week].
    pub cap: Vec<Vec<f64>>,
    /// Candidate pairings of each request, cheapest first.
    pub pairs: Vec<Vec<Pair>>,
    /// A lower bound on the cost of any booking of the request left out of `pairs`
    /// (infinite when nothing was left out).
    pub floor: Vec<f64>,
    pub penalty: Vec<f64>,
    pub due: Vec<u32>,
    /// tardiness_per_week × priority of each request.
    pub tard_rate: Vec<f64>,
    /// What a current booking pays per week it shifts at its lab.
    pub move_week: f64,
    pub weeks: u32,
    /// Lifted cardinality rows of the capacity rows (see `cuts.rs`).
    pub cuts: Cuts,
}

impl Part {
    pub fn col_cost(&self, r: usize, p: &Pair, start: u32) -> f64 {
        let end = start + p.span - 1;
        let shift = p.home.map_or(0.0, |s0| self.move_week * f64::from(start.abs_diff(s0)));
        p.cost + self.tard_rate[r] * f64::from(end.saturating_sub(self.due[r])) + shift
    }

    /// The booking of request r's current booking, when the part allows it.
    pub fn home_col(&self, r: usize) -> Option<(usize, u32)> {
        self.pairs[r].iter().enumerate().find_map(|(p, pair)| {
            let s0 = pair.home?;
            pair.starts.binary_search(&s0).is_ok().then_some((p, s0))
        })
    }

    pub fn num_cols(&self) -> usize {
        self.pairs.iter().flatten().map(|p| p.starts.len()).sum()
    }

    pub fn row(&self, lab: u32, week: u32) -> usize {
        lab as usize * self.weeks as usize + week as usize
    }

    pub fn rows(&self) -> usize {
        self.labs.len() * self.weeks as usize
    }

    /// Capacity of a row (local lab × week).
    pub fn row_cap(&self, row: RowKey) -> f64 {
        let w = self.weeks as usize;
        self.cap[row / w][row % w]
    }

    /// Every booking the part allows.
    pub fn all_columns(&self) -> Vec<Col> {
        let mut cols = Vec::with_capacity(self.num_cols());
        for (r, ps) in self.pairs.iter().enumerate() {
            for (p, pair) in ps.iter().enumerate() {
                for &s in &pair.starts {
                    cols.push(Col { r: r as u32, p: p as u32, s });
                }
            }
        }
        cols
    }

    /// The part objective of a plan of the part: each booking's cost, each request
    /// left out its penalty.
    pub fn objective(&self, sel: &Sel) -> f64 {
        sel.iter()
            .enumerate()
            .map(|(r, s)| match s {
                Some((p, start)) => self.col_cost(r, &self.pairs[r][*p], *start),
                None => self.penalty[r],
            })
            .sum()
    }
}

/// One booking: request r (local), its pairing p, start week s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Col {
    pub r: u32,
    pub p: u32,
    pub s: u32,
}

/// The booking chosen for each request of a part: (pairing index, start week).
pub(crate) type Sel = Vec<Option<(usize, u32)>>;

/// What a capacity row and the rows derived from it are about: (local lab, week).
pub(crate) type RowKey = usize;

/// The four families of rows of a part's relaxation, one value of `T` each: the
/// capacity rows (hours used ≤ capacity), the conflict rows (at most one booking of
/// more than half a week's capacity), the k = 2 rows (see [`triple_coef`]) and the
/// lifted cardinality rows of `cuts.rs`. The first three are indexed by [`RowKey`],
/// the last by the part's cut instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RowFamilies<T> {
    pub capacity: T,
    pub conflict: T,
    pub triple: T,
    pub lifted: T,
}

/// Multipliers of a part's rows, all ≥ 0: π of the capacity rows, ρ of the conflict
/// rows, τ of the k = 2 rows, κ of the lifted rows.
#[derive(Debug, Clone)]
pub(crate) struct Mult {
    pub pi: Vec<f64>,
    pub rho: Vec<f64>,
    pub tau: Vec<f64>,
    pub kappa: Vec<f64>,
}

impl Mult {
    pub fn zero(part: &Part) -> Self {
        let rows = part.rows();
        Mult { pi: vec![0.0; rows], rho: vec![0.0; rows], tau: vec![0.0; rows], kappa: vec![0.0; part.cuts.inst.len()] }
    }

    /// The multipliers of each family, by name.
    pub fn families_mut(&mut self) -> RowFamilies<&mut Vec<f64>> {
        RowFamilies { capacity: &mut self.pi, conflict: &mut self.rho, triple: &mut self.tau, lifted: &mut self.kappa }
    }

    /// a·self + (1 − a)·other, row by row: multipliers ≥ 0 stay ≥ 0.
    pub fn mix(&self, other: &Mult, a: f64) -> Mult {
        let m = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| a * p + (1.0 - a) * q).collect();
        Mult {
            pi: m(&self.pi, &other.pi),
            rho: m(&self.rho, &other.rho),
            tau: m(&self.tau, &other.tau),
            kappa: m(&self.kappa, &other.kappa),
        }
    }
}

/// Usages closer than this are the same (they come from the same hours / span).
pub(crate) const USAGE_EPS: f64 = 1e-7;

/// A lifted cardinality row Σ a(u)·x ≤ rhs (see `cuts.rs`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cut {
    pub rhs: f64,
    /// (usage, coefficient), ascending by usage; a usage not listed has coefficient 0.
    pub coef: Vec<(f64, f64)>,
}

impl Cut {
    pub fn a(&self, usage: f64) -> f64 {
        self.coef.iter().find(|(u, _)| (u - usage).abs() <= USAGE_EPS).map_or(0.0, |c| c.1)
    }
}

/// The cuts of a part: each instance is a (row, cut) pair.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cuts {
    pub cuts: Vec<Cut>,
    /// (row, index into `cuts`) of each instance.
    pub inst: Vec<(RowKey, u32)>,
    /// Instances of each row.
    pub by_row: Vec<Vec<u32>>,
}

/// Whether a booking using `usage` hours of a row with capacity `cap` belongs to the
/// row's conflict clique. Two members need more than the capacity, so at most one can
/// run that week: Σ members ≤ 1 is valid for every integer plan. It is the k = 1 case
/// of the dual-feasible-function inequality Σ (⌈(k+1)·u/C⌉ − 1)·x ≤ k, and cuts off the
/// LP's habit of running 1.3 tests in a chamber that fits one.
pub(crate) fn in_conflict(usage: f64, cap: f64) -> bool {
    usage > cap / 2.0 + 1e-9
}

/// Coefficient of a booking using `usage` hours in the k = 2 row of a row with capacity
/// `cap`: ⌈3u/C⌉ − 1 (0, 1 or 2). C includes the checker's slack, so that no plan the
/// checker accepts is cut off, and the ceiling a hair's breadth down, so that rounding
/// never overstates it.
pub(crate) fn triple_coef(usage: f64, cap: f64) -> f64 {
    ((3.0 * usage / (cap + HOURS_EPS) - 1e-9).ceil() - 1.0).clamp(0.0, 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The k = 2 row is valid: any set of bookings that fits a week, within the
        /// checker's slack, has coefficients summing to at most 2.
        #[test]
        fn triple_row_never_cuts_a_fitting_week(cap in 1.0f64..300.0, parts in prop::collection::vec(0.01f64..1.0, 1..6)) {
            let total: f64 = parts.iter().sum();
            // Scale the usages to fill the week exactly, the hardest case.
            let usages: Vec<f64> = parts.iter().map(|p| p / total * (cap + HOURS_EPS)).collect();
            let sum: f64 = usages.iter().map(|&u| triple_coef(u, cap)).sum();
            prop_assert!(sum <= 2.0 + 1e-12, "usages {:?} cap {} coefficients sum {}", usages, cap, sum);
        }
    }

    #[test]
    fn triple_coefficients() {
        assert_eq!(triple_coef(120.0, 279.0), 1.0);
        assert_eq!(triple_coef(93.0, 279.0), 0.0);
        assert_eq!(triple_coef(200.0, 279.0), 2.0);
        // A third exactly: three such tests fit, so it must not count.
        assert_eq!(triple_coef(10.0, 30.0), 0.0);
    }
}
