//! PURE: a fixed-capacity ring buffer, allocated once, that overwrites its oldest entry.

/// Holds the newest `capacity` values pushed into it, oldest first.
#[derive(Clone, Debug)]
pub struct Ring<T> {
    slots: Vec<T>,
    capacity: usize,
    /// The index in `slots` of the oldest value once the ring is full.
    start: usize,
}

impl<T> Ring<T> {
    /// An empty ring that will hold up to `capacity` values (at least one). This is the only
    /// allocation the ring makes.
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Ring {
            slots: Vec::with_capacity(capacity),
            capacity,
            start: 0,
        }
    }

    /// How many values it can hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds `value` as the newest, dropping the oldest when full.
    pub fn push(&mut self, value: T) {
        if self.slots.len() < self.capacity {
            self.slots.push(value);
        } else {
            self.slots[self.start] = value;
            self.start = self.wrap(self.start + 1);
        }
    }

    /// The value at `age_order` (0 is the oldest), if there is one.
    pub fn get(&self, age_order: usize) -> Option<&T> {
        if age_order >= self.slots.len() {
            return None;
        }
        self.slots.get(self.wrap(self.start + age_order))
    }

    /// `index` brought back into `slots`, for one below twice its length: a subtraction, not the
    /// division of a `%` (slow on a router's CPU, and both are at every push and every slot read).
    fn wrap(&self, index: usize) -> usize {
        if index >= self.slots.len() {
            index - self.slots.len()
        } else {
            index
        }
    }

    /// The newest value.
    pub fn newest(&self) -> Option<&T> {
        self.get(self.len().checked_sub(1)?)
    }

    /// The values, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        let (wrapped, first) = self.slots.split_at(self.start);
        first.iter().chain(wrapped.iter())
    }

    /// The index (0 is the oldest) of the first value for which `is_after` holds, given that it
    /// holds for every value after that one too; [`Ring::len`] if none. A binary search.
    pub fn partition_point(&self, is_after: impl Fn(&T) -> bool) -> usize {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid) {
                Some(value) if !is_after(value) => low = mid + 1,
                _ => high = mid,
            }
        }
        low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(ring: &Ring<u32>) -> Vec<u32> {
        ring.iter().copied().collect()
    }

    #[test]
    fn fills_then_overwrites_the_oldest() {
        let mut ring = Ring::with_capacity(3);
        assert!(ring.is_empty());
        assert_eq!(ring.newest(), None);
        for v in 1..=2 {
            ring.push(v);
        }
        assert_eq!(collect(&ring), [1, 2]);
        for v in 3..=7 {
            ring.push(v);
        }
        assert_eq!(collect(&ring), [5, 6, 7]);
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.capacity(), 3);
        assert_eq!(ring.get(0), Some(&5));
        assert_eq!(ring.get(2), Some(&7));
        assert_eq!(ring.get(3), None);
        assert_eq!(ring.newest(), Some(&7));
        assert_eq!(ring.iter().rev().copied().collect::<Vec<_>>(), [7, 6, 5]);
    }

    #[test]
    fn never_grows_past_its_capacity() {
        let mut ring = Ring::with_capacity(4);
        let capacity = ring.capacity();
        for v in 0..1000 {
            ring.push(v);
        }
        assert_eq!(ring.capacity(), capacity);
        assert_eq!(collect(&ring), [996, 997, 998, 999]);
    }

    #[test]
    fn a_zero_capacity_ring_still_holds_the_newest() {
        let mut ring = Ring::with_capacity(0);
        ring.push(1);
        ring.push(2);
        assert_eq!(collect(&ring), [2]);
    }

    #[test]
    fn partition_point_searches_in_age_order() {
        let mut ring = Ring::with_capacity(5);
        for v in [10, 20, 30, 40, 50, 60, 70] {
            ring.push(v);
        }
        // Holds 30..=70, wrapped inside the buffer.
        assert_eq!(ring.partition_point(|v| *v >= 0), 0);
        assert_eq!(ring.partition_point(|v| *v >= 45), 2);
        assert_eq!(ring.partition_point(|v| *v >= 70), 4);
        assert_eq!(ring.partition_point(|v| *v > 70), 5);
    }
}
