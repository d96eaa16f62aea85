//! Greedy plans for one part: fast, always valid, and the starting point of the MILP.

use crate::budget::Stop;
use crate::data::HOURS_EPS;
use crate::model::{Col, Pair, Part, Sel};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Highest penalty first, then earliest due week.
    PriorityDue,
    /// Highest penalty first, then the largest equipment demand: big tests are the
    /// hardest to fit once capacity fragments.
    PriorityHours,
    /// Earliest due week first, ignoring priority: the plain baseline.
    Edd,
}

pub(crate) fn fits(part: &Part, load: &[f64], p: &Pair, start: u32) -> bool {
    (start..start + p.span).all(|w| {
        let row = part.row(p.lab, w);
        load[row] + p.usage <= part.cap[p.lab as usize][w as usize] + HOURS_EPS
    })
}

pub(crate) fn apply(part: &Part, load: &mut [f64], p: &Pair, start: u32, sign: f64) {
    for w in start..start + p.span {
        load[part.row(p.lab, w)] += sign * p.usage;
    }
}

pub(crate) fn load_of(part: &Part, sel: &Sel) -> Vec<f64> {
    let mut load = vec![0.0; part.labs.len() * part.weeks as usize];
    for (r, s) in sel.iter().enumerate() {
        if let Some((p, start)) = s {
            apply(part, &mut load, &part.pairs[r][*p], *start, 1.0);
        }
    }
    load
}

/// Assigns requests one by one in `order`, each to its cheapest booking that still
/// fits. With `prices` (per capacity row, e.g. LP duals) the choice also weighs the
/// congestion a booking causes, but the plan is always valid.
pub(crate) fn greedy(part: &Part, order: Order, prices: Option<&[f64]>, stop: &Stop) -> Sel {
    let mut sel = greedy_plain(part, order, prices);
    let mut load = load_of(part, &sel);
    improve(part, &mut sel, &mut load, stop);
    sel
}

/// The one-pass greedy without local search.
pub(crate) fn greedy_plain(part: &Part, order: Order, prices: Option<&[f64]>) -> Sel {
    greedy_pass(part, order, prices, false)
}

/// The one-pass greedy that first puts every request back on its current booking
/// where it still fits, in `order`, and then books the others: a re-plan keeps the
/// published plan's bookings unless moving them pays, and booking the new requests
/// first would take the weeks the current bookings hold.
pub(crate) fn greedy_keeping(part: &Part, order: Order) -> Sel {
    greedy_pass(part, order, None, true)
}

fn greedy_pass(part: &Part, order: Order, prices: Option<&[f64]>, keep_current: bool) -> Sel {
    let n = part.reqs.len();
    let mut idx: Vec<usize> = (0..n).collect();
    let demand = |r: usize| part.pairs[r].first().map_or(0.0, |p| p.usage * f64::from(p.span));
    match order {
        Order::PriorityDue => {
            idx.sort_by(|&a, &b| part.penalty[b].total_cmp(&part.penalty[a]).then(part.due[a].cmp(&part.due[b])))
        }
        Order::PriorityHours => {
            idx.sort_by(|&a, &b| part.penalty[b].total_cmp(&part.penalty[a]).then(demand(b).total_cmp(&demand(a))))
        }
        Order::Edd => idx.sort_by_key(|&r| (part.due[r], r)),
    }
    let mut load = vec![0.0; part.labs.len() * part.weeks as usize];
    let mut sel: Sel = vec![None; n];
    if keep_current {
        for &r in &idx {
            if let Some((p, s)) = part.home_col(r)
                && fits(part, &load, &part.pairs[r][p], s)
            {
                apply(part, &mut load, &part.pairs[r][p], s, 1.0);
                sel[r] = Some((p, s));
            }
        }
    }
    for r in idx {
        if sel[r].is_some() {
            continue;
        }
        if let Some((_, pi, s)) = best_fit(part, &load, r, prices) {
            apply(part, &mut load, &part.pairs[r][pi], s, 1.0);
            sel[r] = Some((pi, s));
        }
    }
    sel
}

/// Rounds an LP relaxation: bookings in order of decreasing LP value, each kept when
/// its request is still open and it fits, then the priced greedy for the requests left
/// and the local search. Time-indexed relaxations are mostly integral where capacity is
/// tight, so this keeps the LP's packing where a one-pass greedy fragments capacity.
pub(crate) fn round_lp(part: &Part, cols: &[Col], x: &[f64], prices: &[f64], stop: &Stop) -> Sel {
    let mut order: Vec<usize> = (0..cols.len().min(x.len())).filter(|&j| x[j] > 1e-6).collect();
    let cost = |j: usize| {
        let c = cols[j];
        part.col_cost(c.r as usize, &part.pairs[c.r as usize][c.p as usize], c.s)
    };
    order.sort_by(|&a, &b| x[b].total_cmp(&x[a]).then(cost(a).total_cmp(&cost(b))));
    let mut load = vec![0.0; part.labs.len() * part.weeks as usize];
    let mut sel: Sel = vec![None; part.reqs.len()];
    for j in order {
        let c = cols[j];
        let r = c.r as usize;
        let p = &part.pairs[r][c.p as usize];
        if sel[r].is_none() && fits(part, &load, p, c.s) {
            apply(part, &mut load, p, c.s, 1.0);
            sel[r] = Some((c.p as usize, c.s));
        }
    }
    let mut open: Vec<usize> = (0..sel.len()).filter(|&r| sel[r].is_none()).collect();
    open.sort_by(|&a, &b| part.penalty[b].total_cmp(&part.penalty[a]).then(part.due[a].cmp(&part.due[b])));
    for r in open {
        if let Some((_, pi, s)) = best_fit(part, &load, r, Some(prices)) {
            apply(part, &mut load, &part.pairs[r][pi], s, 1.0);
            sel[r] = Some((pi, s));
        }
    }
    improve(part, &mut sel, &mut load, stop);
    sel
}

/// The cheapest booking of r that fits the load, by cost plus priced capacity use.
fn best_fit(part: &Part, load: &[f64], r: usize, prices: Option<&[f64]>) -> Option<(f64, usize, u32)> {
    let mut best: Option<(f64, usize, u32)> = None;
    for (pi, p) in part.pairs[r].iter().enumerate() {
        for &s in &p.starts {
            let mut score = part.col_cost(r, p, s);
            if let Some(pr) = prices {
                score += (s..s + p.span).map(|w| pr[part.row(p.lab, w)] * p.usage).sum::<f64>();
            }
            if best.is_some_and(|b| b.0 <= score) || !fits(part, load, p, s) {
                continue;
            }
            best = Some((score, pi, s));
        }
    }
    best
}

/// Work of trying one booking in `eject_insert`, in columns scanned: it weighs each
/// booking it overlaps.
const EJECT_WORK: u64 = 4;

/// The columns of request r: the work of scanning its bookings once.
fn work_of(part: &Part, r: usize) -> u64 {
    part.pairs[r].iter().map(|p| p.starts.len() as u64).sum::<u64>() + 1
}

/// Cheap local search: move each booked request to a cheaper booking that fits, and
/// book left-out requests where they now fit; repeat while anything improves. Stops at
/// `stop`: on a part of tens of thousands of requests one round takes long, and every
/// step keeps the plan valid, so stopping anywhere is safe.
pub(crate) fn improve(part: &Part, sel: &mut Sel, load: &mut [f64], stop: &Stop) {
    for _round in 0..4 {
        let mut changed = false;
        #[allow(clippy::needless_range_loop)] // r also indexes the part's pairings and penalties
        for r in 0..sel.len() {
            if stop.spend(work_of(part, r)) {
                return;
            }
            let current = match sel[r] {
                Some((p, s)) => part.col_cost(r, &part.pairs[r][p], s),
                None => part.penalty[r],
            };
            if let Some((p, s)) = sel[r] {
                apply(part, load, &part.pairs[r][p], s, -1.0);
            }
            let mut best: Option<(f64, usize, u32)> = None;
            for (pi, p) in part.pairs[r].iter().enumerate() {
                for &s in &p.starts {
                    let c = part.col_cost(r, p, s);
                    if c >= current - 1e-9 || best.is_some_and(|b| b.0 <= c) || !fits(part, load, p, s) {
                        continue;
                    }
                    best = Some((c, pi, s));
                }
            }
            if let Some((_, pi, s)) = best {
                sel[r] = Some((pi, s));
                changed = true;
            }
            if let Some((p, s)) = sel[r] {
                apply(part, load, &part.pairs[r][p], s, 1.0);
            }
        }
        changed |= eject_insert(part, sel, load, stop);
        if !changed || stop.done() {
            break;
        }
    }
}

/// Books left-out requests by moving one booked request out of the way: for each
/// booking of a left-out request r, each booked request b using one of its rows is taken
/// out, r put in, and b rebooked at its cheapest fitting booking or left out, whichever
/// lowers the objective most. Single moves cannot do this: where capacity is full, r
/// fits only once b has moved, and b moves only to a costlier booking.
fn eject_insert(part: &Part, sel: &mut Sel, load: &mut [f64], stop: &Stop) -> bool {
    let mut changed = false;
    let mut open: Vec<usize> = (0..sel.len()).filter(|&r| sel[r].is_none()).collect();
    open.sort_by(|&a, &b| part.penalty[b].total_cmp(&part.penalty[a]));
    // The requests booked at each lab: the only candidates to move out of the way, so
    // that a part of many labs does not scan every booking for every left-out request.
    let mut at_lab: Vec<Vec<usize>> = vec![Vec::new(); part.labs.len()];
    for (b, booked) in sel.iter().enumerate() {
        if let Some((bp, _)) = *booked {
            at_lab[part.pairs[b][bp].lab as usize].push(b);
        }
    }
    for r in open {
        // Each booking of r is tried against the few bookings it overlaps at its lab.
        if stop.spend(EJECT_WORK * work_of(part, r)) {
            break;
        }
        // (gain, r's booking, blocker, blocker's new booking)
        type Move = (f64, (usize, u32), usize, Option<(usize, u32)>);
        let mut best: Option<Move> = None;
        for (pi, p) in part.pairs[r].iter().enumerate() {
            for &s in &p.starts {
                let gain_r = part.penalty[r] - part.col_cost(r, p, s);
                if gain_r <= 1e-9 || best.as_ref().is_some_and(|b| b.0 >= gain_r) {
                    continue;
                }
                for &b in &at_lab[p.lab as usize] {
                    let Some((bp, bs)) = sel[b] else { continue };
                    let bpair = &part.pairs[b][bp];
                    if bpair.lab != p.lab || bs >= s + p.span || s >= bs + bpair.span {
                        continue;
                    }
                    let old_b = part.col_cost(b, bpair, bs);
                    apply(part, load, bpair, bs, -1.0);
                    if fits(part, load, p, s) {
                        apply(part, load, p, s, 1.0);
                        let (new_b, nb) = match best_fit(part, load, b, None) {
                            Some((c, q, t)) if c < part.penalty[b] => (c, Some((q, t))),
                            _ => (part.penalty[b], None),
                        };
                        let gain = gain_r + old_b - new_b;
                        if gain > 1e-6 && best.as_ref().is_none_or(|m| gain > m.0) {
                            best = Some((gain, (pi, s), b, nb));
                        }
                        apply(part, load, p, s, -1.0);
                    }
                    apply(part, load, bpair, bs, 1.0);
                }
            }
        }
        if let Some((_, (pi, s), b, nb)) = best {
            if let Some((bp, bs)) = sel[b] {
                apply(part, load, &part.pairs[b][bp], bs, -1.0);
                at_lab[part.pairs[b][bp].lab as usize].retain(|&x| x != b);
            }
            apply(part, load, &part.pairs[r][pi], s, 1.0);
            at_lab[part.pairs[r][pi].lab as usize].push(r);
            sel[r] = Some((pi, s));
            sel[b] = nb;
            if let Some((q, t)) = nb {
                apply(part, load, &part.pairs[b][q], t, 1.0);
                at_lab[part.pairs[b][q].lab as usize].push(b);
            }
            changed = true;
        }
    }
    changed
}
