//! Counting the client connections open on the public listener.
//!
//! Pingora has no hook for a connection closing, so the count is read from the kernel
//! when metrics are scraped: established TCP sockets whose local port is the
//! listener's (`/proc/net/tcp` and `tcp6`). During a binary upgrade both processes
//! share the port, and both report the sum.

/// TCP state `ESTABLISHED` in `/proc/net/tcp`.
const ESTABLISHED: &str = "01";

/// Established connections to local `port`; `None` where `/proc` cannot be read.
pub fn open_on(port: u16) -> Option<usize> {
    let mut total = None;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            *total.get_or_insert(0) += count(&text, port);
        }
    }
    total
}

/// Rows of a `/proc/net/tcp` table that are established and local to `port`.
fn count(table: &str, port: u16) -> usize {
    let wanted = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1).unwrap_or("");
            let state = fields.nth(1).unwrap_or("");
            local.ends_with(&wanted) && state == ESTABLISHED
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:1F90 0100007F:C351 06 00000000:00000000 00:00000000 00000000     0        0 0 3 0000000000000000
";

    #[test]
    fn only_established_sockets_on_the_local_port_count() {
        // Port 8080 is 1F90: one listening, one established, one closing (TIME_WAIT).
        assert_eq!(count(TABLE, 8080), 1);
        assert_eq!(count(TABLE, 50000), 1);
        assert_eq!(count(TABLE, 9), 0);
    }
}
