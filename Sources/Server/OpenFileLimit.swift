#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Every connection costs a file descriptor, and the soft limit is often 1024 while the hard
/// limit allows far more: at start the server raises its soft limit to the hard one
/// (Specs/bounds.md). At the limit, accept backs off (`SockJSServer`) and the connections it
/// has keep being served.
enum OpenFileLimit {
    /// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the limit now in force (nil
    /// when it cannot be read).
    @discardableResult
    static func raiseToHardLimit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_cur) }
        }
        return UInt64(limit.rlim_cur)
    }
}
