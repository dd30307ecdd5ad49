//! PURE: one interface's ring of [`Slot`]s in a compact layout: the newest slot in full, and for
//! every slot the step from the one before it in 40 bytes, with an exact escape for the steps
//! that do not fit. Owned by the statistics thread, read by the HTTP loop through
//! [`crate::stats::view::SharedRing`].
//!
//! # Layout, and what it costs
//!
//! A [`Slot`] is 72 bytes (`at_us: u64` and eight `u64` running totals). Holding one per sample,
//! as the ring did, costs 361 × 72 = 25,992 bytes per interface-hour at the default 10 s interval
//! (60 min / 10 s intervals, plus the sample the first one starts from). Most of those bits never
//! change between two samples: what does is small. So the ring keeps:
//!
//! - the newest slot in full, once (72 bytes);
//! - per slot, a [`PackedStep`]: the time and the eight deltas of the totals since the slot
//!   before it, in 40 bytes:
//!
//!   | field | width | holds up to, per step |
//!   |---|---|---|
//!   | time step | `u32` µs | 71.5 min (µs, not ms: `covered_seconds` shows µs) |
//!   | rx/tx bytes | 48 bits (`u32` low + `u16` high) | 256 TiB: 312 GB/s for 15 min |
//!   | packets, errors, drops | `u32` | 4.29 G: 429 Mpps for 10 s |
//!
//!   4 + 8 × 4 + 2 × 2 = 40 bytes, aligned to 4 with no padding.
//!
//! That is 361 × 40 = 14,440 bytes of slots per interface-hour at 10 s, plus [`SlotRing`] itself
//! (the newest slot and the bookkeeping, under 200 bytes): about 14.6 KB instead of 26 KB. The
//! unit test `the_layout_fits_16_kb_per_interface_hour` keeps these figures true.
//!
//! # Steps that do not fit
//!
//! A step can be wider than its fields: a reset's delta is the whole new counter (terabytes and
//! billions of packets for a long-lived interface); the first sample after a long outage of the
//! source or a restore covers hours; `--interval 15m` on a 10 Gb/s link moves more than 2^32
//! minimum-size packets; a hand-written `--source` can hold anything. Such a step is never
//! truncated: its [`PackedStep`] holds only a mark ([`PackedStep::is_wide`], `step_us` at
//! `u32::MAX`, a value no packed step has) and the full [`Step`] (72 bytes) goes to an overflow
//! queue beside the ring, in the order of its slots, so the `k`-th wide slot's step is the
//! queue's `k`-th entry. When the ring overwrites a wide slot, its entry leaves the queue with it.
//!
//! So the queue never holds more entries than the ring has slots; it allocates nothing until the
//! first wide step (a real router at the default interval sees one per reset or outage, 72 bytes
//! for an hour), and is freed when the last one ages out. The worst case, every step wide, costs
//! 361 × (40 + 72) = 40,432 bytes: only input no link produces at 10 s (28 TB/s, or 429 Mpps)
//! can do that, and it stays exact. The alternatives were worse: splitting a wide step over
//! several slots would leave less than 60 minutes of samples in the ring after it, and a wide
//! reserve allocated up front would have to be sized for that worst case, the 72 bytes per slot
//! this layout is here to save.
//!
//! # Exactness
//!
//! Steps are differences of `u64`s taken with wrapping arithmetic, and slots are rebuilt from the
//! newest by subtracting them, also wrapping: `(a - b) + b == a` modulo 2^64 for any `a` and `b`.
//! So the ring gives back exactly the slots pushed into it, whatever they are (the property tests
//! compare it with a plain `Vec<Slot>`), and every window sum, interval and saved slot is the one
//! the 72-byte ring gave.
//!
//! # Cost of a query
//!
//! A slot is no longer at hand by index: reading one walks back from the newest, one step per
//! slot (an unpack and nine subtractions), with no allocation. A window of the default ring is at
//! most 361 steps. The statistics thread's 1, 5 and 15-minute averages would walk 6, 30 and 90
//! at every sample, which at 1000 interfaces was most of a sample's time; instead each keeps a
//! [`Cursor`] on its window's first slot and [`SlotRing::seek`] moves it forward one step per
//! slot that left the window (usually one), with a sequence number per slot and a count of wide
//! steps to find its way without walking.

use std::collections::VecDeque;
use std::time::Duration;

use crate::sample::proc_net_dev::COUNTERS;
use crate::stats::ring::Ring;

/// How much history each interface keeps, and how long a vanished one is remembered.
pub const HISTORY: Duration = Duration::from_secs(60 * 60);

/// The number of ring slots for `interval`: one per interval in [`HISTORY`], plus the sample the
/// first interval starts from.
pub fn ring_capacity(interval: Duration) -> usize {
    let interval_us = interval.as_micros().max(1);
    (HISTORY.as_micros().div_ceil(interval_us) + 1) as usize
}

/// What the ring holds per sample, as it gives it back: the sample's time and the running totals
/// of the deltas up to it. [`SlotRing`] stores it more compactly, but exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Microseconds on the monotonic clock since the statistics' first sample.
    pub at_us: u64,
    /// The sum of all deltas since the interface was first seen, in
    /// [`crate::sample::proc_net_dev::Counters::to_array`]
    /// order. Differences are taken with wrapping arithmetic, so even a total that overflows
    /// (centuries at 100 Gbit/s) gives the right difference.
    pub totals: [u64; COUNTERS],
}

/// The indices of the two bytes counters (rx, tx) in [`crate::sample::proc_net_dev::Counters::to_array`]
/// order: the only deltas given 48 bits.
const BYTES: [usize; 2] = [0, 4];

/// One more than the largest bytes delta a packed step holds.
const BYTES_LIMIT: u64 = 1 << 48;

/// One more than the largest packets, errors or drops delta a packed step holds.
const NARROW_LIMIT: u64 = 1 << 32;

/// The `step_us` that marks a wide step; a packed step never has it.
const WIDE_MARK: u32 = u32::MAX;

/// The change from one slot to the next: time and each running total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Microseconds from the older slot to the newer.
    pub step_us: u64,
    /// The deltas of the totals, in [`crate::sample::proc_net_dev::Counters::to_array`] order.
    pub deltas: [u64; COUNTERS],
}

impl Step {
    /// The step from `older` to `newer`. Wrapping, so it is exact for any two slots: even times
    /// or totals that went down come back with [`Step::after`].
    pub fn between(older: &Slot, newer: &Slot) -> Step {
        Step {
            step_us: newer.at_us.wrapping_sub(older.at_us),
            deltas: std::array::from_fn(|i| newer.totals[i].wrapping_sub(older.totals[i])),
        }
    }

    /// The slot this step leads to from `older`.
    pub fn after(&self, older: &Slot) -> Slot {
        Slot {
            at_us: older.at_us.wrapping_add(self.step_us),
            totals: std::array::from_fn(|i| older.totals[i].wrapping_add(self.deltas[i])),
        }
    }

    /// The slot this step came from, to reach `newer`.
    pub fn before(&self, newer: &Slot) -> Slot {
        Slot {
            at_us: newer.at_us.wrapping_sub(self.step_us),
            totals: std::array::from_fn(|i| newer.totals[i].wrapping_sub(self.deltas[i])),
        }
    }
}

/// A [`Step`] in 40 bytes (see the module doc), or the mark of a wide one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackedStep {
    /// Microseconds since the slot before; [`WIDE_MARK`] for a wide step.
    step_us: u32,
    /// The low 32 bits of each delta.
    low: [u32; COUNTERS],
    /// Bits 32 to 47 of the rx and tx bytes deltas.
    bytes_high: [u16; 2],
}

impl PackedStep {
    /// The entry of a step kept in the overflow queue.
    const WIDE: PackedStep = PackedStep {
        step_us: WIDE_MARK,
        low: [0; COUNTERS],
        bytes_high: [0; 2],
    };

    /// `step` packed, or `None` when a field does not fit (then it is kept wide).
    pub fn pack(step: &Step) -> Option<PackedStep> {
        let step_us = u32::try_from(step.step_us)
            .ok()
            .filter(|&us| us != WIDE_MARK)?;
        for (i, &delta) in step.deltas.iter().enumerate() {
            let limit = if BYTES.contains(&i) {
                BYTES_LIMIT
            } else {
                NARROW_LIMIT
            };
            if delta >= limit {
                return None;
            }
        }
        Some(PackedStep {
            step_us,
            // The low 32 bits, on purpose: the bits above are zero (checked above) or go to
            // `bytes_high`.
            low: step.deltas.map(|delta| delta as u32),
            bytes_high: BYTES.map(|i| (step.deltas[i] >> 32) as u16),
        })
    }

    /// Whether the step is kept in the overflow queue instead.
    pub fn is_wide(&self) -> bool {
        self.step_us == WIDE_MARK
    }

    /// The step, for one that is not wide.
    fn unpack(&self) -> Step {
        let mut deltas = self.low.map(u64::from);
        for (&i, &high) in BYTES.iter().zip(&self.bytes_high) {
            deltas[i] |= u64::from(high) << 32;
        }
        Step {
            step_us: u64::from(self.step_us),
            deltas,
        }
    }
}

/// A fixed-capacity ring of [`Slot`]s in the layout of the module doc: it holds the newest
/// `capacity` slots pushed into it and gives them back exactly, oldest first or newest first.
#[derive(Clone, Debug)]
pub struct SlotRing {
    /// The step into each slot from the one before, oldest first. The oldest slot's step leads
    /// from a slot no longer held, and is never read.
    steps: Ring<PackedStep>,
    /// The newest slot, from which every other is rebuilt.
    newest: Option<Slot>,
    /// The wide steps, one per slot marked [`PackedStep::is_wide`], in the same order.
    overflow: VecDeque<Step>,
    /// Slots ever pushed: the sequence number of the next one. A [`Cursor`] names its slot so.
    pushed: u64,
    /// Wide steps that left the overflow queue with their slots: the queue's first entry is the
    /// wide step with this number, counting every wide step ever pushed from 0.
    wide_dropped: u64,
}

/// A slot of a [`SlotRing`] found once and then moved forward with the ring, one step per slot
/// pushed, instead of being searched for again from the newest: what keeps the statistics
/// thread's window averages at a few steps per sample instead of 90 (see [`SlotRing::seek`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The slot's sequence number (slots pushed before it).
    seq: u64,
    slot: Slot,
    /// Wide steps ever pushed into this slot and the ones before it.
    wide_through: u64,
    /// The earliest time asked for when it was placed: an earlier one needs a new search.
    from_us: u64,
}

impl SlotRing {
    /// An empty ring of up to `capacity` slots (at least one). The slots are allocated here,
    /// once; only wide steps allocate later.
    pub fn with_capacity(capacity: usize) -> Self {
        SlotRing {
            steps: Ring::with_capacity(capacity),
            newest: None,
            overflow: VecDeque::new(),
            pushed: 0,
            wide_dropped: 0,
        }
    }

    /// How many slots it can hold.
    pub fn capacity(&self) -> usize {
        self.steps.capacity()
    }

    /// How many slots it holds.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// How many of its steps did not fit 40 bytes and are kept wide.
    pub fn wide_steps(&self) -> usize {
        self.overflow.len()
    }

    /// Adds `slot` as the newest, dropping the oldest when full.
    pub fn push(&mut self, slot: Slot) {
        let step = self
            .newest
            .map_or(Step::default(), |newest| Step::between(&newest, &slot));
        let full = self.steps.len() == self.steps.capacity();
        if full && self.steps.get(0).is_some_and(PackedStep::is_wide) {
            self.overflow.pop_front(); // the oldest wide step leaves with its slot
            self.wide_dropped += 1;
        }
        let packed = match PackedStep::pack(&step) {
            Some(packed) => packed,
            None => {
                self.keep_wide(step);
                PackedStep::WIDE
            }
        };
        self.steps.push(packed);
        self.newest = Some(slot);
        self.pushed += 1;
        if self.overflow.is_empty() && self.overflow.capacity() > 0 {
            // The last wide step aged out: give its memory back.
            self.overflow = VecDeque::new();
        }
    }

    /// Queues a wide step, growing the queue by doubling but never past one entry per slot.
    fn keep_wide(&mut self, step: Step) {
        let queued = self.overflow.len();
        if queued == self.overflow.capacity() {
            let room = self.capacity().saturating_sub(queued).max(1);
            self.overflow.reserve_exact(queued.clamp(1, room));
        }
        self.overflow.push_back(step);
    }

    /// The newest slot.
    pub fn newest(&self) -> Option<Slot> {
        self.newest
    }

    /// The slot at `age_order` (0 is the oldest), if there is one. Walks back from the newest.
    pub fn get(&self, age_order: usize) -> Option<Slot> {
        let back = self.len().checked_sub(age_order.checked_add(1)?)?;
        self.iter_newest_first().nth(back)
    }

    /// The slots, newest first.
    pub fn iter_newest_first(&self) -> NewestFirst<'_> {
        NewestFirst {
            ring: self,
            next: self.newest.map(|slot| (self.len().saturating_sub(1), slot)),
            wide_through: self.overflow.len(),
        }
    }

    /// The slots, oldest first.
    pub fn iter(&self) -> OldestFirst<'_> {
        self.iter_from(0)
    }

    /// The slots from `age_order` (0 is the oldest) to the newest, oldest first. Walks back to
    /// `age_order` first.
    pub fn iter_from(&self, age_order: usize) -> OldestFirst<'_> {
        let mut back = self.iter_newest_first();
        if age_order >= self.len() {
            back.next = None; // past the newest: nothing
        }
        // Step back over the slots newer than `age_order`.
        for _ in age_order.saturating_add(1)..self.len() {
            back.next();
        }
        OldestFirst {
            ring: self,
            next: back.next,
            wide_through: back.wide_through,
        }
    }

    /// The oldest slot at or after `from_us`, if any; `cursor` remembers where it was for the
    /// next call. With the same `cursor` and a `from_us` that never decreases (a window's start,
    /// as time goes on), each call steps forward only over the slots that left the window since
    /// the last one. A `cursor` that is `None`, names a slot the ring no longer holds, or was
    /// placed for a later `from_us` is placed anew by a search back from the newest. A cursor
    /// belongs to one ring: another ring's may give a wrong slot.
    pub fn seek(&self, cursor: &mut Option<Cursor>, from_us: u64) -> Option<Slot> {
        let oldest_seq = self.pushed - self.len() as u64;
        let usable =
            |c: &Cursor| c.seq >= oldest_seq && c.seq < self.pushed && c.from_us <= from_us;
        let Some(found) = cursor.as_mut().filter(|c| usable(c)) else {
            *cursor = self.search_back(from_us);
            return cursor.map(|c| c.slot);
        };
        // Forward from the cursor, as `iter_from` would go, up to the newest slot at most.
        let mut forward = OldestFirst {
            ring: self,
            next: Some(((found.seq - oldest_seq) as usize, found.slot)),
            wide_through: found.wide_through.saturating_sub(self.wide_dropped) as usize,
        };
        while let Some((age_order, slot)) = forward.next {
            if slot.at_us >= from_us || age_order + 1 >= self.len() {
                break;
            }
            forward.next();
        }
        let (age_order, slot) = forward.next?;
        *found = Cursor {
            seq: oldest_seq + age_order as u64,
            slot,
            wide_through: forward.wide_through as u64 + self.wide_dropped,
            from_us,
        };
        Some(slot).filter(|slot| slot.at_us >= from_us)
    }

    /// A cursor on the oldest slot at or after `from_us`, found by walking back from the newest.
    fn search_back(&self, from_us: u64) -> Option<Cursor> {
        let oldest_seq = self.pushed - self.len() as u64;
        let mut back = self.iter_newest_first();
        let mut found = None;
        while let Some((age_order, slot)) = back.next.filter(|(_, slot)| slot.at_us >= from_us) {
            found = Some(Cursor {
                seq: oldest_seq + age_order as u64,
                slot,
                wide_through: back.wide_through as u64 + self.wide_dropped,
                from_us,
            });
            back.next();
        }
        found
    }

    /// The step into the slot at `age_order`; `wide_index` is its place in the overflow queue,
    /// used only if it is wide. Also says whether it was.
    fn step_into(&self, age_order: usize, wide_index: Option<usize>) -> Option<(Step, bool)> {
        let packed = self.steps.get(age_order)?;
        if packed.is_wide() {
            Some((*self.overflow.get(wide_index?)?, true))
        } else {
            Some((packed.unpack(), false))
        }
    }
}

/// The slots of a [`SlotRing`], newest first: each is the one after it minus its step.
#[derive(Clone, Debug)]
pub struct NewestFirst<'a> {
    ring: &'a SlotRing,
    /// The slot `next` returns, with its age order.
    next: Option<(usize, Slot)>,
    /// How many wide steps belong to that slot and the older ones.
    wide_through: usize,
}

impl Iterator for NewestFirst<'_> {
    type Item = Slot;

    fn next(&mut self) -> Option<Slot> {
        let (age_order, slot) = self.next.take()?;
        if let Some(older) = age_order.checked_sub(1) {
            let wide_index = self.wide_through.checked_sub(1);
            if let Some((step, wide)) = self.ring.step_into(age_order, wide_index) {
                if wide {
                    self.wide_through = wide_index.unwrap_or(0);
                }
                self.next = Some((older, step.before(&slot)));
            }
        }
        Some(slot)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.next.map_or(0, |(age_order, _)| age_order + 1);
        (left, Some(left))
    }
}

/// The slots of a [`SlotRing`], oldest first: each is the one before it plus its own step.
#[derive(Clone, Debug)]
pub struct OldestFirst<'a> {
    ring: &'a SlotRing,
    /// The slot `next` returns, with its age order.
    next: Option<(usize, Slot)>,
    /// How many wide steps belong to that slot and the older ones.
    wide_through: usize,
}

impl Iterator for OldestFirst<'_> {
    type Item = Slot;

    fn next(&mut self) -> Option<Slot> {
        let (age_order, slot) = self.next.take()?;
        let newer = age_order.checked_add(1)?;
        if let Some((step, wide)) = self.ring.step_into(newer, Some(self.wide_through)) {
            if wide {
                self.wide_through = self.wide_through.saturating_add(1);
            }
            self.next = Some((newer, step.after(&slot)));
        }
        Some(slot)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.next.map_or(0, |(age_order, _)| {
            self.ring.len().saturating_sub(age_order)
        });
        (left, Some(left))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::mem::size_of;
    use std::time::Duration;

    fn slot(at_us: u64, totals: [u64; COUNTERS]) -> Slot {
        Slot { at_us, totals }
    }

    /// What the ring must equal: the newest `capacity` slots in a plain vector.
    fn naive(slots: &[Slot], capacity: usize) -> Vec<Slot> {
        slots[slots.len().saturating_sub(capacity.max(1))..].to_vec()
    }

    fn ring_of(slots: &[Slot], capacity: usize) -> SlotRing {
        let mut ring = SlotRing::with_capacity(capacity);
        for &slot in slots {
            ring.push(slot);
        }
        ring
    }

    fn assert_same(ring: &SlotRing, expected: &[Slot]) {
        assert_eq!(ring.len(), expected.len());
        assert_eq!(ring.iter().collect::<Vec<_>>(), expected);
        let mut newest_first: Vec<Slot> = ring.iter_newest_first().collect();
        newest_first.reverse();
        assert_eq!(newest_first, expected);
        assert_eq!(ring.newest(), expected.last().copied());
        for (age_order, slot) in expected.iter().enumerate() {
            assert_eq!(ring.get(age_order), Some(*slot));
            assert_eq!(
                ring.iter_from(age_order).collect::<Vec<_>>(),
                expected[age_order..]
            );
            assert_eq!(
                ring.iter_from(age_order).size_hint().0,
                expected.len() - age_order
            );
        }
        assert_eq!(ring.get(expected.len()), None);
        assert_eq!(ring.iter_from(expected.len()).next(), None);
        assert_eq!(ring.get(usize::MAX), None);
    }

    #[test]
    fn the_layout_fits_16_kb_per_interface_hour() {
        let slots = ring_capacity(Duration::from_secs(10));
        assert_eq!(slots, 361);
        assert_eq!(
            size_of::<Slot>(),
            72,
            "the full slot, as the ring held before"
        );
        assert_eq!(slots * size_of::<Slot>(), 25_992);
        assert_eq!(size_of::<PackedStep>(), 40);
        assert_eq!(slots * size_of::<PackedStep>(), 14_440);
        let per_interface_hour = slots * size_of::<PackedStep>() + size_of::<SlotRing>();
        assert!(
            per_interface_hour <= 16 * 1024,
            "{per_interface_hour} bytes per interface-hour"
        );
        // No allocation besides the slots while every step fits.
        let mut ring = SlotRing::with_capacity(slots);
        for k in 0..1000u64 {
            ring.push(slot(k * 10_000_000, [k * 1_000_000_000; COUNTERS]));
        }
        assert_eq!((ring.wide_steps(), ring.overflow.capacity()), (0, 0));
    }

    #[test]
    fn packs_up_to_the_field_widths_and_no_further() {
        let mut step = Step {
            step_us: u64::from(u32::MAX - 1),
            deltas: [NARROW_LIMIT - 1; COUNTERS],
        };
        for i in BYTES {
            step.deltas[i] = BYTES_LIMIT - 1;
        }
        let packed = PackedStep::pack(&step).expect("the widest step that fits");
        assert!(!packed.is_wide());
        assert_eq!(packed.unpack(), step);
        let too_wide = |change: &dyn Fn(&mut Step)| {
            let mut wide = step;
            change(&mut wide);
            PackedStep::pack(&wide)
        };
        assert_eq!(too_wide(&|s| s.step_us += 1), None, "the wide mark");
        assert_eq!(too_wide(&|s| s.step_us = u64::MAX), None);
        assert_eq!(too_wide(&|s| s.deltas[0] = BYTES_LIMIT), None);
        assert_eq!(too_wide(&|s| s.deltas[4] = u64::MAX), None);
        assert_eq!(too_wide(&|s| s.deltas[1] = NARROW_LIMIT), None);
        assert_eq!(too_wide(&|s| s.deltas[7] = NARROW_LIMIT), None);
    }

    #[test]
    fn wide_steps_are_kept_exactly_and_leave_with_their_slots() {
        let slots = [
            slot(0, [0; COUNTERS]),
            slot(10, [1; COUNTERS]),
            slot(20, [u64::MAX; COUNTERS]), // wide: every delta
            slot(30, [u64::MAX; COUNTERS]),
            slot(u64::MAX, [3; COUNTERS]), // wide: the time; the totals wrap
            slot(u64::MAX - 5, [4; COUNTERS]), // a time that went back: wide, still exact
        ];
        let mut ring = SlotRing::with_capacity(3);
        for (n, &pushed) in slots.iter().enumerate() {
            ring.push(pushed);
            assert_same(&ring, &naive(&slots[..=n], 3));
        }
        // Holds slots 3..=5: the step into 3 fits (its wide predecessor's left with slot 2),
        // those into 4 and 5 do not.
        assert_eq!(ring.wide_steps(), 2);
        for k in 0..3 {
            ring.push(slot(100 + k, [4; COUNTERS]));
        }
        assert_eq!(ring.wide_steps(), 0);
        assert_eq!(
            ring.overflow.capacity(),
            0,
            "freed once the last wide step left"
        );
    }

    #[test]
    fn a_one_slot_ring_keeps_the_newest() {
        let mut ring = SlotRing::with_capacity(0);
        assert_eq!(ring.capacity(), 1);
        assert!(ring.is_empty());
        assert_same(&ring, &[]);
        ring.push(slot(1, [1; COUNTERS]));
        ring.push(slot(2, [u64::MAX; COUNTERS]));
        assert_same(&ring, &[slot(2, [u64::MAX; COUNTERS])]);
        assert!(ring.wide_steps() <= 1);
    }

    #[test]
    fn the_overflow_queue_never_outgrows_the_ring() {
        let mut ring = SlotRing::with_capacity(361);
        for k in 0..2000u64 {
            ring.push(slot(k << 40, [k << 50; COUNTERS]));
        }
        assert_eq!(ring.wide_steps(), 361);
        assert!(
            ring.overflow.capacity() <= 361,
            "{}",
            ring.overflow.capacity()
        );
    }

    /// A delta that is often small, sometimes at or past a field's edge, sometimes anything.
    fn delta() -> impl Strategy<Value = u64> {
        prop_oneof![
            8 => 0..100_000u64,
            1 => (NARROW_LIMIT - 2)..(NARROW_LIMIT + 2),
            1 => (BYTES_LIMIT - 2)..(BYTES_LIMIT + 2),
            1 => any::<u64>(),
        ]
    }

    /// A time step: mostly about 10 s, sometimes at the edge of `u32` µs, sometimes anything.
    fn step_us() -> impl Strategy<Value = u64> {
        prop_oneof![
            8 => 9_500_000..10_500_000u64,
            1 => (u64::from(WIDE_MARK) - 2)..(u64::from(WIDE_MARK) + 2),
            1 => any::<u64>(),
        ]
    }

    /// Slots as the statistics thread makes them: running totals of the deltas, wrapping.
    fn slots() -> impl Strategy<Value = Vec<Slot>> {
        let step = (step_us(), proptest::array::uniform8(delta()));
        proptest::collection::vec(step, 0..120).prop_map(|steps| {
            let mut now = slot(0, [0; COUNTERS]);
            steps
                .into_iter()
                .map(|(step_us, deltas)| {
                    now = Step { step_us, deltas }.after(&now);
                    now
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn gives_back_exactly_what_a_vec_of_slots_holds(
            slots in slots(),
            capacity in 0..40usize,
        ) {
            let ring = ring_of(&slots, capacity);
            assert_same(&ring, &naive(&slots, capacity));
            prop_assert!(ring.wide_steps() <= ring.len());
        }

        #[test]
        fn any_slots_at_all_come_back_exactly(
            slots in proptest::collection::vec(
                (any::<u64>(), proptest::array::uniform8(any::<u64>())).prop_map(|(t, c)| slot(t, c)),
                0..30,
            ),
            capacity in 0..10usize,
        ) {
            assert_same(&ring_of(&slots, capacity), &naive(&slots, capacity));
        }
    }
}
