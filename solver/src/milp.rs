//! The MILP of one part on good_lp + HiGHS: a binary per allowed (request, lab, start
//! week), one assignment row per request, capacity rows per (lab, week) of the part's
//! equipment class, and conflict rows that tighten the LP relaxation.

use good_lp::solvers::highs::highs as highs_solver;
use good_lp::{Constraint, Expression, ProblemVariables, SolverModel, Variable, variable};

use crate::budget::Stop;
use crate::model::{Col, Mult, Part, RowFamilies, RowKey, Sel, in_conflict, triple_coef};

/// The model of one part over a chosen set of columns.
pub(crate) struct PartModel<'p> {
    part: &'p Part,
    pub cols: Vec<Col>,
    /// Columns covering each capacity row: (column, weekly hours).
    by_row: Vec<Vec<(usize, f64)>>,
    by_req: Vec<Vec<usize>>,
    conflicts: bool,
    interior: bool,
}

/// How long a HiGHS call may run: seconds, and in a deterministic solve a work limit
/// that ends it first on any machine (simplex and interior-point iterations for an LP,
/// branch-and-bound nodes for a MILP). A call given a work limit that still reaches its
/// seconds marks its step as cut.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit<'s> {
    pub seconds: f64,
    pub work: Option<i32>,
    pub stop: Option<&'s Stop<'s>>,
}

impl Limit<'_> {
    pub fn seconds(seconds: f64) -> Self {
        Limit { seconds, work: None, stop: None }
    }

    fn apply(&self, model: &mut ::highs::Model, integer: bool) {
        model.set_option("time_limit", self.seconds.max(0.1));
        if let Some(w) = self.work {
            if integer {
                model.set_option("mip_max_nodes", w.max(1));
            } else {
                model.set_option("simplex_iteration_limit", w.max(1));
                model.set_option("ipm_iteration_limit", w.max(1));
            }
        }
    }

    fn check(&self, status: ::highs::HighsModelStatus) {
        if status == ::highs::HighsModelStatus::ReachedTimeLimit
            && self.work.is_some()
            && let Some(stop) = self.stop
        {
            stop.note_time_limit();
        }
    }
}

pub(crate) struct LpResult {
    /// The relaxation's optimum, penalties included.
    #[allow(dead_code)]
    pub value: f64,
    /// Saving per unit of each row (−dual, ≥ 0); π is per extra hour of capacity.
    pub mult: Mult,
    /// The relaxation's value of each of the model's columns, for rounding.
    pub x: Vec<f64>,
}

pub(crate) struct MipResult {
    pub sel: Option<Sel>,
    /// Proven lower bound on the part objective over these columns.
    pub bound: f64,
    /// The MILP over these columns was solved to its gap: more time on the same columns
    /// would prove nothing more.
    pub finished: bool,
}

impl<'p> PartModel<'p> {
    pub fn new(part: &'p Part, cols: Vec<Col>) -> Self {
        let mut by_row = vec![Vec::new(); part.labs.len() * part.weeks as usize];
        let mut by_req = vec![Vec::new(); part.reqs.len()];
        for (j, c) in cols.iter().enumerate() {
            let p = &part.pairs[c.r as usize][c.p as usize];
            for w in c.s..c.s + p.span {
                by_row[part.row(p.lab, w)].push((j, p.usage));
            }
            by_req[c.r as usize].push(j);
        }
        PartModel { part, cols, by_row, by_req, conflicts: true, interior: false }
    }

    /// Solve the LP by the interior-point method (with crossover, so the duals are
    /// still a vertex's). The restricted LPs of column generation on chambers that hold
    /// one test at a time are so degenerate that the simplex method took 12 s and
    /// 37,000 iterations on region-5000's climatic part at 4,500 columns, where the
    /// interior-point method solves five times as many columns in 4 s.
    pub fn interior_point(mut self) -> Self {
        self.interior = true;
        self
    }

    /// The model exactly as the rules state it, without the conflict rows.
    pub fn without_conflicts(mut self) -> Self {
        self.conflicts = false;
        self
    }

    fn cost(&self, j: usize) -> f64 {
        let c = self.cols[j];
        let part = self.part;
        part.col_cost(c.r as usize, &part.pairs[c.r as usize][c.p as usize], c.s)
    }

    fn row_cap(&self, row: RowKey) -> f64 {
        self.part.row_cap(row)
    }

    /// Σ (cost − penalty)·x: the part objective less the constant Σ penalties, so that
    /// booking a request is rewarded by the penalty it avoids.
    fn objective(&self, x: &[Variable]) -> Expression {
        let mut e = Expression::with_capacity(x.len());
        for (j, &v) in x.iter().enumerate() {
            e.add_mul(self.cost(j) - self.part.penalty[self.cols[j].r as usize], v);
        }
        e
    }

    /// Each request booked at most once.
    fn assignment_rows(&self, x: &[Variable]) -> Vec<Constraint> {
        self.by_req
            .iter()
            .filter(|js| js.len() > 1)
            .map(|js| {
                let e: Expression = js.iter().map(|&j| x[j]).sum();
                e.leq(1.0)
            })
            .collect()
    }

    /// Whether the row's conflict row says all there is to say of it: every column on it
    /// needs more than half its capacity, so at most one runs, and one alone always fits
    /// (a start is allowed only where the test fits the week). The capacity, k = 2 and
    /// lifted rows of such a row are then implied by Σ x ≤ 1 and are left out: a chamber
    /// that holds one test at a time (region-5000's climatic and UV parts) otherwise
    /// carries two near-parallel rows per week, and the LP degenerates on them.
    fn conflict_only(&self, row: RowKey) -> bool {
        let cap = self.row_cap(row);
        self.conflicts && self.by_row[row].iter().all(|&(_, u)| in_conflict(u, cap))
    }

    /// Hours used ≤ capacity, for every (lab, week) the columns could overfill. A row
    /// that all its columns together cannot exceed never binds, so leaving it out is
    /// exact.
    fn capacity_rows(&self, x: &[Variable]) -> Vec<(RowKey, Constraint)> {
        self.by_row
            .iter()
            .enumerate()
            .filter(|(row, _)| !self.conflict_only(*row))
            .filter(|(row, js)| js.iter().map(|&(_, u)| u).sum::<f64>() > self.row_cap(*row) + 1e-9)
            .map(|(row, js)| {
                let mut e = Expression::with_capacity(js.len());
                for &(j, u) in js {
                    e.add_mul(u, x[j]);
                }
                (row, e.leq(self.row_cap(row)))
            })
            .collect()
    }

    /// At most one of the bookings that each need more than half a row's capacity.
    fn conflict_rows(&self, x: &[Variable]) -> Vec<(RowKey, Constraint)> {
        self.by_row
            .iter()
            .enumerate()
            .filter_map(|(row, js)| {
                let cap = self.row_cap(row);
                let members: Vec<usize> = js.iter().filter(|&&(_, u)| in_conflict(u, cap)).map(|&(j, _)| j).collect();
                (members.len() > 1).then(|| {
                    let e: Expression = members.iter().map(|&j| x[j]).sum();
                    (row, e.leq(1.0))
                })
            })
            .collect()
    }

    /// Σ (⌈3u/C⌉ − 1)·x ≤ 2 over the bookings that need more than a third of a row's
    /// capacity: the k = 2 case of the dual-feasible-function inequality (see
    /// `in_conflict`). It says that three tests of more than a third cannot share a week,
    /// which the capacity row allows fractionally and the conflict row does not see.
    /// Only rows where it is not implied are added: some member of coefficient 1 exists
    /// and the coefficients sum past 2.
    fn triple_rows(&self, x: &[Variable]) -> Vec<(RowKey, Constraint)> {
        self.by_row
            .iter()
            .enumerate()
            .filter(|(row, _)| !self.conflict_only(*row))
            .filter_map(|(row, js)| {
                let cap = self.row_cap(row);
                let members: Vec<(usize, f64)> =
                    js.iter().map(|&(j, u)| (j, triple_coef(u, cap))).filter(|&(_, a)| a > 0.0).collect();
                let sum: f64 = members.iter().map(|m| m.1).sum();
                let has_small = members.iter().any(|m| m.1 == 1.0);
                (has_small && sum > 2.0 + 1e-9).then(|| {
                    let mut e = Expression::with_capacity(members.len());
                    for &(j, a) in &members {
                        e.add_mul(a, x[j]);
                    }
                    (row, e.leq(2.0))
                })
            })
            .collect()
    }

    /// The part's lifted cardinality rows (see `cuts.rs`) over the model's columns, keyed
    /// by cut instance. Only those the model's own columns can break are added.
    fn cut_rows(&self, x: &[Variable]) -> Vec<(usize, Constraint)> {
        let cuts = &self.part.cuts;
        let mut out = Vec::new();
        for (row, js) in self.by_row.iter().enumerate() {
            if self.conflict_only(row) {
                continue;
            }
            for &k in cuts.by_row.get(row).map_or(&[][..], |v| v.as_slice()) {
                let cut = &cuts.cuts[cuts.inst[k as usize].1 as usize];
                let members: Vec<(usize, f64)> =
                    js.iter().map(|&(j, u)| (j, cut.a(u))).filter(|&(_, a)| a > 0.0).collect();
                if members.iter().map(|m| m.1).sum::<f64>() > cut.rhs + 1e-9 {
                    let mut e = Expression::with_capacity(members.len());
                    for &(j, a) in &members {
                        e.add_mul(a, x[j]);
                    }
                    out.push((k as usize, e.leq(cut.rhs)));
                }
            }
        }
        out
    }

    /// The model with its rows added family by family; returns the keys of each
    /// family's rows, in the order they were added, and the number of rows.
    fn build(&self, integer: bool) -> (::highs::Model, RowFamilies<Vec<usize>>, usize) {
        let mut pv = ProblemVariables::new();
        let x: Vec<Variable> = self
            .cols
            .iter()
            .map(|_| pv.add(if integer { variable().binary() } else { variable().min(0.0).max(1.0) }))
            .collect();
        let mut problem = pv.minimise(self.objective(&x)).using(highs_solver);
        let families = RowFamilies {
            capacity: self.capacity_rows(&x),
            conflict: if self.conflicts { self.conflict_rows(&x) } else { Vec::new() },
            triple: if self.conflicts { self.triple_rows(&x) } else { Vec::new() },
            lifted: if self.conflicts { self.cut_rows(&x) } else { Vec::new() },
        };
        let mut add = |rows: Vec<(usize, Constraint)>| -> Vec<usize> {
            rows.into_iter()
                .map(|(k, c)| {
                    problem.add_constraint(c);
                    k
                })
                .collect()
        };
        // The order here is the order of the rows, hence of their duals.
        let keys = RowFamilies {
            capacity: add(families.capacity),
            conflict: add(families.conflict),
            triple: add(families.triple),
            lifted: add(families.lifted),
        };
        let mut nrows = keys.capacity.len() + keys.conflict.len() + keys.triple.len() + keys.lifted.len();
        for c in self.assignment_rows(&x) {
            problem.add_constraint(c);
            nrows += 1;
        }
        let mut model = problem.into_inner();
        model.make_quiet();
        model.set_option("threads", 1);
        (model, keys, nrows)
    }

    fn constant(&self) -> f64 {
        self.part.penalty.iter().sum()
    }

    /// The LP relaxation: its duals price capacity (shadow prices) and drive the
    /// Lagrangian bound.
    pub fn solve_lp(&self, limit: Limit) -> Option<LpResult> {
        if self.cols.is_empty() {
            return None;
        }
        let started = std::time::Instant::now();
        let (mut model, keys, nrows) = self.build(false);
        let built = started.elapsed().as_secs_f64();
        limit.apply(&mut model, false);
        if self.interior {
            model.set_option("solver", "ipm");
        }
        let solved = model.try_solve().ok()?;
        tracing::debug!(
            columns = self.cols.len(),
            rows = nrows,
            build_seconds = built,
            solve_seconds = started.elapsed().as_secs_f64() - built,
            iterations = solved.simplex_iteration_count(),
            status = ?solved.status(),
            "part LP"
        );
        limit.check(solved.status());
        if solved.status() != ::highs::HighsModelStatus::Optimal {
            return None;
        }
        let sol = solved.get_solution();
        let duals = sol.dual_rows();
        let mut mult = Mult::zero(self.part);
        // Rows were added family by family (see `build`), so their duals follow in
        // that order.
        let mut offset = 0;
        let mut take = |keys: &[usize], target: &mut Vec<f64>| {
            for (i, &k) in keys.iter().enumerate() {
                target[k] = (-duals.get(offset + i).copied().unwrap_or(0.0)).max(0.0);
            }
            offset += keys.len();
        };
        let target = mult.families_mut();
        take(&keys.capacity, target.capacity);
        take(&keys.conflict, target.conflict);
        take(&keys.triple, target.triple);
        take(&keys.lifted, target.lifted);
        let x = sol.columns().to_vec();
        Some(LpResult { value: solved.objective_value() + self.constant(), mult, x })
    }

    /// The MILP from a warm start, within its limit and an absolute gap.
    pub fn solve_mip(&self, start: Option<&Sel>, limit: Limit, abs_gap: f64, seed: i32) -> Option<MipResult> {
        if self.cols.is_empty() {
            return None;
        }
        let (mut model, _, _) = self.build(true);
        limit.apply(&mut model, true);
        model.set_option("mip_abs_gap", abs_gap.max(1e-6));
        model.set_option("mip_rel_gap", 1e-9);
        model.set_option("random_seed", seed);
        if let Some(sel) = start {
            let mut x = vec![0.0; self.cols.len()];
            let index: std::collections::HashMap<Col, usize> =
                self.cols.iter().enumerate().map(|(j, c)| (*c, j)).collect();
            for (r, s) in sel.iter().enumerate() {
                if let Some((p, st)) = s
                    && let Some(&j) = index.get(&Col { r: r as u32, p: *p as u32, s: *st })
                {
                    x[j] = 1.0;
                }
            }
            // A rejected start only costs the warm start, never the solve.
            let _ = model.try_set_solution(Some(&x), None, None, None);
        }
        let solved = model.try_solve().ok()?;
        limit.check(solved.status());
        let bound_raw = solved.double_info_value(c"mip_dual_bound").unwrap_or(f64::NEG_INFINITY);
        let bound = if bound_raw.is_finite() { bound_raw + self.constant() } else { f64::NEG_INFINITY };
        let sel = (solved.primal_solution_status() == ::highs::HighsSolutionStatus::Feasible).then(|| {
            let sol = solved.get_solution();
            let mut sel: Sel = vec![None; self.part.reqs.len()];
            for (j, &v) in sol.columns().iter().enumerate() {
                if v > 0.5 {
                    let c = self.cols[j];
                    sel[c.r as usize] = Some((c.p as usize, c.s));
                }
            }
            sel
        });
        let finished = solved.status() == ::highs::HighsModelStatus::Optimal;
        Some(MipResult { sel, bound, finished })
    }
}
