//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 793 3.3).
//!
//! All wrap-around arithmetic lives here once, so the state machine can use
//! `<`, `+` and `-` without thinking about where the ISN happened to land.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Sub};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// Signed distance from `other` to `self` (positive when `self` is later).
    /// Valid while the two are less than 2^31 apart, which the window bounds.
    pub fn since(self, other: Seq) -> i64 {
        i64::from(self.0.wrapping_sub(other.0) as i32)
    }
}

impl Add<u32> for Seq {
    type Output = Seq;
    fn add(self, rhs: u32) -> Seq {
        Seq(self.0.wrapping_add(rhs))
    }
}

impl Sub<Seq> for Seq {
    type Output = i64;
    fn sub(self, rhs: Seq) -> i64 {
        self.since(rhs)
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Seq) -> Option<Ordering> {
        Some(self.since(*other).cmp(&0))
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
        assert!(wrapped > near_end);
        assert_eq!(wrapped - near_end, 5);
        assert_eq!(near_end - wrapped, -5);
    }

    #[test]
    fn equal_and_plain_ordering() {
        assert!(Seq(10) < Seq(11));
        assert!(Seq(10) <= Seq(10));
        assert_eq!(Seq(7).since(Seq(7)), 0);
    }
}
