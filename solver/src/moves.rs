//! Current bookings a plan moves or drops: what each move pays, and what it saves.
//!
//! The saving of a move is the plan against the same plan with that booking kept,
//! made by a fixed repair, so that the solver and the validator compute the same figure
//! (docs/planning-model.md, "Stability"):
//! 1. the request goes back to its current booking;
//! 2. while a week of that booking is over capacity, of the other bookings at that lab
//!    and class that use the week (never a pinned one), the one using the most hours
//!    that week is taken out (the first in instance order on a tie);
//! 3. the requests taken out are rebooked in instance order, each at its cheapest
//!    booking that fits (its own move term included) when that is cheaper than leaving
//!    it out.
//!
//! saving = objective(repaired plan) − objective(plan) + the move's penalty. A plan
//! keeps its word when every move's saving is at least its penalty: no repaired plan
//! that keeps a booking it moved is cheaper. A current booking that breaks a rule, or
//! that pinned bookings leave no room for, cannot be kept: its move is forced.

use std::collections::HashMap;

use crate::data::{Data, HOURS_EPS};
use crate::types::{Move, Slot};

/// Where each request is booked: (lab, start week), or left out.
pub(crate) type Placement = Vec<Option<(usize, u32)>>;

/// Repairs tried at most per request when settling a plan; each one applied lowers
/// the objective (or, on a tie, the number of moves), so this only guards the time.
const SETTLE_PASSES: usize = 20;

/// A placement and the hours it uses at every (lab, class) and week.
pub(crate) struct Booked<'d, 'a> {
    data: &'d Data<'a>,
    pub placement: Placement,
    load: HashMap<(usize, usize), Vec<f64>>,
    /// The requests booked at each (lab, class).
    at: HashMap<(usize, usize), Vec<usize>>,
}

/// What keeping a moved booking takes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Keep {
    /// The repaired plan: its objective less the plan's, and where each request it
    /// changes is then booked.
    Repair { delta: f64, changes: Vec<(usize, Option<(usize, u32)>)> },
    /// The booking cannot be kept, for this reason.
    Forced(String),
}

impl<'d, 'a> Booked<'d, 'a> {
    pub fn new(data: &'d Data<'a>, placement: Placement) -> Self {
        let mut b = Booked { data, placement: vec![None; placement.len()], load: HashMap::new(), at: HashMap::new() };
        for (r, p) in placement.into_iter().enumerate() {
            if let Some((l, s)) = p {
                b.add(r, l, s);
            }
        }
        b
    }

    fn eq(&self, r: usize) -> usize {
        self.data.eq_of_type[self.data.reqs[r].test_type]
    }

    fn add(&mut self, r: usize, l: usize, s: u32) {
        let (t, e, weeks) = (self.data.reqs[r].test_type, self.eq(r), self.data.weeks as usize);
        if let Some(fp) = self.data.footprint(t, l) {
            let load = self.load.entry((l, e)).or_insert_with(|| vec![0.0; weeks]);
            for w in s..s + fp.span {
                if let Some(x) = load.get_mut(w as usize) {
                    *x += fp.usage;
                }
            }
        }
        self.at.entry((l, e)).or_default().push(r);
        self.placement[r] = Some((l, s));
    }

    fn remove(&mut self, r: usize) {
        let Some((l, s)) = self.placement[r].take() else { return };
        let (t, e) = (self.data.reqs[r].test_type, self.eq(r));
        if let Some(fp) = self.data.footprint(t, l)
            && let Some(load) = self.load.get_mut(&(l, e))
        {
            for w in s..s + fp.span {
                if let Some(x) = load.get_mut(w as usize) {
                    *x -= fp.usage;
                }
            }
        }
        if let Some(v) = self.at.get_mut(&(l, e)) {
            v.retain(|&x| x != r);
        }
    }

    fn used(&self, l: usize, e: usize, w: u32) -> f64 {
        self.load.get(&(l, e)).and_then(|v| v.get(w as usize)).copied().unwrap_or(0.0)
    }

    /// The objective term of request r in this placement.
    pub fn term(&self, r: usize) -> f64 {
        let data = self.data;
        match self.placement[r] {
            Some((l, s)) => {
                let span = data.footprint(data.reqs[r].test_type, l).map_or(1, |f| f.span);
                data.booking_cost(r, l, s, s + span - 1)
            }
            None => data.penalty(r),
        }
    }

    /// The cheapest booking of request r (not booked) that the rules allow and that
    /// fits the load: (cost, lab, start). Labs are visited by on-time cost, so the scan
    /// stops at the first lab that cannot beat the best found.
    fn cheapest(&self, r: usize) -> Option<(f64, usize, u32)> {
        let data = self.data;
        let req = &data.reqs[r];
        let (t, e) = (req.test_type, self.eq(r));
        let max_late = data.inst.weights.max_late_weeks;
        let mut labs: Vec<(f64, usize)> = data.type_labs[t]
            .iter()
            .filter(|l| !req.excluded.contains(l))
            .map(|&l| (data.base_cost(r, l) + data.lab_move(r, l), l))
            .collect();
        labs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut best: Option<(f64, usize, u32)> = None;
        for (on_time, l) in labs {
            if best.is_some_and(|b| b.0 <= on_time) {
                break;
            }
            let Some(fp) = data.footprint(t, l) else { continue };
            for s in req.release..data.weeks {
                let end = s + fp.span - 1;
                if end >= data.weeks || data.late_weeks(r, end) > max_late {
                    break;
                }
                let cost = data.booking_cost(r, l, s, end);
                if best.is_some_and(|b| b.0 <= cost) {
                    continue;
                }
                if (s..=end).all(|w| self.used(l, e, w) + fp.usage <= data.cap(l, e, w) + HOURS_EPS) {
                    best = Some((cost, l, s));
                }
            }
        }
        best
    }

    /// What keeping request r at its current booking takes, by the repair of this
    /// module's header. The placement is left as it was.
    pub fn keep(&mut self, r: usize) -> Keep {
        let data = self.data;
        let Some((l0, s0)) = data.current[r] else {
            return Keep::Repair { delta: 0.0, changes: Vec::new() };
        };
        let fp = match data.rule_check(r, l0, s0) {
            Ok(fp) => fp,
            Err(rule) => return Keep::Forced(rule),
        };
        let e = self.eq(r);
        let before = self.placement.clone();
        let mut touched = vec![r];
        let old_terms = |b: &Booked, who: &[usize]| who.iter().map(|&x| b.term(x)).sum::<f64>();
        let mut old = self.term(r);
        self.remove(r);
        self.add(r, l0, s0);
        let mut blocked = None;
        let mut out = Vec::new();
        for w in s0..s0 + fp.span {
            while self.used(l0, e, w) > data.cap(l0, e, w) + HOURS_EPS {
                let victim = self.at.get(&(l0, e)).and_then(|v| {
                    v.iter()
                        .copied()
                        .filter(|&b| b != r && data.pinned[b].is_none())
                        .filter_map(|b| {
                            let (_, s) = self.placement[b]?;
                            let f = data.footprint(data.reqs[b].test_type, l0)?;
                            (s <= w && w < s + f.span).then_some((f.usage, b))
                        })
                        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
                });
                let Some((_, b)) = victim else {
                    blocked = Some(w);
                    break;
                };
                old += self.term(b);
                self.remove(b);
                out.push(b);
                touched.push(b);
            }
            if blocked.is_some() {
                break;
            }
        }
        let result = match blocked {
            Some(w) => {
                Keep::Forced(format!("pinned bookings leave no room for it at {} in week {w}", data.inst.labs[l0].id))
            }
            None => {
                out.sort_unstable();
                for &b in &out {
                    if let Some((cost, l, s)) = self.cheapest(b)
                        && cost < data.penalty(b)
                    {
                        self.add(b, l, s);
                    }
                }
                let new = old_terms(self, &touched);
                Keep::Repair { delta: new - old, changes: touched.iter().map(|&x| (x, self.placement[x])).collect() }
            }
        };
        // Back to the placement as it was.
        for &x in &touched {
            self.remove(x);
        }
        for &x in &touched {
            if let Some((l, s)) = before[x] {
                self.add(x, l, s);
            }
        }
        result
    }

    fn apply(&mut self, changes: &[(usize, Option<(usize, u32)>)]) {
        for &(x, _) in changes {
            self.remove(x);
        }
        for &(x, p) in changes {
            if let Some((l, s)) = p {
                self.add(x, l, s);
            }
        }
    }
}

/// Whether request r has a current booking that the placement does not keep.
pub(crate) fn is_moved(data: &Data, placement: &[Option<(usize, u32)>], r: usize) -> bool {
    data.current[r].is_some_and(|c| placement[r] != Some(c))
}

fn count_moved(data: &Data, placement: &[Option<(usize, u32)>]) -> usize {
    (0..placement.len()).filter(|&r| is_moved(data, placement, r)).count()
}

/// Money agrees when it differs by less than a kopeck per million roubles.
pub(crate) fn money_tolerance(a: f64, b: f64) -> f64 {
    1e-6 * a.abs().max(b.abs()).max(1.0) + 1e-6
}

/// Makes every move of the placement pay: while keeping some moved booking (by the
/// repair) costs no more than the plan, the repaired plan is taken. A tie is taken
/// only when it moves fewer bookings, so that each step lowers the objective or the
/// number of moves and the loop ends.
pub(crate) fn settle(data: &Data, placement: &mut Placement) {
    if data.current.iter().all(Option::is_none) {
        return;
    }
    let mut booked = Booked::new(data, std::mem::take(placement));
    for _ in 0..SETTLE_PASSES {
        let mut changed = false;
        for r in 0..booked.placement.len() {
            if !is_moved(data, &booked.placement, r) {
                continue;
            }
            let Keep::Repair { delta, changes } = booked.keep(r) else { continue };
            let tol = money_tolerance(delta, 0.0);
            let take = delta < -tol
                || (delta <= tol && {
                    let mut after = booked.placement.clone();
                    for &(x, p) in &changes {
                        after[x] = p;
                    }
                    count_moved(data, &after) < count_moved(data, &booked.placement)
                });
            if take {
                booked.apply(&changes);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    *placement = booked.placement;
}

/// The number of current bookings the placement moves or drops, and each move.
pub(crate) fn moves(data: &Data, placement: &[Option<(usize, u32)>]) -> (usize, Vec<Move>) {
    let inst = data.inst;
    let mut booked = Booked::new(data, placement.to_vec());
    let mut out = Vec::new();
    for (r, &placed) in placement.iter().enumerate() {
        let Some((l0, s0)) = data.current[r] else { continue };
        if placed == Some((l0, s0)) {
            continue;
        }
        let penalty = match placed {
            Some((l, s)) => data.move_cost(r, l, s),
            None => data.lab_move(r, usize::MAX),
        };
        let (saving, forced) = match booked.keep(r) {
            Keep::Repair { delta, .. } => (Some(delta + penalty), None),
            Keep::Forced(why) => (None, Some(why)),
        };
        out.push(Move {
            request: inst.requests[r].id.clone(),
            from: Slot { lab: inst.labs[l0].id.clone(), start_week: s0 },
            to: placed.map(|(l, s)| Slot { lab: inst.labs[l].id.clone(), start_week: s }),
            penalty,
            saving,
            forced,
        });
    }
    (out.len(), out)
}
