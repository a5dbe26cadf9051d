//! A small stand-in for the `userfaultfd` crate (its 0.9 API), written for
//! vireo from the crate's documented interface and the kernel's
//! userfaultfd(2) / ioctl_userfaultfd(2) ABI. It has only what
//! Firecracker's example page fault handlers use: a `Uffd` made from a
//! descriptor received over a socket, `read_event`, `copy`, `zeropage`,
//! `wake`, `register`/`unregister`, the `Event`s a VMM's userfaultfd
//! delivers and the `Error`s the handlers match on.
//!
//! Error mapping (what the handlers rely on): an ioctl that fails with
//! EAGAIN (a `remove` event is pending, or only part of the range was
//! filled) is `PartiallyCopied`/`PartiallyZeroed` carrying the kernel's
//! `copy`/`zeropage` field cast to `usize` (the bytes done, or -EAGAIN);
//! any other errno is `CopyFailed`/`ZeropageFailed(errno)`.

use std::fmt;
use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd, IntoRawFd, RawFd};

use libc::c_void;

/// `Result` with this crate's `Error`.
pub type Result<T> = std::result::Result<T, Error>;

/// An errno value, as the handlers see it (`std::io::Error::from(errno)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    fn last() -> Self {
        Errno(io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO))
    }
}

impl From<Errno> for io::Error {
    fn from(e: Errno) -> Self {
        io::Error::from_raw_os_error(e.0)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", io::Error::from_raw_os_error(self.0))
    }
}

/// The failures of this crate's calls.
#[derive(Debug)]
pub enum Error {
    /// UFFDIO_COPY failed with this errno.
    CopyFailed(Errno),
    /// UFFDIO_COPY stopped early (EAGAIN): the kernel's `copy` field.
    PartiallyCopied(usize),
    /// UFFDIO_ZEROPAGE failed with this errno.
    ZeropageFailed(Errno),
    /// UFFDIO_ZEROPAGE stopped early (EAGAIN): the kernel's `zeropage` field.
    PartiallyZeroed(usize),
    /// Another call (read, register, unregister, wake) failed.
    SystemError(Errno),
    /// read() returned end of file.
    ReadEof,
    /// read() returned part of a message.
    IncompleteMsg { read: usize, expected: usize },
    /// A message of an event this crate does not know.
    UnrecognizedEvent(u8),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::CopyFailed(e) => write!(f, "Copy failed: {e}"),
            Error::PartiallyCopied(n) => write!(f, "Copy partially succeeded ({n})"),
            Error::ZeropageFailed(e) => write!(f, "Zeropage failed: {e}"),
            Error::PartiallyZeroed(n) => write!(f, "Zeropage partially succeeded ({n})"),
            Error::SystemError(e) => write!(f, "System error: {e}"),
            Error::ReadEof => write!(f, "EOF when reading file descriptor"),
            Error::IncompleteMsg { read, expected } => {
                write!(f, "Incomplete uffd_msg; read only {read}/{expected} bytes")
            }
            Error::UnrecognizedEvent(e) => write!(f, "Unrecognized event in uffd_msg: {e}"),
        }
    }
}

impl std::error::Error for Error {}

// linux/userfaultfd.h: ioctl type 0xAA; _IOWR = 3 << 30, _IOR = 2 << 30.
const fn ioc(dir: u64, nr: u64, size: u64) -> u64 {
    (dir << 30) | (size << 16) | (0xAA << 8) | nr
}
const UFFDIO_REGISTER: u64 = ioc(3, 0x00, 32);
const UFFDIO_UNREGISTER: u64 = ioc(2, 0x01, 16);
const UFFDIO_WAKE: u64 = ioc(2, 0x02, 16);
const UFFDIO_COPY: u64 = ioc(3, 0x03, 40);
const UFFDIO_ZEROPAGE: u64 = ioc(3, 0x04, 32);
const UFFDIO_REGISTER_MODE_MISSING: u64 = 1;
const UFFDIO_COPY_MODE_DONTWAKE: u64 = 1;
const UFFDIO_ZEROPAGE_MODE_DONTWAKE: u64 = 1;

const UFFD_EVENT_PAGEFAULT: u8 = 0x12;
const UFFD_EVENT_FORK: u8 = 0x13;
const UFFD_EVENT_REMAP: u8 = 0x14;
const UFFD_EVENT_REMOVE: u8 = 0x15;
const UFFD_EVENT_UNMAP: u8 = 0x16;
const UFFD_PAGEFAULT_FLAG_WRITE: u64 = 1;
const UFFD_PAGEFAULT_FLAG_WP: u64 = 2;
const UFFD_PAGEFAULT_FLAG_MINOR: u64 = 4;

#[repr(C)]
struct Range {
    start: u64,
    len: u64,
}

#[repr(C)]
struct Register {
    range: Range,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
struct Copy {
    dst: u64,
    src: u64,
    len: u64,
    mode: u64,
    copy: i64,
}

#[repr(C)]
struct Zeropage {
    range: Range,
    mode: u64,
    zeropage: i64,
}

/// struct uffd_msg: the event, padding, then 24 bytes of arguments.
#[repr(C)]
#[derive(Default)]
struct Msg {
    event: u8,
    reserved1: u8,
    reserved2: u16,
    reserved3: u32,
    arg: [u64; 3],
}

/// What kind of fault a `Pagefault` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A page that is not there.
    Missing,
    /// A write to a write-protected page.
    WriteProtected,
    /// A minor fault (the page is in the page cache).
    Minor,
}

/// Whether the faulting access read or wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadWrite {
    Read,
    Write,
}

/// The faulting thread (0 unless the feature that reports it was asked for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadId(pub libc::pid_t);

/// An event read from a userfaultfd.
#[derive(Debug)]
pub enum Event {
    /// An access to a registered page that needs serving.
    Pagefault {
        kind: FaultKind,
        rw: ReadWrite,
        addr: *mut c_void,
        thread_id: ThreadId,
    },
    /// The registered process forked; the child's userfaultfd.
    Fork { uffd: Uffd },
    /// A registered mapping moved (mremap).
    Remap {
        from: *mut c_void,
        to: *mut c_void,
        len: usize,
    },
    /// A range was dropped (madvise MADV_DONTNEED / MADV_REMOVE).
    Remove { start: *mut c_void, end: *mut c_void },
    /// A range was unmapped.
    Unmap { start: *mut c_void, end: *mut c_void },
}

/// The pagefault's ptid: the first 4 bytes of the third argument word.
fn ptid(word: u64) -> libc::pid_t {
    let b = word.to_ne_bytes();
    i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

impl Event {
    fn from_msg(m: &Msg) -> Result<Event> {
        let ptr = |v: u64| v as usize as *mut c_void;
        Ok(match m.event {
            UFFD_EVENT_PAGEFAULT => {
                let flags = m.arg[0];
                let kind = if flags & UFFD_PAGEFAULT_FLAG_WP != 0 {
                    FaultKind::WriteProtected
                } else if flags & UFFD_PAGEFAULT_FLAG_MINOR != 0 {
                    FaultKind::Minor
                } else {
                    FaultKind::Missing
                };
                let rw = if flags & UFFD_PAGEFAULT_FLAG_WRITE != 0 {
                    ReadWrite::Write
                } else {
                    ReadWrite::Read
                };
                Event::Pagefault {
                    kind,
                    rw,
                    addr: ptr(m.arg[1]),
                    thread_id: ThreadId(ptid(m.arg[2])),
                }
            }
            // SAFETY: the kernel made this descriptor for us (the child's).
            UFFD_EVENT_FORK => Event::Fork {
                uffd: unsafe { Uffd::from_raw_fd(m.arg[0] as u32 as RawFd) },
            },
            UFFD_EVENT_REMAP => Event::Remap {
                from: ptr(m.arg[0]),
                to: ptr(m.arg[1]),
                len: m.arg[2] as usize,
            },
            UFFD_EVENT_REMOVE => Event::Remove {
                start: ptr(m.arg[0]),
                end: ptr(m.arg[1]),
            },
            UFFD_EVENT_UNMAP => Event::Unmap {
                start: ptr(m.arg[0]),
                end: ptr(m.arg[1]),
            },
            other => return Err(Error::UnrecognizedEvent(other)),
        })
    }
}

/// A userfaultfd; closed when dropped.
#[derive(Debug)]
pub struct Uffd {
    fd: RawFd,
}

impl Drop for Uffd {
    fn drop(&mut self) {
        // SAFETY: we own fd.
        unsafe { libc::close(self.fd) };
    }
}

impl AsRawFd for Uffd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl IntoRawFd for Uffd {
    fn into_raw_fd(self) -> RawFd {
        let fd = self.fd;
        std::mem::forget(self);
        fd
    }
}

impl FromRawFd for Uffd {
    unsafe fn from_raw_fd(fd: RawFd) -> Self {
        Uffd { fd }
    }
}

impl Uffd {
    /// ioctl(fd, req, arg); the errno on failure.
    fn ioctl<T>(&self, req: u64, arg: &mut T) -> std::result::Result<(), Errno> {
        // SAFETY: req's argument is a T, per linux/userfaultfd.h.
        let r = unsafe { libc::ioctl(self.fd, req as _, arg as *mut T) };
        if r < 0 { Err(Errno::last()) } else { Ok(()) }
    }

    /// Registers [start, start+len) for missing-page faults. Returns the
    /// kernel's mask of the ioctls the range supports.
    pub fn register(&self, start: *mut c_void, len: usize) -> Result<u64> {
        let mut r = Register {
            range: Range { start: start as u64, len: len as u64 },
            mode: UFFDIO_REGISTER_MODE_MISSING,
            ioctls: 0,
        };
        self.ioctl(UFFDIO_REGISTER, &mut r).map_err(Error::SystemError)?;
        Ok(r.ioctls)
    }

    /// Unregisters [start, start+len).
    pub fn unregister(&self, start: *mut c_void, len: usize) -> Result<()> {
        let mut r = Range { start: start as u64, len: len as u64 };
        self.ioctl(UFFDIO_UNREGISTER, &mut r).map_err(Error::SystemError)
    }

    /// Fills [dst, dst+len) with len bytes from src (UFFDIO_COPY), waking
    /// the faulting threads if wake. Returns the bytes copied.
    ///
    /// # Safety
    /// src must be readable for len bytes.
    pub unsafe fn copy(
        &self,
        src: *const c_void,
        dst: *mut c_void,
        len: usize,
        wake: bool,
    ) -> Result<usize> {
        let mut c = Copy {
            dst: dst as u64,
            src: src as u64,
            len: len as u64,
            mode: if wake { 0 } else { UFFDIO_COPY_MODE_DONTWAKE },
            copy: 0,
        };
        match self.ioctl(UFFDIO_COPY, &mut c) {
            Err(Errno(libc::EAGAIN)) => Err(Error::PartiallyCopied(c.copy as usize)),
            Err(e) => Err(Error::CopyFailed(e)),
            Ok(()) if c.copy < 0 => Err(Error::CopyFailed(Errno(-c.copy as i32))),
            Ok(()) => Ok(c.copy as usize),
        }
    }

    /// Fills [start, start+len) with zeros (UFFDIO_ZEROPAGE), waking the
    /// faulting threads if wake. Returns the bytes zeroed.
    ///
    /// # Safety
    /// The range must be registered memory the caller may zero.
    pub unsafe fn zeropage(&self, start: *mut c_void, len: usize, wake: bool) -> Result<usize> {
        let mut z = Zeropage {
            range: Range { start: start as u64, len: len as u64 },
            mode: if wake { 0 } else { UFFDIO_ZEROPAGE_MODE_DONTWAKE },
            zeropage: 0,
        };
        match self.ioctl(UFFDIO_ZEROPAGE, &mut z) {
            Err(Errno(libc::EAGAIN)) => Err(Error::PartiallyZeroed(z.zeropage as usize)),
            Err(e) => Err(Error::ZeropageFailed(e)),
            Ok(()) if z.zeropage < 0 => Err(Error::ZeropageFailed(Errno(-z.zeropage as i32))),
            Ok(()) => Ok(z.zeropage as usize),
        }
    }

    /// Wakes the threads waiting on faults in [start, start+len).
    pub fn wake(&self, start: *mut c_void, len: usize) -> Result<()> {
        let mut r = Range { start: start as u64, len: len as u64 };
        self.ioctl(UFFDIO_WAKE, &mut r).map_err(Error::SystemError)
    }

    /// Reads one event: `None` when the descriptor is non-blocking and
    /// has none ready.
    pub fn read_event(&self) -> Result<Option<Event>> {
        let mut m = Msg::default();
        let size = std::mem::size_of::<Msg>();
        // SAFETY: m is size bytes of plain data.
        let n = unsafe { libc::read(self.fd, (&raw mut m).cast::<c_void>(), size) };
        if n < 0 {
            return match Errno::last() {
                Errno(libc::EAGAIN) => Ok(None),
                e => Err(Error::SystemError(e)),
            };
        }
        match n as usize {
            0 => Err(Error::ReadEof),
            r if r != size => Err(Error::IncompleteMsg { read: r, expected: size }),
            _ => Event::from_msg(&m).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_kernel_header() {
        // printed by a C program from <linux/userfaultfd.h> on x86_64
        assert_eq!(UFFDIO_REGISTER, 0xc020aa00);
        assert_eq!(UFFDIO_UNREGISTER, 0x8010aa01);
        assert_eq!(UFFDIO_WAKE, 0x8010aa02);
        assert_eq!(UFFDIO_COPY, 0xc028aa03);
        assert_eq!(UFFDIO_ZEROPAGE, 0xc020aa04);
        assert_eq!(std::mem::size_of::<Msg>(), 32);
    }

    #[test]
    fn events_decode() {
        let m = Msg { event: UFFD_EVENT_PAGEFAULT, arg: [1, 0x1000, 7], ..Default::default() };
        match Event::from_msg(&m).unwrap() {
            Event::Pagefault { kind, rw, addr, thread_id } => {
                assert_eq!((kind, rw, addr as usize, thread_id),
                           (FaultKind::Missing, ReadWrite::Write, 0x1000, ThreadId(7)));
            }
            e => panic!("{e:?}"),
        }
        let m = Msg { event: UFFD_EVENT_REMOVE, arg: [0x2000, 0x4000, 0], ..Default::default() };
        match Event::from_msg(&m).unwrap() {
            Event::Remove { start, end } => assert_eq!((start as usize, end as usize),
                                                       (0x2000, 0x4000)),
            e => panic!("{e:?}"),
        }
        let m = Msg { event: 0x42, ..Default::default() };
        assert!(matches!(Event::from_msg(&m), Err(Error::UnrecognizedEvent(0x42))));
    }
}
