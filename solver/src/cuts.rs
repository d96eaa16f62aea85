//! Lifted cardinality inequalities of the capacity rows, which the LP relaxation of a
//! part needs to see that few tests fit a week.
//!
//! A capacity row Σ u·x ≤ C with only a handful of distinct usages u is a small
//! knapsack. Its LP relaxation lets, say, a 160 h test and 0.99 of a 120 h test share a
//! 279 h salt-fog week, where in truth a 160 h test runs alone. For a threshold t (one
//! of the usages), at most K = ⌊C/t⌋ tests of at least t fit: Σ_{u ≥ t} x ≤ K. Larger
//! usages leave room for fewer others, so their coefficients are lifted, smallest
//! first, to the largest value that keeps every integer week valid:
//!   a(u) = min over m ≥ 1 copies of u of ⌊(K − best(C − m·u)) / m⌋,
//! where best(R) is the largest Σ a·n of already lifted (smaller) usages fitting in R.
//! Any week's tests, with largest usage u* taken m times, then satisfy
//!   Σ a·n ≤ m·a(u*) + best(C − m·u*) ≤ K,
//! so the row is valid for every plan; usages below t get 0 and only use room. For the
//! 279 h week with usages 120, 144, 160 and 168 this gives x₁₂₀ + x₁₄₄ + 2x₁₆₀ + 2x₁₆₈ ≤ 2.
//!
//! The usages of a row are those of every pairing at its lab (a pairing's usage depends
//! on the test type and the lab only), so a cut's coefficient is defined for every
//! column of the part, in or out of a restricted model: the Lagrangian can price it.

use std::collections::HashMap;

use crate::data::HOURS_EPS;
use crate::model::{Cut, Cuts, Part, USAGE_EPS, triple_coef};

/// Distinct usages at one lab beyond which no cuts are lifted (the three reference
/// instances and the generated one have at most six per lab and equipment class).
const MAX_USAGES: usize = 8;

/// Largest Σ a·n over multisets of `items` (usage, a) with Σ usage·n ≤ room.
fn best(items: &[(f64, f64)], room: f64) -> f64 {
    fn go(items: &[(f64, f64)], room: f64) -> f64 {
        let Some((&(u, a), rest)) = items.split_first() else {
            return 0.0;
        };
        let mut top = 0.0f64;
        let mut n = 0.0;
        while n * u <= room {
            top = top.max(n * a + go(rest, room - n * u));
            n += 1.0;
        }
        top
    }
    go(items, room)
}

/// The lifted cuts of one capacity `cap` and distinct ascending `usages`, keeping only
/// those that say more than the capacity, conflict (k = 1) and k = 2 rows already do.
pub(crate) fn lifted_cuts(usages: &[f64], cap: f64) -> Vec<Cut> {
    // The checker accepts up to cap + HOURS_EPS; no plan it accepts may be cut off.
    let room = cap + HOURS_EPS;
    let mut out = Vec::new();
    // The lifting enumerates every pattern of up to 12 tests; with many distinct usages
    // at one lab that grows combinatorially, for rows the other families mostly cover.
    if usages.len() > MAX_USAGES {
        return out;
    }
    for (i, &t) in usages.iter().enumerate() {
        let k = (room / t).floor();
        if !(2.0..=12.0).contains(&k) {
            // K = 1 is the conflict row; beyond 12 small tests the cardinality hardly
            // binds and the enumeration grows.
            continue;
        }
        let mut lifted: Vec<(f64, f64)> = Vec::new();
        for &u in &usages[i..] {
            let mut a = f64::INFINITY;
            let mut m = 1.0;
            while m * u <= room {
                a = a.min(((k - best(&lifted, room - m * u)) / m).floor());
                m += 1.0;
            }
            if !a.is_finite() || a <= 0.0 {
                // A usage over the capacity has no column; nothing to lift.
                continue;
            }
            lifted.push((u, a));
        }
        let stronger = k >= 3.0 || lifted.iter().any(|&(u, a)| a > triple_coef(u, cap));
        if stronger && !lifted.is_empty() {
            out.push(Cut { rhs: k, coef: lifted });
        }
    }
    out.dedup();
    out
}

/// Every useful cut of every row of the part: a row gets the cuts of its capacity and
/// its lab's usages, when its columns can together break them.
pub(crate) fn part_cuts(part: &Part) -> Cuts {
    let weeks = part.weeks as usize;
    // The distinct weekly usages of every pairing at each lab.
    let mut usages: Vec<Vec<f64>> = vec![Vec::new(); part.labs.len()];
    for ps in &part.pairs {
        for p in ps {
            let us = &mut usages[p.lab as usize];
            if !us.iter().any(|&u| (u - p.usage).abs() <= USAGE_EPS) {
                us.push(p.usage);
            }
        }
    }
    for us in &mut usages {
        us.sort_by(f64::total_cmp);
    }
    // How many columns cover each row, per usage of the row's lab, to skip cuts that
    // cannot bind. A flat table: a map per row cost a hash per column and week, most of
    // this function's time on a part of millions of columns.
    let mut base = Vec::with_capacity(usages.len());
    let mut cells = 0;
    for us in &usages {
        base.push(cells);
        cells += us.len() * weeks;
    }
    let cell = |lab: usize, w: usize, k: usize| base[lab] + w * usages[lab].len() + k;
    let mut count = vec![0.0f64; cells];
    for ps in &part.pairs {
        for p in ps {
            let lab = p.lab as usize;
            let Some(k) = usages[lab].iter().position(|&u| (u - p.usage).abs() <= USAGE_EPS) else {
                continue;
            };
            for &s in &p.starts {
                for w in s..s + p.span {
                    count[cell(lab, w as usize, k)] += 1.0;
                }
            }
        }
    }
    let mut cache: HashMap<(u32, u64), Vec<u32>> = HashMap::new();
    let mut cuts = Cuts { by_row: vec![Vec::new(); part.labs.len() * weeks], ..Cuts::default() };
    for (lab, us) in usages.iter().enumerate() {
        for w in 0..weeks {
            let cap = part.cap[lab][w];
            if cap <= 0.0 || us.is_empty() {
                continue;
            }
            let ids = cache.entry((lab as u32, cap.to_bits())).or_insert_with(|| {
                let list = lifted_cuts(us, cap);
                let first = cuts.cuts.len() as u32;
                cuts.cuts.extend(list);
                (first..cuts.cuts.len() as u32).collect()
            });
            let row = lab * weeks + w;
            for &c in ids.iter() {
                let cut = &cuts.cuts[c as usize];
                let reach: f64 = us.iter().enumerate().map(|(k, &u)| cut.a(u) * count[cell(lab, w, k)]).sum();
                if reach > cut.rhs + 1e-9 {
                    cuts.by_row[row].push(cuts.inst.len() as u32);
                    cuts.inst.push((row, c));
                }
            }
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn salt_fog_week() {
        let cuts = lifted_cuts(&[120.0, 144.0, 160.0, 168.0], 279.0);
        assert_eq!(cuts.len(), 1);
        assert_eq!(cuts[0].rhs, 2.0);
        assert_eq!(cuts[0].coef, vec![(120.0, 1.0), (144.0, 1.0), (160.0, 2.0), (168.0, 2.0)]);
    }

    /// Every multiset of usages that fits the week (within the checker's slack)
    /// satisfies every cut.
    fn check(usages: &[f64], cap: f64) -> Result<(), TestCaseError> {
        let cuts = lifted_cuts(usages, cap);
        fn walk(usages: &[f64], room: f64, chosen: &mut Vec<f64>, f: &mut dyn FnMut(&[f64])) {
            f(chosen);
            for (i, &u) in usages.iter().enumerate() {
                if u <= room {
                    chosen.push(u);
                    walk(&usages[i..], room - u, chosen, f);
                    chosen.pop();
                }
            }
        }
        let mut bad = None;
        walk(usages, cap + HOURS_EPS, &mut Vec::new(), &mut |set| {
            for c in &cuts {
                let lhs: f64 = set.iter().map(|&u| c.a(u)).sum();
                if lhs > c.rhs + 1e-9 && bad.is_none() {
                    bad = Some((set.to_vec(), c.clone()));
                }
            }
        });
        prop_assert!(bad.is_none(), "usages {:?} cap {} cut off by {:?}", usages, cap, bad);
        Ok(())
    }

    proptest! {
        #[test]
        fn cuts_never_cut_a_fitting_week(cap in 20.0f64..400.0, fr in prop::collection::vec(0.05f64..1.0, 1..5)) {
            let mut usages: Vec<f64> = fr.iter().map(|f| (f * cap).round().max(1.0)).collect();
            usages.sort_by(f64::total_cmp);
            usages.dedup();
            check(&usages, cap)?;
        }
    }

    #[test]
    fn exact_fill_is_kept() {
        // Two of 139.5 fill 279 exactly and must stay allowed.
        check(&[93.0, 139.5, 186.0], 279.0).unwrap_or_else(|e| panic!("{e}"));
    }
}
