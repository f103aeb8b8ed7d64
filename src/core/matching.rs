//! Inspector matching (draw-spec §9): for each drawn object, `per_object` inspectors drawn
//! uniformly among the eligible inspectors with the least load so far.

use std::collections::BTreeMap;

use super::CoreError;
use super::model::Snapshot;
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
    /// The least load any available member has; `at_level` marks those members by position.
    level: u32,
    at_level: Fenwick,
}

/// Counts over member positions, to find the k-th marked member in O(log n).
struct Fenwick {
    tree: Vec<u32>,
}

impl Fenwick {
    fn from_marks(marks: impl ExactSizeIterator<Item = bool>) -> Self {
        let mut tree = vec![0u32; marks.len() + 1];
        for (i, m) in marks.enumerate() {
            tree[i + 1] += u32::from(m);
            let parent = (i + 1) + ((i + 1) & (i + 1).wrapping_neg());
            if parent < tree.len() {
                tree[parent] += tree[i + 1];
            }
        }
        Self { tree }
    }

    fn add(&mut self, pos: usize, delta: i32) {
        let mut i = pos + 1;
        while i < self.tree.len() {
            self.tree[i] = self.tree[i]
                .checked_add_signed(delta)
                .expect("count stays non-negative");
            i += i & i.wrapping_neg();
        }
    }

    /// Marked positions before `pos`.
    fn rank(&self, pos: usize) -> u32 {
        let (mut i, mut sum) = (pos, 0);
        while i > 0 {
            sum += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }

    /// Position of the k-th marked member (0-based k).
    fn select(&self, k: u32) -> usize {
        let n = self.tree.len() - 1;
        let (mut pos, mut rem) = (0usize, k);
        let mut step = if n == 0 {
            0
        } else {
            1usize << (usize::BITS - 1 - n.leading_zeros())
        };
        while step > 0 {
            let next = pos + step;
            if next <= n && self.tree[next] <= rem {
                pos = next;
                rem -= self.tree[next];
            }
            step >>= 1;
        }
        pos
    }
}

struct Target {
    object: u32,
    region: Option<u32>,
    /// Declared conflicts, previous inspectors, recusals: sorted, unique.
    excluded: Vec<u32>,
}

pub struct Matcher<'a> {
    snapshot: &'a Snapshot,
    policy: &'a Policy,
    regions: BTreeMap<&'a str, u32>,
    inspector_region: Vec<u32>,
    classes: Vec<Class>,
    class_index: BTreeMap<ClassKey, usize>,
    /// (class, position in its member list) for each inspector, to keep the counts right.
    memberships: Vec<Vec<(u32, u32)>>,
    load: Vec<u32>,
    cap: Vec<u32>,
    /// (object index, inspector index) for every declared conflict, sorted.
    conflicts: Vec<(u32, u32)>,
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
        let mut conflicts: Vec<(u32, u32)> = Vec::new();
        for (idx, i) in inspectors.iter().enumerate() {
            // A conflict with an object outside the snapshot can never matter.
            conflicts.extend(
                i.conflicts
                    .iter()
                    .filter_map(|o| snapshot.object_index(o))
                    .map(|o| (o as u32, idx as u32)),
            );
        }
        conflicts.sort_unstable();
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
                self.in_department(i, key.department)
                    && self.in_region(i, key.region)
                    && self.qualified(i)
            })
            .collect();
        let mut by_load = Vec::new();
        for (pos, &m) in members.iter().enumerate() {
            self.memberships[m as usize].push((c as u32, pos as u32));
            if self.available(m) {
                bump(&mut by_load, self.load[m as usize], 1);
            }
        }
        self.classes.push(Class {
            members,
            by_load,
            level: u32::MAX,
            at_level: Fenwick { tree: vec![0] },
        });
        self.reindex(c);
        self.class_index.insert(key, c);
        c
    }

    /// Moves a class's index to its least available load when that changed.
    fn reindex(&mut self, c: usize) {
        let class = &self.classes[c];
        let least = class
            .by_load
            .iter()
            .position(|&n| n > 0)
            .map_or(u32::MAX, |l| l as u32);
        if least == class.level {
            return;
        }
        let marks = class
            .members
            .iter()
            .map(|&m| self.available(m) && self.load[m as usize] == least);
        let at_level = Fenwick::from_marks(marks.collect::<Vec<_>>().into_iter());
        let class = &mut self.classes[c];
        class.level = least;
        class.at_level = at_level;
    }

    fn set_load(&mut self, inspector: u32, new: u32) {
        let i = inspector as usize;
        let (old, cap) = (self.load[i], self.cap[i]);
        self.load[i] = new;
        for k in 0..self.memberships[i].len() {
            let (c, pos) = self.memberships[i][k];
            let class = &mut self.classes[c as usize];
            if old < cap {
                bump(&mut class.by_load, old, -1);
                if old == class.level {
                    class.at_level.add(pos as usize, -1);
                }
            }
            if new < cap {
                bump(&mut class.by_load, new, 1);
                if new == class.level {
                    class.at_level.add(pos as usize, 1);
                }
            }
            self.reindex(c as usize);
        }
    }

    fn conflicts_of(&self, object: u32) -> impl Iterator<Item = u32> + '_ {
        let from = self.conflicts.partition_point(|&(o, _)| o < object);
        self.conflicts[from..]
            .iter()
            .take_while(move |&&(o, _)| o == object)
            .map(|&(_, i)| i)
    }

    /// What every slot of one object's team shares, worked out once.
    fn target(&self, object: u32) -> Target {
        let o = &self.snapshot.objects()[object as usize];
        let mut excluded: Vec<u32> = self.conflicts_of(object).collect();
        if self.policy.inspectors.exclude_previous {
            excluded.extend(
                o.last_inspectors
                    .iter()
                    .filter_map(|id| self.snapshot.inspector_index(id))
                    .map(|i| i as u32),
            );
        }
        excluded.extend(self.recused.get(&object).into_iter().flatten());
        excluded.sort_unstable();
        excluded.dedup();
        Target {
            object,
            region: self.regions.get(o.region.as_str()).copied(),
            excluded,
        }
    }

    /// Draws one inspector for `slot` of `object`'s team and counts it against its load.
    pub fn fill_slot(
        &mut self,
        object: u32,
        slot: u32,
        team: &[u32],
        stream: &mut Stream,
    ) -> Result<u32, CoreError> {
        let target = self.target(object);
        self.pick(&target, slot, team, stream)
    }

    /// The k-th, k = below(count), in id order of the class members that are not excluded, not
    /// on the team, under their cap, and at the least load among those.
    fn pick(
        &mut self,
        t: &Target,
        slot: u32,
        team: &[u32],
        stream: &mut Stream,
    ) -> Result<u32, CoreError> {
        let region = match self.policy.inspectors.region_rule {
            RegionRule::Any => None,
            _ => t.region,
        };
        let c = self.class(ClassKey {
            department: self.slot_department(slot),
            region,
        });
        let class = &self.classes[c];
        // Excluded members that would otherwise be candidates: (load, position), a handful at most.
        let mut excluded: Vec<(u32, u32)> = t
            .excluded
            .iter()
            .chain(team)
            .filter(|&&e| self.available(e))
            .filter_map(|&e| {
                class
                    .members
                    .binary_search(&e)
                    .ok()
                    .map(|pos| (self.load[e as usize], pos as u32))
            })
            .collect();
        excluded.sort_unstable();
        let excluded_at = |l: u32| excluded.iter().filter(|e| e.0 == l).count() as u32;
        let level =
            (0..class.by_load.len() as u32).find(|&l| class.by_load[l as usize] > excluded_at(l));
        let Some(level) = level else {
            return Err(self.explain(t.object, slot, team));
        };
        let k = stream.below(u64::from(
            class.by_load[level as usize] - excluded_at(level),
        )) as u32;
        let pick = if level == class.level {
            // Skip the excluded members at this level that come at or before the k-th.
            let mut j = k;
            for &(_, pos) in excluded.iter().filter(|e| e.0 == level) {
                if class.at_level.rank(pos as usize) <= j {
                    j += 1;
                }
            }
            class.members[class.at_level.select(j)]
        } else {
            // Every member at the least load is excluded for this object: scan the next level.
            *class
                .members
                .iter()
                .filter(|&&m| {
                    self.available(m)
                        && self.load[m as usize] == level
                        && excluded
                            .binary_search(&(
                                level,
                                class.members.binary_search(&m).expect("member") as u32,
                            ))
                            .is_err()
                })
                .nth(k as usize)
                .expect("k < count")
        };
        self.set_load(pick, level + 1);
        Ok(pick)
    }

    /// A whole team for `object`, slot by slot.
    pub fn assign(&mut self, object: u32, stream: &mut Stream) -> Result<Vec<u32>, CoreError> {
        let target = self.target(object);
        let mut team = Vec::with_capacity(self.policy.inspectors.per_object as usize);
        for slot in 0..self.policy.inspectors.per_object {
            let pick = self.pick(&target, slot, &team, stream)?;
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
        let region = self.regions.get(o.region.as_str()).copied();
        let prev: Vec<u32> = o
            .last_inspectors
            .iter()
            .filter_map(|id| self.snapshot.inspector_index(id))
            .map(|i| i as u32)
            .collect();
        let recused = self.recused.get(&object).cloned().unwrap_or_default();
        let conflicts: Vec<u32> = self.conflicts_of(object).collect();
        let department = self.slot_department(slot);
        let ins = self.snapshot.inspectors();
        let dep_name = department
            .map(|d| self.policy.inspectors.departments[d as usize].clone())
            .unwrap_or_else(|| "any task department".into());
        type Filter<'f> = Box<dyn Fn(u32) -> bool + 'f>;
        let stages: Vec<(&'static str, Filter)> = vec![
            (
                "department",
                Box::new(|i| self.in_department(i, department)),
            ),
            ("region rule", Box::new(|i| self.in_region(i, region))),
            (
                "required specialty",
                Box::new(|i| {
                    self.policy
                        .inspectors
                        .specialty
                        .as_ref()
                        .is_none_or(|s| ins[i as usize].specialties.contains(s))
                }),
            ),
            (
                "certificate valid on the draw date",
                Box::new(|i| ins[i as usize].certificate_expiry >= self.policy.draw_date),
            ),
            (
                "declared conflict of interest",
                Box::new(|i| !conflicts.contains(&i)),
            ),
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
    by_load[l] = by_load[l]
        .checked_add_signed(delta)
        .expect("load count stays non-negative");
}
