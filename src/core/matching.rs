//! Inspector matching (draw-spec §9): for each drawn object, `per_object` inspectors drawn
//! uniformly among the eligible inspectors with the least load so far.

use std::collections::BTreeMap;

use super::CoreError;
use super::model::{ObjectId, Snapshot};
use super::policy::{Policy, RegionRule};
use super::rng::Stream;

/// Which inspectors a slot may take: a department (`Some(d)`: the policy's d-th department) or
/// any task department (`None`), and the region constraint (`region` interned).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ClassKey {
    department: Option<u32>,
    region: Option<u32>,
}

struct Class {
    /// Inspector indices, ascending (id order).
    members: Vec<u32>,
    /// `by_load[l]`: members with load `l` that are still under their cap.
    by_load: Vec<u32>,
}

pub struct Matcher<'a> {
    snapshot: &'a Snapshot,
    policy: &'a Policy,
    regions: BTreeMap<&'a str, u32>,
    inspector_region: Vec<u32>,
    classes: Vec<Class>,
    class_index: BTreeMap<ClassKey, usize>,
    /// Classes each inspector belongs to, to keep `by_load` counts right.
    memberships: Vec<Vec<u32>>,
    load: Vec<u32>,
    cap: Vec<u32>,
    conflicts: BTreeMap<&'a ObjectId, Vec<u32>>,
    recused: BTreeMap<u32, Vec<u32>>,
}

impl<'a> Matcher<'a> {
    pub fn new(snapshot: &'a Snapshot, policy: &'a Policy) -> Self {
        let inspectors = snapshot.inspectors();
        let mut regions = BTreeMap::new();
        let inspector_region = inspectors
            .iter()
            .map(|i| {
                let n = regions.len() as u32;
                *regions.entry(i.region.as_str()).or_insert(n)
            })
            .collect();
        let policy_cap = policy.inspectors.max_load.unwrap_or(u32::MAX);
        let cap = inspectors
            .iter()
            .map(|i| i.max_load.unwrap_or(u32::MAX).min(policy_cap))
            .collect();
        let mut conflicts: BTreeMap<&ObjectId, Vec<u32>> = BTreeMap::new();
        for (idx, i) in inspectors.iter().enumerate() {
            for o in &i.conflicts {
                conflicts.entry(o).or_default().push(idx as u32);
            }
        }
        Self {
            snapshot,
            policy,
            regions,
            inspector_region,
            classes: Vec::new(),
            class_index: BTreeMap::new(),
            memberships: vec![Vec::new(); inspectors.len()],
            load: vec![0; inspectors.len()],
            cap,
            conflicts,
            recused: BTreeMap::new(),
        }
    }

    fn slot_department(&self, slot: u32) -> Option<u32> {
        (slot < self.policy.inspectors.departments.len() as u32).then_some(slot)
    }

    fn in_department(&self, inspector: u32, department: Option<u32>) -> bool {
        let deps = &self.snapshot.inspectors()[inspector as usize].departments;
        let task = &self.policy.inspectors.departments;
        match department {
            Some(d) => deps.contains(&task[d as usize]),
            None => task.iter().any(|d| deps.contains(d)),
        }
    }

    fn in_region(&self, inspector: u32, object_region: Option<u32>) -> bool {
        let own = self.inspector_region[inspector as usize];
        match (self.policy.inspectors.region_rule, object_region) {
            (RegionRule::Any, _) => true,
            (RegionRule::Same, r) => Some(own) == r,
            (RegionRule::Cross, r) => Some(own) != r,
        }
    }

    fn qualified(&self, inspector: u32) -> bool {
        let i = &self.snapshot.inspectors()[inspector as usize];
        let specialty_ok = self
            .policy
            .inspectors
            .specialty
            .as_ref()
            .is_none_or(|s| i.specialties.contains(s));
        specialty_ok && i.certificate_expiry >= self.policy.draw_date
    }

    fn available(&self, inspector: u32) -> bool {
        self.load[inspector as usize] < self.cap[inspector as usize]
    }

    fn class(&mut self, key: ClassKey) -> usize {
        if let Some(&c) = self.class_index.get(&key) {
            return c;
        }
        let c = self.classes.len();
        let members: Vec<u32> = (0..self.snapshot.inspectors().len() as u32)
            .filter(|&i| {
                self.in_department(i, key.department) && self.in_region(i, key.region) && self.qualified(i)
            })
            .collect();
        let mut by_load = Vec::new();
        for &m in &members {
            self.memberships[m as usize].push(c as u32);
            if self.available(m) {
                bump(&mut by_load, self.load[m as usize], 1);
            }
        }
        self.classes.push(Class { members, by_load });
        self.class_index.insert(key, c);
        c
    }

    fn set_load(&mut self, inspector: u32, new: u32) {
        let i = inspector as usize;
        let (old, cap) = (self.load[i], self.cap[i]);
        for &c in &self.memberships[i] {
            let by_load = &mut self.classes[c as usize].by_load;
            if old < cap {
                bump(by_load, old, -1);
            }
            if new < cap {
                bump(by_load, new, 1);
            }
        }
        self.load[i] = new;
    }

    /// Inspectors this object may not get whatever the slot: declared conflicts, the previous
    /// inspection's inspectors, recusals, and the team so far. Sorted, unique.
    fn exclusions(&self, object: u32, team: &[u32]) -> Vec<u32> {
        let o = &self.snapshot.objects()[object as usize];
        let mut ex: Vec<u32> = team.to_vec();
        ex.extend(self.conflicts.get(&o.id).into_iter().flatten());
        if self.policy.inspectors.exclude_previous {
            ex.extend(o.last_inspectors.iter().filter_map(|id| self.snapshot.inspector_index(id)).map(|i| i as u32));
        }
        ex.extend(self.recused.get(&object).into_iter().flatten());
        ex.sort_unstable();
        ex.dedup();
        ex
    }

    fn object_region(&self, object: u32) -> Option<u32> {
        self.regions.get(self.snapshot.objects()[object as usize].region.as_str()).copied()
    }

    /// Draws one inspector for `slot` of `object`'s team and counts it against its load.
    pub fn fill_slot(&mut self, object: u32, slot: u32, team: &[u32], stream: &mut Stream) -> Result<u32, CoreError> {
        let key = ClassKey { department: self.slot_department(slot), region: self.object_region(object) };
        let key = match self.policy.inspectors.region_rule {
            RegionRule::Any => ClassKey { region: None, ..key },
            _ => key,
        };
        let c = self.class(key);
        let excluded = self.exclusions(object, team);
        // Excluded inspectors that would otherwise count at their load level.
        let mut excluded_at: BTreeMap<u32, u32> = BTreeMap::new();
        for &e in &excluded {
            if self.classes[c].members.binary_search(&e).is_ok() && self.available(e) {
                *excluded_at.entry(self.load[e as usize]).or_default() += 1;
            }
        }
        let class = &self.classes[c];
        let level = (0..class.by_load.len() as u32).find(|l| {
            class.by_load[*l as usize] > excluded_at.get(l).copied().unwrap_or(0)
        });
        let Some(level) = level else {
            return Err(self.explain(object, slot, team));
        };
        let n = class.members.len() as u64;
        loop {
            let pick = class.members[stream.below(n) as usize];
            if self.available(pick) && self.load[pick as usize] == level && excluded.binary_search(&pick).is_err() {
                self.set_load(pick, level + 1);
                return Ok(pick);
            }
        }
    }

    /// A whole team for `object`, slot by slot.
    pub fn assign(&mut self, object: u32, stream: &mut Stream) -> Result<Vec<u32>, CoreError> {
        let mut team = Vec::with_capacity(self.policy.inspectors.per_object as usize);
        for slot in 0..self.policy.inspectors.per_object {
            let pick = self.fill_slot(object, slot, &team, stream)?;
            team.push(pick);
        }
        Ok(team)
    }

    pub fn release(&mut self, inspector: u32) {
        let l = self.load[inspector as usize];
        self.set_load(inspector, l.saturating_sub(1));
    }

    pub fn recuse(&mut self, object: u32, inspector: u32) {
        self.recused.entry(object).or_default().push(inspector);
        self.release(inspector);
    }

    /// Names the first constraint that empties the candidate list, with the counts that led there.
    fn explain(&self, object: u32, slot: u32, team: &[u32]) -> CoreError {
        let o = &self.snapshot.objects()[object as usize];
        let region = self.object_region(object);
        let prev: Vec<u32> = o
            .last_inspectors
            .iter()
            .filter_map(|id| self.snapshot.inspector_index(id))
            .map(|i| i as u32)
            .collect();
        let recused = self.recused.get(&object).cloned().unwrap_or_default();
        let conflicts = self.conflicts.get(&o.id).cloned().unwrap_or_default();
        let department = self.slot_department(slot);
        let ins = self.snapshot.inspectors();
        let dep_name = department
            .map(|d| self.policy.inspectors.departments[d as usize].clone())
            .unwrap_or_else(|| "any task department".into());
        type Filter<'f> = Box<dyn Fn(u32) -> bool + 'f>;
        let stages: Vec<(&'static str, Filter)> = vec![
            ("department", Box::new(|i| self.in_department(i, department))),
            ("region rule", Box::new(|i| self.in_region(i, region))),
            (
                "required specialty",
                Box::new(|i| {
                    self.policy.inspectors.specialty.as_ref().is_none_or(|s| ins[i as usize].specialties.contains(s))
                }),
            ),
            ("certificate valid on the draw date", Box::new(|i| ins[i as usize].certificate_expiry >= self.policy.draw_date)),
            ("declared conflict of interest", Box::new(|i| !conflicts.contains(&i))),
            (
                "previous inspection's inspectors",
                Box::new(|i| !(self.policy.inspectors.exclude_previous && prev.contains(&i))),
            ),
            ("recusal", Box::new(|i| !recused.contains(&i))),
            ("already on this team", Box::new(|i| !team.contains(&i))),
            ("load cap", Box::new(|i| self.available(i))),
        ];
        let mut left: Vec<u32> = (0..ins.len() as u32).collect();
        let mut detail = vec![format!("{} inspectors", left.len())];
        for (name, keep) in &stages {
            left.retain(|&i| keep(i));
            detail.push(format!("{} after {name}", left.len()));
            if left.is_empty() {
                return CoreError::Matching {
                    object: o.id.to_string(),
                    slot,
                    constraint: name,
                    detail: format!("slot needs {dep_name}; {}", detail.join(", ")),
                };
            }
        }
        unreachable!("explain called while candidates remain")
    }
}

fn bump(by_load: &mut Vec<u32>, level: u32, delta: i32) {
    let l = level as usize;
    if by_load.len() <= l {
        by_load.resize(l + 1, 0);
    }
    by_load[l] = by_load[l].checked_add_signed(delta).expect("load count stays non-negative");
}
