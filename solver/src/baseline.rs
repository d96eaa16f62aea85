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

/// The whole instance as one MILP, solved by HiGHS from scratch within `time_limit`.
pub fn monolithic(instance: &Instance, time_limit: Duration) -> Result<BaselineRun, SolveError> {
    let started = Instant::now();
    let data = Data::new(instance)?;
    let dec = decompose(&data, usize::MAX);
    let weeks = data.weeks;
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
        move_week: instance.weights.move_week,
        weeks,
        // The plain model of the rules: no added rows.
        cuts: Default::default(),
    };
    for part in dec.parts {
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
    let (mut placement, constant) = placement_with_pins(&data);
    let forced: f64 = dec.forced_out.iter().map(|&r| data.penalty(r)).sum();
    let cols = all.all_columns();
    let columns = cols.len();
    let model = PartModel::new(&all, cols).without_conflicts();
    let left = time_limit.saturating_sub(started.elapsed()).as_secs_f64();
    let res = model.solve_mip(None, Limit::seconds(left), 1e-6, 0);
    let Some(res) = res else {
        return Ok(BaselineRun { plan: None, columns, seconds: started.elapsed().as_secs_f64() });
    };
    let Some(sel) = res.sel else {
        return Ok(BaselineRun { plan: None, columns, seconds: started.elapsed().as_secs_f64() });
    };
    // Labs of the merged model are global lab indices, so placements map directly.
    for (r, s) in sel.iter().enumerate() {
        placement[all.reqs[r]] = s.map(|(p, st)| (all.labs[all.pairs[r][p].lab as usize], st));
    }
    let bound = constant + forced + res.bound;
    let plan = assemble(&data, &placement, bound, &HashMap::new(), started.elapsed().as_secs_f64());
    Ok(BaselineRun { plan: Some(plan), columns, seconds: started.elapsed().as_secs_f64() })
}
