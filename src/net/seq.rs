//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 3.4).
//!
//! All wrap-around arithmetic lives here once, so the state machine never
//! has to think about where the ISN happened to land.
//!
//! There is deliberately no `PartialOrd`: sequence numbers live on a circle,
//! and no order on a circle is transitive (0 before 2^30 before 2^31 + 2^30
//! before 0). An `Ord`-like trait invites `max`, sorting and range
//! patterns that silently assume one. The named comparisons below say what
//! they mean, and hold for numbers less than 2^31 apart, which the windows
//! (64 KiB here) guarantee. Exactly 2^31 apart, neither number is before
//! the other, so `a.is_before(b)` and `b.is_before(a)` are never both true.

use std::fmt;
use std::ops::{Add, Sub};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

/// Half the sequence space: the farthest apart two numbers can be compared.
const HALF: u32 = 1 << 31;

impl Seq {
    /// Signed distance from `other` to `self` (positive when `self` is later).
    /// Valid while the two are less than 2^31 apart, which the window bounds.
    pub fn since(self, other: Seq) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }

    /// How far `self` lies ahead of `base`, going forward modulo 2^32.
    pub fn offset_from(self, base: Seq) -> u32 {
        self.0.wrapping_sub(base.0)
    }

    /// `self` comes strictly before `other` (less than 2^31 behind it).
    pub fn is_before(self, other: Seq) -> bool {
        let ahead = other.offset_from(self);
        ahead != 0 && ahead < HALF
    }

    /// `self` comes strictly after `other` (less than 2^31 ahead of it).
    pub fn is_after(self, other: Seq) -> bool {
        other.is_before(self)
    }

    /// `self` is `other` or comes after it.
    pub fn is_at_or_after(self, other: Seq) -> bool {
        self == other || self.is_after(other)
    }

    /// `lo <= self <= hi`, walking forward from `lo`: the range is the arc
    /// from `lo` to `hi`, so this is exact for any range shorter than 2^32
    /// (empty ranges do not exist: `lo == hi` holds just `lo`).
    pub fn is_within(self, lo: Seq, hi: Seq) -> bool {
        self.offset_from(lo) <= hi.offset_from(lo)
    }
}

impl Add<u32> for Seq {
    type Output = Seq;
    fn add(self, rhs: u32) -> Seq {
        Seq(self.0.wrapping_add(rhs))
    }
}

impl Sub<u32> for Seq {
    type Output = Seq;
    fn sub(self, rhs: u32) -> Seq {
        Seq(self.0.wrapping_sub(rhs))
    }
}

impl Sub<Seq> for Seq {
    type Output = i64;
    fn sub(self, rhs: Seq) -> i64 {
        self.since(rhs)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_survives_wrap_around() {
        let near_end = Seq(u32::MAX - 1);
        let wrapped = near_end + 5;
        assert_eq!(wrapped, Seq(3));
        assert!(wrapped.is_after(near_end));
        assert!(near_end.is_before(wrapped));
        assert!(!wrapped.is_before(near_end));
        assert_eq!(wrapped - near_end, 5);
        assert_eq!(near_end - wrapped, -5);
        assert_eq!(wrapped.offset_from(near_end), 5);
        assert_eq!(wrapped - 5u32, near_end);
    }

    #[test]
    fn equal_and_plain_ordering() {
        assert!(Seq(10).is_before(Seq(11)));
        assert!(Seq(11).is_after(Seq(10)));
        assert!(!Seq(10).is_before(Seq(10)));
        assert!(!Seq(10).is_after(Seq(10)));
        assert!(Seq(10).is_at_or_after(Seq(10)));
        assert!(Seq(11).is_at_or_after(Seq(10)));
        assert!(!Seq(9).is_at_or_after(Seq(10)));
        assert_eq!(Seq(7).since(Seq(7)), 0);
    }

    /// The trap of the old `PartialOrd`: exactly 2^31 apart, each number
    /// compared less than the other. Now neither is before the other.
    #[test]
    fn exactly_half_the_space_apart_is_neither_before_nor_after() {
        for base in [0, 1, HALF - 1, HALF, u32::MAX] {
            let a = Seq(base);
            let b = a + HALF;
            assert!(!a.is_before(b) && !b.is_before(a), "{a} {b}");
            assert!(!a.is_after(b) && !b.is_after(a), "{a} {b}");
            assert!(!a.is_at_or_after(b) && !b.is_at_or_after(a), "{a} {b}");
        }
        // One short of half is still comparable, in both directions.
        let a = Seq(u32::MAX - 10);
        let b = a + (HALF - 1);
        assert!(a.is_before(b) && b.is_after(a));
        assert!(!b.is_before(a) && !a.is_after(b));
    }

    #[test]
    fn before_and_after_are_antisymmetric_everywhere() {
        let a = Seq(0xffff_fff0);
        for step in [1, 2, 1000, HALF - 1, HALF, HALF + 1, u32::MAX] {
            let b = a + step;
            assert!(
                !(a.is_before(b) && b.is_before(a)),
                "step {step}: both before"
            );
            assert_eq!(a.is_before(b), b.is_after(a), "step {step}");
        }
    }

    #[test]
    fn within_is_an_arc_across_the_wrap() {
        let lo = Seq(u32::MAX - 2);
        let hi = lo + 10; // Seq(7)
        assert!(lo.is_within(lo, hi));
        assert!(hi.is_within(lo, hi));
        assert!(Seq(0).is_within(lo, hi));
        assert!(Seq(u32::MAX).is_within(lo, hi));
        assert!(!(hi + 1).is_within(lo, hi));
        assert!(!(lo - 1u32).is_within(lo, hi));
        assert!(!Seq(HALF).is_within(lo, hi));
        // A one-number range, and a range wider than half the space.
        assert!(lo.is_within(lo, lo) && !(lo + 1).is_within(lo, lo));
        let far = lo + (HALF + 5);
        assert!((lo + HALF).is_within(lo, far));
        assert!(!(far + 1).is_within(lo, far));
    }
}
