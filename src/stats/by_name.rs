//! PURE: values by interface name, in name order, found with one comparison where the caller
//! knows where a name was last.

use std::sync::Arc;

/// Values by name, sorted by name, one per name: what a `BTreeMap<Arc<str>, V>` gives, in one
/// vector, with [`ByName::find`] trying a hint before it searches.
///
/// The statistics thread looks up every interface of every sample, in the order of
/// `/proc/net/dev`, which the kernel keeps from one read to the next. With the place each position
/// of the last sample was found at as the hint, a sample costs one comparison of names per
/// interface instead of a search through about log2(n) of them, each behind a pointer.
#[derive(Debug)]
pub struct ByName<V> {
    entries: Vec<(Arc<str>, V)>,
}

impl<V> Default for ByName<V> {
    fn default() -> Self {
        ByName {
            entries: Vec::new(),
        }
    }
}

/// A hint that is nowhere: [`ByName::find`] then searches.
pub const NO_HINT: usize = usize::MAX;

impl<V> ByName<V> {
    /// How many names it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where `name` is, `Ok(index)`, or `Err(index)` where it would go: at `hint` if it is there,
    /// else by a binary search.
    pub fn find(&self, name: &str, hint: usize) -> Result<usize, usize> {
        match self.entries.get(hint) {
            Some((known, _)) if **known == *name => Ok(hint),
            _ => self
                .entries
                .binary_search_by(|(known, _)| (**known).cmp(name)),
        }
    }

    /// The value at `index`, a place [`ByName::find`] returned since the last change.
    pub fn at_mut(&mut self, index: usize) -> Option<&mut V> {
        self.entries.get_mut(index).map(|(_, value)| value)
    }

    /// The value of `name`.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        let index = self.find(name, NO_HINT).ok()?;
        self.at_mut(index)
    }

    /// Sets the value of `name`, replacing the one it had.
    pub fn insert(&mut self, name: Arc<str>, value: V) {
        match self.find(&name, NO_HINT) {
            Ok(index) => self.entries[index].1 = value,
            Err(index) => self.entries.insert(index, (name, value)),
        }
    }

    /// Takes `name` out, and its value.
    pub fn remove(&mut self, name: &str) -> Option<V> {
        let index = self.find(name, NO_HINT).ok()?;
        Some(self.entries.remove(index).1)
    }

    /// Keeps only the names for which `keep` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&Arc<str>, &mut V) -> bool) {
        self.entries.retain_mut(|(name, value)| keep(name, value));
    }

    /// The names and their values, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &V)> {
        self.entries.iter().map(|(name, value)| (name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    #[test]
    fn a_hint_is_used_where_it_holds_the_name_and_ignored_elsewhere() {
        let mut map = ByName::default();
        for name in ["wan", "lan", "br-lan", "eth0"] {
            map.insert(Arc::from(name), name.len());
        }
        // Sorted: br-lan, eth0, lan, wan.
        assert_eq!(map.find("lan", 2), Ok(2));
        assert_eq!(map.find("lan", 0), Ok(2), "a wrong hint: searched");
        assert_eq!(map.find("lan", NO_HINT), Ok(2));
        assert_eq!(map.find("dsl0", 1), Err(1), "absent: where it would go");
        *map.at_mut(3).unwrap() = 99;
        assert_eq!(map.get_mut("wan"), Some(&mut 99));
        assert_eq!(map.at_mut(4), None);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(String, u32),
        Remove(String),
        RetainEven,
        Find(String, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let name = "[a-e]{1,2}";
        prop_oneof![
            4 => (name, any::<u32>()).prop_map(|(n, v)| Op::Insert(n, v)),
            2 => name.prop_map(Op::Remove),
            1 => Just(Op::RetainEven),
            3 => (name, 0..40usize).prop_map(|(n, h)| Op::Find(n, h)),
        ]
    }

    proptest! {
        /// Whatever is done to it, it holds what a B-tree map would, in the same order, and
        /// finds a name with any hint.
        #[test]
        fn behaves_as_a_btree_map(ops in prop::collection::vec(op(), 0..60)) {
            let (mut map, mut model) = (ByName::default(), BTreeMap::new());
            for op in ops {
                match op {
                    Op::Insert(name, value) => {
                        map.insert(Arc::from(name.as_str()), value);
                        model.insert(name, value);
                    }
                    Op::Remove(name) => prop_assert_eq!(map.remove(&name), model.remove(&name)),
                    Op::RetainEven => {
                        map.retain(|_, value| *value % 2 == 0);
                        model.retain(|_, value| *value % 2 == 0);
                    }
                    Op::Find(name, hint) => {
                        let found = map.find(&name, hint).ok().and_then(|i| map.at_mut(i).copied());
                        prop_assert_eq!(found, model.get(&name).copied());
                    }
                }
                let held: Vec<(String, u32)> =
                    map.iter().map(|(n, v)| (n.to_string(), *v)).collect();
                let expected: Vec<(String, u32)> =
                    model.iter().map(|(n, v)| (n.clone(), *v)).collect();
                prop_assert_eq!(held, expected);
                prop_assert_eq!(map.len(), model.len());
            }
        }
    }
}
