//! The open-file limit: every virtual fan may hold a socket, so a run needs about one
//! file descriptor per fan. A soft limit that is too low would show up mid-run as
//! connect errors blamed on the server; this checks it before any traffic is sent.
//! (`rlim_t` is `u64` on the 64-bit Linux machines this runs on.)

/// Makes sure this process may open `needed` files: raises the soft limit up to the
/// hard one when that suffices (no privilege is needed for that), and otherwise says
/// what to change. On success, the soft limit it replaced, if it raised it.
pub fn ensure(needed: u64) -> Result<Option<u64>, String> {
    let (soft, hard) = current()?;
    if soft >= needed {
        return Ok(None);
    }
    if hard < needed {
        return Err(format!(
            "the open-file limit is {soft} (hard limit {hard}) but this run needs {needed}; \
             raise it (e.g. `ulimit -n {needed}` as root) or use fewer --clients"
        ));
    }
    set_soft(needed, hard)?;
    Ok(Some(soft))
}

fn current() -> Result<(u64, u64), String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which outlives the call.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if rc != 0 {
        return Err(format!(
            "cannot read the open-file limit: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

fn set_soft(soft: u64, hard: u64) -> Result<(), String> {
    let limit = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit only reads the struct it is given, which outlives the call.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    if rc != 0 {
        return Err(format!(
            "cannot raise the open-file limit to {soft}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
