//! A small stand-in for Firecracker's in-tree `utils` crate, written for
//! vireo: only `time::{ClockType, get_time_us}`, which Firecracker's
//! fault_all_handler example times its work with.

pub mod time {
    /// The clock to read.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum ClockType {
        /// CLOCK_MONOTONIC
        Monotonic,
        /// CLOCK_REALTIME
        Real,
        /// CLOCK_PROCESS_CPUTIME_ID
        ProcessCpu,
        /// CLOCK_THREAD_CPUTIME_ID
        ThreadCpu,
    }

    impl From<ClockType> for libc::clockid_t {
        fn from(c: ClockType) -> Self {
            match c {
                ClockType::Monotonic => libc::CLOCK_MONOTONIC,
                ClockType::Real => libc::CLOCK_REALTIME,
                ClockType::ProcessCpu => libc::CLOCK_PROCESS_CPUTIME_ID,
                ClockType::ThreadCpu => libc::CLOCK_THREAD_CPUTIME_ID,
            }
        }
    }

    /// The clock's time in nanoseconds.
    pub fn get_time_ns(clock: ClockType) -> u64 {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: ts is a valid timespec to fill in.
        unsafe { libc::clock_gettime(clock.into(), &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    /// The clock's time in microseconds.
    pub fn get_time_us(clock: ClockType) -> u64 {
        get_time_ns(clock) / 1000
    }
}
