//! Exact decomposition of an instance into independent parts, and the candidate
//! bookings (columns) of each part.
//!
//! Capacity rows never mix equipment classes and a request only ever uses labs it can
//! go to, so the connected components of the request–lab graph of one class share no
//! row: their optima add up to the optimum of the whole. Pinned bookings are fixed, so
//! they only take their hours out of the capacity the parts see.

use rayon::prelude::*;

use crate::cuts::{Cuts, part_cuts};
use crate::data::{Data, HOURS_EPS};

/// A (request, lab) pairing inside a part, with the starts the rules allow.
#[derive(Debug, Clone)]
pub(crate) struct Pair {
    /// Local lab index within the part.
    pub lab: u32,
    pub span: u32,
    pub usage: f64,
    /// Cost when on time: price × hours + transport.
    pub cost: f64,
    pub starts: Vec<u32>,
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
    pub weeks: u32,
    /// Lifted cardinality rows of the capacity rows (see `cuts.rs`).
    pub cuts: Cuts,
}

impl Part {
    pub fn col_cost(&self, r: usize, p: &Pair, start: u32) -> f64 {
        let end = start + p.span - 1;
        p.cost + self.tard_rate[r] * f64::from(end.saturating_sub(self.due[r]))
    }

    pub fn num_cols(&self) -> usize {
        self.pairs.iter().flatten().map(|p| p.starts.len()).sum()
    }

    pub fn row(&self, lab: u32, week: u32) -> usize {
        lab as usize * self.weeks as usize + week as usize
    }
}

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

/// A price per hour for each lab of a part, from a relaxation that pools each lab's
/// hours over the horizon: requests take their cheapest lab at cost + price × hours, and
/// the price of a lab rises while they ask it for more than nine tenths of its hours
/// (the rest is lost to weeks, windows and fragmentation) and falls back otherwise. It
/// only decides which pairings a part too large to keep whole keeps, so it needs to be
/// roughly right, not exact.
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
                cap[l] = 0.9 * capacity(l);
            }
            cost_sum += c;
            hours_sum += hours(i, k);
        }
    }
    // Steps in roubles per hour, of the order of the part's average cost per hour.
    let scale = cost_sum / hours_sum.max(1e-9);
    let mut load = vec![0.0; nlabs];
    for round in 0..20 {
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

/// The pairing (position in the request's candidates) that the earliest-due-date greedy
/// over every candidate pairing books for each member it books, as (member position,
/// pairing). Starts are listed pairing by pairing, cheapest pairing first, and the scan
/// stops at the first pairing whose on-time cost cannot beat the best fit found: on a
/// part of millions of pairings it visits a few per request.
#[allow(clippy::too_many_arguments)]
fn edd_choices(
    data: &Data,
    members: &[usize],
    cand: &[Vec<(usize, f64)>],
    free: &[usize],
    type_lab: &[Vec<TypeLab>],
    residual: &[Vec<Vec<f64>>],
    e: usize,
    allowed: &(dyn Fn(usize, usize) -> Vec<u32> + Sync),
) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&j| (data.reqs[free[members[j]]].due, j));
    let mut load: std::collections::HashMap<usize, Vec<f64>> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for j in order {
        let i = members[j];
        let r = free[i];
        let t = data.reqs[r].test_type;
        let mut pairs = cand[i].clone();
        pairs.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut best: Option<(f64, usize, u32)> = None;
        for (k, base) in pairs {
            if best.is_some_and(|b| b.0 <= base) {
                break;
            }
            let tl = &type_lab[t][k];
            let l = data.type_labs[t][k];
            let cap = &residual[l][e];
            let used = load.get(&l);
            for s in allowed(r, k) {
                let cost = base + data.tardiness(r, s + tl.span - 1);
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
            let tl = &type_lab[t][k];
            let l = data.type_labs[t][k];
            let v = load.entry(l).or_insert_with(|| vec![0.0; data.weeks as usize]);
            for w in s..s + tl.span {
                v[w as usize] += tl.usage;
            }
            out.push((j, k));
        }
    }
    out
}

/// Splits the instance. `max_cols` bounds the columns kept per part: when a part has
/// more, each request keeps some of its pairings (its cheapest, its cheapest at a
/// capacity price, and the one an earliest-due-date greedy over all of them books) and
/// records the least on-time cost of the rest as a floor, which keeps bounds exact (see
/// `bound.rs`).
pub(crate) fn decompose(data: &Data, max_cols: usize) -> Decomposition {
    let inst = data.inst;
    let weeks = data.weeks;
    let nlabs = inst.labs.len();
    let neq = inst.equipment.len();
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

    let ntypes = inst.test_types.len();
    let type_lab: Vec<Vec<TypeLab>> = (0..ntypes)
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
        .collect();
    let max_late = inst.weights.max_late_weeks;

    // Pairings with at least one allowed start, per request (lab positions in type_labs).
    let free: Vec<usize> = (0..inst.requests.len()).filter(|&r| data.pinned[r].is_none()).collect();
    let allowed = |r: usize, k: usize| -> Vec<u32> {
        let req = &data.reqs[r];
        let tl = &type_lab[req.test_type][k];
        let l = data.type_labs[req.test_type][k];
        if req.excluded.contains(&l) {
            return Vec::new();
        }
        let pen = data.penalty(r);
        let base = data.base_cost(r, l);
        (req.release..weeks)
            .filter(|&s| u64::from(s) + u64::from(tl.span) <= u64::from(req.due) + u64::from(max_late) + 1)
            .filter(|&s| tl.ok.get(s as usize).copied().unwrap_or(false))
            // A booking costing at least the request's penalty is never better than
            // leaving it out, which frees capacity: dropping it is exact.
            .filter(|&s| base + data.tardiness(r, s + tl.span - 1) < pen)
            .collect()
    };

    let cand: Vec<Vec<(usize, f64)>> = free
        .par_iter()
        .map(|&r| {
            let t = data.reqs[r].test_type;
            (0..data.type_labs[t].len())
                .filter_map(|k| {
                    let req = &data.reqs[r];
                    let tl = &type_lab[t][k];
                    let l = data.type_labs[t][k];
                    if req.excluded.contains(&l) || tl.span > weeks {
                        return None;
                    }
                    let last_by_late = (u64::from(req.due) + u64::from(max_late) + 1).checked_sub(u64::from(tl.span));
                    let any = last_by_late.is_some_and(|last| {
                        (req.release..weeks).take_while(|&s| u64::from(s) <= last).any(|s| tl.ok[s as usize])
                    });
                    let base = data.base_cost(r, l);
                    (any && base < data.penalty(r)).then_some((k, base))
                })
                .collect()
        })
        .collect();

    let mut dsu = Dsu((0..nlabs * neq).collect());
    let mut forced_out = Vec::new();
    for (i, &r) in free.iter().enumerate() {
        let t = data.reqs[r].test_type;
        let e = data.eq_of_type[t];
        let mut first = None;
        for &(k, _) in &cand[i] {
            let node = data.type_labs[t][k] * neq + e;
            match first {
                None => first = Some(node),
                Some(f) => dsu.union(f, node),
            }
        }
    }
    let mut groups: std::collections::HashMap<usize, Vec<usize>> = std::collections::HashMap::new();
    for (i, &r) in free.iter().enumerate() {
        let t = data.reqs[r].test_type;
        let e = data.eq_of_type[t];
        match cand[i].first() {
            None => forced_out.push(r),
            Some(&(k, _)) => {
                let root = dsu.find(data.type_labs[t][k] * neq + e);
                groups.entry(root).or_default().push(i);
            }
        }
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort_by_key(|g| free[g[0]]);

    let parts: Vec<Part> = groups
        .par_iter()
        .map(|members| {
            let e = data.eq_of_type[data.reqs[free[members[0]]].test_type];
            // Per-request pairings, cheapest first; keep them all unless the part is
            // too large, then the cheapest `keep` of each.
            // Starts are listed only for the pairings kept, so that a part of millions
            // of pairings never holds all their starts at once.
            let npairs: usize = members.iter().map(|&i| cand[i].len()).sum();
            let sample: Vec<usize> = members
                .iter()
                .flat_map(|&i| cand[i].iter().map(move |&(k, _)| (i, k)))
                .step_by((npairs / 2000).max(1))
                .map(|(i, k)| allowed(free[i], k).len())
                .collect();
            let avg_starts = sample.iter().sum::<usize>() as f64 / sample.len().max(1) as f64;
            let estimate = npairs as f64 * avg_starts;
            let keep = if estimate > max_cols as f64 {
                ((max_cols as f64 / members.len() as f64 / avg_starts.max(1.0)).floor() as usize).max(4)
            } else {
                usize::MAX
            };
            let mut floor = vec![f64::INFINITY; members.len()];
            let prices = if keep < usize::MAX {
                let hours = |i: usize, k: usize| {
                    let tl = &type_lab[data.reqs[free[i]].test_type][k];
                    tl.usage * f64::from(tl.span)
                };
                lab_prices(
                    nlabs,
                    members,
                    &cand,
                    |i, k| data.type_labs[data.reqs[free[i]].test_type][k],
                    hours,
                    |l| residual[l][e].iter().sum(),
                )
            } else {
                Vec::new()
            };
            let mut sorted: Vec<Vec<(usize, f64, Vec<u32>)>> = members
                .iter()
                .enumerate()
                .map(|(j, &i)| {
                    let r = free[i];
                    let mut c = cand[i].clone();
                    c.sort_by(|a, b| a.1.total_cmp(&b.1));
                    if c.len() > keep {
                        // Half the pairings kept are the cheapest; the other half the
                        // cheapest once each lab's hours are priced by how much the
                        // cheapest choices overbook it. Keeping only the cheapest put
                        // every request of the generated 100,000-request instance on the
                        // same few low-priced labs, which could not hold them.
                        let t = data.reqs[r].test_type;
                        let hours = |k: usize| {
                            let tl = &type_lab[t][k];
                            tl.usage * f64::from(tl.span)
                        };
                        let priced = |x: &(usize, f64)| {
                            x.1 + prices.get(data.type_labs[t][x.0]).copied().unwrap_or(0.0) * hours(x.0)
                        };
                        let cheap = keep.div_ceil(2);
                        let mut rest = c.split_off(cheap);
                        rest.sort_by(|a, b| priced(a).total_cmp(&priced(b)));
                        let dropped = rest.split_off((keep - cheap).min(rest.len()));
                        // Every booking of a dropped pairing costs at least its on-time
                        // cost, hence at least the least of theirs.
                        floor[j] = dropped.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
                        c.extend(rest);
                        c.sort_by(|a, b| a.1.total_cmp(&b.1));
                    }
                    c.into_iter().map(|(k, cost)| (k, cost, allowed(r, k))).filter(|x| !x.2.is_empty()).collect()
                })
                .collect();
            if keep < usize::MAX {
                // The part keeps every pairing the earliest-due-date greedy over all of
                // them books, so that the part's own greedy in that order finds the same
                // plan: the kept pairings alone gave a plan 1.6 times that greedy's.
                for (j, k) in edd_choices(data, members, &cand, &free, &type_lab, &residual, e, &allowed) {
                    if !sorted[j].iter().any(|x| x.0 == k) {
                        let r = free[members[j]];
                        sorted[j].push((
                            k,
                            data.base_cost(r, data.type_labs[data.reqs[r].test_type][k]),
                            allowed(r, k),
                        ));
                        sorted[j].sort_by(|a, b| a.1.total_cmp(&b.1));
                    }
                }
            }
            let mut lab_local: std::collections::HashMap<usize, u32> = std::collections::HashMap::new();
            let mut labs = Vec::new();
            let mut pairs = Vec::with_capacity(members.len());
            for (j, &i) in members.iter().enumerate() {
                let r = free[i];
                let t = data.reqs[r].test_type;
                let ps = sorted[j]
                    .drain(..)
                    .map(|(k, cost, starts)| {
                        let l = data.type_labs[t][k];
                        let local = *lab_local.entry(l).or_insert_with(|| {
                            labs.push(l);
                            (labs.len() - 1) as u32
                        });
                        let tl = &type_lab[t][k];
                        Pair { lab: local, span: tl.span, usage: tl.usage, cost, starts }
                    })
                    .collect();
                pairs.push(ps);
            }
            let reqs: Vec<usize> = members.iter().map(|&i| free[i]).collect();
            let mut part = Part {
                eq: e,
                cap: labs.iter().map(|&l| residual[l][e].clone()).collect(),
                labs,
                pairs,
                floor,
                penalty: reqs.iter().map(|&r| data.penalty(r)).collect(),
                due: reqs.iter().map(|&r| data.reqs[r].due).collect(),
                tard_rate: reqs.iter().map(|&r| inst.weights.tardiness_per_week * data.reqs[r].priority).collect(),
                reqs,
                weeks,
                cuts: Cuts::default(),
            };
            part.cuts = part_cuts(&part);
            part
        })
        .collect();
    forced_out.sort_unstable();
    Decomposition { parts, forced_out }
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
    /// time, at least the floor recorded for it.
    #[test]
    fn a_truncated_part_records_a_floor_under_every_pairing_it_dropped() {
        let inst = crowded();
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
                        assert!(data.base_cost(global, l) >= part.floor[r], "lab {l} below the floor of request {r}");
                    }
                }
            }
        }
        assert!(truncated > 0, "no pairing was dropped, so nothing was tested");
    }
}
