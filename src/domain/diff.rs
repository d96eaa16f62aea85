//! A plan compared with the published one, request by request.
//!
//! Placements are compared by lab and start date, not week index, since two runs may
//! have different horizons.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Placement {
    pub lab: String,
    pub start_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Change {
    pub request: String,
    /// Where the published plan has it; absent if it does not place it
    pub published: Option<Placement>,
    /// Where this plan has it; absent if it does not place it
    pub proposed: Option<Placement>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Diff {
    /// The published run compared against; absent if nothing is published yet
    pub published_run: Option<i64>,
    pub run: i64,
    pub newly_placed: Vec<Change>,
    /// Placed by both, at another lab or week
    pub moved: Vec<Change>,
    /// Placed by the published plan, not by this one
    pub dropped: Vec<Change>,
    pub unchanged: usize,
    pub objective: Option<f64>,
    pub published_objective: Option<f64>,
    /// This plan's objective minus the published one's (negative: cheaper)
    pub objective_delta: Option<f64>,
}

pub fn compare(
    run: i64,
    objective: Option<f64>,
    proposed: &BTreeMap<String, Placement>,
    published_run: Option<i64>,
    published_objective: Option<f64>,
    published: &BTreeMap<String, Placement>,
) -> Diff {
    let mut diff = Diff {
        published_run,
        run,
        newly_placed: Vec::new(),
        moved: Vec::new(),
        dropped: Vec::new(),
        unchanged: 0,
        objective,
        published_objective,
        objective_delta: objective.zip(published_objective).map(|(a, b)| a - b),
    };
    let requests: BTreeSet<&String> = proposed.keys().chain(published.keys()).collect();
    for request in requests {
        let change = Change {
            request: request.clone(),
            published: published.get(request).cloned(),
            proposed: proposed.get(request).cloned(),
        };
        match (&change.published, &change.proposed) {
            (None, Some(_)) => diff.newly_placed.push(change),
            (Some(_), None) => diff.dropped.push(change),
            (Some(a), Some(b)) if a == b => diff.unchanged += 1,
            (Some(_), Some(_)) => diff.moved.push(change),
            (None, None) => {}
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lab: &str, day: u32) -> Placement {
        Placement { lab: lab.to_string(), start_date: NaiveDate::from_ymd_opt(2027, 1, day).expect("a date") }
    }

    #[test]
    fn each_request_lands_in_one_category() {
        let published = BTreeMap::from([
            ("R1".to_string(), at("L1", 4)),
            ("R2".to_string(), at("L1", 4)),
            ("R3".to_string(), at("L2", 11)),
        ]);
        let proposed = BTreeMap::from([
            ("R1".to_string(), at("L1", 4)),
            ("R2".to_string(), at("L2", 4)),
            ("R4".to_string(), at("L2", 18)),
        ]);
        let d = compare(2, Some(90.0), &proposed, Some(1), Some(100.0), &published);
        assert_eq!(d.unchanged, 1);
        assert_eq!(d.moved.iter().map(|c| c.request.as_str()).collect::<Vec<_>>(), ["R2"]);
        assert_eq!(d.dropped.iter().map(|c| c.request.as_str()).collect::<Vec<_>>(), ["R3"]);
        assert_eq!(d.newly_placed.iter().map(|c| c.request.as_str()).collect::<Vec<_>>(), ["R4"]);
        assert_eq!(d.objective_delta, Some(-10.0));
    }
}
