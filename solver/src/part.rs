//! Exact decomposition of an instance into independent parts, and the candidate
//! bookings (columns) of each part.
//!
//! Capacity rows never mix equipment classes and a request only ever uses labs it can
//! go to, so the connected components of the request–lab graph of one class share no
//! row: their optima add up to the optimum of the whole. Pinned bookings are fixed, so
//! they only take their hours out of the capacity the parts see.

use rayon::prelude::*;

use crate::cuts::part_cuts;
use crate::data::{Data, HOURS_EPS};
use crate::model::{Cuts, Pair, Part};

/// How the instance splits, and what lies outside every part.
#[derive(Debug)]
pub(crate) struct Decomposition {
    pub parts: Vec<Part>,
    /// Requests with no booking the rules allow: unassigned in every plan.
    pub forced_out: Vec<usize>,
}

struct Dsu(Vec<usize>);
impl Dsu {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.0[a] = b;
        }
    }
}

/// Feasible starts of a test type at a lab, ignoring the request window: every week
/// of the run has room for the test alone. A start that fails this can never be in a
/// plan, so dropping it is exact.
struct TypeLab {
    span: u32,
    usage: f64,
    /// ok[s]: the run starting at s fits.
    ok: Vec<bool>,
}

/// Pairings in a part's sample taken to estimate its number of columns.
const START_SAMPLE: usize = 2000;
/// Pairings a request keeps at least when its part is truncated.
const MIN_KEPT_PAIRINGS: usize = 4;
/// Rounds of the pooled-capacity price iteration of [`lab_prices`].
const PRICE_ROUNDS: u32 = 20;
/// Share of a lab's hours over the horizon that the pooled relaxation counts on: the
/// rest is lost to weeks, windows and fragmentation.
const POOLED_SHARE: f64 = 0.9;

/// The pairings a request keeps in its part: (candidate position, on-time cost, allowed
/// starts), cheapest first.
type Kept = Vec<(usize, f64, Vec<u32>)>;

/// A price per hour for each lab of a part, from a relaxation that pools each lab's
/// hours over the horizon: requests take their cheapest lab at cost + price × hours, and
/// the price of a lab rises while they ask it for more than [`POOLED_SHARE`] of its
/// hours and falls back otherwise. It only decides which pairings a part too large to
/// keep whole keeps, so it needs to be roughly right, not exact.
fn lab_prices(
    nlabs: usize,
    members: &[usize],
    cand: &[Vec<(usize, f64)>],
    lab_of: impl Fn(usize, usize) -> usize,
    hours: impl Fn(usize, usize) -> f64,
    capacity: impl Fn(usize) -> f64,
) -> Vec<f64> {
    let mut price = vec![0.0; nlabs];
    let mut cap = vec![f64::NAN; nlabs];
    let (mut cost_sum, mut hours_sum) = (0.0, 0.0);
    for &i in members {
        for &(k, c) in &cand[i] {
            let l = lab_of(i, k);
            if cap[l].is_nan() {
                cap[l] = POOLED_SHARE * capacity(l);
            }
            cost_sum += c;
            hours_sum += hours(i, k);
        }
    }
    // Steps in roubles per hour, of the order of the part's average cost per hour.
    let scale = cost_sum / hours_sum.max(1e-9);
    let mut load = vec![0.0; nlabs];
    for round in 0..PRICE_ROUNDS {
        load.iter_mut().for_each(|x| *x = 0.0);
        for &i in members {
            let mut best = (f64::INFINITY, usize::MAX, 0.0);
            for &(k, c) in &cand[i] {
                let (l, h) = (lab_of(i, k), hours(i, k));
                let v = c + price[l] * h;
                if v < best.0 {
                    best = (v, l, h);
                }
            }
            if let Some(x) = load.get_mut(best.1) {
                *x += best.2;
            }
        }
        let step = scale * 0.5 / (1.0 + f64::from(round) / 4.0);
        for l in 0..nlabs {
            if cap[l].is_nan() {
                continue;
            }
            let over = load[l] / cap[l].max(1.0) - 1.0;
            price[l] = (price[l] + step * over.clamp(-1.0, 4.0)).max(0.0);
        }
    }
    price
}

/// What the decomposition knows of every (test type, lab) pairing: the capacity left
/// after pinned bookings and the starts where a test fits alone.
struct Scan<'a> {
    data: &'a Data<'a>,
    /// Capacity left after pinned bookings, [lab][equipment][week].
    residual: Vec<Vec<Vec<f64>>>,
    /// [test type][position in `data.type_labs`].
    type_lab: Vec<Vec<TypeLab>>,
    /// Requests that are not pinned: the ones the parts plan.
    free: Vec<usize>,
}

impl<'a> Scan<'a> {
    fn new(data: &'a Data<'a>) -> Self {
        let residual = residual_capacity(data);
        let type_lab = type_lab_starts(data, &residual);
        let free = (0..data.inst.requests.len()).filter(|&r| data.pinned[r].is_none()).collect();
        Scan { data, residual, type_lab, free }
    }

    fn pairing(&self, r: usize, k: usize) -> (&TypeLab, usize) {
        let t = self.data.reqs[r].test_type;
        (&self.type_lab[t][k], self.data.type_labs[t][k])
    }

    /// Equipment hours of request r's test at its k-th lab.
    fn hours(&self, r: usize, k: usize) -> f64 {
        let tl = self.pairing(r, k).0;
        tl.usage * f64::from(tl.span)
    }

    /// The starts the rules allow request r at its k-th lab, each cheaper than leaving
    /// the request out.
    fn allowed(&self, r: usize, k: usize) -> Vec<u32> {
        let data = self.data;
        let req = &data.reqs[r];
        let (tl, l) = self.pairing(r, k);
        if req.excluded.contains(&l) {
            return Vec::new();
        }
        let max_late = data.inst.weights.max_late_weeks;
        let pen = data.penalty(r);
        (req.release..data.weeks)
            .filter(|&s| u64::from(s) + u64::from(tl.span) <= u64::from(req.due) + u64::from(max_late) + 1)
            .filter(|&s| tl.ok.get(s as usize).copied().unwrap_or(false))
            // A booking costing at least the request's penalty is never better than
            // leaving it out, which frees capacity: dropping it is exact.
            .filter(|&s| data.booking_cost(r, l, s, s + tl.span - 1) < pen)
            .collect()
    }

    /// The pairings of request r with at least one allowed start, as (position in
    /// `type_labs`, on-time cost with the move to another lab), without listing their
    /// starts.
    fn candidates(&self, r: usize) -> Vec<(usize, f64)> {
        let data = self.data;
        let req = &data.reqs[r];
        let max_late = data.inst.weights.max_late_weeks;
        (0..data.type_labs[req.test_type].len())
            .filter_map(|k| {
                let (tl, l) = self.pairing(r, k);
                if req.excluded.contains(&l) || tl.span > data.weeks {
                    return None;
                }
                let last_by_late = (u64::from(req.due) + u64::from(max_late) + 1).checked_sub(u64::from(tl.span));
                let any = last_by_late.is_some_and(|last| {
                    (req.release..data.weeks).take_while(|&s| u64::from(s) <= last).any(|s| tl.ok[s as usize])
                });
                let base = data.base_cost(r, l) + data.lab_move(r, l);
                (any && base < data.penalty(r)).then_some((k, base))
            })
            .collect()
    }

    /// The pairing (position in the request's candidates) that the earliest-due-date
    /// greedy over every candidate pairing books for each member it books, as (member
    /// position, pairing). Starts are listed pairing by pairing, cheapest pairing first,
    /// and the scan stops at the first pairing whose on-time cost cannot beat the best
    /// fit found: on a part of millions of pairings it visits a few per request.
    fn edd_choices(&self, members: &[usize], cand: &[Vec<(usize, f64)>], e: usize) -> Vec<(usize, usize)> {
        let data = self.data;
        let mut order: Vec<usize> = (0..members.len()).collect();
        order.sort_by_key(|&j| (data.reqs[self.free[members[j]]].due, j));
        let mut load: std::collections::HashMap<usize, Vec<f64>> = std::collections::HashMap::new();
        let mut out = Vec::new();
        for j in order {
            let i = members[j];
            let r = self.free[i];
            let mut pairs = cand[i].clone();
            pairs.sort_by(|a, b| a.1.total_cmp(&b.1));
            let mut best: Option<(f64, usize, u32)> = None;
            for (k, base) in pairs {
                if best.is_some_and(|b| b.0 <= base) {
                    break;
                }
                let (tl, l) = self.pairing(r, k);
                let cap = &self.residual[l][e];
                let used = load.get(&l);
                for s in self.allowed(r, k) {
                    let cost = data.booking_cost(r, l, s, s + tl.span - 1);
                    if best.is_some_and(|b| b.0 <= cost) {
                        continue;
                    }
                    let fits = (s..s + tl.span).all(|w| {
                        let u = used.map_or(0.0, |v| v[w as usize]);
                        u + tl.usage <= cap[w as usize] + HOURS_EPS
                    });
                    if fits {
                        best = Some((cost, k, s));
                    }
                }
            }
            if let Some((_, k, s)) = best {
                let (tl, l) = self.pairing(r, k);
                let v = load.entry(l).or_insert_with(|| vec![0.0; data.weeks as usize]);
                for w in s..s + tl.span {
                    v[w as usize] += tl.usage;
                }
                out.push((j, k));
            }
        }
        out
    }

    /// The part of the requests `members` (positions in `free`) of equipment class `e`.
    /// When its columns would exceed `max_cols`, each request keeps some of its
    /// pairings and a floor under the others' cost.
    fn build_part(&self, members: &[usize], cand: &[Vec<(usize, f64)>], e: usize, max_cols: usize) -> Part {
        let data = self.data;
        let keep = self.pairings_kept(members, cand, max_cols);
        let (mut kept, floor): (Vec<Kept>, Vec<f64>) = if keep < usize::MAX {
            self.truncated_pairings(members, cand, e, keep)
        } else {
            let kept = members
                .iter()
                .map(|&i| {
                    let r = self.free[i];
                    let mut c = cand[i].clone();
                    c.sort_by(|a, b| a.1.total_cmp(&b.1));
                    c.into_iter().map(|(k, cost)| (k, cost, self.allowed(r, k))).filter(|x| !x.2.is_empty()).collect()
                })
                .collect();
            (kept, vec![f64::INFINITY; members.len()])
        };
        let mut lab_local = vec![u32::MAX; data.inst.labs.len()];
        let mut labs = Vec::new();
        let mut pairs = Vec::with_capacity(members.len());
        for (j, &i) in members.iter().enumerate() {
            let r = self.free[i];
            let ps = kept[j]
                .drain(..)
                .map(|(k, cost, starts)| {
                    let (tl, l) = self.pairing(r, k);
                    if lab_local[l] == u32::MAX {
                        lab_local[l] = labs.len() as u32;
                        labs.push(l);
                    }
                    let local = lab_local[l];
                    let home = data.current[r].and_then(|(l0, s0)| (l0 == l).then_some(s0));
                    Pair { lab: local, span: tl.span, usage: tl.usage, cost, starts, home }
                })
                .collect();
            pairs.push(ps);
        }
        let reqs: Vec<usize> = members.iter().map(|&i| self.free[i]).collect();
        let mut part = Part {
            eq: e,
            cap: labs.iter().map(|&l| self.residual[l][e].clone()).collect(),
            labs,
            pairs,
            floor,
            penalty: reqs.iter().map(|&r| data.penalty(r)).collect(),
            due: reqs.iter().map(|&r| data.reqs[r].due).collect(),
            tard_rate: reqs.iter().map(|&r| data.inst.weights.tardiness_per_week * data.reqs[r].priority).collect(),
            move_week: data.inst.weights.move_week,
            reqs,
            weeks: data.weeks,
            cuts: Cuts::default(),
        };
        part.cuts = part_cuts(&part);
        part
    }

    /// How many pairings each request keeps: all (`usize::MAX`) unless the part's
    /// columns, estimated from a sample of its pairings, exceed `max_cols`. Starts are
    /// listed only for the pairings kept, so that a part of millions of pairings never
    /// holds all their starts at once.
    fn pairings_kept(&self, members: &[usize], cand: &[Vec<(usize, f64)>], max_cols: usize) -> usize {
        let npairs: usize = members.iter().map(|&i| cand[i].len()).sum();
        let sample: Vec<usize> = members
            .iter()
            .flat_map(|&i| cand[i].iter().map(move |&(k, _)| (i, k)))
            .step_by((npairs / START_SAMPLE).max(1))
            .map(|(i, k)| self.allowed(self.free[i], k).len())
            .collect();
        let avg_starts = sample.iter().sum::<usize>() as f64 / sample.len().max(1) as f64;
        if npairs as f64 * avg_starts > max_cols as f64 {
            ((max_cols as f64 / members.len() as f64 / avg_starts.max(1.0)).floor() as usize).max(MIN_KEPT_PAIRINGS)
        } else {
            usize::MAX
        }
    }

    /// The `keep` pairings each request of a part too large to keep whole keeps, with
    /// their starts, cheapest first, and beside them each request's floor: the least
    /// on-time cost of the pairings it drops. Half are the cheapest; the other half the cheapest once each lab's hours
    /// are priced by how much the cheapest choices overbook it; and every pairing the
    /// earliest-due-date greedy over all of them books; and the pairing of its current
    /// booking. Keeping only the cheapest put every request of the generated
    /// 100,000-request instance on the same few low-priced labs, which could not hold
    /// them.
    fn truncated_pairings(
        &self,
        members: &[usize],
        cand: &[Vec<(usize, f64)>],
        e: usize,
        keep: usize,
    ) -> (Vec<Kept>, Vec<f64>) {
        let data = self.data;
        let prices = lab_prices(
            data.inst.labs.len(),
            members,
            cand,
            |i, k| self.pairing(self.free[i], k).1,
            |i, k| self.hours(self.free[i], k),
            |l| self.residual[l][e].iter().sum(),
        );
        // Requests apart in parallel: the largest part is built after the others are done.
        let (mut kept, floor): (Vec<Kept>, Vec<f64>) = members
            .par_iter()
            .map(|&i| {
                let r = self.free[i];
                let mut c = cand[i].clone();
                c.sort_by(|a, b| a.1.total_cmp(&b.1));
                let mut lowest = f64::INFINITY;
                if c.len() > keep {
                    let priced = |x: &(usize, f64)| {
                        x.1 + prices.get(self.pairing(r, x.0).1).copied().unwrap_or(0.0) * self.hours(r, x.0)
                    };
                    let cheap = keep.div_ceil(2);
                    let mut rest = c.split_off(cheap);
                    rest.sort_by(|a, b| priced(a).total_cmp(&priced(b)));
                    let dropped = rest.split_off((keep - cheap).min(rest.len()));
                    // Every booking of a dropped pairing costs at least its on-time
                    // cost, hence at least the least of theirs.
                    lowest = dropped.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
                    c.extend(rest);
                    c.sort_by(|a, b| a.1.total_cmp(&b.1));
                }
                let kept =
                    c.into_iter().map(|(k, cost)| (k, cost, self.allowed(r, k))).filter(|x| !x.2.is_empty()).collect();
                (kept, lowest)
            })
            .unzip();
        // The part keeps every pairing the earliest-due-date greedy over all of them
        // books, so that the part's own greedy in that order finds the same plan: the
        // kept pairings alone gave a plan 1.6 times that greedy's.
        let mut must = self.edd_choices(members, cand, e);
        // A request keeps the pairing of its current booking: leaving the booking where
        // it is should always be open to the part's plans.
        for (j, &i) in members.iter().enumerate() {
            let r = self.free[i];
            if let Some((l0, _)) = data.current[r]
                && let Some(&(k, _)) = cand[i].iter().find(|x| self.pairing(r, x.0).1 == l0)
            {
                must.push((j, k));
            }
        }
        for (j, k) in must {
            if !kept[j].iter().any(|x| x.0 == k) {
                let r = self.free[members[j]];
                let l = self.pairing(r, k).1;
                kept[j].push((k, data.base_cost(r, l) + data.lab_move(r, l), self.allowed(r, k)));
                kept[j].sort_by(|a, b| a.1.total_cmp(&b.1));
            }
        }
        (kept, floor)
    }
}

/// Capacity of every lab, class and week less what pinned bookings use.
fn residual_capacity(data: &Data) -> Vec<Vec<Vec<f64>>> {
    let (nlabs, neq, weeks) = (data.inst.labs.len(), data.inst.equipment.len(), data.weeks);
    let mut residual: Vec<Vec<Vec<f64>>> =
        (0..nlabs).map(|l| (0..neq).map(|e| (0..weeks).map(|w| data.cap(l, e, w)).collect()).collect()).collect();
    for (r, pin) in data.pinned.iter().enumerate() {
        if let Some((l, s)) = *pin {
            let t = data.reqs[r].test_type;
            if let Some(fp) = data.footprint(t, l) {
                let e = data.eq_of_type[t];
                for w in s..(s + fp.span).min(weeks) {
                    let c = &mut residual[l][e][w as usize];
                    *c = (*c - fp.usage).max(0.0);
                }
            }
        }
    }
    residual
}

/// The starts where each test type fits alone at each lab offering it.
fn type_lab_starts(data: &Data, residual: &[Vec<Vec<f64>>]) -> Vec<Vec<TypeLab>> {
    let weeks = data.weeks;
    (0..data.inst.test_types.len())
        .into_par_iter()
        .map(|t| {
            let e = data.eq_of_type[t];
            data.type_labs[t]
                .iter()
                .map(|&l| {
                    let fp = data.footprint(t, l).unwrap_or(crate::data::Footprint { span: u32::MAX, usage: 0.0 });
                    let cap = &residual[l][e];
                    let ok = (0..weeks)
                        .map(|s| {
                            s.checked_add(fp.span).is_some_and(|end| end <= weeks)
                                && (s..s + fp.span).all(|w| fp.usage <= cap[w as usize] + HOURS_EPS)
                        })
                        .collect();
                    TypeLab { span: fp.span, usage: fp.usage, ok }
                })
                .collect()
        })
        .collect()
}

/// The connected components of the request–(lab, class) graph, as lists of positions
/// in `scan.free`, in order of their first request; and the requests with no pairing.
fn components(scan: &Scan, cand: &[Vec<(usize, f64)>]) -> (Vec<Vec<usize>>, Vec<usize>) {
    let data = scan.data;
    let neq = data.inst.equipment.len();
    let node = |r: usize, k: usize| {
        let t = data.reqs[r].test_type;
        data.type_labs[t][k] * neq + data.eq_of_type[t]
    };
    let mut dsu = Dsu((0..data.inst.labs.len() * neq).collect());
    for (i, &r) in scan.free.iter().enumerate() {
        let mut first = None;
        for &(k, _) in &cand[i] {
            match first {
                None => first = Some(node(r, k)),
                Some(f) => dsu.union(f, node(r, k)),
            }
        }
    }
    let mut forced_out = Vec::new();
    let mut groups: std::collections::HashMap<usize, Vec<usize>> = std::collections::HashMap::new();
    for (i, &r) in scan.free.iter().enumerate() {
        match cand[i].first() {
            None => forced_out.push(r),
            Some(&(k, _)) => groups.entry(dsu.find(node(r, k))).or_default().push(i),
        }
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort_by_key(|g| scan.free[g[0]]);
    forced_out.sort_unstable();
    (groups, forced_out)
}

/// Splits the instance. `max_cols` bounds the columns kept per part: when a part has
/// more, each request keeps some of its pairings (its cheapest, its cheapest at a
/// capacity price, and the one an earliest-due-date greedy over all of them books) and
/// records the least on-time cost of the rest as a floor, which keeps bounds exact (see
/// `bound.rs`).
pub(crate) fn decompose(data: &Data, max_cols: usize) -> Decomposition {
    let scan = Scan::new(data);
    let cand: Vec<Vec<(usize, f64)>> = scan.free.par_iter().map(|&r| scan.candidates(r)).collect();
    let (groups, forced_out) = components(&scan, &cand);
    let parts = groups
        .par_iter()
        .map(|members| {
            let e = data.eq_of_type[data.reqs[scan.free[members[0]]].test_type];
            scan.build_part(members, &cand, e, max_cols)
        })
        .collect();
    Decomposition { parts, forced_out }
}

/// Part `which` of [`decompose`] alone, without building the others.
pub(crate) fn decompose_part(data: &Data, max_cols: usize, which: usize) -> Option<Part> {
    let scan = Scan::new(data);
    let cand: Vec<Vec<(usize, f64)>> = scan.free.par_iter().map(|&r| scan.candidates(r)).collect();
    let (groups, _) = components(&scan, &cand);
    let members = groups.get(which)?;
    let e = data.eq_of_type[data.reqs[scan.free[members[0]]].test_type];
    Some(scan.build_part(members, &cand, e, max_cols))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Instance;

    /// Eight labs for one test type, the cheapest ones small, and requests that crowd them.
    fn crowded() -> Instance {
        let labs: Vec<serde_json::Value> = (0..8)
            .map(|i| {
                serde_json::json!({
                    "id": format!("L{i}"), "name": "", "name_en": "", "region": "RU-SAM",
                    "accredited": ["T"],
                    "capacity": [{"equipment": "CLIM", "hours_per_week": 40.0 + 20.0 * f64::from(i), "price_per_hour": 100.0 + 10.0 * f64::from(i)}]
                })
            })
            .collect();
        let requests: Vec<serde_json::Value> = (0..6)
            .map(|i| {
                serde_json::json!({
                    "id": format!("R{i}"), "company": "C1", "test_type": "T", "samples": 1,
                    "release_week": 0, "due_week": 3, "priority": 1 + i % 3
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "format": crate::types::INSTANCE_FORMAT,
            "horizon": {"start": "2027-01-04", "weeks": 8},
            "weights": {"tardiness_per_week": 1000.0, "transport_per_km": 1.0, "unassigned": 1.0e6, "max_late_weeks": 2},
            "regions": [{"code": "RU-SAM", "name": "", "name_en": "", "lat": 0.0, "lon": 0.0}],
            "equipment": [{"code": "CLIM", "name": "", "name_en": "", "max_hours_per_test_week": 168.0}],
            "test_types": [{"code": "T", "standard": "", "name": "", "name_en": "", "equipment": "CLIM", "hours": 120.0}],
            "labs": labs,
            "companies": [{"id": "C1", "name": "", "region": "RU-SAM"}],
            "requests": requests
        }))
        .expect("instance")
    }

    /// What makes a truncated part's bound valid: every pairing a request lost costs, on
    /// time, at least the floor recorded for it (its move away from a current booking
    /// included); and a request never loses the pairing of its current booking.
    #[test]
    fn a_truncated_part_records_a_floor_under_every_pairing_it_dropped() {
        let mut inst = crowded();
        inst.weights.move_lab = 5000.0;
        inst.current = vec![
            crate::types::Current { request: "R1".into(), lab: "L7".into(), start_week: 1 },
            crate::types::Current { request: "R4".into(), lab: "L5".into(), start_week: 2 },
        ];
        let data = Data::new(&inst).expect("valid");
        let dec = decompose(&data, 1);
        let mut truncated = 0;
        for part in &dec.parts {
            for (r, &global) in part.reqs.iter().enumerate() {
                let t = data.reqs[global].test_type;
                let kept: Vec<usize> = part.pairs[r].iter().map(|p| part.labs[p.lab as usize]).collect();
                assert!(part.pairs[r].windows(2).all(|w| w[0].cost <= w[1].cost), "pairings cheapest first");
                for &l in &data.type_labs[t] {
                    if !kept.contains(&l) {
                        truncated += 1;
                        let on_time = data.base_cost(global, l) + data.lab_move(global, l);
                        assert!(on_time >= part.floor[r], "lab {l} below the floor of request {r}");
                        assert!(data.current[global].is_none_or(|c| c.0 != l), "request {r} lost its current lab");
                    }
                }
            }
        }
        assert!(truncated > 0, "no pairing was dropped, so nothing was tested");
    }
}
