#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Thousands of connections need thousands of file descriptors; the soft limit is often 1024.
enum FileDescriptorLimit {
    /// Raises the soft limit toward `wanted`, and the hard limit too when that is allowed (as
    /// root), else up to the hard limit. Best effort: a lower limit shows later as connect
    /// errors that name the cause.
    static func raise(toAtLeast wanted: Int) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        let target = rlim_t(wanted)
        guard limit.rlim_cur < target else { return }
        if limit.rlim_max < target {
            var both = rlimit(rlim_cur: target, rlim_max: target)
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &both) == 0 { return }
        }
        limit.rlim_cur = min(target, limit.rlim_max)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
