//! A small stand-in for the `vmm-sys-util` crate, written for vireo from
//! its documented interface: only `sock_ctrl_msg::ScmSocket`, a message
//! sent or received with one file descriptor (SCM_RIGHTS) beside it, as
//! Firecracker's example page fault handlers receive the VMM's
//! userfaultfd.

pub mod sock_ctrl_msg {
    use std::fs::File;
    use std::io;
    use std::mem;
    use std::os::unix::io::{FromRawFd, RawFd};
    use std::os::unix::net::{UnixDatagram, UnixStream};
    use std::os::unix::io::AsRawFd;
    use std::ptr;

    /// Room for this many descriptors in one message's control data; any
    /// beyond the first are closed.
    const MAX_FDS: usize = 8;

    fn cmsg_space(fds: usize) -> usize {
        // SAFETY: CMSG_SPACE only computes a size.
        unsafe { libc::CMSG_SPACE((fds * mem::size_of::<RawFd>()) as u32) as usize }
    }

    /// Sockets that carry descriptors.
    pub trait ScmSocket {
        /// The socket's descriptor.
        fn socket_fd(&self) -> RawFd;

        /// Sends buf with fd beside it; returns the bytes sent.
        fn send_with_fd(&self, buf: &[u8], fd: RawFd) -> io::Result<usize> {
            let mut ctl = vec![0u64; cmsg_space(1).div_ceil(8)];
            let mut iov = libc::iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() };
            // SAFETY: an all-zero msghdr is valid; the pointers set below
            // outlive the call.
            let mut msg: libc::msghdr = unsafe { mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = ctl.as_mut_ptr().cast();
            msg.msg_controllen = cmsg_space(1) as _;
            // SAFETY: msg has room for one cmsg carrying one fd.
            let n = unsafe {
                let c = libc::CMSG_FIRSTHDR(&msg);
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                (*c).cmsg_len = libc::CMSG_LEN(mem::size_of::<RawFd>() as u32) as _;
                ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
                libc::sendmsg(self.socket_fd(), &msg, libc::MSG_NOSIGNAL)
            };
            if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
        }

        /// Receives into buf; returns the bytes read and the descriptor
        /// that came with them, if one did (close-on-exec).
        fn recv_with_fd(&self, buf: &mut [u8]) -> io::Result<(usize, Option<File>)> {
            let space = cmsg_space(MAX_FDS);
            let mut ctl = vec![0u64; space.div_ceil(8)];
            let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
            // SAFETY: as in send_with_fd.
            let mut msg: libc::msghdr = unsafe { mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = ctl.as_mut_ptr().cast();
            msg.msg_controllen = space as _;
            // SAFETY: msg describes buf and ctl, both live and writable.
            let n = unsafe { libc::recvmsg(self.socket_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut file = None;
            // SAFETY: walking the control data the kernel filled in.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                        let data = libc::CMSG_DATA(c).cast::<RawFd>();
                        let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                        for i in 0..len / mem::size_of::<RawFd>() {
                            let fd = ptr::read_unaligned(data.add(i));
                            if file.is_none() {
                                file = Some(File::from_raw_fd(fd));
                            } else {
                                libc::close(fd);
                            }
                        }
                    }
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
            }
            Ok((n as usize, file))
        }
    }

    impl ScmSocket for UnixStream {
        fn socket_fd(&self) -> RawFd {
            self.as_raw_fd()
        }
    }

    impl ScmSocket for UnixDatagram {
        fn socket_fd(&self) -> RawFd {
            self.as_raw_fd()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::io::{Read, Write};

        #[test]
        fn a_descriptor_goes_across() {
            let (a, b) = UnixStream::pair().unwrap();
            let mut buf = [0u8; 16];
            (&a).write_all(b"plain").unwrap();
            let (n, f) = b.recv_with_fd(&mut buf).unwrap();
            assert_eq!((&buf[..n], f.is_none()), (&b"plain"[..], true));

            let (r, mut w) = UnixStream::pair().unwrap();
            w.write_all(b"through").unwrap();
            assert_eq!(a.send_with_fd(b"[]", r.as_raw_fd()).unwrap(), 2);
            let (n, f) = b.recv_with_fd(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"[]");
            let mut got = [0u8; 7];
            f.expect("a descriptor").read_exact(&mut got).unwrap();
            assert_eq!(&got, b"through");
        }
    }
}
