//! The OSC server's UDP socket: bound with a receive buffer large enough for a burst
//! (`osc.receive_buffer_bytes`), and the kernel's count of datagrams it dropped because that
//! buffer was full.
//!
//! The kernel keeps one drop count per socket (`sk_drops`, what `SO_RXQ_OVFL` reports with
//! each datagram). On Linux it is read from `/proc/net/udp` and `/proc/net/udp6` by the
//! socket's inode, which needs neither `unsafe` nor a per-datagram control message; on other
//! systems the count is not available and stays 0.

use std::net::{SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// A bound socket and what the kernel granted.
#[derive(Debug)]
pub(crate) struct Bound {
    /// The socket.
    pub(crate) socket: UdpSocket,
    /// The receive buffer the kernel reports (Linux doubles the request for its own
    /// bookkeeping, and caps it at `net.core.rmem_max`).
    pub(crate) receive_buffer_bytes: usize,
}

/// Binds `addr` with a receive buffer of `receive_buffer_bytes` (0: the system's default).
/// A buffer smaller than asked is logged with what to change, never an error.
///
/// # Errors
/// When the socket cannot be created or bound.
pub(crate) fn bind(addr: SocketAddr, receive_buffer_bytes: usize) -> std::io::Result<Bound> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if receive_buffer_bytes > 0
        && let Err(e) = socket.set_recv_buffer_size(receive_buffer_bytes)
    {
        tracing::warn!("OSC: cannot set the receive buffer to {receive_buffer_bytes} bytes: {e}");
    }
    socket.bind(&addr.into())?;
    let granted = socket.recv_buffer_size().unwrap_or(0);
    if receive_buffer_bytes > 0 && granted < receive_buffer_bytes {
        tracing::warn!(
            "OSC: asked for a {receive_buffer_bytes}-byte receive buffer, the system gave {granted} bytes \
             (Linux caps it at net.core.rmem_max); bursts beyond it are dropped by the kernel and \
             counted as osc.kernel_dropped. To allow it: sysctl -w net.core.rmem_max={receive_buffer_bytes}"
        );
    } else {
        tracing::debug!("OSC receive buffer: {granted} bytes");
    }
    Ok(Bound {
        socket: socket.into(),
        receive_buffer_bytes: granted,
    })
}

/// Reads the kernel's drop count of one socket.
#[derive(Debug)]
pub(crate) struct KernelDrops {
    /// The socket's inode (Linux), found once.
    inode: Option<u64>,
}

impl KernelDrops {
    /// The reader for `socket`.
    pub(crate) fn new(socket: &UdpSocket) -> Self {
        Self {
            inode: socket_inode(socket),
        }
    }

    /// Datagrams the kernel dropped on this socket since it was created; `None` where the
    /// system does not say.
    pub(crate) fn read(&self) -> Option<u64> {
        let inode = self.inode?;
        ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .find_map(|table| {
                let text = std::fs::read_to_string(table).ok()?;
                drops_of(&text, inode)
            })
    }
}

#[cfg(target_os = "linux")]
fn socket_inode(socket: &UdpSocket) -> Option<u64> {
    use std::os::fd::AsRawFd as _;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
    // "socket:[12345]"
    let text = link.to_str()?;
    text.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

#[cfg(not(target_os = "linux"))]
fn socket_inode(_socket: &UdpSocket) -> Option<u64> {
    None
}

/// The `drops` column of the line of `/proc/net/udp{,6}` text whose `inode` column is
/// `inode`. Columns: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer
/// drops`.
fn drops_of(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let this: u64 = fields.get(9)?.parse().ok()?;
        (this == inode).then(|| fields.get(12)?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_drops_column_by_inode() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
            1234: 0100007F:2328 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n\
            1235: 0100007F:2329 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4343 2 0000000000000000 0\n";
        assert_eq!(drops_of(table, 4242), Some(17));
        assert_eq!(drops_of(table, 4343), Some(0));
        assert_eq!(drops_of(table, 1), None);
    }

    #[test]
    fn a_bound_socket_has_a_buffer_and_a_readable_drop_count() {
        let bound = bind("127.0.0.1:0".parse().unwrap(), 1 << 20).unwrap();
        assert!(bound.receive_buffer_bytes > 0);
        let drops = KernelDrops::new(&bound.socket);
        if cfg!(target_os = "linux") {
            assert_eq!(drops.read(), Some(0));
        }
    }
}
