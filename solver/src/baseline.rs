//! Reference methods the benchmark compares against: the plain monolithic MILP of the
//! same rules (one HiGHS model, no decomposition, no heuristic start, no added rows)
//! and a greedy earliest-due-date plan.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::data::Data;
use crate::error::SolveError;
use crate::explain::assemble;
use crate::heuristic::{Order, greedy_plain};
use crate::milp::{Limit, PartModel};
use crate::model::{Pair, Part};
use crate::part::decompose;
use crate::types::{Instance, Plan};

/// What a reference run produced; `plan` is `None` when the method found no plan.
#[derive(Debug)]
pub struct BaselineRun {
    pub plan: Option<Plan>,
    pub columns: usize,
    pub seconds: f64,
}

fn placement_with_pins(data: &Data) -> (Vec<Option<(usize, u32)>>, f64) {
    let mut placement = vec![None; data.inst.requests.len()];
    let mut constant = 0.0;
    for (r, pin) in data.pinned.iter().enumerate() {
        if let Some((l, s)) = *pin {
            placement[r] = Some((l, s));
            let span = data.footprint(data.reqs[r].test_type, l).map_or(1, |f| f.span);
            constant += data.booking_cost(r, l, s, s + span - 1);
        }
    }
    (placement, constant)
}

/// Requests in order of due week, each to its cheapest booking that still fits.
pub fn greedy_edd(instance: &Instance) -> Result<Plan, SolveError> {
    let started = Instant::now();
    let data = Data::new(instance)?;
    let dec = decompose(&data, usize::MAX);
    let (mut placement, _) = placement_with_pins(&data);
    for part in &dec.parts {
        let sel = greedy_plain(part, Order::Edd, None);
        for (r, s) in sel.iter().enumerate() {
            placement[part.reqs[r]] = s.map(|(p, st)| (part.labs[part.pairs[r][p].lab as usize], st));
        }
    }
    // A greedy plan proves nothing: its bound is the trivial one.
    Ok(assemble(&data, &placement, 0.0, &HashMap::new(), started.elapsed().as_secs_f64()))
}

/// Number of columns of the full model, without building it.
pub fn count_columns(instance: &Instance) -> Result<usize, SolveError> {
    let data = Data::new(instance)?;
    Ok(decompose(&data, usize::MAX).parts.iter().map(|p| p.num_cols()).sum())
}

/// What a merged MILP gives: its columns, and (when it found a plan) where each of its
/// requests is placed and its bound.
type Merged = (usize, Option<(Vec<(usize, Option<(usize, u32)>)>, f64)>);

/// The parts as one MILP, solved by HiGHS from scratch within `seconds`: the placement
/// of each of their requests and the MILP's bound over them, or `None` without a plan.
fn merged_mip(data: &Data, parts: Vec<Part>, seconds: f64) -> Merged {
    // One model over every part: (lab, equipment) pairs become the rows' labs.
    let mut all = Part {
        eq: 0,
        reqs: Vec::new(),
        labs: Vec::new(),
        cap: Vec::new(),
        pairs: Vec::new(),
        floor: Vec::new(),
        penalty: Vec::new(),
        due: Vec::new(),
        tard_rate: Vec::new(),
        move_week: data.inst.weights.move_week,
        weeks: data.weeks,
        // The plain model of the rules: no added rows.
        cuts: Default::default(),
    };
    for part in parts {
        let offset = all.labs.len() as u32;
        all.labs.extend(part.labs);
        all.cap.extend(part.cap);
        all.reqs.extend(part.reqs);
        all.floor.extend(part.floor);
        all.penalty.extend(part.penalty);
        all.due.extend(part.due);
        all.tard_rate.extend(part.tard_rate);
        all.pairs.extend(
            part.pairs
                .into_iter()
                .map(|ps| ps.into_iter().map(|p| Pair { lab: p.lab + offset, ..p }).collect::<Vec<_>>()),
        );
    }
    let cols = all.all_columns();
    let columns = cols.len();
    if all.reqs.is_empty() {
        return (0, Some((Vec::new(), 0.0)));
    }
    let model = PartModel::new(&all, cols).without_conflicts();
    let Some(res) = model.solve_mip(None, Limit::seconds(seconds), 1e-6, 0) else { return (columns, None) };
    let Some(sel) = res.sel else { return (columns, None) };
    // Labs of the merged model are global lab indices, so placements map directly.
    let placed = sel
        .iter()
        .enumerate()
        .map(|(r, s)| (all.reqs[r], s.map(|(p, st)| (all.labs[all.pairs[r][p].lab as usize], st))))
        .collect();
    (columns, Some((placed, res.bound)))
}

/// The whole instance as one MILP, solved by HiGHS from scratch within `time_limit`.
pub fn monolithic(instance: &Instance, time_limit: Duration) -> Result<BaselineRun, SolveError> {
    let started = Instant::now();
    let data = Data::new(instance)?;
    let dec = decompose(&data, usize::MAX);
    let (mut placement, constant) = placement_with_pins(&data);
    let forced: f64 = dec.forced_out.iter().map(|&r| data.penalty(r)).sum();
    let left = time_limit.saturating_sub(started.elapsed()).as_secs_f64();
    let (columns, res) = merged_mip(&data, dec.parts, left);
    let Some((placed, bound)) = res else {
        return Ok(BaselineRun { plan: None, columns, seconds: started.elapsed().as_secs_f64() });
    };
    for (r, p) in placed {
        placement[r] = p;
    }
    let plan = assemble(&data, &placement, constant + forced + bound, &HashMap::new(), started.elapsed().as_secs_f64());
    Ok(BaselineRun { plan: Some(plan), columns, seconds: started.elapsed().as_secs_f64() })
}

/// HiGHS on each equipment class apart (the plain model of the rules, no decomposition
/// within the class, no heuristic), each within `per_class`, `threads` classes at a
/// time: the reference the optimizer must not lose to on instances of 500–2,000
/// requests. `plan` is `None` when some class got no plan.
pub fn per_class(instance: &Instance, per_class: Duration, threads: usize) -> Result<BaselineRun, SolveError> {
    let started = Instant::now();
    let data = Data::new(instance)?;
    let dec = decompose(&data, usize::MAX);
    let (mut placement, constant) = placement_with_pins(&data);
    let forced: f64 = dec.forced_out.iter().map(|&r| data.penalty(r)).sum();
    let mut classes: Vec<Vec<Part>> = Vec::new();
    let mut index: HashMap<usize, usize> = HashMap::new();
    for part in dec.parts {
        let k = *index.entry(part.eq).or_insert_with(|| {
            classes.push(Vec::new());
            classes.len() - 1
        });
        classes[k].push(part);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| SolveError::Solver(e.to_string()))?;
    let seconds = per_class.as_secs_f64();
    let results: Vec<Merged> = pool.install(|| {
        use rayon::prelude::*;
        classes.into_par_iter().map(|parts| merged_mip(&data, parts, seconds)).collect()
    });
    let columns = results.iter().map(|r| r.0).sum();
    let mut bound = constant + forced;
    for (_, res) in results {
        let Some((placed, b)) = res else {
            return Ok(BaselineRun { plan: None, columns, seconds: started.elapsed().as_secs_f64() });
        };
        bound += b;
        for (r, p) in placed {
            placement[r] = p;
        }
    }
    let plan = assemble(&data, &placement, bound, &HashMap::new(), started.elapsed().as_secs_f64());
    Ok(BaselineRun { plan: Some(plan), columns, seconds: started.elapsed().as_secs_f64() })
}
